"""The randomized exerciser (fsx.py) against tmpfs as the oracle.

test_fsx_against_tmpfs runs fsx.py for MMFS_FSX_SECONDS (default 20) with
4 workers -- two as root, two as another user on an allow_other mount, so
permission checks are compared too -- from the seed MMFS_FSX_SEED (default:
a random one, printed).  Every step's results and the state it touched
must match tmpfs; then the arena is remounted and the whole tree must
still match.  A failure prints the seed, a replay command and the tail of
the operation log."""

import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
FSX = str(HERE / "fsx.py")
sys.path.insert(0, str(HERE))
import fsx  # noqa: E402

SECONDS = float(os.environ.get("MMFS_FSX_SECONDS", "20"))
OTHER_UID = 12345


def run_fsx(a, b, *args, timeout):
    return subprocess.run(["/usr/bin/python3", FSX, "--json", *map(str, args),
                           a, b], capture_output=True, text=True,
                          timeout=timeout)


@pytest.mark.long
def test_fsx_against_tmpfs(mmfs, tmpfs_dir, measure):
    seed = int(os.environ.get("MMFS_FSX_SEED") or
               random.SystemRandom().randrange(1, 2**31))
    m = mmfs(opts=["allow_other"], size="1G")
    os.chmod(m.mnt, 0o755)
    os.chmod(tmpfs_dir, 0o755)
    a, b = m.path("fsx"), os.path.join(tmpfs_dir, "fsx")
    for d in (a, b):
        os.mkdir(d, 0o755)
    print(f"fsx seed {seed} (MMFS_FSX_SEED={seed} repeats this run)")
    t0 = time.monotonic()
    r = run_fsx(a, b, "--seed", seed, "--seconds", SECONDS, "--procs", 4,
                "--users", f"0,{OTHER_UID}", timeout=SECONDS + 300)
    elapsed = time.monotonic() - t0
    if r.returncode != 0:
        pytest.fail(f"fsx found a difference from tmpfs (seed {seed}; "
                    f"MMFS_FSX_SEED={seed} repeats it):\n{r.stderr[-12000:]}"
                    f"\n{r.stdout[-2000:]}", pytrace=False)
    summary = json.loads(r.stdout.strip().splitlines()[-1])
    assert summary["failures"] == 0 and summary["ops"] > 0, summary
    # Every kind of operation ran.
    missing = {"write", "replace", "read", "truncate", "rename", "link",
               "unlink", "mkdir", "rmdir", "symlink", "setxattr",
               "removexattr", "chmod", "utime", "hwrite", "hread",
               "htruncate", "fallocate", "hfallocate"} - \
        set(summary["counts"])
    assert not missing, f"never ran: {missing}"
    # What fsx left survives a remount, entry for entry.
    m.remount(opts=["allow_other"])
    entries = fsx.compare_trees(a, b)
    measure("fsx_ops", summary["ops"],
            f"fsx: seed {seed}: {summary['ops']} operations by "
            f"{summary['workers']} workers (2 as uid {OTHER_UID}) checked "
            f"against tmpfs in {elapsed:.0f} s; {entries} entries equal "
            f"after remount")


def test_fsx_reports_a_difference_with_seed_and_log(mmfs, tmpfs_dir):
    """The exerciser itself: an arena too small for what tmpfs holds gives
    ENOSPC where tmpfs succeeds, and fsx must say so with the seed, a
    replay command and the operation log."""
    m = mmfs(size="4M")
    a, b = m.path("x"), os.path.join(tmpfs_dir, "x")
    for d in (a, b):
        os.mkdir(d)
    r = run_fsx(a, b, "--seed", 7, "--ops", 20000, timeout=300)
    assert r.returncode == 1, r
    assert "MISMATCH: seed 7, worker 0" in r.stderr, r.stderr
    assert "ENOSPC" in r.stderr, r.stderr
    assert "--seed 7 --ops " in r.stderr and "--only-worker 0" in r.stderr
    assert "last operations" in r.stderr
    assert json.loads(r.stdout.strip().splitlines()[-1])["failures"] == 1


def test_fsx_runs_are_reproducible(tmpfs_dir):
    """The same seed gives the same sequence (here tmpfs against tmpfs:
    the log of the run is identical, step for step)."""
    outs = []
    for i in range(2):
        a = os.path.join(tmpfs_dir, f"a{i}")
        b = os.path.join(tmpfs_dir, f"b{i}")
        os.mkdir(a)
        os.mkdir(b)
        r = run_fsx(a, b, "--seed", 99, "--ops", 300, timeout=120)
        assert r.returncode == 0, r.stderr
        outs.append(json.loads(r.stdout.strip().splitlines()[-1]))
    assert outs[0]["counts"] == outs[1]["counts"]
    assert fsx.compare_trees(os.path.join(tmpfs_dir, "a0", "w0"),
                             os.path.join(tmpfs_dir, "a1", "w0")) > 0

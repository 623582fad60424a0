"""Crash torture: kill -9 the daemon in the middle of a write storm, many
times, and verify that every operation completed before each kill
survived and the operation in flight is either wholly there or wholly
absent.

Each round: mount the same arena, start WORKERS writer processes (see
torture_worker.py; each in its own directory, journaling every operation
before and after), kill -9 the daemon at a random instant, remount (which
runs recovery) and compare every worker's directory with the model its
journal replays to.  Every CHECK_EVERY rounds, and at the end, the arena
is unmounted and `mmfsctl check` must find it consistent.
"""

import os
import random
import subprocess
import sys
import time
from pathlib import Path

import pytest

import conftest
import helpers

sys.path.insert(0, str(Path(__file__).parent))
import torture_worker  # noqa: E402

ROUNDS = int(os.environ.get("MMFS_TORTURE_ROUNDS", "50"))
WORKERS = 3
CHECK_EVERY = 10
WORKER = str(Path(__file__).with_name("torture_worker.py"))


def read_tree(top):
    """The actual state of one worker directory, shaped like the model."""
    state = {"files": {}, "dirs": set(), "ring": ""}
    for root, dirs, files in os.walk(top):
        rel = os.path.relpath(root, top)
        for d in dirs:
            state["dirs"].add(d if rel == "." else os.path.join(rel, d))
        for f in files:
            path = f if rel == "." else os.path.join(rel, f)
            full = os.path.join(root, f)
            data = Path(full).read_bytes().decode()
            if path == "log.ring":
                state["ring"] = data
                continue
            xattrs = {n: os.getxattr(full, n).decode()
                      for n in os.listxattr(full) if n.startswith("user.k")}
            state["files"][path] = {"data": data, "xattr": xattrs}
    return state


def same(model, actual):
    return (model["files"] == actual["files"] and
            model["dirs"] == actual["dirs"] and
            model["ring"] == actual["ring"])


def describe(model, actual):
    out = []
    for p in sorted(set(model["files"]) | set(actual["files"])):
        m, a = model["files"].get(p), actual["files"].get(p)
        if m != a:
            short = lambda v: None if v is None else \
                {"data": v["data"][:60] + f"...({len(v['data'])})",
                 "xattr": v["xattr"]}
            out.append(f"  {p}: model {short(m)} actual {short(a)}")
    if model["dirs"] != actual["dirs"]:
        out.append(f"  dirs: model {sorted(model['dirs'])} "
                   f"actual {sorted(actual['dirs'])}")
    if model["ring"] != actual["ring"]:
        out.append(f"  ring: model ...{model['ring'][-80:]!r} "
                   f"actual ...{actual['ring'][-80:]!r}")
    return "\n".join(out)


def verify_worker(top, journal):
    """Compare a worker's directory with its journal; resolve the op that
    was in flight.  Returns how many operations completed so far."""
    lines = Path(journal).read_text().splitlines()
    model, pending = torture_worker.replay(lines)
    actual = read_tree(top)
    completed = sum(1 for line in lines if line == "E")
    if pending is None:
        assert same(model, actual), \
            f"{top} differs from its journal:\n{describe(model, actual)}"
        return completed
    verdict = None
    for candidate in ("R0", "R1", "RC"):
        if candidate == "RC" and (pending["op"] != "write" or
                                  pending["path"] in model["files"]):
            continue        # only a new file can exist empty
        if same(torture_worker.replay(lines + [candidate])[0], actual):
            verdict = candidate
            break
    if verdict is None:
        after = torture_worker.replay(lines + ["R1"])[0]
        brief = {k: (v if len(str(v)) < 80 else f"{str(v)[:60]}...")
                 for k, v in pending.items()}
        pytest.fail(f"{top}: in-flight {brief} is neither absent nor "
                    f"whole:\n{describe(after, actual)}")
    with open(journal, "a") as f:
        f.write(verdict + "\n")
    return completed


def check_arena(arena):
    tool = conftest.mmfsctl_path()
    assert os.access(tool, os.X_OK), f"mmfsctl not built at {tool}"
    r = subprocess.run([tool, "check", str(arena)], capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 0, f"mmfsctl check failed:\n{r.stdout}{r.stderr}"


@pytest.mark.long
def test_kill9_storm(mmfs, tmp_path):
    rng = random.Random(int(os.environ.get("MMFS_TORTURE_SEED", "1234")))
    m = mmfs(opts=["ring_size=4M"], size="256M")
    tops = [m.path(f"w{i}") for i in range(WORKERS)]
    journals = [tmp_path / f"journal{i}" for i in range(WORKERS)]
    for t in tops:
        os.mkdir(t)
    verified = 0
    for rnd in range(ROUNDS):
        procs = [subprocess.Popen([sys.executable, WORKER, tops[i],
                                   str(journals[i]),
                                   str(rng.randrange(1 << 30))])
                 for i in range(WORKERS)]
        time.sleep(rng.uniform(0.05, 0.4))
        m.kill9()
        for p in procs:
            assert p.wait(timeout=30) == 0, "a worker failed"
        m.remount()
        verified = sum(verify_worker(top, journal)
                       for top, journal in zip(tops, journals))
        if (rnd + 1) % CHECK_EVERY == 0:
            m.umount()
            check_arena(m.arena)
            m.start()
    m.umount()
    check_arena(m.arena)
    line = (f"torture: {ROUNDS} rounds of kill -9, {verified} completed "
            f"operations verified")
    print(line)
    conftest.MEASUREMENTS.append(line)
    assert verified > ROUNDS * WORKERS, "the workers did almost nothing"

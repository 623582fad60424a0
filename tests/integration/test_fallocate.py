"""fallocate(2) as tmpfs has it: modes 0, FALLOC_FL_KEEP_SIZE and
FALLOC_FL_PUNCH_HOLE, through the util-linux `fallocate` tool.

Every step runs on an mmfs mount and on tmpfs (the oracle): both must
give the same exit status and message, the same contents (cmp) and sizes
(stat), and move st_blocks the same way (more after allocating, fewer
after punching); the mount's free space (statfs) moves the other way.
The modes tmpfs refuses (zero, collapse, insert range) are refused.  A
reservation the arena cannot hold fails with ENOSPC and changes nothing,
one past the 64 GiB file size limit with EFBIG.  Unprivileged callers
lose set-ID bits, as with a write.  A daemon killed with SIGKILL while a
program punches and reserves leaves the file as the completed calls made
it (the call in flight whole or not at all), and an arena `mmfsctl check`
finds consistent.

Run as a script, this file is the worker of the kill -9 test:
    python3 test_fallocate.py PATH JOURNAL SEED
"""

import hashlib
import os
import random
import subprocess
import sys
import time
from pathlib import Path

import pytest

import conftest
import helpers

MiB = 1 << 20
FALLOC_FL_KEEP_SIZE = 1
FALLOC_FL_PUNCH_HOLE = 2
OTHER_UID = 12345
HERE = Path(__file__).resolve().parent


def fallocate_tool(args, cwd, uid=None):
    """(exit status, message) of `fallocate ARGS` run in cwd, as uid."""
    cmd = ["fallocate", *map(str, args)]
    if uid is not None:
        cmd = ["setpriv", f"--reuid={uid}", f"--regid={uid}",
               "--clear-groups", *cmd]
    r = helpers.run(cmd, cwd=cwd, check=False)
    return r.returncode, r.stderr.split(":")[-1].strip()


def sh(cmd, cwd, env):
    helpers.run(["sh", "-c", cmd], cwd=cwd, env={**os.environ, **env})


def sign(before, after):
    return "+" if after > before else "-" if after < before else "="


def free_bytes(path):
    st = os.statvfs(path)
    return st.f_bfree * st.f_frsize


# (what is done, a shell command or ["fallocate", args...], file, how
# st_blocks moves: "+", "-", "=" or None for "as on tmpfs").
STEPS = [
    ("allocate 1 MiB in a new file", ["-l", "1M"], "big", "+"),
    ("write data over it", "dd if=$DATA of=big bs=64k count=16 "
     "conv=notrunc status=none", "big", "="),
    ("reserve 1 MiB past the end", ["-n", "-o", "1M", "-l", "1M"],
     "big", "+"),
    ("punch across chunks", ["-p", "-o", "100000", "-l", "300000"],
     "big", "-"),
    ("punch inside a page", ["-p", "-o", "5", "-l", "10"], "big", "="),
    ("allocate over reserved space and past it (extends)",
     ["-o", "1500000", "-l", "1000000"], "big", "+"),
    ("truncate up over nothing", "truncate -s 3M big", "big", "="),
    ("write past the end", "dd if=$DATA of=big bs=1000 count=3 seek=3200 "
     "conv=notrunc status=none", "big", None),
    ("reserve in the holes", ["-n", "-o", "0", "-l", "3M"], "big", "+"),
    ("punch all of it", ["-p", "-o", "0", "-l", "100M"], "big", "-"),
    ("posix_fallocate", ["-x", "-o", "4M", "-l", "100000"], "big", "+"),
    ("small value", "printf hello > small", "small", None),
    ("reserve room past a small file's end", ["-n", "-l", "8192"],
     "small", "+"),
    ("append into the room", "printf X >> small", "small", "="),
    ("punch a small file's bytes", ["-p", "-o", "1", "-l", "2"],
     "small", "="),
    ("allocate a small file up to 20000 bytes", ["-l", "20000"],
     "small", None),
    ("reserve past 32 KiB in a small file", ["-n", "-l", "200000"],
     "small", "+"),
    ("write into the reservation", "dd if=$DATA of=small bs=1000 count=5 "
     "seek=100 conv=notrunc status=none", "small", "="),
    ("truncate to the size gives back what is past it",
     "truncate -s 105000 small", "small", "-"),
    ("an empty file", "touch empty", "empty", "="),
    ("reserve in an empty file", ["-n", "-l", "1M"], "empty", "+"),
    ("truncate it to 0", "truncate -s 0 empty", "empty", "-"),
    ("zero range is refused", ["-z", "-o", "0", "-l", "10"], "big", "="),
    ("collapse range is refused", ["-c", "-o", "0", "-l", "64K"],
     "big", "="),
    ("insert range is refused", ["-i", "-o", "0", "-l", "64K"],
     "big", "="),
]


def test_fallocate_tool_matches_tmpfs(mmfs, tmpfs_dir, tmp_path):
    m = mmfs(size="64M")
    data = tmp_path / "data"
    data.write_bytes(random.Random(15).randbytes(4 * MiB))
    env = {"DATA": str(data)}
    sides = {"mmfs": m.mnt, "tmpfs": tmpfs_dir}
    for what, step, name, moves in STEPS:
        before = {k: os.stat(os.path.join(d, name)).st_blocks
                  if os.path.exists(os.path.join(d, name)) else 0
                  for k, d in sides.items()}
        free = free_bytes(m.mnt)
        if isinstance(step, str):
            for d in sides.values():
                sh(step, d, env)
            out = {}
        else:
            out = {k: fallocate_tool(step + [name], d)
                   for k, d in sides.items()}
            assert out["mmfs"] == out["tmpfs"], (what, out)
        a, b = (os.path.join(d, name) for d in sides.values())
        r = helpers.run(["cmp", a, b], check=False)
        assert r.returncode == 0, f"{what}: contents differ: {r.stdout}"
        sa, sb = os.stat(a), os.stat(b)
        assert sa.st_size == sb.st_size, what
        after = {"mmfs": sa.st_blocks, "tmpfs": sb.st_blocks}
        moved = {k: sign(before[k], after[k]) for k in sides}
        assert moved["mmfs"] == moved["tmpfs"], (what, before, after)
        assert moves is None or moved["mmfs"] == moves, \
            (what, before, after)
        gone = sign(free_bytes(m.mnt), free)    # free space went down: +
        if moves in ("+", "-"):
            assert gone == moves, (what, free, free_bytes(m.mnt))
        if "refused" in what:
            assert out["mmfs"] == (1, "Operation not supported"), out
    m.umount()
    check_arena(m.arena)


def test_enospc_and_efbig_change_nothing(mmfs):
    m = mmfs(size="8M")
    big, small = m.path("big"), m.path("small")
    with open(big, "wb") as f:
        f.write(os.urandom(MiB))
    with open(small, "wb") as f:
        f.write(b"a small value\n")

    def state():
        return [(hashlib.sha256(Path(p).read_bytes()).hexdigest(),
                 os.stat(p).st_size, os.stat(p).st_blocks)
                for p in (big, small)] + [free_bytes(m.mnt)]

    before = state()
    for args, name, err in [
            (["-l", "100M"], "big", "No space left on device"),
            (["-n", "-o", "1M", "-l", "64M"], "big",
             "No space left on device"),
            (["-o", "0", "-l", "7M"], "small", "No space left on device"),
            (["-n", "-l", "7M"], "small", "No space left on device"),
            (["-l", "65G"], "big", "File too large"),
            (["-n", "-o", "64G", "-l", "1"], "small", "File too large")]:
        assert fallocate_tool(args + [name], m.mnt) == (1, err), args
        assert state() == before, args
    # What fits still works, and a punch past the limit is cut there.
    assert fallocate_tool(["-n", "-l", "2M", "big"], m.mnt) == (0, "")
    assert fallocate_tool(["-p", "-o", "60G", "-l", "10G", "big"],
                          m.mnt) == (0, "")
    assert state()[0][:2] == before[0][:2]
    m.umount()
    check_arena(m.arena)


@pytest.mark.parametrize("args,status,want", [
    (["-l", "100"], 0, ["0o757", "0o777", "0o6757"]),
    (["-n", "-l", "100"], 0, ["0o757", "0o777", "0o6757"]),
    (["-p", "-o", "0", "-l", "1"], 0, ["0o757", "0o777", "0o6757"]),
    (["-z", "-o", "0", "-l", "1"], 1, ["0o4757", "0o2777", "0o6757"])])
def test_unprivileged_fallocate_clears_set_id_bits(mmfs, tmpfs_dir, args,
                                                   status, want):
    """As a write does, and as on tmpfs: S_ISUID always, S_ISGID of a
    group-executable file; root keeps them; a refused mode (zero range)
    changes nothing."""
    m = mmfs(opts=["allow_other"])
    modes = {}
    for side, d in (("mmfs", m.mnt), ("tmpfs", tmpfs_dir)):
        os.chmod(d, 0o755)
        for name, mode in (("suid", 0o4757), ("sgid", 0o2777),
                           ("root", 0o6757)):
            p = os.path.join(d, name)
            with open(p, "wb") as f:
                f.write(b"xy")
            os.chmod(p, mode)
        for name in ("suid", "sgid"):
            assert fallocate_tool(args + [name], d,
                                  uid=OTHER_UID)[0] == status
        assert fallocate_tool(args + ["root"], d)[0] == status
        modes[side] = [oct(os.stat(os.path.join(d, n)).st_mode & 0o7777)
                       for n in ("suid", "sgid", "root")]
    assert modes["mmfs"] == modes["tmpfs"] == want


def check_arena(arena):
    tool = conftest.mmfsctl_path()
    r = subprocess.run([tool, "check", str(arena)], capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 0 and "consistent" in r.stdout, \
        f"mmfsctl check:\n{r.stdout}{r.stderr}"


# --- kill -9 while punching ------------------------------------------------

FILE_SIZE = 8 * MiB
ROUNDS = int(os.environ.get("MMFS_FALLOC_ROUNDS",
                            "3" if conftest.VALGRIND else "6"))


def apply_op(model, op):
    """The content after one journaled call: (mode, off, length)."""
    mode, off, length = op
    if mode & FALLOC_FL_PUNCH_HOLE:
        end = min(off + length, len(model))
        if off < end:
            model[off:end] = bytes(end - off)
    elif not mode & FALLOC_FL_KEEP_SIZE and off + length > len(model):
        model.extend(bytes(off + length - len(model)))
    return model


def worker(path, journal, seed):
    """Punch and reserve random ranges of path until the file system goes
    away, journaling "B mode off len" before each call and "E" after."""
    rng = random.Random(seed)
    fd = os.open(path, os.O_RDWR)
    with open(journal, "a", buffering=1) as j:
        while True:
            r = rng.random()
            mode = FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE if r < 0.7 \
                else FALLOC_FL_KEEP_SIZE if r < 0.9 else 0
            off = rng.randrange(0, FILE_SIZE + MiB)
            length = rng.choice([rng.randrange(1, 5000),
                                 rng.randrange(1, 300_000),
                                 rng.randrange(1, 2 * MiB)])
            j.write(f"B {mode} {off} {length}\n")
            try:
                helpers.fallocate(fd, mode, off, length)
            except OSError:
                return 0        # the daemon is gone
            j.write("E\n")


def read_journal(path):
    """(completed calls, the call in flight or None)."""
    done, pending = [], None
    for line in Path(path).read_text().splitlines():
        if line.startswith("B "):
            pending = tuple(int(x) for x in line.split()[1:])
        elif line == "E":
            done.append(pending)
            pending = None
    return done, pending


@pytest.mark.long
def test_kill9_while_punching_leaves_a_consistent_arena(mmfs, tmp_path):
    rng = random.Random(int(os.environ.get("MMFS_FALLOC_SEED", "15")))
    m = mmfs(size="128M")
    path = m.path("f")
    model = bytearray(random.Random(1).randbytes(FILE_SIZE))
    Path(path).write_bytes(model)
    completed = 0
    for rnd in range(ROUNDS):
        journal = tmp_path / f"journal{rnd}"
        proc = subprocess.Popen([sys.executable, __file__, path,
                                 str(journal), str(rng.randrange(1 << 30))])
        helpers.wait_for(lambda: journal.exists() and
                         journal.stat().st_size > 2000, 10)
        time.sleep(rng.uniform(0, 0.3))
        m.kill9()
        assert proc.wait(timeout=30) == 0, "the worker failed"
        m.remount()
        done, pending = read_journal(journal)
        completed += len(done)
        for op in done:
            apply_op(model, op)
        got = Path(path).read_bytes()
        if got != model and pending is not None:
            apply_op(model, pending)        # the call in flight: whole
        assert got == model, \
            f"round {rnd}: the file is neither before nor after {pending}"
        m.umount()
        check_arena(m.arena)
        m.start()
    print(f"{ROUNDS} rounds of kill -9 while punching: {completed} calls "
          f"verified")
    assert completed > ROUNDS * 10, "the worker did almost nothing"


if __name__ == "__main__":
    sys.exit(worker(sys.argv[1], sys.argv[2], int(sys.argv[3])))

"""Several processes mixing every operation at once (the daemon serves
them on several threads).

Each worker process works for a few seconds:
- on shared names in one directory: replaces, reads, appends through a
  descriptor, renames, links and unlinks, xattrs, truncations, mkdir and
  rmdir, stat; every value it writes describes itself (writer, sequence,
  length, checksum), so every read checks that it got one whole value;
- on one shared ring log: records "writer seq" that must come back whole
  and, per writer, in order;
- on a private directory, with the same random operations done on tmpfs as
  the oracle: both trees must be equal at the end.
Afterwards the arena must survive a remount and pass `mmfsctl check`.
"""

import hashlib
import json
import os
import random
import subprocess
import sys

from conftest import mmfsctl_path
from helpers import run

WORKERS = 4
SECONDS = 4.0

WORKER = r"""
import errno, hashlib, json, os, random, sys, time

shared, ring, mine, oracle, wid, seed, seconds = sys.argv[1:8]
wid, seed, seconds = int(wid), int(seed), float(seconds)
rng = random.Random(seed)
out = {"ops": 0, "bad": [], "counts": {}}
names = [f"v{i}" for i in range(6)]
seq = 0


def value(sizes=(0, 10, 100, 3000, 70000)):
    global seq
    seq += 1
    body = os.urandom(rng.choice(sizes)).hex().encode()
    head = f"{wid}:{seq}:{len(body)}:".encode()
    return head + hashlib.sha1(body).hexdigest().encode() + b":" + body


def whole(data):
    if not data:
        return True            # an O_TRUNC open with no write yet
    try:
        w, s, n, digest, body = data.split(b":", 4)
        return (len(body) == int(n) and
                hashlib.sha1(body).hexdigest().encode() == digest)
    except ValueError:
        return False


def bad(what, data=b""):
    if len(out["bad"]) < 5:
        out["bad"].append(f"{what}: {data[:60]!r} ({len(data)} bytes)")


def p(name):
    return os.path.join(shared, name)


def op_replace():
    with open(p(rng.choice(names)), "wb") as f:
        f.write(value())


def op_read():
    with open(p(rng.choice(names)), "rb") as f:
        data = f.read()
    if not whole(data):
        bad("read", data)


def op_rename():
    os.rename(p(rng.choice(names)), p(rng.choice(names)))


def op_link():
    os.link(p(rng.choice(names)), p(rng.choice(names) + ".l"))


def op_unlink():
    os.unlink(p(rng.choice(names + [n + ".l" for n in names])))


def op_xattr():
    n = p(rng.choice(names))
    if rng.random() < 0.5:
        os.setxattr(n, "user.v", value((0, 10, 1000)))
    elif not whole(os.getxattr(n, "user.v")):
        bad("xattr")


def op_truncate():
    fd = os.open(p(rng.choice(names)), os.O_WRONLY | os.O_TRUNC)
    os.close(fd)


def op_dir():
    d = p(f"d{rng.randrange(3)}")
    if rng.random() < 0.5:
        os.mkdir(d)
    else:
        os.rmdir(d)


def op_stat():
    os.stat(p(rng.choice(names)))


def op_ring():
    with open(ring, "ab") as f:
        f.write(f"{wid} {seq}\n".encode())
    globals()["seq"] += 1


def op_private():
    # the same operation on mmfs and on the oracle
    name = f"f{rng.randrange(8)}"
    kind = rng.choice(["write", "append", "unlink", "rename", "mkdir"])
    data = os.urandom(rng.choice([1, 100, 5000])).hex().encode()
    other = f"f{rng.randrange(8)}"
    for root in (mine, oracle):
        try:
            if kind == "write":
                with open(os.path.join(root, name), "wb") as f:
                    f.write(data)
            elif kind == "append":
                with open(os.path.join(root, name), "ab") as f:
                    f.write(data)
            elif kind == "unlink":
                os.unlink(os.path.join(root, name))
            elif kind == "rename":
                os.rename(os.path.join(root, name),
                          os.path.join(root, other))
            else:
                os.mkdir(os.path.join(root, "d" + name))
        except OSError as e:
            if e.errno not in (errno.ENOENT, errno.EEXIST, errno.EISDIR,
                               errno.ENOTEMPTY, errno.ENOTDIR):
                raise


OPS = [op_replace, op_replace, op_read, op_read, op_read, op_rename,
       op_link, op_unlink, op_xattr, op_truncate, op_dir, op_stat, op_ring,
       op_private, op_private]
end = time.monotonic() + seconds
while time.monotonic() < end:
    fn = rng.choice(OPS)
    try:
        fn()
    except OSError as e:
        if e.errno not in (errno.ENOENT, errno.EEXIST, errno.ENOTEMPTY,
                           errno.ENODATA, errno.EISDIR, errno.ENOTDIR):
            bad(f"{fn.__name__}: {e}")
    out["ops"] += 1
    out["counts"][fn.__name__] = out["counts"].get(fn.__name__, 0) + 1
print(json.dumps(out))
"""


def tree(root):
    """{relative path: (kind, digest of content)}: what the operations of
    op_private decide (times and inode numbers differ from the oracle)."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames:
            out[os.path.relpath(os.path.join(dirpath, name), root)] = \
                ("dir", None)
        for name in filenames:
            with open(os.path.join(dirpath, name), "rb") as f:
                out[os.path.relpath(os.path.join(dirpath, name), root)] = \
                    ("file", hashlib.sha1(f.read()).hexdigest())
    return out


def test_processes_mixing_every_operation(mmfs, tmpfs_dir, measure):
    m = mmfs(opts=[f"threads={os.environ.get('MMFS_THREADS', '4')}"])
    shared = m.path("shared")
    os.mkdir(shared)
    ring = m.path("log.ring")
    open(ring, "wb").close()
    seed = random.SystemRandom().randrange(1, 2**31)
    procs = []
    for w in range(WORKERS):
        mine, oracle = m.path(f"w{w}"), os.path.join(tmpfs_dir, f"w{w}")
        os.mkdir(mine)
        os.mkdir(oracle)
        procs.append(subprocess.Popen(
            [sys.executable, "-c", WORKER, shared, ring, mine, oracle,
             str(w), str(seed + w), str(SECONDS)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    results = []
    for proc in procs:
        o, e = proc.communicate(timeout=SECONDS + 120)
        assert proc.returncode == 0, e
        results.append(json.loads(o.strip().splitlines()[-1]))
    ops = sum(r["ops"] for r in results)
    measure("stress_ops", ops,
            f"stress: {WORKERS} processes, {ops} operations in "
            f"{SECONDS:.0f} s (seed {seed})")
    problems = [b for r in results for b in r["bad"]]
    assert not problems, f"seed {seed}: {problems}"
    assert ops > 200, results
    # The ring: whole records, each writer's in order.
    last = {}
    for line in open(ring, "rb").read().splitlines():
        w, s = map(int, line.split())
        assert s > last.get(w, -1), f"writer {w}: {s} after {last[w]}"
        last[w] = s
    # Private trees equal the oracle, also after a remount.
    for w in range(WORKERS):
        assert tree(m.path(f"w{w}")) == \
            tree(os.path.join(tmpfs_dir, f"w{w}")), f"worker {w}"
    m.remount()
    for w in range(WORKERS):
        assert tree(m.path(f"w{w}")) == \
            tree(os.path.join(tmpfs_dir, f"w{w}")), f"worker {w}"
    m.umount()
    r = run([mmfsctl_path(), "check", m.arena], check=False)
    assert r.returncode == 0, r.stdout + r.stderr

"""One version per open: readers see whole values, whatever they do.

- A reader that reads a value in several read(2) calls (Python's read(),
  cp, a C fread loop) sees one committed version from its first read to
  EOF, while a writer replaces the value the usual way (O_TRUNC, one
  write, close).  tmpfs shows the torn reads this prevents.
- stat and `[ -s var ]` during replaces never see 0 for a non-empty value.
- A reading pass ends at EOF and restarts at offset 0: lseek(0) and read
  again gives the newest value, and a reader at EOF sees appends.
- A replace whose write fails (a full arena) keeps the old value, and a
  full arena can still be emptied by `: > file` and rm.
- While a reader keeps an old version, `mmfsctl check` of the live mount is
  clean and `mmfsctl stat` counts the retired blocks.
"""

import json
import os
import subprocess
import sys

import pytest

from conftest import mmfsctl_path
from helpers import run

# A writer alternates two values of `size` bytes, made of one byte each,
# by open(O_TRUNC) + one write + close, for `seconds`.  The buffers are
# page-aligned (mmap): a write(2) of 1 MiB is one FUSE request, and so one
# commit, only from such a buffer (mmfs(7)).
WRITER = r"""
import json, mmap, os, sys, time
path, size, seconds = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
vals = []
for byte in b"AB":
    m = mmap.mmap(-1, size)
    m.write(bytes([byte]) * size)
    vals.append(memoryview(m))
n, end = 0, time.monotonic() + seconds
while time.monotonic() < end:
    fd = os.open(path, os.O_WRONLY | os.O_TRUNC)
    os.write(fd, vals[n % 2])
    os.close(fd)
    n += 1
print(json.dumps({"writes": n}))
"""

# A reader opens, reads in pieces of `piece` bytes until EOF, closes, and
# classifies what it got.
READER = r"""
import json, os, sys, time
path, size, piece, seconds = (sys.argv[1], int(sys.argv[2]),
                              int(sys.argv[3]), float(sys.argv[4]))
out = {"reads": 0, "A": 0, "B": 0, "torn": 0, "short": 0, "samples": []}
end = time.monotonic() + seconds
while time.monotonic() < end:
    fd = os.open(path, os.O_RDONLY)
    parts = []
    while True:
        b = os.read(fd, piece)
        if not b:
            break
        parts.append(b)
    os.close(fd)
    data = b"".join(parts)
    out["reads"] += 1
    kinds = set(data)
    if len(data) == size and len(kinds) == 1:
        out[chr(data[0])] += 1
    elif len(data) != size and len(kinds) <= 1:
        out["short"] += 1
        if len(out["samples"]) < 3:
            out["samples"].append(f"{len(data)} bytes")
    else:
        out["torn"] += 1
        if len(out["samples"]) < 3:
            out["samples"].append(f"{len(data)} bytes of {sorted(kinds)}")
print(json.dumps(out))
"""

# A stat loop: how often st_size is 0, and how often `[ -s p ]` is false.
STATTER = r"""
import json, os, subprocess, sys, time
path, seconds = sys.argv[1], float(sys.argv[2])
out = {"stats": 0, "zero": 0}
end = time.monotonic() + seconds
while time.monotonic() < end:
    out["stats"] += 1
    if os.stat(path).st_size == 0:
        out["zero"] += 1
print(json.dumps(out))
"""


def spawn(script, *args):
    return subprocess.Popen([sys.executable, "-c", script,
                             *[str(a) for a in args]],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def result(proc, timeout=60):
    out, err = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, err
    return json.loads(out.strip().splitlines()[-1])


def race(d, size, piece, seconds=2.0, readers=2):
    """Replace a value of size bytes while readers read it in pieces."""
    p = os.path.join(d, "var")
    with open(p, "wb") as f:
        f.write(b"A" * size)
    w = spawn(WRITER, p, size, seconds)
    rs = [spawn(READER, p, size, piece, seconds) for _ in range(readers)]
    got = [result(r) for r in rs]
    total = {k: sum(g[k] for g in got)
             for k in ("reads", "A", "B", "torn", "short")}
    total["writes"] = result(w)["writes"]
    total["samples"] = [s for g in got for s in g["samples"]][:5]
    return total


def describe(fs, size, t):
    return (f"{fs}, {size} B values read in pieces: {t['writes']} replaces, "
            f"{t['reads']} reads: {t['A']}+{t['B']} whole, {t['torn']} "
            f"torn, {t['short']} short")


@pytest.mark.parametrize("size", [100, 16384, 65536, 1 << 20],
                         ids=["100B", "16KiB", "64KiB", "1MiB"])
def test_a_reader_in_pieces_sees_one_version(mnt, tmpfs_dir, measure, size):
    piece = max(size // 5, 1)
    tmpfs = race(tmpfs_dir, size, piece)
    measure(f"versions_tmpfs_{size}_torn", tmpfs["torn"],
            describe("tmpfs", size, tmpfs))
    mmfs = race(mnt, size, piece)
    measure(f"versions_mmfs_{size}_torn", mmfs["torn"],
            describe("mmfs", size, mmfs))
    assert mmfs["torn"] == 0 and mmfs["short"] == 0, mmfs["samples"]
    # The test means something only if readers raced real replaces.
    assert mmfs["writes"] >= 10 and mmfs["reads"] >= 20, mmfs
    assert mmfs["A"] and mmfs["B"], f"readers saw one value only: {mmfs}"


def test_stat_during_replace_never_sees_zero(mnt, tmpfs_dir, measure):
    for d, fs in ((tmpfs_dir, "tmpfs"), (mnt, "mmfs")):
        p = os.path.join(d, "var")
        with open(p, "wb") as f:
            f.write(b"A" * 100)
        w = spawn(WRITER, p, 100, 2.0)
        ss = [spawn(STATTER, p, 2.0) for _ in range(2)]
        got = [result(s) for s in ss]
        writes = result(w)["writes"]
        zero = sum(g["zero"] for g in got)
        stats = sum(g["stats"] for g in got)
        measure(f"stat_zero_{fs}", zero,
                f"stat during replace on {fs}: {writes} replaces, {stats} "
                f"stats, {zero} saw size 0")
        if fs == "mmfs":
            assert zero == 0
            assert writes >= 10 and stats >= 100


def test_shell_test_s_is_never_false_during_replace(mnt):
    p = os.path.join(mnt, "var")
    with open(p, "w") as f:
        f.write("value\n")
    w = spawn(WRITER, p, 6, 2.0)
    r = run(["bash", "-c", 'n=0; f=0; SECONDS=0; '
             'while [ "$SECONDS" -lt 2 ]; do n=$((n+1)); '
             '[ -s "$1" ] || f=$((f+1)); done; echo "$n $f"', "bash", p],
            timeout=30)
    result(w)
    n, false = map(int, r.stdout.split())
    assert n >= 100 and false == 0, (n, false)


def test_a_pass_ends_at_eof_and_restarts_at_zero(mnt):
    p = os.path.join(mnt, "var")
    with open(p, "wb") as f:
        f.write(b"1" * 50000)
    fd = os.open(p, os.O_RDONLY)
    try:
        first = os.read(fd, 1000)
        with open(p, "wb") as f:                  # replace mid-pass
            f.write(b"2" * 70000)
        rest = b""
        while True:
            b = os.read(fd, 7000)
            if not b:
                break
            rest += b
        assert first + rest == b"1" * 50000      # one version, whole
        os.lseek(fd, 0, os.SEEK_SET)
        assert os.read(fd, 100000) == b"2" * 70000    # the newest
        assert os.read(fd, 10) == b""
        with open(p, "ab") as f:                  # appends after EOF
            f.write(b"3" * 10)
        assert os.read(fd, 100) == b"3" * 10
    finally:
        os.close(fd)


def fill_holes(paths, size):
    """Write size bytes into each of the (empty) files until ENOSPC: then
    the arena has no block left for a value of that size."""
    for p in paths:
        try:
            with open(p, "wb") as f:
                f.write(b"x" * size)
        except OSError as e:
            assert e.errno == 28, e           # ENOSPC
            return
    pytest.fail("the arena never filled up")


def test_a_failed_replace_keeps_the_old_value(mmfs):
    """Another user fills a shared arena; root's next replace fails with
    ENOSPC and the old value survives byte for byte."""
    m = mmfs(opts=("allow_other",), size="1M")
    os.chmod(m.mnt, 0o755)
    shared = m.path("shared")
    os.mkdir(shared)
    os.chmod(shared, 0o1777)
    cfg = m.path("cfg")
    old = b"important-value-v1\n"
    with open(cfg, "wb") as f:
        f.write(old)
    holes = [m.path(f"h{i}") for i in range(3000)]
    for p in holes:
        open(p, "wb").close()
    filler = ("import os, sys\n"
              "d = sys.argv[1]\nn = 0\n"
              "for size in (4096, 256, 16, 0):\n"
              "    while True:\n"
              "        try:\n"
              "            with open(os.path.join(d, f'u{n}'), 'wb') as f:\n"
              "                f.write(b'x' * size)\n"
              "            n += 1\n"
              "        except OSError:\n"
              "            break\n"
              "print(n)\n")
    r = run(["setpriv", "--reuid=12345", "--regid=12345", "--clear-groups",
             sys.executable, "-c", filler, shared], timeout=120)
    assert int(r.stdout) > 10
    fill_holes(holes, len(b"important-value-v2\n"))
    r = run(["bash", "-c", 'echo important-value-v2 > "$1"', "bash", cfg],
            check=False)
    assert r.returncode != 0 and "No space" in r.stderr, r
    assert open(cfg, "rb").read() == old
    fd = os.open(cfg, os.O_WRONLY | os.O_TRUNC)
    try:
        with pytest.raises(OSError) as e:
            os.write(fd, b"v" * 20000)
        assert e.value.errno == 28
    finally:
        os.close(fd)
    assert open(cfg, "rb").read() == old
    # An O_TRUNC open with no write at all still empties the file.
    victim = os.path.join(shared, "u0")
    run(["bash", "-c", ': > "$1"', "bash", victim])
    assert os.path.getsize(victim) == 0
    # The full arena can be emptied, and then the replace works.
    for name in os.listdir(shared):
        os.unlink(os.path.join(shared, name))
    for p in holes:
        os.unlink(p)
    run(["bash", "-c", 'echo important-value-v2 > "$1"', "bash", cfg])
    assert open(cfg, "rb").read() == b"important-value-v2\n"


def test_a_kept_version_is_no_leak_for_the_checker(mmfs):
    mmfsctl_bin = mmfsctl_path()
    m = mmfs()
    p = m.path("big")
    with open(p, "wb") as f:
        f.write(b"1" * 300000)
    fd = os.open(p, os.O_RDONLY)
    try:
        assert os.read(fd, 1000) == b"1" * 1000   # a pass holds v1
        with open(p, "wb") as f:
            f.write(b"2" * 300000)
        r = run([mmfsctl_bin, "check", m.mnt], check=False)
        assert r.returncode == 0, r.stdout + r.stderr
        r = run([mmfsctl_bin, "stat", m.mnt])
        line = [x for x in r.stdout.splitlines() if "retired" in x]
        assert line and int(line[0].split(":")[1].split()[0]) >= 1, \
            r.stdout
        assert os.read(fd, 400000) == b"1" * 299000
        assert os.read(fd, 10) == b""             # the pass ends
    finally:
        os.close(fd)
    r = run([mmfsctl_bin, "stat", m.mnt])
    line = [x for x in r.stdout.splitlines() if "retired" in x]
    assert int(line[0].split(":")[1].split()[0]) == 0, r.stdout


# Each round replaces the value by nothing, the way `: > var` and
# open(O_TRUNC) + close do, then looks at once from the same process and
# from a child: the file must be empty as soon as close(2) has returned.
# A dup's close must not end the replace early: the shell's `echo v > var`
# closes its first descriptor before it writes (checked by the last part).
# Half the rounds keep another open file on the value (O_RDWR, as a program
# that holds a handle and replaces the file through a new open does): that
# descriptor is not a dup, and must not postpone the end.
EMPTY_REPLACE = r"""
import os, subprocess, sys
path, rounds = sys.argv[1], int(sys.argv[2])
bad = []
for i in range(rounds):
    with open(path, "wb") as f:
        f.write(b"x" * (100 + i % 7))
    other = os.open(path, os.O_RDWR) if i % 4 >= 2 else None
    fd = os.open(path, os.O_WRONLY | os.O_TRUNC)
    if i % 2:
        dup = os.dup(fd)
        os.close(fd)
        fd = dup
    os.close(fd)
    size = os.stat(path).st_size
    data = open(path, "rb").read()
    if other is not None:
        os.close(other)
    if size or data:
        bad.append((i, size, len(data)))
print(len(bad), bad[:5])
"""


@pytest.mark.parametrize("name", ["var", "log.ring"])
def test_an_empty_replace_is_seen_when_close_returns(mnt, name):
    """open(O_TRUNC) + close with no write empties the file before
    close(2) returns, even when the descriptor closed last is a dup: stat
    and a read right after see nothing (the kernel's RELEASE, which used
    to end it, comes later)."""
    p = os.path.join(mnt, name)
    out = run([sys.executable, "-c", EMPTY_REPLACE, p, "300"]).stdout
    assert out.startswith("0 "), out
    sh = run(["sh", "-c", 'for i in 1 2 3 4 5 6 7 8 9 10; do echo full > '
              '"$1"; : > "$1"; [ -s "$1" ] && echo not-empty; '
              'cat "$1"; done; echo done', "sh", p]).stdout
    assert sh == "done\n"


# The one case fdscan cannot tell apart (mmfs(7)): the replacing process
# holds another descriptor on the value with the replace's own access mode
# (O_WRONLY), so the daemon cannot see which of the two was closed, and the
# file is emptied when the kernel releases the replace's open file, a moment
# after close(2).  It must still be emptied, and soon.
EMPTY_REPLACE_BESIDE_A_WRITER = r"""
import os, sys, time
path, rounds = sys.argv[1], int(sys.argv[2])
late = never = 0
for i in range(rounds):
    with open(path, "wb") as f:
        f.write(b"x" * 100)
    writer = os.open(path, os.O_WRONLY)
    fd = os.open(path, os.O_WRONLY | os.O_TRUNC)
    os.close(fd)
    if os.stat(path).st_size:
        late += 1
    deadline = time.monotonic() + 2
    while os.stat(path).st_size or open(path, "rb").read():
        if time.monotonic() > deadline:
            never += 1
            break
        time.sleep(0.001)
    os.close(writer)
print(never, late)
"""


def test_an_empty_replace_beside_another_writer_ends_at_release(mnt,
                                                                measure):
    """open(O_TRUNC) + close with no write, by a process that holds
    another O_WRONLY descriptor on the file: emptied within 2 s (at the
    kernel's RELEASE), never left with the old value."""
    p = os.path.join(mnt, "var")
    never, late = map(int, run([sys.executable, "-c",
                                EMPTY_REPLACE_BESIDE_A_WRITER, p,
                                "100"]).stdout.split())
    measure("empty_replace_beside_writer_late", late,
            f"empty replace beside a writer: {late} of 100 still full "
            f"right after close, {never} never emptied")
    assert never == 0

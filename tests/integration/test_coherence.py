"""The kernel caches entries and attributes for a day (src/fs/ops.c), yet
every change is visible at once to every process.

The fast path: a repeated stat or lookup of an unchanged file is answered
by the kernel without a request to the daemon (counted by the daemon and
shown by mmfsctl stat), and a pwrite is one request: the daemon clears
set-ID bits and capabilities itself (FUSE_HANDLE_KILLPRIV_V2), so the
kernel does not ask getxattr(security.capability) before each write.
The guarantee: whatever another process changes through the mount --
data, size, mode, names -- the next stat, read, lookup or mapping access
in this process sees it, with no waiting.
"""

import mmap
import os
import stat
import subprocess
import sys
import time

import pytest

import helpers
from conftest import mmfsctl_path


def requests(mnt):
    """The daemon's request counts by kind, from mmfsctl stat."""
    out = helpers.run([mmfsctl_path(), "stat", mnt]).stdout
    counts, inside = {}, False
    for line in out.splitlines():
        if line.startswith("requests:"):
            inside = True
            continue
        if inside and line.startswith("  ") and ":" in line:
            kind, n = line.split(":", 1)
            counts[kind.strip()] = int(n)
        elif inside:
            break
    return counts


def other(code, *args):
    """Run a Python snippet in another process (argv: the args)."""
    subprocess.run([sys.executable, "-c", code] + [str(a) for a in args],
                   check=True, timeout=30)


WRITE_AT = ("import os, sys; fd = os.open(sys.argv[1], os.O_WRONLY); "
            "os.pwrite(fd, sys.argv[3].encode(), int(sys.argv[2])); "
            "os.close(fd)")


def test_repeated_stat_and_lookup_never_reach_the_daemon(mnt):
    os.makedirs(os.path.join(mnt, "a", "b"))
    p = os.path.join(mnt, "a", "b", "var")
    with open(p, "w") as f:
        f.write("value")
    os.stat(p)
    time.sleep(1.5)         # longer than any short cache timeout
    before = requests(mnt)
    for _ in range(200):
        assert os.stat(p).st_size == 5
        assert os.path.exists(p)
    after = requests(mnt)
    assert after.get("getattr", 0) == before.get("getattr", 0)
    assert after.get("lookup", 0) == before.get("lookup", 0)


def delta(before, after):
    return {k: n - before.get(k, 0) for k, n in after.items()
            if n != before.get(k, 0)}


def per_op(counts, n):
    return sum(counts.values()) / n


def test_a_pwrite_is_one_request(mnt, measure):
    """After the first write to a file, which the kernel checks for
    set-ID bits and capabilities once, every pwrite through the page
    cache (O_RDWR) is exactly one WRITE request, and a replace through
    O_WRONLY (open O_TRUNC, write, close) is OPEN, GETXATTR (the kernel's
    check before truncating), WRITE, RELEASE, and no GETXATTR once a
    page-cache write has marked the file checked: no FLUSH at the close
    (mmfs(7))."""
    n = 200
    p = os.path.join(mnt, "var")
    with open(p, "wb") as f:
        f.write(b"v" * 100)
    fd = os.open(p, os.O_RDWR)
    try:
        os.pwrite(fd, b"w" * 100, 0)
        before = requests(mnt)
        for i in range(n):
            os.pwrite(fd, b"%099d" % i, 0)
        rdwr = delta(before, requests(mnt))
    finally:
        os.close(fd)
    assert rdwr == {"write": n}, f"{n} pwrites cost {rdwr}"

    def replace_loop(path):
        before = requests(mnt)
        for i in range(n):
            fd = os.open(path, os.O_WRONLY | os.O_TRUNC)
            os.write(fd, b"%d" % i)
            os.close(fd)
        return delta(before, requests(mnt))

    q = os.path.join(mnt, "other")
    with open(q, "wb") as f:
        f.write(b"x")
    fd = os.open(q, os.O_WRONLY)
    before = requests(mnt)
    for i in range(n):
        os.pwrite(fd, b"y", 0)
    wronly = delta(before, requests(mnt))
    os.close(fd)
    cold = replace_loop(q)
    fd = os.open(q, os.O_RDWR)
    os.pwrite(fd, b"z", 0)          # a page-cache write marks it checked
    os.close(fd)
    marked = replace_loop(q)
    measure("requests_per_pwrite", per_op(rdwr, n),
            f"requests per op: pwrite O_RDWR {per_op(rdwr, n):.2f} {rdwr}, "
            f"pwrite O_WRONLY {per_op(wronly, n):.2f} {wronly}, "
            f"replace {per_op(cold, n):.2f} {cold}, replace after a "
            f"page-cache write {per_op(marked, n):.2f} {marked}")
    three = {"open": n, "write": n, "release": n}
    assert cold == dict(three, getxattr=n), f"{n} replaces cost {cold}"
    assert marked == three, f"{n} replaces cost {marked}"


@pytest.mark.long
def test_another_process_write_is_seen_by_stat_at_once(mnt):
    p = os.path.join(mnt, "var")
    with open(p, "wb") as f:
        f.write(b"12345")
    st0 = os.stat(p)
    for i in range(50):
        other(WRITE_AT, p, 5 + i, "x")
        st = os.stat(p)
        assert st.st_size == 6 + i
        assert st.st_mtime_ns >= st0.st_mtime_ns
    with open(p, "rb") as f:
        assert f.read() == b"12345" + b"x" * 50


@pytest.mark.long
def test_another_process_replace_is_seen_at_once(mnt):
    p = os.path.join(mnt, "var")
    for i in range(100):
        v = ("v%d" % i) * (1 + i % 7)
        other("import sys; open(sys.argv[1], 'w').write(sys.argv[2])", p, v)
        assert os.stat(p).st_size == len(v)
        with open(p) as f:
            assert f.read() == v


def test_cached_pages_and_mappings_see_other_writes_at_once(mnt):
    p = os.path.join(mnt, "shared")
    with open(p, "wb") as f:
        f.write(b"." * 8192)
    fd = os.open(p, os.O_RDWR)
    try:
        m = mmap.mmap(fd, 8192)
        for i in range(30):
            v = b"%08d" % i
            assert os.pread(fd, 8, 4096) and m[4096:4104]   # cached
            other(WRITE_AT, p, 4096, v.decode())
            assert os.pread(fd, 8, 4096) == v
            assert m[4096:4104] == v
        m.close()
    finally:
        os.close(fd)


def test_another_process_namespace_changes_are_seen_at_once(mnt):
    d = os.path.join(mnt, "d")
    os.mkdir(d)
    a, b = os.path.join(d, "a"), os.path.join(d, "b")
    with open(a, "w") as f:
        f.write("A")
    assert os.stat(a) and not os.path.exists(b)
    other("import os, sys; os.rename(sys.argv[1], sys.argv[2])", a, b)
    assert not os.path.exists(a)
    with open(b) as f:
        assert f.read() == "A"
    other("import os, sys; os.unlink(sys.argv[1]); "
          "os.mkdir(sys.argv[1])", b)
    assert stat.S_ISDIR(os.stat(b).st_mode)
    other("import os, sys; os.rmdir(sys.argv[1]); "
          "os.symlink('target', sys.argv[1])", b)
    assert os.readlink(b) == "target"
    other("import os, sys; os.chmod(sys.argv[1], 0o604); "
          "os.utime(sys.argv[1], (1, 1))", d)
    st = os.stat(d)
    assert stat.S_IMODE(st.st_mode) == 0o604 and st.st_mtime == 1


def test_truncation_on_close_reaches_cached_attributes(mnt):
    """open(O_TRUNC) and close without a write: the daemon applies the
    truncation when the kernel's release reaches it, a moment after close
    returns, and then drops the attributes the kernel had cached."""
    p = os.path.join(mnt, "var")
    for _ in range(20):
        with open(p, "wb") as f:
            f.write(b"x" * 3000)
        fd = os.open(p, os.O_WRONLY | os.O_TRUNC)
        assert os.stat(p).st_size == 3000        # the old value, still whole
        os.close(fd)
        assert helpers.wait_for(lambda: os.stat(p).st_size == 0, 2), \
            "the truncation applied at release never reached stat"
        with open(p, "rb") as f:
            assert f.read() == b""

"""Nothing a client sends can crash the daemon: odd offsets and sizes,
directory offsets far past the end, requests of processes killed while
they wait (mid-read, blocked in a write with the daemon stopped), inodes
the kernel forgets while files are open or after they were unlinked, names
made of every byte but '/' and NUL, very deep trees, operations on removed
directories.  Each test checks the daemon still serves correct data
afterwards; the mmfs fixture fails any test whose daemon died or reported
an error or a sanitizer finding."""

import ctypes
import errno
import hashlib
import mmap
import os
import random
import signal
import stat
import subprocess
import sys
import time

import pytest

import helpers

MiB = 2**20
PY = "/usr/bin/python3"
libc = ctypes.CDLL(None, use_errno=True)


def drop_caches():
    with open("/proc/sys/vm/drop_caches", "w") as f:
        f.write("3\n")


def used_inodes(mnt):
    st = os.statvfs(mnt)
    return st.f_files - st.f_ffree


def count_entries(mnt):
    """Every inode reachable from the mount point, the root included."""
    inos = {os.lstat(mnt).st_ino}
    for dirpath, dirs, files in os.walk(mnt):
        for n in dirs + files:
            inos.add(os.lstat(os.path.join(dirpath, n)).st_ino)
    return len(inos)


def assert_no_orphans(m, timeout=5):
    """Once the kernel forgot what nobody uses, the arena holds exactly
    the reachable inodes: no inode was leaked by a lost reply or pin."""
    def settled():
        drop_caches()
        return used_inodes(m.mnt) == count_entries(m.mnt)
    assert helpers.wait_for(settled, timeout, interval=0.2), \
        f"{used_inodes(m.mnt)} inodes in use, {count_entries(m.mnt)} reachable"


def pattern(n, size):
    return hashlib.sha256(b"%d" % n).digest() * (size // 32)


# --- odd offsets and sizes --------------------------------------------------


EDGES = [0, 1, 4095, 4096, 4097, 65535, 65536, 65537, MiB - 1, MiB + 1,
         2**31 - 1, 2**31, 2**32 + 1, 2**36 - 1, 2**36, 2**36 + 1, 2**40,
         2**62, 2**63 - 2]
SIZES = [0, 1, 4095, 4097, 65537, MiB + 3]


def test_odd_offsets_and_sizes(mnt, tmpfs_dir):
    """Reads and writes at every edge offset with odd sizes, through every
    kind of descriptor, on mmfs and tmpfs: each either works or fails with
    an errno, the daemon survives, and the bytes below 64 MiB agree."""
    a, b = f"{mnt}/odd", f"{tmpfs_dir}/odd"
    for p in (a, b):
        with open(p, "wb") as f:
            f.write(pattern(1, 10_000))
    allowed = {errno.EFBIG, errno.EINVAL, errno.ENOSPC, errno.EOVERFLOW}
    results = []
    for flags in (os.O_WRONLY, os.O_RDWR, os.O_RDONLY):
        fd = os.open(a, flags)
        try:
            for off in EDGES:
                for size in SIZES:
                    for op in ("pwrite", "pread"):
                        try:
                            if op == "pwrite":
                                r = os.pwrite(fd, b"w" * size, off)
                            else:
                                r = len(os.pread(fd, size, off))
                        except OSError as e:
                            assert e.errno in allowed | {errno.EBADF}, \
                                (op, off, size, e)
                            r = errno.errorcode[e.errno]
                        results.append((flags, op, off, size, r))
                        if op == "pwrite" and isinstance(r, int) and r \
                                and off + r < 64 * MiB:
                            with open(b, "r+b") as f:
                                f.seek(off)
                                f.write(b"w" * r)
        finally:
            os.close(fd)
        # Truncating to the edges too (the file keeps no huge size).
        for off in EDGES:
            try:
                os.truncate(a, off)
            except OSError as e:
                assert e.errno in allowed, (off, e)
            else:
                os.truncate(b, off)
            os.truncate(a, 10_000)
            os.truncate(b, 10_000)
    # Negative offsets never reach the daemon (the kernel says EINVAL).
    fd = os.open(a, os.O_RDWR)
    for fn in (lambda: os.pread(fd, 1, -1), lambda: os.pwrite(fd, b"x", -5)):
        with pytest.raises(OSError) as ei:
            fn()
        assert ei.value.errno == errno.EINVAL
    os.close(fd)
    # The daemon is fine and the first 10 000 bytes are what tmpfs has.
    with open(a, "rb") as f:
        got = f.read()
    with open(b, "rb") as f:
        want = f.read()
    assert len(got) == 10_000 and got == want
    assert os.listdir(mnt) == ["odd"]


def test_unusual_calls_on_files(mnt):
    """fallocate, copy_file_range, sendfile, splice, O_DIRECT, lseek
    SEEK_DATA/SEEK_HOLE, readv/writev with many small buffers."""
    p, q = f"{mnt}/src", f"{mnt}/dst"
    data = pattern(2, 300_000)
    with open(p, "wb") as f:
        f.write(data)
    open(q, "wb").close()
    fd = os.open(p, os.O_RDWR)
    out = os.open(q, os.O_RDWR)
    try:
        try:
            os.posix_fallocate(fd, 0, 1000)
        except OSError as e:
            assert e.errno in (errno.EOPNOTSUPP, errno.ENOSYS), e
        try:
            os.posix_fallocate(fd, 10 * MiB, 4096)  # glibc emulates it
        except OSError as e:
            assert e.errno in (errno.EOPNOTSUPP, errno.EFBIG, errno.ENOSPC)
        os.ftruncate(fd, len(data))
        n = os.copy_file_range(fd, out, 100_000, 5, 7)
        assert n > 0
        n = os.sendfile(out, fd, 0, 50_000)
        assert n > 0
        assert os.lseek(fd, 0, os.SEEK_DATA) == 0
        assert os.lseek(fd, 0, os.SEEK_HOLE) == len(data)
        with pytest.raises(OSError):
            os.lseek(fd, len(data) + 1, os.SEEK_DATA)
        bufs = [bytearray(7) for _ in range(500)]
        assert os.preadv(fd, bufs, 3) == 3500
        assert b"".join(bufs) == data[3:3503]
        assert os.pwritev(fd, [b"ab"] * 300, 11) == 600
        r, w = os.pipe()
        os.write(w, b"spliced")
        os.close(w)
        try:
            os.splice(r, out, 7, offset_dst=0)
        except OSError as e:
            assert e.errno == errno.EINVAL, e
        os.close(r)
    finally:
        os.close(fd)
        os.close(out)
    # O_DIRECT with unaligned buffers, offsets and sizes.
    fd = os.open(p, os.O_RDWR | os.O_DIRECT)
    try:
        assert os.pwrite(fd, b"D" * 1001, 13) == 1001
        assert os.pread(fd, 999, 7) == (data[:11] + b"ab" * 300)[7:13] + \
            b"D" * 993
    finally:
        os.close(fd)
    with open(p, "rb") as f:
        got = f.read()
    assert got[13:1014] == b"D" * 1001 and len(got) == len(data)


def test_directory_offsets_far_past_the_end(mnt):
    d = f"{mnt}/dir"
    os.mkdir(d)
    names = {f"e{i:03d}" for i in range(300)}
    for n in names:
        open(f"{d}/{n}", "w").close()
    libc.opendir.restype = ctypes.c_void_p
    libc.opendir.argtypes = [ctypes.c_char_p]
    libc.readdir.restype = ctypes.c_void_p
    libc.readdir.argtypes = [ctypes.c_void_p]
    libc.seekdir.argtypes = [ctypes.c_void_p, ctypes.c_long]
    libc.telldir.restype = ctypes.c_long
    libc.telldir.argtypes = [ctypes.c_void_p]
    libc.closedir.argtypes = [ctypes.c_void_p]
    dp = libc.opendir(d.encode())
    assert dp
    try:
        # Remember a real position (after 100 entries).
        for _ in range(100):
            assert libc.readdir(dp)
        pos = libc.telldir(dp)
        rest = 0
        while libc.readdir(dp):
            rest += 1
        rng = random.Random(5)
        for off in [2**62, 2**63 - 1, 2**31, 2**32 + 7, 10**6, 303, 302,
                    pos] + [rng.randrange(0, 2**63) for _ in range(50)]:
            libc.seekdir(dp, off)
            n = 0
            while libc.readdir(dp):
                n += 1
                assert n <= 302
            if off == pos:
                assert n == rest
            elif off >= 303:
                assert n == 0, (off, n)
        libc.seekdir(dp, 0)
        n = 0
        while libc.readdir(dp):
            n += 1
        assert n == 302
    finally:
        libc.closedir(dp)
    # lseek(2) on a directory descriptor, then getdents64.
    fd = os.open(d, os.O_RDONLY | os.O_DIRECTORY)
    buf = ctypes.create_string_buffer(65536)
    try:
        for off in (2**62, 2**63 - 1, 12345678901):
            assert os.lseek(fd, off, os.SEEK_SET) == off
            assert libc.syscall(217, fd, buf, 65536) == 0   # getdents64
        with pytest.raises(OSError):
            os.lseek(fd, -1, os.SEEK_SET)
        # Tiny buffers: too small for one entry.
        os.lseek(fd, 0, os.SEEK_SET)
        assert libc.syscall(217, fd, buf, 8) == -1
        assert ctypes.get_errno() == errno.EINVAL
    finally:
        os.close(fd)
    assert set(os.listdir(d)) == names


# --- interrupted requests ----------------------------------------------------


READER = r"""
import os, sys
path, bs, flags = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
print("ready", flush=True)
while True:
    fd = os.open(path, flags)
    while os.read(fd, bs):
        pass
    os.close(fd)
"""

WRITER = r"""
import hashlib, os, sys
path, size, flags = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
print("ready", flush=True)
n = 0
while True:
    n += 1
    data = hashlib.sha256(b"%d" % n).digest() * (size // 32)
    fd = os.open(path, flags)
    os.pwrite(fd, data, 0)
    os.close(fd)
"""


def spawn(code, *args):
    p = subprocess.Popen([PY, "-c", code, *map(str, args)],
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                         text=True)
    assert p.stdout.readline().strip() == "ready"
    return p


def kill9(*procs):
    """SIGKILL all of procs, then wait for each.  All first: a process
    waiting (unkillably, as the kernel does) for a directory lock dies
    only once the holder, blocked in its own request, has died."""
    for p in procs:
        p.send_signal(signal.SIGKILL)
    for p in procs:
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pytest.fail(f"process {p.pid} killed with SIGKILL did not die "
                        f"within 10 s (stuck in a request?)")


@pytest.mark.long
def test_readers_and_writers_killed_mid_request(mmfs):
    """SIGKILL processes in the middle of large reads and writes, many
    times, at random instants: the daemon carries on, every value is whole
    (a 1 MiB write is one request), and nothing leaks."""
    m = mmfs(size="256M")
    big = m.path("big")
    data = os.urandom(64 * MiB)
    with open(big, "wb") as f:
        f.write(data)
    digest = hashlib.sha256(data).hexdigest()
    # One request per write: 1020 KiB from an unaligned buffer, through
    # an O_WRONLY descriptor (mmfs(7), ATOMICITY).
    size = 1020 * 1024
    val = m.path("val")
    with open(val, "wb") as f:
        f.write(pattern(0, size))
    rng = random.Random(11)
    for rnd in range(20):
        procs = [spawn(READER, big, rng.choice([MiB, 128 * 1024, 4096 + 1]),
                       rng.choice([os.O_RDONLY, os.O_RDWR])),
                 spawn(READER, big, MiB, os.O_RDONLY),
                 spawn(WRITER, val, size, os.O_WRONLY)]
        time.sleep(rng.uniform(0.01, 0.3))
        for p in procs:
            kill9(p)
        assert m.alive()
        got = open(val, "rb").read()
        assert len(got) == size
        assert got == got[:32] * (size // 32), f"round {rnd}: torn value"
    assert helpers.sha256_file(big) == digest
    assert_no_orphans(m)
    m.umount()
    assert "recover" not in m.stderr.lower()


BLOCKED = r"""
import os, sys
what, path = sys.argv[1], sys.argv[2]
print("ready", flush=True)
if what == "write":
    fd = os.open(path, os.O_WRONLY)         # opened before the stop
    sys.stdin.readline()
    os.pwrite(fd, b"N" * (1 << 20), 0)
elif what == "read":
    fd = os.open(path, os.O_RDONLY)
    sys.stdin.readline()
    os.read(fd, 1 << 20)
elif what == "create":
    sys.stdin.readline()
    open(path, "wb")
elif what == "mkdir":
    sys.stdin.readline()
    os.mkdir(path)
elif what == "unlink":
    sys.stdin.readline()
    os.unlink(path)
elif what == "rename":
    sys.stdin.readline()
    os.rename(path, path + ".renamed")
elif what == "setxattr":
    sys.stdin.readline()
    os.setxattr(path, "user.k", b"new")
elif what == "listdir":
    sys.stdin.readline()
    os.listdir(path)
elif what == "truncate":
    sys.stdin.readline()
    os.truncate(path, 0)
print("done", flush=True)
"""


def test_processes_killed_while_blocked_leave_no_trace(mmfs):
    """With the daemon stopped (SIGSTOP), processes block in write, read,
    create, mkdir, unlink, rename, setxattr, readdir and truncate; killed
    with SIGKILL they die at once, and when the daemon continues none of
    their requests has happened and nothing leaked."""
    m = mmfs()
    os.mkdir(m.path("d"))
    for n in ("w", "r", "u", "mv", "x", "t"):
        with open(m.path("d", n), "wb") as f:
            f.write(b"O" * 1000)
    os.setxattr(m.path("d", "x"), "user.k", b"old")
    jobs = [("write", "d/w"), ("read", "d/r"), ("create", "d/new"),
            ("mkdir", "d/newdir"), ("unlink", "d/u"), ("rename", "d/mv"),
            ("setxattr", "d/x"), ("listdir", "d"), ("truncate", "d/t")]
    before = helpers.snapshot(m.mnt)
    procs = []
    for what, rel in jobs:
        p = subprocess.Popen([PY, "-c", BLOCKED, what, m.path(rel)],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
        assert p.stdout.readline().strip() == "ready"
        procs.append(p)
    helpers.stop_process(m.pid)
    try:
        for p in procs:
            p.stdin.write("go\n")
            p.stdin.flush()
        # Give them time to reach the mount and block there.
        time.sleep(1)
        for p, (what, _) in zip(procs, jobs):
            assert p.poll() is None, f"{what} finished with the daemon stopped"
        kill9(*procs)
    finally:
        os.kill(m.pid, signal.SIGCONT)
    assert m.alive()
    assert helpers.snapshot(m.mnt) == before
    assert os.getxattr(m.path("d", "x"), "user.k") == b"old"
    assert_no_orphans(m)


@pytest.mark.long
def test_many_processes_killed_in_a_namespace_storm(mmfs):
    """Creators, renamers and unlinkers killed at random instants, again and
    again: no crash, no leaked inode, a consistent tree after remount."""
    storm = r"""
import os, sys
d, seed = sys.argv[1], int(sys.argv[2])
import random
rng = random.Random(seed)
print("ready", flush=True)
while True:
    a = f"{d}/n{rng.randrange(30)}"
    b = f"{d}/n{rng.randrange(30)}"
    try:
        r = rng.random()
        if r < 0.3:
            with open(a, "wb") as f:
                f.write(b"x" * rng.randrange(100000))
        elif r < 0.5:
            os.rename(a, b)
        elif r < 0.7:
            os.unlink(a)
        elif r < 0.8:
            os.link(a, b)
        elif r < 0.9:
            os.mkdir(a + ".d")
        else:
            os.rmdir(a + ".d")
    except OSError:
        pass
"""
    m = mmfs()
    os.mkdir(m.path("s"))
    rng = random.Random(3)
    for rnd in range(15):
        procs = [spawn(storm, m.path("s"), rnd * 10 + i) for i in range(4)]
        time.sleep(rng.uniform(0.05, 0.4))
        for p in procs:
            kill9(p)
        assert m.alive()
    snap = helpers.snapshot(m.mnt)
    assert_no_orphans(m)
    m.remount()
    assert helpers.snapshot(m.mnt) == snap
    assert "recover" not in m.stderr.lower()


# --- forgotten inodes ------------------------------------------------------


def test_drop_caches_with_open_and_unlinked_files(mmfs):
    m = mmfs()
    os.mkdir(m.path("d"))
    files = {}
    for i in range(20):
        data = pattern(i, 4096 * (i + 1))
        with open(m.path("d", f"f{i}"), "wb") as f:
            f.write(data)
        files[i] = data
    fds = {i: os.open(m.path("d", f"f{i}"),
                      [os.O_RDONLY, os.O_WRONLY, os.O_RDWR][i % 3])
           for i in range(10)}
    mm = mmap.mmap(fds[2], 0)                       # f2 is O_RDWR
    dirfd = os.open(m.path("d"), os.O_RDONLY | os.O_DIRECTORY)
    # Unlink half of the open files and some closed ones.
    for i in (0, 1, 2, 3, 4, 10, 11, 12):
        os.unlink(m.path("d", f"f{i}"))
    drop_caches()
    # Open descriptors still work, unlinked or not.
    for i, fd in fds.items():
        st = os.fstat(fd)
        assert st.st_size == len(files[i])
        assert st.st_nlink == (0 if i <= 4 else 1)
        if i % 3 != 1:
            assert os.pread(fd, 100, 50) == files[i][50:150]
        if i % 3 != 0:
            assert os.pwrite(fd, b"NEW", 0) == 3
            files[i] = b"NEW" + files[i][3:]
    assert mm[:3] == b"NEW"
    mm[3:6] = b"MAP"
    mm.flush()
    files[2] = files[2][:3] + b"MAP" + files[2][6:]
    drop_caches()
    assert os.pread(fds[2], 6, 0) == b"NEWMAP"
    # Paths of the surviving files, looked up afresh.
    for i in range(5, 20):
        if i in (10, 11, 12):
            assert not os.path.exists(m.path("d", f"f{i}"))
            continue
        with open(m.path("d", f"f{i}"), "rb") as f:
            assert f.read() == files[i]
    assert os.fstat(dirfd).st_nlink >= 2
    assert sorted(os.listdir(dirfd)) == sorted(
        f"f{i}" for i in range(5, 20) if i not in (10, 11, 12))
    # Unlinked files' inodes live until closed, then go.
    used_open = used_inodes(m.mnt)
    mm.close()
    for fd in fds.values():
        os.close(fd)
    os.close(dirfd)
    assert helpers.wait_for(lambda: used_inodes(m.mnt) <= used_open - 5, 5)
    assert_no_orphans(m)
    # A listing interrupted by drop_caches carries on exactly.
    for i in range(200):
        open(m.path("d", f"g{i:03d}"), "w").close()
    want = sorted(os.listdir(m.path("d")))
    with os.scandir(m.path("d")) as it:
        got = []
        for n, e in enumerate(it):
            got.append(e.name)
            if n % 50 == 0:
                drop_caches()
    assert sorted(got) == want


@pytest.mark.long
def test_drop_caches_in_a_loop_under_load(mmfs):
    """The kernel forgetting inodes over and over while a worker churns
    the tree (helpers.py churn): no crash, no leak, values whole."""
    m = mmfs()
    os.mkdir(m.path("c"))
    w = helpers.spawn_worker("churn", m.path("c"), 6)
    assert w.stdout.readline().strip() == "ready"
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        drop_caches()
        time.sleep(0.05)
    out = w.communicate(timeout=60)[0]
    assert w.returncode == 0, out
    r = helpers.spawn_worker("check-churn", m.path("c"))
    res = helpers.worker_result(r)
    assert res["problems"] == [], res
    assert_no_orphans(m)


# --- names -------------------------------------------------------------------


def odd_names():
    names = [bytes([b]) for b in range(1, 256) if b not in (0x2F, 0x2E)]
    names += [b"..x", b"...", b".\xff", b"\xff\xfe", b"a\x80b",
              b"\xc3(", b"\xed\xa0\x80", b"\n\t\r", b" ", b"\x7f" * 255]
    every = bytes(b for b in range(1, 256) if b != 0x2F)
    assert len(every) == 254
    names += [every, every[::-1]]
    return list(dict.fromkeys(names))


def test_names_with_every_byte(mmfs):
    m = mmfs()
    top = os.fsencode(m.path("n"))
    os.mkdir(top)
    names = odd_names()
    for n in names:
        with open(os.path.join(top, n), "wb") as f:
            f.write(n)
    assert sorted(os.listdir(top)) == sorted(names)
    for n in names:
        with open(os.path.join(top, n), "rb") as f:
            assert f.read() == n
    # As directories, symlink targets, xattr names, rename targets.
    dirs = os.path.join(top, b"dirs")
    os.mkdir(dirs)
    for n in names[::7]:
        os.mkdir(os.path.join(dirs, n))
        os.symlink(n + b"/\x01\xff/" + n, os.path.join(dirs, n, b"l"))
        assert os.readlink(os.path.join(dirs, n, b"l")) == \
            n + b"/\x01\xff/" + n
    assert sorted(os.listdir(dirs)) == sorted(names[::7])
    p = os.path.join(top, names[0])
    xnames = [b"user." + n for n in names[::5] if len(n) < 200]
    for x in xnames:
        os.setxattr(p, x, x)
    assert sorted(os.fsencode(x) for x in os.listxattr(p)) == sorted(xnames)
    renamed = [n if i % 3 or len(n) == 255 else n + b"~"
               for i, n in enumerate(names)]
    for old, new in zip(names, renamed):
        if old != new:
            os.rename(os.path.join(top, old), os.path.join(top, new))
    expect = sorted(renamed + [b"dirs"])
    assert sorted(os.listdir(top)) == expect
    # The special names stay special.
    for bad in (b".", b".."):
        with pytest.raises(OSError):
            os.mkdir(os.path.join(top, bad))
    m.remount()
    assert sorted(os.listdir(top)) == expect
    for n, name in zip(names, renamed):
        with open(os.path.join(top, name), "rb") as f:
            assert f.read() == n
    helpers.run(["rm", "-rf", m.path("n")])
    assert os.listdir(m.mnt) == []


# --- odd trees ---------------------------------------------------------------


def test_very_deep_tree(mmfs):
    m = mmfs()
    depth = 1500
    fd = os.open(m.mnt, os.O_RDONLY | os.O_DIRECTORY)
    fds = [fd]
    for i in range(depth):
        os.mkdir("d", dir_fd=fds[-1])
        fds.append(os.open("d", os.O_RDONLY | os.O_DIRECTORY,
                           dir_fd=fds[-1]))
    with open("leaf", "wb", opener=lambda p, f: os.open(p, f, 0o644,
                                                       dir_fd=fds[-1])) as f:
        f.write(b"deep")
    # Moving the top into its own bottom is refused.
    with pytest.raises(OSError) as ei:
        os.rename("d", f"/proc/self/fd/{fds[-1]}/x", src_dir_fd=fds[0])
    assert ei.value.errno in (errno.EINVAL, errno.EXDEV, errno.ENOENT,
                              errno.EBUSY), ei.value
    for f in fds:
        os.close(f)
    drop_caches()
    n, path = 0, m.mnt
    while True:
        entries = os.listdir(path)
        if entries != ["d"]:
            break
        n += 1
        path = os.path.join(path, "d")
    assert n == depth and entries == ["leaf"]
    assert open(os.path.join(path, "leaf"), "rb").read() == b"deep"
    helpers.run(["rm", "-rf", m.path("d")], timeout=120)
    assert os.listdir(m.mnt) == []
    assert_no_orphans(m)


def test_operations_on_removed_directories(mmfs):
    m = mmfs()
    os.mkdir(m.path("gone"))
    fd = os.open(m.path("gone"), os.O_RDONLY | os.O_DIRECTORY)
    os.setxattr(m.path("gone"), "user.k", b"v")
    os.rmdir(m.path("gone"))
    drop_caches()
    assert os.fstat(fd).st_nlink in (0, 1, 2)
    try:
        assert os.listdir(fd) == []
    except FileNotFoundError:
        pass                        # the kernel's answer for a dead dir
    for fn in (lambda: os.open("x", os.O_CREAT | os.O_WRONLY, dir_fd=fd),
               lambda: os.mkdir("y", dir_fd=fd),
               lambda: os.symlink("t", "z", dir_fd=fd)):
        with pytest.raises(OSError) as ei:
            fn()
        assert ei.value.errno == errno.ENOENT
    os.fchmod(fd, 0o700)
    assert stat.S_IMODE(os.fstat(fd).st_mode) == 0o700
    assert os.getxattr(fd, "user.k") == b"v"
    os.setxattr(fd, "user.k2", b"w")
    os.fsync(fd)
    os.close(fd)
    # The cwd of a process in a removed directory.
    os.mkdir(m.path("cwd"))
    r = subprocess.run([PY, "-c", "import os; os.chdir(os.environ['D']); "
                        "os.rmdir(os.environ['D']); print(os.stat('.'));"
                        "open('f', 'w')"], env={"D": m.path("cwd")},
                       capture_output=True, text=True, timeout=30)
    assert "st_mode" in r.stdout and "FileNotFoundError" in r.stderr, r
    assert os.listdir(m.mnt) == []
    assert_no_orphans(m)

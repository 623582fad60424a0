"""Limits a client cannot get around, each reported with its errno and
leaving everything else working: max_files (ENOSPC on the inode past the
limit, whatever its type), the file size (EFBIG at 64 GiB), xattr names and
values (ERANGE, E2BIG, ENOSPC, EINVAL), and the full arena for namespace
operations (ENOSPC, deletes always work).  After each, the other files
are intact and the arena mounts again.

(test_posix.py has name length, symlink length and the basic xattr
limits, test_space.py the data side of size=, test_mount.py the basic
max_files case.)"""

import errno
import hashlib
import os
import stat

import pytest

import helpers

MiB = 2**20
FILE_MAX = 2**36            # STORE_FILE_MAX: 64 GiB


def raises(code, fn, *args, **kw):
    with pytest.raises(OSError) as ei:
        fn(*args, **kw)
    assert ei.value.errno == code, \
        f"expected {errno.errorcode[code]}, got {ei.value!r}"


def write(p, data):
    with open(p, "wb") as f:
        f.write(data)


def read(p):
    with open(p, "rb") as f:
        return f.read()


def free_inodes(m):
    return os.statvfs(m.mnt).f_ffree


def tree_digest(root):
    """A digest of everything under root that must survive: names,
    types, modes, sizes, contents, link targets, xattrs."""
    return helpers.snapshot(root)


def strip_times(snap):
    for e in snap.values():
        e.pop("mtime_ns", None)
    return snap


# --- max_files ------------------------------------------------------------


@pytest.mark.parametrize("kind", ["file", "dir", "symlink", "fifo", "ring",
                                  "mknod"])
def test_max_files_every_kind_of_inode_counts(mmfs, kind):
    limit = 12
    m = mmfs(opts=[f"max_files={limit}"])
    # The root directory is one of them: statfs says how many are left.
    room = free_inodes(m)
    assert room == limit - 1
    for i in range(room):
        write(m.path(f"f{i}"), b"%d" % i)
    assert free_inodes(m) == 0
    make = {
        "file": lambda p: open(p, "wb"),
        "dir": os.mkdir,
        "symlink": lambda p: os.symlink("f0", p),
        "fifo": os.mkfifo,
        "ring": lambda p: open(p + ".ring", "wb"),
        "mknod": lambda p: os.mknod(p, 0o600 | stat.S_IFCHR,
                                    os.makedev(1, 3)),
    }[kind]
    raises(errno.ENOSPC, make, m.path("one-more"))
    assert sorted(os.listdir(m.mnt)) == sorted(f"f{i}" for i in range(room))
    # Deleting one makes room for exactly one (once the kernel forgot
    # the inode: it may still hold it for a moment, e.g. until the
    # release of the last open, which it sends asynchronously).
    os.unlink(m.path("f0"))
    assert helpers.wait_for(lambda: free_inodes(m) == 1, 5)
    make(m.path("one-more"))
    assert free_inodes(m) == 0
    raises(errno.ENOSPC, os.mkdir, m.path("two-more"))


def test_max_files_leaves_everything_else_working(mmfs):
    limit = 10
    m = mmfs(opts=[f"max_files={limit}"])
    os.mkdir(m.path("d"))
    for i in range(limit - 2):
        write(m.path("d", f"f{i}"), os.urandom(1000 * (i + 1)))
    assert free_inodes(m) == 0
    raises(errno.ENOSPC, open, m.path("new"), "wb")
    # A failed create left no name behind.
    assert not os.path.lexists(m.path("new"))
    # Hard links and renames make no inode: they work at the limit.
    os.link(m.path("d", "f0"), m.path("link"))
    assert os.stat(m.path("link")).st_nlink == 2
    os.rename(m.path("d", "f1"), m.path("moved"))
    helpers.renameat2(m.path("moved"), m.path("d", "f2"),
                      helpers.RENAME_EXCHANGE)
    # Data, attributes and xattrs of existing files change as usual.
    write(m.path("d", "f3"), b"rewritten")
    with open(m.path("d", "f4"), "ab") as f:
        f.write(b"appended")
    os.truncate(m.path("d", "f5"), 10)
    os.chmod(m.path("d", "f6"), 0o600)
    os.setxattr(m.path("d", "f7"), "user.k", b"v")
    assert read(m.path("d", "f3")) == b"rewritten"
    assert read(m.path("d", "f4")).endswith(b"appended")
    assert os.path.getsize(m.path("d", "f5")) == 10
    before = strip_times(tree_digest(m.mnt))
    # The limit holds across a remount, and so does everything else.
    m.remount(opts=[])
    assert strip_times(tree_digest(m.mnt)) == before
    raises(errno.ENOSPC, os.mkdir, m.path("e"))


def test_max_files_an_unlinked_open_file_counts_until_closed(mmfs):
    limit = 5
    m = mmfs(opts=[f"max_files={limit}"])
    for i in range(limit - 1):
        write(m.path(f"f{i}"), b"x")
    fd = os.open(m.path("f0"), os.O_RDWR)
    os.unlink(m.path("f0"))
    # Its inode still exists (the descriptor uses it).
    raises(errno.ENOSPC, open, m.path("new"), "wb")
    os.pwrite(fd, b"still usable", 0)
    assert os.pread(fd, 100, 0) == b"still usable"
    os.close(fd)
    # The kernel forgets the inode soon after the last close.
    assert helpers.wait_for(lambda: free_inodes(m) == 1, 5)
    write(m.path("new"), b"n")


def test_max_files_can_change_at_remount(mmfs):
    m = mmfs(opts=["max_files=8"])
    for i in range(7):
        write(m.path(f"f{i}"), b"%d" % i)
    raises(errno.ENOSPC, open, m.path("x"), "wb")
    # Raised: room for more.
    m.remount(opts=["max_files=10"])
    assert free_inodes(m) == 2
    write(m.path("x"), b"x")
    # Lowered below what the arena holds: everything is still served,
    # nothing new can be created, deleting works.
    m.remount(opts=["max_files=4"])
    assert sorted(os.listdir(m.mnt)) == sorted([f"f{i}" for i in range(7)]
                                               + ["x"])
    assert read(m.path("f6")) == b"6"
    assert free_inodes(m) == 0
    raises(errno.ENOSPC, os.mkdir, m.path("d"))
    for i in range(7):
        os.unlink(m.path(f"f{i}"))
    assert helpers.wait_for(lambda: free_inodes(m) == 2, 5)
    os.mkdir(m.path("d"))


# --- file size --------------------------------------------------------------


def test_file_size_limit_is_64_gib(mmfs):
    m = mmfs()
    p = m.path("big")
    write(p, b"head")
    os.truncate(p, FILE_MAX)                # sparse: costs no data
    assert os.path.getsize(p) == FILE_MAX
    raises(errno.EFBIG, os.truncate, p, FILE_MAX + 1)
    for flags in (os.O_WRONLY, os.O_RDWR):
        fd = os.open(p, flags)
        try:
            assert os.pwrite(fd, b"T", FILE_MAX - 1) == 1
            raises(errno.EFBIG, os.pwrite, fd, b"x", FILE_MAX)
            # A write that would cross the limit writes nothing past it:
            # EFBIG, or (O_RDWR: the kernel splits it at the page
            # boundary) a short write up to the limit.
            try:
                n = os.pwrite(fd, b"TU", FILE_MAX - 1)
            except OSError as e:
                assert e.errno == errno.EFBIG, e
            else:
                assert flags == os.O_RDWR and n == 1, n
            assert os.pwrite(fd, b"", FILE_MAX + 100) == 0
        finally:
            os.close(fd)
    fd = os.open(p, os.O_RDONLY)
    assert os.pread(fd, 10, FILE_MAX - 3) == b"\0\0T"
    assert os.pread(fd, 10, FILE_MAX) == b""
    assert os.pread(fd, 10, 2**62) == b""
    assert os.pread(fd, 4, 0) == b"head"
    os.close(fd)
    assert os.path.getsize(p) == FILE_MAX
    # The sparse 64 GiB file costs little of the 64 MiB arena.
    st = os.statvfs(m.mnt)
    assert (st.f_blocks - st.f_bfree) * st.f_frsize < 32 * MiB
    os.truncate(p, 4)
    assert read(p) == b"head"


# --- xattrs -----------------------------------------------------------------


def test_xattr_name_and_value_limits(mmfs):
    m = mmfs()
    p = m.path("f")
    write(p, b"data")
    longest = "user." + "n" * 250                       # 255 bytes
    os.setxattr(p, longest, b"v")
    assert os.getxattr(p, longest) == b"v"
    raises(errno.ERANGE, os.setxattr, p, longest + "n", b"v")
    raises(errno.ERANGE, os.getxattr, p, longest + "n")
    # A namespace without a name is not a name.
    for ns in ("user.", "trusted.", "security."):
        raises(errno.EINVAL, os.setxattr, p, ns, b"v")
    # The largest value (64 KiB, the kernel's) fits beside other ones.
    os.removexattr(p, longest)
    os.setxattr(p, "user.small", b"s")
    os.setxattr(p, "user.big", bytes(65536))
    assert os.getxattr(p, "user.big") == bytes(65536)
    raises(errno.E2BIG, os.setxattr, p, "user.big", bytes(65537))
    # 256 KiB of records per file: a fourth largest value is over it.
    os.setxattr(p, "user.big1", bytes(65536))
    os.setxattr(p, "user.big2", bytes(65536))
    raises(errno.ENOSPC, os.setxattr, p, "user.big3", bytes(65536))
    for name in os.listxattr(p):
        os.removexattr(p, name)
    # The name list stays within 64 KiB, so listxattr always works:
    # 256 names of 255 bytes (and their NULs) are all it holds.
    os.mkdir(m.path("d"))
    names = [f"user.{i:03d}" + "n" * 247 for i in range(257)]
    for name in names[:256]:
        os.setxattr(m.path("d"), name, b"")
    raises(errno.ENOSPC, os.setxattr, m.path("d"), names[256], b"")
    assert sorted(os.listxattr(m.path("d"))) == names[:256]
    # Short names: xfstests' generic/020 sets 1000 of them.
    for i in range(1000):
        os.setxattr(p, f"user.attribute_{i}", f"value_{i}".encode())
    assert len(os.listxattr(p)) == 1000
    assert os.getxattr(p, "user.attribute_999") == b"value_999"
    # Nothing else was disturbed, and the arena mounts again.
    assert read(p) == b"data" and len(os.listxattr(p)) == 1000
    m.remount()
    assert sorted(os.listxattr(m.path("d"))) == names[:256]
    assert len(os.listxattr(p)) == 1000
    assert read(p) == b"data"


def test_erange_for_every_too_small_buffer(mmfs):
    m = mmfs()
    p = m.path("f")
    write(p, b"")
    os.setxattr(p, "user.v", b"0123456789")
    os.setxattr(p, "user.w", b"")
    for size in range(1, 10):
        raises(errno.ERANGE, helpers.getxattr_raw, p, "user.v", size)
    assert helpers.getxattr_raw(p, "user.v", 10) == 10
    assert helpers.getxattr_raw(p, "user.w", 0) == 0
    total = len(b"user.v\0user.w\0")
    for size in range(1, total):
        raises(errno.ERANGE, helpers.listxattr_raw, p, size)
    assert helpers.listxattr_raw(p, total) == total
    # A ring's capacity attribute obeys the same rule.
    write(m.path("r.ring"), b"x\n")
    cap = helpers.getxattr_raw(m.path("r.ring"), "user.mmfs.capacity", 0)
    raises(errno.ERANGE, helpers.getxattr_raw, m.path("r.ring"),
           "user.mmfs.capacity", cap - 1)
    n = helpers.listxattr_raw(m.path("r.ring"), 0)
    raises(errno.ERANGE, helpers.listxattr_raw, m.path("r.ring"), n - 1)
    assert helpers.listxattr_raw(m.path("r.ring"), n) == n


# --- a full arena -----------------------------------------------------------


def quick_state(root):
    """Names, types, modes, sizes and link counts of every entry, the
    xattrs and contents of the top-level files (cheap enough for
    thousands of files)."""
    out = {}
    for dirpath, dirs, files in os.walk(root):
        for n in dirs + files:
            p = os.path.join(dirpath, n)
            st = os.lstat(p)
            e = (st.st_mode, st.st_size, st.st_nlink)
            if dirpath == root and stat.S_ISREG(st.st_mode):
                e += (read(p), sorted(os.listxattr(p)))
            out[os.path.relpath(p, root)] = e
    return out


def fill_up(m, d):
    """Fill the arena with 100-byte files in d, then with empty ones
    until not even an inode fits; returns how many files d holds."""
    n = 0
    while True:
        try:
            write(m.path(d, f"f{n}"), b"x" * 100)
        except OSError as e:
            assert e.errno == errno.ENOSPC, e
            # The create may have succeeded before the write failed.  That
            # file stays (and counts): unlinked, it would be freed only at
            # the RELEASE the kernel sends after close(2) has returned, so
            # space could appear while the test checks that none is left.
            n += os.path.lexists(m.path(d, f"f{n}"))
            break
        n += 1
    assert n > 1000
    e = 0
    while True:
        try:
            open(m.path(d, f"e{e}"), "wb").close()
        except OSError as err:
            assert err.errno == errno.ENOSPC, err
            return n + e
        e += 1


def test_full_arena_namespace_operations_fail_cleanly(mmfs):
    """On a full arena every change that needs space fails with ENOSPC
    and changes nothing; changes that need none (chmod, utime, shrinking,
    overwriting in place) and deletes work; then the arena mounts again
    with every file intact."""
    m = mmfs(size="2M")
    os.mkdir(m.path("d"))
    write(m.path("keep"), hashlib.sha256(b"k").digest() * 100)
    n = fill_up(m, "d")
    before = quick_state(m.mnt)
    attempts = {
        "mkdir": lambda: os.mkdir(m.path("nd")),
        "create": lambda: open(m.path("nf"), "wb"),
        "symlink": lambda: os.symlink("x" * 200, m.path("sl")),
        "mkfifo": lambda: os.mkfifo(m.path("p")),
        "link": lambda: os.link(m.path("d", "f0"), m.path("hl" + "x" * 200)),
        "rename": lambda: os.rename(m.path("d", "f1"), m.path("r" * 250)),
        "setxattr": lambda: os.setxattr(m.path("keep"), "user.k",
                                        b"v" * 1000),
        "truncate up": lambda: os.truncate(m.path("keep"), 10 * MiB),
        "append": lambda: open(m.path("keep"), "ab").write(b"z" * 8192),
        # Even an overwrite in place: the new bytes go to new space, which
        # the write's commit then swaps in (mmfs(7), ATOMICITY).
        "overwrite": lambda: os.pwrite(fds[0], b"y" * 100, 0),
    }
    fds = [os.open(m.path("d", "f3"), os.O_WRONLY)]
    for what, fn in attempts.items():
        try:
            fn()
        except OSError as e:
            assert e.errno == errno.ENOSPC, (what, e)
        else:
            pytest.fail(f"{what} succeeded on a full arena?")
        assert quick_state(m.mnt) == before, \
            f"a failed {what} changed something"
    # What needs no new space works.
    os.chmod(m.path("d", "f2"), 0o600)
    os.utime(m.path("d", "f2"), (1, 1))
    os.truncate(m.path("d", "f4"), 10)
    # Deleting always works, and frees space for the refused changes.
    for i in range(5, 200):
        os.unlink(m.path("d", f"f{i}"))
    assert os.pwrite(fds[0], b"y" * 100, 0) == 100
    os.close(fds.pop())
    os.mkdir(m.path("nd"))
    os.rename(m.path("d", "f1"), m.path("r" * 250))
    os.setxattr(m.path("keep"), "user.k", b"v" * 1000)
    m.remount()
    assert read(m.path("keep")) == hashlib.sha256(b"k").digest() * 100
    assert read(m.path("d", "f3")) == b"y" * 100
    assert read(m.path("r" * 250)) == b"x" * 100
    assert len(os.listdir(m.path("d"))) == n - 195 - 1

"""open(2) with O_TMPFILE (mmfs(7), SUPPORTED OPERATIONS): a regular file
without a name, the caller's, that linkat(2) may name (unless opened
O_EXCL) and that is gone, space and inode, once closed unnamed, and after
a crash.  The kernel sends it as a TMPFILE request, which libfuse 3.14
does not know: the daemon serves it as a CREATE (src/fs/serve.c)."""

import ctypes
import errno
import os
import stat
import tempfile

import pytest

import helpers
from conftest import mmfsctl_path
from test_coherence import requests
from test_multiuser import USER, as_user

AT_FDCWD = -100
AT_SYMLINK_FOLLOW = 0x400
AT_EMPTY_PATH = 0x1000
MiB = 1 << 20

libc = ctypes.CDLL(None, use_errno=True)


def linkat(olddirfd, oldpath, newpath, flags):
    """linkat(2) to the absolute newpath; OSError on failure.  (os.link
    follows no /proc/self/fd link and has no AT_EMPTY_PATH.)"""
    if libc.linkat(olddirfd, os.fsencode(oldpath), AT_FDCWD,
                   os.fsencode(newpath), flags) != 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e), newpath)


def link_fd(fd, newpath):
    """Name the file open at fd, as a program without CAP_DAC_READ_SEARCH
    does: through its /proc/self/fd link."""
    linkat(AT_FDCWD, f"/proc/self/fd/{fd}", newpath, AT_SYMLINK_FOLLOW)


def used(m):
    st = os.statvfs(m.mnt)
    return (st.f_blocks - st.f_bfree) * st.f_frsize


def test_tmpfile_is_unnamed_then_linked(mmfs):
    m = mmfs()
    os.mkdir(m.path("d"))
    old = os.umask(0o022)
    try:
        fd = os.open(m.path("d"), os.O_TMPFILE | os.O_RDWR, 0o666)
    finally:
        os.umask(old)
    os.write(fd, b"made without a name")
    st = os.fstat(fd)
    assert st.st_nlink == 0 and stat.S_ISREG(st.st_mode)
    assert stat.S_IMODE(st.st_mode) == 0o644          # umask applied
    assert (st.st_uid, st.st_gid) == (os.getuid(), os.getgid())
    assert os.listdir(m.path("d")) == []
    link_fd(fd, m.path("d", "named"))
    assert os.fstat(fd).st_nlink == 1
    os.write(fd, b", then one")
    os.close(fd)
    r = helpers.run(["cat", m.path("d", "named")])
    assert r.stdout == "made without a name, then one"
    assert os.stat(m.path("d", "named")).st_ino == st.st_ino
    assert requests(m.mnt).get("tmpfile") == 1
    # ... and the name stays across a remount.
    m.remount()
    with open(m.path("d", "named"), "rb") as f:
        assert f.read() == b"made without a name, then one"


def test_link_with_at_empty_path_and_only_once(mmfs):
    m = mmfs()
    fd = os.open(m.mnt, os.O_TMPFILE | os.O_WRONLY, 0o600)
    os.write(fd, b"x")
    linkat(fd, "", m.path("a"), AT_EMPTY_PATH)         # root may
    os.unlink(m.path("a"))
    # Unlinked again, it is a deleted file: no new name.
    with pytest.raises(OSError) as e:
        link_fd(fd, m.path("b"))
    assert e.value.errno == errno.ENOENT
    os.close(fd)
    assert os.listdir(m.mnt) == []


def test_unlinked_tmpfile_space_returns_after_close(mmfs):
    m = mmfs(size="64M")
    base, files = used(m), os.statvfs(m.mnt).f_ffree
    fd = os.open(m.mnt, os.O_TMPFILE | os.O_RDWR, 0o600)
    os.write(fd, os.urandom(16 * MiB))
    assert used(m) - base >= 16 * MiB
    assert os.statvfs(m.mnt).f_ffree == files - 1     # counts as a file
    assert len(os.pread(fd, 100, 16 * MiB - 100)) == 100
    os.close(fd)
    # The kernel forgets the inode soon after the last close.
    assert helpers.wait_for(lambda: used(m) - base < MiB, 5), \
        f"space not returned: {used(m) - base} bytes still used"
    assert helpers.wait_for(
        lambda: os.statvfs(m.mnt).f_ffree == files, 5)
    assert os.listdir(m.mnt) == []


def test_tmpfile_counts_against_max_files(mmfs):
    m = mmfs(opts=["max_files=3"])                     # the root and two
    fds = [os.open(m.mnt, os.O_TMPFILE | os.O_RDWR, 0o600) for _ in "ab"]
    with pytest.raises(OSError) as e:
        os.open(m.mnt, os.O_TMPFILE | os.O_RDWR, 0o600)
    assert e.value.errno == errno.ENOSPC
    for fd in fds:
        os.close(fd)
    assert helpers.wait_for(lambda: os.statvfs(m.mnt).f_ffree == 2, 5)
    fd = os.open(m.mnt, os.O_TMPFILE | os.O_RDWR, 0o600)
    os.close(fd)


def test_o_excl_tmpfile_cannot_be_linked(mmfs):
    m = mmfs()
    fd = os.open(m.mnt, os.O_TMPFILE | os.O_WRONLY | os.O_EXCL, 0o600)
    os.write(fd, b"never named")
    for how in (lambda: link_fd(fd, m.path("n")),
                lambda: linkat(fd, "", m.path("n"), AT_EMPTY_PATH)):
        with pytest.raises(OSError) as e:
            how()
        assert e.value.errno == errno.ENOENT
    os.close(fd)
    assert os.listdir(m.mnt) == []


def test_tmpfile_needs_write_permission_on_the_directory(mmfs):
    m = mmfs(opts=["allow_other"])
    os.chmod(m.mnt, 0o755)
    os.mkdir(m.path("ro"), 0o755)
    os.mkdir(m.path("rw"))
    os.chmod(m.path("rw"), 0o777)
    tmp = "os.close(os.open({!r}, os.O_TMPFILE | os.O_RDWR, 0o600))"
    mine = ("fd = os.open({!r}, os.O_TMPFILE | os.O_RDWR, 0o640); "
            "result = [os.fstat(fd).st_uid, oct(os.fstat(fd).st_mode)]")
    out = as_user(USER, [("ro", tmp.format(m.path("ro"))),
                         ("rw", mine.format(m.path("rw")))])
    assert out["ro"] == "EACCES"
    assert out["rw"] == [USER, "0o100640"]
    assert os.listdir(m.path("ro")) == [] == os.listdir(m.path("rw"))


def test_tmpfile_inherits_a_default_acl(mmfs):
    m = mmfs(opts=["acl"])
    os.mkdir(m.path("d"))
    helpers.run(["setfacl", "-d", "-m", f"u:{USER}:rwx,g::r-x,o::-",
                 m.path("d")])
    old = os.umask(0o077)                  # a default ACL ignores it
    try:
        fd = os.open(m.path("d"), os.O_TMPFILE | os.O_RDWR, 0o666)
    finally:
        os.umask(old)
    link_fd(fd, m.path("d", "f"))
    os.close(fd)
    acl = helpers.run(["getfacl", "-n", "-p", m.path("d", "f")]).stdout
    # the mode's group bits became the mask, as for open(O_CREAT)
    assert f"user:{USER}:rwx" in acl and "mask::rw-" in acl
    assert stat.S_IMODE(os.stat(m.path("d", "f")).st_mode) == 0o660


def test_held_tmpfile_is_gone_after_a_crash(mmfs):
    m = mmfs()
    files = os.statvfs(m.mnt).f_ffree
    fd = os.open(m.mnt, os.O_TMPFILE | os.O_RDWR, 0o600)
    os.write(fd, os.urandom(4 * MiB))
    m.kill9()
    os.close(fd)
    m.remount()
    assert os.listdir(m.mnt) == []
    assert os.statvfs(m.mnt).f_ffree == files          # no inode leaked
    assert used(m) < MiB
    m.umount()
    helpers.run([mmfsctl_path(), "check", m.arena])    # nothing to report


def test_tmpfile_linked_to_a_ring_name_is_a_plain_file(mmfs):
    """A ring is made by its name at creation; a tmpfile has none, so it
    is a file of bytes, and stays one under any name it gets."""
    m = mmfs()
    fd = os.open(m.mnt, os.O_TMPFILE | os.O_RDWR, 0o600)
    os.write(fd, b"bytes, not records")
    link_fd(fd, m.path("log.ring"))
    os.close(fd)
    with open(m.path("log.ring"), "rb") as f:
        assert f.read() == b"bytes, not records"
    assert os.stat(m.path("log.ring")).st_size == 18
    with pytest.raises(OSError) as e:
        os.getxattr(m.path("log.ring"), "user.mmfs.capacity")
    assert e.value.errno == errno.ENODATA


def test_tempfile_makes_no_name(mmfs):
    """Python's tempfile.TemporaryFile opens O_TMPFILE when it can: no
    name is made and removed (it fell back to one before)."""
    m = mmfs()
    with tempfile.TemporaryFile(dir=m.mnt) as f:
        f.write(b"scratch")
        f.seek(0)
        assert f.read() == b"scratch"
        assert os.listdir(m.mnt) == []
    counts = requests(m.mnt)
    assert counts.get("tmpfile") == 1
    assert counts.get("unlink", 0) == 0 and counts.get("create", 0) == 0

"""Attribute flags (mmfs(7), ATTRIBUTE FLAGS): chattr +a +i +d +A and
lsattr, as tmpfs has them, through e2fsprogs' chattr/lsattr and the
FS_IOC_GETFLAGS / FS_IOC_SETFLAGS / FS_IOC_FSGETXATTR ioctls.

- the flags persist across a remount and a kill -9;
- immutable (+i): no write, truncation, unlink, rename, link, chmod,
  chown, utimes or xattr change of the file (EPERM), nor an entry added
  to or removed from an immutable directory; clearing it makes them work;
- append-only (+a): `>>` works, `>`, truncation, unlink, rename, link,
  chmod and set times do not; entries may be added to an append-only
  directory but not removed;
- nodump (+d) is only shown; noatime (+A) keeps atime on reads;
- a user without CAP_LINUX_IMMUTABLE cannot set +i or +a; unknown flags
  are EOPNOTSUPP; ring logs take appends when append-only, none when
  immutable; libmmfs programs cannot write an immutable file either.
"""

import errno
import fcntl
import json
import os
import struct

import pytest

from helpers import PYTHON, run

FS_IOC_GETFLAGS = 0x80086601
FS_IOC_SETFLAGS = 0x40086602
FS_IOC_FSGETXATTR = 0x801c581f
FS_IOC_FSSETXATTR = 0x401c5820
FS_SYNC_FL = 0x8
FS_COMPR_FL = 0x4
FS_IMMUTABLE_FL = 0x10
FS_APPEND_FL = 0x20
FS_NODUMP_FL = 0x40
FS_NOATIME_FL = 0x80
FS_XFLAG_IMMUTABLE = 0x8
FS_XFLAG_APPEND = 0x10
FS_XFLAG_SYNC = 0x20
FS_XFLAG_NOATIME = 0x40
FS_XFLAG_NODUMP = 0x80
USER = 12345            # a uid with no account (test_multiuser.py)
EOPNOTSUPP = errno.errorcode[errno.EOPNOTSUPP]   # its name: ENOTSUP


def chattr(*args, check=True):
    return run(["chattr", *args], check=check)


def lsattr_flags(path):
    """The flag letters lsattr shows for path (a directory itself)."""
    out = run(["lsattr", "-d", path]).stdout.split()[0]
    return set(out) - {"-"}


def getflags(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        buf = fcntl.ioctl(fd, FS_IOC_GETFLAGS, struct.pack("i", 0))
    finally:
        os.close(fd)
    return struct.unpack("i", buf)[0]


def setflags(path, flags):
    fd = os.open(path, os.O_RDONLY)
    try:
        fcntl.ioctl(fd, FS_IOC_SETFLAGS, struct.pack("i", flags))
    finally:
        os.close(fd)


def fsgetxattr(path):
    """(xflags, extsize, nextents, projid, cowextsize)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        buf = fcntl.ioctl(fd, FS_IOC_FSGETXATTR, bytes(28))
    finally:
        os.close(fd)
    return struct.unpack("5I8x", buf)


def fssetxattr(path, xflags):
    fd = os.open(path, os.O_RDONLY)
    try:
        fcntl.ioctl(fd, FS_IOC_FSSETXATTR,
                    struct.pack("5I8x", xflags, 0, 0, 0, 0))
    finally:
        os.close(fd)


def errno_of(fn, *args, **kw):
    """The errno name fn(*args) fails with, or "ok"."""
    try:
        fn(*args, **kw)
    except OSError as e:
        return errno.errorcode[e.errno]
    return "ok"


def write_file(path, data, flags=os.O_WRONLY | os.O_CREAT | os.O_TRUNC):
    fd = os.open(path, flags, 0o644)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)


def read_file(path):
    with open(path, "rb") as f:
        return f.read()


def sh(cmd, *args):
    """Run a shell command line; its exit status and stderr."""
    r = run(["sh", "-c", cmd, "sh", *args], check=False)
    return r.returncode, r.stderr


def changes_of_a_file(d, f):
    """Every change of file f (in directory d) that immutable refuses,
    each tried once: {what: errno name or "ok"}."""
    renamed = os.path.join(d, "renamed")
    got = {
        "open_write": errno_of(os.open, f, os.O_WRONLY),
        "open_append": errno_of(os.open, f, os.O_WRONLY | os.O_APPEND),
        "truncate": errno_of(os.truncate, f, 0),
        "chmod": errno_of(os.chmod, f, 0o600),
        "chown": errno_of(os.chown, f, 1, 1),
        "utime_now": errno_of(os.utime, f),
        "utime_given": errno_of(os.utime, f, (1, 1)),
        "setxattr": errno_of(os.setxattr, f, "user.new", b"v"),
        "removexattr": errno_of(os.removexattr, f, "user.kept"),
        "link": errno_of(os.link, f, os.path.join(d, "linked")),
        "rename": errno_of(os.rename, f, renamed),
    }
    got["unlink"] = errno_of(os.unlink, renamed if os.path.exists(renamed)
                             else f)
    return got


@pytest.fixture
def setpriv_user():
    """setpriv's argv to run a command as USER, without capabilities."""
    return ["setpriv", f"--reuid={USER}", f"--regid={USER}",
            "--clear-groups"]


def test_flags_are_shown_and_persist_across_remount_and_kill9(mmfs):
    m = mmfs()
    files = {name: m.path(name) for name in ("i", "a", "d", "A", "all")}
    for path in files.values():
        write_file(path, b"v\n")
    os.mkdir(m.path("dir"))
    for letter in ("i", "a", "d", "A"):
        chattr("+" + letter, files[letter])
    chattr("+iadA", files["all"])
    chattr("+i", m.path("dir"))
    want = {"i": {"i"}, "a": {"a"}, "d": {"d"}, "A": {"A"},
            "all": {"i", "a", "d", "A"}}
    for rnd in ("mounted", "remounted", "killed"):
        for name, path in files.items():
            assert lsattr_flags(path) == want[name], (rnd, name)
        assert lsattr_flags(m.path("dir")) == {"i"}, rnd
        assert read_file(files["all"]) == b"v\n"
        if rnd == "mounted":
            m.remount()
        elif rnd == "remounted":
            m.kill9()
            m.remount()
    assert getflags(files["all"]) == (FS_IMMUTABLE_FL | FS_APPEND_FL |
                                      FS_NODUMP_FL | FS_NOATIME_FL)


def test_immutable_file_refuses_every_change_until_cleared(mnt):
    f = os.path.join(mnt, "f")
    write_file(f, b"before\n")
    os.setxattr(f, "user.kept", b"1")
    chattr("+i", f)
    ctime = os.stat(f).st_ctime_ns
    refused = changes_of_a_file(mnt, f)
    assert refused == {k: "EPERM" for k in refused}
    assert sh('echo x >> "$1"', f)[0] != 0
    assert sh('echo x > "$1"', f)[0] != 0
    assert sh('truncate -s 0 "$1"', f)[0] != 0
    # nothing changed, and the file reads as before
    assert read_file(f) == b"before\n"
    assert os.stat(f).st_ctime_ns == ctime
    assert os.listxattr(f) == ["user.kept"]
    assert sorted(os.listdir(mnt)) == ["f"]
    chattr("-i", f)
    assert lsattr_flags(f) == set()
    allowed = changes_of_a_file(mnt, f)
    assert allowed == {k: "ok" for k in allowed}
    assert sorted(os.listdir(mnt)) == ["linked"]  # renamed, linked, unlinked


def test_immutable_directory_gets_no_entry_added_or_removed(mnt):
    d = os.path.join(mnt, "d")
    os.mkdir(d)
    write_file(os.path.join(d, "in"), b"x")
    os.mkdir(os.path.join(d, "sub"))
    write_file(os.path.join(mnt, "out"), b"y")
    chattr("+i", d)
    tries = {
        "create": lambda: write_file(os.path.join(d, "new"), b""),
        "mkdir": lambda: os.mkdir(os.path.join(d, "newdir")),
        "symlink": lambda: os.symlink("in", os.path.join(d, "sl")),
        "mkfifo": lambda: os.mkfifo(os.path.join(d, "fifo")),
        "unlink": lambda: os.unlink(os.path.join(d, "in")),
        "rmdir": lambda: os.rmdir(os.path.join(d, "sub")),
        "rename_within": lambda: os.rename(os.path.join(d, "in"),
                                           os.path.join(d, "in2")),
        "rename_out": lambda: os.rename(os.path.join(d, "in"),
                                        os.path.join(mnt, "in2")),
        "rename_in": lambda: os.rename(os.path.join(mnt, "out"),
                                       os.path.join(d, "out")),
        "link_in": lambda: os.link(os.path.join(mnt, "out"),
                                   os.path.join(d, "out")),
        "rename_dir": lambda: os.rename(d, os.path.join(mnt, "d2")),
        "chmod": lambda: os.chmod(d, 0o700),
    }
    got = {k: errno_of(fn) for k, fn in tries.items()}
    assert got == {k: "EPERM" for k in tries}
    assert sorted(os.listdir(d)) == ["in", "sub"]
    # what is inside is not immutable itself
    write_file(os.path.join(d, "in"), b"changed")
    assert read_file(os.path.join(d, "in")) == b"changed"
    chattr("-i", d)
    write_file(os.path.join(d, "new"), b"")
    os.rename(os.path.join(d, "in"), os.path.join(mnt, "in2"))
    os.rmdir(os.path.join(d, "sub"))
    os.chmod(d, 0o700)
    assert sorted(os.listdir(d)) == ["new"]


def test_rename_over_an_immutable_file_is_refused(mnt):
    src, dst = os.path.join(mnt, "src"), os.path.join(mnt, "dst")
    write_file(src, b"new")
    write_file(dst, b"old")
    chattr("+i", dst)
    assert errno_of(os.rename, src, dst) == "EPERM"
    assert errno_of(os.replace, src, dst) == "EPERM"
    assert read_file(dst) == b"old"
    chattr("-i", dst)
    os.rename(src, dst)
    assert read_file(dst) == b"new"


def test_append_only_file_takes_appends_and_nothing_else(mnt):
    f = os.path.join(mnt, "log")
    write_file(f, b"one\n")
    chattr("+a", f)
    assert sh('echo two >> "$1"', f) == (0, "")
    rc, err = sh('echo three > "$1"', f)
    assert rc != 0 and "Operation not permitted" in err
    # an O_APPEND descriptor writes at the end whatever the offset
    fd = os.open(f, os.O_RDWR | os.O_APPEND)
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        os.write(fd, b"four\n")
        assert errno_of(os.ftruncate, fd, 0) == "EPERM"
    finally:
        os.close(fd)
    assert read_file(f) == b"one\ntwo\nfour\n"
    refused = {
        "open_write": errno_of(os.open, f, os.O_WRONLY),
        "open_rdwr": errno_of(os.open, f, os.O_RDWR),
        "open_trunc": errno_of(os.open, f,
                               os.O_WRONLY | os.O_APPEND | os.O_TRUNC),
        "truncate": errno_of(os.truncate, f, 0),
        "unlink": errno_of(os.unlink, f),
        "rename": errno_of(os.rename, f, os.path.join(mnt, "moved")),
        "link": errno_of(os.link, f, os.path.join(mnt, "linked")),
        "chmod": errno_of(os.chmod, f, 0o600),
        "chown": errno_of(os.chown, f, 1, 1),
        "utime_given": errno_of(os.utime, f, (1, 1)),
        "setxattr": errno_of(os.setxattr, f, "user.x", b"v"),
    }
    assert refused == {k: "EPERM" for k in refused}
    assert errno_of(os.utime, f) == "ok"        # touch: times set to now
    assert read_file(f) == b"one\ntwo\nfour\n"
    chattr("-a", f)
    assert sh('echo five > "$1"', f) == (0, "")
    os.unlink(f)


def test_append_only_directory_takes_new_entries_only(mnt):
    d = os.path.join(mnt, "spool")
    os.mkdir(d)
    write_file(os.path.join(d, "old"), b"")
    chattr("+a", d)
    write_file(os.path.join(d, "new"), b"")
    os.mkdir(os.path.join(d, "newdir"))
    assert errno_of(os.unlink, os.path.join(d, "old")) == "EPERM"
    assert errno_of(os.rmdir, os.path.join(d, "newdir")) == "EPERM"
    assert errno_of(os.rename, os.path.join(d, "old"),
                    os.path.join(mnt, "old")) == "EPERM"
    assert sorted(os.listdir(d)) == ["new", "newdir", "old"]
    chattr("-a", d)
    os.unlink(os.path.join(d, "old"))


def test_nodump_is_shown_and_noatime_keeps_atime(mmfs):
    m = mmfs(opts=["strictatime"])
    plain, quiet = m.path("plain"), m.path("quiet")
    for p in (plain, quiet):
        write_file(p, b"data\n")
    chattr("+dA", quiet)
    assert lsattr_flags(quiet) == {"d", "A"}
    fx = fsgetxattr(quiet)
    assert fx[0] == FS_XFLAG_NODUMP | FS_XFLAG_NOATIME and fx[1:] == \
        (0, 0, 0, 0)
    os.utime(plain, ns=(1_000_000_000, os.stat(plain).st_mtime_ns))
    os.utime(quiet, ns=(1_000_000_000, os.stat(quiet).st_mtime_ns))
    for p in (plain, quiet):
        run(["cat", p])
    assert os.stat(plain).st_atime_ns != 1_000_000_000
    assert os.stat(quiet).st_atime_ns == 1_000_000_000
    # nodump and noatime do not stop changes
    write_file(quiet, b"new\n")
    os.unlink(quiet)


def test_ioctls_set_get_and_refuse_unknown_flags(mnt):
    f = os.path.join(mnt, "f")
    write_file(f, b"")
    d = os.path.join(mnt, "d")
    os.mkdir(d)
    for path in (f, d):
        assert getflags(path) == 0
        ctime = os.stat(path).st_ctime_ns
        setflags(path, FS_NODUMP_FL | FS_NOATIME_FL)
        assert getflags(path) == FS_NODUMP_FL | FS_NOATIME_FL
        assert os.stat(path).st_ctime_ns > ctime, "chattr keeps ctime"
        fssetxattr(path, FS_XFLAG_IMMUTABLE | FS_XFLAG_APPEND)
        assert getflags(path) == FS_IMMUTABLE_FL | FS_APPEND_FL
        assert fsgetxattr(path)[0] == FS_XFLAG_IMMUTABLE | FS_XFLAG_APPEND
        setflags(path, 0)
        assert errno_of(setflags, path, FS_COMPR_FL) == EOPNOTSUPP
        assert errno_of(setflags, path, FS_SYNC_FL | FS_NODUMP_FL) == \
            EOPNOTSUPP
        assert errno_of(fssetxattr, path, FS_XFLAG_SYNC) == EOPNOTSUPP
        assert getflags(path) == 0
    r = chattr("+c", f, check=False)
    assert r.returncode != 0 and "Operation not supported" in r.stderr
    r = chattr("+S", f, check=False)
    assert r.returncode != 0 and "Operation not supported" in r.stderr
    assert lsattr_flags(f) == set()


def test_only_a_capable_caller_sets_immutable_or_append(mmfs, setpriv_user):
    m = mmfs(opts=["allow_other"])
    os.chmod(m.mnt, 0o777)
    mine, root_s = m.path("mine"), m.path("roots")
    write_file(mine, b"")
    os.chown(mine, USER, USER)
    write_file(root_s, b"")
    for flag in ("+i", "+a"):
        r = run(setpriv_user + ["chattr", flag, mine], check=False)
        assert r.returncode != 0 and "not permitted" in r.stderr, flag
    # the owner may set the others; nobody but the owner may
    run(setpriv_user + ["chattr", "+d", mine])
    r = run(setpriv_user + ["chattr", "+d", root_s], check=False)
    assert r.returncode != 0 and "not permitted" in r.stderr
    # root without CAP_LINUX_IMMUTABLE neither
    r = run(["setpriv", "--bounding-set=-linux_immutable", "chattr", "+i",
             root_s], check=False)
    assert r.returncode != 0 and "not permitted" in r.stderr
    assert lsattr_flags(mine) == {"d"} and lsattr_flags(root_s) == set()
    chattr("+i", mine)
    r = run(setpriv_user + ["chattr", "-i", mine], check=False)
    assert r.returncode != 0 and lsattr_flags(mine) == {"i", "d"}


def test_ring_logs_append_only_or_immutable(mmfs):
    m = mmfs(opts=["ring_size=4096"])
    r = m.path("app.ring")
    assert sh('echo first >> "$1"', r) == (0, "")
    chattr("+a", r)
    assert sh('echo second >> "$1"', r) == (0, "")
    assert sh('echo replaced > "$1"', r)[0] != 0
    assert errno_of(os.setxattr, r, "user.mmfs.capacity", b"8192") == \
        "EPERM"
    assert errno_of(os.truncate, r, 0) == "EPERM"
    assert errno_of(os.unlink, r) == "EPERM"
    assert read_file(r) == b"first\nsecond\n"
    chattr("-a", r)
    chattr("+i", r)
    assert sh('echo third >> "$1"', r)[0] != 0
    assert errno_of(os.open, r, os.O_WRONLY | os.O_APPEND) == "EPERM"
    assert read_file(r) == b"first\nsecond\n"
    chattr("-i", r)
    assert sh('echo third >> "$1"', r) == (0, "")
    assert read_file(r) == b"first\nsecond\nthird\n"


def test_libmmfs_cannot_write_an_immutable_file(mnt, libmmfs):
    """A libmmfs program changes the arena without the kernel: the store
    itself refuses."""
    write_file(os.path.join(mnt, "v"), b"1")
    write_file(os.path.join(mnt, "a"), b"1")
    chattr("+i", os.path.join(mnt, "v"))
    chattr("+a", os.path.join(mnt, "a"))
    out = run([PYTHON, "-c", """
import errno, json, sys, mmfs
m = mmfs.attach(sys.argv[1])
res = {}
for name, fn in (("set_v", lambda: m.set("v", "2")),
                 ("add_v", lambda: m.add("v")),
                 ("set_a", lambda: m.set("a", "2")),
                 ("create", lambda: m.set("new", "x"))):
    try:
        fn()
        res[name] = "ok"
    except OSError as e:
        res[name] = errno.errorcode[e.errno]
print(json.dumps(res))
""", mnt], env=libmmfs).stdout
    assert json.loads(out) == {"set_v": "EPERM", "add_v": "EPERM",
                               "set_a": "EPERM", "create": "ok"}
    assert read_file(os.path.join(mnt, "v")) == b"1"
    assert read_file(os.path.join(mnt, "a")) == b"1"


def test_a_flag_change_is_in_the_next_stat(mnt):
    """The ctime a flag change sets is what the next stat shows, with no
    window in which the kernel still answers from its cached attributes
    (the daemon drops them before it answers the ioctl)."""
    f = os.path.join(mnt, "f")
    write_file(f, b"v\n")
    fd = os.open(f, os.O_RDONLY)
    try:
        stale = 0
        before = os.stat(f).st_ctime_ns
        for i in range(300):
            flags = FS_NODUMP_FL if i % 2 == 0 else 0
            fcntl.ioctl(fd, FS_IOC_SETFLAGS, struct.pack("i", flags))
            after = os.stat(f).st_ctime_ns
            stale += after == before
            before = after
    finally:
        os.close(fd)
    assert stale == 0, f"{stale} of 300 stats showed the old ctime"

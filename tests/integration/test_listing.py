"""Directory listings: what `ls -l` and `find -ls` cost, and the lookup
counts that READDIRPLUS hands the kernel.

mmfs answers READDIRPLUS: every entry of a listing comes with its node
and attributes, so the stat that `ls -l` makes of each file is answered
by the kernel.  A file without an SELinux label answers EOPNOTSUPP to
security.selinux, so `ls -l` stops asking after the first one (GNU ls
remembers a device that does not support labels).  The request counts
come from the daemon (mmfsctl stat); every listing here is cold: a fresh
mount, where the kernel knows no name.
"""

import ctypes
import errno
import os
import subprocess

import pytest

import helpers
from test_coherence import requests
from test_hostile import assert_no_orphans

SELINUX = "security.selinux"
LABEL = b"system_u:object_r:tmp_t:s0\0"
libc = ctypes.CDLL(None, use_errno=True)
SYS_GETDENTS64 = {"x86_64": 217, "aarch64": 61}.get(os.uname().machine)


def make_tree(d, n):
    """n entries in d: files of various sizes and modes, directories,
    symlinks and a hard link."""
    os.mkdir(d)
    for i in range(n):
        p = os.path.join(d, f"f{i:04d}")
        if i % 50 == 1:
            os.mkdir(p)
        elif i % 50 == 2:
            os.symlink(f"f{i - 2:04d}", p)
        elif i % 50 == 3:
            os.link(os.path.join(d, f"f{i - 3:04d}"), p)
        else:
            with open(p, "wb") as f:
                f.write(b"v" * (i % 97))
            os.chmod(p, (0o644, 0o600, 0o755)[i % 3])


def listing(*argv, cwd):
    """stdout of a listing program run in cwd, in the C locale."""
    return helpers.run(list(argv), cwd=cwd,
                       env=dict(os.environ, LC_ALL="C")).stdout


def cold_run(m, *argv):
    """Remount m (the kernel then knows no name), run argv in the mount
    point; its output and the requests it cost, by kind."""
    m.remount()
    before = requests(m.mnt)
    out = listing(*argv, cwd=m.mnt)
    after = requests(m.mnt)
    return out, {k: after[k] - before.get(k, 0) for k in after
                 if after[k] != before.get(k, 0)}


def ls_lines(out):
    """ls -l lines, without what differs between file systems: the
    "total" line (blocks) and the size of directories."""
    lines = []
    for line in out.splitlines():
        f = line.split()        # mode, links, uid, gid, size, name...
        if f[0] == "total":
            continue
        if f[0].startswith("d"):
            f[4] = "-"
        lines.append(" ".join(f))
    return lines


def test_cold_ls_l_and_find_ls_ask_nothing_per_file(mmfs, tmpfs_dir,
                                                    measure):
    """A cold `ls -l` of N entries costs no LOOKUP and no getxattr per
    entry (only the directory itself is looked up and asked for its label
    and ACL), and shows what tmpfs shows for the same tree; so does a cold
    `find -ls`."""
    n = 600                     # several READDIRPLUS replies
    m = mmfs()
    make_tree(m.path("d"), n)
    make_tree(os.path.join(tmpfs_dir, "d"), n)
    ls = ("ls", "-ln", "--time-style=+", "d")
    out, reqs = cold_run(m, *ls)
    assert ls_lines(out) == ls_lines(listing(*ls, cwd=tmpfs_dir))
    measure("ls_l_requests_per_file", sum(reqs.values()) / n,
            f"cold ls -l of {n} entries: {sum(reqs.values())} requests "
            f"({sum(reqs.values()) / n:.3f} per entry): {reqs}")
    assert reqs.get("lookup", 0) <= 1, reqs
    assert reqs.get("getxattr", 0) <= 2, reqs
    assert reqs.get("readdirplus", 0) > 1, reqs

    find = ("find", "d", "-type", "d", "-o", "-printf",
            "%M %n %U %G %s %p %l\n")
    out, reqs = cold_run(m, *find)
    assert sorted(out.splitlines()) == \
        sorted(listing(*find, cwd=tmpfs_dir).splitlines())
    out, reqs = cold_run(m, "find", "d", "-ls")
    assert len(out.splitlines()) == n + 1
    measure("find_ls_requests_per_file", sum(reqs.values()) / n,
            f"cold find -ls of {n} entries: {sum(reqs.values())} requests: "
            f"{reqs}")
    # Only d is looked up: its subdirectories came with the listing.
    assert reqs.get("lookup", 0) <= 1, reqs
    assert reqs.get("getxattr", 0) == 0, reqs


def test_a_file_without_a_label_does_not_support_one(mnt):
    """security.selinux: EOPNOTSUPP on a file that has none (what makes
    ls stop asking), the label on a file that has one; every other name
    keeps ENODATA."""
    p = os.path.join(mnt, "f")
    with open(p, "w") as f:
        f.write("v")
    with pytest.raises(OSError) as ei:
        os.getxattr(p, SELINUX)
    assert ei.value.errno == errno.EOPNOTSUPP
    res = subprocess.run(["getfattr", "-n", SELINUX, p],
                         capture_output=True, text=True)
    assert res.returncode != 0 and "not supported" in res.stderr
    for name in ("security.capability", "security.other", "user.none",
                 "trusted.none"):
        with pytest.raises(OSError) as ei:
            os.getxattr(p, name)
        assert ei.value.errno == errno.ENODATA, name
    os.setxattr(p, SELINUX, LABEL)
    assert os.getxattr(p, SELINUX) == LABEL
    assert SELINUX in os.listxattr(p)
    assert "tmp_t" in helpers.run(["getfattr", "-n", SELINUX, p]).stdout
    # ls marks a labelled file when it is the first it asks about.
    out = listing("ls", "-l", "f", cwd=mnt)
    assert out.split()[0] == "-rw-r--r--."
    os.removexattr(p, SELINUX)
    with pytest.raises(OSError) as ei:
        os.getxattr(p, SELINUX)
    assert ei.value.errno == errno.EOPNOTSUPP


def getdents_names(d, bufsize):
    """Every name in d, read with getdents64(2) into a buffer of bufsize
    bytes: small buffers take part of each reply the kernel got."""
    fd = os.open(d, os.O_RDONLY | os.O_DIRECTORY)
    buf = ctypes.create_string_buffer(bufsize)
    names = []
    try:
        while True:
            n = libc.syscall(SYS_GETDENTS64, fd, buf, bufsize)
            assert n >= 0, os.strerror(ctypes.get_errno())
            if n == 0:
                return names
            pos = 0
            while pos < n:
                reclen = int.from_bytes(buf.raw[pos + 16:pos + 18], "little")
                name = buf.raw[pos + 19:pos + reclen].split(b"\0")[0]
                names.append(name.decode())
                pos += reclen
    finally:
        os.close(fd)


@pytest.mark.skipif(SYS_GETDENTS64 is None, reason="getdents64 number")
def test_listed_nodes_are_forgotten_and_freed(mmfs):
    """Every node a listing hands out is counted once per entry sent ("."
    and ".." not at all, an entry that did not fit in a reply not at all),
    so the kernel's forgets bring every count back to 0: after listing
    them in every way and removing them, no inode is left behind (an
    uncounted node would instead trip the daemon's assertion)."""
    m = mmfs(size="128M")
    b = m.path("a", "b")
    os.mkdir(m.path("a"))
    os.mkdir(b)
    names = {f"{i:04d}" + "n" * 200 for i in range(1500)}
    for name in names:
        with open(os.path.join(b, name), "w") as f:
            f.write("v")
    os.mkdir(os.path.join(b, "sub"))
    names.add("sub")
    _, reqs = cold_run(m, "ls", "-la", "a/b")
    assert reqs.get("lookup", 0) <= 2, reqs      # a and b, by name
    assert reqs.get("readdirplus", 0) > 10, reqs
    listing("find", "a", "-ls", cwd=m.mnt)
    listing("du", "-s", "a", cwd=m.mnt)
    for size in (300, 600, 4096, 70000):
        assert set(getdents_names(b, size)) == names | {".", ".."}
    assert {e.name for e in os.scandir(b)} == names
    m.remount()
    assert set(getdents_names(b, 500)) == names | {".", ".."}
    helpers.run(["rm", "-rf", m.path("a")])
    assert_no_orphans(m)
    assert m.alive()

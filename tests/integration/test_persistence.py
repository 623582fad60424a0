"""Guarantee 5: everything survives unmount + remount of the same arena, and
a kill -9 of the daemon followed by a remount: data, modes, owners, times
(to the ns), xattrs, symlinks, hard links, directories, inode numbers."""

import os
import random
import signal
import stat
import subprocess
import sys
import time

import pytest

import helpers
from helpers import run, snapshot, spawn_worker, worker_result

MTIME = 1_234_567_890_123_456_789
DIR_MTIME = 1_111_111_111_222_222_222


def populate(root):
    """A tree with one of everything; returns nothing (snapshot it)."""
    j = lambda *p: os.path.join(root, *p)
    os.makedirs(j("a", "b", "c"))
    os.mkdir(j("empty"))
    os.mkdir(j("many"))
    with open(j("hello"), "w") as f:
        f.write("hello, world\n")
    open(j("zero"), "w").close()
    with open(j("a", "mid"), "wb") as f:
        f.write(os.urandom(40_000))
    with open(j("a", "b", "big"), "wb") as f:
        f.write(os.urandom(1_000_000))
    fd = os.open(j("sparse"), os.O_WRONLY | os.O_CREAT, 0o644)
    os.pwrite(fd, b"head", 0)
    os.pwrite(fd, b"tail", 5 * 2**20)
    os.close(fd)
    for i in range(300):
        with open(j("many", f"v{i:03d}"), "w") as f:
            f.write(f"{i}\n" * (i % 7))
    with open(j("n" * 255), "w") as f:
        f.write("long name")
    with open(j("ünïcödé ✓"), "w") as f:
        f.write("unicode")
    # Hard links: three names, one inode.
    with open(j("a", "b", "c", "linked"), "w") as f:
        f.write("linked data")
    os.link(j("a", "b", "c", "linked"), j("a", "hard2"))
    os.link(j("a", "b", "c", "linked"), j("hard3"))
    # Symlinks: relative, absolute, dangling, to a directory.
    os.symlink("a/b/c/linked", j("rel"))
    os.symlink("/etc/hostname", j("abs"))
    os.symlink("does/not/exist", j("dangling"))
    os.symlink("a/b", j("dirlink"))
    os.mkfifo(j("fifo"))
    # xattrs, on a file and a directory.
    os.setxattr(j("hello"), "user.a", b"alpha")
    os.setxattr(j("hello"), "user.bin", bytes(range(256)) * 4)
    os.setxattr(j("a"), "user.dir", b"on a dir")
    os.setxattr(j("a", "b", "big"), "user.empty", b"")
    # Modes and owners.
    os.chmod(j("hello"), 0o640)
    os.chmod(j("a", "mid"), 0o4755)
    os.chmod(j("a", "b"), 0o711)
    os.chmod(j("zero"), 0o000)
    os.chown(j("hello"), 1234, 5678)
    os.chown(j("a"), 4321, 8765)
    os.lchown(j("rel"), 99, 98)
    # Times last: creating entries changes directory times.
    os.utime(j("hello"), ns=(MTIME - 5, MTIME))
    os.utime(j("a", "b", "big"), ns=(1, 2))
    os.utime(j("rel"), ns=(3, 4), follow_symlinks=False)
    os.utime(j("a", "b", "c"), ns=(DIR_MTIME, DIR_MTIME))
    os.utime(j("many"), ns=(DIR_MTIME + 1, DIR_MTIME + 1))


def diff(before, after):
    lines = []
    for k in sorted(set(before) | set(after)):
        if before.get(k) != after.get(k):
            lines.append(f"{k}: {before.get(k)} -> {after.get(k)}")
    return "\n".join(lines[:20])


def check_tree(root, before):
    after = snapshot(root, with_ino=True)
    assert after == before, diff(before, after)
    st = os.stat(os.path.join(root, "hello"))
    assert st.st_mtime_ns == MTIME
    assert stat.S_IMODE(st.st_mode) == 0o640
    assert (st.st_uid, st.st_gid) == (1234, 5678)
    assert os.stat(os.path.join(root, "hard3")).st_nlink == 3
    assert os.getxattr(os.path.join(root, "a"), "user.dir") == b"on a dir"


def test_everything_survives_unmount_and_remount(mmfs):
    m = mmfs()
    populate(m.mnt)
    before = snapshot(m.mnt, with_ino=True)
    assert len(before) > 300
    m.umount()
    m.remount()
    check_tree(m.mnt, before)
    assert "repaired" not in m.stderr, m.stderr
    # The remounted tree is fully usable: change it and remount again.
    with open(m.path("a", "mid"), "r+b") as f:
        f.write(b"changed")
    os.rename(m.path("many"), m.path("a", "moved"))
    before2 = snapshot(m.mnt, with_ino=True)
    m.remount()
    after2 = snapshot(m.mnt, with_ino=True)
    assert after2 == before2, diff(before2, after2)


@pytest.mark.parametrize("how", ["same-dir", "across-dirs", "up", "down"])
def test_renamed_directory_survives_remount(mmfs, how):
    m = mmfs()
    os.makedirs(m.path("a", "inner"))
    os.mkdir(m.path("other"))
    with open(m.path("a", "inner", "f"), "w") as f:
        f.write("in a renamed dir")
    src, dst = {
        "same-dir": ("a", "b"),
        "across-dirs": ("a", "other/b"),
        "up": ("a/inner", "inner2"),
        "down": ("other", "a/inner/other2"),
    }[how]
    os.rename(m.path(src), m.path(dst))
    before = snapshot(m.mnt, with_ino=True)
    m.remount()
    after = snapshot(m.mnt, with_ino=True)
    assert after == before, diff(before, after) + "\n" + m.stderr
    assert "repaired" not in m.stderr, m.stderr


def test_everything_survives_kill9_and_remount(mmfs):
    m = mmfs()
    populate(m.mnt)
    before = snapshot(m.mnt, with_ino=True)
    m.kill9(lazy_umount=False)
    # The dead mount says so.
    with pytest.raises(OSError) as ei:
        os.listdir(m.mnt)
    assert ei.value.errno == 107      # ENOTCONN
    run(["fusermount3", "-u", "-z", m.mnt])
    m.remount()
    check_tree(m.mnt, before)
    # A second crash right after recovery loses nothing either.
    with open(m.path("after-recovery"), "w") as f:
        f.write("still here")
    m.kill9()
    m.remount()
    assert open(m.path("after-recovery")).read() == "still here"
    after = snapshot(m.mnt, with_ino=True)
    del after["after-recovery"]
    assert after == before, diff(before, after)


def test_arena_copied_elsewhere_mounts_the_same(mmfs, tmp_path):
    m = mmfs()
    populate(m.mnt)
    before = snapshot(m.mnt, with_ino=True)
    m.umount()
    copy = tmp_path / "copy.arena"
    run(["cp", "--sparse=always", m.arena, copy])
    m2 = mmfs(arena=copy)
    after = snapshot(m2.mnt, with_ino=True)
    assert after == before, diff(before, after)


def test_inode_numbers_are_never_reused(mmfs):
    m = mmfs()
    old = set()
    for i in range(20):
        p = m.path(f"f{i}")
        open(p, "w").close()
        old.add(os.stat(p).st_ino)
        os.unlink(p)
    m.remount()
    for i in range(40):
        p = m.path(f"g{i}")
        open(p, "w").close()
        assert os.stat(p).st_ino not in old


def used_bytes(mnt):
    st = os.statvfs(mnt)
    return (st.f_blocks - st.f_bfree) * st.f_frsize


def test_recovery_reclaims_files_unlinked_while_open(mmfs):
    m = mmfs()
    base = used_bytes(m.mnt)
    with open(m.path("doomed"), "wb") as f:
        f.write(os.urandom(8 * 2**20))
    fd = os.open(m.path("doomed"), os.O_RDONLY)
    os.unlink(m.path("doomed"))
    assert used_bytes(m.mnt) - base >= 8 * 2**20
    m.kill9()
    try:
        os.close(fd)          # on the dead mount: ENOTCONN is fine
    except OSError:
        pass
    m.remount()
    assert os.listdir(m.mnt) == []
    assert used_bytes(m.mnt) - base < 2**20, \
        "recovery did not reclaim the unlinked file's space"


@pytest.mark.parametrize("delay", [0.05, 0.4, 1.0])
def test_kill9_in_the_middle_of_changes(mmfs, delay):
    """A process replaces values, publishes by rename, appends to a log and
    makes/removes dirs; the daemon is killed at a random moment.  After
    recovery every value is whole (old or new, never torn or empty), the
    log is whole lines, and the space of half-done changes comes back."""
    m = mmfs()
    base = used_bytes(m.mnt)
    d = m.path("work")
    os.mkdir(d)
    churn = spawn_worker("churn", d, 30)
    line = churn.stdout.readline().strip()
    assert line == "ready", (line, churn.stderr.read() if not line else "")
    time.sleep(delay + random.random() * 0.2)
    m.kill9()
    res = worker_result(churn, timeout=30)
    assert res["stopped"] is not None, "the churn worker did not notice"
    m.remount()
    check = helpers.w_check_churn(d)
    assert not check["problems"], check["problems"]
    # The file system works and gives back all the space once emptied.
    with open(m.path("new"), "w") as f:
        f.write("new")
    assert open(m.path("new")).read() == "new"
    run(["rm", "-rf", d, m.path("new")])
    assert os.listdir(m.mnt) == []
    assert used_bytes(m.mnt) - base < 2**20, (base, used_bytes(m.mnt))
    m.umount()


def test_unmount_does_the_work_of_dropped_releases(mmfs):
    """An aborted connection drops the releases still to come (here: the
    daemon is stopped while a process holds replace handles, and the
    connection is aborted through fusectl when that process closes
    them); the daemon then does their work itself: the deferred O_TRUNC
    of each handle is applied, and the handles freed (the ASan and
    valgrind runs check for leaks)."""
    m = mmfs()
    paths = [m.path(f"var{i}") for i in range(20)]
    for p in paths:
        with open(p, "wb") as f:
            f.write(b"x" * 3000)
    # A replace handle's close sends FLUSH and waits for the answer, which
    # a stopped daemon never gives: the abort ends those waits, and the
    # RELEASEs are never sent.
    holder = subprocess.Popen(
        [sys.executable, "-c", "import os, sys\n"
         "fds = [os.open(p, os.O_WRONLY | os.O_TRUNC) for p in sys.argv[1:]]\n"
         "print('open', flush=True)\n"
         "sys.stdin.readline()\n"
         "for fd in fds:\n"
         "    try:\n"
         "        os.close(fd)\n"
         "    except OSError:\n"
         "        pass\n", *paths],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline() == "open\n"
    conn = os.minor(os.stat(m.mnt).st_dev)
    helpers.stop_process(m.pid)
    m.expect_exit()
    try:
        holder.stdin.write("close\n")
        holder.stdin.flush()
        time.sleep(0.2)                 # the first close waits for FLUSH
        with open(f"/sys/fs/fuse/connections/{conn}/abort", "w") as f:
            f.write("1")
        holder.wait(timeout=20)
        run(["fusermount3", "-u", m.mnt])
    finally:
        os.kill(m.pid, signal.SIGCONT)
    m.umount()
    m.start()
    assert [os.path.getsize(p) for p in paths] == [0] * len(paths)

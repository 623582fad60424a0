"""Durable arenas: an arena on disk keeps its content; fsync(2) writes back
what the file uses; space freed by big files goes back to the system.

fsync is checked through what the daemon really does: strace shows it
msync()ing the file's pages with MS_SYNC before the fsync returns.
"""

import os
import re
import subprocess
import tempfile
import time

import helpers


def disk_dir():
    """A directory on a disk file system (not tmpfs), for on-disk arenas."""
    for d in ("/var/tmp", "/tmp", "/root"):
        r = helpers.run(["stat", "-f", "-c", "%T", d], check=False)
        if r.returncode == 0 and r.stdout.strip() not in ("tmpfs", "ramfs"):
            return tempfile.mkdtemp(prefix="mmfs-disk-", dir=d)
    raise AssertionError("no disk-backed directory to put an arena in")


def test_disk_arena_survives_remount_and_dropped_caches(mmfs):
    d = disk_dir()
    try:
        m = mmfs(arena=os.path.join(d, "app.arena"))
        os.mkdir(m.path("cfg"))
        with open(m.path("cfg", "port"), "w") as f:
            f.write("8080\n")
        big = os.urandom(300000)
        with open(m.path("blob"), "wb") as f:
            f.write(big)
        m.umount()
        # nothing of it may live only in the page cache any more
        os.sync()
        with open("/proc/sys/vm/drop_caches", "w") as f:
            f.write("3\n")
        m.start()
        assert open(m.path("cfg", "port")).read() == "8080\n"
        assert open(m.path("blob"), "rb").read() == big
        m.umount()
    finally:
        subprocess.run(["rm", "-rf", d])


def test_fsync_msyncs_the_file_before_returning(mmfs):
    d = disk_dir()
    try:
        m = mmfs(arena=os.path.join(d, "app.arena"))
        path = m.path("value")
        fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o644)
        os.write(fd, b"x" * 100000)
        log = os.path.join(d, "strace.log")
        tracer = subprocess.Popen(["strace", "-f", "-e", "trace=msync",
                                   "-o", log, "-p", str(m.pid)],
                                  stderr=subprocess.DEVNULL)
        try:
            helpers.wait_for(lambda: os.path.exists(log) and
                             os.path.getsize(log) >= 0, 5)
            time.sleep(0.5)             # strace attached
            os.fsync(fd)
            time.sleep(0.2)
        finally:
            tracer.terminate()
            tracer.wait(timeout=10)
            os.close(fd)
        calls = re.findall(r"msync\(0x[0-9a-f]+, (\d+), MS_SYNC\)\s+= 0",
                           open(log).read())
        assert calls, "fsync did not msync anything"
        # the file's own blocks, not the whole arena
        arena_size = os.stat(m.arena).st_size
        assert all(int(n) < arena_size for n in calls), calls
        assert sum(int(n) for n in calls) >= 100000
        # fsync of a directory writes back the whole arena
        os.remove(log)
        tracer = subprocess.Popen(["strace", "-f", "-e", "trace=msync",
                                   "-o", log, "-p", str(m.pid)],
                                  stderr=subprocess.DEVNULL)
        try:
            time.sleep(0.5)
            dfd = os.open(m.mnt, os.O_RDONLY | os.O_DIRECTORY)
            os.fsync(dfd)
            os.close(dfd)
            time.sleep(0.2)
        finally:
            tracer.terminate()
            tracer.wait(timeout=10)
        calls = re.findall(r"msync\(0x[0-9a-f]+, (\d+), MS_SYNC\)\s+= 0",
                           open(log).read())
        assert any(int(n) >= arena_size for n in calls), calls
        m.umount()
    finally:
        subprocess.run(["rm", "-rf", d])


def allocated(path):
    return os.stat(path).st_blocks * 512


def test_freed_space_goes_back_to_the_system(mmfs):
    """The arena file is sparse and grows on demand; deleting a big file
    gives its memory back (hole punched), and writing it again works."""
    m = mmfs(size="256M")
    start = allocated(m.arena)
    data = b"y" * (40 << 20)
    with open(m.path("big"), "wb") as f:
        f.write(data)
    grown = allocated(m.arena)
    assert grown - start >= 40 << 20
    assert os.stat(m.arena).st_size <= 256 << 20
    os.unlink(m.path("big"))
    # the inode goes when the kernel forgets it (an asynchronous FORGET)
    assert helpers.wait_for(
        lambda: allocated(m.arena) < grown - (30 << 20), 10), \
        "deleting a 40 MiB file did not give its pages back"
    with open(m.path("again"), "wb") as f:
        f.write(data)
    assert open(m.path("again"), "rb").read() == data

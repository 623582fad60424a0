"""Access times (mmfs(7), ACCESS TIMES): reads update atime as the mount
options say -- relatime by default, strictatime, noatime, nodiratime --
checked as xfstests generic/003 does, with cat, ls, dd and stat -c %x
(atime with nanoseconds; %X has only seconds)."""

import os
import time

from helpers import run


def times(path):
    """(atime, mtime, ctime) as stat(1) prints them."""
    return tuple(run(["stat", "-c", "%x;%y;%z", path]).stdout
                 .strip().split(";"))


def cat(path):
    run(["cat", path], stdout=open(os.devnull, "w"))


def file_with_value(m, name="f"):
    path = m.path(name)
    run(["sh", "-c", 'echo value > "$1"', "sh", path])
    return path


def test_relatime_is_the_default(mmfs):
    """The first read after a write updates atime, and nothing else; the
    next read does not; a read after the next write does again."""
    m = mmfs()
    f = file_with_value(m)
    before = times(f)
    cat(f)
    first = times(f)
    assert first[0] != before[0], "first read after a write: atime kept"
    assert first[1:] == before[1:], "a read changed mtime or ctime"
    cat(f)
    assert times(f) == first, "second read updated atime under relatime"
    run(["sh", "-c", 'echo new > "$1"', "sh", f])
    written = times(f)
    cat(f)
    assert times(f)[0] != written[0], "read after a new write: atime kept"


def test_relatime_updates_an_atime_two_days_old(mmfs):
    """touch -a -d puts atime two days back; the next read brings it to
    now.  (touch also sets ctime to now, which alone asks for the update:
    test_store.c checks the one-day rule with older ctimes.)"""
    m = mmfs()
    f = file_with_value(m)
    cat(f)
    run(["touch", "-a", "-d", "2 days ago", f])
    old = os.stat(f).st_atime
    assert old < time.time() - 86400
    cat(f)
    assert os.stat(f).st_atime > time.time() - 60, \
        "a read kept an atime two days old"


def test_strictatime_updates_on_every_read(mmfs):
    m = mmfs(opts=["strictatime"])
    f = file_with_value(m)
    cat(f)
    first = times(f)
    cat(f)
    second = times(f)
    assert second[0] != first[0], "second read kept atime (strictatime)"
    assert second[1:] == first[1:]


def test_noatime_never_updates(mmfs):
    """Neither a file's nor a directory's; and the mount says noatime."""
    m = mmfs(opts=["noatime"])
    options = run(["findmnt", "-n", "-o", "OPTIONS", m.mnt]).stdout
    assert "noatime" in options.strip().split(","), options
    f = file_with_value(m)
    before = times(f)
    cat(f)
    cat(f)
    assert times(f) == before, "a read updated atime under noatime"
    before = times(m.mnt)
    run(["ls", m.mnt])
    assert times(m.mnt) == before, "ls updated atime under noatime"


def test_o_noatime_reads_leave_atime(mmfs):
    """dd iflag=noatime opens with O_NOATIME: even under strictatime its
    reads leave atime alone; a plain read does not."""
    m = mmfs(opts=["strictatime"])
    f = file_with_value(m)
    cat(f)
    before = times(f)
    run(["dd", f"if={f}", "of=/dev/null", "iflag=noatime", "status=none"])
    assert times(f) == before, "an O_NOATIME read updated atime"
    cat(f)
    assert times(f)[0] != before[0]


def test_listing_updates_directory_atime(mmfs):
    """ls reads the directory: relatime updates its atime after a change
    of the directory, once."""
    m = mmfs()
    d = m.path("d")
    os.mkdir(d)
    open(os.path.join(d, "x"), "w").close()
    before = times(d)
    run(["ls", d])
    first = times(d)
    assert first[0] != before[0], "ls after a change kept the dir's atime"
    assert first[1:] == before[1:]
    run(["ls", d])
    assert times(d) == first


def test_nodiratime_leaves_directories_only(mmfs):
    m = mmfs(opts=["strictatime", "nodiratime"])
    d = m.path("d")
    os.mkdir(d)
    f = os.path.join(d, "x")
    open(f, "w").close()
    before = times(d)
    run(["ls", d])
    assert times(d) == before, "ls updated the dir's atime (nodiratime)"
    cat(f)
    first = times(f)
    cat(f)
    assert times(f)[0] != first[0], "nodiratime stopped file atimes"


def test_read_only_mount_never_updates(mmfs):
    """generic/003's last step: the reads that update atime on a
    strictatime mount update nothing once it is mounted ro,strictatime."""
    m = mmfs(opts=["strictatime"])
    d = m.path("d")
    os.mkdir(d)
    f = file_with_value(m, "d/f")
    before_f, before_d = times(f), times(d)
    run(["ls", d])
    cat(f)
    assert times(f)[0] != before_f[0] and times(d)[0] != before_d[0]
    m.umount()
    m.remount(opts=["size=64M", "ro", "strictatime"])
    before_f, before_d = times(f), times(d)
    run(["ls", d])
    cat(f)
    assert times(f) == before_f and times(d) == before_d


def test_page_cache_reads_update_atime_when_they_reach_the_daemon(mmfs):
    """An O_RDWR descriptor reads through the page cache, which each open
    drops: its first read reaches the daemon and updates atime (here under
    strictatime).  (Whether a later read is answered by the cache, and so
    leaves atime alone, is the kernel's choice: it may drop the page.)"""
    m = mmfs(opts=["strictatime"])
    f = file_with_value(m)
    cat(f)
    before = times(f)
    fd = os.open(f, os.O_RDWR)
    try:
        assert os.pread(fd, 100, 0) == b"value\n"
        assert times(f)[0] != before[0], "first O_RDWR read kept atime"
    finally:
        os.close(fd)


def test_remounted_read_only_never_updates(mmfs):
    """mount -o remount,ro (here mount -i: mount(2) itself) stops atime
    updates of a strictatime mount; remount,rw brings them back."""
    m = mmfs(opts=["strictatime"])
    f = file_with_value(m)
    cat(f)
    run(["mount", "-i", "-o", "remount,ro", m.mnt])
    try:
        before = times(f)
        cat(f)
        run(["ls", m.mnt])
        assert times(f) == before, "a read updated atime while read-only"
    finally:
        run(["mount", "-i", "-o", "remount,rw", m.mnt])
    cat(f)
    assert times(f)[0] != before[0], "no atime update after remount,rw"

"""mmfsctl(8): stat, ls, dump and check (--repair) on real arenas.

The tool is $MMFSCTL_BIN, else the mmfsctl built next to the mount.mmfs
under test ($MMFS_BIN).
Every failure must be exactly one "mmfsctl: ..." line on stderr with exit
status 1 (2 for usage errors), never a crash or a sanitizer report.
"""

import os
import re
import shutil
import struct
import time

import pytest

import helpers
from conftest import mmfsctl_path

USED_OFFSET = 224          # header field `used` (u64 LE), format.h
LOCK_OFFSET = 160          # header field `lock` (the arena mutex)
SANITIZER = ("AddressSanitizer", "runtime error:", "LeakSanitizer")


@pytest.fixture(scope="session")
def ctl_bin():
    path = mmfsctl_path()
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        pytest.fail(f"mmfsctl not found or not executable at {path}: build "
                    f"it or set MMFSCTL_BIN", pytrace=False)
    return path


@pytest.fixture
def ctl(ctl_bin):
    """ctl(*args, rc=0) runs mmfsctl and checks its exit status (rc=None:
    0 or 1); a failing run (1 or 2) must end with a "mmfsctl: " line."""
    def run(*args, rc=0, timeout=60):
        res = helpers.run([ctl_bin] + [str(a) for a in args], check=False,
                          timeout=timeout)
        where = f"mmfsctl {' '.join(map(str, args))}"
        for bad in SANITIZER:
            assert bad not in res.stderr, f"{where}:\n{res.stderr}"
        if rc is None and res.returncode in (0, 1):
            rc = res.returncode
        assert res.returncode == rc, \
            f"{where}: exit {res.returncode}, want {rc}\n" \
            f"stdout: {res.stdout[-3000:]}\nstderr: {res.stderr}"
        if rc == 1:
            last = res.stderr.strip("\n").splitlines()[-1:]
            assert last and last[0].startswith("mmfsctl: "), \
                f"{where}: no 'mmfsctl: ...' line on stderr: {res.stderr!r}"
        if rc == 2:
            assert res.stderr.startswith("mmfsctl: "), res.stderr
            assert "--help" in res.stderr, res.stderr
        return res
    return run


def one_line(res):
    lines = res.stderr.strip("\n").splitlines()
    assert len(lines) == 1, f"expected one line on stderr: {res.stderr!r}"
    assert lines[0].startswith("mmfsctl: ")
    return lines[0]


def stat_of(res):
    """{key: first word of the value} of `mmfsctl stat` output."""
    out = {}
    for line in res.stdout.splitlines():
        key, _, value = line.partition(":")
        out[key.strip()] = value.split()[0] if value.split() else ""
    return out


COLUMNS = ("type", "ino", "mode", "links", "size", "layout", "block",
           "bytes", "chunks")


def table(res):
    """{path or name: row} of `mmfsctl ls`/`dump` output (names are plain
    here, so the name ends at the first two-space or ' -> ' separator)."""
    lines = res.stdout.splitlines()
    assert lines and lines[0].split()[0] == "TYPE", res.stdout
    rows = {}
    for line in lines[1:]:
        fields = line.split(None, len(COLUMNS))
        row = dict(zip(COLUMNS, fields))
        rest = fields[len(COLUMNS)]
        name = re.split(r"  | -> ", rest, maxsplit=1)[0]
        extra = rest[len(name):].strip()
        row["extra"] = extra[3:] if extra.startswith("-> ") else extra
        rows[name] = row
    return rows


def write(path, data):
    with open(path, "wb") as f:
        f.write(data)


def append(path, data):
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)


def populate(m):
    """3 regular files (one with a second name), 3 directories with the
    root, 2 symlinks, 1 ring with 5 records, 1 FIFO."""
    os.mkdir(m.path("d"))
    os.mkdir(m.path("d", "e"))
    write(m.path("small"), b"hello\n")
    write(m.path("d", "big"), os.urandom(100_000))
    write(m.path("d", "e", "empty"), b"")
    os.link(m.path("small"), m.path("d", "again"))
    os.symlink("small", m.path("s1"))
    os.symlink("d/big", m.path("d", "s2"))
    for i in range(5):
        append(m.path("log.ring"), f"record {i}\n".encode())
    os.mkfifo(m.path("pipe"))


def test_stat_counts_by_mountpoint_and_by_arena(mmfs, ctl):
    m = mmfs()
    populate(m)
    for target in (m.mnt, m.arena, m.path("d", "e")):
        st = stat_of(ctl("stat", target))
        assert st["files"] == "3", (target, st)
        assert st["directories"] == "3", (target, st)
        assert st["symlinks"] == "2", (target, st)
        assert st["rings"] == "1", (target, st)
        assert st["other nodes"] == "1", (target, st)
        assert st["inodes"] == "10", (target, st)
        assert st["arena"] == m.arena
        assert st["mount point"] == m.mnt
        assert st["in use"] == "yes"
        assert st["clean"] == "no"
        assert st["problems"] == "0"
        assert st["size cap"] == str(64 * 2**20)
        assert st["format version"] == "2"
        assert 0 < int(st["used"]) < int(st["file size"]) <= 64 * 2**20
        assert int(st["used"]) + int(st["free"]) == 64 * 2**20
        assert st["fragmentation"].endswith("%")
    m.umount()
    st = stat_of(ctl("stat", m.arena))
    assert (st["clean"], st["in use"], st["mount point"]) == \
        ("yes", "no", "none")
    assert st["files"] == "3" and st["orphans"] == "0"


def test_stat_fragmentation_grows_with_holes(mmfs, ctl):
    m = mmfs()
    for i in range(200):
        write(m.path(f"f{i}"), b"x" * 3000)
    before = stat_of(ctl("stat", m.mnt))
    for i in range(0, 200, 2):
        os.unlink(m.path(f"f{i}"))
    # An unlinked inode is freed once the kernel forgets it: poll.
    after = helpers.wait_for(
        lambda: (lambda st: st if int(st["free bytes"]) >= 100 * 3000
                 else None)(stat_of(ctl("stat", m.mnt))), 5)
    assert after, stat_of(ctl("stat", m.mnt))
    assert int(after["free blocks"]) > int(before["free blocks"])
    assert float(after["fragmentation"].rstrip("%")) > \
        float(before["fragmentation"].rstrip("%"))
    assert int(after["files"]) == 100


def test_dump_lists_every_file_with_sizes(mmfs, ctl):
    m = mmfs()
    populate(m)
    rows = table(ctl("dump", m.mnt))
    walked = {"/"}
    for d, dirs, files in os.walk(m.mnt):
        for n in dirs + files:
            walked.add("/" + os.path.relpath(os.path.join(d, n), m.mnt))
    assert set(rows) == walked
    for path, row in rows.items():
        st = os.lstat(m.mnt + path)
        assert int(row["ino"]) == st.st_ino or path == "/", (path, row)
        if not path.endswith(".ring"):
            assert int(row["size"]) == st.st_size or row["type"] == "dir", \
                (path, row, st.st_size)
    assert (rows["/small"]["type"], rows["/small"]["layout"]) == \
        ("file", "small")
    assert rows["/small"]["links"] == "2"
    assert rows["/small"]["ino"] == rows["/d/again"]["ino"]
    assert rows["/d/big"]["layout"] == "chunked"
    assert rows["/d/big"]["chunks"] == "2"
    assert int(rows["/d/big"]["bytes"]) >= 100_000
    assert rows["/d/e/empty"]["layout"] == "empty"
    assert rows["/d/e/empty"]["block"] == "-"
    assert rows["/d"]["type"] == "dir" and rows["/d"]["layout"] == "dir"
    assert rows["/s1"]["type"] == "link" and rows["/s1"]["extra"] == "small"
    assert rows["/pipe"]["type"] == "fifo"
    ring = rows["/log.ring"]
    assert ring["type"] == "ring" and ring["layout"] == "ring"
    assert "records=5" in ring["extra"], ring
    assert int(ring["size"]) == os.stat(m.path("log.ring")).st_size
    assert re.search(r"capacity=\d+ head=0 tail=\d+", ring["extra"]), ring


def test_dump_values_and_ls(mmfs, ctl):
    m = mmfs()
    populate(m)
    write(m.path("quote"), b'a "b"\n\x01')
    rows = table(ctl("dump", "-v", m.arena))
    assert rows["/small"]["extra"] == 'value="hello\\n"'
    assert rows["/quote"]["extra"] == 'value="a \\"b\\"\\n\\x01"'
    assert "value=" not in rows["/d/big"]["extra"]
    # ls: one directory, by mount point, arena + PATH, or a path inside.
    top = table(ctl("ls", m.mnt))
    assert set(top) == set(os.listdir(m.mnt))
    assert set(table(ctl("ls", m.arena, "/d"))) == {"big", "e", "again",
                                                    "s2"}
    assert set(table(ctl("ls", m.path("d")))) == {"big", "e", "again",
                                                  "s2"}
    assert set(table(ctl("ls", m.path("d"), "e"))) == {"empty"}
    one = table(ctl("ls", m.arena, "/d/big"))
    assert list(one) == ["/d/big"] and one["/d/big"]["size"] == "100000"
    sub = table(ctl("dump", m.mnt, "d/e"))
    assert set(sub) == {"/d/e", "/d/e/empty"}
    line = one_line(ctl("ls", m.arena, "/nope", rc=1))
    assert "/nope" in line and "No such file" in line
    # Names are escaped: one line per entry, valid UTF-8 (decoded strictly
    # by helpers.run), UTF-8 names kept as they are.
    write(os.path.join(os.fsencode(m.mnt), b"odd\xff\tname\n"), b"")
    write(m.path("caf\u00e9"), b"")
    names = table(ctl("ls", m.mnt))
    assert "odd\\xff\\tname\\n" in names and "caf\u00e9" in names, names


def test_check_clean_and_mounted(mmfs, ctl):
    m = mmfs()
    populate(m)
    res = ctl("check", m.mnt)                  # a snapshot under the lock
    assert "consistent" in res.stdout
    line = one_line(ctl("check", "--repair", m.mnt, rc=1))
    assert "unmount it first" in line
    fd = os.open(m.path("small"), os.O_RDONLY)  # an open, unlinked file
    os.unlink(m.path("small"))
    os.unlink(m.path("d", "again"))
    ctl("check", m.arena)
    assert stat_of(ctl("stat", m.arena))["orphans"] == "1"
    os.close(fd)
    m.umount()
    res = ctl("check", m.arena)
    assert "consistent (closed cleanly)" in res.stdout
    assert "nothing to repair" in ctl("check", "-r", m.arena).stdout


def test_check_after_kill9_during_a_write_storm(mmfs, ctl):
    m = mmfs()
    d = m.path("work")
    os.mkdir(d)
    churn = helpers.spawn_worker("churn", d, 30)
    line = churn.stdout.readline().strip()
    assert line == "ready", (line, churn.stderr.read() if not line else "")
    time.sleep(0.3)
    m.kill9()
    helpers.worker_result(churn, timeout=30)
    # Not closed cleanly, not in use: traces of the interrupted operation
    # are allowed, and explained.
    res = ctl("check", m.arena, rc=None)
    if res.returncode == 1:
        assert "not closed cleanly" in res.stderr, res.stderr
        assert "--repair" in res.stderr
        one_line(res)
    st = stat_of(ctl("stat", m.arena))
    assert st["clean"] == "no" and st["in use"] == "no"
    m.remount()
    m.umount()
    ctl("check", m.arena)


def test_repair_after_kill9(mmfs, ctl):
    m = mmfs()
    d = m.path("work")
    os.mkdir(d)
    churn = helpers.spawn_worker("churn", d, 30)
    assert churn.stdout.readline().strip() == "ready"
    time.sleep(0.2)
    m.kill9(lazy_umount=False)
    helpers.worker_result(churn, timeout=30)
    # The dead mount point (ENOTCONN) still names its arena.
    st = stat_of(ctl("stat", m.mnt))
    assert st["arena"] == m.arena and st["in use"] == "no"
    helpers.run(["fusermount3", "-u", "-z", m.mnt])
    res = ctl("check", "--repair", m.arena)
    assert "repaired" in res.stdout and "consistent now" in res.stdout
    ctl("check", m.arena)
    m.remount()
    check = helpers.w_check_churn(d)
    assert not check["problems"], check["problems"]
    m.umount()
    ctl("check", m.arena)


def test_damaged_used_field_is_found_and_repaired(mmfs, ctl):
    m = mmfs()
    populate(m)
    m.umount()
    with open(m.arena, "r+b") as f:
        f.seek(USED_OFFSET)
        used = struct.unpack("<Q", f.read(8))[0]
        f.seek(USED_OFFSET)
        f.write(struct.pack("<Q", used + 4096))
    res = ctl("check", m.arena, rc=1)
    assert "1 problem" in res.stdout and "used" in res.stdout, res.stdout
    assert "damaged arena" in one_line(res)
    one_line(ctl("stat", m.arena, rc=1))
    res = ctl("check", "--repair", m.arena)
    assert "consistent now" in res.stdout
    ctl("check", m.arena)
    assert stat_of(ctl("stat", m.arena))["used"] == str(used)
    m.remount()
    assert open(m.path("small")).read() == "hello\n"
    m.umount()


def test_garbage_in_the_heap_is_reported_never_crashes(mmfs, ctl):
    m = mmfs()
    populate(m)
    for i in range(100):
        write(m.path(f"v{i}"), f"value {i}".encode())
    m.umount()
    block = int(table(ctl("dump", m.arena))["/small"]["block"])
    brk = struct.unpack("<Q", open(m.arena, "rb").read(40)[32:40])[0]
    pristine = m.arena + ".pristine"
    shutil.copy(m.arena, pristine)
    # 1. Garbage over a block header: the heap no longer tiles.
    with open(m.arena, "r+b") as f:
        f.seek(block)
        f.write(bytes(range(7, 71)))
    res = ctl("check", m.arena, rc=1)
    assert f"offset {block}" in res.stdout, res.stdout
    before = helpers.sha256_file(m.arena)
    line = one_line(ctl("check", "--repair", m.arena, rc=1))
    assert "cannot be repaired" in line
    assert helpers.sha256_file(m.arena) == before, "a refused repair wrote"
    for args in (["stat"], ["ls"], ["dump", "-v"]):
        assert "damaged arena" in one_line(ctl(*args, m.arena, rc=1))
    # 2. Garbage in the middle of the heap, wherever it lands: a report or
    # a clean bill (file bytes), never a crash.
    for off in (brk // 2, brk // 3, (2 * brk) // 3):
        shutil.copy(pristine, m.arena)
        with open(m.arena, "r+b") as f:
            f.seek(off & ~15)
            f.write(os.urandom(64))
        for args in (["check"], ["stat"], ["dump", "-v"], ["ls"]):
            ctl(*args, m.arena, rc=None)


def test_stale_arena_lock_never_hangs(mmfs, ctl):
    m = mmfs()
    populate(m)
    m.umount()
    # A lock word naming a thread that does not exist (a disk arena after
    # a power cut while the daemon held the lock): a snapshot either does
    # not need the lock (nobody serves the arena) or gives up in 15 s.
    with open("/proc/sys/kernel/pid_max") as f:
        ghost = int(f.read()) - 1
    assert not os.path.exists(f"/proc/{ghost}")
    with open(m.arena, "r+b") as f:
        f.seek(LOCK_OFFSET)
        f.write(struct.pack("<I", ghost))
    t0 = time.monotonic()
    res = ctl("stat", m.arena, rc=None, timeout=30)
    assert time.monotonic() - t0 < 20
    if res.returncode:
        assert "lock" in one_line(res)
    # Mounting initialises the lock again.
    m.remount()
    assert open(m.path("small")).read() == "hello\n"
    m.umount()
    assert stat_of(ctl("stat", m.arena))["files"] == "3"


@pytest.mark.parametrize("cmd", ["stat", "ls", "dump", "check"])
def test_foreign_truncated_missing(mmfs, ctl, tmp_path, cmd):
    m = mmfs()
    populate(m)
    m.umount()
    data = open(m.arena, "rb").read()
    cases = {
        "text": (b"not an arena\n" * 100, "not an mmfs arena"),
        "empty": (b"", "not an mmfs arena"),
        "random": (os.urandom(8192), "not an mmfs arena"),
        "cut100": (data[:100], "truncated"),
        "cut4096": (data[:4096], "truncated"),
        "half": (data[:len(data) // 2], "truncated"),
    }
    for name, (content, why) in cases.items():
        p = tmp_path / name
        p.write_bytes(content)
        line = one_line(ctl(cmd, p, rc=1))
        assert why in line, (name, line)
    assert "No such file" in one_line(ctl(cmd, tmp_path / "missing", rc=1))
    assert "not an mmfs" in one_line(ctl(cmd, tmp_path, rc=1))


def test_usage_errors(ctl):
    for args in ([], ["frob"], ["stat"], ["stat", "a", "b"], ["check"],
                 ["check", "--bogus", "x"], ["ls", "a", "b", "c"],
                 ["dump", "-q"], ["--nope"]):
        ctl(*args, rc=2)
    assert "check" in ctl("--help").stdout
    assert "0.1" in ctl("--version").stdout
    assert "dump" in ctl("check", "--help").stdout


@pytest.mark.parametrize("opts", [[], ["ro"]], ids=["rw", "ro"])
def test_stat_and_check_name_the_serving_daemon(mmfs, ctl, opts):
    """The pid mmfsctl reports is the mount.mmfs that serves the mount:
    the daemon in the background, not the process that started it and
    exited (the arena's flock, which /proc/locks names, was taken before
    the fork).  An administrator who kills the reported pid stops the
    server, never an unrelated process that got the old number."""
    m = mmfs(foreground=False)
    if opts:
        m.remount(opts=opts)
    assert helpers.pids_of(m.binary, m.mnt) == [m.pid]
    mode = "read-only" if opts else "read-write"
    line = [ln for ln in ctl("stat", m.mnt).stdout.splitlines()
            if ln.startswith("in use:")]
    assert line and line[0].split(":", 1)[1].strip() == \
        f"yes (pid {m.pid}, {mode})", line
    assert f"in use by pid {m.pid})" in ctl("check", m.arena).stdout
    m.umount()

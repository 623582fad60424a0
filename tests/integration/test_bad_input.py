"""mount.mmfs refuses what it cannot serve: with exit status 1, ONE line on
stderr, nothing mounted, and the arena file's bytes unchanged."""

import os
import shutil
import struct

import pytest

import conftest
import helpers

SIZE_CAP_OFFSET = 16       # header field size_cap (u64 LE), format.h
RING_SIZE_OFFSET = 88      # header field ring_size (u64 LE), format.h


def assert_refused(res, what=""):
    assert res.returncode != 0, f"{what}: mount.mmfs succeeded: {res}"
    assert res.returncode == 1, \
        f"{what}: exit {res.returncode}, mount.mmfs(8) documents 1"
    lines = res.stderr.strip("\n").splitlines()
    assert len(lines) == 1 and lines[0].strip(), \
        f"{what}: expected one line on stderr, got {res.stderr!r}"
    for bad in ("AddressSanitizer", "runtime error:", "LeakSanitizer"):
        assert bad not in res.stderr
    return lines[0]


@pytest.fixture
def mountpoint():
    d = helpers.run(["mktemp", "-d", "/tmp/mmfs-mnt-XXXXXX"]).stdout.strip()
    yield d
    if not helpers.mounted(d):
        os.rmdir(d)


@pytest.fixture
def real_arena(mmfs, tmp_path):
    """A genuine arena with some content, cleanly unmounted."""
    m = mmfs()
    os.mkdir(m.path("dir"))
    with open(m.path("dir", "big"), "wb") as f:
        f.write(os.urandom(300_000))
    for i in range(20):
        with open(m.path(f"v{i}"), "w") as f:
            f.write(f"value {i}\n")
    m.umount()
    return m.arena


def refuse_arena(run_mmfs, arena, mountpoint, foreground=True):
    before = helpers.sha256_file(arena)
    size_before = os.path.getsize(arena)
    args = (["-f"] if foreground else []) + ["-o", "size=64M", arena,
                                             mountpoint]
    res = run_mmfs(*args)
    line = assert_refused(res, os.path.basename(arena))
    assert os.path.getsize(arena) == size_before
    assert helpers.sha256_file(arena) == before, "the arena was modified"
    assert not helpers.mounted(mountpoint)
    return line


@pytest.mark.parametrize("foreground", [True, False], ids=["fg", "bg"])
def test_random_bytes_are_not_an_arena(run_mmfs, tmp_path, mountpoint,
                                       foreground):
    arena = tmp_path / "random.bin"
    arena.write_bytes(os.urandom(256 * 1024))
    refuse_arena(run_mmfs, arena, mountpoint, foreground)


def test_text_file_is_not_an_arena(run_mmfs, tmp_path, mountpoint):
    arena = tmp_path / "notes.txt"
    arena.write_text("These are my notes.\nNot an arena at all.\n" * 200)
    refuse_arena(run_mmfs, arena, mountpoint)


def test_short_text_file_is_not_an_arena(run_mmfs, tmp_path, mountpoint):
    arena = tmp_path / "tiny.txt"
    arena.write_text("hello\n")
    refuse_arena(run_mmfs, arena, mountpoint)


@pytest.mark.parametrize("cut", ["100", "4096", "half"])
def test_truncated_arena_is_refused(run_mmfs, real_arena, tmp_path,
                                    mountpoint, cut):
    arena = tmp_path / f"cut-{cut}.arena"
    shutil.copyfile(real_arena, arena)
    full = os.path.getsize(arena)
    n = full // 2 if cut == "half" else int(cut)
    assert n < full
    os.truncate(arena, n)
    refuse_arena(run_mmfs, arena, mountpoint)


def test_newer_format_version_is_refused(run_mmfs, real_arena, tmp_path,
                                         mountpoint):
    arena = tmp_path / "future.arena"
    shutil.copyfile(real_arena, arena)
    with open(arena, "r+b") as f:
        f.seek(8)
        assert struct.unpack("<I", f.read(4))[0] == 2
        f.seek(8)
        f.write(struct.pack("<I", 0xFFFF))
    line = refuse_arena(run_mmfs, arena, mountpoint)
    assert "version" in line.lower(), line


def test_byte_swapped_magic_is_refused(run_mmfs, real_arena, tmp_path,
                                       mountpoint):
    arena = tmp_path / "swapped.arena"
    shutil.copyfile(real_arena, arena)
    with open(arena, "r+b") as f:
        magic = f.read(8)
        assert magic == b"MMFSarn1", magic
        f.seek(0)
        f.write(magic[::-1])      # the arena of a big-endian machine
    refuse_arena(run_mmfs, arena, mountpoint)


def test_the_real_arena_still_mounts(mmfs, real_arena):
    # The control for the tests above: the untouched copy is served.
    m = mmfs(arena=real_arena)
    assert sorted(os.listdir(m.mnt))[:2] == ["dir", "v0"]
    assert open(m.path("v7")).read() == "value 7\n"


def test_arena_that_is_a_directory(run_mmfs, tmp_path, mountpoint):
    d = tmp_path / "adir"
    d.mkdir()
    assert_refused(run_mmfs("-f", "-o", "size=64M", d, mountpoint))


def test_arena_symlink_is_not_followed(run_mmfs, tmp_path, mountpoint):
    target = tmp_path / "target.arena"
    link = tmp_path / "link.arena"
    link.symlink_to(target)
    assert_refused(run_mmfs("-f", "-o", "size=64M", link, mountpoint))
    assert not target.exists(), "mount.mmfs followed the symlink"


def test_missing_mountpoint(run_mmfs, tmp_path):
    missing = tmp_path / "no" / "such" / "dir"
    res = run_mmfs("-f", "-o", "size=64M", tmp_path / "a.arena", missing)
    assert_refused(res, "missing mount point")


def test_mountpoint_that_is_a_file(run_mmfs, tmp_path):
    f = tmp_path / "plainfile"
    f.write_text("x")
    res = run_mmfs("-f", "-o", "size=64M", tmp_path / "a.arena", f)
    assert_refused(res, "file as mount point")
    assert f.read_text() == "x"


@pytest.mark.parametrize("opt", [
    "bogus", "nosuchoption=1", "max_files=abc", "ring_size=zz",
])
def test_bad_option(run_mmfs, tmp_path, mountpoint, opt):
    res = run_mmfs("-f", "-o", f"size=64M,{opt}", tmp_path / "a.arena",
                   mountpoint)
    assert_refused(res, opt)


@pytest.mark.parametrize("value", [
    "abc", "12X", "", "-5", "1.5.5M", "99999999999999999999G", "10MM",
])
def test_bad_size_value(run_mmfs, tmp_path, mountpoint, value):
    arena = tmp_path / "a.arena"
    res = run_mmfs("-f", "-o", f"size={value}", arena, mountpoint)
    assert_refused(res, f"size={value!r}")


def test_unknown_command_line_flag(run_mmfs, tmp_path, mountpoint):
    res = run_mmfs("--frobnicate", "-f", tmp_path / "a.arena", mountpoint)
    assert res.returncode != 0


def test_no_arguments(run_mmfs):
    res = run_mmfs()
    assert res.returncode != 0
    assert res.stderr.strip(), "no message for a missing mount point"


@pytest.mark.parametrize("value", ["1", "63", "2G", "2147483648", "3T"])
def test_ring_size_that_is_no_ring_capacity_is_refused(run_mmfs, tmp_path,
                                                      mountpoint, value):
    """Ring capacities are 64 bytes to 2 GiB - 1: a mount with another
    ring_size= could create no ring (every create failed with EINVAL)."""
    arena = tmp_path / "a.arena"
    res = run_mmfs("-f", "-o", f"size=64M,ring_size={value}", arena,
                   mountpoint)
    line = assert_refused(res, f"ring_size={value}")
    assert f"ring_size={value}" in line, line
    assert not arena.exists(), "a refused mount created the arena"


@pytest.mark.parametrize("recorded", [1, 63, 2**31, 2**64 - 1])
def test_recorded_ring_size_that_is_no_ring_capacity(run_mmfs, mmfs,
                                                     real_arena, tmp_path,
                                                     mountpoint, recorded):
    """A hostile header's ring_size: mmfsctl check reports it, mount
    refuses it (naming the way out) and leaves the arena as it was, and
    -o ring_size= replaces it."""
    arena = tmp_path / "hostile.arena"
    shutil.copyfile(real_arena, arena)
    with open(arena, "r+b") as f:
        f.seek(RING_SIZE_OFFSET)
        assert struct.unpack("<Q", f.read(8))[0] == 1 << 20
        f.seek(RING_SIZE_OFFSET)
        f.write(struct.pack("<Q", recorded))
    check = helpers.run([conftest.mmfsctl_path(), "check", str(arena)],
                        check=False)
    assert check.returncode == 1 and "ring_size" in check.stdout, check
    line = refuse_arena(run_mmfs, arena, mountpoint)
    assert "ring_size" in line, line
    m = mmfs(arena=arena, opts=["ring_size=64K"])
    with open(m.path("log.ring"), "w") as f:
        f.write("a record\n")
    assert os.getxattr(m.path("log.ring"), "user.mmfs.capacity") == b"65536"
    m.umount()
    helpers.run([conftest.mmfsctl_path(), "check", str(arena)])


def test_size_cap_too_large_to_map(run_mmfs, mmfs, real_arena, tmp_path,
                                   mountpoint):
    """A hostile header's size cap of 2^62 bytes: the daemon maps the whole
    cap, so no mount could serve it.  mmfsctl check reports it; mount
    refuses it with the reason (the arena as it was), even read-only;
    a read-write mount with size= lowers it, and then it is served."""
    arena = tmp_path / "huge-cap.arena"
    shutil.copyfile(real_arena, arena)
    with open(arena, "r+b") as f:
        f.seek(SIZE_CAP_OFFSET)
        assert struct.unpack("<Q", f.read(8))[0] == 64 << 20
        f.seek(SIZE_CAP_OFFSET)
        f.write(struct.pack("<Q", 1 << 62))
    ctl = conftest.mmfsctl_path()
    check = helpers.run([ctl, "check", str(arena)], check=False)
    assert check.returncode == 1, check
    assert "size cap 4611686018427387904" in check.stdout, check.stdout
    before = helpers.sha256_file(arena)
    for opts in ([], ["-o", "ro"], ["-o", "ro,size=8M"]):
        line = assert_refused(run_mmfs("-f", *opts, arena, mountpoint),
                              f"size cap 2^62, {opts}")
        assert "size cap" in line and "-o size=" in line, line
        assert helpers.sha256_file(arena) == before
    m = mmfs(arena=arena, size="8M")
    st = os.statvfs(m.mnt)
    assert st.f_blocks * st.f_frsize == 8 << 20
    assert open(m.path("v7")).read() == "value 7\n"
    m.umount()
    assert "consistent" in helpers.run([ctl, "check", str(arena)]).stdout


def test_remount_of_what_is_no_mmfs_mount(mmfs_bin, mmfs, tmp_path,
                                          mountpoint):
    """-o remount on a directory that is no mount point, on another file
    system's mount point, or naming an arena the mount does not serve:
    one line, nothing changed."""
    def remount(*args):
        return helpers.run([mmfs_bin, "-o", "remount,ro"] +
                           [str(a) for a in args], check=False)

    line = assert_refused(remount(mountpoint))
    assert "not an mmfs mount point" in line, line
    before = helpers.mount_entry("/dev/shm")
    line = assert_refused(remount("/dev/shm"))
    assert "not an mmfs mount point" in line, line
    assert helpers.mount_entry("/dev/shm") == before
    m = mmfs()
    line = assert_refused(remount(tmp_path / "other", m.mnt))
    assert f"serves {m.arena}" in line, line
    assert "rw" in helpers.mount_entry(m.mnt)[3].split(",")


def test_kernel_options_only_in_a_remount(run_mmfs, tmp_path, mountpoint):
    """user_id= and group_id= are what the kernel shows of a mount:
    accepted when mount(8) copies them into a remount, refused in a
    mount."""
    res = run_mmfs("-f", "-o", "size=16M,user_id=0", tmp_path / "a.arena",
                   mountpoint)
    assert "user_id=0" in assert_refused(res)
    assert not (tmp_path / "a.arena").exists()

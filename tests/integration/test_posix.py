"""POSIX file-system behaviour, driven through real tools (coreutils, attr)
and Python: data at any offset, holes, truncate, rename in all its forms,
unlink-while-open, directories, links, attributes, xattrs, statfs, readdir
under change, and the documented limits."""

import errno
import os
import random
import stat
import subprocess
import time

import pytest

import helpers
from helpers import run, renameat2, RENAME_EXCHANGE, RENAME_NOREPLACE


def read(p):
    with open(p, "rb") as f:
        return f.read()


def write(p, data, mode="wb"):
    with open(p, mode) as f:
        f.write(data)


def raises_errno(code, fn, *args, **kw):
    with pytest.raises(OSError) as ei:
        fn(*args, **kw)
    assert ei.value.errno == code, \
        f"expected {errno.errorcode[code]}, got {ei.value!r}"


# --- data -------------------------------------------------------------------


def test_echo_cat_variable(mnt):
    d = os.path.join(mnt, "app")
    run(["mkdir", "-p", d])
    run(["sh", "-c", f"echo 42 > {d}/counter"])
    assert run(["cat", f"{d}/counter"]).stdout == "42\n"
    run(["sh", "-c", f"echo 43 > {d}/counter"])
    assert run(["cat", f"{d}/counter"]).stdout == "43\n"
    run(["sh", "-c", f"echo more >> {d}/counter"])
    assert read(f"{d}/counter") == b"43\nmore\n"


@pytest.mark.parametrize("size", [0, 1, 4095, 32 * 1024, 32 * 1024 + 1,
                                  64 * 1024, 3 * 2**20 + 12345])
def test_cp_roundtrip(mnt, tmp_path, size):
    src = tmp_path / "src"
    src.write_bytes(os.urandom(size))
    run(["cp", src, f"{mnt}/copy"])
    assert os.path.getsize(f"{mnt}/copy") == size
    run(["cmp", src, f"{mnt}/copy"])
    run(["cp", f"{mnt}/copy", tmp_path / "back"])
    assert helpers.sha256_file(tmp_path / "back") == helpers.sha256_file(src)


def test_write_at_offsets_and_holes_read_as_zeros(mnt):
    p = f"{mnt}/sparse"
    fd = os.open(p, os.O_WRONLY | os.O_CREAT, 0o644)
    os.pwrite(fd, b"head", 0)
    os.pwrite(fd, b"mid", 10_000)            # small-file hole
    os.pwrite(fd, b"tail", 5 * 2**20 + 3)    # large-file hole across chunks
    os.close(fd)
    data = read(p)
    assert len(data) == 5 * 2**20 + 7
    assert data[:4] == b"head"
    assert data[4:10_000] == bytes(10_000 - 4)
    assert data[10_000:10_003] == b"mid"
    assert data[10_003:5 * 2**20 + 3] == bytes(5 * 2**20 + 3 - 10_003)
    assert data[-4:] == b"tail"
    # dd seek: the same through a tool.
    q = f"{mnt}/dd"
    run(["dd", "if=/dev/zero", f"of={q}", "bs=1", "count=0", "seek=0",
         "status=none"])
    run(["sh", "-c", f"printf XYZ | dd of={q} bs=1 seek=200000 "
                     f"conv=notrunc status=none"])
    assert os.path.getsize(q) == 200_003
    d = read(q)
    assert d[:200_000] == bytes(200_000) and d[200_000:] == b"XYZ"


def test_overwrite_across_chunk_boundaries(mnt):
    p = f"{mnt}/f"
    base = bytearray(os.urandom(300_000))
    write(p, bytes(base))
    fd = os.open(p, os.O_WRONLY)
    for off, n in [(65530, 20), (0, 1), (131072 - 1, 2), (299_990, 10),
                   (299_995, 100), (40_000, 100_000)]:
        patch = os.urandom(n)
        assert os.pwrite(fd, patch, off) == n
        end = off + n
        if end > len(base):
            base.extend(bytes(end - len(base)))
        base[off:end] = patch
    os.close(fd)
    assert read(p) == bytes(base)


def test_random_io_matches_a_model(mnt, tmpfs_dir):
    """300 random pwrite/truncate/read operations, through O_WRONLY,
    O_RDWR and O_RDONLY descriptors, on mmfs and on tmpfs: the contents
    must agree after every step."""
    rng = random.Random(1234)
    a, b = f"{mnt}/model", f"{tmpfs_dir}/model"
    for p in (a, b):
        open(p, "wb").close()
    for step in range(300):
        op = rng.random()
        if op < 0.6:
            off = rng.choice([0, rng.randrange(0, 70_000),
                              rng.randrange(0, 1_200_000)])
            n = rng.choice([1, rng.randrange(1, 5000),
                            rng.randrange(1, 200_000)])
            data = rng.randbytes(n)
            flags = rng.choice([os.O_WRONLY, os.O_RDWR])
            for p in (a, b):
                fd = os.open(p, flags)
                assert os.pwrite(fd, data, off) == n
                os.close(fd)
        elif op < 0.8:
            size = rng.choice([0, rng.randrange(0, 40_000),
                               rng.randrange(0, 1_500_000)])
            for p in (a, b):
                if rng.random() < 0.5:
                    os.truncate(p, size)
                else:
                    fd = os.open(p, os.O_RDWR)
                    os.ftruncate(fd, size)
                    os.close(fd)
        else:
            off = rng.randrange(0, 1_300_000)
            n = rng.randrange(1, 300_000)
            got = []
            for p in (a, b):
                fd = os.open(p, rng.choice([os.O_RDONLY, os.O_RDWR]))
                got.append(os.pread(fd, n, off))
                os.close(fd)
            assert got[0] == got[1], f"step {step}: pread({n}, {off}) differs"
        if step % 25 == 0 or step == 299:
            assert os.path.getsize(a) == os.path.getsize(b), f"step {step}"
            assert read(a) == read(b), f"step {step}: contents differ"


def test_truncate_shrink_and_extend(mnt):
    p = f"{mnt}/t"
    data = os.urandom(200_000)
    write(p, data)
    run(["truncate", "-s", "100000", p])
    assert read(p) == data[:100_000]
    run(["truncate", "-s", "150000", p])
    assert read(p) == data[:100_000] + bytes(50_000)
    fd = os.open(p, os.O_RDWR)
    os.ftruncate(fd, 10)
    assert os.fstat(fd).st_size == 10
    os.ftruncate(fd, 20)
    os.close(fd)
    assert read(p) == data[:10] + bytes(10)
    run(["truncate", "-s", "0", p])
    assert read(p) == b""
    # Shrink then write past the end: the gap is zeros, not old bytes.
    write(p, b"x" * 50_000)
    os.truncate(p, 5)
    fd = os.open(p, os.O_WRONLY)
    os.pwrite(fd, b"y", 40_000)
    os.close(fd)
    assert read(p) == b"xxxxx" + bytes(40_000 - 5) + b"y"


def test_efbig_for_absurd_offsets(mnt):
    p = f"{mnt}/big"
    write(p, b"small")
    for flags in (os.O_WRONLY, os.O_RDWR):
        fd = os.open(p, flags)
        try:
            raises_errno(errno.EFBIG, os.pwrite, fd, b"x", 2**50)
            raises_errno(errno.EFBIG, os.pwrite, fd, b"x", 2**40 + 1)
        finally:
            os.close(fd)
    assert read(p) == b"small"
    raises_errno(errno.EFBIG, os.truncate, p, 2**50)
    assert read(p) == b"small"
    r = run(["truncate", "-s", "2P", p], check=False)
    assert r.returncode != 0
    assert os.path.getsize(p) == 5


def test_mtime_and_ctime_follow_writes(mnt):
    p = f"{mnt}/m"
    write(p, b"1")
    os.utime(p, ns=(10**18, 10**18))       # September 2001
    before = os.stat(p)
    time.sleep(0.01)
    write(p, b"2")
    after = os.stat(p)
    assert after.st_mtime_ns != before.st_mtime_ns
    assert abs(after.st_mtime - time.time()) < 60
    assert after.st_ctime_ns >= before.st_ctime_ns


def test_fsync_and_fdatasync(mnt):
    fd = os.open(f"{mnt}/s", os.O_WRONLY | os.O_CREAT, 0o644)
    os.write(fd, b"synced")
    os.fsync(fd)
    os.fdatasync(fd)
    os.close(fd)
    run(["sync", "-f", f"{mnt}/s"])
    assert read(f"{mnt}/s") == b"synced"


# --- names ------------------------------------------------------------------


def test_mkdir_rmdir_nested(mnt):
    run(["mkdir", "-p", f"{mnt}/a/b/c/d"])
    write(f"{mnt}/a/b/c/d/leaf", b"leaf")
    assert read(f"{mnt}/a/b/c/d/leaf") == b"leaf"
    raises_errno(errno.EEXIST, os.mkdir, f"{mnt}/a/b")
    raises_errno(errno.ENOTEMPTY, os.rmdir, f"{mnt}/a/b/c/d")
    raises_errno(errno.ENOTDIR, os.mkdir, f"{mnt}/a/b/c/d/leaf/x")
    raises_errno(errno.ENOENT, os.mkdir, f"{mnt}/nope/x")
    raises_errno(errno.ENOTDIR, os.rmdir, f"{mnt}/a/b/c/d/leaf")
    raises_errno(errno.EISDIR, os.unlink, f"{mnt}/a/b")
    os.unlink(f"{mnt}/a/b/c/d/leaf")
    run(["rmdir", "-p", f"{mnt}/a/b/c/d"], check=False)
    assert os.listdir(mnt) == []
    assert stat.S_ISDIR(os.stat(mnt).st_mode)


def test_rm_rf_a_tree(mnt):
    for i in range(5):
        run(["mkdir", "-p", f"{mnt}/t/d{i}/e"])
        for j in range(20):
            write(f"{mnt}/t/d{i}/e/f{j}", b"x" * j * 100)
        os.symlink("e", f"{mnt}/t/d{i}/link")
    r = run(["du", "-sb", f"{mnt}/t"])
    assert int(r.stdout.split()[0]) > 0
    run(["rm", "-rf", f"{mnt}/t"])
    assert os.listdir(mnt) == []


def test_name_length_limit(mnt):
    ok = "n" * 255
    long = "n" * 256
    write(f"{mnt}/{ok}", b"ok")
    assert os.listdir(mnt) == [ok]
    assert read(f"{mnt}/{ok}") == b"ok"
    raises_errno(errno.ENAMETOOLONG, open, f"{mnt}/{long}", "wb")
    raises_errno(errno.ENAMETOOLONG, os.stat, f"{mnt}/{long}")
    raises_errno(errno.ENAMETOOLONG, os.mkdir, f"{mnt}/{long}")
    raises_errno(errno.ENAMETOOLONG, os.symlink, "x", f"{mnt}/{long}")
    raises_errno(errno.ENAMETOOLONG, os.link, f"{mnt}/{ok}", f"{mnt}/{long}")
    raises_errno(errno.ENAMETOOLONG, os.rename, f"{mnt}/{ok}",
                 f"{mnt}/{long}")
    # Multi-byte names count bytes: 128 two-byte characters is 256 bytes.
    raises_errno(errno.ENAMETOOLONG, open, f"{mnt}/{'é' * 128}", "wb")
    write(f"{mnt}/{'é' * 127}", b"")
    assert sorted(os.listdir(mnt)) == sorted([ok, "é" * 127])
    assert os.statvfs(mnt).f_namemax == 255


def test_odd_names(mnt):
    names = ["with space", "tab\there", "new\nline", "ünïcödé", "-dash",
             ".hidden", "..dots", "a" * 200, "x:y;z|&$`'\"", "\x01ctl"]
    for n in names:
        write(f"{mnt}/{n}", n.encode())
    assert sorted(os.listdir(mnt)) == sorted(names)
    for n in names:
        assert read(f"{mnt}/{n}") == n.encode()
    raises_errno(errno.ENOENT, os.stat, f"{mnt}/WITH SPACE")   # exact match


def test_rename_over_existing_file(mnt):
    write(f"{mnt}/src", b"new value")
    write(f"{mnt}/dst", b"old value")
    ino = os.stat(f"{mnt}/src").st_ino
    run(["mv", f"{mnt}/src", f"{mnt}/dst"])
    assert os.listdir(mnt) == ["dst"]
    assert read(f"{mnt}/dst") == b"new value"
    assert os.stat(f"{mnt}/dst").st_ino == ino


def test_rename_across_directories(mnt):
    os.makedirs(f"{mnt}/a/deep")
    os.mkdir(f"{mnt}/b")
    write(f"{mnt}/a/deep/f", b"payload")
    os.rename(f"{mnt}/a/deep/f", f"{mnt}/b/g")
    assert os.listdir(f"{mnt}/a/deep") == []
    assert read(f"{mnt}/b/g") == b"payload"
    # A whole directory moves with its contents.
    write(f"{mnt}/a/deep/h", b"h")
    run(["mv", f"{mnt}/a/deep", f"{mnt}/b/deep2"])
    assert os.listdir(f"{mnt}/a") == []
    assert read(f"{mnt}/b/deep2/h") == b"h"
    assert os.stat(f"{mnt}/b/deep2/..").st_ino == os.stat(f"{mnt}/b").st_ino


def test_rename_errors(mnt):
    os.makedirs(f"{mnt}/d/sub")
    os.mkdir(f"{mnt}/empty")
    write(f"{mnt}/f", b"f")
    raises_errno(errno.EISDIR, os.rename, f"{mnt}/f", f"{mnt}/empty")
    raises_errno(errno.ENOTDIR, os.rename, f"{mnt}/empty", f"{mnt}/f")
    raises_errno(errno.ENOTEMPTY, os.rename, f"{mnt}/empty", f"{mnt}/d")
    raises_errno(errno.EINVAL, os.rename, f"{mnt}/d", f"{mnt}/d/sub/x")
    raises_errno(errno.ENOENT, os.rename, f"{mnt}/missing", f"{mnt}/x")
    # A directory may replace an empty one.
    os.rename(f"{mnt}/d", f"{mnt}/empty")
    assert sorted(os.listdir(mnt)) == ["empty", "f"]
    assert os.listdir(f"{mnt}/empty") == ["sub"]
    # Renaming onto itself (or onto another link of itself) is a no-op.
    os.rename(f"{mnt}/f", f"{mnt}/f")
    os.link(f"{mnt}/f", f"{mnt}/f2")
    os.rename(f"{mnt}/f", f"{mnt}/f2")
    assert sorted(os.listdir(mnt)) == ["empty", "f", "f2"]


def test_renameat2_noreplace(mnt):
    write(f"{mnt}/a", b"A")
    write(f"{mnt}/b", b"B")
    raises_errno(errno.EEXIST, renameat2, f"{mnt}/a", f"{mnt}/b",
                 RENAME_NOREPLACE)
    assert read(f"{mnt}/a") == b"A" and read(f"{mnt}/b") == b"B"
    renameat2(f"{mnt}/a", f"{mnt}/c", RENAME_NOREPLACE)
    assert sorted(os.listdir(mnt)) == ["b", "c"]
    assert read(f"{mnt}/c") == b"A"
    run(["mv", "--no-clobber", f"{mnt}/c", f"{mnt}/b"], check=False)
    assert read(f"{mnt}/b") == b"B"


def test_renameat2_exchange(mnt):
    os.mkdir(f"{mnt}/d1")
    os.mkdir(f"{mnt}/d2")
    write(f"{mnt}/d1/x", b"one")
    write(f"{mnt}/d2/y", b"two")
    ix, iy = os.stat(f"{mnt}/d1/x").st_ino, os.stat(f"{mnt}/d2/y").st_ino
    renameat2(f"{mnt}/d1/x", f"{mnt}/d2/y", RENAME_EXCHANGE)
    assert read(f"{mnt}/d1/x") == b"two" and read(f"{mnt}/d2/y") == b"one"
    assert os.stat(f"{mnt}/d1/x").st_ino == iy
    assert os.stat(f"{mnt}/d2/y").st_ino == ix
    # A file and a directory trade places.
    os.mkdir(f"{mnt}/d1/sub")
    write(f"{mnt}/d1/sub/inner", b"in")
    renameat2(f"{mnt}/d1/sub", f"{mnt}/d2/y", RENAME_EXCHANGE)
    assert read(f"{mnt}/d1/sub") == b"one"
    assert read(f"{mnt}/d2/y/inner") == b"in"
    raises_errno(errno.ENOENT, renameat2, f"{mnt}/d1/sub", f"{mnt}/nope",
                 RENAME_EXCHANGE)


def test_rename_over_an_open_file_keeps_it_readable(mnt):
    write(f"{mnt}/victim", b"old contents")
    write(f"{mnt}/new", b"new contents")
    fd = os.open(f"{mnt}/victim", os.O_RDONLY)
    os.rename(f"{mnt}/new", f"{mnt}/victim")
    assert os.pread(fd, 100, 0) == b"old contents"
    os.close(fd)
    assert read(f"{mnt}/victim") == b"new contents"


@pytest.mark.parametrize("flags", [os.O_RDONLY, os.O_RDWR],
                         ids=["rdonly", "rdwr"])
def test_unlinked_file_stays_usable_until_last_close(mnt, flags):
    data = os.urandom(100_000)
    write(f"{mnt}/tmpfile", data)
    fd = os.open(f"{mnt}/tmpfile", flags)
    fd2 = os.open(f"{mnt}/tmpfile", os.O_RDONLY)
    run(["rm", f"{mnt}/tmpfile"])
    assert os.listdir(mnt) == []
    raises_errno(errno.ENOENT, os.stat, f"{mnt}/tmpfile")
    assert os.fstat(fd).st_nlink == 0
    assert os.pread(fd, 200_000, 0) == data
    if flags == os.O_RDWR:
        os.pwrite(fd, b"still writable", 0)
        assert os.pread(fd2, 14, 0) == b"still writable"
    os.close(fd)
    assert os.pread(fd2, 10, 99_990) == data[-10:]
    # A new file of the same name is a different file.
    write(f"{mnt}/tmpfile", b"other")
    assert os.pread(fd2, 5, 0) != b"other"
    os.close(fd2)
    assert read(f"{mnt}/tmpfile") == b"other"


def test_symlinks(mnt):
    os.mkdir(f"{mnt}/dir")
    write(f"{mnt}/dir/target", b"through the link")
    run(["ln", "-s", "dir/target", f"{mnt}/rel"])
    run(["ln", "-s", f"{mnt}/dir", f"{mnt}/abs"])
    run(["ln", "-s", "nowhere", f"{mnt}/dangling"])
    assert os.readlink(f"{mnt}/rel") == "dir/target"
    assert run(["readlink", f"{mnt}/abs"]).stdout.strip() == f"{mnt}/dir"
    assert read(f"{mnt}/rel") == b"through the link"
    assert read(f"{mnt}/abs/target") == b"through the link"
    assert stat.S_ISLNK(os.lstat(f"{mnt}/rel").st_mode)
    assert os.lstat(f"{mnt}/rel").st_size == len("dir/target")
    assert run(["stat", "-c", "%F", f"{mnt}/dangling"]).stdout.strip() \
        == "symbolic link"
    raises_errno(errno.ENOENT, os.stat, f"{mnt}/dangling")
    long_target = "t" * 4095
    os.symlink(long_target, f"{mnt}/long")
    assert os.readlink(f"{mnt}/long") == long_target
    raises_errno(errno.ENAMETOOLONG, os.symlink, "t" * 4096, f"{mnt}/toolong")
    # Writing through a link writes the target.
    run(["sh", "-c", f"echo via > {mnt}/rel"])
    assert read(f"{mnt}/dir/target") == b"via\n"
    os.unlink(f"{mnt}/rel")
    assert read(f"{mnt}/dir/target") == b"via\n"


def test_hard_links(mnt):
    write(f"{mnt}/a", b"shared")
    os.mkdir(f"{mnt}/sub")
    run(["ln", f"{mnt}/a", f"{mnt}/sub/b"])
    sa, sb = os.stat(f"{mnt}/a"), os.stat(f"{mnt}/sub/b")
    assert sa.st_ino == sb.st_ino
    assert sa.st_nlink == sb.st_nlink == 2
    assert run(["stat", "-c", "%h", f"{mnt}/a"]).stdout.strip() == "2"
    fd = os.open(f"{mnt}/sub/b", os.O_WRONLY)
    os.pwrite(fd, b"SH", 0)
    os.close(fd)
    assert read(f"{mnt}/a") == b"SHared"
    os.chmod(f"{mnt}/a", 0o600)
    assert stat.S_IMODE(os.stat(f"{mnt}/sub/b").st_mode) == 0o600
    os.unlink(f"{mnt}/a")
    assert os.stat(f"{mnt}/sub/b").st_nlink == 1
    assert read(f"{mnt}/sub/b") == b"SHared"
    raises_errno(errno.EPERM, os.link, f"{mnt}/sub", f"{mnt}/sub2")
    raises_errno(errno.EEXIST, os.link, f"{mnt}/sub/b", f"{mnt}/sub/b")


def test_special_files(mnt):
    os.mkfifo(f"{mnt}/fifo")
    assert stat.S_ISFIFO(os.lstat(f"{mnt}/fifo").st_mode)
    os.mknod(f"{mnt}/null", 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    st = os.lstat(f"{mnt}/null")
    assert stat.S_ISCHR(st.st_mode) and st.st_rdev == os.makedev(1, 3)


def test_chmod_chown(mnt):
    write(f"{mnt}/f", b"x")
    os.mkdir(f"{mnt}/d")
    for mode in ("640", "4755", "0", "777", "1777"):
        run(["chmod", mode, f"{mnt}/f"])
        shown = run(["stat", "-c", "%a", f"{mnt}/f"]).stdout.strip()
        assert int(shown, 8) == int(mode, 8)
        assert stat.S_IMODE(os.stat(f"{mnt}/f").st_mode) == int(mode, 8)
    assert stat.S_ISREG(os.stat(f"{mnt}/f").st_mode)
    run(["chmod", "700", f"{mnt}/d"])
    assert stat.S_IMODE(os.stat(f"{mnt}/d").st_mode) == 0o700
    assert stat.S_ISDIR(os.stat(f"{mnt}/d").st_mode)
    ctime = os.stat(f"{mnt}/f").st_ctime_ns
    time.sleep(0.01)
    run(["chown", "1234:5678", f"{mnt}/f"])
    st = os.stat(f"{mnt}/f")
    assert (st.st_uid, st.st_gid) == (1234, 5678)
    assert st.st_ctime_ns > ctime
    os.chown(f"{mnt}/f", -1, 42)
    st = os.stat(f"{mnt}/f")
    assert (st.st_uid, st.st_gid) == (1234, 42)
    os.symlink("f", f"{mnt}/l")
    os.lchown(f"{mnt}/l", 7, 8)
    assert (os.lstat(f"{mnt}/l").st_uid, os.lstat(f"{mnt}/l").st_gid) == (7, 8)
    assert os.stat(f"{mnt}/f").st_uid == 1234
    # New files belong to the creator.
    write(f"{mnt}/mine", b"")
    assert (os.stat(f"{mnt}/mine").st_uid, os.stat(f"{mnt}/mine").st_gid) \
        == (os.getuid(), os.getgid())


def test_utimens(mnt):
    p = f"{mnt}/t"
    write(p, b"x")
    os.utime(p, ns=(1_000_000_001_123_456_789, 1_500_000_000_987_654_321))
    st = os.stat(p)
    assert st.st_atime_ns == 1_000_000_001_123_456_789
    assert st.st_mtime_ns == 1_500_000_000_987_654_321
    run(["touch", "-m", "-d", "2001-02-03 04:05:06.123456789 UTC", p])
    assert run(["stat", "-c", "%.9Y", p]).stdout.strip() \
        == "981173106.123456789"
    assert os.stat(p).st_atime_ns == 1_000_000_001_123_456_789   # omitted
    run(["touch", "-a", p])                                      # UTIME_NOW
    st = os.stat(p)
    assert abs(st.st_atime - time.time()) < 60
    assert st.st_mtime_ns == 981173106_123456789
    run(["touch", p])
    assert abs(os.stat(p).st_mtime - time.time()) < 60
    os.mkdir(f"{mnt}/d")
    os.utime(f"{mnt}/d", ns=(5, 6))
    assert os.stat(f"{mnt}/d").st_mtime_ns == 6
    os.symlink("t", f"{mnt}/l")
    os.utime(f"{mnt}/l", ns=(7, 8), follow_symlinks=False)
    assert os.lstat(f"{mnt}/l").st_mtime_ns == 8
    assert os.stat(p).st_mtime_ns != 8


def test_directory_times_change_with_entries(mnt):
    os.mkdir(f"{mnt}/d")
    os.utime(f"{mnt}/d", ns=(0, 0))
    write(f"{mnt}/d/new", b"")
    assert os.stat(f"{mnt}/d").st_mtime_ns != 0
    os.utime(f"{mnt}/d", ns=(0, 0))
    os.unlink(f"{mnt}/d/new")
    assert os.stat(f"{mnt}/d").st_mtime_ns != 0


def test_stat_sizes_and_blocks(mnt):
    write(f"{mnt}/f", os.urandom(100_000))
    st = os.stat(f"{mnt}/f")
    assert st.st_size == 100_000
    assert st.st_blocks * 512 >= 100_000, st
    assert st.st_blocks * 512 < 100_000 + 200_000, st
    write(f"{mnt}/tiny", b"0123456789")
    assert os.stat(f"{mnt}/tiny").st_blocks * 512 < 4096
    # Inode numbers are distinct.
    inos = {os.stat(f"{mnt}/{n}").st_ino for n in ("f", "tiny", ".")}
    assert len(inos) == 3


# --- xattrs -------------------------------------------------------------------


def test_xattrs_with_attr_tools(mnt):
    p = f"{mnt}/f"
    write(p, b"x")
    run(["setfattr", "-n", "user.color", "-v", "blue", p])
    run(["setfattr", "-n", "user.empty", p])
    r = run(["getfattr", "--only-values", "-n", "user.color", p])
    assert r.stdout == "blue"
    r = run(["getfattr", "-d", "--absolute-names", p])
    assert 'user.color="blue"' in r.stdout and "user.empty" in r.stdout
    run(["setfattr", "-n", "user.color", "-v", "red", p])
    assert os.getxattr(p, "user.color") == b"red"
    run(["setfattr", "-x", "user.color", p])
    assert os.listxattr(p) == ["user.empty"]
    r = run(["getfattr", "-n", "user.color", p], check=False)
    assert r.returncode != 0 and "No such attribute" in r.stderr


def test_xattr_semantics(mnt):
    p = f"{mnt}/f"
    write(p, b"x")
    os.mkdir(f"{mnt}/d")
    value = os.urandom(4000)
    os.setxattr(p, "user.bin", value)
    assert os.getxattr(p, "user.bin") == value
    raises_errno(errno.ENODATA, os.getxattr, p, "user.none")
    raises_errno(errno.ENODATA, os.removexattr, p, "user.none")
    raises_errno(errno.EEXIST, os.setxattr, p, "user.bin", b"v",
                 os.XATTR_CREATE)
    raises_errno(errno.ENODATA, os.setxattr, p, "user.new", b"v",
                 os.XATTR_REPLACE)
    os.setxattr(p, "user.bin", b"replaced", os.XATTR_REPLACE)
    assert os.getxattr(p, "user.bin") == b"replaced"
    os.setxattr(f"{mnt}/d", "user.dir", b"on a directory")
    assert os.getxattr(f"{mnt}/d", "user.dir") == b"on a directory"
    # Many attributes, listed completely.
    names = {f"user.k{i:03d}": f"v{i}".encode() for i in range(50)}
    for k, v in names.items():
        os.setxattr(p, k, v)
    assert sorted(os.listxattr(p)) == sorted(list(names) + ["user.bin"])
    for k, v in names.items():
        assert os.getxattr(p, k) == v
    # Changing data leaves xattrs alone, and xattrs leave data alone.
    write(p, b"new data")
    assert os.getxattr(p, "user.k007") == b"v7"
    assert read(p) == b"new data"
    # They follow the inode through renames and hard links.
    os.rename(p, f"{mnt}/g")
    os.link(f"{mnt}/g", f"{mnt}/h")
    assert os.getxattr(f"{mnt}/h", "user.bin") == b"replaced"
    # system.* (ACLs) are not supported.
    with pytest.raises(OSError) as ei:
        os.setxattr(f"{mnt}/g", "system.posix_acl_access", b"\x02\0\0\0")
    assert ei.value.errno in (errno.EOPNOTSUPP, errno.EINVAL), ei.value


def test_xattr_limits(mnt):
    p = f"{mnt}/f"
    write(p, b"")
    big = os.urandom(60_000)
    os.setxattr(p, "user.big", big)
    assert os.getxattr(p, "user.big") == big
    raises_errno(errno.E2BIG, os.setxattr, p, "user.huge", bytes(65_537))
    os.removexattr(p, "user.big")
    # The per-file total (256 KiB) and name list (64 KiB) are enforced.
    with pytest.raises(OSError) as ei:
        for i in range(20):
            os.setxattr(p, f"user.part{i}", bytes(20_000))
    assert ei.value.errno == errno.ENOSPC, ei.value
    assert len(os.listxattr(p)) == 13
    for name in os.listxattr(p):
        os.removexattr(p, name)
    with pytest.raises(OSError) as ei:
        for i in range(10_000):
            os.setxattr(p, f"user.n{i}", b"v")
    assert ei.value.errno == errno.ENOSPC, ei.value
    assert helpers.listxattr_raw(p, 0) <= 65536
    assert len(os.listxattr(p)) > 1000
    # A buffer too small for the value or the list: ERANGE.
    os.removexattr(p, "user.n0")
    os.setxattr(p, "user.long", b"L" * 100)
    raises_errno(errno.ERANGE, helpers.getxattr_raw, p, "user.long", 10)
    assert helpers.getxattr_raw(p, "user.long", 0) == 100   # size query
    assert helpers.getxattr_raw(p, "user.long", 100) == 100
    raises_errno(errno.ERANGE, helpers.listxattr_raw, p, 10)
    assert helpers.listxattr_raw(p, 0) == sum(
        len(n) + 1 for n in os.listxattr(p))


# --- statfs -------------------------------------------------------------------


def df_bytes(mnt):
    out = run(["df", "-B1", "--output=size,used,avail", mnt]).stdout
    size, used, avail = (int(x) for x in out.splitlines()[-1].split())
    return size, used, avail


def test_statfs_and_df_track_use(mnt):
    size, used0, avail0 = df_bytes(mnt)
    assert abs(size - 64 * 2**20) <= 64 * 2**20 // 100, size
    assert used0 < 4 * 2**20, used0
    write(f"{mnt}/blob", os.urandom(10 * 2**20))
    _, used1, avail1 = df_bytes(mnt)
    assert 10 * 2**20 <= used1 - used0 <= 12 * 2**20, (used0, used1)
    assert avail0 - avail1 >= 10 * 2**20
    os.unlink(f"{mnt}/blob")
    _, used2, _ = df_bytes(mnt)
    assert used2 - used0 < 2**20, (used0, used2)
    st = os.statvfs(mnt)
    assert st.f_bsize > 0 and st.f_frsize > 0
    assert st.f_files > 0 and st.f_ffree <= st.f_files


# --- readdir ------------------------------------------------------------------


def test_large_directory_listing(mnt):
    n = 2000
    for i in range(n):
        open(f"{mnt}/file-{i:05d}-{'x' * 30}", "wb").close()
    names = os.listdir(mnt)
    assert len(names) == n and len(set(names)) == n
    out = run(["ls", "-1", mnt]).stdout.splitlines()
    assert len(out) == n
    assert run(["sh", "-c", f"ls -1f {mnt} | wc -l"]).stdout.strip() \
        == str(n + 2)                  # with . and ..
    with os.scandir(mnt) as it:
        for e in it:
            assert e.is_file(follow_symlinks=False)


def test_readdir_while_the_directory_changes(mnt):
    """Entries present for the whole listing are returned exactly once;
    entries added or removed meanwhile at most once."""
    d = f"{mnt}/busy"
    os.mkdir(d)
    names = [f"entry-{i:04d}-{'p' * 100}" for i in range(2000)]
    for n in names:
        open(f"{d}/{n}", "wb").close()
    rng = random.Random(7)
    removed, added = set(), set()
    seen = []
    with os.scandir(d) as it:
        for i, e in enumerate(it):
            seen.append(e.name)
            if i % 20 == 10:
                # Remove some entries (seen or not), add some new ones.
                for victim in rng.sample(sorted(set(names) - removed), 8):
                    os.unlink(f"{d}/{victim}")
                    removed.add(victim)
                for k in range(5):
                    new = f"new-{i:04d}-{k}"
                    open(f"{d}/{new}", "wb").close()
                    added.add(new)
    assert len(seen) > 1000
    dupes = {n for n in seen if seen.count(n) > 1}
    assert not dupes, f"returned twice: {sorted(dupes)[:5]}"
    stable = set(names) - removed
    missing = stable - set(seen)
    assert not missing, f"{len(missing)} stable entries missing, " \
                        f"e.g. {sorted(missing)[:5]}"
    assert set(seen) <= set(names) | added
    assert sorted(os.listdir(d)) == sorted(stable | added)


def test_readdir_concurrent_with_another_process(mnt):
    """ls in a loop while another process creates and deletes files: every
    listing contains the stable files exactly once."""
    d = f"{mnt}/dir"
    os.mkdir(d)
    stable = [f"stable-{i:03d}" for i in range(300)]
    for n in stable:
        open(f"{d}/{n}", "wb").close()
    churn = subprocess.Popen(
        [helpers.PYTHON, "-c",
         "import os, sys, time\n"
         "d = sys.argv[1]; end = time.monotonic() + 2; i = 0\n"
         "while time.monotonic() < end:\n"
         "    p = f'{d}/tmp-{i % 50}'\n"
         "    if os.path.exists(p): os.unlink(p)\n"
         "    else: open(p, 'w').close()\n"
         "    i += 1\n",
         d])
    listings = 0
    try:
        deadline = time.monotonic() + 2
        while time.monotonic() < deadline:
            names = run(["ls", "-1f", d]).stdout.splitlines()
            got = [n for n in names if n.startswith("stable-")]
            assert len(got) == len(set(got)), "duplicate entries"
            assert set(got) == set(stable), \
                f"missing {sorted(set(stable) - set(got))[:5]}"
            listings += 1
    finally:
        churn.wait(timeout=30)
    assert churn.returncode == 0
    assert listings >= 5


# --- inotify (VFS events on the mount) ------------------------------------------


def test_inotify_sees_changes_of_other_processes(mnt):
    """mmfs(7), CHANGE NOTIFICATION: every event it lists, for changes
    made by a process other than the watcher."""
    p = subprocess.Popen(
        ["inotifywait", "-m", "--format", "%e %f", mnt],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        for line in p.stderr:             # "Setting up watches." ...
            if "established" in line:
                break
        run(["sh", "-c", """
            cd "$1"
            echo 1 > watched
            chmod 600 watched
            setfattr -n user.k -v v watched
            echo rec >> log.ring
            mv watched moved
            rm moved
        """, "sh", mnt])
        time.sleep(0.3)
    finally:
        p.terminate()
        out, _ = p.communicate(timeout=10)
    events = out.splitlines()
    for event in ["CREATE watched", "MODIFY watched",
                  "CLOSE_WRITE,CLOSE watched", "ATTRIB watched",
                  "MODIFY log.ring", "MOVED_FROM watched", "MOVED_TO moved",
                  "DELETE moved"]:
        assert event in events, out
    # chmod and setfattr: one ATTRIB each.
    assert events.count("ATTRIB watched") >= 2, out
    # The value was complete when the writer's close was reported.
    assert events.index("CLOSE_WRITE,CLOSE watched") \
        > events.index("MODIFY watched"), out

"""The arena's size cap: ENOSPC to the writer, nothing corrupted, space
reusable after deletes, the arena file never larger than size=, and space of
unlinked-but-open files returned at last close."""

import errno
import hashlib
import os

import pytest

import helpers
from helpers import run

MiB = 2**20


def fill(m, prefix, chunk, limit=1000):
    """Write files of `chunk` bytes until ENOSPC; return ({name: sha256} of
    the complete ones, the errno that stopped us, name of the failed one)."""
    done = {}
    for i in range(limit):
        name = f"{prefix}{i:04d}"
        data = hashlib.sha256(name.encode()).digest() * (chunk // 32)
        try:
            with open(m.path(name), "wb") as f:
                f.write(data)
        except OSError as e:
            return done, e.errno, name
        done[name] = hashlib.sha256(data).hexdigest()
    pytest.fail(f"wrote {limit} x {chunk} bytes without ENOSPC")


def check_files(m, files):
    for name, digest in files.items():
        assert helpers.sha256_file(m.path(name)) == digest, \
            f"{name} corrupted"


def arena_bytes(m):
    """The arena file's size; its allocated blocks may exceed that only by
    the host file system's own metadata (ext4 counts extent blocks)."""
    st = os.stat(m.arena)
    assert st.st_blocks * 512 <= st.st_size + 64 * 1024, st
    return st.st_size


def test_arena_full_enospc_nothing_corrupted_space_reusable(mmfs):
    m = mmfs(size="8M")
    files, err, failed = fill(m, "f", 256 * 1024)
    assert err == errno.ENOSPC, os.strerror(err)
    assert 4 * MiB <= len(files) * 256 * 1024 <= 8 * MiB, len(files)
    assert arena_bytes(m) <= 8 * MiB, "the arena file outgrew size=8M"
    check_files(m, files)
    # The failed file holds a prefix of what was written, or nothing.
    if os.path.exists(m.path(failed)):
        got = open(m.path(failed), "rb").read()
        want = hashlib.sha256(failed.encode()).digest() * (256 * 1024 // 32)
        assert want.startswith(got), f"{failed} holds garbage"
        os.unlink(m.path(failed))
    # Tools report it too.
    r = run(["dd", "if=/dev/zero", f"of={m.path('dd')}", "bs=1M",
             "count=16", "status=none"], check=False)
    assert r.returncode != 0 and "No space left on device" in r.stderr, r
    # The page-cache path (O_RDWR) reports it as well: ENOSPC, or a short
    # write when the first requests still fitted.
    fd = os.open(m.path("rdwr"), os.O_RDWR | os.O_CREAT, 0o644)
    try:
        n = os.pwrite(fd, b"r" * (4 * MiB), 0)
        assert n < 4 * MiB, "wrote 4 MiB into a full 8 MiB arena"
    except OSError as e:
        assert e.errno == errno.ENOSPC, e
    finally:
        os.close(fd)
    os.unlink(m.path("rdwr"))
    run(["sh", "-c", f"echo hello > {m.path('echo')}"], check=False)
    # Small writes may still fit in the slack; either way no corruption.
    check_files(m, files)
    os.unlink(m.path("dd"))
    if os.path.exists(m.path("echo")):
        os.unlink(m.path("echo"))
    # df: almost nothing available.
    st = os.statvfs(m.mnt)
    assert st.f_bavail * st.f_frsize < 2 * MiB
    # Deleting half the files makes the space usable again.
    names = sorted(files)
    for name in names[::2]:
        os.unlink(m.path(name))
        del files[name]
    more, err, failed2 = fill(m, "g", 256 * 1024)
    assert err == errno.ENOSPC
    assert len(more) >= len(names[::2]) - 2, (len(more), len(names[::2]))
    check_files(m, files)
    check_files(m, more)
    if os.path.exists(m.path(failed2)):
        os.unlink(m.path(failed2))
    assert arena_bytes(m) <= 8 * MiB
    # And the arena is sound: it survives a remount with every file.
    m.remount()
    check_files(m, files)
    check_files(m, more)
    assert arena_bytes(m) <= 8 * MiB


def test_full_arena_still_allows_deletes_and_small_ops(mmfs):
    m = mmfs(size="4M")
    os.mkdir(m.path("d"))
    files, err, failed = fill(m, "d/f", 64 * 1024)
    assert err == errno.ENOSPC
    # Squeeze out the last bytes with small files.
    small = 0
    try:
        for i in range(100_000):
            with open(m.path(f"s{i}"), "wb") as f:
                f.write(b"s" * 100)
            small += 1
    except OSError as e:
        assert e.errno == errno.ENOSPC, e
    assert arena_bytes(m) <= 4 * MiB
    with pytest.raises(OSError) as ei:
        os.setxattr(m.path(sorted(files)[0]), "user.x", bytes(30_000))
    assert ei.value.errno == errno.ENOSPC
    check_files(m, files)
    # Deleting works on a full arena and frees space for more files.
    run(["rm", "-rf", m.path("d")])
    with open(m.path("after"), "wb") as f:
        f.write(b"a" * MiB)
    assert open(m.path("after"), "rb").read() == b"a" * MiB


def test_large_write_that_does_not_fit_fails_whole(mmfs):
    m = mmfs(size="8M")
    with open(m.path("keep"), "wb") as f:
        f.write(b"k" * 1000)
    fd = os.open(m.path("keep"), os.O_WRONLY)
    try:
        # The kernel splits a big write into requests; when a later one
        # fails, write(2) returns the bytes of the ones that succeeded.
        n = os.pwrite(fd, b"z" * (12 * MiB), 0)
        assert n < 12 * MiB
    except OSError as e:
        assert e.errno == errno.ENOSPC, e
        n = 0
    finally:
        os.close(fd)
    data = open(m.path("keep"), "rb").read()
    assert data == b"z" * n + b"k" * max(0, 1000 - n), \
        f"after a {n}-byte short write the file is {len(data)} bytes"
    assert arena_bytes(m) <= 8 * MiB


def test_space_of_an_unlinked_open_file_returns_after_close(mmfs):
    m = mmfs(size="64M")

    def used():
        st = os.statvfs(m.mnt)
        return (st.f_blocks - st.f_bfree) * st.f_frsize

    base = used()
    with open(m.path("big"), "wb") as f:
        f.write(os.urandom(16 * MiB))
    assert used() - base >= 16 * MiB
    fd = os.open(m.path("big"), os.O_RDONLY)
    os.unlink(m.path("big"))
    assert len(os.pread(fd, 100, 16 * MiB - 100)) == 100
    os.close(fd)
    # The kernel forgets the inode soon after the last close.
    assert helpers.wait_for(lambda: used() - base < MiB, 5), \
        f"space not returned: {used() - base} bytes still used"


def test_repeated_replace_does_not_leak(mmfs):
    m = mmfs(size="16M")
    p = m.path("v")
    for i in range(1000):
        with open(p, "w") as f:
            f.write(("x" * (i % 5000)) + "\n")
    for i in range(100):
        with open(p, "wb") as f:
            f.write(os.urandom(200_000))
    os.unlink(p)
    st = os.statvfs(m.mnt)
    assert (st.f_blocks - st.f_bfree) * st.f_frsize < 2 * MiB
    assert arena_bytes(m) <= 16 * MiB


def test_df_available_fits_in_one_file(mmfs):
    """df's Available is data files can hold: a large file pays a little
    arena space for each 64 KiB chunk, which Available leaves out, so that
    a file fallocated to all of it fits (xfstests generic/103 fallocates
    all but 512 KiB of it, then expects xattrs to fail with ENOSPC)."""
    m = mmfs(size="64M")
    fd = os.open(m.path("big"), os.O_RDWR | os.O_CREAT, 0o644)
    try:
        st = os.statvfs(m.mnt)
        avail = st.f_bavail * st.f_frsize
        assert 60 * MiB < avail <= st.f_bfree * st.f_frsize, st
        os.posix_fallocate(fd, 0, avail)
        assert os.fstat(fd).st_size == avail
    finally:
        os.close(fd)
    st = os.statvfs(m.mnt)
    assert st.f_bavail * st.f_frsize < 128 * 1024, st
    assert st.f_bavail <= st.f_bfree, st
    # What is left still takes a small file.
    left = st.f_bavail * st.f_frsize
    if left:
        with open(m.path("small"), "wb") as f:
            f.write(b"s" * min(left, 4096))


def fill_with_fallocate(m, prefix):
    """fallocate files, halving the size on each ENOSPC down to 4 KiB, as
    xfstests' _fill_fs does: afterwards not even 4 KiB fits."""
    size, i = 8 * MiB, 0
    while size >= 4096:
        fd = os.open(m.path(f"{prefix}{i}"), os.O_RDWR | os.O_CREAT, 0o644)
        try:
            os.posix_fallocate(fd, 0, size)
        except OSError as e:
            assert e.errno == errno.ENOSPC, e
            size //= 2
        finally:
            os.close(fd)
        i += 1


def test_punch_hole_works_on_a_full_arena(mmfs):
    """A hole punched in part of a chunk copies the chunk before it frees
    the old one; the punch reserve lets it do that when nothing else fits
    any more (xfstests generic/256 punches 8 KiB holes in a full file
    system), also across a chunk boundary; what others need stays refused."""
    m = mmfs(size="16M")
    data = hashlib.sha256(b"p").digest() * (6 * MiB // 32)
    with open(m.path("big"), "wb") as f:
        f.write(data)
    fill_with_fallocate(m, "fill")
    with pytest.raises(OSError) as ei:
        with open(m.path("more"), "wb") as f:
            f.write(b"m" * 8192)
    assert ei.value.errno == errno.ENOSPC
    assert os.statvfs(m.mnt).f_bavail * 4096 < 8192
    fd = os.open(m.path("big"), os.O_RDWR)
    try:
        holes = [(0, 8192), (12288, 8192), (65536 - 4096, 8192),
                 (5 * 65536 + 100, 3 * 65536)]
        mode = 0x01 | 0x02                  # KEEP_SIZE | PUNCH_HOLE
        for off, length in holes:
            helpers.fallocate(fd, mode, off, length)
        expect = bytearray(data)
        for off, length in holes:
            expect[off:off + length] = bytes(length)
        assert os.pread(fd, len(data) + 1, 0) == expect
    finally:
        os.close(fd)
    # The reserve is back and still out of reach for writes: the whole
    # chunks punched out are free to them, no more.
    with open(m.path("more"), "wb") as f:
        f.write(b"m" * 65536)
    m.remount()
    assert helpers.sha256_file(m.path("big")) == \
        hashlib.sha256(bytes(expect)).hexdigest()

"""File handles (name_to_handle_at, open_by_handle_at; what NFS export
uses): a handle opens its file after the kernel dropped the inode
(drop_caches) and after a remount of the arena, for as long as the file
exists; once it is deleted the handle is stale (ESTALE), also when a new
file takes the deleted one's place in the arena, and a handle made up to
point into a file's bytes is stale too (mmfs(7), FILE HANDLES).  Root
only: open_by_handle_at needs CAP_DAC_READ_SEARCH."""

import ctypes
import errno
import os
import struct

import pytest

from test_coherence import requests

_libc = ctypes.CDLL(None, use_errno=True)
MAX_HANDLE = 128
AT_FDCWD = -100
FUSE_HANDLE_TYPE = 0x81         # the kernel's FUSE handle: node id + gen


class FileHandle(ctypes.Structure):
    _fields_ = [("handle_bytes", ctypes.c_uint),
                ("handle_type", ctypes.c_int),
                ("f_handle", ctypes.c_ubyte * MAX_HANDLE)]

    def fields(self):
        """(node id, generation) of a FUSE handle."""
        hi, lo, gen = struct.unpack_from("<III", bytes(self.f_handle))
        return hi << 32 | lo, gen

    @classmethod
    def made(cls, nodeid, gen):
        h = cls()
        h.handle_bytes = 12
        h.handle_type = FUSE_HANDLE_TYPE
        raw = struct.pack("<III", nodeid >> 32, nodeid & 0xffffffff, gen)
        ctypes.memmove(h.f_handle, raw, len(raw))
        return h


def name_to_handle(path):
    h = FileHandle()
    h.handle_bytes = MAX_HANDLE
    mount_id = ctypes.c_int()
    if _libc.name_to_handle_at(AT_FDCWD, os.fsencode(path), ctypes.byref(h),
                               ctypes.byref(mount_id), 0):
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e), path)
    return h


def open_by_handle(mnt, h, flags=os.O_RDONLY):
    mfd = os.open(mnt, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fd = _libc.open_by_handle_at(mfd, ctypes.byref(h), flags)
        if fd < 0:
            e = ctypes.get_errno()
            raise OSError(e, os.strerror(e))
        return fd
    finally:
        os.close(mfd)


def read_by_handle(mnt, h):
    fd = open_by_handle(mnt, h)
    try:
        return os.read(fd, 1 << 16)
    finally:
        os.close(fd)


def drop_inodes():
    """Make the kernel forget every unused inode and dentry."""
    with open("/proc/sys/vm/drop_caches", "w") as f:
        f.write("2")


def stale(mnt, h, flags=os.O_RDONLY):
    with pytest.raises(OSError) as e:
        os.close(open_by_handle(mnt, h, flags))
    return e.value.errno == errno.ESTALE


def write(p, data):
    with open(p, "wb") as f:
        f.write(data)


@pytest.fixture(autouse=True)
def need_root():
    if os.geteuid() != 0:
        pytest.skip("open_by_handle_at needs CAP_DAC_READ_SEARCH")


def test_handle_opens_after_the_kernel_forgot(mmfs):
    m = mmfs()
    os.makedirs(m.path("d", "e"))
    write(m.path("d", "e", "f"), b"deep\n")
    write(m.path("top"), b"top\n")
    hf, hd, ht = (name_to_handle(m.path(*p))
                  for p in (("d", "e", "f"), ("d", "e"), ("top",)))
    assert hf.handle_type == FUSE_HANDLE_TYPE
    assert hf.fields()[1] == os.stat(m.path("d", "e", "f")).st_ino
    drop_inodes()
    before = requests(m.mnt).get("lookup", 0)
    assert read_by_handle(m.mnt, hf) == b"deep\n"
    assert requests(m.mnt).get("lookup", 0) > before     # LOOKUP "."
    assert read_by_handle(m.mnt, ht) == b"top\n"
    drop_inodes()
    fd = open_by_handle(m.mnt, hd, os.O_RDONLY | os.O_DIRECTORY)
    try:                        # reconnected through ".." up to the root
        assert os.listdir(fd) == ["f"]
        assert os.readlink(f"/proc/self/fd/{fd}") == m.path("d", "e")
    finally:
        os.close(fd)
    # Renamed and linked elsewhere: the same file, the same handle.
    os.rename(m.path("d"), m.path("moved"))
    os.link(m.path("moved", "e", "f"), m.path("link"))
    os.unlink(m.path("moved", "e", "f"))
    drop_inodes()
    assert read_by_handle(m.mnt, hf) == b"deep\n"


def test_handle_opens_after_remount(mmfs):
    m = mmfs()
    os.mkdir(m.path("d"))
    write(m.path("d", "f"), b"kept\n")
    ino = os.stat(m.path("d", "f")).st_ino
    hf, hd = name_to_handle(m.path("d", "f")), name_to_handle(m.path("d"))
    m.remount()
    fd = open_by_handle(m.mnt, hf, os.O_RDWR)
    try:
        assert os.fstat(fd).st_ino == ino
        assert os.read(fd, 100) == b"kept\n"
        os.write(fd, b"more\n")
    finally:
        os.close(fd)
    with open(m.path("d", "f"), "rb") as f:
        assert f.read() == b"kept\nmore\n"
    fd = open_by_handle(m.mnt, hd, os.O_RDONLY | os.O_DIRECTORY)
    os.close(fd)
    assert name_to_handle(m.path("d", "f")).fields() == hf.fields()


def test_handle_stale_once_deleted(mmfs):
    m = mmfs()
    write(m.path("f"), b"x")
    os.mkdir(m.path("d"))
    hf, hd = name_to_handle(m.path("f")), name_to_handle(m.path("d"))
    os.unlink(m.path("f"))
    os.rmdir(m.path("d"))
    assert stale(m.mnt, hf) and stale(m.mnt, hd, os.O_DIRECTORY)
    drop_inodes()
    assert stale(m.mnt, hf) and stale(m.mnt, hd, os.O_DIRECTORY)
    m.remount()
    assert stale(m.mnt, hf) and stale(m.mnt, hd, os.O_DIRECTORY)


def test_handle_stale_when_a_new_file_takes_the_place(mmfs):
    """A new file made where a deleted one was in the arena has another
    generation: the old handle does not open it."""
    m = mmfs()
    write(m.path("old"), b"old")
    h_old = name_to_handle(m.path("old"))
    os.unlink(m.path("old"))
    for i in range(200):
        write(m.path(f"new{i}"), b"new")
        h_new = name_to_handle(m.path(f"new{i}"))
        if h_new.fields()[0] == h_old.fields()[0]:
            break
    else:
        pytest.fail("no new file took the old one's inode block")
    assert h_new.fields()[1] != h_old.fields()[1]
    assert stale(m.mnt, h_old)
    drop_inodes()
    assert stale(m.mnt, h_old)
    assert read_by_handle(m.mnt, h_new) == b"new"
    m.remount()
    assert stale(m.mnt, h_old)
    assert read_by_handle(m.mnt, h_new) == b"new"


def forged_inode(ino):
    """An INODE block as format.h lays it out: an 8-byte header (size 80,
    kind 2, its check word), then struct mm_inode of a regular file."""
    size, kind = 80, 2
    check = ((size >> 4) * 0x9e37 ^ kind * 0x79b9 ^ 0x4d4d) & 0xffff
    header = struct.pack("<IBBH", size, kind, 0, check)
    inode = struct.pack("<QQQqqqIIIIII", ino, 0, 0, 0, 0, 0,
                        0o100644, 0, 0, 1, 0, 0)
    return header + inode


def test_made_up_handles_are_stale(mmfs):
    """Handles are data anyone with CAP_DAC_READ_SEARCH (or an NFS
    client) can write: node ids that are no inode, even a perfect inode
    block forged inside a file's bytes, are stale, and the daemon goes on
    serving."""
    m = mmfs()
    marker = b"MMFS-HANDLE-TEST"
    fake = forged_inode(999999)
    write(m.path("bait"), marker + b"\0" * 48 + fake + b"\0" * 64)
    os.fsync(os.open(m.path("bait"), os.O_RDONLY))
    with open(m.arena, "rb") as f:
        arena = f.read()
    at = arena.find(marker)
    assert at > 0 and arena.count(marker) == 1
    forged = at + 64                # where the fake header lies
    assert forged % 16 == 0
    assert arena[forged:forged + len(fake)] == fake
    real = name_to_handle(m.path("bait")).fields()
    for nodeid, gen in [(forged, 999999 & 0xffffffff), (forged, 0),
                        (forged + 8, 0), (real[0] + 16, real[1]),
                        (real[0] + 1, real[1]), (0, 0), (2, 0),
                        (1 << 40, 0), (4096, 0)]:
        assert stale(m.mnt, FileHandle.made(nodeid, gen)), hex(nodeid)
    drop_inodes()
    assert stale(m.mnt, FileHandle.made(forged, 999999))
    # The right node id with a wrong generation is stale as well.
    assert stale(m.mnt, FileHandle.made(real[0], real[1] + 1))
    with open(m.path("bait"), "rb") as f:
        assert f.read(len(marker)) == marker
    assert read_by_handle(m.mnt, FileHandle.made(*real))[:16] == marker

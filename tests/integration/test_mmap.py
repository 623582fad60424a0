"""Guarantee 3: processes share a variable through mmap(MAP_SHARED).

Cache policy: O_RDWR opens use the page cache (so they can be mapped);
O_RDONLY and O_WRONLY opens use direct I/O.  Stores through a mapping reach
read(2)ers after msync(MS_SYNC); write(2)s by other processes are visible
in mappings at once.  Every actor below is a separate process."""

import errno
import mmap
import os
import subprocess

import pytest

import helpers
from helpers import run, spawn_worker

SIZE = 3 * 4096 + 100          # several pages, the last one partial


class Mapper:
    """A worker process holding an O_RDWR MAP_SHARED mapping of a file."""

    def __init__(self, path):
        self.proc = spawn_worker("mapper", path, stdin=subprocess.PIPE)
        assert self._line() == "ready"

    def _line(self):
        line = self.proc.stdout.readline()
        if not line:
            raise AssertionError(f"mapper died: {self.proc.stderr.read()}")
        return line.strip()

    def cmd(self, *words):
        self.proc.stdin.write(" ".join(str(w) for w in words) + "\n")
        self.proc.stdin.flush()
        return self._line()

    def poke(self, off, data):
        assert self.cmd("poke", off, data.hex()) == "ok"

    def sync(self):
        assert self.cmd("sync") == "ok"

    def peek(self, off, n):
        return bytes.fromhex(self.cmd("peek", off, n))

    def close(self):
        if self.proc.poll() is None:
            try:
                self.proc.stdin.write("quit\n")
                self.proc.stdin.flush()
            except BrokenPipeError:
                pass
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        assert self.proc.returncode == 0, self.proc.stderr.read()


@pytest.fixture
def shared(mnt):
    p = os.path.join(mnt, "shared")
    with open(p, "wb") as f:
        f.write(b"." * SIZE)
    mappers = []

    def new_mapper():
        mappers.append(Mapper(p))
        return mappers[-1]

    yield p, new_mapper
    for m in mappers:
        m.close()


def read_in_other_process(path, off, n):
    """read(2) through a fresh O_RDONLY descriptor, in a dd process."""
    r = run(["dd", f"if={path}", "bs=1", f"skip={off}", f"count={n}",
             "status=none"], text=False)
    return r.stdout


def write_in_other_process(path, off, data):
    """write(2) through an O_WRONLY descriptor, in a dd process."""
    r = subprocess.run(["dd", f"of={path}", "bs=1M", f"seek={off}",
                        "oflag=seek_bytes", "conv=notrunc", "status=none"],
                       input=data, capture_output=True, timeout=30)
    assert r.returncode == 0, r.stderr


def test_mapping_store_reaches_readers_after_msync(shared):
    path, new_mapper = shared
    a = new_mapper()
    a.poke(10, b"from-the-mapping")
    a.poke(2 * 4096 - 3, b"across-a-page")
    a.sync()
    assert read_in_other_process(path, 10, 16) == b"from-the-mapping"
    assert read_in_other_process(path, 2 * 4096 - 3, 13) == b"across-a-page"
    with open(path, "rb") as f:                        # O_RDONLY: direct
        data = f.read()
    assert len(data) == SIZE
    assert data[10:26] == b"from-the-mapping"


def test_write_by_another_process_is_visible_in_the_mapping(shared):
    path, new_mapper = shared
    a = new_mapper()
    assert a.peek(0, 8) == b"........"
    write_in_other_process(path, 100, b"written-by-dd")
    got = helpers.wait_for(lambda: a.peek(100, 13) == b"written-by-dd", 2)
    assert got, f"mapping still shows {a.peek(100, 13)!r}"
    # ... and in the last, partial page too.
    write_in_other_process(path, SIZE - 5, b"END!!")
    assert helpers.wait_for(lambda: a.peek(SIZE - 5, 5) == b"END!!", 2)
    # A write through a Python O_WRONLY descriptor (this process).
    fd = os.open(path, os.O_WRONLY)
    os.pwrite(fd, b"pwrite", 5000)
    os.close(fd)
    assert helpers.wait_for(lambda: a.peek(5000, 6) == b"pwrite", 2)


def test_two_mappings_see_each_other(shared):
    path, new_mapper = shared
    a, b = new_mapper(), new_mapper()
    a.poke(0, b"A-to-B")
    assert helpers.wait_for(lambda: b.peek(0, 6) == b"A-to-B", 2)
    b.poke(4096, b"B-to-A")
    assert helpers.wait_for(lambda: a.peek(4096, 6) == b"B-to-A", 2)
    # A counter incremented alternately through the two mappings.
    for i in range(50):
        m = a if i % 2 else b
        v = int.from_bytes(m.peek(8192, 4), "little") if i else 0
        m.poke(8192, (v + 1).to_bytes(4, "little"))
    assert int.from_bytes(a.peek(8192, 4), "little") == 50
    a.sync()
    b.sync()
    assert read_in_other_process(path, 8192, 4) == (50).to_bytes(4, "little")


def test_read_through_rdwr_descriptor_sees_other_writes(shared):
    """An O_RDWR descriptor reads through the page cache; writes by others
    through direct I/O must not leave stale cached pages behind."""
    path, _ = shared
    fd = os.open(path, os.O_RDWR)
    try:
        assert os.pread(fd, 8, 0) == b"........"     # populate the cache
        write_in_other_process(path, 0, b"fresh!!!")
        assert helpers.wait_for(lambda: os.pread(fd, 8, 0) == b"fresh!!!", 2), \
            f"O_RDWR read still sees {os.pread(fd, 8, 0)!r}"
    finally:
        os.close(fd)


def test_mmap_needs_rdwr_and_rdwr_maps_here(mnt):
    """A shared mapping needs an O_RDWR descriptor: O_RDONLY opens use
    direct I/O, which the kernel will not map shared (ENODEV: libfuse 3.14
    cannot negotiate FUSE_DIRECT_IO_ALLOW_MMAP), even for reading only."""
    p = os.path.join(mnt, "f")
    with open(p, "wb") as f:
        f.write(b"x" * 8192)
    fd = os.open(p, os.O_RDONLY)
    try:
        with pytest.raises(OSError) as e:
            mmap.mmap(fd, 8192, mmap.MAP_SHARED, mmap.PROT_READ)
        assert e.value.errno == errno.ENODEV, e.value
    finally:
        os.close(fd)
    fd = os.open(p, os.O_RDWR)
    m = mmap.mmap(fd, 8192, mmap.MAP_SHARED)
    m[0:5] = b"hello"
    m.flush()
    m.close()
    os.close(fd)
    assert open(p, "rb").read(5) == b"hello"


def test_mapping_survives_file_growth_by_others(shared):
    path, new_mapper = shared
    a = new_mapper()
    # Another process appends; the mapped range stays intact.
    with open(path, "ab") as f:
        f.write(b"+" * 10_000)
    assert os.path.getsize(path) == SIZE + 10_000
    assert a.peek(0, 4) == b"...."
    a.poke(0, b"ok")
    a.sync()
    assert open(path, "rb").read(2) == b"ok"

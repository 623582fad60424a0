"""Guarantee 3: processes share a variable through mmap(MAP_SHARED).

Cache policy: O_RDWR opens use the page cache; O_RDONLY and O_WRONLY opens
use direct I/O, which kernels 6.6 and later map too, once the daemon
negotiates FUSE_DIRECT_IO_ALLOW_MMAP (src/fs/initflags.c): a read-only
shared mapping of an O_RDONLY descriptor works, as Python's and Perl's
usual ways of mapping a file need.  Every write(2) through the mount --
in place or a whole replace -- is visible in every mapping as soon as it
returns; a store through a mapping is visible to read(2) in every process
at once, and msync(MS_SYNC) puts it in the arena.  The mappings are made
by the programs people use: Python's mmap, Perl's File::Map and
Sys::Mmap (tests/integration/mapper.pl).  Every actor is a separate
process."""

import errno
import mmap
import os
import subprocess

import pytest

import helpers
from helpers import run

SIZE = 3 * 4096 + 100          # several pages, the last one partial
HERE = os.path.dirname(os.path.abspath(__file__))
NO_MMAP_LINE = ("mount.mmfs: kernel cannot map direct-I/O files; read-only "
                "shared mappings fail with ENODEV")

# Linux 6.6 added FUSE_DIRECT_IO_ALLOW_MMAP: before it, a direct-I/O file
# (an O_RDONLY open here) cannot be mapped shared at all.
KERNEL_MAPS_DIRECT_IO = helpers.kernel_at_least(6, 6)

# How each kind of mapper maps the file: (argv after the path, read-only).
MAPPERS = {
    "python-rw": (lambda p: [helpers.PYTHON, os.path.join(HERE, "helpers.py"),
                             "mapper", p, "rw"], False),
    "python-ro": (lambda p: [helpers.PYTHON, os.path.join(HERE, "helpers.py"),
                             "mapper", p, "ro"], True),
    "file-map-rw": (lambda p: ["perl", os.path.join(HERE, "mapper.pl"),
                               "file-map-rw", p], False),
    "file-map-ro": (lambda p: ["perl", os.path.join(HERE, "mapper.pl"),
                               "file-map-ro", p], True),
    "sys-mmap-ro": (lambda p: ["perl", os.path.join(HERE, "mapper.pl"),
                               "sys-mmap-ro", p], True),
}


class Mapper:
    """A process holding a MAP_SHARED mapping of a file (O_RDWR unless a
    read-only kind of MAPPERS is given)."""

    def __init__(self, path, kind="python-rw"):
        argv, _ = MAPPERS[kind]
        self.proc = subprocess.Popen(argv(path), stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
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

    def peek_all(self, n):
        return self.peek(0, n)

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

    def new_mapper(kind="python-rw"):
        mappers.append(Mapper(p, kind))
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


def test_read_only_shared_mapping_of_an_rdonly_descriptor(mmfs):
    """mmap(MAP_SHARED, PROT_READ) of an O_RDONLY descriptor works where
    the kernel can map direct-I/O files (6.6+); elsewhere it fails with
    ENODEV and the mount said so, in one line.  A writable shared mapping
    needs O_RDWR either way (EACCES: the kernel's rule)."""
    m = mmfs()
    p = m.path("f")
    with open(p, "wb") as f:
        f.write(b"x" * 8192)
    fd = os.open(p, os.O_RDONLY)
    try:
        if KERNEL_MAPS_DIRECT_IO:
            ro = mmap.mmap(fd, 8192, mmap.MAP_SHARED, mmap.PROT_READ)
            assert ro[:] == b"x" * 8192
            ro.close()
        else:
            with pytest.raises(OSError) as e:
                mmap.mmap(fd, 8192, mmap.MAP_SHARED, mmap.PROT_READ)
            assert e.value.errno == errno.ENODEV, e.value
        with pytest.raises(OSError) as e:
            mmap.mmap(fd, 8192, mmap.MAP_SHARED,
                      mmap.PROT_READ | mmap.PROT_WRITE)
        assert e.value.errno == errno.EACCES, e.value
    finally:
        os.close(fd)
    assert m.stderr.count(NO_MMAP_LINE) == (0 if KERNEL_MAPS_DIRECT_IO
                                            else 1), m.stderr
    fd = os.open(p, os.O_RDWR)
    rw = mmap.mmap(fd, 8192, mmap.MAP_SHARED)
    rw[0:5] = b"hello"
    rw.flush()
    rw.close()
    os.close(fd)
    assert open(p, "rb").read(5) == b"hello"


def need_mapper(kind):
    if MAPPERS[kind][1] and not KERNEL_MAPS_DIRECT_IO:
        pytest.skip("this kernel cannot map direct-I/O files (before 6.6)")


def replace_in_other_process(path, value):
    """`printf %s VALUE > PATH` in sh: open O_TRUNC, one write, close."""
    run(["sh", "-c", 'printf %s "$1" > "$2"', "sh", value.decode(), path])


@pytest.mark.parametrize("kind", ["python-ro", "file-map-ro", "sys-mmap-ro",
                                  "file-map-rw", "python-rw"])
def test_writes_through_the_mount_reach_every_mapping_at_once(shared, kind):
    """Whatever maps the file, read-only or not, sees a write by another
    process in place, and a whole replace, as soon as the writer's write
    returned: no waiting, no stale page."""
    need_mapper(kind)
    path, new_mapper = shared
    a = new_mapper(kind)
    assert a.peek_all(SIZE) == b"." * SIZE
    write_in_other_process(path, 100, b"written-by-dd")
    assert a.peek(100, 13) == b"written-by-dd"
    write_in_other_process(path, SIZE - 5, b"END!!")       # partial page
    assert a.peek(SIZE - 5, 5) == b"END!!"
    new = (b"replaced-" * SIZE)[:SIZE]
    replace_in_other_process(path, new)
    assert os.path.getsize(path) == SIZE
    assert a.peek_all(SIZE) == new
    longer = b"L" * (SIZE + 5000)                            # grows
    replace_in_other_process(path, longer)
    assert a.peek_all(SIZE) == longer[:SIZE]
    again = (b"in-place-" * SIZE)[:SIZE]
    fd = os.open(path, os.O_WRONLY)                          # this process
    os.pwrite(fd, again, 0)
    os.close(fd)
    assert a.peek_all(SIZE) == again


def test_store_through_a_mapping_reaches_every_reader_at_once(shared):
    """A store through a shared mapping, without msync, is what read(2)
    returns next in every process: through a descriptor opened before the
    store and through a new one."""
    path, new_mapper = shared
    reader = subprocess.Popen(
        [helpers.PYTHON, "-c",
         "import os, sys\n"
         "fd = os.open(sys.argv[1], os.O_RDONLY)\n"
         "print('open', flush=True)\n"
         "for line in sys.stdin:\n"
         "    off, n = map(int, line.split())\n"
         "    print(os.pread(fd, n, off).hex(), flush=True)\n", path],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert reader.stdout.readline().strip() == "open"
        a = new_mapper()
        a.poke(4096 + 7, b"stored-not-synced")
        reader.stdin.write(f"{4096 + 7} 17\n")
        reader.stdin.flush()
        assert bytes.fromhex(reader.stdout.readline().strip()) == \
            b"stored-not-synced"
        assert read_in_other_process(path, 4096 + 7, 17) == \
            b"stored-not-synced"
    finally:
        reader.stdin.close()
        reader.wait(timeout=10)


def test_mappings_stay_coherent_under_concurrent_faults_and_writes(shared):
    """Two processes keep faulting pages of a read-only mapping in while a
    third rewrites the file in place through O_WRONLY: when the writer is
    done, every mapping shows its last write (no page cached from before
    it survives)."""
    need_mapper("python-ro")
    path, new_mapper = shared
    code = ("import mmap, sys\n"
            "f = open(sys.argv[1], 'rb')\n"
            "m = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)\n"
            "print('mapped', flush=True)\n"
            "n = 0\n"
            "while True:\n"
            "    for off in range(0, len(m), 4096):\n"
            "        n += m[off]\n")
    faulters = [subprocess.Popen([helpers.PYTHON, "-c", code, path],
                                 stdout=subprocess.PIPE, text=True)
                for _ in range(2)]
    watcher = new_mapper("python-ro")
    try:
        for f in faulters:
            assert f.stdout.readline().strip() == "mapped"
        writes = ("import os, sys\n"
                  "for i in range(300):\n"
                  "    fd = os.open(sys.argv[1], os.O_WRONLY)\n"
                  "    os.pwrite(fd, bytes([65 + i % 26]) * int(sys.argv[2]),"
                  " 0)\n"
                  "    os.close(fd)\n")
        run([helpers.PYTHON, "-c", writes, path, str(SIZE)], timeout=120)
        last = bytes([65 + 299 % 26]) * SIZE
        assert all(f.poll() is None for f in faulters), "a faulter died"
        assert watcher.peek_all(SIZE) == last
    finally:
        for f in faulters:
            f.kill()
            f.wait()


def test_a_mapped_ring_shows_records_and_refuses_stores(mnt):
    """Rings use direct I/O, so kernels that map direct-I/O files map
    rings too.  A read-only mapping shows the retained bytes, as pread
    does; stores through a writable one are not records: msync fails with
    EPERM and the ring keeps exactly what write(2) appended."""
    if not KERNEL_MAPS_DIRECT_IO:
        pytest.skip("this kernel cannot map direct-I/O files (before 6.6)")
    p = os.path.join(mnt, "log.ring")
    with open(p, "ab", buffering=0) as f:
        f.write(b"first\n")
        f.write(b"second\n")
    fd = os.open(p, os.O_RDONLY)
    ro = mmap.mmap(fd, 0, access=mmap.ACCESS_READ)
    assert ro[:] == b"first\nsecond\n"
    ro.close()
    os.close(fd)
    fd = os.open(p, os.O_RDWR)
    try:
        rw = mmap.mmap(fd, 13, mmap.MAP_SHARED,
                       mmap.PROT_READ | mmap.PROT_WRITE)
        rw[0:5] = b"XXXXX"
        with pytest.raises(OSError) as e:
            rw.flush()
        assert e.value.errno == errno.EPERM, e.value
        rw.close()
    finally:
        os.close(fd)
    assert open(p, "rb").read() == b"first\nsecond\n"
    assert os.path.getsize(p) == 13


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

"""libmmfs beside the mount: the two views of one arena stay coherent.

Programs use the Python binding (python/mmfs over libmmfs) in processes
of their own; the files are read and written with real tools and system
calls through the mount.
- A value set by the library is read at once by cat, and seen by stat, by
  a mapping, by an O_RDWR handle's reads and by a poll waiter with no
  action of theirs (the daemon invalidates the kernel); the latencies
  are printed (the target is 1 ms).
- Names the library creates appear at once in ls and in lookups, even
  after a lookup that failed; they are relative to the directory
  attached, the mount point's root included.
- A write through the mount wakes mmfs_wait in another process, a
  read-only one too (it polls), which also follows a ring's records.
- Counters: library adds and flock-protected adds through the mount from
  several processes sum exactly.
- A library writer killed with SIGKILL mid-storm: the daemon keeps
  serving, nothing committed is lost, and the arena checks clean.
- Only who may open the arena file may attach (a second uid gets EACCES);
  arena_mode= and arena_group= let a group of users in, and nobody else.
"""

import grp
import json
import mmap
import os
import select
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

import conftest
import helpers
from helpers import PYTHON, run


def lib_run(env, code, *args, timeout=60):
    """Run code (with `import mmfs` done) in a new Python process."""
    out = run([PYTHON, "-c", "import mmfs, os, sys, time, json\n" + code,
               *map(str, args)], env=env, timeout=timeout)
    return out.stdout


def lib_spawn(env, code, *args):
    return subprocess.Popen([PYTHON, "-c",
                             "import mmfs, os, sys, time, json\n" + code,
                             *map(str, args)], env=env, text=True,
                            stdout=subprocess.PIPE, stdin=subprocess.PIPE)


def test_a_library_set_is_read_at_once_by_cat(mnt, libmmfs):
    lib_run(libmmfs, "m = mmfs.attach(sys.argv[1]); "
            "m.set('app/counter', b'42\\n')", mnt)
    assert run(["cat", os.path.join(mnt, "app", "counter")]).stdout == "42\n"


def test_a_mount_write_is_read_by_the_library(mnt, libmmfs):
    p = os.path.join(mnt, "var")
    run(["sh", "-c", 'echo hello > "$1"', "sh", p])
    out = lib_run(libmmfs, "m = mmfs.attach(sys.argv[1]); "
                  "print(m.get('var'))", mnt)
    assert out == "b'hello\\n'\n"


def test_a_reader_through_the_mount_keeps_its_version_beside_the_library(
        mnt, libmmfs):
    """A read(2) pass through an O_RDONLY descriptor reads one version
    whole (mmfs(7)), even when a library program replaces the file in the
    middle of it and then writes enough other files to reuse the space
    the old version had: the old block stays the reader's until the pass
    ends."""
    size = 100_000
    p = os.path.join(mnt, "versioned")
    with open(p, "wb") as f:
        f.write(b"O" * size)
    fd = os.open(p, os.O_RDONLY)
    try:
        first = os.read(fd, 4096)
        lib_run(libmmfs, "m = mmfs.attach(sys.argv[1])\n"
                "m.set('versioned', b'N' * int(sys.argv[2]))\n"
                "for i in range(50):\n"
                "    m.set('fill%d' % i, b'F' * int(sys.argv[2]))",
                mnt, size)
        rest = b""
        while chunk := os.read(fd, 65536):
            rest += chunk
    finally:
        os.close(fd)
    got = first + rest
    assert len(got) == size and got == b"O" * size, \
        f"{got.count(b'O')} of {size} bytes of the old version, " \
        f"{got.count(b'N')} new, {got.count(b'F')} another file's"
    assert Path(p).read_bytes() == b"N" * size


# Attach at argv[1] and set "probe" there, after filling with "A"s the
# heap chunk that realpath(3) will reuse for argv[1]'s path (glibc hands
# back the last freed chunk of a size first), so that a read past the end
# of that path sees them.
ATTACH_PROBE = r"""
import ctypes
libc = ctypes.CDLL(None)
libc.malloc.restype = ctypes.c_void_p
libc.malloc.argtypes = [ctypes.c_size_t]
libc.free.argtypes = [ctypes.c_void_p]
libc.malloc_usable_size.restype = ctypes.c_size_t
libc.malloc_usable_size.argtypes = [ctypes.c_void_p]
real = os.path.realpath(sys.argv[1]).encode()
p = libc.malloc(len(real) + 1)
ctypes.memset(p, ord("A"), libc.malloc_usable_size(p))
libc.free(p)
mmfs.attach(sys.argv[1]).set("probe", b"1")
"""


def test_names_are_relative_to_the_directory_attached(mnt, libmmfs):
    """At the mount point names start at the root; below it, at that
    directory.  libmmfs once read the byte past the end of the path when
    it was the mount point itself, and took what followed in the heap as
    the directory (ATTACH_PROBE makes that "AAA...")."""
    lib_run(libmmfs, ATTACH_PROBE, mnt)
    assert sorted(os.listdir(mnt)) == ["probe"]
    sub = os.path.join(mnt, "d", "e")
    os.makedirs(sub)
    lib_run(libmmfs, ATTACH_PROBE, sub)
    assert sorted(os.listdir(sub)) == ["probe"]
    assert sorted(os.listdir(mnt)) == ["d", "probe"]


# Sets values of growing length; after each, the parent checks what the
# kernel shows.  Line protocol on stdin/stdout: "go" -> "set N".
SETTER = r"""
m = mmfs.attach(sys.argv[1])
for line in sys.stdin:
    n = int(line)
    m.set(sys.argv[2], b"x" * n)
    print("set", n, flush=True)
"""


def seen_after(pred, limit=1.0):
    """Seconds until pred() holds (polled, the reader doing nothing else),
    or None after limit.  The 1 ms target is a latency, printed: a loaded
    machine may take longer, a missing invalidation never ends."""
    t0 = time.monotonic()
    while not pred():
        if time.monotonic() - t0 > limit:
            return None
    return time.monotonic() - t0


def latency_text(what, lat):
    lat = sorted(lat)
    over = sum(x > 0.001 for x in lat)
    return (f"{what}: {len(lat)} library sets, seen after median "
            f"{lat[len(lat) // 2] * 1e6:.0f} us, max {lat[-1] * 1e6:.0f} us, "
            f"{over} over 1 ms")


def test_stat_and_reads_see_a_library_set_at_once(mnt, libmmfs, measure):
    """The kernel caches attributes for a day and O_RDWR pages: the daemon
    drops them when the library commits, so stat and pread see the new
    value without reopening or waiting for a timeout."""
    p = os.path.join(mnt, "v")
    with open(p, "wb") as f:
        f.write(b"x")
    rw = os.open(p, os.O_RDWR)
    setter = lib_spawn(libmmfs, SETTER, mnt, "v")
    stats, reads = [], []
    try:
        for n in range(2, 202):
            os.stat(p)                  # cached now
            os.pread(rw, 4096, 0)       # in the page cache now
            setter.stdin.write(f"{n}\n")
            setter.stdin.flush()
            assert setter.stdout.readline() == f"set {n}\n"
            stats.append(seen_after(lambda: os.stat(p).st_size == n))
            reads.append(seen_after(
                lambda: os.pread(rw, 4096, 0) == b"x" * n))
            assert stats[-1] is not None and reads[-1] is not None, n
    finally:
        setter.stdin.close()
        setter.wait(timeout=10)
        os.close(rw)
    measure("lib_stat", stats, latency_text("stat", stats))
    measure("lib_rdwr", reads, latency_text("O_RDWR pread", reads))


def test_a_mapping_sees_a_library_set_at_once(mnt, libmmfs, measure):
    p = os.path.join(mnt, "mapped")
    with open(p, "wb") as f:
        f.write(b"A" * 4096)
    fd = os.open(p, os.O_RDONLY)
    m = mmap.mmap(fd, 4096, access=mmap.ACCESS_READ)
    setter = lib_spawn(libmmfs, SETTER.replace('b"x" * n',
                                               'bytes([65 + n % 26]) * 4096'),
                       mnt, "mapped")
    lat = []
    try:
        for n in range(1, 101):
            assert m[0] in range(65, 91)    # faulted in
            setter.stdin.write(f"{n}\n")
            setter.stdin.flush()
            setter.stdout.readline()
            lat.append(seen_after(lambda: m[0] == 65 + n % 26))
            assert lat[-1] is not None, f"change {n} never reached it"
    finally:
        setter.stdin.close()
        setter.wait(timeout=10)
        m.close()
        os.close(fd)
    measure("lib_mmap", lat, latency_text("read-only mapping", lat))


def test_a_poll_waiter_wakes_at_a_library_set(mnt, libmmfs):
    p = os.path.join(mnt, "polled")
    with open(p, "wb") as f:
        f.write(b"0")
    fd = os.open(p, os.O_RDONLY)
    try:
        os.read(fd, 10)
        poller = select.poll()
        poller.register(fd, select.POLLPRI | select.POLLERR)
        assert poller.poll(0) == []
        lib_run(libmmfs, "mmfs.attach(sys.argv[1]).set('polled', b'1')",
                mnt)
        assert poller.poll(1000), "poll(2) did not wake"
    finally:
        os.close(fd)


def test_library_names_appear_in_listings_and_lookups(mnt, libmmfs):
    """Including after a failed lookup of the same name, and in a
    directory whose listing and attributes the kernel has seen."""
    os.mkdir(os.path.join(mnt, "d"))
    before = os.stat(os.path.join(mnt, "d"))
    assert os.listdir(os.path.join(mnt, "d")) == []
    assert not os.path.exists(os.path.join(mnt, "d", "new"))
    lib_run(libmmfs, "m = mmfs.attach(sys.argv[1]); m.set('d/new', 'n');"
            "m.set('top', 't'); m.set('d/sub/leaf', 'l')", mnt)
    assert sorted(os.listdir(os.path.join(mnt, "d"))) == ["new", "sub"]
    assert run(["cat", os.path.join(mnt, "d", "new")]).stdout == "n"
    assert run(["cat", os.path.join(mnt, "d", "sub", "leaf")]).stdout == "l"
    assert "top" in run(["ls", mnt]).stdout.split()
    after = os.stat(os.path.join(mnt, "d"))
    assert after.st_mtime_ns > before.st_mtime_ns or \
        after.st_size != before.st_size


WAITER = r"""
m = mmfs.attach(sys.argv[1], readonly=len(sys.argv) > 2)
v = m.version("flag")
print("waiting", flush=True)
t0 = time.monotonic()
woke = m.wait("flag", v, timeout=10)
print(json.dumps({"woke": woke, "value": m.get("flag").decode(),
                  "s": time.monotonic() - t0}))
"""


def test_a_write_through_the_mount_wakes_mmfs_wait(mnt, libmmfs):
    p = os.path.join(mnt, "flag")
    with open(p, "w") as f:
        f.write("0\n")
    w = lib_spawn(libmmfs, WAITER, mnt)
    assert w.stdout.readline() == "waiting\n"
    time.sleep(0.05)
    run(["sh", "-c", 'echo 1 > "$1"', "sh", p])
    out = json.loads(w.stdout.readline())
    w.wait(timeout=10)
    assert out["woke"] and out["value"] == "1\n", out


RING_READER = r"""
m = mmfs.attach(sys.argv[1], readonly=True)
print("reading", flush=True)
for rec in m.records("log.ring", timeout=10):
    print(rec.decode(), flush=True)
    if rec == b"last":
        break
"""


def test_a_read_only_handle_waits_and_reads_rings(mnt, libmmfs):
    """A read-only handle takes no lock (its mapping is read-only): its
    waits poll, and still see a write through the mount; it reads the
    records of a ring as they are appended through the mount.  Both
    used to die with SIGSEGV."""
    p = os.path.join(mnt, "flag")
    with open(p, "w") as f:
        f.write("0\n")
    w = lib_spawn(libmmfs, WAITER, mnt, "ro")
    assert w.stdout.readline() == "waiting\n"
    time.sleep(0.05)
    run(["sh", "-c", 'echo 1 > "$1"', "sh", p])
    out = json.loads(w.stdout.readline())
    assert w.wait(timeout=10) == 0
    assert out["woke"] and out["value"] == "1\n" and out["s"] < 5, out
    ring = os.path.join(mnt, "log.ring")
    run(["sh", "-c", 'printf first > "$1"', "sh", ring])
    r = lib_spawn(libmmfs, RING_READER, mnt)
    assert r.stdout.readline() == "reading\n"
    for rec in ("second", "last"):
        time.sleep(0.05)
        run(["sh", "-c", f'printf {rec} >> "$1"', "sh", ring])
    assert r.stdout.read().split() == ["first", "second", "last"]
    assert r.wait(timeout=10) == 0


ADDER = r"""
m = mmfs.attach(sys.argv[1])
for _ in range(int(sys.argv[2])):
    m.add("hits", 1)
"""


def test_library_and_flock_counters_sum_exactly(mnt, libmmfs):
    """Two library processes add with mmfs_add at once, then two more
    through the mount with flock + read + write at once: each kind is
    atomic among its own (mmfs_add holds the file's writer lock across
    its read and write; the mount's adders hold the flock), and the sum
    of all is exact.  The two kinds do not exclude each other, so they
    take turns (mmfs(3) says so)."""
    p = os.path.join(mnt, "hits")
    with open(p, "w") as f:
        f.write("0\n")
    n = 3000
    libs = [lib_spawn(libmmfs, ADDER, mnt, n) for _ in range(2)]
    for lib in libs:
        lib.stdin.close()
    for lib in libs:
        assert lib.wait(timeout=120) == 0
    flockers = [helpers.spawn_worker("counter-flock", p, n)
                for _ in range(2)]
    for w in flockers:
        helpers.worker_result(w, timeout=120)
    assert open(p).read() == f"{4 * n}\n"


STORM = r"""
m = mmfs.attach(sys.argv[1])
k = 0
while True:
    k += 1
    m.set("seq", b"%d\n" % k + b" " * 20000)
    m.add("adds", 1)
    print(k, flush=True)
"""


@pytest.mark.long
def test_a_killed_library_writer_loses_nothing(mmfs, libmmfs):
    """kill -9 of a library writer at random instants while cat and echo
    go through the mount: every committed value survives, the daemon keeps
    serving, and after the unmount mmfsctl check finds nothing wrong."""
    m = mmfs()
    rounds, lost = 30, 0
    for r in range(rounds):
        w = lib_spawn(libmmfs, STORM, m.mnt)
        time.sleep(0.005 + (r % 7) * 0.004)
        run(["sh", "-c", 'echo mount > "$1/other"; cat "$1/other"', "sh",
             m.mnt])
        w.send_signal(signal.SIGKILL)
        w.wait(timeout=10)
        committed = [int(x) for x in w.stdout.read().split()]
        w.stdout.close()
        w.stdin.close()
        if committed:
            seen = int(open(m.path("seq")).read().split()[0])
            lost += seen < committed[-1]
        assert run(["cat", m.path("other")]).stdout == "mount\n"
    assert lost == 0
    m.umount()
    run([conftest.mmfsctl_path(), "check", m.arena])


# Attach as another user: "attached <seed>" after setting shared/by-UID
# (read-write) or reading shared/seed, else "EACCES ...".
ATTACH = """
try:
    m = mmfs.attach(sys.argv[1], readonly=sys.argv[2] == 'ro')
    if sys.argv[2] == 'rw':
        m.set('shared/by-%d' % os.getuid(), b'set by %d' % os.getuid())
    print('attached', m.get('shared/seed').decode())
except PermissionError as e:
    print('EACCES', e)
"""
MEMBER, OTHER = 12345, 12346


def as_user(env, arena, how, uid, groups=()):
    """Attach to arena (ATTACH) as uid, in exactly these groups."""
    cmd = ["setpriv", f"--reuid={uid}", f"--regid={uid}"]
    cmd += [f"--groups={','.join(map(str, groups))}"] if groups else \
        ["--clear-groups"]
    return run(cmd + [PYTHON, "-c", "import mmfs, os, sys\n" + ATTACH,
                      str(arena), how], env=env).stdout


@pytest.fixture
def open_dir():
    """A directory for an arena that every user may search (pytest's
    tmp_path lies under a 0700 directory: nobody else gets that far)."""
    d = tempfile.mkdtemp(prefix="mmfs-arena-", dir="/tmp")
    os.chmod(d, 0o711)
    yield Path(d)
    shutil.rmtree(d, ignore_errors=True)


def test_only_who_can_open_the_arena_attaches(open_dir, mmfs, libmmfs):
    """By default the arena is 0600 root's: uid 12345 cannot attach
    (EACCES), not even read-only, though it can reach the file and is in
    its group; root can."""
    m = mmfs(arena=open_dir / "arena")
    st = os.stat(m.arena)
    assert stat.S_IMODE(st.st_mode) == 0o600
    lib_run(libmmfs, "mmfs.attach(sys.argv[1]).set('shared/seed', b'x')",
            m.arena)
    for how in ("rw", "ro"):
        out = as_user(libmmfs, m.arena, how, MEMBER, [st.st_gid])
        assert out.startswith("EACCES"), out
    assert lib_run(libmmfs, ATTACH, m.arena, "rw") == "attached x\n"


def test_mmfsctl_names_a_library_writer(libmmfs, tmp_path):
    """With no daemon, an attached library program is who uses the arena:
    mmfsctl stat names its pid, read-write; after it detaches, nobody."""
    arena = tmp_path / "lib.arena"
    holder = lib_spawn(libmmfs, "m = mmfs.attach(sys.argv[1], create=True)\n"
                       "m.set('x', 'y')\nprint('attached', flush=True)\n"
                       "sys.stdin.readline()\n", arena)
    try:
        assert holder.stdout.readline() == "attached\n"
        out = run([conftest.mmfsctl_path(), "stat", str(arena)]).stdout
        line = [ln for ln in out.splitlines() if ln.startswith("in use:")]
        assert line and line[0].split(":", 1)[1].strip() == \
            f"yes (pid {holder.pid}, read-write)", out
    finally:
        holder.stdin.close()
        holder.wait(timeout=10)
    out = run([conftest.mmfsctl_path(), "stat", str(arena)]).stdout
    assert "in use:         no" in out or "in use: no" in " ".join(
        out.split()), out


def arena_access(arena):
    st = os.stat(arena)
    return stat.S_IMODE(st.st_mode), st.st_gid


def test_arena_mode_and_group_share_direct_access(open_dir, mmfs, libmmfs):
    """arena_mode=0660,arena_group=G: a member of G (another uid) attaches
    read-write and sets a value the mount shows; a uid outside G cannot
    attach, read-only neither.  Both are applied when the daemon creates
    the arena and again at every mount of it (a mount without them keeps
    what the file has); 0640 lets the group read only."""
    try:
        group = "users"
        gid = grp.getgrnam(group).gr_gid
    except KeyError:                    # no such group here: a number
        group = gid = 12347
    m = mmfs(arena=open_dir / "arena",
             opts=["arena_mode=0660", f"arena_group={group}"])
    assert arena_access(m.arena) == (0o660, gid)
    lib_run(libmmfs, "mmfs.attach(sys.argv[1]).set('shared/seed', b's')",
            m.arena)
    assert as_user(libmmfs, m.arena, "rw", MEMBER, [gid]) == "attached s\n"
    assert Path(m.path(f"shared/by-{MEMBER}")).read_bytes() == \
        b"set by %d" % MEMBER
    assert os.stat(m.path(f"shared/by-{MEMBER}")).st_uid == MEMBER
    assert as_user(libmmfs, m.arena, "ro", MEMBER, [gid]) == "attached s\n"
    for how in ("rw", "ro"):
        out = as_user(libmmfs, m.arena, how, OTHER)
        assert out.startswith("EACCES"), out

    m.umount()                          # changed behind its back...
    os.chmod(m.arena, 0o600)
    os.chown(m.arena, -1, 0)
    m.start()                           # ...and put back by the mount
    assert arena_access(m.arena) == (0o660, gid)
    m.umount()
    m.opts = [o for o in m.opts if not o.startswith("arena_")]
    m.start()
    assert arena_access(m.arena) == (0o660, gid)
    m.umount()
    m.opts.append("arena_mode=0640")
    m.start()
    assert arena_access(m.arena) == (0o640, gid)
    assert as_user(libmmfs, m.arena, "rw", MEMBER, [gid]).startswith("EACCES")
    assert as_user(libmmfs, m.arena, "ro", MEMBER, [gid]) == "attached s\n"


def test_arena_group_errors(run_mmfs, tmp_path):
    """An unknown group or a bad mode is refused in one line, before an
    arena is created."""
    mnt = conftest.new_mountpoint()
    try:
        for opt, said in [("arena_group=mmfs-no-such-group",
                           "unknown group 'mmfs-no-such-group'"),
                          ("arena_mode=0755", "at most 0666"),
                          ("ro,arena_mode=0640", "read-write")]:
            r = run_mmfs("-o", opt, tmp_path / "arena", mnt)
            assert r.returncode == 1 and said in r.stderr, r
            assert len(r.stderr.splitlines()) == 1, r.stderr
            assert not (tmp_path / "arena").exists()
    finally:
        os.rmdir(mnt)

"""Helpers for the mmfs integration tests, and the bodies of their workers.

Imported by the tests (pytest puts this directory on sys.path), it offers
small utilities: `run` (a subprocess with a timeout), `sha256_file`,
`snapshot` (a comparable picture of a directory tree), `mounted` (is a path
in the mount table), `renameat2`, and `spawn_worker`.

Run as a script, it is a worker process of the concurrency tests:

    python3 helpers.py pwrite-writer   PATH SIZE SECONDS
    python3 helpers.py pwrite-reader   PATH SIZE SECONDS
    python3 helpers.py replace-writer  PATH SECONDS
    python3 helpers.py replace-reader  PATH SECONDS
    python3 helpers.py counter-flock   PATH N
    python3 helpers.py counter-lockf   PATH N
    python3 helpers.py mapper          PATH [ro]     (commands on stdin)
    python3 helpers.py churn           DIR SECONDS
    python3 helpers.py check-churn     DIR

Workers print one JSON object on stdout when they finish.
"""

import ctypes
import errno
import fcntl
import hashlib
import json
import mmap
import os
import shutil
import signal
import stat
import struct
import subprocess
import sys
import time

PYTHON = "/usr/bin/python3"
HERE = os.path.dirname(os.path.abspath(__file__))

# The two values of the replace-write workload (guarantee 2).
SMALL_VALUE = b"small-val\n"                       # 10 bytes
LARGE_VALUE = (b"LARGE-VALUE-" * 250)[:2999] + b"\n"  # 3000 bytes
assert len(SMALL_VALUE) == 10 and len(LARGE_VALUE) == 3000


# ---------------------------------------------------------------------------
# Utilities for the tests


def run(args, timeout=30, check=True, **kw):
    """subprocess.run with text output captured and a timeout."""
    kw.setdefault("stdout", subprocess.PIPE)
    kw.setdefault("stderr", subprocess.PIPE)
    kw.setdefault("stdin", subprocess.DEVNULL)
    kw.setdefault("text", True)
    res = subprocess.run(args, timeout=timeout, **kw)
    if check and res.returncode != 0:
        raise AssertionError(
            f"{args!r} exited {res.returncode}\nstdout: {res.stdout}\n"
            f"stderr: {res.stderr}")
    return res


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _unescape_mount_field(s):
    # /proc/self/mounts escapes space, tab, newline and backslash as \ooo.
    out, i = [], 0
    while i < len(s):
        if s[i] == "\\" and s[i + 1:i + 4].isdigit() and i + 4 <= len(s):
            out.append(chr(int(s[i + 1:i + 4], 8)))
            i += 4
        else:
            out.append(s[i])
            i += 1
    return "".join(out)


def mount_entry(path):
    """The last /proc/self/mounts entry mounted at path, as
    (source, target, fstype, options), or None.  Unlike os.path.ismount
    this also sees a dead FUSE mount (ENOTCONN)."""
    path = os.path.abspath(path)
    found = None
    with open("/proc/self/mounts") as f:
        for line in f:
            fields = line.split()
            if len(fields) < 4:
                continue
            src, tgt, fstype, opts = (_unescape_mount_field(x)
                                      for x in fields[:4])
            if tgt == path:
                found = (src, tgt, fstype, opts)
    return found


def mounted(path):
    return mount_entry(path) is not None


def pids_of(binary, mnt):
    """Pids of processes running binary with mnt among their arguments."""
    base = os.path.basename(binary)
    mnt = os.path.abspath(mnt)
    pids = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/cmdline", "rb") as f:
                argv = [a.decode(errors="replace")
                        for a in f.read().split(b"\0") if a]
        except OSError:
            continue
        if not argv or mnt not in argv:
            continue
        if os.path.basename(argv[0]) == base:
            pids.append(int(d))
        elif os.path.basename(argv[0]).startswith("valgrind") and \
                any(os.path.basename(a) == base for a in argv):
            pids.append(int(d))     # under valgrind (MMFS_VALGRIND)
    return pids


def thread_waiting(base):
    """Where the thread at /proc path base waits: "state wchan [kernel
    stack top]", or None if it is gone."""
    try:
        with open(f"{base}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
        with open(f"{base}/wchan") as f:
            wchan = f.read().strip() or "-"
    except OSError:
        return None
    try:
        with open(f"{base}/stack") as f:
            top = " < ".join(line.split()[-1] for line in
                             f.read().splitlines()[:4])
    except OSError:
        top = "?"
    return f"{state} {wchan} [{top}]"


def threads_waiting(pid):
    """Where each thread of pid waits: "tid state wchan kernel-stack-top",
    then each one's user stack (gdb), for a report about a process that
    did not exit."""
    out = []
    try:
        tids = sorted(os.listdir(f"/proc/{pid}/task"), key=int)
    except OSError as e:
        return f"unreadable ({e.strerror})"
    for tid in tids:
        where = thread_waiting(f"/proc/{pid}/task/{tid}")
        if where:
            out.append(f"{tid} {where}")
    return ("; ".join(out) or "none") + user_stacks(pid)


ARENA_MUTEX_AT = 160             # format.h: the arena mutex in the header
FILE_LOCKS_AT, FILE_LOCKS, LOCK_SIZE = 1536, 32, 64


def arena_lock_holders(arena):
    """Who holds the arena's mutexes (format.h: a pthread mutex's first
    word is its futex, the owner's tid and two flag bits), for a report
    about a hang: "arena mutex: tid 123 (lib_worker, S, ...)"."""
    if arena is None:
        return "arena unknown"
    try:
        with open(arena, "rb") as f:
            head = f.read(FILE_LOCKS_AT + FILE_LOCKS * LOCK_SIZE)
    except OSError as e:
        return f"arena unreadable ({e.strerror})"
    words = [("arena mutex", ARENA_MUTEX_AT)] + \
        [(f"file lock {i}", FILE_LOCKS_AT + i * LOCK_SIZE)
         for i in range(FILE_LOCKS)]
    out = []
    for what, at in words:
        word = int.from_bytes(head[at:at + 4], "little")
        if not word:
            continue
        tid = word & 0x3fffffff
        try:
            with open(f"/proc/{tid}/cmdline", "rb") as f:
                who = f.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            who = ""
        who = f"{who.strip()}: {thread_waiting(f'/proc/{tid}') or 'gone'}"
        flags = " owner-died" if word & 0x40000000 else ""
        flags += " waiters" if word & 0x80000000 else ""
        out.append(f"{what}: tid {tid}{flags} ({who})")
    raw = head[ARENA_MUTEX_AT:ARENA_MUTEX_AT + 40]
    lock, count, owner, nusers, kind = struct.unpack_from("<IIIII", raw)
    out.append(f"arena mutex fields: lock {lock:#x} count {count} owner "
               f"{owner} nusers {nusers} kind {kind:#x}")
    return "; ".join(out)


def user_stacks(pid):
    """Each thread's user-space stack, from gdb when it is installed."""
    if not shutil.which("gdb"):
        return ""
    try:
        res = subprocess.run(["gdb", "-p", str(pid), "-batch", "-nx",
                              "-ex", "thread apply all bt"],
                             capture_output=True, text=True, timeout=60)
    except subprocess.TimeoutExpired:
        return "\n(gdb timed out)"
    lines = [ln for ln in res.stdout.splitlines()
             if ln.startswith(("#", "Thread"))]
    return "\n" + "\n".join(lines)


def pid_alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            st = f.read()
    except OSError:
        return False
    # A zombie has exited; it only waits for its parent.
    return st.rsplit(")", 1)[1].split()[0] != "Z"


def _task_states(pid):
    states = []
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/stat") as f:
                states.append(f.read().rsplit(")", 1)[1].split()[0])
        except OSError:
            pass                        # the thread has just exited
    return states


def stop_process(pid, timeout=10):
    """SIGSTOP pid and return once every one of its threads has stopped.
    kill() only queues the signal: a daemon thread woken by it may still
    take a request queued meanwhile, and a request already in the daemon
    is one the kernel waits out even for a SIGKILLed caller."""
    os.kill(pid, signal.SIGSTOP)
    if not wait_for(lambda: all(s in "tT" for s in _task_states(pid)),
                    timeout):
        raise AssertionError(f"process {pid} did not stop within {timeout} s")


def kernel_at_least(major, minor):
    """Is the running kernel Linux major.minor or later?"""
    nums = []
    for part in os.uname().release.split(".")[:2]:
        digits = "".join(c for c in part if c.isdigit())
        nums.append(int(digits or 0))
    return tuple(nums) >= (major, minor)


def wait_for(pred, timeout, interval=0.02):
    """Poll pred until it is true or timeout seconds passed; return it."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v or time.monotonic() >= deadline:
            return v
        time.sleep(interval)


_libc = ctypes.CDLL(None, use_errno=True)
RENAME_NOREPLACE = 1
RENAME_EXCHANGE = 2
AT_FDCWD = -100


def renameat2(old, new, flags):
    """renameat2(2) through glibc; raises OSError like os.rename."""
    fn = _libc.renameat2
    fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int,
                   ctypes.c_char_p, ctypes.c_uint]
    fn.restype = ctypes.c_int
    if fn(AT_FDCWD, os.fsencode(old), AT_FDCWD, os.fsencode(new), flags):
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e), old, None, new)


def fallocate(fd, mode, offset, length):
    """fallocate(2) through glibc (os.posix_fallocate has mode 0 only);
    raises OSError."""
    fn = _libc.fallocate64
    fn.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int64,
                   ctypes.c_int64]
    fn.restype = ctypes.c_int
    if fn(fd, mode, offset, length):
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e))


def getxattr_raw(path, name, size):
    """getxattr(2) with a buffer of exactly size bytes (0: ask the length);
    returns the length, raises OSError (e.g. ERANGE)."""
    fn = _libc.getxattr
    fn.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_void_p,
                   ctypes.c_size_t]
    fn.restype = ctypes.c_ssize_t
    buf = ctypes.create_string_buffer(max(size, 1))
    n = fn(os.fsencode(path), name.encode(), buf if size else None, size)
    if n < 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e), path)
    return n


def listxattr_raw(path, size):
    """listxattr(2) with a buffer of exactly size bytes (0: ask)."""
    fn = _libc.listxattr
    fn.argtypes = [ctypes.c_char_p, ctypes.c_void_p, ctypes.c_size_t]
    fn.restype = ctypes.c_ssize_t
    buf = ctypes.create_string_buffer(max(size, 1))
    n = fn(os.fsencode(path), buf if size else None, size)
    if n < 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e), path)
    return n


def xattrs_of(path):
    """{name: value} of the user.* xattrs of path (not following links)."""
    out = {}
    for name in sorted(os.listxattr(path, follow_symlinks=False)):
        out[name] = os.getxattr(path, name, follow_symlinks=False)
    return out


def snapshot(root, with_ino=False):
    """A comparable description of the tree under root: per relative path,
    type, mode, owner, size, mtime (ns), link count, content digest,
    symlink target and xattrs; hard links appear as a group id shared by
    the paths of one inode.  Entries are listed with lstat first, so
    reading contents cannot change what is compared."""
    entries = {}
    inodes = {}
    paths = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(dirnames + filenames):
            paths.append(os.path.join(dirpath, name))
    for p in paths:
        st = os.lstat(p)
        rel = os.path.relpath(p, root)
        e = {
            "mode": oct(st.st_mode),
            "uid": st.st_uid,
            "gid": st.st_gid,
            "mtime_ns": st.st_mtime_ns,
            "nlink": st.st_nlink if not stat.S_ISDIR(st.st_mode) else None,
        }
        if with_ino:
            e["ino"] = st.st_ino
        if stat.S_ISREG(st.st_mode):
            e["size"] = st.st_size
            inodes.setdefault(st.st_ino, []).append(rel)
        if stat.S_ISLNK(st.st_mode):
            e["target"] = os.readlink(p)
        if stat.S_ISREG(st.st_mode) or stat.S_ISDIR(st.st_mode):
            e["xattrs"] = xattrs_of(p)
        entries[rel] = e
    for p in paths:
        rel = os.path.relpath(p, root)
        st = os.lstat(p)
        if stat.S_ISREG(st.st_mode):
            entries[rel]["sha256"] = sha256_file(p)
            entries[rel]["links"] = sorted(inodes[st.st_ino])
    return entries


def spawn_worker(*args, **kw):
    """Start `python3 helpers.py ARGS...`; stdout is a pipe (JSON result)."""
    kw.setdefault("stdout", subprocess.PIPE)
    kw.setdefault("stderr", subprocess.PIPE)
    return subprocess.Popen([PYTHON, os.path.join(HERE, "helpers.py")]
                            + [str(a) for a in args], text=True, **kw)


def worker_result(proc, timeout=60):
    """Wait for a worker and return its JSON result (fail on error)."""
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        raise AssertionError(f"worker {proc.args[2:]} timed out: {err}")
    if proc.returncode != 0:
        raise AssertionError(f"worker {proc.args[2:]} exited "
                             f"{proc.returncode}: {err}{out}")
    return json.loads(out.strip().splitlines()[-1])


# ---------------------------------------------------------------------------
# Worker bodies


def pattern(k, size):
    """Payload number k: size copies of one byte, distinct for k % 26."""
    return bytes([ord("A") + k % 26]) * size


def classify_homogeneous(data, size):
    """'ok' when data is one full payload, else a short description."""
    if len(data) != size:
        return f"length {len(data)} != {size}"
    first = data[0]
    if data.count(first) != size:
        kinds = sorted(set(data))
        return f"mixed bytes {bytes(kinds)[:8]!r}"
    return "ok"


# A write(2) is one FUSE request, hence atomic, while its buffer spans at
# most 256 pages: up to 1020 KiB from any buffer, 1 MiB from a page-aligned
# one (mmfs(7)).  Sizes of 1 MiB and more use page-aligned (mmap) buffers.
ALIGNED_FROM = 1 << 20


def w_pwrite_writer(path, size, seconds):
    size, seconds = int(size), float(seconds)
    fd = os.open(path, os.O_WRONLY)
    n = 0
    aligned = mmap.mmap(-1, size) if size >= ALIGNED_FROM else None
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        buf = pattern(n, size)
        if aligned is not None:
            aligned[:] = buf
            buf = aligned
        w = os.pwrite(fd, buf, 0)
        if w != size:
            raise SystemExit(f"short write {w} of {size}")
        n += 1
    os.close(fd)
    return {"writes": n}


def w_pwrite_reader(path, size, seconds):
    size, seconds = int(size), float(seconds)
    reads = bad = 0
    samples = []
    seen = set()
    deadline = time.monotonic() + seconds
    aligned = mmap.mmap(-1, size + 65536) if size >= ALIGNED_FROM else None
    while time.monotonic() < deadline:
        fd = os.open(path, os.O_RDONLY)
        try:
            if aligned is None:
                data = os.read(fd, size + 65536)
            else:
                data = aligned[:os.readv(fd, [aligned])]
        finally:
            os.close(fd)
        reads += 1
        verdict = classify_homogeneous(data, size)
        if verdict != "ok":
            bad += 1
            if len(samples) < 5:
                samples.append(verdict)
        else:
            seen.add(data[0])
    return {"reads": reads, "bad": bad, "samples": samples,
            "distinct": len(seen)}


def w_replace_writer(path, seconds):
    seconds = float(seconds)
    n = 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = LARGE_VALUE if n % 2 else SMALL_VALUE
        # Exactly what every language does: O_WRONLY|O_CREAT|O_TRUNC,
        # one write(2) (the value fits Python's buffer), close.
        with open(path, "w") as f:
            f.write(value.decode())
        n += 1
    return {"writes": n}


def w_replace_reader(path, seconds):
    seconds = float(seconds)
    counts = {"small": 0, "large": 0, "empty": 0, "mixed": 0}
    samples = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        fd = os.open(path, os.O_RDONLY)
        try:
            # One read(2): the unit that is atomic.
            data = os.read(fd, 65536)
        finally:
            os.close(fd)
        if data == SMALL_VALUE:
            counts["small"] += 1
        elif data == LARGE_VALUE:
            counts["large"] += 1
        elif not data:
            counts["empty"] += 1
        else:
            counts["mixed"] += 1
            if len(samples) < 5:
                samples.append(f"{len(data)} bytes: {data[:24]!r}...")
    counts["reads"] = sum(counts.values())
    counts["samples"] = samples
    return counts


def w_counter_flock(path, n):
    """n increments of the counter in path: flock(LOCK_EX) on a descriptor
    of the file, read it with open/read/close, replace it with
    open(O_TRUNC)/write/close, unlock."""
    n = int(n)
    lockfd = os.open(path, os.O_RDONLY)
    for _ in range(n):
        fcntl.flock(lockfd, fcntl.LOCK_EX)
        try:
            fd = os.open(path, os.O_RDONLY)
            try:
                value = int(os.read(fd, 64) or b"0")
            finally:
                os.close(fd)
            with open(path, "w") as f:
                f.write(f"{value + 1}\n")
        finally:
            fcntl.flock(lockfd, fcntl.LOCK_UN)
    os.close(lockfd)
    return {"increments": n}


def w_counter_lockf(path, n):
    """n increments under fcntl (POSIX) locks, through one O_RDWR
    descriptor (the page-cache path): pread, pwrite, ftruncate."""
    n = int(n)
    fd = os.open(path, os.O_RDWR)
    for _ in range(n):
        fcntl.lockf(fd, fcntl.LOCK_EX)
        try:
            value = int(os.pread(fd, 64, 0) or b"0")
            data = f"{value + 1}\n".encode()
            os.pwrite(fd, data, 0)
            os.ftruncate(fd, len(data))
        finally:
            fcntl.lockf(fd, fcntl.LOCK_UN)
    os.close(fd)
    return {"increments": n}


def w_mapper(path, mode="rw"):
    """Map path (mode rw: O_RDWR, MAP_SHARED; ro: the usual read-only way,
    open(path, 'rb') and mmap ACCESS_READ, which is MAP_SHARED) and obey
    commands from stdin:
         poke OFF HEX    store bytes into the mapping (no msync; rw only)
         sync            msync(MS_SYNC) the whole mapping
         peek OFF LEN    print the mapping's bytes as hex
         quit
    Answers one line per command ("ok" or the hex)."""
    if mode == "ro":
        f = open(path, "rb")
        fd = os.dup(f.fileno())
        m = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
        f.close()
    else:
        fd = os.open(path, os.O_RDWR)
        size = os.fstat(fd).st_size
        m = mmap.mmap(fd, size, mmap.MAP_SHARED,
                      mmap.PROT_READ | mmap.PROT_WRITE)
    print("ready", flush=True)
    for line in sys.stdin:
        cmd = line.split()
        if not cmd:
            continue
        if cmd[0] == "poke":
            off, data = int(cmd[1]), bytes.fromhex(cmd[2])
            m[off:off + len(data)] = data
            print("ok", flush=True)
        elif cmd[0] == "sync":
            m.flush()
            print("ok", flush=True)
        elif cmd[0] == "peek":
            off, n = int(cmd[1]), int(cmd[2])
            print(m[off:off + n].hex(), flush=True)
        elif cmd[0] == "quit":
            break
    m.close()
    os.close(fd)
    return {"done": True}


# The churn workload (kill -9 at a random instant, then check): every value
# is self-describing, so a torn or stale-mixed value is recognisable.

def churn_value(name, gen):
    body = (f"{name}:{gen}:".encode()
            + bytes([ord("a") + gen % 26]) * ((gen * 7919) % 70000))
    return body + b"\n"


def churn_valid(name, data):
    parts = data.split(b":", 2)
    if len(parts) != 3 or parts[0] != name.encode():
        return False
    try:
        gen = int(parts[1])
    except ValueError:
        return False
    return data == churn_value(name, gen)


def w_churn(d, seconds):
    """Change the tree under d until killed or seconds pass: replace-write
    var0..var7 (up to ~70 KB values, one write each), publish pub0..pub3 by
    write-temp-then-rename, append lines to log, create and remove dirs.
    Stops quietly at the first error (the daemon was killed)."""
    seconds = float(seconds)
    deadline = time.monotonic() + seconds
    gen = 0
    try:
        logfd = os.open(os.path.join(d, "log"),
                        os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        while time.monotonic() < deadline:
            gen += 1
            if gen == 9:
                # Every var and pub exists now: from here on, none of them
                # may ever read as empty or torn.
                print("ready", flush=True)
            name = f"var{gen % 8}"
            with open(os.path.join(d, name), "wb") as f:
                f.write(churn_value(name, gen))
            pub = f"pub{gen % 4}"
            tmp = os.path.join(d, f".{pub}.tmp")
            with open(tmp, "wb") as f:
                f.write(churn_value(pub, gen))
            os.rename(tmp, os.path.join(d, pub))
            os.write(logfd, f"line {gen}\n".encode())
            sub = os.path.join(d, f"dir{gen % 5}")
            if os.path.isdir(sub):
                for x in os.listdir(sub):
                    os.unlink(os.path.join(sub, x))
                os.rmdir(sub)
            else:
                os.mkdir(sub)
                with open(os.path.join(sub, "x"), "wb") as f:
                    f.write(churn_value("x", gen))
    except OSError as e:
        return {"gens": gen, "stopped": errno.errorcode.get(e.errno, "?")}
    return {"gens": gen, "stopped": None}


def w_check_churn(d):
    """Check the tree the churn worker left: every value complete, the log
    a run of whole, consecutive lines."""
    problems = []
    names = sorted(os.listdir(d))
    for must in [f"var{i}" for i in range(8)] + [f"pub{i}" for i in range(4)]:
        if must not in names:
            problems.append(f"{must} is missing")
    for name in names:
        p = os.path.join(d, name)
        if name.startswith("var") or name.startswith("pub"):
            with open(p, "rb") as f:
                data = f.read()
            if not churn_valid(name, data):
                problems.append(f"{name}: torn value ({len(data)} bytes, "
                                f"{data[:30]!r})")
        elif name.startswith(".pub") and name.endswith(".tmp"):
            pass   # an unpublished temp file may be anything written
        elif name.startswith("dir"):
            for x in os.listdir(p):
                with open(os.path.join(p, x), "rb") as f:
                    data = f.read()
                if data and not churn_valid("x", data):
                    problems.append(f"{name}/{x}: torn value")
        elif name == "log":
            with open(p, "rb") as f:
                data = f.read()
            lines = data.split(b"\n")
            if lines and lines[-1] != b"":
                problems.append(f"log ends in a partial line {lines[-1]!r}")
            nums = []
            for ln in lines[:-1]:
                try:
                    word, num = ln.split()
                    assert word == b"line"
                    nums.append(int(num))
                except (ValueError, AssertionError):
                    problems.append(f"log: bad line {ln!r}")
                    break
            if nums and nums != list(range(nums[0], nums[0] + len(nums))):
                problems.append(f"log: lines not consecutive: {nums[:5]}...")
        else:
            problems.append(f"unexpected entry {name!r}")
    return {"problems": problems, "names": names}


WORKERS = {
    "pwrite-writer": w_pwrite_writer,
    "pwrite-reader": w_pwrite_reader,
    "replace-writer": w_replace_writer,
    "replace-reader": w_replace_reader,
    "counter-flock": w_counter_flock,
    "counter-lockf": w_counter_lockf,
    "mapper": w_mapper,
    "churn": w_churn,
    "check-churn": w_check_churn,
}


def main(argv):
    if len(argv) < 2 or argv[1] not in WORKERS:
        sys.exit(__doc__)
    result = WORKERS[argv[1]](*argv[2:])
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main(sys.argv)

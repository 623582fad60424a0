#!/usr/bin/python3
"""fsx.py -- a randomized file-system exerciser with an oracle.

    fsx.py [--seed N] [--ops M] [--seconds S] [--procs P] [--users U,...]
           [--only-worker I] [--json] DIR_A DIR_B

Runs the same long random sequence of file and namespace operations on
DIR_A (the file system under test, e.g. an mmfs mount) and on DIR_B (the
oracle, e.g. a directory on tmpfs) and compares, after every step, the
results (return values and errnos) and the state of every path the step
touched: type, mode, owner, link count, size, contents, symlink target,
extended attributes, directory listings.  Every 64 steps, and at the end,
whole trees are compared.

P worker processes run at once, worker I in its own subtree wI of both
directories, with its own random stream derived from (N, I): a worker's
sequence depends only on the seed and on the oracle, never on timing, so a
failure replays with

    fsx.py --seed N --ops K --procs P --only-worker I DIR_A DIR_B

(K: the failing step + 1; fresh, empty directories).  With --users, worker
I runs as user U[I mod len] (gid = uid; needs root, and -o allow_other on
an mmfs DIR_A for users other than the mounting one), so that permission
checks are compared too.

Operations: pwrite at random offsets and sizes (holes included) through
O_WRONLY, O_RDWR and O_APPEND opens, replace (O_TRUNC + one write), pread
and compare, truncate up and down, operations on descriptors held open
across steps (write, read, ftruncate, fallocate, fstat, fsync -- also
after the file was renamed over or unlinked), O_TMPFILE (written, then
named through linkat or left unnamed; O_EXCL ones cannot be named), fallocate (allocate and
extend, FALLOC_FL_KEEP_SIZE, FALLOC_FL_PUNCH_HOLE, and the modes tmpfs
refuses), rename within and across directories (over existing
files and directories, RENAME_NOREPLACE, RENAME_EXCHANGE), link, unlink,
mkdir, rmdir, symlink, readlink, mkfifo, setxattr, removexattr,
getxattr, listxattr, chmod, utime, stat, listdir.

Differences the oracle cannot judge are left out on purpose: timestamps
other than those set by utime, st_ino, st_blocks, directory sizes, and
reads through a descriptor opened O_TRUNC before its first write (mmfs
defers O_TRUNC: mmfs(7)).  A replace that writes nothing, by a worker
that holds another O_WRONLY descriptor, may leave the old value for a
moment after close(2) (mmfs(7) again): its check waits up to RELEASE_WAIT
for the file to be emptied.  Names ending in ".ring" are never used (they
are ring logs on mmfs).

Exit status 0 when every step matched; 1 on a mismatch, after printing the
seed, the worker, the step, a replay command and the tail of the
operation log on stderr; 2 on a usage error.  The last line on stdout is
a summary (a JSON object with --json).
"""

import argparse
import collections
import errno
import hashlib
import json
import os
import random
import signal
import stat
import subprocess
import sys
import time
import zlib

FULL_CHECK_EVERY = 64
LOG_TAIL = 40
MAX_HELD = 4
RELEASE_WAIT = 2.0     # s: check_settled
MAX_DEPTH = 4
FILE_NAMES = [f"f{i}" for i in range(8)]
DIR_NAMES = [f"d{i}" for i in range(4)]
XATTR_NAMES = [f"user.x{i}" for i in range(5)]
FILE_MODES = [0o644, 0o600, 0o640, 0o664, 0o666, 0o444, 0o755, 0o700,
              0o000, 0o200, 0o4755, 0o2755, 0o6755, 0o2644, 0o1644]
DIR_MODES = [0o755, 0o700, 0o750, 0o777, 0o1777, 0o2755, 0o500, 0o555]
RENAME_NOREPLACE = 1
RENAME_EXCHANGE = 2
FALLOC_FL_KEEP_SIZE = 0x01
FALLOC_FL_PUNCH_HOLE = 0x02
FALLOC_FL_COLLAPSE_RANGE = 0x08
FALLOC_FL_ZERO_RANGE = 0x10
FALLOC_FL_INSERT_RANGE = 0x20


class Mismatch(Exception):
    pass


def ename(e):
    return errno.errorcode.get(e, str(e))


def short(v, limit=80):
    """A printable, bounded description of a value for the log."""
    if isinstance(v, (bytes, bytearray)):
        return f"<{len(v)} bytes crc {zlib.crc32(v):08x}>"
    s = repr(v)
    return s if len(s) <= limit else s[:limit] + "..."


def call(fn, *args):
    """fn(*args), with an OSError turned into ('E', errno name)."""
    try:
        return fn(*args)
    except OSError as e:
        return ("E", ename(e.errno))


def digest(data):
    return hashlib.sha1(data).hexdigest()


# ---------------------------------------------------------------------------
# renameat2 through glibc


_libc_fns = {}


def libc_call(name, argtypes, *args, path=None):
    """Call libc's name (the function loaded once, with argtypes as
    ctypes type names) with args; OSError with errno if it returns
    non-zero, else 0."""
    import ctypes
    fn = _libc_fns.get(name)
    if fn is None:
        fn = getattr(ctypes.CDLL(None, use_errno=True), name)
        fn.argtypes = [getattr(ctypes, t) for t in argtypes]
        fn.restype = ctypes.c_int
        _libc_fns[name] = fn
    if fn(*args):
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e), *([path] if path else []))
    return 0


AT_FDCWD = -100
AT_SYMLINK_FOLLOW = 0x400


def renameat2(old, new, flags):
    return libc_call("renameat2",
                     ["c_int", "c_char_p", "c_int", "c_char_p", "c_uint"],
                     AT_FDCWD, os.fsencode(old), AT_FDCWD, os.fsencode(new),
                     flags, path=old)


def link_fd(fd, new):
    """Name the file open at fd (an O_TMPFILE) through its /proc/self/fd
    link: linkat(2) with AT_SYMLINK_FOLLOW, which os.link does not do."""
    return libc_call("linkat",
                     ["c_int", "c_char_p", "c_int", "c_char_p", "c_int"],
                     AT_FDCWD, os.fsencode(f"/proc/self/fd/{fd}"), AT_FDCWD,
                     os.fsencode(new), AT_SYMLINK_FOLLOW, path=new)


def fallocate(fd, mode, off, length):
    return libc_call("fallocate64", ["c_int", "c_int", "c_int64", "c_int64"],
                     fd, mode, off, length)


# ---------------------------------------------------------------------------
# Describing state


def describe(path):
    """Everything the oracle can judge about one path (not following a
    final symlink)."""
    try:
        st = os.lstat(path)
    except OSError as e:
        return ("E", ename(e.errno))
    d = {"type": stat.S_IFMT(st.st_mode), "mode": oct(stat.S_IMODE(st.st_mode)),
         "uid": st.st_uid, "gid": st.st_gid, "nlink": st.st_nlink}
    if stat.S_ISREG(st.st_mode):
        d["size"] = st.st_size
        d["data"] = call(read_all, path)
    elif stat.S_ISLNK(st.st_mode):
        d["size"] = st.st_size
        d["target"] = call(os.readlink, path)
    elif stat.S_ISDIR(st.st_mode):
        d["list"] = call(lambda p: sorted(os.listdir(p)), path)
    if stat.S_ISREG(st.st_mode) or stat.S_ISDIR(st.st_mode):
        d["xattrs"] = call(xattrs_of, path)
    return d


def read_all(path):
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    try:
        chunks = []
        while True:
            b = os.read(fd, 1 << 20)
            if not b:
                break
            chunks.append(b)
        return digest(b"".join(chunks))
    finally:
        os.close(fd)


def xattrs_of(path):
    out = {}
    for name in sorted(os.listxattr(path, follow_symlinks=False)):
        if name.startswith("user."):
            out[name] = call(lambda: digest(
                os.getxattr(path, name, follow_symlinks=False)))
    return out


def walk(root):
    """Sorted relative paths of every entry under root (root excluded),
    with their lstat type; unreadable directories are not entered."""
    out = []
    stack = [""]
    while stack:
        rel = stack.pop()
        try:
            names = sorted(os.listdir(os.path.join(root, rel) if rel else root))
        except OSError:
            continue
        for n in names:
            p = os.path.join(rel, n) if rel else n
            try:
                mode = os.lstat(os.path.join(root, p)).st_mode
            except OSError:
                continue
            out.append((p, stat.S_IFMT(mode)))
            if stat.S_ISDIR(mode):
                stack.append(p)
    out.sort()
    return out


def check_paths(roots, rels, what):
    """Raise Mismatch unless every relative path describes the same under
    both roots."""
    for rel in sorted(set(rels)):
        a, b = (describe(os.path.join(root, rel) if rel else root)
                for root in roots)
        if a != b:
            raise Mismatch(f"{what}: state of {rel or '.'!r} differs:\n"
                           f"  under test: {short(a, 600)}\n"
                           f"  oracle:     {short(b, 600)}")


def compare_trees(root_a, root_b):
    """Raise Mismatch unless the two trees hold the same entries, each
    described the same; returns the number of entries."""
    ta, tb = walk(root_a), walk(root_b)
    if ta != tb:
        only_a = sorted(set(ta) - set(tb))[:10]
        only_b = sorted(set(tb) - set(ta))[:10]
        raise Mismatch(f"trees differ: only under test {only_a}, "
                       f"only in the oracle {only_b}")
    check_paths((root_a, root_b), [""] + [p for p, _ in tb], "full check")
    return len(tb)


# ---------------------------------------------------------------------------
# The worker


class Worker:
    def __init__(self, roots, seed, index, ops, seconds):
        self.roots = roots              # (under test, oracle)
        self.seed = seed
        self.index = index
        self.max_ops = ops
        self.seconds = seconds
        self.rng = random.Random(f"fsx:{seed}:{index}")
        self.log = collections.deque(maxlen=LOG_TAIL)
        self.held = []                  # [(fd_a, fd_b, rel, flags)]
        self.settles_late = False       # this step: check_settled
        self.step = 0
        self.counts = collections.Counter()
        self.tree = []

    # -- choosing paths (from the oracle's tree: deterministic) -------------

    def refresh(self):
        self.tree = walk(self.roots[1])

    def entries(self, kind=None):
        return [p for p, t in self.tree if kind is None or t == kind]

    def dirs(self):
        """Directories new entries may go to (not too deep)."""
        return [""] + [p for p in self.entries(stat.S_IFDIR)
                       if p.count("/") < MAX_DEPTH]

    def new_path(self, names=None):
        d = self.rng.choice(self.dirs())
        n = self.rng.choice(names or FILE_NAMES + DIR_NAMES)
        return os.path.join(d, n) if d else n

    def any_path(self, kind=None, fresh=0.15):
        pool = self.entries(kind)
        if not pool or self.rng.random() < fresh:
            return self.new_path()
        return self.rng.choice(pool)

    def oracle_type(self, rel, follow=True):
        try:
            fn = os.stat if follow else os.lstat
            return stat.S_IFMT(fn(os.path.join(self.roots[1], rel)).st_mode)
        except OSError:
            return None

    def openable(self, rel):
        """May rel be opened without blocking (not a FIFO, also through a
        symlink)?"""
        t = self.oracle_type(rel)
        return t is None or t == stat.S_IFREG or t == stat.S_IFDIR

    def data(self):
        r = self.rng.random()
        if r < 0.6:
            n = self.rng.randrange(1, 4097)
        elif r < 0.9:
            n = self.rng.randrange(1, 70_000)
        else:
            n = self.rng.randrange(1, 300_000)
        return self.rng.randbytes(n)

    def offset(self):
        return self.rng.choice([0, self.rng.randrange(0, 5000),
                                self.rng.randrange(0, 70_000),
                                self.rng.randrange(0, 1_200_000)])

    def falloc_args(self):
        """(mode, offset, length) of a fallocate: mostly tmpfs's modes,
        now and then one tmpfs refuses."""
        rng = self.rng
        modes = [0, FALLOC_FL_KEEP_SIZE, FALLOC_FL_KEEP_SIZE,
                 FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
                 FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
                 FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE]
        if rng.random() < 0.1:
            modes = [FALLOC_FL_ZERO_RANGE, FALLOC_FL_COLLAPSE_RANGE,
                     FALLOC_FL_INSERT_RANGE, FALLOC_FL_PUNCH_HOLE]
        length = rng.choice([rng.randrange(1, 5000),
                             rng.randrange(1, 100_000),
                             rng.randrange(1, 1_500_000)])
        return rng.choice(modes), self.offset(), length

    def size(self):
        return self.rng.choice([0, self.rng.randrange(0, 5000),
                                self.rng.randrange(0, 100_000),
                                self.rng.randrange(0, 1_500_000)])

    # -- running one operation on both sides --------------------------------

    def both(self, fn):
        return tuple(call(fn, root, side)
                     for side, root in enumerate(self.roots))

    def held_fd(self, h, side):
        return h[side]

    def gen(self):
        """Choose the next operation: (name, description, fn(root, side),
        paths whose state to compare afterwards)."""
        rng = self.rng
        kinds = ["write", "write", "write", "replace", "read", "read",
                 "truncate", "rename", "rename", "link", "unlink", "unlink",
                 "mkdir", "mkdir", "rmdir", "symlink", "readlink", "mkfifo",
                 "setxattr", "setxattr", "removexattr", "getxattr", "chmod",
                 "utime", "stat", "listdir", "hopen", "hopen", "hwrite",
                 "hwrite", "hread", "hread", "htruncate", "hfallocate",
                 "fallocate", "fallocate", "hstat", "hsync",
                 "hclose", "create", "tmpfile"]
        kind = rng.choice(kinds)
        j = os.path.join

        if kind in ("write", "create"):
            rel = self.any_path(stat.S_IFREG)
            if not self.openable(rel):
                kind = "stat"
            else:
                acc = rng.choice([os.O_WRONLY, os.O_RDWR])
                flags = acc | rng.choice([0, 0, os.O_APPEND])
                if kind == "create" or rng.random() < 0.3:
                    flags |= os.O_CREAT | rng.choice([0, 0, os.O_EXCL])
                data, off = self.data(), self.offset()
                mode = rng.choice([0o644, 0o600, 0o666])

                def fn(root, side):
                    fd = os.open(j(root, rel), flags, mode)
                    try:
                        if flags & os.O_APPEND:
                            return os.write(fd, data)
                        return os.pwrite(fd, data, off)
                    finally:
                        os.close(fd)
                return (kind, f"{rel} flags={flags:#o} off={off} "
                        f"{short(data)}", fn, [rel])

        if kind == "replace":
            rel = self.any_path(stat.S_IFREG)
            if self.openable(rel):
                data = self.data() if rng.random() < 0.9 else b""
                # mmfs empties the file at close only if it can tell the
                # replace's descriptor from the worker's others.
                self.settles_late = not data and self.holds_writeonly()

                def fn(root, side):
                    fd = os.open(j(root, rel),
                                 os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
                    try:
                        return os.write(fd, data) if data else 0
                    finally:
                        os.close(fd)
                return (kind, f"{rel} {short(data)}", fn, [rel])
            kind = "stat"

        if kind == "read":
            rel = self.any_path(stat.S_IFREG, fresh=0.05)
            if self.openable(rel):
                acc = rng.choice([os.O_RDONLY, os.O_RDWR])
                off, n = self.offset(), rng.choice(
                    [1, rng.randrange(1, 5000), rng.randrange(1, 400_000)])

                def fn(root, side):
                    fd = os.open(j(root, rel), acc)
                    try:
                        return digest(os.pread(fd, n, off))
                    finally:
                        os.close(fd)
                return (kind, f"{rel} acc={acc} off={off} n={n}", fn, [])
            kind = "stat"

        if kind == "fallocate":
            rel = self.any_path(stat.S_IFREG, fresh=0.05)
            if self.openable(rel):
                acc = rng.choice([os.O_WRONLY, os.O_RDWR])
                mode, off, n = self.falloc_args()

                def fn(root, side):
                    fd = os.open(j(root, rel), acc)
                    try:
                        return fallocate(fd, mode, off, n)
                    finally:
                        os.close(fd)
                return (kind, f"{rel} acc={acc} mode={mode:#x} off={off} "
                        f"len={n}", fn, [rel])
            kind = "stat"

        if kind == "truncate":
            rel = self.any_path(stat.S_IFREG, fresh=0.05)
            size = self.size()
            return (kind, f"{rel} {size}",
                    lambda root, side: os.truncate(j(root, rel), size), [rel])

        if kind == "rename":
            src = self.any_path(fresh=0.05)
            if rng.random() < 0.5 and self.entries():
                dst = rng.choice(self.entries())     # over an existing entry
            else:
                dst = self.new_path()
            flags = rng.choice([0, 0, 0, RENAME_NOREPLACE, RENAME_EXCHANGE])
            if flags:
                fn = lambda root, side: renameat2(j(root, src), j(root, dst),
                                                  flags)
            else:
                fn = lambda root, side: os.rename(j(root, src), j(root, dst))
            return (kind, f"{src} -> {dst} flags={flags}", fn,
                    [src, dst, os.path.dirname(src), os.path.dirname(dst)])

        if kind == "tmpfile":
            d = rng.choice(self.dirs())
            dst = self.new_path()
            flags = os.O_TMPFILE | rng.choice([os.O_WRONLY, os.O_RDWR]) | \
                rng.choice([0, 0, 0, os.O_EXCL])
            mode = rng.choice([0o644, 0o600, 0o666])
            name = rng.random() < 0.7
            data, off = self.data(), self.offset()

            def fn(root, side):
                fd = os.open(j(root, d), flags, mode)
                try:
                    n = os.pwrite(fd, data, off)
                    st = os.fstat(fd)
                    if name:
                        link_fd(fd, j(root, dst))
                    return (n, oct(st.st_mode), st.st_nlink, st.st_size)
                finally:
                    os.close(fd)
            return (kind, f"{d or '.'} flags={flags:#o} {mode:#o} "
                    f"off={off} {short(data)} -> {dst if name else '-'}",
                    fn, [d, dst])

        if kind == "link":
            src = self.any_path(fresh=0.05)
            dst = self.new_path()
            return (kind, f"{src} -> {dst}",
                    lambda root, side: os.link(j(root, src), j(root, dst),
                                               follow_symlinks=False),
                    [src, dst])

        if kind == "unlink":
            rel = self.any_path(fresh=0.05)
            return (kind, rel, lambda root, side: os.unlink(j(root, rel)),
                    [rel, os.path.dirname(rel)])

        if kind == "mkdir":
            rel = self.new_path(DIR_NAMES + FILE_NAMES[:2])
            mode = rng.choice([0o755, 0o700, 0o777, 0o2775])
            return (kind, f"{rel} {mode:#o}",
                    lambda root, side: os.mkdir(j(root, rel), mode),
                    [rel, os.path.dirname(rel)])

        if kind == "rmdir":
            rel = self.any_path(stat.S_IFDIR, fresh=0.05)
            return (kind, rel, lambda root, side: os.rmdir(j(root, rel)),
                    [rel, os.path.dirname(rel)])

        if kind == "symlink":
            rel = self.new_path()
            # Relative, within the same directory: never out of the
            # subtree, and the same on both sides.
            target = rng.choice(FILE_NAMES + DIR_NAMES + ["nowhere"])
            return (kind, f"{rel} -> {target}",
                    lambda root, side: os.symlink(target, j(root, rel)),
                    [rel])

        if kind == "readlink":
            rel = self.any_path(stat.S_IFLNK, fresh=0.05)
            return (kind, rel, lambda root, side: os.readlink(j(root, rel)),
                    [])

        if kind == "mkfifo":
            rel = self.new_path()
            return (kind, rel, lambda root, side: os.mkfifo(j(root, rel),
                                                           0o644), [rel])

        if kind in ("setxattr", "removexattr", "getxattr"):
            rel = self.any_path(fresh=0.05)
            name = rng.choice(XATTR_NAMES)
            follow = rng.random() < 0.3
            if kind == "setxattr":
                value = rng.randbytes(rng.choice(
                    [0, rng.randrange(1, 64), rng.randrange(1, 3000)]))
                flags = rng.choice([0, 0, os.XATTR_CREATE, os.XATTR_REPLACE])
                fn = lambda root, side: os.setxattr(
                    j(root, rel), name, value, flags, follow_symlinks=follow)
                desc = f"{rel} {name} {short(value)} flags={flags}"
            elif kind == "removexattr":
                fn = lambda root, side: os.removexattr(
                    j(root, rel), name, follow_symlinks=follow)
                desc = f"{rel} {name}"
            else:
                fn = lambda root, side: digest(os.getxattr(
                    j(root, rel), name, follow_symlinks=follow))
                desc = f"{rel} {name}"
            return (kind, desc + f" follow={follow}", fn, [rel])

        if kind == "chmod":
            rel = self.any_path(fresh=0.05)
            if self.oracle_type(rel) == stat.S_IFDIR:
                mode = rng.choice(DIR_MODES)
            else:
                mode = rng.choice(FILE_MODES)
            return (kind, f"{rel} {mode:#o}",
                    lambda root, side: os.chmod(j(root, rel), mode), [rel])

        if kind == "utime":
            rel = self.any_path(fresh=0.05)
            times = (rng.randrange(0, 2**33) * 10**9 + rng.randrange(10**9),
                     rng.randrange(0, 2**33) * 10**9 + rng.randrange(10**9))
            follow = rng.random() < 0.7

            def fn(root, side):
                p = j(root, rel)
                os.utime(p, ns=times, follow_symlinks=follow)
                st = os.stat(p, follow_symlinks=follow)
                return st.st_mtime_ns
            return (kind, f"{rel} {times} follow={follow}", fn, [rel])

        if kind == "stat":
            rel = self.any_path(fresh=0.1)
            return (kind, rel, lambda root, side: describe(j(root, rel)), [])

        if kind == "listdir":
            rel = self.any_path(stat.S_IFDIR, fresh=0.05)
            return (kind, rel,
                    lambda root, side: sorted(os.listdir(j(root, rel))), [])

        # -- held descriptors --
        if kind == "hopen":
            if len(self.held) >= MAX_HELD:
                kind = "hclose"
            else:
                rel = self.any_path(stat.S_IFREG, fresh=0.1)
                if not self.openable(rel):
                    return ("stat", rel,
                            lambda root, side: describe(j(root, rel)), [])
                acc = rng.choice([os.O_RDONLY, os.O_WRONLY, os.O_RDWR,
                                  os.O_RDWR])
                flags = acc | rng.choice([0, 0, os.O_APPEND]) | \
                    rng.choice([0, os.O_CREAT])
                h = [None, None, rel, flags]
                self.held.append(h)

                def fn(root, side):
                    h[side] = os.open(j(root, rel), flags, 0o644)
                    return "opened"
                return (kind, f"{rel} flags={flags:#o}", fn, [rel])

        if kind == "hclose":
            if not self.held:
                return ("stat", "", lambda root, side: describe(root), [])
            h = self.held.pop(rng.randrange(len(self.held)))

            def fn(root, side):
                if h[side] is None:
                    return "not open"
                fd, h[side] = h[side], None
                os.close(fd)
                return "closed"
            return (kind, f"{h[2]}", fn, [h[2]])

        if not self.held:
            return ("stat", "", lambda root, side: describe(root), [])
        h = rng.choice(self.held)

        def fd_of(side):
            if h[side] is None:
                raise OSError(errno.EBADF, "not open")
            return h[side]

        if kind == "hwrite":
            data, off = self.data(), self.offset()

            def fn(root, side):
                if h[3] & os.O_APPEND:
                    return os.write(fd_of(side), data)
                return os.pwrite(fd_of(side), data, off)
            return (kind, f"{h[2]} off={off} {short(data)}", fn, [h[2]])

        if kind == "hread":
            off, n = self.offset(), rng.choice(
                [1, rng.randrange(1, 5000), rng.randrange(1, 400_000)])

            def fn(root, side):
                # An O_RDONLY descriptor of mmfs reads one version per
                # pass (mmfs(7), ATOMICITY), which POSIX and the oracle do
                # not know of: a read at offset 0 starts a pass at the
                # newest version, so the read that follows compares.
                if h[3] & os.O_ACCMODE == os.O_RDONLY and off:
                    os.pread(fd_of(side), 1, 0)
                return digest(os.pread(fd_of(side), n, off))
            return (kind, f"{h[2]} off={off} n={n}", fn, [])

        if kind == "htruncate":
            size = self.size()
            return (kind, f"{h[2]} {size}",
                    lambda root, side: os.ftruncate(fd_of(side), size),
                    [h[2]])

        if kind == "hfallocate":
            mode, off, n = self.falloc_args()
            return (kind, f"{h[2]} mode={mode:#x} off={off} len={n}",
                    lambda root, side: fallocate(fd_of(side), mode, off, n),
                    [h[2]])

        if kind == "hsync":
            return (kind, h[2], lambda root, side: os.fsync(fd_of(side)), [])

        # hstat (the size of a directory is the file system's own)
        def fn(root, side):
            st = os.fstat(fd_of(side))
            return (oct(st.st_mode), st.st_nlink, st.st_uid, st.st_gid,
                    st.st_size if stat.S_ISREG(st.st_mode) else None)
        return ("hstat", h[2], fn, [])

    def holds_writeonly(self):
        """Does this worker hold an O_WRONLY descriptor under test?"""
        return any(h[0] is not None and
                   (h[3] & os.O_ACCMODE) == os.O_WRONLY for h in self.held)

    def check(self, rels, what):
        check_paths(self.roots, rels, what)

    def check_settled(self, rels, what):
        """check, allowing RELEASE_WAIT seconds for a replace that wrote
        nothing to empty the file: while its process holds another
        descriptor on the file with the replace's access mode, mmfs cannot
        tell which one was closed, and empties the file when the kernel
        releases the replace's open file, a moment after close(2)
        (mmfs(7), "Deferred O_TRUNC" in ops.c).  A file never emptied
        still fails."""
        deadline = time.monotonic() + RELEASE_WAIT
        while True:
            try:
                return self.check(rels, what)
            except Mismatch:
                if time.monotonic() >= deadline:
                    raise
                time.sleep(0.001)

    def full_check(self):
        compare_trees(*self.roots)

    def run(self):
        deadline = time.monotonic() + self.seconds if self.seconds else None
        while self.max_ops is None or self.step < self.max_ops:
            if deadline is not None and time.monotonic() >= deadline:
                break
            self.refresh()
            self.settles_late = False
            kind, desc, fn, touched = self.gen()
            entry = f"#{self.step} {kind} {desc}"
            self.log.append(entry)
            ra, rb = self.both(fn)
            self.log[-1] = f"{entry} -> {short(ra)}" + \
                ("" if ra == rb else f" (oracle: {short(rb)})")
            if ra != rb:
                raise Mismatch(f"{kind} returned {ra!r} under test, {rb!r} "
                               f"in the oracle")
            if self.settles_late:
                self.check_settled(touched, kind)
            else:
                self.check(touched, kind)
            self.counts[kind] += 1
            self.step += 1
            if self.step % FULL_CHECK_EVERY == 0:
                self.full_check()
        for h in self.held:
            for side in (0, 1):
                if h[side] is not None:
                    call(os.close, h[side])
                    h[side] = None
        self.held = []
        self.full_check()


def worker_main(args):
    roots = tuple(os.path.join(d, f"w{args.worker}") for d in args.dirs)
    os.umask(0o022)
    w = Worker(roots, args.seed, args.worker, args.ops, args.seconds)
    result = {"worker": args.worker, "seed": args.seed, "ok": True}
    try:
        w.run()
    except Mismatch as e:
        result["ok"] = False
        result["error"] = str(e)
    except Exception as e:      # a bug of fsx itself, or a crash
        result["ok"] = False
        result["error"] = f"exception {e!r}"
    result["ops"] = w.step
    result["counts"] = dict(w.counts)
    if not result["ok"]:
        result["step"] = w.step
        result["log"] = list(w.log)
    print(json.dumps(result), flush=True)
    return 0 if result["ok"] else 1


# ---------------------------------------------------------------------------
# The driver


def drop_to(uid):
    def fn():
        os.setgroups([])
        os.setresgid(uid, uid, uid)
        os.setresuid(uid, uid, uid)
    return fn


def prepare(dirs, index, uid):
    for d in dirs:
        top = os.path.join(d, f"w{index}")
        os.mkdir(top, 0o755)
        if uid != os.getuid():
            os.chown(top, uid, uid)


def main(argv=None):
    ap = argparse.ArgumentParser(
        description="randomized file-system exerciser against an oracle")
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--ops", type=int, default=None,
                    help="operations per worker (default: 2000 unless "
                    "--seconds)")
    ap.add_argument("--seconds", type=float, default=None,
                    help="stop each worker after this long")
    ap.add_argument("--procs", type=int, default=1)
    ap.add_argument("--users", default=None,
                    help="comma-separated uids for the workers, in turn")
    ap.add_argument("--only-worker", type=int, default=None)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--worker", type=int, default=None, help=argparse.SUPPRESS)
    ap.add_argument("dirs", nargs=2, metavar="DIR")
    args = ap.parse_args(argv)
    if args.seed is None:
        args.seed = random.SystemRandom().randrange(1, 2**31)
    if args.ops is None and args.seconds is None:
        args.ops = 2000
    if args.worker is not None:
        return worker_main(args)

    users = [int(u) for u in args.users.split(",")] if args.users else \
        [os.getuid()]
    workers = [args.only_worker] if args.only_worker is not None else \
        list(range(args.procs))
    procs = []
    for i in workers:
        uid = users[i % len(users)]
        prepare(args.dirs, i, uid)
        cmd = [sys.executable, os.path.abspath(__file__), "--worker", str(i),
               "--seed", str(args.seed)]
        if args.ops is not None:
            cmd += ["--ops", str(args.ops)]
        if args.seconds is not None:
            cmd += ["--seconds", str(args.seconds)]
        cmd += list(args.dirs)
        pre = drop_to(uid) if uid != os.getuid() else None
        procs.append((i, uid, subprocess.Popen(
            cmd, stdout=subprocess.PIPE, text=True, preexec_fn=pre)))
    budget = (args.seconds or 0) + 120 + (args.ops or 0) * 0.05
    deadline = time.monotonic() + budget
    results, failures = [], []
    for i, uid, p in procs:
        try:
            out, _ = p.communicate(timeout=max(1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            p.send_signal(signal.SIGKILL)
            out, _ = p.communicate()
            failures.append({"worker": i, "uid": uid, "ok": False,
                             "error": f"worker hung (killed after "
                             f"{budget:.0f} s)", "log": []})
            continue
        try:
            r = json.loads(out.strip().splitlines()[-1])
        except (ValueError, IndexError):
            r = {"worker": i, "ok": False, "log": [],
                 "error": f"worker exited {p.returncode} without a result: "
                 f"{out[-2000:]!r}"}
        r["uid"] = uid
        results.append(r)
        if not r["ok"]:
            failures.append(r)
    total = sum(r.get("ops", 0) for r in results)
    counts = collections.Counter()
    for r in results:
        counts.update(r.get("counts", {}))
    for f in failures:
        step = f.get("step")
        print(f"fsx: MISMATCH: seed {args.seed}, worker {f['worker']} "
              f"(uid {f['uid']}), step {step}: {f['error']}", file=sys.stderr)
        if step is not None:
            print(f"fsx: replay: {sys.executable} {os.path.abspath(__file__)}"
                  f" --seed {args.seed} --ops {step + 1} --procs {args.procs}"
                  + (f" --users {args.users}" if args.users else "")
                  + f" --only-worker {f['worker']} NEW_DIR_A NEW_DIR_B",
                  file=sys.stderr)
        print("fsx: last operations (-> result under test):", file=sys.stderr)
        for line in f.get("log", []):
            print("    " + line, file=sys.stderr)
    summary = {"seed": args.seed, "workers": len(procs), "ops": total,
               "failures": len(failures), "counts": dict(counts)}
    if args.json:
        print(json.dumps(summary))
    else:
        print(f"fsx: seed {args.seed}: {len(procs)} workers, {total} "
              f"operations checked, {len(failures)} mismatches")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

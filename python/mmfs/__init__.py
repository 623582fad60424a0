"""mmfs: the files of an mmfs arena at memory speed (libmmfs, mmfs(3)).

    import mmfs
    m = mmfs.attach("/mnt/shm")          # a mount point, or an arena file
    m.set("app/counter", b"41\\n")
    m.add("app/counter", 1)              # -> 42, atomically
    data = m.get("app/counter")          # b"42\\n": never torn
    v = m.version("app/counter")
    m.wait("app/counter", v, timeout=1.5)  # until another process commits
    m.append("log.ring", b"started")
    for record in m.records("log.ring"):   # the retained records
        ...

Every failure raises OSError with the errno (FileNotFoundError, ...).
"""

import ctypes
import errno
import os

try:
    from . import _config       # written by meson at build time
except ImportError:             # the source tree: set MMFS_LIBRARY
    _config = None

__all__ = ["attach", "Arena", "Ring"]

_CREATE, _RDONLY = 2, 1


def _load():
    names = [os.environ.get("MMFS_LIBRARY"), "libmmfs.so.0"]
    if _config:
        names.append(os.path.join(_config.LIBDIR, "libmmfs.so.0"))
    last = None
    for name in names:
        if not name:
            continue
        try:
            return ctypes.CDLL(name, use_errno=True)
        except OSError as e:
            last = e
    raise ImportError(f"cannot load libmmfs: {last}")


_lib = _load()
_vp, _cp, _sz = ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t
_u64p = ctypes.POINTER(ctypes.c_uint64)
for _name, _res, _args in [
        ("mmfs_attach", ctypes.c_int, [_cp, ctypes.c_int,
                                       ctypes.POINTER(_vp)]),
        ("mmfs_attach_error", _cp, []),
        ("mmfs_detach", None, [_vp]),
        ("mmfs_get", ctypes.c_ssize_t, [_vp, _cp, _vp, _sz, _u64p]),
        ("mmfs_version", ctypes.c_int, [_vp, _cp, _u64p]),
        ("mmfs_set", ctypes.c_int, [_vp, _cp, _cp, _sz]),
        ("mmfs_add", ctypes.c_int, [_vp, _cp, ctypes.c_int64,
                                    ctypes.POINTER(ctypes.c_int64)]),
        ("mmfs_wait", ctypes.c_int, [_vp, _cp, ctypes.c_uint64,
                                     ctypes.c_int]),
        ("mmfs_append", ctypes.c_int, [_vp, _cp, _cp, _sz]),
        ("mmfs_ring_open", ctypes.c_int, [_vp, _cp, ctypes.POINTER(_vp)]),
        ("mmfs_ring_next", ctypes.c_ssize_t, [_vp, _vp, _sz, ctypes.c_int]),
        ("mmfs_ring_close", None, [_vp])]:
    _f = getattr(_lib, _name)
    _f.restype, _f.argtypes = _res, _args


def _check(rc, name=None, message=None):
    if rc < 0:
        raise OSError(-rc, message or os.strerror(-rc), name)
    return rc


def _bytes(data):
    if isinstance(data, str):
        return data.encode()
    if isinstance(data, int):       # bytes(5) would be five zero bytes
        raise TypeError("a value is bytes or str, not int")
    return bytes(data)


def _ms(timeout):
    """Seconds (float, None: no limit) to libmmfs's milliseconds."""
    if timeout is None:
        return -1
    if timeout < 0:
        raise ValueError("timeout must be non-negative or None")
    return min(int(timeout * 1000 + 0.999), 2**31 - 1)


class Arena:
    """An attached arena; names are paths relative to what was attached."""

    def __init__(self, path, readonly=False, create=False):
        self._m = _vp()
        flags = (_RDONLY if readonly else 0) | (_CREATE if create else 0)
        rc = _lib.mmfs_attach(os.fsencode(path), flags, ctypes.byref(self._m))
        if rc < 0:
            why = _lib.mmfs_attach_error()
            _check(rc, os.fspath(path), why.decode() if why else None)

    def _handle(self):
        if not self._m:
            raise ValueError("arena is detached")
        return self._m

    def detach(self):
        if self._m:
            _lib.mmfs_detach(self._m)
            self._m = _vp()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.detach()

    def __del__(self):
        try:
            self.detach()
        except Exception:
            pass

    def get(self, name):
        """The whole value of name: one committed version, never torn."""
        return self.get_versioned(name)[0]

    def get_versioned(self, name):
        """(value, version), read together."""
        key, size = os.fsencode(name), 4096
        version = ctypes.c_uint64()
        while True:
            buf = ctypes.create_string_buffer(size)
            n = _lib.mmfs_get(self._handle(), key, buf, size,
                              ctypes.byref(version))
            if n != -errno.ERANGE:
                _check(n, name)
                return buf.raw[:n], version.value
            size = max(_check(_lib.mmfs_get(self._handle(), key, None, 0,
                                            None), name), size * 2)

    def version(self, name):
        v = ctypes.c_uint64()
        _check(_lib.mmfs_version(self._handle(), os.fsencode(name),
                                 ctypes.byref(v)), name)
        return v.value

    def set(self, name, data):
        """Create or replace name's whole value, atomically."""
        data = _bytes(data)
        _check(_lib.mmfs_set(self._handle(), os.fsencode(name), data,
                             len(data)), name)

    def add(self, name, delta=1):
        """Add delta to the decimal counter in name; returns the sum."""
        out = ctypes.c_int64()
        _check(_lib.mmfs_add(self._handle(), os.fsencode(name), delta,
                             ctypes.byref(out)), name)
        return out.value

    def wait(self, name, version, timeout=None):
        """Sleep until name's version differs from version: True, or False
        when timeout (seconds, a float; None: no limit) passed first."""
        rc = _lib.mmfs_wait(self._handle(), os.fsencode(name), version,
                            _ms(timeout))
        if rc == -errno.ETIMEDOUT:
            return False
        _check(rc, name)
        return True

    def append(self, ring, data):
        """Append one record to a ring log (made if missing, *.ring)."""
        data = _bytes(data)
        _check(_lib.mmfs_append(self._handle(), os.fsencode(ring), data,
                                len(data)), ring)

    def records(self, ring, timeout=0):
        """A Ring iterator over ring's records, oldest retained first; it
        waits up to timeout seconds (None: forever) for each new one."""
        return Ring(self, ring, timeout)


class Ring:
    """Iterates the records of a ring log; stops when none comes within
    its timeout.  A reader that falls behind skips evicted records."""

    def __init__(self, arena, ring, timeout=0):
        self._arena = arena            # keeps the arena attached
        self._name = ring
        self._timeout = _ms(timeout)
        self._r = _vp()
        _check(_lib.mmfs_ring_open(arena._handle(), os.fsencode(ring),
                                   ctypes.byref(self._r)), ring)
        self._size = 4096

    def __iter__(self):
        return self

    def __next__(self):
        while True:
            if not self._r:
                raise StopIteration
            self._arena._handle()      # ValueError once it is detached
            buf = ctypes.create_string_buffer(self._size)
            n = _lib.mmfs_ring_next(self._r, buf, self._size, self._timeout)
            if n == -errno.EMSGSIZE:
                self._size *= 2
                continue
            if n == -errno.ETIMEDOUT:
                raise StopIteration
            _check(n, self._name)
            return buf.raw[:n]

    def close(self):
        if self._r:
            _lib.mmfs_ring_close(self._r)
            self._r = _vp()

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass


def attach(path, readonly=False, create=False):
    """Attach to an mmfs mount point (or a directory in one) or an arena
    file; create makes a missing arena file."""
    return Arena(path, readonly, create)

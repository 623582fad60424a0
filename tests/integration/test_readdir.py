"""Directory listings under change (mmfs(7), DIRECTORY LISTINGS): a
listing ends whatever is done to the directory meanwhile, returns every
name that stays put exactly once, and telldir(3) cookies stay valid when
other names come and go."""

import collections
import ctypes
import ctypes.util
import os

import pytest


@pytest.mark.parametrize("n", [10, 5000])
@pytest.mark.parametrize("away", ["same-dir", "other-dir"])
def test_listing_ends_when_each_name_is_renamed_away_and_back(mmfs, n, away):
    """xfstests generic/736: rename every listed name away and back while
    readdir(3) goes on.  Each rename makes a new name, which the listing
    does not return, so it returns the n names once each and ends (it
    never ended before: 5,000 files gave 15,001 entries, 10 files more
    than 100,000)."""
    m = mmfs()
    d = m.path("dir")
    os.mkdir(d)
    parking = m.path("parking") if away == "other-dir" else d
    if away == "other-dir":
        os.mkdir(parking)
    names = [str(i) for i in range(1, n + 1)]
    for name in names:
        open(os.path.join(d, name), "wb").close()
    seen = collections.Counter()
    with os.scandir(d) as it:
        for e in it:
            seen[e.name] += 1
            # generic/736 fails at 3n; an endless listing stops here.
            assert sum(seen.values()) <= 3 * n, \
                f"listing does not end: {sum(seen.values())} entries"
            os.rename(os.path.join(d, e.name),
                      os.path.join(parking, "TEMPFILE"))
            os.rename(os.path.join(parking, "TEMPFILE"),
                      os.path.join(d, e.name))
    assert sum(seen.values()) <= n
    assert set(seen) == set(names)
    twice = [k for k, v in seen.items() if v > 1]
    assert not twice, f"returned more than once: {twice[:5]}"
    assert sorted(os.listdir(d), key=int) == names


class Dirent(ctypes.Structure):
    _fields_ = [("d_ino", ctypes.c_uint64), ("d_off", ctypes.c_int64),
                ("d_reclen", ctypes.c_ushort), ("d_type", ctypes.c_ubyte),
                ("d_name", ctypes.c_char * 256)]


def libc_dir_calls():
    libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    libc.opendir.restype = ctypes.c_void_p
    libc.opendir.argtypes = [ctypes.c_char_p]
    libc.readdir.restype = ctypes.POINTER(Dirent)
    libc.readdir.argtypes = [ctypes.c_void_p]
    libc.telldir.restype = ctypes.c_long
    libc.telldir.argtypes = [ctypes.c_void_p]
    libc.seekdir.restype = None
    libc.seekdir.argtypes = [ctypes.c_void_p, ctypes.c_long]
    libc.rewinddir.restype = None
    libc.rewinddir.argtypes = [ctypes.c_void_p]
    libc.closedir.argtypes = [ctypes.c_void_p]
    return libc


def next_name(libc, dirp):
    ent = libc.readdir(dirp)
    return ent.contents.d_name.decode() if ent else None


def test_telldir_cookie_stays_valid_when_names_before_it_go(mnt):
    """seekdir(3) to a cookie that telldir(3) gave continues at the same
    name after the names before it were removed and others were created:
    readdir offsets are positions, not counts (a count skipped as many
    names as had gone)."""
    d = os.path.join(mnt, "dir")
    os.mkdir(d)
    # Long names: the listing takes many READDIR requests.
    names = [f"name-{i:04d}-{'x' * 100}" for i in range(600)]
    for name in names:
        open(os.path.join(d, name), "wb").close()
    libc = libc_dir_calls()
    dirp = libc.opendir(d.encode())
    assert dirp, os.strerror(ctypes.get_errno())
    try:
        cookies, order = {}, []
        while True:
            cookie = libc.telldir(dirp)
            name = next_name(libc, dirp)
            if name is None:
                break
            if name not in (".", ".."):
                cookies[name] = cookie
                order.append(name)
        assert sorted(order) == sorted(names)
        for name in order[:300]:
            os.unlink(os.path.join(d, name))
        for i in range(20):
            open(os.path.join(d, f"new-{i}"), "wb").close()
        for k in (300, 450, 599):
            libc.seekdir(dirp, cookies[order[k]])
            got = [next_name(libc, dirp) for _ in range(3)]
            want = (order[k:k + 3] + [None] * 3)[:3]
            assert got == want, f"seekdir to the cookie of name {k}"
    finally:
        libc.closedir(dirp)

"""renameat2(2) with RENAME_WHITEOUT, as on tmpfs: the old name comes to
name a whiteout (a character device 0/0, mode 0) in the same rename; and
overlayfs with its upper and work directories on an mmfs mount, which is
what whiteouts are for (mmfs(7), OVERLAYFS)."""

import errno
import os
import stat
import subprocess
import tempfile

import pytest

import helpers
from helpers import renameat2, RENAME_EXCHANGE, RENAME_NOREPLACE

RENAME_WHITEOUT = 4


def raises_errno(code, fn, *args, **kw):
    with pytest.raises(OSError) as ei:
        fn(*args, **kw)
    assert ei.value.errno == code, \
        f"expected {errno.errorcode[code]}, got {ei.value!r}"


def write(p, data):
    with open(p, "wb") as f:
        f.write(data)


def read(p):
    with open(p, "rb") as f:
        return f.read()


def is_whiteout(path):
    st = os.lstat(path)
    return (stat.S_ISCHR(st.st_mode) and st.st_rdev == 0 and
            stat.S_IMODE(st.st_mode) == 0)


def test_whiteout_left_at_source(mnt):
    os.mkdir(f"{mnt}/d")
    write(f"{mnt}/d/f", b"data")
    ino = os.stat(f"{mnt}/d/f").st_ino
    renameat2(f"{mnt}/d/f", f"{mnt}/g", RENAME_WHITEOUT)
    assert read(f"{mnt}/g") == b"data" and os.stat(f"{mnt}/g").st_ino == ino
    assert is_whiteout(f"{mnt}/d/f")
    st = os.lstat(f"{mnt}/d/f")
    assert st.st_nlink == 1 and st.st_ino != ino
    assert (st.st_uid, st.st_gid) == (os.getuid(), os.getgid())
    assert sorted(os.listdir(f"{mnt}/d")) == ["f"]
    # A whiteout is an ordinary name: it goes like any other.
    os.unlink(f"{mnt}/d/f")
    assert os.listdir(f"{mnt}/d") == []


def test_whiteout_replaces_target_and_moves_directories(mnt):
    write(f"{mnt}/a", b"A")
    write(f"{mnt}/b", b"B")
    renameat2(f"{mnt}/a", f"{mnt}/b", RENAME_WHITEOUT)
    assert read(f"{mnt}/b") == b"A" and is_whiteout(f"{mnt}/a")
    os.makedirs(f"{mnt}/dir/sub")
    renameat2(f"{mnt}/dir", f"{mnt}/moved", RENAME_WHITEOUT)
    assert os.path.isdir(f"{mnt}/moved/sub") and is_whiteout(f"{mnt}/dir")
    assert os.stat(mnt).st_nlink == 3        # the whiteout is no directory


def test_whiteout_flags_combine_as_the_kernel_says(mnt):
    write(f"{mnt}/a", b"A")
    write(f"{mnt}/b", b"B")
    raises_errno(errno.EEXIST, renameat2, f"{mnt}/a", f"{mnt}/b",
                 RENAME_WHITEOUT | RENAME_NOREPLACE)
    assert read(f"{mnt}/a") == b"A" and read(f"{mnt}/b") == b"B"
    raises_errno(errno.EINVAL, renameat2, f"{mnt}/a", f"{mnt}/b",
                 RENAME_WHITEOUT | RENAME_EXCHANGE)
    assert read(f"{mnt}/a") == b"A" and read(f"{mnt}/b") == b"B"
    renameat2(f"{mnt}/a", f"{mnt}/c", RENAME_WHITEOUT | RENAME_NOREPLACE)
    assert read(f"{mnt}/c") == b"A" and is_whiteout(f"{mnt}/a")
    raises_errno(errno.ENOENT, renameat2, f"{mnt}/none", f"{mnt}/x",
                 RENAME_WHITEOUT)
    assert not os.path.lexists(f"{mnt}/none")


def test_whiteout_takes_group_of_setgid_directory(mnt):
    os.mkdir(f"{mnt}/g")
    os.chown(f"{mnt}/g", 0, 4321)
    os.chmod(f"{mnt}/g", 0o2775)
    write(f"{mnt}/g/f", b"x")
    renameat2(f"{mnt}/g/f", f"{mnt}/out", RENAME_WHITEOUT)
    st = os.lstat(f"{mnt}/g/f")
    assert is_whiteout(f"{mnt}/g/f") and st.st_gid == 4321


def test_whiteout_by_unprivileged_user(mmfs):
    """Linux 5.8 and later let any user make whiteouts (tmpfs too); the
    whiteout belongs to the caller."""
    mnt = mmfs(opts=["allow_other"]).mnt
    os.chmod(mnt, 0o777)
    write(f"{mnt}/f", b"x")
    os.chown(f"{mnt}/f", 12345, 12345)
    code = ("import ctypes, sys; l = ctypes.CDLL(None, use_errno=True); "
            "r = l.renameat2(-100, sys.argv[1].encode(), -100, "
            "sys.argv[2].encode(), 4); "
            "print(r, ctypes.get_errno())")
    r = helpers.run(["setpriv", "--reuid=12345", "--regid=12346",
                     "--clear-groups", "/usr/bin/python3", "-c", code,
                     f"{mnt}/f", f"{mnt}/g"])
    assert r.stdout.split() == ["0", "0"]
    st = os.lstat(f"{mnt}/f")
    assert is_whiteout(f"{mnt}/f") and (st.st_uid, st.st_gid) == (12345,
                                                                  12346)
    assert read(f"{mnt}/g") == b"x"


def test_whiteout_survives_remount(mmfs):
    m = mmfs()
    write(m.path("f"), b"x")
    renameat2(m.path("f"), m.path("g"), RENAME_WHITEOUT)
    m.remount()
    assert is_whiteout(m.path("f")) and read(m.path("g")) == b"x"


# --- overlayfs ---------------------------------------------------------------


@pytest.fixture
def overlay(mnt, tmpfs_dir):
    """An overlay mount: lower on tmpfs (with a file "lf", a directory "ld"
    holding "x"), upper and work on the mmfs mount.  Yields (merged dir,
    lower dir, upper dir)."""
    lower = os.path.join(tmpfs_dir, "lower")
    os.makedirs(f"{lower}/ld")
    write(f"{lower}/lf", b"lower file\n")
    write(f"{lower}/ld/x", b"x\n")
    upper, work = f"{mnt}/upper", f"{mnt}/work"
    os.mkdir(upper)
    os.mkdir(work)
    merged = tempfile.mkdtemp(prefix="mmfs-ovl-", dir="/tmp")
    r = subprocess.run(["mount", "-t", "overlay", "overlay", "-o",
                        f"lowerdir={lower},upperdir={upper},workdir={work}",
                        merged], capture_output=True, text=True)
    if r.returncode != 0:
        os.rmdir(merged)
        pytest.fail(f"overlay mount on mmfs refused: {r.stderr.strip()} "
                    f"(dmesg: {helpers.run(['dmesg'], check=False).stdout[-500:]})")
    try:
        yield merged, lower, upper
    finally:
        subprocess.run(["umount", merged], capture_output=True)
        if not helpers.mounted(merged):
            os.rmdir(merged)


def test_overlay_delete_lower_file_leaves_whiteout_in_upper(overlay):
    merged, lower, upper = overlay
    assert read(f"{merged}/lf") == b"lower file\n"
    os.unlink(f"{merged}/lf")
    assert not os.path.lexists(f"{merged}/lf")
    assert os.path.exists(f"{lower}/lf")                 # lower untouched
    assert is_whiteout(f"{upper}/lf")
    assert sorted(os.listdir(merged)) == ["ld"]


def test_overlay_copy_up_opaque_and_rename(overlay):
    merged, lower, upper = overlay
    with open(f"{merged}/lf", "ab") as f:                # copy-up
        f.write(b"more\n")
    assert read(f"{upper}/lf") == b"lower file\nmore\n"
    assert read(f"{lower}/lf") == b"lower file\n"
    # A lower directory removed and made again is opaque in upper.
    subprocess.run(["rm", "-rf", f"{merged}/ld"], check=True)
    os.mkdir(f"{merged}/ld")
    assert os.listdir(f"{merged}/ld") == []
    assert os.getxattr(f"{upper}/ld", "trusted.overlay.opaque") == b"y"
    # New files go to upper; renaming a copied-up file leaves a whiteout.
    write(f"{merged}/new", b"n")
    assert read(f"{upper}/new") == b"n"
    os.rename(f"{merged}/lf", f"{merged}/lf2")
    assert read(f"{merged}/lf2") == b"lower file\nmore\n"
    assert not os.path.lexists(f"{merged}/lf")
    assert is_whiteout(f"{upper}/lf")

"""meson install, and mounting through mount(8): `mount -t fuse.mmfs` and an
fstab line, both of which run /sbin/mount.fuse.mmfs ARENA MNT -o OPTS."""

import os
import subprocess

import pytest

import conftest
import helpers

HELPER = "/sbin/mount.fuse.mmfs"


def build_dir():
    return os.path.dirname(os.path.dirname(os.path.dirname(
        os.path.abspath(conftest.binary_path()))))


def test_meson_install_puts_the_mount_helpers_in_sbin(tmp_path):
    dest = tmp_path / "root"
    r = subprocess.run(["meson", "install", "-C", build_dir(), "--destdir",
                        str(dest), "--no-rebuild"], capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    files = {str(p.relative_to(dest)) for p in dest.rglob("*")}
    sbin = [f for f in files if f.endswith("sbin/mount.mmfs")]
    assert sbin, sorted(files)
    prefix = sbin[0][:-len("sbin/mount.mmfs")]
    link = dest / prefix / "sbin" / "mount.fuse.mmfs"
    assert link.is_symlink() and os.readlink(link).endswith("mount.mmfs")
    assert (dest / prefix / "sbin" / "mmfsctl").exists()
    for page in ("man8/mount.mmfs.8", "man7/mmfs.7", "man8/mmfsctl.8"):
        assert any(f.endswith(page) for f in files), page


@pytest.fixture
def mount_helper(mmfs_bin):
    """/sbin/mount.fuse.mmfs pointing at the binary under test, for the
    length of the test (unless a real installation already put one)."""
    if os.path.lexists(HELPER):
        yield HELPER
        return
    os.symlink(os.path.abspath(mmfs_bin), HELPER)
    try:
        yield HELPER
    finally:
        os.unlink(HELPER)


def test_mount_t_fuse_mmfs(mount_helper, tmp_path):
    mnt = conftest.new_mountpoint()
    arena = tmp_path / "via-mount.arena"
    try:
        helpers.run(["mount", "-t", "fuse.mmfs", str(arena), mnt, "-o",
                     "size=16M,noatime,nosuid"])
        assert helpers.mounted(mnt)
        with open(os.path.join(mnt, "v"), "w") as f:
            f.write("via mount(8)\n")
        entry = helpers.mount_entry(mnt)
        assert entry[2] == "fuse.mmfs" and entry[0] == str(arena), entry
        helpers.run(["umount", mnt])
        assert not helpers.mounted(mnt)
        assert os.path.getsize(arena) <= 16 << 20
    finally:
        subprocess.run(["umount", "-l", mnt], capture_output=True)
        os.rmdir(mnt)


def test_fstab_line(mount_helper, tmp_path):
    mnt = conftest.new_mountpoint()
    arena = tmp_path / "fstab.arena"
    fstab = tmp_path / "fstab"
    fstab.write_text(f"{arena} {mnt} fuse.mmfs "
                     f"size=16M,allow_other,noauto,x-test=1 0 0\n")
    try:
        helpers.run(["mount", "--fstab", str(fstab), mnt])
        assert helpers.mounted(mnt)
        open(os.path.join(mnt, "v"), "w").write("from fstab\n")
        helpers.run(["umount", mnt])
        helpers.run(["mount", "--fstab", str(fstab), mnt])
        assert open(os.path.join(mnt, "v")).read() == "from fstab\n"
        helpers.run(["umount", mnt])
    finally:
        subprocess.run(["umount", "-l", mnt], capture_output=True)
        os.rmdir(mnt)

"""mount(8) and fstab as root: the options they pass to the helper
/sbin/mount.fuse.mmfs (dev, suid) and remount (ro, rw).

mount(8) looks for its helper only in /sbin, a directory every test and
every work tree on the machine shares.  These tests run mount(8) in a
private mount namespace instead, where an overlay on /usr/sbin adds
mount.fuse.mmfs -> the binary under test: nobody else sees it, and these
tests never run someone else's binary.  Every command that touches the
mounts runs in that namespace (nsenter); the daemons run there too.
"""

import os
import subprocess
import time

import pytest

import conftest
import helpers

USER = 12345            # a uid with no account, for set-user-ID checks


def unescape(field):
    return helpers._unescape_mount_field(field)


class Namespace:
    """A private mount namespace, kept alive by a sleeping process, where
    mount(8) finds /sbin/mount.fuse.mmfs = binary.  run() runs a command
    in it; close() unmounts the mmfs mounts made in it and waits for their
    daemons.  (It starts with copies of every mount on the machine, other
    tests' included: those it leaves alone.)"""

    def __init__(self, binary, workdir):
        self.binary = os.path.abspath(binary)
        self.keeper = subprocess.Popen(
            ["unshare", "--mount", "--propagation", "private", "sleep",
             "infinity"], stdin=subprocess.DEVNULL)
        ours = os.readlink("/proc/self/ns/mnt")
        if not helpers.wait_for(lambda: self._ns() not in (None, ours), 10):
            self.keeper.kill()
            raise AssertionError("unshare made no mount namespace")
        up, work = workdir / "sbin-upper", workdir / "sbin-work"
        up.mkdir()
        work.mkdir()
        os.symlink(self.binary, up / "mount.fuse.mmfs")
        self.inherited = set(self._mountinfo())
        self.run(["mount", "-t", "overlay", "overlay", "-o",
                  f"lowerdir=/usr/sbin,upperdir={up},workdir={work}",
                  "/usr/sbin"])

    def _ns(self):
        try:
            return os.readlink(f"/proc/{self.keeper.pid}/ns/mnt")
        except OSError:
            return None

    def run(self, argv, check=True, **kw):
        return helpers.run(["nsenter", "-t", str(self.keeper.pid), "-m",
                            "--"] + [str(a) for a in argv], check=check,
                           **kw)

    def sh(self, script, check=True, **kw):
        return self.run(["sh", "-c", script], check=check, **kw)

    def _mountinfo(self):
        """{mount id: (mount point, per-mount options, fstype, source,
        super options)} of the namespace."""
        out = {}
        for line in self.run(["cat", "/proc/self/mountinfo"]).stdout \
                .splitlines():
            f = line.split()
            dash = f.index("-", 6)
            out[f[0]] = (unescape(f[4]), f[5].split(","), f[dash + 1],
                         unescape(f[dash + 2]), f[dash + 3].split(","))
        return out

    def mount(self, mnt):
        """(per-mount options, fstype, source, super options) of the
        newest mount on mnt."""
        found = [m[1:] for m in self._mountinfo().values() if m[0] == mnt]
        assert found, f"nothing mounted on {mnt}"
        return found[-1]

    def options(self, mnt):
        """The per-mount options of mnt (nosuid, nodev, ro ...)."""
        return self.mount(mnt)[0]

    def daemons(self, mnt):
        return helpers.pids_of("mount.fuse.mmfs", mnt) + \
            helpers.pids_of(self.binary, mnt)

    def close(self):
        points = [m[0] for i, m in self._mountinfo().items()
                  if i not in self.inherited and m[2] == "fuse.mmfs"]
        for mnt in reversed(points):
            pids = self.daemons(mnt)
            if self.run(["umount", mnt], check=False).returncode:
                self.run(["umount", "-l", mnt], check=False)
            for pid in pids:
                if not helpers.wait_for(
                        lambda: not helpers.pid_alive(pid), 10):
                    os.kill(pid, 9)
        self.keeper.kill()
        self.keeper.wait()


@pytest.fixture
def ns(mmfs_bin, tmp_path):
    n = Namespace(mmfs_bin, tmp_path)
    try:
        yield n
    finally:
        n.close()


@pytest.fixture
def mountpoint():
    d = conftest.new_mountpoint()
    yield d
    if not helpers.mounted(d):
        os.rmdir(d)


# --- dev and suid ------------------------------------------------------


def works_as_dev_and_suid(ns, mnt):
    """(device nodes open, set-user-ID programs run as their owner) on
    mnt, found with real programs: a copy of /dev/null written to, and a
    set-user-ID root copy of id(1) run by another uid."""
    ns.run(["mknod", f"{mnt}/null", "c", "1", "3"])
    dev = ns.sh(f"echo x > {mnt}/null", check=False)
    ns.run(["cp", "/usr/bin/id", f"{mnt}/id"])
    ns.run(["chmod", "4755", f"{mnt}/id"])
    euid = ns.run(["setpriv", f"--reuid={USER}", f"--regid={USER}",
                   "--clear-groups", f"{mnt}/id", "-u"]).stdout.strip()
    assert euid in ("0", str(USER)), euid
    return dev.returncode == 0, euid == "0"


def test_mount_t_dev_suid(ns, tmp_path, mountpoint):
    """mount -t fuse.mmfs -o dev,suid: mount(8) does not pass dev or suid
    to the helper (they are the absence of nodev, nosuid), so the helper
    must not fall back to nodev,nosuid; a plain mount(8) mount is
    dev,suid too, as for any file system, and nodev,nosuid are kept."""
    arena = tmp_path / "a.arena"
    ns.run(["mount", "-t", "fuse.mmfs", arena, mountpoint, "-o",
            "size=16M,dev,suid,allow_other"])
    flags = ns.options(mountpoint)
    assert "nosuid" not in flags and "nodev" not in flags, flags
    assert works_as_dev_and_suid(ns, mountpoint) == (True, True)
    ns.run(["umount", mountpoint])
    ns.run(["mount", "-t", "fuse.mmfs", arena, mountpoint, "-o",
            "allow_other"])
    flags = ns.options(mountpoint)
    assert "nosuid" not in flags and "nodev" not in flags, flags
    ns.run(["umount", mountpoint])
    ns.run(["mount", "-t", "fuse.mmfs", arena, mountpoint, "-o",
            "nosuid,nodev,allow_other"])
    flags = ns.options(mountpoint)
    assert "nosuid" in flags and "nodev" in flags, flags
    ns.run(["rm", f"{mountpoint}/null", f"{mountpoint}/id"])
    assert works_as_dev_and_suid(ns, mountpoint) == (False, False)
    ns.run(["umount", mountpoint])


@pytest.mark.parametrize("opts, want", [
    ("size=16M,allow_other,dev,suid", (True, True)),
    ("defaults,allow_other", (True, True)),
    ("allow_other,nosuid", (True, False)),
    ("allow_other,nodev,noauto", (False, True)),
])
def test_fstab_dev_suid(ns, tmp_path, mountpoint, opts, want):
    """The same through an fstab line (mount -T FILE MNT)."""
    fstab = tmp_path / "fstab"
    fstab.write_text(f"{tmp_path / 'f.arena'} {mountpoint} fuse.mmfs "
                     f"{opts} 0 0\n")
    ns.run(["mount", "-T", fstab, mountpoint])
    flags = ns.options(mountpoint)
    assert ("nodev" not in flags, "nosuid" not in flags) == want, flags
    assert works_as_dev_and_suid(ns, mountpoint) == want
    ns.run(["umount", mountpoint])


def test_mount_mmfs_itself_keeps_libfuse_defaults(mmfs):
    """Run as mount.mmfs (not by mount(8)): nosuid,nodev unless dev and
    suid are asked for, as libfuse mounts."""
    m = mmfs()
    opts = helpers.mount_entry(m.mnt)[3].split(",")
    assert "nosuid" in opts and "nodev" in opts, opts
    m.remount(opts=["dev", "suid"])
    opts = helpers.mount_entry(m.mnt)[3].split(",")
    assert "nosuid" not in opts and "nodev" not in opts, opts

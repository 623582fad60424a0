"""mount(8) and fstab as root: the options they pass to the helper
/sbin/mount.fuse.mmfs (dev, suid) and remount (ro, rw).

mount(8) looks for its helper only in /sbin, a directory every test and
every work tree on the machine shares.  These tests run mount(8) in a
private mount namespace instead, where an overlay on /usr/sbin adds
mount.fuse.mmfs -> the binary under test: nobody else sees it, and these
tests never run someone else's binary.  Every command that touches the
mounts runs in that namespace (nsenter); the daemons run there too.
"""

import json
import os
import subprocess

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


# --- remount -----------------------------------------------------------

# Runs in the namespace: every statement of argv[1] (a JSON list of
# [name, python statement]) and prints {name: "ok" | errno name | value}.
PROBE = r"""
import errno, json, os, sys
out = {}
for name, stmt in json.loads(sys.argv[1]):
    env = {"os": os, "result": "ok"}
    try:
        exec(stmt, env)
        out[name] = env["result"]
    except OSError as e:
        out[name] = errno.errorcode.get(e.errno, str(e.errno))
print(json.dumps(out))
"""


def probe(ns, stmts):
    r = ns.run(["/usr/bin/python3", "-c", PROBE, json.dumps(list(stmts))])
    return json.loads(r.stdout.strip().splitlines()[-1])


def changes(mnt, tag):
    """Statements that each change the file system in another way."""
    return [
        ("write", f"open('{mnt}/f', 'w').write('{tag}')"),
        ("append", f"open('{mnt}/f', 'a').write('+')"),
        ("create", f"open('{mnt}/new-{tag}', 'w').close()"),
        ("mkdir", f"os.mkdir('{mnt}/dir-{tag}')"),
        ("rename", f"os.rename('{mnt}/g', '{mnt}/g2'); "
                   f"os.rename('{mnt}/g2', '{mnt}/g')"),
        ("chmod", f"os.chmod('{mnt}/g', 0o640)"),
        ("truncate", f"os.truncate('{mnt}/g', 1)"),
        ("xattr", f"os.setxattr('{mnt}/g', 'user.t', b'{tag}')"),
        ("symlink", f"os.symlink('g', '{mnt}/link-{tag}')"),
        ("link", f"os.link('{mnt}/g', '{mnt}/hard-{tag}')"),
        ("ring", f"open('{mnt}/log.ring', 'a').write('{tag}')"),
        ("unlink", f"os.unlink('{mnt}/victim-{tag}')"),
    ]


def reads(ns, mnt):
    """What reading the tree gives (compared before and after a remount)."""
    return probe(ns, [
        ("read", f"result = open('{mnt}/g').read()"),
        ("list", f"result = sorted(os.listdir('{mnt}'))"),
        ("xattr", f"result = os.getxattr('{mnt}/g', 'user.t').decode()"),
        ("ring", f"result = open('{mnt}/log.ring').read()"),
    ])


def setup_tree(ns, mnt):
    probe(ns, [("g", f"open('{mnt}/g', 'w').write('g')"),
               ("x", f"os.setxattr('{mnt}/g', 'user.t', b'x')"),
               ("v1", f"open('{mnt}/victim-1', 'w').close()"),
               ("v2", f"open('{mnt}/victim-2', 'w').close()"),
               ("v3", f"open('{mnt}/victim-3', 'w').close()"),
               ("r", f"open('{mnt}/log.ring', 'a').write('r')")])


def assert_read_only(ns, mnt, tag, before):
    """Read-only: flags, every change refused, reads as before."""
    ro, _, _, sb = ns.mount(mnt)
    assert "ro" in ro and sb[0] == "ro", (ro, sb)
    got = probe(ns, changes(mnt, tag))
    assert got == {k: "EROFS" for k in got}, got
    assert reads(ns, mnt) == before


def assert_writable(ns, mnt, tag):
    rw, _, _, sb = ns.mount(mnt)
    assert "rw" in rw and sb[0] == "rw", (rw, sb)
    got = probe(ns, changes(mnt, tag))
    assert got == {k: "ok" for k in got}, got


@pytest.mark.parametrize("how", ["mount", "mount -t", "mount -i"])
def test_remount_ro_then_rw(ns, tmp_path, mountpoint, how):
    """mount -o remount,ro MNT, then remount,rw (xfstests generic/294,
    306, 452): read-only in between, every kind of change refused with
    EROFS and everything readable; writable again after, with the data.
    "mount -t" names the arena too; "mount -i" makes mount(8) call
    mount(2) itself, without the helper: the daemon learns the state from
    the kernel either way."""
    arena = tmp_path / "r.arena"
    ns.run(["mount", "-t", "fuse.mmfs", arena, mountpoint, "-o", "size=16M"])
    setup_tree(ns, mountpoint)
    assert_writable(ns, mountpoint, "1")
    args = {"mount": ["mount"],
            "mount -t": ["mount", "-t", "fuse.mmfs", arena],
            "mount -i": ["mount", "-i"]}[how]
    for n in (2, 3):
        before = reads(ns, mountpoint)
        r = ns.run(args + [mountpoint, "-o", "remount,ro"], check=False)
        assert r.returncode == 0 and not r.stderr, r
        assert_read_only(ns, mountpoint, str(n), before)
        r = ns.run(args + [mountpoint, "-o", "remount,rw"], check=False)
        assert r.returncode == 0 and not r.stderr, r
        assert_writable(ns, mountpoint, str(n))
    assert ns.run(["cat", f"{mountpoint}/f"]).stdout == "3+"
    ns.run(["umount", mountpoint])
    ns.run(["mount", "-t", "fuse.mmfs", arena, mountpoint])
    assert ns.run(["cat", f"{mountpoint}/f"]).stdout == "3+"
    assert ns.run(["ls", mountpoint]).stdout.split() == [
        "dir-1", "dir-2", "dir-3", "f", "g", "hard-1", "hard-2", "hard-3",
        "link-1", "link-2", "link-3", "log.ring", "new-1", "new-2", "new-3"]
    ns.run(["umount", mountpoint])


@pytest.mark.parametrize("how", ["mount", "mount -i"])
def test_remount_ro_waits_for_writers_to_close(ns, tmp_path, mountpoint,
                                               how):
    """The kernel refuses remount,ro while a file is open for writing:
    one line says why, the mount stays writable, the open file takes
    writes, and the remount works once the file is closed.  "mount -i"
    is mount(2) itself: the kernel's own refusal, which lets the daemon
    serve writes and opens for writing without asking whether the mount
    went read-only (rowatch.h)."""
    ns.run(["mount", "-t", "fuse.mmfs", tmp_path / "w.arena", mountpoint])
    args = ["mount"] if how == "mount" else ["mount", "-i"]
    writer = subprocess.Popen(
        ["nsenter", "-t", str(ns.keeper.pid), "-m", "--", "sh", "-c",
         f"exec 3>{mountpoint}/open; echo ready; read x; echo after >&3"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert writer.stdout.readline() == "ready\n"
        r = ns.run(args + ["-o", "remount,ro", mountpoint], check=False)
        assert r.returncode != 0, r
        if how == "mount":
            line = r.stderr.strip().splitlines()
            assert line == [f"mount.mmfs: remount of {mountpoint}: Device "
                            f"or resource busy (files are open for "
                            f"writing)"], r
        assert "rw" in ns.options(mountpoint)
    finally:
        writer.communicate("\n", timeout=10)
    assert writer.returncode == 0
    assert ns.run(["cat", f"{mountpoint}/open"]).stdout == "after\n"
    ns.run(args + ["-o", "remount,ro", mountpoint])
    assert "ro" in ns.options(mountpoint)
    ns.run(["umount", mountpoint])


def test_remount_rw_of_a_read_only_daemon_is_refused(ns, tmp_path,
                                                     mountpoint):
    """A mount made with -o ro has a daemon that opened the arena
    read-only: it could not write, so remount,rw is refused with one line
    and the mount stays read-only."""
    arena = tmp_path / "ro.arena"
    ns.run(["mount", "-t", "fuse.mmfs", arena, mountpoint, "-o", "size=16M"])
    ns.sh(f"echo kept > {mountpoint}/f")
    ns.run(["umount", mountpoint])
    ns.run(["mount", "-t", "fuse.mmfs", arena, mountpoint, "-o", "ro"])
    r = ns.run(["mount", "-o", "remount,rw", mountpoint], check=False)
    assert r.returncode != 0, r
    assert r.stderr.strip() == \
        f"mount.mmfs: {mountpoint}: its daemon opened the arena read-only " \
        f"(-o ro); unmount it and mount it again to write", r
    assert "ro" in ns.options(mountpoint)
    assert ns.sh(f"echo x > {mountpoint}/f", check=False).returncode != 0
    assert ns.run(["cat", f"{mountpoint}/f"]).stdout == "kept\n"
    ns.run(["mount", "-o", "remount,ro", mountpoint])     # a no-op: fine
    ns.run(["umount", mountpoint])


def test_remount_through_fstab(ns, tmp_path, mountpoint):
    """An fstab mount: mount(8) merges the fstab options (size=,
    allow_other, ...) into the remount; they are the mount's own and are
    accepted, and nosuid,nodev stay as fstab has them."""
    fstab = tmp_path / "fstab"
    fstab.write_text(f"{tmp_path / 'f.arena'} {mountpoint} fuse.mmfs "
                     f"size=16M,allow_other,nosuid,nodev,x-test=1 0 0\n")
    ns.run(["mount", "-T", fstab, mountpoint])
    setup_tree(ns, mountpoint)
    before = reads(ns, mountpoint)
    ns.run(["mount", "-T", fstab, "-o", "remount,ro", mountpoint])
    assert_read_only(ns, mountpoint, "1", before)
    assert {"nosuid", "nodev"} <= set(ns.options(mountpoint))
    ns.run(["mount", "-T", fstab, "-o", "remount,rw", mountpoint])
    assert_writable(ns, mountpoint, "1")
    assert {"nosuid", "nodev"} <= set(ns.options(mountpoint))
    ns.run(["umount", mountpoint])

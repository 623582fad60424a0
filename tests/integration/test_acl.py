"""POSIX ACLs (mount option acl), as tmpfs has them: setfacl and getfacl,
the kernel checking access by another user against them, default ACLs
inherited by new files and directories, chmod and the ACL kept in step,
the attribute limits, and all of it after a remount.  Where tmpfs can be
asked, the same commands run on a tmpfs directory and getfacl must show
the same (mmfs(7), POSIX ACLS)."""

import errno
import os
import stat
import subprocess

import pytest

import helpers
from test_coherence import requests

USER = 12345
OTHER = 12346
GROUP = 23456
ACL_OPTS = ["acl", "allow_other"]


@pytest.fixture
def amnt(mmfs):
    """A mount with ACLs that every user may enter."""
    m = mmfs(opts=ACL_OPTS)
    os.chmod(m.mnt, 0o755)
    return m.mnt


def sh(cmd, cwd, umask=0o022):
    """Run a shell command in cwd with the given umask."""
    return helpers.run(["sh", "-c", f"umask {umask:03o}; {cmd}"], cwd=cwd)


def getfacl(path, cwd=None):
    """getfacl's numeric output without the "# file:" line."""
    out = helpers.run(["getfacl", "-n", "-p", path], cwd=cwd).stdout
    return [line for line in out.splitlines()
            if line and not line.startswith("# file:")]


def as_user(uid, cmd, groups=()):
    """(exit status, stderr) of a shell command run as uid (gid uid),
    with exactly the supplementary groups given."""
    g = ["--groups=" + ",".join(map(str, groups))] if groups else \
        ["--clear-groups"]
    r = subprocess.run(["setpriv", f"--reuid={uid}", f"--regid={uid}", *g,
                        "sh", "-c", cmd], capture_output=True, text=True,
                       timeout=30)
    return r.returncode, r.stderr


def can(uid, cmd, groups=()):
    return as_user(uid, cmd, groups)[0] == 0


def mode(path):
    return stat.S_IMODE(os.lstat(path).st_mode)


# --- setfacl and getfacl, as on tmpfs --------------------------------------

SCRIPT = [
    "touch f && setfacl -m u:12345:rw,g:23456:r f",
    "chmod 640 f",
    "setfacl -m m::rwx f",
    "touch g && setfacl -m u:12345:r g && setfacl -x u:12345 g",
    "touch h && setfacl -m u:12345:rwx h && setfacl -b h",
    "mkdir d && setfacl -d -m u:12345:rwx,g::r-x,o::- d",
    "touch d/f && mkdir d/sub && mkfifo d/p && touch d/sub/deep",
    "mkdir d/sub/deeper && setfacl -k d/sub/deeper && touch d/sub/deeper/x",
    "touch d/x.ring",
    "chmod 2775 d && chown :23456 d && touch d/sgid",
]
NAMES = ["f", "g", "h", "d", "d/f", "d/sub", "d/p", "d/sub/deep",
         "d/sub/deeper", "d/sub/deeper/x", "d/x.ring", "d/sgid"]


def run_script(cwd):
    for cmd in SCRIPT:
        sh(cmd, cwd, umask=0o077)      # a default ACL ignores the umask
    return {n: (oct(mode(os.path.join(cwd, n))), getfacl(n, cwd=cwd))
            for n in NAMES}


def test_setfacl_getfacl_as_on_tmpfs(amnt, tmpfs_dir):
    mine, theirs = run_script(amnt), run_script(tmpfs_dir)
    for n in NAMES:
        assert mine[n] == theirs[n], n
    # What the script did, spelled out.
    assert mine["f"] == (oct(0o670), [
        "# owner: 0", "# group: 0", "user::rw-", "user:12345:rw-",
        "group::---", "group:23456:r--", "mask::rwx", "other::---"])
    assert mine["h"] == (oct(0o600), ["# owner: 0", "# group: 0",
                                      "user::rw-", "group::---",
                                      "other::---"])
    assert mine["d/sub/deep"][0] == oct(0o660)
    assert "user:12345:rwx\t#effective:rw-" in mine["d/sub/deep"][1]
    assert not any(line.startswith("default:")
                   for line in mine["d/sub/deeper"][1])
    assert mine["d/sub/deeper/x"][0] == oct(0o600)      # umask 077 again
    ls = helpers.run(["ls", "-ld", "f", "h"], cwd=amnt).stdout.split("\n")
    assert ls[0].startswith("-rw-rwx---+") and ls[1].startswith("-rw------- ")


def test_acl_attributes_through_xattr_calls(amnt):
    p = os.path.join(amnt, "f")
    sh("touch f && setfacl -m u:12345:r f", amnt)
    assert "system.posix_acl_access" in os.listxattr(p)
    raw = os.getxattr(p, "system.posix_acl_access")
    assert raw[:4] == b"\x02\x00\x00\x00" and (len(raw) - 4) % 8 == 0
    # Copy it to another file byte for byte; removing it keeps the mode.
    sh("touch g", amnt)
    os.setxattr(os.path.join(amnt, "g"), "system.posix_acl_access", raw)
    assert getfacl("g", cwd=amnt) == getfacl("f", cwd=amnt)[0:2] + \
        getfacl("g", cwd=amnt)[2:] and getfacl("g", cwd=amnt)[3:] == \
        getfacl("f", cwd=amnt)[3:]
    m = mode(p)
    os.removexattr(p, "system.posix_acl_access")
    assert mode(p) == m and "system.posix_acl_access" not in os.listxattr(p)
    os.removexattr(p, "system.posix_acl_access")        # absent: no error
    # Other system.* names stay unsupported.
    with pytest.raises(OSError) as e:
        os.setxattr(p, "system.other", b"x")
    assert e.value.errno == errno.EOPNOTSUPP


@pytest.mark.parametrize("value", [
    b"\x02\x00\x00\x00\x01\x00\x06\x00",                         # ragged
    b"\x02\x00\x00\x00" + b"\x04\x00\x04\x00\xff\xff\xff\xff" +   # order
    b"\x01\x00\x06\x00\xff\xff\xff\xff\x20\x00\x04\x00\xff\xff\xff\xff",
    b"\x02\x00\x00\x00" + b"\x01\x00\x06\x00\xff\xff\xff\xff" +   # no mask
    b"\x02\x00\x06\x00\x39\x30\x00\x00\x04\x00\x04\x00\xff\xff\xff\xff" +
    b"\x20\x00\x04\x00\xff\xff\xff\xff",
    b"\x02\x00\x00\x00" + b"\x01\x00\x0e\x00\xff\xff\xff\xff" +   # perm
    b"\x04\x00\x04\x00\xff\xff\xff\xff\x20\x00\x04\x00\xff\xff\xff\xff",
])
def test_invalid_acl_is_einval(amnt, value):
    p = os.path.join(amnt, "f")
    sh("touch f", amnt)
    before = mode(p)
    with pytest.raises(OSError) as e:
        os.setxattr(p, "system.posix_acl_access", value)
    assert e.value.errno == errno.EINVAL
    assert mode(p) == before
    assert "system.posix_acl_access" not in os.listxattr(p)


def test_default_acl_only_on_directories(amnt):
    sh("touch f", amnt)
    r = helpers.run(["setfacl", "-d", "-m", "u:12345:r", "f"], cwd=amnt,
                    check=False)
    assert r.returncode != 0
    assert "system.posix_acl_default" not in os.listxattr(
        os.path.join(amnt, "f"))


# --- the kernel checks them -------------------------------------------------


def test_named_user_and_group_entries_grant_and_deny(amnt):
    sh("echo secret > f && chmod 600 f && setfacl -m u:12345:r f", amnt)
    f = os.path.join(amnt, "f")
    assert can(USER, f"cat {f}")
    assert not can(USER, f"echo x >> {f}")
    assert not can(OTHER, f"cat {f}")
    sh("setfacl -m g:23456:rw f", amnt)
    assert can(OTHER, f"echo more >> {f}", groups=[GROUP])
    assert not can(OTHER, f"echo more >> {f}")
    with open(f) as fh:
        assert fh.read() == "secret\nmore\n"
    # A directory: search and listing by ACL.
    sh("mkdir d && touch d/x && chmod 700 d", amnt)
    d = os.path.join(amnt, "d")
    assert not can(USER, f"ls {d}")
    sh("setfacl -m u:12345:rx d", amnt)
    assert can(USER, f"ls {d} && cat {d}/x")
    assert not can(USER, f"touch {d}/new")
    # Only the owner may change an ACL.
    status, err = as_user(USER, f"setfacl -m u:12345:rw {f}")
    assert status != 0 and "Operation not permitted" in err


def test_chmod_rewrites_the_acl(amnt):
    sh("echo v > f && setfacl -m u:12345:rw f", amnt)
    f = os.path.join(amnt, "f")
    assert can(USER, f"echo w >> {f}")
    os.chmod(f, 0o600)                  # the mask: none
    assert "mask::---" in getfacl("f", cwd=amnt)
    assert "user:12345:rw-\t#effective:---" in getfacl("f", cwd=amnt)
    assert not can(USER, f"cat {f}")
    os.chmod(f, 0o640)
    assert can(USER, f"cat {f}") and not can(USER, f"echo w >> {f}")
    sh("setfacl -m m::rw f", amnt)      # the mask is the group bits
    assert mode(f) == 0o660 and can(USER, f"echo w >> {f}")


def test_setfacl_by_owner_outside_group_drops_setgid(amnt):
    sh("touch f && chown 12345:23456 f && chmod 2770 f", amnt)
    f = os.path.join(amnt, "f")
    assert can(USER, f"setfacl -m u:12346:r {f}", groups=[GROUP])
    assert mode(f) & stat.S_ISGID
    assert can(USER, f"setfacl -m u:12346:rw {f}")
    assert not mode(f) & stat.S_ISGID


# --- inheritance ------------------------------------------------------------


def test_default_acl_inherited_and_umask_ignored(amnt):
    sh("mkdir d && setfacl -d -m u:12345:rwx,g::rwx,o::r-x d", amnt)
    d = os.path.join(amnt, "d")
    sh("touch d/f && mkdir d/s && mknod d/c c 1 3", amnt, umask=0o077)
    assert mode(f"{d}/f") == 0o664 and mode(f"{d}/s") == 0o775
    assert mode(f"{d}/c") == 0o664
    assert "default:user:12345:rwx" in getfacl("d/s", cwd=amnt)
    assert not any(line.startswith("default:")
                   for line in getfacl("d/f", cwd=amnt))
    # A file created by another user inherits too, and the named user
    # may write what root made there.
    assert can(USER, f"echo x > {d}/f")
    sh("chmod 777 d", amnt)
    assert can(OTHER, f"umask 077; touch {d}/theirs")
    assert mode(f"{d}/theirs") == 0o664
    assert os.stat(f"{d}/theirs").st_uid == OTHER
    # Without a default ACL the umask applies as always.
    sh("touch plain && mkdir pd", amnt, umask=0o027)
    assert mode(f"{amnt}/plain") == 0o640 and mode(f"{amnt}/pd") == 0o750
    assert getfacl("plain", cwd=amnt)[2:] == ["user::rw-", "group::r--",
                                             "other::---"]


def test_cp_a_keeps_acls(amnt, tmpfs_dir):
    sh("mkdir src && touch src/f && setfacl -m u:12345:rw src/f && "
       "setfacl -d -m g:23456:rx src", tmpfs_dir)
    helpers.run(["cp", "-a", f"{tmpfs_dir}/src", f"{amnt}/copy"])
    assert getfacl("copy/f", cwd=amnt) == getfacl("src/f", cwd=tmpfs_dir)
    assert getfacl("copy", cwd=amnt)[3:] == \
        getfacl("src", cwd=tmpfs_dir)[3:]


# --- limits, persistence, and mounts without ACLs ---------------------------


def test_attribute_limits_hold_for_acls(amnt):
    f = os.path.join(amnt, "f")
    sh("touch f", amnt)
    # 256 names of 255 bytes fill the 64 KiB name list (mmfs(7)).
    for i in range(256):
        os.setxattr(f, f"user.{i:03d}" + "a" * 247, b"v")
    r = helpers.run(["setfacl", "-m", "u:12345:r", "f"], cwd=amnt,
                    check=False)
    assert r.returncode != 0 and "No space left" in r.stderr
    assert mode(f) == 0o644 and len(os.listxattr(f)) == 256
    os.removexattr(f, "user.000" + "a" * 247)
    sh("setfacl -m u:12345:r f", amnt)
    assert len(os.listxattr(f)) == 256
    # A big default ACL still leaves room: 500 named entries.
    spec = ",".join(f"u:{20000 + i}:r" for i in range(500))
    sh(f"mkdir big && setfacl -d -m {spec} big && touch big/f", amnt)
    assert sum(1 for line in getfacl("big/f", cwd=amnt)
               if line.startswith("user:2")) == 500


def test_acls_survive_remount(mmfs):
    m = mmfs(opts=ACL_OPTS)
    os.chmod(m.mnt, 0o755)
    sh("echo s > f && chmod 600 f && setfacl -m u:12345:r f && "
       "mkdir d && setfacl -d -m u:12345:rwx d", m.mnt)
    before = getfacl("f", cwd=m.mnt), getfacl("d", cwd=m.mnt)
    m.remount()
    assert (getfacl("f", cwd=m.mnt), getfacl("d", cwd=m.mnt)) == before
    assert can(USER, f"cat {m.path('f')}")
    assert not can(OTHER, f"cat {m.path('f')}")
    sh("touch d/new", m.mnt, umask=0o077)
    assert "user:12345:rwx\t#effective:rw-" in getfacl("d/new", cwd=m.mnt)


def test_without_acl_option_acls_are_unsupported(mmfs):
    m = mmfs(opts=ACL_OPTS)
    sh("touch f && setfacl -m u:12345:r f", m.mnt)
    m.remount(opts=["size=64M"])                # no acl
    r = helpers.run(["setfacl", "-m", "u:12345:r", "f"], cwd=m.mnt,
                    check=False)
    assert r.returncode != 0 and "Operation not supported" in r.stderr
    # The stored ACL is neither shown nor used.
    assert "system.posix_acl_access" not in os.listxattr(m.path("f"))
    with pytest.raises(OSError) as e:
        os.getxattr(m.path("f"), "system.posix_acl_access")
    assert e.value.errno == errno.EOPNOTSUPP
    sh("mkdir d", m.mnt, umask=0o027)
    assert mode(m.path("d")) == 0o750
    m.remount(opts=ACL_OPTS)                    # back: it is there
    assert "user:12345:r--" in getfacl("f", cwd=m.mnt)


def test_acl_request_cost(mmfs):
    """With ACLs the kernel asks the daemon for a file's ACL when it
    needs it and caches the answer; but every listing (READDIRPLUS)
    drops the cached ACLs of what it lists, so each `ls -l`, which asks
    every file for its ACL, costs a getxattr per file (mmfs(7))."""
    m = mmfs(opts=ACL_OPTS)
    n = 200
    os.mkdir(m.path("d"))
    for i in range(n):
        open(m.path("d", f"f{i}"), "w").close()
    m.remount()

    def getxattrs(*argv):
        before = requests(m.mnt).get("getxattr", 0)
        helpers.run(list(argv), cwd=m.mnt)
        return requests(m.mnt).get("getxattr", 0) - before

    assert n <= getxattrs("ls", "-l", "d") <= n + 4
    assert n <= getxattrs("ls", "-l", "d") <= n + 4
    assert getxattrs("getfacl", "-n", "d/f1") <= 1
    assert getxattrs("getfacl", "-n", "d/f1") == 0

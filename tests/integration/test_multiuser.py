"""Multi-user mounts: with -o allow_other (which turns on
default_permissions) the kernel enforces modes, owners and groups for every
other user -- checked here as another uid, each case also on tmpfs as the
reference -- and the daemon does its share (set-user-ID bits cleared by
unprivileged writes, trusted.* names hidden from unprivileged users, new
files owned by their creator).  Without allow_other other users cannot even
look at the mount point.

The arena file: created 0600 and owned by the mounting user, never through
a symbolic link, never a file (or FIFO, or directory) someone else planted
at the predictable /dev/shm/mmfs.NAME.

(test_mount.py has the basic allow_other cases; these go further.)"""

import errno
import json
import os
import stat
import subprocess
import tempfile
import uuid

import pytest

import helpers
from helpers import run

USER = 12345            # a uid with no account: nothing else owns files
OTHER = 23456           # a second one
GROUP = 4242            # a group USER is not in (unless given)

# Runs as the other user: every statement of argv[1] (a JSON list of
# [name, python statement]) and prints {name: "ok" | errno name | value}.
# A statement may assign `result`, which is reported instead of "ok".
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


# setpriv options for a caller whose capabilities are not its uid's usual
# ones: root without CAP_FSETID, a plain user with it.
WITHOUT_FSETID = ("--bounding-set=-fsetid",)
WITH_FSETID = ("--inh-caps=+fsetid", "--ambient-caps=+fsetid")


def as_user(uid, stmts, groups=(), gid=None, caps=()):
    """Run the statements [(name, stmt)] as uid (gid: gid or uid; the
    supplementary groups given, no others; caps: more setpriv options);
    return their outcomes."""
    gid = uid if gid is None else gid
    cmd = ["setpriv", f"--reuid={uid}", f"--regid={gid}"]
    if groups:
        cmd.append("--groups=" + ",".join(str(g) for g in groups))
    else:
        cmd.append("--clear-groups")
    cmd += list(caps)
    cmd += ["/usr/bin/python3", "-c", PROBE, json.dumps(list(stmts))]
    r = run(cmd, check=False, cwd="/")
    assert r.returncode == 0, f"probe failed: {r.stderr}"
    return json.loads(r.stdout.strip().splitlines()[-1])


@pytest.fixture
def tmpfs_base():
    """A root-owned 0755 directory on tmpfs: the reference."""
    d = tempfile.mkdtemp(prefix="mmfs-mu-", dir="/dev/shm")
    os.chmod(d, 0o755)
    try:
        yield d
    finally:
        run(["rm", "-rf", d], check=False)


@pytest.fixture
def shared(mmfs):
    """An allow_other mount (default_permissions implied)."""
    m = mmfs(opts=["allow_other"])
    os.chmod(m.mnt, 0o755)
    return m


def make_file(path, data=b"", mode=0o644, owner=(0, 0)):
    with open(path, "wb") as f:
        f.write(data)
    os.chown(path, *owner)
    os.chmod(path, mode)


def make_dir(path, mode=0o755, owner=(0, 0)):
    os.mkdir(path)
    os.chown(path, *owner)
    os.chmod(path, mode)


def both(mnt, ref, setup, stmts_for, uid=USER, **kw):
    """Set up the same tree (as root) on the mount and on tmpfs, run the
    same statements as the other user (or uid) on each, and return the
    mount's outcomes after checking that tmpfs agrees."""
    setup(mnt)
    setup(ref)
    got = as_user(uid, stmts_for(mnt), **kw)
    want = as_user(uid, stmts_for(ref), **kw)
    assert got == want, \
        "mmfs and tmpfs disagree:\n" + "\n".join(
            f"  {k}: mmfs {got[k]!r}, tmpfs {want.get(k)!r}"
            for k in got if got[k] != want.get(k))
    return got


# --- files: read, write, owner, group -------------------------------------


def setup_files(d):
    make_file(f"{d}/secret", b"secret\n", 0o600)
    make_file(f"{d}/public", b"public\n", 0o644)
    make_file(f"{d}/group", b"group\n", 0o640, owner=(0, GROUP))
    make_file(f"{d}/open", b"open\n", 0o666)
    make_file(f"{d}/mine", b"mine\n", 0o644, owner=(USER, USER))
    make_file(f"{d}/other", b"other\n", 0o644, owner=(OTHER, OTHER))


def file_stmts(d):
    return [
        ("read secret", f"open({d!r}+'/secret','rb').read()"),
        ("read public", f"result = open({d!r}+'/public','rb').read().decode()"),
        ("write public", f"open({d!r}+'/public','ab')"),
        ("truncate public", f"os.truncate({d!r}+'/public', 0)"),
        ("read group", f"open({d!r}+'/group','rb').read()"),
        ("write open", f"open({d!r}+'/open','ab').write(b'+')"),
        ("chmod public", f"os.chmod({d!r}+'/public', 0o666)"),
        ("chmod other", f"os.chmod({d!r}+'/other', 0o666)"),
        ("chmod mine", f"os.chmod({d!r}+'/mine', 0o600)"),
        ("chown mine to other", f"os.chown({d!r}+'/mine', {OTHER}, -1)"),
        ("chown mine to root", f"os.chown({d!r}+'/mine', 0, -1)"),
        ("chgrp mine to foreign group",
         f"os.chown({d!r}+'/mine', -1, {GROUP})"),
        ("chgrp mine to own group", f"os.chown({d!r}+'/mine', -1, {USER})"),
        ("chown other to self", f"os.chown({d!r}+'/other', {USER}, -1)"),
        ("utime now on open", f"os.utime({d!r}+'/open')"),
        ("utime set on open", f"os.utime({d!r}+'/open', (1, 1))"),
        ("utime now on public", f"os.utime({d!r}+'/public')"),
        ("utime set on mine", f"os.utime({d!r}+'/mine', (1, 1))"),
        ("setxattr public", f"os.setxattr({d!r}+'/public', 'user.a', b'v')"),
        ("setxattr mine", f"os.setxattr({d!r}+'/mine', 'user.a', b'v')"),
        ("getxattr secret", f"os.getxattr({d!r}+'/secret', 'user.k')"),
        ("setxattr trusted on mine",
         f"os.setxattr({d!r}+'/mine', 'trusted.a', b'v')"),
        ("setxattr security on mine",
         f"os.setxattr({d!r}+'/mine', 'security.a', b'v')"),
        ("stat secret", f"result = os.stat({d!r}+'/secret').st_uid"),
    ]


def test_modes_owners_and_groups_are_enforced(shared, tmpfs_base):
    got = both(shared.mnt, tmpfs_base, setup_files, file_stmts)
    assert got["read secret"] == "EACCES"
    assert got["read public"] == "public\n"
    assert got["write public"] == "EACCES"
    assert got["truncate public"] == "EACCES"
    assert got["read group"] == "EACCES"
    assert got["write open"] == "ok"
    assert got["chmod public"] == "EPERM"
    assert got["chmod other"] == "EPERM"
    assert got["chmod mine"] == "ok"
    assert got["chown mine to other"] == "EPERM"
    assert got["chown mine to root"] == "EPERM"
    assert got["chgrp mine to foreign group"] == "EPERM"
    assert got["chgrp mine to own group"] == "ok"
    assert got["chown other to self"] == "EPERM"
    assert got["utime now on open"] == "ok"
    assert got["utime set on open"] == "EPERM"
    assert got["utime now on public"] == "EACCES"
    assert got["utime set on mine"] == "ok"
    assert got["setxattr public"] == "EACCES"
    assert got["setxattr mine"] == "ok"
    assert got["getxattr secret"] == "EACCES"
    assert got["setxattr trusted on mine"] == "EPERM"
    assert got["setxattr security on mine"] == "EPERM"
    assert got["stat secret"] == 0
    # Nothing the refused calls touched changed.
    for d in (shared.mnt,):
        assert open(f"{d}/secret", "rb").read() == b"secret\n"
        assert open(f"{d}/public", "rb").read() == b"public\n"
        assert stat.S_IMODE(os.stat(f"{d}/public").st_mode) == 0o644
        assert os.stat(f"{d}/other").st_uid == OTHER
        assert os.stat(f"{d}/mine").st_uid == USER
        assert open(f"{d}/open", "rb").read() == b"open\n+"


def test_hard_link_to_a_file_of_another_user_is_refused(shared, tmpfs_base):
    with open("/proc/sys/fs/protected_hardlinks") as f:
        if f.read().strip() != "1":
            pytest.skip("fs.protected_hardlinks is off on this machine")

    def setup(d):
        make_file(f"{d}/secret", b"s", 0o600)
        make_dir(f"{d}/pub", 0o777)

    got = both(shared.mnt, tmpfs_base, setup, lambda d: [
        ("link", f"os.link({d!r}+'/secret', {d!r}+'/pub/mine')")])
    assert got["link"] == "EPERM"
    assert os.stat(shared.path("secret")).st_nlink == 1


def test_a_supplementary_group_grants_group_access(shared, tmpfs_base):
    got = both(shared.mnt, tmpfs_base, setup_files, lambda d: [
        ("read group", f"result = open({d!r}+'/group','rb').read().decode()"),
        ("write group", f"open({d!r}+'/group','ab')"),
        ("chgrp mine to the group", f"os.chown({d!r}+'/mine', -1, {GROUP})"),
    ], groups=[GROUP])
    assert got == {"read group": "group\n", "write group": "EACCES",
                   "chgrp mine to the group": "ok"}
    assert os.stat(shared.path("mine")).st_gid == GROUP


# --- directories ----------------------------------------------------------


def setup_dirs(d):
    make_dir(f"{d}/ro", 0o555)
    make_file(f"{d}/ro/inside", b"inside\n", 0o666)
    make_dir(f"{d}/nox", 0o777 & ~0o111)        # rw-rw-rw-: no search
    make_file(f"{d}/nox/f", b"f\n", 0o666)
    make_dir(f"{d}/noread", 0o733)              # search, no listing
    make_file(f"{d}/noread/known", b"known\n", 0o666)
    make_dir(f"{d}/priv", 0o700)
    make_file(f"{d}/priv/f", b"f\n", 0o666)
    make_dir(f"{d}/shared", 0o777)
    make_dir(f"{d}/shared/rootdir", 0o755)
    make_dir(f"{d}/shared/dest", 0o777)
    make_file(f"{d}/top", b"top\n", 0o666)


def dir_stmts(d):
    return [
        ("create in /", f"open({d!r}+'/new','wb')"),
        ("mkdir in /", f"os.mkdir({d!r}+'/newdir')"),
        ("unlink in /", f"os.unlink({d!r}+'/top')"),
        ("rename in /", f"os.rename({d!r}+'/top', {d!r}+'/top2')"),
        ("create in ro", f"open({d!r}+'/ro/new','wb')"),
        ("unlink in ro", f"os.unlink({d!r}+'/ro/inside')"),
        ("write in ro", f"open({d!r}+'/ro/inside','ab').write(b'+')"),
        ("list ro", f"result = sorted(os.listdir({d!r}+'/ro'))"),
        ("list nox", f"result = sorted(os.listdir({d!r}+'/nox'))"),
        ("stat in nox", f"os.stat({d!r}+'/nox/f')"),
        ("read in nox", f"open({d!r}+'/nox/f','rb').read()"),
        ("create in nox", f"open({d!r}+'/nox/new','wb')"),
        ("list noread", f"os.listdir({d!r}+'/noread')"),
        ("read known in noread",
         f"result = open({d!r}+'/noread/known','rb').read().decode()"),
        ("create in noread", f"open({d!r}+'/noread/new','wb').close()"),
        ("list priv", f"os.listdir({d!r}+'/priv')"),
        ("stat in priv", f"os.stat({d!r}+'/priv/f')"),
        ("rmdir priv", f"os.rmdir({d!r}+'/priv')"),
        ("chmod priv", f"os.chmod({d!r}+'/priv', 0o777)"),
        ("rename rootdir in place",
         f"os.rename({d!r}+'/shared/rootdir', {d!r}+'/shared/rd')"),
        ("rename rootdir elsewhere",
         f"os.rename({d!r}+'/shared/rd', {d!r}+'/shared/dest/rd')"),
        ("statvfs", "os.statvfs(%r)" % d),
    ]


def test_directories_without_write_or_search_permission(shared, tmpfs_base):
    got = both(shared.mnt, tmpfs_base, setup_dirs, dir_stmts)
    assert got["create in /"] == "EACCES"
    assert got["mkdir in /"] == "EACCES"
    assert got["unlink in /"] == "EACCES"
    assert got["rename in /"] == "EACCES"
    assert got["create in ro"] == "EACCES"
    assert got["unlink in ro"] == "EACCES"
    assert got["write in ro"] == "ok"
    assert got["list ro"] == ["inside"]
    assert got["list nox"] == ["f"]            # names, but no access
    assert got["stat in nox"] == "EACCES"
    assert got["read in nox"] == "EACCES"
    assert got["create in nox"] == "EACCES"
    assert got["list noread"] == "EACCES"
    assert got["read known in noread"] == "known\n"
    assert got["create in noread"] == "ok"
    assert got["list priv"] == "EACCES"
    assert got["stat in priv"] == "EACCES"
    assert got["rmdir priv"] == "EACCES"
    assert got["chmod priv"] == "EPERM"
    # Moving a directory to another parent rewrites its "..": that needs
    # write permission on the directory itself.
    assert got["rename rootdir in place"] == "ok"
    assert got["rename rootdir elsewhere"] == "EACCES"
    assert got["statvfs"] == "ok"
    assert sorted(os.listdir(shared.path("priv"))) == ["f"]
    assert os.path.exists(shared.path("top"))


def setup_sticky(d):
    make_dir(f"{d}/tmp", 0o1777)
    make_file(f"{d}/tmp/rootfile", b"root\n", 0o666)
    make_file(f"{d}/tmp/otherfile", b"other\n", 0o666, owner=(OTHER, OTHER))
    make_dir(f"{d}/tmp/otherdir", 0o777, owner=(OTHER, OTHER))
    make_file(f"{d}/tmp/mine", b"mine\n", 0o644, owner=(USER, USER))


def sticky_stmts(d):
    t = d + "/tmp"
    return [
        ("unlink rootfile", f"os.unlink({t!r}+'/rootfile')"),
        ("unlink otherfile", f"os.unlink({t!r}+'/otherfile')"),
        ("rename otherfile", f"os.rename({t!r}+'/otherfile', {t!r}+'/x')"),
        ("rmdir otherdir", f"os.rmdir({t!r}+'/otherdir')"),
        ("rename mine over rootfile",
         f"os.rename({t!r}+'/mine', {t!r}+'/rootfile')"),
        ("write otherfile", f"open({t!r}+'/otherfile','ab').write(b'+')"),
        ("create own", f"open({t!r}+'/own','wb').write(b'own')"),
        ("rename own", f"os.rename({t!r}+'/own', {t!r}+'/own2')"),
        ("unlink own", f"os.unlink({t!r}+'/own2')"),
        ("unlink mine", f"os.unlink({t!r}+'/mine')"),
    ]


def test_sticky_directory_protects_other_users_files(shared, tmpfs_base):
    got = both(shared.mnt, tmpfs_base, setup_sticky, sticky_stmts)
    assert got == {
        "unlink rootfile": "EPERM", "unlink otherfile": "EPERM",
        "rename otherfile": "EPERM", "rmdir otherdir": "EPERM",
        "rename mine over rootfile": "EPERM", "write otherfile": "ok",
        "create own": "ok", "rename own": "ok", "unlink own": "ok",
        "unlink mine": "ok"}
    assert sorted(os.listdir(shared.path("tmp"))) == \
        ["otherdir", "otherfile", "rootfile"]
    assert open(shared.path("tmp", "rootfile"), "rb").read() == b"root\n"


def test_new_files_belong_to_their_creator(shared, tmpfs_base):
    def setup(d):
        make_dir(f"{d}/pub", 0o777)

    def stmts(d):
        p = d + "/pub"
        return [
            ("create", f"open({p!r}+'/f','wb').write(b'x')"),
            ("mkdir", f"os.mkdir({p!r}+'/d')"),
            ("symlink", f"os.symlink('f', {p!r}+'/l')"),
            ("mkfifo", f"os.mkfifo({p!r}+'/p')"),
            ("mknod dev", f"os.mknod({p!r}+'/null', 0o20666, os.makedev(1, 3))"),
            ("owners", f"result = [(n, os.lstat({p!r}+'/'+n).st_uid, "
                       f"os.lstat({p!r}+'/'+n).st_gid) "
                       f"for n in sorted(os.listdir({p!r}))]"),
            ("mode", f"result = oct(os.stat({p!r}+'/f').st_mode)"),
        ]

    got = both(shared.mnt, tmpfs_base, setup, stmts)
    assert got["mknod dev"] == "EPERM"
    assert got["owners"] == [[n, USER, USER] for n in ("d", "f", "l", "p")]
    assert got["mode"] == oct(0o100644)
    # Root sees the same owners.
    st = os.stat(shared.path("pub", "f"))
    assert (st.st_uid, st.st_gid) == (USER, USER)
    # The creator may then do anything an owner may.
    got = as_user(USER, [
        ("chmod", f"os.chmod({shared.path('pub', 'f')!r}, 0o600)"),
        ("unlink", f"os.unlink({shared.path('pub', 'l')!r})")])
    assert got == {"chmod": "ok", "unlink": "ok"}


def test_setgid_directories_pass_on_their_group(shared, tmpfs_base):
    def setup(d):
        make_dir(f"{d}/sg", 0o2777, owner=(0, GROUP))

    def stmts(d):
        p = d + "/sg"
        return [
            ("create", f"open({p!r}+'/f','wb').close()"),
            ("mkdir", f"os.mkdir({p!r}+'/d', 0o755)"),
            ("nested", f"open({p!r}+'/d/g','wb').close()"),
            ("f", f"st = os.stat({p!r}+'/f'); result = [st.st_uid, st.st_gid, "
                  f"oct(st.st_mode)]"),
            ("d", f"st = os.stat({p!r}+'/d'); result = [st.st_uid, st.st_gid, "
                  f"oct(st.st_mode)]"),
            ("d/g", f"st = os.stat({p!r}+'/d/g'); result = [st.st_gid]"),
            # Not in the group: asking for setgid on a new file of that
            # group is quietly dropped.
            ("create setgid", f"os.close(os.open({p!r}+'/s', "
                              f"os.O_CREAT|os.O_WRONLY, 0o2755))"),
            ("s", f"result = oct(os.stat({p!r}+'/s').st_mode)"),
        ]

    got = both(shared.mnt, tmpfs_base, setup, stmts)
    assert got["f"] == [USER, GROUP, oct(0o100644)]
    assert got["d"] == [USER, GROUP, oct(0o42755)]      # setgid passed on
    assert got["d/g"] == [GROUP]
    assert got["s"] == oct(0o100755)


@pytest.mark.parametrize("how", ["write", "append", "rdwr", "otrunc",
                                 "truncate"])
def test_unprivileged_writes_clear_setuid_and_setgid(shared, tmpfs_base, how):
    """A write or truncation by anyone but root clears S_ISUID, and
    S_ISGID of a group-executable file, or of any file when the writer is
    not in its group (setgid without group x is a locking hint)."""
    code = {
        "write": "fd = os.open(P, os.O_WRONLY); os.pwrite(fd, b'z', 0); "
                 "os.close(fd)",
        "append": "fd = os.open(P, os.O_WRONLY|os.O_APPEND); "
                  "os.write(fd, b'z'); os.close(fd)",
        "rdwr": "fd = os.open(P, os.O_RDWR); os.pwrite(fd, b'z', 0); "
                "os.close(fd)",
        "otrunc": "fd = os.open(P, os.O_WRONLY|os.O_TRUNC); os.close(fd)",
        "truncate": "os.truncate(P, 1)",
    }[how]

    def setup(d):
        make_file(f"{d}/suid", b"xy", 0o6777)
        make_file(f"{d}/sgid-nox", b"xy", 0o2666)
        make_file(f"{d}/sgid-nox-mygroup", b"xy", 0o2666, owner=(0, USER))
        make_file(f"{d}/own", b"xy", 0o6755, owner=(USER, USER))

    def stmts(d):
        return [(n, f"P = {d!r}+'/{n}'; {code}; "
                    f"result = oct(os.stat(P).st_mode)")
                for n in ("suid", "sgid-nox", "sgid-nox-mygroup", "own")]

    got = both(shared.mnt, tmpfs_base, setup, stmts)
    assert got == {"suid": oct(0o100777), "sgid-nox": oct(0o100666),
                   "sgid-nox-mygroup": oct(0o102666),
                   "own": oct(0o100755)}
    # Root (CAP_FSETID) keeps them.
    p = shared.path("root-suid")
    make_file(p, b"xy", 0o6755)
    fd = os.open(p, os.O_WRONLY | os.O_TRUNC)
    os.write(fd, b"z")
    os.close(fd)
    assert stat.S_IMODE(os.stat(p).st_mode) == 0o6755


WRITES = {
    "write": "fd = os.open(P, os.O_WRONLY); os.pwrite(fd, b'z', 0); "
             "os.close(fd)",
    "append": "fd = os.open(P, os.O_WRONLY|os.O_APPEND); "
              "os.write(fd, b'z'); os.close(fd)",
    "rdwr": "fd = os.open(P, os.O_RDWR); os.pwrite(fd, b'z', 0); "
            "os.close(fd)",
    "otrunc": "fd = os.open(P, os.O_WRONLY|os.O_TRUNC); os.write(fd, b'z');"
              " os.close(fd)",
    "truncate": "os.truncate(P, 1)",
    "ftruncate": "fd = os.open(P, os.O_RDWR); os.ftruncate(fd, 1); "
                 "os.close(fd)",
}


def modes_seen(d, names):
    """{name: mode} as `stat -c %a` shows it: coreutils asks statx for the
    mode alone, which the kernel answers from its cache if it thinks it
    valid -- a stale cached mode shows here, not in os.stat."""
    out = run(["stat", "-c", "%n %a"] + [f"{d}/{n}" for n in names]).stdout
    return {os.path.basename(line.split()[0]): line.split()[1]
            for line in out.splitlines()}


@pytest.mark.parametrize("how", sorted(WRITES))
@pytest.mark.parametrize("who", ["root-without-CAP_FSETID",
                                 "user-with-CAP_FSETID"])
def test_set_id_bits_follow_cap_fsetid_not_the_uid(shared, tmpfs_base, how,
                                                    who):
    """Whether a write or truncation clears set-ID bits depends on
    CAP_FSETID, which the kernel tests for the daemon (KILLPRIV_V2): root
    without it clears them, a plain user with it keeps them -- as on
    tmpfs.  The new mode is what every stat shows at once."""
    if not helpers.kernel_at_least(5, 11):
        pytest.skip("FUSE_HANDLE_KILLPRIV_V2 came in Linux 5.11")
    uid, caps = {"root-without-CAP_FSETID": (0, WITHOUT_FSETID),
                 "user-with-CAP_FSETID": (USER, WITH_FSETID)}[who]
    names = ("suid", "sgid-x", "sgid-nox-foreign")

    def setup(d):
        make_file(f"{d}/suid", b"xy", 0o6777)
        make_file(f"{d}/sgid-x", b"xy", 0o2777)
        make_file(f"{d}/sgid-nox-foreign", b"xy", 0o2666,
                  owner=(0, GROUP))

    def stmts(d):
        return [(n, f"P = {d!r}+'/{n}'; {WRITES[how]}; "
                    f"result = oct(os.stat(P).st_mode)") for n in names]

    got = both(shared.mnt, tmpfs_base, setup, stmts, uid=uid, caps=caps)
    if uid == 0:
        assert got == {"suid": oct(0o100777), "sgid-x": oct(0o100777),
                       "sgid-nox-foreign": oct(0o100666)}
    else:
        assert got == {"suid": oct(0o106777), "sgid-x": oct(0o102777),
                       "sgid-nox-foreign": oct(0o102666)}
    assert modes_seen(shared.mnt, names) == modes_seen(tmpfs_base, names)


def test_unprivileged_writes_clear_set_id_bits_in_every_stat(shared,
                                                              tmpfs_base):
    """The kernel caches a file's mode and a write's reply does not carry
    it: when the daemon clears set-ID bits on a write, the cached mode must
    go too, or stat -c %a (and exec) would still see the old bits."""
    def setup(d):
        for how in WRITES:
            make_file(f"{d}/{how}", b"xy", 0o6777)

    def stmts(d):
        return [(how, f"P = {d!r}+'/{how}'; {code}")
                for how, code in WRITES.items()]

    got = both(shared.mnt, tmpfs_base, setup, stmts)
    assert set(got.values()) == {"ok"}
    seen = modes_seen(shared.mnt, WRITES)
    assert seen == modes_seen(tmpfs_base, WRITES)
    assert set(seen.values()) == {"777"}


@pytest.mark.parametrize("owner", [0, USER])
def test_chown_clears_set_id_bits(shared, tmpfs_base, owner):
    """A chown clears S_ISUID, and S_ISGID of a group-executable file,
    whoever calls, root included, on anything but a directory; root keeps
    S_ISGID without S_IXGRP."""
    names = ("suid", "sgid-nox", "fifo", "dir")

    def setup(d):
        make_file(f"{d}/suid", b"xy", 0o6755, owner=(owner, owner))
        make_file(f"{d}/sgid-nox", b"xy", 0o2644, owner=(owner, owner))
        os.mkfifo(f"{d}/fifo")
        os.chown(f"{d}/fifo", owner, owner)
        os.chmod(f"{d}/fifo", 0o6555)
        make_dir(f"{d}/dir", 0o6755, owner=(owner, owner))

    def stmts(d):
        return [(n, f"P = {d!r}+'/{n}'; os.chown(P, -1, {owner}); "
                    f"result = oct(os.stat(P).st_mode)")
                for n in names]

    got = both(shared.mnt, tmpfs_base, setup, stmts, uid=owner)
    assert got == {"suid": oct(0o100755), "sgid-nox": oct(0o102644),
                   "fifo": oct(0o10555), "dir": oct(0o46755)}
    assert modes_seen(shared.mnt, names) == modes_seen(tmpfs_base, names)


@pytest.mark.parametrize("how", sorted(WRITES) + ["chown"])
@pytest.mark.parametrize("who", [0, USER])
def test_writes_remove_file_capabilities(shared, tmpfs_base, how, who):
    """A file's capabilities (security.capability, set with setcap) go at
    the first write, truncation or chown, whoever does it -- through
    direct I/O as through the page cache."""
    if how == "chown" and who != 0:
        pytest.skip("only root may chown a root-owned file")
    code = WRITES.get(how, "os.chown(P, 0, 0)")

    def setup(d):
        make_file(f"{d}/f", b"\x7fELF", 0o777)
        run(["setcap", "cap_net_raw+ep", f"{d}/f"])
        assert os.getxattr(f"{d}/f", "security.capability")

    def stmts(d):
        return [("caps", f"P = {d!r}+'/f'; {code}; "
                         f"result = [n for n in os.listxattr(P) "
                         f"if n.startswith('security.')]")]

    got = both(shared.mnt, tmpfs_base, setup, stmts, uid=who)
    assert got == {"caps": []}
    assert run(["getcap", shared.path("f")]).stdout == ""


def test_trusted_xattrs_are_hidden_from_other_users(shared, tmpfs_base):
    def setup(d):
        make_file(f"{d}/f", b"x", 0o644)
        os.setxattr(f"{d}/f", "trusted.hidden", b"t")
        os.setxattr(f"{d}/f", "user.shown", b"u")

    def stmts(d):
        return [
            ("list", f"result = sorted(os.listxattr({d!r}+'/f'))"),
            ("get trusted", f"os.getxattr({d!r}+'/f', 'trusted.hidden')"),
            ("get user", f"result = os.getxattr({d!r}+'/f', "
                         f"'user.shown').decode()"),
        ]

    got = both(shared.mnt, tmpfs_base, setup, stmts)
    assert got == {"list": ["user.shown"], "get trusted": "ENODATA",
                   "get user": "u"}
    # The size query agrees with the list the user gets.
    r = as_user(USER, [("n", "import ctypes; libc = ctypes.CDLL(None); "
                             f"result = libc.listxattr({shared.path('f')!r}"
                             ".encode(), None, 0)")])
    assert r["n"] == len(b"user.shown\0")
    assert sorted(os.listxattr(shared.path("f"))) == \
        ["trusted.hidden", "user.shown"]                 # root sees both


def test_ring_capacity_needs_write_permission(shared):
    p = shared.path("log.ring")
    with open(p, "w") as f:
        f.write("x\n")
    os.chmod(p, 0o644)
    got = as_user(USER, [
        ("read", f"result = open({p!r}).read()"),
        ("append", f"open({p!r}, 'a').write('y')"),
        ("get", f"result = os.getxattr({p!r}, 'user.mmfs.capacity').decode()"),
        ("set", f"os.setxattr({p!r}, 'user.mmfs.capacity', b'4096')"),
    ])
    assert got == {"read": "x\n", "append": "EACCES", "get": "1048576",
                   "set": "EACCES"}


def test_without_allow_other_the_mount_point_itself_is_closed(mmfs):
    m = mmfs()
    os.chmod(m.mnt, 0o777)
    with open(m.path("f"), "w") as f:
        f.write("x")
    got = as_user(USER, [
        ("stat", f"os.stat({m.mnt!r})"),
        ("list", f"os.listdir({m.mnt!r})"),
        ("open", f"open({m.mnt!r}+'/f')"),
        ("create", f"open({m.mnt!r}+'/g', 'w')"),
        ("chdir", f"os.chdir({m.mnt!r})"),
        # statfs(2) succeeds (the kernel answers it) but tells nothing.
        ("statvfs", f"st = os.statvfs({m.mnt!r}); "
                    f"result = [st.f_blocks, st.f_files]"),
    ])
    assert got.pop("statvfs") == [0, 0]
    assert got == {k: "EACCES" for k in got}, got
    assert os.listdir(m.mnt) == ["f"]


def test_allow_other_without_default_permissions_is_refused(mmfs_bin,
                                                           tmp_path):
    """Without default_permissions the kernel leaves every permission check
    to the daemon, and mmfs makes none: with allow_other another user read
    root's 0600 file, overwrote it, created files in root's 0755 directory
    and chowned root's file to themself.  mount.mmfs refuses the
    combination with one line, before creating anything.  (Run against a
    daemon that mounts it anyway, this test lists what the other user got
    away with.)"""
    arena = tmp_path / "arena"
    mnt = tempfile.mkdtemp(prefix="mmfs-mnt-", dir="/tmp")
    os.chmod(mnt, 0o755)
    got = {}
    try:
        res = run([mmfs_bin, "-o", "size=16M,allow_other,"
                   "no_default_permissions", str(arena), mnt], check=False)
        if helpers.mounted(mnt):
            os.chmod(mnt, 0o755)
            os.mkdir(os.path.join(mnt, "root"), 0o755)
            secret = os.path.join(mnt, "root", "secret")
            make_file(secret, b"root only\n", 0o600)
            got = as_user(USER, [
                ("read", f"result = open({secret!r}).read()"),
                ("overwrite", f"open({secret!r}, 'w').write('mine')"),
                ("create", f"open({mnt!r} + '/root/planted', 'w')"),
                ("chown", f"os.chown({secret!r}, {USER}, {USER})"),
            ])
    finally:
        if helpers.mounted(mnt):
            run(["fusermount3", "-u", mnt], check=False)
            helpers.wait_for(lambda: not helpers.pids_of(mmfs_bin, mnt), 10)
        if not helpers.mounted(mnt):
            os.rmdir(mnt)
    assert not [k for k, v in got.items() if v == "ok"], \
        f"as uid {USER} on an allow_other,no_default_permissions mount: {got}"
    assert res.returncode == 1, res
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("mount.mmfs: ") and \
        "default_permissions" in lines[0], res.stderr
    assert not arena.exists(), "the refused mount created the arena"


# --- the arena file -----------------------------------------------------


def shm_name():
    return f"mmfs-test-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def shm_paths():
    """Names under /dev/shm for the test, removed afterwards."""
    made = []

    def new():
        name = shm_name()
        made.append(f"/dev/shm/mmfs.{name}")
        return name, made[-1]
    yield new
    for p in made:
        try:
            if os.path.isdir(p) and not os.path.islink(p):
                os.rmdir(p)
            else:
                os.unlink(p)
        except FileNotFoundError:
            pass


def file_state(p):
    st = os.lstat(p)
    data = open(p, "rb").read() if stat.S_ISREG(st.st_mode) else None
    return (st.st_mode, st.st_uid, st.st_size, st.st_mtime_ns, st.st_ino,
            data)


def test_new_arena_is_0600_and_owned_by_the_mounting_user(mmfs, shm_paths):
    name, path = shm_paths()
    old = os.umask(0)
    try:
        m = mmfs(opts=[f"name={name}"], pass_arena=False)
    finally:
        os.umask(old)
    st = os.stat(path)
    assert stat.S_IMODE(st.st_mode) == 0o600
    assert (st.st_uid, st.st_gid) == (os.getuid(), os.getgid())
    m.umount()
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


def as_user_with_fuse(fuse_mode, script, dev_dir):
    """Run the shell script in a private mount namespace whose /dev/fuse
    has the given mode (a node of its own, on a tmpfs at dev_dir), so that
    an unprivileged mount works, through fusermount3, or fails to open
    /dev/fuse, whatever this machine's /dev/fuse allows.  USER gets an
    account there (fusermount3 wants a user name).  The script runs as
    root; $AS_USER runs a command as USER.  Returns CompletedProcess."""
    rdev = os.stat("/dev/fuse").st_rdev
    prelude = (f"mount -t tmpfs -o mode=755 none {dev_dir}\n"
               f"mknod -m {fuse_mode:o} {dev_dir}/fuse c "
               f"{os.major(rdev)} {os.minor(rdev)}\n"
               f"mount --bind {dev_dir}/fuse /dev/fuse\n"
               f"cp /etc/passwd {dev_dir}/passwd\n"
               f"echo 'mmfs-test:x:{USER}:{USER}::/:/bin/sh' "
               f">> {dev_dir}/passwd\n"
               f"mount --bind {dev_dir}/passwd /etc/passwd\n"
               f"AS_USER='setpriv --reuid={USER} --regid={USER} "
               f"--clear-groups'\n")
    return run(["unshare", "--mount", "--propagation", "private", "sh",
                "-euc", prelude + script], check=False, timeout=60)


def user_mountpoint():
    mnt = tempfile.mkdtemp(prefix="mmfs-umnt-", dir="/tmp")
    os.chown(mnt, USER, USER)
    os.chmod(mnt, 0o755)
    return mnt


def test_arena_created_by_another_user_is_theirs(mmfs_bin, shm_paths,
                                                 run_mmfs, tmp_path):
    """mount.mmfs run by an ordinary user creates the arena as theirs,
    0600, even with umask 0 (mounted through fusermount3; /dev/fuse is
    opened to them in a namespace of the test's own)."""
    name, path = shm_paths()
    mnt = user_mountpoint()
    (tmp_path / "dev").mkdir()
    try:
        r = as_user_with_fuse(0o666, f"""
            $AS_USER sh -c 'umask 0; exec "$@"' sh {mmfs_bin} \
                -o name={name},size=16M {mnt}
            stat -c '%a %u %g' {path}
            fusermount3 -u {mnt}
            """, tmp_path / "dev")
        assert r.returncode == 0, r
        assert r.stdout.split() == ["600", str(USER), str(USER)], r.stdout
        helpers.wait_for(lambda: not helpers.pids_of(mmfs_bin, mnt), 10)
        # Root may not serve it: it belongs to that user.
        refused(run_mmfs("-f", "-o", f"name={name}", mnt),
                f"owned by uid {USER}")
    finally:
        os.rmdir(mnt)


@pytest.mark.parametrize("named", [False, True], ids=["path", "name"])
def test_failed_unprivileged_mount_leaves_no_arena(mmfs_bin, shm_paths,
                                                   tmp_path, named):
    """An ordinary user's mount that cannot open /dev/fuse fails, and the
    arena it had created goes with it (it left a new 1 MiB file behind):
    a failed mount leaves the arena as it was, here absent."""
    name, path = shm_paths()
    udir = user_mountpoint()            # a directory of USER's
    if not named:
        path = os.path.join(udir, "arena")
    arena_arg = f"-o name={name}" if named else path
    mnt = user_mountpoint()
    (tmp_path / "dev").mkdir()
    try:
        r = as_user_with_fuse(0o600, f"""
            if $AS_USER {mmfs_bin} -f -o size=16M {arena_arg} {mnt}; then
                echo mounted; exit 1
            fi
            ls -l {path} || true
            """, tmp_path / "dev")
        assert r.returncode == 0 and "/dev/fuse" in r.stderr, r
        assert not os.path.lexists(path), \
            f"the failed mount left {path} behind: {r.stdout}"
    finally:
        if helpers.mounted(mnt):
            run(["umount", "-l", mnt], check=False)
        os.rmdir(mnt)
        run(["rm", "-rf", udir])


def refused(res, *words):
    assert res.returncode == 1, res
    line = res.stderr.strip()
    assert line.startswith("mount.mmfs: ") and len(line.splitlines()) == 1, \
        line
    for w in words:
        assert w in line, line
    return line


@pytest.mark.parametrize("ro", [False, True])
def test_symlink_at_the_default_arena_path_is_refused(run_mmfs, shm_paths,
                                                      tmp_path, ro):
    """Another user plants /dev/shm/mmfs.NAME -> a file of the victim's:
    mounting refuses it, and the target is untouched."""
    name, path = shm_paths()
    target = tmp_path / "precious"
    target.write_bytes(b"precious data\n" * 100)
    os.chmod(target, 0o644)
    before = file_state(target)
    os.symlink(target, path)
    os.lchown(path, USER, USER)
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    opts = f"name={name},size=16M" + (",ro" if ro else "")
    refused(run_mmfs("-f", "-o", opts, mnt), path, "symbolic link")
    assert file_state(target) == before
    assert os.path.islink(path)


def test_dangling_symlink_at_the_arena_path_creates_nothing(run_mmfs,
                                                            shm_paths,
                                                            tmp_path):
    name, path = shm_paths()
    target = tmp_path / "would-be-created"
    os.symlink(target, path)
    os.lchown(path, USER, USER)
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    refused(run_mmfs("-f", "-o", f"name={name},size=16M", mnt), "symbolic")
    assert not target.exists()


@pytest.mark.parametrize("ro", [False, True])
def test_arena_owned_by_another_user_is_refused(run_mmfs, shm_paths,
                                                tmp_path, mmfs, ro):
    """A file someone else owns at the arena's name -- even a valid arena
    -- is never served: refused with a message naming the owner, and left
    as it was."""
    name, path = shm_paths()
    # A real arena, made by a mount, then handed to another user.
    m = mmfs(opts=[f"name={name}"], pass_arena=False)
    with open(m.path("planted"), "w") as f:
        f.write("by someone else\n")
    m.umount()
    os.chown(path, USER, USER)
    os.chmod(path, 0o666)
    before = file_state(path)
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    opts = f"name={name},size=16M" + (",ro" if ro else "")
    refused(run_mmfs("-f", "-o", opts, mnt), path, f"owned by uid {USER}")
    assert file_state(path) == before


@pytest.mark.parametrize("ro", [False, True])
def test_fifo_at_the_arena_path_is_refused_without_hanging(run_mmfs,
                                                           shm_paths,
                                                           tmp_path, ro):
    name, path = shm_paths()
    os.mkfifo(path, 0o666)
    os.chown(path, USER, USER)
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    opts = f"name={name},size=16M" + (",ro" if ro else "")
    refused(run_mmfs("-f", "-o", opts, mnt, timeout=10),
            "not a regular file")
    assert stat.S_ISFIFO(os.lstat(path).st_mode)


def test_directory_at_the_arena_path_is_refused(run_mmfs, shm_paths,
                                                tmp_path):
    name, path = shm_paths()
    os.mkdir(path)
    os.chown(path, USER, USER)
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    refused(run_mmfs("-f", "-o", f"name={name},size=16M", mnt))
    assert os.path.isdir(path) and os.listdir(path) == []

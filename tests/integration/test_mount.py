"""Mounting and unmounting: readiness, the ways to unmount, and the mount
options (size, name, ro, allow_other, default_permissions, max_files,
ring_size)."""

import errno
import hashlib
import os
import signal
import stat
import subprocess
import time
import uuid

import pytest

import helpers
from helpers import run


def test_foreground_mount_serves_and_unmounts_cleanly(mmfs):
    m = mmfs()
    assert os.path.ismount(m.mnt)
    entry = helpers.mount_entry(m.mnt)
    assert entry[2] == "fuse.mmfs", entry
    assert os.listdir(m.mnt) == []
    with open(m.path("hello"), "w") as f:
        f.write("world\n")
    assert run(["cat", m.path("hello")]).stdout == "world\n"
    assert m.umount() == 0
    assert not os.path.ismount(m.mnt)
    assert os.listdir(m.mnt) == []          # the bare mount point again


def test_mount_source_is_the_arena(mmfs):
    m = mmfs()
    src = run(["findmnt", "-n", "-o", "SOURCE", "--mountpoint", m.mnt])
    assert src.stdout.strip() == os.path.abspath(m.arena)


def test_background_mount_is_ready_when_the_command_returns(mmfs):
    m = mmfs(foreground=False)
    assert m.start_returncode == 0
    assert m.ready_at_return, "mount.mmfs returned before the mount was ready"
    assert m.pid is not None, "no daemon process left serving the mount"
    with open(m.path("v"), "w") as f:
        f.write("1")
    # umount(8) works, and the daemon exits once unmounted.
    m.umount(how="umount")
    assert not helpers.pid_alive(m.pid)
    # The arena is free again (the daemon released it): mount it again.
    m.start()
    assert open(m.path("v")).read() == "1"
    m.umount(how="fusermount")
    assert not helpers.pid_alive(m.pid)


def test_recovery_is_reported_only_after_a_crash(mmfs):
    m = mmfs()
    with open(m.path("f"), "w") as f:
        f.write("x")
    m.umount()
    assert "recover" not in m.stderr.lower(), \
        f"a brand-new arena was 'recovered':\n{m.stderr}"
    m.remount()
    m.umount()
    assert "recover" not in m.stderr.lower(), m.stderr
    m.remount()
    m.kill9()
    m.remount()
    assert "recover" in m.stderr.lower(), \
        "no word of recovery after the daemon was killed"
    assert open(m.path("f")).read() == "x"


def test_umount8_stops_a_foreground_daemon(mmfs):
    m = mmfs()
    assert m.umount(how="umount") == 0


def test_version_and_help(mmfs_bin):
    v = run([mmfs_bin, "-V"], check=False)
    assert v.returncode == 0, v
    assert "0.1" in v.stdout + v.stderr
    h = run([mmfs_bin, "-h"], check=False)
    assert h.returncode == 0, h
    text = h.stdout + h.stderr
    for word in ("size=", "name=", "max_files=", "ring_size=", "arena_mode=",
                 "arena_group="):
        assert word in text, f"-h does not mention {word}"


def test_size_option_is_the_capacity_df_shows(mmfs):
    m = mmfs(size="48M")
    st = os.statvfs(m.mnt)
    total = st.f_blocks * st.f_frsize
    assert abs(total - 48 * 2**20) <= 48 * 2**20 // 100, total
    df = run(["df", "-B1", "--output=size", m.mnt]).stdout.split()
    assert abs(int(df[-1]) - 48 * 2**20) <= 48 * 2**20 // 100, df


def test_recorded_size_is_kept_without_the_option(mmfs):
    m = mmfs(size="40M")
    m.remount(opts=[])                     # no size= this time
    st = os.statvfs(m.mnt)
    assert abs(st.f_blocks * st.f_frsize - 40 * 2**20) <= 2**20


def test_name_option_picks_the_default_arena(mmfs):
    name = f"pytest-{uuid.uuid4().hex[:12]}"
    arena = f"/dev/shm/mmfs.{name}"
    assert not os.path.exists(arena)
    try:
        m = mmfs(arena=arena, pass_arena=False, opts=[f"name={name}"])
        with open(m.path("x"), "w") as f:
            f.write("in the named arena")
        assert os.path.isfile(arena), f"{arena} was not created"
        assert stat.S_IMODE(os.stat(arena).st_mode) == 0o600
        m.remount()
        assert open(m.path("x")).read() == "in the named arena"
        m.umount()
    finally:
        if os.path.exists(arena):
            os.unlink(arena)


def test_default_arena_is_named_after_the_mount_point(mmfs):
    m = mmfs(pass_arena=False, start=False)
    name = m.mnt.lstrip("/").replace("/", "-")
    m.arena = f"/dev/shm/mmfs.{name}"
    assert not os.path.exists(m.arena)
    try:
        m.start()
        assert os.path.isfile(m.arena), \
            f"expected the default arena {m.arena}; /dev/shm has " \
            f"{sorted(x for x in os.listdir('/dev/shm') if x.startswith('mmfs'))}"
        m.umount()
    finally:
        if os.path.exists(m.arena):
            os.unlink(m.arena)


def arena_hash_without_stats(path):
    """sha256 of an arena but for the request counters (header bytes
    1024-1535), which the serving daemon updates on every request."""
    data = bytearray(open(path, "rb").read())
    data[1024:1536] = bytes(512)
    return hashlib.sha256(data).hexdigest()


def test_second_daemon_on_a_busy_arena_is_refused(mmfs, run_mmfs):
    m = mmfs()
    with open(m.path("keep"), "w") as f:
        f.write("keep me")
    before = arena_hash_without_stats(m.arena)
    other = helpers.run(["mktemp", "-d", "/tmp/mmfs-mnt-XXXXXX"]).stdout.strip()
    try:
        res = run_mmfs("-f", "-o", "size=64M", m.arena, other)
        assert res.returncode != 0
        lines = res.stderr.strip().splitlines()
        assert len(lines) == 1, res.stderr
        assert "busy" in lines[0].lower() or "use" in lines[0].lower(), lines
    finally:
        os.rmdir(other)
    assert arena_hash_without_stats(m.arena) == before, \
        "the refused daemon modified the arena"
    # The first mount is unaffected.
    assert open(m.path("keep")).read() == "keep me"


def test_mount_right_after_umount_waits_for_the_old_daemon(mmfs, mmfs_bin):
    """umount returns before the daemon has closed the arena (the kernel
    does not wait for a FUSE daemon), so `umount; mount` of one arena raced
    the old daemon's last flush and could fail with "in use".  A mount that
    finds the arena held by a daemon that no longer serves waits for it to
    close.  The old daemon is stopped across the unmount to make the race
    certain."""
    m = mmfs()
    with open(m.path("v"), "w") as f:
        f.write("kept\n")
    helpers.stop_process(m.pid)
    m.expect_exit()
    try:
        run(["fusermount3", "-u", m.mnt])  # umount(8) would stat it first
        new = subprocess.Popen([mmfs_bin, m.arena, m.mnt],
                               stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
        time.sleep(0.5)
        assert new.poll() is None, \
            f"the new mount did not wait: {new.communicate()}"
    finally:
        os.kill(m.pid, signal.SIGCONT)
    _, err = new.communicate(timeout=30)
    assert new.returncode == 0, err
    assert helpers.mounted(m.mnt)
    assert open(m.path("v")).read() == "kept\n"
    m.umount()              # the new daemon's mount; reaps the old daemon


def test_ro_mount_refuses_changes_and_leaves_the_arena_untouched(mmfs):
    m = mmfs()
    os.mkdir(m.path("d"))
    with open(m.path("d", "f"), "w") as f:
        f.write("data")
    os.setxattr(m.path("d", "f"), "user.k", b"v")
    m.umount()
    before = helpers.sha256_file(m.arena)
    m.remount(opts=["ro"])
    assert "ro" in helpers.mount_entry(m.mnt)[3].split(",")
    assert open(m.path("d", "f")).read() == "data"
    assert os.getxattr(m.path("d", "f"), "user.k") == b"v"
    assert os.listdir(m.path("d")) == ["f"]
    attempts = [
        lambda: open(m.path("d", "f"), "w"),
        lambda: open(m.path("new"), "w"),
        lambda: os.mkdir(m.path("e")),
        lambda: os.unlink(m.path("d", "f")),
        lambda: os.rename(m.path("d", "f"), m.path("g")),
        lambda: os.chmod(m.path("d", "f"), 0o600),
        lambda: os.utime(m.path("d", "f"), ns=(1, 1)),
        lambda: os.setxattr(m.path("d", "f"), "user.k", b"w"),
        lambda: os.symlink("x", m.path("s")),
        lambda: os.truncate(m.path("d", "f"), 0),
    ]
    for i, attempt in enumerate(attempts):
        with pytest.raises(OSError) as ei:
            attempt()
        assert ei.value.errno == errno.EROFS, (i, ei.value)
    r = run(["touch", m.path("d", "f")], check=False)
    assert r.returncode != 0
    # Reading and listing did not modify the arena either.
    run(["cat", m.path("d", "f")])
    m.umount()
    assert helpers.sha256_file(m.arena) == before


def as_nobody(*cmd):
    return run(["setpriv", "--reuid=65534", "--regid=65534",
                "--clear-groups", *cmd], check=False)


def prepare_permission_tree(m):
    os.chmod(m.mnt, 0o755)
    with open(m.path("public"), "w") as f:
        f.write("public\n")
    os.chmod(m.path("public"), 0o644)
    with open(m.path("secret"), "w") as f:
        f.write("secret\n")
    os.chmod(m.path("secret"), 0o600)


def test_without_allow_other_other_users_are_kept_out(mmfs):
    m = mmfs()
    prepare_permission_tree(m)
    r = as_nobody("cat", m.path("public"))
    assert r.returncode != 0 and "ermission denied" in r.stderr, r


def test_allow_other_with_default_permissions(mmfs):
    m = mmfs(opts=["allow_other", "default_permissions"])
    prepare_permission_tree(m)
    r = as_nobody("cat", m.path("public"))
    assert r.returncode == 0 and r.stdout == "public\n", r
    r = as_nobody("cat", m.path("secret"))
    assert r.returncode != 0 and "ermission denied" in r.stderr, r
    r = as_nobody("sh", "-c", f"echo x > {m.path('public')}")
    assert r.returncode != 0, r
    r = as_nobody("touch", m.path("newfile"))
    assert r.returncode != 0, r
    assert open(m.path("public")).read() == "public\n"
    # A file the other user owns is theirs to change.
    os.chown(m.path("public"), 65534, 65534)
    r = as_nobody("sh", "-c", f"echo mine > {m.path('public')}")
    assert r.returncode == 0, r
    assert open(m.path("public")).read() == "mine\n"


def test_allow_other_implies_default_permissions(mmfs):
    m = mmfs(opts=["allow_other"])
    prepare_permission_tree(m)
    assert as_nobody("cat", m.path("public")).returncode == 0
    r = as_nobody("cat", m.path("secret"))
    assert r.returncode != 0 and "ermission denied" in r.stderr, r


def test_max_files_limits_the_number_of_files(mmfs):
    limit = 40
    m = mmfs(opts=[f"max_files={limit}"])
    created = 0
    with pytest.raises(OSError) as ei:
        for i in range(limit + 5):
            open(m.path(f"f{i}"), "w").close()
            created += 1
    assert ei.value.errno == errno.ENOSPC
    # The root directory may count as one of them.
    assert limit - 2 <= created <= limit, created
    with pytest.raises(OSError) as ei:
        os.mkdir(m.path("dir"))
    assert ei.value.errno == errno.ENOSPC
    st = os.statvfs(m.mnt)
    assert limit - 1 <= st.f_files <= limit, st
    assert st.f_ffree <= 1, st
    # Removing a file makes room for another one, once the kernel has
    # forgotten the inode (it sends FORGET after the unlink, not with it).
    os.unlink(m.path("f0"))
    assert helpers.wait_for(lambda: os.statvfs(m.mnt).f_ffree >= 1, 10)
    os.mkdir(m.path("dir"))
    assert len(os.listdir(m.mnt)) == created
    # The limit is recorded in the arena: it holds without the option.
    m.remount(opts=[])
    with pytest.raises(OSError) as ei:
        open(m.path("one-more"), "w").close()
    assert ei.value.errno == errno.ENOSPC
    assert limit - 1 <= os.statvfs(m.mnt).f_files <= limit


def ring_capacity(path):
    return int(os.getxattr(path, "user.mmfs.capacity"))


def fill_ring(path, nbytes):
    """Append records of 33 bytes, one write(2) each, until more than
    nbytes went in; returns the last record."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        for i in range(nbytes // 33 + 2):
            rec = f"record {i:09d} ...............\n".encode()
            assert len(rec) == 33 and os.write(fd, rec) == 33
    finally:
        os.close(fd)
    return rec


def test_ring_size_option_sets_the_capacity_of_new_rings(mmfs):
    """ring_size=N: a ring created on the mount has capacity N and keeps
    only about N bytes (the newest whole records) of what is written to
    it.  A later mount with another ring_size changes new rings only."""
    n = 64 * 1024
    m = mmfs(opts=["ring_size=64K"])
    p = m.path("log.ring")
    last = fill_ring(p, 3 * n)
    assert ring_capacity(p) == n
    kept = open(p, "rb").read()
    assert n - 33 < len(kept) <= n, len(kept)
    assert kept.endswith(last) and len(kept) % 33 == 0
    assert os.stat(p).st_size == (3 * n // 33 + 2) * 33   # all it was given
    # A plain file is no ring: it keeps everything.
    fill_ring(m.path("plain"), 3 * n)
    assert os.stat(m.path("plain")).st_size == (3 * n // 33 + 2) * 33

    m.remount(opts=["ring_size=5000"])
    q = m.path("second.ring")
    last = fill_ring(q, 4 * 5000)
    assert ring_capacity(q) == 5000
    kept = open(q, "rb").read()
    assert 5000 - 33 < len(kept) <= 5000 and kept.endswith(last), len(kept)
    assert ring_capacity(p) == n, "an existing ring kept its capacity"


def test_debug_flag_logs_requests(mmfs):
    m = mmfs(start=False)
    m.binary_args = ["-d"]
    m.start()
    with open(m.path("f"), "w") as f:
        f.write("x")
    m.umount()
    assert "LOOKUP" in m.stderr or "CREATE" in m.stderr, m.stderr[-2000:]


def test_fstab_style_options_are_ignored(mmfs):
    m = mmfs(opts=["defaults", "noauto", "_netdev", "nofail", "x-foo=bar"])
    open(m.path("f"), "w").close()
    assert os.listdir(m.mnt) == ["f"]

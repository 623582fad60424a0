"""meson install, and mounting through mount(8): `mount -t fuse.mmfs` and an
fstab line, both of which run /sbin/mount.fuse.mmfs ARENA MNT -o OPTS.

What libmmfs installs is used as a user would use it, in a private mount
namespace where the DESTDIR copy stands in for the prefix: Debian's
python3 imports mmfs with no PYTHONPATH and loads the installed library,
and pkg-config builds programs that run, shared and static."""

import json
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
    for page in ("man8/mount.mmfs.8", "man7/mmfs.7", "man8/mmfsctl.8",
                 "man3/mmfs.3"):
        assert any(f.endswith(page) for f in files), page
    man3 = dest / next(f for f in files if f.endswith("man3/mmfs.3"))
    for fn in ("mmfs_attach", "mmfs_get", "mmfs_wait", "mmfs_ring_close"):
        assert os.readlink(man3.parent / f"{fn}.3") == "mmfs.3", fn


def build_prefix():
    out = subprocess.run(["meson", "introspect", "--buildoptions",
                          build_dir()], capture_output=True, text=True,
                         timeout=60, check=True).stdout
    return next(o["value"] for o in json.loads(out) if o["name"] == "prefix")


# Run as root in a private mount namespace, where the DESTDIR copy of the
# prefix is bound over the prefix itself: what follows sees exactly what
# `meson install` would have put there, and nothing else of the machine
# (nor of the build tree) changes.  $1 DESTDIR, $2 prefix, $3 scratch.
INSTALLED = r"""
set -eu
dest=$1 prefix=$2 t=$3
mount --bind "$dest$prefix" "$prefix"
echo "== python"
/usr/bin/python3 -c '
import json, os, sys, mmfs
maps = sorted({l.split()[-1] for l in open("/proc/self/maps")
               if "libmmfs" in l})
m = mmfs.attach(sys.argv[1] + "/py.arena", create=True)
m.set("from/python", "installed\n")
print(json.dumps({"module": mmfs.__file__, "maps": maps,
                  "get": m.get("from/python").decode()}))
' "$t"
echo "== pkg-config"
pkg-config --cflags --libs mmfs
libdir=$(pkg-config --variable=libdir mmfs)
echo "== cc"
cc -Wall -Werror -o "$t/hit" "$t/hit.c" $(pkg-config --cflags --libs mmfs)
cc -Wall -Werror -o "$t/hit-static" "$t/hit.c" $(pkg-config --cflags mmfs) 	-Wl,-Bstatic $(pkg-config --static --libs mmfs) -Wl,-Bdynamic
# ldconfig, as after an install into /usr/local, into a cache of our own
[ -d /var/cache/ldconfig ] && mount -t tmpfs none /var/cache/ldconfig
ldconfig -C "$t/ld.so.cache"
mount --bind "$t/ld.so.cache" /etc/ld.so.cache
echo "== run"
"$t/hit" "$t/c.arena"
"$t/hit" "$t/c.arena"
"$t/hit-static" "$t/c.arena"
echo "== ldd"
ldd "$t/hit" | grep libmmfs
ldd "$t/hit-static" | grep -c libmmfs || true
"""

HIT_C = r"""
#include <mmfs.h>
#include <stdio.h>
#include <string.h>

int main(int argc, char *argv[])
{
	struct mmfs *m;
	int64_t hits = 0;
	int rc = mmfs_attach(argv[1], MMFS_ATTACH_CREATE, &m);

	if (rc < 0) {
		fprintf(stderr, "%s\n", mmfs_attach_error());
		return 1;
	}
	rc = mmfs_add(m, "hits", 1, &hits);
	printf("hit %lld (%s)\n", (long long)hits, rc ? strerror(-rc) : "ok");
	mmfs_detach(m);
	return rc != 0;
}
"""


def test_installed_module_imports_and_programs_link(tmp_path):
    """After `meson install`, Debian's python3 imports mmfs with no
    PYTHONPATH and it loads the installed libmmfs (not the build tree's);
    pkg-config --cflags --libs mmfs builds a program that runs, shared and
    with libmmfs.a."""
    prefix = build_prefix()
    if prefix in ("/", "/usr") or not os.path.isdir(prefix):
        pytest.skip(f"the build's prefix {prefix} cannot be stood in for "
                    f"(bound over in a mount namespace)")
    if conftest._sanitized(os.path.join(build_dir(), "src", "lib",
                                        "libmmfs.so")):
        pytest.skip("a sanitized build: Python cannot load its libmmfs "
                    "(the plain stage of scripts/test runs this test)")
    dest = tmp_path / "root"
    r = subprocess.run(["meson", "install", "-C", build_dir(), "--destdir",
                        str(dest), "--no-rebuild"], capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    (tmp_path / "hit.c").write_text(HIT_C)
    env = {k: v for k, v in os.environ.items()
           if k not in ("MMFS_LIBRARY", "PYTHONPATH", "LD_LIBRARY_PATH",
                        "PKG_CONFIG_PATH", "LIBRARY_PATH", "CPATH")}
    r = subprocess.run(["unshare", "--mount", "--propagation", "private",
                        "sh", "-c", INSTALLED, "sh", str(dest), prefix,
                        str(tmp_path)], capture_output=True, text=True,
                       env=env, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    sections = dict(part.split("\n", 1) for part in
                    r.stdout.split("== ")[1:])
    py = json.loads(sections["python"])
    libdir = next(str(p.parent) for p in dest.rglob("libmmfs.so.0"))
    libdir = libdir[len(str(dest)):]
    assert py["module"].startswith(prefix + "/"), py
    assert py["maps"] == [f"{libdir}/libmmfs.so.0.1.0"], py
    assert py["get"] == "installed\n"
    flags = sections["pkg-config"].split()
    assert f"-I{prefix}/include" in flags and f"-L{libdir}" in flags and \
        "-lmmfs" in flags, flags
    assert sections["run"] == "hit 1 (ok)\nhit 2 (ok)\nhit 3 (ok)\n"
    ldd = sections["ldd"].splitlines()
    assert f"{libdir}/libmmfs.so.0" in ldd[0], ldd
    assert ldd[1] == "0", "hit-static is linked with libmmfs.so"


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

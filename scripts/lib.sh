# shellcheck shell=bash
# scripts/lib.sh -- helpers shared by scripts/run and scripts/test.
# Source it; it defines functions only (and MMFS_ROOT).

# shellcheck disable=SC2034  # used by the scripts that source this file
MMFS_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

# Debian packages mmfs needs to build, run and test.
MMFS_DEPS=(
	meson ninja-build pkg-config libfuse3-dev fuse3
	python3 python3-pytest attr inotify-tools strace
)

mmfs_say() { printf '==> %s\n' "$*"; }
mmfs_warn() { printf 'warning: %s\n' "$*" >&2; }
mmfs_die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# True when the Debian package $1 is installed.
mmfs_pkg_installed() {
	[ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null)" = installed ]
}

# Packages only the tests need: clang and its libFuzzer runtime for the
# fuzzing harness (tests/fuzz), valgrind for the daemon under memcheck,
# Perl's File::Map and Sys::Mmap to map files as Perl programs do
# (test_mmap.py), setcap/getcap for file capabilities (test_multiuser.py),
# setfacl/getfacl for POSIX ACLs (test_acl.py), chattr/lsattr for
# attribute flags (test_chattr.py), gdb for the stacks of a daemon that
# hangs (tests/integration/helpers.py, threads_waiting).
MMFS_TEST_DEPS=(clang libclang-rt-14-dev valgrind
	libfile-map-perl libsys-mmap-perl libcap2-bin acl e2fsprogs gdb)

# mmfs_install_deps [PACKAGE...]: install whatever of MMFS_DEPS (plus a C
# compiler) and the given packages is missing.  Runs apt-get update only
# when something is missing.
mmfs_install_deps() {
	command -v dpkg-query >/dev/null 2>&1 ||
		mmfs_die "dpkg-query not found: mmfs's scripts expect Debian (12 or later)"
	local missing=() p
	# build-essential, or at least gcc, for the C compiler.
	if ! mmfs_pkg_installed build-essential && ! mmfs_pkg_installed gcc; then
		missing+=(build-essential)
	fi
	for p in "${MMFS_DEPS[@]}" "$@"; do
		mmfs_pkg_installed "$p" || missing+=("$p")
	done
	[ "${#missing[@]}" -eq 0 ] && return 0

	mmfs_say "installing Debian packages: ${missing[*]}"
	local sudo=()
	if [ "$(id -u)" -ne 0 ]; then
		command -v sudo >/dev/null 2>&1 ||
			mmfs_die "not root and no sudo: install ${missing[*]} by hand"
		sudo=(sudo)
	fi
	"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q ||
		mmfs_die "apt-get update failed"
	"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
		apt-get install -y -q --no-install-recommends "${missing[@]}" </dev/null ||
		mmfs_die "apt-get install failed: ${missing[*]}"
}

# mmfs_meson_setup DIR [MESON OPTIONS...]: configure DIR with exactly these
# options, reusing an existing build directory when it can.
mmfs_meson_setup() {
	local dir="$1"
	shift
	if [ -f "$dir/meson-private/coredata.dat" ]; then
		meson setup --reconfigure "$dir" "$@" ||
			meson setup --wipe "$dir" "$@"
	else
		meson setup "$dir" "$@"
	fi
}

# Print the fstype of the file system mounted exactly at $1 (nothing if $1
# is not a mount point).
mmfs_mount_fstype() {
	findmnt -n -o FSTYPE --mountpoint "$1" 2>/dev/null | tail -n 1 || true
}

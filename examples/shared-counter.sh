#!/usr/bin/env bash
# shared-counter.sh -- shell processes sharing variables through mmfs.
#
# Usage:
#   examples/shared-counter.sh [PROCS [INCREMENTS]]
#
#   MNT=/mnt/shm examples/shared-counter.sh 8 100
#       use the mmfs file system already mounted at /mnt/shm
#   examples/shared-counter.sh
#       mount a private, throw-away mmfs (16 MiB arena in /dev/shm) for the
#       run, using $MMFS_BIN or build/src/fs/mount.mmfs of this repository
#
# What it shows:
#   1. Variables are files and namespaces are directories: `echo v > var`
#      sets a variable, `cat var` reads it.
#   2. PROCS background shell processes (default 4) each add 1 to a shared
#      counter INCREMENTS times (default 100), with flock(1) making each
#      read-increment-write step exclusive.  The final value is exactly
#      PROCS * INCREMENTS; without the lock, increments would get lost.
#
# Everything lives in $MNT/shared-counter/ (recreated on every run).
# Output ends with "counter: N (expected N)"; the exit status is 0 only if
# the two agree.
set -euo pipefail

procs="${1:-4}"
increments="${2:-100}"
for n in "$procs" "$increments"; do
	case "$n" in
	'' | *[!0-9]* | 0*)
		echo "shared-counter.sh: PROCS and INCREMENTS must be positive integers, not '$n'" >&2
		exit 2 ;;
	esac
done

here="$(cd "$(dirname "$0")" && pwd)"
own_mount=""
own_arena=""

cleanup() {
	if [ -n "$own_mount" ]; then
		fusermount3 -u "$own_mount" 2>/dev/null || umount "$own_mount" || true
		rmdir "$own_mount" 2>/dev/null || true
		rm -f "$own_arena"
	fi
}
trap cleanup EXIT

if [ -z "${MNT:-}" ]; then
	bin="${MMFS_BIN:-$here/../build/src/fs/mount.mmfs}"
	[ -x "$bin" ] || {
		echo "shared-counter.sh: set MNT to an mmfs mount, or build mount.mmfs ($bin)" >&2
		exit 2
	}
	own_mount="$(mktemp -d /tmp/mmfs-example-XXXXXX)"
	own_arena="/dev/shm/mmfs.example-$$"
	# mount.mmfs returns once the file system is ready.
	"$bin" -o size=16M "$own_arena" "$own_mount"
	MNT="$own_mount"
fi

echo "mmfs mount: $MNT"
work="$MNT/shared-counter"
rm -rf "$work"
mkdir -p "$work/app/config"

# 1. Variables in a namespace.
echo blue >"$work/app/config/color"
echo 8080 >"$work/app/config/port"
echo starting >"$work/app/status"
echo ready >"$work/app/status"          # replacing a value: just write it again
echo "namespace $work/app:"
for var in config/color config/port status; do
	printf '  %s = %s\n' "$var" "$(cat "$work/app/$var")"
done

# 2. A counter shared by PROCS processes, under flock(1).
counter="$work/counter"
echo 0 >"$counter"
worker() {
	local i
	for ((i = 0; i < increments; i++)); do
		# flock(1) holds an exclusive lock on the lock file while the
		# command runs: read, add one, write back.
		flock "$work/counter.lock" \
			sh -c 'n=$(cat "$1"); echo $((n + 1)) >"$1"' sh "$counter"
	done
}
pids=()
for ((p = 0; p < procs; p++)); do
	worker &
	pids+=("$!")
done
for pid in "${pids[@]}"; do
	wait "$pid"
done

final="$(cat "$counter")"
expected=$((procs * increments))
echo "counter: $final (expected $expected)"
[ "$final" -eq "$expected" ]

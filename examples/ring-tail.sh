#!/usr/bin/env bash
# ring-tail.sh -- a program logs into a ring log while tail -f follows it.
#
# Usage: examples/ring-tail.sh [RECORDS]    (default 300)
#
# Uses the mmfs mount in $MNT, or mounts a private one (build/src/fs/
# mount.mmfs, or $MMFS_BIN) and removes it afterwards.  It builds
# examples/ring_logger.c, gives the ring a small capacity (4 KiB) so that it
# wraps many times, runs the logger and `tail -f` side by side, and checks
# that tail printed every record exactly once although the ring never held
# more than about 150 of them.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
records=${1:-300}
case "$records" in
'' | *[!0-9]* | 0*)
	echo "ring-tail.sh: RECORDS must be a positive integer, not '$records'" >&2
	exit 2 ;;
esac
work=$(mktemp -d)
own_mount=

cleanup() {
	[ -n "${tail_pid:-}" ] && kill "$tail_pid" 2>/dev/null || true
	if [ -n "$own_mount" ]; then
		fusermount3 -u "$MNT" 2>/dev/null || true
		rmdir "$MNT" 2>/dev/null || true
	fi
	rm -rf "$work"
}
trap cleanup EXIT

if [ -z "${MNT:-}" ]; then
	MNT=$(mktemp -d /tmp/mmfs-ring-XXXXXX)
	"${MMFS_BIN:-$here/../build/src/fs/mount.mmfs}" -o size=16M \
		"$work/arena" "$MNT"
	own_mount=1
fi
echo "mmfs mount: $MNT"

cc -O2 -o "$work/ring_logger" "$here/ring_logger.c"
ring="$MNT/ring-tail-demo.ring"
: > "$ring" 2>/dev/null || true
setfattr -n user.mmfs.capacity -v 4096 "$ring"
echo "capacity: $(getfattr --absolute-names -n user.mmfs.capacity --only-values "$ring") bytes"

tail -f -s 0.05 -n +1 "$ring" > "$work/followed" &
tail_pid=$!
sleep 0.3
"$work/ring_logger" "$ring" "$records" 5
sleep 0.5
kill "$tail_pid"
wait "$tail_pid" 2>/dev/null || true
tail_pid=

printed=$(wc -l < "$work/followed")
unique=$(sort -u "$work/followed" | wc -l)
retained=$(wc -l < "$ring")
echo "logged $records records; the ring retains $retained; tail -f printed $printed ($unique distinct)"
if [ "$printed" -eq "$records" ] && [ "$unique" -eq "$records" ]; then
	echo "every record exactly once"
else
	echo "MISMATCH" >&2
	exit 1
fi

#!/usr/bin/env bash
# wait-for-change.sh -- two processes signal each other through variables,
# without polling: each sleeps in inotifywait until the other has written.
#
# Usage: examples/wait-for-change.sh [ROUNDS]    (default 20)
#
# Uses the mmfs mount in $MNT, or mounts a private one (build/src/fs/
# mount.mmfs, or $MMFS_BIN) and removes it afterwards.
#
# What it shows: a server process waits for the variable `job` to be
# written, squares the number in it and writes the answer to `result`; the
# client writes a job, waits for `result`, checks it, and goes on.  Nobody
# sleeps or polls: both wait for the kernel's IN_CLOSE_WRITE event, which
# arrives when the writer closes the file.  By then the whole new value is
# in the arena (`echo v > var` is atomic on mmfs), so the reader never sees
# an empty or half-written value.
#
# Every change to an mmfs arena passes through its one mount, so inotify
# sees changes from every process on the machine; see mmfs(7), CHANGE
# NOTIFICATION.  Output ends with "ROUNDS rounds, every answer right"; the
# exit status is 0 only then.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
rounds=${1:-20}
case "$rounds" in
'' | *[!0-9]* | 0*)
	echo "wait-for-change.sh: ROUNDS must be a positive integer, not '$rounds'" >&2
	exit 2 ;;
esac
own_mount=
own_arena=
server_pid=
watcher_pid=

cleanup() {
	[ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null || true
	[ -n "$watcher_pid" ] && kill "$watcher_pid" 2>/dev/null || true
	if [ -n "$own_mount" ]; then
		fusermount3 -u "$MNT" 2>/dev/null || umount "$MNT" || true
		rmdir "$MNT" 2>/dev/null || true
		rm -f "$own_arena"
	fi
}
trap cleanup EXIT

command -v inotifywait >/dev/null || {
	echo "wait-for-change.sh: inotifywait not found (Debian: inotify-tools)" >&2
	exit 2
}
if [ -z "${MNT:-}" ]; then
	MNT=$(mktemp -d /tmp/mmfs-wait-XXXXXX)
	own_arena="/dev/shm/mmfs.wait-example-$$"
	own_mount=1
	"${MMFS_BIN:-$here/../build/src/fs/mount.mmfs}" -o size=16M \
		"$own_arena" "$MNT"
fi
echo "mmfs mount: $MNT"
dir="$MNT/wait-for-change"
rm -rf "$dir"
mkdir -p "$dir"

# wait_for FD LINE: block until inotifywait's output on FD says LINE: the
# name of a file in $dir that someone closed after writing (10 s at most).
wait_for() {
	local line
	while IFS= read -r -t 10 line <&"$1"; do
		[ "$line" = "$2" ] && return 0
	done
	echo "wait-for-change.sh: inotifywait did not report '$2' within 10 s" >&2
	return 1
}

# watch FD_VAR: start `inotifywait -m` on $dir, open its output as a new
# file descriptor stored in FD_VAR, and return once the watch is in place
# (a write before that would go unnoticed).
watch() {
	local -n fd_ref=$1
	exec {fd_ref}< <(exec inotifywait -m -e close_write --format '%f' \
		"$dir" 2>&1)
	watcher_pid=$!
	wait_for "$fd_ref" "Watches established."
}

server() {
	local events n
	watch events
	echo up >"$dir/server"                  # tell the client we listen
	while wait_for "$events" job; do
		n=$(cat "$dir/job")
		[ "$n" = stop ] && break
		echo $((n * n)) >"$dir/result"
	done
	kill "$watcher_pid"
	[ "$n" = stop ]
}

client_events=
watch client_events
server &
server_pid=$!
wait_for "$client_events" server

for ((i = 1; i <= rounds; i++)); do
	echo "$i" >"$dir/job"
	wait_for "$client_events" result
	answer=$(cat "$dir/result")
	if [ "$answer" != $((i * i)) ]; then
		echo "round $i: sent $i, got '$answer', expected $((i * i))" >&2
		exit 1
	fi
	if [ "$i" -le 3 ]; then
		echo "round $i: $i squared is $answer"
	fi
done
echo stop >"$dir/job"
wait "$server_pid"
server_pid=
echo "$rounds rounds, every answer right"

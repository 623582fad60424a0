#!/bin/bash
# make-v1-arena.sh MOUNT_MMFS OUT -- write OUT, an arena of format version 1,
# and OUT.list, the order in which a version-1 mount lists OUT's /list.
#
# MOUNT_MMFS must be a mount.mmfs of format version 1 (v1-arena was made
# with the one of commit 975c4a5, the last such).  Run as root (mknod).
# The arena holds every kind of node, names of 1 to 255 bytes and a
# directory whose listing order (heap order, as version 1 rebuilt it at
# every mount) differs from the order its names were made in: removed
# names leave blocks that later names reuse.  test_dirs.c opens it.
set -euo pipefail
bin=$1
out=$2
work=$(mktemp -d)
arena=$work/arena
mnt=$work/mnt
mkdir "$mnt"
"$bin" -o size=64K,ring_size=4K "$arena" "$mnt"
(
	cd "$mnt"
	mkdir list sub sub/deep
	for i in $(seq 1 60); do echo "value $i" > "list/entry-$i"; done
	for i in $(seq 3 3 60); do rm "list/entry-$i"; done
	for i in $(seq 61 80); do : > "list/entry-$i"; done
	mv list/entry-1 list/renamed-1
	mkdir list/subdir
	ln list/entry-2 list/hardlink-2
	ln -s ../sub/deep list/symlink
	mknod list/fifo p
	mknod list/chardev c 1 3
	touch "list/$(printf 'x%.0s' $(seq 1 255))" list/y
	echo ring-record >> list/log.ring
	setfattr -n user.k -v v list/entry-2
	echo hello > sub/deep/file
	# Fill the arena: too little room is left to upgrade it under its cap.
	dd if=/dev/zero of=sub/filler bs=31000 count=1 status=none
)
umount "$mnt"
# Mount again: the order a version-1 mount lists is the one to keep.
"$bin" -o size=64K "$arena" "$mnt"
ls -U "$mnt/list" > "$out.list"
umount "$mnt"
# Cut the file to the pages below brk (header: file_size at 24, brk at
# 32), as the fuzz seeds are: a valid arena, which grows on demand.
python3 - "$arena" <<'PY'
import struct, sys
with open(sys.argv[1], "r+b") as f:
    brk = struct.unpack_from("<Q", f.read(40), 32)[0]
    size = (brk + 4095) // 4096 * 4096
    f.seek(24)
    f.write(struct.pack("<Q", size))
    f.truncate(size)
PY
cp "$arena" "$out"
rm -rf "$work"

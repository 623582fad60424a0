/* handle.c -- inodes named from outside: file handles.
 *
 * The daemon exports mmfs to NFS and open_by_handle_at(2) (ops.c): a
 * handle carries an inode's offset, and the kernel asks for it again
 * after it forgot the inode (a remount, drop_caches), with no other way
 * to tell it is one.  Every other call trusts a ref the daemon handed out
 * and checks only its block header (store_valid_ref); a handle's ref
 * comes from anyone who can write one, and a header is eight bytes that
 * a file's contents can forge inside its data.  So these calls ask a map
 * of where INODE blocks start, built by walking the heap the first time
 * one is needed and kept since by inode_new and inode_free.
 *
 * Invariants, while s->inode_map is not NULL (under the arena lock):
 *   - it has one bit per MM_ALIGN bytes below s->inode_map_end, set
 *     exactly where an INODE block starts (inode_map_end may lie below
 *     brk: offsets past it are no inode until the map grows);
 *   - every inode made or freed since it was built passed through
 *     handle_note.  When the map cannot grow (no memory) it is dropped,
 *     and built again by the next call that needs it.
 * Cost: one bit per 16 bytes of heap (64 KiB per 8 MiB), and a walk of
 * the heap's blocks, once.
 *
 * Generations: an inode's st_ino is never reused within an arena (the
 * header's next_ino only grows, format.h), so it tells a file from a later
 * one at the same offset; the daemon gives it as the handle's generation.
 */
#include <errno.h>
#include <stdlib.h>

#include "store_int.h"

#define MAP_BYTES(end) ((end) / MM_ALIGN / 8 + 1)

static void map_drop(struct store *s)
{
	free(s->inode_map);
	s->inode_map = NULL;
	s->inode_map_end = 0;
}

/* Make the map cover offsets below end (brk).  0 or -ENOMEM (the map is
 * then dropped). */
static int map_cover(struct store *s, uint64_t end)
{
	size_t old = MAP_BYTES(s->inode_map_end), want = MAP_BYTES(end);
	uint8_t *m;

	if (end <= s->inode_map_end)
		return 0;
	m = realloc(s->inode_map, want);
	if (!m) {
		map_drop(s);
		return -ENOMEM;
	}
	memset(m + old, 0, want - old);
	s->inode_map = m;
	s->inode_map_end = end;
	return 0;
}

static void map_set(struct store *s, uint64_t off, bool on)
{
	uint64_t i = off / MM_ALIGN;
	uint8_t bit = (uint8_t)(1u << (i % 8));

	if (on)
		s->inode_map[i / 8] |= bit;
	else
		s->inode_map[i / 8] &= (uint8_t)~bit;
}

void handle_note(struct store *s, uint64_t off, bool live)
{
	if (!s->inode_map)
		return;
	if (off >= s->inode_map_end && map_cover(s, s->hdr->brk))
		return;
	map_set(s, off, live);
}

/* Walk the heap into a new map.  A header that does not tile the heap
 * (a damaged arena) ends the walk: what lies past it is no inode. */
static int map_build(struct store *s)
{
	int rc = map_cover(s, s->hdr->brk);

	for (uint64_t off = MM_PAGE; rc == 0 && off < s->hdr->brk;
	     off += mm_block(s, off)->size) {
		if (!mm_header_ok(s, off))
			break;
		if (mm_block(s, off)->kind == MM_INODE)
			map_set(s, off, true);
	}
	return rc;
}

/* Is ref where a live INODE block starts?  Under the arena lock. */
static int check_handle_ref(struct store *s, store_ref ref)
{
	uint64_t i = ref / MM_ALIGN;
	int rc = s->inode_map ? 0 : map_build(s);

	if (rc)
		return rc;
	if (ref % MM_ALIGN || ref >= s->inode_map_end ||
	    !(s->inode_map[i / 8] >> (i % 8) & 1) || !store_valid_ref(s, ref))
		return -ESTALE;
	return mm_inode(s, ref)->nlink ? 0 : -ESTALE;
}

int store_lookup_ref(struct store *s, store_ref ref, struct store_attr *attr)
{
	int rc;

	arena_lock(s);
	rc = check_handle_ref(s, ref);
	if (rc == 0)
		inode_fill_attr(s, ref, attr);
	arena_unlock(s);
	return rc;
}

int store_parent(struct store *s, store_ref dir, store_ref *out,
		 struct store_attr *attr)
{
	uint64_t d;
	int rc = store_enter(s, dir);

	if (rc)
		return rc;
	if (!mm_is_dir(mm_inode(s, dir))) {
		rc = -ENOTDIR;
	} else if (dir == s->hdr->root) {
		*out = dir;
	} else {
		d = mm_dir(s, dir)->dentry;
		if (d)
			*out = mm_dentry(s, d)->parent;
		else
			rc = -ENOENT;
	}
	if (rc == 0)
		inode_fill_attr(s, *out, attr);
	arena_unlock(s);
	return rc;
}

void handle_finish(struct store *s)
{
	map_drop(s);
}

/* check.c -- verify an arena's invariants; census and extents for tools.
 *
 * store_verify checks, without changing anything but the mark bits of its
 * private copy, every invariant format.h states:
 *   heap      headers tile [4096, brk) (the walk recovery also does);
 *   header    intent idle, counters equal what the heap holds, used bytes;
 *   free      every list entry is a FREE block of the list's size class,
 *             no list loops, every FREE block is on a list;
 *   names     every live dentry has a valid directory and inode, is found
 *             by the index, sits in its directory's list; the index holds
 *             exactly the live dentries; lists agree with counts;
 *   links     each inode's nlink equals its live names;
 *   space     every allocated block is referenced exactly once from the
 *             root, a live inode or a live dentry (no leaks, no sharing);
 *   files     DATA sizes fit their blocks, maps use no slot past the size,
 *             rings satisfy ring.c's invariants.
 * Inodes with no link are reported as orphans (files unlinked while open
 * in a running daemon), not as problems, when the arena is in use.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>

#include "store_int.h"

#define CHUNKS(size) (((size) + MM_CHUNK - 1) / MM_CHUNK)

struct verify {
	struct store *s;
	store_report_fn report;
	void *ctx;
	int problems;
	uint64_t nblocks;
};

static void problem(struct verify *v, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	v->problems++;
	if (v->report && v->problems <= 1000)
		v->report(v->ctx, msg);
}

static bool is_kind(struct store *s, uint64_t off, unsigned kind)
{
	return mm_header_ok(s, off) && mm_block(s, off)->kind == kind;
}

static int walk(struct verify *v)
{
	struct store *s = v->s;

	for (uint64_t off = MM_PAGE; off < s->hdr->brk;) {
		if (!mm_header_ok(s, off)) {
			problem(v, "heap: bad block header at offset %" PRIu64,
				off);
			return -1;
		}
		mm_block(s, off)->flags &= (uint8_t)~MM_BLOCK_MARK;
		v->nblocks++;
		off += mm_block(s, off)->size;
	}
	return 0;
}

static void check_free_lists(struct verify *v)
{
	struct store *s = v->s;
	uint64_t listed = 0, free_blocks = 0;

	for (unsigned i = 0; i < MM_NFREE; i++) {
		uint64_t steps = 0;

		for (uint64_t off = s->hdr->free[i]; off;
		     off = *(uint64_t *)mm_payload(s, off)) {
			if (!is_kind(s, off, MM_FREE)) {
				problem(v, "free list %u: offset %" PRIu64
					" is not a free block", i, off);
				break;
			}
			if (++steps > v->nblocks) {
				problem(v, "free list %u loops", i);
				break;
			}
			listed++;
		}
	}
	for (uint64_t off = MM_PAGE; off < s->hdr->brk;
	     off += mm_block(s, off)->size)
		free_blocks += mm_block(s, off)->kind == MM_FREE;
	if (listed != free_blocks)
		problem(v, "free lists hold %" PRIu64 " blocks, the heap has %"
			PRIu64 " free blocks", listed, free_blocks);
}

/* Mark a block as referenced; a second reference is a problem. */
static void take(struct verify *v, uint64_t off, unsigned kind,
		 const char *what)
{
	struct store *s = v->s;

	if (!is_kind(s, off, kind)) {
		problem(v, "%s: offset %" PRIu64 " is not a block of kind %u",
			what, off, kind);
		return;
	}
	if (mm_block(s, off)->flags & MM_BLOCK_MARK)
		problem(v, "%s: block %" PRIu64 " is referenced twice", what,
			off);
	mm_block(s, off)->flags |= MM_BLOCK_MARK;
}

static void check_ring(struct verify *v, uint64_t off, uint64_t ino)
{
	struct mm_ring *r = mm_payload(v->s, off);

	if (r->head > r->tail || r->tail - r->head > r->capacity)
		problem(v, "ring inode %" PRIu64 ": head %" PRIu64
			" and tail %" PRIu64 " out of order", ino, r->head,
			r->tail);
}

static void check_file(struct verify *v, uint64_t off)
{
	struct store *s = v->s;
	struct mm_inode *ino = mm_inode(s, off);
	uint32_t type = ino->mode & 0170000;

	if (ino->xattr)
		take(v, ino->xattr, MM_XATTR, "xattr");
	if (type == 0020000 || type == 0060000 || !ino->data)
		return;
	if (type == 0040000) {
		take(v, ino->data, MM_DIR, "directory");
		return;
	}
	if (ino->flags & MM_INODE_RING) {
		take(v, ino->data, MM_RING, "ring");
		if (is_kind(s, ino->data, MM_RING))
			check_ring(v, ino->data, ino->ino);
		return;
	}
	if (is_kind(s, ino->data, MM_DATA)) {
		struct mm_data *d = mm_payload(s, ino->data);

		take(v, ino->data, MM_DATA, "data");
		if (d->size + sizeof(*d) > mm_payload_size(s, ino->data))
			problem(v, "inode %" PRIu64 ": size %" PRIu64
				" exceeds its block", ino->ino, d->size);
		return;
	}
	take(v, ino->data, MM_MAP, "map");
	if (!is_kind(s, ino->data, MM_MAP))
		return;
	struct mm_map *m = mm_payload(s, ino->data);

	for (uint64_t i = 0; i < m->nslots; i++) {
		if (!m->chunk[i])
			continue;
		if (i >= CHUNKS(m->size))
			problem(v, "inode %" PRIu64 ": chunk %" PRIu64
				" past its size", ino->ino, i);
		take(v, m->chunk[i], MM_CHUNK_KIND, "chunk");
	}
}

static void check_dentry(struct verify *v, uint64_t off)
{
	struct store *s = v->s;
	struct mm_dentry *d = mm_dentry(s, off);

	if (!is_kind(s, d->parent, MM_INODE) ||
	    !mm_is_dir(mm_inode(s, d->parent)) ||
	    !is_kind(s, d->inode, MM_INODE)) {
		problem(v, "name '%.*s' (%" PRIu64 "): bad directory or inode",
			d->namelen, d->name, off);
		return;
	}
	if (ns_find(s, d->parent, d->name, d->namelen) != off)
		problem(v, "name '%.*s' is missing from the index",
			d->namelen, d->name);
}

/* Names: the index, the lists and nlink against the live dentries. */
static void check_names(struct verify *v)
{
	struct store *s = v->s;
	uint64_t live = 0;

	for (uint64_t off = MM_PAGE; off < s->hdr->brk;
	     off += mm_block(s, off)->size) {
		if (mm_block(s, off)->kind != MM_DENTRY)
			continue;
		if (mm_dentry(s, off)->state != MM_DENTRY_LIVE) {
			problem(v, "dentry %" PRIu64 " is not live (state %u)",
				off, mm_dentry(s, off)->state);
			continue;
		}
		live++;
		mm_block(s, off)->flags |= MM_BLOCK_MARK;
		check_dentry(v, off);
	}
	if (live != s->hdr->hash_count)
		problem(v, "index counts %" PRIu64 " names, the heap holds %"
			PRIu64, s->hdr->hash_count, live);
}

static uint64_t count_list(struct verify *v, uint64_t dir, uint64_t *subdirs)
{
	struct store *s = v->s;
	struct mm_dir *dd = mm_dir(s, dir);
	uint64_t n = 0, prev = 0;

	*subdirs = 0;
	for (uint64_t off = dd->head; off; off = mm_dentry(s, off)->next) {
		if (!is_kind(s, off, MM_DENTRY) || n > v->nblocks) {
			problem(v, "directory %" PRIu64 ": broken entry list",
				mm_inode(s, dir)->ino);
			return n;
		}
		if (mm_dentry(s, off)->prev != prev ||
		    mm_dentry(s, off)->parent != dir)
			problem(v, "directory %" PRIu64 ": entry '%.*s' is "
				"misplaced in its list", mm_inode(s, dir)->ino,
				mm_dentry(s, off)->namelen,
				mm_dentry(s, off)->name);
		if (is_kind(s, mm_dentry(s, off)->inode, MM_INODE) &&
		    mm_is_dir(mm_inode(s, mm_dentry(s, off)->inode)))
			(*subdirs)++;
		prev = off;
		n++;
	}
	if (prev != dd->tail)
		problem(v, "directory %" PRIu64 ": list tail is wrong",
			mm_inode(s, dir)->ino);
	return n;
}

static void check_inodes(struct verify *v, uint64_t *orphans)
{
	struct store *s = v->s;
	uint64_t counts[4] = {0};

	for (uint64_t off = MM_PAGE; off < s->hdr->brk;
	     off += mm_block(s, off)->size) {
		struct mm_inode *ino;
		uint64_t subdirs, n;

		if (mm_block(s, off)->kind != MM_INODE)
			continue;
		ino = mm_inode(s, off);
		counts[0]++;
		counts[1] += mm_is_dir(ino);
		counts[2] += (ino->mode & 0170000) == 0120000;
		counts[3] += (ino->flags & MM_INODE_RING) != 0;
		if (ino->nlink == 0 && off != s->hdr->root)
			(*orphans)++;
		mm_block(s, off)->flags |= MM_BLOCK_MARK;
		check_file(v, off);
		if (!mm_is_dir(ino) || !is_kind(s, ino->data, MM_DIR))
			continue;
		n = count_list(v, off, &subdirs);
		if (n != mm_dir(s, off)->count ||
		    subdirs != mm_dir(s, off)->nsubdirs)
			problem(v, "directory %" PRIu64 ": counts %" PRIu64
				"/%" PRIu64 " entries/subdirs, list has %"
				PRIu64 "/%" PRIu64, ino->ino,
				mm_dir(s, off)->count,
				mm_dir(s, off)->nsubdirs, n, subdirs);
	}
	if (counts[0] != s->hdr->ninodes || counts[1] != s->hdr->ndirs ||
	    counts[2] != s->hdr->nsymlinks || counts[3] != s->hdr->nrings)
		problem(v, "header counts inodes/dirs/symlinks/rings %" PRIu64
			"/%" PRIu64 "/%" PRIu64 "/%" PRIu64 ", the heap holds %"
			PRIu64 "/%" PRIu64 "/%" PRIu64 "/%" PRIu64,
			s->hdr->ninodes, s->hdr->ndirs, s->hdr->nsymlinks,
			s->hdr->nrings, counts[0], counts[1], counts[2],
			counts[3]);
}

/* nlink against live names: count names into the scratch copy's lock
 * words (this is a private copy; lock words carry no meaning here). */
static void check_links(struct verify *v)
{
	struct store *s = v->s;

	for (uint64_t off = MM_PAGE; off < s->hdr->brk;
	     off += mm_block(s, off)->size)
		if (mm_block(s, off)->kind == MM_INODE)
			mm_inode(s, off)->lock = 0;
	for (uint64_t off = MM_PAGE; off < s->hdr->brk;
	     off += mm_block(s, off)->size)
		if (mm_block(s, off)->kind == MM_DENTRY &&
		    mm_dentry(s, off)->state == MM_DENTRY_LIVE &&
		    is_kind(s, mm_dentry(s, off)->inode, MM_INODE))
			mm_inode(s, mm_dentry(s, off)->inode)->lock++;
	for (uint64_t off = MM_PAGE; off < s->hdr->brk;
	     off += mm_block(s, off)->size) {
		struct mm_inode *ino;

		if (mm_block(s, off)->kind != MM_INODE || off == s->hdr->root)
			continue;
		ino = mm_inode(s, off);
		if (ino->lock != ino->nlink && !(mm_is_dir(ino) && ino->nlink &&
						 ino->lock == 1))
			problem(v, "inode %" PRIu64 ": nlink %u, %u name(s)",
				ino->ino, ino->nlink, ino->lock);
	}
}

static void check_space(struct verify *v)
{
	struct store *s = v->s;
	uint64_t used = MM_PAGE;

	if (s->hdr->hash_table)
		take(v, s->hdr->hash_table, MM_HASH, "index");
	for (uint64_t off = MM_PAGE; off < s->hdr->brk;
	     off += mm_block(s, off)->size) {
		struct mm_block *b = mm_block(s, off);

		if (b->kind == MM_FREE)
			continue;
		used += b->size;
		if (!(b->flags & MM_BLOCK_MARK))
			problem(v, "block %" PRIu64 " (kind %u, %u bytes) is "
				"allocated but nothing references it", off,
				b->kind, b->size);
		b->flags &= (uint8_t)~MM_BLOCK_MARK;
	}
	if (used != s->hdr->used)
		problem(v, "header says %" PRIu64 " bytes used, blocks hold %"
			PRIu64, s->hdr->used, used);
}

int store_verify(struct store *s, store_report_fn report, void *ctx)
{
	struct verify v = { .s = s, .report = report, .ctx = ctx };
	uint64_t orphans = 0;

	if (!s->private_map)
		return -EINVAL;     /* marks and scratch counts need a copy */
	if (walk(&v))
		return v.problems;
	if (s->hdr->intent.commit)
		problem(&v, "a rename was in flight (intent record set)");
	if (!is_kind(s, s->hdr->root, MM_INODE) ||
	    !mm_is_dir(mm_inode(s, s->hdr->root)))
		problem(&v, "the root directory is missing");
	if (!is_kind(s, s->hdr->hash_table, MM_HASH))
		problem(&v, "the name index is missing");
	if (v.problems)
		return v.problems;
	check_free_lists(&v);
	check_names(&v);
	check_inodes(&v, &orphans);
	check_links(&v);
	check_space(&v);
	if (orphans && s->hdr->clean)
		problem(&v, "%" PRIu64 " inode(s) without a name in a cleanly "
			"closed arena", orphans);
	return v.problems;
}

int store_recover(struct store *s)
{
	return recover_run(s);
}

int store_census(struct store *s, struct store_census *c)
{
	memset(c, 0, sizeof(*c));
	arena_lock(s);
	for (uint64_t off = MM_PAGE; off < s->hdr->brk;
	     off += mm_block(s, off)->size) {
		struct mm_block *b = mm_block(s, off);

		if (!mm_header_ok(s, off))
			break;
		c->kind_blocks[b->kind & 15]++;
		c->kind_bytes[b->kind & 15] += b->size;
		if (b->kind == MM_FREE) {
			c->free_blocks++;
			c->free_bytes += b->size;
			if (b->size > c->largest_free)
				c->largest_free = b->size;
			continue;
		}
		c->blocks++;
		if (b->kind == MM_INODE) {
			c->orphans += mm_inode(s, off)->nlink == 0 &&
				      off != s->hdr->root;
			c->locked += mm_inode(s, off)->lock != 0;
		}
	}
	c->tail_room = s->hdr->size_cap - s->hdr->brk;
	if (c->tail_room > c->largest_free)
		c->largest_free = c->tail_room;
	arena_unlock(s);
	return 0;
}

int store_extent(struct store *s, store_ref ref, struct store_extent *e)
{
	struct mm_inode *ino;
	uint32_t type;

	memset(e, 0, sizeof(*e));
	arena_lock(s);
	if (!store_valid_ref(s, ref)) {
		arena_unlock(s);
		return -ESTALE;
	}
	ino = mm_inode(s, ref);
	type = ino->mode & 0170000;
	e->lock_pid = ino->lock;
	e->xattr_block = ino->xattr;
	e->bytes = mm_block(s, ref)->size + file_bytes_used(s, ino) +
		   (ino->xattr ? mm_block(s, ino->xattr)->size : 0);
	if (type == 0020000 || type == 0060000) {
		e->layout = "device";
	} else {
		e->block = ino->data;
		e->layout = type == 0040000 ? "dir" :
			    (ino->flags & MM_INODE_RING) ? "ring" :
			    !ino->data ? "empty" :
			    mm_block(s, ino->data)->kind == MM_MAP ? "chunked" :
			    "small";
	}
	if (ino->data && e->layout[0] == 'c') {
		struct mm_map *m = mm_payload(s, ino->data);

		for (uint64_t i = 0; i < m->nslots; i++)
			e->chunks += m->chunk[i] != 0;
	}
	arena_unlock(s);
	return 0;
}

/* recover.c -- rebuild an arena's derived state from its primary data.
 *
 * Runs on every writable open (and, in a private copy, on read-only ones):
 * after a clean close it changes nothing; after a crash it finishes or
 * drops what was in flight.  Steps, in order:
 *
 *   1. walk the heap and check every block header and payload size
 *      (read only: a damaged arena is refused untouched);
 *   2. redo a committed rename intent;
 *   3. keep LIVE dentries whose parent and inode are valid;
 *   4. clear every derived structure (free lists, index, directory lists,
 *      link counts, lock words) and re-insert the live dentries;
 *   5. drop dentries whose directory is not reachable from the root, and
 *      extra names of a directory;
 *   6. mark what the root, linked inodes and live dentries reference, cut
 *      references that are out of place, and sweep the rest to free;
 *   7. rebuild the free lists and the counters.
 *
 * Work is O(blocks) plus O(depth) per directory.  s->recovery receives a
 * one-line report ("" when nothing had to change).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>

#include "store_int.h"

#define CHUNKS(size) (((size) + MM_CHUNK - 1) / MM_CHUNK)

struct tally {
	uint64_t swept, swept_bytes, dropped, cut, intents;
};

static size_t payload_need(const struct store *s, uint64_t off);

/* A block of this kind whose content fits it.  Only blocks something
 * references are asked: an unreferenced block may hold anything (an
 * allocation interrupted before it was filled) and is simply swept. */
static bool is_block(const struct store *s, uint64_t off, unsigned kind)
{
	return mm_header_ok(s, off) && mm_block(s, off)->kind == kind &&
	       payload_need(s, off) <= mm_payload_size(s, off);
}

static size_t payload_need(const struct store *s, uint64_t off)
{
	void *p = mm_payload(s, off);

	switch (mm_block(s, off)->kind) {
	case MM_INODE:
		return sizeof(struct mm_inode);
	case MM_DENTRY:
		return sizeof(struct mm_dentry) +
		       ((struct mm_dentry *)p)->namelen;
	case MM_DATA:
		return sizeof(struct mm_data) + ((struct mm_data *)p)->size;
	case MM_MAP:
		if (((struct mm_map *)p)->nslots > UINT32_MAX)
			return SIZE_MAX;
		return sizeof(struct mm_map) + ((struct mm_map *)p)->nslots * 8;
	case MM_CHUNK_KIND:
		return MM_CHUNK;
	case MM_DIR:
		return sizeof(struct mm_dir);
	case MM_RING:
		if (((struct mm_ring *)p)->capacity < MM_RING_MIN ||
		    ((struct mm_ring *)p)->capacity > UINT32_MAX)
			return SIZE_MAX;
		return sizeof(struct mm_ring) + ((struct mm_ring *)p)->capacity +
		       MM_RING_BITMAP(((struct mm_ring *)p)->capacity);
	case MM_XATTR:
		return sizeof(struct mm_xattr_head) +
		       ((struct mm_xattr_head *)p)->bytes;
	default:
		return 0;
	}
}

static int walk_heap(struct store *s)
{
	uint64_t off = MM_PAGE;

	while (off < s->hdr->brk) {
		struct mm_block *b = mm_block(s, off);

		if (!mm_header_ok(s, off)) {
			snprintf(s->recovery, sizeof(s->recovery),
				 "block at offset %" PRIu64
				 " has a bad header", off);
			return -EINVAL;
		}
		off += b->size;
	}
	return 0;
}

static bool root_ok(struct store *s)
{
	struct mm_header *h = s->hdr;

	return is_block(s, h->root, MM_INODE) &&
	       mm_is_dir(mm_inode(s, h->root)) &&
	       is_block(s, mm_inode(s, h->root)->data, MM_DIR);
}

static void redo_intent(struct store *s, struct tally *t)
{
	struct mm_intent *in = &s->hdr->intent;

	if (in->commit == 1) {
		for (int i = 0; i < 2; i++) {
			if (in->add[i] && is_block(s, in->add[i], MM_DENTRY))
				mm_dentry(s, in->add[i])->state =
					MM_DENTRY_LIVE;
			if (in->kill[i] && is_block(s, in->kill[i], MM_DENTRY))
				mm_dentry(s, in->kill[i])->state =
					MM_DENTRY_DEAD;
		}
		t->intents++;
	}
	memset(in, 0, sizeof(*in));
}

static bool dir_inode_ok(struct store *s, uint64_t off)
{
	return is_block(s, off, MM_INODE) && mm_is_dir(mm_inode(s, off)) &&
	       is_block(s, mm_inode(s, off)->data, MM_DIR);
}

/* Validate what an inode points at; cut what is out of place. */
static void check_inode(struct store *s, uint64_t off, struct tally *t)
{
	struct mm_inode *ino = mm_inode(s, off);
	uint32_t type = ino->mode & 0170000;
	unsigned want = 0;

	if (ino->xattr && !is_block(s, ino->xattr, MM_XATTR)) {
		ino->xattr = 0;
		t->cut++;
	}
	if (type == 0020000 || type == 0060000 || type == 0040000)
		return;
	if (ino->flags & MM_INODE_RING)
		want = MM_RING;
	if (ino->data && !(want ? is_block(s, ino->data, want) :
			   is_block(s, ino->data, MM_DATA) ||
			   (type == 0100000 && is_block(s, ino->data, MM_MAP)))) {
		ino->data = 0;
		t->cut++;
	}
	if (want && !ino->data) {
		ino->flags &= ~MM_INODE_RING;   /* a ring without storage */
		t->cut++;
	}
	if (want && ino->data)
		ring_repair(s, ino->data);
	if (ino->data && mm_block(s, ino->data)->kind == MM_MAP) {
		struct mm_map *m = mm_payload(s, ino->data);

		for (uint64_t i = 0; i < m->nslots; i++) {
			if (!m->chunk[i])
				continue;
			if (i >= CHUNKS(m->size) ||
			    !is_block(s, m->chunk[i], MM_CHUNK_KIND)) {
				m->chunk[i] = 0;
				t->cut++;
			}
		}
	}
}

static void reset_derived(struct store *s)
{
	struct mm_header *h = s->hdr;

	memset(h->free, 0, sizeof(h->free));
	for (uint64_t off = MM_PAGE; off < h->brk;
	     off += mm_block(s, off)->size) {
		struct mm_block *b = mm_block(s, off);

		b->flags &= (uint8_t)~MM_BLOCK_MARK;
		if ((b->kind == MM_DENTRY || b->kind == MM_INODE ||
		     b->kind == MM_DIR) && !is_block(s, off, b->kind)) {
			mm_set_header(s, off, b->size, MM_FREE);
			continue;       /* a torn allocation: never referenced */
		}
		if (b->kind == MM_DIR)
			memset(mm_payload(s, off), 0, sizeof(struct mm_dir));
		if (b->kind == MM_INODE) {
			mm_inode(s, off)->nlink = 0;
			mm_inode(s, off)->lock = 0;
		}
	}
	if (is_block(s, h->hash_table, MM_HASH) && h->hash_buckets &&
	    !(h->hash_buckets & (h->hash_buckets - 1)) &&
	    h->hash_buckets * 8 <= mm_payload_size(s, h->hash_table))
		memset(mm_payload(s, h->hash_table), 0, h->hash_buckets * 8);
	else
		h->hash_table = 0;
	h->hash_count = 0;
}

static bool dentry_ok(struct store *s, uint64_t off)
{
	struct mm_dentry *d = mm_dentry(s, off);

	return is_block(s, off, MM_DENTRY) &&
	       d->state == MM_DENTRY_LIVE && d->namelen &&
	       d->namelen <= STORE_NAME_MAX && dir_inode_ok(s, d->parent) &&
	       is_block(s, d->inode, MM_INODE) && d->inode != s->hdr->root &&
	       (!mm_is_dir(mm_inode(s, d->inode)) ||
		dir_inode_ok(s, d->inode));
}

static void kill_dentry(struct store *s, uint64_t off, struct tally *t)
{
	mm_dentry(s, off)->state = MM_DENTRY_DEAD;
	t->dropped++;
}

/* Step 3 and 4: re-insert every valid live dentry. */
static void reinsert(struct store *s, struct tally *t)
{
	for (uint64_t off = MM_PAGE; off < s->hdr->brk;
	     off += mm_block(s, off)->size) {
		struct mm_dentry *d;

		if (mm_block(s, off)->kind != MM_DENTRY)
			continue;
		d = mm_dentry(s, off);
		if (d->state != MM_DENTRY_LIVE)
			continue;
		if (!dentry_ok(s, off) ||
		    (mm_is_dir(mm_inode(s, d->inode)) &&
		     mm_dir(s, d->inode)->dentry) ||
		    ns_find(s, d->parent, d->name, d->namelen)) {
			kill_dentry(s, off, t);
			continue;
		}
		d->hash = ns_hash(s, d->parent, d->name, d->namelen);
		ns_insert(s, off);
		mm_inode(s, d->inode)->nlink++;
	}
	mm_inode(s, s->hdr->root)->nlink = 1;
}

/* Is directory dir reachable from the root through live entries? */
static bool reachable(struct store *s, uint64_t dir)
{
	uint64_t root = s->hdr->root, steps = s->hdr->brk / MM_ALIGN;

	while (dir != root && steps--) {
		uint64_t d = mm_dir(s, dir)->dentry;

		if (!d)
			return false;
		dir = mm_dentry(s, d)->parent;
	}
	return dir == root;
}

/* Step 5: drop entries of unreachable directories.  Repeats while it
 * changes something, as dropping a directory's name cuts its subtree. */
static void drop_unreachable(struct store *s, struct tally *t)
{
	bool changed = true;

	while (changed) {
		changed = false;
		for (uint64_t off = MM_PAGE; off < s->hdr->brk;
		     off += mm_block(s, off)->size) {
			struct mm_dentry *d;

			if (mm_block(s, off)->kind != MM_DENTRY)
				continue;
			d = mm_dentry(s, off);
			if (d->state != MM_DENTRY_LIVE ||
			    reachable(s, d->parent))
				continue;
			ns_remove(s, off);
			mm_inode(s, d->inode)->nlink--;
			kill_dentry(s, off, t);
			changed = true;
		}
	}
}

static void mark(struct store *s, uint64_t off)
{
	mm_block(s, off)->flags |= MM_BLOCK_MARK;
}

static void count_inode(struct store *s, const struct mm_inode *ino)
{
	struct mm_header *h = s->hdr;
	uint32_t type = ino->mode & 0170000;

	h->ninodes++;
	h->ndirs += type == 0040000;
	h->nsymlinks += type == 0120000;
	h->nrings += (ino->flags & MM_INODE_RING) != 0;
	if (ino->ino >= h->next_ino)
		h->next_ino = ino->ino + 1;
}

/* Step 6: mark everything live, then sweep. */
static void mark_live(struct store *s, struct tally *t)
{
	struct mm_header *h = s->hdr;

	h->ninodes = h->ndirs = h->nsymlinks = h->nrings = 0;
	if (h->hash_table)
		mark(s, h->hash_table);
	for (uint64_t off = MM_PAGE; off < h->brk;
	     off += mm_block(s, off)->size) {
		struct mm_block *b = mm_block(s, off);

		if (b->kind == MM_DENTRY &&
		    mm_dentry(s, off)->state == MM_DENTRY_LIVE)
			mark(s, off);
		if (b->kind != MM_INODE ||
		    (mm_inode(s, off)->nlink == 0 && off != h->root))
			continue;
		check_inode(s, off, t);
		mark(s, off);
		file_mark(s, mm_inode(s, off), mark);
		count_inode(s, mm_inode(s, off));
	}
}

static void sweep(struct store *s, struct tally *t)
{
	for (uint64_t off = MM_PAGE; off < s->hdr->brk;
	     off += mm_block(s, off)->size) {
		struct mm_block *b = mm_block(s, off);

		if (b->flags & MM_BLOCK_MARK) {
			b->flags &= (uint8_t)~MM_BLOCK_MARK;
		} else if (b->kind != MM_FREE) {
			t->swept++;
			t->swept_bytes += b->size;
			mm_set_header(s, off, b->size, MM_FREE);
		}
	}
}

static int ensure_index(struct store *s)
{
	uint64_t n = 1024;

	if (s->hdr->hash_table)
		return 0;
	while (n < s->hdr->ninodes)
		n *= 2;
	return ns_index_init(s, n);
}

int recover_run(struct store *s)
{
	struct tally t = {0};
	bool was_clean = s->hdr->clean;
	int rc;

	s->recovery[0] = '\0';
	rc = walk_heap(s);
	if (rc)
		return rc;
	if (!root_ok(s)) {
		snprintf(s->recovery, sizeof(s->recovery),
			 "the root directory is missing");
		return -EINVAL;
	}
	redo_intent(s, &t);
	reset_derived(s);
	if (!s->hdr->hash_table) {
		rc = ensure_index(s);
		if (rc) {
			snprintf(s->recovery, sizeof(s->recovery),
				 "no room to rebuild the name index");
			return rc;
		}
	}
	reinsert(s, &t);
	drop_unreachable(s, &t);
	mark_live(s, &t);
	sweep(s, &t);
	mm_alloc_rebuild(s);
	if (!was_clean || t.swept || t.dropped || t.cut || t.intents)
		snprintf(s->recovery, sizeof(s->recovery),
			 "%s: redid %" PRIu64 " rename(s), dropped %" PRIu64
			 " name(s), cut %" PRIu64 " bad reference(s), "
			 "reclaimed %" PRIu64 " block(s) (%" PRIu64 " bytes)",
			 was_clean ? "inconsistent arena repaired" :
				     "recovered after an unclean shutdown",
			 t.intents, t.dropped, t.cut, t.swept, t.swept_bytes);
	return 0;
}

/* recover.c -- rebuild an arena's derived state from its primary data.
 *
 * Runs on every writable open (and, in a private copy, on read-only ones):
 * after a clean close it changes nothing; after a crash it finishes or
 * drops what was in flight.  Steps, in order:
 *
 *   1. walk the heap and check every block header, recording where blocks
 *      start (a bitmap of brk/128 bytes in process memory: a reference
 *      must name a block start, not header-shaped bytes inside a block);
 *      read only: a damaged arena is refused untouched;
 *   2. redo a committed rename intent;
 *   3. keep LIVE dentries whose parent and inode are valid and whose name
 *      is a file name;
 *   4. clear every derived structure (free lists, index, directory lists,
 *      link counts, lock words), give each DIR block to one directory,
 *      upgrade the names of an older format (upgrade.c; the room it needs
 *      is checked before step 2) and re-insert the live dentries in
 *      position order, giving a new position past the others to one whose
 *      position is 0 or another's, and raising next_pos past them all;
 *   5. drop dentries whose directory is not reachable from the root
 *      (cycles included), and extra names of a directory;
 *   6. mark what the root, linked inodes and live dentries reference, cut
 *      references that are out of place, malformed (xattr records, map
 *      and ring fields) or a second reference to one block, and sweep the
 *      rest to free;
 *   7. rebuild the free lists and the counters.
 *
 * Work is O(blocks), and O(n log n) to sort the n names by position:
 * reachability is remembered per directory.  s->recovery
 * receives a one-line report ("" when nothing had to change).  What
 * recovery accepts the rest of the store trusts; the checker (check.c)
 * uses the same validators (recover_block_ok and the others, store_int.h).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "kind.h"
#include "store_int.h"


/* Scratch flag bits (MM_SCRATCH_FLAGS) on DIR blocks. */
#define F_CLAIMED 0x10u          /* owned by a directory (claim_dirs) */
#define F_REACH 0x20u            /* its directory is reachable */
#define F_UNREACH 0x40u          /* it is not */
#define F_CLIMB 0x80u            /* on the path being climbed */
#define REC_HEAD sizeof(struct mm_xattr_rec)

struct tally {
	uint64_t swept, swept_bytes, dropped, cut, intents;
	uint64_t moved;                 /* names given new positions */
	bool old_format;                /* the arena was of an older one */
	uint64_t upgraded;              /* names upgraded */
};

/* A live dentry, its directory and position, to insert the names of each
 * directory in position order. */
struct placed {
	uint64_t parent, pos, off;
};

/* A block of this kind whose content fits it.  Only blocks something
 * references are asked: an unreferenced block may hold anything (an
 * allocation interrupted before it was filled) and is simply swept. */
static bool is_block(const struct store *s, uint64_t off, unsigned kind)
{
	return mm_header_ok(s, off) && mm_block(s, off)->kind == kind &&
	       mm_block_start(s, off) &&
	       kind_need(s, off) <= mm_payload_size(s, off);
}

bool recover_block_ok(const struct store *s, uint64_t off)
{
	return mm_header_ok(s, off) &&
	       kind_need(s, off) <= mm_payload_size(s, off);
}

/* A name a directory may hold: what a path component can be. */
bool recover_name_ok(const char *name, size_t len)
{
	return len && len <= STORE_NAME_MAX && !memchr(name, '/', len) &&
	       !memchr(name, '\0', len) &&
	       !(name[0] == '.' && (len == 1 || (len == 2 && name[1] == '.')));
}

/* The records of an XATTR block fill exactly its `bytes`, within the
 * store's limits (xattr.c walks them by their own lengths). */
bool recover_xattr_ok(const struct store *s, uint64_t off)
{
	const struct mm_xattr_head *h;
	const char *p, *end;

	if (!is_block(s, off, MM_XATTR))
		return false;
	h = mm_payload(s, off);
	p = (const char *)(h + 1);
	if (h->count == 0 ||
	    h->count > STORE_XATTR_COUNT_MAX ||
	    h->bytes > STORE_XATTR_TOTAL_MAX)
		return false;
	end = p + h->bytes;
	for (uint32_t i = 0; i < h->count; i++) {
		const struct mm_xattr_rec *r = (const void *)p;
		size_t len;

		if ((size_t)(end - p) < REC_HEAD || r->namelen == 0 ||
		    r->valuelen > STORE_XATTR_VALUE_MAX)
			return false;
		len = (REC_HEAD + r->namelen + r->valuelen + 7) & ~(size_t)7;
		if (len > (size_t)(end - p) ||
		    memchr(r->name_value, '\0', r->namelen))
			return false;
		p += len;
	}
	return p == end;
}

int recover_map_starts(struct store *s, uint64_t *bad)
{
	uint64_t off = MM_PAGE;

	s->starts = calloc(s->hdr->brk / MM_ALIGN / 8 + 1, 1);
	if (!s->starts)
		return -ENOMEM;
	s->starts_end = s->hdr->brk;
	while (off < s->hdr->brk) {
		if (!mm_header_ok(s, off)) {
			recover_drop_starts(s);
			*bad = off;
			return -EINVAL;
		}
		s->starts[off / MM_ALIGN / 8] |=
			(uint8_t)(1u << (off / MM_ALIGN % 8));
		off += mm_block(s, off)->size;
	}
	return 0;
}

void recover_drop_starts(struct store *s)
{
	free(s->starts);
	s->starts = NULL;
}

static int walk_heap(struct store *s)
{
	uint64_t bad = 0;
	int rc = recover_map_starts(s, &bad);

	if (rc == -EINVAL)
		snprintf(s->recovery, sizeof(s->recovery), "block at offset %"
			 PRIu64 " has a bad header", bad);
	else if (rc)
		snprintf(s->recovery, sizeof(s->recovery), "out of memory");
	return rc;
}

static bool root_ok(struct store *s)
{
	struct mm_header *h = s->hdr;

	return is_block(s, h->root, MM_INODE) &&
	       mm_is_dir(mm_inode(s, h->root)) &&
	       is_block(s, mm_inode(s, h->root)->data, MM_DIR);
}

/* A dentry of either layout: the state byte is where both have it. */
static bool is_dentry(const struct store *s, uint64_t off)
{
	return is_block(s, off, MM_DENTRY) || is_block(s, off, MM_DENTRY_V1);
}

static void redo_intent(struct store *s, struct tally *t)
{
	struct mm_intent *in = &s->hdr->intent;

	if (in->commit == 1) {
		for (int i = 0; i < 2; i++) {
			if (in->add[i] && is_dentry(s, in->add[i]))
				mm_dentry(s, in->add[i])->state =
					MM_DENTRY_LIVE;
			if (in->kill[i] && is_dentry(s, in->kill[i]))
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

static bool type_ok(const struct mm_inode *ino)
{
	switch (mm_type(ino)) {
	case MM_IFREG: case MM_IFDIR: case MM_IFLNK: case MM_IFIFO:
	case MM_IFSOCK: case MM_IFCHR: case MM_IFBLK:
		return true;
	default:
		return false;
	}
}

static void cut(uint64_t *ref, struct tally *t)
{
	*ref = 0;
	t->cut++;
}

/* Is the file's data a valid block of a kind its type (and flags) may
 * hold? */
static bool data_ok(struct store *s, const struct mm_inode *ino)
{
	return mm_header_ok(s, ino->data) &&
	       kind_holds(ino, mm_block(s, ino->data)->kind) &&
	       is_block(s, ino->data, mm_block(s, ino->data)->kind);
}

/* Validate what an inode points at; cut what is out of place.  A
 * directory's data is claim_dirs' business, a device's is its rdev. */
static void check_inode(struct store *s, uint64_t off, struct tally *t)
{
	struct mm_inode *ino = mm_inode(s, off);
	struct kind_check k = { .s = s, .ino = ino, .repair = true };
	uint32_t type = mm_type(ino);

	if (ino->xattr && !recover_xattr_ok(s, ino->xattr))
		cut(&ino->xattr, t);
	if ((ino->flags & MM_INODE_KINDS) && type != MM_IFREG) {
		ino->flags &= ~MM_INODE_KINDS;  /* only regular files */
		t->cut++;
	}
	if (type == MM_IFCHR || type == MM_IFBLK || type == MM_IFDIR)
		return;
	if (ino->data && (!data_ok(s, ino) || !kind_check_data(&k, ino->data)))
		cut(&ino->data, t);
	t->cut += k.cuts;
	if ((ino->flags & MM_INODE_KINDS) && !ino->data) {
		ino->flags &= ~MM_INODE_KINDS;  /* special without content */
		t->cut++;
	}
}

static void reset_derived(struct store *s)
{
	struct mm_header *h = s->hdr;

	memset(h->free, 0, sizeof(h->free));
	h->ninodes = 0;                 /* inode blocks, to size the index */
	for_each_block(s, off) {
		struct mm_block *b = mm_block(s, off);

		b->flags &= (uint8_t)~(MM_BLOCK_MARK | MM_BLOCK_RETIRED |
				       MM_SCRATCH_FLAGS);
		if (!s->keep_held)
			b->flags &= (uint8_t)~MM_BLOCK_HELD;
		if ((b->kind == MM_DENTRY || b->kind == MM_DENTRY_V1 ||
		     b->kind == MM_INODE || b->kind == MM_DIR) &&
		    !is_block(s, off, b->kind)) {
			mm_set_header(s, off, b->size, MM_FREE);
			continue;       /* a torn allocation: never referenced */
		}
		if (b->kind == MM_DIR)
			memset(mm_payload(s, off), 0, sizeof(struct mm_dir));
		if (b->kind == MM_INODE) {
			mm_inode(s, off)->nlink = 0;
			/* Bits no format defines: damage, never meaning. */
			mm_inode(s, off)->flags &= MM_INODE_KNOWN;
			if (!s->shared)         /* the server's kernel: new */
				mm_inode(s, off)->flags &= ~MM_INODE_WATCHED;
			h->ninodes++;
		}
	}
	if (is_block(s, h->hash_table, MM_HASH) && h->hash_buckets &&
	    !(h->hash_buckets & (h->hash_buckets - 1)) &&
	    h->hash_buckets <= mm_payload_size(s, h->hash_table) / 8)
		memset(mm_payload(s, h->hash_table), 0, h->hash_buckets * 8);
	else
		h->hash_table = 0;
	h->hash_count = 0;
}

static bool dentry_ok(struct store *s, uint64_t off)
{
	struct mm_dentry *d = mm_dentry(s, off);

	return is_block(s, off, MM_DENTRY) &&
	       d->state == MM_DENTRY_LIVE &&
	       recover_name_ok(d->name, d->namelen) &&
	       dir_inode_ok(s, d->parent) && is_block(s, d->inode, MM_INODE) &&
	       d->inode != s->hdr->root && type_ok(mm_inode(s, d->inode)) &&
	       (!mm_is_dir(mm_inode(s, d->inode)) ||
		dir_inode_ok(s, d->inode));
}

static void kill_dentry(struct store *s, uint64_t off, struct tally *t)
{
	mm_dentry(s, off)->state = MM_DENTRY_DEAD;
	t->dropped++;
}

/* Step 4: each DIR block belongs to one directory, the root's first; a
 * directory whose block another one owns loses it, and so its names. */
static void claim_dirs(struct store *s, struct tally *t)
{
	uint64_t root = s->hdr->root;

	mm_block(s, mm_inode(s, root)->data)->flags |= F_CLAIMED;
	for_each_block(s, off) {
		struct mm_inode *ino = mm_inode(s, off);

		if (off == root || !dir_inode_ok(s, off))
			continue;
		if (mm_block(s, ino->data)->flags & F_CLAIMED)
			cut(&ino->data, t);
		else
			mm_block(s, ino->data)->flags |= F_CLAIMED;
	}
}

/* Step 3 and 4: index one live dentry, or drop it. */
static void insert_one(struct store *s, uint64_t off, struct tally *t)
{
	struct mm_dentry *d = mm_dentry(s, off);

	if (!dentry_ok(s, off) ||
	    (mm_is_dir(mm_inode(s, d->inode)) &&
	     mm_dir(s, d->inode)->dentry) ||
	    ns_find(s, d->parent, d->name, d->namelen)) {
		kill_dentry(s, off, t);
		return;
	}
	d->hash = ns_hash(s, d->parent, d->name, d->namelen);
	ns_insert(s, off);
	mm_inode(s, d->inode)->nlink++;
}

static int by_dir_and_pos(const void *a, const void *b)
{
	const struct placed *x = a, *y = b;

	if (x->parent != y->parent)
		return x->parent < y->parent ? -1 : 1;
	if (x->pos != y->pos)
		return x->pos < y->pos ? -1 : 1;
	return x->off < y->off ? -1 : x->off > y->off;
}

/* The LIVE dentries, sorted by directory, then position, then offset:
 * *out (malloc'd, NULL when there are none) and *n; -ENOMEM. */
static int live_by_pos(struct store *s, struct placed **out, size_t *n)
{
	struct placed *v = NULL, *grown;
	size_t cap = 0;

	*n = 0;
	for_each_block(s, off) {
		if (!is_block(s, off, MM_DENTRY) ||
		    mm_dentry(s, off)->state != MM_DENTRY_LIVE)
			continue;
		if (*n == cap) {
			cap = cap ? 2 * cap : 1024;
			grown = realloc(v, cap * sizeof(*v));
			if (!grown) {
				free(v);
				return -ENOMEM;
			}
			v = grown;
		}
		v[(*n)++] = (struct placed){ mm_dentry(s, off)->parent,
					     mm_dentry(s, off)->pos, off };
	}
	if (*n)
		qsort(v, *n, sizeof(*v), by_dir_and_pos);
	*out = v;
	return 0;
}

static uint64_t max_pos(const struct placed *v, size_t n)
{
	uint64_t max = 0;

	for (size_t i = 0; i < n; i++)
		if (v[i].pos > max)
			max = v[i].pos;
	return max;
}

/* Positions must stay below MM_POS_MAX - n, so that recovery can always
 * give n names new ones: when they do not (2^62 names made, or a damaged
 * next_pos), give every name a new one, 1..n in the same order.  Else
 * raise next_pos past every position. */
static void settle_next_pos(struct store *s, struct placed *v, size_t n,
			    struct tally *t)
{
	struct mm_header *h = s->hdr;
	uint64_t room = MM_POS_MAX - n, max = max_pos(v, n);

	if (h->next_pos < room && max < room) {
		if (h->next_pos <= max)
			h->next_pos = max + 1;
		if (h->next_pos == 0)
			h->next_pos = 1;
		return;
	}
	for (size_t i = 0; i < n; i++)
		mm_dentry(s, v[i].off)->pos = v[i].pos = i + 1;
	h->next_pos = n + 1;
	t->moved += n;
}

/* Step 4: re-insert every valid live dentry, each directory's in position
 * order.  One whose position is 0 or the one before's in its directory
 * gets the next position: it goes after all the others. */
static int reinsert(struct store *s, struct tally *t)
{
	struct mm_header *h = s->hdr;
	struct placed *v;
	size_t n, moved = 0;
	int rc = live_by_pos(s, &v, &n);

	if (rc)
		return rc;
	settle_next_pos(s, v, n, t);
	for (size_t i = 0; i < n; i++) {
		if (v[i].pos == 0 || (i && v[i].parent == v[i - 1].parent &&
				      v[i].pos == v[i - 1].pos)) {
			v[moved++] = v[i];      /* behind i: free to reuse */
			continue;
		}
		insert_one(s, v[i].off, t);
	}
	for (size_t i = 0; i < moved; i++) {
		mm_dentry(s, v[i].off)->pos = h->next_pos++;
		t->moved++;
		insert_one(s, v[i].off, t);
	}
	free(v);
	mm_inode(s, h->root)->nlink = 1;
	return 0;
}

static uint8_t *dir_flags(struct store *s, uint64_t dir)
{
	return &mm_block(s, mm_inode(s, dir)->data)->flags;
}

/* The directory holding the live entry that names dir, or 0. */
static uint64_t parent_dir(struct store *s, uint64_t dir)
{
	uint64_t d = mm_dir(s, dir)->dentry, p;

	if (!is_block(s, d, MM_DENTRY) || mm_dentry(s, d)->inode != dir ||
	    mm_dentry(s, d)->state != MM_DENTRY_LIVE)
		return 0;
	p = mm_dentry(s, d)->parent;
	return dir_inode_ok(s, p) ? p : 0;
}

/* Is directory dir reachable from the root through the names its DIR
 * blocks record?  The verdict is left on every directory of the path
 * (F_REACH or F_UNREACH, with a cycle's), so each is climbed through once
 * and a pass over all entries is O(directories).  The scratch bits must be
 * clear before the first call. */
bool recover_reachable(struct store *s, uint64_t dir)
{
	uint64_t root = s->hdr->root, p = dir;
	uint8_t verdict, known = F_REACH | F_UNREACH | F_CLIMB;

	while (p && p != root && !(*dir_flags(s, p) & known)) {
		*dir_flags(s, p) |= F_CLIMB;
		p = parent_dir(s, p);
	}
	verdict = p == root || (p && (*dir_flags(s, p) & F_REACH)) ?
		  F_REACH : F_UNREACH;
	for (p = dir; p && p != root && (*dir_flags(s, p) & F_CLIMB);
	     p = parent_dir(s, p))
		*dir_flags(s, p) = (uint8_t)((*dir_flags(s, p) & ~F_CLIMB) |
					     verdict);
	return verdict == F_REACH;
}

/* Step 5: drop entries of unreachable directories.  Repeats while it
 * changes something, as dropping a directory's name cuts its subtree. */
static void drop_unreachable(struct store *s, struct tally *t)
{
	bool changed = true;

	while (changed) {
		changed = false;
		for_each_block(s, off) {
			struct mm_dentry *d;

			if (mm_block(s, off)->kind != MM_DENTRY)
				continue;
			d = mm_dentry(s, off);
			if (d->state != MM_DENTRY_LIVE ||
			    recover_reachable(s, d->parent))
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

/* Mark a block an inode references; false if something already did (the
 * second reference must go: a block has one owner). */
static bool claim(struct store *s, uint64_t off)
{
	if (mm_block(s, off)->flags & MM_BLOCK_MARK)
		return false;
	mark(s, off);
	return true;
}

struct claim_ctx {
	struct store *s;
	struct tally *t;
};

/* A block a data block owns: cut if it is not of its kind or is owned
 * already. */
static void claim_child(void *ctx, uint64_t *slot, unsigned kind)
{
	struct claim_ctx *c = ctx;

	if (!is_block(c->s, *slot, kind) || !claim(c->s, *slot))
		cut(slot, c->t);
}

/* Mark the blocks a checked live inode owns, cutting second references. */
static void claim_file(struct store *s, struct mm_inode *ino,
		       struct tally *t)
{
	uint32_t type = mm_type(ino);
	struct claim_ctx c = { s, t };

	if (ino->xattr && !claim(s, ino->xattr))
		cut(&ino->xattr, t);
	if (type == MM_IFCHR || type == MM_IFBLK || !ino->data)
		return;
	if (type == MM_IFDIR) {
		mark(s, ino->data);     /* one owner already (claim_dirs) */
		return;
	}
	if (!claim(s, ino->data)) {
		cut(&ino->data, t);
		ino->flags &= ~MM_INODE_KINDS;
		return;
	}
	kind_children(s, ino->data, claim_child, &c);
}

static void count_inode(struct store *s, const struct mm_inode *ino)
{
	struct mm_header *h = s->hdr;
	uint32_t type = mm_type(ino);

	h->ninodes++;
	h->ndirs += type == MM_IFDIR;
	h->nsymlinks += type == MM_IFLNK;
	h->nrings += (ino->flags & MM_INODE_RING) != 0;
	if (ino->ino >= h->next_ino)
		h->next_ino = ino->ino + 1;
}

/* An unlinked inode a server still holds: this process (its holds), or
 * another server still attached (its holds flag the inode WATCHED). */
static bool inode_pinned(struct store *s, uint64_t off)
{
	return refmap_count(&s->holds, off) ||
	       (s->keep_held && (mm_inode(s, off)->flags & MM_INODE_WATCHED));
}

/* Step 6: mark everything live, then sweep. */
static void mark_live(struct store *s, struct tally *t)
{
	struct mm_header *h = s->hdr;

	h->ninodes = h->ndirs = h->nsymlinks = h->nrings = 0;
	if (h->hash_table)
		mark(s, h->hash_table);
	for_each_block(s, off) {
		struct mm_block *b = mm_block(s, off);

		if (b->kind == MM_DENTRY &&
		    mm_dentry(s, off)->state == MM_DENTRY_LIVE)
			mark(s, off);
		if (b->kind != MM_INODE ||
		    (mm_inode(s, off)->nlink == 0 && off != h->root &&
		     !inode_pinned(s, off)))
			continue;
		check_inode(s, off, t);
		mark(s, off);
		claim_file(s, mm_inode(s, off), t);
		count_inode(s, mm_inode(s, off));
	}
}

/* A block this process pins, and what it owns: kept. */
static void keep_child(void *ctx, uint64_t *slot, unsigned kind)
{
	struct store *s = ctx;

	if (is_block(s, *slot, kind))
		mark(s, *slot);
}

static void keep_pinned(struct store *s, uint64_t off, bool snapshot)
{
	struct mm_block *b;

	if (!off || !is_block(s, off, mm_block(s, off)->kind))
		return;
	b = mm_block(s, off);
	if (snapshot)
		b->flags |= MM_BLOCK_HELD;
	if (b->flags & MM_BLOCK_MARK)
		return;                 /* a file's current data */
	if (snapshot)
		b->flags |= MM_BLOCK_RETIRED;
	mark(s, off);
	kind_children(s, off, keep_child, s);
}

/* Step 6b: what the snapshots and rebuilds of this process read or fill,
 * and what another server attached pins (recover_online; none at
 * open). */
static void mark_pinned(struct store *s)
{
	if (s->keep_held)               /* another server's snapshots */
		for_each_block(s, off)
			if (mm_block(s, off)->flags & MM_BLOCK_HELD)
				keep_pinned(s, off, true);
	for (size_t i = 0; i < s->snaps.cap; i++)
		keep_pinned(s, refmap_key_at(&s->snaps, i), true);
	for (size_t i = 0; i < s->pending.cap; i++)
		keep_pinned(s, refmap_key_at(&s->pending, i), false);
}

static void sweep(struct store *s, struct tally *t)
{
	for_each_block(s, off) {
		struct mm_block *b = mm_block(s, off);

		if (b->flags & MM_BLOCK_MARK) {
			b->flags &= (uint8_t)~(MM_BLOCK_MARK |
					       MM_SCRATCH_FLAGS);
		} else if (b->kind != MM_FREE) {
			/* An upgrade's old names are no repair. */
			if (b->kind != MM_DENTRY_V1 || !t->upgraded) {
				t->swept++;
				t->swept_bytes += b->size;
			}
			mm_set_header(s, off, b->size, MM_FREE);
		}
	}
}

static int ensure_index(struct store *s)
{
	uint64_t n = 1024;

	if (s->hdr->hash_table)
		return 0;
	while (n < s->hdr->ninodes)       /* inode blocks (reset_derived) */
		n *= 2;
	return ns_index_init(s, n);
}

/* Step 4: names of an older format become names of this one; the heap
 * grew, so walk it again (is_block must know the new blocks). */
static int upgrade(struct store *s, struct tally *t)
{
	int rc;

	t->old_format = s->hdr->version < MM_FORMAT_VERSION;
	rc = upgrade_names(s, &t->upgraded);
	if (rc) {
		snprintf(s->recovery, sizeof(s->recovery), "no room to upgrade "
			 "the names of format version 1 (mount with a larger "
			 "size=)");
		return rc;
	}
	if (!t->upgraded)
		return 0;
	recover_drop_starts(s);
	return walk_heap(s);
}

/* s->recovery: what recovery did, "" when nothing had to change. */
static void report(struct store *s, const struct tally *t, bool was_clean)
{
	size_t len = 0, size = sizeof(s->recovery);
	bool repaired = !was_clean || t->swept || t->dropped || t->cut ||
			t->intents || t->moved;

	if (t->old_format || t->upgraded)
		len = (size_t)snprintf(s->recovery, size, "upgraded from arena "
				       "format version %u to %u (%" PRIu64
				       " names)%s", MM_FORMAT_OLDEST,
				       MM_FORMAT_VERSION, t->upgraded,
				       repaired ? "; " : "");
	if (!repaired || len >= size)
		return;
	snprintf(s->recovery + len, size - len,
		 "%s: redid %" PRIu64 " rename(s), dropped %" PRIu64
		 " name(s), cut %" PRIu64 " bad reference(s), moved %" PRIu64
		 " name(s) to new positions, reclaimed %" PRIu64 " block(s) (%"
		 PRIu64 " bytes)", was_clean ? "inconsistent arena repaired" :
		 "recovered after an unclean shutdown", t->intents, t->dropped,
		 t->cut, t->moved, t->swept, t->swept_bytes);
}

/* Steps 2 to 7, on a heap whose starts are known. */
/* Limits a server needs (a damaged header: open refuses them unless an
 * option replaces them): a size cap over what mmfs can map becomes what
 * this store has mapped, a ring_size that is no ring capacity the
 * default. */
static void fix_limits(struct store *s)
{
	struct mm_header *h = s->hdr;

	if (h->size_cap > MM_MAX_ARENA)
		h->size_cap = s->map_len / MM_PAGE * MM_PAGE;
	if (h->ring_size < MM_RING_MIN || h->ring_size > MM_RING_MAX)
		h->ring_size = STORE_DEFAULT_RING_SIZE;
}

static int repair(struct store *s)
{
	struct tally t = {0};
	bool was_clean = s->hdr->clean;
	int rc;

	if (!root_ok(s)) {
		snprintf(s->recovery, sizeof(s->recovery),
			 "the root directory is missing");
		return -EINVAL;
	}
	rc = upgrade_check(s, s->recovery, sizeof(s->recovery));
	if (rc)
		return rc;
	fix_limits(s);
	redo_intent(s, &t);
	reset_derived(s);
	claim_dirs(s, &t);
	if (!s->hdr->hash_table) {
		rc = ensure_index(s);
		if (rc) {
			snprintf(s->recovery, sizeof(s->recovery),
				 "no room to rebuild the name index");
			return rc;
		}
	}
	rc = upgrade(s, &t);
	if (rc)
		return rc;
	rc = reinsert(s, &t);
	if (rc) {
		snprintf(s->recovery, sizeof(s->recovery), "out of memory");
		return rc;
	}
	drop_unreachable(s, &t);
	mark_live(s, &t);
	mark_pinned(s);
	sweep(s, &t);
	mm_alloc_rebuild(s);
	report(s, &t, was_clean);
	return 0;
}

int recover_run(struct store *s)
{
	int rc;

	s->recovery[0] = '\0';
	handle_finish(s);       /* recovery frees inodes behind its back */
	rc = walk_heap(s);
	if (rc == 0)
		rc = repair(s);
	recover_drop_starts(s);
	return rc;
}

/* A holder of the arena mutex died: the repair recovery does at open,
 * done under the mutex while other processes use the arena.  What they
 * rely on survives it: live names keep their dentries and positions,
 * files their blocks and versions; this process's pins and holds (the
 * server's: library stores pin nothing) are kept as reachable; lock-free
 * readers see the generation change and retry.  Directory cursors of
 * this process are placed again. */
void recover_online(struct store *s)
{
	s->recovery[0] = '\0';
	if (walk_heap(s) == 0 && repair(s) == 0)
		ns_cursors_relocate(s);
	recover_drop_starts(s);
	s->hdr->clean = 0;
}

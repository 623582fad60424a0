/* check.c -- verify an arena's invariants; census and extents for tools.
 *
 * store_verify checks, without changing anything but the mark bits and
 * version words of its private copy, every invariant format.h states:
 *   heap      headers tile [4096, brk) (the walk recovery also does) and
 *             every payload holds what its own fields say;
 *   header    intent idle, counters equal what the heap holds, used bytes;
 *             size cap and ring_size within their limits;
 *   free      every list entry is a FREE block of the list's size class,
 *             no list loops, every FREE block is on a list;
 *   names     every live dentry has a valid name, directory and inode, is
 *             found by the index, sits in its directory's list, and its
 *             directory is reachable from the root; the index holds
 *             exactly the live dentries in finite chains; lists agree with
 *             counts and are in increasing position, below next_pos,
 *             which leaves room to renumber; a directory's DIR block names
 *             its one entry; no name has version 1's layout;
 *   links     each inode's nlink equals its live names;
 *   space     every allocated block is referenced exactly once from the
 *             root, a live inode or a live dentry (no leaks, no sharing);
 *   files     known file types; DATA sizes fit their blocks (a symlink's
 *             is a valid target); maps fit their size and STORE_FILE_MAX
 *             (slots past the size may hold reserved chunks); xattr
 *             records fill their block;
 *             only regular files are rings; rings satisfy ring.c's
 *             invariants.
 * It reads nothing it has not validated first, so any snapshot is safe to
 * verify.  Inodes with no link are reported as orphans (files unlinked
 * while open in a running daemon), not as problems, when the arena is in
 * use.  store_census and store_extent validate what they read too: they
 * may run on an arena recovery has not seen.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>

#include "kind.h"
#include "store_int.h"


struct verify {
	struct store *s;
	store_report_fn report;
	void *ctx;
	int problems;
	uint64_t nblocks;
};

static void problem(struct verify *v, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

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
	return mm_header_ok(s, off) && mm_block(s, off)->kind == kind &&
	       mm_block_start(s, off);
}

static int walk(struct verify *v)
{
	struct store *s = v->s;
	uint64_t bad = 0;
	int rc = recover_map_starts(s, &bad);

	if (rc == -EINVAL)
		problem(v, "heap: bad block header at offset %" PRIu64, bad);
	if (rc)
		return rc;
	for (uint64_t off = MM_PAGE; off < s->hdr->brk;) {
		if (!recover_block_ok(s, off)) {
			problem(v, "heap: block at offset %" PRIu64 " (kind %u)"
				" is too small for its content", off,
				mm_block(s, off)->kind);
			return -EINVAL;
		}
		mm_block(s, off)->flags &= (uint8_t)~(MM_BLOCK_MARK |
						      MM_SCRATCH_FLAGS);
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
	for_each_block(s, off)
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

static bool known_type(uint32_t type)
{
	return type == MM_IFREG || type == MM_IFDIR || type == MM_IFLNK ||
	       type == MM_IFIFO || type == MM_IFSOCK || type == MM_IFCHR ||
	       type == MM_IFBLK;
}

static void check_xattr(struct verify *v, const struct mm_inode *ino)
{
	take(v, ino->xattr, MM_XATTR, "xattr");
	if (is_kind(v->s, ino->xattr, MM_XATTR) &&
	    !recover_xattr_ok(v->s, ino->xattr))
		problem(v, "inode %" PRIu64 ": malformed xattr block %" PRIu64,
			ino->ino, ino->xattr);
}

static void report_to(void *ctx, const char *msg)
{
	problem(ctx, "%s", msg);
}

static void take_child(void *ctx, uint64_t *slot, unsigned kind)
{
	take(ctx, *slot, kind, kind_name(kind));
}

/* A file's content: a block of a kind its type may hold, referenced once,
 * whose content (kind_check_data) and children are right. */
static void check_data(struct verify *v, const struct mm_inode *ino)
{
	struct store *s = v->s;
	struct kind_check k = { .s = s, .ino = ino, .report = report_to,
				.ctx = v };
	unsigned kind = mm_header_ok(s, ino->data) ?
			mm_block(s, ino->data)->kind : 0;

	if (!kind_holds(ino, kind)) {
		problem(v, "inode %" PRIu64 ": its data at %" PRIu64 " is a "
			"%s block, which a file of type %o%s cannot hold",
			ino->ino, ino->data, kind_name(kind), mm_type(ino),
			ino->flags & MM_INODE_KINDS ? " with its flags" : "");
		return;
	}
	take(v, ino->data, kind, kind_name(kind));
	if (!is_kind(s, ino->data, kind))
		return;
	kind_check_data(&k, ino->data);
	kind_children(s, ino->data, take_child, v);
}

static void check_file(struct verify *v, uint64_t off)
{
	struct mm_inode *ino = mm_inode(v->s, off);
	uint32_t type = mm_type(ino);

	if (ino->xattr)
		check_xattr(v, ino);
	if (!known_type(type))
		problem(v, "inode %" PRIu64 ": unknown file type %o", ino->ino,
			type);
	if ((ino->flags & MM_INODE_KINDS) && type != MM_IFREG)
		problem(v, "inode %" PRIu64 ": flags of a %s on a file that is "
			"not regular", ino->ino, kind_name(MM_RING));
	if (ino->flags & ~MM_INODE_KNOWN)
		problem(v, "inode %" PRIu64 ": unknown flags %#x", ino->ino,
			ino->flags & ~MM_INODE_KNOWN);
	if (type == MM_IFDIR && !ino->data)
		problem(v, "directory %" PRIu64 ": no DIR block", ino->ino);
	if (type == MM_IFCHR || type == MM_IFBLK || !ino->data)
		return;
	check_data(v, ino);
}

/* The index block holds its buckets (ns_find may index it). */
static bool index_ok(struct store *s)
{
	uint64_t n = s->hdr->hash_buckets;

	return is_kind(s, s->hdr->hash_table, MM_HASH) && n &&
	       !(n & (n - 1)) &&
	       n <= mm_payload_size(s, s->hdr->hash_table) / 8;
}

/* Every chain is finite and holds live dentries hashed to its bucket;
 * false if ns_find cannot be trusted to terminate. */
static bool check_chains(struct verify *v)
{
	struct store *s = v->s;
	uint64_t *bucket = mm_payload(s, s->hdr->hash_table);
	uint64_t n = s->hdr->hash_buckets, steps = 0;

	for (uint64_t i = 0; i < n; i++) {
		for (uint64_t off = bucket[i]; off;
		     off = mm_dentry(s, off)->hash_next) {
			struct mm_dentry *d;

			if (!is_kind(s, off, MM_DENTRY) ||
			    ++steps > v->nblocks) {
				problem(v, "index: bucket %" PRIu64 " is "
					"broken", i);
				return false;
			}
			d = mm_dentry(s, off);
			if (d->state != MM_DENTRY_LIVE ||
			    (d->hash & (n - 1)) != i)
				problem(v, "index: dentry %" PRIu64 " does "
					"not belong in bucket %" PRIu64, off, i);
		}
	}
	return true;
}

static bool dir_ok(struct store *s, uint64_t off)
{
	return is_kind(s, off, MM_INODE) && mm_is_dir(mm_inode(s, off)) &&
	       is_kind(s, mm_inode(s, off)->data, MM_DIR);
}

static void check_dentry(struct verify *v, uint64_t off, bool chains)
{
	struct store *s = v->s;
	struct mm_dentry *d = mm_dentry(s, off);

	if (!recover_name_ok(d->name, d->namelen))
		problem(v, "dentry %" PRIu64 ": invalid name of %u bytes",
			off, d->namelen);
	if (!dir_ok(s, d->parent) || !is_kind(s, d->inode, MM_INODE) ||
	    d->inode == s->hdr->root) {
		problem(v, "name '%.*s' (%" PRIu64 "): bad directory or inode",
			d->namelen, d->name, off);
		return;
	}
	if (dir_ok(s, d->inode) && mm_dir(s, d->inode)->dentry != off)
		problem(v, "directory '%.*s' does not record its name",
			d->namelen, d->name);
	if (!recover_reachable(s, d->parent))
		problem(v, "name '%.*s': its directory is not reachable from "
			"the root", d->namelen, d->name);
	if (chains && ns_find(s, d->parent, d->name, d->namelen) != off)
		problem(v, "name '%.*s' is missing from the index",
			d->namelen, d->name);
	if (d->pos == 0 || d->pos >= s->hdr->next_pos)
		problem(v, "name '%.*s': position %" PRIu64 " is not below "
			"next_pos %" PRIu64, d->namelen, d->name, d->pos,
			s->hdr->next_pos);
}

/* Names: the index, the lists and nlink against the live dentries. */
static void check_names(struct verify *v)
{
	struct store *s = v->s;
	uint64_t live = 0;
	bool chains = check_chains(v);

	for_each_block(s, off) {
		if (mm_block(s, off)->kind == MM_DENTRY_V1)
			problem(v, "dentry %" PRIu64 " has format version 1's "
				"layout (recovery upgrades it)", off);
		if (mm_block(s, off)->kind != MM_DENTRY)
			continue;
		if (mm_dentry(s, off)->state != MM_DENTRY_LIVE) {
			problem(v, "dentry %" PRIu64 " is not live (state %u)",
				off, mm_dentry(s, off)->state);
			continue;
		}
		live++;
		mm_block(s, off)->flags |= MM_BLOCK_MARK;
		check_dentry(v, off, chains);
	}
	if (live != s->hdr->hash_count)
		problem(v, "index counts %" PRIu64 " names, the heap holds %"
			PRIu64, s->hdr->hash_count, live);
	if (s->hdr->next_pos >= MM_POS_MAX - live)
		problem(v, "next_pos %" PRIu64 " leaves no room for new "
			"positions (recovery renumbers)", s->hdr->next_pos);
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
		    mm_dentry(s, off)->parent != dir ||
		    mm_dentry(s, off)->state != MM_DENTRY_LIVE ||
		    (prev && mm_dentry(s, off)->pos <= mm_dentry(s, prev)->pos))
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

	for_each_block(s, off) {
		struct mm_inode *ino;
		uint64_t subdirs, n;

		if (mm_block(s, off)->kind != MM_INODE)
			continue;
		ino = mm_inode(s, off);
		counts[0]++;
		counts[1] += mm_is_dir(ino);
		counts[2] += mm_type(ino) == MM_IFLNK;
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

/* nlink against live names: count names into the private copy's version
 * words (format.h: the checker's scratch), and leave them 0 as recovery
 * does. */
static void check_links(struct verify *v)
{
	struct store *s = v->s;

	for_each_block(s, off)
		if (mm_block(s, off)->kind == MM_INODE)
			mm_inode(s, off)->version = 0;
	for_each_block(s, off)
		if (mm_block(s, off)->kind == MM_DENTRY &&
		    mm_dentry(s, off)->state == MM_DENTRY_LIVE &&
		    is_kind(s, mm_dentry(s, off)->inode, MM_INODE))
			mm_inode(s, mm_dentry(s, off)->inode)->version++;
	for_each_block(s, off) {
		struct mm_inode *ino;

		if (mm_block(s, off)->kind != MM_INODE)
			continue;
		ino = mm_inode(s, off);
		if (off == s->hdr->root && ino->nlink != 1)
			problem(v, "root directory: nlink %u, not 1",
				ino->nlink);
		else if (off != s->hdr->root && ino->version != ino->nlink &&
			 !(mm_is_dir(ino) && ino->nlink && ino->version == 1))
			problem(v, "inode %" PRIu64 ": nlink %u, %u name(s)",
				ino->ino, ino->nlink, ino->version);
		ino->version = 0;
	}
}

/* Retired blocks (format.h, "Versions") are referenced by readers of old
 * versions, not by the arena: in an arena in use they and what they own
 * are accounted for; a cleanly closed arena has none. */
static void check_retired(struct verify *v, uint64_t *retired)
{
	struct store *s = v->s;

	for_each_block(s, off) {
		struct mm_block *b = mm_block(s, off);

		if (!(b->flags & MM_BLOCK_RETIRED) || b->kind == MM_FREE)
			continue;
		if (s->hdr->clean)
			problem(v, "block %" PRIu64 " is retired in a cleanly "
				"closed arena", off);
		if (b->flags & MM_BLOCK_MARK) {
			problem(v, "block %" PRIu64 " is retired but still "
				"referenced", off);
			continue;
		}
		(*retired)++;
		b->flags |= MM_BLOCK_MARK;
		kind_children(s, off, take_child, v);
	}
}

static void check_space(struct verify *v)
{
	struct store *s = v->s;
	uint64_t used = MM_PAGE;

	if (s->hdr->hash_table)
		take(v, s->hdr->hash_table, MM_HASH, "index");
	for_each_block(s, off) {
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

/* Header fields a server needs within limits (arena.c refuses to serve
 * an arena without them unless an option replaces them). */
static void check_limits(struct verify *v)
{
	const struct mm_header *h = v->s->hdr;

	if (h->size_cap > MM_MAX_ARENA)
		problem(v, "header: size cap %" PRIu64 " is over the %llu "
			"bytes (16 TiB) mmfs can map; mount with -o size=SIZE "
			"to lower it", h->size_cap, MM_MAX_ARENA);
	if (h->ring_size < MM_RING_MIN || h->ring_size > MM_RING_MAX)
		problem(v, "header: ring_size %" PRIu64 " is not a ring "
			"capacity (%u to %u bytes); mount with -o "
			"ring_size=SIZE to replace it", h->ring_size,
			MM_RING_MIN, MM_RING_MAX);
}

static void verify_all(struct verify *v)
{
	struct store *s = v->s;
	uint64_t orphans = 0, retired = 0;

	if (s->hdr->intent.commit)
		problem(v, "a rename was in flight (intent record set)");
	if (!dir_ok(s, s->hdr->root))
		problem(v, "the root directory is missing");
	if (!index_ok(s))
		problem(v, "the name index is missing or malformed");
	if (v->problems)
		return;
	check_free_lists(v);
	check_names(v);
	check_inodes(v, &orphans);
	check_links(v);
	check_retired(v, &retired);
	check_space(v);
	check_limits(v);
	if (orphans && s->hdr->clean)
		problem(v, "%" PRIu64 " inode(s) without a name in a cleanly "
			"closed arena", orphans);
}

int store_verify(struct store *s, store_report_fn report, void *ctx)
{
	struct verify v = { .s = s, .report = report, .ctx = ctx };
	int rc;

	if (!s->private_map)
		return -EINVAL;     /* marks and scratch counts need a copy */
	rc = walk(&v);
	if (rc == -ENOMEM)
		return rc;
	if (rc == 0)
		verify_all(&v);
	recover_drop_starts(s);
	return v.problems;
}

int store_recover(struct store *s)
{
	return recover_run(s);
}

int store_census(struct store *s, struct store_census *c)
{
	int rc = 0;

	memset(c, 0, sizeof(*c));
	arena_lock(s);
	for_each_block(s, off) {
		struct mm_block *b = mm_block(s, off);

		if (!mm_header_ok(s, off)) {
			rc = -EUCLEAN;  /* counts so far; the rest is unread */
			break;
		}
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
		if (b->flags & MM_BLOCK_RETIRED) {
			c->retired_blocks++;
			c->retired_bytes += b->size;
		}
		if (b->kind == MM_INODE)
			c->orphans += mm_inode(s, off)->nlink == 0 &&
				      off != s->hdr->root;
	}
	c->tail_room = s->hdr->size_cap - s->hdr->brk;
	if (c->tail_room > c->largest_free)
		c->largest_free = c->tail_room;
	arena_unlock(s);
	return rc;
}

/* Kind of the block at off, 0 if there is none (an extent may be asked
 * of an arena recovery has not seen). */
static unsigned kind_at(struct store *s, uint64_t off)
{
	return off && mm_header_ok(s, off) ? mm_block(s, off)->kind : 0;
}

struct extent_ctx {
	struct store *s;
	struct store_extent *e;
};

/* Blocks a data block owns, counted only where they are what it says
 * (an extent may be asked of an arena recovery has not seen). */
static void extent_child(void *ctx, uint64_t *slot, unsigned kind)
{
	struct extent_ctx *x = ctx;

	if (kind_at(x->s, *slot) != kind)
		return;
	x->e->chunks++;
	x->e->bytes += mm_block(x->s, *slot)->size;
}

static void data_extent(struct store *s, const struct mm_inode *ino,
			struct store_extent *e)
{
	unsigned kind = kind_at(s, ino->data);
	struct extent_ctx x = { s, e };

	e->block = ino->data;
	if (!ino->data) {
		e->layout = "empty";
		return;
	}
	if (!kind_holds(ino, kind) || !recover_block_ok(s, ino->data)) {
		e->layout = "damaged";
		return;
	}
	e->layout = kind_layout(kind);
	e->bytes += mm_block(s, ino->data)->size;
	kind_children(s, ino->data, extent_child, &x);
}

int store_extent(struct store *s, store_ref ref, struct store_extent *e)
{
	struct mm_inode *ino;
	uint32_t type;
	int rc;

	memset(e, 0, sizeof(*e));
	rc = store_enter(s, ref);
	if (rc)
		return rc;
	ino = mm_inode(s, ref);
	type = mm_type(ino);
	e->xattr_block = ino->xattr;
	e->bytes = mm_block(s, ref)->size;
	if (kind_at(s, ino->xattr) == MM_XATTR)
		e->bytes += mm_block(s, ino->xattr)->size;
	if (type == MM_IFCHR || type == MM_IFBLK)
		e->layout = "device";
	else
		data_extent(s, ino, e);
	arena_unlock(s);
	return 0;
}

/* falloc.c -- fallocate(2) on regular files: reserving and punching space.
 *
 * store_fallocate (store.h) reserves arena space for a range, extending
 * the size to its end or not (KEEP_SIZE), or punches the range: zeroes it
 * and gives its space back.  Where reserved space lives:
 *   - a small file (DATA block): room in its block past the size;
 *   - a large file (MAP): zeroed chunks in what were holes, and chunks in
 *     slots at or past CHUNKS(size) (format.h).
 * Storage past the size is invisible, and whatever makes it visible (a
 * write, a truncate, a fallocate) zeroes it first (file.c).  st_blocks
 * counts it, since it is the file's blocks.
 *
 * Every call that changes storage reaches one commit (format.h, "Commit
 * points"), after all its space was allocated, so -ENOSPC changes
 * nothing:
 *   - a new DATA block or a new MAP, published in inode->data.  The new
 *     map shares the chunks it keeps with the old one; then the chunks
 *     it no longer names are freed, and the old map block;
 *   - one slot, map->chunk[i], when only one chunk changes and the size
 *     does not: the old chunk is freed after it;
 *   - data->size or map->size, when the call only extends the size into
 *     storage the file has: the bytes it makes visible are zeroed first,
 *     as for an append.
 *
 * Snapshots (format.h, "Versions").  A block that snapshots read (held)
 * is not changed at all, and the new block shares nothing with it: each
 * chunk it keeps is a copy.  The old block is retired whole, chunks
 * included, until its last snapshot goes.  Snapshot reads take no lock,
 * so this is what keeps them whole.
 *
 * Locks (format.h, "Locks").  A call holds the file's writer lock, then
 * the arena mutex, both from start to end: unlike a replace it does not
 * drop the mutex while it copies (it copies only what it must: chunks a
 * punch changes, and a held or small file).
 *
 * A punch may allocate the punch reserve (alloc.c): on an otherwise full
 * arena it still copies the one or two chunks it zeroes in part, and
 * gives back what it punched whole.
 *
 * Punching a small file zeroes its bytes in a copy of its block; room
 * past the size that the range covers to its end is given back.  In a
 * large file, chunks wholly inside the range become holes (freed after
 * the commit) and a chunk the range covers in part is copied with the
 * range zeroed, unless the part is past the size (invisible).
 */
#include <errno.h>

#include "kind.h"
#include "store_int.h"

/* One call, as store_fallocate read it; the arena lock is held. */
struct falloc {
	struct store *s;
	struct mm_inode *ino;
	uint64_t old;          /* the file's data block: 0, DATA or MAP */
	uint64_t size;         /* st_size before */
	uint64_t new_size;     /* st_size after */
	uint64_t from, to;     /* the range, cut at STORE_FILE_MAX (punch) */
	bool punch;            /* zero and give back, else reserve */
	bool held;             /* snapshots read old: copy, share nothing */
};

/* What slot i of the new map holds. */
enum slot_fate {
	SLOT_HOLE,     /* 0 */
	SLOT_KEPT,     /* the old map's chunk i (a copy of it when held) */
	SLOT_FRESH,    /* a new chunk: the old bytes (or zeros), punch zeroed */
};

/* What the new map takes: its slots, new chunks (copies included), and
 * the slots whose content changes (the last of them in `changed`). */
struct map_plan {
	uint64_t nslots;
	uint64_t fresh;
	uint64_t changes;
	uint64_t changed;
};

static uint64_t max64(uint64_t a, uint64_t b)
{
	return a > b ? a : b;
}

static uint64_t min64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

static bool is_map(const struct falloc *f)
{
	return f->old && mm_block(f->s, f->old)->kind == MM_MAP;
}

static uint64_t old_slots(const struct falloc *f)
{
	return is_map(f) ? mm_map(f->s, f->old)->nslots : 0;
}

/* The old map's chunk i, 0 for a hole or when the file is no map. */
static uint64_t old_chunk(const struct falloc *f, uint64_t i)
{
	return i < old_slots(f) ? mm_map(f->s, f->old)->chunk[i] : 0;
}

/* Does the arena have bytes to spare (the punch reserve too for a
 * punch: alloc.c)? */
static bool arena_has(const struct store *s, uint64_t bytes)
{
	return bytes <= mm_room(s);
}

/* ---- small files -------------------------------------------------- */

static uint64_t data_room(const struct store *s, uint64_t data)
{
	return data ? mm_payload_size(s, data) - sizeof(struct mm_data) : 0;
}

/* Room the small file's block needs after the call. */
static uint64_t small_room(const struct falloc *f, uint64_t room)
{
	if (!f->punch)
		return max64(room, f->to);
	if (f->from < room && f->to >= room)
		return max64(f->size, f->from);
	return room;
}

/* Only the size moves, into room the block has: zero what becomes
 * visible, then store the size (an append's commit). */
static void extend_small(struct falloc *f)
{
	struct mm_data *d;

	if (f->new_size == f->size)
		return;
	d = mm_data(f->s, f->old);
	memset(d->bytes + f->size, 0, f->new_size - f->size);
	file_commit(f->s, f->ino, &d->size, f->new_size);
}

/* A new DATA block of `room` bytes holding the file after the call, or
 * none for an empty file without room. */
static int build_small(struct falloc *f, uint64_t room, uint64_t *out)
{
	struct mm_data *d;
	int rc;

	*out = 0;
	if (room == 0 && f->new_size == 0)
		return 0;
	rc = mm_alloc(f->s, MM_DATA, sizeof(*d) + room, out);
	if (rc)
		return rc;
	d = mm_data(f->s, *out);
	file_read_bytes(f->s, f->old, 0, d->bytes, f->size);
	memset(d->bytes + f->size, 0, data_room(f->s, *out) - f->size);
	if (f->punch && f->from < f->size)
		memset(d->bytes + f->from, 0, min64(f->to, f->size) - f->from);
	d->size = f->new_size;
	return 0;
}

static int falloc_small(struct falloc *f)
{
	uint64_t room = data_room(f->s, f->old), want = small_room(f, room);
	uint64_t fresh;
	bool zeroes = f->punch && f->from < f->size;
	bool same = f->old ? mm_block(f->s, f->old)->size ==
			     mm_block_size_for(sizeof(struct mm_data) + want)
			   : want == 0;
	int rc;

	if (same && !zeroes && (!f->held || f->new_size == f->size)) {
		extend_small(f);
		return 0;
	}
	rc = build_small(f, want, &fresh);
	if (rc)
		return rc;
	file_commit(f->s, f->ino, &f->ino->data, fresh);
	file_data_release(f->s, f->old);
	return 0;
}

/* ---- large files -------------------------------------------------- */

static enum slot_fate slot_fate(const struct falloc *f, uint64_t i)
{
	uint64_t cs = i * MM_CHUNK, ce = cs + MM_CHUNK;
	uint64_t lo = max64(cs, f->from), hi = min64(ce, f->to);
	uint64_t chunk = old_chunk(f, i);
	bool stored = chunk || (!is_map(f) && cs < f->size);
	bool zeroes = f->punch && lo < min64(hi, f->size);

	if (f->punch && f->from <= cs && ce <= f->to)
		return SLOT_HOLE;
	if (!stored)
		return !f->punch && lo < hi ? SLOT_FRESH : SLOT_HOLE;
	return chunk && !zeroes ? SLOT_KEPT : SLOT_FRESH;
}

static void plan_map(const struct falloc *f, struct map_plan *p)
{
	uint64_t end = f->punch ? 0 : f->to;

	p->nslots = max64(old_slots(f), MM_CHUNKS(max64(f->new_size, end)));
	p->fresh = p->changes = p->changed = 0;
	for (uint64_t i = 0; i < p->nslots; i++) {
		enum slot_fate fate = slot_fate(f, i);
		bool copied = fate == SLOT_KEPT && f->held;

		p->fresh += fate == SLOT_FRESH || copied;
		if (fate == SLOT_FRESH ||
		    (fate == SLOT_HOLE && old_chunk(f, i))) {
			p->changes++;
			p->changed = i;
		}
	}
}

/* Slot i keeps the old chunk: bytes between the old and the new size
 * become visible, and are zeroed first (they are past the old size:
 * nobody sees them change). */
static void keep_chunk(const struct falloc *f, uint64_t i, uint64_t *slot)
{
	uint64_t cs = i * MM_CHUNK, ce = cs + MM_CHUNK;
	uint64_t lo = max64(cs, f->size), hi = min64(ce, f->new_size);

	*slot = old_chunk(f, i);
	if (lo < hi)
		memset((unsigned char *)mm_payload(f->s, *slot) + (lo - cs), 0,
		       hi - lo);
}

/* The chunk for slot i (0 for a hole): kept, or new (a copy of what
 * the file has there, the punched part zeroed).  -ENOSPC. */
static int fill_slot(const struct falloc *f, uint64_t i, uint64_t *slot)
{
	uint64_t cs = i * MM_CHUNK, lo, hi, kept;
	unsigned char *bytes;
	enum slot_fate fate = slot_fate(f, i);
	int rc;

	*slot = 0;
	if (fate == SLOT_KEPT && !f->held)
		keep_chunk(f, i, slot);
	if (fate == SLOT_HOLE || *slot)
		return 0;
	rc = mm_alloc(f->s, MM_CHUNK_KIND, MM_CHUNK, slot);
	if (rc) {
		*slot = 0;
		return rc;
	}
	bytes = mm_payload(f->s, *slot);
	kept = f->size > cs ? min64(f->size - cs, MM_CHUNK) : 0;
	file_read_bytes(f->s, f->old, cs, bytes, kept);
	memset(bytes + kept, 0, MM_CHUNK - kept);
	lo = max64(cs, f->from);
	hi = min64(cs + MM_CHUNK, f->to);
	if (f->punch && lo < hi)
		memset(bytes + (lo - cs), 0, hi - lo);
	return 0;
}

/* Undo a map under construction whose first n slots are filled. */
static void drop_map(const struct falloc *f, uint64_t map, uint64_t n)
{
	struct mm_map *m = mm_map(f->s, map);

	for (uint64_t i = 0; i < n; i++)
		if (m->chunk[i] && m->chunk[i] != old_chunk(f, i))
			mm_free(f->s, m->chunk[i]);
	mm_free(f->s, map);
}

/* After the commit of map: free what the file no longer references. */
static void release_old(const struct falloc *f, uint64_t map)
{
	struct mm_map *m = mm_map(f->s, map);

	if (!is_map(f) || f->held) {
		file_data_release(f->s, f->old);
		return;
	}
	for (uint64_t i = 0; i < old_slots(f); i++) {
		uint64_t chunk = old_chunk(f, i);

		if (chunk && (i >= m->nslots || m->chunk[i] != chunk))
			mm_free(f->s, chunk);
	}
	mm_free(f->s, f->old);
}

/* A new map: every slot filled, then published in inode->data. */
static int publish_map(struct falloc *f, const struct map_plan *p)
{
	struct mm_map *m;
	uint64_t map;
	int rc = mm_zalloc(f->s, MM_MAP, sizeof(*m) + p->nslots * 8, &map);

	if (rc)
		return rc;
	m = mm_map(f->s, map);
	m->nslots = p->nslots;
	for (uint64_t i = 0; i < p->nslots; i++) {
		rc = fill_slot(f, i, &m->chunk[i]);
		if (rc) {
			drop_map(f, map, i);
			return rc;
		}
	}
	m->size = f->new_size;
	file_commit(f->s, f->ino, &f->ino->data, map);
	release_old(f, map);
	return 0;
}

/* No chunk changes: only the size may move, into the map's storage
 * (zeroed first: an append's commit). */
static void extend_map(struct falloc *f)
{
	struct mm_map *m = mm_map(f->s, f->old);

	if (f->new_size == f->size)
		return;
	file_zero_map(f->s, m, f->size, f->new_size);
	file_commit(f->s, f->ino, &m->size, f->new_size);
}

/* One chunk changes and the size does not: its slot is the commit. */
static int publish_slot(struct falloc *f, uint64_t i)
{
	uint64_t stale = old_chunk(f, i), fresh;
	int rc = fill_slot(f, i, &fresh);

	if (rc)
		return rc;
	file_commit(f->s, f->ino, &mm_map(f->s, f->old)->chunk[i], fresh);
	if (stale)
		mm_free(f->s, stale);
	return 0;
}

static int falloc_map(struct falloc *f)
{
	uint64_t need;
	struct map_plan p;
	bool in_place = is_map(f) && !f->held;

	plan_map(f, &p);
	if (is_map(f) && p.changes == 0 && p.nslots == old_slots(f) &&
	    (in_place || f->new_size == f->size)) {
		extend_map(f);
		return 0;
	}
	need = p.fresh * mm_block_size_for(MM_CHUNK);
	if (in_place && p.changes == 1 && p.nslots == old_slots(f) &&
	    f->new_size == f->size)
		return arena_has(f->s, need) ? publish_slot(f, p.changed)
					     : -ENOSPC;
	need += mm_block_size_for(sizeof(struct mm_map) + p.nslots * 8);
	return arena_has(f->s, need) ? publish_map(f, &p) : -ENOSPC;
}

/* ---- the call ----------------------------------------------------- */

/* The mode and range: 0, -EOPNOTSUPP, -EINVAL, -EFBIG. */
static int read_args(unsigned mode, uint64_t off, uint64_t len,
		     struct falloc *f)
{
	if (mode & ~(unsigned)(STORE_FALLOC_KEEP_SIZE |
			       STORE_FALLOC_PUNCH_HOLE))
		return -EOPNOTSUPP;
	f->punch = mode & STORE_FALLOC_PUNCH_HOLE;
	if (len == 0 || (f->punch && !(mode & STORE_FALLOC_KEEP_SIZE)))
		return -EINVAL;
	if (off > STORE_FILE_MAX || len > STORE_FILE_MAX - off) {
		if (!f->punch)
			return -EFBIG;
		f->from = min64(off, STORE_FILE_MAX);
		f->to = STORE_FILE_MAX;
		return 0;
	}
	f->from = off;
	f->to = off + len;
	return 0;
}

/* store_enter for a file whose bytes fallocate may reserve: a regular
 * file of bytes.  On error the lock is not held. */
static int enter_bytes(struct store *s, store_ref ref)
{
	struct mm_inode *ino;
	int rc = store_enter(s, ref);

	if (rc)
		return rc;
	ino = mm_inode(s, ref);
	if (mm_type(ino) == MM_IFDIR)
		rc = -EISDIR;
	else if (mm_type(ino) != MM_IFREG)
		rc = -EINVAL;
	else if (ino->flags & MM_INODE_KINDS)
		rc = -EOPNOTSUPP;
	if (rc)
		arena_unlock(s);
	return rc;
}

int store_fallocate(struct store *s, store_ref ref, unsigned mode,
		    uint64_t off, uint64_t len)
{
	struct falloc f = { .s = s };
	int rc;

	if (store_readonly(s))
		return -EROFS;
	rc = read_args(mode, off, len, &f);
	if (rc)
		return rc;
	file_lock(s, ref);
	rc = enter_bytes(s, ref);
	if (rc)
		goto out;
	f.ino = mm_inode(s, ref);
	rc = f.punch ? iflags_deny_change(f.ino) : iflags_deny_write(f.ino);
	if (rc) {
		arena_unlock(s);
		goto out;
	}
	f.old = f.ino->data;
	f.size = kind_size(s, f.ino);
	f.new_size = mode & STORE_FALLOC_KEEP_SIZE ? f.size
						   : max64(f.size, f.to);
	f.held = file_data_held(s, f.ino);
	s->use_reserve = f.punch;
	if (is_map(&f) || f.new_size > MM_SMALL_MAX ||
	    (!f.punch && f.to > MM_SMALL_MAX))
		rc = falloc_map(&f);
	else
		rc = falloc_small(&f);
	s->use_reserve = false;
	if (rc == 0)
		inode_touch(s, ref, true, true);
	arena_unlock(s);
out:
	file_unlock(s, ref);
	return rc;
}

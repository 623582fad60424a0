/* file.c -- the bytes of regular files and symlinks.
 *
 * A file is empty (inode->data == 0), small (one DATA block holding up to
 * MM_SMALL_MAX bytes) or large (a MAP block of MM_CHUNK-sized chunks, holes
 * as 0 slots).  Every change reaches readers and survives crashes through
 * one 8-byte store (format.h, "Commit points"):
 *
 *   - bytes past the current end are invisible, so appends are written in
 *     place and published by storing the new size;
 *   - overwriting visible bytes of a small file copies it (copy on write)
 *     and publishes the copy through inode->data;
 *   - for a large file only the chunks whose visible bytes change are
 *     copied; if that is one chunk and the size does not change, its slot
 *     is the commit, otherwise a copy of the map is published.
 *
 * Invariant: bytes of storage past the size may hold anything; any change
 * that makes them visible zeroes them first.  Such storage is a DATA
 * block's room past the size and a map's chunks past it, including those
 * in slots at or past CHUNKS(size): space fallocate reserved (falloc.c).
 * Copies of a small file keep its room; truncation gives back what lies
 * past the new size.  A change holds the file's writer lock, then the
 * arena lock; a wholesale rebuild drops the arena lock while it copies
 * (format.h, "Locks").
 */
#include <errno.h>
#include <stdlib.h>
#include <sys/mman.h>

#include "kind.h"
#include "store_int.h"


struct span {
	uint64_t off;
	const unsigned char *buf;
	size_t len;
};

static unsigned repr_kind(const struct store *s, const struct mm_inode *ino)
{
	return ino->data ? mm_block(s, ino->data)->kind : 0;
}

static unsigned char *chunk_bytes(const struct store *s, uint64_t chunk)
{
	return mm_payload(s, chunk);
}

/* A data block no file references any more: freed, or, while snapshots
 * read it, retired (format.h: MM_BLOCK_RETIRED) until the last of them is
 * dropped. */
void file_data_release(struct store *s, uint64_t block)
{
	if (!block)
		return;
	if (block_held(s, block))
		mm_block(s, block)->flags |= MM_BLOCK_RETIRED;
	else
		kind_free(s, block);
}

/* Do snapshots read the file's current data block?  Then it must not
 * change in place below its size: writers copy it (rebuild). */
bool file_data_held(const struct store *s, const struct mm_inode *ino)
{
	return ino->data && block_held(s, ino->data);
}

/* Pin block for a snapshot or a rebuild of this process.  The first pin
 * flags it MM_BLOCK_HELD, so that writers in other processes (libmmfs),
 * which cannot see this count, copy it too.  Under the arena lock. */
int file_pin(struct store *s, uint64_t block)
{
	int rc = refmap_add(&s->snaps, block);

	if (rc == 0)
		mm_block(s, block)->flags |= MM_BLOCK_HELD;
	return rc;
}

/* Unpin block: the last pin clears MM_BLOCK_HELD and frees it if it was
 * retired meanwhile.  Under the arena lock. */
static void unpin(struct store *s, uint64_t block)
{
	struct mm_block *b = mm_block(s, block);

	if (refmap_drop(&s->snaps, block) != 0)
		return;
	b->flags &= (uint8_t)~MM_BLOCK_HELD;
	if (b->flags & MM_BLOCK_RETIRED) {
		b->flags &= (uint8_t)~MM_BLOCK_RETIRED;
		kind_free(s, block);
	}
}

void file_free_data(struct store *s, struct mm_inode *ino)
{
	uint32_t type = mm_type(ino);

	if (type == MM_IFCHR || type == MM_IFBLK || !ino->data)
		return;
	if (type == MM_IFREG && !(ino->flags & MM_INODE_KINDS))
		file_data_release(s, ino->data);
	else
		kind_free(s, ino->data);
	ino->data = 0;
}

/* The stored span of representation data that starts at pos (< end): its
 * length, at most end - pos, and where its bytes are (NULL for a hole or
 * bytes past the representation's size, which read as zeros). */
static const unsigned char *repr_span(const struct store *s, uint64_t data,
				      uint64_t pos, uint64_t end,
				      uint64_t *len)
{
	uint64_t size, in, i;

	*len = end - pos;
	if (!data)
		return NULL;
	if (mm_block(s, data)->kind == MM_DATA) {
		struct mm_data *d = mm_payload(s, data);

		if (pos >= d->size)
			return NULL;
		if (d->size - pos < *len)
			*len = d->size - pos;
		return d->bytes + pos;
	}
	struct mm_map *m = mm_payload(s, data);

	size = m->size;
	if (pos >= size)
		return NULL;
	i = pos / MM_CHUNK;
	in = pos % MM_CHUNK;
	if (MM_CHUNK - in < *len)
		*len = MM_CHUNK - in;
	if (size - pos < *len)
		*len = size - pos;
	if (i < m->nslots && m->chunk[i])
		return chunk_bytes(s, m->chunk[i]) + in;
	return NULL;
}

/* Copy bytes [off, off+n) of representation data into dst; holes and bytes
 * past its size read as zeros. */
void file_read_bytes(const struct store *s, uint64_t data, uint64_t off,
		     unsigned char *dst, size_t n)
{
	const unsigned char *src;
	uint64_t len;

	for (uint64_t pos = off; pos < off + n; pos += len) {
		src = repr_span(s, data, pos, off + n, &len);
		if (src)
			memcpy(dst + (pos - off), src, len);
		else
			memset(dst + (pos - off), 0, len);
	}
}

/* Blocks for a fresh representation of new_size bytes that keeps the
 * first `keep` bytes of the old one and holds the span w: allocated, not
 * filled (fill_repr).  A map gets a chunk for every chunk with kept or
 * written bytes; the others are holes. */
static int alloc_repr(struct store *s, uint64_t keep, const struct span *w,
		      uint64_t new_size, uint64_t cap, uint64_t *out)
{
	uint64_t nslots = MM_CHUNKS(new_size), map;
	struct mm_map *m;
	int rc;

	if (new_size <= MM_SMALL_MAX)
		return mm_alloc(s, MM_DATA, sizeof(struct mm_data) + cap, out);
	rc = mm_zalloc(s, MM_MAP, sizeof(*m) + nslots * 8, &map);
	if (rc)
		return rc;
	m = mm_map(s, map);
	m->nslots = nslots;
	for (uint64_t i = 0; i < nslots; i++) {
		uint64_t cs = i * MM_CHUNK;

		if (cs >= keep && !(w->len && cs < w->off + w->len &&
				    w->off < cs + MM_CHUNK))
			continue;
		rc = mm_alloc(s, MM_CHUNK_KIND, MM_CHUNK, &m->chunk[i]);
		if (rc) {
			m->chunk[i] = 0;
			kind_free(s, map);
			return rc;
		}
	}
	*out = map;
	return 0;
}

/* Copy the span w into a map's chunks (they exist: alloc_repr). */
static void fill_span(struct store *s, struct mm_map *m, const struct span *w)
{
	for (uint64_t pos = w->off; pos < w->off + w->len;) {
		uint64_t i = pos / MM_CHUNK, in = pos % MM_CHUNK;
		uint64_t take = MM_CHUNK - in;

		if (take > w->off + w->len - pos)
			take = w->off + w->len - pos;
		memcpy(chunk_bytes(s, m->chunk[i]) + in,
		       w->buf + (pos - w->off), take);
		pos += take;
	}
}

/* Fill fresh blocks from alloc_repr: the first keep bytes of old, zeros,
 * then w.  Touches only fresh (referenced by nobody) and reads old: the
 * arena lock is not needed if old cannot change meanwhile. */
static void fill_repr(struct store *s, uint64_t fresh, uint64_t old,
		      uint64_t keep, const struct span *w, uint64_t new_size)
{
	if (mm_block(s, fresh)->kind == MM_DATA) {
		struct mm_data *d = mm_data(s, fresh);

		file_read_bytes(s, old, 0, d->bytes, keep);
		memset(d->bytes + keep, 0, mm_payload_size(s, fresh) -
		       sizeof(*d) - keep);
		if (w->len)
			memcpy(d->bytes + w->off, w->buf, w->len);
		d->size = new_size;
		return;
	}
	struct mm_map *m = mm_map(s, fresh);

	for (uint64_t i = 0; i < m->nslots; i++) {
		uint64_t cs = i * MM_CHUNK, kept;
		unsigned char *bytes;

		if (!m->chunk[i])
			continue;
		kept = keep > cs ? (keep - cs < MM_CHUNK ? keep - cs : MM_CHUNK)
				 : 0;
		bytes = chunk_bytes(s, m->chunk[i]);
		file_read_bytes(s, old, cs, bytes, kept);
		memset(bytes + kept, 0, MM_CHUNK - kept);
	}
	fill_span(s, m, w);
	m->size = new_size;
}

/* A data block no longer pinned by a copy in progress: freed if a commit
 * retired it meanwhile and no snapshot reads it. */
/* Fill fresh from old and w.  A server drops the arena lock meanwhile:
 * fresh is in s->pending and old in s->snaps, where a repair by another
 * of its threads finds them (recover_online).  A library store, which
 * tells no repairer what it pins, copies under the lock. */
static void copy_unlocked(struct store *s, uint64_t fresh, uint64_t old,
			  uint64_t keep, const struct span *w,
			  uint64_t new_size)
{
	if (s->library) {
		fill_repr(s, fresh, old, keep, w, new_size);
		return;
	}
	arena_unlock(s);
	fill_repr(s, fresh, old, keep, w, new_size);
	arena_lock(s);
	refmap_forget(&s->pending, fresh);
}

/* Replace the representation wholesale (one commit on inode->data), with
 * the file lock and the arena lock held.  The bytes are copied with the
 * arena lock dropped (format.h, "Locks"): the old block is pinned, so
 * nothing frees or changes it, and the fresh ones are referenced by
 * nobody.  On return the arena lock is held again, and pointers into the
 * arena taken before the call may be stale.  -ESTALE: the file was freed
 * meanwhile (nothing committed). */
static int rebuild(struct store *s, store_ref ref, uint64_t keep,
		   const struct span *w, uint64_t new_size, uint64_t cap)
{
	struct mm_inode *ino = mm_inode(s, ref);
	uint64_t old = ino->data, ino_no = ino->ino, fresh = 0;
	int rc = 0;

	if (keep > new_size)
		keep = new_size;
	if (new_size || w->len) {
		rc = alloc_repr(s, keep, w, new_size,
				cap > new_size ? cap : new_size, &fresh);
		/* Only a server pins: a library store copies under the lock,
		 * and its unpin would clear the flag of the server's own
		 * pins (MM_BLOCK_HELD is one bit for every process) and free
		 * the block under the server's snapshots. */
		if (rc == 0 && old && !s->library)
			rc = file_pin(s, old);
		if (rc == 0 && !s->library) {
			rc = refmap_add(&s->pending, fresh);
			if (rc && old)
				unpin(s, old);
		}
		if (rc) {
			if (fresh)
				kind_free(s, fresh);
			return rc;
		}
		copy_unlocked(s, fresh, old, keep, w, new_size);
	}
	ino = store_valid_ref(s, ref) ? mm_inode(s, ref) : NULL;
	if (ino && ino->ino == ino_no && ino->data == old) {
		file_commit(s, ino, &ino->data, fresh);
		file_data_release(s, old);
	} else {
		if (fresh)
			kind_free(s, fresh);
		rc = -ESTALE;
	}
	if (fresh && old && !s->library)
		unpin(s, old);
	return rc;
}

/* Zero the existing storage of [from, to) in a map: only ever called on
 * bytes that are not visible yet. */
void file_zero_map(struct store *s, struct mm_map *m, uint64_t from,
		   uint64_t to)
{
	for (uint64_t pos = from; pos < to;) {
		uint64_t i = pos / MM_CHUNK, in = pos % MM_CHUNK;
		uint64_t take = MM_CHUNK - in < to - pos ? MM_CHUNK - in
							 : to - pos;

		if (i < m->nslots && m->chunk[i])
			memset(chunk_bytes(s, m->chunk[i]) + in, 0, take);
		pos += take;
	}
}

/* A copy of map old with room for nslots slots (>= its own). */
static int copy_map(struct store *s, uint64_t old, uint64_t nslots,
		    uint64_t *out)
{
	struct mm_map *from = mm_payload(s, old), *to;
	int rc = mm_zalloc(s, MM_MAP, sizeof(*to) + nslots * 8, out);

	if (rc)
		return rc;
	to = mm_payload(s, *out);
	to->size = from->size;
	to->nslots = nslots;
	memcpy(to->chunk, from->chunk, from->nslots * 8);
	return 0;
}

struct chunk_plan {
	uint64_t first, n;
	uint64_t *fresh;      /* new chunk per slot in [first, first+n), or 0 */
	uint64_t *stale;      /* the chunk it replaces */
	int visible;          /* visible changes: chunk swaps + size */
};

static void plan_free(struct store *s, struct chunk_plan *p, bool fresh)
{
	for (uint64_t k = 0; k < p->n; k++)
		if (fresh ? p->fresh[k] : p->stale[k])
			mm_free(s, fresh ? p->fresh[k] : p->stale[k]);
	free(p->fresh);
	free(p->stale);
}

/* Allocate copies of the chunks whose visible bytes the write changes, and
 * new chunks for holes it fills. */
static int plan_chunks(struct store *s, struct mm_map *m,
		       const struct span *w, struct chunk_plan *p)
{
	uint64_t end = w->off + w->len, old_size = m->size;

	p->first = w->off / MM_CHUNK;
	p->n = (end - 1) / MM_CHUNK - p->first + 1;
	p->fresh = calloc(p->n, 8);
	p->stale = calloc(p->n, 8);
	p->visible = end > old_size;
	if (!p->fresh || !p->stale) {
		plan_free(s, p, true);
		return -ENOMEM;
	}
	for (uint64_t k = 0; k < p->n; k++) {
		uint64_t i = p->first + k, cs = i * MM_CHUNK;
		uint64_t slot = i < m->nslots ? m->chunk[i] : 0;
		unsigned char *bytes;

		if (slot && (cs > w->off ? cs : w->off) >= old_size)
			continue;            /* only invisible bytes: in place */
		if (mm_alloc(s, MM_CHUNK_KIND, MM_CHUNK, &p->fresh[k])) {
			p->fresh[k] = 0;
			plan_free(s, p, true);
			return -ENOSPC;
		}
		bytes = chunk_bytes(s, p->fresh[k]);
		memset(bytes, 0, MM_CHUNK);
		if (slot && cs < old_size)
			memcpy(bytes, chunk_bytes(s, slot), old_size - cs <
			       MM_CHUNK ? old_size - cs : MM_CHUNK);
		p->stale[k] = slot;
		p->visible += cs < old_size;
	}
	return 0;
}

static void apply_span(struct store *s, struct mm_map *m,
		       const struct chunk_plan *p, const struct span *w)
{
	for (uint64_t pos = w->off; pos < w->off + w->len;) {
		uint64_t i = pos / MM_CHUNK, in = pos % MM_CHUNK;
		uint64_t take = MM_CHUNK - in;
		uint64_t chunk = p->fresh[i - p->first] ?
				 p->fresh[i - p->first] : m->chunk[i];

		if (take > w->off + w->len - pos)
			take = w->off + w->len - pos;
		memcpy(chunk_bytes(s, chunk) + in, w->buf + (pos - w->off),
		       take);
		pos += take;
	}
}

/* Write into a large file (format.h commit rules). */
static int write_map(struct store *s, struct mm_inode *ino,
		     const struct span *w)
{
	uint64_t old = ino->data, map = old;
	struct mm_map *m = mm_payload(s, old);
	uint64_t end = w->off + w->len, old_size = m->size;
	uint64_t new_size = end > old_size ? end : old_size;
	struct chunk_plan p;
	bool grow = MM_CHUNKS(new_size) > m->nslots;
	int rc = plan_chunks(s, m, w, &p);

	if (rc)
		return rc;
	if (grow || p.visible > 1) {
		uint64_t want = MM_CHUNKS(new_size);

		if (grow && want < m->nslots * 2 && end == new_size)
			want = m->nslots * 2 < MM_CHUNKS(STORE_FILE_MAX) ?
			       m->nslots * 2 : want;
		rc = copy_map(s, old, grow ? want : m->nslots, &map);
		if (rc) {
			plan_free(s, &p, true);
			return rc;
		}
	}
	if (w->off > old_size)
		file_zero_map(s, m, old_size, w->off);
	apply_span(s, m, &p, w);
	if (map != old) {
		struct mm_map *nm = mm_payload(s, map);

		for (uint64_t k = 0; k < p.n; k++)
			if (p.fresh[k])
				nm->chunk[p.first + k] = p.fresh[k];
		nm->size = new_size;
		file_commit(s, ino, &ino->data, map);
		mm_free(s, old);
	} else {
		uint64_t last_visible = 0;

		for (uint64_t k = 0; k < p.n; k++) {
			uint64_t i = p.first + k;

			if (!p.fresh[k])
				continue;
			if (i * MM_CHUNK < old_size)
				last_visible = k + 1;
			else
				mm_commit64(&m->chunk[i], p.fresh[k]);
		}
		if (last_visible)
			mm_commit64(&m->chunk[p.first + last_visible - 1],
				    p.fresh[last_visible - 1]);
		if (new_size != old_size)
			mm_commit64(&m->size, new_size);
		inode_changed(s, mm_inode_ref(s, ino));
	}
	plan_free(s, &p, false);
	return 0;
}

/* Bytes a small file's DATA block has room for. */
static uint64_t small_room(const struct store *s, uint64_t data)
{
	return mm_payload_size(s, data) - sizeof(struct mm_data);
}

static int write_small(struct store *s, store_ref ref, const struct span *w)
{
	struct mm_inode *ino = mm_inode(s, ref);
	struct mm_data *d = ino->data ? mm_payload(s, ino->data) : NULL;
	uint64_t old_size = d ? d->size : 0, end = w->off + w->len;
	uint64_t new_size = end > old_size ? end : old_size, cap = new_size;

	if (d && w->off >= old_size && new_size <= small_room(s, ino->data)) {
		memset(d->bytes + old_size, 0, w->off - old_size);
		memcpy(d->bytes + w->off, w->buf, w->len);
		file_commit(s, ino, &d->size, new_size);
		return 0;
	}
	if (w->off >= old_size && old_size)       /* appending: room to grow */
		cap = old_size * 2 > new_size ? old_size * 2 : new_size;
	if (d && cap < small_room(s, ino->data))  /* reserved (fallocate) */
		cap = small_room(s, ino->data);
	if (cap > MM_SMALL_MAX)
		cap = new_size > MM_SMALL_MAX ? new_size : MM_SMALL_MAX;
	return rebuild(s, ref, old_size, w, new_size, cap);
}

/* store_enter for the bytes of a regular file: -EISDIR for a directory,
 * -EINVAL for anything else that holds no bytes (rings have their own
 * calls).  On error the lock is not held. */
static int enter_file(struct store *s, store_ref ref)
{
	uint32_t type;
	int rc = store_enter(s, ref);

	if (rc)
		return rc;
	type = mm_type(mm_inode(s, ref));
	if (type == MM_IFREG && !(mm_inode(s, ref)->flags & MM_INODE_RING))
		return 0;
	arena_unlock(s);
	return type == MM_IFDIR ? -EISDIR : -EINVAL;
}

ssize_t store_write(struct store *s, store_ref ref, uint64_t off,
		    const void *buf, size_t size, bool truncate_first)
{
	ssize_t rc;

	if (store_readonly(s))
		return -EROFS;
	if (off > STORE_FILE_MAX || size > STORE_FILE_MAX - off)
		return -EFBIG;
	file_lock(s, ref);
	rc = file_write_locked(s, ref, off, buf, size, truncate_first);
	file_unlock(s, ref);
	return rc;
}

/* store_write with the file lock held by the caller. */
ssize_t file_write_locked(struct store *s, store_ref ref, uint64_t off,
			  const void *buf, size_t size, bool truncate_first)
{
	struct span w = { off, buf, size };
	struct mm_inode *ino;
	ssize_t rc = enter_file(s, ref);

	if (rc)
		return rc;
	ino = mm_inode(s, ref);
	/* immutable, or append-only and not at the end */
	rc = iflags_deny_overwrite(ino, off, kind_size(s, ino),
				   truncate_first);
	if (rc)
		goto out;
	if (size == 0 && !truncate_first)
		rc = 0;
	else if (truncate_first)
		rc = rebuild(s, ref, 0, &w, size ? off + size : 0,
			     off + size);
	else if (repr_kind(s, ino) == MM_MAP && !file_data_held(s, ino))
		rc = write_map(s, ino, &w);
	else if (repr_kind(s, ino) != MM_MAP && off + size <= MM_SMALL_MAX)
		rc = write_small(s, ref, &w);   /* in place only past the end */
	else
		rc = rebuild(s, ref, kind_size(s, ino), &w,
			     off + size > kind_size(s, ino) ? off + size :
			     kind_size(s, ino), 0);
	if (rc == 0 && (size || truncate_first)) {
		inode_touch(s, ref, true, true);
		rc = (ssize_t)size;
	}
out:
	arena_unlock(s);
	return rc;
}

/* Lock ref for a read of up to size bytes at off; *ino is its inode and
 * *size is cut to what the file holds there. */
static int read_begin(struct store *s, store_ref ref, uint64_t off,
		      size_t *size, struct mm_inode **ino)
{
	uint64_t fsize;
	int rc;

	rc = enter_file(s, ref);
	if (rc)
		return rc;
	*ino = mm_inode(s, ref);
	fsize = kind_size(s, *ino);
	if (off >= fsize)
		*size = 0;
	else if (*size > fsize - off)
		*size = fsize - off;
	return 0;
}

static void read_end(struct store *s, struct mm_inode *ino)
{
	arena_unlock(s);
}

ssize_t store_read(struct store *s, store_ref ref, uint64_t off, void *buf,
		   size_t size)
{
	struct mm_inode *ino;
	int rc = read_begin(s, ref, off, &size, &ino);

	if (rc)
		return rc;
	file_read_bytes(s, ino->data, off, buf, size);
	read_end(s, ino);
	return (ssize_t)size;
}

int store_snap_take(struct store *s, store_ref ref, struct store_snap *snap)
{
	struct mm_inode *ino;
	int rc = enter_file(s, ref);

	if (rc)
		return rc;
	ino = mm_inode(s, ref);
	rc = ino->data ? file_pin(s, ino->data) : 0;
	if (rc == 0) {
		snap->data = ino->data;
		snap->size = kind_size(s, ino);
		snap->taken = true;
	}
	arena_unlock(s);
	return rc;
}

ssize_t store_snap_read(struct store *s, const struct store_snap *snap,
			uint64_t off, void *buf, size_t size)
{
	if (!snap->taken)
		return -EINVAL;
	if (off >= snap->size)
		return 0;
	if (size > snap->size - off)
		size = snap->size - off;
	/* No lock: a pinned block does not change below its size and is
	 * not freed (format.h, "Versions"). */
	file_read_bytes(s, snap->data, off, buf, size);
	return (ssize_t)size;
}

void store_snap_drop(struct store *s, struct store_snap *snap)
{
	if (!snap->taken)
		return;
	snap->taken = false;
	if (!snap->data)
		return;
	arena_lock(s);
	unpin(s, snap->data);
	arena_unlock(s);
}

void file_drop_snapshots(struct store *s)
{
	for (size_t i = 0; i < s->snaps.cap; i++) {
		uint64_t block = refmap_key_at(&s->snaps, i);

		struct mm_block *b = block ? mm_block(s, block) : NULL;

		if (!b)
			continue;
		b->flags &= (uint8_t)~MM_BLOCK_HELD;
		if (b->flags & MM_BLOCK_RETIRED) {
			b->flags &= (uint8_t)~MM_BLOCK_RETIRED;
			kind_free(s, block);
		}
	}
	refmap_free(&s->snaps);
}

static int shrink_map(struct store *s, struct mm_inode *ino, uint64_t size)
{
	struct mm_map *m = mm_payload(s, ino->data);
	uint64_t keep = MM_CHUNKS(size);

	file_commit(s, ino, &m->size, size);
	for (uint64_t i = keep; i < m->nslots; i++) {
		uint64_t chunk = m->chunk[i];

		if (chunk) {
			m->chunk[i] = 0;
			mm_free(s, chunk);
		}
	}
	if (size % MM_CHUNK && m->chunk[keep - 1])
		memset(chunk_bytes(s, m->chunk[keep - 1]) + size % MM_CHUNK,
		       0, MM_CHUNK - size % MM_CHUNK);
	return 0;
}

static int grow_map(struct store *s, struct mm_inode *ino, uint64_t size)
{
	struct mm_map *m = mm_payload(s, ino->data);
	uint64_t old = ino->data, fresh;
	int rc;

	if (MM_CHUNKS(size) <= m->nslots) {
		file_zero_map(s, m, m->size, size);
		file_commit(s, ino, &m->size, size);
		return 0;
	}
	rc = copy_map(s, old, MM_CHUNKS(size), &fresh);
	if (rc)
		return rc;
	file_zero_map(s, m, m->size, size);
	((struct mm_map *)mm_payload(s, fresh))->size = size;
	file_commit(s, ino, &ino->data, fresh);
	mm_free(s, old);
	return 0;
}

/* A small file's new size within its block: what becomes visible is
 * zeroed before the commit, what is cut off after it. */
static void resize_small(struct store *s, struct mm_inode *ino,
			 uint64_t old_size, uint64_t size)
{
	struct mm_data *d = mm_payload(s, ino->data);

	if (size > old_size)
		memset(d->bytes + old_size, 0, size - old_size);
	file_commit(s, ino, &d->size, size);
	if (size < old_size)
		memset(d->bytes + size, 0, old_size - size);
}

/* Truncation also gives back the space fallocate reserved past the new
 * size, as on tmpfs, even at the same size: a map's chunks past it, an
 * empty file's room.  A small file keeps its block's room otherwise. */
int file_truncate(struct store *s, uint64_t ref, uint64_t size)
{
	struct mm_inode *ino = mm_inode(s, ref);
	uint64_t old_size = kind_size(s, ino);
	struct span none = { 0, NULL, 0 };
	unsigned kind = repr_kind(s, ino);
	int rc = 0;

	if (size == old_size && size &&
	    (kind != MM_MAP || file_data_held(s, ino)))
		return 0;
	if (file_data_held(s, ino))
		rc = rebuild(s, ref, old_size, &none, size, size);
	else if (kind == MM_MAP && size)
		rc = size <= old_size ? shrink_map(s, ino, size) :
					grow_map(s, ino, size);
	else if (kind == MM_DATA && size && size <= small_room(s, ino->data))
		resize_small(s, ino, old_size, size);
	else
		rc = rebuild(s, ref, old_size, &none, size, size);
	return rc;
}

static int sync_block(struct store *s, uint64_t off)
{
	uint64_t start = off / MM_PAGE * MM_PAGE;
	uint64_t end = off + mm_block(s, off)->size;

	end = (end + MM_PAGE - 1) / MM_PAGE * MM_PAGE;
	return msync(s->base + start, end - start, MS_SYNC) ? -errno : 0;
}

struct sync_ctx {
	struct store *s;
	int rc;
};

static void sync_child(void *ctx, uint64_t *slot, unsigned kind)
{
	struct sync_ctx *c = ctx;

	(void)kind;
	if (c->rc == 0)
		c->rc = sync_block(c->s, *slot);
}

/* fsync(2): write back the pages of the file's own blocks (inode, xattrs,
 * its content and what that owns) and the header.  Names are directory
 * data: fsync the directory (store_sync) to make them durable. */
int store_sync_file(struct store *s, store_ref ref, bool datasync)
{
	struct sync_ctx c = { s, 0 };
	struct mm_inode *ino;
	uint32_t type;

	if (store_readonly(s))
		return 0;
	c.rc = store_enter(s, ref);
	if (c.rc)
		return c.rc;
	ino = mm_inode(s, ref);
	type = mm_type(ino);
	(void)datasync;         /* size and times live in the same pages */
	c.rc = sync_block(s, ref);
	if (c.rc == 0 && ino->xattr)
		c.rc = sync_block(s, ino->xattr);
	if (c.rc == 0 && ino->data && type != MM_IFCHR && type != MM_IFBLK) {
		c.rc = sync_block(s, ino->data);
		kind_children(s, ino->data, sync_child, &c);
	}
	if (c.rc == 0 && msync(s->base, MM_PAGE, MS_SYNC) != 0)
		c.rc = -errno;
	arena_unlock(s);
	return c.rc;
}

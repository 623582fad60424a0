/* ring.c -- ring-log records over the store (see ring.h, format.h RING).
 *
 * Invariants of a RING block r (C = r->capacity):
 *   1. r->head <= r->tail and r->tail - r->head <= C;
 *   2. if head < tail, a record starts at head (its bit is set);
 *   3. bits are set exactly for record starts in [head, tail).
 * Append order (each step one store, so a crash between steps leaves a
 * valid ring holding whole records): advance head past evicted records,
 * clear their bits, copy the record past tail, set its bit, store tail.
 * Recovery calls ring_repair to re-establish 2 and 3 after a crash.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "format.h"
#include "ring.h"
#include "store_kind.h"

_Static_assert(RING_KIND == MM_RING, "ring.h names format.h's kind");
_Static_assert(RING_CAPACITY_MIN == MM_RING_MIN &&
	       RING_CAPACITY_MAX == MM_RING_MAX, "ring.h names its limits");

static unsigned char *bitmap(struct mm_ring *r)
{
	return r->bytes + r->capacity;
}

static bool bit(struct mm_ring *r, uint64_t v)
{
	uint64_t p = v % r->capacity;

	return bitmap(r)[p / 8] >> (p % 8) & 1;
}

static void set_bit(struct mm_ring *r, uint64_t v, bool on)
{
	uint64_t p = v % r->capacity;

	if (on)
		bitmap(r)[p / 8] |= (unsigned char)(1u << (p % 8));
	else
		bitmap(r)[p / 8] &= (unsigned char)~(1u << (p % 8));
}

/* First record start in (from, to), or to, in the data bytes of a ring
 * of capacity cap (its bitmap follows them). */
static uint64_t scan_next(const unsigned char *bytes, uint64_t cap,
			  uint64_t from, uint64_t to)
{
	const unsigned char *map = bytes + cap;

	for (uint64_t v = from + 1; v < to; v++) {
		uint64_t p = v % cap;

		if (p % 8 == 0 && map[p / 8] == 0 && v + 8 <= to) {
			v += 7;
			continue;
		}
		if (map[p / 8] >> (p % 8) & 1)
			return v;
	}
	return to;
}

static uint64_t next_start(struct mm_ring *r, uint64_t from, uint64_t to)
{
	return scan_next(r->bytes, r->capacity, from, to);
}

/* Last record start in (from, to], or 0 when there is none. */
static uint64_t last_start(struct mm_ring *r, uint64_t from, uint64_t to)
{
	for (uint64_t v = to; v > from; v--)
		if (bit(r, v))
			return v;
	return 0;
}

/* Copy n bytes from virtual offset v of a ring of capacity cap. */
static void scan_copy(const unsigned char *bytes, uint64_t cap, uint64_t v,
		      unsigned char *dst, size_t n)
{
	uint64_t p = v % cap, first = cap - p;

	if (first > n)
		first = n;
	memcpy(dst, bytes + p, first);
	memcpy(dst + first, bytes, n - first);
}

static void copy_out(struct mm_ring *r, uint64_t v, unsigned char *dst,
		     size_t n)
{
	scan_copy(r->bytes, r->capacity, v, dst, n);
}

static void copy_in(struct mm_ring *r, uint64_t v, const unsigned char *src,
		    size_t n)
{
	uint64_t p = v % r->capacity, first = r->capacity - p;

	if (first > n)
		first = n;
	memcpy(r->bytes + p, src, first);
	memcpy(r->bytes, src + first, n - first);
}

/* Copy the record [v, end) of old into r at the same virtual offsets. */
static void copy_record(struct mm_ring *old, struct mm_ring *r, uint64_t v,
			uint64_t end)
{
	unsigned char chunk[4096];

	set_bit(r, v, true);
	r->records++;
	for (uint64_t c = v; c < end; c += sizeof(chunk)) {
		size_t n = end - c < sizeof(chunk) ? end - c : sizeof(chunk);

		copy_out(old, c, chunk, n);
		copy_in(r, c, chunk, n);
	}
}

bool ring_name(const char *name)
{
	size_t len = strlen(name), slen = sizeof(RING_SUFFIX) - 1;

	return len > slen && strcmp(name + len - slen, RING_SUFFIX) == 0;
}

/* A new empty RING block (arena lock held); nothing references it. */
static int block_new(struct store *s, uint64_t capacity, uint64_t *out)
{
	struct mm_ring *r;
	int rc;

	if (capacity < MM_RING_MIN || capacity > MM_RING_MAX)
		return -EINVAL;         /* (ring_size is the header's word) */
	/* Only the header and the bitmap are read before they are written:
	 * the data bytes are read only inside [head, tail). */
	rc = store_kind_alloc_raw(s, MM_RING, sizeof(*r) + capacity +
				  MM_RING_BITMAP(capacity), out);
	if (rc)
		return rc;
	r = store_kind_payload(s, *out);
	memset(r, 0, sizeof(*r));
	r->capacity = capacity;
	memset(bitmap(r), 0, MM_RING_BITMAP(capacity));
	return 0;
}

static int replace(struct store *s, store_ref ref, struct mm_ring *old,
		   uint64_t capacity, bool clear);

/* Re-establish invariants 1-3 (recovery).  A tail near 2^64 (centuries of
 * appends) would overflow the offsets: such a ring is emptied. */
static void repair(void *payload)
{
	struct mm_ring *r = payload;
	uint64_t gap;

	if (r->tail > RING_TAIL_MAX)
		r->head = r->tail = 0;
	if (r->head > r->tail || r->tail - r->head > r->capacity)
		r->head = r->tail;
	if (r->head < r->tail && !bit(r, r->head))
		r->head = next_start(r, r->head, r->tail);
	gap = r->capacity - (r->tail - r->head);
	for (uint64_t i = 0; i < gap; i++)
		set_bit(r, r->tail + i, false);
	r->records = 0;
	for (uint64_t v = r->head; v < r->tail; v = next_start(r, v, r->tail))
		r->records++;
}

/* Truncate with the arena lock held (store_setattr): only to 0, which
 * clears the ring. */
static int truncate_locked(struct store *s, store_ref ref, void *payload,
			   uint64_t size)
{
	struct mm_ring *r = payload;

	return size ? -EINVAL : replace(s, ref, r, r->capacity, true);
}

static size_t need(const void *payload)
{
	uint64_t cap = ((const struct mm_ring *)payload)->capacity;

	if (cap < MM_RING_MIN || cap > UINT32_MAX)
		return SIZE_MAX;
	return sizeof(struct mm_ring) + cap + MM_RING_BITMAP(cap);
}

static uint64_t size_of(const void *payload)
{
	return ((const struct mm_ring *)payload)->tail;
}

static const char *verify(const void *payload, char *buf, size_t len)
{
	const struct mm_ring *r = payload;

	if (r->head <= r->tail && r->tail - r->head <= r->capacity &&
	    r->tail <= RING_TAIL_MAX)
		return NULL;
	snprintf(buf, len, "ring head %" PRIu64 " and tail %" PRIu64
		 " out of order", r->head, r->tail);
	return buf;
}

static const struct store_kind ring_kind = {
	.kind = MM_RING,
	.inode_flag = MM_INODE_RING,
	.name = "ring",
	.need = need,
	.size = size_of,
	.repair = repair,
	.verify = verify,
	.truncate = truncate_locked,
};

int ring_register(void)
{
	return store_define_kind(&ring_kind);
}

static int begin(struct store *s, store_ref ref, struct mm_ring **r)
{
	return store_kind_enter(s, ref, MM_RING, (void **)r);
}

/* A file named name in dir that is a new empty ring of the arena's
 * default capacity. */
int ring_create(struct store *s, store_ref dir, const char *name,
		uint32_t mode, uint32_t uid, uint32_t gid, store_ref *out,
		struct store_attr *attr)
{
	return ring_create_with(s, dir, name, mode, uid, gid, NULL, 0, out,
				attr);
}

int ring_create_with(struct store *s, store_ref dir, const char *name,
		     uint32_t mode, uint32_t uid, uint32_t gid,
		     const struct store_xattr *x, size_t n, store_ref *out,
		     struct store_attr *attr)
{
	uint64_t block;
	int rc = store_kind_lock(s);

	if (rc)
		return rc;
	rc = block_new(s, store_kind_default_capacity(s), &block);
	if (rc == 0)
		rc = store_kind_create(s, dir, name, mode, uid, gid, MM_RING,
				       block, x, n, out, attr);
	store_kind_unlock(s);
	return rc;
}

ssize_t ring_append(struct store *s, store_ref ref, const void *buf,
		    size_t len)
{
	struct mm_ring *r;
	ssize_t rc;

	if (store_readonly(s))
		return -EROFS;
	rc = begin(s, ref, &r);
	if (rc)
		return rc;
	rc = store_kind_may_change(s, ref, true);       /* immutable? */
	if (rc == 0 && (len > r->capacity || len > RING_TAIL_MAX - r->tail))
		rc = -EFBIG;            /* (the tail: after 2^62 bytes) */
	if (rc) {
		store_kind_leave(s, ref, false);
		return rc;
	}
	while (r->tail + len - r->head > r->capacity) {
		uint64_t old = r->head;

		store_commit64(&r->head, next_start(r, old, r->tail));
		set_bit(r, old, false);
		r->records--;
	}
	if (len) {
		copy_in(r, r->tail, buf, len);
		set_bit(r, r->tail, true);
		r->records++;
		store_commit64(&r->tail, r->tail + len);
	}
	store_kind_leave(s, ref, len != 0);
	return (ssize_t)len;
}

/* Bytes a sequential reader may take from v: whole records up to size. */
static size_t whole_records(struct mm_ring *r, uint64_t v, size_t n)
{
	uint64_t end;

	if (v + n >= r->tail)
		return n;
	end = last_start(r, v, v + n);
	return end ? end - v : n;
}

ssize_t ring_read(struct store *s, store_ref ref, struct ring_reader *rd,
		  uint64_t off, void *buf, size_t size)
{
	struct mm_ring *r;
	bool sequential = off == rd->next;
	uint64_t v;
	size_t n = 0;
	ssize_t rc = begin(s, ref, &r);

	if (rc)
		return rc;
	if (!sequential)
		rd->skew = 0;
	v = off + rd->skew;
	if (v < r->head) {            /* fell behind: skip evicted records */
		rd->skew += r->head - v;
		v = r->head;
	}
	if (v < r->tail) {
		n = r->tail - v < size ? r->tail - v : size;
		if (sequential)
			n = whole_records(r, v, n);
		copy_out(r, v, buf, n);
	}
	rd->next = off + n;
	store_kind_leave(s, ref, false);
	return (ssize_t)n;
}

struct next {
	uint64_t from;             /* the reader's virtual offset */
	void *buf;
	size_t size;
	uint64_t to;               /* out: where it goes on from */
};

#define LOAD(x) __atomic_load_n(&(x), __ATOMIC_RELAXED)

/* ring_next as a lock-free reader (store_kind_peek): each field is read
 * once and checked before it is used, so whatever the block holds
 * nothing outside it is read; a loop goes at most capacity steps. */
static ssize_t next_peek(void *ctx, const void *payload, size_t len)
{
	const struct mm_ring *r = payload;
	struct next *n = ctx;
	uint64_t cap = LOAD(r->capacity), head = LOAD(r->head);
	uint64_t tail = LOAD(r->tail), v = n->from, end;

	if (len < sizeof(*r) || cap < MM_RING_MIN || cap > MM_RING_MAX ||
	    len - sizeof(*r) < cap + MM_RING_BITMAP(cap) || head > tail ||
	    tail - head > cap)
		return -EUCLEAN;
	if (v < head || v > tail)         /* evicted, or the ring cleared */
		v = head;
	n->to = v;
	if (v == tail)
		return 0;
	end = scan_next(r->bytes, cap, v, tail);
	if (end - v > n->size)
		return -EMSGSIZE;
	scan_copy(r->bytes, cap, v, n->buf, end - v);
	n->to = end;
	return (ssize_t)(end - v);
}

ssize_t ring_next(struct store *s, store_ref ref, uint64_t *pos, void *buf,
		  size_t size)
{
	struct next n = { .from = *pos, .buf = buf, .size = size };
	ssize_t rc = store_kind_peek(s, ref, MM_RING, next_peek, &n);

	if (rc >= 0 || rc == -EMSGSIZE)
		*pos = n.to;
	return rc;
}

/* Publish a new ring block holding the newest whole records of old that
 * fit in capacity (none when clear).  Arena lock held. */
static int replace(struct store *s, store_ref ref, struct mm_ring *old,
		   uint64_t capacity, bool clear)
{
	struct mm_ring *r;
	uint64_t block, from;
	int rc = block_new(s, capacity, &block);

	if (rc)
		return rc;
	r = store_kind_payload(s, block);
	if (!clear) {
		from = old->tail - old->head > capacity ?
		       next_start(old, old->tail - capacity - 1, old->tail) :
		       old->head;
		for (uint64_t v = from; v < old->tail;
		     v = next_start(old, v, old->tail))
			copy_record(old, r, v, next_start(old, v, old->tail));
		r->head = from;
		r->tail = old->tail;
	}
	store_kind_publish(s, ref, block);
	return 0;
}

int ring_clear(struct store *s, store_ref ref)
{
	struct mm_ring *r;
	int rc;

	if (store_readonly(s))
		return -EROFS;
	rc = begin(s, ref, &r);
	if (rc)
		return rc;
	rc = store_kind_may_change(s, ref, false);
	if (rc == 0)
		rc = replace(s, ref, r, r->capacity, true);
	store_kind_leave(s, ref, false);
	return rc;
}

int ring_set_capacity(struct store *s, store_ref ref, uint64_t capacity)
{
	struct mm_ring *r;
	int rc;

	if (store_readonly(s))
		return -EROFS;
	if (capacity < MM_RING_MIN || capacity > MM_RING_MAX)
		return -EINVAL;
	rc = begin(s, ref, &r);
	if (rc)
		return rc;
	rc = store_kind_may_change(s, ref, false);
	if (rc == 0 && capacity > store_kind_size_cap(s))
		rc = -ENOSPC;
	else if (rc == 0 && capacity != r->capacity)
		rc = replace(s, ref, r, capacity, false);
	store_kind_leave(s, ref, false);
	return rc;
}

int ring_stat(struct store *s, store_ref ref, struct ring_stat *st)
{
	struct mm_ring *r;
	int rc = begin(s, ref, &r);

	if (rc)
		return rc;
	st->capacity = r->capacity;
	st->head = r->head;
	st->tail = r->tail;
	st->records = r->records;
	store_kind_leave(s, ref, false);
	return 0;
}

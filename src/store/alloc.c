/* alloc.c -- the block allocator.
 *
 * Blocks are carved from the heap [4096, brk) and the bump region past brk.
 * Free blocks of 16..1024 bytes sit on exact-size lists; larger ones on
 * power-of-two bins.  An allocation tries, in order: the exact list, a
 * split of a larger free block, the bump region (growing the file), and
 * finally a full coalescing pass (mm_alloc_rebuild) before -ENOSPC.
 *
 * Invariants, true between any two stores (so the heap can be walked after
 * a crash):
 *   1. [4096, brk) is a sequence of blocks whose headers pass
 *      mm_header_ok and whose sizes tile it exactly.
 *   2. A block's header is written with one 8-byte store.  A split first
 *      writes the tail's header inside the still-free block, then shrinks
 *      the head; a merge only grows the first block's size.
 *   3. Free lists, `used` and free-list heads are derived: rebuilt by
 *      mm_alloc_rebuild, which recovery calls.
 *   4. Freeing a block of PUNCH_MIN (64 KiB) or more punches a hole over its
 *      whole pages, so the memory (or disk) goes back to the system; such
 *      a block carries MM_BLOCK_PUNCHED and is fallocate()d again before it
 *      is handed out, so a full /dev/shm shows up as ENOSPC, never SIGBUS.
 *   5. The punch reserve: but in a hole punch (s->use_reserve), nothing is
 *      allocated that would leave less than mm_reserve() bytes below the
 *      cap.  A punch copies the chunks it zeroes in part before it frees
 *      them (falloc.c), so on an otherwise full arena this is what lets
 *      it give space back, as a root reserve does on other file systems.
 */
#include <errno.h>
#include <fcntl.h>

#include "store_int.h"

#define BIN_PROBES 64
#define PUNCH_MIN MM_CHUNK        /* a large file's chunk and up */
#define ZERO_MAX 1024u           /* blocks zeroed on allocation */

size_t mm_block_size_for(size_t payload)
{
	size_t size = (payload + sizeof(struct mm_block) + MM_ALIGN - 1) &
		      ~(size_t)(MM_ALIGN - 1);

	return size < MM_ALIGN ? MM_ALIGN : size;
}

static unsigned list_index(uint64_t size)
{
	unsigned log2 = 63 - (unsigned)__builtin_clzll(size);

	if (size <= 1024)
		return (unsigned)(size / MM_ALIGN) - 1;
	log2 = MM_NSMALL + log2 - 10;
	return log2 < MM_NFREE ? log2 : MM_NFREE - 1;
}

static void set_header_flags(struct store *s, uint64_t off, uint32_t size,
			     unsigned kind, unsigned flags)
{
	union {
		struct mm_block b;
		uint64_t word;
	} h = { .b = { size, (uint8_t)kind, (uint8_t)flags,
		       MM_BLOCK_CHECK(size, kind) } };

	mm_commit64((uint64_t *)mm_block(s, off), h.word);
}

void mm_set_header(struct store *s, uint64_t off, uint32_t size,
		   unsigned kind)
{
	set_header_flags(s, off, size, kind, 0);
}

static bool punch(struct store *s, uint64_t off, uint32_t size)
{
	uint64_t from = (off + 16 + MM_PAGE - 1) / MM_PAGE * MM_PAGE;
	uint64_t to = (off + size) / MM_PAGE * MM_PAGE;

	if (size < PUNCH_MIN || to <= from || s->fd < 0 || s->private_map)
		return false;
	return fallocate(s->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			 (off_t)from, (off_t)(to - from)) == 0;
}

/* Back a punched free block with pages again before handing it out (a
 * private copy never writes to the file: its holes read as zeros). */
static int refill(struct store *s, uint64_t off)
{
	struct mm_block *b = mm_block(s, off);

	if (!(b->flags & MM_BLOCK_PUNCHED) || s->private_map)
		return 0;
	if (fallocate(s->fd, 0, (off_t)off, (off_t)b->size) != 0)
		return -ENOSPC;
	set_header_flags(s, off, b->size, MM_FREE, 0);
	return 0;
}

bool mm_header_ok(const struct store *s, uint64_t off)
{
	const struct mm_block *b;

	if (off < MM_PAGE || off % MM_ALIGN || off + 16 > s->hdr->brk)
		return false;
	b = mm_block(s, off);
	return b->size >= MM_ALIGN && b->size % MM_ALIGN == 0 &&
	       b->kind >= MM_FREE && b->kind <= MM_KIND_MAX &&
	       b->check == MM_BLOCK_CHECK(b->size, b->kind) &&
	       off + b->size <= s->hdr->brk;
}

static uint64_t *next_of(struct store *s, uint64_t off)
{
	return mm_payload(s, off);
}

static void push_free(struct store *s, uint64_t off)
{
	unsigned i = list_index(mm_block(s, off)->size);

	*next_of(s, off) = s->hdr->free[i];
	s->hdr->free[i] = off;
}

/* Unlink the first block of list i whose size is at least size. */
static uint64_t take_fit(struct store *s, unsigned i, uint64_t size)
{
	uint64_t *link = &s->hdr->free[i];
	int probes = 0;

	while (*link && probes++ < BIN_PROBES) {
		uint64_t off = *link;

		if (mm_block(s, off)->size >= size) {
			*link = *next_of(s, off);
			return off;
		}
		link = next_of(s, off);
	}
	return 0;
}

static uint64_t take_free(struct store *s, uint64_t size)
{
	for (unsigned i = list_index(size); i < MM_NFREE; i++) {
		uint64_t off = take_fit(s, i, size);

		if (off)
			return off;
	}
	return 0;
}

/* Turn free block off into an allocated block of size bytes, returning the
 * tail to the free lists (invariant 2).  A small block's payload is zeroed
 * before its header says what it is, so a crash never leaves a block whose
 * stale bytes look like content (a dentry's state byte, say). */
static void carve(struct store *s, uint64_t off, uint64_t size,
		  unsigned kind)
{
	uint64_t have = mm_block(s, off)->size;

	if (have - size >= MM_ALIGN) {
		mm_set_header(s, off + size, (uint32_t)(have - size), MM_FREE);
		push_free(s, off + size);
	} else {
		size = have;
	}
	if (size <= ZERO_MAX)
		memset(mm_payload(s, off), 0, size - sizeof(struct mm_block));
	mm_set_header(s, off, (uint32_t)size, kind);
	s->hdr->used += size;
}

static int bump(struct store *s, uint64_t size, uint64_t *out)
{
	uint64_t off = s->hdr->brk;
	int rc = arena_grow(s, off + size);

	if (rc)
		return rc;
	mm_set_header(s, off, (uint32_t)size, MM_FREE);
	mm_commit64(&s->hdr->brk, off + size);
	*out = off;
	return 0;
}

static int alloc_once(struct store *s, uint64_t size, unsigned kind,
		      uint64_t *out)
{
	uint64_t off = take_free(s, size);

	if (off && refill(s, off) != 0) {
		push_free(s, off);
		return -ENOSPC;
	}
	if (!off && bump(s, size, &off) != 0)
		return -ENOSPC;
	carve(s, off, size, kind);
	*out = off;
	return 0;
}

/* Two chunks (a punch zeroes the ends of its range in at most two) and a
 * map of MM_PAGE / 8 slots (a 32 MiB file; a punch of two chunks copies
 * its map), and a third chunk: the map may be split off a free block of a
 * chunk's size.  But at most an eighth of a small cap. */
uint64_t mm_reserve(const struct store *s)
{
	uint64_t want = 3 * mm_block_size_for(MM_CHUNK) + MM_PAGE;
	uint64_t eighth = s->hdr->size_cap / 8;

	return want < eighth ? want : eighth;
}

uint64_t mm_room(const struct store *s)
{
	const struct mm_header *h = s->hdr;
	uint64_t limit = h->size_cap - (s->use_reserve ? 0 : mm_reserve(s));

	return limit > h->used ? limit - h->used : 0;
}

int mm_alloc(struct store *s, unsigned kind, size_t payload, uint64_t *out)
{
	size_t size = mm_block_size_for(payload);

	if (size > UINT32_MAX - MM_PAGE || s->readonly || size > mm_room(s))
		return -ENOSPC;
	if (alloc_once(s, size, kind, out) == 0)
		return 0;
	mm_alloc_rebuild(s);
	return alloc_once(s, size, kind, out);
}

int mm_zalloc(struct store *s, unsigned kind, size_t payload, uint64_t *out)
{
	int rc = mm_alloc(s, kind, payload, out);

	if (rc == 0)
		memset(mm_payload(s, *out), 0, mm_payload_size(s, *out));
	return rc;
}

void mm_free(struct store *s, uint64_t off)
{
	uint32_t size = mm_block(s, off)->size;

	set_header_flags(s, off, size, MM_FREE,
			 punch(s, off, size) ? MM_BLOCK_PUNCHED : 0);
	push_free(s, off);
	s->hdr->used -= size;
}

/* Walk the heap: merge runs of free blocks, give a free tail back to the
 * bump region, rebuild every list and `used`.  O(blocks). */
void mm_alloc_rebuild(struct store *s)
{
	struct mm_header *h = s->hdr;
	uint64_t off = MM_PAGE, last_free = 0, used = MM_PAGE;

	memset(h->free, 0, sizeof(h->free));
	while (off < h->brk) {
		struct mm_block *b = mm_block(s, off);

		if (b->kind != MM_FREE) {
			used += b->size;
			last_free = 0;
			off += b->size;
			continue;
		}
		while (off + b->size < h->brk &&
		       mm_block(s, off + b->size)->kind == MM_FREE &&
		       (uint64_t)b->size + mm_block(s, off + b->size)->size <=
		       UINT32_MAX - MM_PAGE) {
			struct mm_block *n = mm_block(s, off + b->size);

			set_header_flags(s, off, b->size + n->size, MM_FREE,
					 (b->flags | n->flags) &
					 MM_BLOCK_PUNCHED);
		}
		last_free = off;
		off += b->size;
	}
	if (last_free)
		mm_commit64(&h->brk, last_free);
	for_each_block(s, free_off)
		if (mm_block(s, free_off)->kind == MM_FREE)
			push_free(s, free_off);
	h->used = used;
}

/* ring.h -- ring logs: fixed-size cyclic files of whole records.
 *
 * A ring is a regular file created under a name ending in ".ring".  Its
 * storage is one RING block of fixed capacity (format.h); it never grows.
 *
 *   - Every write(2) is one record, appended at the end whatever the file
 *     offset.  When the ring is full the oldest whole records are evicted,
 *     so the retained bytes always start at a record boundary.  A record
 *     larger than the capacity is refused with EFBIG (nothing is evicted).
 *   - The log is a stream of virtual offsets: st_size is the offset past
 *     the newest byte and only grows (until the ring is cleared), so tools
 *     that follow a growing file (tail -f) work.  Bytes [head, tail) are
 *     retained; a positional read there returns exactly those bytes.
 *   - A reader that continues where its previous read ended (sequential)
 *     is given whole records only, and, if it fell behind the oldest
 *     retained record, continues from that record: it skips evicted
 *     records but never sees part of one or one twice.  struct
 *     ring_reader (one per open file) remembers where it was.
 *   - Truncating to 0 clears the ring (st_size returns to 0); the capacity
 *     can be changed, keeping the newest records that fit.
 *
 * Layering: rings sit above the store.  This module alone knows the
 * ".ring" rule (ring_name) and the RING block's rules; the store sees them
 * only through the callbacks ring_register gives it (store_kind.h), and
 * reports a ring's files with store_attr.kind == RING_KIND.
 *
 * All functions but ring_next take the arena lock; they return -errno on
 * failure.
 * Common errors: -ESTALE (ref is no inode), -EINVAL (ref is not a ring),
 * -EROFS (a change on a read-only store).
 */
#ifndef MMFS_RING_H
#define MMFS_RING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "store.h"

#define RING_SUFFIX ".ring"
#define RING_KIND 10u                 /* store_attr.kind of a ring */
#define RING_TAIL_MAX (1ULL << 62)    /* st_size limit: appends past it
                                         fail (EFBIG), recovery empties a
                                         ring beyond it */
#define RING_CAPACITY_XATTR "user.mmfs.capacity"
#define RING_CAPACITY_MIN 64ULL               /* a ring's capacity in */
#define RING_CAPACITY_MAX 2147483647ULL       /* bytes: 64 to 2 GiB - 1 */

struct ring_reader {
	uint64_t next;     /* file offset where the previous read ended */
	uint64_t skew;     /* virtual offset = file offset + skew */
};

struct ring_stat {
	uint64_t capacity, head, tail, records;
};

/* Tell the store what rings are (store_define_kind).  Every program that
 * opens arenas calls it once first: store_open refuses to work without
 * it.  Returns 0, or -EINVAL/-EEXIST (a build mismatch). */
int ring_register(void);

/* Does a regular file with this name become a ring?  (ends in ".ring") */
bool ring_name(const char *name);
/* Create name in dir as an empty ring of the arena's default capacity.
 * Errors as store_mknod; -EINVAL when the default is not a valid
 * capacity. */
int ring_create(struct store *s, store_ref dir, const char *name,
		uint32_t mode, uint32_t uid, uint32_t gid, store_ref *out,
		struct store_attr *attr);
/* ring_create, with the n extended attributes x set in the same commit
 * (store_mknod_with). */
int ring_create_with(struct store *s, store_ref dir, const char *name,
		     uint32_t mode, uint32_t uid, uint32_t gid,
		     const struct store_xattr *x, size_t n, store_ref *out,
		     struct store_attr *attr);

/* Append one record of len bytes (0: nothing happens); returns len.
 * -EFBIG: len over the capacity, or the tail would pass RING_TAIL_MAX
 * (nothing is evicted); -EPERM: the ring is immutable (chattr +i;
 * append-only rings take appends: store.h, "Attribute flags"). */
ssize_t ring_append(struct store *s, store_ref ref, const void *buf,
		    size_t len);
/* Read at file offset off into buf (see above: r makes it sequential);
 * returns the bytes given, 0 at the end. */
ssize_t ring_read(struct store *s, store_ref ref, struct ring_reader *r,
		  uint64_t off, void *buf, size_t size);
/* The record at virtual offset *pos, or the oldest retained one if that
 * was evicted or the ring was cleared: copied to buf, *pos moved past it;
 * returns its length, 0 when there is none yet (*pos is the tail), or
 * -EMSGSIZE when it is longer than size (*pos is at it).  A lock-free
 * reader (store_kind_peek), so it works on read-only (STORE_OPEN_PEEK)
 * stores too, whatever the arena holds; and it has store_get's errors
 * (-EAGAIN, -EUCLEAN...). */
ssize_t ring_next(struct store *s, store_ref ref, uint64_t *pos, void *buf,
		  size_t size);
/* Drop every record (st_size returns to 0).  -ENOSPC: no room for the
 * new empty block (the old one is freed only after); -EPERM: the ring is
 * immutable or append-only. */
int ring_clear(struct store *s, store_ref ref);
/* New capacity in bytes (RING_CAPACITY_MIN to RING_CAPACITY_MAX, and no
 * more than the arena's cap); keeps the newest whole records that fit.
 * -EINVAL: outside those limits; -ENOSPC: over the arena's cap, or no
 * room for the new block; -EPERM: immutable or append-only. */
int ring_set_capacity(struct store *s, store_ref ref, uint64_t capacity);
/* Capacity, head, tail and records.  Never -EROFS. */
int ring_stat(struct store *s, store_ref ref, struct ring_stat *st);

#endif

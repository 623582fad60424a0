/* store_kind.h -- how a layer above the store adds a kind of file.
 *
 * The store keeps bytes, directories and special files itself.  A layer
 * above it (src/ring, the only one) gives some regular files a content of
 * its own: one block of an extension kind that format.h defines (RING),
 * referenced by inode->data, the inode carrying the kind's flag.  The
 * store never interprets such a block: the layer tells it what it must
 * know (struct store_kind) once per process, before the first store_open,
 * and works on the block through the calls below.  This header is for
 * src/ring only; the rest of mmfs sees store.h and ring.h.
 *
 * Locking: store_kind_enter takes the arena lock and store_kind_leave
 * releases it; alloc, payload, publish and discard need it held, as do the
 * callbacks the store makes (truncate runs inside store_setattr).
 * Crash safety: a new block is filled while nothing references it and
 * published by one 8-byte store (store_kind_publish), as format.h's
 * commit points require; the layer's own in-place changes must follow
 * the same rule within its block.
 */
#ifndef MMFS_STORE_KIND_H
#define MMFS_STORE_KIND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <stdatomic.h>

#include "store.h"

/* One aligned 8-byte store with release order: the commit primitive of
 * format.h, for changes made in place inside a published block. */
static inline void store_commit64(uint64_t *field, uint64_t value)
{
	atomic_store_explicit((_Atomic uint64_t *)field, value,
			      memory_order_release);
}

struct store_kind {
	unsigned kind;            /* the block kind (format.h enum mm_kind) */
	uint32_t inode_flag;      /* the inode flag its files carry */
	const char *name;         /* "ring": census, messages, layouts */
	/* Payload bytes the block's own fields require, SIZE_MAX when they
	 * are out of range.  Reads only the fixed fields. */
	size_t (*need)(const void *payload);
	/* The st_size of a file whose content this is. */
	uint64_t (*size)(const void *payload);
	/* Recovery: re-establish the payload's invariants after a crash. */
	void (*repair)(void *payload);
	/* The checker: NULL, or a one-line problem written into buf. */
	const char *(*verify)(const void *payload, char *buf, size_t len);
	/* truncate(2) of such a file, arena lock held: 0 or -errno. */
	int (*truncate)(struct store *s, store_ref ref, void *payload,
			uint64_t size);
};

/* Define an extension kind for this process.  -EINVAL: not an extension
 * kind of format.h, or a callback is missing; -EEXIST: already defined
 * differently.  Defining the same table twice is a no-op. */
int store_define_kind(const struct store_kind *k);

/* Lock the arena for work on the file ref whose content is of this kind;
 * *payload is its block's.  -ESTALE: ref is no inode; -EINVAL: a file of
 * another kind.  On error the lock is not held. */
int store_kind_enter(struct store *s, store_ref ref, unsigned kind,
		     void **payload);
/* Unlock; changed: set the file's mtime and ctime to now first. */
void store_kind_leave(struct store *s, store_ref ref, bool changed);
/* May the file ref change (lock held: after store_kind_enter)?  0, or
 * -EPERM: it is immutable, or append-only and this is no append
 * (store.h, "Attribute flags"). */
int store_kind_may_change(struct store *s, store_ref ref, bool appending);

/* A lock-free reader of the file ref whose content is of this kind (as
 * store_get reads values: format.h, "Lock-free readers"), for every
 * store, read-only (STORE_OPEN_PEEK) ones included, which can take no
 * lock.  fn gets the payload of the file's block and its length in
 * bytes, checked to lie in the arena; it must read nothing outside them
 * and trust nothing inside (another process may be changing it, or the
 * arena be damaged): every field it reads may hold anything, and it
 * reads each once.  It copies out what it wants into ctx and returns a
 * length or -errno, -EUCLEAN when the payload breaks the kind's rules.
 * What it returns stands only if no process held the arena lock
 * meanwhile: else fn runs again (-EUCLEAN too: only then is it an
 * answer, the payload's own).  Returns fn's answer, or -ESTALE (ref is no
 * inode), -EINVAL (a file of another kind), or the errors of store_get
 * (-EAGAIN...). */
typedef ssize_t (*store_kind_peek_fn)(void *ctx, const void *payload,
				      size_t len);
ssize_t store_kind_peek(struct store *s, store_ref ref, unsigned kind,
			store_kind_peek_fn fn, void *ctx);

/* A new zeroed block of the kind with payload bytes (lock held): nothing
 * references it yet.  -ENOSPC when the arena is full, -EROFS. */
int store_kind_alloc(struct store *s, unsigned kind, size_t payload,
		     uint64_t *block);
/* The same, not zeroed: the payload holds whatever the arena held there
 * (the kind zeroes what it reads; for a large block that nothing reads
 * yet, zeroing would only touch pages). */
int store_kind_alloc_raw(struct store *s, unsigned kind, size_t payload,
			 uint64_t *block);
void *store_kind_payload(struct store *s, uint64_t block);
/* Make block the content of ref (one 8-byte store) and free the old. */
void store_kind_publish(struct store *s, store_ref ref, uint64_t block);
/* Free a block that was never published. */
void store_kind_discard(struct store *s, uint64_t block);

/* Create a regular file named name in dir whose content is block (from
 * store_kind_alloc; the caller holds the lock through store_kind_lock),
 * with the n extended attributes x (store_mknod_with).  Errors as
 * store_mknod_with; on error the block is freed. */
int store_kind_create(struct store *s, store_ref dir, const char *name,
		      uint32_t mode, uint32_t uid, uint32_t gid,
		      unsigned kind, uint64_t block,
		      const struct store_xattr *x, size_t n, store_ref *out,
		      struct store_attr *attr);
/* The arena lock for store_kind_alloc + store_kind_create: -EROFS. */
int store_kind_lock(struct store *s);
void store_kind_unlock(struct store *s);

/* The arena's size cap and its default capacity of new extension files
 * (the header's ring_size), read without the lock (both are fixed while
 * the store is open). */
uint64_t store_kind_size_cap(const struct store *s);
uint64_t store_kind_default_capacity(const struct store *s);

#endif

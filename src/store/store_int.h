/* store_int.h -- what the store's modules share, not part of the API.
 *
 * struct store is the process-local handle of a mapped arena.  Offsets are
 * turned into pointers only through the accessors below (one place, like
 * LMDB's NODEPTR), which is also where bounds are assumed: callers pass
 * offsets that came from the arena's own structures, validated on open or by
 * store_valid_ref.
 *
 * Modules: arena.c (open, map, grow, header, the arena lock), alloc.c
 * (blocks and free lists), kind.c (the block-kind table, kind.h, and
 * extension kinds, store_kind.h), ns.c (dentries, index, directories,
 * rename, cursors), handle.c (inodes named by file handles), file.c (file
 * bytes), falloc.c (fallocate: reserving
 * and punching file space), xattr.c, recover.c (recovery), upgrade.c
 * (older formats, during recovery), check.c (the checker, census and
 * extents), store.c (inodes, attributes, holds, statfs), iflags.c
 * (attribute flags and the rules they impose).
 *
 * Layers: src/ring sits above the store and sees format.h and
 * store_kind.h, never this file; everything else sees include/store.h.
 */
#ifndef MMFS_STORE_INT_H
#define MMFS_STORE_INT_H

#include <stdatomic.h>
#include <string.h>
#include <time.h>

#include "format.h"
#include "refmap.h"
#include "store.h"

#define MM_WAKES 8

struct store {
	int fd;
	uint8_t *base;             /* mapping of map_len bytes */
	size_t map_len;
	struct mm_header *hdr;
	bool readonly;             /* no stores to the arena at all */
	bool private_map;          /* read-only serve: MAP_PRIVATE copy */
	struct refmap holds;       /* inode -> store_hold count */
	struct refmap snaps;       /* data block -> snapshots reading it */
	struct refmap pending;     /* fresh blocks a rebuild fills with the
	                              arena lock dropped (file.c) */
	bool shared;               /* other owners may use the arena now
	                              (STORE_OPEN_SHARED, not alone) */
	bool attached;             /* a shared owner (attach lock protocol) */
	bool alone;                /* ... that found nobody else at open */
	bool serving;              /* the server: holds the serving lock */
	bool keep_held;            /* recover_online: another server is
	                              attached; keep what it pins */
	bool library;              /* STORE_OPEN_LIBRARY: pins nothing, and
	                              pushes its changes to the feed */
	bool use_reserve;          /* a hole punch may allocate the punch
	                              reserve (alloc.c); under the lock */
	uint32_t *wakes[MM_WAKES]; /* futex words to wake once the arena
	                              lock is released (mm_wake_later) */
	unsigned nwakes;
	struct store_dir *cursors; /* open directory cursors (ns.c) */
	char recovery[512];        /* what recovery did, "" if it did not run */
	int owner_lock;            /* LOCK_EX or LOCK_SH: the flock an owner
	                              holds (arena.c); 0 for other opens */
	char *created;             /* the path store_open created the arena
	                              at (store_discard), else NULL */
	uint8_t *starts;           /* recovery and the checker, while they run:
	                              block starts below starts_end, one bit
	                              per 16 bytes */
	uint64_t starts_end;
	uint8_t *inode_map;        /* handle.c: INODE block starts below
	                              inode_map_end, one bit per 16 bytes;
	                              NULL until a handle is resolved */
	uint64_t inode_map_end;
};

/* A directory cursor (ns.c): it returns the entries of dir whose
 * position lies in (after, end), in list order. */
struct store_dir {
	struct store *s;
	uint64_t dir;              /* directory inode block */
	uint64_t after;            /* position gone past, 0 = the start */
	uint64_t end;              /* header.next_pos when the pass began */
	uint64_t last;             /* last dentry at or before `after`, 0 =
	                              none: where the next entry is found */
	char name[STORE_NAME_MAX]; /* the entry store_dir_peek returned */
	struct store_dir *next, *prev;  /* s->cursors, under the arena lock */
};

/* Does a block start at off?  A header-shaped word inside another block
 * (a stale header in a merged free block, bytes of a file) is no block,
 * and only the heap walk knows: true when s->starts is not built. */
static inline bool mm_block_start(const struct store *s, uint64_t off)
{
	uint64_t i = off / MM_ALIGN;

	if (!s->starts)
		return true;
	return off < s->starts_end && (s->starts[i / 8] >> (i % 8) & 1);
}

static inline struct mm_block *mm_block(const struct store *s, uint64_t off)
{
	return (struct mm_block *)(s->base + off);
}

static inline void *mm_payload(const struct store *s, uint64_t off)
{
	return s->base + off + sizeof(struct mm_block);
}

static inline size_t mm_payload_size(const struct store *s, uint64_t off)
{
	return mm_block(s, off)->size - sizeof(struct mm_block);
}

static inline struct mm_inode *mm_inode(const struct store *s, uint64_t off)
{
	return mm_payload(s, off);
}

static inline struct mm_dentry *mm_dentry(const struct store *s, uint64_t off)
{
	return mm_payload(s, off);
}

static inline struct mm_dir *mm_dir(const struct store *s, uint64_t inode)
{
	return mm_payload(s, mm_inode(s, inode)->data);
}

/* Typed payloads of the blocks that hold file contents (block offsets). */
static inline struct mm_data *mm_data(const struct store *s, uint64_t off)
{
	return mm_payload(s, off);
}

static inline struct mm_map *mm_map(const struct store *s, uint64_t off)
{
	return mm_payload(s, off);
}

static inline struct mm_xattr_head *mm_xattr(const struct store *s,
					     uint64_t off)
{
	return mm_payload(s, off);
}

static inline uint32_t mm_type(const struct mm_inode *ino)
{
	return ino->mode & MM_IFMT;
}

/* Every block of the heap in address order, by sizes alone.  Where the
 * headers may not tile [4096, brk) (an arena recovery has not seen), the
 * body must check mm_header_ok(s, off) before the loop steps on. */
#define for_each_block(s, off)                                           \
	for (uint64_t off = MM_PAGE; off < (s)->hdr->brk;                 \
	     off += mm_block((s), off)->size)

/* One aligned 8-byte store: the commit primitive (format.h). */
static inline void mm_commit64(uint64_t *field, uint64_t value)
{
	atomic_store_explicit((_Atomic uint64_t *)field, value,
			      memory_order_release);
}

static inline void mm_commit8(uint8_t *field, uint8_t value)
{
	atomic_store_explicit((_Atomic uint8_t *)field, value,
			      memory_order_release);
}

static inline bool mm_is_dir(const struct mm_inode *ino)
{
	return mm_type(ino) == MM_IFDIR;
}

int64_t mm_now(void);

/* iflags.c: attribute flags (store.h, "Attribute flags").  iflags_of
 * gives an inode's as STORE_IFL_* bits.  The rest answer 0 or -EPERM:
 * may the inode's bytes change at all (write), may anything but appends
 * change (change: links, names, attributes, xattrs), may bytes be
 * written at off of a file of size bytes (overwrite), may a directory's
 * entries be added (removing false) or removed and renamed away
 * (removing true)? */
uint32_t iflags_of(const struct mm_inode *ino);
int iflags_deny_write(const struct mm_inode *ino);
int iflags_deny_change(const struct mm_inode *ino);
int iflags_deny_overwrite(const struct mm_inode *ino, uint64_t off,
			  uint64_t size, bool truncate_first);
int iflags_deny_entries(const struct mm_inode *dir, bool removing);

/* The guard every call on an existing inode starts with: take the arena
 * lock; if ref is no inode, release it and return -ESTALE.  Calls that
 * change the arena check store_readonly first (-EROFS). */
int store_enter(struct store *s, store_ref ref);

/* arena.c */
int arena_grow(struct store *s, uint64_t need_end);
void arena_lock(struct store *s);
void arena_unlock(struct store *s);
void file_lock(struct store *s, store_ref ref);
void file_unlock(struct store *s, store_ref ref);

/* alloc.c: blocks.  mm_alloc leaves the payload undefined, mm_zalloc
 * zeroes it.  Both return -ENOSPC when the cap is reached, or the punch
 * reserve unless s->use_reserve.  mm_room: the bytes they may still
 * allocate. */
int mm_alloc(struct store *s, unsigned kind, size_t payload, uint64_t *out);
uint64_t mm_reserve(const struct store *s);
uint64_t mm_room(const struct store *s);
int mm_zalloc(struct store *s, unsigned kind, size_t payload, uint64_t *out);
void mm_free(struct store *s, uint64_t off);
void mm_set_header(struct store *s, uint64_t off, uint32_t size,
		   unsigned kind);
bool mm_header_ok(const struct store *s, uint64_t off);
/* Merge adjacent free blocks, rebuild the free lists and `used`. */
void mm_alloc_rebuild(struct store *s);
size_t mm_block_size_for(size_t payload);

/* ns.c */
uint32_t ns_hash(const struct store *s, uint64_t parent, const char *name,
		 size_t len);
uint64_t ns_find(struct store *s, uint64_t dir, const char *name, size_t len);
void ns_insert(struct store *s, uint64_t dentry);
void ns_remove(struct store *s, uint64_t dentry);
int ns_index_init(struct store *s, uint64_t buckets);
void ns_index_maybe_grow(struct store *s);
/* After a repair: every cursor's `last` found again from its position. */
void ns_cursors_relocate(struct store *s);

/* store.c: inodes */
int inode_new(struct store *s, uint32_t mode, uint32_t uid, uint32_t gid,
	      uint64_t *out);
void inode_free(struct store *s, uint64_t inode);
void inode_drop_link(struct store *s, uint64_t inode);
bool inode_held(const struct store *s, uint64_t inode);
/* One more hold of inode, as store_hold, under the arena lock: 0 or
 * -ENOMEM (nothing changed). */
int inode_hold(struct store *s, uint64_t inode);
void inode_fill_attr(struct store *s, uint64_t inode, struct store_attr *a);
void inode_touch(struct store *s, uint64_t inode, bool mtime, bool ctime);
/* A commit changed what the inode holds (its bytes, its size, its links)
 * or it is being freed: advance its version and wake its waiters
 * (format.h, "Versions and waiters").  Under the arena lock, after the
 * commit and before any block it stopped using can be allocated again. */
void inode_changed(struct store *s, uint64_t inode);
/* A seqlock reader's read barrier: the loads before it happen before the
 * loads after it (peek.c).  gcc refuses fences under ThreadSanitizer,
 * which does not model them; there a compiler barrier stands in (x86 does
 * not reorder loads with loads, and TSan watches one process, while
 * lock-free readers race with writers in others). */
#ifdef __SANITIZE_THREAD__
#define mm_read_barrier() __asm__ __volatile__("" ::: "memory")
#else
#define mm_read_barrier() __atomic_thread_fence(__ATOMIC_ACQUIRE)
#endif

/* The offset of an inode from its payload pointer. */
static inline uint64_t mm_inode_ref(const struct store *s,
				    const struct mm_inode *ino)
{
	return (uint64_t)((const uint8_t *)ino - s->base) -
	       sizeof(struct mm_block);
}
/* A commit to a file's content (format.h, "Commit points"): the one store,
 * then its version, before anything touches the storage it stopped using
 * (freeing writes into a block; truncation zeroes cut-off bytes): a
 * lock-free reader of the old storage sees the version change. */
#define file_commit(s, ino, field, value) do { \
	mm_commit64((field), (value)); \
	inode_changed((s), mm_inode_ref((s), (ino))); \
} while (0)
/* Lock an arena mutex (the arena's or a file's): 0, or EOWNERDEAD when
 * its holder died (the mutex is then marked consistent; what it guarded
 * may be half changed).  Its waits are sliced (format.h, "Locks"). */
int mm_mutex_lock(pthread_mutex_t *mutex);
/* *t = ms milliseconds from now on clock (for timed waits). */
void mm_deadline(clockid_t clock, int ms, struct timespec *t);
/* Wake every process sleeping on a version word (futex, shared). */
void mm_futex_wake(uint32_t *word);
/* The same once the arena lock is released (arena_unlock), under it: a
 * woken process that wants the lock at once does not find it held. */
void mm_wake_later(struct store *s, uint32_t *word);
/* Sleep while *word == expect, up to timeout (NULL: forever): 0 (woken,
 * or *word differed), -ETIMEDOUT, -EINTR. */
int mm_futex_wait(uint32_t *word, uint32_t expect,
		  const struct timespec *timeout);
/* feed.c: wake the server's watcher (a repair is wanted, or changes were
 * pushed); tell it that inode changed (under the arena lock). */
void store_ring_bell(struct store *s);
void feed_push(struct store *s, uint64_t inode);
/* recover.c: repair the arena while other processes use it (a holder of
 * the arena mutex died), keeping what this process pins. */
void recover_online(struct store *s);

/* xattr.c: a new XATTR block holding the n attributes x (0 when n is 0),
 * for a node being made.  0, or -ERANGE, -E2BIG, -ENOSPC as
 * store_setxattr. */
int xattr_build(struct store *s, const struct store_xattr *x, size_t n,
		uint64_t *block);

/* handle.c: inode_new and inode_free tell the map of inode blocks
 * (live: made, else freed), if there is one; handle_finish drops it
 * (store_close, and recovery, which frees without telling). */
void handle_note(struct store *s, uint64_t off, bool live);
void handle_finish(struct store *s);

/* file.c */
void file_free_data(struct store *s, struct mm_inode *ino);
/* file.c for falloc.c: the snapshot rule and the representations. */
bool file_data_held(const struct store *s, const struct mm_inode *ino);
int file_pin(struct store *s, uint64_t block);
ssize_t file_write_locked(struct store *s, store_ref ref, uint64_t off,
			  const void *buf, size_t size, bool truncate_first);
/* Does a snapshot or rebuild, of any process, read block?  (Only the
 * server pins: its count is s->snaps, its flag MM_BLOCK_HELD.) */
static inline bool block_held(const struct store *s, uint64_t block)
{
	return refmap_count(&s->snaps, block) ||
	       (mm_block(s, block)->flags & MM_BLOCK_HELD);
}
void file_data_release(struct store *s, uint64_t block);
void file_read_bytes(const struct store *s, uint64_t data, uint64_t off,
		     unsigned char *dst, size_t n);
void file_zero_map(struct store *s, struct mm_map *m, uint64_t from,
		   uint64_t to);
/* store_close: free what snapshots still open kept (retired blocks). */
void file_drop_snapshots(struct store *s);
int file_truncate(struct store *s, uint64_t inode, uint64_t size);

/* upgrade.c, run by recovery (format.h, "Upgrade from version 1").
 * upgrade_check reads only: 0 when every DENTRY_V1 block the upgrade will
 * copy (LIVE, or added by the rename intent recovery redoes) can be, else
 * -ENOSPC (no room past brk) or -EPROTONOSUPPORT (a store that cannot
 * change), with the reason in why.  upgrade_names raises the version and
 * copies each LIVE DENTRY_V1 into a DENTRY with the next position (*count
 * of them): 0, or -ENOSPC when an allocation failed all the same (the
 * arena is then as after a death in mid-upgrade).  Blocks it adds lie
 * past s->starts_end: the caller walks the heap again. */
int upgrade_check(struct store *s, char *why, size_t whylen);
int upgrade_names(struct store *s, uint64_t *count);

/* recover.c: recovery, and the validators the checker shares with it.
 * Both use the block flag bits MM_SCRATCH_FLAGS while they run and clear
 * them (recover_reachable needs them clear before its first call). */
#define MM_SCRATCH_FLAGS 0xf0u
int recover_run(struct store *s);
/* Walk the heap into s->starts: 0, -ENOMEM, or -EINVAL with *bad the
 * offset of the first header that does not tile [4096, brk). */
int recover_map_starts(struct store *s, uint64_t *bad);
void recover_drop_starts(struct store *s);
bool recover_block_ok(const struct store *s, uint64_t off);
bool recover_name_ok(const char *name, size_t len);
bool recover_xattr_ok(const struct store *s, uint64_t off);
bool recover_reachable(struct store *s, uint64_t dir);

#endif

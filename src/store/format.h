/* format.h -- the mmfs arena file format, version 2.
 *
 * An arena is one file, mapped MAP_SHARED by the daemon that serves it.  It
 * holds offsets, never pointers: every reference is a byte offset from the
 * start of the file (0 means "none").  All integers are little-endian, in
 * the byte order of the machine that created the arena; the magic number
 * reveals a mismatch.
 *
 * Layout
 *
 *   0        4096                                           brk      file_size
 *   +--------+----------------------------------------------+--------+ ... cap
 *   | header | heap: blocks, back to back                   | unused |
 *   +--------+----------------------------------------------+--------+
 *
 * The file is ftruncate()d upwards on demand (sparse) and never beyond
 * size_cap.  The daemon maps size_cap bytes up front (MAP_NORESERVE) and
 * touches only what lies below file_size, so size_cap is at most
 * MM_MAX_ARENA: such a mapping fits any 64-bit process's address space
 * (128 TiB with 4-level page tables) with room to spare.
 *
 * Header (struct mm_header, one 4096-byte page at offset 0)
 *
 *   OFFSET SIZE DESCRIPTION
 *        0    8 magic: MM_MAGIC ("MMFSarn1" as a little-endian u64)
 *        8    4 format version (MM_FORMAT_VERSION); newer ones are refused,
 *               older ones upgraded (see "Upgrade from version 1")
 *       12    4 page size: always 4096 (header size; heap start)
 *       16    8 size_cap: largest file size the arena may grow to, in
 *               [MM_MIN_ARENA, MM_MAX_ARENA]
 *       24    8 file_size: current length of the arena file
 *       32    8 brk: end of the heap; blocks lie in [4096, brk)
 *       40    8 root: offset of the root directory's inode block
 *       48    8 next_ino: next st_ino to hand out; it only grows (recovery
 *               raises it past every live inode's), so an st_ino is never
 *               reused and serves as a file handle's generation
 *       56    8 hash_table: offset of the HASH block indexing names
 *       64    8 hash_buckets: number of buckets (power of two)
 *       72    8 hash_count: entries in the index
 *       80    8 max_files: inode limit
 *       88    8 ring_size: default capacity of new rings, in
 *               [MM_RING_MIN, MM_RING_MAX]
 *       96    8 hash_seed: random seed of the name hash
 *      104    4 clean: 1 when the last owner closed the arena properly
 *      108    4 lock_version: layout version of the process-shared lock
 *      112    8 created: creation time, ns since the epoch
 *      120   40 intent: the rename redo record (struct mm_intent)
 *      160   64 lock: the arena mutex (pthread, robust, process-shared)
 *      224    8 used: bytes in allocated blocks, header included (derived)
 *      232    8 ninodes: live inodes (derived)
 *      240    8 ndirs: live directories (derived)
 *      248    8 nsymlinks: live symbolic links (derived)
 *      256    8 nrings: live ring logs (derived)
 *      264  8*N free: heads of the free lists, N = MM_NFREE (derived)
 *      992    8 next_pos: the next directory position to hand out (see
 *               "Names"); recovery raises it past every live dentry's
 *     1000   24 reserved, zero
 *     1024  512 stats: statistics area (statistics; see below)
 *     1536 2048 file_locks: MM_FILE_LOCKS file writer locks (pthread,
 *               robust, process-shared; see "Locks")
 *     3584    8 gen: the lock generation, odd while a process holds the
 *               arena mutex (see "Lock-free readers")
 *     3592    8 feed_tail: changes pushed to the feed, ever (see "Feed")
 *     3600    4 feed_bell: futex word the server sleeps on (see "Feed")
 *     3604    4 repair: 1 while a repair is wanted (see "Locks")
 *     3608  8*N feed: the last N = MM_FEED_LEN inode offsets pushed
 *     4056    4 server_pid: the server's pid while it serves, else 0 (a
 *               hint for mmfsctl; see "Owners")
 *      ...      zero
 * The fields from gen on were zero in arenas of version 2 written before
 * libmmfs; zero is a valid state for each.
 *
 * Three sorts of fields:
 *   - format (primary): every field not marked otherwise.  They are the
 *     arena; recovery trusts and keeps them.
 *   - derived: marked "(derived)" here and in the structs below, like the
 *     hash index, directory lists, free lists and nlink counts.  Recovery
 *     (recover.c) rebuilds them from the primary data when the arena was
 *     not closed cleanly.
 *   - statistics: the stats area only.  Its layout belongs to the server,
 *     not to this format: mount.mmfs keeps FUSE request counters there,
 *     laid out by src/common/reqstats.h, and mmfsctl stat shows them.  The
 *     store hands it out (store_stats) and never reads, checks, repairs or
 *     resets it; nothing in the store depends on it, and a change of its
 *     layout is no change of the format version.  Zero in a new arena.
 *
 * Blocks
 *
 * The heap is a sequence of blocks, each starting with an 8-byte header:
 *
 *   OFFSET SIZE DESCRIPTION
 *        0    4 size: bytes in the block, header included; a multiple of
 *               16, at least 16.  Block offsets are multiples of 16.
 *        4    1 kind: enum mm_kind (never 0: zeroed memory is no block)
 *        5    1 flags: MM_BLOCK_MARK (recovery's mark bit; 0 on disk),
 *               MM_BLOCK_PUNCHED (a free block whose pages were given
 *               back with a hole punch; allocated again before reuse),
 *               MM_BLOCK_RETIRED (a data block no file references any
 *               more, kept while readers of the version it holds are
 *               reading it: see "Versions"; 0 in a clean arena),
 *               MM_BLOCK_HELD (the server's snapshots read it: see
 *               "Versions"; 0 in a clean arena);
 *               bits 0xf0 are scratch of recovery and the checker (0 on
 *               disk)
 *        6    2 check: MM_BLOCK_CHECK(size, kind), detects garbage
 *
 * so the heap can be walked from 4096 to brk by sizes alone (recovery, the
 * checker).  A block's payload starts 8 bytes in.  Payloads by kind:
 *
 *   FREE    u64 next free block of the same list (0 ends it)
 *   INODE   struct mm_inode (72 bytes)
 *   DENTRY  struct mm_dentry (56 bytes) + name bytes
 *   DENTRY_V1  struct mm_dentry_v1 (48 bytes) + name bytes: a name as
 *           version 1 wrote it (kind 3, which version 1 called DENTRY);
 *           only in an arena being upgraded (see "Upgrade from version 1")
 *   DATA    u64 size, then the bytes of a small file or a symlink target;
 *           bytes past size up to the block end are undefined (room to
 *           grow in place, and space fallocate reserved)
 *   MAP     struct mm_map: u64 size, u64 nslots, u64 chunk[nslots]
 *           (large files; a 0 slot is a hole that reads as zeros; slots
 *           at or past CHUNKS(size) hold chunks only where fallocate
 *           reserved space past the end: nothing reads them, and any
 *           change that moves the size over them zeroes them first)
 *   CHUNK   MM_CHUNK bytes of a large file (block size MM_CHUNK + 16)
 *   DIR     struct mm_dir: the directory's entry list (derived)
 *   XATTR   u32 count, u32 bytes, then count records
 *           { u8 namelen, u8 pad, u16 pad, u32 valuelen, name, value }
 *   HASH    u64 bucket[hash_buckets]: dentry chains (derived)
 *   RING    (an extension kind: src/ring defines its rules through
 *           store_kind.h; the store only allocates, frees and sizes it)
 *           struct mm_ring: u64 capacity, head, tail, records, then
 *           capacity data bytes, then ceil(capacity/8) bitmap bytes.
 *           Virtual byte V of the log lives at data[V % capacity]; bit
 *           V % capacity is set iff a retained record starts at V.
 *           [head, tail) is what is retained; tail is the st_size.
 *           Appends evict by storing head (oldest first), write past tail,
 *           then publish by storing tail (src/ring/ring.c).
 *
 * Files
 *
 * A regular file or symlink's inode->data is 0 (empty), a DATA block (size
 * up to MM_SMALL_MAX) or a MAP block.  A directory's is its DIR block; a
 * device's holds its rdev; a ring's is its RING block.  inode->xattr is 0 or
 * an XATTR block.
 *
 * Names
 *
 * Every link is one DENTRY block {parent inode, inode, position, name}.
 * Live dentries are chained by hash(seed, parent, name) from the HASH block
 * and linked into their directory's list, in increasing position, through
 * next/prev.
 *
 * Positions.  A dentry's position (pos) is header.next_pos when the dentry
 * is made, and next_pos is then raised by one: positions are unique in the
 * arena, only grow, and a dentry keeps its own for life.  A rename makes
 * new dentries, so a renamed name has a new, larger position.  Positions
 * lie in [1, MM_POS_MAX); readdir cursors and offsets are positions
 * (store.h, "Directory cursors").  A directory's list is in creation
 * order, which is position order, and stays so across remounts.
 *
 * Commit points (what makes kill -9 harmless)
 *
 * The owner may die between any two stores.  Each change is prepared in
 * blocks nobody references yet and published by ONE aligned 8-byte store:
 *
 *   create/mkdir/link   dentry->state = MM_DENTRY_LIVE (its pos and
 *                       header.next_pos are written before, and so is
 *                       a new inode's XATTR block: inherited ACLs)
 *   unlink/rmdir        dentry->state = MM_DENTRY_DEAD
 *   rename              header intent.commit = 1 (redo record; see below)
 *   write, replace,     inode->data = new DATA/MAP block (copy on write),
 *   truncate            or map->chunk[i] = new chunk when one chunk changes,
 *                       or data->size / map->size when only bytes past the
 *                       old end are written (appends: no copy)
 *   fallocate           the same three: inode->data = new DATA block, or
 *   (reserve, punch)    new MAP sharing the chunks it keeps (the chunks it
 *                       drops, then the old map, are freed after); or
 *                       map->chunk[i] = new chunk or 0 when one chunk
 *                       changes and the size does not; or data->size /
 *                       map->size when only the size grows into storage
 *                       the file has (src/store/falloc.c)
 *   setxattr            inode->xattr = new XATTR block; an access ACL
 *                       then also stores inode->mode (two commits: a
 *                       death between them leaves the new ACL with the
 *                       old permission bits; src/fs/acl.h)
 *   chmod, utimens ...  the field itself (each is one aligned store)
 *   read (atime)        inode->atime (one aligned store)
 *
 * Blocks freed by a change are released only after its commit.  A death in
 * between leaves them allocated but unreferenced; recovery frees them.
 *
 * Rename records its dentries in the header's intent {commit, add[2],
 * kill[2]}: new dentries are written PENDING, the record filled, then
 * commit = 1 is stored; after that the adds become LIVE, the kills DEAD and
 * commit returns to 0.  Recovery redoes a record whose commit is 1.  add[1]
 * is the old name of an exchange, or the old name of a rename that leaves
 * a whiteout (RENAME_WHITEOUT): then it names a new character device 0/0
 * inode made before the commit, which has no link, and so is freed by
 * recovery, until the commit.
 *
 * Versions (one version per open)
 *
 * A reader may hold a snapshot of a regular file: its data block and size
 * at one instant (store_snap_take).  Snapshots are counted in the reading
 * process (not in the arena), and while a block is counted:
 *   - nothing changes it in place below its size: writers that would
 *     (overwrites, truncation, any write to a large file) copy instead,
 *     through the usual commit of inode->data; appends past its end stay
 *     in place, unseen by the snapshot's size; fallocate does not change
 *     it at all, and a new map it builds copies the chunks it keeps;
 *   - when a commit stops referencing it, it is not freed but flagged
 *     MM_BLOCK_RETIRED, with everything it owns, and freed when its last
 *     snapshot is dropped, or at close.
 * A retired block is referenced by nothing in the arena: after a crash
 * recovery frees it like any unreferenced block, and the checker counts it
 * (not as a leak) while the arena is in use.
 *
 * Kinds
 *
 * What the store does by block kind (what a payload must hold, which
 * blocks it owns, which files may reference it, its layout name) is one
 * table, kind.c: a new kind or a changed payload touches this file and one
 * entry there.
 *
 * Recovery (recover.c) walks the heap, upgrades version-1 names, drops
 * PENDING and DEAD dentries and dentries whose directory is unreachable
 * from the root, recounts links, frees inodes without links and blocks
 * nothing reachable references, rebuilds the index, directory lists and
 * free lists, raises next_pos past every live position, and marks the
 * arena clean.  Lists are rebuilt in position order; a dentry whose
 * position is 0 or that of the one before it in its directory gets a new
 * one, past all others; and when next_pos or a position comes within n
 * (the number of live dentries) of MM_POS_MAX, every dentry is renumbered
 * 1..n, in order.
 *
 * Upgrade from version 1
 *
 * Version 1 had no positions: its dentries were 48 bytes (struct
 * mm_dentry_v1, kind 3) and a directory listed them in the order recovery
 * re-inserted them, which is heap (address) order.  Only a writable
 * store_open upgrades (read-only, peeking and snapshot opens refuse a
 * version-1 arena, naming the fix, and recovery of a private copy refuses
 * DENTRY_V1 blocks); it runs in recovery, after a committed rename intent
 * is redone (its dentries may be DENTRY_V1: both layouts keep the state
 * byte at offset 46) and before the names are re-inserted:
 *   1. check that the room past brk, under size_cap, holds a new DENTRY
 *      for every LIVE DENTRY_V1 and every one the intent adds (else
 *      refuse: nothing changes but the lock words, which every writable
 *      open sets up);
 *   2. store version = 2 (a version-1 mmfs now refuses the arena);
 *   3. for each LIVE DENTRY_V1 in heap order: copy it into a new DENTRY
 *      with pos = next_pos++, store its state LIVE, then the old one's
 *      DEAD.
 * The rest of recovery then treats the copies as any dentry and frees the
 * old blocks.  A death anywhere leaves an arena that the next writable
 * open upgrades further: before step 2, a version-1 arena; after it,
 * DENTRY_V1 blocks still LIVE are copied then (a copy still PENDING is
 * unreferenced, and freed),
 * and a name that was copied but not yet killed has two LIVE dentries,
 * of which recovery keeps the one with the smaller position.  So each
 * directory lists its names in the order version 1 did, and every
 * position is new.  Version 1's derived fields of the header and of DIR
 * blocks mean the same in version 2.
 *
 * Locks
 *
 * header.lock is a robust, process-shared pthread mutex guarding the whole
 * arena: every change of it, and every read but the lock-free ones (see
 * below), by any owner and by peeking readers (mmfsctl), happens under it.
 * Several processes may change the arena: the server (mount.mmfs, on
 * several threads) and libmmfs programs ("owners"; see "Owners").  A
 * holder that dies (EOWNERDEAD) may have left a change half done: the
 * next locker marks the mutex consistent and stores header.repair = 1,
 * and the arena is repaired, under the mutex, before anything else is
 * done with it: recovery's rebuild (recover.c), done while the other
 * owners go on.  Only the server may repair while it serves, as only it
 * knows which blocks its snapshots and rebuilds use (they stay; library
 * writers copy under the mutex and pin nothing); an owner that may not
 * rings the feed bell (see "Feed") and sleeps on header.repair (a futex)
 * until it is 0 again.  With no server, any owner repairs.
 *
 * File writer locks.  file_locks[] are MM_FILE_LOCKS robust,
 * process-shared mutexes; a file's lock is file_locks[hash of its inode
 * offset % MM_FILE_LOCKS] (striped: two files may share one).  A change of
 * a file's bytes (write, truncate) holds its file lock from start to end
 * and the arena mutex only to decide, to allocate and to commit: a replace
 * allocates the new blocks, pins the old data block as a snapshot does
 * ("Versions"), drops the arena mutex while it copies the bytes, then
 * takes it again, checks that the inode is still the one it started with
 * and that its data block is still the old one, commits and releases the
 * old block.  So writers of different files copy at the same time, and
 * readers and namespace changes wait only for the short sections.
 * fallocate (falloc.c) holds the file lock too, and the arena mutex
 * throughout: it copies little.
 * Lock order: a file lock before the arena mutex, never two file locks at
 * once, and no file lock taken while the arena mutex is held.  A holder
 * that dies leaves its file lock EOWNERDEAD; the next taker marks it
 * consistent: what the dead writer had allocated and not committed is
 * unreferenced and recovery frees it.  Every owner initialises the file
 * locks at open (as the arena mutex); arenas written before they existed
 * held zeros there.
 *
 * Every wait for one of these mutexes is cut into MM_LOCK_SLICE_MS
 * slices (a timed lock, retried).  A robust mutex's word records its
 * owner and whether anyone sleeps, not how many: an unlock wakes one
 * sleeper, which takes the mutex and so passes the wake-up on at its own
 * unlock.  One that is killed after it was woken and before it took the
 * mutex carries the wake-up away when another locker took the mutex in
 * between (the kernel passes it on at exit only if the mutex is then free:
 * handle_futex_death), and the other sleepers would sleep until some new
 * contention woke them, or forever.  A slice bounds that stall.
 *
 * Versions and waiters
 *
 * inode->version (offset 60, u32) changes at every commit to what the
 * inode holds: its bytes or size (write, truncate, fallocate, ring
 * appends: every change that stores its mtime), the loss of a link, and
 * its free.  Bits 31..1 count commits (MM_VERSION_STEP each, wrapping);
 * bit 0 (MM_VERSION_WAITERS) says that a process sleeps on the word, a
 * shared futex: a sleeper sets it (compare-and-swap) before FUTEX_WAIT,
 * and the writer that advances the count clears it in the same
 * compare-and-swap and then wakes every sleeper.  The writer advances it
 * under the arena mutex, after the commit and before it frees what the
 * commit stopped using, so a block freed while a lock-free reader copies
 * from it is seen as a changed version (libmmfs's get).  Recovery keeps
 * it (a value reused from before a crash is harmless: it still changes
 * at the next commit).  Older arenas held 0 there (the word was spare).
 * The checker uses it as scratch in its private copy only.
 *
 * Owners
 *
 * Kernel locks on the arena file (not in it) say who uses it.  Every
 * owner holds a flock from open to close: shared for the server and
 * libmmfs programs, exclusive for a program that must be alone (mmfsctl
 * check --repair; read-only servers hold it shared).  The server also
 * holds an OFD record lock on byte 0 while it serves (one server per
 * arena), and an OFD read lock on byte 2 from open to close (its
 * presence: an unmounted server may still be closing, snapshots open,
 * while the next one serves; a repair keeps what a present server pins:
 * MM_BLOCK_HELD blocks and unlinked MM_INODE_WATCHED inodes).  Owners
 * arrive and leave under the attach lock (an OFD write lock
 * on byte 1): one that finds nobody else (its exclusive flock succeeds)
 * initialises the locks and runs recovery if the arena is not clean,
 * then shares the flock; one that finds others does neither.  The last to
 * leave (its exclusive flock succeeds) marks the arena clean.  A server
 * that arrives while programs are attached asks for a repair (reclaiming
 * what a server before it may have left).  Readers take the arena mutex
 * or read lock-free (arena.c has the details).
 *
 * Lock-free readers
 *
 * header.gen is odd while an owner holds the arena mutex: it is made odd
 * right after the mutex is taken and even again right before it is
 * released, and odd too while an owner that arrived alone runs recovery
 * (which takes no mutex: nobody else changes the arena then, but readers
 * that take no lock may be reading).  A reader that saw the same even gen before and after
 * reading names and offsets knows that no change happened in between
 * (a seqlock).  Together with inode versions (see "Versions and waiters")
 * this lets libmmfs resolve a name and copy a value without a lock
 * (src/store/peek.c has the protocol).  Peeking (read-only) stores do not
 * change gen: their mapping is read-only, so they take no lock at all,
 * only read lock-free, and wait for a version by polling it (they cannot
 * set MM_VERSION_WAITERS).
 *
 * Attribute flags
 *
 * Bits 8..11 of inode->flags are the file's attribute flags, what
 * chattr(1) sets and lsattr(1) shows (FS_IOC_SETFLAGS; tmpfs's four):
 * MM_INODE_APPEND (a: bytes may only be added at the end), IMMUTABLE
 * (i: nothing about the file or, for a directory, its entries changes),
 * NODUMP (d: a hint for backups) and NOATIME (A: reads leave atime
 * alone).  They are primary: recovery keeps them, and a change of them
 * is one aligned 4-byte store of the flags word (with ctime after it),
 * under the arena mutex like every change of that word.  Arenas written
 * before they existed hold 0 in those bits (the word had only RING and
 * WATCHED), which means "no attribute flags": so this is no change of the
 * format version.  The rules they impose are src/store/iflags.c's.  The
 * other bits of the word are 0.
 *
 * Feed
 *
 * The server's kernel caches what it learned of the inodes the server
 * holds (flagged MM_INODE_WATCHED while held).  When a libmmfs program
 * advances the version of a watched inode (under the arena mutex), it
 * stores the inode's offset in feed[feed_tail % MM_FEED_LEN], raises
 * feed_tail, and rings the bell: feed_bell is a futex word like a
 * version (bit 0: the server's watcher sleeps on it; the rest counts
 * rings).  The server reads the feed from where it was, invalidates what
 * its kernel cached of each inode, and treats a feed that moved more than
 * MM_FEED_LEN past it as "everything changed".  The feed is no state:
 * zero, or anything, is a valid feed.
 */
#ifndef MMFS_FORMAT_H
#define MMFS_FORMAT_H

#include <pthread.h>
#include <stdint.h>

#define MM_MAGIC 0x316e726153464d4dULL        /* "MMFSarn1" little-endian */
#define MM_MAGIC_SWAPPED 0x4d4d465361726e31ULL /* the same, other byte order */
#define MM_FORMAT_VERSION 2u
#define MM_FORMAT_OLDEST 1u                    /* oldest one upgraded */
#define MM_LOCK_VERSION 1u
#define MM_PAGE 4096u
#define MM_ALIGN 16u
#define MM_MIN_ARENA (64u * 1024)              /* smallest size_cap */
#define MM_MAX_ARENA (1ULL << 44)              /* largest (16 TiB) */
#define MM_SMALL_MAX (32u * 1024)              /* largest DATA-block file */
#define MM_CHUNK (64u * 1024)                  /* chunk of a large file */
#define MM_NSMALL 64                           /* exact lists 16..1024 B */
#define MM_NFREE (MM_NSMALL + 27)              /* + power-of-two bins */
#define MM_STATS_SIZE 512                      /* statistics area */
#define MM_FILE_LOCKS 32                       /* file writer locks */
#define MM_LOCK_SLICE_MS 20     /* longest sleep in one mutex wait ("Locks") */
#define MM_FEED_LEN 56                         /* feed entries */
#define MM_CHUNKS(size) (((size) + MM_CHUNK - 1) / MM_CHUNK) /* map slots */
#define MM_POS_MAX (1ULL << 62)                /* directory positions */

/* File types in mm_inode.mode: the values of Linux's S_IF*, fixed by the
 * format whatever the machine's headers say. */
#define MM_IFMT 0170000u
#define MM_IFSOCK 0140000u
#define MM_IFLNK 0120000u
#define MM_IFREG 0100000u
#define MM_IFBLK 0060000u
#define MM_IFDIR 0040000u
#define MM_IFCHR 0020000u
#define MM_IFIFO 0010000u

enum mm_kind {
	MM_FREE = 1,
	MM_INODE = 2,
	MM_DENTRY_V1 = 3,       /* version 1's dentry: upgraded by recovery */
	MM_DATA = 4,
	MM_MAP = 5,
	MM_CHUNK_KIND = 6,
	MM_DIR = 7,
	MM_XATTR = 8,
	MM_HASH = 9,
	MM_RING = 10,
	MM_DENTRY = 11,
	MM_KIND_MAX = 11,
};

/* inode->version (see "Versions and waiters") */
#define MM_VERSION_WAITERS 1u   /* someone sleeps on the word */
#define MM_VERSION_STEP 2u      /* one commit */

#define MM_BLOCK_MARK 1u
#define MM_BLOCK_PUNCHED 2u
#define MM_BLOCK_RETIRED 4u
#define MM_BLOCK_HELD 8u
#define MM_BLOCK_CHECK(size, kind) \
	((uint16_t)(((size) >> 4) * 0x9e37u ^ (kind) * 0x79b9u ^ 0x4d4du))

struct mm_block {
	uint32_t size;
	uint8_t kind;
	uint8_t flags;
	uint16_t check;
};

struct mm_intent {
	uint64_t commit;
	uint64_t add[2];
	uint64_t kill[2];
};

struct mm_header {
	uint64_t magic;
	uint32_t version;
	uint32_t page_size;
	uint64_t size_cap;
	uint64_t file_size;
	uint64_t brk;
	uint64_t root;
	uint64_t next_ino;
	uint64_t hash_table;
	uint64_t hash_buckets;
	uint64_t hash_count;
	uint64_t max_files;
	uint64_t ring_size;
	uint64_t hash_seed;
	uint32_t clean;
	uint32_t lock_version;
	int64_t created;
	struct mm_intent intent;
	union {
		pthread_mutex_t mutex;
		uint8_t pad[64];
	} lock;
	uint64_t used;
	uint64_t ninodes;
	uint64_t ndirs, nsymlinks, nrings;
	uint64_t free[MM_NFREE];
	uint64_t next_pos;                /* next directory position */
	uint64_t reserved[3];
	uint8_t stats[MM_STATS_SIZE];     /* statistics: not format */
	union {
		pthread_mutex_t mutex;
		uint8_t pad[64];
	} file_locks[MM_FILE_LOCKS];
	uint64_t gen;                     /* lock generation */
	uint64_t feed_tail;               /* feed: entries ever pushed */
	uint32_t feed_bell;               /* feed: the server's futex word */
	uint32_t repair;                  /* a repair is wanted */
	uint64_t feed[MM_FEED_LEN];       /* feed: inode offsets */
	uint32_t server_pid;              /* while serving */
};

/* inode flags */
#define MM_INODE_RING 1u        /* data is a RING block (src/ring) */
#define MM_INODE_WATCHED 2u     /* the server's kernel caches it: changes
                                   by others go to the feed (derived) */
#define MM_INODE_KINDS MM_INODE_RING  /* flags naming an extension kind */
/* Attribute flags (see "Attribute flags"): the store's STORE_IFL_* bits
 * (store.h), shifted left by MM_INODE_ATTR_SHIFT. */
#define MM_INODE_ATTR_SHIFT 8
#define MM_INODE_APPEND (1u << 8)       /* chattr +a */
#define MM_INODE_IMMUTABLE (1u << 9)    /* chattr +i */
#define MM_INODE_NODUMP (1u << 10)      /* chattr +d */
#define MM_INODE_NOATIME (1u << 11)     /* chattr +A */
#define MM_INODE_ATTRS (MM_INODE_APPEND | MM_INODE_IMMUTABLE | \
			MM_INODE_NODUMP | MM_INODE_NOATIME)
#define MM_INODE_KNOWN (MM_INODE_RING | MM_INODE_WATCHED | MM_INODE_ATTRS)

struct mm_inode {
	uint64_t ino;                  /* st_ino, never reused (next_ino only
	                                  grows): also the generation of a
	                                  file handle (src/store/handle.c) */
	uint64_t data;
	uint64_t xattr;
	int64_t atime, mtime, ctime;   /* ns since the epoch */
	uint32_t mode, uid, gid, nlink;
	uint32_t version;              /* see "Versions and waiters" */
	uint32_t flags;
};

enum mm_dentry_state {
	MM_DENTRY_PENDING = 0,
	MM_DENTRY_LIVE = 1,
	MM_DENTRY_DEAD = 2,
};

struct mm_dentry {
	uint64_t parent;      /* directory inode */
	uint64_t inode;
	uint64_t hash_next;   /* derived: next in bucket */
	uint64_t next, prev;  /* derived: directory list, by position */
	uint32_t hash;        /* derived */
	uint16_t namelen;
	uint8_t state;        /* enum mm_dentry_state, the commit point */
	uint8_t pad;
	uint64_t pos;         /* position in its directory (see "Names") */
	char name[];
};

/* A DENTRY_V1 block: version 1's dentry, without a position.  Its first
 * 48 bytes are laid out as struct mm_dentry's. */
struct mm_dentry_v1 {
	uint64_t parent, inode, hash_next, next, prev;
	uint32_t hash;
	uint16_t namelen;
	uint8_t state;
	uint8_t pad;
	char name[];
};

struct mm_dir {
	uint64_t head, tail;  /* derived: first and last entry */
	uint64_t count;       /* derived: entries */
	uint64_t nsubdirs;    /* derived: entries that are directories */
	uint64_t dentry;      /* derived: the entry naming this directory */
};

struct mm_data {
	uint64_t size;
	unsigned char bytes[];
};

struct mm_map {
	uint64_t size;
	uint64_t nslots;
	uint64_t chunk[];
};

struct mm_xattr_head {
	uint32_t count;
	uint32_t bytes;       /* bytes of records after this head */
};

struct mm_xattr_rec {
	uint8_t namelen;
	uint8_t pad[3];
	uint32_t valuelen;
	char name_value[];
};

struct mm_ring {
	uint64_t capacity;
	uint64_t head;        /* virtual offset of the oldest retained record */
	uint64_t tail;        /* virtual offset past the newest byte */
	uint64_t records;     /* derived: retained records */
	unsigned char bytes[];
};

/* A ring's capacity, and the header's ring_size, lie in [MIN, MAX]: the
 * bitmap of the largest fits a block's u32 size with the data. */
#define MM_RING_MIN 64u
#define MM_RING_MAX (UINT32_MAX / 2)            /* 2 GiB - 1 */
#define MM_RING_BITMAP(cap) (((cap) + 7) / 8)

_Static_assert(sizeof(struct mm_block) == 8, "block header is 8 bytes");
_Static_assert(sizeof(struct mm_intent) == 40, "intent is 40 bytes");
_Static_assert(sizeof(pthread_mutex_t) <= 64, "mutex fits its slot");
_Static_assert(__builtin_offsetof(struct mm_header, version) == 8, "");
_Static_assert(__builtin_offsetof(struct mm_header, intent) == 120, "");
_Static_assert(__builtin_offsetof(struct mm_header, lock) == 160, "");
_Static_assert(__builtin_offsetof(struct mm_header, used) == 224, "");
_Static_assert(__builtin_offsetof(struct mm_header, free) == 264, "");
_Static_assert(__builtin_offsetof(struct mm_header, stats) == 1024, "");
_Static_assert(sizeof(((struct mm_header *)0)->stats) == 512, "");
_Static_assert(__builtin_offsetof(struct mm_header, file_locks) == 1536, "");
_Static_assert(__builtin_offsetof(struct mm_header, gen) == 3584, "");
_Static_assert(__builtin_offsetof(struct mm_header, feed) == 3608, "");
_Static_assert(__builtin_offsetof(struct mm_header, server_pid) == 4056, "");
_Static_assert(sizeof(struct mm_header) <= MM_PAGE, "header fits a page");
_Static_assert(sizeof(struct mm_inode) == 72, "inode is 72 bytes");
_Static_assert(sizeof(struct mm_dentry) == 56, "dentry is 56 bytes");
_Static_assert(sizeof(struct mm_dentry_v1) == 48, "version 1's dentry");
_Static_assert(__builtin_offsetof(struct mm_dentry, state) ==
	       __builtin_offsetof(struct mm_dentry_v1, state), "one state");
_Static_assert(__builtin_offsetof(struct mm_header, next_pos) == 992, "");
_Static_assert(sizeof(struct mm_xattr_rec) == 8, "xattr record head");

#endif

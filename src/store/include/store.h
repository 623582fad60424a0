/* store.h -- the mmfs arena: files, directories and metadata in one mapping.
 *
 * A store is one arena file mapped MAP_SHARED.  Everything a file system
 * needs lives inside it (see format.h for the byte layout): inodes, directory
 * entries, a hash index over (directory, name), file data, extended
 * attributes and the allocator's free lists.  The store has no FUSE
 * dependency; the daemon (src/fs), the admin tool and the unit tests all use
 * this API.
 *
 * References.  An inode is named by a store_ref: the byte offset of its
 * block in the arena.  The daemon uses it directly as the FUSE node id
 * (except the root, which FUSE calls 1).  A ref stays valid while the inode
 * has a link or a hold (store_hold); store_release of the last hold of an
 * unlinked inode frees it.  Holds live in process memory: a new process
 * starts with none, so unlinked inodes left by a dead daemon are reclaimed
 * by recovery.  The server's holds also flag the inodes (format.h, "Feed")
 * so that other processes tell it what they change.
 *
 * Errors.  Every function that can fail returns 0 (or a byte count) on
 * success and -errno on failure; a failed call changes nothing.  Each
 * declaration lists its errors.  Common to every call on an existing
 * inode: -ESTALE, the ref names no inode (any more); to every call that
 * changes the arena: -EROFS, the store was opened read-only or peeking.
 * Calls that name an entry (dir, name) also give -ENOTDIR (dir is not a
 * directory), -ENOENT (dir was removed, or no such name) and
 * -ENAMETOOLONG (name over STORE_NAME_MAX bytes); -EINVAL for an empty
 * name.  -ENOSPC: the arena is at its size cap (nothing was changed).
 *
 * Layers.  The store knows files of bytes, directories, symlinks and
 * special files.  Ring logs are a layer above it (ring.h), which defines
 * the RING block kind through store_kind.h: every program calls
 * ring_register() once before store_open, which refuses to open arenas
 * otherwise (-EPROTONOSUPPORT).
 *
 * Concurrency.  Every call may be made from several threads at once: the
 * store takes the file writer locks and the arena lock, robust
 * process-shared mutexes in the arena (format.h, "Locks").  Several
 * processes may change one arena when each opens it STORE_OPEN_SHARED:
 * the server and libmmfs programs (STORE_OPEN_LIBRARY); one opened
 * without it is its only writer (a second opener fails with EBUSY, or
 * waits while the owner has retired and is closing: arena.c).  Other
 * processes may open the same arena read-only (STORE_OPEN_PEEK): their
 * mapping is read-only, so they can take no lock, and only the lock-free
 * readers work on them (see "Direct access": store_get, store_resolve
 * without create, store_version, store_wait, and ring_next); they run no
 * recovery, and those readers are safe whatever the arena holds.
 *
 * Crash safety.  Every mutating call reaches a single 8-byte store that
 * commits it (format.h, "Commit points"); a process killed at any instant
 * leaves either the old or the new state, and store_open of an arena that
 * was not closed cleanly runs recovery (recover.c), which rebuilds the
 * derived structures and reclaims unreachable space.
 */
#ifndef MMFS_STORE_H
#define MMFS_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

struct store;
typedef uint64_t store_ref;

#define STORE_FORMAT_VERSION 2          /* arena format (format.h) */
#define STORE_NAME_MAX 255              /* bytes in one name */
#define STORE_SYMLINK_MAX 4095          /* bytes in a symlink target */
#define STORE_XATTR_NAME_MAX 255
#define STORE_XATTR_VALUE_MAX 65536     /* bytes in one xattr value */
/* Per file: the records of all its xattrs (a largest value fits beside a
 * full name list), and the bytes listxattr(2) returns (each name and its
 * NUL: never over the kernel's XATTR_LIST_MAX, so listing always works).
 * The count follows from the list: a name has a byte and its NUL. */
#define STORE_XATTR_TOTAL_MAX (256 * 1024)
#define STORE_XATTR_LIST_MAX 65536
#define STORE_XATTR_COUNT_MAX (STORE_XATTR_LIST_MAX / 2)
#define STORE_FILE_MAX (1ULL << 36)     /* largest file size (64 GiB): EFBIG */
#define STORE_SIZE_MAX (1ULL << 44)     /* largest size cap (16 TiB): the
                                           arena is mapped whole */

enum store_open_flags {
	STORE_OPEN_CREATE = 1 << 0,   /* create the arena if it does not exist */
	STORE_OPEN_RDONLY = 1 << 1,   /* serve without modifying the file */
	STORE_OPEN_PEEK = 1 << 2,     /* inspect a possibly-mounted arena
	                                 (read-only, no exclusive lock) */
	STORE_OPEN_SNAPSHOT = 1 << 3, /* a private in-memory copy, taken under
	                                 the arena lock if the arena is in
	                                 use; recovery does not run (see
	                                 store_recover) */
	STORE_OPEN_SHARED = 1 << 4,   /* a writable owner among others: the
	                                 server and libmmfs programs (see
	                                 "Concurrency") */
	STORE_OPEN_LIBRARY = 1 << 5,  /* with SHARED: a program, not the
	                                 server (libmmfs): serves nothing,
	                                 pins nothing, tells the server what
	                                 it changes (store_watch) */
};

struct store_options {
	uint64_t size_cap;     /* largest arena file size in bytes, at most
	                          STORE_SIZE_MAX; 0 = keep the arena's
	                          recorded cap (or the default on create) */
	uint64_t max_files;    /* inode limit; 0 = keep recorded / default */
	uint64_t ring_size;    /* default capacity of new rings (a ring
	                          capacity, ring.h); 0 = keep / default */
	unsigned flags;        /* enum store_open_flags */
	/* Who may open the arena file, and so attach with libmmfs (a
	 * writable open only, by the file's owner): applied when the file
	 * is created and when an existing one is opened. */
	uint32_t mode;         /* its permission bits: STORE_MODE_MIN to
	                          STORE_MODE_MAX; 0 = 0600 on create, else
	                          keep */
	bool set_group;        /* give the file to group gid */
	uint32_t gid;
};

#define STORE_MODE_MIN 0600             /* the owner reads and writes */
#define STORE_MODE_MAX 0666             /* no execute, set-ID or sticky */

#define STORE_DEFAULT_SIZE (1ULL << 30)          /* 1 GiB cap, sparse */
#define STORE_DEFAULT_MAX_FILES 4000000ULL
#define STORE_DEFAULT_RING_SIZE (1ULL << 20)

/* Open (or create) the arena at path.  On failure returns -errno and writes
 * a one-line, human-readable reason to err (e.g. "not an mmfs arena",
 * "arena format version 7 is newer than this mmfs (2)"); the file is not
 * modified.  A writable open of an older format upgrades it (format.h,
 * "Upgrade from version 1").  -EINVAL: not an arena / damaged (recovery
 * refused it), an option out of its limits, a recorded size cap over
 * STORE_SIZE_MAX (which cannot be mapped; a writable open replaces it with
 * a size_cap option) or a writable open of an arena whose recorded
 * ring_size is no ring capacity, without a ring_size option (the reason
 * says which; STORE_OPEN_SNAPSHOT takes a copy whatever their values);
 * -EPROTONOSUPPORT: newer format, an older one opened without write
 * access (RDONLY, PEEK, SNAPSHOT), or a block kind this program does not
 * know (ring_register was not called); -EBUSY: another process serves it;
 * -ETIMEDOUT: a retiring owner did not finish; -ENOENT, -EACCES, -EEXIST
 * ... from open(2) of path; -ENOMEM; -ENOSPC: the cap cannot hold an
 * arena (create), or the room to upgrade an older one; -EPERM ...:
 * the mode or group options could not be applied (fchown(2) to a group
 * the caller is not in).  mode and set_group are applied last, once
 * everything else succeeded, and only by writable opens (-EINVAL for
 * RDONLY, PEEK, SNAPSHOT). */
int store_open(const char *path, const struct store_options *opt,
	       struct store **out, char *err, size_t errlen);

/* In a child of the process that opened s (after fork): free this
 * process's copy of s (its mapping, descriptor and memory) and leave the
 * arena, its locks and its holds to the parent.  NULL is fine. */
void store_abandon(struct store *s);

/* Flush, mark the arena clean and unmap.  Frees orphaned (unlinked, still
 * held) inodes first.  store_close(NULL) is a no-op. */
void store_close(struct store *s);

/* Does an owner serve the arena at path, and how?  0 with *rdonly true
 * for a read-only owner (STORE_OPEN_RDONLY), false for a writable one,
 * and *pid (if pid is not NULL) the pid a writable server recorded in
 * the header (0: none recorded); -ENOENT when none does (none opened it,
 * or its owner retired); -errno from open(2) or fcntl(2).  Asks the
 * serving lock (arena.c) without taking it: nothing changes. */
int store_served(const char *path, bool *rdonly, pid_t *pid);

/* The calling process, a child of the one that opened s (a daemon gone
 * to the background), becomes the owner of record: /proc/locks names it
 * as the holder of the arena's flock, as mmfsctl reports it, instead of
 * the parent.  0 (also for stores that hold no owner locks); -ETIMEDOUT
 * if readers kept the flock for a minute; -errno from flock(2). */
int store_adopt(struct store *s);

/* Close a store whose use failed before it served anything (a mount
 * that did not happen): an arena this store_open created is removed, if
 * the file at its path is still that arena, so that the failure leaves
 * nothing behind; any other is closed as by store_close.
 * store_discard(NULL) is a no-op. */
void store_discard(struct store *s);

/* The owner stops serving (its file system was unmounted): from now on
 * store_open by another process waits for store_close instead of failing
 * with EBUSY.  The store stays fully usable for the work that remains. */
void store_retire(struct store *s);

/* msync the whole arena (sync -f, unmount): -EIO ... as msync(2).  A
 * read-only store has nothing to write: 0. */
int store_sync(struct store *s);
/* msync what one file uses (fsync(2)): -ESTALE, -EIO ... as msync(2). */
int store_sync_file(struct store *s, store_ref ref, bool datasync);

store_ref store_root(const struct store *s);
/* True when no call may change the arena (RDONLY, PEEK, SNAPSHOT). */
bool store_readonly(const struct store *s);
/* True once, after store_open ran recovery; message describes what it did. */
const char *store_recovery_report(const struct store *s);

struct store_attr {
	uint64_t ino;          /* st_ino: unique for the life of the arena,
	                          never reused (a handle's generation) */
	uint32_t mode;         /* type and permission bits */
	uint32_t nlink;
	uint32_t uid, gid;
	uint32_t rdev;
	uint64_t size;         /* st_size (rings: see ring.h) */
	unsigned kind;         /* 0: bytes, a directory or a special file;
	                          else the block kind of a file whose content
	                          a layer above the store defines (ring.h:
	                          RING_KIND) */
	uint64_t blocks;       /* arena bytes used / 512 */
	uint32_t version;      /* changes at every commit (store_wait) */
	uint32_t iflags;       /* attribute flags: STORE_IFL_* */
	struct timespec atime, mtime, ctime;
};

/* Attribute flags (chattr(1); format.h, "Attribute flags"), kept in the
 * arena with the inode.  The store enforces them for every caller, the
 * server and libmmfs programs alike, with -EPERM (src/store/iflags.c):
 *   IMMUTABLE  no write, truncation, fallocate, attribute (store_setattr:
 *              any), xattr or ring change of the file; no new link to it,
 *              no removal or rename of its names; a directory gets no
 *              entry added, removed or renamed in or out;
 *   APPEND     writes only at or past the end (no truncate_first, no
 *              store_update), no truncation, no punched hole, no xattr
 *              change, no ring clear or capacity change (appends are
 *              fine); no new link, no removal or rename of its names; a
 *              directory's entries may be added but not removed;
 *   NODUMP     nothing (a hint for dump(8));
 *   NOATIME    store_atime_due and store_touch_atime never change atime.
 * What callers check themselves, as the kernel does at open(2) and
 * chmod(2) on a local file system: opens for writing (src/fs/ops.c) and
 * mode, owner and time changes of an APPEND file (store_setattr allows
 * them: a write clears set-ID bits through it). */
#define STORE_IFL_APPEND 1u
#define STORE_IFL_IMMUTABLE 2u
#define STORE_IFL_NODUMP 4u
#define STORE_IFL_NOATIME 8u
#define STORE_IFL_ALL 15u
/* get: 0 and *iflags; -ESTALE.  set: replace them all by iflags and set
 * ctime to now; the caller checks who may (chattr needs CAP_LINUX_
 * IMMUTABLE for IMMUTABLE and APPEND).  -EOPNOTSUPP (a bit outside
 * STORE_IFL_ALL), -ESTALE, -EROFS. */
int store_get_iflags(struct store *s, store_ref ref, uint32_t *iflags);
int store_set_iflags(struct store *s, store_ref ref, uint32_t iflags);

/* File handles (NFS export, open_by_handle_at): an inode named from
 * outside, by a ref the caller did not get from this store.  Stricter
 * than every other call, which trusts its ref and checks only the block
 * header there (store_valid_ref): ref must be where an INODE block
 * starts, by a map of the heap (file bytes can forge a header, not the
 * map), and have a link (a deleted file's handle is stale).  The first
 * call walks the heap to build the map, O(blocks); later ones take O(1)
 * (the map is kept up to date, one bit per 16 bytes of heap, until
 * store_close).  A handle should carry attr->ino too: st_ino is never
 * reused, so it tells a file from a later one at the same ref.
 * 0 and *attr; -ESTALE (no such inode, or no link left), -ENOMEM. */
int store_lookup_ref(struct store *s, store_ref ref, struct store_attr *attr);
/* The directory that holds directory dir (the root's is the root).
 * -ESTALE, -ENOTDIR, -ENOENT (dir was removed). */
int store_parent(struct store *s, store_ref dir, store_ref *out,
		 struct store_attr *attr);

/* Is ref a valid inode of this arena (bounds and block kind)? */
bool store_valid_ref(const struct store *s, store_ref ref);

/* -ESTALE. */
int store_getattr(struct store *s, store_ref ref, struct store_attr *attr);

/* Look name up in directory dir.  -ESTALE, -ENOENT, -ENOTDIR,
 * -ENAMETOOLONG, -EINVAL (empty name).  attr may be NULL. */
int store_lookup(struct store *s, store_ref dir, const char *name,
		 store_ref *out, struct store_attr *attr);

/* An extended attribute a new node is made with (store_mknod_with). */
struct store_xattr {
	const char *name;
	const void *value;
	size_t size;
};

/* Create a node of the given type (S_IFREG, S_IFDIR, S_IFIFO, S_IFSOCK,
 * S_IFCHR, S_IFBLK; rdev for devices; type 0 means S_IFREG) with mode's
 * permission bits, whatever the name (ring.h makes rings).  -EEXIST,
 * -ENOSPC (arena full or max_files reached), -ENAMETOOLONG, -EINVAL
 * (another type, or an empty name), -ESTALE, -ENOTDIR, -ENOENT (dir was
 * removed), -EROFS. */
int store_mknod(struct store *s, store_ref dir, const char *name,
		uint32_t mode, uint32_t uid, uint32_t gid, uint32_t rdev,
		store_ref *out, struct store_attr *attr);
/* store_mknod, with the n extended attributes x set in the same commit:
 * nobody sees the node without them (a directory's default ACL inherited,
 * src/fs/acl.h).  Errors of store_mknod, and -ERANGE, -E2BIG, -ENOSPC as
 * store_setxattr for the attributes. */
int store_mknod_with(struct store *s, store_ref dir, const char *name,
		     uint32_t mode, uint32_t uid, uint32_t gid, uint32_t rdev,
		     const struct store_xattr *x, size_t n, store_ref *out,
		     struct store_attr *attr);
/* A symlink to target.  Errors of store_mknod, and -ENOENT (empty
 * target), -ENAMETOOLONG (target over STORE_SYMLINK_MAX bytes). */
int store_symlink(struct store *s, store_ref dir, const char *name,
		  const char *target, uint32_t uid, uint32_t gid,
		  store_ref *out, struct store_attr *attr);
/* Copy a symlink's target (not NUL-terminated) into buf; returns its length
 * (which may exceed size: then buf holds a prefix).  -ESTALE, -EINVAL (not
 * a symlink). */
int store_readlink(struct store *s, store_ref ref, char *buf, size_t size);
/* A new name for ref.  Errors of the entry calls, and -EEXIST, -EPERM (a
 * directory), -ENOENT (ref has no link left), -EMLINK (65,000 links). */
int store_link(struct store *s, store_ref ref, store_ref newdir,
	       const char *newname, struct store_attr *attr);
/* O_TMPFILE.  store_tmpfile_with makes a regular file with no name (no
 * link) in dir, with mode's permission bits and the n extended attributes
 * x, held once (store_hold) for the caller: it lives until that hold is
 * released (store_release frees it then, unless it got a name), and is
 * freed by store_close or, after a crash, by recovery, as a file unlinked
 * while open is.  It counts against max_files and the size cap as any
 * file.  Errors of store_mknod_with but the name's.
 * store_link_orphan is store_link that may also give such a file (any
 * held inode without links) its first name: the caller decides which may
 * have one (the kernel's I_LINKABLE, linkat(2) with AT_EMPTY_PATH);
 * -ENOENT for an inode without links that is not held. */
int store_tmpfile_with(struct store *s, store_ref dir, uint32_t mode,
		       uint32_t uid, uint32_t gid,
		       const struct store_xattr *x, size_t n, store_ref *out,
		       struct store_attr *attr);
int store_link_orphan(struct store *s, store_ref ref, store_ref newdir,
		      const char *newname, struct store_attr *attr);
/* Remove a name.  The inode is freed when it has no links and no holds.
 * Errors of the entry calls, and -EISDIR (unlink of a directory),
 * -ENOTDIR (rmdir of anything else), -ENOTEMPTY (rmdir). */
int store_unlink(struct store *s, store_ref dir, const char *name);
int store_rmdir(struct store *s, store_ref dir, const char *name);

#define STORE_RENAME_NOREPLACE 1
#define STORE_RENAME_EXCHANGE 2
/* rename(2)/renameat2(2) semantics, atomic (one commit point).  Errors of
 * the entry calls (for either name), and -EINVAL (both flags, unknown
 * flags, or a directory moved into itself), -EEXIST (NOREPLACE), -ENOENT
 * (EXCHANGE without a target), -EISDIR, -ENOTDIR, -ENOTEMPTY (the target
 * is a non-empty directory), -ENOSPC (no room for the new name). */
int store_rename(struct store *s, store_ref olddir, const char *oldname,
		 store_ref newdir, const char *newname, unsigned flags);
/* renameat2(2) with RENAME_WHITEOUT: store_rename (flags 0 or
 * STORE_RENAME_NOREPLACE), and in the same commit the old name comes to
 * name a new whiteout, a character device 0/0 with mode 0 owned by
 * uid:gid, as tmpfs makes it (overlayfs's mark of a deleted lower file).
 * Renaming a file onto another link of itself changes nothing and makes
 * no whiteout.  Errors of store_rename, and -EINVAL (EXCHANGE), -ENOSPC
 * (also: max_files reached). */
int store_rename_whiteout(struct store *s, store_ref olddir,
			  const char *oldname, store_ref newdir,
			  const char *newname, unsigned flags, uint32_t uid,
			  uint32_t gid);

/* Holds: "this process still uses this inode; free it only when it has
 * neither links nor holds".  A file unlinked while held stays readable
 * and writable until its last hold goes; store_close frees what is still
 * held without links.  Holds are counted (each store_hold wants one
 * store_release) and live in this process (see References above).  The
 * daemon holds each node the kernel knows once (src/fs/nodes.h).
 * store_hold: 0, -ESTALE (ref is no inode), -ENOMEM (no memory to record
 * the hold; nothing changed).  store_release drops one hold; releasing
 * the last hold of an inode without links frees it (unless the store
 * cannot be changed: store_readonly); a ref that is not held is left
 * alone. */
int store_hold(struct store *s, store_ref ref);
void store_release(struct store *s, store_ref ref);

/* Direct access (libmmfs; format.h, "Versions and waiters", "Lock-free
 * readers", "Feed").
 *
 * Paths name an entry from the root: "app/counter"; empty components are
 * skipped, "." and ".." are -EINVAL.  Permissions inside the arena are not
 * checked: access to the arena file is access to everything in it.
 *
 * store_get copies the whole value of the regular file at path into buf
 * without taking any lock (a writable store falls back to the arena lock
 * after many retries under heavy change; a read-only one, which cannot,
 * retries for up to 2 s), and returns its length and version: one
 * committed value, never torn.  It reads nothing outside the arena
 * whatever the arena holds.  -ERANGE when it is longer than size (size
 * 0: only the length is returned, and no error); -ENOENT, -ENOTDIR,
 * -EISDIR, -EINVAL (a ring or a special file), -ENXIO (the arena grew past
 * this process's mapping), -EAGAIN (read-only stores: writers held the
 * arena lock for 2 s, or one died holding it and no writer has repaired
 * the arena since), -EUCLEAN (the arena is damaged: read-only stores run
 * no recovery).
 * store_resolve finds path, creating it when create is set (a regular file
 * of mode, missing directories 0755 before it, owned by uid, gid);
 * -EEXIST when it exists and is not a regular file.  Without create it is
 * a lock-free reader like store_get (and has its errors).
 * store_version gives ref's kind (as store_attr.kind) and version (as
 * store_attr.version, what store_wait compares) as a lock-free reader:
 * -ESTALE (no inode), and the errors of store_get.
 * store_update replaces the whole value of ref by what fn makes of the
 * current one, under the file's writer lock: fn gets the current bytes
 * and returns the new length in out (at most out_size) or -errno (nothing
 * changes).
 * store_wait sleeps until ref's version differs from version (a futex in
 * the arena: any process's commit wakes it), up to timeout_ms (negative:
 * forever): 0, -ETIMEDOUT, -EINTR, -ESTALE.  A read-only store cannot
 * ask writers to wake it (that is a store to the arena): it polls, every
 * 10 ms.
 * store_feed_wait (the server) waits up to timeout_ms for inodes it holds
 * that other processes changed, copying up to max of them to refs from
 * *pos on: how many (0 on timeout), -EOVERFLOW when some were lost (all
 * may have changed), -EROFS.  It also does a repair another process asked
 * for. */
ssize_t store_get(struct store *s, const char *path, void *buf, size_t size,
		  uint32_t *version);
int store_resolve(struct store *s, const char *path, bool create,
		  uint32_t mode, uint32_t uid, uint32_t gid, store_ref *out);
typedef ssize_t (*store_update_fn)(void *ctx, const void *cur, size_t len,
				   void *out, size_t out_size);
int store_update(struct store *s, store_ref ref, store_update_fn fn,
		 void *ctx, size_t out_size);
int store_version(struct store *s, store_ref ref, unsigned *kind,
		  uint32_t *version);
int store_wait(struct store *s, store_ref ref, uint32_t version,
	       int timeout_ms);
ssize_t store_feed_wait(struct store *s, uint64_t *pos, store_ref *refs,
			size_t max, int timeout_ms);
uint64_t store_feed_tail(struct store *s);

enum store_setattr_mask {
	STORE_SET_MODE = 1 << 0,
	STORE_SET_UID = 1 << 1,
	STORE_SET_GID = 1 << 2,
	STORE_SET_SIZE = 1 << 3,
	STORE_SET_ATIME = 1 << 4,
	STORE_SET_MTIME = 1 << 5,
	STORE_SET_CTIME = 1 << 6,
};
/* Change what mask says (times are absolute; the caller resolves
 * UTIME_NOW).  Changing anything also sets ctime to now unless
 * STORE_SET_CTIME gives it.  -ESTALE, -EROFS; SIZE: -EISDIR (a
 * directory), -EINVAL (not a regular file, or a ring to a size other than
 * 0), -EFBIG (over STORE_FILE_MAX), -ENOSPC.  out may be NULL. */
int store_setattr(struct store *s, store_ref ref, unsigned mask,
		  const struct store_attr *in, struct store_attr *out);

/* Access times.  A read of ref happened now: STORE_ATIME_STRICT sets its
 * atime to now; STORE_ATIME_RELATIVE only when atime is not after its
 * mtime or its ctime, or is a day old or more (Linux's relatime).  Nothing
 * else changes (ctime neither), in one aligned store (format.h).  The
 * read calls do not do it: the caller decides, by mount option and open
 * flags.  store_atime_due only asks (1: a read now would change atime, 0:
 * not; -ESTALE), for a caller with more to check before a change;
 * store_touch_atime returns 1 when atime changed, 0 when it did not;
 * -ESTALE, -EROFS. */
enum store_atime {
	STORE_ATIME_RELATIVE,
	STORE_ATIME_STRICT,
};
int store_atime_due(struct store *s, store_ref ref, enum store_atime how);
int store_touch_atime(struct store *s, store_ref ref, enum store_atime how);

/* Read up to size bytes at off; returns the count (0 at or past EOF).
 * Holes read as zeros.  -ESTALE, -EISDIR, -EINVAL (not a regular file of
 * bytes: rings are read with ring.h). */
ssize_t store_read(struct store *s, store_ref ref, uint64_t off,
		   void *buf, size_t size);

/* Write size bytes at off; returns size.  With truncate_first the file is
 * emptied and written in the same commit (deferred O_TRUNC).  A write is
 * atomic for readers and for crashes.  -EFBIG past STORE_FILE_MAX,
 * -ENOSPC when the arena is full (nothing written), -ESTALE, -EROFS,
 * -EISDIR, -EINVAL (not a regular file of bytes). */
ssize_t store_write(struct store *s, store_ref ref, uint64_t off,
		    const void *buf, size_t size, bool truncate_first);

/* fallocate(2) on a regular file of bytes, with tmpfs's three modes:
 *   0                  reserve arena space for [off, off + len) and make
 *                      the size at least off + len;
 *   KEEP_SIZE          reserve it without changing the size (space past
 *                      the end: a later write or truncate there reads
 *                      zeros and needs no new space);
 *   PUNCH_HOLE | KEEP_SIZE
 *                      zero [off, off + len) and give its space back:
 *                      whole chunks of a large file become holes, a
 *                      partly covered chunk or a small file keeps its
 *                      space with the range zeroed; reserved space past
 *                      the end that the range covers is given back.
 * Reserved space counts in st_blocks and is not free in store_statfs.
 * Overwriting reserved bytes that are already visible still copies them
 * (copy on write), so only writes past the end are sure to need no new
 * space.  Atomic, like a write; mtime and ctime change.  -EINVAL (len 0,
 * PUNCH_HOLE without KEEP_SIZE, not a regular file), -EOPNOTSUPP (any
 * other mode bit, or a ring: its size is its capacity), -EFBIG
 * (reserving past STORE_FILE_MAX; a punch is cut there), -ENOSPC (the
 * arena cannot hold it; nothing changed), -ESTALE, -EROFS, -EISDIR. */
#define STORE_FALLOC_KEEP_SIZE 1
#define STORE_FALLOC_PUNCH_HOLE 2
int store_fallocate(struct store *s, store_ref ref, unsigned mode,
		    uint64_t off, uint64_t len);

/* Snapshots: one committed version of a regular file's bytes, readable
 * while the file goes on changing (one version per open: a reader that
 * reads a value in several calls sees one value, never the start of one
 * and the rest of another).  A snapshot keeps the version's blocks alive:
 * writers copy instead of changing them in place, and a block a commit
 * drops is retired, not freed, until the last snapshot of it is dropped
 * (format.h, "Versions").  The cost is one copy of the file per version
 * still read; it is bounded by the snapshots held, not by the writes.
 * Snapshots live in process memory, like holds.  snap is the caller's;
 * its fields are the store's.
 * take: -ESTALE, -EISDIR, -EINVAL (not a regular file of bytes), -ENOMEM.
 * read: bytes [off, off + size) of the version, cut at its size (0 at or
 * past it), without taking the arena lock: readers never wait for
 * writers; -EINVAL for a snapshot not taken.
 * drop: a snapshot not taken (or dropped) is left alone. */
struct store_snap {
	uint64_t data;          /* the version's data block, 0 when empty */
	uint64_t size;          /* its size */
	bool taken;
};
int store_snap_take(struct store *s, store_ref ref, struct store_snap *snap);
ssize_t store_snap_read(struct store *s, const struct store_snap *snap,
			uint64_t off, void *buf, size_t size);
void store_snap_drop(struct store *s, struct store_snap *snap);

/* Extended attributes.  get/list return the length (or -ERANGE when size
 * is non-zero but too small); size 0 asks for the length.  All: -ESTALE.
 * get: -ENODATA (no such name).  set: -EEXIST (CREATE, exists), -ENODATA
 * (REPLACE, absent), -ERANGE (name empty or over STORE_XATTR_NAME_MAX),
 * -E2BIG (value over STORE_XATTR_VALUE_MAX), -ENOSPC (the file's xattrs
 * over STORE_XATTR_TOTAL_MAX, _COUNT_MAX or _LIST_MAX, or the arena
 * full), -EROFS.  remove: -ENODATA, -EROFS. */
ssize_t store_getxattr(struct store *s, store_ref ref, const char *name,
		       void *buf, size_t size);
#define STORE_XATTR_CREATE 1
#define STORE_XATTR_REPLACE 2
int store_setxattr(struct store *s, store_ref ref, const char *name,
		   const void *value, size_t size, int flags);
ssize_t store_listxattr(struct store *s, store_ref ref, char *buf,
			size_t size);
int store_removexattr(struct store *s, store_ref ref, const char *name);
/* An attribute and the mode changed together, under one lock, as an
 * access ACL and the mode bits it decides are (src/fs/acl.h): name is set
 * to value (replacing it or not), or removed when value is NULL (absent
 * is no error); then the mode's permission bits in clear are replaced by
 * those of set (the type and the other bits stay) and ctime changes.
 * Errors of store_setxattr. */
int store_setxattr_mode(struct store *s, store_ref ref, const char *name,
			const void *value, size_t size, uint32_t clear,
			uint32_t set);

struct store_statfs {
	uint64_t size_cap;     /* bytes the arena may grow to */
	uint64_t file_size;    /* bytes the arena file has now */
	uint64_t used;         /* bytes in allocated blocks (incl. header) */
	uint64_t free;         /* size_cap - used */
	uint64_t avail;        /* bytes of data a new file could still hold:
	                          free less the punch reserve (alloc.c),
	                          less what a large file pays on top of
	                          its data (a header and a map slot for each
	                          64 KiB chunk, its map's header) */
	uint64_t inodes;       /* all live inodes; of which: */
	uint64_t files;         /* regular and special files */
	uint64_t dirs, rings, symlinks;
	uint64_t max_files;
	uint32_t format_version;
	bool clean;            /* header says the arena was closed cleanly */
	uint64_t ring_size;    /* default capacity of new rings */
};
/* Never fails: the header's figures, read under the arena lock. */
void store_statfs(struct store *s, struct store_statfs *st);

/* Directory cursors (readdir).
 *
 * Positions.  Every name has a position, a number fixed when the name is
 * made (create, mknod, mkdir, symlink, link, and the new name of a rename,
 * within one directory or back to an old name too) and larger than every
 * position made before it in the arena; it lasts as long as the name, and
 * across remounts (it is kept in the arena: format.h, "Names").
 * Positions are in [1, 2^62).  A directory lists its names in increasing
 * position, which is the order they were made in.
 *
 * Passes.  A cursor returns names in that order, one pass at a time: a
 * pass begins at store_dir_open or store_dir_rewind, notes the position
 * the next name made will get (its end), and returns only names made
 * before it began.  Whatever is created, removed or renamed during a pass,
 * by this process or through another cursor:
 *   - a name that exists for the whole pass is returned exactly once;
 *   - a name made during the pass is not returned (so a name renamed away
 *     and back, which is a new name, is not returned again);
 *   - a name removed during the pass (unlinked, or renamed away) is
 *     returned at most once: if the pass reached it first;
 * so a pass over a directory of N names returns at most N entries and
 * ends.  (POSIX lets readdir(3) return a name added or removed after
 * opendir or rewinddir once or not at all.)
 *
 * Seeking.  store_dir_seek(d, pos), with pos a store_dirent.pos this pass
 * or an earlier one returned, goes on after that entry, whether or not it
 * still exists (telldir/seekdir); pos 0 is the start.  It stays in the
 * same pass.  Peek and advance take O(1); a seek O(entries between the
 * cursor and pos).  The daemon's readdir offsets are positions (+2, for
 * "." and ".."), so a request needs no walk from the start.
 *
 * Cursors live in process memory.  store_dir_open: -ESTALE, -ENOTDIR,
 * -ENOMEM.  The other calls never fail; a cursor whose directory was
 * freed meanwhile is at its end. */
struct store_dir;
struct store_dirent {
	store_ref ref;
	uint64_t ino;
	uint64_t pos;           /* the name's position */
	uint32_t mode;          /* type bits only are meaningful */
	uint16_t namelen;
	const char *name;       /* not NUL-terminated; the cursor's copy,
	                           valid until its next call */
};
int store_dir_open(struct store *s, store_ref dir, struct store_dir **out);
/* Peek at the next entry without consuming it: 1 = entry, 0 = end. */
int store_dir_peek(struct store_dir *d, struct store_dirent *ent);
/* Consume the entry peek shows (none at the end). */
void store_dir_advance(struct store_dir *d);
/* Start a new pass (rewinddir). */
void store_dir_rewind(struct store_dir *d);
/* Go on after position pos, in the same pass (seekdir; 0: the start). */
void store_dir_seek(struct store_dir *d, uint64_t pos);
void store_dir_close(struct store_dir *d);

/* The statistics area of the arena header (format.h): bytes the store
 * keeps for the server and never reads, checks, repairs or resets; their
 * layout is the server's (mount.mmfs: src/common/reqstats.h).  Returns the
 * area and sets *size to its length; the pointer is valid until
 * store_close.  No lock guards it: its one writer is the owner.
 *   - A store this process owns (no flags, STORE_OPEN_CREATE): writes go
 *     to the arena file.
 *   - STORE_OPEN_RDONLY, STORE_OPEN_SNAPSHOT: a private copy; writes stay
 *     in this process.
 *   - STORE_OPEN_PEEK: the mapping is read-only; returns NULL, *size 0.
 * No other error. */
void *store_stats(struct store *s, size_t *size);

/* Inspection (mmfsctl).  On a snapshot: store_verify checks every
 * invariant of format.h on the arena as it is and calls report once per
 * problem (a one-line message); it returns the number of problems
 * (-EINVAL on a store that is not a private copy, -ENOMEM).  It reads
 * nothing it has not validated, and a snapshot it finds no problem in is
 * safe to read without recovery.
 * store_recover then runs recovery on the copy (report:
 * store_recovery_report): 0, -EINVAL (beyond repair: the heap does not
 * tile or the root is gone), -ENOMEM, -ENOSPC (no room for the index). */
typedef void (*store_report_fn)(void *ctx, const char *msg);
int store_verify(struct store *s, store_report_fn report, void *ctx);
int store_recover(struct store *s);

struct store_census {
	uint64_t blocks;            /* allocated blocks */
	uint64_t free_blocks;       /* free blocks in the heap */
	uint64_t free_bytes;        /* bytes in them */
	uint64_t largest_free;      /* largest free block, or tail room */
	uint64_t tail_room;         /* bytes between brk and the cap */
	uint64_t kind_blocks[16];   /* per block kind (format.h) */
	uint64_t kind_bytes[16];
	uint64_t orphans;           /* inodes with no link (open, unlinked) */
	uint64_t retired_blocks;    /* data blocks of old versions kept for */
	uint64_t retired_bytes;     /* readers (store_snap_*), own bytes */
};
/* A walk of the heap as it is (no recovery needed).  0, or -EUCLEAN when
 * a damaged block header stopped the walk: c holds what came before. */
int store_census(struct store *s, struct store_census *c);

struct store_extent {
	uint64_t block;             /* offset of the data block, 0 if none */
	uint64_t bytes;             /* arena bytes the file uses */
	uint64_t chunks;            /* chunks of a large file */
	const char *layout;         /* "empty", "small", "chunked", "ring",
	                               "dir", "device", or "damaged" (data
	                               of the wrong kind: not recovered) */
	/* chunks: blocks the data block owns (a large file's chunks) */
	uint64_t xattr_block;
};
/* What ref's data looks like, validated as read.  -ESTALE. */
int store_extent(struct store *s, store_ref ref, struct store_extent *e);

#endif

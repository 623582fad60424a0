/* mmfs.h -- libmmfs: the files of an mmfs arena at memory speed.
 *
 * An mmfs mount serves one arena (a file, in /dev/shm by default) as
 * files.  libmmfs maps the same arena into the calling process and works
 * on it directly: no system call on the fast paths, and what it does is
 * seen at once through the mount, and the other way round.  It also works
 * on an arena that no daemon serves (MMFS_ATTACH_CREATE makes one).
 *
 *   - mmfs_get reads a whole value with no lock at all: it never sees a
 *     torn value, never blocks a writer, and returns the value's version,
 *     a number that changes at every commit to that file.
 *   - mmfs_set, mmfs_add and mmfs_append commit under the file's writer
 *     lock and the arena mutex, robust process-shared mutexes in the arena
 *     that the daemon's threads take too: writers serialise, and a writer
 *     killed at any instant loses nothing another process committed (the
 *     next locker repairs what it left half done).
 *   - mmfs_wait sleeps on a futex in the arena until a version changes,
 *     whoever commits: another program or a write through the mount.
 *
 * Names are paths relative to the directory attached ("app/counter"):
 * "." and ".." are refused (EINVAL).  Permissions inside the arena are not
 * checked: who can open the arena file (read for MMFS_ATTACH_RDONLY, read
 * and write otherwise) can read or change every file in it.
 *
 * A read-only handle (MMFS_ATTACH_RDONLY) maps the arena read-only: it
 * takes no lock at all (it cannot), so every call on it reads as
 * mmfs_get does, and mmfs_wait polls (every 10 ms) rather than being
 * woken.  Whatever the arena file holds, it reads nothing outside it.
 * As it cannot repair, it gives up with -EAGAIN when writers keep the
 * arena locked for 2 s (or one died holding the lock, and no writer has
 * come by since to repair: a mount or a read-write handle does), and
 * with -EUCLEAN on a damaged arena.
 *
 * Every call returns 0 (or a length) on success and -errno on failure.
 * A struct mmfs may be used by several threads at once.  After fork(2) the
 * child attaches again on its first call (its parent's handle is left to
 * the parent).
 */
#ifndef MMFS_H
#define MMFS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

struct mmfs;
struct mmfs_ring_reader;

enum mmfs_attach_flags {
	MMFS_ATTACH_RDONLY = 1 << 0,  /* read only: get, version, wait (which
	                                 then polls: it cannot flag itself
	                                 as a sleeper) and ring readers;
	                                 needs read permission only */
	MMFS_ATTACH_CREATE = 1 << 1,  /* path is an arena file: create it
	                                 (mode 0600, 1 GiB cap) if missing */
};

/* Attach to path: an mmfs mount point (or a directory inside one: names
 * are then relative to it), or an arena file.  -ENOENT, -EACCES (no
 * permission on the arena), -EINVAL (not an mmfs mount or arena, or a
 * damaged one), -EPROTONOSUPPORT (a newer format), -EBUSY (mmfsctl
 * repairs it), -ENOMEM. */
int mmfs_attach(const char *path, int flags, struct mmfs **out);
/* Why the last mmfs_attach of this thread failed, in one line. */
const char *mmfs_attach_error(void);
void mmfs_detach(struct mmfs *m);

/* Copy the whole value of the file name into buf.  Returns its length;
 * -ERANGE if it is longer than size (size 0: only its length is returned);
 * -ENOENT, -EISDIR, -EINVAL (a ring or special file); read-only handles:
 * -EAGAIN, -EUCLEAN (see above).  version (may be NULL) receives its
 * version. */
ssize_t mmfs_get(struct mmfs *m, const char *name, void *buf, size_t size,
		 uint64_t *version);
/* The version of name's value (as mmfs_get gives it). */
int mmfs_version(struct mmfs *m, const char *name, uint64_t *version);
/* Create or replace the whole value of name, atomically: readers see the
 * old value or the new one.  Missing directories are created (0755), a
 * new file is 0666 less the umask (as creat(2) makes it).  -EEXIST: name
 * is a directory, symlink or special file; -EINVAL: a ring; -ENOSPC,
 * -EFBIG, -EROFS. */
int mmfs_set(struct mmfs *m, const char *name, const void *value,
	     size_t len);
/* Add delta to the decimal integer name holds (a missing or empty file
 * holds 0), atomically, and store the sum as decimal text and a newline.
 * result (may be NULL) receives the sum.  -EINVAL: the file holds no
 * decimal integer; -ERANGE: the sum leaves int64_t. */
int mmfs_add(struct mmfs *m, const char *name, int64_t delta,
	     int64_t *result);
/* Sleep until name's version differs from version, up to timeout_ms
 * (negative: no limit).  0, -ETIMEDOUT, -EINTR (a signal), -ENOENT. */
int mmfs_wait(struct mmfs *m, const char *name, uint64_t version,
	      int timeout_ms);

/* Append one record to the ring log named ring (created, with the
 * arena's default capacity, if missing and its name ends in ".ring").
 * -EINVAL: not a ring; -EFBIG: longer than its capacity. */
int mmfs_append(struct mmfs *m, const char *ring, const void *rec,
		size_t len);
/* A reader of ring's records, from the oldest retained one on. */
int mmfs_ring_open(struct mmfs *m, const char *ring,
		   struct mmfs_ring_reader **out);
/* The next record, waiting up to timeout_ms for one (0: not at all,
 * negative: no limit): its length, -ETIMEDOUT (none), -EMSGSIZE (longer
 * than size: call again with a larger buffer).  A reader that fell behind
 * skips the records evicted meanwhile, never part of one. */
ssize_t mmfs_ring_next(struct mmfs_ring_reader *r, void *buf, size_t size,
		       int timeout_ms);
void mmfs_ring_close(struct mmfs_ring_reader *r);

#ifdef __cplusplus
}
#endif

#endif

/* target.h -- what an mmfsctl argument names: an arena file, a mount
 * point, or a path inside a mounted mmfs.
 *
 * An argument that is a regular file is an arena.  Any other argument is
 * looked up in /proc/self/mountinfo: the mount with the longest mount
 * point that contains it (after realpath) must have the type fuse.mmfs,
 * and its mount source is the arena (the daemon sets fsname=ARENA).  The
 * rest of the path below the mount point is the path inside the arena.
 * A dead FUSE mount (ENOTCONN after kill -9) still resolves.
 *
 * target_holder reports who serves an arena by reading /proc/locks for the
 * flock the daemon holds, so asking never disturbs a mount in progress.
 */
#ifndef MMFSCTL_TARGET_H
#define MMFSCTL_TARGET_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct target {
	char *arena;       /* absolute path of the arena file */
	char *inner;       /* path inside the arena, "/" for its root */
	char *mountpoint;  /* a mount point serving the arena, or NULL */
};

/* Resolve arg.  On failure returns -errno with a one-line reason in err
 * (-EINVAL: neither an arena nor inside an mmfs mount) and t is empty. */
int target_resolve(const char *arg, struct target *t, char *err,
		   size_t errlen);
void target_finish(struct target *t);

struct target_holder {
	bool held;         /* someone holds a flock on the arena file */
	bool exclusive;    /* LOCK_EX (a writable mount) or LOCK_SH */
	pid_t pid;         /* the holder, 0 if not visible from here */
};

/* Who holds the flock on the arena file: 0 with h->held false when
 * nobody, -errno when that cannot be told (/proc/locks unreadable). */
int target_holder(const char *arena, struct target_holder *h);

#endif

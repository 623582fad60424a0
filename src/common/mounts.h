/* mounts.h -- which mounts this process sees (/proc/self/mountinfo).
 *
 * mmfs mounts have the type fuse.mmfs and the arena's absolute path as
 * their source (the daemon sets fsname=ARENA).  Used by mmfsctl to turn a
 * mount point into an arena, and by mount.mmfs to tell a daemon that still
 * serves an arena from one whose mount is already gone, and whether its
 * own mount was remounted read-only (rowatch.c).
 */
#ifndef MMFS_MOUNTS_H
#define MMFS_MOUNTS_H

#include <stdbool.h>

#define MMFS_FSTYPE "fuse.mmfs"

struct mount_ent {
	char *point;       /* mount point */
	char *fstype;      /* e.g. "fuse.mmfs" */
	char *source;      /* for mmfs: the arena */
	char *dev;         /* the file system's device, "major:minor" */
	bool sb_ro;        /* the file system (not just this mount point) is
	                      read-only: its super options start with "ro" */
};

/* The mount that contains path, an absolute symlink-free path (longest
 * mount point; the last one mounted wins a tie).  Fills found with owned
 * copies; -ENOENT if none, -errno if mountinfo cannot be read. */
int mounts_find_path(const char *path, struct mount_ent *found);

/* The first mmfs mount whose source is the arena (an absolute path). */
int mounts_find_arena(const char *arena, struct mount_ent *found);

/* The last mount of the file system with device dev ("major:minor"). */
int mounts_find_dev(const char *dev, struct mount_ent *found);

void mount_ent_free(struct mount_ent *m);

#endif

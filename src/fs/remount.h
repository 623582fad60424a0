/* remount.h -- mount.mmfs -o remount,...: change a mounted mmfs.
 *
 * For `mount -o remount,ro MNT`, mount(8) runs its helper as
 * `mount.fuse.mmfs ARENA MNT -o ro,nosuid,nodev,...,remount,user_id=0,...`:
 * the new options merged with those of the mount (and of fstab).  The
 * kernel's FUSE lets a remount change the superblock's read-only flag and
 * the mount's flags, nothing else (fuse_reconfigure; the options of the
 * old mount(2) API are ignored).  remount_run does that much: one
 * mount(2) with MS_REMOUNT, MS_RDONLY as ro/rw says and MS_NOSUID,
 * MS_NODEV, MS_NOEXEC as the parsed flags say (their defaults as for a
 * mount: opts.c), so a remount replaces those flags, as mount(8) means
 * it to.  Atime flags are left as they are (the kernel keeps them when a
 * remount names none); every other option is the mount's own, repeated,
 * and ignored.
 *
 * Refused, with one line: a path that is not an mmfs mount point, an
 * arena argument that is not the one mounted there, and remount,rw of a
 * mount whose daemon opened the arena read-only (-o ro: it cannot write;
 * unmount and mount it again).  The daemon is not told anything: it
 * watches its mount's read-only flag (rowatch.h), so a remount made any
 * other way (mount -i, mount(2)) works as well.
 */
#ifndef MMFS_REMOUNT_H
#define MMFS_REMOUNT_H

#include "opts.h"

/* Remount the mmfs at mnt (absolute, resolved) as o says.  Returns the
 * exit status: 0, or 1 after one line on stderr. */
int remount_run(const struct mmfs_opts *o, const char *mnt);

#endif

/* rowatch.h -- the daemon's side of remount: is the mount read-only now?
 *
 * `mount -o remount,ro` (remount.h, or any mount(2) with MS_REMOUNT)
 * flips the read-only flag of the mount's superblock without a word to
 * the daemon.  The kernel then refuses most changes itself, but whatever
 * reaches the daemon must get EROFS too, and after `remount,rw` be
 * served again.  A watch reads the flag where the kernel shows it, in
 * /proc/self/mountinfo: the super options ("ro" or "rw" first) of the
 * daemon's mount, recognised by its device ("0:N", one per FUSE
 * connection), which the watch finds by mount point right after
 * mounting; bind mounts and moves do not matter.
 *
 * Cost: reading mountinfo takes tens of microseconds, so a watch reads it
 * again only when the mount table changed -- the kernel marks an open
 * mountinfo POLLPRI after any change in the mount namespace: one poll(2)
 * with timeout 0 per guarded request (below) and per due atime update --
 * and, while read-only, at every such request (a remount,rw made in
 * another mount namespace raises no event here; a request that got past
 * the kernel suggests the mount is writable again).  Requests that
 * change nothing never look.
 *
 * ro_guard_ops wraps the operations of mmfs_ops (ops.h) that change the
 * namespace or a file by name: while the watch of the session's mmfs_fs
 * says read-only they answer EROFS, else they run.  An operation of that
 * kind added to mmfs_ops must be wrapped there.
 *
 * Not wrapped, because the kernel keeps them from meeting a read-only
 * superblock: open for writing or with O_TRUNC, and the changes made
 * through a handle so opened (write, write_buf, fallocate,
 * copy_file_range).  The kernel holds the mount's write access from
 * before it sends such an open until the handle's last close, and
 * refuses a remount,ro while any is held (sb_prepare_remount_readonly:
 * EBUSY); after a remount,ro it refuses the open itself.  Only a forced
 * remount (SysRq u) passes over open handles, and then writes through
 * them go on, as they do on tmpfs.  These are the hot requests (a ring
 * append is one write): a poll each would be a third syscall beside the
 * read and the reply.  Also not wrapped: release, whose deferred O_TRUNC
 * finishes an open made while writable (the kernel sends it as the
 * handle goes, and a remount,ro may come first); fsync; everything that
 * only reads.
 */
#ifndef MMFS_ROWATCH_H
#define MMFS_ROWATCH_H

#define FUSE_USE_VERSION 34

#include <fuse_lowlevel.h>
#include <stdbool.h>

struct ro_watch;

/* Watch the mmfs mount just made at mnt (absolute).  NULL when there is
 * no such mount in /proc/self/mountinfo, or no memory: the daemon then
 * never refuses on its own (the kernel still does). */
struct ro_watch *ro_watch_create(const char *mnt);
void ro_watch_destroy(struct ro_watch *w);

/* Is the mount read-only now?  false for NULL. */
bool ro_watch_readonly(struct ro_watch *w);

/* *ops = mmfs_ops, its changing operations guarded as above. */
void ro_guard_ops(struct fuse_lowlevel_ops *ops);

#endif

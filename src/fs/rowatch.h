/* rowatch.h -- the daemon's side of remount: is the mount read-only now?
 *
 * `mount -o remount,ro` (remount.h, or any mount(2) with MS_REMOUNT)
 * flips the read-only flag of the mount's superblock without a word to
 * the daemon.  A watch reads the flag where the kernel shows it, in
 * /proc/self/mountinfo: the super options ("ro" or "rw" first) of the
 * daemon's mount, recognised by its device ("0:N", one per FUSE
 * connection), which the watch finds by mount point right after
 * mounting; bind mounts and moves do not matter.
 *
 * Cost: reading mountinfo takes tens of microseconds, so a watch reads it
 * again only when the mount table changed -- the kernel marks an open
 * mountinfo POLLPRI after any change in the mount namespace: one poll(2)
 * with timeout 0 per due atime update -- and, while read-only, at every
 * such update (a remount,rw made in another mount namespace raises no
 * event here).
 *
 * What the watch is for: the daemon updates access times itself (on
 * reads), and must stop while the mount is read-only.  Every change, on
 * the other hand, is refused by the kernel before it reaches the daemon.
 * The kernel holds the mount's write access while it sends a change
 * (mnt_want_write around create, unlink, rename, setattr, setxattr...;
 * from before an open for writing or with O_TRUNC until the handle's
 * last close, so around write, fallocate and copy_file_range too), and
 * refuses a remount,ro while any is held (sb_prepare_remount_readonly:
 * EBUSY); once read-only it refuses new ones with EROFS.  Only a forced
 * remount (SysRq u) passes over held write access, and then writes
 * through descriptors already open go on, as they do on tmpfs.  An
 * earlier guard that asked the watch before every change cost a poll(2)
 * per request: a third syscall beside the read and the reply of a ring
 * append (docs/BENCHMARKS.md), for requests that could not come.
 */
#ifndef MMFS_ROWATCH_H
#define MMFS_ROWATCH_H

#include <stdbool.h>

struct ro_watch;

/* Watch the mmfs mount just made at mnt (absolute).  NULL when there is
 * no such mount in /proc/self/mountinfo, or no memory: the daemon then
 * updates access times after a remount,ro too (the kernel still refuses
 * every change). */
struct ro_watch *ro_watch_create(const char *mnt);
void ro_watch_destroy(struct ro_watch *w);

/* Is the mount read-only now?  false for NULL. */
bool ro_watch_readonly(struct ro_watch *w);

#endif

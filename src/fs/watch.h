/* watch.h -- the feed watcher: the kernel forgets what programs changed.
 *
 * libmmfs programs change the arena without the daemon, so the kernel's
 * caches of those files (attributes, pages of mappings and O_RDWR
 * handles, poll waiters) would go stale.  The store tells the daemon:
 * every change by a program to an inode the daemon holds goes to the
 * arena's feed (store_feed_wait).  A watcher thread sleeps on it and, for
 * each inode, invalidates what the kernel caches and wakes its pollers
 * (mmfs_changed_elsewhere); if the feed overflowed, it does so for every
 * node the kernel knows.  The same wait performs a repair of the arena
 * that a program asked the server for (format.h, "Locks").
 *
 * The watcher is a thread of its own, never a serving thread: an
 * invalidation may wait for requests in flight, which the serving
 * threads answer.
 */
#ifndef MMFS_WATCH_H
#define MMFS_WATCH_H

struct mmfs_fs;
struct feed_watch;

/* Start watching fs's store.  0 or -errno (no thread). */
int feed_watch_start(struct mmfs_fs *fs, struct feed_watch **out);
/* Stop and join the watcher (within its 100 ms wait).  NULL is fine. */
void feed_watch_stop(struct feed_watch *w);

#endif

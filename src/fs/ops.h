/* ops.h -- the FUSE operations of mount.mmfs.
 *
 * mmfs_ops serves one store through the libfuse low-level API; the session
 * userdata is a struct mmfs_fs.  The session loop is single-threaded, so
 * the operations are never concurrent and need no locks of their own.
 *
 * Invariants (kept in ops.c):
 *   - Node ids: FUSE_ROOT_ID is store_root(); every other node id is the
 *     store_ref itself.  A node id that is not a valid ref gets ESTALE.
 *   - Every lookup count the kernel holds on a non-root node is one store
 *     hold; pins counts them all (forget must never take it below zero).
 *   - Every request is answered by exactly one fuse_reply_*.
 *   - The kernel's cached entries and attributes are never stale: every
 *     change reaches the store through this mount's kernel, which updates
 *     or drops what it caches, except a truncation applied at release,
 *     after which the daemon drops the cached attributes itself.
 */
#ifndef MMFS_OPS_H
#define MMFS_OPS_H

#define FUSE_USE_VERSION 34

#include <fuse_lowlevel.h>
#include <stddef.h>
#include <stdint.h>

#include "store.h"

struct mmfs_fs {
	struct store *store;
	struct fuse_session *se;  /* for notifications to the kernel */
	char *buf;              /* reply buffer for read/readdir/xattrs */
	size_t bufsize;
	uint64_t pins;          /* lookup counts held by the kernel */
	struct mmfs_file *files;  /* open file handles (ops.c) */
};

extern const struct fuse_lowlevel_ops mmfs_ops;

/* Release what the operations allocated, finishing the work of file
 * handles that were never released (the store stays open). */
void mmfs_fs_finish(struct mmfs_fs *fs);

#endif

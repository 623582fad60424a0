/* ops.h -- the FUSE operations of mount.mmfs.
 *
 * mmfs_ops serves one store through the libfuse low-level API; the session
 * userdata is a struct mmfs_fs.  The session loop is single-threaded, so
 * the operations are never concurrent and need no locks of their own.
 *
 * Invariants (kept in ops.c):
 *   - Node ids: FUSE_ROOT_ID is store_root(); every other node id is the
 *     store_ref itself.  A node id that is not a valid ref gets ESTALE.
 *   - The kernel's lookup counts on non-root nodes are in fs->nodes
 *     (nodes.h), which holds each node it counts once in the store: a file
 *     unlinked while the kernel knows it stays readable until FORGET takes
 *     its count to 0, or until mmfs_fs_finish at unmount, whichever comes
 *     first.  A reply that hands out a node counts it first and uncounts
 *     it if the reply fails; one that cannot count it (no memory) answers
 *     ENOMEM instead.
 *   - Every request is answered by exactly one fuse_reply_*.
 *   - The kernel's cached entries and attributes are never stale: every
 *     change reaches the store through this mount's kernel, which updates
 *     or drops what it caches, except a truncation applied at release and
 *     set-ID bits cleared by a write or an open (replies that carry no
 *     attributes), after which the daemon drops the cached attributes
 *     itself.
 */
#ifndef MMFS_OPS_H
#define MMFS_OPS_H

#define FUSE_USE_VERSION 34

#include <fuse_lowlevel.h>
#include <stddef.h>
#include <stdint.h>

#include "initflags.h"
#include "nodes.h"
#include "store.h"

struct mmfs_fs {
	struct store *store;
	struct fuse_session *se;  /* for notifications to the kernel */
	char *buf;              /* reply buffer for read/readdir/xattrs */
	size_t bufsize;
	struct nodes nodes;     /* the kernel's lookup counts */
	struct mmfs_file *files;  /* open file handles (ops.c) */
	struct initflags init;  /* what INIT settled; the kill flags of the
				   request being served (initflags.h) */
};

extern const struct fuse_lowlevel_ops mmfs_ops;

/* Ready fs to serve store s (allocates nothing). */
void mmfs_fs_init(struct mmfs_fs *fs, struct store *s);

/* Release what the operations allocated, finishing the work of file
 * handles that were never released and releasing the store holds of every
 * node the kernel knew, which frees unlinked files.  Runs at unmount
 * (destroy) and again, harmlessly, before the store is closed; the store
 * stays open. */
void mmfs_fs_finish(struct mmfs_fs *fs);

#endif

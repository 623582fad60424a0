/* ops.h -- the FUSE operations of mount.mmfs.
 *
 * mmfs_ops serves one store through the libfuse low-level API; the session
 * userdata is a struct mmfs_fs.  Several threads serve requests at once
 * (serve.h).  The store locks for itself (format.h, "Locks"); the daemon's
 * own state is locked here: fs->lock guards the node table and the list
 * of handles, each handle's lock its pass, pending truncation and ring
 * position, and every thread has its own reply buffer.  Lock order: a
 * handle's lock, then fs->lock, then the store's locks; fs->lock is never
 * held across a store call except nodes_learn/forget (which hold and
 * release inodes).
 *
 * Invariants (kept in ops.c):
 *   - Node ids: FUSE_ROOT_ID is store_root(); every other node id is the
 *     store_ref itself.  A node id that is not a valid ref gets ESTALE;
 *     one looked up as "." came from a file handle and is checked as a
 *     ref from outside (store_lookup_ref).  An entry's generation is its
 *     st_ino cut to 32 bits, the root's 0.
 *   - The kernel's lookup counts on non-root nodes are in fs->nodes
 *     (nodes.h), which holds each node it counts once in the store: a file
 *     unlinked while the kernel knows it stays readable until FORGET takes
 *     its count to 0, or until mmfs_fs_finish at unmount, whichever comes
 *     first.  A reply that hands out a node counts it first and uncounts
 *     it if the reply fails; one that cannot count it (no memory) answers
 *     ENOMEM instead.
 *   - Every request is answered by exactly one fuse_reply_*.
 *   - A poll handle waits in fs->polls until its node changes or its
 *     open file is released; either way it is destroyed once.
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
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "initflags.h"
#include "nodes.h"
#include "opts.h"
#include "pollq.h"
#include "store.h"

struct ro_watch;

struct mmfs_fs {
	struct store *store;
	struct fuse_session *se;  /* for notifications to the kernel */
	pthread_mutex_t lock;   /* nodes and files, between threads */
	struct nodes nodes;     /* the kernel's lookup counts */
	struct ro_watch *ro;    /* remounted read-only? (rowatch.h); NULL */
	struct mmfs_file *files;  /* open file handles (ops.c) */
	atomic_uint empty_replaces;  /* handles in files that opened with
				   O_TRUNC and have not written yet (ops.c,
				   "Deferred O_TRUNC") */
	struct pollq polls;     /* poll handles waiting for a change */
	struct initflags init;  /* what INIT settled; the kill flags of the
				   request being served (initflags.h) */
	enum mmfs_atime atime;  /* when reads update atime (mount options) */
	bool nodiratime;        /* listings never update a directory's */
	bool acl;               /* POSIX ACLs (acl.h): asked for by the mount
				   options, then whether INIT granted them */
};

extern const struct fuse_lowlevel_ops mmfs_ops;

/* Ready fs to serve store s (allocates nothing), with relatime and no
 * ACLs; the caller may set atime, nodiratime and acl before serving. */
void mmfs_fs_init(struct mmfs_fs *fs, struct store *s);

/* Release what the operations allocated, finishing the work of file
 * handles that were never released and releasing the store holds of every
 * node the kernel knew, which frees unlinked files.  Runs at unmount
 * (destroy) and again, harmlessly, before the store is closed; the store
 * stays open. */
void mmfs_fs_finish(struct mmfs_fs *fs);

/* A libmmfs program changed ref (watch.h): drop what the kernel caches
 * of it and wake its pollers.  mmfs_changed_all: the same for every node
 * the kernel knows (the feed lost track).  Never from a serving thread. */
void mmfs_changed_elsewhere(struct mmfs_fs *fs, store_ref ref);
void mmfs_changed_all(struct mmfs_fs *fs);

/* Free what the calling serving thread kept between requests (its reply
 * buffer): serve.c calls it as each thread ends. */
void mmfs_thread_done(void);

#endif

/* nodes.h -- the kernel's lookup counts, kept on the FUSE side.
 *
 * FUSE's contract (fuse_lowlevel.h): every reply that hands the kernel a
 * node (lookup, mknod, mkdir, symlink, link, create, and each entry of a
 * readdirplus reply but "." and "..") adds one to that node's lookup
 * count, FORGET and BATCH_FORGET take counts away, and at 0 the kernel
 * has forgotten the node: it will not name it again.  A node table keeps
 * those counts, and holds each node it counts in the
 * store (store_hold) from its first count to its last, so that a file
 * unlinked while the kernel still knows it (open, or just cached) stays in
 * the arena until the kernel forgets it.  ops.c decides what is counted
 * (not the root, which the kernel never forgets).
 *
 * Invariants:
 *   1. A node is in the table iff its count is above 0 iff the table
 *      holds it in the store, exactly once.
 *   2. total is the sum of the counts: the lookups the kernel has.
 *   3. Forget never takes a count below 0 (asserted: the kernel forgets
 *      only what it was given).
 *
 * The table is an open-addressing hash map (linear probing, deletion by
 * backward shift, at most half full) that grows and never shrinks before
 * nodes_finish.  It is not thread-safe: ops.c calls it under fs->lock.
 */
#ifndef MMFS_NODES_H
#define MMFS_NODES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store.h"

struct node_slot {
	store_ref ref;          /* 0: empty */
	uint64_t count;         /* lookup count, above 0 when ref is set */
	bool replaced;          /* opened with O_TRUNC while known */
	bool linkable;          /* a tmpfile that may get its first name */
};

struct nodes {
	struct store *store;    /* where the nodes are held */
	struct node_slot *slots;
	size_t cap;             /* slots: 0 or a power of two */
	size_t used;            /* nodes in the table */
	uint64_t total;         /* sum of the counts */
};

/* An empty table whose nodes live in s.  Allocates nothing. */
void nodes_init(struct nodes *t, struct store *s);

/* The kernel learned ref once more.  The first count holds ref in the
 * store.  0, or -ENOMEM (no memory for the table or the hold), -ESTALE
 * (ref is no inode); on error nothing changed. */
int nodes_learn(struct nodes *t, store_ref ref);

/* The kernel forgot n lookups of ref.  At 0 ref leaves the table and its
 * hold is released, which frees an inode without links.  A ref the table
 * does not know (a forget after nodes_finish) is ignored. */
void nodes_forget(struct nodes *t, store_ref ref, uint64_t n);

/* ref was opened with O_TRUNC: from now until the kernel forgets it, ops.c
 * lets the kernel cache none of its attributes (see ops.c, "Deferred
 * O_TRUNC").  A ref the table does not know is ignored. */
void nodes_mark_replaced(struct nodes *t, store_ref ref);
bool nodes_replaced(const struct nodes *t, store_ref ref);

/* ref is a tmpfile made without O_EXCL (ops.c, "O_TMPFILE"), which may
 * get a first name, as the kernel's I_LINKABLE says, until it has one:
 * nodes_set_linkable sets or clears that, nodes_linkable asks.  A ref the
 * table does not know is not linkable. */
void nodes_set_linkable(struct nodes *t, store_ref ref, bool on);
bool nodes_linkable(const struct nodes *t, store_ref ref);

/* The lookup count of ref: 0 if the kernel does not know it. */
uint64_t nodes_count(const struct nodes *t, store_ref ref);

/* The kernel knows nothing any more (unmount): release every hold, which
 * frees the unlinked inodes only the kernel kept, and free the table.  It
 * is empty afterwards and may be used again. */
void nodes_finish(struct nodes *t);

#endif

/* pollq.h -- the poll handles waiting for a change of each node.
 *
 * FUSE's poll contract (fuse_lowlevel.h, .poll): a POLL request from a
 * process about to sleep in poll(2), select(2) or epoll carries a poll
 * handle.  The file system keeps it and, when the file may have become
 * ready, passes it to fuse_lowlevel_notify_poll, which wakes every
 * sleeper on that open file; the sleepers then ask again (a new POLL,
 * a new handle).  Every handle must be destroyed once
 * (fuse_pollhandle_destroy), notified or not.
 *
 * A poll queue keeps those handles by node until the node changes
 * (pollq_wake: every waiter of the node is notified and forgotten) or the
 * open file they came through is released (pollq_cancel).  A waiter is
 * named by its owner, that open file (an opaque pointer).  One
 * notification wakes every sleeper of an open file, whichever of its
 * handles it uses, so the queue keeps only an owner's newest handle.
 *
 * The queue never calls FUSE itself: pollq_init is given the two things
 * to do with a handle, wake (notify, then destroy) and drop (destroy).
 *
 * Invariants:
 *   1. Every handle given to pollq_add goes exactly once to wake or drop:
 *      from pollq_add (it replaced an older one, or could not be stored),
 *      pollq_wake, pollq_cancel or pollq_finish.  The queue keeps none
 *      after pollq_finish.
 *   2. At most one handle per (node, owner).
 *   3. count is the number of handles kept.  pollq_wake of a queue
 *      that keeps none is one comparison: the write path calls it on
 *      every write.
 *
 * A chained hash map by node, doubled when count reaches the number of
 * buckets.  Not thread-safe: ops.c calls it under fs->lock.
 */
#ifndef MMFS_POLLQ_H
#define MMFS_POLLQ_H

#include <stdbool.h>
#include <stddef.h>

#include "store.h"

struct fuse_pollhandle;
typedef void pollq_fn(struct fuse_pollhandle *ph);

struct pollq_waiter;            /* pollq.c */

struct pollq {
	struct pollq_waiter **buckets;
	size_t nbuckets;        /* 0 or a power of two */
	size_t count;           /* handles kept */
	pollq_fn *wake;         /* notify ph, then destroy it */
	pollq_fn *drop;         /* destroy ph */
};

/* An empty queue that hands its handles to wake and drop.  Allocates
 * nothing. */
void pollq_init(struct pollq *q, pollq_fn *wake, pollq_fn *drop);

/* ph waits for a change of node on behalf of owner; an older handle of
 * the same owner and node is dropped.  The queue owns ph from now on,
 * whatever the result: 0, or -ENOMEM (ph was dropped: nobody will wake
 * it, so the caller must fail the request). */
int pollq_add(struct pollq *q, store_ref node, const void *owner,
	      struct fuse_pollhandle *ph);

/* node changed: wake every handle waiting for it and forget them.
 * Returns how many were woken. */
size_t pollq_wake(struct pollq *q, store_ref node);

/* owner is going away: drop its handle for node, if it has one. */
void pollq_cancel(struct pollq *q, store_ref node, const void *owner);

/* Does any handle wait, for any node? */
bool pollq_empty(const struct pollq *q);

/* Drop every handle and free the map.  The queue is empty afterwards and
 * may be used again. */
void pollq_finish(struct pollq *q);

#endif

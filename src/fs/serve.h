/* serve.h -- the request loop: several threads serving one FUSE session.
 *
 * Each thread reads a request from the session (the kernel hands every
 * request to exactly one reader), counts it by opcode (reqstats.h) and
 * processes it (libfuse calls mmfs_ops, which reply).  The thread that
 * calls serve_run takes part and is the only one that receives the
 * session's signals (the others block them), so SIGTERM ends its loop;
 * the others end when the kernel ends the session (their reads fail with
 * ENODEV) or, waiting for a request, when serve_join cancels them (as
 * libfuse's own multi-threaded loop does; a thread is cancelled only in
 * its read, never while it processes a request).
 *
 * Use:  serve_run(se, stats, n, &pool);   loop until unmount or signal
 *       serve_join(se, pool);              stop and wait for the others
 *       fuse_session_unmount(se);          (closes the session's fd)
 */
#ifndef MMFS_SERVE_H
#define MMFS_SERVE_H

#define FUSE_USE_VERSION 34

#include <fuse_lowlevel.h>

#include "reqstats.h"

#define SERVE_THREADS_MAX 64

struct serve_pool;

/* Serve se on `threads` threads (1..SERVE_THREADS_MAX), counting requests
 * into stats (may be NULL).  Returns when the calling thread's loop ends:
 * 0, or an errno value from reading the session.  *pool is for
 * serve_join; NULL when no other thread was started. */
int serve_run(struct fuse_session *se, struct reqstats *stats,
	      unsigned threads, struct serve_pool **pool);

/* Stop the other threads (those waiting for a request are cancelled)
 * and wait for them, then reset the session; before the session's fd is
 * closed.  pool may be NULL. */
void serve_join(struct fuse_session *se, struct serve_pool *pool);

#endif

/* serve.c -- the request loop on several threads (serve.h). */
#include <errno.h>
#include <linux/fuse.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "ops.h"
#include "serve.h"

struct serve_pool {
	struct fuse_session *se;
	struct reqstats *stats;
	unsigned n;                /* threads started besides the caller */
	pthread_t tid[SERVE_THREADS_MAX];
};

/* A thread's buffers, freed however its loop ends (serve_join cancels
 * threads blocked in a read). */
static void cleanup(void *arg)
{
	struct fuse_buf *buf = arg;

	free(buf->mem);
	buf->mem = NULL;
	mmfs_thread_done();
}

/* O_TMPFILE.  Linux 6.1 and later (protocol 7.37) send open(dir,
 * O_TMPFILE) as a TMPFILE request, which libfuse 3.14 does not know: it
 * answers ENOSYS, after which the kernel answers EOPNOTSUPP itself for the
 * rest of the mount.  A TMPFILE request is a CREATE in all but its opcode
 * (fs/fuse/dir.c, fuse_tmpfile: fuse_create_open): the same struct
 * fuse_create_in, then the new dentry's name, which for a tmpfile is
 * always "/" (vfs_tmpfile), and the same reply, fuse_entry_out and
 * fuse_open_out.  So the loop turns it into a CREATE before libfuse
 * decodes it, and ops.c's create makes a tmpfile for the name "/", which
 * no CREATE can otherwise carry (the kernel never sends a name with a
 * slash).  The reply goes to the request's unique id whatever its opcode,
 * and the counters (reqstats) still see TMPFILE, counted before.
 * libfuse 3.17.1 and later have a tmpfile operation of their own; built
 * with one, this rewrite should go in favour of it. */
#define OPCODE_TMPFILE 51       /* FUSE_TMPFILE, protocol 7.37 */

_Static_assert(FUSE_CREATE == 35, "the CREATE of the protocol");

static void tmpfile_as_create(struct fuse_buf *buf)
{
	const size_t at = offsetof(struct fuse_in_header, opcode);
	uint32_t opcode;

	if (buf->flags & FUSE_BUF_IS_FD ||
	    buf->size < sizeof(struct fuse_in_header))
		return;
	memcpy(&opcode, (char *)buf->mem + at, sizeof(opcode));
	if (opcode != OPCODE_TMPFILE)
		return;
	opcode = FUSE_CREATE;
	memcpy((char *)buf->mem + at, &opcode, sizeof(opcode));
}

/* Read, count and process requests until the session ends.  Only the
 * read may be cancelled, never the processing of a request.  A request
 * read into a pipe (FUSE_BUF_IS_FD) is not in memory and not counted;
 * splice is not enabled, so none is. */
static int loop(struct fuse_session *se, struct reqstats *stats)
{
	struct fuse_buf buf = { .mem = NULL };
	int rc = 0, old;

	pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &old);
	pthread_cleanup_push(cleanup, &buf);
	while (!fuse_session_exited(se)) {
		pthread_setcancelstate(PTHREAD_CANCEL_ENABLE, NULL);
		rc = fuse_session_receive_buf(se, &buf);
		pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, NULL);
		if (rc == -EINTR)
			continue;
		if (rc <= 0)
			break;
		if (!(buf.flags & FUSE_BUF_IS_FD))
			reqstats_count(stats, buf.mem, buf.size);
		tmpfile_as_create(&buf);
		fuse_session_process_buf(se, &buf);
	}
	pthread_cleanup_pop(1);
	pthread_setcancelstate(old, NULL);
	return rc < 0 ? -rc : 0;
}

static void *worker(void *arg)
{
	struct serve_pool *pool = arg;

	loop(pool->se, pool->stats);
	return NULL;
}

/* Start n workers with every signal blocked (they inherit the mask). */
static void start_workers(struct serve_pool *pool, unsigned n)
{
	sigset_t all, old;

	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	for (pool->n = 0; pool->n < n; pool->n++)
		if (pthread_create(&pool->tid[pool->n], NULL, worker, pool))
			break;          /* serve with the threads we have */
	pthread_sigmask(SIG_SETMASK, &old, NULL);
}

int serve_run(struct fuse_session *se, struct reqstats *stats,
	      unsigned threads, struct serve_pool **out)
{
	struct serve_pool *pool = NULL;

	if (threads > SERVE_THREADS_MAX)
		threads = SERVE_THREADS_MAX;
	if (threads > 1 && (pool = calloc(1, sizeof(*pool)))) {
		pool->se = se;
		pool->stats = stats;
		start_workers(pool, threads - 1);
	}
	*out = pool;
	return loop(se, stats);
}

void serve_join(struct fuse_session *se, struct serve_pool *pool)
{
	if (pool) {
		fuse_session_exit(se);
		for (unsigned i = 0; i < pool->n; i++)
			pthread_cancel(pool->tid[i]);   /* acts in a read only */
		for (unsigned i = 0; i < pool->n; i++)
			pthread_join(pool->tid[i], NULL);
		free(pool);
	}
	fuse_session_reset(se);
}

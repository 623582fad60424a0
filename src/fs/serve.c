/* serve.c -- the request loop on several threads (serve.h). */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>

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

/* watch.c -- the feed watcher (see watch.h). */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "ops.h"
#include "watch.h"

#define WATCH_BATCH 64
#define WATCH_TICK_MS 100       /* how often it looks at `stop` */

struct feed_watch {
	struct mmfs_fs *fs;
	pthread_t thread;
	atomic_bool stop;
};

static void tell_kernel(struct mmfs_fs *fs, const store_ref *refs,
			ssize_t n)
{
	for (ssize_t i = 0; i < n; i++)
		if (i == 0 || refs[i] != refs[i - 1])
			mmfs_changed_elsewhere(fs, refs[i]);
}

static void *watch_run(void *arg)
{
	struct feed_watch *w = arg;
	struct store *s = w->fs->store;
	uint64_t pos = store_feed_tail(s);
	store_ref refs[WATCH_BATCH];
	ssize_t n;

	while (!atomic_load(&w->stop)) {
		n = store_feed_wait(s, &pos, refs, WATCH_BATCH,
				    WATCH_TICK_MS);
		if (n == -EOVERFLOW)
			mmfs_changed_all(w->fs);
		else if (n > 0)
			tell_kernel(w->fs, refs, n);
	}
	return NULL;
}

int feed_watch_start(struct mmfs_fs *fs, struct feed_watch **out)
{
	struct feed_watch *w = calloc(1, sizeof(*w));
	sigset_t all, old;
	int rc;

	if (!w)
		return -ENOMEM;
	w->fs = fs;
	atomic_init(&w->stop, false);
	sigfillset(&all);               /* signals stay the main thread's */
	pthread_sigmask(SIG_BLOCK, &all, &old);
	rc = pthread_create(&w->thread, NULL, watch_run, w);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc) {
		free(w);
		return -rc;
	}
	*out = w;
	return 0;
}

void feed_watch_stop(struct feed_watch *w)
{
	if (!w)
		return;
	atomic_store(&w->stop, true);
	pthread_join(w->thread, NULL);
	free(w);
}

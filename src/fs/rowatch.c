/* rowatch.c -- is the mount read-only now? (rowatch.h) */
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mounts.h"
#include "rowatch.h"

#define MOUNTINFO "/proc/self/mountinfo"

struct ro_watch {
	pthread_mutex_t lock;   /* serving threads ask at once */
	int fd;                 /* MOUNTINFO, polled for changes */
	char *dev;              /* the mount's device, "major:minor" */
	bool ro;                /* its superblock, at the last look */
};

struct ro_watch *ro_watch_create(const char *mnt)
{
	struct ro_watch *w = calloc(1, sizeof(*w));
	struct mount_ent m = { 0 };

	if (!w)
		return NULL;
	pthread_mutex_init(&w->lock, NULL);
	/* Open first: a change after this raises an event. */
	w->fd = open(MOUNTINFO, O_RDONLY | O_CLOEXEC);
	if (w->fd >= 0 && mounts_find_path(mnt, &m) == 0 &&
	    strcmp(m.point, mnt) == 0 && strcmp(m.fstype, MMFS_FSTYPE) == 0) {
		w->dev = m.dev;
		w->ro = m.sb_ro;
		m.dev = NULL;
	}
	mount_ent_free(&m);
	if (!w->dev) {
		ro_watch_destroy(w);
		return NULL;
	}
	return w;
}

void ro_watch_destroy(struct ro_watch *w)
{
	if (!w)
		return;
	if (w->fd >= 0)
		close(w->fd);
	pthread_mutex_destroy(&w->lock);
	free(w->dev);
	free(w);
}

/* Has the mount table changed since the last call? */
static bool table_changed(struct ro_watch *w)
{
	struct pollfd p = { .fd = w->fd, .events = POLLPRI };

	return poll(&p, 1, 0) > 0 && (p.revents & (POLLPRI | POLLERR));
}

bool ro_watch_readonly(struct ro_watch *w)
{
	struct mount_ent m;
	bool ro;

	if (!w)
		return false;
	pthread_mutex_lock(&w->lock);
	/* No line for the device: unmounted, and nothing changes now. */
	if ((w->ro || table_changed(w)) && mounts_find_dev(w->dev, &m) == 0) {
		w->ro = m.sb_ro;
		mount_ent_free(&m);
	}
	ro = w->ro;
	pthread_mutex_unlock(&w->lock);
	return ro;
}

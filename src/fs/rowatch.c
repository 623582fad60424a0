/* rowatch.c -- is the mount read-only now? (rowatch.h) */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mounts.h"
#include "ops.h"
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

/* ---- the guard ---------------------------------------------------------
 * Each wrapper answers EROFS while read-only, else runs mmfs_ops' own. */

static bool refused(fuse_req_t req)
{
	struct mmfs_fs *fs = fuse_req_userdata(req);

	if (!ro_watch_readonly(fs->ro))
		return false;
	fuse_reply_err(req, EROFS);
	return true;
}

static void g_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr,
		      int to_set, struct fuse_file_info *fi)
{
	if (!refused(req))
		mmfs_ops.setattr(req, ino, attr, to_set, fi);
}

static void g_mknod(fuse_req_t req, fuse_ino_t parent, const char *name,
		    mode_t mode, dev_t rdev)
{
	if (!refused(req))
		mmfs_ops.mknod(req, parent, name, mode, rdev);
}

static void g_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name,
		    mode_t mode)
{
	if (!refused(req))
		mmfs_ops.mkdir(req, parent, name, mode);
}

static void g_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	if (!refused(req))
		mmfs_ops.unlink(req, parent, name);
}

static void g_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	if (!refused(req))
		mmfs_ops.rmdir(req, parent, name);
}

static void g_symlink(fuse_req_t req, const char *link, fuse_ino_t parent,
		      const char *name)
{
	if (!refused(req))
		mmfs_ops.symlink(req, link, parent, name);
}

static void g_rename(fuse_req_t req, fuse_ino_t parent, const char *name,
		     fuse_ino_t newparent, const char *newname,
		     unsigned int flags)
{
	if (!refused(req))
		mmfs_ops.rename(req, parent, name, newparent, newname, flags);
}

static void g_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent,
		   const char *newname)
{
	if (!refused(req))
		mmfs_ops.link(req, ino, newparent, newname);
}

static void g_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
		       const char *value, size_t size, int flags)
{
	if (!refused(req))
		mmfs_ops.setxattr(req, ino, name, value, size, flags);
}

static void g_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name)
{
	if (!refused(req))
		mmfs_ops.removexattr(req, ino, name);
}

static void g_create(fuse_req_t req, fuse_ino_t parent, const char *name,
		     mode_t mode, struct fuse_file_info *fi)
{
	if (!refused(req))
		mmfs_ops.create(req, parent, name, mode, fi);
}

/* Guard op where mmfs_ops has it. */
#define GUARD(op) do { if (mmfs_ops.op) ops->op = g_##op; } while (0)

void ro_guard_ops(struct fuse_lowlevel_ops *ops)
{
	*ops = mmfs_ops;
	GUARD(setattr);
	GUARD(mknod);
	GUARD(mkdir);
	GUARD(unlink);
	GUARD(rmdir);
	GUARD(symlink);
	GUARD(rename);
	GUARD(link);
	GUARD(setxattr);
	GUARD(removexattr);
	GUARD(create);
}

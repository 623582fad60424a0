/* main.c -- mount.mmfs: serve an mmfs arena at a mount point.
 *
 * With -o remount it changes a mount and exits (remount.h).  Startup:
 * parse the command line, open (or create) the store, create the FUSE
 * session, install signal handlers, mount, watch the mount's read-only
 * flag (rowatch.h: no atime updates after a remount,ro), route the
 * session's device I/O through initflags (initflags.h: the INIT flags
 * libfuse 3.14 cannot negotiate), answer the kernel's INIT request and say
 * what the kernel cannot do, become a daemon (unless -f/-d; the parent
 * exits only once the mount is in place and answered INIT), then serve on
 * several threads (serve.h).  Teardown runs the same steps backwards; a
 * mount that failed removes the arena it created (store_discard).  Every
 * error before the daemon detaches is one line on stderr and exit status
 * 1; a clean unmount exits 0.
 */
#define FUSE_USE_VERSION 34

#include <errno.h>
#include <fuse_lowlevel.h>
#include <fuse_opt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "initflags.h"
#include "watch.h"
#include "mounts.h"
#include "ops.h"
#include "opts.h"
#include "ring.h"
#include "serve.h"
#include "remount.h"
#include "reqstats.h"
#include "rowatch.h"
#include "store.h"

#ifndef MMFS_VERSION
#define MMFS_VERSION "unknown"
#endif

#define ARENA_DIR "/dev/shm/mmfs."
#define BUSY_TICK_MS 20
#define BUSY_GRACE_S 5          /* for a daemon to notice its unmount */

static void print_version(void)
{
	printf("mount.mmfs (mmfs) %s, libfuse %s\n", MMFS_VERSION,
	       fuse_pkgversion());
}

/* The mount point's absolute, resolved path (malloc'd), or NULL after
 * printing why not.  It must be a directory: FUSE would mount over a file,
 * with a root of the wrong type. */
static char *resolve_mountpoint(const char *mnt)
{
	char *path = realpath(mnt, NULL);
	struct stat st;
	int err = errno;

	if (path && stat(path, &st))
		err = errno;
	else if (path && !S_ISDIR(st.st_mode))
		err = ENOTDIR;
	else if (path)
		return path;
	fprintf(stderr, "mount.mmfs: %s: %s\n", mnt, strerror(err));
	free(path);
	return NULL;
}

/* The arena path (malloc'd): as given, else /dev/shm/mmfs.NAME with NAME
 * from name= or from the mount point (/mnt/shm -> mnt-shm, / -> root). */
static char *arena_path(const struct mmfs_opts *o, const char *mnt)
{
	char *path;

	if (o->arena)
		return strdup(o->arena);
	if (o->name) {
		if (asprintf(&path, ARENA_DIR "%s", o->name) < 0)
			return NULL;
		return path;
	}
	if (asprintf(&path, ARENA_DIR "%s", mnt[1] ? mnt + 1 : "root") < 0)
		return NULL;
	for (char *p = path + strlen(ARENA_DIR); *p; p++)
		if (*p == '/')
			*p = '-';
	return path;
}

static bool arena_mounted(const char *arena)
{
	char *full = realpath(arena, NULL);
	struct mount_ent m;
	bool found;

	found = full && mounts_find_arena(full, &m) == 0;
	if (found)
		mount_ent_free(&m);
	free(full);
	return found;
}

/* store_open fails with EBUSY while another daemon serves the arena.  Right
 * after an unmount that daemon may not have noticed yet (umount does not
 * wait for a FUSE daemon): while no mount of the arena is left, retry for a
 * moment.  Once it has noticed, it retires, and store_open waits for it to
 * close the arena. */
static int open_store_waiting(const char *arena, const struct store_options *so,
			      struct store **s, char *err, size_t errlen)
{
	const struct timespec tick = { .tv_nsec = BUSY_TICK_MS * 1000000L };
	struct timespec start, now;
	int rc;

	clock_gettime(CLOCK_MONOTONIC, &start);
	for (;;) {
		rc = store_open(arena, so, s, err, errlen);
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (rc != -EBUSY || now.tv_sec - start.tv_sec >= BUSY_GRACE_S ||
		    arena_mounted(arena))
			return rc;
		nanosleep(&tick, NULL);
	}
}

static struct store *open_store(const char *arena,
				const struct store_options *so)
{
	struct store *s = NULL;
	const char *report;
	char err[256] = "";
	int rc;

	rc = open_store_waiting(arena, so, &s, err, sizeof(err));
	if (rc) {
		fprintf(stderr, "mount.mmfs: %s: %s\n", arena,
			err[0] ? err : strerror(-rc));
		return NULL;
	}
	report = store_recovery_report(s);
	if (report && report[0])
		fprintf(stderr, "mount.mmfs: %s: %s\n", arena, report);
	return s;
}

/* Arguments for fuse_session_new: fsname (the arena's full path), subtype
 * and the kernel options from the command line. */
static int session_args(struct fuse_args *args, const struct mmfs_opts *o,
			const char *arena)
{
	char *full = realpath(arena, NULL);
	char *opts = NULL, *fsname = NULL;
	int rc = -1;

	if (asprintf(&fsname, "fsname=%s", full ? full : arena) < 0)
		fsname = NULL;
	if (fsname && !fuse_opt_add_opt_escaped(&opts, fsname) &&
	    !fuse_opt_add_opt(&opts, "subtype=mmfs") &&
	    (!o->fuse_opts || !fuse_opt_add_opt(&opts, o->fuse_opts)) &&
	    !fuse_opt_add_arg(args, "mount.mmfs") &&
	    !fuse_opt_add_arg(args, "-o") && !fuse_opt_add_arg(args, opts) &&
	    (!o->debug || !fuse_opt_add_arg(args, "-d")))
		rc = 0;
	if (rc)
		fprintf(stderr, "mount.mmfs: out of memory\n");
	free(opts);
	free(fsname);
	free(full);
	return rc;
}

/* Read and answer one request, counting it by opcode in the arena's
 * statistics area (reqstats.h; mmfsctl stat shows them: how many round
 * trips each idiom costs).  A request read into a pipe (FUSE_BUF_IS_FD)
 * is not in memory and not counted; splice is not enabled (the custom
 * I/O of initflags has none), so none is.  Returns 1 when a request was
 * served, 0 when the session ended, -errno (-EINTR: a signal). */
static int serve_one(struct fuse_session *se, struct fuse_buf *buf,
		     struct reqstats *stats)
{
	int rc = fuse_session_receive_buf(se, buf);

	if (rc <= 0)
		return rc;
	if (!(buf->flags & FUSE_BUF_IS_FD))
		reqstats_count(stats, buf->mem, buf->size);
	fuse_session_process_buf(se, buf);
	return 1;
}

/* The session's reads and writes of /dev/fuse go through initflags
 * (initflags.h), which sees the INIT exchange and each raw request.
 * fuse_session_mount has opened the device; fuse_session_custom_io
 * takes the same descriptor (it only records it). */
static ssize_t io_read(int fd, void *buf, size_t len, void *userdata)
{
	struct mmfs_fs *fs = userdata;

	return initflags_read(&fs->init, fd, buf, len);
}

static ssize_t io_writev(int fd, struct iovec *iov, int count,
			 void *userdata)
{
	struct mmfs_fs *fs = userdata;

	return initflags_writev(&fs->init, fd, iov, count);
}

static const struct fuse_custom_io mmfs_io = {
	.read = io_read,
	.writev = io_writev,
};

static int use_initflags(struct fuse_session *se)
{
	int rc = fuse_session_custom_io(se, &mmfs_io, fuse_session_fd(se));

	if (rc)
		fprintf(stderr, "mount.mmfs: custom FUSE I/O: %s\n",
			strerror(-rc));
	return rc;
}

/* Answer the kernel's INIT request, which it sent at mount: then what
 * the kernel can do is known while the command still has its stderr.
 * Returns 0, or -1 if the session ended first. */
static int serve_init(struct fuse_session *se, struct fuse_buf *buf,
		      struct reqstats *stats, const struct initflags *init)
{
	int rc = 0;

	while (!init->answered && !fuse_session_exited(se)) {
		rc = serve_one(se, buf, stats);
		if (rc == 0 || (rc < 0 && rc != -EINTR))
			break;
	}
	if (init->answered)
		return 0;
	fprintf(stderr, "mount.mmfs: the kernel's INIT request never came%s%s\n",
		rc < 0 ? ": " : "", rc < 0 ? strerror(-rc) : "");
	return -1;
}

/* Say once what the kernel cannot do that mmfs would use. */
static void report_init(const struct initflags *init)
{
	if (!initflags_granted(init, INITFLAGS_DIO_ALLOW_MMAP))
		fprintf(stderr, "mount.mmfs: kernel cannot map direct-I/O "
			"files; read-only shared mappings fail with ENODEV\n");
}

/* The request counters of the store's statistics area (NULL: none). */
static struct reqstats *store_reqstats(struct store *s)
{
	size_t size;
	void *area = store_stats(s, &size);

	return reqstats_in(area, size);
}

/* Mount, answer INIT, detach and serve until unmounted.  Returns the
 * exit status; *mounted says whether the mount was made. */
static int serve(struct fuse_args *args, const struct mmfs_opts *o,
		 const char *mnt, struct mmfs_fs *fs, bool *mounted)
{
	struct serve_pool *pool = NULL;
	struct feed_watch *watch = NULL;
	struct reqstats *stats = store_reqstats(fs->store);
	struct fuse_buf buf = { .mem = NULL };
	struct fuse_session *se;
	int ret = 1;

	se = fuse_session_new(args, &mmfs_ops, sizeof(mmfs_ops), fs);
	if (!se)
		return 1;
	fs->se = se;
	if (fuse_set_signal_handlers(se))
		goto out_session;
	if (fuse_session_mount(se, mnt))
		goto out_signals;
	*mounted = true;
	fs->ro = ro_watch_create(mnt);
	reqstats_reset(stats);
	if (use_initflags(se) || serve_init(se, &buf, stats, &fs->init))
		goto out_unmount;
	report_init(&fs->init);
	if (!o->foreground && fuse_daemonize(0))
		goto out_unmount;
	if (!o->foreground)
		(void)store_adopt(fs->store);   /* mmfsctl names this pid */
	/* libmmfs programs' changes: the root too (watch.h) */
	(void)store_hold(fs->store, store_root(fs->store));
	if (!store_readonly(fs->store) && feed_watch_start(fs, &watch))
		goto out_unmount;
	ret = serve_run(se, stats, o->threads, &pool) ? 1 : 0;
	serve_join(se, pool);   /* before unmount closes the session fd */
	feed_watch_stop(watch);
out_unmount:
	free(buf.mem);
	fuse_session_unmount(se);
	store_retire(fs->store);        /* a new mount may now wait for us */
	ro_watch_destroy(fs->ro);
	fs->ro = NULL;
out_signals:
	fuse_remove_signal_handlers(se);
out_session:
	fuse_session_destroy(se);
	return ret;
}

int main(int argc, char *argv[])
{
	struct fuse_args args = FUSE_ARGS_INIT(0, NULL);
	struct mmfs_fs fs = { 0 };
	char *mnt = NULL, *arena = NULL;
	struct store *store;
	struct mmfs_opts o;
	bool mounted = false;
	int ret = 1;

	if (ring_register() != 0) {
		fprintf(stderr, "mount.mmfs: this build cannot serve rings\n");
		return 1;
	}
	if (mmfs_opts_parse(argc, argv, &o))
		goto out_opts;
	if (o.help || o.version) {
		if (o.help)
			mmfs_opts_usage(stdout);
		else
			print_version();
		ret = 0;
		goto out_opts;
	}
	mnt = resolve_mountpoint(o.mountpoint);
	if (!mnt)
		goto out_opts;
	if (o.remount) {
		ret = remount_run(&o, mnt);
		goto out_paths;
	}
	arena = arena_path(&o, mnt);
	if (!arena) {
		fprintf(stderr, "mount.mmfs: out of memory\n");
		goto out_paths;
	}
	store = open_store(arena, &o.store);
	if (!store)
		goto out_paths;
	mmfs_fs_init(&fs, store);
	fs.atime = o.atime;
	fs.nodiratime = o.nodiratime;
	fs.acl = o.acl;
	if (session_args(&args, &o, arena) == 0)
		ret = serve(&args, &o, mnt, &fs, &mounted);
	fuse_opt_free_args(&args);
	mmfs_fs_finish(&fs);
	if (mounted)
		store_close(store);
	else
		store_discard(store);   /* a new arena goes with the failure */
out_paths:
	free(arena);
	free(mnt);
out_opts:
	mmfs_opts_free(&o);
	return ret;
}

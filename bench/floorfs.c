/* floorfs.c -- the do-nothing FUSE file system: the transport floor.
 *
 * floorfs answers every request at once, from no state at all, so that a
 * benchmark run against it measures only what the kernel, /dev/fuse and
 * libfuse cost: the floor under any FUSE daemon, mmfs included.
 *
 *   floorfs [-f] [-d] [-o size=BYTES] [-o counts=FILE] [-o mt] MOUNTPOINT
 *
 * It behaves just enough like a file system for bench/mmbench:
 *   - the root is an (empty-looking) directory; every name looked up or
 *     created in it exists, as a regular file of `size` bytes (default
 *     1 GiB) whose node id is a hash of the name -- except that names
 *     starting with "new." are not found (ENOENT, as mmfs answers), so
 *     that open(O_CREAT) of such a name sends CREATE, as on a real file
 *     system where the name is new;
 *   - reads return zeros, up to `size`; writes report full success;
 *     setattr, open, create, release, fsync, unlink, statfs succeed;
 *     getxattr answers ENODATA (a file system with xattrs, like mmfs).
 *
 * So that it sees the very requests mmfs sees, it copies mmfs's kernel
 * settings (src/fs/ops.c): O_RDONLY and O_WRONLY opens are direct I/O,
 * O_RDWR opens use the page cache (not kept across opens), *.ring files
 * are always direct and their attributes never cached; entries and
 * attributes are cached for 1 s; atomic O_TRUNC, no flush, no
 * readdirplus, writes of up to 1 MiB.
 *
 * The session loop is single-threaded by default, like mmfs's today;
 * with -o mt it is libfuse's multi-threaded loop (fuse_session_loop_mt,
 * configured as passthrough_ll configures it: -o clone_fd and
 * -o max_idle_threads=N are libfuse's own options), so that the floor
 * can be measured both ways.  Since it answers from no state, the two
 * loops differ only in how requests reach a thread.
 *
 * Either way it counts every request by FUSE opcode exactly as
 * mount.mmfs does: with -o counts=FILE, 64 little-endian u64 counters at
 * offset 1024 of FILE (a shared mapping), the layout of the request
 * counters in an mmfs arena's statistics area (src/common/reqstats.h), so
 * that mmbench -c reads both the same way.  The counting is a read hook
 * (fuse_session_custom_io), which every loop's thread goes through.
 */
#define FUSE_USE_VERSION 34

#include <errno.h>
#include <fcntl.h>
#include <fuse_lowlevel.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/uio.h>
#include <unistd.h>

#define FLOOR_TIMEOUT 1.0          /* mmfs's ENTRY_TIMEOUT, ATTR_TIMEOUT */
#define FLOOR_MAX_WRITE (1u << 20)  /* mmfs's MAX_WRITE */
#define FLOOR_MAX_IO (16u << 20)    /* largest read reply ever sent */
#define COUNTS_OFFSET 1024          /* as in the mmfs arena header */
#define COUNTS_N 64
#define COUNTS_FILE_SIZE 4096

struct floor_opts {
	char *size;             /* -o size=BYTES */
	char *counts;           /* -o counts=FILE */
	int mt;                 /* -o mt: libfuse's multi-threaded loop */
};

static uint64_t file_size = 1ull << 30;
static uint64_t *counts;        /* COUNTS_N counters, or NULL */
static const char *zeros;

/* ---- request counts ---- */

/* Map COUNTS_N zeroed counters at COUNTS_OFFSET of path. */
static int counts_map(const char *path)
{
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
	char *p;

	if (fd < 0)
		return -1;
	if (ftruncate(fd, COUNTS_FILE_SIZE) != 0) {
		close(fd);
		return -1;
	}
	p = mmap(NULL, COUNTS_FILE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED,
		 fd, 0);
	close(fd);
	if (p == MAP_FAILED)
		return -1;
	counts = (uint64_t *)(void *)(p + COUNTS_OFFSET);
	return 0;
}

/* Count the request in buf (n bytes) by its opcode, the second u32 of
 * struct fuse_in_header (opcodes past the table count in slot 0, as in
 * mmfs). */
static void count_request(const void *buf, ssize_t n)
{
	uint32_t op;

	if (!counts || n < 8)
		return;
	memcpy(&op, (const char *)buf + 4, sizeof(op));
	__atomic_fetch_add(&counts[op < COUNTS_N ? op : 0], 1,
			   __ATOMIC_RELAXED);
}

/* libfuse's own read and writev, with the count in between.  libfuse
 * reads errno after the call: keep read's. */
static ssize_t counting_read(int fd, void *buf, size_t len, void *userdata)
{
	ssize_t n = read(fd, buf, len);
	int e = errno;

	count_request(buf, n);
	errno = e;
	return n;
}

static ssize_t plain_writev(int fd, struct iovec *iov, int count,
			    void *userdata)
{
	return writev(fd, iov, count);
}

static const struct fuse_custom_io counting_io = {
	.read = counting_read,
	.writev = plain_writev,
};

/* ---- attributes ---- */

#define INO_FILE (1ull << 62)       /* set in every file's node id */
#define INO_RING (1ull << 61)       /* set in a *.ring file's node id */

/* FNV-1a of the name, never 0 or FUSE_ROOT_ID; INO_RING for *.ring. */
static fuse_ino_t name_ino(const char *name)
{
	uint64_t h = 1469598103934665603ull;
	size_t len = strlen(name);

	for (size_t i = 0; i < len; i++)
		h = (h ^ (unsigned char)name[i]) * 1099511628211ull;
	h = (h & ~INO_RING) | INO_FILE;
	if (len > 5 && strcmp(name + len - 5, ".ring") == 0)
		h |= INO_RING;
	return (fuse_ino_t)h;
}

/* mmfs: ring logs change size with every append, the kernel must ask. */
static double attr_timeout(fuse_ino_t ino)
{
	return (ino & INO_RING) ? 0.0 : FLOOR_TIMEOUT;
}

static void fill_attr(fuse_ino_t ino, off_t size, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = ino;
	st->st_uid = getuid();
	st->st_gid = getgid();
	st->st_blksize = 4096;
	if (ino == FUSE_ROOT_ID) {
		st->st_mode = S_IFDIR | 0755;
		st->st_nlink = 2;
		return;
	}
	st->st_mode = S_IFREG | 0644;
	st->st_nlink = 1;
	st->st_size = size;
	st->st_blocks = (size + 511) / 512;
}

static void fill_entry(const char *name, struct fuse_entry_param *e)
{
	memset(e, 0, sizeof(*e));
	e->ino = name_ino(name);
	e->generation = 1;
	e->attr_timeout = attr_timeout(e->ino);
	e->entry_timeout = FLOOR_TIMEOUT;
	fill_attr(e->ino, (off_t)file_size, &e->attr);
}

/* mmfs's policy: O_RDONLY, O_WRONLY and rings direct, O_RDWR through
 * the page cache, which is not kept across opens. */
static void set_cache_policy(fuse_ino_t ino, struct fuse_file_info *fi)
{
	fi->direct_io = (ino & INO_RING) || (fi->flags & O_ACCMODE) != O_RDWR;
	fi->keep_cache = 0;
}

/* ---- the operations ---- */

static void fl_init(void *userdata, struct fuse_conn_info *conn)
{
	if (conn->capable & FUSE_CAP_ATOMIC_O_TRUNC)
		conn->want |= FUSE_CAP_ATOMIC_O_TRUNC;
	conn->want &= ~(FUSE_CAP_WRITEBACK_CACHE | FUSE_CAP_READDIRPLUS |
			FUSE_CAP_READDIRPLUS_AUTO);
	if (conn->max_write > FLOOR_MAX_WRITE)
		conn->max_write = FLOOR_MAX_WRITE;
}

static void fl_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fuse_entry_param e;

	if (strncmp(name, "new.", 4) == 0) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	fill_entry(name, &e);
	fuse_reply_entry(req, &e);
}

static void fl_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	fuse_reply_none(req);
}

static void fl_forget_multi(fuse_req_t req, size_t count,
			    struct fuse_forget_data *forgets)
{
	fuse_reply_none(req);
}

static void fl_getattr(fuse_req_t req, fuse_ino_t ino,
		       struct fuse_file_info *fi)
{
	struct stat st;

	fill_attr(ino, (off_t)file_size, &st);
	fuse_reply_attr(req, &st, attr_timeout(ino));
}

static void fl_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr,
		       int to_set, struct fuse_file_info *fi)
{
	struct stat st;
	off_t size = (to_set & FUSE_SET_ATTR_SIZE) ? attr->st_size
						    : (off_t)file_size;

	fill_attr(ino, size, &st);
	fuse_reply_attr(req, &st, attr_timeout(ino));
}

static void fl_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	set_cache_policy(ino, fi);
	fuse_reply_open(req, fi);
}

static void fl_create(fuse_req_t req, fuse_ino_t parent, const char *name,
		      mode_t mode, struct fuse_file_info *fi)
{
	struct fuse_entry_param e;

	fill_entry(name, &e);
	e.attr.st_size = 0;
	e.attr.st_blocks = 0;
	set_cache_policy(e.ino, fi);
	fuse_reply_create(req, &e, fi);
}

static void fl_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	size_t n = 0;

	if (off >= 0 && (uint64_t)off < file_size) {
		n = size < FLOOR_MAX_IO ? size : FLOOR_MAX_IO;
		if (n > file_size - (uint64_t)off)
			n = (size_t)(file_size - (uint64_t)off);
	}
	fuse_reply_buf(req, zeros, n);
}

static void fl_write(fuse_req_t req, fuse_ino_t ino, const char *buf,
		     size_t size, off_t off, struct fuse_file_info *fi)
{
	fuse_reply_write(req, size);
}

static void fl_release(fuse_req_t req, fuse_ino_t ino,
		       struct fuse_file_info *fi)
{
	fuse_reply_err(req, 0);
}

static void fl_fsync(fuse_req_t req, fuse_ino_t ino, int datasync,
		     struct fuse_file_info *fi)
{
	fuse_reply_err(req, 0);
}

static void fl_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	fuse_reply_err(req, 0);
}

static void fl_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct statvfs sv;

	memset(&sv, 0, sizeof(sv));
	sv.f_bsize = sv.f_frsize = 4096;
	sv.f_blocks = sv.f_bfree = sv.f_bavail = 1ull << 20;
	sv.f_files = sv.f_ffree = sv.f_favail = 1ull << 20;
	sv.f_namemax = 255;
	fuse_reply_statfs(req, &sv);
}

static void fl_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
			size_t size)
{
	fuse_reply_err(req, ENODATA);
}

static void fl_opendir(fuse_req_t req, fuse_ino_t ino,
		       struct fuse_file_info *fi)
{
	fuse_reply_open(req, fi);
}

/* The directory lists as empty: floorfs remembers no names. */
static void fl_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi)
{
	fuse_reply_buf(req, NULL, 0);
}

static void fl_releasedir(fuse_req_t req, fuse_ino_t ino,
			  struct fuse_file_info *fi)
{
	fuse_reply_err(req, 0);
}

static const struct fuse_lowlevel_ops floor_ops = {
	.init = fl_init,
	.lookup = fl_lookup,
	.forget = fl_forget,
	.forget_multi = fl_forget_multi,
	.getattr = fl_getattr,
	.setattr = fl_setattr,
	.open = fl_open,
	.create = fl_create,
	.read = fl_read,
	.write = fl_write,
	.release = fl_release,
	.fsync = fl_fsync,
	.unlink = fl_unlink,
	.statfs = fl_statfs,
	.getxattr = fl_getxattr,
	.opendir = fl_opendir,
	.readdir = fl_readdir,
	.releasedir = fl_releasedir,
};

/* ---- main ---- */

static const struct fuse_opt floor_opt_table[] = {
	{ "size=%s", offsetof(struct floor_opts, size), 0 },
	{ "counts=%s", offsetof(struct floor_opts, counts), 0 },
	{ "mt", offsetof(struct floor_opts, mt), 1 },
	FUSE_OPT_END
};

static void usage(const char *prog)
{
	printf("usage: %s [-f] [-d] [-o size=BYTES] [-o counts=FILE] [-o mt] "
	       "MOUNTPOINT\n", prog);
	fuse_cmdline_help();
	fuse_lowlevel_help();
}

/* Parse "123", "64K", "1M", "1G", "1T" into *out.  Returns 0 or -1. */
static int parse_size(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s)
		return -1;
	switch (*end) {
	case 'T': case 't': v <<= 10; /* fall through */
	case 'G': case 'g': v <<= 10; /* fall through */
	case 'M': case 'm': v <<= 10; /* fall through */
	case 'K': case 'k': v <<= 10; end++; break;
	case '\0': break;
	default: return -1;
	}
	if (*end != '\0' || v == 0)
		return -1;
	*out = v;
	return 0;
}

static int apply_opts(const struct floor_opts *o)
{
	if (o->size && parse_size(o->size, &file_size) != 0) {
		fprintf(stderr, "floorfs: bad size=%s\n", o->size);
		return -1;
	}
	if (o->counts && counts_map(o->counts) != 0) {
		fprintf(stderr, "floorfs: cannot use counts=%s\n", o->counts);
		return -1;
	}
	zeros = calloc(1, FLOOR_MAX_IO);
	return zeros ? 0 : -1;
}

/* The loop: one thread, or libfuse's pool (as passthrough_ll runs it). */
static int loop(struct fuse_session *se, const struct fuse_cmdline_opts *co,
		int mt)
{
	struct fuse_loop_config config = { 0 };

	if (!mt)
		return fuse_session_loop(se);
	config.clone_fd = co->clone_fd;
	config.max_idle_threads = co->max_idle_threads;
	return fuse_session_loop_mt(se, &config);
}

static int serve(struct fuse_args *args, const struct fuse_cmdline_opts *co,
		 int mt)
{
	struct fuse_session *se;
	int ret = 1;

	se = fuse_session_new(args, &floor_ops, sizeof(floor_ops), NULL);
	if (!se)
		return 1;
	if (fuse_set_signal_handlers(se) != 0)
		goto out_destroy;
	if (fuse_session_mount(se, co->mountpoint) != 0)
		goto out_signals;
	/* The mounted /dev/fuse descriptor, read through counting_read. */
	if (fuse_session_custom_io(se, &counting_io, fuse_session_fd(se)) != 0)
		goto out_unmount;
	fuse_daemonize(co->foreground);
	ret = loop(se, co, mt) != 0;
out_unmount:
	fuse_session_unmount(se);
out_signals:
	fuse_remove_signal_handlers(se);
out_destroy:
	fuse_session_destroy(se);
	return ret;
}

int main(int argc, char *argv[])
{
	struct fuse_args args = FUSE_ARGS_INIT(argc, argv);
	struct fuse_cmdline_opts co;
	struct floor_opts fo = { 0 };
	int ret = 1;

	if (fuse_parse_cmdline(&args, &co) != 0)
		return 1;
	if (co.show_version) {
		printf("floorfs (libfuse %s)\n", fuse_pkgversion());
		ret = 0;
		goto out;
	}
	if (co.show_help || !co.mountpoint) {
		usage(argv[0]);
		ret = co.show_help ? 0 : 1;
		goto out;
	}
	if (fuse_opt_parse(&args, &fo, floor_opt_table, NULL) != 0 ||
	    apply_opts(&fo) != 0)
		goto out;
	ret = serve(&args, &co, fo.mt);
out:
	free(co.mountpoint);
	free(fo.size);
	free(fo.counts);
	fuse_opt_free_args(&args);
	return ret;
}

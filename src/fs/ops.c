/* ops.c -- the FUSE low-level operations over the store (see ops.h).
 *
 * Each operation is one thin function: turn node ids into refs, call the
 * store, end in exactly one fuse_reply_*.  Store errors are -errno and go
 * to the kernel through reply_err(req, rc), the one place that negates
 * them.
 *
 * Lookup counts.  A reply that hands the kernel a node (reply_entry, and
 * create) counts it in fs->nodes first; forget and batch forget uncount.
 * The node table holds what it counts in the store (nodes.h), and that
 * hold is what keeps a file unlinked while open readable until the kernel
 * forgets it; mmfs_fs_finish drops the holds left at unmount.
 *
 * Open files.  A regular file opened O_RDONLY or O_WRONLY uses direct I/O:
 * every read and write reaches the daemon, which serialises them, so a
 * reader sees a whole write or none of it (and the kernel's cached i_size
 * does not matter).  An O_RDWR open uses the page cache, dropped at each
 * open, so that mmap(MAP_SHARED) works.  The kernel drops cached pages
 * of a file when a direct-I/O write to it passes through, so no page is
 * ever stale (test_coherence.py and test_mmap.py check it); that makes FUSE_CAP_AUTO_INVAL_DATA useless, and it is off:
 * it dropped a writer's pages at each read that followed a write, because
 * the kernel's mtime and ours never match to the nanosecond.
 *
 * Deferred O_TRUNC.  With FUSE_CAP_ATOMIC_O_TRUNC the kernel passes O_TRUNC
 * to open instead of truncating first.  The handle remembers it
 * (trunc_pending) and its first write empties the file in the same store
 * commit (store_write truncate_first): readers see the old value until the
 * new one is complete.  A handle released without writing truncates then,
 * unless a write failed and none succeeded after it (the arena was full,
 * say): then the old value stays whole, as if the replace had not begun.
 * A file created with O_TRUNC defers it the same way: its first write
 * replaces whatever another writer put there since the create, so
 * open(O_CREAT|O_TRUNC) and one write give one whole value even when
 * writers race; released without a write it is left alone (the create
 * made it empty).  While pending, reads on that handle see an empty file.
 * A close of a dup (FLUSH) must not truncate: the shell's `echo v > var`
 * opens with O_TRUNC, dup2()s and closes the original before writing.  So
 * there is no flush operation at all; the kernel stops sending FLUSH after
 * the first ENOSYS, saving a round trip per close.
 *
 * Replaced files are not cached.  The kernel sets its own size of a file
 * to 0 at an O_TRUNC open, once after the open reply and again in the
 * truncation that follows it (fuse_setattr with ATTR_OPEN), without
 * asking, and invalidates its cached attributes only after the first of
 * the two: a stat in between, or after a reply that refreshed them, says
 * 0 until the first write.  So a file once opened with O_TRUNC is a
 * replaced value, whose attributes the kernel never caches (timeout 0)
 * for as long as it knows the file: every stat of it asks the daemon,
 * which has the old value's size until the new one is complete.  Files
 * that are never replaced keep the long timeouts.  After the open reply
 * the daemon also invalidates what the kernel cached before.
 *
 * One version per open.  A regular file opened O_RDONLY reads through a
 * store snapshot (store_snap_*): every read of one pass sees the same
 * committed version, whatever the read sizes and whatever writers commit
 * meanwhile.  A pass starts at the handle's first read and at every read
 * at offset 0 (lseek(0) and read again: the newest version), and ends
 * when a read reaches the version's end: that read returns 0 (EOF) and the
 * next read starts a new pass at the newest version, so `tail -f` still
 * sees appends.  The version's blocks stay alive until the pass ends or
 * the handle is released (format.h, "Versions").
 *
 * Ring logs (".ring" files, src/ring/ring.h) always use direct I/O; their
 * handle carries a ring_reader, reads and writes go to the ring module,
 * their attributes are never cached (st_size moves with every append),
 * and the virtual xattr user.mmfs.capacity reads and sets the capacity.
 */
#define FUSE_USE_VERSION 34

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/xattr.h>
#include <time.h>

#include "ops.h"
#include "ring.h"

/* How long the kernel may cache entries and attributes, in seconds: a
 * day, as good as forever.  One daemon owns an arena (flock) and every
 * change reaches it through this mount, so the kernel sees each change and
 * updates or drops what it cached (ops.h); long timeouts let it answer
 * stat, lookups and page-cache reads without asking.  Rings are the
 * exception (their attributes change with every append: not cached). */
#define ENTRY_TIMEOUT 86400.0
#define ATTR_TIMEOUT 86400.0

#define MAX_WRITE (1u << 20)    /* a write(2) of up to 1 MiB is one request */
#define BLOCK_SIZE 4096         /* st_blksize and statfs block size */
#define DOT_ENTRIES 2           /* readdir offsets 1 and 2: "." and ".." */
#define UNKNOWN_INO 0xffffffffu /* d_ino when we do not know it (not 0:
				   glibc's readdir skips d_ino 0) */

/* Per-open state of a regular file, in fi->fh.  Every handle is on the
 * list fs->files until it is released: an unmount drops the releases
 * still queued in the kernel, and mmfs_fs_finish does their work. */
struct mmfs_file {
	bool trunc_pending;     /* O_TRUNC not applied yet (see above) */
	bool write_failed;      /* a write failed while trunc_pending */
	bool created;           /* by this open: nothing to truncate at
	                           release, whatever others wrote since */
	bool append;            /* O_APPEND: writes go to the current end */
	bool ring;              /* a ring log: reader is its position */
	bool versioned;         /* reads come from snap (see above) */
	struct ring_reader reader;
	struct store_snap snap; /* the version this handle reads */
	pthread_mutex_t lock;   /* the fields above, between threads */
	store_ref ref;          /* the file (0 until create has made it) */
	struct mmfs_file *prev, *next;
};

/* ---- helpers ----------------------------------------------------------- */

static struct mmfs_fs *fs_of(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

static struct mmfs_file *file_of(const struct fuse_file_info *fi)
{
	return (struct mmfs_file *)(uintptr_t)fi->fh;
}

static struct store_dir *dir_of(const struct fuse_file_info *fi)
{
	return (struct store_dir *)(uintptr_t)fi->fh;
}

/* Node id -> store ref.  Always 0: the store checks every ref it is
 * given under its lock (-ESTALE), where no other thread can free it. */
static int node_ref(struct mmfs_fs *fs, fuse_ino_t ino, store_ref *ref)
{
	*ref = ino == FUSE_ROOT_ID ? store_root(fs->store) : (store_ref)ino;
	return 0;
}

static fuse_ino_t ref_node(struct mmfs_fs *fs, store_ref ref)
{
	return ref == store_root(fs->store) ? FUSE_ROOT_ID : (fuse_ino_t)ref;
}

/* The kernel learns of ref once more (nodes.h); the root is not counted,
 * as the kernel never forgets it.  0, -ENOMEM, -ESTALE. */
static int node_learn(struct mmfs_fs *fs, store_ref ref)
{
	int rc;

	if (ref == store_root(fs->store))
		return 0;
	pthread_mutex_lock(&fs->lock);
	rc = nodes_learn(&fs->nodes, ref);
	pthread_mutex_unlock(&fs->lock);
	return rc;
}

/* The kernel forgot n lookups of ref (or a reply that would have handed
 * it over failed: n = 1). */
static void node_forget(struct mmfs_fs *fs, store_ref ref, uint64_t n)
{
	if (ref == store_root(fs->store))
		return;
	pthread_mutex_lock(&fs->lock);
	nodes_forget(&fs->nodes, ref, n);
	pthread_mutex_unlock(&fs->lock);
}

static void node_unlearn(struct mmfs_fs *fs, store_ref ref)
{
	node_forget(fs, ref, 1);
}

static bool node_replaced(struct mmfs_fs *fs, store_ref ref)
{
	bool yes;

	pthread_mutex_lock(&fs->lock);
	yes = nodes_replaced(&fs->nodes, ref);
	pthread_mutex_unlock(&fs->lock);
	return yes;
}

/* Each serving thread's reply buffer for read, readdir and xattrs, reused
 * across its requests (every reply copies it out). */
static _Thread_local char *thread_buf;
static _Thread_local size_t thread_bufsize;

/* A reply buffer of at least size bytes.  NULL: no memory. */
static char *fs_buf(struct mmfs_fs *fs, size_t size)
{
	(void)fs;
	if (size > thread_bufsize) {
		free(thread_buf);
		thread_bufsize = size < 65536 ? 65536 : size;
		thread_buf = malloc(thread_bufsize);
		if (!thread_buf)
			thread_bufsize = 0;
	}
	return thread_buf;
}

void mmfs_thread_done(void)
{
	free(thread_buf);
	thread_buf = NULL;
	thread_bufsize = 0;
}

static void stat_of(const struct store_attr *a, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = a->ino;
	st->st_mode = a->mode;
	st->st_nlink = a->nlink;
	st->st_uid = a->uid;
	st->st_gid = a->gid;
	st->st_rdev = a->rdev;
	st->st_size = (off_t)a->size;
	st->st_blksize = BLOCK_SIZE;
	st->st_blocks = (blkcnt_t)a->blocks;
	st->st_atim = a->atime;
	st->st_mtim = a->mtime;
	st->st_ctim = a->ctime;
}

/* Reply with a store result: -errno, or 0 (success, for the operations
 * whose reply is only a status). */
static void reply_err(fuse_req_t req, ssize_t rc)
{
	fuse_reply_err(req, (int)-rc);
}

/* Ring logs change size with every append, and the kernel may overwrite
 * the size of a file that is replaced with 0 (see the top of this file):
 * the kernel must ask. */
static double attr_timeout(struct mmfs_fs *fs, store_ref ref,
			   const struct store_attr *a)
{
	if (a->kind == RING_KIND || node_replaced(fs, ref))
		return 0.0;
	return ATTR_TIMEOUT;
}

static void reply_attr(fuse_req_t req, int rc, store_ref ref,
		       const struct store_attr *a)
{
	struct stat st;

	if (rc) {
		reply_err(req, rc);
		return;
	}
	stat_of(a, &st);
	fuse_reply_attr(req, &st, attr_timeout(fs_of(req), ref, a));
}

static void entry_of(struct mmfs_fs *fs, store_ref ref,
		     const struct store_attr *a, struct fuse_entry_param *e)
{
	memset(e, 0, sizeof(*e));
	e->ino = ref_node(fs, ref);
	e->generation = 0;
	stat_of(a, &e->attr);
	e->entry_timeout = ENTRY_TIMEOUT;
	e->attr_timeout = attr_timeout(fs, ref, a);
}

/* Reply with a new lookup count on ref: count it first, uncount it if the
 * kernel did not take the reply (e.g. the request was interrupted).  If it
 * cannot be counted the kernel gets the error (ENOMEM) instead. */
static void reply_entry(fuse_req_t req, int rc, store_ref ref,
			const struct store_attr *a)
{
	struct mmfs_fs *fs = fs_of(req);
	struct fuse_entry_param e;

	if (rc) {
		reply_err(req, rc);
		return;
	}
	rc = node_learn(fs, ref);
	if (rc) {
		reply_err(req, rc);
		return;
	}
	entry_of(fs, ref, a, &e);
	if (fuse_reply_entry(req, &e))
		node_unlearn(fs, ref);
}

/* Owner of a new node in dir: the caller, but the group of a set-group-ID
 * directory, whose new subdirectories are set-group-ID too.  (The kernel
 * already dropped S_ISGID where the caller may not have it.) */
static int new_owner(fuse_req_t req, store_ref dir, uint32_t *mode,
		     uint32_t *uid, uint32_t *gid)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	struct store_attr da;
	int rc = store_getattr(fs_of(req)->store, dir, &da);

	if (rc)
		return rc;
	*uid = ctx->uid;
	*gid = ctx->gid;
	if (da.mode & S_ISGID) {
		*gid = da.gid;
		if (S_ISDIR(*mode))
			*mode |= S_ISGID;
	}
	return 0;
}

/* A new node; a regular file whose name says so is a ring log. */
static int create_file(struct mmfs_fs *fs, store_ref dir, const char *name,
		       uint32_t mode, uint32_t uid, uint32_t gid, uint32_t rdev,
		       store_ref *ref, struct store_attr *a)
{
	if (S_ISREG(mode) && ring_name(name))
		return ring_create(fs->store, dir, name, mode, uid, gid, ref,
				   a);
	return store_mknod(fs->store, dir, name, mode, uid, gid, rdev, ref,
			   a);
}

static void make_node(fuse_req_t req, fuse_ino_t parent, const char *name,
		      uint32_t mode, uint32_t rdev)
{
	struct mmfs_fs *fs = fs_of(req);
	struct store_attr a;
	store_ref dir, ref = 0;
	uint32_t uid, gid;
	int rc;

	rc = node_ref(fs, parent, &dir);
	if (rc == 0)
		rc = new_owner(req, dir, &mode, &uid, &gid);
	if (rc == 0)
		rc = create_file(fs, dir, name, mode, uid, gid, rdev, &ref,
				 &a);
	reply_entry(req, rc, ref, &a);
}

/* The cache policy of a handle (see the top of this file). */
static void file_policy(struct mmfs_file *f, struct fuse_file_info *fi,
			bool ring)
{
	f->ring = ring;
	f->versioned = !ring && (fi->flags & O_ACCMODE) == O_RDONLY;
	fi->direct_io = ring || (fi->flags & O_ACCMODE) != O_RDWR;
	fi->keep_cache = 0;
}

/* New handle for regular file ref opened with fi->flags. */
static struct mmfs_file *file_new(struct mmfs_fs *fs, store_ref ref,
				  struct fuse_file_info *fi, bool ring)
{
	int acc = fi->flags & O_ACCMODE;
	struct mmfs_file *f = calloc(1, sizeof(*f));

	if (!f)
		return NULL;
	f->append = (fi->flags & O_APPEND) != 0;
	f->trunc_pending = (fi->flags & O_TRUNC) && acc != O_RDONLY;
	f->ref = ref;
	pthread_mutex_init(&f->lock, NULL);
	pthread_mutex_lock(&fs->lock);
	if (f->trunc_pending)
		nodes_mark_replaced(&fs->nodes, ref);
	f->next = fs->files;
	if (fs->files)
		fs->files->prev = f;
	fs->files = f;
	pthread_mutex_unlock(&fs->lock);
	file_policy(f, fi, ring);
	fi->fh = (uintptr_t)f;
	return f;
}

static void file_free(struct mmfs_fs *fs, struct mmfs_file *f)
{
	store_snap_drop(fs->store, &f->snap);
	pthread_mutex_lock(&fs->lock);
	if (f->prev)
		f->prev->next = f->next;
	else
		fs->files = f->next;
	if (f->next)
		f->next->prev = f->prev;
	pthread_mutex_unlock(&fs->lock);
	pthread_mutex_destroy(&f->lock);
	free(f);
}

/* Apply a deferred O_TRUNC now (release, ftruncate). */
static int finish_trunc(struct mmfs_fs *fs, store_ref ref,
			struct mmfs_file *f)
{
	struct store_attr in;

	if (!f->trunc_pending)
		return 0;
	f->trunc_pending = false;
	memset(&in, 0, sizeof(in));
	clock_gettime(CLOCK_REALTIME, &in.mtime);
	return store_setattr(fs->store, ref, STORE_SET_SIZE | STORE_SET_MTIME,
			     &in, NULL);
}

/* At release: apply a deferred O_TRUNC that no write applied, unless a
 * write failed and none succeeded after it (keep the old value). */
static int release_trunc(struct mmfs_fs *fs, store_ref ref,
			 struct mmfs_file *f)
{
	if (f->write_failed || f->created)
		f->trunc_pending = false;
	return finish_trunc(fs, ref, f);
}

/* Is the caller of req in group gid (its own or a supplementary one)? */
static bool in_group(fuse_req_t req, uint32_t gid)
{
	gid_t groups[64];
	int n;

	if (fuse_req_ctx(req)->gid == gid)
		return true;
	n = fuse_req_getgroups(req, 64, groups);
	for (int i = 0; i < n && i < 64; i++)
		if (groups[i] == gid)
			return true;
	return false;
}

/* Writing or truncating a file clears its set-user-ID bit, and its
 * set-group-ID bit if it is group-executable or the caller is not in its
 * group, unless the caller is privileged -- as on local file systems.  With FUSE_CAP_HANDLE_KILLPRIV
 * (libfuse's default) the kernel leaves this to us where it cannot do it
 * itself: direct I/O writes and opens with O_TRUNC (page-cache writes,
 * truncate(2) and chown(2) it handles).  The kernel's test is CAP_FSETID,
 * which we cannot see: uid 0 stands for it. */
static uint32_t killed_mode(fuse_req_t req, uint32_t mode, uint32_t gid)
{
	if (fuse_req_ctx(req)->uid == 0 || !S_ISREG(mode))
		return mode;
	mode &= ~(uint32_t)S_ISUID;
	if ((mode & S_ISGID) && ((mode & S_IXGRP) || !in_group(req, gid)))
		mode &= ~(uint32_t)S_ISGID;
	return mode;
}

static int kill_suid(fuse_req_t req, store_ref ref)
{
	struct mmfs_fs *fs = fs_of(req);
	struct store_attr a, in;
	int rc;

	if (fuse_req_ctx(req)->uid == 0)
		return 0;
	rc = store_getattr(fs->store, ref, &a);
	if (rc || killed_mode(req, a.mode, a.gid) == a.mode)
		return rc;
	memset(&in, 0, sizeof(in));
	in.mode = killed_mode(req, a.mode, a.gid);
	return store_setattr(fs->store, ref, STORE_SET_MODE, &in, NULL);
}

/* Add to a setattr that changes the size the set-ID bits it clears. */
static int truncate_mode(fuse_req_t req, store_ref ref, unsigned *mask,
			 struct store_attr *in)
{
	struct store_attr a;
	uint32_t mode;
	int rc = store_getattr(fs_of(req)->store, ref, &a);

	if (rc)
		return rc;
	mode = *mask & STORE_SET_MODE ? (a.mode & S_IFMT) | (in->mode & 07777)
				      : a.mode;
	mode = killed_mode(req, mode, *mask & STORE_SET_GID ? in->gid : a.gid);
	if (mode != a.mode || (*mask & STORE_SET_MODE)) {
		*mask |= STORE_SET_MODE;
		in->mode = mode;
	}
	return 0;
}

/* The offset a write goes to: O_APPEND handles write at the file's end,
 * whatever offset the kernel computed from its cached size.  Page-cache
 * write-back (fi->writepage) always goes where the page is. */
static int write_pos(struct mmfs_fs *fs, store_ref ref,
		     const struct fuse_file_info *fi, off_t off, uint64_t *pos)
{
	const struct mmfs_file *f = file_of(fi);
	struct store_attr a;
	int rc;

	if (off < 0)
		return -EINVAL;
	*pos = (uint64_t)off;
	if (!f->append || fi->writepage)
		return 0;
	if (f->trunc_pending) {
		*pos = 0;
		return 0;
	}
	rc = store_getattr(fs->store, ref, &a);
	*pos = a.size;
	return rc;
}

/* Every write to a ring log is one record, at the end, whatever the
 * offset; a deferred O_TRUNC clears the ring first. */
static ssize_t ring_write(struct mmfs_fs *fs, store_ref ref,
			  struct mmfs_file *f, const char *buf, size_t size)
{
	int rc = f->trunc_pending ? ring_clear(fs->store, ref) : 0;

	if (rc)
		return rc;
	f->trunc_pending = false;
	return ring_append(fs->store, ref, buf, size);
}

/* Translate a FUSE setattr request into a store mask and values. */
static unsigned setattr_mask(const struct stat *attr, int to_set,
			     struct store_attr *in)
{
	struct timespec now;
	unsigned mask = 0;

	memset(in, 0, sizeof(*in));
	clock_gettime(CLOCK_REALTIME, &now);
	if (to_set & FUSE_SET_ATTR_MODE) {
		mask |= STORE_SET_MODE;
		in->mode = attr->st_mode;
	}
	if (to_set & FUSE_SET_ATTR_UID) {
		mask |= STORE_SET_UID;
		in->uid = attr->st_uid;
	}
	if (to_set & FUSE_SET_ATTR_GID) {
		mask |= STORE_SET_GID;
		in->gid = attr->st_gid;
	}
	if (to_set & FUSE_SET_ATTR_SIZE) {
		mask |= STORE_SET_SIZE;
		in->size = (uint64_t)attr->st_size;
	}
	if (to_set & (FUSE_SET_ATTR_ATIME | FUSE_SET_ATTR_ATIME_NOW)) {
		mask |= STORE_SET_ATIME;
		in->atime = (to_set & FUSE_SET_ATTR_ATIME_NOW) ? now
							       : attr->st_atim;
	}
	if (to_set & (FUSE_SET_ATTR_MTIME | FUSE_SET_ATTR_MTIME_NOW)) {
		mask |= STORE_SET_MTIME;
		in->mtime = (to_set & FUSE_SET_ATTR_MTIME_NOW) ? now
							       : attr->st_mtim;
	}
	if (to_set & FUSE_SET_ATTR_CTIME) {
		mask |= STORE_SET_CTIME;
		in->ctime = attr->st_ctim;
	}
	return mask;
}

static int has_prefix(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* May name be read (write false) or changed (write true) on ref?  Linux
 * rules: user.* only on regular files and directories; system.* and
 * unknown namespaces are not supported. */
static int xattr_check(struct mmfs_fs *fs, store_ref ref, const char *name,
		       bool write)
{
	struct store_attr a;
	int rc;

	if (!strcmp(name, "user.") || !strcmp(name, "trusted.") ||
	    !strcmp(name, "security."))
		return -EINVAL;         /* a namespace without a name */
	if (has_prefix(name, "trusted.") || has_prefix(name, "security."))
		return 0;
	if (!has_prefix(name, "user."))
		return -EOPNOTSUPP;
	rc = store_getattr(fs->store, ref, &a);
	if (rc == 0 && !S_ISREG(a.mode) && !S_ISDIR(a.mode))
		rc = write ? -EPERM : -ENODATA;
	return rc;
}

/* user.mmfs.capacity: a ring log's capacity in bytes, as decimal text.
 * It is not stored as an xattr: reading asks the ring, writing resizes it
 * (ring_set_capacity keeps the newest whole records), and only rings have
 * it (-ENODATA / -EINVAL on other files). */
static bool is_capacity(const char *name)
{
	return strcmp(name, RING_CAPACITY_XATTR) == 0;
}

static ssize_t capacity_get(struct mmfs_fs *fs, store_ref ref, char *buf,
			    size_t size)
{
	struct ring_stat st;
	char text[32];
	int rc = ring_stat(fs->store, ref, &st), len;

	if (rc)
		return rc == -EINVAL ? -ENODATA : rc;
	len = snprintf(text, sizeof(text), "%llu",
		       (unsigned long long)st.capacity);
	if (size && size < (size_t)len)
		return -ERANGE;
	if (size)
		memcpy(buf, text, (size_t)len);
	return len;
}

static int capacity_set(struct mmfs_fs *fs, store_ref ref, const char *value,
			size_t size)
{
	unsigned long long bytes;
	char text[32], *end;

	if (size == 0 || size >= sizeof(text))
		return -EINVAL;
	memcpy(text, value, size);
	text[size] = '\0';
	if (text[0] < '0' || text[0] > '9')
		return -EINVAL;
	errno = 0;
	bytes = strtoull(text, &end, 10);
	if (errno || end != text + size)        /* a NUL is no end of it */
		return -EINVAL;
	return ring_set_capacity(fs->store, ref, bytes);
}

/* listxattr of a ring also names its capacity. */
static ssize_t list_capacity(struct mmfs_fs *fs, store_ref ref, char *buf,
			     size_t size, ssize_t n)
{
	size_t extra = sizeof(RING_CAPACITY_XATTR);
	struct store_attr a;

	if (n < 0 || store_getattr(fs->store, ref, &a) || a.kind != RING_KIND)
		return n;
	if (size && (size_t)n + extra > size)
		return -ERANGE;
	if (size)
		memcpy(buf + n, RING_CAPACITY_XATTR, extra);
	return n + (ssize_t)extra;
}

/* getxattr/listxattr: size 0 asks for the length. */
static void reply_xattr(fuse_req_t req, ssize_t n, const char *buf,
			size_t size)
{
	if (n < 0)
		reply_err(req, n);
	else if (size == 0)
		fuse_reply_xattr(req, (size_t)n);
	else
		fuse_reply_buf(req, buf, (size_t)n);
}

/* Add "." (offset 1) and ".." (offset 2) as far as a listing resuming at
 * off still needs them; *len is what they take in buf.  False: they did
 * not all fit, so nothing may follow them in this reply. */
static bool add_dots(fuse_req_t req, store_ref dir, char *buf, size_t size,
		     off_t off, size_t *len)
{
	struct mmfs_fs *fs = fs_of(req);
	struct store_attr a;
	struct stat st;
	size_t n;

	*len = 0;
	memset(&st, 0, sizeof(st));
	st.st_mode = S_IFDIR;
	st.st_ino = store_getattr(fs->store, dir, &a) ? UNKNOWN_INO : a.ino;
	if (off < 1) {
		n = fuse_add_direntry(req, buf, size, ".", &st, 1);
		if (n > size)
			return false;
		*len = n;
	}
	/* The root is its own parent; elsewhere the kernel does not need
	 * to know. */
	if (dir != store_root(fs->store))
		st.st_ino = UNKNOWN_INO;
	n = fuse_add_direntry(req, buf + *len, size - *len, "..", &st, 2);
	if (n > size - *len)
		return false;
	*len += n;
	return true;
}

/* Add store entries from the cursor on; the cursor only moves past an
 * entry that fit.  Entry k (1-based) of the directory has d_off 2 + k. */
static size_t add_entries(fuse_req_t req, struct store_dir *d, char *buf,
			  size_t size)
{
	char name[STORE_NAME_MAX + 1];
	struct store_dirent ent;
	struct stat st;
	size_t len = 0, n;
	off_t next;

	memset(&st, 0, sizeof(st));
	while (store_dir_peek(d, &ent) == 1) {
		memcpy(name, ent.name, ent.namelen);
		name[ent.namelen] = '\0';
		st.st_ino = ent.ino;
		st.st_mode = ent.mode & S_IFMT;
		next = (off_t)(DOT_ENTRIES + store_dir_pos(d) + 1);
		n = fuse_add_direntry(req, buf + len, size - len, name, &st,
				      next);
		if (n > size - len)
			break;
		store_dir_advance(d);
		len += n;
	}
	return len;
}

/* ---- operations -------------------------------------------------------- */

static void mmfs_init(void *userdata, struct fuse_conn_info *conn)
{
	if (conn->capable & FUSE_CAP_ATOMIC_O_TRUNC)
		conn->want |= FUSE_CAP_ATOMIC_O_TRUNC;
	/* No ASYNC_DIO: the kernel then sends the requests of one large
	 * direct-I/O read one after the other, so the serving threads see
	 * them in order and a pass starts at offset 0 (one version per
	 * open); with it, they may run out of order on several threads. */
	conn->want &= ~(FUSE_CAP_WRITEBACK_CACHE | FUSE_CAP_READDIRPLUS |
			FUSE_CAP_READDIRPLUS_AUTO | FUSE_CAP_AUTO_INVAL_DATA |
			FUSE_CAP_ASYNC_DIO);
	if (conn->max_write > MAX_WRITE)
		conn->max_write = MAX_WRITE;
}

static void mmfs_destroy(void *userdata)
{
	mmfs_fs_finish(userdata);
}

static void mmfs_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct mmfs_fs *fs = fs_of(req);
	struct store_attr a;
	store_ref dir, ref = 0;
	int rc;

	rc = node_ref(fs, parent, &dir);
	if (rc == 0)
		rc = store_lookup(fs->store, dir, name, &ref, &a);
	reply_entry(req, rc, ref, &a);
}

/* Node ids of counted nodes are their refs; the root is not counted. */
static void forget_one(struct mmfs_fs *fs, fuse_ino_t ino, uint64_t nlookup)
{
	if (ino != FUSE_ROOT_ID)
		node_forget(fs, (store_ref)ino, nlookup);
}

static void mmfs_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	forget_one(fs_of(req), ino, nlookup);
	fuse_reply_none(req);
}

static void mmfs_forget_multi(fuse_req_t req, size_t count,
			      struct fuse_forget_data *forgets)
{
	for (size_t i = 0; i < count; i++)
		forget_one(fs_of(req), forgets[i].ino, forgets[i].nlookup);
	fuse_reply_none(req);
}

static void mmfs_getattr(fuse_req_t req, fuse_ino_t ino,
			 struct fuse_file_info *fi)
{
	struct mmfs_fs *fs = fs_of(req);
	struct store_attr a;
	store_ref ref;
	int rc;

	rc = node_ref(fs, ino, &ref);
	if (rc == 0)
		rc = store_getattr(fs->store, ref, &a);
	reply_attr(req, rc, ref, &a);
}

static void mmfs_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr,
			 int to_set, struct fuse_file_info *fi)
{
	struct mmfs_fs *fs = fs_of(req);
	struct store_attr in, out;
	unsigned mask = setattr_mask(attr, to_set, &in);
	store_ref ref;
	int rc;

	rc = node_ref(fs, ino, &ref);
	/* ftruncate on a handle with a deferred O_TRUNC: empty it first. */
	if (rc == 0 && fi && (mask & STORE_SET_SIZE)) {
		pthread_mutex_lock(&file_of(fi)->lock);
		rc = finish_trunc(fs, ref, file_of(fi));
		pthread_mutex_unlock(&file_of(fi)->lock);
	}
	/* A truncation clears set-ID bits (see kill_suid); the kernel may
	 * have asked for part of that already. */
	if (rc == 0 && (mask & STORE_SET_SIZE))
		rc = truncate_mode(req, ref, &mask, &in);
	if (rc == 0)
		rc = store_setattr(fs->store, ref, mask, &in, &out);
	reply_attr(req, rc, ref, &out);
}

static void mmfs_readlink(fuse_req_t req, fuse_ino_t ino)
{
	struct mmfs_fs *fs = fs_of(req);
	char buf[STORE_SYMLINK_MAX + 1];
	store_ref ref;
	int rc;

	rc = node_ref(fs, ino, &ref);
	if (rc == 0)
		rc = store_readlink(fs->store, ref, buf, sizeof(buf) - 1);
	if (rc < 0) {
		reply_err(req, rc);
		return;
	}
	buf[rc < (int)sizeof(buf) ? rc : (int)sizeof(buf) - 1] = '\0';
	fuse_reply_readlink(req, buf);
}

static void mmfs_mknod(fuse_req_t req, fuse_ino_t parent, const char *name,
		       mode_t mode, dev_t rdev)
{
	/* rdev is the kernel's 32-bit encoding; it goes back as st_rdev. */
	make_node(req, parent, name, mode, (uint32_t)rdev);
}

static void mmfs_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name,
		       mode_t mode)
{
	make_node(req, parent, name, (mode & 07777) | S_IFDIR, 0);
}

static void mmfs_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct mmfs_fs *fs = fs_of(req);
	store_ref dir;
	int rc;

	rc = node_ref(fs, parent, &dir);
	if (rc == 0)
		rc = store_unlink(fs->store, dir, name);
	reply_err(req, rc);
}

static void mmfs_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct mmfs_fs *fs = fs_of(req);
	store_ref dir;
	int rc;

	rc = node_ref(fs, parent, &dir);
	if (rc == 0)
		rc = store_rmdir(fs->store, dir, name);
	reply_err(req, rc);
}

static void mmfs_symlink(fuse_req_t req, const char *link, fuse_ino_t parent,
			 const char *name)
{
	struct mmfs_fs *fs = fs_of(req);
	uint32_t mode = S_IFLNK | 0777, uid, gid;
	struct store_attr a;
	store_ref dir, ref = 0;
	int rc;

	rc = node_ref(fs, parent, &dir);
	if (rc == 0)
		rc = new_owner(req, dir, &mode, &uid, &gid);
	if (rc == 0)
		rc = store_symlink(fs->store, dir, name, link, uid, gid, &ref,
				   &a);
	reply_entry(req, rc, ref, &a);
}

static void mmfs_rename(fuse_req_t req, fuse_ino_t parent, const char *name,
			fuse_ino_t newparent, const char *newname,
			unsigned int flags)
{
	struct mmfs_fs *fs = fs_of(req);
	store_ref dir, newdir;
	unsigned sflags = 0;
	int rc;

	if (flags & ~(unsigned)(RENAME_NOREPLACE | RENAME_EXCHANGE)) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	if (flags & RENAME_NOREPLACE)
		sflags |= STORE_RENAME_NOREPLACE;
	if (flags & RENAME_EXCHANGE)
		sflags |= STORE_RENAME_EXCHANGE;
	rc = node_ref(fs, parent, &dir);
	if (rc == 0)
		rc = node_ref(fs, newparent, &newdir);
	if (rc == 0)
		rc = store_rename(fs->store, dir, name, newdir, newname,
				  sflags);
	reply_err(req, rc);
}

static void mmfs_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent,
		      const char *newname)
{
	struct mmfs_fs *fs = fs_of(req);
	struct store_attr a;
	store_ref ref, newdir;
	int rc;

	rc = node_ref(fs, ino, &ref);
	if (rc == 0)
		rc = node_ref(fs, newparent, &newdir);
	if (rc == 0)
		rc = store_link(fs->store, ref, newdir, newname, &a);
	reply_entry(req, rc, ref, &a);
}

static void mmfs_open(fuse_req_t req, fuse_ino_t ino,
		      struct fuse_file_info *fi)
{
	struct mmfs_fs *fs = fs_of(req);
	struct mmfs_file *f;
	struct store_attr a;
	bool replacing;
	store_ref ref;
	int rc;

	/* Only regular files come here: the kernel opens directories with
	 * opendir and serves devices and FIFOs itself. */
	rc = node_ref(fs, ino, &ref);
	if (rc == 0 && (fi->flags & O_TRUNC) && (fi->flags & O_ACCMODE))
		rc = kill_suid(req, ref);
	if (rc == 0)
		rc = store_getattr(fs->store, ref, &a);
	if (rc) {
		reply_err(req, rc);
		return;
	}
	f = file_new(fs, ref, fi, a.kind == RING_KIND);
	if (!f) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	replacing = f->trunc_pending;   /* f is the kernel's once replied */
	if (fuse_reply_open(req, fi))
		file_free(fs, f);
	else if (replacing && fs->se)
		(void)fuse_lowlevel_notify_inval_inode(fs->se, ino, -1, 0);
}

/* A read of an O_RDONLY handle: from the version of its pass (see the
 * top of this file). */
static ssize_t read_version(struct mmfs_fs *fs, store_ref ref,
			    struct mmfs_file *f, uint64_t off, char *buf,
			    size_t size)
{
	ssize_t n;

	if (off == 0 || !f->snap.taken) {
		store_snap_drop(fs->store, &f->snap);
		n = store_snap_take(fs->store, ref, &f->snap);
		if (n)
			return n;
	}
	n = store_snap_read(fs->store, &f->snap, off, buf, size);
	if (n == 0)
		store_snap_drop(fs->store, &f->snap);   /* the pass ends */
	return n;
}

/* A read through handle f, under its lock: a pending truncation reads as
 * empty, a ring from the handle's position, an O_RDONLY handle from its
 * pass's version, anything else from the file as it is. */
static ssize_t read_handle(struct mmfs_fs *fs, store_ref ref,
			   struct mmfs_file *f, uint64_t off, char *buf,
			   size_t size)
{
	ssize_t n;

	pthread_mutex_lock(&f->lock);
	if (f->trunc_pending)
		n = 0;
	else if (f->ring)
		n = ring_read(fs->store, ref, &f->reader, off, buf, size);
	else if (f->versioned)
		n = read_version(fs, ref, f, off, buf, size);
	else
		n = store_read(fs->store, ref, off, buf, size);
	pthread_mutex_unlock(&f->lock);
	return n;
}

static void mmfs_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		      struct fuse_file_info *fi)
{
	struct mmfs_fs *fs = fs_of(req);
	store_ref ref;
	ssize_t n;
	char *buf;

	n = node_ref(fs, ino, &ref);
	if (n == 0 && off < 0)
		n = -EINVAL;
	buf = n ? NULL : fs_buf(fs, size);
	if (n == 0 && !buf)
		n = -ENOMEM;
	if (n == 0)
		n = read_handle(fs, ref, file_of(fi), (uint64_t)off, buf, size);
	if (n < 0)
		reply_err(req, n);
	else
		fuse_reply_buf(req, buf, (size_t)n);
}

static void mmfs_write(fuse_req_t req, fuse_ino_t ino, const char *buf,
		       size_t size, off_t off, struct fuse_file_info *fi)
{
	struct mmfs_fs *fs = fs_of(req);
	struct mmfs_file *f = file_of(fi);
	store_ref ref;
	uint64_t pos;
	ssize_t n;

	n = node_ref(fs, ino, &ref);
	if (n == 0 && !fi->writepage)
		n = kill_suid(req, ref);
	pthread_mutex_lock(&f->lock);
	if (n == 0)
		n = write_pos(fs, ref, fi, off, &pos);
	if (n == 0 && f->ring)
		n = ring_write(fs, ref, f, buf, size);
	else if (n == 0)
		n = store_write(fs->store, ref, pos, buf, size,
				f->trunc_pending);
	if (n < 0) {
		f->write_failed = f->trunc_pending;
	} else {
		f->trunc_pending = false;
		f->write_failed = false;
	}
	pthread_mutex_unlock(&f->lock);
	if (n < 0)
		reply_err(req, n);
	else
		fuse_reply_write(req, (size_t)n);
}

static void mmfs_release(fuse_req_t req, fuse_ino_t ino,
			 struct fuse_file_info *fi)
{
	struct mmfs_fs *fs = fs_of(req);
	struct mmfs_file *f = file_of(fi);
	store_ref ref;
	int rc;

	rc = node_ref(fs, ino, &ref);
	if (rc == 0 && f->trunc_pending && !f->write_failed && !f->created) {
		rc = finish_trunc(fs, ref, f);
		/* The kernel may have cached the untruncated size since the
		 * open: drop its attributes.  Offset -1 touches no page, so
		 * this cannot wait for a request this thread must answer. */
		if (rc == 0 && fs->se)
			(void)fuse_lowlevel_notify_inval_inode(fs->se, ino, -1,
							       0);
	}
	file_free(fs, f);
	reply_err(req, rc);
}

static void mmfs_fsync(fuse_req_t req, fuse_ino_t ino, int datasync,
		       struct fuse_file_info *fi)
{
	struct mmfs_fs *fs = fs_of(req);
	store_ref ref;
	int rc;

	rc = node_ref(fs, ino, &ref);
	if (rc == 0)
		rc = store_sync_file(fs->store, ref, datasync != 0);
	reply_err(req, rc);
}

static void mmfs_opendir(fuse_req_t req, fuse_ino_t ino,
			 struct fuse_file_info *fi)
{
	struct mmfs_fs *fs = fs_of(req);
	struct store_dir *d = NULL;
	store_ref ref;
	int rc;

	rc = node_ref(fs, ino, &ref);
	if (rc == 0)
		rc = store_dir_open(fs->store, ref, &d);
	if (rc) {
		reply_err(req, rc);
		return;
	}
	fi->fh = (uintptr_t)d;
	if (fuse_reply_open(req, fi))
		store_dir_close(d);
}

static void mmfs_readdir(fuse_req_t req, fuse_ino_t ino, size_t size,
			 off_t off, struct fuse_file_info *fi)
{
	struct mmfs_fs *fs = fs_of(req);
	struct store_dir *d = dir_of(fi);
	size_t len = 0;
	store_ref ref;
	char *buf;
	int rc;

	rc = node_ref(fs, ino, &ref);
	buf = rc ? NULL : fs_buf(fs, size);
	if (rc == 0 && !buf)
		rc = -ENOMEM;
	if (rc) {
		reply_err(req, rc);
		return;
	}
	if (off < DOT_ENTRIES && !add_dots(req, ref, buf, size, off, &len)) {
		fuse_reply_buf(req, buf, len);
		return;
	}
	/* Not where the last reply left off: seekdir, rewinddir or a
	 * partly consumed reply.  Position the cursor by count. */
	if (off < 0 || (uint64_t)off != DOT_ENTRIES + store_dir_pos(d))
		store_dir_seek(d, off > DOT_ENTRIES ? (uint64_t)off - DOT_ENTRIES
						    : 0);
	len += add_entries(req, d, buf + len, size - len);
	fuse_reply_buf(req, buf, len);
}

static void mmfs_releasedir(fuse_req_t req, fuse_ino_t ino,
			    struct fuse_file_info *fi)
{
	store_dir_close(dir_of(fi));
	fuse_reply_err(req, 0);
}

/* Names live in blocks of their own all over the arena: fsync of a
 * directory writes back the whole arena (what sync -f would do, had
 * libfuse 3.14 a syncfs operation). */
static void mmfs_fsyncdir(fuse_req_t req, fuse_ino_t ino, int datasync,
			  struct fuse_file_info *fi)
{
	store_ref ref;
	int rc = node_ref(fs_of(req), ino, &ref);

	if (rc == 0)
		rc = store_sync(fs_of(req)->store);
	reply_err(req, rc);
}

static void mmfs_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct store_statfs st;
	struct statvfs sv;
	uint64_t used;

	store_statfs(fs_of(req)->store, &st);
	used = st.inodes;
	memset(&sv, 0, sizeof(sv));
	sv.f_bsize = BLOCK_SIZE;
	sv.f_frsize = BLOCK_SIZE;
	sv.f_blocks = st.size_cap / BLOCK_SIZE;
	sv.f_bfree = st.free / BLOCK_SIZE;
	sv.f_bavail = sv.f_bfree;
	sv.f_files = st.max_files;
	sv.f_ffree = st.max_files > used ? st.max_files - used : 0;
	sv.f_favail = sv.f_ffree;
	sv.f_namemax = STORE_NAME_MAX;
	fuse_reply_statfs(req, &sv);
}

static void mmfs_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
			  const char *value, size_t size, int flags)
{
	struct mmfs_fs *fs = fs_of(req);
	store_ref ref;
	int sflags = 0, rc;

	if (flags & ~(XATTR_CREATE | XATTR_REPLACE)) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	if (flags & XATTR_CREATE)
		sflags |= STORE_XATTR_CREATE;
	if (flags & XATTR_REPLACE)
		sflags |= STORE_XATTR_REPLACE;
	rc = node_ref(fs, ino, &ref);
	if (rc == 0)
		rc = xattr_check(fs, ref, name, true);
	if (rc == 0 && is_capacity(name))
		rc = capacity_set(fs, ref, value, size);
	else if (rc == 0)
		rc = store_setxattr(fs->store, ref, name, value, size, sflags);
	reply_err(req, rc);
}

static void mmfs_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
			  size_t size)
{
	struct mmfs_fs *fs = fs_of(req);
	char *buf = NULL;
	store_ref ref;
	ssize_t n;

	n = node_ref(fs, ino, &ref);
	if (n == 0)
		n = xattr_check(fs, ref, name, false);
	if (n == 0 && size && !(buf = fs_buf(fs, size)))
		n = -ENOMEM;
	if (n == 0 && is_capacity(name))
		n = capacity_get(fs, ref, buf, size);
	else if (n == 0)
		n = store_getxattr(fs->store, ref, name, buf, size);
	reply_xattr(req, n, buf, size);
}

/* The xattr names of ref that an unprivileged caller may see: all but
 * trusted.*, as local file systems list them (the kernel hides the values
 * of trusted.* but leaves listing to us).  Its test is CAP_SYS_ADMIN:
 * uid 0 stands for it.  The list is in *buf (at least size bytes). */
static ssize_t list_untrusted(struct mmfs_fs *fs, store_ref ref, size_t size,
			      char **buf)
{
	ssize_t n = store_listxattr(fs->store, ref, NULL, 0), in, out = 0;
	size_t len;

	if (n < 0)
		return n;
	*buf = fs_buf(fs, (size_t)n > size ? (size_t)n : size);
	if (!*buf)
		return -ENOMEM;
	n = n ? store_listxattr(fs->store, ref, *buf, (size_t)n) : 0;
	for (in = 0; n > 0 && in < n; in += (ssize_t)len) {
		len = strnlen(*buf + in, (size_t)(n - in)) + 1;
		if (has_prefix(*buf + in, "trusted."))
			continue;
		memmove(*buf + out, *buf + in, len);
		out += (ssize_t)len;
	}
	if (n < 0)
		return n;
	return size && (size_t)out > size ? -ERANGE : out;
}

static void mmfs_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	struct mmfs_fs *fs = fs_of(req);
	char *buf = NULL;
	store_ref ref;
	ssize_t n;

	n = node_ref(fs, ino, &ref);
	if (n == 0 && fuse_req_ctx(req)->uid != 0) {
		n = list_untrusted(fs, ref, size, &buf);
		n = list_capacity(fs, ref, buf, size, n);
	} else if (n == 0 && size && !(buf = fs_buf(fs, size))) {
		n = -ENOMEM;
	} else if (n == 0) {
		n = store_listxattr(fs->store, ref, buf, size);
		n = list_capacity(fs, ref, buf, size, n);
	}
	reply_xattr(req, n, buf, size);
}

static void mmfs_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name)
{
	struct mmfs_fs *fs = fs_of(req);
	struct store_attr a;
	store_ref ref;
	int rc;

	rc = node_ref(fs, ino, &ref);
	if (rc == 0)
		rc = xattr_check(fs, ref, name, true);
	if (rc == 0 && is_capacity(name) &&
	    store_getattr(fs->store, ref, &a) == 0 && a.kind == RING_KIND)
		rc = -EPERM;
	else if (rc == 0)
		rc = store_removexattr(fs->store, ref, name);
	reply_err(req, rc);
}

static void mmfs_create(fuse_req_t req, fuse_ino_t parent, const char *name,
			mode_t mode, struct fuse_file_info *fi)
{
	struct mmfs_fs *fs = fs_of(req);
	uint32_t smode = (mode & 07777) | S_IFREG, uid, gid;
	struct fuse_entry_param e;
	struct mmfs_file *f;
	struct store_attr a;
	store_ref dir, ref;
	int rc;

	f = file_new(fs, 0, fi, false);
	if (!f) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	f->created = true;      /* see "Deferred O_TRUNC" */
	rc = node_ref(fs, parent, &dir);
	if (rc == 0)
		rc = new_owner(req, dir, &smode, &uid, &gid);
	if (rc == 0)
		rc = create_file(fs, dir, name, smode, uid, gid, 0, &ref, &a);
	if (rc == 0)
		rc = node_learn(fs, ref);
	if (rc) {
		file_free(fs, f);
		reply_err(req, rc);
		return;
	}
	f->ref = ref;
	file_policy(f, fi, a.kind == RING_KIND);
	entry_of(fs, ref, &a, &e);
	if (fuse_reply_create(req, &e, fi)) {
		node_unlearn(fs, ref);
		file_free(fs, f);
	}
}

/* fallocate(2): tmpfs's modes (store_fallocate); ZERO_RANGE and the rest
 * are refused with EOPNOTSUPP, as tmpfs refuses them.  The call changes
 * the file as a write does: a deferred O_TRUNC of the handle applies
 * first, and set-ID bits go (kill_suid).  The kernel then drops its
 * cached pages of a punched range and its attributes. */
static void mmfs_fallocate(fuse_req_t req, fuse_ino_t ino, int mode,
			   off_t off, off_t len, struct fuse_file_info *fi)
{
	struct mmfs_fs *fs = fs_of(req);
	unsigned smode = 0;
	store_ref ref;
	int rc;

	if (mode & FALLOC_FL_KEEP_SIZE)
		smode |= STORE_FALLOC_KEEP_SIZE;
	if (mode & FALLOC_FL_PUNCH_HOLE)
		smode |= STORE_FALLOC_PUNCH_HOLE;
	rc = node_ref(fs, ino, &ref);
	if (rc == 0 && (mode & ~(FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE)))
		rc = -EOPNOTSUPP;
	if (rc == 0 && (off < 0 || len <= 0))
		rc = -EINVAL;
	if (rc == 0 && fi)
		rc = finish_trunc(fs, ref, file_of(fi));
	if (rc == 0)
		rc = kill_suid(req, ref);
	if (rc == 0)
		rc = store_fallocate(fs->store, ref, smode, (uint64_t)off,
				     (uint64_t)len);
	reply_err(req, rc);
}

const struct fuse_lowlevel_ops mmfs_ops = {
	.init = mmfs_init,
	.destroy = mmfs_destroy,
	.lookup = mmfs_lookup,
	.forget = mmfs_forget,
	.forget_multi = mmfs_forget_multi,
	.getattr = mmfs_getattr,
	.setattr = mmfs_setattr,
	.readlink = mmfs_readlink,
	.mknod = mmfs_mknod,
	.mkdir = mmfs_mkdir,
	.unlink = mmfs_unlink,
	.rmdir = mmfs_rmdir,
	.symlink = mmfs_symlink,
	.rename = mmfs_rename,
	.link = mmfs_link,
	.open = mmfs_open,
	.read = mmfs_read,
	.write = mmfs_write,
	.release = mmfs_release,
	.fsync = mmfs_fsync,
	.opendir = mmfs_opendir,
	.readdir = mmfs_readdir,
	.releasedir = mmfs_releasedir,
	.fsyncdir = mmfs_fsyncdir,
	.statfs = mmfs_statfs,
	.setxattr = mmfs_setxattr,
	.getxattr = mmfs_getxattr,
	.listxattr = mmfs_listxattr,
	.removexattr = mmfs_removexattr,
	.create = mmfs_create,
	.fallocate = mmfs_fallocate,
	/* No getlk/setlk/flock: the kernel then does fcntl and flock locking
	 * locally, which is right because every process goes through this
	 * one mount.  No access: default_permissions or root only. */
};

void mmfs_fs_init(struct mmfs_fs *fs, struct store *s)
{
	*fs = (struct mmfs_fs){ .store = s };
	pthread_mutex_init(&fs->lock, NULL);
	nodes_init(&fs->nodes, s);
}

void mmfs_fs_finish(struct mmfs_fs *fs)
{
	/* Handles whose release the unmount dropped: do what it would. */
	while (fs->files) {
		if (fs->files->trunc_pending && fs->files->ref)
			(void)release_trunc(fs, fs->files->ref, fs->files);
		file_free(fs, fs->files);
	}
	/* The kernel has forgotten everything: unlinked files go now. */
	pthread_mutex_lock(&fs->lock);
	nodes_finish(&fs->nodes);
	pthread_mutex_unlock(&fs->lock);
	mmfs_thread_done();
}

/* ops.c -- the FUSE low-level operations over the store (see ops.h).
 *
 * Each operation is one thin function: turn node ids into refs, call the
 * store, end in exactly one fuse_reply_*.  Store errors are -errno and go
 * to the kernel through reply_err(req, rc), the one place that negates
 * them.
 *
 * Lookup counts.  A reply that hands the kernel a node (reply_entry,
 * create, and each entry of a READDIRPLUS reply but "." and "..") counts
 * it in fs->nodes first; forget and batch forget uncount.
 * The node table holds what it counts in the store (nodes.h), and that
 * hold is what keeps a file unlinked while open readable until the kernel
 * forgets it; mmfs_fs_finish drops the holds left at unmount.
 *
 * Open files.  A regular file opened O_RDONLY or O_WRONLY uses direct I/O:
 * every read and write reaches the daemon, which serialises them, so a
 * reader sees a whole write or none of it (and the kernel's cached i_size
 * does not matter).  An O_RDWR open uses the page cache, dropped at each
 * open, so that mmap(MAP_SHARED) works; with FUSE_DIRECT_IO_ALLOW_MMAP
 * (initflags.h; kernel 6.6+) the kernel maps direct-I/O opens too, through
 * the same page cache, so O_RDONLY descriptors map read-only and shared.
 * The kernel drops cached pages of a file (unmapping them) when a
 * direct-I/O write to it passes through, before sending it, and a
 * direct-I/O read first writes back dirty pages of its range, so no
 * mapping or page-cache read stays stale (test_coherence.py and
 * test_mmap.py check it); that makes FUSE_CAP_AUTO_INVAL_DATA useless,
 * and it is off: it dropped a writer's pages at each read that followed a
 * write, because the kernel's mtime and ours never match to the
 * nanosecond.
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
 * A close of a dup must not truncate: the shell's `echo v > var` opens
 * with O_TRUNC, dup2()s and closes the original before writing.  But
 * RELEASE comes after close(2) has returned, too late for `: > var; cat
 * var`.  So while a replace has written nothing, any other request that
 * reads or changes the file (getattr, lookup, open, read, write, setattr,
 * poll) first asks whether the process that opened it still holds a
 * descriptor on the file (fdscan.h); if not, the close has happened and
 * the replace ends, empty, before that request is answered
 * (settle_replaces).  No request is spent on it: every handle is
 * FOPEN_NOFLUSH, and a replace is OPEN, (GETXATTR,) WRITE, RELEASE.  A fork that
 * leaves the descriptor to a child alone ends it early, as the FLUSH of
 * the parent's close would.  Every request that changes the file's
 * content or size settles first, so that the truncation stays before
 * it.  libmmfs programs see the old value until the RELEASE, a moment
 * after the close, and a library write in that moment is truncated by
 * it.
 *
 * An O_WRONLY replace writes with direct I/O, and so pays a GETXATTR of
 * security.capability at its open (the kernel's check before truncating,
 * skipped only for an inode a page-cache write has marked S_NOSEC, a mark
 * any attribute refresh clears).  Written through the page cache instead,
 * it would mark the inode itself, but the kernel holds the file's size
 * (0 since the O_TRUNC open) while such a write is in flight
 * (FUSE_I_SIZE_UNSTABLE): a reader through the page cache then read an
 * empty value (test_poll's O_RDWR waiter did).
 *
 * O_TMPFILE.  libfuse 3.14 has no tmpfile operation (3.17.1 adds one),
 * so serve.c hands a TMPFILE request to libfuse as the CREATE it is in
 * all but its opcode, with the name "/" that the kernel gives a tmpfile's
 * dentry and no real CREATE can carry (serve.c says why that is safe).
 * create makes, for that name, a regular file without a link
 * (store_tmpfile_with), owned, moded and given ACLs as any new file, and
 * counted in the node table like any node a reply hands over: that
 * table's hold is what keeps it, as it keeps a file unlinked while open,
 * so it is freed when the kernel forgets it (after the last close) unless
 * it got a name, at unmount, or by recovery after a crash.  The kernel
 * lets linkat(2) name it only if it was not opened O_EXCL (I_LINKABLE);
 * the node table remembers the same (nodes_set_linkable), and only such a
 * node, until it has a name, gets a link without having one
 * (store_link_orphan): a file another process unlinked (libmmfs) stays
 * unlinkable whatever the kernel cached.
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
 * meanwhile.  A pass is a run of sequential reads: it goes on while each
 * read starts where the one before ended, and any other read (the first,
 * one at offset 0 after lseek, a pread elsewhere) starts a new pass at
 * the newest version.  A pass also ends
 * when a read reaches the version's end: that read returns 0 (EOF) and
 * the next read sees the newest version, so `tail -f` sees appends.
 * Reads that fill the kernel's page cache (a mapping's faults) are no
 * pass: they read the newest version (page_cache_fill).  The version's
 * blocks stay alive until the pass ends or the handle is released
 * (format.h, "Versions").
 *
 * File handles.  name_to_handle_at(2) and NFS give out the kernel's
 * handle of a FUSE inode: its node id, which is the inode's ref (the
 * offset of its block, stable across remounts of the arena), and its
 * generation, which is its st_ino (never reused: a later file at the same
 * offset has another).  With FUSE_CAP_EXPORT_SUPPORT the kernel resolves
 * a handle whose inode it has dropped (unmount and mount, drop_caches) by
 * a LOOKUP of "." in that node id, which the store checks as a ref from
 * outside (store_lookup_ref: ESTALE once the file is deleted), and then
 * compares the generation itself; for a directory it also walks up with
 * LOOKUPs of "..".  So a handle opens its file for as long as the file
 * exists, and then never again.
 *
 * Ring logs (".ring" files, src/ring/ring.h) always use direct I/O; their
 * handle carries a ring_reader, reads and writes go to the ring module,
 * their attributes are never cached (st_size moves with every append),
 * and the virtual xattr user.mmfs.capacity reads and sets the capacity.
 *
 * Poll, by sysfs's convention (mmfs(7), POLL).  On a variable, poll(2)
 * always reports POLLIN|POLLOUT, plus POLLPRI|POLLERR when the file's mtime
 * differs from the one the handle saw last: at open, then at each read from
 * offset 0 (file_saw).  So a reader reads, sleeps until POLLPRI, seeks to 0
 * and reads again.  A ring handle reports POLLOUT, POLLIN while records lie
 * past where its last read ended, and POLLPRI|POLLERR when that is past
 * st_size (cleared since).  POLLHUP: the file has no link left.  A poll that
 * may sleep leaves its handle in fs->polls (pollq.h); wake_pollers wakes a
 * node's waiters wherever the node changes: write, setattr of size or
 * times, fallocate, the truncation at release, and unlink or rename of a
 * polled name.  Woken, the kernel polls again and gets the new answer.
 * The wake follows the reply, so that the changer's kernel is already
 * finishing its part (the new name of a rename, the pages a direct write
 * drops) when the waiters run.  The daemon sees an O_RDWR handle's reads only when they miss
 * the page cache.  A change written with direct I/O drops the cache, so the
 * next read comes here; but one that leaves its pages in the cache (stores
 * through a mapping, whole pages written through an O_RDWR handle) leaves a
 * poller on an O_RDWR handle reporting POLLPRI until a read of its own
 * misses the cache.  Pollers should open O_RDONLY, as sysfs readers do.
 *
 * Attribute flags (chattr +a +i +d +A: fileattr.h).  The kernel never
 * marks a FUSE inode S_IMMUTABLE or S_APPEND, so none of the VFS's checks
 * of those happen before a request comes: the store refuses every change
 * the flags forbid (store.h, "Attribute flags"), open refuses writing
 * opens (fileattr_open_denied) before it clears set-ID bits, and setattr
 * refuses what store_setattr leaves to its caller.
 */
#define FUSE_USE_VERSION 34

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/xattr.h>
#include <time.h>

#include "acl.h"
#include "fdscan.h"
#include "fileattr.h"
#include "ops.h"
#include "ring.h"
#include "rowatch.h"

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
	int accmode;            /* O_RDONLY, O_WRONLY or O_RDWR */
	atomic_bool counted;    /* in fs->empty_replaces (replace_note);
				   written under lock, read under fs->lock */
	unsigned pins;          /* settle_replaces using it (fs->lock) */
	bool released;          /* freed by the last unpin (fs->lock) */
	pid_t opener;           /* the process that opened it */
	uint64_t ino;           /* the file's st_ino, for fdscan */
	struct ring_reader reader;
	struct store_snap snap; /* the version this handle reads */
	uint64_t pass_next;     /* where the pass's last read ended */
	struct timespec seen;   /* mtime at open or the last read at 0 */
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

/* The generation of ref, which a file handle carries beside its node id
 * (see "File handles"): its st_ino, never reused in an arena, cut to the
 * kernel's 32 bits (it compares them with the 64 it is given); the
 * root's is 0, what the kernel gave it at mount. */
static uint64_t handle_generation(struct mmfs_fs *fs, store_ref ref,
				  const struct store_attr *a)
{
	return ref == store_root(fs->store) ? 0 : (uint32_t)a->ino;
}

static void entry_of(struct mmfs_fs *fs, store_ref ref,
		     const struct store_attr *a, struct fuse_entry_param *e)
{
	memset(e, 0, sizeof(*e));
	e->ino = ref_node(fs, ref);
	e->generation = handle_generation(fs, ref, a);
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

/* The ACLs of a new node of *mode in dir, and *mode cut by them or by
 * the caller's umask (acl.h); nothing on a mount without ACLs, where the
 * kernel applied the umask.  *acl is zeroed first. */
static int new_acl(fuse_req_t req, store_ref dir, uint32_t *mode,
		   struct acl_new *acl)
{
	struct mmfs_fs *fs = fs_of(req);

	memset(acl, 0, sizeof(*acl));
	if (!fs->acl)
		return 0;
	return acl_store_inherit(fs->store, dir, mode,
				 fuse_req_ctx(req)->umask, acl);
}

/* A new node, made with its ACLs; a regular file whose name says so is
 * a ring log. */
static int create_file(struct mmfs_fs *fs, store_ref dir, const char *name,
		       uint32_t mode, uint32_t uid, uint32_t gid, uint32_t rdev,
		       const struct acl_new *acl, store_ref *ref,
		       struct store_attr *a)
{
	if (S_ISREG(mode) && ring_name(name))
		return ring_create_with(fs->store, dir, name, mode, uid, gid,
					acl->x, acl->n, ref, a);
	return store_mknod_with(fs->store, dir, name, mode, uid, gid, rdev,
				acl->x, acl->n, ref, a);
}

static void make_node(fuse_req_t req, fuse_ino_t parent, const char *name,
		      uint32_t mode, uint32_t rdev)
{
	struct mmfs_fs *fs = fs_of(req);
	struct acl_new acl = { 0 };
	struct store_attr a;
	store_ref dir, ref = 0;
	uint32_t uid, gid;
	int rc;

	rc = node_ref(fs, parent, &dir);
	if (rc == 0)
		rc = new_owner(req, dir, &mode, &uid, &gid);
	if (rc == 0)
		rc = new_acl(req, dir, &mode, &acl);
	if (rc == 0)
		rc = create_file(fs, dir, name, mode, uid, gid, rdev, &acl,
				 &ref, &a);
	acl_new_free(&acl);
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
	fi->noflush = 1;        /* see "Deferred O_TRUNC" */
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
	f->accmode = acc;
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

static void file_destroy(struct mmfs_file *f)
{
	pthread_mutex_destroy(&f->lock);
	free(f);
}

/* Leave fs->files; the memory goes now, or with the last unpin
 * (settle_replaces) if another thread is looking at f. */
static void file_free(struct mmfs_fs *fs, struct mmfs_file *f)
{
	bool pinned;

	store_snap_drop(fs->store, &f->snap);
	if (atomic_exchange(&f->counted, false))
		atomic_fetch_sub(&fs->empty_replaces, 1);
	pthread_mutex_lock(&fs->lock);
	pollq_cancel(&fs->polls, f->ref, f);
	if (f->prev)
		f->prev->next = f->next;
	else
		fs->files = f->next;
	if (f->next)
		f->next->prev = f->prev;
	pinned = f->pins > 0;
	f->released = pinned;
	pthread_mutex_unlock(&fs->lock);
	if (!pinned)
		file_destroy(f);
}

static void file_unpin(struct mmfs_fs *fs, struct mmfs_file *f)
{
	bool gone;

	pthread_mutex_lock(&fs->lock);
	gone = --f->pins == 0 && f->released;
	pthread_mutex_unlock(&fs->lock);
	if (gone)
		file_destroy(f);
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

/* May the caller of req keep the set-group-ID bit of ref when it changes
 * its access ACL (acl.h)?  Yes in the file's group or privileged: uid 0
 * stands for CAP_FSETID. */
static bool keeps_sgid(fuse_req_t req, store_ref ref)
{
	struct store_attr a;

	if (fuse_req_ctx(req)->uid == 0)
		return true;
	return store_getattr(fs_of(req)->store, ref, &a) == 0 &&
	       in_group(req, a.gid);
}

/* Set-ID bits and capabilities, as on local file systems.  A write or
 * truncation clears a regular file's set-user-ID bit, and its
 * set-group-ID bit if it is group-executable or the caller is not in its
 * group, unless the caller has CAP_FSETID; a chown clears them even then,
 * on any file but a directory (a privileged caller keeps S_ISGID without
 * S_IXGRP).  A write also removes the file's capabilities
 * (security.capability), whoever writes.
 *
 * With FUSE_HANDLE_KILLPRIV_V2 (initflags.h; kernel 5.11+) the set-ID
 * bits are ours to clear, and the kernel says on each request when, since
 * it can test CAP_FSETID and we cannot: FUSE_WRITE_KILL_SUIDGID on a
 * WRITE, FUSE_OPEN_KILL_SUIDGID on an OPEN with O_TRUNC (both dropped by
 * libfuse: initflags reads them), FATTR_KILL_SUIDGID on a truncation and
 * on every chown (FUSE_SET_ATTR_KILL_SUID to setattr).  In exchange it
 * marks a file S_NOSEC once a page-cache write found nothing to clear,
 * and stops asking getxattr(security.capability) before each write.
 * Without it the kernel clears the bits itself, except on direct-I/O
 * writes and opens with O_TRUNC, where uid 0 stands for CAP_FSETID.
 * Either way the kernel removes capabilities on truncate, chown and
 * unmarked page-cache writes, never on direct-I/O writes: every write
 * removes them here. */
static uint32_t setid_dropped(fuse_req_t req, uint32_t mode, uint32_t gid,
			      bool privileged)
{
	if (S_ISDIR(mode))
		return mode;
	mode &= ~(uint32_t)S_ISUID;
	if ((mode & S_ISGID) &&
	    ((mode & S_IXGRP) || (!privileged && !in_group(req, gid))))
		mode &= ~(uint32_t)S_ISGID;
	return mode;
}

static bool killpriv_v2(struct mmfs_fs *fs)
{
	return initflags_granted(&fs->init, INITFLAGS_KILLPRIV_V2);
}

/* Does this WRITE or OPEN with O_TRUNC ask to clear set-ID bits? */
static bool kill_asked(fuse_req_t req)
{
	struct mmfs_fs *fs = fs_of(req);

	if (killpriv_v2(fs))
		return initflags_kill_suidgid();
	return fuse_req_ctx(req)->uid != 0;
}

/* Make the kernel drop the attributes it cached of ino, for a change it
 * learns of from no reply.  Offset -1 touches no page, so a serving
 * thread may call this, even before it replies: the notification cannot
 * wait for a request that thread must answer. */
static void drop_cached_attrs(struct mmfs_fs *fs, fuse_ino_t ino)
{
	if (fs->se)
		(void)fuse_lowlevel_notify_inval_inode(fs->se, ino, -1, 0);
}

/* Clear the set-ID bits of ino (ref) as a write or truncation does, and
 * drop the attributes the kernel cached: it learns of the new mode from
 * no reply of a write or an open. */
static int kill_setid(fuse_req_t req, fuse_ino_t ino, store_ref ref)
{
	struct mmfs_fs *fs = fs_of(req);
	struct store_attr a, in;
	int rc;

	rc = store_getattr(fs->store, ref, &a);
	if (rc || setid_dropped(req, a.mode, a.gid, false) == a.mode)
		return rc;
	memset(&in, 0, sizeof(in));
	in.mode = setid_dropped(req, a.mode, a.gid, false);
	rc = store_setattr(fs->store, ref, STORE_SET_MODE, &in, NULL);
	if (rc == 0)
		drop_cached_attrs(fs, ino);
	return rc;
}

/* A write removes the file's capabilities, whoever writes (see above). */
static int drop_caps(struct mmfs_fs *fs, store_ref ref)
{
	int rc = store_removexattr(fs->store, ref, "security.capability");

	return rc == -ENODATA ? 0 : rc;
}

/* What a write(2) clears before it writes (see above). */
static int write_kills(fuse_req_t req, fuse_ino_t ino, store_ref ref)
{
	int rc = kill_asked(req) ? kill_setid(req, ino, ref) : 0;

	return rc ? rc : drop_caps(fs_of(req), ref);
}

/* Add to a setattr the set-ID bits it clears (see above): privileged
 * callers keep S_ISGID on a file that is not group-executable. */
static int setattr_kill(fuse_req_t req, store_ref ref, bool privileged,
			unsigned *mask, struct store_attr *in)
{
	struct store_attr a;
	uint32_t mode;
	int rc = store_getattr(fs_of(req)->store, ref, &a);

	if (rc)
		return rc;
	mode = *mask & STORE_SET_MODE ? (a.mode & S_IFMT) | (in->mode & 07777)
				      : a.mode;
	mode = setid_dropped(req, mode, a.gid, privileged);
	if (mode != a.mode || (*mask & STORE_SET_MODE)) {
		*mask |= STORE_SET_MODE;
		in->mode = mode;
	}
	return 0;
}

/* The set-ID bits a setattr clears: what the kernel asks for with
 * KILLPRIV_V2 (a chown asks whoever calls: uid 0 stands for
 * CAP_FSETID), else those a truncation by anyone but uid 0 clears. */
static int setattr_setid(fuse_req_t req, store_ref ref, int to_set,
			 unsigned *mask, struct store_attr *in)
{
	bool root = fuse_req_ctx(req)->uid == 0;

	if (to_set & FUSE_SET_ATTR_KILL_SUID)
		return setattr_kill(req, ref,
				    root && (*mask & (STORE_SET_UID |
						      STORE_SET_GID)),
				    mask, in);
	if (!killpriv_v2(fs_of(req)) && (*mask & STORE_SET_SIZE) && !root)
		return setattr_kill(req, ref, false, mask, in);
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
 * offset; a deferred O_TRUNC clears the ring first.  Page-cache
 * write-back (from a shared writable mapping: rings use direct I/O,
 * which the kernel maps with FUSE_DIRECT_IO_ALLOW_MMAP) carries pages,
 * not records: -EPERM, which msync(2) reports. */
static ssize_t ring_write(struct mmfs_fs *fs, store_ref ref,
			  struct mmfs_file *f, const struct fuse_file_info *fi,
			  const char *buf, size_t size)
{
	int rc;

	if (fi->writepage)
		return -EPERM;
	rc = f->trunc_pending ? ring_clear(fs->store, ref) : 0;
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
 * rules: user.* only on regular files and directories; of system.*, the
 * two ACL attributes on a mount with ACLs (acl.h), no other; unknown
 * namespaces are not supported. */
static int xattr_check(struct mmfs_fs *fs, store_ref ref, const char *name,
		       bool write)
{
	struct store_attr a;
	int rc;

	if (!strcmp(name, "user.") || !strcmp(name, "trusted.") ||
	    !strcmp(name, "security."))
		return -EINVAL;         /* a namespace without a name */
	if (has_prefix(name, "trusted.") || has_prefix(name, "security.") ||
	    (fs->acl && acl_name(name)))
		return 0;
	if (!has_prefix(name, "user."))
		return -EOPNOTSUPP;
	rc = store_getattr(fs->store, ref, &a);
	if (rc == 0 && !S_ISREG(a.mode) && !S_ISDIR(a.mode))
		rc = write ? -EPERM : -ENODATA;
	return rc;
}

/* The SELinux label, which `ls -l` asks of every file it lists
 * (libselinux's lgetfilecon).  A file without one answers EOPNOTSUPP,
 * not ENODATA: GNU ls stops asking a device that answered EOPNOTSUPP
 * (or ENOSYS, EINVAL) for it, whereas ENODATA, which the kernel does not
 * cache, cost a round trip per listed file.  The answer is per file, so
 * no state decides it and a label that was set is always returned; the
 * price is that ls does not show the labels of files it lists after an
 * unlabelled one (mmfs(7)).  With SELinux on, the kernel answers
 * getxattr of this name from its own labels.  No other name changes its
 * answer. */
#define SELINUX_XATTR "security.selinux"

static ssize_t absent_label(const char *name, ssize_t n)
{
	if (n == -ENODATA && strcmp(name, SELINUX_XATTR) == 0)
		return -EOPNOTSUPP;
	return n;
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

/* ---- access times --------------------------------------------------------
 *
 * A read of ref reached the daemon (a file's READ, a directory's READDIR
 * or READDIRPLUS): record it in atime as the mount options say (mmfs(7),
 * ACCESS TIMES).  A read through a descriptor opened with O_NOATIME (its
 * flags come with each READ; the kernel checked that the caller may) and
 * any read of a read-only mount, or one remounted read-only (asked of the
 * watch only when an update is due: it may read the mount table), leave
 * atime alone.  The kernel drops its cached atime after every read it
 * forwards, so the next stat asks.
 */
static void note_read(struct mmfs_fs *fs, store_ref ref, int flags, bool dir)
{
	enum store_atime how = fs->atime == MMFS_ATIME_STRICT ?
			       STORE_ATIME_STRICT : STORE_ATIME_RELATIVE;

	if (fs->atime == MMFS_ATIME_NEVER || (flags & O_NOATIME) ||
	    (dir && fs->nodiratime) || store_readonly(fs->store))
		return;
	if (store_atime_due(fs->store, ref, how) == 1 &&
	    !ro_watch_readonly(fs->ro))
		(void)store_touch_atime(fs->store, ref, how);
}

/* ---- directory listings ------------------------------------------------
 *
 * A reply to READDIR or READDIRPLUS is filled in a struct listing.
 * Offsets: "." is 1, ".." is 2, an entry's is 2 + its position (store.h,
 * "Directory cursors"), so a request resumes where it says with no walk
 * from the start.  The cursor moves only past entries that went into a
 * reply.
 *
 * READDIRPLUS hands the kernel each entry's node and attributes, as a
 * lookup would, and each entry but "." and ".." adds one to its node's
 * lookup count (fuse_lowlevel.h), which FORGET gives back.  So an entry is
 * counted (node_learn) before it is added, uncounted at once if it did not
 * fit, and recorded in counted[] so that a reply the kernel did not take
 * uncounts them all.  "." and ".." go out with node id 0, which the kernel
 * neither links nor counts, and so does an entry that cannot be counted
 * (no memory, attributes unreadable, counted[] full): the kernel looks it
 * up if it needs it.
 *
 * Every listing is a READDIRPLUS, not only those the kernel expects to
 * be followed by stats (FUSE_CAP_READDIRPLUS_AUTO): programs that read a
 * whole directory before they stat (du, find -ls: fts) got plus for the
 * first reply only, then a LOOKUP per entry (9,799 for 10,000 files).
 * What always costs: a listing that only wants names (find, ls without
 * -l) makes the kernel build an inode per entry (~0.9 KB, reclaimable),
 * and the replies carry ~160 bytes per entry instead of ~32.  See
 * docs/BENCHMARKS.md, "Directory listings".
 */
struct listing {
	struct mmfs_fs *fs;
	fuse_req_t req;
	bool plus;              /* READDIRPLUS */
	char *buf;              /* the reply (fs_buf) */
	size_t size;            /* bytes the kernel asked for */
	size_t len;             /* bytes filled */
	store_ref *counted;     /* plus: nodes this reply hands out */
	size_t ncounted;
	size_t maxcounted;      /* room in counted[]: more than fit in size */
};

/* A listing of up to size bytes.  0, or -ENOMEM. */
static int listing_init(struct listing *l, fuse_req_t req, bool plus,
			size_t size)
{
	struct fuse_entry_param e;
	size_t smallest;

	*l = (struct listing){ .fs = fs_of(req), .req = req, .plus = plus,
			       .size = size };
	l->buf = fs_buf(l->fs, size);
	if (!l->buf)
		return -ENOMEM;
	if (!plus)
		return 0;
	/* What the shortest name takes (nothing is written at size 0). */
	memset(&e, 0, sizeof(e));
	smallest = fuse_add_direntry_plus(req, NULL, 0, "x", &e, 0);
	l->maxcounted = size / smallest + 1;
	l->counted = calloc(l->maxcounted, sizeof(*l->counted));
	return l->counted ? 0 : -ENOMEM;
}

/* Add one entry whose next entry is at offset next.  False: it did not
 * fit, and nothing was added. */
static bool listing_put(struct listing *l, const char *name,
			const struct fuse_entry_param *e, off_t next)
{
	size_t room = l->size - l->len, n;

	if (l->plus)
		n = fuse_add_direntry_plus(l->req, l->buf + l->len, room, name,
					   e, next);
	else
		n = fuse_add_direntry(l->req, l->buf + l->len, room, name,
				      &e->attr, next);
	if (n > room)
		return false;
	l->len += n;
	return true;
}

/* Send the listing.  If the kernel did not take it, it learned nothing. */
static void listing_reply(struct listing *l)
{
	if (fuse_reply_buf(l->req, l->buf, l->len))
		for (size_t i = 0; i < l->ncounted; i++)
			node_unlearn(l->fs, l->counted[i]);
	free(l->counted);
}

/* Add "." (offset 1) and ".." (offset 2) as far as a listing resuming at
 * off still needs them.  False: they did not all fit, so nothing may
 * follow them in this reply. */
static bool add_dots(struct listing *l, store_ref dir, off_t off)
{
	struct fuse_entry_param e;
	struct store_attr a;
	bool root = dir == store_root(l->fs->store);

	memset(&e, 0, sizeof(e));       /* node id 0: not handed out */
	e.attr.st_mode = S_IFDIR;
	e.attr.st_ino = store_getattr(l->fs->store, dir, &a) ? UNKNOWN_INO
							      : a.ino;
	if (off < 1 && !listing_put(l, ".", &e, 1))
		return false;
	/* The root is its own parent; elsewhere the kernel does not need
	 * to know. */
	if (!root)
		e.attr.st_ino = UNKNOWN_INO;
	return listing_put(l, "..", &e, 2);
}

/* The entry to send for ent: its inode number and type, and in a plus
 * listing its node and attributes, counted (true) when that is possible. */
static bool entry_param(struct listing *l, const struct store_dirent *ent,
			struct fuse_entry_param *e)
{
	struct store_attr a;

	memset(e, 0, sizeof(*e));
	e->attr.st_ino = ent->ino;
	e->attr.st_mode = ent->mode & S_IFMT;
	if (!l->plus || l->ncounted == l->maxcounted ||
	    store_getattr(l->fs->store, ent->ref, &a) ||
	    node_learn(l->fs, ent->ref))
		return false;
	entry_of(l->fs, ent->ref, &a, e);
	return true;
}

/* Add store entries from the cursor on, as many as fit. */
static void add_entries(struct listing *l, struct store_dir *d)
{
	char name[STORE_NAME_MAX + 1];
	struct fuse_entry_param e;
	struct store_dirent ent;
	bool counted;
	off_t next;

	while (store_dir_peek(d, &ent) == 1) {
		memcpy(name, ent.name, ent.namelen);
		name[ent.namelen] = '\0';
		next = (off_t)(DOT_ENTRIES + ent.pos);
		counted = entry_param(l, &ent, &e);
		if (!listing_put(l, name, &e, next)) {
			if (counted)
				node_unlearn(l->fs, ent.ref);
			break;
		}
		if (counted)
			l->counted[l->ncounted++] = ent.ref;
		store_dir_advance(d);
	}
}

/* Put the cursor where a listing resumes at offset off: offset 0 starts a
 * new pass (opendir, rewinddir: store.h, "Directory cursors"); any other
 * continues after the entry whose offset it is (a seekdir, or a reply the
 * kernel took only part of).  A seek to where the cursor is costs
 * nothing. */
static void dir_cursor_at(struct store_dir *d, off_t off)
{
	if (off == 0)
		store_dir_rewind(d);
	else
		store_dir_seek(d, off > DOT_ENTRIES ? (uint64_t)off - DOT_ENTRIES
						    : 0);
}

/* READDIR and READDIRPLUS: the entries from offset off on. */
static void list_dir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		     struct fuse_file_info *fi, bool plus)
{
	struct store_dir *d = dir_of(fi);
	struct listing l;
	store_ref ref;
	int rc;

	rc = node_ref(fs_of(req), ino, &ref);
	if (rc == 0)
		rc = listing_init(&l, req, plus, size);
	if (rc) {
		reply_err(req, rc);
		return;
	}
	if (off >= DOT_ENTRIES || add_dots(&l, ref, off)) {
		dir_cursor_at(d, off);
		add_entries(&l, d);
	}
	note_read(l.fs, ref, 0, true);
	listing_reply(&l);
}

/* ---- poll (see the top of this file) ----------------------------------- */

/* ref changed: wake whoever polls it. */
static void wake_pollers(struct mmfs_fs *fs, store_ref ref)
{
	pthread_mutex_lock(&fs->lock);
	pollq_wake(&fs->polls, ref);
	pthread_mutex_unlock(&fs->lock);
}

/* How fs->polls wakes a handle's sleepers (pollq_init). */
static void notify_poll(struct fuse_pollhandle *ph)
{
	(void)fuse_lowlevel_notify_poll(ph);
	fuse_pollhandle_destroy(ph);
}

/* Handle f has just read ref's value from the start. */
static void file_saw(struct mmfs_fs *fs, store_ref ref, struct mmfs_file *f)
{
	struct store_attr a;

	if (!f->ring && store_getattr(fs->store, ref, &a) == 0) {
		pthread_mutex_lock(&f->lock);
		f->seen = a.mtime;
		pthread_mutex_unlock(&f->lock);
	}
}

static unsigned value_events(const struct mmfs_file *f,
			     const struct store_attr *a)
{
	unsigned events = POLLIN | POLLRDNORM | POLLOUT | POLLWRNORM;

	if (a->mtime.tv_sec != f->seen.tv_sec ||
	    a->mtime.tv_nsec != f->seen.tv_nsec)
		events |= POLLPRI | POLLERR;
	return events;
}

/* A ring reader's position is where its last read ended. */
static int ring_events(struct mmfs_fs *fs, store_ref ref,
		       const struct mmfs_file *f, unsigned *events)
{
	uint64_t pos = f->reader.next + f->reader.skew;
	struct ring_stat st;
	int rc = ring_stat(fs->store, ref, &st);

	*events = POLLOUT | POLLWRNORM;
	if (rc == 0 && (pos > st.head ? pos : st.head) < st.tail)
		*events |= POLLIN | POLLRDNORM;
	else if (rc == 0 && pos > st.tail)
		*events |= POLLPRI | POLLERR;
	return rc;
}

static int file_events(struct mmfs_fs *fs, store_ref ref,
		       const struct mmfs_file *f, unsigned *events)
{
	struct store_attr a;
	int rc = store_getattr(fs->store, ref, &a);

	if (rc == 0 && f->ring)
		rc = ring_events(fs, ref, f, events);
	else if (rc == 0)
		*events = value_events(f, &a);
	if (rc == 0 && a.nlink == 0)
		*events |= POLLHUP;
	return rc;
}

/* The file that name in dir names, if anybody polls anything: an unlink
 * or rename that takes its last link must wake its pollers.  0: none. */
static store_ref polled_entry(struct mmfs_fs *fs, store_ref dir,
			      const char *name)
{
	store_ref ref = 0;
	bool none;

	pthread_mutex_lock(&fs->lock);
	none = pollq_empty(&fs->polls);
	pthread_mutex_unlock(&fs->lock);
	if (none || store_lookup(fs->store, dir, name, &ref, NULL))
		return 0;
	return ref;
}

/* ---- operations -------------------------------------------------------- */

/* POSIX ACLs (acl.h), when the mount options ask for them: the kernel
 * checks and caches them, and leaves the umask to the daemon (DONT_MASK),
 * which applies it only where no default ACL is inherited.  A kernel that
 * cannot have both gets neither, and the mount has no ACLs. */
static void want_acl(struct mmfs_fs *fs, struct fuse_conn_info *conn)
{
	const unsigned both = FUSE_CAP_POSIX_ACL | FUSE_CAP_DONT_MASK;

	if (!fs->acl)
		return;
	if ((conn->capable & both) == both) {
		conn->want |= both;
		return;
	}
	fs->acl = false;
	fprintf(stderr, "mount.mmfs: the kernel has no POSIX ACLs for FUSE: "
		"acl ignored\n");
}

static void mmfs_init(void *userdata, struct fuse_conn_info *conn)
{
	if (conn->capable & FUSE_CAP_ATOMIC_O_TRUNC)
		conn->want |= FUSE_CAP_ATOMIC_O_TRUNC;
	/* File handles that outlive the kernel's inodes (see "File
	 * handles"). */
	if (conn->capable & FUSE_CAP_EXPORT_SUPPORT)
		conn->want |= FUSE_CAP_EXPORT_SUPPORT;
	/* No ASYNC_DIO: the kernel then sends the requests of one large
	 * direct-I/O read one after the other, so the serving threads see
	 * them in order and a pass starts at offset 0 (one version per
	 * open); with it, they may run out of order on several threads.
	 * HANDLE_KILLPRIV (v1) would leave truncate and chown to us without
	 * saying who asks; v2 (initflags.h) says it.  See setid_dropped. */
	conn->want &= ~(FUSE_CAP_WRITEBACK_CACHE | FUSE_CAP_READDIRPLUS_AUTO |
			FUSE_CAP_AUTO_INVAL_DATA | FUSE_CAP_ASYNC_DIO |
			FUSE_CAP_HANDLE_KILLPRIV);
	/* Every listing is a READDIRPLUS (see the listings section). */
	if (conn->capable & FUSE_CAP_READDIRPLUS)
		conn->want |= FUSE_CAP_READDIRPLUS;
	want_acl(userdata, conn);
	/* chattr and lsattr of directories come as ioctls too. */
	if (conn->capable & FUSE_CAP_IOCTL_DIR)
		conn->want |= FUSE_CAP_IOCTL_DIR;
	if (conn->max_write > MAX_WRITE)
		conn->max_write = MAX_WRITE;
}

static void mmfs_destroy(void *userdata)
{
	mmfs_fs_finish(userdata);
}

void mmfs_changed_elsewhere(struct mmfs_fs *fs, store_ref ref)
{
	if (fs->se)
		(void)fuse_lowlevel_notify_inval_inode(fs->se,
						       ref_node(fs, ref), 0, 0);
	wake_pollers(fs, ref);
}

void mmfs_changed_all(struct mmfs_fs *fs)
{
	store_ref *refs;
	size_t n = 0;

	pthread_mutex_lock(&fs->lock);
	refs = calloc(fs->nodes.used + 1, sizeof(*refs));
	for (size_t i = 0; refs && i < fs->nodes.cap; i++)
		if (fs->nodes.slots[i].ref)
			refs[n++] = fs->nodes.slots[i].ref;
	pthread_mutex_unlock(&fs->lock);
	if (!refs)
		return;
	mmfs_changed_elsewhere(fs, store_root(fs->store));
	for (size_t i = 0; i < n; i++)
		mmfs_changed_elsewhere(fs, refs[i]);
	free(refs);
}

/* ---- replaces that end without a write ---------------------------------- */

/* A replace handle that has written nothing, and that will empty the
 * file when it ends (see "Deferred O_TRUNC"). */
static bool replace_is_empty(const struct mmfs_file *f)
{
	return f->trunc_pending && !f->write_failed && !f->created;
}

/* Keep fs->empty_replaces in step with f, under f->lock after any change
 * of trunc_pending or write_failed.  While it is 0 no request looks for
 * replaces to settle. */
static void replace_note(struct mmfs_fs *fs, struct mmfs_file *f)
{
	bool empty = replace_is_empty(f);

	if (empty && !atomic_load(&f->counted))
		atomic_fetch_add(&fs->empty_replaces, 1);
	else if (!empty && atomic_load(&f->counted))
		atomic_fetch_sub(&fs->empty_replaces, 1);
	atomic_store(&f->counted, empty);
}

/* End a replace that wrote nothing: empty the file now.  Under f->lock. */
static int end_empty_replace(struct mmfs_fs *fs, store_ref ref,
			     struct mmfs_file *f)
{
	int rc;

	if (!replace_is_empty(f))
		return 0;
	rc = finish_trunc(fs, ref, f);
	replace_note(fs, f);
	if (rc)
		return rc;
	/* The kernel may have cached the untruncated size since the open. */
	drop_cached_attrs(fs, ref_node(fs, ref));
	wake_pollers(fs, ref);
	return 0;
}

#define SETTLE_BATCH 8

/* A request other than through handle self (NULL: none) reads or changes
 * ref: end the empty replaces of ref whose opener holds no descriptor on
 * the file any more, so the request sees the truncation that close(2)
 * completed (see "Deferred O_TRUNC").  The opener is asked first whether
 * it may still be inside the open (fdscan_opening: the descriptor is
 * installed only after the reply), then whether it holds a descriptor;
 * in that order, an open that had returned before the first question is
 * seen by the second.  A thread that asks something itself is in no
 * open: the first question is for the others.  The handles are pinned
 * under fs->lock, then locked one by one (waiting for a write or a
 * release in progress, which may be ending the replace itself), in the
 * order kept everywhere (f->lock, then fs->lock).  Returns whether a
 * replace ended. */
static bool settle_replaces(fuse_req_t req, store_ref ref,
			    const struct mmfs_file *self)
{
	struct mmfs_fs *fs = fs_of(req);
	pid_t asker = fuse_req_ctx(req)->pid;
	struct mmfs_file *found[SETTLE_BATCH];
	bool ended = false;
	int n = 0;

	if (atomic_load(&fs->empty_replaces) == 0)
		return false;
	pthread_mutex_lock(&fs->lock);
	for (struct mmfs_file *f = fs->files; f && n < SETTLE_BATCH;
	     f = f->next)
		if (f != self && atomic_load(&f->counted) && f->ref == ref) {
			f->pins++;
			found[n++] = f;
		}
	pthread_mutex_unlock(&fs->lock);
	for (int i = 0; i < n; i++) {
		struct mmfs_file *f = found[i];

		pthread_mutex_lock(&f->lock);
		if (replace_is_empty(f) &&
		    (f->opener == asker || !fdscan_opening(f->opener)) &&
		    !fdscan_holds(f->opener, f->ino, f->accmode) &&
		    end_empty_replace(fs, ref, f) == 0)
			ended = true;
		pthread_mutex_unlock(&f->lock);
		file_unpin(fs, f);
	}
	return ended;
}

/* LOOKUP of "." names the node itself, by an id that came from a file
 * handle, maybe after a remount, maybe forged: the store checks it harder
 * than the ids the kernel got from us (store_lookup_ref).  The root is
 * node 1, never its ref.  The kernel then compares the generation. */
static int lookup_self(struct mmfs_fs *fs, fuse_ino_t ino, store_ref *ref,
		       struct store_attr *a)
{
	int rc = node_ref(fs, ino, ref);

	if (rc == 0 && ino != FUSE_ROOT_ID && *ref == store_root(fs->store))
		rc = -ESTALE;
	if (rc == 0)
		rc = store_lookup_ref(fs->store, *ref, a);
	return rc;
}

/* Only NFS and open_by_handle_at look up "." and ".." (FUSE_CAP_EXPORT_
 * SUPPORT: see "File handles"); the kernel walks paths without. */
static void mmfs_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct mmfs_fs *fs = fs_of(req);
	struct store_attr a;
	store_ref dir, ref = 0;
	int rc;

	if (strcmp(name, ".") == 0) {
		rc = lookup_self(fs, parent, &ref, &a);
		reply_entry(req, rc, ref, &a);
		return;
	}
	rc = node_ref(fs, parent, &dir);
	if (rc == 0 && strcmp(name, "..") == 0)
		rc = store_parent(fs->store, dir, &ref, &a);
	else if (rc == 0)
		rc = store_lookup(fs->store, dir, name, &ref, &a);
	if (rc == 0 && settle_replaces(req, ref, NULL))
		rc = store_getattr(fs->store, ref, &a);
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
	if (rc == 0) {
		settle_replaces(req, ref, fi ? file_of(fi) : NULL);
		rc = store_getattr(fs->store, ref, &a);
	}
	reply_attr(req, rc, ref, &a);
}

/* Does a setattr set a time to a given value?  The kernel sends a time
 * set to now (utimes(NULL)) with both the time's bit and its _NOW bit. */
static bool time_given(int to_set, int time, int now)
{
	return (to_set & time) && !(to_set & now);
}

/* What an append-only file refuses of a setattr (fileattr.h): a mode,
 * owner or group, or times given (not "now"). */
static int setattr_flags_deny(struct mmfs_fs *fs, store_ref ref, int to_set)
{
	bool owner_mode = to_set & (FUSE_SET_ATTR_MODE | FUSE_SET_ATTR_UID |
				    FUSE_SET_ATTR_GID);
	struct store_attr a;
	int rc = store_getattr(fs->store, ref, &a);

	if (rc)
		return rc;
	return fileattr_setattr_denied(a.iflags, owner_mode,
			time_given(to_set, FUSE_SET_ATTR_ATIME,
				   FUSE_SET_ATTR_ATIME_NOW) ||
			time_given(to_set, FUSE_SET_ATTR_MTIME,
				   FUSE_SET_ATTR_MTIME_NOW));
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
	if (rc == 0)
		rc = setattr_flags_deny(fs, ref, to_set);
	if (rc == 0)
		settle_replaces(req, ref, fi ? file_of(fi) : NULL);
	/* ftruncate on a handle with a deferred O_TRUNC: empty it first. */
	if (rc == 0 && fi && (mask & STORE_SET_SIZE)) {
		pthread_mutex_lock(&file_of(fi)->lock);
		rc = finish_trunc(fs, ref, file_of(fi));
		replace_note(fs, file_of(fi));
		pthread_mutex_unlock(&file_of(fi)->lock);
	}
	if (rc == 0)
		rc = setattr_setid(req, ref, to_set, &mask, &in);
	/* chmod rewrites an access ACL first (acl.h): if that fails, the
	 * mode has not changed either. */
	if (rc == 0 && fs->acl && (to_set & FUSE_SET_ATTR_MODE))
		rc = acl_store_chmod(fs->store, ref, in.mode);
	if (rc == 0)
		rc = store_setattr(fs->store, ref, mask, &in, &out);
	reply_attr(req, rc, ref, &out);
	if (rc == 0 && (mask & (STORE_SET_SIZE | STORE_SET_MTIME)))
		wake_pollers(fs, ref);
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
	store_ref dir, gone = 0;
	int rc;

	rc = node_ref(fs, parent, &dir);
	if (rc == 0)
		gone = polled_entry(fs, dir, name);
	if (rc == 0)
		rc = store_unlink(fs->store, dir, name);
	reply_err(req, rc);
	if (rc == 0)
		wake_pollers(fs, gone);
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

/* The store call for a rename with the kernel's flags: RENAME_WHITEOUT
 * (which Linux 5.8 and later let any caller ask, never with
 * RENAME_EXCHANGE) leaves a whiteout owned as a new node of dir would be,
 * as tmpfs does; it inherits no ACL (mmfs(7)). */
static int rename_as(fuse_req_t req, store_ref dir, const char *name,
		     store_ref newdir, const char *newname, unsigned flags)
{
	struct mmfs_fs *fs = fs_of(req);
	uint32_t mode = S_IFCHR, uid, gid;
	unsigned sflags = 0;
	int rc;

	if (flags & ~(unsigned)(RENAME_NOREPLACE | RENAME_EXCHANGE |
				RENAME_WHITEOUT))
		return -EINVAL;
	if (flags & RENAME_NOREPLACE)
		sflags |= STORE_RENAME_NOREPLACE;
	if (flags & RENAME_EXCHANGE)
		sflags |= STORE_RENAME_EXCHANGE;
	if (!(flags & RENAME_WHITEOUT))
		return store_rename(fs->store, dir, name, newdir, newname,
				    sflags);
	rc = new_owner(req, dir, &mode, &uid, &gid);
	if (rc == 0)
		rc = store_rename_whiteout(fs->store, dir, name, newdir,
					   newname, sflags, uid, gid);
	return rc;
}

static void mmfs_rename(fuse_req_t req, fuse_ino_t parent, const char *name,
			fuse_ino_t newparent, const char *newname,
			unsigned int flags)
{
	struct mmfs_fs *fs = fs_of(req);
	store_ref dir, newdir, gone = 0;
	int rc;

	rc = node_ref(fs, parent, &dir);
	if (rc == 0)
		rc = node_ref(fs, newparent, &newdir);
	if (rc == 0 && !(flags & RENAME_EXCHANGE))
		gone = polled_entry(fs, newdir, newname);
	if (rc == 0)
		rc = rename_as(req, dir, name, newdir, newname, flags);
	reply_err(req, rc);
	if (rc == 0)
		wake_pollers(fs, gone);
}

/* A new name for ref: its first, if it is a tmpfile the kernel may link
 * (see "O_TMPFILE"); the kernel serialises links of one inode, so the
 * flag cannot change between the question and the answer. */
static int link_node(struct mmfs_fs *fs, store_ref ref, store_ref newdir,
		     const char *newname, struct store_attr *a)
{
	bool orphan;
	int rc;

	pthread_mutex_lock(&fs->lock);
	orphan = nodes_linkable(&fs->nodes, ref);
	pthread_mutex_unlock(&fs->lock);
	if (!orphan)
		return store_link(fs->store, ref, newdir, newname, a);
	rc = store_link_orphan(fs->store, ref, newdir, newname, a);
	if (rc == 0) {
		pthread_mutex_lock(&fs->lock);
		nodes_set_linkable(&fs->nodes, ref, false);
		pthread_mutex_unlock(&fs->lock);
	}
	return rc;
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
		rc = link_node(fs, ref, newdir, newname, &a);
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
	if (rc == 0) {
		settle_replaces(req, ref, NULL);
		rc = store_getattr(fs->store, ref, &a);
	}
	if (rc == 0)
		rc = fileattr_open_denied(a.iflags, fi->flags);
	if (rc == 0 && (fi->flags & O_TRUNC) && (fi->flags & O_ACCMODE) &&
	    kill_asked(req))
		rc = kill_setid(req, ino, ref);
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
	f->seen = a.mtime;
	pthread_mutex_lock(&f->lock);
	f->opener = fuse_req_ctx(req)->pid;
	f->ino = a.ino;
	replace_note(fs, f);
	pthread_mutex_unlock(&f->lock);
	if (fuse_reply_open(req, fi))
		file_free(fs, f);
	else if (replacing)
		drop_cached_attrs(fs, ino);
}

/* A read of an O_RDONLY handle: from the version of its pass (see the
 * top of this file). */
static ssize_t read_version(struct mmfs_fs *fs, store_ref ref,
			    struct mmfs_file *f, uint64_t off, char *buf,
			    size_t size)
{
	ssize_t n;

	if (!f->snap.taken || off != f->pass_next) {
		store_snap_drop(fs->store, &f->snap);
		n = store_snap_take(fs->store, ref, &f->snap);
		if (n)
			return n;
	}
	n = store_snap_read(fs->store, &f->snap, off, buf, size);
	if (n == 0)
		store_snap_drop(fs->store, &f->snap);   /* the pass ends */
	f->pass_next = off + (uint64_t)(n > 0 ? n : 0);
	return n;
}

/* Is this read the kernel filling its page cache (a fault of a mapping,
 * readahead) rather than a read(2)?  Those carry no lock owner: the
 * kernel sets one (FUSE_READ_LOCKOWNER) only for reads made by a
 * process.  They must see the newest version: a page filled from an old
 * one would stay in the mapping after the write that replaced it (the
 * write dropped the cached pages before it was committed). */
static bool page_cache_fill(const struct fuse_file_info *fi)
{
	return fi->lock_owner == 0;
}

/* A read through handle f, under its lock: a pending truncation reads as
 * empty, a ring from the handle's position, an O_RDONLY handle from its
 * pass's version, anything else from the file as it is. */
static ssize_t read_handle(struct mmfs_fs *fs, store_ref ref,
			   struct mmfs_file *f, const struct fuse_file_info *fi,
			   uint64_t off, char *buf, size_t size)
{
	ssize_t n;

	pthread_mutex_lock(&f->lock);
	if (f->trunc_pending)
		n = 0;
	else if (f->ring)
		n = ring_read(fs->store, ref, &f->reader, off, buf, size);
	else if (f->versioned && !page_cache_fill(fi))
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
	if (n == 0) {
		settle_replaces(req, ref, file_of(fi));
		n = read_handle(fs, ref, file_of(fi), fi, (uint64_t)off, buf,
				 size);
	}
	if (n >= 0 && off == 0)
		file_saw(fs, ref, file_of(fi));
	if (n >= 0)
		note_read(fs, ref, fi->flags, false);
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
		n = write_kills(req, ino, ref);
	if (n == 0)
		settle_replaces(req, ref, f);
	pthread_mutex_lock(&f->lock);
	if (n == 0)
		n = write_pos(fs, ref, fi, off, &pos);
	if (n == 0 && f->ring)
		n = ring_write(fs, ref, f, fi, buf, size);
	else if (n == 0)
		n = store_write(fs->store, ref, pos, buf, size,
				f->trunc_pending);
	if (n < 0) {
		f->write_failed = f->trunc_pending;
	} else {
		f->trunc_pending = false;
		f->write_failed = false;
	}
	replace_note(fs, f);
	pthread_mutex_unlock(&f->lock);
	if (n < 0)
		reply_err(req, n);
	else
	{
		fuse_reply_write(req, (size_t)n);
		wake_pollers(fs, ref);
	}
}

static void mmfs_release(fuse_req_t req, fuse_ino_t ino,
			 struct fuse_file_info *fi)
{
	struct mmfs_fs *fs = fs_of(req);
	struct mmfs_file *f = file_of(fi);
	store_ref ref;
	int rc;

	rc = node_ref(fs, ino, &ref);
	pthread_mutex_lock(&f->lock);   /* settle_replaces may hold it */
	if (rc == 0)
		rc = end_empty_replace(fs, ref, f);
	pthread_mutex_unlock(&f->lock);
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
	list_dir(req, ino, size, off, fi, false);
}

static void mmfs_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size,
			     off_t off, struct fuse_file_info *fi)
{
	list_dir(req, ino, size, off, fi, true);
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
	/* What files can still hold, which df shows: a large file pays a
	 * little for each 64 KiB it holds, so not all of the free space. */
	sv.f_bavail = st.avail / BLOCK_SIZE;
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
	else if (rc == 0 && acl_name(name))
		rc = acl_store_set(fs->store, ref, name, value, size,
				   keeps_sgid(req, ref));
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
		n = absent_label(name, store_getxattr(fs->store, ref, name,
						      buf, size));
	reply_xattr(req, n, buf, size);
}

/* The xattr names of ref a caller may see: all but trusted.* to an
 * unprivileged one, as local file systems list them (the kernel hides
 * the values of trusted.* but leaves listing to us; its test is
 * CAP_SYS_ADMIN: uid 0 stands for it), and the ACL attributes only on a
 * mount with ACLs (an arena served with acl before keeps them, unused:
 * mmfs(7)).  The list is in *buf (at least size bytes). */
static ssize_t list_visible(struct mmfs_fs *fs, store_ref ref, size_t size,
			    bool trusted, char **buf)
{
	ssize_t n = store_listxattr(fs->store, ref, NULL, 0), in, out = 0;
	size_t len;

	if (n < 0)
		return n;
	if (n == 0 && size == 0)
		return 0;               /* no buffer needed (nor made) */
	*buf = fs_buf(fs, (size_t)n > size ? (size_t)n : size);
	if (!*buf)
		return -ENOMEM;
	n = n ? store_listxattr(fs->store, ref, *buf, (size_t)n) : 0;
	for (in = 0; n > 0 && in < n; in += (ssize_t)len) {
		len = strnlen(*buf + in, (size_t)(n - in)) + 1;
		if ((!trusted && has_prefix(*buf + in, "trusted.")) ||
		    (!fs->acl && acl_name(*buf + in)))
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
	if (n == 0)
		n = list_visible(fs, ref, size, fuse_req_ctx(req)->uid == 0,
				 &buf);
	n = list_capacity(fs, ref, buf, size, n);
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
	else if (rc == 0 && acl_name(name))
		rc = acl_store_remove(fs->store, ref, name,
				      keeps_sgid(req, ref));
	else if (rc == 0)
		rc = store_removexattr(fs->store, ref, name);
	reply_err(req, rc);
}

/* Is a CREATE's name that of a tmpfile?  Only TMPFILE requests, which
 * serve.c turns into CREATE, carry "/", which no real name can hold. */
static bool is_tmpfile(const char *name)
{
	return strcmp(name, "/") == 0;
}

/* A tmpfile for fi (see "O_TMPFILE"): the store makes it held, and that
 * hold goes over to the node table, the one that keeps it from now on
 * (until the kernel forgets it, the file freed with it unless linked). */
static int create_tmpfile(struct mmfs_fs *fs, store_ref dir, uint32_t mode,
			  uint32_t uid, uint32_t gid, const struct acl_new *acl,
			  int flags, store_ref *ref, struct store_attr *a)
{
	int rc = store_tmpfile_with(fs->store, dir, mode, uid, gid, acl->x,
				    acl->n, ref, a);

	if (rc)
		return rc;
	rc = node_learn(fs, *ref);
	store_release(fs->store, *ref);         /* freed if not learned */
	if (rc == 0 && !(flags & O_EXCL)) {
		pthread_mutex_lock(&fs->lock);
		nodes_set_linkable(&fs->nodes, *ref, true);
		pthread_mutex_unlock(&fs->lock);
	}
	return rc;
}

/* The file a CREATE makes, counted in the node table as the reply will
 * hand it to the kernel. */
static int create_learned(fuse_req_t req, store_ref dir, const char *name,
			  uint32_t mode, int flags, store_ref *ref,
			  struct store_attr *a)
{
	struct mmfs_fs *fs = fs_of(req);
	struct acl_new acl = { 0 };
	uint32_t uid, gid;
	int rc;

	rc = new_owner(req, dir, &mode, &uid, &gid);
	if (rc == 0)
		rc = new_acl(req, dir, &mode, &acl);
	if (rc)
		goto out;
	if (is_tmpfile(name)) {
		rc = create_tmpfile(fs, dir, mode, uid, gid, &acl, flags, ref,
				    a);
		goto out;
	}
	rc = create_file(fs, dir, name, mode, uid, gid, 0, &acl, ref, a);
	if (rc == 0)
		rc = node_learn(fs, *ref);
out:
	acl_new_free(&acl);
	return rc;
}

static void mmfs_create(fuse_req_t req, fuse_ino_t parent, const char *name,
			mode_t mode, struct fuse_file_info *fi)
{
	struct mmfs_fs *fs = fs_of(req);
	uint32_t smode = (mode & 07777) | S_IFREG;
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
		rc = create_learned(req, dir, name, smode, fi->flags, &ref, &a);
	if (rc) {
		file_free(fs, f);
		reply_err(req, rc);
		return;
	}
	f->ref = ref;
	f->seen = a.mtime;
	file_policy(f, fi, a.kind == RING_KIND);
	entry_of(fs, ref, &a, &e);
	if (fuse_reply_create(req, &e, fi)) {
		node_unlearn(fs, ref);
		file_free(fs, f);
	}
}

/* The wait is registered before the answer is computed: a change that
 * comes in between (another thread's write) wakes it, at worst once too
 * often, and none slips between them. */
static void mmfs_poll(fuse_req_t req, fuse_ino_t ino,
		      struct fuse_file_info *fi, struct fuse_pollhandle *ph)
{
	struct mmfs_fs *fs = fs_of(req);
	struct mmfs_file *f = file_of(fi);
	unsigned events = 0;
	store_ref ref;
	int rc;

	rc = node_ref(fs, ino, &ref);
	settle_replaces(req, ref, f);
	if (ph) {
		pthread_mutex_lock(&fs->lock);
		rc = pollq_add(&fs->polls, ref, f, ph);
		pthread_mutex_unlock(&fs->lock);
	}
	if (rc == 0) {
		pthread_mutex_lock(&f->lock);
		rc = file_events(fs, ref, f, &events);
		pthread_mutex_unlock(&f->lock);
	}
	if (rc)
		reply_err(req, rc);
	else
		fuse_reply_poll(req, events);
}

/* fallocate(2): tmpfs's modes (store_fallocate); ZERO_RANGE and the rest
 * are refused with EOPNOTSUPP, as tmpfs refuses them.  The call changes
 * the file as a write does: a deferred O_TRUNC of the handle applies
 * first, set-ID bits go (kill_setid), and pollers are woken (its mtime
 * changes).  The kernel then drops its cached pages of a punched range
 * and its attributes. */
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
	if (rc == 0)
		settle_replaces(req, ref, fi ? file_of(fi) : NULL);
	if (rc == 0 && fi) {
		pthread_mutex_lock(&file_of(fi)->lock);
		rc = finish_trunc(fs, ref, file_of(fi));
		replace_note(fs, file_of(fi));
		pthread_mutex_unlock(&file_of(fi)->lock);
	}
	/* The request carries no kill flag (initflags.h): as a write by
	 * anyone but root, it clears set-ID bits; and file capabilities. */
	if (rc == 0 && fuse_req_ctx(req)->uid != 0)
		rc = kill_setid(req, ino, ref);
	if (rc == 0)
		rc = drop_caps(fs, ref);
	if (rc == 0)
		rc = store_fallocate(fs->store, ref, smode, (uint64_t)off,
				     (uint64_t)len);
	reply_err(req, rc);
	if (rc == 0)
		wake_pollers(fs, ref);
}

/* chattr and lsattr (fileattr.h): the four attribute-flag ioctls, on
 * regular files and directories alike (fi is either kind of handle, and
 * unused).  A change sets ctime: the kernel's cached attributes go
 * before the reply, so the caller's next stat cannot see the old ones. */
static void mmfs_ioctl(fuse_req_t req, fuse_ino_t ino, int cmd, void *arg,
		       struct fuse_file_info *fi, unsigned flags,
		       const void *in_buf, size_t in_bufsz, size_t out_bufsz)
{
	struct mmfs_fs *fs = fs_of(req);
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	struct fileattr_caller who = { .uid = ctx->uid, .pid = ctx->pid };
	char out[64];
	size_t out_len = 0;
	bool changed = false;
	store_ref ref;
	int rc;

	(void)arg;
	(void)fi;
	(void)flags;
	rc = node_ref(fs, ino, &ref);
	if (rc == 0)
		rc = fileattr_ioctl(fs->store, ref, &who, (unsigned)cmd,
				    in_buf, in_bufsz, out,
				    out_bufsz < sizeof(out) ? out_bufsz
							    : sizeof(out),
				    &out_len, &changed);
	if (changed)
		drop_cached_attrs(fs, ino);
	if (rc)
		reply_err(req, rc);
	else
		fuse_reply_ioctl(req, 0, out_len ? out : NULL, out_len);
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
	.readdirplus = mmfs_readdirplus,
	.releasedir = mmfs_releasedir,
	.fsyncdir = mmfs_fsyncdir,
	.statfs = mmfs_statfs,
	.setxattr = mmfs_setxattr,
	.getxattr = mmfs_getxattr,
	.listxattr = mmfs_listxattr,
	.removexattr = mmfs_removexattr,
	.create = mmfs_create,
	.poll = mmfs_poll,
	.fallocate = mmfs_fallocate,
	.ioctl = mmfs_ioctl,
	/* No getlk/setlk/flock: the kernel then does fcntl and flock locking
	 * locally, which is right because every process goes through this
	 * one mount.  No access: default_permissions or root only. */
};

void mmfs_fs_init(struct mmfs_fs *fs, struct store *s)
{
	*fs = (struct mmfs_fs){ .store = s };
	pthread_mutex_init(&fs->lock, NULL);
	nodes_init(&fs->nodes, s);
	pollq_init(&fs->polls, notify_poll, fuse_pollhandle_destroy);
}

void mmfs_fs_finish(struct mmfs_fs *fs)
{
	/* Handles whose release the unmount dropped: do what it would. */
	while (fs->files) {
		if (fs->files->trunc_pending && fs->files->ref)
			(void)release_trunc(fs, fs->files->ref, fs->files);
		file_free(fs, fs->files);
	}
	pollq_finish(&fs->polls);
	/* The kernel has forgotten everything: unlinked files go now. */
	pthread_mutex_lock(&fs->lock);
	nodes_finish(&fs->nodes);
	pthread_mutex_unlock(&fs->lock);
	mmfs_thread_done();
}

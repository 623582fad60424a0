/* store.c -- inodes: creation, attributes, lifetime (links and holds).
 *
 * An inode lives while it has a link (a live dentry) or a hold (this
 * process still uses it: store_hold).  Links are counted in the arena
 * (inode->nlink, recounted by recovery); holds in process memory, in an
 * open-addressing table keyed by the inode's offset.  The last of the two to
 * go frees the inode and everything it owns.
 */
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "kind.h"
#include "store_int.h"

static uint32_t type_of(const struct mm_inode *ino)
{
	return mm_type(ino);
}

static void count_type(struct store *s, uint32_t type, int delta)
{
	struct mm_header *h = s->hdr;

	h->ninodes += (uint64_t)(int64_t)delta;
	if (type == MM_IFDIR)
		h->ndirs += (uint64_t)(int64_t)delta;
	else if (type == MM_IFLNK)
		h->nsymlinks += (uint64_t)(int64_t)delta;
}

int inode_new(struct store *s, uint32_t mode, uint32_t uid, uint32_t gid,
	      uint64_t *out)
{
	struct mm_inode *ino;
	uint64_t off, dir = 0;
	int64_t now = mm_now();
	int rc;

	if ((mode & MM_IFMT) == MM_IFDIR) {
		rc = mm_zalloc(s, MM_DIR, sizeof(struct mm_dir), &dir);
		if (rc)
			return rc;
	}
	rc = mm_zalloc(s, MM_INODE, sizeof(*ino), &off);
	if (rc) {
		if (dir)
			mm_free(s, dir);
		return rc;
	}
	ino = mm_inode(s, off);
	ino->ino = s->hdr->next_ino++;
	ino->mode = mode;
	ino->uid = uid;
	ino->gid = gid;
	ino->atime = ino->mtime = ino->ctime = now;
	ino->data = dir;
	count_type(s, mode & MM_IFMT, 1);
	handle_note(s, off, true);
	*out = off;
	return 0;
}

void inode_free(struct store *s, uint64_t off)
{
	struct mm_inode *ino = mm_inode(s, off);

	inode_changed(s, off);  /* before its blocks are touched */
	file_free_data(s, ino);
	if (ino->xattr)
		mm_free(s, ino->xattr);
	count_type(s, type_of(ino), -1);
	if (ino->flags & MM_INODE_RING)
		s->hdr->nrings--;
	handle_note(s, off, false);
	mm_free(s, off);
}

void inode_changed(struct store *s, uint64_t off)
{
	uint32_t *word = &mm_inode(s, off)->version;
	uint32_t old = __atomic_load_n(word, __ATOMIC_RELAXED), next;

	do
		next = (old + MM_VERSION_STEP) & ~MM_VERSION_WAITERS;
	while (!__atomic_compare_exchange_n(word, &old, next, false,
					    __ATOMIC_RELEASE,
					    __ATOMIC_RELAXED));
	if (old & MM_VERSION_WAITERS)
		mm_wake_later(s, word);
	if (s->library && (mm_inode(s, off)->flags & MM_INODE_WATCHED))
		feed_push(s, off);
}

void inode_touch(struct store *s, uint64_t off, bool mtime, bool ctime)
{
	struct mm_inode *ino = mm_inode(s, off);
	int64_t now = mm_now();

	if (mtime) {
		ino->mtime = now;
		inode_changed(s, off);
	}
	if (ctime)
		ino->ctime = now;
}

bool inode_held(const struct store *s, uint64_t ref)
{
	return refmap_count(&s->holds, ref) != 0;
}

int inode_hold(struct store *s, uint64_t off)
{
	int rc = refmap_add(&s->holds, off);

	if (rc == 0 && s->serving)      /* its kernel caches it (feed.c) */
		mm_inode(s, off)->flags |= MM_INODE_WATCHED;
	return rc;
}

int store_hold(struct store *s, store_ref ref)
{
	int rc = store_enter(s, ref);

	if (rc)
		return rc;
	rc = inode_hold(s, ref);
	arena_unlock(s);
	return rc;
}

void store_release(struct store *s, store_ref ref)
{
	arena_lock(s);
	/* the last hold of an inode without links frees it */
	if (refmap_drop(&s->holds, ref) == 0 && !store_readonly(s) &&
	    store_valid_ref(s, ref)) {
		if (s->serving)
			mm_inode(s, ref)->flags &= ~MM_INODE_WATCHED;
		if (mm_inode(s, ref)->nlink == 0)
			inode_free(s, ref);
	}
	arena_unlock(s);
}

void inode_drop_link(struct store *s, uint64_t off)
{
	struct mm_inode *ino = mm_inode(s, off);

	if (ino->nlink)
		ino->nlink--;
	ino->ctime = mm_now();
	inode_changed(s, off);  /* a name no longer leads to it */
	if (ino->nlink == 0 && !inode_held(s, off))
		inode_free(s, off);
}

int store_enter(struct store *s, store_ref ref)
{
	arena_lock(s);
	if (store_valid_ref(s, ref))
		return 0;
	arena_unlock(s);
	return -ESTALE;
}

bool store_valid_ref(const struct store *s, store_ref ref)
{
	return mm_header_ok(s, ref) && mm_block(s, ref)->kind == MM_INODE &&
	       mm_block(s, ref)->size >=
	       mm_block_size_for(sizeof(struct mm_inode));
}

static struct timespec ts_of(int64_t ns)
{
	struct timespec ts = { (time_t)(ns / 1000000000),
			       (long)(ns % 1000000000) };

	if (ts.tv_nsec < 0) {
		ts.tv_nsec += 1000000000;
		ts.tv_sec--;
	}
	return ts;
}

/* Nanoseconds since the epoch, clamped to what the arena holds (years
 * 1677 to 2262), as the kernel clamps times to a file system's range: a
 * client may ask for any time (utimensat), and the product must not
 * overflow. */
static int64_t ns_of(struct timespec ts)
{
	int64_t ns;

	if (__builtin_mul_overflow((int64_t)ts.tv_sec, (int64_t)1000000000,
				   &ns) ||
	    __builtin_add_overflow(ns, (int64_t)ts.tv_nsec, &ns))
		return ts.tv_sec < 0 ? INT64_MIN : INT64_MAX;
	return ns;
}

void inode_fill_attr(struct store *s, uint64_t off, struct store_attr *a)
{
	struct mm_inode *ino = mm_inode(s, off);
	uint32_t type = type_of(ino);

	memset(a, 0, sizeof(*a));
	a->ino = ino->ino;
	a->mode = ino->mode;
	a->nlink = ino->nlink;
	a->uid = ino->uid;
	a->gid = ino->gid;
	a->version = __atomic_load_n(&ino->version, __ATOMIC_ACQUIRE) >> 1;
	a->iflags = iflags_of(ino);
	if ((ino->flags & MM_INODE_KINDS) && ino->data)
		a->kind = mm_block(s, ino->data)->kind;
	if (type == MM_IFDIR) {
		a->nlink = ino->nlink ? 2 + (uint32_t)mm_dir(s, off)->nsubdirs
				      : 0;
		a->size = mm_dir(s, off)->count;
	} else if (type == MM_IFCHR || type == MM_IFBLK) {
		a->rdev = (uint32_t)ino->data;
	} else {
		a->size = kind_size(s, ino);
	}
	if (ino->data && type != MM_IFCHR && type != MM_IFBLK)
		a->blocks = (kind_bytes(s, ino->data) + 511) / 512;
	a->atime = ts_of(ino->atime);
	a->mtime = ts_of(ino->mtime);
	a->ctime = ts_of(ino->ctime);
}

int store_getattr(struct store *s, store_ref ref, struct store_attr *attr)
{
	int rc = store_enter(s, ref);

	if (rc)
		return rc;
	inode_fill_attr(s, ref, attr);
	arena_unlock(s);
	return 0;
}

static int set_size(struct store *s, store_ref ref, uint64_t size)
{
	struct mm_inode *ino = mm_inode(s, ref);
	uint32_t type = type_of(ino);

	if (type == MM_IFDIR)
		return -EISDIR;
	if (type != MM_IFREG)
		return -EINVAL;
	if (size > STORE_FILE_MAX)
		return -EFBIG;
	if (ino->flags & MM_INODE_KINDS)
		return kind_truncate(s, ref, size);
	return file_truncate(s, ref, size);
}

/* Attribute flags: an immutable inode changes nothing, an append-only
 * one not its size (its mode, owner and times are the caller's to
 * refuse: store.h, "Attribute flags"). */
static int setattr_denied(const struct mm_inode *ino, unsigned mask)
{
	int rc = mask ? iflags_deny_write(ino) : 0;

	if (rc == 0 && (mask & STORE_SET_SIZE))
		rc = iflags_deny_change(ino);
	return rc;
}

int store_setattr(struct store *s, store_ref ref, unsigned mask,
		  const struct store_attr *in, struct store_attr *out)
{
	struct mm_inode *ino;
	int rc = 0;

	if (store_readonly(s))
		return -EROFS;
	if (mask & STORE_SET_SIZE)
		file_lock(s, ref);      /* before the arena lock */
	rc = store_enter(s, ref);
	if (rc)
		goto unlock_file;
	ino = mm_inode(s, ref);
	rc = setattr_denied(ino, mask);
	if (rc)
		goto out;
	if (mask & STORE_SET_SIZE) {
		rc = set_size(s, ref, in->size);
		if (rc)
			goto out;
		ino->mtime = mm_now();
		inode_changed(s, ref);
	}
	if (mask & STORE_SET_MODE)
		ino->mode = mm_type(ino) | (in->mode & 07777);
	if (mask & STORE_SET_UID)
		ino->uid = in->uid;
	if (mask & STORE_SET_GID)
		ino->gid = in->gid;
	if (mask & STORE_SET_ATIME)
		ino->atime = ns_of(in->atime);
	if (mask & STORE_SET_MTIME)
		ino->mtime = ns_of(in->mtime);
	ino->ctime = (mask & STORE_SET_CTIME) ? ns_of(in->ctime) : mm_now();
out:
	if (rc == 0 && out)
		inode_fill_attr(s, ref, out);
	arena_unlock(s);
unlock_file:
	if (mask & STORE_SET_SIZE)
		file_unlock(s, ref);
	return rc;
}

#define DAY_NS (86400LL * 1000000000LL)

/* Linux's relatime_need_update: is atime not after mtime or ctime, or a
 * day old?  (now - DAY_NS cannot overflow: now is past 1970.) */
static bool atime_stale(const struct mm_inode *ino, int64_t now)
{
	return ino->atime <= ino->mtime || ino->atime <= ino->ctime ||
	       ino->atime <= now - DAY_NS;
}

/* Would a read at now change the inode's atime?  Never when it is
 * flagged NOATIME (chattr +A). */
static bool atime_due(const struct mm_inode *ino, int64_t now,
		      enum store_atime how)
{
	return !(ino->flags & MM_INODE_NOATIME) &&
	       (how == STORE_ATIME_STRICT || atime_stale(ino, now)) &&
	       ino->atime != now;
}

int store_atime_due(struct store *s, store_ref ref, enum store_atime how)
{
	int rc = store_enter(s, ref);

	if (rc)
		return rc;
	rc = atime_due(mm_inode(s, ref), mm_now(), how);
	arena_unlock(s);
	return rc;
}

int store_touch_atime(struct store *s, store_ref ref, enum store_atime how)
{
	struct mm_inode *ino;
	int64_t now;
	int rc;

	if (store_readonly(s))
		return -EROFS;
	rc = store_enter(s, ref);
	if (rc)
		return rc;
	ino = mm_inode(s, ref);
	now = mm_now();
	if (atime_due(ino, now, how)) {
		mm_commit64((uint64_t *)&ino->atime, (uint64_t)now);
		rc = 1;
	}
	arena_unlock(s);
	return rc;
}

/* The bytes of data that FREE bytes of arena hold in one new file.  A
 * large file costs, for each MM_CHUNK bytes, a CHUNK block (MM_CHUNK and a
 * block header, aligned) and a slot of its MAP block, plus the MAP block's
 * header; a small one (up to MM_SMALL_MAX) one DATA block. */
static uint64_t data_room(uint64_t free)
{
	uint64_t per_chunk = mm_block_size_for(MM_CHUNK) + sizeof(uint64_t);
	uint64_t map = mm_block_size_for(sizeof(struct mm_map));
	uint64_t small = mm_block_size_for(sizeof(uint64_t));
	uint64_t large = free > map ? (free - map) / per_chunk * MM_CHUNK : 0;

	small = free > small ? free - small : 0;
	if (small > MM_SMALL_MAX)
		small = MM_SMALL_MAX;
	return large > small ? large : small;
}

void store_statfs(struct store *s, struct store_statfs *st)
{
	struct mm_header *h = s->hdr;

	memset(st, 0, sizeof(*st));
	arena_lock(s);
	st->size_cap = h->size_cap;
	st->file_size = h->file_size;
	st->used = h->used;
	st->free = h->size_cap > h->used ? h->size_cap - h->used : 0;
	st->avail = data_room(mm_room(s));
	st->inodes = h->ninodes;
	st->dirs = h->ndirs;
	st->symlinks = h->nsymlinks;
	st->rings = h->nrings;
	st->files = h->ninodes - h->ndirs - h->nsymlinks - h->nrings;
	st->max_files = h->max_files;
	st->format_version = h->version;
	st->clean = h->clean;
	st->ring_size = h->ring_size;
	arena_unlock(s);
}

void *store_stats(struct store *s, size_t *size)
{
	*size = s->readonly ? 0 : sizeof(s->hdr->stats);
	return s->readonly ? NULL : s->hdr->stats;
}

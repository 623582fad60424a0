/* xattr.c -- extended attributes.
 *
 * All attributes of an inode live in one XATTR block: a head {count, bytes}
 * then records {namelen, valuelen, name, value}, each padded to 8 bytes.
 * A change builds a new block and publishes it with one store to
 * inode->xattr (copy on write), so readers and crashes see the whole old or
 * the whole new set.  Limits (store.h): value size, and per inode the
 * total size, the count and the length of the name list.  Two changes
 * touch more than the set: a new node may be made with its attributes
 * (xattr_build, before its name's commit: ns.c), and
 * store_setxattr_mode changes the mode with the set, as an access ACL
 * wants (two commits: the set, then the mode; format.h).
 */
#include <errno.h>

#include "store_int.h"

#define REC_HEAD sizeof(struct mm_xattr_rec)

static size_t rec_size(size_t namelen, size_t valuelen)
{
	return (REC_HEAD + namelen + valuelen + 7) & ~(size_t)7;
}

static struct mm_xattr_head *head_of(struct store *s, uint64_t block)
{
	return block ? mm_payload(s, block) : NULL;
}

static struct mm_xattr_rec *first_rec(struct mm_xattr_head *h)
{
	return (struct mm_xattr_rec *)(h + 1);
}

static struct mm_xattr_rec *next_rec(struct mm_xattr_rec *r)
{
	return (struct mm_xattr_rec *)((char *)r +
				       rec_size(r->namelen, r->valuelen));
}

static struct mm_xattr_rec *find_rec(struct mm_xattr_head *h,
				     const char *name, size_t len)
{
	struct mm_xattr_rec *r;
	uint32_t i;

	if (!h)
		return NULL;
	for (i = 0, r = first_rec(h); i < h->count; i++, r = next_rec(r))
		if (r->namelen == len && memcmp(r->name_value, name, len) == 0)
			return r;
	return NULL;
}

static int begin(struct store *s, store_ref ref, struct mm_inode **ino)
{
	int rc = store_enter(s, ref);

	if (rc == 0)
		*ino = mm_inode(s, ref);
	return rc;
}

ssize_t store_getxattr(struct store *s, store_ref ref, const char *name,
		       void *buf, size_t size)
{
	struct mm_inode *ino;
	struct mm_xattr_rec *r;
	ssize_t rc = begin(s, ref, &ino);

	if (rc)
		return rc;
	r = find_rec(head_of(s, ino->xattr), name, strlen(name));
	if (!r)
		rc = -ENODATA;
	else if (size && size < r->valuelen)
		rc = -ERANGE;
	else {
		if (size)
			memcpy(buf, r->name_value + r->namelen, r->valuelen);
		rc = r->valuelen;
	}
	arena_unlock(s);
	return rc;
}

ssize_t store_listxattr(struct store *s, store_ref ref, char *buf,
			size_t size)
{
	struct mm_inode *ino;
	struct mm_xattr_head *h;
	struct mm_xattr_rec *r;
	size_t need = 0;
	ssize_t rc = begin(s, ref, &ino);

	if (rc)
		return rc;
	h = head_of(s, ino->xattr);
	for (uint32_t i = 0; h && i < h->count; i++, r = next_rec(r)) {
		if (i == 0)
			r = first_rec(h);
		if (size && need + r->namelen + 1 <= size) {
			memcpy(buf + need, r->name_value, r->namelen);
			buf[need + r->namelen] = '\0';
		}
		need += r->namelen + 1u;
	}
	rc = size && need > size ? -ERANGE : (ssize_t)need;
	arena_unlock(s);
	return rc;
}

/* A set of count records of bytes in all, whose names list in listed
 * bytes: 0, or -ENOSPC past a per-file limit (store.h). */
static int over_limits(size_t count, size_t bytes, size_t listed)
{
	if (count > STORE_XATTR_COUNT_MAX || bytes > STORE_XATTR_TOTAL_MAX ||
	    listed > STORE_XATTR_LIST_MAX)
		return -ENOSPC;
	return 0;
}

/* Publish a copy of the set without `skip`, plus (name, value) if given. */
static int republish(struct store *s, struct mm_inode *ino,
		     struct mm_xattr_rec *skip, const char *name,
		     size_t namelen, const void *value, size_t valuelen)
{
	struct mm_xattr_head *old = head_of(s, ino->xattr), *nh;
	struct mm_xattr_rec *r, *w;
	size_t bytes = 0, count = 0, listed = 0, len;
	uint64_t block = 0, stale = ino->xattr;
	uint32_t i;
	int rc;

	for (i = 0, r = old ? first_rec(old) : NULL; old && i < old->count;
	     i++, r = next_rec(r))
		if (r != skip) {
			bytes += rec_size(r->namelen, r->valuelen);
			listed += r->namelen + 1u;
			count++;
		}
	if (name) {
		bytes += rec_size(namelen, valuelen);
		listed += namelen + 1;
		count++;
	}
	rc = over_limits(count, bytes, listed);
	if (rc)
		return rc;
	if (count) {
		rc = mm_alloc(s, MM_XATTR, sizeof(*nh) + bytes, &block);

		if (rc)
			return rc;
		nh = mm_payload(s, block);
		nh->count = (uint32_t)count;
		nh->bytes = (uint32_t)bytes;
		w = first_rec(nh);
		for (i = 0, r = old ? first_rec(old) : NULL;
		     old && i < old->count; i++, r = next_rec(r)) {
			if (r == skip)
				continue;
			len = rec_size(r->namelen, r->valuelen);
			memcpy(w, r, len);
			w = (struct mm_xattr_rec *)((char *)w + len);
		}
		if (name) {
			memset(w, 0, rec_size(namelen, valuelen));
			w->namelen = (uint8_t)namelen;
			w->valuelen = (uint32_t)valuelen;
			memcpy(w->name_value, name, namelen);
			memcpy(w->name_value + namelen, value, valuelen);
		}
	}
	mm_commit64(&ino->xattr, block);
	if (stale)
		mm_free(s, stale);
	ino->ctime = mm_now();
	return 0;
}

int store_setxattr(struct store *s, store_ref ref, const char *name,
		   const void *value, size_t size, int flags)
{
	size_t namelen = strlen(name);
	struct mm_inode *ino;
	struct mm_xattr_rec *r;
	int rc;

	if (namelen == 0 || namelen > STORE_XATTR_NAME_MAX)
		return -ERANGE;
	if (size > STORE_XATTR_VALUE_MAX)
		return -E2BIG;
	if (store_readonly(s))
		return -EROFS;
	rc = begin(s, ref, &ino);
	if (rc)
		return rc;
	r = find_rec(head_of(s, ino->xattr), name, namelen);
	rc = iflags_deny_change(ino);
	if (rc == 0 && r && (flags & STORE_XATTR_CREATE))
		rc = -EEXIST;
	else if (rc == 0 && !r && (flags & STORE_XATTR_REPLACE))
		rc = -ENODATA;
	else if (rc == 0)
		rc = republish(s, ino, r, name, namelen, value, size);
	arena_unlock(s);
	return rc;
}

int store_removexattr(struct store *s, store_ref ref, const char *name)
{
	struct mm_inode *ino;
	struct mm_xattr_rec *r;
	int rc;

	if (store_readonly(s))
		return -EROFS;
	rc = begin(s, ref, &ino);
	if (rc)
		return rc;
	/* An absent name is -ENODATA whatever the flags: a write's removal
	 * of security.capability (src/fs/ops.c) is no error on an
	 * append-only file. */
	r = find_rec(head_of(s, ino->xattr), name, strlen(name));
	rc = r ? iflags_deny_change(ino) : -ENODATA;
	if (rc == 0)
		rc = republish(s, ino, r, NULL, 0, NULL, 0);
	arena_unlock(s);
	return rc;
}

/* Check one attribute against the limits of store_setxattr. */
static int check_one(const char *name, size_t size)
{
	size_t namelen = strlen(name);

	if (namelen == 0 || namelen > STORE_XATTR_NAME_MAX)
		return -ERANGE;
	return size > STORE_XATTR_VALUE_MAX ? -E2BIG : 0;
}

int xattr_build(struct store *s, const struct store_xattr *x, size_t n,
		uint64_t *block)
{
	size_t bytes = 0, listed = 0, len;
	struct mm_xattr_head *h;
	struct mm_xattr_rec *w;
	int rc;

	*block = 0;
	for (size_t i = 0; i < n; i++) {
		rc = check_one(x[i].name, x[i].size);
		if (rc)
			return rc;
		bytes += rec_size(strlen(x[i].name), x[i].size);
		listed += strlen(x[i].name) + 1;
	}
	rc = over_limits(n, bytes, listed);
	if (rc)
		return rc;
	if (n == 0)
		return 0;
	rc = mm_alloc(s, MM_XATTR, sizeof(*h) + bytes, block);
	if (rc)
		return rc;
	h = mm_payload(s, *block);
	h->count = (uint32_t)n;
	h->bytes = (uint32_t)bytes;
	w = first_rec(h);
	for (size_t i = 0; i < n; i++) {
		len = strlen(x[i].name);
		memset(w, 0, rec_size(len, x[i].size));
		w->namelen = (uint8_t)len;
		w->valuelen = (uint32_t)x[i].size;
		memcpy(w->name_value, x[i].name, len);
		memcpy(w->name_value + len, x[i].value, x[i].size);
		w = next_rec(w);
	}
	return 0;
}

int store_setxattr_mode(struct store *s, store_ref ref, const char *name,
			const void *value, size_t size, uint32_t clear,
			uint32_t set)
{
	struct mm_inode *ino;
	struct mm_xattr_rec *r;
	int rc = value ? check_one(name, size) : 0;

	if (rc)
		return rc;
	if (store_readonly(s))
		return -EROFS;
	rc = begin(s, ref, &ino);
	if (rc)
		return rc;
	r = find_rec(head_of(s, ino->xattr), name, strlen(name));
	rc = iflags_deny_change(ino);
	if (rc == 0 && value)
		rc = republish(s, ino, r, name, strlen(name), value, size);
	else if (rc == 0 && r)
		rc = republish(s, ino, r, NULL, 0, NULL, 0);
	if (rc == 0) {
		ino->mode = (ino->mode & ~(clear & 07777)) | (set & clear &
							      07777);
		ino->ctime = mm_now();
	}
	arena_unlock(s);
	return rc;
}

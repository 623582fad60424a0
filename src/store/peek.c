/* peek.c -- direct access by name: lock-free reads, waits, updates.
 *
 * Lock-free readers (format.h, "Lock-free readers").  store_get resolves
 * a path and copies a value with no lock, as a seqlock reader does, and
 * trusts nothing it reads: every offset is checked against the arena's
 * current size and the block kind it must name, chains are walked a
 * bounded number of steps, and a value is only returned when both checks
 * hold:
 *   1. the lock generation (header.gen) was even and the same before the
 *      name walk and after the inode's version and data offset were read:
 *      no process held the arena mutex meanwhile, so the name led to that
 *      inode and the inode to that data;
 *   2. the inode's version was the same before and after the copy: its
 *      data was not replaced, and so not freed or reused, meanwhile
 *      (writers advance the version under the mutex, after the commit and
 *      before the old blocks can be allocated again; visible bytes are
 *      never changed in place: file.c).
 * Anything else is retried; after GET_TRIES the walk and copy run under
 * the arena mutex instead, where both checks hold by construction.
 */
#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store_int.h"

#define GET_TRIES 64
#define CHAIN_MAX 100000        /* steps of one hash chain */
#define RETRY 1                 /* an inconsistent read: try again */

struct peek {
	struct store *s;
	uint64_t limit;            /* bytes of the arena safe to read */
	bool locked;               /* the arena mutex is held */
	uint64_t gen;              /* header.gen at the start */
};

#define LOAD(x) __atomic_load_n(&(x), __ATOMIC_RELAXED)

/* [off, off + len) lies in the heap, off aligned. */
static bool in_heap(const struct peek *p, uint64_t off, uint64_t len)
{
	return off >= MM_PAGE && off % MM_ALIGN == 0 && len <= p->limit &&
	       off <= p->limit - len;
}

/* A block of kind at off whose payload holds at least need bytes. */
static bool is_kind(const struct peek *p, uint64_t off, unsigned kind,
		    uint64_t need)
{
	struct mm_block *b;
	uint32_t size;

	if (!in_heap(p, off, sizeof(*b) + need))
		return false;
	b = mm_block(p->s, off);
	size = LOAD(b->size);
	return LOAD(b->kind) == kind && size >= sizeof(*b) + need &&
	       in_heap(p, off, size);
}

/* The inode named (dir, name), 0 if none; RETRY. */
static int find(const struct peek *p, uint64_t dir, const char *name,
		size_t len, uint64_t *out)
{
	struct mm_header *h = p->s->hdr;
	uint64_t table = LOAD(h->hash_table), nb = LOAD(h->hash_buckets);
	uint32_t hash = ns_hash(p->s, dir, name, len);
	uint64_t off;

	if (!nb || (nb & (nb - 1)) || !is_kind(p, table, MM_HASH, nb * 8))
		return RETRY;
	off = LOAD(((uint64_t *)mm_payload(p->s, table))[hash & (nb - 1)]);
	for (unsigned steps = 0; off; steps++) {
		struct mm_dentry *d;

		if (steps == CHAIN_MAX ||
		    !is_kind(p, off, MM_DENTRY, sizeof(*d) + len))
			return RETRY;
		d = mm_dentry(p->s, off);
		if (LOAD(d->hash) == hash && LOAD(d->parent) == dir &&
		    LOAD(d->namelen) == len && LOAD(d->state) ==
		    MM_DENTRY_LIVE && memcmp(d->name, name, len) == 0) {
			*out = LOAD(d->inode);
			return 0;
		}
		off = LOAD(d->hash_next);
	}
	*out = 0;
	return 0;
}

/* The next component of *path: its start and length (0: the end). */
static size_t next_name(const char **path, const char **name)
{
	const char *c = *path;
	size_t len;

	while (*c == '/')
		c++;
	len = strcspn(c, "/");
	*name = c;
	*path = c + len;
	return len;
}

static bool bad_name(const char *name, size_t len)
{
	return len > STORE_NAME_MAX || (len == 1 && name[0] == '.') ||
	       (len == 2 && name[0] == '.' && name[1] == '.');
}

/* Walk path to its inode: 0, -errno, RETRY. */
static int walk(const struct peek *p, const char *path, uint64_t *out)
{
	uint64_t at = LOAD(p->s->hdr->root);
	const char *name;
	size_t len;
	int rc;

	while ((len = next_name(&path, &name)) != 0) {
		struct mm_inode *ino;

		if (bad_name(name, len))
			return len > STORE_NAME_MAX ? -ENAMETOOLONG : -EINVAL;
		if (!is_kind(p, at, MM_INODE, sizeof(*ino)))
			return RETRY;
		ino = mm_inode(p->s, at);
		if ((LOAD(ino->mode) & MM_IFMT) != MM_IFDIR)
			return -ENOTDIR;
		rc = find(p, at, name, len, &at);
		if (rc)
			return rc;
		if (!at)
			return -ENOENT;
	}
	*out = at;
	return 0;
}

/* Copy the bytes of data (a DATA or MAP block, or 0) if they fit. */
static int copy_value(const struct peek *p, uint64_t data, void *buf,
		      size_t size, uint64_t *len)
{
	struct mm_map *m;
	uint64_t n;

	*len = 0;
	if (!data)
		return 0;
	if (is_kind(p, data, MM_DATA, sizeof(uint64_t))) {
		*len = LOAD(mm_data(p->s, data)->size);
		if (*len > mm_payload_size(p->s, data) - sizeof(uint64_t))
			return RETRY;
		if (*len <= size)
			memcpy(buf, mm_data(p->s, data)->bytes, *len);
		return 0;
	}
	if (!is_kind(p, data, MM_MAP, sizeof(*m)))
		return RETRY;
	m = mm_map(p->s, data);
	*len = LOAD(m->size);
	n = LOAD(m->nslots);
	if (*len > STORE_FILE_MAX || MM_CHUNKS(*len) > n ||
	    !is_kind(p, data, MM_MAP, sizeof(*m) + n * 8))
		return RETRY;
	for (uint64_t i = 0; *len <= size && i < MM_CHUNKS(*len); i++) {
		uint64_t chunk = LOAD(m->chunk[i]), at = i * MM_CHUNK;
		size_t piece = *len - at < MM_CHUNK ? *len - at : MM_CHUNK;

		if (!chunk)
			memset((char *)buf + at, 0, piece);
		else if (is_kind(p, chunk, MM_CHUNK_KIND, MM_CHUNK))
			memcpy((char *)buf + at, mm_payload(p->s, chunk),
			       piece);
		else
			return RETRY;
	}
	return 0;
}

/* Is the lock generation still the one the walk started with? */
static bool gen_same(const struct peek *p)
{
	mm_read_barrier();
	return p->locked || LOAD(p->s->hdr->gen) == p->gen;
}

/* One attempt: 0 (value copied if it fits, *len set), -errno, RETRY. */
static int get_once(struct peek *p, const char *path, void *buf,
		    size_t size, uint64_t *len, uint32_t *version)
{
	struct mm_inode *ino;
	uint64_t ref, data;
	uint32_t v;
	int rc = walk(p, path, &ref);

	if (rc)
		return rc;
	if (!is_kind(p, ref, MM_INODE, sizeof(*ino)))
		return RETRY;
	ino = mm_inode(p->s, ref);
	v = __atomic_load_n(&ino->version, __ATOMIC_ACQUIRE);
	data = LOAD(ino->data);
	if (!gen_same(p))
		return RETRY;
	if ((LOAD(ino->mode) & MM_IFMT) == MM_IFDIR)
		return -EISDIR;
	if ((LOAD(ino->mode) & MM_IFMT) != MM_IFREG ||
	    (LOAD(ino->flags) & MM_INODE_KINDS))
		return -EINVAL;
	rc = copy_value(p, data, buf, size, len);
	mm_read_barrier();
	if (rc || ((LOAD(ino->version) ^ v) & ~MM_VERSION_WAITERS))
		return RETRY;
	*version = v >> 1;
	return 0;
}

static void peek_begin(struct peek *p, struct store *s, bool locked)
{
	uint64_t size;

	p->s = s;
	p->locked = locked;
	p->gen = __atomic_load_n(&s->hdr->gen, __ATOMIC_ACQUIRE);
	size = __atomic_load_n(&s->hdr->file_size, __ATOMIC_ACQUIRE);
	p->limit = size < s->map_len ? size : s->map_len;
}

ssize_t store_get(struct store *s, const char *path, void *buf, size_t size,
		  uint32_t *version)
{
	struct peek p;
	uint64_t len = 0;
	uint32_t v = 0;
	int rc = RETRY;

	/* A read-only store cannot take the lock: it retries until done. */
	for (int i = 0; rc == RETRY && (i < GET_TRIES || store_readonly(s));
	     i++) {
		peek_begin(&p, s, false);
		if (p.gen & 1) {
			sched_yield();  /* a writer is in: let it finish */
			continue;
		}
		rc = get_once(&p, path, buf, size, &len, &v);
	}
	if (rc == RETRY) {
		arena_lock(s);
		peek_begin(&p, s, true);
		rc = get_once(&p, path, buf, size, &len, &v);
		arena_unlock(s);
		if (rc == RETRY)
			rc = -ENXIO;    /* past our mapping */
	}
	if (rc)
		return rc;
	if (version)
		*version = v;
	return size && len > size ? -ERANGE : (ssize_t)len;
}

/* store_resolve without create: the lock-free walk, retried as store_get
 * retries (a reader may not hold the lock: PEEK stores cannot). */
static int find_unlocked(struct store *s, const char *path, store_ref *out)
{
	struct peek p;
	int rc = RETRY;

	for (int i = 0; rc == RETRY && (i < GET_TRIES || store_readonly(s));
	     i++) {
		peek_begin(&p, s, false);
		if (p.gen & 1) {
			sched_yield();
			continue;
		}
		rc = walk(&p, path, out);
		if (rc == 0 && (*out == LOAD(s->hdr->root) || !gen_same(&p)))
			rc = *out == LOAD(s->hdr->root) ? -EINVAL : RETRY;
	}
	if (rc == RETRY) {
		arena_lock(s);
		peek_begin(&p, s, true);
		rc = walk(&p, path, out);
		arena_unlock(s);
		if (rc == RETRY)
			rc = -ENXIO;
	}
	return rc;
}

/* One step of store_resolve: name in dir, made if missing and create (a
 * directory unless last).  A racing creator's -EEXIST means it is there. */
static int resolve_one(struct store *s, store_ref dir, const char *name,
		       bool last, const struct store_attr *how,
		       store_ref *out)
{
	uint32_t mode = last ? MM_IFREG | (how->mode & 07777) :
			       MM_IFDIR | 0755;
	struct store_attr a;
	int rc = store_lookup(s, dir, name, out, &a);

	if (rc == -ENOENT && how->size) {
		rc = store_mknod(s, dir, name, mode, how->uid, how->gid, 0,
				 out, &a);
		if (rc == -EEXIST)
			rc = store_lookup(s, dir, name, out, &a);
	}
	if (rc)
		return rc;
	if (!last && (a.mode & MM_IFMT) != MM_IFDIR)
		return -ENOTDIR;
	if (last && how->size && (a.mode & MM_IFMT) != MM_IFREG)
		return -EEXIST;
	return 0;
}

int store_resolve(struct store *s, const char *path, bool create,
		  uint32_t mode, uint32_t uid, uint32_t gid, store_ref *out)
{
	/* size carries "create" to resolve_one */
	struct store_attr how = { .mode = mode, .uid = uid, .gid = gid,
				  .size = create };
	char name[STORE_NAME_MAX + 1];
	store_ref at = store_root(s);
	const char *c;
	size_t len;
	int rc = 0;

	if (create && store_readonly(s))
		return -EROFS;
	if (!create)
		return find_unlocked(s, path, out);
	len = next_name(&path, &c);
	if (!len)
		return -EINVAL;         /* the root holds no value */
	while (len && rc == 0) {
		if (bad_name(c, len))
			return len > STORE_NAME_MAX ? -ENAMETOOLONG : -EINVAL;
		memcpy(name, c, len);
		name[len] = '\0';
		len = next_name(&path, &c);
		rc = resolve_one(s, at, name, len == 0, &how, &at);
	}
	if (rc == 0)
		*out = at;
	return rc;
}

int store_update(struct store *s, store_ref ref, store_update_fn fn,
		 void *ctx, size_t out_size)
{
	struct store_attr a;
	char *cur = NULL, *out = NULL;
	ssize_t n;
	int rc;

	if (store_readonly(s))
		return -EROFS;
	file_lock(s, ref);
	rc = store_getattr(s, ref, &a);
	if (rc == 0 && ((a.mode & MM_IFMT) != MM_IFREG || a.kind))
		rc = (a.mode & MM_IFMT) == MM_IFDIR ? -EISDIR : -EINVAL;
	if (rc)
		goto out;
	cur = malloc(a.size ? a.size : 1);
	out = malloc(out_size ? out_size : 1);
	if (!cur || !out) {
		rc = -ENOMEM;
		goto out;
	}
	n = store_read(s, ref, 0, cur, a.size);
	if (n >= 0)
		n = fn(ctx, cur, (size_t)n, out, out_size);
	if (n >= 0)
		n = file_write_locked(s, ref, 0, out, (size_t)n, true);
	rc = n < 0 ? (int)n : 0;
out:
	file_unlock(s, ref);
	free(cur);
	free(out);
	return rc;
}

int store_wait(struct store *s, store_ref ref, uint32_t version,
	       int timeout_ms)
{
	const struct timespec tick = { 0, 1000000 };
	struct timespec end, now, left;
	const struct timespec *t = NULL;
	struct peek p;
	uint32_t *word, cur;
	int rc;

	peek_begin(&p, s, false);
	if (!is_kind(&p, ref, MM_INODE, sizeof(struct mm_inode)))
		return -ESTALE;
	word = &mm_inode(s, ref)->version;
	clock_gettime(CLOCK_MONOTONIC, &end);
	end.tv_sec += timeout_ms / 1000;
	end.tv_nsec += (long)(timeout_ms % 1000) * 1000000;
	if (end.tv_nsec >= 1000000000) {
		end.tv_sec++;
		end.tv_nsec -= 1000000000;
	}
	for (;;) {
		cur = __atomic_load_n(word, __ATOMIC_ACQUIRE);
		if ((cur >> 1) != (version & (UINT32_MAX >> 1)))
			return 0;
		if (!(cur & MM_VERSION_WAITERS) && !store_readonly(s) &&
		    !__atomic_compare_exchange_n(word, &cur,
						 cur | MM_VERSION_WAITERS,
						 false, __ATOMIC_ACQ_REL,
						 __ATOMIC_ACQUIRE))
			continue;
		if (timeout_ms >= 0) {
			clock_gettime(CLOCK_MONOTONIC, &now);
			left.tv_sec = end.tv_sec - now.tv_sec;
			left.tv_nsec = end.tv_nsec - now.tv_nsec;
			if (left.tv_nsec < 0) {
				left.tv_sec--;
				left.tv_nsec += 1000000000;
			}
			if (left.tv_sec < 0)
				return -ETIMEDOUT;
			t = &left;
		}
		/* A read-only store cannot say it sleeps: it looks each ms. */
		if (store_readonly(s) && (!t || t->tv_sec || t->tv_nsec > 1000000))
			t = &tick;
		rc = mm_futex_wait(word, cur | (store_readonly(s) ? 0 :
						MM_VERSION_WAITERS), t);
		if (rc == -ETIMEDOUT && t == &tick)
			continue;
		if (rc == -ETIMEDOUT || rc == -EINTR)
			return rc;
	}
}

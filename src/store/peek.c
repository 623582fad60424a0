/* peek.c -- direct access by name: lock-free reads, waits, updates.
 *
 * Lock-free readers (format.h, "Lock-free readers").  store_get resolves
 * a path and copies a value with no lock, as a seqlock reader does, and
 * trusts nothing it reads: every offset is checked against the arena's
 * current size and the block kind it must name, chains are walked a
 * bounded number of steps, sizes are multiplied only once they are known
 * not to overflow, and a value is only returned when both checks hold:
 *   1. the lock generation (header.gen) was even and the same before the
 *      name walk and after the inode's version, type and data offset were
 *      read: no process held the arena mutex meanwhile, so the name led
 *      to that inode and the inode to that data;
 *   2. the inode's version was the same before and after the copy: its
 *      data was not replaced, and so not freed or reused, meanwhile
 *      (writers advance the version under the mutex, after the commit and
 *      before the old blocks can be allocated again; visible bytes are
 *      never changed in place: file.c).
 * An error (-ENOENT: a name a chain did not hold...) is checked like a
 * value: a chain that a writer was changing may miss a name it holds.
 * Anything else is retried (peek_run):
 *   - a writable store retries GET_TRIES times, then does the walk and
 *     copy under the arena mutex, where both checks hold by construction;
 *   - a read-only (STORE_OPEN_PEEK) store maps the arena read-only and
 *     can take no lock: it retries, yielding and then sleeping, for up to
 *     PEEK_WAIT_MS, then gives up with -EAGAIN (writers held the mutex all
 *     that time, or one died holding it and no writer came by since to
 *     repair: arena.c);
 *   - a read that failed its checks although the generation did not move
 *     saw the arena as it stands, with no writer to blame: it is damaged
 *     (-EUCLEAN; a read-only store does no recovery) or grew past this
 *     process's mapping (-ENXIO).  Retrying would not help.
 * store_resolve without create, store_version and store_kind_peek are
 * lock-free readers too; store_wait never stores to a read-only mapping
 * (it polls instead of asking to be woken).
 */
#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kind.h"
#include "store_int.h"
#include "store_kind.h"

#define GET_TRIES 64
#define PEEK_SLEEP_US 500       /* read-only: a pause after GET_TRIES */
#define PEEK_WAIT_MS 2000       /* read-only: how long to wait for writers */
#define PEEK_TRIES (GET_TRIES + PEEK_WAIT_MS * 1000 / PEEK_SLEEP_US)
#define WAIT_TICK_MS 10         /* read-only store_wait: poll period */
#define CHAIN_MAX 100000        /* steps of one hash chain */
#define RETRY 1                 /* an inconsistent read: try again */

struct peek {
	struct store *s;
	uint64_t limit;            /* bytes of the arena safe to read */
	bool locked;               /* the arena mutex is held */
	uint64_t gen;              /* header.gen at the start */
};

/* One attempt of a lock-free reader: 0, -errno, or RETRY. */
typedef int (*peek_fn)(struct peek *p, void *ctx);

#define LOAD(x) __atomic_load_n(&(x), __ATOMIC_RELAXED)

/* [off, off + len) lies in the heap, off aligned. */
static bool in_heap(const struct peek *p, uint64_t off, uint64_t len)
{
	return off >= MM_PAGE && off % MM_ALIGN == 0 && len <= p->limit &&
	       off <= p->limit - len;
}

/* The payload size of the block of kind at off, if it holds at least
 * need payload bytes and lies in the heap; 0 if not. */
static uint64_t payload_of(const struct peek *p, uint64_t off, unsigned kind,
			   uint64_t need)
{
	struct mm_block *b;
	uint32_t size;

	if (need > p->limit || !in_heap(p, off, sizeof(*b) + need))
		return 0;
	b = mm_block(p->s, off);
	size = LOAD(b->size);
	if (LOAD(b->kind) != kind || size < sizeof(*b) + need ||
	    !in_heap(p, off, size))
		return 0;
	return size - sizeof(*b);
}

/* A block of kind at off whose payload holds at least need bytes. */
static bool is_kind(const struct peek *p, uint64_t off, unsigned kind,
		    uint64_t need)
{
	return payload_of(p, off, kind, need) != 0;
}

/* Is the lock generation still the one the walk started with? */
static bool gen_same(const struct peek *p)
{
	mm_read_barrier();
	return p->locked || LOAD(p->s->hdr->gen) == p->gen;
}

/* The inode named (dir, name), 0 if none; RETRY. */
static int find(const struct peek *p, uint64_t dir, const char *name,
		size_t len, uint64_t *out)
{
	struct mm_header *h = p->s->hdr;
	uint64_t table = LOAD(h->hash_table), nb = LOAD(h->hash_buckets);
	uint32_t hash = ns_hash(p->s, dir, name, len);
	uint64_t off;

	if (!nb || (nb & (nb - 1)) || nb > p->limit / 8 ||
	    !is_kind(p, table, MM_HASH, nb * 8))
		return RETRY;
	off = LOAD(((uint64_t *)mm_payload(p->s, table))[hash & (nb - 1)]);
	/* a chain that loops (changing under us, or damaged) comes back to
	 * the dentry saved at the last power of two steps (Brent) */
	for (uint64_t steps = 0, saved = 0; off; steps++) {
		struct mm_dentry *d;
		uint64_t room = payload_of(p, off, MM_DENTRY, sizeof(*d));

		if (steps == CHAIN_MAX || off == saved || !room)
			return RETRY;
		if ((steps & (steps + 1)) == 0)
			saved = off;
		d = mm_dentry(p->s, off);
		/* other names in the chain may be shorter (smaller blocks) */
		if (LOAD(d->hash) == hash && LOAD(d->parent) == dir &&
		    LOAD(d->namelen) == len) {
			if (room < sizeof(*d) + len)
				return RETRY;
			if (LOAD(d->state) == MM_DENTRY_LIVE &&
			    memcmp(d->name, name, len) == 0) {
				*out = LOAD(d->inode);
				return 0;
			}
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

/* Walk path to its inode: 0, -errno, RETRY.  Errors are the caller's to
 * check against the generation. */
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
	if (!is_kind(p, at, MM_INODE, sizeof(struct mm_inode)))
		return RETRY;   /* a name for something else */
	*out = at;
	return 0;
}

/* An answer computed from what the walk read: it stands if nobody
 * changed the arena meanwhile. */
static int checked(const struct peek *p, int rc)
{
	return rc == RETRY || gen_same(p) ? rc : RETRY;
}

/* Copy the bytes of data (a DATA or MAP block, or 0) if they fit. */
static int copy_value(const struct peek *p, uint64_t data, void *buf,
		      size_t size, uint64_t *len)
{
	struct mm_map *m;
	uint64_t n = data ? payload_of(p, data, MM_DATA, sizeof(*len)) : 0;

	*len = 0;
	if (!data)
		return 0;
	if (n) {
		*len = LOAD(mm_data(p->s, data)->size);
		if (*len > n - sizeof(*len))
			return RETRY;
		if (*len && *len <= size)       /* buf may be NULL if 0 */
			memcpy(buf, mm_data(p->s, data)->bytes, *len);
		return 0;
	}
	if (!is_kind(p, data, MM_MAP, sizeof(*m)))
		return RETRY;
	m = mm_map(p->s, data);
	*len = LOAD(m->size);
	n = LOAD(m->nslots);
	if (*len > STORE_FILE_MAX || MM_CHUNKS(*len) > n ||
	    n > p->limit / 8 || !is_kind(p, data, MM_MAP, sizeof(*m) + n * 8))
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

struct get {
	const char *path;
	void *buf;
	size_t size;
	uint64_t len;              /* out: the value's length */
	uint32_t version;          /* out */
};

/* One attempt of store_get: 0 (value copied if it fits), -errno, RETRY. */
static int get_once(struct peek *p, void *ctx)
{
	struct get *g = ctx;
	struct mm_inode *ino;
	uint64_t ref, data;
	uint32_t v, mode, flags;
	int rc = walk(p, g->path, &ref);

	if (rc)
		return checked(p, rc);
	if (!is_kind(p, ref, MM_INODE, sizeof(*ino)))
		return RETRY;
	ino = mm_inode(p->s, ref);
	v = __atomic_load_n(&ino->version, __ATOMIC_ACQUIRE);
	data = LOAD(ino->data);
	mode = LOAD(ino->mode);
	flags = LOAD(ino->flags);
	if (!gen_same(p))
		return RETRY;
	if ((mode & MM_IFMT) == MM_IFDIR)
		return -EISDIR;
	if ((mode & MM_IFMT) != MM_IFREG || (flags & MM_INODE_KINDS))
		return -EINVAL;
	rc = copy_value(p, data, g->buf, g->size, &g->len);
	mm_read_barrier();
	if (rc || ((LOAD(ino->version) ^ v) & ~MM_VERSION_WAITERS))
		return RETRY;
	g->version = v >> 1;
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

/* What a read that failed its checks with no writer about means. */
static int peek_damage(const struct peek *p)
{
	return p->limit < LOAD(p->s->hdr->file_size) ? -ENXIO : -EUCLEAN;
}

/* fn under the arena mutex (a private copy has none to take: nothing
 * changes it). */
static int peek_locked(struct store *s, peek_fn fn, void *ctx)
{
	struct peek p;
	int rc;

	arena_lock(s);
	peek_begin(&p, s, true);
	rc = fn(&p, ctx);
	arena_unlock(s);
	return rc == RETRY ? peek_damage(&p) : rc;
}

/* Between two tries: yield to the writer, and once GET_TRIES went by
 * (read-only stores only get that far), sleep a little. */
static void peek_pause(int tries)
{
	const struct timespec nap = { .tv_nsec = PEEK_SLEEP_US * 1000 };

	if (tries < GET_TRIES)
		sched_yield();
	else
		nanosleep(&nap, NULL);
}

/* Run fn as a lock-free reader until it reads the arena consistent (see
 * the top of this file): fn's result, -EAGAIN, -EUCLEAN or -ENXIO. */
static int peek_run(struct store *s, peek_fn fn, void *ctx)
{
	struct peek p;
	int rc;

	if (s->private_map)
		return peek_locked(s, fn, ctx);
	for (int tries = 0;; tries++) {
		if (tries == GET_TRIES && !s->readonly)
			return peek_locked(s, fn, ctx);
		if (tries == PEEK_TRIES)
			return -EAGAIN;
		peek_begin(&p, s, false);
		if (p.gen & 1) {
			peek_pause(tries);      /* a writer is in */
			continue;
		}
		rc = fn(&p, ctx);
		if (rc != RETRY)
			return rc;
		if (gen_same(&p))       /* no writer: it is the arena */
			return s->readonly ? peek_damage(&p) :
					     peek_locked(s, fn, ctx);
		peek_pause(tries);
	}
}

ssize_t store_get(struct store *s, const char *path, void *buf, size_t size,
		  uint32_t *version)
{
	struct get g = { .path = path, .buf = buf, .size = size };
	int rc = peek_run(s, get_once, &g);

	if (rc)
		return rc;
	if (version)
		*version = g.version;
	return size && g.len > size ? -ERANGE : (ssize_t)g.len;
}

struct resolve {
	const char *path;
	uint64_t ref;              /* out */
};

static int resolve_once(struct peek *p, void *ctx)
{
	struct resolve *r = ctx;

	return checked(p, walk(p, r->path, &r->ref));
}

struct version {
	store_ref ref;
	unsigned kind;             /* out */
	uint32_t version;          /* out */
};

static int version_once(struct peek *p, void *ctx)
{
	struct version *v = ctx;
	struct mm_inode *ino;
	uint64_t data;

	if (!is_kind(p, v->ref, MM_INODE, sizeof(*ino)))
		return checked(p, -ESTALE);
	ino = mm_inode(p->s, v->ref);
	v->version = __atomic_load_n(&ino->version, __ATOMIC_ACQUIRE) >> 1;
	data = LOAD(ino->data);
	v->kind = 0;
	if ((LOAD(ino->flags) & MM_INODE_KINDS) && data &&
	    in_heap(p, data, sizeof(struct mm_block))) {
		unsigned kind = LOAD(mm_block(p->s, data)->kind);

		/* a kind store_kind_peek would read (recovery makes sure) */
		if (kind_holds(ino, kind) && payload_of(p, data, kind, 0))
			v->kind = kind;
	}
	return checked(p, 0);
}

int store_version(struct store *s, store_ref ref, unsigned *kind,
		  uint32_t *version)
{
	struct version v = { .ref = ref };
	int rc = peek_run(s, version_once, &v);

	if (rc)
		return rc;
	if (kind)
		*kind = v.kind;
	if (version)
		*version = v.version;
	return 0;
}

struct kind_peek {
	store_ref ref;
	unsigned kind;
	store_kind_peek_fn fn;
	void *ctx;
	ssize_t out;               /* fn's answer */
};

static int kind_peek_once(struct peek *p, void *ctx)
{
	struct kind_peek *k = ctx;
	struct mm_inode *ino;
	uint64_t data, len = 0;
	ssize_t n;

	if (!is_kind(p, k->ref, MM_INODE, sizeof(*ino)))
		return checked(p, -ESTALE);
	ino = mm_inode(p->s, k->ref);
	data = LOAD(ino->data);
	if (kind_holds(ino, k->kind) && data)
		len = payload_of(p, data, k->kind, 0);
	if (!len)
		return checked(p, -EINVAL);
	n = k->fn(k->ctx, mm_payload(p->s, data), len);
	if (n == -EUCLEAN || !gen_same(p))
		return RETRY;
	k->out = n;
	return 0;
}

ssize_t store_kind_peek(struct store *s, store_ref ref, unsigned kind,
			store_kind_peek_fn fn, void *ctx)
{
	struct kind_peek k = { .ref = ref, .kind = kind, .fn = fn,
			       .ctx = ctx };
	int rc = peek_run(s, kind_peek_once, &k);

	return rc ? rc : k.out;
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
	struct resolve r = { .path = path };
	char name[STORE_NAME_MAX + 1];
	store_ref at;
	const char *c;
	size_t len;
	int rc = 0;

	if (create && store_readonly(s))
		return -EROFS;
	len = next_name(&path, &c);
	if (!len)
		return -EINVAL;         /* the root holds no value */
	if (!create) {                  /* a lock-free reader */
		rc = peek_run(s, resolve_once, &r);
		if (rc == 0)
			*out = r.ref;
		return rc;
	}
	at = store_root(s);
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

/* Time left until end, in *left: -ETIMEDOUT when none. */
static int time_left(const struct timespec *end, struct timespec *left)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	left->tv_sec = end->tv_sec - now.tv_sec;
	left->tv_nsec = end->tv_nsec - now.tv_nsec;
	if (left->tv_nsec < 0) {
		left->tv_sec--;
		left->tv_nsec += 1000000000;
	}
	return left->tv_sec < 0 ? -ETIMEDOUT : 0;
}

/* How long the next sleep of store_wait may last (NULL: forever): a
 * read-only store cannot ask to be woken, and polls. */
static int next_sleep(const struct store *s, int timeout_ms,
		      const struct timespec *end, struct timespec *t,
		      struct timespec **out)
{
	const struct timespec tick = { .tv_nsec = WAIT_TICK_MS * 1000000L };
	int rc = 0;

	*out = NULL;
	if (timeout_ms >= 0) {
		rc = time_left(end, t);
		*out = t;
	}
	if (rc == 0 && s->readonly &&
	    (!*out || t->tv_sec > 0 || t->tv_nsec > tick.tv_nsec)) {
		*t = tick;
		*out = t;
	}
	return rc;
}

int store_wait(struct store *s, store_ref ref, uint32_t version,
	       int timeout_ms)
{
	struct timespec end, left, *t;
	struct peek p;
	uint32_t *word, cur;
	int rc;

	peek_begin(&p, s, false);
	if (!is_kind(&p, ref, MM_INODE, sizeof(struct mm_inode)))
		return -ESTALE;
	word = &mm_inode(s, ref)->version;
	mm_deadline(CLOCK_MONOTONIC, timeout_ms, &end);
	for (;;) {
		cur = __atomic_load_n(word, __ATOMIC_ACQUIRE);
		if ((cur >> 1) != (version & (UINT32_MAX >> 1)))
			return 0;
		rc = next_sleep(s, timeout_ms, &end, &left, &t);
		if (rc)
			return rc;
		/* ask the writers to wake us (a read-only mapping cannot) */
		if (!s->readonly && !(cur & MM_VERSION_WAITERS) &&
		    !__atomic_compare_exchange_n(word, &cur,
						 cur | MM_VERSION_WAITERS,
						 false, __ATOMIC_ACQ_REL,
						 __ATOMIC_ACQUIRE))
			continue;
		if (!s->readonly)
			cur |= MM_VERSION_WAITERS;
		rc = mm_futex_wait(word, cur, t);
		if (rc == -EINTR)
			return rc;
	}
}

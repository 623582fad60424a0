/* mmfs.c -- libmmfs over the store (see mmfs.h).
 *
 * A handle is a store opened STORE_OPEN_SHARED | STORE_OPEN_LIBRARY
 * (read-only handles: STORE_OPEN_PEEK) plus the directory names are
 * relative to.  Every call goes straight to the store: store_get for
 * lock-free reads, store_resolve and store_write for sets, store_update
 * for counters, store_wait for waits, ring.h for rings.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mmfs.h"
#include "mounts.h"
#include "ring.h"
#include "store.h"

struct mmfs {
	struct store *s;
	char *arena;               /* absolute path of the arena file */
	char *prefix;              /* names are under it ("" or "dir/") */
	int flags;                 /* enum mmfs_attach_flags */
	uint32_t mode;             /* of new files: 0666 less the umask */
	uint32_t uid, gid;         /* of new files: the attacher's euid and
	                              egid (no system call per set) */
	pid_t pid;                 /* the process that attached */
	unsigned forks;            /* `forks` when s was opened */
	pthread_mutex_t lock;      /* guards s and pid across a fork */
};

/* Forks of this process so far: a handle opened before the last one
 * belongs to the parent (store_of).  Counted by a pthread_atfork handler
 * rather than asking getpid(), a system call, at every get. */
static unsigned forks;
static pthread_once_t forks_once = PTHREAD_ONCE_INIT;

static void count_fork(void)
{
	__atomic_add_fetch(&forks, 1, __ATOMIC_RELAXED);
}

static void watch_forks(void)
{
	pthread_atfork(NULL, NULL, count_fork);
}

struct mmfs_ring_reader {
	struct mmfs *m;
	char *name;
	uint64_t pos;              /* virtual offset of the next record */
};

static _Thread_local char attach_error[512];

const char *mmfs_attach_error(void)
{
	return attach_error;
}

/* Say why attaching to what failed: "what: reason". */
static int fail(int rc, const char *what, const char *reason)
{
	snprintf(attach_error, sizeof(attach_error), "%.250s: %.250s", what,
		 reason ? reason : strerror(-rc));
	return rc;
}

/* The arena and prefix of an mmfs mount point or a directory in one. */
static int from_dir(struct mmfs *m, const char *real)
{
	struct mount_ent e;
	size_t n;
	int rc = mounts_find_path(real, &e);

	if (rc)
		return fail(rc, real, NULL);
	if (strcmp(e.fstype, MMFS_FSTYPE) != 0) {
		mount_ent_free(&e);
		return fail(-EINVAL, real, "not an mmfs mount or arena");
	}
	n = strlen(e.point);
	m->arena = strdup(e.source);
	m->prefix = malloc(strlen(real) + 2);
	if (m->prefix) {
		/* real is e.point, or e.point "/" rest: at the mount point
		 * itself there is nothing after it, not even a slash */
		const char *rest = real + n;

		if (*rest == '/')
			rest++;
		sprintf(m->prefix, "%s%s", rest, *rest ? "/" : "");
	}
	mount_ent_free(&e);
	return m->arena && m->prefix ? 0 : -ENOMEM;
}

static int locate(struct mmfs *m, const char *path)
{
	struct stat st;
	char *real;
	int rc;

	if (stat(path, &st) != 0) {
		if (errno == ENOENT && (m->flags & MMFS_ATTACH_CREATE)) {
			m->arena = strdup(path);
			m->prefix = strdup("");
			return m->arena && m->prefix ? 0 : -ENOMEM;
		}
		return fail(-errno, path, NULL);
	}
	real = realpath(path, NULL);
	if (!real)
		return fail(-errno, path, NULL);
	if (S_ISDIR(st.st_mode)) {
		rc = from_dir(m, real);
		free(real);
		return rc;
	}
	m->arena = real;
	m->prefix = strdup("");
	return m->prefix ? 0 : -ENOMEM;
}

static int open_store(struct mmfs *m)
{
	struct store_options o = { .flags = STORE_OPEN_SHARED |
					    STORE_OPEN_LIBRARY };
	char err[256];
	int rc = ring_register();

	if (rc && rc != -EEXIST)
		return rc;
	if (m->flags & MMFS_ATTACH_RDONLY)
		o.flags = STORE_OPEN_PEEK;
	else if (m->flags & MMFS_ATTACH_CREATE)
		o.flags |= STORE_OPEN_CREATE;
	rc = store_open(m->arena, &o, &m->s, err, sizeof(err));
	if (rc) {
		fail(rc, m->arena, err);
		m->s = NULL;
	}
	m->pid = getpid();
	m->forks = __atomic_load_n(&forks, __ATOMIC_RELAXED);
	return rc;
}

int mmfs_attach(const char *path, int flags, struct mmfs **out)
{
	struct mmfs *m = calloc(1, sizeof(*m));
	int rc;

	mode_t mask = umask(0);

	umask(mask);
	pthread_once(&forks_once, watch_forks);
	attach_error[0] = '\0';
	if (!m)
		return -ENOMEM;
	m->flags = flags;
	m->mode = 0666 & ~mask;
	m->uid = geteuid();
	m->gid = getegid();
	pthread_mutex_init(&m->lock, NULL);
	rc = locate(m, path);
	if (rc == 0)
		rc = open_store(m);
	if (rc) {
		mmfs_detach(m);
		return rc;
	}
	*out = m;
	return 0;
}

void mmfs_detach(struct mmfs *m)
{
	if (!m)
		return;
	if (m->s && m->pid == getpid())
		store_close(m->s);
	pthread_mutex_destroy(&m->lock);
	free(m->arena);
	free(m->prefix);
	free(m);
}

/* The store of this process: a child of the process that attached
 * attaches again (the parent's mapping and locks stay the parent's). */
static struct store *store_of(struct mmfs *m)
{
	struct store *s;

	if (m->forks == __atomic_load_n(&forks, __ATOMIC_RELAXED))
		return m->s;
	pthread_mutex_lock(&m->lock);
	if (m->pid != getpid()) {
		store_abandon(m->s);    /* the parent's: drop our copy only */
		if (open_store(m) != 0)
			m->s = NULL;
	}
	m->forks = __atomic_load_n(&forks, __ATOMIC_RELAXED);
	s = m->s;
	pthread_mutex_unlock(&m->lock);
	return s;
}

/* prefix + name, in buf when there is a prefix. */
static const char *full_name(const struct mmfs *m, const char *name,
			     char *buf)
{
	size_t p, n;

	if (!m->prefix[0])
		return name;
	p = strlen(m->prefix);
	n = strlen(name);
	if (p + n >= PATH_MAX)
		return NULL;
	memcpy(buf, m->prefix, p);
	memcpy(buf + p, name, n + 1);
	return buf;
}

ssize_t mmfs_get(struct mmfs *m, const char *name, void *buf, size_t size,
		 uint64_t *version)
{
	struct store *s = store_of(m);
	char space[PATH_MAX];
	const char *path = full_name(m, name, space);
	uint32_t v = 0;
	ssize_t rc;

	if (!s)
		return -ESTALE;
	rc = path ? store_get(s, path, buf, size, &v) : -ENAMETOOLONG;
	if (rc >= 0 && version)
		*version = v;
	return rc;
}

int mmfs_version(struct mmfs *m, const char *name, uint64_t *version)
{
	ssize_t rc = mmfs_get(m, name, NULL, 0, version);

	return rc < 0 ? (int)rc : 0;
}

/* name's file, created as a regular file if create. */
static int find(struct mmfs *m, struct store *s, const char *name,
		bool create, store_ref *ref)
{
	char space[PATH_MAX];
	const char *path = full_name(m, name, space);

	if (!path)
		return -ENAMETOOLONG;
	return store_resolve(s, path, create, m->mode, m->uid, m->gid, ref);
}

int mmfs_set(struct mmfs *m, const char *name, const void *value,
	     size_t len)
{
	struct store *s = store_of(m);
	store_ref ref;
	ssize_t rc;

	if (!s)
		return -ESTALE;
	rc = find(m, s, name, true, &ref);
	if (rc == 0)
		rc = store_write(s, ref, 0, value, len, true);
	return rc < 0 ? (int)rc : 0;
}

struct add_ctx {
	int64_t delta, sum;
};

/* The decimal integer of text[0, len), surrounding blanks allowed. */
static int parse_int(const char *text, size_t len, int64_t *out)
{
	char buf[32], *end;
	size_t i = 0;

	while (len && (text[len - 1] == '\n' || text[len - 1] == ' ' ||
		       text[len - 1] == '\t'))
		len--;
	while (i < len && (text[i] == ' ' || text[i] == '\t'))
		i++;
	if (i == len) {
		*out = 0;
		return 0;
	}
	if (len - i >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, text + i, len - i);
	buf[len - i] = '\0';
	errno = 0;
	*out = strtoll(buf, &end, 10);
	if (*end || end == buf)
		return -EINVAL;
	return errno == ERANGE ? -ERANGE : 0;
}

static ssize_t add_fn(void *ctx, const void *cur, size_t len, void *out,
		      size_t out_size)
{
	struct add_ctx *a = ctx;
	int64_t old;
	int rc = parse_int(cur, len, &old);

	if (rc)
		return rc;
	if (__builtin_add_overflow(old, a->delta, &a->sum))
		return -ERANGE;
	return snprintf(out, out_size, "%" PRId64 "\n", a->sum);
}

int mmfs_add(struct mmfs *m, const char *name, int64_t delta,
	     int64_t *result)
{
	struct store *s = store_of(m);
	struct add_ctx a = { .delta = delta };
	store_ref ref;
	int rc;

	if (!s)
		return -ESTALE;
	rc = find(m, s, name, true, &ref);
	if (rc == 0)
		rc = store_update(s, ref, add_fn, &a, 32);
	if (rc == 0 && result)
		*result = a.sum;
	return rc;
}

int mmfs_wait(struct mmfs *m, const char *name, uint64_t version,
	      int timeout_ms)
{
	struct store *s = store_of(m);
	store_ref ref;
	int rc;

	if (!s)
		return -ESTALE;
	rc = find(m, s, name, false, &ref);
	if (rc == 0)
		rc = store_wait(s, ref, (uint32_t)version, timeout_ms);
	return rc;
}

/* The ring named name; made if missing and named like one. */
static int find_ring(struct mmfs *m, struct store *s, const char *name,
		     bool create, store_ref *ref)
{
	char path[PATH_MAX], space[PATH_MAX], *slash;
	const char *full = full_name(m, name, space);
	store_ref dir = store_root(s);
	struct store_attr a;
	unsigned kind;
	int rc = find(m, s, name, false, ref);

	if (rc == -ENOENT && create && ring_name(name)) {
		if (!full || strlen(full) >= sizeof(path))
			return -ENAMETOOLONG;
		strcpy(path, full);
		slash = strrchr(path, '/');
		if (slash) {
			*slash = '\0';
			rc = store_resolve(s, path, false, 0, 0, 0, &dir);
		} else {
			rc = 0;
		}
		if (rc == 0)
			rc = ring_create(s, dir, slash ? slash + 1 : path,
					 m->mode, m->uid, m->gid, ref, &a);
		if (rc == -EEXIST)
			rc = find(m, s, name, false, ref);
	}
	if (rc == 0)
		rc = store_version(s, *ref, &kind, NULL);
	if (rc == 0 && kind != RING_KIND)
		rc = -EINVAL;
	return rc;
}

int mmfs_append(struct mmfs *m, const char *ring, const void *rec,
		size_t len)
{
	struct store *s = store_of(m);
	store_ref ref;
	ssize_t rc;

	if (!s)
		return -ESTALE;
	rc = find_ring(m, s, ring, true, &ref);
	if (rc == 0)
		rc = ring_append(s, ref, rec, len);
	return rc < 0 ? (int)rc : 0;
}

int mmfs_ring_open(struct mmfs *m, const char *ring,
		   struct mmfs_ring_reader **out)
{
	struct mmfs_ring_reader *r;
	struct store *s = store_of(m);
	store_ref ref;
	int rc;

	if (!s)
		return -ESTALE;
	rc = find_ring(m, s, ring, false, &ref);
	if (rc)
		return rc;
	r = calloc(1, sizeof(*r));
	if (!r || !(r->name = strdup(ring))) {
		free(r);
		return -ENOMEM;
	}
	r->m = m;
	*out = r;
	return 0;
}

ssize_t mmfs_ring_next(struct mmfs_ring_reader *r, void *buf, size_t size,
		       int timeout_ms)
{
	struct store *s = store_of(r->m);
	uint32_t version;
	store_ref ref;
	ssize_t rc;

	if (!s)
		return -ESTALE;
	for (;;) {
		rc = find_ring(r->m, s, r->name, false, &ref);
		if (rc == 0)
			rc = store_version(s, ref, NULL, &version);
		if (rc == 0)
			rc = ring_next(s, ref, &r->pos, buf, size);
		if (rc != 0)
			return rc;
		if (timeout_ms == 0)
			return -ETIMEDOUT;
		/* the version was read before ring_next looked: an append
		 * since then changed it, and the wait returns at once */
		rc = store_wait(s, ref, version, timeout_ms);
		if (rc)
			return rc;
	}
}

void mmfs_ring_close(struct mmfs_ring_reader *r)
{
	if (!r)
		return;
	free(r->name);
	free(r);
}

/* kvbench.c -- the direct-access library's peers, timed (issue 14).
 *
 *   kvbench [OPTIONS] BACKEND TARGET [OP[,OP...]]
 *   kvbench -b          the backends built in, one a line
 *
 * Times, on one backend, what libmmfs (<mmfs.h>) is compared with, on
 * values of -s bytes (default 100), and prints one line per number in
 * mmbench's format, which bench/run reads:
 *
 *   RESULT <metric> <value> <unit>
 *   CHECK <metric> ok|FAIL <detail>
 *
 * Backends, their TARGET, and what each operation is on them ("-": the
 * backend has no such operation and its metric is not printed):
 *
 *   op      tmpfs: a directory   lmdb: an env        redis: a unix    mmfs: mount point
 *                                directory           socket           or arena file
 *   get     open, read, close    read txn, mdb_get   GET              mmfs_get
 *   set     open O_TRUNC,        write txn, put,     SET              mmfs_set
 *           write, close         commit
 *   add     flock, pread,        -                   INCRBY           mmfs_add
 *           pwrite, unlock
 *   wait    inotify IN_MODIFY,   -                   -                mmfs_wait,
 *           then pread                                                mmfs_get
 *   append  write(2) on an       -                   -                mmfs_append
 *           O_APPEND fd
 *   append@P  the same by -P     -                   -                the same by -P
 *           writers, read back                                        writers, read
 *                                                                     with mmfs_ring_*
 *   mem     -                    -                   -                attach, get (see
 *                                                                     mmfs_mem)
 *
 * Metrics (OPs select them; default: every one the backend has but mem):
 *   get, set   ops/s, one process, on one key
 *   add@P      ops/s of -P processes (default 4) together, each adding 1
 *              to one decimal counter over a connection of its own; then
 *              the counter is read back: CHECK add@P says whether it
 *              holds every add made (no add lost)
 *   wait-p50, wait-p99
 *              ns: median and 99th percentile of a ping-pong round trip
 *              between two processes.  Each waits for its key to change,
 *              reads the value (the number of the round) and answers on
 *              the other key; a round trip is two notifications and two
 *              reads.  tmpfs answers with a pwrite(2) over the value on
 *              an open descriptor (an open O_TRUNC would wake the waiter
 *              twice, once on an empty file); mmfs with mmfs_set
 *   append     records/s of -s bytes, one process, to one ring
 *              (kvbench.ring; on tmpfs a plain file that grows)
 *   append@P   records/s of -P writers together, each appending exactly
 *              -R (default 100,000) numbered records to one ring
 *              (kvbench.par.ring), emptied first and, on mmfs, given the
 *              capacity to keep them all (through the mount: TARGET must
 *              be a mount point); then the ring is read back: CHECK
 *              append@P says whether every record is whole, each
 *              writer's in order, and none lost (evicted=0)
 *   mem-*      mmfs only, with OP mem: the memory of a process that
 *              attaches to an arena holding -M MiB (default 512) and gets
 *              one small value (VmRSS before, after attach, after get,
 *              KiB; VmSize growth; the attach's time), once through the
 *              mount (mem-served-*) and once on an arena file nobody else
 *              has open (mem-alone-*: the attacher is its first owner)
 *
 * Timed phases run a warm-up (a tenth of -t, at most 0.1 s), then -t
 * seconds (default 1).  With -n COUNT, add is counted instead: each
 * process makes exactly COUNT adds, the metric is add@PxCOUNT, and the
 * rate is all of them over the wall time from the start signal to the
 * last process's end (issue 14's "4 x 250,000" is -P 4 -n 250000).
 *
 * Only the tmpfs backend is always built; lmdb and redis need liblmdb
 * and libhiredis at meson setup, mmfs needs libmmfs (bench/meson.build).
 * Not a test: bench/run --only kv runs it.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/inotify.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#ifdef KV_HAVE_LMDB
#include <lmdb.h>
#endif
#ifdef KV_HAVE_REDIS
#include <hiredis/hiredis.h>
#endif
#ifdef KV_HAVE_MMFS
#include <mmfs.h>
#endif

#define MAX_VALUE 4096
#define MAX_PROCS 64
#define COUNTER_TEXT 32         /* room for an int64 in decimal */
#define WAIT_TIMEOUT_MS 10000   /* a peer that long silent is gone */
#define RTT_SAMPLES (1u << 20)
#define CHECK_EVERY 16          /* ops between two looks at the clock */

#define KEY_GET "kvbench.get"
#define KEY_SET "kvbench.set"
#define KEY_ADD "kvbench.add"
#define KEY_PING "kvbench.ping"
#define KEY_PONG "kvbench.pong"
#define KEY_RING "kvbench.ring"
#define KEY_RING_P "kvbench.par.ring"
#define KEY_MEM_SMALL "kvbench.mem/small"

/*
 * A backend.  Every operation returns 0 (get and await: the value's
 * length) or -errno; a NULL operation is one the backend does not have.
 * open makes one connection (a handle) for the calling process: handles
 * are never shared between processes, and each forked client opens its
 * own.  watch and await go together: after watch(key), each await
 * returns once the key has changed since the previous one (or since
 * watch), with the value it then has.
 */
struct backend {
	const char *name;
	int (*open)(const char *target, void **out);
	void (*close)(void *h);
	ssize_t (*get)(void *h, const char *key, void *buf, size_t size);
	int (*set)(void *h, const char *key, const void *val, size_t len);
	int (*add)(void *h, const char *key, int64_t delta, int64_t *result);
	int (*watch)(void *h, const char *key);
	ssize_t (*await)(void *h, void *buf, size_t size);
	int (*poke)(void *h, const char *key, const void *val, size_t len);
	int (*append)(void *h, const char *ring, const void *rec, size_t len);
	void (*drop)(void *h, const char *key);    /* after a phase; may be NULL */
	/* append@P: make ring empty and able to retain bytes of records (0:
	 * remove it); 1 if it will retain them all, 0 if it may evict. */
	int (*ring_prep)(void *h, const char *ring, uint64_t bytes);
	/* Every retained record of ring, oldest first, to fn (which stops
	 * the scan with a non-zero return). */
	int (*ring_scan)(void *h, const char *ring,
			 int (*fn)(void *ctx, const char *rec, size_t len),
			 void *ctx);
	int (*mem)(void);       /* the memory check: mmfs only */
};

struct bench {
	const struct backend *be;
	const char *target;
	const char *ops;        /* OP,OP...; NULL: all */
	double secs;            /* -t */
	int procs;              /* -P */
	long count;             /* -n: adds per process; 0: timed */
	long records;           /* -R: append@P records per writer */
	long mem_mib;           /* -M: mem's data, MiB */
	const char *mem_arena;  /* -A: mem's arena file */
	size_t vlen;            /* -s */
	const char *op;         /* the phase running, for messages */
};

static struct bench B = { .secs = 1.0, .procs = 4, .vlen = 100,
			  .records = 100000, .mem_mib = 512 };

static char value[MAX_VALUE];   /* what set, poke and append write */
static char got[MAX_VALUE];     /* what get and await read */

/* ---- small helpers ---- */

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Print "kvbench: BACKEND OP: what: strerror(-rc)" and return -1. */
__attribute__((format(printf, 2, 3)))
static int fail(int rc, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "kvbench: %s %s: ", B.be ? B.be->name : "-",
		B.op ? B.op : "setup");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, ": %s\n", rc ? strerror(-rc) : "unexpected result");
	return -1;
}

static void result(const char *metric, double x, const char *unit)
{
	printf("RESULT %s %.6g %s\n", metric, x, unit);
	fflush(stdout);
}

static double warmup_secs(void)
{
	return B.secs / 10 < 0.1 ? B.secs / 10 : 0.1;
}

/* A value of B.vlen bytes: `tag` (a decimal number, say) padded with
 * dots and ended by a newline. */
static void fill_value(char *buf, const char *tag)
{
	size_t n = strlen(tag);

	memset(buf, '.', B.vlen);
	memcpy(buf, tag, n < B.vlen ? n : B.vlen);
	buf[B.vlen - 1] = '\n';
}

static int neg_errno(void)
{
	return errno ? -errno : -EIO;
}

/* ---- tmpfs: files, flock, inotify ---- */

/* A directory's files.  The descriptors kept open are the ones issue 14's
 * peers keep open: the counter's (flock needs one), the watched file's,
 * the answered file's and the append target's; get and set open and
 * close each time. */
struct tmpfs_h {
	char dir[4096];
	int counter_fd, ino_fd, watched_fd, poke_fd, ring_fd;
	char counter_key[64], poke_key[64], ring_key[64];
};

static void tmpfs_path(const struct tmpfs_h *t, const char *key, char *buf,
		       size_t size)
{
	snprintf(buf, size, "%s/%s", t->dir, key);
}

static int tmpfs_open(const char *target, void **out)
{
	struct tmpfs_h *t = calloc(1, sizeof(*t));
	struct stat st;

	if (!t)
		return -ENOMEM;
	if (stat(target, &st) != 0 || !S_ISDIR(st.st_mode)) {
		free(t);
		return errno ? -errno : -ENOTDIR;
	}
	snprintf(t->dir, sizeof(t->dir), "%s", target);
	t->counter_fd = t->ino_fd = t->watched_fd = t->poke_fd = -1;
	t->ring_fd = -1;
	*out = t;
	return 0;
}

static void close_fd(int fd)
{
	if (fd >= 0)
		close(fd);
}

static void tmpfs_close(void *h)
{
	struct tmpfs_h *t = h;

	if (!t)
		return;
	close_fd(t->counter_fd);
	close_fd(t->ino_fd);
	close_fd(t->watched_fd);
	close_fd(t->poke_fd);
	close_fd(t->ring_fd);
	free(t);
}

/* The descriptor kept for key in *fd (opened with flags, or reopened if
 * it was another key's). */
static int tmpfs_cached_fd(struct tmpfs_h *t, int *fd, char *cached,
			   const char *key, int flags)
{
	char path[4200];

	if (*fd >= 0 && strcmp(cached, key) == 0)
		return *fd;
	close_fd(*fd);
	tmpfs_path(t, key, path, sizeof(path));
	*fd = open(path, flags | O_CLOEXEC, 0644);
	if (*fd < 0)
		return neg_errno();
	snprintf(cached, 64, "%s", key);
	return *fd;
}

static ssize_t tmpfs_get(void *h, const char *key, void *buf, size_t size)
{
	char path[4200];
	ssize_t n;
	int fd, rc;

	tmpfs_path(h, key, path, sizeof(path));
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return neg_errno();
	n = read(fd, buf, size);
	rc = n < 0 ? neg_errno() : 0;
	close(fd);
	return rc ? rc : n;
}

static int tmpfs_set(void *h, const char *key, const void *val, size_t len)
{
	char path[4200];
	ssize_t n;
	int fd, rc;

	tmpfs_path(h, key, path, sizeof(path));
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return neg_errno();
	n = write(fd, val, len);
	rc = n < 0 ? neg_errno() : (size_t)n == len ? 0 : -EIO;
	if (close(fd) != 0 && rc == 0)
		rc = neg_errno();
	return rc;
}

/* Under the lock: read the decimal text, write the sum over it (and cut
 * what is left of a longer old text). */
static int counter_update(int fd, int64_t delta, int64_t *result)
{
	char text[COUNTER_TEXT + 1];
	ssize_t n = pread(fd, text, COUNTER_TEXT, 0);
	int64_t v;
	int len;

	if (n < 0)
		return neg_errno();
	text[n] = '\0';
	v = strtoll(text, NULL, 10) + delta;
	len = snprintf(text, sizeof(text), "%" PRId64, v);
	if (pwrite(fd, text, (size_t)len, 0) != len)
		return neg_errno();
	if (len < n && ftruncate(fd, len) != 0)
		return neg_errno();
	if (result)
		*result = v;
	return 0;
}

static int tmpfs_add(void *h, const char *key, int64_t delta, int64_t *result)
{
	struct tmpfs_h *t = h;
	int fd = tmpfs_cached_fd(t, &t->counter_fd, t->counter_key, key, O_RDWR);
	int rc;

	if (fd < 0)
		return fd;
	if (flock(fd, LOCK_EX) != 0)
		return neg_errno();
	rc = counter_update(fd, delta, result);
	if (flock(fd, LOCK_UN) != 0 && rc == 0)
		rc = neg_errno();
	return rc;
}

static int tmpfs_watch(void *h, const char *key)
{
	struct tmpfs_h *t = h;
	char path[4200];

	tmpfs_path(t, key, path, sizeof(path));
	t->ino_fd = inotify_init1(IN_CLOEXEC);
	if (t->ino_fd < 0)
		return neg_errno();
	if (inotify_add_watch(t->ino_fd, path, IN_MODIFY) < 0)
		return neg_errno();
	t->watched_fd = open(path, O_RDONLY | O_CLOEXEC);
	return t->watched_fd < 0 ? neg_errno() : 0;
}

/* Block (at most WAIT_TIMEOUT_MS) for the watched file's next IN_MODIFY,
 * take every event queued, then read the value. */
static ssize_t tmpfs_await(void *h, void *buf, size_t size)
{
	struct tmpfs_h *t = h;
	char ev[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	struct pollfd p = { .fd = t->ino_fd, .events = POLLIN };
	ssize_t n;
	int rc = poll(&p, 1, WAIT_TIMEOUT_MS);

	if (rc < 0)
		return neg_errno();
	if (rc == 0)
		return -ETIMEDOUT;
	if (read(t->ino_fd, ev, sizeof(ev)) <= 0)
		return neg_errno();
	n = pread(t->watched_fd, buf, size, 0);
	return n < 0 ? neg_errno() : n;
}

static int tmpfs_poke(void *h, const char *key, const void *val, size_t len)
{
	struct tmpfs_h *t = h;
	int fd = tmpfs_cached_fd(t, &t->poke_fd, t->poke_key, key, O_WRONLY);

	if (fd < 0)
		return fd;
	return pwrite(fd, val, len, 0) == (ssize_t)len ? 0 : neg_errno();
}

static int tmpfs_append(void *h, const char *ring, const void *rec, size_t len)
{
	struct tmpfs_h *t = h;
	int fd = tmpfs_cached_fd(t, &t->ring_fd, t->ring_key, ring,
				 O_WRONLY | O_APPEND | O_CREAT);

	if (fd < 0)
		return fd;
	return write(fd, rec, len) == (ssize_t)len ? 0 : neg_errno();
}

static void tmpfs_drop(void *h, const char *key)
{
	char path[4200];

	tmpfs_path(h, key, path, sizeof(path));
	unlink(path);
}

/* A plain file retains every record. */
static int tmpfs_ring_prep(void *h, const char *ring, uint64_t bytes)
{
	struct tmpfs_h *t = h;

	close_fd(t->ring_fd);
	t->ring_fd = -1;
	tmpfs_drop(h, ring);
	return 1;
}

/* The file, cut in records of B.vlen bytes; a piece left at the end is
 * given as a short record. */
static int tmpfs_ring_scan(void *h, const char *ring,
			   int (*fn)(void *ctx, const char *rec, size_t len),
			   void *ctx)
{
	char path[4200], *buf = malloc(1 << 20);
	size_t have = 0, off;
	ssize_t n = 0;
	int fd, rc = 0;

	tmpfs_path(h, ring, path, sizeof(path));
	if (!buf)
		return -ENOMEM;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		free(buf);
		return neg_errno();
	}
	while (rc == 0 && (n = read(fd, buf + have, (1 << 20) - have)) > 0) {
		have += (size_t)n;
		for (off = 0; rc == 0 && have - off >= B.vlen; off += B.vlen)
			rc = fn(ctx, buf + off, B.vlen);
		memmove(buf, buf + off, have - off);
		have -= off;
	}
	if (n < 0)
		rc = neg_errno();
	if (rc == 0 && have)
		rc = fn(ctx, buf, have);
	close(fd);
	free(buf);
	return rc;
}

/* ---- lmdb: one env, its main database ---- */

#ifdef KV_HAVE_LMDB
/* The env of TARGET (a directory), opened with issue 14's flags; one read
 * transaction handle, renewed for each get and reset after it (LMDB's way
 * to run many short read transactions without an allocation each). */
struct lmdb_h {
	MDB_env *env;
	MDB_dbi dbi;
	MDB_txn *rtxn;
};

#define LMDB_MAP_SIZE (64u << 20)

static int lmdb_err(int rc)
{
	if (rc == 0)
		return 0;
	if (rc > 0)
		return -rc;
	fprintf(stderr, "kvbench: lmdb: %s\n", mdb_strerror(rc));
	return rc == MDB_NOTFOUND ? -ENOENT : -EIO;
}

static void lmdb_close(void *h)
{
	struct lmdb_h *l = h;

	if (!l)
		return;
	if (l->rtxn)
		mdb_txn_abort(l->rtxn);
	if (l->env)
		mdb_env_close(l->env);
	free(l);
}

static int lmdb_open(const char *target, void **out)
{
	struct lmdb_h *l = calloc(1, sizeof(*l));
	MDB_txn *txn;
	int rc;

	if (!l)
		return -ENOMEM;
	rc = mdb_env_create(&l->env);
	if (rc == 0)
		rc = mdb_env_set_mapsize(l->env, LMDB_MAP_SIZE);
	if (rc == 0)
		rc = mdb_env_open(l->env, target, MDB_NOSYNC | MDB_NOMETASYNC |
				  MDB_WRITEMAP, 0644);
	if (rc == 0)
		rc = mdb_txn_begin(l->env, NULL, 0, &txn);
	if (rc != 0)
		goto out;
	rc = mdb_dbi_open(txn, NULL, 0, &l->dbi);
	if (rc == 0)
		rc = mdb_txn_commit(txn);
	else
		mdb_txn_abort(txn);
out:
	if (rc != 0) {
		lmdb_close(l);
		return lmdb_err(rc);
	}
	*out = l;
	return 0;
}

static MDB_val lmdb_key(const char *key)
{
	return (MDB_val){ .mv_size = strlen(key), .mv_data = (void *)key };
}

static ssize_t lmdb_get(void *h, const char *key, void *buf, size_t size)
{
	struct lmdb_h *l = h;
	MDB_val k = lmdb_key(key), v;
	int rc;

	rc = l->rtxn ? mdb_txn_renew(l->rtxn) :
		mdb_txn_begin(l->env, NULL, MDB_RDONLY, &l->rtxn);
	if (rc != 0)
		return lmdb_err(rc);
	rc = mdb_get(l->rtxn, l->dbi, &k, &v);
	if (rc == 0 && v.mv_size > size)
		rc = ERANGE;
	if (rc == 0)
		memcpy(buf, v.mv_data, v.mv_size);
	mdb_txn_reset(l->rtxn);
	return rc ? lmdb_err(rc) : (ssize_t)v.mv_size;
}

static int lmdb_set(void *h, const char *key, const void *val, size_t len)
{
	struct lmdb_h *l = h;
	MDB_val k = lmdb_key(key), v = { .mv_size = len, .mv_data = (void *)val };
	MDB_txn *txn;
	int rc = mdb_txn_begin(l->env, NULL, 0, &txn);

	if (rc != 0)
		return lmdb_err(rc);
	rc = mdb_put(txn, l->dbi, &k, &v, 0);
	if (rc != 0) {
		mdb_txn_abort(txn);
		return lmdb_err(rc);
	}
	return lmdb_err(mdb_txn_commit(txn));
}
#endif

/* ---- redis: one connection, one command at a time ---- */

#ifdef KV_HAVE_REDIS
/* A connection to the unix socket TARGET; every command waits for its
 * reply before the next is sent (no pipelining). */
static int redis_open(const char *target, void **out)
{
	redisContext *c = redisConnectUnix(target);

	if (!c)
		return -ENOMEM;
	if (c->err) {
		fprintf(stderr, "kvbench: redis: %s: %s\n", target, c->errstr);
		redisFree(c);
		return -ECONNREFUSED;
	}
	*out = c;
	return 0;
}

static void redis_close(void *h)
{
	if (h)
		redisFree(h);
}

/* The reply of a command, or NULL (the connection's error printed).  fmt
 * is hiredis's, not printf's: %b takes a pointer and a length. */
static redisReply *redis_cmd(redisContext *c, const char *fmt, ...)
{
	redisReply *r;
	va_list ap;

	va_start(ap, fmt);
	r = redisvCommand(c, fmt, ap);
	va_end(ap);
	if (!r)
		fprintf(stderr, "kvbench: redis: %s\n", c->errstr);
	return r;
}

static ssize_t redis_get(void *h, const char *key, void *buf, size_t size)
{
	redisReply *r = redis_cmd(h, "GET %s", key);
	ssize_t rc;

	if (!r)
		return -EIO;
	if (r->type == REDIS_REPLY_NIL)
		rc = -ENOENT;
	else if (r->type != REDIS_REPLY_STRING)
		rc = -EPROTO;
	else if (r->len > size)
		rc = -ERANGE;
	else
		rc = (ssize_t)r->len;
	if (rc > 0)
		memcpy(buf, r->str, r->len);
	freeReplyObject(r);
	return rc;
}

static int redis_set(void *h, const char *key, const void *val, size_t len)
{
	redisReply *r = redis_cmd(h, "SET %s %b", key, val, len);
	int rc;

	if (!r)
		return -EIO;
	rc = r->type == REDIS_REPLY_STATUS ? 0 : -EPROTO;
	freeReplyObject(r);
	return rc;
}

static int redis_add(void *h, const char *key, int64_t delta, int64_t *result)
{
	redisReply *r = redis_cmd(h, "INCRBY %s %" PRId64, key, delta);
	int rc;

	if (!r)
		return -EIO;
	rc = r->type == REDIS_REPLY_INTEGER ? 0 : -EPROTO;
	if (rc == 0 && result)
		*result = r->integer;
	freeReplyObject(r);
	return rc;
}
#endif

/* ---- mmfs: libmmfs, the arena mapped ---- */

#ifdef KV_HAVE_MMFS
/* An attachment to TARGET; for wait, the watched key and the version of
 * its value last read. */
struct mmfs_h {
	struct mmfs *m;
	char target[4096];
	char watched[64];
	uint64_t version;
};

static int mmfs_open_h(const char *target, void **out)
{
	struct mmfs_h *h = calloc(1, sizeof(*h));
	int rc;

	if (!h)
		return -ENOMEM;
	rc = mmfs_attach(target, 0, &h->m);
	if (rc != 0) {
		free(h);
		return rc;
	}
	snprintf(h->target, sizeof(h->target), "%s", target);
	*out = h;
	return 0;
}

static void mmfs_close_h(void *p)
{
	struct mmfs_h *h = p;

	if (!h)
		return;
	mmfs_detach(h->m);
	free(h);
}

static ssize_t mmfs_get_h(void *p, const char *key, void *buf, size_t size)
{
	return mmfs_get(((struct mmfs_h *)p)->m, key, buf, size, NULL);
}

static int mmfs_set_h(void *p, const char *key, const void *val, size_t len)
{
	return mmfs_set(((struct mmfs_h *)p)->m, key, val, len);
}

static int mmfs_add_h(void *p, const char *key, int64_t delta, int64_t *result)
{
	return mmfs_add(((struct mmfs_h *)p)->m, key, delta, result);
}

static int mmfs_watch_h(void *p, const char *key)
{
	struct mmfs_h *h = p;
	char one;
	ssize_t n;

	snprintf(h->watched, sizeof(h->watched), "%s", key);
	n = mmfs_get(h->m, key, &one, 0, &h->version);
	return n < 0 ? (int)n : 0;
}

static ssize_t mmfs_await_h(void *p, void *buf, size_t size)
{
	struct mmfs_h *h = p;
	int rc = mmfs_wait(h->m, h->watched, h->version, WAIT_TIMEOUT_MS);

	if (rc != 0)
		return rc;
	return mmfs_get(h->m, h->watched, buf, size, &h->version);
}

/* libmmfs appends to a ring; it may not create one.  If it says ENOENT
 * and TARGET is a mount point, the ring is created there once. */
static int mmfs_append_h(void *p, const char *ring, const void *rec, size_t len)
{
	struct mmfs_h *h = p;
	char path[4200];
	int rc = mmfs_append(h->m, ring, rec, len), fd;

	if (rc != -ENOENT)
		return rc;
	snprintf(path, sizeof(path), "%s/%s", h->target, ring);
	fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0)
		return rc;
	close(fd);
	return mmfs_append(h->m, ring, rec, len);
}

#define RING_CAPACITY_MAX 2147483647ULL  /* ring.h: 2 GiB - 1 */

/* libmmfs can neither remove a ring nor size one: both go through the
 * mount (unlink, and the xattr user.mmfs.capacity), so TARGET must be a
 * mount point (or a directory in one). */
static int mmfs_ring_prep_h(void *p, const char *ring, uint64_t bytes)
{
	struct mmfs_h *h = p;
	char path[4200], cap[32];
	struct stat st;
	int fd;

	if (stat(h->target, &st) != 0 || !S_ISDIR(st.st_mode)) {
		fprintf(stderr, "kvbench: mmfs: append@P skipped: it needs "
			"a mount point, not %s (the ring is emptied and sized "
			"through it)\n", h->target);
		return -EOPNOTSUPP;
	}
	snprintf(path, sizeof(path), "%s/%s", h->target, ring);
	if (unlink(path) != 0 && errno != ENOENT)
		return neg_errno();
	if (bytes == 0)
		return 0;
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0)
		return neg_errno();
	close(fd);
	if (bytes < 64)
		bytes = 64;
	snprintf(cap, sizeof(cap), "%llu", (unsigned long long)
		 (bytes < RING_CAPACITY_MAX ? bytes : RING_CAPACITY_MAX));
	if (setxattr(path, "user.mmfs.capacity", cap, strlen(cap), 0) != 0)
		return neg_errno();
	return bytes <= RING_CAPACITY_MAX;
}

/* The records, read with libmmfs's ring reader. */
static int mmfs_ring_scan_h(void *p, const char *ring,
			    int (*fn)(void *ctx, const char *rec, size_t len),
			    void *ctx)
{
	struct mmfs_h *h = p;
	struct mmfs_ring_reader *r;
	char buf[MAX_VALUE];
	ssize_t n;
	int rc = mmfs_ring_open(h->m, ring, &r);

	if (rc != 0)
		return rc;
	while (rc == 0 && (n = mmfs_ring_next(r, buf, sizeof(buf), 0)) >= 0)
		rc = fn(ctx, buf, (size_t)n);
	mmfs_ring_close(r);
	if (rc == 0 && n != -ETIMEDOUT)
		rc = (int)n;
	return rc;
}

/* The process's resident and mapped memory, KiB, from /proc/self/status. */
struct mem_now {
	long rss, anon, file, shmem, vm;
};

static int mem_read(struct mem_now *m)
{
	static const struct { const char *key; size_t at; } keys[] = {
		{ "VmRSS:", offsetof(struct mem_now, rss) },
		{ "RssAnon:", offsetof(struct mem_now, anon) },
		{ "RssFile:", offsetof(struct mem_now, file) },
		{ "RssShmem:", offsetof(struct mem_now, shmem) },
		{ "VmSize:", offsetof(struct mem_now, vm) },
	};
	FILE *f = fopen("/proc/self/status", "re");
	char line[256];

	if (!f)
		return neg_errno();
	memset(m, 0, sizeof(*m));
	while (fgets(line, sizeof(line), f))
		for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
			if (strncmp(line, keys[i].key, strlen(keys[i].key)) == 0)
				*(long *)((char *)m + keys[i].at) =
					atol(line + strlen(keys[i].key));
	fclose(f);
	return 0;
}

/* The filler: B.mem_mib values of 1 MiB under kvbench.mem/, then the
 * small value, written last, in the arena at `where` (made if it is a
 * missing arena file: 1 GiB cap). */
static void mem_fill(const char *where)
{
	size_t big = 1 << 20;
	char *v = malloc(big), name[64];
	struct mmfs *m;
	int rc = mmfs_attach(where, MMFS_ATTACH_CREATE, &m);

	if (rc != 0 || !v) {
		fprintf(stderr, "kvbench: mmfs mem: attach %s: %s\n", where,
			rc ? mmfs_attach_error() : "malloc");
		_exit(1);
	}
	memset(v, 'x', big);
	for (long i = 0; i < B.mem_mib; i++) {
		snprintf(name, sizeof(name), "kvbench.mem/%05ld", i);
		v[0] = (char)('a' + i % 26);
		rc = mmfs_set(m, name, v, big);
		if (rc != 0) {
			fail(rc, "set %s", name);
			_exit(1);
		}
	}
	rc = mmfs_set(m, KEY_MEM_SMALL, value, B.vlen);
	if (rc != 0) {
		fail(rc, "set %s", KEY_MEM_SMALL);
		_exit(1);
	}
	mmfs_detach(m);
	_exit(0);
}

static const char *mem_tag;     /* the metrics' prefix: mem-served, ... */

static void mem_result(const char *what, double x, const char *unit)
{
	char metric[64];

	snprintf(metric, sizeof(metric), "%s-%s", mem_tag, what);
	result(metric, x, unit);
}

/* The measurer, a new process: its memory before attaching to `where`,
 * after, and after one get of the small value; and the attach's time. */
static void mem_measure(const char *where)
{
	struct mem_now m0, m1, m2;
	struct mmfs *m;
	double t0, t1;
	ssize_t n;
	int rc = mem_read(&m0);

	t0 = now();
	if (rc == 0)
		rc = mmfs_attach(where, 0, &m);
	t1 = now();
	if (rc == 0)
		rc = mem_read(&m1);
	if (rc != 0) {
		fail(rc, "attach %s", where);
		_exit(1);
	}
	n = mmfs_get(m, KEY_MEM_SMALL, got, sizeof(got), NULL);
	if (mem_read(&m2) != 0 || n != (ssize_t)B.vlen ||
	    memcmp(got, value, B.vlen) != 0) {
		fail(n < 0 ? (int)n : 0, "get %s", KEY_MEM_SMALL);
		_exit(1);
	}
	mem_result("rss-before", (double)m0.rss, "KiB");
	mem_result("rss-attach", (double)m1.rss, "KiB");
	mem_result("rss-get", (double)m2.rss, "KiB");
	mem_result("shmem-get", (double)m2.shmem, "KiB");
	mem_result("mapped", (double)(m1.vm - m0.vm), "KiB");
	mem_result("attach-time", (t1 - t0) * 1e9, "ns");
	mmfs_detach(m);
	_exit(0);
}

static int mem_child(void (*fn)(const char *), const char *where)
{
	int status;
	pid_t pid = fork();

	if (pid < 0)
		return fail(neg_errno(), "fork");
	if (pid == 0)
		fn(where);
	if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) ||
	    WEXITSTATUS(status) != 0)
		return -1;
	return 0;
}

/* Remove the filler's files through the mount. */
static void mem_unfill(const char *dir)
{
	char path[4200];

	for (long i = 0; i < B.mem_mib; i++) {
		snprintf(path, sizeof(path), "%s/kvbench.mem/%05ld", dir, i);
		unlink(path);
	}
	snprintf(path, sizeof(path), "%s/%s", dir, KEY_MEM_SMALL);
	unlink(path);
	snprintf(path, sizeof(path), "%s/kvbench.mem", dir);
	rmdir(path);
}

/*
 * mem: does attaching copy the arena, or map more of it than it reads?
 * One process writes -M MiB of data (1 MiB values) and a small value;
 * another, new, attaches and gets the small value, and says how much of
 * it is resident at each step (VmRSS, KiB), how much it mapped, and how
 * long the attach took.  Twice:
 *   mem-served-*  through TARGET, when it is a mount point (the arena its
 *                 daemon serves: the attacher is not alone); the files
 *                 are removed through the mount afterwards
 *   mem-alone-*   a new arena file that nobody serves (-A, default
 *                 /dev/shm/kvbench.PID.arena, never one that exists; 1
 *                 GiB cap), so the attacher is its first owner; removed
 *                 afterwards
 */
static int mmfs_mem(void)
{
	char path[4200];
	struct stat st;
	int rc = 0;

	result("mem-data", (double)B.mem_mib, "MiB");
	if (stat(B.target, &st) == 0 && S_ISDIR(st.st_mode)) {
		mem_tag = "mem-served";
		rc = mem_child(mem_fill, B.target);
		if (rc == 0)
			rc = mem_child(mem_measure, B.target);
		mem_unfill(B.target);
	}
	if (B.mem_arena)
		snprintf(path, sizeof(path), "%s", B.mem_arena);
	else
		snprintf(path, sizeof(path), "/dev/shm/kvbench.%d.arena",
			 (int)getpid());
	if (lstat(path, &st) == 0 || errno != ENOENT)
		return fail(-EEXIST, "%s", path);
	mem_tag = "mem-alone";
	if (mem_child(mem_fill, path) != 0) {
		rc = -1;
	} else if (stat(path, &st) != 0) {
		rc = fail(neg_errno(), "stat %s", path);
	} else {
		result("mem-alone-arena-file", (double)st.st_size / 1048576,
		       "MiB");
		if (mem_child(mem_measure, path) != 0)
			rc = -1;
	}
	unlink(path);
	return rc;
}
#endif

/* ---- the backends ---- */

static const struct backend backends[] = {
	{ .name = "tmpfs", .open = tmpfs_open, .close = tmpfs_close,
	  .get = tmpfs_get, .set = tmpfs_set, .add = tmpfs_add,
	  .watch = tmpfs_watch, .await = tmpfs_await, .poke = tmpfs_poke,
	  .append = tmpfs_append, .drop = tmpfs_drop,
	  .ring_prep = tmpfs_ring_prep, .ring_scan = tmpfs_ring_scan },
#ifdef KV_HAVE_LMDB
	{ .name = "lmdb", .open = lmdb_open, .close = lmdb_close,
	  .get = lmdb_get, .set = lmdb_set },
#endif
#ifdef KV_HAVE_REDIS
	{ .name = "redis", .open = redis_open, .close = redis_close,
	  .get = redis_get, .set = redis_set, .add = redis_add },
#endif
#ifdef KV_HAVE_MMFS
	{ .name = "mmfs", .open = mmfs_open_h, .close = mmfs_close_h,
	  .get = mmfs_get_h, .set = mmfs_set_h, .add = mmfs_add_h,
	  .watch = mmfs_watch_h, .await = mmfs_await_h, .poke = mmfs_set_h,
	  .append = mmfs_append_h, .ring_prep = mmfs_ring_prep_h,
	  .ring_scan = mmfs_ring_scan_h, .mem = mmfs_mem },
#endif
};

#define N_BACKENDS (sizeof(backends) / sizeof(backends[0]))

/* ---- timed phases ---- */

/* One operation of a phase: i is its number. */
typedef int (*op_fn)(void *h, uint64_t i);

/* Run fn until secs have passed, from op *i on; the time it took. */
static int run_for(op_fn fn, void *h, double secs, uint64_t *i, double *took)
{
	double t0 = now(), t = t0;

	while (t - t0 < secs) {
		for (int k = 0; k < CHECK_EVERY; k++)
			if (fn(h, (*i)++) != 0)
				return -1;
		t = now();
	}
	*took = t - t0;
	return 0;
}

/* Warm up, then time fn; print metric in unit. */
static int run_phase(const char *metric, const char *unit, op_fn fn, void *h)
{
	uint64_t i = 0, start;
	double secs;

	if (run_for(fn, h, warmup_secs(), &i, &secs) != 0)
		return -1;
	start = i;
	if (run_for(fn, h, B.secs, &i, &secs) != 0)
		return -1;
	result(metric, (double)(i - start) / secs, unit);
	return 0;
}

static int op_get(void *h, uint64_t i)
{
	ssize_t n = B.be->get(h, KEY_GET, got, sizeof(got));

	if (n == (ssize_t)B.vlen)
		return 0;
	return fail(n < 0 ? (int)n : 0, "%s: %zd bytes", KEY_GET, n);
}

static int op_set(void *h, uint64_t i)
{
	int rc = B.be->set(h, KEY_SET, value, B.vlen);

	return rc ? fail(rc, "%s", KEY_SET) : 0;
}

static int op_append(void *h, uint64_t i)
{
	int rc = B.be->append(h, KEY_RING, value, B.vlen);

	return rc ? fail(rc, "%s", KEY_RING) : 0;
}

/* A phase in this process, on a handle of its own: setup (if any), then
 * the timed op. */
static int local_phase(const char *metric, const char *unit, op_fn fn,
		       const char *setup_key)
{
	void *h = NULL;
	int rc = B.be->open(B.target, &h);

	if (rc != 0)
		return fail(rc, "open %s", B.target);
	if (setup_key) {
		rc = B.be->set(h, setup_key, value, B.vlen);
		if (rc != 0) {
			fail(rc, "set %s", setup_key);
			goto out;
		}
	}
	rc = run_phase(metric, unit, fn, h);
out:
	B.be->close(h);
	return rc;
}

/* Set key to len bytes of val, on a handle of this process's own. */
static int local_set(const char *key, const char *val, size_t len)
{
	void *h = NULL;
	int rc = B.be->open(B.target, &h);

	if (rc != 0)
		return fail(rc, "open %s", B.target);
	rc = B.be->set(h, key, val, len);
	B.be->close(h);
	return rc ? fail(rc, "set %s", key) : 0;
}

/* ---- forked phases: P processes, one key ---- */

/* What each client of a forked phase reports (in a shared mapping). */
struct client_out {
	uint64_t ops;           /* all of them, warm-up included */
	uint64_t timed;         /* in the timed part */
	double t0, t1;          /* the timed part, CLOCK_MONOTONIC */
	int err;
};

/* A forked phase: each of B.procs clients opens a handle, runs init
 * (may be NULL) with its number, then op, timed (count 0: a warm-up,
 * then B.secs) or exactly count times. */
struct forked {
	op_fn op;
	int (*init)(void *h, int k);
	long count;
};

/* Client k: open, init, say ready, wait for go, run. */
static void client_main(const struct forked *f, int k,
			struct client_out *out, int ready_fd, int go_fd)
{
	void *h = NULL;
	uint64_t i = 0, warm;
	double secs;
	char c = 1;

	out->err = 1;
	if (B.be->open(B.target, &h) != 0)
		_exit(1);
	if (f->init && f->init(h, k) != 0)
		_exit(1);
	if (write(ready_fd, &c, 1) != 1)
		_exit(1);
	close(ready_fd);        /* a client that dies first cannot hang us */
	if (read(go_fd, &c, 1) != 0)
		_exit(1);
	if (f->count == 0 && run_for(f->op, h, warmup_secs(), &i, &secs) != 0)
		_exit(1);
	warm = i;
	out->t0 = now();
	if (f->count > 0) {
		for (; i < (uint64_t)f->count; i++)
			if (f->op(h, i) != 0)
				_exit(1);
	} else if (run_for(f->op, h, B.secs, &i, &secs) != 0) {
		_exit(1);
	}
	out->t1 = now();
	out->timed = i - warm;
	out->ops = i;
	out->err = 0;
	B.be->close(h);
	_exit(0);
}

/* Start the clients (they wait on go) and wait until all are ready. */
static int clients_start(const struct forked *f, struct client_out *out,
			 int go[2], pid_t *pids)
{
	int ready[2], n = 0, rc = 0;
	char c;

	if (pipe(ready) != 0)
		return fail(neg_errno(), "pipe");
	for (int k = 0; k < B.procs; k++) {
		pids[k] = fork();
		if (pids[k] < 0) {
			rc = fail(neg_errno(), "fork");
			break;
		}
		if (pids[k] == 0) {
			close(ready[0]);
			close(go[1]);
			client_main(f, k, &out[k], ready[1], go[0]);
		}
	}
	close(ready[1]);
	while (rc == 0 && n < B.procs && read(ready[0], &c, 1) == 1)
		n++;
	close(ready[0]);
	return rc == 0 && n == B.procs ? 0 : -1;
}

/* Reap the clients; the rate over the wall time from the first start to
 * the last end. */
static int clients_collect(const struct client_out *out, const pid_t *pids,
			   double *rate)
{
	double t0 = 0, t1 = 0;
	uint64_t timed = 0;
	int status, rc = 0;

	for (int k = 0; k < B.procs; k++) {
		if (pids[k] <= 0)
			continue;
		if (waitpid(pids[k], &status, 0) < 0 || !WIFEXITED(status) ||
		    WEXITSTATUS(status) != 0 || out[k].err)
			rc = -1;
		timed += out[k].timed;
		t0 = k == 0 || out[k].t0 < t0 ? out[k].t0 : t0;
		t1 = out[k].t1 > t1 ? out[k].t1 : t1;
	}
	*rate = t1 > t0 ? (double)timed / (t1 - t0) : 0;
	return rc;
}

/* Run f in B.procs clients; out (MAX_PROCS of them, shared) says what
 * each did.  The rate: of all clients together. */
static int clients_run(const struct forked *f, struct client_out *out,
		       double *rate)
{
	pid_t pids[MAX_PROCS] = { 0 };
	int go[2], rc;

	if (pipe(go) != 0)
		return fail(neg_errno(), "pipe");
	rc = clients_start(f, out, go, pids);
	close(go[0]);
	close(go[1]);   /* go: every client starts (or fails) now */
	if (clients_collect(out, pids, rate) != 0)
		rc = -1;
	return rc;
}

static struct client_out *clients_out(void)
{
	struct client_out *out = mmap(NULL, sizeof(*out) * MAX_PROCS,
				      PROT_READ | PROT_WRITE,
				      MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	if (out == MAP_FAILED) {
		fail(neg_errno(), "mmap");
		return NULL;
	}
	memset(out, 0, sizeof(*out) * MAX_PROCS);
	return out;
}

/* ---- add: P processes, one counter ---- */

static int op_add(void *h, uint64_t i)
{
	int rc = B.be->add(h, KEY_ADD, 1, NULL);

	return rc ? fail(rc, "%s", KEY_ADD) : 0;
}

/* Read the counter back: it must be the adds made, all of them. */
static int add_check(const char *metric, uint64_t made)
{
	char text[COUNTER_TEXT + 1];
	void *h = NULL;
	ssize_t n;
	int rc = B.be->open(B.target, &h);

	if (rc != 0)
		return fail(rc, "open %s", B.target);
	n = B.be->get(h, KEY_ADD, text, COUNTER_TEXT);
	B.be->close(h);
	if (n < 0)
		return fail((int)n, "get %s", KEY_ADD);
	text[n] = '\0';
	if (strtoull(text, NULL, 10) != made) {
		printf("CHECK %s FAIL counter %s, adds made %" PRIu64 "\n",
		       metric, text, made);
		fflush(stdout);
		return fail(0, "the counter lost adds");
	}
	printf("CHECK %s ok counter=%" PRIu64 "\n", metric, made);
	fflush(stdout);
	return 0;
}

/* add@P (timed), or add@PxCOUNT (-n: each client COUNT adds). */
static int phase_add(void)
{
	struct forked f = { .op = op_add, .count = B.count };
	struct client_out *out = clients_out();
	char metric[48];
	uint64_t made = 0;
	double rate = 0;
	int rc;

	if (!out)
		return -1;
	if (B.count > 0)
		snprintf(metric, sizeof(metric), "add@%dx%ld", B.procs,
			 B.count);
	else
		snprintf(metric, sizeof(metric), "add@%d", B.procs);
	rc = local_set(KEY_ADD, "0", 1);
	if (rc == 0)
		rc = clients_run(&f, out, &rate);
	for (int k = 0; k < B.procs; k++)
		made += out[k].ops;
	if (rc == 0)
		result(metric, rate, "ops/s");
	if (rc == 0)
		rc = add_check(metric, made);
	munmap(out, sizeof(*out) * MAX_PROCS);
	return rc;
}

/* ---- wait: ping-pong between two processes ---- */

/* The round a ping or pong value carries: the number at its start;
 * 0 for "stop" (or anything else that is no number). */
static uint64_t round_of(const char *v)
{
	return strtoull(v, NULL, 10);
}

/* The answerer: watch KEY_PING and answer each round, with its value, on
 * KEY_PONG, until round 0. */
static void pong_main(int ready_fd)
{
	void *h = NULL;
	ssize_t n;
	char c = 1;

	if (B.be->open(B.target, &h) != 0 || B.be->watch(h, KEY_PING) != 0)
		_exit(1);
	if (write(ready_fd, &c, 1) != 1)
		_exit(1);
	close(ready_fd);
	for (;;) {
		n = B.be->await(h, got, B.vlen);
		if (n != (ssize_t)B.vlen) {
			fail(n < 0 ? (int)n : 0, "await %s", KEY_PING);
			_exit(1);
		}
		if (round_of(got) == 0)
			break;
		if (B.be->poke(h, KEY_PONG, got, B.vlen) != 0)
			_exit(1);
	}
	B.be->close(h);
	_exit(0);
}

/* Ping round `r` and await its pong. */
static int ping_once(void *h, uint64_t r)
{
	char tag[24];
	ssize_t n;
	int rc;

	snprintf(tag, sizeof(tag), "%" PRIu64, r);
	fill_value(value, tag);
	rc = B.be->poke(h, KEY_PING, value, B.vlen);
	if (rc != 0)
		return fail(rc, "poke %s", KEY_PING);
	n = B.be->await(h, got, B.vlen);
	if (n != (ssize_t)B.vlen)
		return fail(n < 0 ? (int)n : 0, "await %s", KEY_PONG);
	if (round_of(got) != r)
		return fail(0, "pong of round %" PRIu64 " for %" PRIu64,
			    round_of(got), r);
	return 0;
}

/* Rounds from *r on for secs; with rtt, each round trip's seconds. */
static int ping_for(void *h, double secs, uint64_t *r, double *rtt,
		    size_t *n)
{
	double t0 = now(), t = t0, t1;

	while (t - t0 < secs) {
		if (ping_once(h, ++*r) != 0)
			return -1;
		t1 = now();
		if (rtt && *n < RTT_SAMPLES)
			rtt[(*n)++] = t1 - t;
		t = t1;
	}
	return 0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* The q-quantile (0 < q <= 1) of v[0..n), n > 0; sorts v. */
static double quantile(double *v, size_t n, double q)
{
	size_t k = (size_t)(q * (double)n + 0.999999);

	qsort(v, n, sizeof(*v), cmp_double);
	return v[k == 0 ? 0 : k > n ? n - 1 : k - 1];
}

/* The pinger's side: watch KEY_PONG, warm up, time the rounds, stop the
 * answerer (round 0). */
static int ping_main(double *rtt, size_t *n)
{
	void *h = NULL;
	uint64_t r = 0;
	int rc = B.be->open(B.target, &h);

	if (rc != 0)
		return fail(rc, "open %s", B.target);
	rc = B.be->watch(h, KEY_PONG);
	if (rc != 0) {
		fail(rc, "watch %s", KEY_PONG);
		goto out;
	}
	rc = ping_for(h, warmup_secs(), &r, NULL, n);
	if (rc == 0)
		rc = ping_for(h, B.secs, &r, rtt, n);
	fill_value(value, "0 stop");
	if (B.be->poke(h, KEY_PING, value, B.vlen) != 0)
		rc = -1;
out:
	B.be->close(h);
	return rc;
}

static int phase_wait(void)
{
	double *rtt = malloc(sizeof(double) * RTT_SAMPLES);
	int ready[2], status, rc = -1;
	size_t n = 0;
	pid_t pid;
	char c;

	if (!rtt)
		return fail(-ENOMEM, "malloc");
	fill_value(value, "0 start");
	if (local_set(KEY_PING, value, B.vlen) != 0 ||
	    local_set(KEY_PONG, value, B.vlen) != 0)
		goto out;
	if (pipe(ready) != 0) {
		fail(neg_errno(), "pipe");
		goto out;
	}
	pid = fork();
	if (pid == 0) {
		close(ready[0]);
		pong_main(ready[1]);
	}
	close(ready[1]);
	if (pid > 0 && read(ready[0], &c, 1) == 1)
		rc = ping_main(rtt, &n);
	close(ready[0]);
	if (pid > 0 && rc != 0)
		kill(pid, SIGKILL);
	if (pid > 0 && (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) ||
			WEXITSTATUS(status) != 0))
		rc = -1;
	if (rc == 0 && n > 0) {
		result("wait-p50", quantile(rtt, n, 0.5) * 1e9, "ns");
		result("wait-p99", quantile(rtt, n, 0.99) * 1e9, "ns");
	}
out:
	free(rtt);
	fill_value(value, "kvbench");
	return rc;
}

/* ---- the other phases ---- */

static int phase_get(void)
{
	return local_phase("get", "ops/s", op_get, KEY_GET);
}

static int phase_set(void)
{
	return local_phase("set", "ops/s", op_set, NULL);
}

/* A ring from empty where the backend can say so (tmpfs: a new file). */
static int phase_append(void)
{
	void *h = NULL;
	int rc;

	if (B.be->drop && B.be->open(B.target, &h) == 0) {
		B.be->drop(h, KEY_RING);
		B.be->close(h);
	}
	rc = local_phase("append", "records/s", op_append, NULL);
	if (B.be->drop && B.be->open(B.target, &h) == 0) {
		B.be->drop(h, KEY_RING);
		B.be->close(h);
	}
	return rc;
}

/* ---- append@P: P writers, one ring, read back ---- */

/*
 * Each writer k appends exactly B.records numbered records of B.vlen
 * bytes to one ring, made empty first and, where the backend can, big
 * enough to keep them all:
 *
 *   "wKKK SSSSSSSSSSSS ....\n"   (writer K, its record S)
 *
 * Then the ring is read back: every record whole, each writer's records
 * consecutive and ending with its last one, and none missing but the
 * oldest ones a ring that fills evicts; where the ring keeps them all,
 * none missing at all.  CHECK append@P says which.
 */
#define REC_HEAD 18             /* "wKKK SSSSSSSSSSSS " */

static char rec[MAX_VALUE];     /* a writer's record (each its own copy) */

static int numbered_init(void *h, int k)
{
	memset(rec, '.', B.vlen);
	snprintf(rec, 6, "w%03d ", k);
	rec[4] = ' ';
	rec[B.vlen - 1] = '\n';
	return 0;
}

static int op_append_numbered(void *h, uint64_t i)
{
	int rc;

	snprintf(rec + 5, REC_HEAD - 4, "%012" PRIu64 " ", i);
	rec[REC_HEAD] = '.';
	rc = B.be->append(h, KEY_RING_P, rec, B.vlen);
	return rc ? fail(rc, "%s", KEY_RING_P) : 0;
}

struct ring_seen {
	uint64_t first[MAX_PROCS], last[MAX_PROCS];
	bool any[MAX_PROCS];
	uint64_t records;       /* records read */
	char why[160];          /* the first fault found */
};

__attribute__((format(printf, 2, 3)))
static void ring_fault(struct ring_seen *rs, const char *fmt, ...)
{
	va_list ap;

	if (rs->why[0])
		return;
	va_start(ap, fmt);
	vsnprintf(rs->why, sizeof(rs->why), fmt, ap);
	va_end(ap);
}

/* Writer and number of the record r; -1 if it is not one of ours. */
static int parse_record(const char *r, size_t len, int *k, uint64_t *seq)
{
	uint64_t v = 0;
	int w = 0;

	if (len != B.vlen || r[0] != 'w' || r[4] != ' ' ||
	    r[REC_HEAD - 1] != ' ' || r[len - 1] != '\n')
		return -1;
	for (int i = 1; i < 4; i++) {
		if (r[i] < '0' || r[i] > '9')
			return -1;
		w = w * 10 + (r[i] - '0');
	}
	for (int i = 5; i < REC_HEAD - 1; i++) {
		if (r[i] < '0' || r[i] > '9')
			return -1;
		v = v * 10 + (uint64_t)(r[i] - '0');
	}
	for (size_t i = REC_HEAD; i < len - 1; i++)
		if (r[i] != '.')
			return -1;
	if (w >= B.procs)
		return -1;
	*k = w;
	*seq = v;
	return 0;
}

static int ring_record(void *ctx, const char *r, size_t len)
{
	struct ring_seen *rs = ctx;
	uint64_t seq;
	int k;

	if (parse_record(r, len, &k, &seq) != 0) {
		ring_fault(rs, "record %" PRIu64 " is not whole (%zu bytes)",
			   rs->records, len);
	} else if (!rs->any[k]) {
		rs->any[k] = true;
		rs->first[k] = rs->last[k] = seq;
	} else {
		if (seq != rs->last[k] + 1)
			ring_fault(rs, "writer %d: record %" PRIu64 " after %"
				   PRIu64, k, seq, rs->last[k]);
		rs->last[k] = seq;
	}
	rs->records++;
	return 0;
}

/* Read the ring back; keeps: it retains every record appended. */
static int ring_check(void *h, const char *metric,
		      const struct client_out *out, bool keeps)
{
	struct ring_seen rs = { .records = 0 };
	uint64_t appended = 0, missing = 0;
	int rc;

	for (int k = 0; k < B.procs; k++)
		appended += out[k].ops;
	rc = B.be->ring_scan(h, KEY_RING_P, ring_record, &rs);
	if (rc != 0)
		return fail(rc, "read %s back", KEY_RING_P);
	for (int k = 0; k < B.procs; k++) {
		if (!rs.any[k]) {
			missing += out[k].ops;
			continue;
		}
		if (rs.last[k] + 1 != out[k].ops)
			ring_fault(&rs, "writer %d: last record %" PRIu64
				   " of %" PRIu64, k, rs.last[k], out[k].ops);
		missing += rs.first[k];
	}
	if (rs.records + missing != appended)
		ring_fault(&rs, "%" PRIu64 " read + %" PRIu64 " evicted, %"
			   PRIu64 " appended", rs.records, missing, appended);
	if (keeps && missing)
		ring_fault(&rs, "%" PRIu64 " of %" PRIu64 " records missing "
			   "from a ring that holds them all", missing,
			   appended);
	if (rs.why[0]) {
		printf("CHECK %s FAIL %s\n", metric, rs.why);
		fflush(stdout);
		return fail(0, "ring check: %s", rs.why);
	}
	printf("CHECK %s ok appended=%" PRIu64 " read=%" PRIu64
	       " evicted=%" PRIu64 "\n", metric, appended, rs.records,
	       missing);
	fflush(stdout);
	return 0;
}

static int phase_append_p(void)
{
	struct forked f = { .op = op_append_numbered, .init = numbered_init,
			    .count = B.records };
	struct client_out *out = clients_out();
	uint64_t bytes = (uint64_t)B.procs * (uint64_t)B.records * B.vlen;
	char metric[32];
	double rate = 0;
	void *h = NULL;
	int rc, keeps;

	if (!out)
		return -1;
	snprintf(metric, sizeof(metric), "append@%d", B.procs);
	rc = B.be->open(B.target, &h);
	if (rc != 0) {
		munmap(out, sizeof(*out) * MAX_PROCS);
		return fail(rc, "open %s", B.target);
	}
	keeps = B.be->ring_prep(h, KEY_RING_P, bytes);
	if (keeps == -EOPNOTSUPP) {     /* said why; not a failure */
		B.be->close(h);
		munmap(out, sizeof(*out) * MAX_PROCS);
		return 0;
	}
	rc = keeps < 0 ? fail(keeps, "make %s empty", KEY_RING_P) : 0;
	if (rc == 0)
		rc = clients_run(&f, out, &rate);
	if (rc == 0)
		result(metric, rate, "records/s");
	if (rc == 0)
		rc = ring_check(h, metric, out, keeps == 1);
	B.be->ring_prep(h, KEY_RING_P, 0);
	B.be->close(h);
	munmap(out, sizeof(*out) * MAX_PROCS);
	return rc;
}

static int phase_mem(void)
{
	return B.be->mem();
}

/* ---- main ---- */

struct phase_def {
	const char *name;
	int (*run)(void);
};

static const struct phase_def phases[] = {
	{ "get", phase_get },
	{ "set", phase_set },
	{ "add", phase_add },
	{ "wait", phase_wait },
	{ "append", phase_append },
	{ "append@P", phase_append_p },
	{ "mem", phase_mem },
};

#define N_PHASES (sizeof(phases) / sizeof(phases[0]))

/* Whether backend be has what phase needs. */
static bool backend_has(const struct backend *be, const char *phase)
{
	if (strcmp(phase, "get") == 0 || strcmp(phase, "set") == 0)
		return be->get && be->set;
	if (strcmp(phase, "add") == 0)
		return be->add && be->get && be->set;
	if (strcmp(phase, "wait") == 0)
		return be->watch && be->await && be->poke && be->set;
	if (strcmp(phase, "append@P") == 0)
		return be->append && be->ring_prep && be->ring_scan;
	if (strcmp(phase, "mem") == 0)
		return be->mem != NULL;
	return be->append != NULL;
}

/* Is phase among -the OP list (all when there is none)? */
static bool selected(const char *phase)
{
	size_t len = strlen(phase);

	for (const char *p = B.ops; p && *p; p += *p == ',') {
		size_t n = strcspn(p, ",");

		if (n == len && strncmp(p, phase, n) == 0)
			return true;
		p += n;
	}
	return B.ops == NULL && strcmp(phase, "mem") != 0;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: kvbench [OPTIONS] BACKEND TARGET [OP[,OP...]]\n"
		"       kvbench -b   (the backends built in)\n"
		"  -t SECS    length of each timed phase (default 1)\n"
		"  -P PROCS   add: processes (default 4)\n"
		"  -n COUNT   add: each process makes COUNT adds, untimed\n"
		"  -s BYTES   value and record size (default 100, 24 to %d)\n"
		"  -R COUNT   append@P: records per writer (default 100000)\n"
		"  -M MIB     mem: data written to the arena (default 512)\n"
		"  -A PATH    mem: the arena file made (default\n"
		"             /dev/shm/kvbench.PID.arena; removed after)\n"
		"ops: get set add wait append append@P mem\n"
		"(default: all but mem)\nbackends:", MAX_VALUE);
	for (size_t i = 0; i < N_BACKENDS; i++)
		fprintf(f, " %s", backends[i].name);
	fputc('\n', f);
}

static const struct backend *find_backend(const char *name)
{
	for (size_t i = 0; i < N_BACKENDS; i++)
		if (strcmp(backends[i].name, name) == 0)
			return &backends[i];
	return NULL;
}

static int parse_args(int argc, char *argv[])
{
	int c;

	while ((c = getopt(argc, argv, "t:P:n:s:R:M:A:bh")) != -1) {
		switch (c) {
		case 't': B.secs = atof(optarg); break;
		case 'P': B.procs = atoi(optarg); break;
		case 'n': B.count = atol(optarg); break;
		case 's': B.vlen = (size_t)atol(optarg); break;
		case 'R': B.records = atol(optarg); break;
		case 'M': B.mem_mib = atol(optarg); break;
		case 'A': B.mem_arena = optarg; break;
		case 'b':
			for (size_t i = 0; i < N_BACKENDS; i++)
				puts(backends[i].name);
			exit(0);
		case 'h': usage(stdout); exit(0);
		default: return -1;
		}
	}
	if (argc - optind < 2 || argc - optind > 3 || B.secs <= 0 ||
	    B.procs < 1 || B.procs > MAX_PROCS || B.count < 0 ||
	    B.vlen < 24 || B.vlen > MAX_VALUE || B.records < 1 ||
	    B.mem_mib < 0 || B.mem_mib > 4096)
		return -1;
	for (const char *p = argv[optind + 2 < argc ? optind + 2 : 0];
	     argc - optind == 3 && *p; p += *p == ',') {
		size_t n = strcspn(p, ",");
		bool known = false;

		for (size_t i = 0; i < N_PHASES; i++)
			known |= strlen(phases[i].name) == n &&
				 strncmp(phases[i].name, p, n) == 0;
		if (!known)
			return -1;
		p += n;
	}
	B.be = find_backend(argv[optind]);
	B.target = argv[optind + 1];
	B.ops = argc - optind == 3 ? argv[optind + 2] : NULL;
	return 0;
}

/* Every phase selected that the backend has, in turn; a failed one does
 * not stop the others (the exit status says). */
int main(int argc, char *argv[])
{
	int rc = 0;

	if (parse_args(argc, argv) != 0) {
		usage(stderr);
		return 2;
	}
	if (!B.be) {
		fprintf(stderr, "kvbench: backend %s not built in\n",
			argv[optind]);
		usage(stderr);
		return 2;
	}
	fill_value(value, "kvbench");
	for (size_t i = 0; i < N_PHASES; i++) {
		if (!selected(phases[i].name) ||
		    !backend_has(B.be, phases[i].name))
			continue;
		B.op = phases[i].name;
		if (phases[i].run() != 0)
			rc = 1;
	}
	return rc;
}

/* mmbench.c -- one workload against one directory, timed.
 *
 *   mmbench [OPTIONS] DIR WORKLOAD[,WORKLOAD...]
 *
 * Runs each WORKLOAD in turn on files it creates in DIR (and removes
 * afterwards) and prints one line per measured number:
 *
 *   RESULT <metric> <value> <unit>
 *
 * With -c FILE (an mmfs arena, or floorfs's counts= file) it also reads
 * the daemon's request counters before and after each timed phase and
 * prints the FUSE requests per operation:
 *
 *   COUNT <metric> <total> <request>=<per-op> ...
 *
 * Workloads (100-byte values unless said otherwise):
 *   cat       open O_RDONLY, one read(4096), close
 *   cat-phases  cat, with open, read and close timed apart: the median
 *             latency of each (metrics cat-open, cat-read, cat-close, ns)
 *   stat      stat(2) of one file
 *   rw        on one O_RDWR descriptor: pwrite at offset 0, then pread
 *             (two metrics: pwrite, pread)
 *   replace   open O_WRONLY|O_TRUNC, one write, close
 *   ring1     1 process appending records to x.ring (O_WRONLY|O_APPEND)
 *   ring4     -P processes (default 4) appending to the same x.ring
 *   create    open O_CREAT|O_TRUNC of a new name "new.PID.I" (floorfs
 *             lets names starting with "new." not exist), write, close,
 *             unlink
 *   seq       -S bytes (default 256M) in 1 MiB write(2)s, then read back
 *             (O_WRONLY, then O_RDONLY; metrics seq-write, seq-read)
 *   par-diff  -P processes, each alternating pwrite/pread on its own
 *             O_RDWR file
 *   par-same  the same, all on one file (process k at offset k*100)
 *   par-cat, par-replace, par-pwrite
 *             -P clients (processes), each doing cat, replace or pwrite
 *             (on an O_RDWR descriptor, at offset 0) on a file of its
 *             own; metrics cat@P, replace@P, pwrite@P (ops/s, all
 *             clients together)
 *   par-ring  -P writers appending numbered records to one par.ring;
 *             metric ring@P (records/s); then the ring is read back and
 *             checked, printing "CHECK ring@P ok|FAIL ..." (see
 *             ring_check; -x skips it, for floorfs, which keeps nothing)
 *   scale     -N ten-byte files in one directory; see scale_run below
 *   ls        `ls -l` of a directory of -L files (default 10000)
 *   tree      `find`, `du -s` and `grep -r` over a copy of -T DIR
 *             (default /usr/include)
 *
 * ls and tree time real programs, once cold (after dropping the kernel's
 * page, dentry and inode caches: every name is new to the kernel) and
 * once warm, in ms, and count the FUSE requests per listed entry.
 * Every timed phase runs a short warm-up, then for -t seconds (default 1),
 * and reports operations per second (or MiB/s for seq).  Times come from
 * clock_gettime(CLOCK_MONOTONIC).  With -l, the single-process phases
 * (ring-1w included) also time every operation and report the median,
 * as <metric>-p50 in ns: unlike a rate, it holds up on a loaded machine,
 * where a few operations wait for the CPU.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define VALUE_LEN 100
#define SMALL_LEN 10
#define READ_BUF 4096
#define SEQ_CHUNK (1u << 20)
#define CHECK_EVERY 16          /* ops between clock reads */
#define MAX_PROCS 64
#define MAX_REQS 32             /* request kinds in a counts file */
#define SCALE_SMALL 1000        /* the "1k" point of the scale workload */
#define WARM_STATS 20000        /* stats per warm latency sample */
#define GREP_NO_MATCH 1         /* grep's exit status when nothing matched */

struct bench {
	const char *dir;
	const char *workload;
	double secs;            /* -t: length of a timed phase */
	uint64_t seq_bytes;     /* -S */
	long nvars;             /* -N */
	int procs;              /* -P */
	const char *arena;      /* -a: mmfs arena, for scale memory */
	pid_t pid;              /* -p: the daemon, for its RssAnon */
	const char *counts;     /* -c: arena or floorfs counts file */
	bool drop;              /* scale: drop dentry/inode caches */
	bool lat;               /* -l: median latency per operation too */
	long list_files;        /* -L: files in the ls directory */
	const char *tree;       /* -T: the tree copied for find/du/grep */
	bool verify;            /* par-ring: check the ring afterwards */
};

static struct bench B = {
	.secs = 1.0, .seq_bytes = 256ull << 20, .nvars = 1000000,
	.procs = 4, .drop = true, .verify = true, .list_files = 10000,
	.tree = "/usr/include",
};

/* ---- small helpers ---- */

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Print "mmbench: WORKLOAD: what: strerror(errno)" and return -1. */
__attribute__((format(printf, 1, 2)))
static int fail(const char *fmt, ...)
{
	int e = errno;
	va_list ap;

	fprintf(stderr, "mmbench: %s: ", B.workload);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, ": %s\n", e ? strerror(e) : "unexpected result");
	return -1;
}

static void path_of(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s/%s", B.dir, name);
}

static void result(const char *metric, double value, const char *unit)
{
	printf("RESULT %s %.6g %s\n", metric, value, unit);
	fflush(stdout);
}

/* Write len bytes of buf to fd at the file position, whole. */
static int write_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t n = write(fd, buf, len);

		if (n <= 0)
			return -1;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Create (or replace) path with len bytes of buf. */
static int put_file(const char *path, const char *buf, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	if (fd < 0)
		return fail("create %s", path);
	if (write_all(fd, buf, len) != 0) {
		close(fd);
		return fail("write %s", path);
	}
	if (close(fd) != 0)
		return fail("close %s", path);
	return 0;
}

static void fill_value(char *buf, size_t len)
{
	for (size_t i = 0; i < len; i++)
		buf[i] = (char)('a' + i % 26);
	buf[len - 1] = '\n';
}

/* ---- FUSE request counts ---- */

/* The counters: NREQ u64 at COUNTS_OFFSET of the -c file, one per FUSE
 * opcode -- the request counters in an mmfs arena's statistics area
 * (src/common/reqstats.h), which floorfs -o counts=FILE keeps in the same
 * layout. */
#define COUNTS_OFFSET 1024
#define NREQ 64

static const char *const req_names[NREQ] = {
	[0] = "other", [1] = "lookup", [2] = "forget", [3] = "getattr",
	[4] = "setattr", [5] = "readlink", [6] = "symlink", [8] = "mknod",
	[9] = "mkdir", [10] = "unlink", [11] = "rmdir", [12] = "rename",
	[13] = "link", [14] = "open", [15] = "read", [16] = "write",
	[17] = "statfs", [18] = "release", [20] = "fsync",
	[21] = "setxattr", [22] = "getxattr", [23] = "listxattr",
	[24] = "removexattr", [25] = "flush", [26] = "init",
	[27] = "opendir", [28] = "readdir", [29] = "releasedir",
	[30] = "fsyncdir", [31] = "getlk", [32] = "setlk", [33] = "setlkw",
	[34] = "access", [35] = "create", [36] = "interrupt", [37] = "bmap",
	[38] = "destroy", [39] = "ioctl", [40] = "poll",
	[41] = "notify_reply", [42] = "batch_forget", [43] = "fallocate",
	[44] = "readdirplus", [45] = "rename2", [46] = "lseek",
	[47] = "copy_file_range", [48] = "setupmapping",
	[49] = "removemapping", [50] = "syncfs", [51] = "tmpfile",
	[52] = "statx",
};

static uint64_t count_start[NREQ];

static int counts_take(uint64_t c[NREQ])
{
	int fd = open(B.counts, O_RDONLY);
	ssize_t n;

	if (fd < 0)
		return fail("open %s", B.counts);
	n = pread(fd, c, sizeof(uint64_t) * NREQ, COUNTS_OFFSET);
	close(fd);
	if (n != (ssize_t)(sizeof(uint64_t) * NREQ)) {
		errno = n < 0 ? errno : 0;
		return fail("read counters of %s", B.counts);
	}
	return 0;
}

static int count_begin(void)
{
	if (!B.counts)
		return 0;
	return counts_take(count_start);
}

/* Print the requests per op since count_begin for metric.  Requests the
 * kernel sends in the background (release, forget) may lag: wait a
 * little before reading. */
static int count_end(const char *metric, uint64_t ops)
{
	uint64_t end[NREQ], total = 0;
	char name[16];

	if (!B.counts || ops == 0)
		return 0;
	usleep(20000);
	if (counts_take(end) != 0)
		return -1;
	for (int i = 0; i < NREQ; i++)
		total += end[i] - count_start[i];
	printf("COUNT %s %.2f", metric, (double)total / (double)ops);
	for (int i = 0; i < NREQ; i++) {
		uint64_t d = end[i] - count_start[i];

		if (!d)
			continue;
		if (!req_names[i])
			snprintf(name, sizeof(name), "op%d", i);
		printf(" %s=%.2f", req_names[i] ? req_names[i] : name,
		       (double)d / (double)ops);
	}
	printf("\n");
	fflush(stdout);
	return 0;
}

/* ---- per-operation latencies (-l) ---- */

#define LAT_SAMPLES (1u << 21)

static double *lat_buf;         /* seconds per operation of one phase */
static size_t lat_n;

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double median_of(double *v, size_t n)
{
	if (n == 0)
		return 0;
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* Print metric-p50: the median of the latencies taken. */
static void lat_report(const char *metric, double median_secs)
{
	char name[80];

	if (!B.lat)
		return;
	snprintf(name, sizeof(name), "%s-p50", metric);
	result(name, median_secs * 1e9, "ns");
}

/* Wait (at most 5 s) until the daemon's counters stop moving for 0.1 s:
 * the requests that something before a timed phase caused, like the
 * forgets after a cache drop, are then all in. */
static void counts_settle(void)
{
	uint64_t a[NREQ], b[NREQ];

	if (!B.counts || counts_take(b) != 0)
		return;
	for (int i = 0; i < 50; i++) {
		memcpy(a, b, sizeof(a));
		usleep(100000);
		if (counts_take(b) != 0 || memcmp(a, b, sizeof(a)) == 0)
			return;
	}
}

/* ---- timed phases ---- */

typedef int (*op_fn)(void *ctx, uint64_t i);

struct phase {
	uint64_t ops;           /* ops in the timed part */
	uint64_t all_ops;       /* ops including the warm-up */
	double secs;            /* length of the timed part */
};

/* Run fn until `secs` have passed, from op number *i on; with -l and
 * `sample`, keep each op's latency in lat_buf. */
static int run_for(op_fn fn, void *ctx, double secs, uint64_t *i,
		   double *took, bool sample)
{
	double t0 = now(), t = t0;

	if (sample && lat_buf) {
		lat_n = 0;
		while (t - t0 < secs) {
			double t1;

			if (fn(ctx, (*i)++) != 0)
				return -1;
			t1 = now();
			if (lat_n < LAT_SAMPLES)
				lat_buf[lat_n++] = t1 - t;
			t = t1;
		}
		*took = t - t0;
		return 0;
	}
	while (t - t0 < secs) {
		for (int k = 0; k < CHECK_EVERY; k++)
			if (fn(ctx, (*i)++) != 0)
				return -1;
		t = now();
	}
	*took = t - t0;
	return 0;
}

static double warmup_secs(void)
{
	return B.secs / 10 < 0.1 ? B.secs / 10 : 0.1;
}

/* Warm up, then time fn; counts (if any) cover the timed part only. */
static int run_phase(const char *metric, op_fn fn, void *ctx, struct phase *p)
{
	uint64_t i = 0, start;
	double warm;

	if (run_for(fn, ctx, warmup_secs(), &i, &warm, false) != 0 ||
	    count_begin() != 0)
		return -1;
	start = i;
	if (run_for(fn, ctx, B.secs, &i, &p->secs, true) != 0)
		return -1;
	p->ops = i - start;
	p->all_ops = i;
	if (count_end(metric, p->ops) != 0)
		return -1;
	result(metric, (double)p->ops / p->secs, "ops/s");
	if (lat_buf)
		lat_report(metric, median_of(lat_buf, lat_n));
	return 0;
}

/* ---- parallel phases: P forked processes ---- */

struct child_out {
	uint64_t ops, all_ops;
	double secs;
	double p50;             /* -l: median op latency, seconds */
	int err;
};

struct par_spec {
	const char *metric;
	int procs;
	/* In the child: prepare process k's context (open files...). */
	int (*init)(int k, void **ctx);
	op_fn op;
	const char *unit;       /* of the rate; NULL: ops/s */
	/* After the run, in the parent: check what the children did
	 * (out[k].all_ops: process k's ops, warm-up included); NULL: none. */
	int (*check)(const struct child_out *out, int procs);
};

static void child_main(const struct par_spec *s, int k, int ready_fd,
		       int go_fd, struct child_out *out)
{
	void *ctx = NULL;
	uint64_t i = 0;
	double warm;
	char c = 'r';

	out->err = 1;
	if (s->init(k, &ctx) != 0)
		_exit(1);
	if (write(ready_fd, &c, 1) != 1 || read(go_fd, &c, 1) != 0)
		_exit(1);
	if (run_for(s->op, ctx, warmup_secs(), &i, &warm, false) != 0)
		_exit(1);
	out->all_ops = i;
	if (run_for(s->op, ctx, B.secs, &i, &out->secs, true) != 0)
		_exit(1);
	if (lat_buf)
		out->p50 = median_of(lat_buf, lat_n);
	out->ops = i - out->all_ops;
	out->all_ops = i;
	out->err = 0;
	_exit(0);
}

/* Fork the children; they wait on go[0] once ready. */
static int par_fork(const struct par_spec *s, struct child_out *out,
		    int ready[2], int go[2], pid_t *pids)
{
	for (int k = 0; k < s->procs; k++) {
		pids[k] = fork();
		if (pids[k] < 0)
			return fail("fork");
		if (pids[k] == 0) {
			close(ready[0]);
			close(go[1]);
			child_main(s, k, ready[1], go[0], &out[k]);
		}
	}
	close(ready[1]);
	close(go[0]);
	return 0;
}

/* Wait for every child; sum their rates into *rate. */
static int par_collect(const struct par_spec *s, const struct child_out *out,
		       const pid_t *pids, double *rate, uint64_t *all_ops)
{
	int status, bad = 0;

	*rate = 0;
	*all_ops = 0;
	for (int k = 0; k < s->procs; k++) {
		if (pids[k] <= 0 || waitpid(pids[k], &status, 0) < 0 ||
		    !WIFEXITED(status) || WEXITSTATUS(status) != 0 || out[k].err)
			bad = 1;
		else {
			*rate += (double)out[k].ops / out[k].secs;
			*all_ops += out[k].all_ops;
		}
	}
	errno = 0;
	return bad ? fail("a worker process failed") : 0;
}

static int par_run(const struct par_spec *s)
{
	struct child_out *out;
	pid_t pids[MAX_PROCS] = { 0 };
	int ready[2], go[2], rc = -1;
	uint64_t all_ops;
	double rate;
	char c;

	out = mmap(NULL, sizeof(*out) * MAX_PROCS, PROT_READ | PROT_WRITE,
		   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (out == MAP_FAILED || pipe(ready) != 0 || pipe(go) != 0)
		return fail("mmap/pipe");
	if (par_fork(s, out, ready, go, pids) == 0) {
		int n = 0;

		while (n < s->procs && read(ready[0], &c, 1) == 1)
			n++;
		rc = n == s->procs ? count_begin() : -1;
	}
	close(go[1]);           /* start them all (or let them fail) */
	close(ready[0]);
	if (par_collect(s, out, pids, &rate, &all_ops) != 0)
		rc = -1;
	if (rc == 0)
		rc = count_end(s->metric, all_ops);
	if (rc == 0) {
		/* A failed check still reports the rate: it is what was
		 * measured, and the CHECK line says what went wrong. */
		if (s->check && s->check(out, s->procs) != 0)
			rc = -1;
		result(s->metric, rate, s->unit ? s->unit : "ops/s");
		if (lat_buf && s->procs == 1)
			lat_report(s->metric, out[0].p50);
	}
	munmap(out, sizeof(*out) * MAX_PROCS);
	return rc;
}

/* ---- workloads on one file: cat, stat, replace, rw ---- */

struct one_file {
	char path[4096];
	char buf[READ_BUF];
	int fd;
};

static int setup_file(struct one_file *f, const char *name, size_t len)
{
	char value[VALUE_LEN];

	path_of(f->path, sizeof(f->path), name);
	fill_value(value, sizeof(value));
	f->fd = -1;
	return put_file(f->path, value, len);
}

static int op_cat(void *ctx, uint64_t i)
{
	struct one_file *f = ctx;
	int fd = open(f->path, O_RDONLY);
	ssize_t n;

	if (fd < 0)
		return fail("open %s", f->path);
	n = read(fd, f->buf, READ_BUF);
	close(fd);
	return n > 0 ? 0 : fail("read %s", f->path);
}

static int op_stat(void *ctx, uint64_t i)
{
	struct one_file *f = ctx;
	struct stat st;

	return stat(f->path, &st) == 0 ? 0 : fail("stat %s", f->path);
}

static int op_replace(void *ctx, uint64_t i)
{
	struct one_file *f = ctx;
	int fd = open(f->path, O_WRONLY | O_TRUNC);

	if (fd < 0)
		return fail("open %s", f->path);
	if (write(fd, f->buf, VALUE_LEN) != VALUE_LEN) {
		close(fd);
		return fail("write %s", f->path);
	}
	return close(fd) == 0 ? 0 : fail("close %s", f->path);
}

static int op_pwrite(void *ctx, uint64_t i)
{
	struct one_file *f = ctx;

	if (pwrite(f->fd, f->buf, VALUE_LEN, 0) != VALUE_LEN)
		return fail("pwrite %s", f->path);
	return 0;
}

static int op_pread(void *ctx, uint64_t i)
{
	struct one_file *f = ctx;

	if (pread(f->fd, f->buf, VALUE_LEN, 0) != VALUE_LEN)
		return fail("pread %s", f->path);
	return 0;
}

/* Set up name, run one phase of op, remove the file. */
static int one_file_run(const char *name, const char *metric, op_fn op)
{
	struct one_file f;
	struct phase p;
	int rc;

	if (setup_file(&f, name, VALUE_LEN) != 0)
		return -1;
	fill_value(f.buf, VALUE_LEN);
	rc = run_phase(metric, op, &f, &p);
	unlink(f.path);
	return rc;
}

static int wl_cat(void) { return one_file_run("cat.var", "cat", op_cat); }

/* ---- cat, phase by phase ---- */

#define PHASE_SAMPLES (1u << 20)

/* One cat with its three system calls timed (ns) into lat[0..2]. */
static int cat_timed(struct one_file *f, double lat[3])
{
	double t0 = now(), t1, t2;
	int fd = open(f->path, O_RDONLY);
	ssize_t n;

	t1 = now();
	if (fd < 0)
		return fail("open %s", f->path);
	n = read(fd, f->buf, READ_BUF);
	t2 = now();
	if (close(fd) != 0)
		return fail("close %s", f->path);
	lat[0] = (t1 - t0) * 1e9;
	lat[1] = (t2 - t1) * 1e9;
	lat[2] = (now() - t2) * 1e9;
	return n > 0 ? 0 : fail("read %s", f->path);
}

/* Where a cat's time goes: a close(2) that waits for nothing costs ~2 us,
 * one that waits for the daemon (or lets it run first) a round trip.
 * Medians, not means: they hold up on a loaded machine. */
static int wl_cat_phases(void)
{
	static const char *const names[3] = { "cat-open", "cat-read",
					      "cat-close" };
	struct one_file f;
	double *lat[3], sample[3], t0, warm_end;
	size_t n = 0;
	int rc = -1;

	if (setup_file(&f, "cat.var", VALUE_LEN) != 0)
		return -1;
	for (int k = 0; k < 3; k++)
		lat[k] = malloc(sizeof(double) * PHASE_SAMPLES);
	if (!lat[0] || !lat[1] || !lat[2]) {
		fail("malloc");
		goto out;
	}
	warm_end = now() + warmup_secs();
	while (now() < warm_end)
		if (cat_timed(&f, sample) != 0)
			goto out;
	if (count_begin() != 0)
		goto out;
	t0 = now();
	while (n < PHASE_SAMPLES && now() - t0 < B.secs) {
		if (cat_timed(&f, sample) != 0)
			goto out;
		for (int k = 0; k < 3; k++)
			lat[k][n] = sample[k];
		n++;
	}
	if (count_end("cat-phases", n) != 0)
		goto out;
	for (int k = 0; k < 3; k++)
		result(names[k], median_of(lat[k], n), "ns");
	rc = 0;
out:
	for (int k = 0; k < 3; k++)
		free(lat[k]);
	unlink(f.path);
	return rc;
}
static int wl_stat(void) { return one_file_run("stat.var", "stat", op_stat); }

static int wl_replace(void)
{
	return one_file_run("replace.var", "replace", op_replace);
}

static int wl_rw(void)
{
	struct one_file f;
	struct phase p;
	int rc = -1;

	if (setup_file(&f, "rw.var", VALUE_LEN) != 0)
		return -1;
	fill_value(f.buf, VALUE_LEN);
	f.fd = open(f.path, O_RDWR);
	if (f.fd < 0)
		fail("open %s", f.path);
	else if (run_phase("pwrite", op_pwrite, &f, &p) == 0 &&
		 run_phase("pread", op_pread, &f, &p) == 0)
		rc = 0;
	if (f.fd >= 0)
		close(f.fd);
	unlink(f.path);
	return rc;
}

/* ---- ring appends ---- */

struct appender {
	char path[4096];
	char rec[VALUE_LEN];
	int fd;
};

static struct appender app;

static int ring_init(int k, void **ctx)
{
	app.fd = open(app.path, O_WRONLY | O_APPEND | O_CREAT, 0644);
	if (app.fd < 0)
		return fail("open %s", app.path);
	snprintf(app.rec, sizeof(app.rec), "writer %d record ", k);
	memset(app.rec + strlen(app.rec), '.', VALUE_LEN - strlen(app.rec));
	app.rec[VALUE_LEN - 1] = '\n';
	*ctx = &app;
	return 0;
}

static int op_append(void *ctx, uint64_t i)
{
	struct appender *a = ctx;

	if (write(a->fd, a->rec, VALUE_LEN) != VALUE_LEN)
		return fail("append %s", a->path);
	return 0;
}

static int ring_run(int procs)
{
	char metric[32];
	struct par_spec s = { .metric = metric, .procs = procs,
			      .init = ring_init, .op = op_append };
	int rc;

	snprintf(metric, sizeof(metric), "ring-%dw", procs);
	path_of(app.path, sizeof(app.path), "x.ring");
	unlink(app.path);
	rc = par_run(&s);
	unlink(app.path);
	return rc;
}

static int wl_ring1(void) { return ring_run(1); }
static int wl_ring4(void) { return ring_run(B.procs); }

/* ---- create + write + close + unlink ---- */

struct creator {
	char path[4096];
	char buf[VALUE_LEN];
	int pid;
};

static int op_create(void *ctx, uint64_t i)
{
	struct creator *c = ctx;
	char name[64];
	int fd;

	snprintf(name, sizeof(name), "new.%d.%" PRIu64, c->pid, i);
	path_of(c->path, sizeof(c->path), name);
	fd = open(c->path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		return fail("create %s", c->path);
	if (write(fd, c->buf, VALUE_LEN) != VALUE_LEN) {
		close(fd);
		return fail("write %s", c->path);
	}
	if (close(fd) != 0)
		return fail("close %s", c->path);
	return unlink(c->path) == 0 ? 0 : fail("unlink %s", c->path);
}

static int wl_create(void)
{
	struct creator c = { .pid = (int)getpid() };
	struct phase p;

	fill_value(c.buf, VALUE_LEN);
	return run_phase("create", op_create, &c, &p);
}

/* ---- sequential 1 MiB writes and reads ---- */

static int seq_write(const char *path, const char *chunk, uint64_t *ops)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	if (fd < 0)
		return fail("create %s", path);
	for (uint64_t done = 0; done < B.seq_bytes; done += SEQ_CHUNK) {
		if (write_all(fd, chunk, SEQ_CHUNK) != 0) {
			close(fd);
			return fail("write %s", path);
		}
		++*ops;
	}
	return close(fd) == 0 ? 0 : fail("close %s", path);
}

static int seq_read(const char *path, char *chunk, uint64_t *ops)
{
	int fd = open(path, O_RDONLY);
	uint64_t done = 0;
	ssize_t n = 1;

	if (fd < 0)
		return fail("open %s", path);
	while (done < B.seq_bytes && n > 0) {
		n = read(fd, chunk, SEQ_CHUNK);
		done += n > 0 ? (uint64_t)n : 0;
		++*ops;
	}
	close(fd);
	if (done != B.seq_bytes) {
		errno = n < 0 ? errno : 0;
		return fail("read %s: %" PRIu64 " bytes", path, done);
	}
	return 0;
}

/* Time one seq phase; report MiB/s. */
static int seq_phase(const char *metric, const char *path, char *chunk,
		     bool writing)
{
	uint64_t ops = 0;
	double t0, t;
	int rc;

	if (count_begin() != 0)
		return -1;
	t0 = now();
	rc = writing ? seq_write(path, chunk, &ops) : seq_read(path, chunk, &ops);
	t = now() - t0;
	if (rc != 0 || count_end(metric, ops) != 0)
		return -1;
	result(metric, (double)B.seq_bytes / (1 << 20) / t, "MiB/s");
	return 0;
}

static int wl_seq(void)
{
	char path[4096], *chunk = aligned_alloc(4096, SEQ_CHUNK);
	int rc = -1;

	/* Page-aligned: a 1 MiB buffer that is not takes 257 pages, and the
	 * kernel splits each write(2) into two FUSE requests. */
	if (!chunk)
		return fail("malloc");
	B.seq_bytes -= B.seq_bytes % SEQ_CHUNK;
	memset(chunk, 'q', SEQ_CHUNK);
	path_of(path, sizeof(path), "seq.dat");
	if (seq_phase("seq-write", path, chunk, true) == 0 &&
	    seq_phase("seq-read", path, chunk, false) == 0)
		rc = 0;
	unlink(path);
	free(chunk);
	return rc;
}

/* ---- P processes, pwrite/pread mix ---- */

struct mixer {
	char path[4096];
	char buf[VALUE_LEN];
	off_t off;
	int fd;
};

static struct mixer mix;
static bool mix_same;

static void mix_path(int k, char *buf, size_t len)
{
	char name[64];

	if (mix_same)
		snprintf(name, sizeof(name), "par.shared");
	else
		snprintf(name, sizeof(name), "par.%d", k);
	path_of(buf, len, name);
}

static int mix_init(int k, void **ctx)
{
	mix_path(k, mix.path, sizeof(mix.path));
	mix.off = mix_same ? (off_t)k * VALUE_LEN : 0;
	mix.fd = open(mix.path, O_RDWR);
	if (mix.fd < 0)
		return fail("open %s", mix.path);
	fill_value(mix.buf, VALUE_LEN);
	*ctx = &mix;
	return 0;
}

static int op_mix(void *ctx, uint64_t i)
{
	struct mixer *m = ctx;
	ssize_t n;

	if (i & 1)
		n = pread(m->fd, m->buf, VALUE_LEN, m->off);
	else
		n = pwrite(m->fd, m->buf, VALUE_LEN, m->off);
	return n == VALUE_LEN ? 0 : fail("pread/pwrite %s", m->path);
}

/* Create the files (VALUE_LEN bytes per process), run, remove them. */
static int par_mix(const char *metric, bool same)
{
	struct par_spec s = { .metric = metric, .procs = B.procs,
			      .init = mix_init, .op = op_mix };
	char path[4096], *value;
	size_t len = (size_t)VALUE_LEN * (size_t)B.procs;
	int rc = 0, files = same ? 1 : B.procs;

	mix_same = same;
	value = malloc(len);
	if (!value)
		return fail("malloc");
	fill_value(value, len);
	for (int k = 0; k < files && rc == 0; k++) {
		mix_path(k, path, sizeof(path));
		rc = put_file(path, value, len);
	}
	if (rc == 0)
		rc = par_run(&s);
	for (int k = 0; k < files; k++) {
		mix_path(k, path, sizeof(path));
		unlink(path);
	}
	free(value);
	return rc;
}

static int wl_par_diff(void) { return par_mix("par-diff", false); }
static int wl_par_same(void) { return par_mix("par-same", true); }

/* ---- scaling: P clients, each on its own file; rings: one ring ---- */

/* The client's own file ("<name>.<k>"): path, buffer, and for pwrite an
 * O_RDWR descriptor. */
static struct one_file client;
static const char *client_name;
static bool client_rdwr;

static void client_path(int k, char *buf, size_t len)
{
	char name[64];

	snprintf(name, sizeof(name), "%s.%d", client_name, k);
	path_of(buf, len, name);
}

static int client_init(int k, void **ctx)
{
	client_path(k, client.path, sizeof(client.path));
	fill_value(client.buf, VALUE_LEN);
	client.fd = -1;
	if (client_rdwr) {
		client.fd = open(client.path, O_RDWR);
		if (client.fd < 0)
			return fail("open %s", client.path);
	}
	*ctx = &client;
	return 0;
}

/* B.procs clients doing op, each on its own VALUE_LEN-byte file; the
 * metric is "<name>@<clients>". */
static int clients_run(const char *name, op_fn op, bool rdwr)
{
	char metric[32], path[4096], value[VALUE_LEN];
	struct par_spec s = { .metric = metric, .procs = B.procs,
			      .init = client_init, .op = op };
	int rc = 0;

	snprintf(metric, sizeof(metric), "%s@%d", name, B.procs);
	client_name = name;
	client_rdwr = rdwr;
	fill_value(value, sizeof(value));
	for (int k = 0; k < B.procs && rc == 0; k++) {
		client_path(k, path, sizeof(path));
		rc = put_file(path, value, sizeof(value));
	}
	if (rc == 0)
		rc = par_run(&s);
	for (int k = 0; k < B.procs; k++) {
		client_path(k, path, sizeof(path));
		unlink(path);
	}
	return rc;
}

static int wl_par_cat(void) { return clients_run("cat", op_cat, false); }

static int wl_par_replace(void)
{
	return clients_run("replace", op_replace, false);
}

static int wl_par_pwrite(void)
{
	return clients_run("pwrite", op_pwrite, true);
}

/*
 * Ring appends by P writers to one ring, every record numbered:
 *
 *   "wKKK SSSSSSSSSSSS ....\n"   (VALUE_LEN bytes: writer K, its record S)
 *
 * Afterwards the ring is read from the start and checked (unless -x: the
 * floor keeps nothing):
 *   - st_size is every byte appended (a ring's st_size counts what was
 *     ever appended; a plain file's, on tmpfs, is its length);
 *   - every record read is whole;
 *   - each writer's records are consecutive and end with its last one:
 *     a ring evicts its oldest records, so what remains is the newest
 *     part of every writer's sequence, in that writer's order;
 *   - the records missing (the start of each sequence) are exactly as
 *     many as were appended and not read: none lost in the middle.
 */
#define REC_HEAD 18             /* "wKKK SSSSSSSSSSSS " */

static int op_append_numbered(void *ctx, uint64_t i)
{
	struct appender *a = ctx;

	snprintf(a->rec + 5, 14, "%012" PRIu64 " ", i);
	a->rec[REC_HEAD] = '.';
	if (write(a->fd, a->rec, VALUE_LEN) != VALUE_LEN)
		return fail("append %s", a->path);
	return 0;
}

static int numbered_init(int k, void **ctx)
{
	if (ring_init(k, ctx) != 0)
		return -1;
	memset(app.rec, '.', VALUE_LEN);
	snprintf(app.rec, 6, "w%03d ", k);
	app.rec[VALUE_LEN - 1] = '\n';
	return 0;
}

/* Writer and number of the record at r; -1 if it is not one of ours. */
static int parse_record(const char *r, int procs, int *k, uint64_t *seq)
{
	uint64_t v = 0;
	int w = 0;

	if (r[0] != 'w' || r[4] != ' ' || r[REC_HEAD - 1] != ' ' ||
	    r[VALUE_LEN - 1] != '\n')
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
	for (int i = REC_HEAD; i < VALUE_LEN - 1; i++)
		if (r[i] != '.')
			return -1;
	if (w >= procs)
		return -1;
	*k = w;
	*seq = v;
	return 0;
}

struct ring_seen {
	uint64_t first[MAX_PROCS], last[MAX_PROCS];
	bool any[MAX_PROCS];
	uint64_t records;       /* records read */
	char why[160];          /* the first fault found */
};

static void ring_fault(struct ring_seen *rs, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void ring_fault(struct ring_seen *rs, const char *fmt, ...)
{
	va_list ap;

	if (rs->why[0])
		return;
	va_start(ap, fmt);
	vsnprintf(rs->why, sizeof(rs->why), fmt, ap);
	va_end(ap);
}

static void ring_record(struct ring_seen *rs, const char *r, int procs)
{
	uint64_t seq;
	int k;

	if (parse_record(r, procs, &k, &seq) != 0) {
		ring_fault(rs, "record %" PRIu64 " is not whole", rs->records);
	} else if (!rs->any[k]) {
		rs->any[k] = true;
		rs->first[k] = rs->last[k] = seq;
	} else if (seq != rs->last[k] + 1) {
		ring_fault(rs, "writer %d: record %" PRIu64 " after %" PRIu64,
			   k, seq, rs->last[k]);
		rs->last[k] = seq;
	} else {
		rs->last[k] = seq;
	}
	rs->records++;
}

/* Read the ring from the start, record by record, into rs. */
static int ring_read(const char *path, int procs, struct ring_seen *rs)
{
	char *buf = malloc(SEQ_CHUNK + VALUE_LEN);
	size_t have = 0;
	ssize_t n;
	int fd;

	if (!buf)
		return fail("malloc");
	fd = open(path, O_RDONLY);
	if (fd < 0) {
		free(buf);
		return fail("open %s", path);
	}
	while ((n = read(fd, buf + have, SEQ_CHUNK)) > 0) {
		size_t off = 0;

		have += (size_t)n;
		for (; have - off >= VALUE_LEN; off += VALUE_LEN)
			ring_record(rs, buf + off, procs);
		memmove(buf, buf + off, have - off);
		have -= off;
	}
	close(fd);
	free(buf);
	if (n < 0)
		return fail("read %s", path);
	if (have)
		ring_fault(rs, "%zu bytes of a record at the end", have);
	return 0;
}

static int ring_check(const struct child_out *out, int procs)
{
	struct ring_seen rs = { .records = 0 };
	uint64_t appended = 0, missing = 0;
	struct stat st;

	if (!B.verify)
		return 0;
	for (int k = 0; k < procs; k++)
		appended += out[k].all_ops;
	if (stat(app.path, &st) != 0)
		return fail("stat %s", app.path);
	if ((uint64_t)st.st_size != appended * VALUE_LEN)
		ring_fault(&rs, "st_size %jd, appended %" PRIu64 " bytes",
			   (intmax_t)st.st_size, appended * VALUE_LEN);
	if (ring_read(app.path, procs, &rs) != 0)
		return -1;
	for (int k = 0; k < procs; k++) {
		if (!rs.any[k]) {
			missing += out[k].all_ops;
			continue;
		}
		if (rs.last[k] + 1 != out[k].all_ops)
			ring_fault(&rs, "writer %d: last record %" PRIu64
				   " of %" PRIu64, k, rs.last[k],
				   out[k].all_ops);
		missing += rs.first[k];
	}
	if (rs.records + missing != appended)
		ring_fault(&rs, "%" PRIu64 " read + %" PRIu64 " evicted, %"
			   PRIu64 " appended", rs.records, missing, appended);
	if (rs.why[0]) {
		printf("CHECK ring@%d FAIL %s\n", procs, rs.why);
		fflush(stdout);
		errno = 0;
		return fail("ring check: %s", rs.why);
	}
	printf("CHECK ring@%d ok appended=%" PRIu64 " read=%" PRIu64 "\n",
	       procs, appended, rs.records);
	fflush(stdout);
	return 0;
}

static int wl_par_ring(void)
{
	char metric[32];
	struct par_spec s = { .metric = metric, .procs = B.procs,
			      .init = numbered_init, .op = op_append_numbered,
			      .unit = "records/s", .check = ring_check };
	int rc;

	snprintf(metric, sizeof(metric), "ring@%d", B.procs);
	path_of(app.path, sizeof(app.path), "par.ring");
	unlink(app.path);
	rc = par_run(&s);
	unlink(app.path);
	return rc;
}

/* ---- scale: N ten-byte files in one directory ---- */

struct scale {
	char dir[4096];
	char path[4200];
	char value[SMALL_LEN];
	uint64_t rng;
};

struct mem {
	double shmem_slab;      /* Shmem + Slab of /proc/meminfo, bytes */
	double arena;           /* st_blocks * 512 of the arena, bytes */
	double rss_anon;        /* RssAnon of the daemon, bytes */
};

static uint64_t rnd(struct scale *s)
{
	s->rng ^= s->rng << 13;
	s->rng ^= s->rng >> 7;
	s->rng ^= s->rng << 17;
	return s->rng;
}

static const char *var_path(struct scale *s, long i)
{
	snprintf(s->path, sizeof(s->path), "%s/v%07ld", s->dir, i);
	return s->path;
}

/* The value in kB of the line "key: value kB" of file, in bytes. */
static double kb_field(const char *file, const char *key)
{
	FILE *f = fopen(file, "r");
	char line[256];
	size_t klen = strlen(key);
	double v = 0;

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, key, klen) == 0 && line[klen] == ':') {
			v = strtod(line + klen + 1, NULL) * 1024;
			break;
		}
	fclose(f);
	return v;
}

static void mem_take(struct mem *m)
{
	char status[64];
	struct stat st;

	m->shmem_slab = kb_field("/proc/meminfo", "Shmem") +
			kb_field("/proc/meminfo", "Slab");
	m->arena = 0;
	if (B.arena && stat(B.arena, &st) == 0)
		m->arena = (double)st.st_blocks * 512;
	m->rss_anon = 0;
	if (B.pid > 0) {
		snprintf(status, sizeof(status), "/proc/%d/status", (int)B.pid);
		m->rss_anon = kb_field(status, "RssAnon");
	}
}

/* Drop the kernel's caches (root only): what is "2" (dentries and
 * inodes) or "3" (the page cache too).  Let the FUSE forgets that follow
 * reach the daemon before anything is timed. */
static bool drop_caches(const char *what)
{
	int fd;
	bool ok;

	if (!B.drop)
		return false;
	sync();
	fd = open("/proc/sys/vm/drop_caches", O_WRONLY);
	if (fd < 0)
		return false;
	ok = write(fd, what, 1) == 1;
	close(fd);
	usleep(1000000);
	counts_settle();
	return ok;
}

static int create_vars(struct scale *s, long from, long to)
{
	for (long i = from; i < to; i++)
		if (put_file(var_path(s, i), s->value, SMALL_LEN) != 0)
			return -1;
	return 0;
}

/* Mean stat latency (ns) over `count` names drawn from the first n. */
static int stat_random(struct scale *s, long n, long count, double *ns)
{
	struct stat st;
	double t0 = now();

	for (long k = 0; k < count; k++)
		if (stat(var_path(s, (long)(rnd(s) % (uint64_t)n)), &st) != 0)
			return fail("stat %s", s->path);
	*ns = (now() - t0) * 1e9 / (double)count;
	return 0;
}

/* Mean stat latency (ns) of min(1000, n) distinct random names, each
 * stat'ed once (after a cache drop, each one is a miss). */
static int stat_distinct(struct scale *s, long n, double *ns)
{
	long count = n < SCALE_SMALL ? n : SCALE_SMALL;
	uint32_t *idx = malloc(sizeof(*idx) * (size_t)n);
	struct stat st;
	double t0;
	int rc = 0;

	if (!idx)
		return fail("malloc");
	for (long i = 0; i < n; i++)
		idx[i] = (uint32_t)i;
	for (long k = 0; k < count; k++) {
		long j = k + (long)(rnd(s) % (uint64_t)(n - k));
		uint32_t t = idx[k];

		idx[k] = idx[j];
		idx[j] = t;
	}
	t0 = now();
	for (long k = 0; k < count && rc == 0; k++)
		if (stat(var_path(s, idx[k]), &st) != 0)
			rc = fail("stat %s", s->path);
	*ns = (now() - t0) * 1e9 / (double)count;
	free(idx);
	return rc;
}

/* Stat each of the first n names once (untimed): the first stat after a
 * file's last write asks the file system on any FUSE mount; the warm
 * latency is that of names already looked at. */
static int stat_all(struct scale *s, long n)
{
	struct stat st;

	for (long i = 0; i < n; i++)
		if (stat(var_path(s, i), &st) != 0)
			return fail("stat %s", s->path);
	return 0;
}

/* Warm, then cold (if caches can be dropped) stat latency at n names. */
static int stat_point(struct scale *s, long n, const char *tag)
{
	char metric[64];
	double ns = 0;

	snprintf(metric, sizeof(metric), "scale-stat@%s", tag);
	if (stat_all(s, n) != 0 || count_begin() != 0 ||
	    stat_random(s, n, WARM_STATS, &ns) != 0 ||
	    count_end(metric, WARM_STATS) != 0)
		return -1;
	result(metric, ns, "ns");
	if (!drop_caches("2"))
		return 0;
	snprintf(metric, sizeof(metric), "scale-stat-cold@%s", tag);
	if (count_begin() != 0 || stat_distinct(s, n, &ns) != 0 ||
	    count_end(metric, n < SCALE_SMALL ? n : SCALE_SMALL) != 0)
		return -1;
	result(metric, ns, "ns");
	return 0;
}

static void mem_report(const struct mem *a, const struct mem *b, long n,
		       const char *metric)
{
	result(metric, (b->shmem_slab - a->shmem_slab) / (double)n, "B/var");
}

/* Create N - 1000 more files; report rate and memory per variable. */
static int scale_grow(struct scale *s, struct mem *m0)
{
	long n = B.nvars - SCALE_SMALL;
	struct mem m1;
	double t0, t;

	drop_caches("2");
	mem_take(m0);
	if (count_begin() != 0)
		return -1;
	t0 = now();
	if (create_vars(s, SCALE_SMALL, B.nvars) != 0)
		return -1;
	t = now() - t0;
	if (count_end("scale-create", (uint64_t)n) != 0)
		return -1;
	mem_take(&m1);
	result("scale-create", (double)n / t, "ops/s");
	mem_report(m0, &m1, n, "scale-mem");
	if (B.arena)
		result("scale-arena", m1.arena / (double)B.nvars, "B/var");
	if (B.pid > 0)
		result("scale-daemon-rss", (m1.rss_anon - m0->rss_anon) /
		       (double)n, "B/var");
	return 0;
}

static int scale_remove(struct scale *s, long n)
{
	double t0 = now();

	for (long i = 0; i < n; i++)
		if (unlink(var_path(s, i)) != 0 && errno != ENOENT)
			return fail("unlink %s", s->path);
	result("scale-unlink", (double)n / (now() - t0), "ops/s");
	return rmdir(s->dir) == 0 ? 0 : fail("rmdir %s", s->dir);
}

/*
 * 1. mkdir scale.d; create 1000 files; stat latency at 1k (warm: every
 *    name stat'ed once, then 20000 random names, no cache drop; cold:
 *    1000 distinct names after dropping the dentry/inode caches).
 * 2. Drop caches, take Shmem+Slab (and the arena's and daemon's size),
 *    create the other N-1000 files (timed), take them again: memory per
 *    variable = growth / (N-1000); arena = allocated size / N.
 * 3. Stat latency at N, as in 1; Shmem+Slab growth per variable once the
 *    caches are dropped (what the files cost when nobody looks at them).
 * 4. Unlink everything (timed) and rmdir.
 */
static int wl_scale(void)
{
	struct scale s = { .rng = 0x9e3779b97f4a7c15ull };
	struct mem m0, m2;
	int rc = -1;

	if (B.nvars < 2 * SCALE_SMALL) {
		errno = EINVAL;
		return fail("-N must be at least %d", 2 * SCALE_SMALL);
	}
	memcpy(s.value, "123456789\n", SMALL_LEN);
	snprintf(s.dir, sizeof(s.dir), "%s/scale.d", B.dir);
	if (mkdir(s.dir, 0755) != 0)
		return fail("mkdir %s", s.dir);
	if (create_vars(&s, 0, SCALE_SMALL) == 0 &&
	    stat_point(&s, SCALE_SMALL, "1k") == 0 &&
	    scale_grow(&s, &m0) == 0 && stat_point(&s, B.nvars, "N") == 0) {
		if (B.drop) {
			mem_take(&m2);
			mem_report(&m0, &m2, B.nvars - SCALE_SMALL,
				   "scale-mem-dropped");
		}
		rc = 0;
	}
	if (scale_remove(&s, B.nvars) != 0)
		rc = -1;
	return rc;
}

/* ---- listings: ls -l, find, du -s, grep -r ---- */

/* Run argv (a program on PATH) with stdout on /dev/null and the C locale;
 * its wall time in *ms.  Exit statuses other than 0 and ok fail. */
static int run_prog(char *const argv[], int ok, double *ms)
{
	double t0 = now();
	pid_t pid = fork();
	int status, fd;

	if (pid < 0)
		return fail("fork");
	if (pid == 0) {
		fd = open("/dev/null", O_WRONLY);
		if (fd < 0 || dup2(fd, STDOUT_FILENO) < 0)
			_exit(127);
		setenv("LC_ALL", "C", 1);
		execvp(argv[0], argv);
		_exit(127);
	}
	if (waitpid(pid, &status, 0) < 0)
		return fail("waitpid");
	*ms = (now() - t0) * 1e3;
	if (!WIFEXITED(status) ||
	    (WEXITSTATUS(status) != 0 && WEXITSTATUS(status) != ok)) {
		errno = 0;
		return fail("%s exited with status 0x%x", argv[0], status);
	}
	return 0;
}

/* Time argv cold (every cache dropped first) as metric, then again warm
 * as metric-warm; count the FUSE requests per entry of the `entries` it
 * lists. */
static int time_listing(const char *metric, char *const argv[], int ok,
			uint64_t entries)
{
	char warm[64];
	double ms;

	if (!drop_caches("3")) {
		errno = EPERM;
		return fail("cold %s needs drop_caches (root)", metric);
	}
	if (count_begin() != 0 || run_prog(argv, ok, &ms) != 0 ||
	    count_end(metric, entries) != 0)
		return -1;
	result(metric, ms, "ms");
	snprintf(warm, sizeof(warm), "%s-warm", metric);
	if (count_begin() != 0 || run_prog(argv, ok, &ms) != 0 ||
	    count_end(warm, entries) != 0)
		return -1;
	result(warm, ms, "ms");
	return 0;
}

/* Remove path and everything under it. */
static int remove_tree(const char *path)
{
	char *argv[] = { "rm", "-rf", (char *)path, NULL };
	double ms;

	return run_prog(argv, 0, &ms);
}

/* `ls -l` of a directory of -L files of 100 bytes (f00000, f00001...). */
static int wl_ls(void)
{
	char dir[4096], path[4200], value[VALUE_LEN];
	char *argv[] = { "ls", "-l", dir, NULL };
	int rc = -1;

	fill_value(value, sizeof(value));
	snprintf(dir, sizeof(dir), "%s/ls.d", B.dir);
	if (mkdir(dir, 0755) != 0)
		return fail("mkdir %s", dir);
	for (long i = 0; i < B.list_files; i++) {
		snprintf(path, sizeof(path), "%s/f%05ld", dir, i);
		if (put_file(path, value, sizeof(value)) != 0)
			goto out;
	}
	rc = time_listing("ls-l", argv, 0, (uint64_t)B.list_files);
out:
	if (remove_tree(dir) != 0)
		rc = -1;
	return rc;
}

static uint64_t tree_entries;

static int count_entry(const char *path, const struct stat *st, int type,
		       struct FTW *ftw)
{
	tree_entries++;
	return 0;
}

/* find, du -s and grep -r over a copy of -T DIR.  grep looks for a word
 * that is in no file, so it reads every byte. */
static int wl_tree(void)
{
	char tree[4096];
	char *cp[] = { "cp", "-R", (char *)B.tree, tree, NULL };
	char *find[] = { "find", tree, NULL };
	char *du[] = { "du", "-s", tree, NULL };
	char *grep[] = { "grep", "-r", "-e", "mmbench-finds-nothing", tree,
			 NULL };
	double ms;
	int rc = -1;

	snprintf(tree, sizeof(tree), "%s/tree", B.dir);
	if (run_prog(cp, 0, &ms) != 0)
		goto out;
	tree_entries = 0;
	if (nftw(tree, count_entry, 64, FTW_PHYS) != 0) {
		fail("walk %s", tree);
		goto out;
	}
	if (time_listing("find", find, 0, tree_entries) == 0 &&
	    time_listing("du-s", du, 0, tree_entries) == 0 &&
	    time_listing("grep-r", grep, GREP_NO_MATCH, tree_entries) == 0)
		rc = 0;
out:
	if (remove_tree(tree) != 0)
		rc = -1;
	return rc;
}

/* ---- main ---- */

struct workload {
	const char *name;
	int (*run)(void);
};

static const struct workload workloads[] = {
	{ "cat", wl_cat },
	{ "cat-phases", wl_cat_phases },
	{ "stat", wl_stat },
	{ "rw", wl_rw },
	{ "replace", wl_replace },
	{ "ring1", wl_ring1 },
	{ "ring4", wl_ring4 },
	{ "create", wl_create },
	{ "seq", wl_seq },
	{ "par-diff", wl_par_diff },
	{ "par-same", wl_par_same },
	{ "par-cat", wl_par_cat },
	{ "par-replace", wl_par_replace },
	{ "par-pwrite", wl_par_pwrite },
	{ "par-ring", wl_par_ring },
	{ "scale", wl_scale },
	{ "ls", wl_ls },
	{ "tree", wl_tree },
};

#define N_WORKLOADS (sizeof(workloads) / sizeof(workloads[0]))

static void usage(FILE *f)
{
	fprintf(f,
		"usage: mmbench [OPTIONS] DIR WORKLOAD[,WORKLOAD...]\n"
		"  -t SECS    length of each timed phase (default 1)\n"
		"  -S BYTES   seq: bytes written then read (default 256M)\n"
		"  -N COUNT   scale: number of variables (default 1000000)\n"
		"  -P PROCS   ring4, par-*: processes (default 4)\n"
		"  -x         par-ring: do not read the ring back and check it\n"
		"  -a ARENA   scale: the mmfs arena file (memory per variable)\n"
		"  -p PID     scale: the daemon, for its RssAnon growth\n"
		"  -c FILE    mmfs arena or floorfs counts= file: print the\n"
		"             FUSE requests per operation\n"
		"  -n         scale: do not drop the dentry/inode caches\n"
		"  -l         also the median latency of each operation\n"
		"             (single-process phases), as METRIC-p50 in ns\n"
		"  -L COUNT   ls: files in the directory (default 10000)\n"
		"  -T DIR     tree: the tree to copy (default /usr/include)\n"
		"workloads:");
	for (size_t i = 0; i < N_WORKLOADS; i++)
		fprintf(f, " %s", workloads[i].name);
	fprintf(f, "\n");
}

/* "256M" -> bytes; 0 on error. */
static uint64_t parse_size(const char *s)
{
	char *end;
	uint64_t v = strtoull(s, &end, 10);

	switch (*end) {
	case 'G': case 'g': v <<= 10; /* fall through */
	case 'M': case 'm': v <<= 10; /* fall through */
	case 'K': case 'k': v <<= 10; end++; break;
	default: break;
	}
	return *end ? 0 : v;
}

static int parse_args(int argc, char *argv[])
{
	int c;

	while ((c = getopt(argc, argv, "t:S:N:P:a:p:c:nxlL:T:h")) != -1) {
		switch (c) {
		case 't': B.secs = atof(optarg); break;
		case 'S': B.seq_bytes = parse_size(optarg); break;
		case 'N': B.nvars = atol(optarg); break;
		case 'P': B.procs = atoi(optarg); break;
		case 'a': B.arena = optarg; break;
		case 'p': B.pid = (pid_t)atoi(optarg); break;
		case 'c': B.counts = optarg; break;
		case 'n': B.drop = false; break;
		case 'x': B.verify = false; break;
		case 'l': B.lat = true; break;
		case 'L': B.list_files = atol(optarg); break;
		case 'T': B.tree = optarg; break;
		case 'h': usage(stdout); exit(0);
		default: return -1;
		}
	}
	if (argc - optind != 2 || B.secs <= 0 || B.seq_bytes < SEQ_CHUNK ||
	    B.procs < 1 || B.procs > MAX_PROCS || B.list_files < 1 ||
	    B.list_files > 100000)
		return -1;
	B.dir = argv[optind];
	B.workload = argv[optind + 1];
	return 0;
}

static const struct workload *find_workload(const char *name, size_t len)
{
	for (size_t i = 0; i < N_WORKLOADS; i++)
		if (strlen(workloads[i].name) == len &&
		    strncmp(workloads[i].name, name, len) == 0)
			return &workloads[i];
	return NULL;
}

/* Several workloads in one process (bench/run's scaling points): one
 * start-up instead of one each, which counts on a loaded machine.  A
 * failed workload does not stop the others; the exit status says. */
int main(int argc, char *argv[])
{
	const char *list, *p;
	int rc = 0;

	if (parse_args(argc, argv) != 0) {
		usage(stderr);
		return 2;
	}
	if (B.lat) {
		lat_buf = malloc(sizeof(double) * LAT_SAMPLES);
		if (!lat_buf) {
			perror("mmbench: malloc");
			return 1;
		}
	}
	list = B.workload;
	for (p = list; *p; p += *p == ',') {
		size_t len = strcspn(p, ",");

		if (!find_workload(p, len)) {
			fprintf(stderr, "mmbench: unknown workload %.*s\n",
				(int)len, p);
			usage(stderr);
			return 2;
		}
		p += len;
	}
	for (p = list; *p; p += *p == ',') {
		size_t len = strcspn(p, ",");
		const struct workload *w = find_workload(p, len);

		B.workload = w->name;
		if (w->run() != 0)
			rc = 1;
		p += len;
	}
	return rc;
}

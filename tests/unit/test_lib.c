/* test_lib.c -- libmmfs on an arena no daemon serves, from several
 * processes: values, counters, waits, rings, lock-free reads during
 * writes, writers killed with SIGKILL at random instants, and read-only
 * handles (which can take no lock). */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "format.h"
#include "mmfs.h"
#include "ring.h"
#include "store.h"
#include "unit.h"

static char arena[64];

static struct mmfs *attach(int flags)
{
	struct mmfs *m = NULL;
	int rc = mmfs_attach(arena, flags, &m);

	if (rc) {
		fprintf(stderr, "attach %s: %s\n", arena,
			mmfs_attach_error());
		exit(1);
	}
	return m;
}

static void t_values(void)
{
	struct mmfs *m = attach(MMFS_ATTACH_CREATE);
	uint64_t v1, v2;
	char buf[64];
	int64_t sum;

	CHECK(mmfs_set(m, "app/greeting", "hello", 5) == 0, "set");
	CHECK(mmfs_get(m, "app/greeting", buf, sizeof(buf), &v1) == 5 &&
	      memcmp(buf, "hello", 5) == 0, "get");
	CHECK(mmfs_set(m, "/app//greeting", "hi", 2) == 0, "set again");
	CHECK(mmfs_get(m, "app/greeting", buf, sizeof(buf), &v2) == 2 &&
	      v2 != v1, "a commit changes the version");
	CHECK(mmfs_get(m, "app/greeting", buf, 1, NULL) == -ERANGE,
	      "too small");
	CHECK(mmfs_get(m, "app/greeting", NULL, 0, NULL) == 2, "length");
	CHECK(mmfs_get(m, "app/none", buf, sizeof(buf), NULL) == -ENOENT,
	      "missing");
	CHECK(mmfs_get(m, "app", buf, sizeof(buf), NULL) == -EISDIR, "dir");
	CHECK(mmfs_get(m, "app/../app/greeting", buf, 9, NULL) == -EINVAL,
	      "dot-dot");
	CHECK(mmfs_get(m, "app/greeting/x", buf, 9, NULL) == -ENOTDIR,
	      "through a file");
	CHECK(mmfs_set(m, "app", "x", 1) == -EEXIST, "set a directory");
	CHECK(mmfs_set(m, "app/empty", "", 0) == 0 &&
	      mmfs_get(m, "app/empty", buf, sizeof(buf), NULL) == 0,
	      "empty value");
	CHECK(mmfs_add(m, "n", 5, &sum) == 0 && sum == 5, "add to nothing");
	CHECK(mmfs_add(m, "n", -7, &sum) == 0 && sum == -2, "add");
	CHECK(mmfs_get(m, "n", buf, sizeof(buf), NULL) == 3 &&
	      memcmp(buf, "-2\n", 3) == 0, "decimal text");
	CHECK(mmfs_add(m, "app/greeting", 1, NULL) == -EINVAL &&
	      mmfs_get(m, "app/greeting", buf, sizeof(buf), NULL) == 2,
	      "no number: unchanged");
	CHECK(mmfs_set(m, "big", "9223372036854775807", 19) == 0 &&
	      mmfs_add(m, "big", 1, NULL) == -ERANGE, "overflow");
	CHECK(mmfs_wait(m, "n", 12345, 20) == 0, "wait: differs already");
	CHECK(mmfs_version(m, "n", &v1) == 0 &&
	      mmfs_wait(m, "n", v1, 30) == -ETIMEDOUT, "wait: timeout");
	mmfs_detach(m);
}

static void t_rings(void)
{
	struct mmfs *m = attach(0);
	struct mmfs_ring_reader *r;
	char buf[64];

	CHECK(mmfs_append(m, "logs/app.ring", "one", 3) == -ENOENT,
	      "a ring in a missing directory");
	CHECK(mmfs_append(m, "log.ring", "one", 3) == 0 &&
	      mmfs_append(m, "log.ring", "two!", 4) == 0, "append");
	CHECK(mmfs_append(m, "n", "x", 1) == -EINVAL, "not a ring");
	CHECK(mmfs_ring_open(m, "log.ring", &r) == 0, "reader");
	CHECK(mmfs_ring_next(r, buf, sizeof(buf), 0) == 3 &&
	      memcmp(buf, "one", 3) == 0, "first record");
	CHECK(mmfs_ring_next(r, buf, 2, 0) == -EMSGSIZE, "too small");
	CHECK(mmfs_ring_next(r, buf, sizeof(buf), 0) == 4 &&
	      memcmp(buf, "two!", 4) == 0, "second record");
	CHECK(mmfs_ring_next(r, buf, sizeof(buf), 0) == -ETIMEDOUT &&
	      mmfs_ring_next(r, buf, sizeof(buf), 20) == -ETIMEDOUT, "end");
	mmfs_ring_close(r);
	mmfs_detach(m);
}

/* procs children run fn(i); every one must exit 0. */
static void run_children(int procs, void (*fn)(int))
{
	pid_t pids[16];
	int status, ok = 0;

	for (int i = 0; i < procs; i++) {
		pids[i] = fork();
		if (pids[i] == 0) {
			fn(i);
			_exit(0);
		}
	}
	for (int i = 0; i < procs; i++)
		ok += waitpid(pids[i], &status, 0) == pids[i] &&
		      WIFEXITED(status) && WEXITSTATUS(status) == 0;
	CHECK(ok == procs, "%d of %d children succeeded", ok, procs);
}

#define ADDS 20000

static void adder(int i)
{
	struct mmfs *m = attach(0);

	for (int k = 0; k < ADDS; k++)
		if (mmfs_add(m, "hits", 1, NULL) != 0)
			_exit(1);
	mmfs_detach(m);
}

static void t_counter(void)
{
	struct mmfs *m = attach(0);
	char buf[32];
	ssize_t n;

	run_children(4, adder);
	n = mmfs_get(m, "hits", buf, sizeof(buf) - 1, NULL);
	buf[n > 0 ? n : 0] = '\0';
	CHECK(atol(buf) == 4 * ADDS, "4 x %d adds give %s", ADDS, buf);
	mmfs_detach(m);
}

/* A waiter in another process is woken by the set, and sees it. */
static void t_wait(void)
{
	struct mmfs *m = attach(0);
	int ready[2], status;
	uint64_t v;
	pid_t pid;
	char c;

	mmfs_set(m, "flag", "0", 1);
	mmfs_version(m, "flag", &v);
	if (pipe(ready))
		abort();
	pid = fork();
	if (pid == 0) {
		struct mmfs *c2 = attach(0);
		char b[8];

		write(ready[1], "r", 1);
		if (mmfs_wait(c2, "flag", v, 5000) != 0 ||
		    mmfs_get(c2, "flag", b, sizeof(b), NULL) != 1 ||
		    b[0] != '1')
			_exit(1);
		_exit(0);
	}
	read(ready[0], &c, 1);
	usleep(50000);          /* let it sleep in the futex */
	mmfs_set(m, "flag", "1", 1);
	CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
	      WEXITSTATUS(status) == 0, "a waiter in another process woke");
	close(ready[0]);
	close(ready[1]);
	mmfs_detach(m);
}

#define SMALL 3000
#define LARGE 70000             /* over one DATA block: a map */

static void writer(int i)
{
	static char a[SMALL], b[LARGE];
	struct mmfs *m = attach(0);

	memset(a, 'A', sizeof(a));
	memset(b, 'B', sizeof(b));
	for (int k = 0; k < 3000; k++) {
		if (mmfs_set(m, "v", k % 2 ? b : a, k % 2 ? LARGE : SMALL))
			_exit(1);
	}
	mmfs_detach(m);
}

/* Lock-free reads while another process replaces the value: every read
 * is one whole value. */
static void t_torn(void)
{
	static char buf[LARGE];
	struct mmfs *m = attach(0);
	int reads = 0, torn = 0, status;
	pid_t pid;

	mmfs_set(m, "v", "", 0);
	pid = fork();
	if (pid == 0) {
		writer(0);
		_exit(0);
	}
	while (waitpid(pid, &status, WNOHANG) == 0) {
		ssize_t n = mmfs_get(m, "v", buf, sizeof(buf), NULL);
		char want = n == SMALL ? 'A' : 'B';

		reads++;
		if (n == 0)
			continue;
		if (n != SMALL && n != LARGE) {
			torn++;
			continue;
		}
		for (ssize_t k = 0; k < n; k++)
			if (buf[k] != want) {
				torn++;
				break;
			}
	}
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "writer");
	CHECK(torn == 0, "%d torn of %d reads", torn, reads);
	printf("lock-free reads during replaces: %d, torn %d\n", reads, torn);
	mmfs_detach(m);
}

/* A writer counting in "seq" reports each commit; killed at a random
 * instant (often inside the arena mutex), it loses none of them, and the
 * next writer goes on. */
static void t_kill(void)
{
	struct mmfs *m = attach(0);
	int rounds = 40, lost = 0, stuck = 0;
	static char buf[LARGE + 1];

	srand((unsigned)time(NULL));
	mmfs_set(m, "seq", "0", 1);
	for (int r = 0; r < rounds; r++) {
		int fds[2];
		long last = -1, got, cur;
		pid_t pid;
		ssize_t n;

		if (pipe(fds))
			abort();
		pid = fork();
		if (pid == 0) {
			struct mmfs *c2 = attach(0);
			static char val[LARGE];

			for (long k = 1;; k++) {
				int len = snprintf(val, 32, "%ld", k);

				/* large values: long sections under the mutex */
				memset(val + len, ' ', LARGE - len);
				if (mmfs_set(c2, "seq", val, LARGE))
					_exit(1);
				write(fds[1], &k, sizeof(k));
			}
		}
		close(fds[1]);
		usleep(2000 + rand() % 20000);
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		while (read(fds[0], &got, sizeof(got)) == sizeof(got))
			last = got;
		close(fds[0]);
		n = mmfs_get(m, "seq", buf, sizeof(buf) - 1, NULL);
		buf[n > 0 ? n : 0] = '\0';
		cur = atol(buf);
		lost += n < 0 || cur < last;
		stuck += mmfs_set(m, "other", "x", 1) != 0;
	}
	CHECK(lost == 0, "%d rounds lost a commit", lost);
	CHECK(stuck == 0, "%d rounds could not write after the kill", stuck);
	mmfs_detach(m);
}

static void t_rdonly_and_fork(void)
{
	struct mmfs *ro = attach(MMFS_ATTACH_RDONLY), *m = attach(0);
	char buf[16];
	uint64_t v;
	int status;
	pid_t pid;

	CHECK(mmfs_get(ro, "flag", buf, sizeof(buf), NULL) == 1, "ro get");
	CHECK(mmfs_set(ro, "flag", "2", 1) == -EROFS, "ro set");
	CHECK(mmfs_add(ro, "flag", 1, NULL) == -EROFS, "ro add");
	CHECK(mmfs_append(ro, "log.ring", "x", 1) == -EROFS, "ro append");
	CHECK(mmfs_version(ro, "flag", &v) == 0 &&
	      mmfs_wait(ro, "flag", v, 20) == -ETIMEDOUT, "ro wait: timeout");
	CHECK(mmfs_wait(ro, "flag", v + 1, 20) == 0, "ro wait: differs");
	pid = fork();
	if (pid == 0) {
		usleep(20000);
		_exit(mmfs_set(m, "flag", "3", 1) == 0 ? 0 : 1);
	}
	CHECK(mmfs_wait(ro, "flag", v, 5000) == 0, "ro wait: woken");
	waitpid(pid, &status, 0);
	pid = fork();
	if (pid == 0)           /* the parent's handle, in the child */
		_exit(mmfs_add(m, "forked", 1, NULL) == 0 ? 0 : 1);
	CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
	      WEXITSTATUS(status) == 0, "a forked child writes");
	CHECK(mmfs_get(m, "forked", buf, sizeof(buf), NULL) == 2, "seen");
	mmfs_detach(ro);
	mmfs_detach(m);
}

/* A server that has stopped serving (unmounted) but not yet closed the
 * arena still reads its snapshots: a new server's repair keeps them (it
 * sees the old one's presence lock and its MM_BLOCK_HELD flags), even
 * while it allocates a lot. */
static void t_retiring_server(void)
{
	struct store_options so = { .flags = STORE_OPEN_SHARED };
	static char old[5000], fresh[5000], buf[5000];
	struct store *a = NULL, *b = NULL;
	struct store_snap snap = {0};
	store_ref ref, fill;
	char err[256], name[32];
	int same = 0;

	memset(old, 'O', sizeof(old));
	memset(fresh, 'N', sizeof(fresh));
	CHECK(store_open(arena, &so, &a, err, sizeof(err)) == 0, "%s", err);
	if (!a)
		return;
	CHECK(store_resolve(a, "snap", true, 0644, 0, 0, &ref) == 0 &&
	      store_write(a, ref, 0, old, sizeof(old), true) > 0, "old");
	CHECK(store_snap_take(a, ref, &snap) == 0, "snapshot");
	CHECK(store_write(a, ref, 0, fresh, sizeof(fresh), true) > 0, "new");
	store_retire(a);
	CHECK(store_open(arena, &so, &b, err, sizeof(err)) == 0, "%s", err);
	for (int i = 0; b && i < 300; i++) {
		snprintf(name, sizeof(name), "fill%d", i);
		if (store_resolve(b, name, true, 0644, 0, 0, &fill) == 0)
			store_write(b, fill, 0, fresh, sizeof(fresh), true);
	}
	CHECK(store_snap_read(a, &snap, 0, buf, sizeof(buf)) == sizeof(buf),
	      "snapshot read");
	for (size_t i = 0; i < sizeof(buf); i++)
		same += buf[i] == 'O';
	CHECK(same == (int)sizeof(buf), "the old version kept whole "
	      "(%d of %zu bytes)", same, sizeof(buf));
	store_snap_drop(a, &snap);
	store_close(a);
	store_close(b);
}

/* A library writer replaces a file that a server's snapshot reads (an
 * O_RDONLY handle through the mount): the snapshot keeps the old bytes
 * until it is dropped, for a value in a small block and for one in a
 * map.  The library writer must not free the old block: it pinned and
 * unpinned it once, and its unpin cleared the server's MM_BLOCK_HELD
 * and freed the block under the snapshot (a reader through the mount saw
 * "\0\0\0\0" for a counter). */
static void t_library_writer_beside_snapshot(void)
{
	static const size_t sizes[] = { 4, 5000, 100000 };
	struct store_options so = { .flags = STORE_OPEN_SHARED };
	static char old[100000], fresh[100000], buf[100000];
	struct mmfs *m = attach(0);
	struct store *srv = NULL;
	char err[256], name[32];

	memset(old, 'O', sizeof(old));
	memset(fresh, 'N', sizeof(fresh));
	CHECK(store_open(arena, &so, &srv, err, sizeof(err)) == 0, "%s", err);
	for (size_t k = 0; srv && k < sizeof(sizes) / sizeof(sizes[0]); k++) {
		size_t n = sizes[k], same = 0;
		struct store_snap snap = {0};
		store_ref ref;

		snprintf(name, sizeof(name), "snaplib%zu", n);
		CHECK(store_resolve(srv, name, true, 0644, 0, 0, &ref) == 0 &&
		      store_write(srv, ref, 0, old, n, true) == (ssize_t)n,
		      "%zu bytes written", n);
		CHECK(store_snap_take(srv, ref, &snap) == 0, "snapshot");
		CHECK(mmfs_set(m, name, fresh, n) == 0, "library replace");
		for (int i = 0; i < 50; i++) {  /* reuse what was freed */
			snprintf(name, sizeof(name), "fill%zu.%d", n, i);
			mmfs_set(m, name, fresh, n);
		}
		CHECK(store_snap_read(srv, &snap, 0, buf, n) == (ssize_t)n,
		      "snapshot read");
		for (size_t i = 0; i < n; i++)
			same += buf[i] == 'O';
		CHECK(same == n, "a %zu-byte snapshot kept whole (%zu bytes "
		      "equal)", n, same);
		store_snap_drop(srv, &snap);
	}
	store_close(srv);
	mmfs_detach(m);
}

/* A read-only handle maps the arena read-only: it can take no lock and
 * set no waiter bit, so everything it does is lock-free.  Waits, version
 * and ring reads work (they used to store to the mapping: SIGSEGV). */
static void t_rdonly_reads(void)
{
	struct mmfs *ro = attach(MMFS_ATTACH_RDONLY), *m = attach(0);
	struct mmfs_ring_reader *r;
	uint64_t v;
	char buf[16];
	int status;
	pid_t pid;

	mmfs_set(m, "ro/flag", "a", 1);
	CHECK(mmfs_version(ro, "ro/flag", &v) == 0, "ro version");
	CHECK(mmfs_wait(ro, "ro/flag", v, 0) == -ETIMEDOUT &&
	      mmfs_wait(ro, "ro/flag", v, 30) == -ETIMEDOUT, "ro wait: timeout");
	CHECK(mmfs_wait(ro, "ro/none", v, 0) == -ENOENT, "ro wait: missing");
	pid = fork();
	if (pid == 0) {
		usleep(50000);
		_exit(mmfs_set(m, "ro/flag", "b", 1) == 0 ? 0 : 1);
	}
	CHECK(mmfs_wait(ro, "ro/flag", v, 5000) == 0 &&
	      mmfs_get(ro, "ro/flag", buf, sizeof(buf), NULL) == 1 &&
	      buf[0] == 'b', "ro wait: woken by another process's set");
	CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
	      WEXITSTATUS(status) == 0, "setter");

	mmfs_append(m, "ro/log.ring", "one", 3);
	mmfs_append(m, "ro/log.ring", "two!", 4);
	CHECK(mmfs_ring_open(ro, "ro/flag", &r) == -EINVAL, "ro: not a ring");
	CHECK(mmfs_ring_open(ro, "ro/none.ring", &r) == -ENOENT,
	      "ro: no ring");
	CHECK(mmfs_append(ro, "ro/log.ring", "x", 1) == -EROFS, "ro append");
	CHECK(mmfs_ring_open(ro, "ro/log.ring", &r) == 0, "ro ring reader");
	CHECK(mmfs_ring_next(r, buf, sizeof(buf), 0) == 3 &&
	      memcmp(buf, "one", 3) == 0, "ro: first record");
	CHECK(mmfs_ring_next(r, buf, 2, 0) == -EMSGSIZE, "ro: too small");
	CHECK(mmfs_ring_next(r, buf, sizeof(buf), 0) == 4 &&
	      memcmp(buf, "two!", 4) == 0, "ro: second record");
	CHECK(mmfs_ring_next(r, buf, sizeof(buf), 0) == -ETIMEDOUT, "ro: end");
	pid = fork();
	if (pid == 0) {
		usleep(50000);
		_exit(mmfs_append(m, "ro/log.ring", "three", 5) == 0 ? 0 : 1);
	}
	CHECK(mmfs_ring_next(r, buf, sizeof(buf), 5000) == 5 &&
	      memcmp(buf, "three", 5) == 0, "ro: a record waited for");
	CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
	      WEXITSTATUS(status) == 0, "appender");
	mmfs_ring_close(r);
	mmfs_detach(ro);
	mmfs_detach(m);
}

/* A process that dies holding the arena mutex leaves the lock generation
 * odd until the next writer repairs.  A read-only reader cannot take the
 * mutex to wait for it (it used to try: SIGSEGV): it gives up with
 * -EAGAIN, and reads again once a writer has been by. */
static void t_rdonly_dead_holder(void)
{
	struct mmfs *ro = attach(MMFS_ATTACH_RDONLY), *m;
	struct timespec t0, t1;
	char buf[16];
	ssize_t n;
	int status;
	pid_t pid = fork();

	if (pid == 0) {
		int fd = open(arena, O_RDWR);
		struct mm_header *h = mmap(NULL, MM_PAGE, PROT_READ |
					   PROT_WRITE, MAP_SHARED, fd, 0);

		if (fd < 0 || h == MAP_FAILED)
			_exit(1);
		pthread_mutex_lock(&h->lock.mutex);
		__atomic_store_n(&h->gen, h->gen | 1, __ATOMIC_RELEASE);
		_exit(0);       /* holding it */
	}
	CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
	      WEXITSTATUS(status) == 0, "holder");
	clock_gettime(CLOCK_MONOTONIC, &t0);
	n = mmfs_get(ro, "flag", buf, sizeof(buf), NULL);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	CHECK(n == -EAGAIN, "ro get while a dead process holds the lock: %zd",
	      n);
	CHECK(t1.tv_sec - t0.tv_sec < 10, "gave up within 10 s");
	m = attach(0);
	CHECK(mmfs_set(m, "after", "ok", 2) == 0, "a writer repairs");
	CHECK(mmfs_get(ro, "after", buf, sizeof(buf), NULL) == 2,
	      "ro get after the repair");
	mmfs_detach(m);
	mmfs_detach(ro);
}

/* A lock-free lookup walks a hash chain past other names: a shorter
 * one's dentry is a smaller block than the name looked for needs, and
 * must not stop the walk (it did: -ENXIO, for any name sharing a bucket
 * with a shorter one made after it). */
static void t_long_names(void)
{
	struct mmfs *m = attach(0);
	char name[300], buf[300];
	int bad = 0;

	for (int i = 0; i < 200; i++) {         /* long names first... */
		snprintf(name, sizeof(name), "names/%0250d", i);
		mmfs_set(m, name, name, strlen(name));
	}
	for (int i = 0; i < 1000; i++) {        /* ...then short ones, which
						   go before them in the
						   chains */
		snprintf(name, sizeof(name), "names/%d", i);
		mmfs_set(m, name, "x", 1);
	}
	for (int i = 0; i < 200; i++) {
		snprintf(name, sizeof(name), "names/%0250d", i);
		bad += mmfs_get(m, name, buf, sizeof(buf), NULL) !=
		       (ssize_t)strlen(name);
	}
	CHECK(bad == 0, "%d of 200 long names not read", bad);
	mmfs_detach(m);
}

/* A writer that attaches alone runs recovery, which rebuilds the name
 * index and the directory lists in place: a read-only reader meanwhile
 * must wait for it (as for any holder of the arena lock), never find a
 * name missing or the arena damaged. */
static void t_rdonly_during_recovery(void)
{
	struct mmfs *ro = attach(MMFS_ATTACH_RDONLY);
	int odd = 0, reads = 0, status;
	char buf[16], name[16];
	pid_t pid;

	for (int i = 0; i < 300; i++) {        /* an index worth rebuilding */
		struct mmfs *m = attach(0);

		snprintf(name, sizeof(name), "many/%d", i);
		mmfs_set(m, name, "x", 1);
		mmfs_detach(m);
	}
	pid = fork();
	if (pid == 0) {
		for (int i = 0; i < 300; i++)
			mmfs_detach(attach(0)); /* alone: recovery each time */
		_exit(0);
	}
	while (waitpid(pid, &status, WNOHANG) == 0) {
		snprintf(name, sizeof(name), "many/%d", reads % 300);
		odd += mmfs_get(ro, name, buf, sizeof(buf), NULL) != 1;
		reads++;
	}
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "attacher");
	CHECK(odd == 0, "%d of %d reads during recoveries failed", odd, reads);
	mmfs_detach(ro);
}

/* After all that, and the last detach, the arena checks clean. */
static void t_clean(void)
{
	struct store_options o = { .flags = STORE_OPEN_SNAPSHOT };
	struct store *s;
	char err[256];

	CHECK(store_open(arena, &o, &s, err, sizeof(err)) == 0, "%s", err);
	CHECK(store_verify(s, NULL, NULL) == 0, "no problems");
	store_close(s);
}

int main(void)
{
	snprintf(arena, sizeof(arena), "/dev/shm/mmfs-test-lib.%d",
		 (int)getpid());
	t_values();
	t_rings();
	t_counter();
	t_wait();
	t_torn();
	t_kill();
	t_rdonly_and_fork();
	t_retiring_server();
	t_library_writer_beside_snapshot();
	t_rdonly_reads();
	t_rdonly_dead_holder();
	t_rdonly_during_recovery();
	t_long_names();
	t_clean();
	unlink(arena);
	return unit_exit("test_lib");
}

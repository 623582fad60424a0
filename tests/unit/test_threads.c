/* test_threads.c -- the store from several threads at once.
 *
 * Writers replace whole values of their own files and of one shared file
 * (large ones, so rebuild copies with the arena lock dropped), truncate
 * them, and unlink and recreate a file; readers read through snapshots and
 * through store_read.  Every value is one byte repeated, so a torn read
 * shows as two different bytes.  At the end the arena must verify clean.
 * Run it under ThreadSanitizer too (scripts/test).
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ring.h"
#include "store.h"

#define WRITERS 3
#define READERS 3
#define ROUNDS 150
#define BIG (200 * 1024)

static struct store *s;
static store_ref shared_file, files[WRITERS];
static atomic_int failures, writers_left;
static char arena_path[256];

#define CHECK(cond) do { \
	if (!(cond)) { \
		fprintf(stderr, "%s:%d: CHECK(%s) failed\n", __FILE__, \
			__LINE__, #cond); \
		atomic_fetch_add(&failures, 1); \
	} \
} while (0)

/* One byte repeated, or empty: a whole value. */
static int whole(const unsigned char *buf, size_t n)
{
	for (size_t i = 1; i < n; i++)
		if (buf[i] != buf[0])
			return 0;
	return 1;
}

static void *writer(void *arg)
{
	long id = (long)arg;
	unsigned char *buf = malloc(BIG);
	store_ref mine = files[id];

	for (int r = 0; r < ROUNDS && buf; r++) {
		size_t n = (size_t)(r % 7 + 1) * (BIG / 7);
		struct store_attr a = { .size = 0 };

		memset(buf, 'a' + (int)((id + r) % 26), n);
		CHECK(store_write(s, mine, 0, buf, n, true) == (ssize_t)n);
		CHECK(store_write(s, shared_file, 0, buf, n, true) ==
		      (ssize_t)n);
		if (r % 10 == 0)
			CHECK(store_setattr(s, mine, STORE_SET_SIZE, &a,
					    NULL) == 0);
	}
	free(buf);
	atomic_fetch_sub(&writers_left, 1);
	return NULL;
}

static void read_snapshot(store_ref ref, unsigned char *buf)
{
	struct store_snap snap = {0};
	ssize_t n;

	if (store_snap_take(s, ref, &snap) != 0)
		return;
	n = store_snap_read(s, &snap, 0, buf, BIG);
	CHECK(n >= 0 && (size_t)n == snap.size);
	CHECK(n <= 0 || whole(buf, (size_t)n));
	store_snap_drop(s, &snap);
}

static void *reader(void *arg)
{
	unsigned char *buf = malloc(BIG);

	(void)arg;
	while (buf && atomic_load(&writers_left) > 0) {
		ssize_t n = store_read(s, shared_file, 0, buf, BIG);

		CHECK(n >= 0 && whole(buf, (size_t)n));
		read_snapshot(shared_file, buf);
		read_snapshot(files[0], buf);
	}
	free(buf);
	return NULL;
}

/* Names come and go while the writers work. */
static void *churner(void *arg)
{
	struct store_attr a;
	store_ref ref;

	(void)arg;
	while (atomic_load(&writers_left) > 0) {
		if (store_mknod(s, store_root(s), "churn", 0100644, 0, 0, 0,
				&ref, &a) == 0) {
			CHECK(store_write(s, ref, 0, "x", 1, false) == 1);
			CHECK(store_unlink(s, store_root(s), "churn") == 0);
		}
	}
	return NULL;
}

static void print_problem(void *ctx, const char *msg)
{
	(void)ctx;
	fprintf(stderr, "verify: %s\n", msg);
	atomic_fetch_add(&failures, 1);
}

int main(void)
{
	char dir[] = "/tmp/mmfs-threads-XXXXXX", err[256], name[16];
	struct store_options o = { .flags = STORE_OPEN_CREATE };
	struct store_options snap = { .flags = STORE_OPEN_SNAPSHOT };
	pthread_t t[WRITERS + READERS + 1];
	struct store_attr a;
	struct store *v;

	if (ring_register() != 0 || !mkdtemp(dir))
		return 1;
	snprintf(arena_path, sizeof(arena_path), "%s/arena", dir);
	if (store_open(arena_path, &o, &s, err, sizeof(err))) {
		fprintf(stderr, "store_open: %s\n", err);
		return 1;
	}
	CHECK(store_mknod(s, store_root(s), "shared", 0100644, 0, 0, 0,
			  &shared_file, &a) == 0);
	for (long i = 0; i < WRITERS; i++) {
		snprintf(name, sizeof(name), "w%ld", i);
		CHECK(store_mknod(s, store_root(s), name, 0100644, 0, 0, 0,
				  &files[i], &a) == 0);
	}
	atomic_store(&writers_left, WRITERS);
	for (long i = 0; i < WRITERS; i++)
		pthread_create(&t[i], NULL, writer, (void *)i);
	for (long i = 0; i < READERS; i++)
		pthread_create(&t[WRITERS + i], NULL, reader, NULL);
	pthread_create(&t[WRITERS + READERS], NULL, churner, NULL);
	for (int i = 0; i < WRITERS + READERS + 1; i++)
		pthread_join(t[i], NULL);
	store_close(s);
	CHECK(store_open(arena_path, &snap, &v, err, sizeof(err)) == 0);
	CHECK(store_verify(v, print_problem, NULL) == 0);
	store_close(v);
	unlink(arena_path);
	rmdir(dir);
	if (failures)
		fprintf(stderr, "test_threads: %d failure(s)\n", failures);
	return failures ? 1 : 0;
}

/* test_ring.c -- unit tests of ring logs over the store, without FUSE.
 *
 * Drives ring.h directly: appends that wrap many times, sequential readers
 * that must only ever see whole records in order, a reader overtaken by
 * the writer, capacity changes, clearing, oversize records, and reopen.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ring.h"
#include "store.h"

static int failures;

#define CHECK(cond) do { \
	if (!(cond)) { \
		fprintf(stderr, "%s:%d: CHECK(%s) failed\n", __FILE__, \
			__LINE__, #cond); \
		failures++; \
	} \
} while (0)

static struct store *open_arena(const char *path)
{
	struct store_options o = { .ring_size = 1000,
				   .flags = STORE_OPEN_CREATE };
	struct store *s = NULL;
	char err[256];

	if (store_open(path, &o, &s, err, sizeof(err))) {
		fprintf(stderr, "store_open: %s\n", err);
		exit(1);
	}
	return s;
}

/* Parse "rec N\n" records from buf; check they are whole and increasing. */
static int check_records(const char *buf, size_t n, long *last)
{
	int count = 0;

	for (size_t i = 0; i < n;) {
		const char *nl = memchr(buf + i, '\n', n - i);
		long v;

		if (!nl || sscanf(buf + i, "rec %ld", &v) != 1) {
			fprintf(stderr, "partial record at %zu: %.*s\n", i,
				(int)(n - i), buf + i);
			return -1;
		}
		if (v <= *last) {
			fprintf(stderr, "record %ld after %ld\n", v, *last);
			return -1;
		}
		*last = v;
		count++;
		i = (size_t)(nl - buf) + 1;
	}
	return count;
}

static void test_wrap_and_follow(struct store *s, store_ref ring)
{
	struct ring_reader follower = {0}, slow = {0};
	uint64_t foff = 0, soff = 0;
	long flast = -1, slast = -1;
	char rec[64], buf[300];
	ssize_t n;

	for (long i = 0; i < 5000; i++) {
		int len = snprintf(rec, sizeof(rec), "rec %ld\n", i);

		CHECK(ring_append(s, ring, rec, (size_t)len) == len);
		if (i % 7 == 0) {       /* the follower keeps up */
			while ((n = ring_read(s, ring, &follower, foff, buf,
					      sizeof(buf))) > 0) {
				CHECK(check_records(buf, (size_t)n, &flast) > 0);
				foff += (uint64_t)n;
			}
		}
		if (i % 997 == 0) {     /* the slow one is overtaken */
			n = ring_read(s, ring, &slow, soff, buf, 40);
			CHECK(n > 0 && check_records(buf, (size_t)n,
						     &slast) > 0);
			soff += (uint64_t)(n > 0 ? n : 0);
		}
	}
	while ((n = ring_read(s, ring, &follower, foff, buf,
			      sizeof(buf))) > 0) {
		CHECK(check_records(buf, (size_t)n, &flast) > 0);
		foff += (uint64_t)n;
	}
	CHECK(flast == 4999);
}

static void test_positional(struct store *s, store_ref ring)
{
	struct ring_stat st;
	struct ring_reader r = {0};
	char buf[64];

	CHECK(ring_stat(s, ring, &st) == 0);
	CHECK(st.tail - st.head <= 1000 && st.records > 0);
	/* a positional read (tail -n style) returns the bytes at offset */
	CHECK(ring_read(s, ring, &r, st.tail - 10, buf, 64) == 10);
	CHECK(buf[9] == '\n');
	CHECK(ring_read(s, ring, &r, st.tail, buf, 64) == 0);
}

static void test_capacity_and_clear(struct store *s, store_ref ring)
{
	struct ring_stat st;
	struct ring_reader r = {0};
	char big[2000] = {0}, buf[2000];
	long last = -1;
	ssize_t n;

	CHECK(ring_append(s, ring, big, sizeof(big)) == -EFBIG);
	CHECK(ring_set_capacity(s, ring, 100) == 0);
	CHECK(ring_stat(s, ring, &st) == 0);
	CHECK(st.capacity == 100 && st.tail - st.head <= 100);
	n = ring_read(s, ring, &r, 0, buf, sizeof(buf));
	CHECK(n > 0 && (uint64_t)n == st.tail - st.head);
	CHECK(check_records(buf, (size_t)n, &last) > 0 && last == 4999);
	CHECK(ring_set_capacity(s, ring, 10) == -EINVAL);
	CHECK(ring_clear(s, ring) == 0);
	CHECK(ring_stat(s, ring, &st) == 0);
	CHECK(st.tail == 0 && st.head == 0 && st.capacity == 100);
	CHECK(ring_append(s, ring, "rec 1\n", 6) == 6);
}

int main(void)
{
	char dir[] = "/tmp/mmfs-ring-XXXXXX", path[300];
	struct store *s;
	struct store_attr a;
	struct ring_stat st;
	store_ref ring, plain;

	if (!mkdtemp(dir))
		return 1;
	snprintf(path, sizeof(path), "%s/arena", dir);
	CHECK(ring_register() == 0);
	CHECK(ring_register() == 0);            /* twice is harmless */
	s = open_arena(path);
	CHECK(ring_create(s, store_root(s), "app.ring", 0644, 0, 0, &ring,
			  &a) == 0);
	CHECK(a.kind == RING_KIND && a.size == 0);
	/* The store knows nothing of names: a ".ring" made through it is a
	 * plain file, and ring calls refuse plain files. */
	CHECK(store_mknod(s, store_root(s), "plain.ring", 0100644, 0, 0, 0,
			  &plain, &a) == 0);
	CHECK(a.kind == 0);
	CHECK(ring_append(s, plain, "x", 1) == -EINVAL);
	CHECK(ring_create(s, store_root(s), "app.ring", 0644, 0, 0, &plain,
			  &a) == -EEXIST);
	CHECK(store_write(s, ring, 0, "x", 1, false) == -EINVAL);
	test_wrap_and_follow(s, ring);
	test_positional(s, ring);
	test_capacity_and_clear(s, ring);
	store_close(s);
	s = open_arena(path);
	CHECK(store_lookup(s, store_root(s), "app.ring", &ring, &a) == 0);
	CHECK(ring_stat(s, ring, &st) == 0);
	CHECK(st.tail == 6 && st.records == 1 && a.size == 6);
	store_close(s);
	unlink(path);
	rmdir(dir);
	if (failures)
		fprintf(stderr, "%d check(s) failed\n", failures);
	return failures ? 1 : 0;
}

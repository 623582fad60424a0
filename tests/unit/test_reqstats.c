/* test_reqstats.c -- unit tests of the request counters (reqstats.h).
 *
 * Feeds hand-made request headers to reqstats_count and checks the slot
 * each lands in, the catch-all slot 0, buffers too short to count, the
 * area checks of reqstats_in and the opcode names mmfsctl stat prints.
 */
#include <linux/fuse.h>
#include <stdalign.h>
#include <stdio.h>
#include <string.h>

#include "reqstats.h"

static int failures;

#define CHECK(cond) do { \
	if (!(cond)) { \
		fprintf(stderr, "%s:%d: CHECK(%s) failed\n", __FILE__, \
			__LINE__, #cond); \
		failures++; \
	} \
} while (0)

/* The 512-byte area of an arena header, aligned as the mapping is. */
static alignas(4096) unsigned char area[512];

static void count_op(struct reqstats *r, uint32_t opcode, size_t len)
{
	unsigned char req[sizeof(struct fuse_in_header) + 16];
	struct fuse_in_header h = { .len = (uint32_t)len, .opcode = opcode };

	memset(req, 0xa5, sizeof(req));
	memcpy(req, &h, sizeof(h));
	reqstats_count(r, req, len);
}

static void test_area(void)
{
	CHECK(reqstats_in(NULL, sizeof(area)) == NULL);
	CHECK(reqstats_in(area, sizeof(struct reqstats) - 1) == NULL);
	CHECK(reqstats_in(area + 4, sizeof(area) - 4) == NULL);
	CHECK(reqstats_in(area, sizeof(area)) == (void *)area);
	CHECK(sizeof(struct reqstats) == 512);
}

static void test_counting(void)
{
	struct reqstats *r = reqstats_in(area, sizeof(area));

	memset(area, 0xff, sizeof(area));
	reqstats_reset(r);
	CHECK(reqstats_total(r) == 0);
	count_op(r, FUSE_LOOKUP, sizeof(struct fuse_in_header));
	count_op(r, FUSE_LOOKUP, sizeof(struct fuse_in_header) + 16);
	count_op(r, FUSE_WRITE, sizeof(struct fuse_in_header) + 16);
	count_op(r, REQSTATS_SLOTS - 1, sizeof(struct fuse_in_header));
	CHECK(r->count[FUSE_LOOKUP] == 2);
	CHECK(r->count[FUSE_WRITE] == 1);
	CHECK(r->count[REQSTATS_SLOTS - 1] == 1);
	CHECK(r->count[0] == 0);
	/* Opcodes past the table, CUSE_INIT among them, share slot 0. */
	count_op(r, REQSTATS_SLOTS, sizeof(struct fuse_in_header));
	count_op(r, CUSE_INIT, sizeof(struct fuse_in_header));
	CHECK(r->count[0] == 2);
	/* Shorter than a request header: not a request. */
	count_op(r, FUSE_READ, sizeof(struct fuse_in_header) - 1);
	count_op(r, FUSE_READ, 0);
	CHECK(r->count[FUSE_READ] == 0);
	CHECK(reqstats_total(r) == 6);
	reqstats_count(NULL, area, sizeof(area));
	reqstats_reset(NULL);
	reqstats_reset(r);
	CHECK(reqstats_total(r) == 0);
}

static void test_names(void)
{
	CHECK(reqstats_name(0) == NULL);
	CHECK(reqstats_name(7) == NULL);
	CHECK(reqstats_name(REQSTATS_SLOTS) == NULL);
	CHECK(strcmp(reqstats_name(FUSE_LOOKUP), "lookup") == 0);
	CHECK(strcmp(reqstats_name(FUSE_BATCH_FORGET), "batch_forget") == 0);
	CHECK(strcmp(reqstats_name(FUSE_CREATE), "create") == 0);
	CHECK(strcmp(reqstats_name(52), "statx") == 0);
}

int main(void)
{
	test_area();
	test_counting();
	test_names();
	if (failures)
		fprintf(stderr, "%d failure(s)\n", failures);
	return failures ? 1 : 0;
}

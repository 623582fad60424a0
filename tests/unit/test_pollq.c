/* test_pollq.c -- unit tests of the poll queue (src/fs/pollq.h).
 *
 * The queue never looks inside a poll handle, so the handles here are
 * test structs that count how often they were woken and dropped.  Cases:
 * one waiter, an owner that polls again, several owners of one node,
 * cancel, and thousands of random adds, wakes and cancels checked against
 * a plain array, ending in pollq_finish: every handle must have gone to
 * exactly one of wake or drop (pollq.h, invariant 1).
 */
#include <stdlib.h>
#include <string.h>

#include "pollq.h"
#include "unit.h"

#define MANY 4000
#define NODES 37
#define OWNERS 50

struct fuse_pollhandle {
	int woken, dropped;
};

static struct fuse_pollhandle handles[MANY];
static size_t next_handle;

static void wake(struct fuse_pollhandle *ph)
{
	ph->woken++;
}

static void drop(struct fuse_pollhandle *ph)
{
	ph->dropped++;
}

static struct fuse_pollhandle *new_handle(void)
{
	struct fuse_pollhandle *ph = &handles[next_handle++];

	*ph = (struct fuse_pollhandle){ 0 };
	return ph;
}

/* Node refs are multiples of 16, as in an arena. */
static store_ref node(int i)
{
	return 4096 + 16 * (store_ref)i;
}

static int owners[OWNERS];

static void test_empty(void)
{
	struct pollq q;

	pollq_init(&q, wake, drop);
	CHECK(pollq_empty(&q), "new queue");
	CHECK(pollq_wake(&q, node(1)) == 0, "wake of an empty queue");
	pollq_cancel(&q, node(1), &owners[0]);
	pollq_finish(&q);
	CHECK(pollq_empty(&q) && q.buckets == NULL, "finish of an empty queue");
}

static void test_one_waiter(void)
{
	struct fuse_pollhandle *ph = new_handle();
	struct pollq q;

	pollq_init(&q, wake, drop);
	CHECK(pollq_add(&q, node(1), &owners[0], ph) == 0, "add");
	CHECK(!pollq_empty(&q) && q.count == 1, "one kept");
	CHECK(pollq_wake(&q, node(2)) == 0 && ph->woken == 0,
	      "another node's change wakes nobody");
	CHECK(pollq_wake(&q, node(1)) == 1 && ph->woken == 1,
	      "the node's change wakes its waiter");
	CHECK(pollq_empty(&q), "a woken handle is forgotten");
	CHECK(pollq_wake(&q, node(1)) == 0 && ph->woken == 1,
	      "a handle is woken once");
	CHECK(ph->dropped == 0, "a woken handle is not dropped too");
	pollq_finish(&q);
}

static void test_owner_polls_again(void)
{
	struct fuse_pollhandle *old = new_handle(), *newer = new_handle();
	struct pollq q;

	pollq_init(&q, wake, drop);
	CHECK(pollq_add(&q, node(1), &owners[0], old) == 0, "first poll");
	CHECK(pollq_add(&q, node(1), &owners[0], newer) == 0, "second poll");
	CHECK(q.count == 1, "one handle per owner and node");
	CHECK(old->dropped == 1 && old->woken == 0, "the older is dropped");
	CHECK(pollq_wake(&q, node(1)) == 1 && newer->woken == 1,
	      "the newer is woken");
	pollq_finish(&q);
}

static void test_owners_and_cancel(void)
{
	struct fuse_pollhandle *a = new_handle(), *b = new_handle(),
			       *c = new_handle(), *other = new_handle();
	struct pollq q;

	pollq_init(&q, wake, drop);
	CHECK(pollq_add(&q, node(1), &owners[0], a) == 0, "owner 0");
	CHECK(pollq_add(&q, node(1), &owners[1], b) == 0, "owner 1");
	CHECK(pollq_add(&q, node(1), &owners[2], c) == 0, "owner 2");
	CHECK(pollq_add(&q, node(2), &owners[0], other) == 0,
	      "owner 0, another node");
	pollq_cancel(&q, node(1), &owners[1]);
	CHECK(b->dropped == 1 && q.count == 3, "cancel drops that owner's");
	pollq_cancel(&q, node(1), &owners[3]);
	CHECK(q.count == 3, "cancel of an owner that does not wait");
	CHECK(pollq_wake(&q, node(1)) == 2, "both other owners woken");
	CHECK(a->woken == 1 && c->woken == 1 && b->woken == 0,
	      "woken: exactly the waiters of the node");
	CHECK(other->woken == 0 && q.count == 1, "the other node still waits");
	pollq_finish(&q);
	CHECK(other->dropped == 1 && pollq_empty(&q), "finish drops the rest");
	CHECK(pollq_add(&q, node(3), &owners[0], new_handle()) == 0,
	      "a finished queue can be used again");
	pollq_finish(&q);
}

/* Random traffic against a model: waiting[n][o] is the handle owner o
 * keeps for node n, or NULL. */
static void test_many(void)
{
	static struct fuse_pollhandle *waiting[NODES][OWNERS];
	size_t first = next_handle, expect;
	struct pollq q;

	memset(waiting, 0, sizeof(waiting));
	srand(12);
	pollq_init(&q, wake, drop);
	while (next_handle < MANY) {
		int n = rand() % NODES, o = rand() % OWNERS, what = rand() % 8;

		if (what < 5) {
			waiting[n][o] = new_handle();
			CHECK(pollq_add(&q, node(n), &owners[o],
					waiting[n][o]) == 0, "add %d", n);
		} else if (what < 7) {
			pollq_cancel(&q, node(n), &owners[o]);
			waiting[n][o] = NULL;
		} else {
			expect = 0;
			for (int i = 0; i < OWNERS; i++)
				if (waiting[n][i])
					expect++;
			CHECK(pollq_wake(&q, node(n)) == expect, "wake %d", n);
			memset(waiting[n], 0, sizeof(waiting[n]));
		}
	}
	expect = 0;
	for (int n = 0; n < NODES; n++)
		for (int o = 0; o < OWNERS; o++)
			expect += waiting[n][o] != NULL;
	CHECK(q.count == expect, "count matches the model");
	pollq_finish(&q);
	for (size_t i = first; i < MANY; i++)
		CHECK(handles[i].woken + handles[i].dropped == 1,
		      "handle %zu: woken %d, dropped %d", i, handles[i].woken,
		      handles[i].dropped);
}

int main(void)
{
	test_empty();
	test_one_waiter();
	test_owner_polls_again();
	test_owners_and_cancel();
	test_many();
	return unit_exit("test_pollq");
}

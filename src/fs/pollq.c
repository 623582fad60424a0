/* pollq.c -- the poll handles waiting per node (see pollq.h).
 *
 * Each bucket is a singly linked list of waiters; a node's waiters all
 * sit in the bucket its ref hashes to.  Unlinking walks a pointer to the
 * link that points at the waiter, so removal needs no back pointers.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include "pollq.h"

#define POLLQ_MIN_BUCKETS 16

struct pollq_waiter {
	store_ref node;
	const void *owner;
	struct fuse_pollhandle *ph;
	struct pollq_waiter *next;      /* in the same bucket */
};

/* Refs are multiples of 16: mix the bits before taking the low ones. */
static size_t bucket_of(const struct pollq *q, store_ref node)
{
	uint64_t h = node * 0x9e3779b97f4a7c15ULL;

	return (size_t)(h ^ h >> 32) & (q->nbuckets - 1);
}

/* Double the buckets (or make the first ones).  0 or -ENOMEM, which
 * leaves the map as it was. */
static int grow(struct pollq *q)
{
	size_t old = q->nbuckets;
	struct pollq_waiter **was = q->buckets, *w, *next;
	size_t n = old ? old * 2 : POLLQ_MIN_BUCKETS;

	q->buckets = calloc(n, sizeof(*q->buckets));
	if (!q->buckets) {
		q->buckets = was;
		return -ENOMEM;
	}
	q->nbuckets = n;
	for (size_t i = 0; i < old; i++) {
		for (w = was[i]; w; w = next) {
			next = w->next;
			w->next = q->buckets[bucket_of(q, w->node)];
			q->buckets[bucket_of(q, w->node)] = w;
		}
	}
	free(was);
	return 0;
}

/* The link that points at owner's waiter for node, or at the NULL that
 * ends the bucket. */
static struct pollq_waiter **find(struct pollq *q, store_ref node,
				  const void *owner)
{
	struct pollq_waiter **link = &q->buckets[bucket_of(q, node)];

	while (*link && ((*link)->node != node || (*link)->owner != owner))
		link = &(*link)->next;
	return link;
}

/* Take the waiter *link out of the map; returns its handle. */
static struct fuse_pollhandle *unlink_waiter(struct pollq *q,
					     struct pollq_waiter **link)
{
	struct pollq_waiter *w = *link;
	struct fuse_pollhandle *ph = w->ph;

	*link = w->next;
	free(w);
	q->count--;
	return ph;
}

void pollq_init(struct pollq *q, pollq_fn *wake, pollq_fn *drop)
{
	*q = (struct pollq){ .wake = wake, .drop = drop };
}

int pollq_add(struct pollq *q, store_ref node, const void *owner,
	      struct fuse_pollhandle *ph)
{
	struct pollq_waiter **link, *w;

	/* Once buckets exist, growing only keeps the chains short. */
	if (q->count >= q->nbuckets)
		(void)grow(q);
	if (q->nbuckets == 0)
		goto out_drop;
	link = find(q, node, owner);
	if (*link) {
		q->drop((*link)->ph);
		(*link)->ph = ph;
		return 0;
	}
	w = malloc(sizeof(*w));
	if (!w)
		goto out_drop;
	*w = (struct pollq_waiter){ .node = node, .owner = owner, .ph = ph,
				    .next = *link };
	*link = w;
	q->count++;
	return 0;
out_drop:
	q->drop(ph);
	return -ENOMEM;
}

size_t pollq_wake(struct pollq *q, store_ref node)
{
	struct pollq_waiter **link;
	size_t woken = 0;

	if (q->count == 0)
		return 0;
	link = &q->buckets[bucket_of(q, node)];
	while (*link) {
		if ((*link)->node != node) {
			link = &(*link)->next;
			continue;
		}
		q->wake(unlink_waiter(q, link));
		woken++;
	}
	return woken;
}

void pollq_cancel(struct pollq *q, store_ref node, const void *owner)
{
	struct pollq_waiter **link;

	if (q->count == 0)
		return;
	link = find(q, node, owner);
	if (*link)
		q->drop(unlink_waiter(q, link));
}

bool pollq_empty(const struct pollq *q)
{
	return q->count == 0;
}

void pollq_finish(struct pollq *q)
{
	for (size_t i = 0; i < q->nbuckets; i++)
		while (q->buckets[i])
			q->drop(unlink_waiter(q, &q->buckets[i]));
	free(q->buckets);
	pollq_init(q, q->wake, q->drop);
}

/* nodes.c -- the table of lookup counts (see nodes.h).
 *
 * A node's home slot is a hash of its ref; it lives in the first slot
 * from home on that is free or its own.  Removal shifts later members of
 * the same run back into the hole, so that no probe ever stops early and
 * no tombstone is needed.
 */
#include <assert.h>
#include <errno.h>
#include <stdlib.h>

#include "nodes.h"

#define NODES_MIN_CAP 64

/* Refs are multiples of 16: mix the bits before taking the low ones. */
static size_t home(const struct nodes *t, store_ref ref)
{
	uint64_t h = ref * 0x9e3779b97f4a7c15ULL;

	return (size_t)(h ^ h >> 32) & (t->cap - 1);
}

/* ref's slot, or the free slot where it would go.  t->cap > 0. */
static size_t find(const struct nodes *t, store_ref ref)
{
	size_t i = home(t, ref);

	while (t->slots[i].ref && t->slots[i].ref != ref)
		i = (i + 1) & (t->cap - 1);
	return i;
}

/* Double the table (or make the first one).  0 or -ENOMEM. */
static int grow(struct nodes *t)
{
	struct nodes n = *t;

	n.cap = t->cap ? t->cap * 2 : NODES_MIN_CAP;
	n.slots = calloc(n.cap, sizeof(*n.slots));
	if (!n.slots)
		return -ENOMEM;
	for (size_t i = 0; i < t->cap; i++)
		if (t->slots[i].ref)
			n.slots[find(&n, t->slots[i].ref)] = t->slots[i];
	free(t->slots);
	*t = n;
	return 0;
}

/* Empty slot i, moving back each later member of its run that may live
 * there (its home is no nearer to its slot than the hole is). */
static void remove_at(struct nodes *t, size_t i)
{
	size_t mask = t->cap - 1, j;

	for (j = (i + 1) & mask; t->slots[j].ref; j = (j + 1) & mask) {
		size_t h = home(t, t->slots[j].ref);

		if (((j - h) & mask) >= ((j - i) & mask)) {
			t->slots[i] = t->slots[j];
			i = j;
		}
	}
	t->slots[i].ref = 0;
	t->slots[i].count = 0;
	t->slots[i].replaced = false;
	t->slots[i].linkable = false;
	t->used--;
}

void nodes_init(struct nodes *t, struct store *s)
{
	*t = (struct nodes){ .store = s };
}

int nodes_learn(struct nodes *t, store_ref ref)
{
	struct node_slot *slot;
	int rc;

	if ((t->used + 1) * 2 > t->cap) {
		rc = grow(t);
		if (rc)
			return rc;
	}
	slot = &t->slots[find(t, ref)];
	if (!slot->ref) {
		rc = store_hold(t->store, ref);
		if (rc)
			return rc;
		slot->ref = ref;
		t->used++;
	}
	slot->count++;
	t->total++;
	return 0;
}

void nodes_forget(struct nodes *t, store_ref ref, uint64_t n)
{
	size_t i;

	if (!t->cap)
		return;
	i = find(t, ref);
	if (!t->slots[i].ref)
		return;
	assert(n <= t->slots[i].count);
	if (n > t->slots[i].count)
		n = t->slots[i].count;
	t->slots[i].count -= n;
	t->total -= n;
	if (t->slots[i].count)
		return;
	remove_at(t, i);
	store_release(t->store, ref);
}

/* The slot of a ref the table knows, or NULL. */
static struct node_slot *known_slot(struct nodes *t, store_ref ref)
{
	struct node_slot *slot;

	if (!t->cap)
		return NULL;
	slot = &t->slots[find(t, ref)];
	return slot->ref ? slot : NULL;
}

void nodes_mark_replaced(struct nodes *t, store_ref ref)
{
	struct node_slot *slot = known_slot(t, ref);

	if (slot)
		slot->replaced = true;
}

bool nodes_replaced(const struct nodes *t, store_ref ref)
{
	return t->cap && t->slots[find(t, ref)].replaced;
}

void nodes_set_linkable(struct nodes *t, store_ref ref, bool on)
{
	struct node_slot *slot = known_slot(t, ref);

	if (slot)
		slot->linkable = on;
}

bool nodes_linkable(const struct nodes *t, store_ref ref)
{
	return t->cap && t->slots[find(t, ref)].linkable;
}

uint64_t nodes_count(const struct nodes *t, store_ref ref)
{
	return t->cap ? t->slots[find(t, ref)].count : 0;
}

void nodes_finish(struct nodes *t)
{
	for (size_t i = 0; i < t->cap; i++)
		if (t->slots[i].ref)
			store_release(t->store, t->slots[i].ref);
	free(t->slots);
	nodes_init(t, t->store);
}

/* refmap.c -- reference counts by arena offset (refmap.h). */
#include <errno.h>
#include <stdlib.h>

#include "refmap.h"

static size_t home(const struct refmap *m, uint64_t key)
{
	return (size_t)((key >> 4) * 0x9e3779b97f4a7c15ULL) & (m->cap - 1);
}

/* The slot holding key, or the empty slot where it would go. */
static size_t slot_of(const struct refmap *m, uint64_t key)
{
	size_t i = home(m, key);

	while (m->keys[i] && m->keys[i] != key)
		i = (i + 1) & (m->cap - 1);
	return i;
}

static int grow(struct refmap *m)
{
	struct refmap n = { .cap = m->cap ? m->cap * 2 : 64 };

	n.keys = calloc(n.cap, sizeof(uint64_t));
	n.counts = calloc(n.cap, sizeof(uint64_t));
	if (!n.keys || !n.counts) {
		free(n.keys);
		free(n.counts);
		return -ENOMEM;
	}
	for (size_t i = 0; i < m->cap; i++) {
		if (m->keys[i]) {
			size_t j = slot_of(&n, m->keys[i]);

			n.keys[j] = m->keys[i];
			n.counts[j] = m->counts[i];
			n.used++;
		}
	}
	refmap_free(m);
	*m = n;
	return 0;
}

int refmap_add(struct refmap *m, uint64_t key)
{
	size_t i;

	if ((m->used + 1) * 2 > m->cap && grow(m))
		return -ENOMEM;
	i = slot_of(m, key);
	if (!m->keys[i]) {
		m->keys[i] = key;
		m->used++;
	}
	m->counts[i]++;
	return 0;
}

uint64_t refmap_count(const struct refmap *m, uint64_t key)
{
	size_t i;

	if (!m->cap)
		return 0;
	i = slot_of(m, key);
	return m->keys[i] ? m->counts[i] : 0;
}

/* Empty slot i, moving later members of its probe run back so that every
 * key stays reachable from its home slot. */
static void remove_slot(struct refmap *m, size_t i)
{
	size_t mask = m->cap - 1, j = i;

	for (;;) {
		j = (j + 1) & mask;
		if (!m->keys[j])
			break;
		/* j's key may move to i if i lies between its home and j */
		if (((j - home(m, m->keys[j])) & mask) >= ((j - i) & mask)) {
			m->keys[i] = m->keys[j];
			m->counts[i] = m->counts[j];
			i = j;
		}
	}
	m->keys[i] = 0;
	m->counts[i] = 0;
	m->used--;
}

int64_t refmap_drop(struct refmap *m, uint64_t key)
{
	size_t i;

	if (!m->cap)
		return -ENOENT;
	i = slot_of(m, key);
	if (!m->keys[i])
		return -ENOENT;
	if (--m->counts[i])
		return (int64_t)m->counts[i];
	remove_slot(m, i);
	return 0;
}

void refmap_forget(struct refmap *m, uint64_t key)
{
	size_t i;

	if (!m->cap)
		return;
	i = slot_of(m, key);
	if (m->keys[i])
		remove_slot(m, i);
}

uint64_t refmap_key_at(const struct refmap *m, size_t i)
{
	return i < m->cap ? m->keys[i] : 0;
}

void refmap_free(struct refmap *m)
{
	free(m->keys);
	free(m->counts);
	m->keys = m->counts = NULL;
	m->cap = m->used = 0;
}

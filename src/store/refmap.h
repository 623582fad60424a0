/* refmap.h -- reference counts by arena offset, in process memory.
 *
 * An open-addressing hash map (linear probing) from a non-zero arena
 * offset to a count.  The store keeps two: the inodes this process holds
 * (store_hold) and the data blocks its snapshots read (store_snap_*).
 *
 * Invariants: every key present has a count of at least 1 (a count that
 * drops to 0 removes its key, by backward-shift deletion, so no tombstones
 * accumulate); used <= cap / 2; cap is 0 or a power of two.
 */
#ifndef MMFS_REFMAP_H
#define MMFS_REFMAP_H

#include <stddef.h>
#include <stdint.h>

struct refmap {
	uint64_t *keys;            /* 0: empty slot */
	uint64_t *counts;
	size_t cap, used;
};

/* Count one more reference to key (non-zero).  0, or -ENOMEM (nothing
 * changed). */
int refmap_add(struct refmap *m, uint64_t key);
/* Count one reference less.  Returns the count left (0: key removed), or
 * -ENOENT when key had none (nothing changed). */
int64_t refmap_drop(struct refmap *m, uint64_t key);
/* References to key (0 when absent). */
uint64_t refmap_count(const struct refmap *m, uint64_t key);
/* Remove key whatever its count. */
void refmap_forget(struct refmap *m, uint64_t key);
/* The key in slot i (0..cap-1), 0 for an empty slot: for walks that do not
 * change the map. */
uint64_t refmap_key_at(const struct refmap *m, size_t i);
void refmap_free(struct refmap *m);

#endif

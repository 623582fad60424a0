/* reqstats.h -- FUSE request counters: the layout of the arena's
 * statistics area.
 *
 * The arena header reserves an area for statistics (format.h, "stats";
 * store_stats) whose layout the store leaves to the server.  This module
 * is that layout, and the only code that reads it or writes it:
 * mount.mmfs counts every request it receives, mmfsctl stat shows the
 * counts.
 *
 * Layout: REQSTATS_SLOTS native-endian u64 counters, one per FUSE opcode
 * (slot = opcode, numbers of <linux/fuse.h>), reset when a daemon starts
 * serving.  Slot 0 is no opcode: it counts every opcode at or past
 * REQSTATS_SLOTS.  That is the layout arenas have always had (bench/mmbench
 * and bench/floorfs read and write it at offset 1024 of the file), so it
 * can only grow into the area's unused tail.
 *
 * Invariants: the counters only grow between two resets; a request is
 * counted once, by the thread that received it (the daemon has one), with
 * plain stores: readers in other processes may see a count lag.
 *
 * No libfuse: mmfsctl uses this module too.  Opcode numbers and the
 * request header come from the kernel's uapi header <linux/fuse.h>.
 */
#ifndef MMFS_REQSTATS_H
#define MMFS_REQSTATS_H

#include <stddef.h>
#include <stdint.h>

#define REQSTATS_SLOTS 64

struct reqstats {
	uint64_t count[REQSTATS_SLOTS];    /* requests by opcode */
};

/* The counters in a statistics area of size bytes (store_stats), or NULL
 * when area is NULL, too small or misaligned for them. */
struct reqstats *reqstats_in(void *area, size_t size);

/* Zero every counter.  r may be NULL (nothing to do). */
void reqstats_reset(struct reqstats *r);

/* Count one request: req is a request as read from /dev/fuse, len bytes,
 * starting with struct fuse_in_header, whose opcode picks the slot.  A
 * buffer shorter than that header is no request and is not counted.  r
 * may be NULL (nothing to do). */
void reqstats_count(struct reqstats *r, const void *req, size_t len);

/* Sum of all counters. */
uint64_t reqstats_total(const struct reqstats *r);

/* The name of slot's opcode ("lookup", "write" ...), or NULL for slot 0
 * and for opcodes that do not exist or are not named. */
const char *reqstats_name(unsigned slot);

#endif

/* feed.c -- what library writers changed, told to the server.
 *
 * The server's kernel caches attributes, pages and names of the inodes it
 * was told about (flagged MM_INODE_WATCHED while it holds
 * them: store_hold).  A change
 * made through the mount goes through the server, which keeps those
 * caches right; a change made by a libmmfs program does not, so the
 * program pushes the inode to the feed (format.h, "Feed") and rings the
 * bell the server's watcher thread sleeps on; the watcher reads the feed
 * (store_feed_wait) and invalidates.  Unwatched inodes cost nothing.
 *
 * The bell is a futex word like inode->version: bit 0 says the watcher
 * sleeps, the other bits count rings.  The feed keeps the newest
 * MM_FEED_LEN entries; a reader that fell further behind is told that it
 * lost some (-EOVERFLOW) and must assume everything changed.
 */
#include <errno.h>
#include <time.h>

#include "store_int.h"

/* Ring the bell; true if the watcher sleeps and needs a wake. */
static bool bell_ring(struct store *s)
{
	uint32_t *bell = &s->hdr->feed_bell;
	uint32_t old = __atomic_load_n(bell, __ATOMIC_RELAXED), next;

	do
		next = (old + MM_VERSION_STEP) & ~MM_VERSION_WAITERS;
	while (!__atomic_compare_exchange_n(bell, &old, next, false,
					    __ATOMIC_RELEASE,
					    __ATOMIC_RELAXED));
	return old & MM_VERSION_WAITERS;
}

void store_ring_bell(struct store *s)
{
	if (bell_ring(s))
		mm_futex_wake(&s->hdr->feed_bell);
}

void feed_push(struct store *s, uint64_t inode)
{
	struct mm_header *h = s->hdr;
	uint64_t tail = h->feed_tail;

	__atomic_store_n(&h->feed[tail % MM_FEED_LEN], inode,
			 __ATOMIC_RELAXED);
	__atomic_store_n(&h->feed_tail, tail + 1, __ATOMIC_RELEASE);
	if (bell_ring(s))
		mm_wake_later(s, &h->feed_bell);
}

/* Copy what was pushed since *pos (under the arena lock). */
static ssize_t feed_take(struct store *s, uint64_t *pos, store_ref *refs,
			 size_t max)
{
	struct mm_header *h = s->hdr;
	uint64_t tail = h->feed_tail;
	size_t n = 0;

	if (tail - *pos > MM_FEED_LEN) {
		*pos = tail;
		return -EOVERFLOW;
	}
	while (*pos != tail && n < max)
		refs[n++] = h->feed[(*pos)++ % MM_FEED_LEN];
	return (ssize_t)n;
}

/* Sleep on the bell unless the feed moved past pos; 0 or -ETIMEDOUT. */
static int bell_wait(struct store *s, uint64_t pos, int timeout_ms)
{
	struct mm_header *h = s->hdr;
	struct timespec t = { timeout_ms / 1000,
			      (long)(timeout_ms % 1000) * 1000000 };
	uint32_t bell = __atomic_load_n(&h->feed_bell, __ATOMIC_ACQUIRE);

	if (!(bell & MM_VERSION_WAITERS) &&
	    !__atomic_compare_exchange_n(&h->feed_bell, &bell,
					 bell | MM_VERSION_WAITERS, false,
					 __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
		return 0;               /* rung meanwhile */
	if (__atomic_load_n(&h->feed_tail, __ATOMIC_ACQUIRE) != pos ||
	    __atomic_load_n(&h->repair, __ATOMIC_ACQUIRE))
		return 0;
	return mm_futex_wait(&h->feed_bell, bell | MM_VERSION_WAITERS, &t);
}

ssize_t store_feed_wait(struct store *s, uint64_t *pos, store_ref *refs,
			size_t max, int timeout_ms)
{
	ssize_t n;
	int rc;

	if (store_readonly(s))
		return -EROFS;
	for (;;) {
		/* Lock only for work: an idle server leaves the arena alone. */
		if (__atomic_load_n(&s->hdr->feed_tail, __ATOMIC_ACQUIRE) !=
		    *pos || __atomic_load_n(&s->hdr->repair, __ATOMIC_ACQUIRE)) {
			arena_lock(s);  /* repairs, if one is wanted */
			n = feed_take(s, pos, refs, max);
			arena_unlock(s);
			if (n)
				return n;
		}
		rc = bell_wait(s, *pos, timeout_ms);
		if (rc)
			return rc == -ETIMEDOUT ? 0 : rc;
	}
}

uint64_t store_feed_tail(struct store *s)
{
	return __atomic_load_n(&s->hdr->feed_tail, __ATOMIC_ACQUIRE);
}

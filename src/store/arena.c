/* arena.c -- open, validate, map and grow the arena file; its locks.
 *
 * store_open never modifies a file it refuses: everything it checks is read
 * with pread before the file is mapped writable.
 *
 * Ownership: two locks on the arena file, both dropped by the kernel when
 * the owner dies.
 *   flock            LOCK_EX (LOCK_SH for a read-only server) from open
 *                    to store_close: two daemons never serve one arena.
 *                    /proc/locks names its holder (store_adopt).
 *   serving lock     an OFD write (read) lock on byte 0 from open to
 *                    store_retire, when the owner stops taking new work.
 * An unmount returns before the daemon has closed the arena, so an opener
 * that finds the flock held but the serving lock free is looking at an
 * owner that is finishing: it waits for the flock (up to RETIRE_WAIT_MS)
 * instead of failing.  One that finds the serving lock held fails at once.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/futex.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "kind.h"
#include "store_int.h"

_Static_assert(STORE_FORMAT_VERSION == MM_FORMAT_VERSION, "store.h");
_Static_assert(STORE_SIZE_MAX == MM_MAX_ARENA, "store.h");

#define GROW_STEP (1u << 20)
#define RETIRE_WAIT_MS 60000    /* for an unmounted owner to close */

int64_t mm_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int fail(char *err, size_t errlen, int rc, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int fail(char *err, size_t errlen, int rc, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return rc;
}

static uint64_t round_up(uint64_t v, uint64_t to)
{
	return (v + to - 1) / to * to;
}

/* Grow the file so that [0, need_end) is backed.  fallocate reserves the
 * pages, so a full /dev/shm shows up here as ENOSPC and never as SIGBUS on a
 * later store. */
int arena_grow(struct store *s, uint64_t need_end)
{
	struct mm_header *h = s->hdr;
	uint64_t step, want;

	if (need_end <= h->file_size)
		return 0;
	if (need_end > h->size_cap || store_readonly(s))
		return -ENOSPC;
	step = h->file_size / 8 > GROW_STEP ? h->file_size / 8 : GROW_STEP;
	want = round_up(need_end > h->file_size + step ?
			need_end : h->file_size + step, MM_PAGE);
	if (want > h->size_cap)
		want = h->size_cap;
	if (fallocate(s->fd, 0, (off_t)h->file_size,
		      (off_t)(want - h->file_size)) != 0) {
		if (errno != EOPNOTSUPP)
			return -ENOSPC;
		if (ftruncate(s->fd, (off_t)want) != 0)
			return -ENOSPC;
	}
	h->file_size = want;
	return 0;
}

/* The arena mutex and the file locks: robust and process-shared, set up
 * anew by every owner (format.h, "Locks"). */
static void init_mutex(struct mm_header *h)
{
	pthread_mutexattr_t attr;

	pthread_mutexattr_init(&attr);
	pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
	pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST);
	pthread_mutex_init(&h->lock.mutex, &attr);
	for (unsigned i = 0; i < MM_FILE_LOCKS; i++)
		pthread_mutex_init(&h->file_locks[i].mutex, &attr);
	pthread_mutexattr_destroy(&attr);
}

void mm_futex_wake(uint32_t *word)
{
	syscall(SYS_futex, word, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
}

int mm_futex_wait(uint32_t *word, uint32_t expect,
		  const struct timespec *timeout)
{
	if (syscall(SYS_futex, word, FUTEX_WAIT, expect, timeout, NULL, 0))
		return errno == EAGAIN ? 0 : -errno;
	return 0;
}

void mm_deadline(clockid_t clock, int ms, struct timespec *t)
{
	clock_gettime(clock, t);
	t->tv_sec += ms / 1000;
	t->tv_nsec += (long)(ms % 1000) * 1000000;
	if (t->tv_nsec >= 1000000000L) {
		t->tv_sec++;
		t->tv_nsec -= 1000000000L;
	}
}

/* The wait is cut into slices (format.h, "Locks": a wake-up can be lost
 * to a kill).  pthread_mutex_timedlock counts on CLOCK_REALTIME, where a
 * step of the clock stretches or shortens one slice;
 * pthread_mutex_clocklock would take CLOCK_MONOTONIC, but
 * ThreadSanitizer does not know it, and would see every contended lock
 * as missing. */
int mm_mutex_lock(pthread_mutex_t *mutex)
{
	struct timespec until;
	int rc = pthread_mutex_trylock(mutex);

	while (rc == EBUSY || rc == ETIMEDOUT || rc == EINTR) {
		mm_deadline(CLOCK_REALTIME, MM_LOCK_SLICE_MS, &until);
		rc = pthread_mutex_timedlock(mutex, &until);
	}
	if (rc == EOWNERDEAD)
		pthread_mutex_consistent(mutex);
	return rc;
}

/* The lock generation (format.h, "Lock-free readers"): odd from here... */
static void gen_begin(struct store *s)
{
	/* acquire: no store of the section moves before it */
	__atomic_fetch_or(&s->hdr->gen, 1, __ATOMIC_ACQ_REL);
}

/* ...to here, even again. */
static void gen_end(struct store *s)
{
	uint64_t g = __atomic_load_n(&s->hdr->gen, __ATOMIC_RELAXED);

	__atomic_store_n(&s->hdr->gen, (g | 1) + 1, __ATOMIC_RELEASE);
}

/* Is another server attached (its presence lock: an OFD read lock on
 * byte 2 from open to close, which outlasts its serving lock)?  Then its
 * pins, flagged in the arena, are kept by a repair (recover_online). */
static bool other_server(struct store *s)
{
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET,
			    .l_start = 2, .l_len = 1 };

	if (fcntl(s->fd, F_OFD_GETLK, &fl) != 0)
		return true;            /* cannot tell: keep */
	return fl.l_type != F_UNLCK;
}

/* May this store repair the arena while others use it?  The server may:
 * it knows every block its handles pin (recover_online).  Anyone may when
 * no server serves: then nobody pins anything. */
static bool may_repair(struct store *s)
{
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET,
			    .l_start = 0, .l_len = 1 };

	if (s->serving || !s->shared)
		return true;
	if (fcntl(s->fd, F_OFD_GETLK, &fl) != 0)
		return false;
	return fl.l_type == F_UNLCK;
}

/* A repair is wanted that this store may not do: ring the server's bell
 * and sleep until it has repaired (or stopped serving), arena unlocked. */
static void await_repair(struct store *s)
{
	const struct timespec tick = { .tv_nsec = 10 * 1000 * 1000 };

	gen_end(s);
	pthread_mutex_unlock(&s->hdr->lock.mutex);
	store_ring_bell(s);
	mm_futex_wait(&s->hdr->repair, 1, &tick);
}

/* The arena mutex.  A holder that died (EOWNERDEAD) may have left any
 * change it made under the mutex half done: the arena wants a repair
 * (header.repair), done by the next locker that may (may_repair) before
 * anything else.  Read-only and peeking stores only read. */
void arena_lock(struct store *s)
{
	struct mm_header *h = s->hdr;

	if (s->private_map)
		return;
	for (;;) {
		if (mm_mutex_lock(&h->lock.mutex) == EOWNERDEAD &&
		    !s->readonly)
			h->repair = 1;
		if (s->readonly)
			return;
		gen_begin(s);
		if (!__atomic_load_n(&h->repair, __ATOMIC_ACQUIRE))
			return;
		if (may_repair(s)) {
			s->keep_held = other_server(s);
			recover_online(s);
			__atomic_store_n(&h->repair, 0, __ATOMIC_RELEASE);
			mm_futex_wake(&h->repair);
			return;
		}
		await_repair(s);
	}
}

void mm_wake_later(struct store *s, uint32_t *word)
{
	for (unsigned i = 0; i < s->nwakes; i++)
		if (s->wakes[i] == word)
			return;
	if (s->nwakes == MM_WAKES)
		mm_futex_wake(word);
	else
		s->wakes[s->nwakes++] = word;
}

void arena_unlock(struct store *s)
{
	uint32_t *wakes[MM_WAKES];
	unsigned n = s->nwakes;

	if (s->private_map)
		return;
	memcpy(wakes, s->wakes, n * sizeof(*wakes));
	s->nwakes = 0;
	if (!s->readonly)
		gen_end(s);
	pthread_mutex_unlock(&s->hdr->lock.mutex);
	for (unsigned i = 0; i < n; i++)
		mm_futex_wake(wakes[i]);
}

static pthread_mutex_t *file_lock_of(struct store *s, store_ref ref)
{
	uint64_t i = ((ref >> 4) * 0x9e3779b97f4a7c15ULL) >> 32;

	return &s->hdr->file_locks[i % MM_FILE_LOCKS].mutex;
}

/* A file's writer lock (format.h, "Locks"): before the arena mutex.  A
 * store that changes nothing shares no locks. */
void file_lock(struct store *s, store_ref ref)
{
	if (store_readonly(s))
		return;
	/* what a dead writer left allocated is freed by recovery */
	(void)mm_mutex_lock(file_lock_of(s, ref));
}

void file_unlock(struct store *s, store_ref ref)
{
	if (!store_readonly(s))
		pthread_mutex_unlock(file_lock_of(s, ref));
}

/* Is the header one this mmfs serves?  An older format is upgraded by
 * recovery (format.h, "Upgrade from version 1"), so only a writable open
 * takes it. */
static int check_header(const struct mm_header *h, uint64_t st_size,
			bool writable, char *err, size_t errlen)
{
	if (h->magic == MM_MAGIC_SWAPPED)
		return fail(err, errlen, -EINVAL,
			    "arena was written with the other byte order");
	if (h->magic != MM_MAGIC)
		return fail(err, errlen, -EINVAL, "not an mmfs arena");
	if (h->version > MM_FORMAT_VERSION)
		return fail(err, errlen, -EPROTONOSUPPORT,
			    "arena format version %" PRIu32
			    " is newer than this mmfs supports (%u)",
			    h->version, MM_FORMAT_VERSION);
	if (h->version >= MM_FORMAT_OLDEST && h->version < MM_FORMAT_VERSION &&
	    !writable)
		return fail(err, errlen, -EPROTONOSUPPORT,
			    "arena format version %" PRIu32 " is older than "
			    "this mmfs (%u): a read-write mount upgrades it",
			    h->version, MM_FORMAT_VERSION);
	if (h->version < MM_FORMAT_OLDEST || h->page_size != MM_PAGE ||
	    h->lock_version != MM_LOCK_VERSION)
		return fail(err, errlen, -EINVAL,
			    "damaged arena: bad version fields");
	if (st_size < h->file_size)
		return fail(err, errlen, -EINVAL,
			    "truncated arena: header says %" PRIu64
			    " bytes, file has %" PRIu64, h->file_size,
			    st_size);
	if (h->brk < MM_PAGE || h->brk > h->file_size || h->brk % MM_ALIGN ||
	    h->file_size > h->size_cap || h->size_cap < MM_MIN_ARENA ||
	    h->root < MM_PAGE || h->root >= h->brk ||
	    h->hash_table >= h->brk || h->max_files == 0)
		return fail(err, errlen, -EINVAL,
			    "damaged arena: header fields out of range");
	return 0;
}

static int create_root(struct store *s)
{
	uint64_t root;
	int rc;

	rc = ns_index_init(s, 1024);
	if (rc)
		return rc;
	rc = inode_new(s, 0040755, getuid(), getgid(), &root);
	if (rc)
		return rc;
	mm_inode(s, root)->nlink = 1;
	s->hdr->root = root;
	return 0;
}

static void init_header(struct store *s, const struct store_options *o)
{
	struct mm_header *h = s->hdr;
	uint64_t seed = 0;

	memset(h, 0, MM_PAGE);
	h->magic = MM_MAGIC;
	h->version = MM_FORMAT_VERSION;
	h->page_size = MM_PAGE;
	h->lock_version = MM_LOCK_VERSION;
	h->size_cap = s->map_len;
	h->file_size = MM_PAGE;
	h->brk = MM_PAGE;
	h->next_ino = 1;
	h->max_files = o->max_files ? o->max_files : STORE_DEFAULT_MAX_FILES;
	h->ring_size = o->ring_size ? o->ring_size : STORE_DEFAULT_RING_SIZE;
	if (getrandom(&seed, sizeof(seed), GRND_NONBLOCK) != sizeof(seed))
		seed = (uint64_t)mm_now() ^ (uint64_t)getpid() << 32;
	h->hash_seed = seed;
	h->created = mm_now();
	h->next_pos = 1;
	h->used = MM_PAGE;
	h->clean = 1;           /* nothing to recover in a new arena */
	init_mutex(h);
}

static int map_arena(struct store *s, size_t len)
{
	int prot = PROT_READ | PROT_WRITE;
	int flags = MAP_SHARED | MAP_NORESERVE;

	if (s->private_map)
		flags = MAP_PRIVATE | MAP_NORESERVE;
	else if (s->readonly)
		prot = PROT_READ;
	s->base = mmap(NULL, len, prot, flags, s->fd, 0);
	if (s->base == MAP_FAILED) {
		s->base = NULL;
		return -errno;
	}
	s->map_len = len;
	s->hdr = (struct mm_header *)s->base;
	return 0;
}

static int open_file(struct store *s, const char *path, unsigned flags,
		     bool *created, char *err, size_t errlen)
{
	/* O_NONBLOCK: a FIFO planted at the path must not hang the open
	 * (read-only opens of a FIFO wait for a writer); it is refused below
	 * and the flag dropped for the regular file. */
	int oflags = O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK;
	struct stat st;

	oflags |= (flags & (STORE_OPEN_RDONLY | STORE_OPEN_PEEK)) ?
		  O_RDONLY : O_RDWR;
	*created = false;
	s->fd = open(path, oflags);
	if (s->fd < 0 && errno == ENOENT && (flags & STORE_OPEN_CREATE) &&
	    !(flags & (STORE_OPEN_RDONLY | STORE_OPEN_PEEK))) {
		s->fd = open(path, oflags | O_CREAT | O_EXCL, 0600);
		*created = s->fd >= 0;
	}
	if (s->fd < 0)
		return fail(err, errlen, -errno, "%s", errno == ELOOP ?
			    "is a symbolic link (refused)" : strerror(errno));
	if (fstat(s->fd, &st) != 0)
		return fail(err, errlen, -errno, "%s", strerror(errno));
	if (!S_ISREG(st.st_mode))
		return fail(err, errlen, -EINVAL, "not a regular file");
	if (fcntl(s->fd, F_SETFL, fcntl(s->fd, F_GETFL) & ~O_NONBLOCK) != 0)
		return fail(err, errlen, -errno, "%s", strerror(errno));
	if (!*created && !(flags & (STORE_OPEN_PEEK | STORE_OPEN_LIBRARY)) &&
	    st.st_uid != geteuid())
		return fail(err, errlen, -EPERM,
			    "arena is owned by uid %u, not by the mounting user",
			    (unsigned)st.st_uid);
	return 0;
}

static int serving_lock(struct store *s, short type)
{
	struct flock fl = { .l_type = type, .l_whence = SEEK_SET,
			    .l_start = 0, .l_len = 1 };

	return fcntl(s->fd, F_OFD_SETLK, &fl) == 0 ? 0 : -errno;
}

/* The flock, now or -EBUSY. */
static int flock_now(struct store *s, int how)
{
	if (flock(s->fd, how | LOCK_NB) == 0)
		return 0;
	return errno == EWOULDBLOCK ? -EBUSY : -errno;
}

/* Wait for an owner that no longer serves to close the arena; -ETIMEDOUT
 * after RETIRE_WAIT_MS. */
static int wait_flock(struct store *s, int how)
{
	const struct timespec tick = { .tv_nsec = 10 * 1000 * 1000 };

	for (int ms = 0; ms < RETIRE_WAIT_MS; ms += 10) {
		int rc = flock_now(s, how);

		if (rc != -EBUSY)
			return rc;
		nanosleep(&tick, NULL);
	}
	return -ETIMEDOUT;
}

static int presence_lock(struct store *s)
{
	struct flock fl = { .l_type = F_RDLCK, .l_whence = SEEK_SET,
			    .l_start = 2, .l_len = 1 };

	return fcntl(s->fd, F_OFD_SETLK, &fl) == 0 ? 0 : -errno;
}

/* The attach lock (an OFD write lock on byte 1), held while a shared
 * owner arrives or leaves: who is alone is decided under it. */
static int attach_lock(struct store *s, short type)
{
	struct flock fl = { .l_type = type, .l_whence = SEEK_SET,
			    .l_start = 1, .l_len = 1 };

	while (fcntl(s->fd, F_OFD_SETLKW, &fl) != 0)
		if (errno != EINTR)
			return -errno;
	return 0;
}

/* A shared owner (STORE_OPEN_SHARED): under the attach lock, an
 * exclusive flock if it is alone (s->alone: it may recover), turned into
 * a shared one at the end of store_open (share_ownership); a shared one
 * if others are attached. */
static int take_shared_flock(struct store *s)
{
	int rc = attach_lock(s, F_WRLCK);

	if (rc)
		return rc;
	s->attached = true;
	rc = flock_now(s, LOCK_EX);
	s->alone = rc == 0;
	if (rc == -EBUSY)
		rc = flock_now(s, LOCK_SH);
	if (rc == 0)
		s->owner_lock = LOCK_SH;
	return rc;
}

static int take_owner_locks(struct store *s, unsigned flags, char *err,
			    size_t errlen)
{
	bool shared = flags & STORE_OPEN_RDONLY;
	int how = shared ? LOCK_SH : LOCK_EX;
	bool serve = !(flags & STORE_OPEN_LIBRARY);
	int rc;

	if (flags & STORE_OPEN_PEEK)
		return 0;
	/* Nobody serves: wait for a retiring owner, if any.  An owner serves:
	 * busy.  No record locks on this file system: the flock alone. */
	rc = serve ? serving_lock(s, shared ? F_RDLCK : F_WRLCK) : 0;
	if (rc == 0 && (flags & STORE_OPEN_SHARED) && !shared)
		rc = take_shared_flock(s);
	else if (rc == 0)
		rc = wait_flock(s, how);
	else if (rc == -EAGAIN || rc == -EACCES)
		rc = -EBUSY;
	else
		rc = flock_now(s, how);
	if (rc == -ETIMEDOUT)
		return fail(err, errlen, -EBUSY, "arena is still being "
			    "closed by another mmfs process");
	if (rc == -EBUSY)
		return fail(err, errlen, rc, serve ?
			    "arena is in use by another mmfs process" :
			    "arena is in use by a program that needs it alone "
			    "(mmfsctl check --repair?)");
	if (rc)
		return fail(err, errlen, rc, "flock: %s", strerror(-rc));
	if (!s->owner_lock)
		s->owner_lock = how;
	s->serving = serve && !shared;
	if (s->serving && presence_lock(s) != 0)
		return fail(err, errlen, -errno, "fcntl: %s", strerror(errno));
	return 0;
}

/* End of a shared owner's store_open: let others in. */
static void share_ownership(struct store *s)
{
	if (!s->attached)
		return;
	s->shared = true;
	if (s->alone)
		flock(s->fd, LOCK_SH);  /* a conversion: nobody waits on it */
	else if (s->serving)
		s->hdr->repair = 1;     /* see recover_online */
	attach_lock(s, F_UNLCK);
}

/* A shared owner leaving: is it the last?  Then the arena is clean. */
static bool leave_last(struct store *s)
{
	if (!s->attached)
		return true;
	attach_lock(s, F_WRLCK);
	return flock(s->fd, LOCK_EX | LOCK_NB) == 0;
}

/* The flock names the process that took it (in /proc/locks, where
 * mmfsctl looks for the server), and one that forked to go to the
 * background would be named after its exited parent: take it again here.
 * While it is down the serving lock, untouched, keeps other owners out;
 * only a reader's brief LOCK_SH (a snapshot) can come in between. */
int store_adopt(struct store *s)
{
	if (!s || !s->owner_lock)
		return 0;
	if (s->serving)
		s->hdr->server_pid = (uint32_t)getpid();
	if (flock(s->fd, LOCK_UN) != 0)
		return -errno;
	return wait_flock(s, s->owner_lock);
}

int store_served(const char *path, bool *rdonly, pid_t *pid)
{
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET,
			    .l_start = 0, .l_len = 1 };
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	uint32_t said = 0;
	int rc = 0;

	if (fd < 0)
		return -errno;
	if (fcntl(fd, F_OFD_GETLK, &fl) != 0)
		rc = -errno;
	else if (fl.l_type == F_UNLCK)
		rc = -ENOENT;
	else
		*rdonly = fl.l_type == F_RDLCK;
	if (rc == 0 && pid &&
	    pread(fd, &said, sizeof(said),
		  offsetof(struct mm_header, server_pid)) != sizeof(said))
		said = 0;
	if (pid)
		*pid = (pid_t)said;
	close(fd);
	return rc;
}

void store_retire(struct store *s)
{
	if (s && s->fd >= 0) {
		if (s->serving)
			s->hdr->server_pid = 0;
		(void)serving_lock(s, F_UNLCK);
	}
}

static bool ring_size_ok(uint64_t v)
{
	return v >= MM_RING_MIN && v <= MM_RING_MAX;
}

/* The options' values, checked before anything is created or mapped. */
static int check_options(const struct store_options *o, char *err,
			 size_t errlen)
{
	if (o->size_cap > MM_MAX_ARENA)
		return fail(err, errlen, -EINVAL, "size must be at most "
			    "%llu bytes (16 TiB)", MM_MAX_ARENA);
	if (o->ring_size && !ring_size_ok(o->ring_size))
		return fail(err, errlen, -EINVAL, "ring_size must be %u to %u "
			    "bytes", MM_RING_MIN, MM_RING_MAX);
	return 0;
}

/* What an existing arena (its file: size bytes) records that its server
 * cannot work with, unless an option replaces it.  Checked on the header
 * read with pread: a refused arena is left as it was.  The whole cap is
 * mapped, so it must fit the address space; only a writable store makes
 * rings, so only it needs a valid ring_size. */
static int check_recorded(const struct mm_header *h, uint64_t size,
			  const struct store_options *o, char *err,
			  size_t errlen)
{
	bool writable = !(o->flags & (STORE_OPEN_RDONLY | STORE_OPEN_PEEK));

	if (size > MM_MAX_ARENA)
		return fail(err, errlen, -EINVAL, "the arena file has %" PRIu64
			    " bytes, over the %llu (16 TiB) mmfs can map",
			    size, MM_MAX_ARENA);
	if (h->size_cap > MM_MAX_ARENA && !(writable && o->size_cap))
		return fail(err, errlen, -EINVAL, "the arena's size cap %" PRIu64
			    " is over the %llu bytes (16 TiB) mmfs can map: "
			    "mount it read-write with -o size=SIZE to lower it",
			    h->size_cap, MM_MAX_ARENA);
	if (writable && !o->ring_size && !ring_size_ok(h->ring_size))
		return fail(err, errlen, -EINVAL, "the arena's ring_size "
			    "%" PRIu64 " is not a ring capacity (%u to %u "
			    "bytes): mount with -o ring_size=SIZE to replace "
			    "it", h->ring_size, MM_RING_MIN, MM_RING_MAX);
	return 0;
}

static int create_arena(struct store *s, const struct store_options *o,
			char *err, size_t errlen)
{
	uint64_t cap = o->size_cap ? o->size_cap : STORE_DEFAULT_SIZE;
	int rc;

	rc = check_options(o, err, errlen);
	if (rc)
		return rc;
	cap = cap / MM_PAGE * MM_PAGE;
	if (cap < MM_MIN_ARENA)
		return fail(err, errlen, -EINVAL,
			    "size must be at least %u bytes", MM_MIN_ARENA);
	if (ftruncate(s->fd, MM_PAGE) != 0)
		return fail(err, errlen, -errno, "%s", strerror(errno));
	rc = map_arena(s, cap);
	if (rc)
		return fail(err, errlen, rc, "cannot map %" PRIu64 " bytes "
			    "for the arena: %s", cap, strerror(-rc));
	init_header(s, o);
	rc = create_root(s);
	if (rc)
		return fail(err, errlen, rc, "cannot create the root: %s",
			    strerror(-rc));
	return 0;
}

static int apply_options(struct store *s, const struct store_options *o,
			 char *err, size_t errlen)
{
	struct mm_header *h = s->hdr;

	if (store_readonly(s))
		return 0;
	if (o->size_cap) {
		uint64_t cap = o->size_cap / MM_PAGE * MM_PAGE;

		if (cap < h->file_size)
			return fail(err, errlen, -EINVAL,
				    "size=%" PRIu64 " is smaller than the "
				    "arena's current size %" PRIu64,
				    o->size_cap, h->file_size);
		if (cap > s->map_len)
			return fail(err, errlen, -EINVAL,
				    "size cannot grow past the mapping");
		h->size_cap = cap;
	}
	if (o->max_files)
		h->max_files = o->max_files;
	if (o->ring_size)
		h->ring_size = o->ring_size;
	return 0;
}

/* Read and check the header of the open file without mapping it.  The
 * header first, then the file's size: an owner attached meanwhile grows
 * the file before it records the new file_size (arena_grow), so read in
 * this order the size is never below the header's, however the two
 * race; read the other way, an attach beside a growing arena saw a
 * "truncated" one. */
static int read_header(struct store *s, struct mm_header *h, uint64_t *size,
		       bool writable, char *err, size_t errlen)
{
	struct stat st;
	ssize_t n;

	memset(h, 0, sizeof(*h));
	n = pread(s->fd, h, sizeof(*h), 0);
	if (fstat(s->fd, &st) != 0)
		return fail(err, errlen, -errno, "%s", strerror(errno));
	if (!S_ISREG(st.st_mode))
		return fail(err, errlen, -EINVAL, "not a regular file");
	*size = (uint64_t)st.st_size;
	if (*size < MM_PAGE) {
		if (n >= (ssize_t)sizeof(uint64_t) && h->magic == MM_MAGIC)
			return fail(err, errlen, -EINVAL,
				    "truncated arena: %llu bytes",
				    (unsigned long long)*size);
		return fail(err, errlen, -EINVAL, "not an mmfs arena");
	}
	if (n != (ssize_t)sizeof(*h))
		return fail(err, errlen, -EIO, "cannot read the header");
	return check_header(h, *size, writable, err, errlen);
}

static int open_existing(struct store *s, const struct store_options *o,
			 char *err, size_t errlen)
{
	struct mm_header h;
	uint64_t size, len;
	int rc = read_header(s, &h, &size, !store_readonly(s), err, errlen);

	if (rc == 0)
		rc = check_options(o, err, errlen);
	if (rc == 0)
		rc = check_recorded(&h, size, o, err, errlen);
	if (rc)
		return rc;
	/* A cap over the limit is replaced by size= (check_recorded). */
	len = h.size_cap <= MM_MAX_ARENA ? h.size_cap : 0;
	if (o->size_cap > len && !(o->flags & STORE_OPEN_RDONLY))
		len = o->size_cap / MM_PAGE * MM_PAGE;
	if (size > len)
		len = round_up(size, MM_PAGE);
	rc = map_arena(s, len);
	if (rc)
		return fail(err, errlen, rc, "cannot map %" PRIu64 " bytes "
			    "for the arena: %s", len, strerror(-rc));
	if (s->readonly)
		return 0;
	if (!s->private_map && size > h.file_size && size <= h.size_cap)
		s->hdr->file_size = size;
	return apply_options(s, o, err, errlen);
}

/* Copy the arena into private memory, under its lock when we can take it
 * (a read-only opener cannot, and gets a copy that may be mid-change).
 * Only owners (a flock, shared or exclusive) change the file, and they
 * initialised the mutex; without one the mutex may be garbage that would
 * block forever, so an exclusive flock keeps owners out during the copy
 * instead. */
static int copy_under_lock(struct store *s, uint64_t len, bool rw,
			   uint64_t *grown)
{
	int prot = PROT_READ | (rw ? PROT_WRITE : 0);
	struct mm_header *live;
	uint8_t *shared = mmap(NULL, len, prot, MAP_SHARED, s->fd, 0);
	bool owned;
	int rc = 0;

	if (shared == MAP_FAILED)
		return -errno;
	live = (struct mm_header *)shared;
	owned = flock(s->fd, LOCK_EX | LOCK_NB) != 0;
	rw = rw && owned;
	if (rw)
		(void)mm_mutex_lock(&live->lock.mutex);
	*grown = live->file_size > len ? live->file_size : 0;
	if (!*grown)
		memcpy(s->base, shared, len);
	if (rw)
		pthread_mutex_unlock(&live->lock.mutex);
	if (!owned)
		flock(s->fd, LOCK_UN);
	munmap(shared, len);
	return rc;
}

static int open_snapshot(struct store *s, const char *path, char *err,
			 size_t errlen)
{
	struct mm_header h;
	uint64_t size, len, grown = 0;
	bool rw = true;
	int rc;

	s->fd = open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
	if (s->fd < 0) {
		rw = false;
		s->fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	}
	if (s->fd < 0)
		return fail(err, errlen, -errno, "%s", strerror(errno));
	rc = read_header(s, &h, &size, false, err, errlen);
	if (rc)
		return rc;
	for (len = round_up(h.file_size, MM_PAGE); rc == 0; len = grown) {
		s->base = mmap(NULL, len, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (s->base == MAP_FAILED) {
			s->base = NULL;
			return fail(err, errlen, -ENOMEM, "out of memory");
		}
		s->map_len = len;
		rc = copy_under_lock(s, len, rw, &grown);
		if (rc || !grown)
			break;
		munmap(s->base, len);
		s->base = NULL;
	}
	if (rc)
		return fail(err, errlen, rc, "cannot copy the arena: %s",
			    strerror(-rc));
	s->hdr = (struct mm_header *)s->base;
	s->private_map = true;
	return check_header(s->hdr, len, false, err, errlen);
}

/* The mode and group options, checked before anything is opened. */
static int check_access(const struct store_options *o, char *err,
			size_t errlen)
{
	if ((o->mode || o->set_group) && (o->flags & (STORE_OPEN_RDONLY |
	    STORE_OPEN_PEEK | STORE_OPEN_SNAPSHOT)))
		return fail(err, errlen, -EINVAL, "the arena's mode and group "
			    "are set by writable opens only");
	if (o->mode && (o->mode & ~STORE_MODE_MAX ||
			(o->mode & STORE_MODE_MIN) != STORE_MODE_MIN))
		return fail(err, errlen, -EINVAL, "the arena's mode must be "
			    "%04o to %04o", STORE_MODE_MIN, STORE_MODE_MAX);
	return 0;
}

/* The arena file's mode and group as the options ask.  A new group gets
 * no access the old one had, nor the old group the new mode's: group
 * and other bits are dropped while the group changes. */
static int apply_access(struct store *s, const struct store_options *o,
			char *err, size_t errlen)
{
	struct stat st;
	mode_t want;

	if (!o->mode && !o->set_group)
		return 0;
	if (fstat(s->fd, &st) != 0)
		return fail(err, errlen, -errno, "%s", strerror(errno));
	want = o->mode ? o->mode : st.st_mode & 07777;
	if (o->set_group && st.st_gid != o->gid &&
	    (fchmod(s->fd, st.st_mode & 0700) != 0 ||
	     fchown(s->fd, (uid_t)-1, o->gid) != 0))
		return fail(err, errlen, -errno, "cannot give the arena to "
			    "group %u: %s", (unsigned)o->gid, strerror(errno));
	if (fchmod(s->fd, want) != 0)
		return fail(err, errlen, -errno, "cannot set the arena's mode "
			    "to %04o: %s", (unsigned)want, strerror(errno));
	return 0;
}

/* Recovery rebuilds the index and the lists in place: readers that take
 * no lock (format.h, "Lock-free readers") wait, as for a lock holder.
 * A refused recovery changed nothing, the generation neither. */
static int recover_gen(struct store *s)
{
	uint64_t gen = s->hdr->gen;
	int rc;

	gen_begin(s);
	rc = recover_run(s);
	if (rc)
		__atomic_store_n(&s->hdr->gen, gen, __ATOMIC_RELEASE);
	else
		gen_end(s);
	return rc;
}

int store_open(const char *path, const struct store_options *opt,
	       struct store **out, char *err, size_t errlen)
{
	struct store_options none = {0};
	const char *missing;
	struct store *s;
	bool created = false;
	int rc;

	if (!opt)
		opt = &none;
	rc = check_access(opt, err, errlen);
	if (rc)
		return rc;
	rc = kind_ready(&missing);
	if (rc)
		return fail(err, errlen, rc, "this program cannot read %s "
			    "blocks (store_define_kind was not called)",
			    missing);
	s = calloc(1, sizeof(*s));
	if (!s)
		return fail(err, errlen, -ENOMEM, "out of memory");
	s->fd = -1;
	s->readonly = opt->flags & STORE_OPEN_PEEK;
	s->private_map = (opt->flags & STORE_OPEN_RDONLY) && !s->readonly;
	s->library = (opt->flags & STORE_OPEN_LIBRARY) &&
		     (opt->flags & STORE_OPEN_SHARED) && !s->readonly &&
		     !s->private_map;
	if (opt->flags & STORE_OPEN_SNAPSHOT) {
		rc = open_snapshot(s, path, err, errlen);
		if (rc)
			goto out;
		*out = s;
		return 0;
	}
	rc = open_file(s, path, opt->flags, &created, err, errlen);
	if (rc)
		goto out;
	rc = take_owner_locks(s, opt->flags, err, errlen);
	if (rc)
		goto out;
	rc = created ? create_arena(s, opt, err, errlen) :
		       open_existing(s, opt, err, errlen);
	if (rc)
		goto out;
	if (created && !(s->created = strdup(path))) {
		rc = fail(err, errlen, -ENOMEM, "out of memory");
		goto out;
	}
	if (!s->readonly && s->attached && !s->alone) {
		s->shared = true;       /* others use it: no init, no recovery */
	} else if (!s->readonly) {
		init_mutex(s->hdr);
		rc = recover_gen(s);
		if (rc) {
			fail(err, errlen, rc, "%s%s", rc == -EINVAL ?
			     "damaged arena: " : "", s->recovery);
			goto out;
		}
		if (!s->private_map) {
			s->hdr->clean = 0;
			msync(s->base, MM_PAGE, MS_SYNC);
		}
		/* Recovery read every block header, and the kernel maps the
		 * pages around each one it faults in: most of the arena ends
		 * up in this process's page tables, and a program (libmmfs)
		 * would carry it in its RSS for as long as it stays attached.
		 * Unmap it; the pages stay in the file, and come back one by
		 * one as the program touches them. */
		if (s->library)
			madvise(s->base, s->map_len, MADV_DONTNEED);
	}
	rc = apply_access(s, opt, err, errlen);
	if (rc)
		goto out;
	share_ownership(s);
	if (s->serving)
		s->hdr->server_pid = (uint32_t)getpid();
	*out = s;
	return 0;
out:
	if (created)
		unlink(path);
	if (s->base)
		munmap(s->base, s->map_len);
	if (s->fd >= 0)
		close(s->fd);
	free(s->created);
	free(s);
	return rc;
}

void store_discard(struct store *s)
{
	struct stat ours, named;

	/* Still the file we created?  (Its directory may not be ours.)  The
	 * locks are held until store_close: nobody else serves it. */
	if (s && s->created && fstat(s->fd, &ours) == 0 &&
	    lstat(s->created, &named) == 0 && ours.st_dev == named.st_dev &&
	    ours.st_ino == named.st_ino)
		unlink(s->created);
	store_close(s);
}

/* Inodes still held at close, without links: nobody can reach them
 * any more. */
static void free_orphans(struct store *s)
{
	for (size_t i = 0; i < s->holds.cap; i++) {
		uint64_t ref = refmap_key_at(&s->holds, i);

		if (ref && store_valid_ref(s, ref) &&
		    mm_inode(s, ref)->nlink == 0 && ref != s->hdr->root)
			inode_free(s, ref);
	}
	refmap_free(&s->holds);
}

int store_sync(struct store *s)
{
	if (store_readonly(s))
		return 0;
	if (msync(s->base, s->hdr->file_size, MS_SYNC) != 0)
		return -errno;
	return fdatasync(s->fd) == 0 ? 0 : -errno;
}

/* Free this process's copy of s: mapping, descriptor, memory. */
static void free_store(struct store *s)
{
	munmap(s->base, s->map_len);
	if (s->fd >= 0)
		close(s->fd);
	refmap_free(&s->holds);
	refmap_free(&s->snaps);
	refmap_free(&s->pending);
	handle_finish(s);
	free(s->created);
	free(s);
}

void store_abandon(struct store *s)
{
	if (!s)
		return;
	for (struct store_dir *d = s->cursors, *next; d; d = next) {
		next = d->next;
		free(d);        /* (the parent's cursors, copied) */
	}
	/* Closing our copy of the descriptor keeps every lock: locks
	 * belong to the open file, which the parent still has. */
	free_store(s);
}

void store_close(struct store *s)
{
	if (!s)
		return;
	while (s->cursors)
		store_dir_close(s->cursors);
	if (!s->readonly && !s->private_map) {
		arena_lock(s);
		file_drop_snapshots(s);
		free_orphans(s);
		arena_unlock(s);
		store_sync(s);
		if (leave_last(s)) {
			s->hdr->clean = 1;
			msync(s->base, MM_PAGE, MS_SYNC);
			fdatasync(s->fd);
		}
	}
	free_store(s);
}

store_ref store_root(const struct store *s)
{
	return s->hdr->root;
}

bool store_readonly(const struct store *s)
{
	return s->readonly || s->private_map;
}

const char *store_recovery_report(const struct store *s)
{
	return s->recovery;
}

/* uringfloor.c -- the do-nothing FUSE file system, served over io_uring.
 *
 * floorfs (bench/floorfs.c) measures the floor under any FUSE daemon that
 * talks to the kernel through read(2) and writev(2) on /dev/fuse.  Linux
 * 6.14 added a second transport, FUSE-over-io_uring: the daemon hands the
 * kernel ring entries (a header buffer and a payload buffer each) with
 * IORING_OP_URING_CMD on the /dev/fuse descriptor, the kernel fills an
 * entry with a request and completes the command, the daemon writes its
 * reply into the same buffers and commits it with the command that also
 * fetches the next request.  The kernel keeps one queue per possible CPU
 * and queues a request on the queue of the CPU its caller runs on.
 * uringfloor answers the requests floorfs answers, the same way, over that
 * transport, so that bench/run can put the two floors side by side.
 *
 *   uringfloor [-f] [-o size=BYTES] [-o counts=FILE] [-o threads=percpu|one]
 *              [-o depth=N] [-o defer] [-o nouring] MOUNTPOINT
 *
 * What it answers, as floorfs does (read bench/floorfs.c): every name in
 * the root exists as a regular file of `size` bytes (default 1 GiB) whose
 * node id is a hash of the name, except names starting with "new."
 * (ENOENT, so that O_CREAT sends CREATE); reads return zeros; writes
 * succeed; setattr, open, create, release, fsync, unlink, statfs succeed;
 * getxattr answers ENODATA; flush and everything else ENOSYS.  O_RDONLY
 * and O_WRONLY opens and *.ring files are direct I/O, O_RDWR opens use the
 * page cache; entries and attributes are cached for 1 s (0 for *.ring).
 *
 * The INIT reply asks for what libfuse 3.14 asks for on behalf of floorfs
 * (the same flags, protocol minor, max_write and max_pages, read off
 * floorfs's reply on this machine with strace), plus FUSE_OVER_IO_URING.
 * The kernel offers that flag only when the fuse module's parameter
 * enable_uring is on (/sys/module/fuse/parameters/enable_uring); without
 * it uringfloor refuses to start, unless -o nouring, which serves every
 * request over /dev/fuse with the same code (a control: this program's
 * own cost against libfuse's).
 *
 * Threads: main mounts (mount(2) itself: it needs root), reads /dev/fuse
 * (INIT; then FORGET and INTERRUPT, which the kernel never sends over the
 * ring) and waits.  With threads=percpu (the default, what libfuse >= 3.18
 * does) one thread per queue, named uring-qN and bound to CPU N, owns an
 * io_uring with `depth` entries (default 4) registered on queue N; so a
 * request is answered on the CPU its caller runs on.  With threads=one a
 * single unbound thread owns the entries of every queue: what a daemon
 * that must stay single-threaded (as mount.mmfs is) would do.  -o defer
 * sets the rings up with IORING_SETUP_DEFER_TASKRUN (the kernel's hand-off
 * of a request to the thread then runs only when the thread waits).
 *
 * Request counts: with -o counts=FILE, 64 little-endian u64 counters per
 * FUSE opcode at offset 1024 of FILE, as floorfs keeps them (mmbench -c).
 *
 * It exits when the file system is unmounted (fusermount3 -u, umount), or
 * unmounts it (lazily) on SIGINT, SIGTERM or SIGHUP.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/fuse.h>
#include <liburing.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

/*
 * The FUSE-over-io_uring ABI, as defined in include/uapi/linux/fuse.h of
 * Linux 6.14 (protocol 7.42), where it first appeared; Debian 12's
 * linux-libc-dev (6.1, protocol 7.38) does not have it.  Written here from
 * that definition: a newer <linux/fuse.h> brings its own, the same.
 */
#ifndef FUSE_OVER_IO_URING
#define FUSE_OVER_IO_URING (1ull << 41)     /* INIT flag (flags2 bit 9) */

#define FUSE_URING_IN_OUT_HEADER_SZ 128
#define FUSE_URING_OP_IN_OUT_SZ 128

/* The last part of an entry's header buffer. */
struct fuse_uring_ent_in_out {
	uint64_t flags;
	uint64_t commit_id;     /* the request's unique: give it back to commit */
	uint32_t payload_sz;    /* bytes used in the payload buffer, each way */
	uint32_t padding;
	uint64_t reserved;
};

/* An entry's header buffer (iov[0] of REGISTER). */
struct fuse_uring_req_header {
	char in_out[FUSE_URING_IN_OUT_HEADER_SZ];  /* fuse_in/out_header */
	char op_in[FUSE_URING_OP_IN_OUT_SZ];       /* the opcode's fixed part */
	struct fuse_uring_ent_in_out ring_ent_in_out;
};

/* sqe->cmd_op of an IORING_OP_URING_CMD on /dev/fuse. */
enum fuse_uring_cmd {
	FUSE_IO_URING_CMD_INVALID = 0,
	FUSE_IO_URING_CMD_REGISTER = 1,            /* give the kernel an entry */
	FUSE_IO_URING_CMD_COMMIT_AND_FETCH = 2,    /* reply, take the next one */
};

/* In the 80-byte command area of a 128-byte SQE. */
struct fuse_uring_cmd_req {
	uint64_t flags;
	uint64_t commit_id;
	uint16_t qid;
	uint8_t padding[6];
};
#endif

#define FLOOR_TIMEOUT 1.0           /* floorfs's, mmfs's entry/attr timeout */
#define FLOOR_MAX_WRITE (1u << 20)  /* floorfs's max_write */
#define FLOOR_MAX_PAGES 256         /* what libfuse 3.14 derives from it */
#define PAYLOAD_SIZE (1u << 20)     /* >= max_write, max_pages pages */
#define DEV_BUF_SIZE (PAYLOAD_SIZE + 4096)
#define PROTO_MINOR 31              /* libfuse 3.14's reply to this kernel */
#define COUNTS_OFFSET 1024
#define COUNTS_N 64
#define COUNTS_FILE_SIZE 4096
#define MAX_QUEUES 1024
#define INO_FILE (1ull << 62)
#define INO_RING (1ull << 61)

/* What libfuse 3.14 asks of this kernel for floorfs (its INIT reply,
 * flags 0x40409029), and the ring. */
#define WANT_FLAGS (FUSE_ASYNC_READ | FUSE_ATOMIC_O_TRUNC | FUSE_BIG_WRITES | \
		    FUSE_AUTO_INVAL_DATA | FUSE_ASYNC_DIO | FUSE_MAX_PAGES | \
		    FUSE_INIT_EXT)

struct opts {
	uint64_t file_size;
	const char *counts;
	const char *mountpoint;
	bool percpu;            /* threads=percpu (else one) */
	bool uring;             /* not -o nouring */
	bool defer;             /* -o defer: DEFER_TASKRUN rings */
	unsigned depth;         /* entries per queue */
};

static struct opts O = {
	.file_size = 1ull << 30, .percpu = true, .uring = true, .depth = 4,
};

static int dev_fd = -1;
static uint64_t *counts;
static unsigned nr_queues;      /* the kernel's: possible CPUs */
static char zeros[PAYLOAD_SIZE];     /* read replies over /dev/fuse */

/* ---- request counts ---- */

static int counts_map(const char *path)
{
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	char *p;

	if (fd < 0)
		return -1;
	if (ftruncate(fd, COUNTS_FILE_SIZE) != 0) {
		close(fd);
		return -1;
	}
	p = mmap(NULL, COUNTS_FILE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED,
		 fd, 0);
	close(fd);
	if (p == MAP_FAILED)
		return -1;
	counts = (uint64_t *)(void *)(p + COUNTS_OFFSET);
	return 0;
}

static void count_request(uint32_t opcode)
{
	if (counts)
		__atomic_fetch_add(&counts[opcode < COUNTS_N ? opcode : 0], 1,
				   __ATOMIC_RELAXED);
}

/* ---- answers (the same as floorfs's) ---- */

/* A reply being built: data goes to buf (cap bytes), or is `len` zeros. */
struct reply {
	char *buf;
	size_t cap;
	size_t len;
	int error;              /* 0 or a positive errno */
	bool none;              /* no reply at all (forget, interrupt) */
	bool zeros;             /* the data is len zero bytes */
};

static uint64_t name_ino(const char *name)
{
	uint64_t h = 1469598103934665603ull;
	size_t len = strlen(name);

	for (size_t i = 0; i < len; i++)
		h = (h ^ (unsigned char)name[i]) * 1099511628211ull;
	h = (h & ~INO_RING) | INO_FILE;
	if (len > 5 && strcmp(name + len - 5, ".ring") == 0)
		h |= INO_RING;
	return h;
}

static double attr_timeout(uint64_t ino)
{
	return (ino & INO_RING) ? 0.0 : FLOOR_TIMEOUT;
}

static void split_time(double t, uint64_t *sec, uint32_t *nsec)
{
	*sec = (uint64_t)t;
	*nsec = (uint32_t)((t - (double)*sec) * 1e9);
}

static void fill_attr(uint64_t ino, uint64_t size, struct fuse_attr *a)
{
	memset(a, 0, sizeof(*a));
	a->ino = ino;
	a->uid = getuid();
	a->gid = getgid();
	a->blksize = 4096;
	if (ino == FUSE_ROOT_ID) {
		a->mode = S_IFDIR | 0755;
		a->nlink = 2;
		return;
	}
	a->mode = S_IFREG | 0644;
	a->nlink = 1;
	a->size = size;
	a->blocks = (size + 511) / 512;
}

static void fill_entry(uint64_t ino, uint64_t size, struct fuse_entry_out *e)
{
	memset(e, 0, sizeof(*e));
	e->nodeid = ino;
	e->generation = 1;
	split_time(FLOOR_TIMEOUT, &e->entry_valid, &e->entry_valid_nsec);
	split_time(attr_timeout(e->nodeid), &e->attr_valid,
		   &e->attr_valid_nsec);
	fill_attr(e->nodeid, size, &e->attr);
}

static void fill_open(uint64_t ino, uint32_t flags, bool dir,
		      struct fuse_open_out *o)
{
	memset(o, 0, sizeof(*o));
	if (!dir && ((ino & INO_RING) || (flags & O_ACCMODE) != O_RDWR))
		o->open_flags = FOPEN_DIRECT_IO;
}

/* Reserve n bytes of the reply; NULL (and EIO) if they do not fit. */
static void *reply_put(struct reply *r, size_t n)
{
	void *p;

	if (r->len + n > r->cap) {
		r->error = EIO;
		return NULL;
	}
	p = r->buf + r->len;
	r->len += n;
	return p;
}

static void reply_attr(struct reply *r, uint64_t ino, uint64_t size)
{
	struct fuse_attr_out *a = reply_put(r, sizeof(*a));

	if (!a)
		return;
	memset(a, 0, sizeof(*a));
	split_time(attr_timeout(ino), &a->attr_valid, &a->attr_valid_nsec);
	fill_attr(ino, size, &a->attr);
}

/* The fixed part of each request this file system reads: its size. */
static size_t op_in_size(uint32_t opcode)
{
	switch (opcode) {
	case FUSE_GETATTR: return sizeof(struct fuse_getattr_in);
	case FUSE_SETATTR: return sizeof(struct fuse_setattr_in);
	case FUSE_OPEN: case FUSE_OPENDIR: return sizeof(struct fuse_open_in);
	case FUSE_CREATE: return sizeof(struct fuse_create_in);
	case FUSE_READ: case FUSE_READDIR: return sizeof(struct fuse_read_in);
	case FUSE_WRITE: return sizeof(struct fuse_write_in);
	case FUSE_RELEASE: case FUSE_RELEASEDIR:
		return sizeof(struct fuse_release_in);
	case FUSE_FSYNC: return sizeof(struct fuse_fsync_in);
	case FUSE_GETXATTR: return sizeof(struct fuse_getxattr_in);
	case FUSE_FLUSH: return sizeof(struct fuse_flush_in);
	default: return 0;
	}
}

/* A NUL-terminated name at the start of rest, or NULL. */
static const char *name_arg(const char *rest, size_t restlen)
{
	return restlen > 0 && memchr(rest, '\0', restlen) ? rest : NULL;
}

/*
 * Answer one request: in is its header, op its fixed part (op_in_size
 * bytes, zeros past what the kernel sent), rest what follows (a name,
 * write data).  The same for both transports.  Over the ring the reply
 * goes to the buffer rest is in: read rest before reply_put.
 */
static void answer(const struct fuse_in_header *in, const void *op,
		   const char *rest, size_t restlen, struct reply *r)
{
	const char *name;

	switch (in->opcode) {
	case FUSE_LOOKUP:
		name = name_arg(rest, restlen);
		if (!name)
			r->error = EINVAL;
		else if (strncmp(name, "new.", 4) == 0)
			r->error = ENOENT;
		else {
			uint64_t ino = name_ino(name);
			struct fuse_entry_out *e = reply_put(r, sizeof(*e));

			if (e)
				fill_entry(ino, O.file_size, e);
		}
		break;
	case FUSE_FORGET:
	case FUSE_BATCH_FORGET:
	case FUSE_INTERRUPT:
		r->none = true;
		break;
	case FUSE_GETATTR:
		reply_attr(r, in->nodeid, O.file_size);
		break;
	case FUSE_SETATTR: {
		const struct fuse_setattr_in *s = op;

		reply_attr(r, in->nodeid,
			   (s->valid & FATTR_SIZE) ? s->size : O.file_size);
		break;
	}
	case FUSE_OPEN:
	case FUSE_OPENDIR: {
		const struct fuse_open_in *oi = op;
		struct fuse_open_out *o = reply_put(r, sizeof(*o));

		if (o)
			fill_open(in->nodeid, oi->flags,
				  in->opcode == FUSE_OPENDIR, o);
		break;
	}
	case FUSE_CREATE: {
		const struct fuse_create_in *c = op;
		struct fuse_entry_out *e;
		struct fuse_open_out *o;
		uint64_t ino;

		name = name_arg(rest, restlen);
		if (!name) {
			r->error = EINVAL;
			break;
		}
		ino = name_ino(name);
		e = reply_put(r, sizeof(*e));
		o = reply_put(r, sizeof(*o));
		if (e && o) {
			fill_entry(ino, 0, e);
			fill_open(ino, c->flags, false, o);
		}
		break;
	}
	case FUSE_READ: {
		const struct fuse_read_in *rd = op;
		uint64_t n = 0;

		if (rd->offset < O.file_size) {
			n = rd->size < r->cap ? rd->size : r->cap;
			if (n > O.file_size - rd->offset)
				n = O.file_size - rd->offset;
		}
		r->len = n;
		r->zeros = true;
		break;
	}
	case FUSE_WRITE: {
		const struct fuse_write_in *w = op;
		struct fuse_write_out *wo = reply_put(r, sizeof(*wo));

		if (wo) {
			memset(wo, 0, sizeof(*wo));
			wo->size = w->size;
		}
		break;
	}
	case FUSE_STATFS: {
		struct fuse_statfs_out *s = reply_put(r, sizeof(*s));

		if (!s)
			break;
		memset(s, 0, sizeof(*s));
		s->st.bsize = s->st.frsize = 4096;
		s->st.blocks = s->st.bfree = s->st.bavail = 1ull << 20;
		s->st.files = s->st.ffree = 1ull << 20;
		s->st.namelen = 255;
		break;
	}
	case FUSE_RELEASE:
	case FUSE_RELEASEDIR:
	case FUSE_FSYNC:
	case FUSE_UNLINK:
		break;
	case FUSE_GETXATTR:
		r->error = ENODATA;
		break;
	case FUSE_READDIR:      /* the root lists as empty */
		r->len = 0;
		break;
	default:                /* flush, access, ...: not implemented */
		r->error = ENOSYS;
		break;
	}
	if (r->error)
		r->len = 0;
}

/* ---- /dev/fuse ---- */

static void dev_send(uint64_t unique, const struct reply *r)
{
	struct fuse_out_header out = {
		.len = (uint32_t)(sizeof(out) + r->len),
		.error = -r->error,
		.unique = unique,
	};
	struct iovec iov[2] = {
		{ &out, sizeof(out) },
		{ r->zeros ? (void *)zeros : r->buf, r->len },
	};

	/* ENOENT: the request was interrupted; nothing to do. */
	if (writev(dev_fd, iov, r->len ? 2 : 1) < 0 && errno != ENOENT)
		fprintf(stderr, "uringfloor: reply to %" PRIu64 ": %s\n",
			unique, strerror(errno));
}

static int start_queues(void);

/* Answer INIT: floorfs's settings, plus the ring unless -o nouring. */
static int do_init(const struct fuse_in_header *in, const char *arg,
		   size_t arglen)
{
	struct fuse_init_in ii = { 0 };
	struct fuse_init_out io = { 0 };
	uint64_t offered, want = WANT_FLAGS;
	struct reply r = { .buf = (char *)&io, .len = sizeof(io) };

	memcpy(&ii, arg, arglen < sizeof(ii) ? arglen : sizeof(ii));
	offered = ii.flags;
	if (offered & FUSE_INIT_EXT)
		offered |= (uint64_t)ii.flags2 << 32;
	if (ii.major != FUSE_KERNEL_VERSION) {
		fprintf(stderr, "uringfloor: kernel FUSE protocol %u.%u\n",
			ii.major, ii.minor);
		return -1;
	}
	if (O.uring) {
		if (!(offered & FUSE_OVER_IO_URING)) {
			fprintf(stderr, "uringfloor: the kernel (FUSE %u.%u) did "
				"not offer FUSE_OVER_IO_URING in INIT (flags2 "
				"%#x): is /sys/module/fuse/parameters/"
				"enable_uring Y?\n", ii.major, ii.minor,
				ii.flags2);
			return -1;
		}
		want |= FUSE_OVER_IO_URING;
	}
	want &= offered;
	io.major = FUSE_KERNEL_VERSION;
	io.minor = PROTO_MINOR < ii.minor ? PROTO_MINOR : ii.minor;
	io.max_readahead = ii.max_readahead;
	io.flags = (uint32_t)want;
	io.flags2 = (uint32_t)(want >> 32);
	io.max_write = FLOOR_MAX_WRITE;
	io.time_gran = 1;
	io.max_pages = FLOOR_MAX_PAGES;
	dev_send(in->unique, &r);
	/* The reply is processed by now: the kernel takes ring entries. */
	return O.uring ? start_queues() : 0;
}

/* Serve /dev/fuse until the file system is unmounted. */
static int dev_loop(void)
{
	char *buf = malloc(DEV_BUF_SIZE), *out = malloc(PAYLOAD_SIZE);
	char op[FUSE_URING_OP_IN_OUT_SZ];

	if (!buf || !out) {
		fprintf(stderr, "uringfloor: out of memory\n");
		return 1;
	}
	for (;;) {
		const struct fuse_in_header *in = (const void *)buf;
		struct reply r = { .buf = out, .cap = PAYLOAD_SIZE };
		ssize_t n = read(dev_fd, buf, DEV_BUF_SIZE);
		size_t arglen, opsz;

		if (n < 0) {
			if (errno == EINTR || errno == ENOENT || errno == EAGAIN)
				continue;
			if (errno == ENODEV)    /* unmounted */
				return 0;
			fprintf(stderr, "uringfloor: read /dev/fuse: %s\n",
				strerror(errno));
			return 1;
		}
		if ((size_t)n < sizeof(*in) || in->len != (uint32_t)n)
			continue;
		count_request(in->opcode);
		arglen = (size_t)n - sizeof(*in);
		if (in->opcode == FUSE_INIT) {
			if (do_init(in, buf + sizeof(*in), arglen) != 0)
				return 1;
			continue;
		}
		opsz = op_in_size(in->opcode);
		if (opsz > arglen)
			opsz = arglen;
		memset(op, 0, sizeof(op));
		memcpy(op, buf + sizeof(*in), opsz);
		answer(in, op, buf + sizeof(*in) + opsz, arglen - opsz, &r);
		if (!r.none)
			dev_send(in->unique, &r);
	}
}

/* ---- the ring ---- */

struct entry {
	struct fuse_uring_req_header *hdr;
	char *payload;
	struct iovec iov[2];
	size_t dirty;           /* payload bytes that may not be zero */
	uint16_t qid;
	bool live;              /* registered, not torn down */
};

struct ring_thread {
	pthread_t tid;
	int cpu;                /* bound to it, or -1 */
	unsigned first_qid, nr_qids;
	unsigned nr_entries;
	struct entry *ents;
	struct io_uring ring;
	int err;                /* what the kernel answered first, or 0 */
};

static struct ring_thread *threads;
static unsigned nr_threads;

/* The highest CPU number in /sys/devices/system/cpu/possible, plus one:
 * the number of queues the kernel makes (num_possible_cpus()). */
static unsigned possible_cpus(void)
{
	char s[256] = "";
	unsigned long max = 0;
	FILE *f = fopen("/sys/devices/system/cpu/possible", "r");

	if (f) {
		if (!fgets(s, sizeof(s), f))
			s[0] = '\0';
		fclose(f);
	}
	/* "0-1", "0,2-5": take every number, keep the largest. */
	for (char *p = s; *p;) {
		char *end;
		unsigned long v;

		if (*p < '0' || *p > '9') {
			p++;
			continue;
		}
		v = strtoul(p, &end, 10);
		if (v > max)
			max = v;
		p = end;
	}
	return max < MAX_QUEUES ? (unsigned)max + 1 : MAX_QUEUES + 1;
}

/* Prepare the SQE that registers e, or commits its reply and fetches. */
static int queue_cmd(struct ring_thread *t, struct entry *e, uint32_t cmd,
		     uint64_t commit_id)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&t->ring);
	struct fuse_uring_cmd_req *req;

	if (!sqe)
		return -EBUSY;  /* never: one SQE per entry at most */
	memset(sqe, 0, 128);    /* an SQE128 */
	sqe->opcode = IORING_OP_URING_CMD;
	sqe->flags = IOSQE_FIXED_FILE;
	sqe->fd = 0;            /* /dev/fuse, registered as file 0 */
	sqe->cmd_op = cmd;
	sqe->user_data = (uint64_t)(uintptr_t)e;
	if (cmd == FUSE_IO_URING_CMD_REGISTER) {
		sqe->addr = (uint64_t)(uintptr_t)e->iov;
		sqe->len = 2;
	}
	req = (struct fuse_uring_cmd_req *)(void *)sqe->cmd;
	req->qid = e->qid;
	req->commit_id = commit_id;
	return 0;
}

/* Answer the request in e and queue its commit. */
static int serve_entry(struct ring_thread *t, struct entry *e)
{
	struct fuse_uring_req_header *h = e->hdr;
	struct fuse_in_header in;
	struct fuse_out_header *out = (struct fuse_out_header *)(void *)h->in_out;
	uint64_t commit_id = h->ring_ent_in_out.commit_id;
	size_t in_sz = h->ring_ent_in_out.payload_sz;
	struct reply r = { .buf = e->payload, .cap = PAYLOAD_SIZE };

	memcpy(&in, h->in_out, sizeof(in));
	if (in_sz > PAYLOAD_SIZE)
		in_sz = PAYLOAD_SIZE;
	if (in_sz > e->dirty)
		e->dirty = in_sz;
	count_request(in.opcode);
	answer(&in, h->op_in, e->payload, in_sz, &r);
	if (r.none)             /* forgets never come this way; be safe */
		r.len = 0;
	if (r.zeros && r.len) {
		memset(e->payload, 0, r.len < e->dirty ? r.len : e->dirty);
		if (r.len >= e->dirty)
			e->dirty = 0;
	} else if (r.len > e->dirty) {
		e->dirty = r.len;
	}
	out->len = (uint32_t)(sizeof(*out) + r.len);
	out->error = -r.error;
	out->unique = in.unique;
	h->ring_ent_in_out.payload_sz = (uint32_t)r.len;
	return queue_cmd(t, e, FUSE_IO_URING_CMD_COMMIT_AND_FETCH, commit_id);
}

static void *map_buf(size_t n)
{
	void *p = mmap(NULL, n, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

static int ring_setup(struct ring_thread *t)
{
	struct io_uring_params p = { .flags = IORING_SETUP_SQE128 };
	int rc;

	/* The kernel hands each request to this thread as task work; with
	 * DEFER_TASKRUN it runs only when the thread waits for completions,
	 * instead of interrupting it. */
	if (O.defer)
		p.flags |= IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN;

	t->nr_entries = t->nr_qids * O.depth;
	t->ents = calloc(t->nr_entries, sizeof(*t->ents));
	if (!t->ents)
		return -ENOMEM;
	rc = io_uring_queue_init_params(t->nr_entries, &t->ring, &p);
	if (rc < 0)
		return rc;
	rc = io_uring_register_files(&t->ring, &dev_fd, 1);
	if (rc < 0)
		return rc;
	for (unsigned i = 0; i < t->nr_entries; i++) {
		struct entry *e = &t->ents[i];

		e->qid = (uint16_t)(t->first_qid + i / O.depth);
		e->hdr = map_buf(4096);
		e->payload = map_buf(PAYLOAD_SIZE);
		if (!e->hdr || !e->payload)
			return -ENOMEM;
		e->iov[0] = (struct iovec){ e->hdr, sizeof(*e->hdr) };
		e->iov[1] = (struct iovec){ e->payload, PAYLOAD_SIZE };
		rc = queue_cmd(t, e, FUSE_IO_URING_CMD_REGISTER, 0);
		if (rc < 0)
			return rc;
		e->live = true;
	}
	return 0;
}

static void *ring_main(void *arg)
{
	struct ring_thread *t = arg;
	char name[16];
	unsigned live;
	int rc;

	snprintf(name, sizeof(name), "uring-q%u", t->first_qid);
	pthread_setname_np(pthread_self(), t->nr_qids == 1 ? name : "uring-all");
	if (t->cpu >= 0) {
		cpu_set_t set;

		CPU_ZERO(&set);
		CPU_SET(t->cpu, &set);
		sched_setaffinity(0, sizeof(set), &set);
	}
	rc = ring_setup(t);
	if (rc < 0) {
		fprintf(stderr, "uringfloor: io_uring setup for queue %u: %s\n",
			t->first_qid, strerror(-rc));
		t->err = rc;
		umount2(O.mountpoint, MNT_DETACH);
		return NULL;
	}
	live = t->nr_entries;
	while (live > 0) {
		struct io_uring_cqe *cqe;
		unsigned head, seen = 0;

		rc = io_uring_submit_and_wait(&t->ring, 1);
		if (rc < 0 && rc != -EINTR) {
			fprintf(stderr, "uringfloor: io_uring_enter: %s\n",
				strerror(-rc));
			break;
		}
		io_uring_for_each_cqe(&t->ring, head, cqe) {
			struct entry *e = (void *)(uintptr_t)cqe->user_data;

			seen++;
			if (cqe->res == -EAGAIN || cqe->res == -EINTR) {
				/* not ready yet: ask again */
				queue_cmd(t, e, FUSE_IO_URING_CMD_REGISTER, 0);
			} else if (cqe->res < 0) {
				/* ENOTCONN, ECANCELED: unmounted.  Anything
				 * else: the kernel refused the ring. */
				if (cqe->res != -ENOTCONN &&
				    cqe->res != -ECANCELED && !t->err) {
					t->err = cqe->res;
					fprintf(stderr, "uringfloor: queue %u: "
						"the kernel answered %s\n",
						e->qid, strerror(-cqe->res));
					umount2(O.mountpoint, MNT_DETACH);
				}
				e->live = false;
				live--;
			} else if (serve_entry(t, e) != 0) {
				e->live = false;
				live--;
			}
		}
		io_uring_cq_advance(&t->ring, seen);
	}
	io_uring_queue_exit(&t->ring);
	return NULL;
}

/* Start the ring threads: one per queue, or one for all. */
static int start_queues(void)
{
	sigset_t all, old;

	nr_queues = possible_cpus();
	if (nr_queues > MAX_QUEUES) {
		fprintf(stderr, "uringfloor: %u possible CPUs\n", nr_queues);
		return -1;
	}
	nr_threads = O.percpu ? nr_queues : 1;
	threads = calloc(nr_threads, sizeof(*threads));
	if (!threads)
		return -1;
	/* Signals go to the main thread, which unmounts. */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	for (unsigned i = 0; i < nr_threads; i++) {
		struct ring_thread *t = &threads[i];

		t->cpu = O.percpu ? (int)i : -1;
		t->first_qid = O.percpu ? i : 0;
		t->nr_qids = O.percpu ? 1 : nr_queues;
		if (pthread_create(&t->tid, NULL, ring_main, t) != 0) {
			fprintf(stderr, "uringfloor: pthread_create failed\n");
			nr_threads = i;
			pthread_sigmask(SIG_SETMASK, &old, NULL);
			return -1;
		}
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return 0;
}

static int join_queues(void)
{
	int bad = 0;

	for (unsigned i = 0; i < nr_threads; i++) {
		pthread_join(threads[i].tid, NULL);
		if (threads[i].err)
			bad = 1;
	}
	return bad;
}

/* ---- mounting, options ---- */

static void on_signal(int sig)
{
	umount2(O.mountpoint, MNT_DETACH);
}

static int do_mount(void)
{
	char opts[128];
	struct sigaction sa = { .sa_handler = on_signal };

	dev_fd = open("/dev/fuse", O_RDWR | O_CLOEXEC);
	if (dev_fd < 0) {
		fprintf(stderr, "uringfloor: /dev/fuse: %s\n", strerror(errno));
		return -1;
	}
	snprintf(opts, sizeof(opts), "fd=%d,rootmode=40000,user_id=%u,group_id=%u",
		 dev_fd, (unsigned)getuid(), (unsigned)getgid());
	if (mount("uringfloor", O.mountpoint, "fuse.uringfloor",
		  MS_NOSUID | MS_NODEV, opts) != 0) {
		fprintf(stderr, "uringfloor: mount %s: %s (root is needed)\n",
			O.mountpoint, strerror(errno));
		return -1;
	}
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	return 0;
}

/* Parse "123", "64K", "1M", "1G", "1T". */
static int parse_size(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s)
		return -1;
	switch (*end) {
	case 'T': case 't': v <<= 10; /* fall through */
	case 'G': case 'g': v <<= 10; /* fall through */
	case 'M': case 'm': v <<= 10; /* fall through */
	case 'K': case 'k': v <<= 10; end++; break;
	case '\0': break;
	default: return -1;
	}
	if (*end != '\0' || v == 0)
		return -1;
	*out = v;
	return 0;
}

/* One -o list: size=, counts=, threads=, depth=, nouring. */
static int parse_o(char *list)
{
	char *save = NULL;

	if (!list)
		return -1;

	for (char *o = strtok_r(list, ",", &save); o;
	     o = strtok_r(NULL, ",", &save)) {
		if (strncmp(o, "size=", 5) == 0) {
			if (parse_size(o + 5, &O.file_size) != 0)
				return -1;
		} else if (strncmp(o, "counts=", 7) == 0) {
			O.counts = o + 7;
		} else if (strcmp(o, "threads=percpu") == 0) {
			O.percpu = true;
		} else if (strcmp(o, "threads=one") == 0) {
			O.percpu = false;
		} else if (strncmp(o, "depth=", 6) == 0) {
			O.depth = (unsigned)atoi(o + 6);
			if (O.depth < 1 || O.depth > 64)
				return -1;
		} else if (strcmp(o, "nouring") == 0) {
			O.uring = false;
		} else if (strcmp(o, "defer") == 0) {
			O.defer = true;
		} else {
			fprintf(stderr, "uringfloor: unknown option %s\n", o);
			return -1;
		}
	}
	return 0;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: uringfloor [-f] [-o size=BYTES] [-o counts=FILE] "
		"[-o threads=percpu|one]\n"
		"                  [-o depth=N] [-o defer] [-o nouring] MOUNTPOINT\n");
}

static bool uring_enabled(void)
{
	char c = 'N';
	FILE *f = fopen("/sys/module/fuse/parameters/enable_uring", "r");

	if (f) {
		if (fread(&c, 1, 1, f) != 1)
			c = 'N';
		fclose(f);
	}
	return c == 'Y' || c == '1';
}

int main(int argc, char *argv[])
{
	int c, rc;

	while ((c = getopt(argc, argv, "fo:h")) != -1) {
		switch (c) {
		case 'f': break;        /* always in the foreground */
		case 'o':       /* a copy: keep /proc/PID/cmdline whole */
			if (parse_o(strdup(optarg)) != 0) {
				usage(stderr);
				return 2;
			}
			break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (argc - optind != 1) {
		usage(stderr);
		return 2;
	}
	O.mountpoint = argv[optind];
	if (O.uring && !uring_enabled()) {
		fprintf(stderr, "uringfloor: FUSE over io_uring is off: "
			"echo 1 > /sys/module/fuse/parameters/enable_uring "
			"(or -o nouring)\n");
		return 1;
	}
	if (O.counts && counts_map(O.counts) != 0) {
		fprintf(stderr, "uringfloor: cannot use counts=%s\n", O.counts);
		return 1;
	}
	if (do_mount() != 0)
		return 1;
	rc = dev_loop();
	if (rc != 0)
		umount2(O.mountpoint, MNT_DETACH);
	if (join_queues() != 0)
		rc = 1;
	return rc;
}

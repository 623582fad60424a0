/* initflags.c -- the INIT flags libfuse 3.14 cannot negotiate, and the
 * request flags it does not pass on (see initflags.h).
 *
 * The wire format is the kernel's <linux/fuse.h>: a request starts with
 * struct fuse_in_header, a reply with struct fuse_out_header; the INIT
 * reply's body is struct fuse_init_out, whose flags2 holds flag bits
 * 32..63 when FUSE_INIT_EXT is set in flags.
 */
#include <linux/fuse.h>
#include <stddef.h>
#include <string.h>
#include <unistd.h>

#include "initflags.h"

/* Newer than the uapi header of Debian 12 (7.38). */
#ifndef FUSE_DIRECT_IO_ALLOW_MMAP
#define FUSE_DIRECT_IO_ALLOW_MMAP (1ULL << 36)
#endif
_Static_assert(FUSE_DIRECT_IO_ALLOW_MMAP == INITFLAGS_DIO_ALLOW_MMAP,
	       "FUSE_DIRECT_IO_ALLOW_MMAP moved");
_Static_assert(FUSE_HANDLE_KILLPRIV_V2 == INITFLAGS_KILLPRIV_V2,
	       "FUSE_HANDLE_KILLPRIV_V2 moved");

#define HEADER_IN sizeof(struct fuse_in_header)
#define HEADER_OUT sizeof(struct fuse_out_header)
/* An INIT reply up to and including flags2: the part that is patched. */
#define INIT_OUT_MIN (offsetof(struct fuse_init_out, flags2) + \
		      sizeof(uint32_t))
#define REPLY_COPY_MAX 512      /* an INIT reply is 80 bytes */

/* The u32 at byte off of the body of request req (len bytes), or 0 when
 * the request is too short to have it. */
static uint32_t body_u32(const void *req, size_t len, size_t off)
{
	uint32_t v;

	if (len < HEADER_IN + off + sizeof(v))
		return 0;
	memcpy(&v, (const char *)req + HEADER_IN + off, sizeof(v));
	return v;
}

static void note_init(struct initflags *st, const void *req, size_t len,
		      uint64_t unique)
{
	uint64_t flags = body_u32(req, len, offsetof(struct fuse_init_in,
						     flags));

	if (flags & FUSE_INIT_EXT)
		flags |= (uint64_t)body_u32(req, len,
					    offsetof(struct fuse_init_in,
						     flags2)) << 32;
	st->offered = flags;
	st->init_unique = unique;
}

/* Each serving thread reads a request and handles it before it reads the
 * next: what the request it read last asks is the thread's own. */
static _Thread_local bool kill_suidgid;

bool initflags_kill_suidgid(void)
{
	return kill_suidgid;
}

void initflags_note(struct initflags *st, const void *req, size_t len)
{
	struct fuse_in_header h;

	kill_suidgid = false;
	if (len < HEADER_IN)
		return;
	memcpy(&h, req, sizeof(h));
	switch (h.opcode) {
	case FUSE_INIT:
		note_init(st, req, len, h.unique);
		break;
	case FUSE_WRITE:
		kill_suidgid = body_u32(req, len,
			offsetof(struct fuse_write_in, write_flags)) &
			FUSE_WRITE_KILL_SUIDGID;
		break;
	case FUSE_OPEN:
		kill_suidgid = body_u32(req, len,
			offsetof(struct fuse_open_in, open_flags)) &
			FUSE_OPEN_KILL_SUIDGID;
		break;
	default:
		break;
	}
}

ssize_t initflags_read(struct initflags *st, int fd, void *buf, size_t len)
{
	ssize_t n = read(fd, buf, len);

	if (n > 0)
		initflags_note(st, buf, (size_t)n);
	return n;
}

/* Add to the INIT reply in msg (len bytes, header included) what is
 * wanted and offered; returns what was added.  A reply too short to hold
 * flags2 is left alone. */
static uint64_t add_flags(const struct initflags *st, char *msg, size_t len)
{
	uint64_t add = st->offered & INITFLAGS_WANTED;
	struct fuse_init_out out;

	if (!add || len < HEADER_OUT + INIT_OUT_MIN)
		return 0;
	memcpy(&out, msg + HEADER_OUT, INIT_OUT_MIN);
	out.flags |= (uint32_t)add;
	if (add >> 32) {        /* offered, so the kernel knows flags2 */
		out.flags |= FUSE_INIT_EXT;
		out.flags2 |= (uint32_t)(add >> 32);
	}
	memcpy(msg + HEADER_OUT, &out, INIT_OUT_MIN);
	return add;
}

/* The id of the reply or notification in iov (libfuse puts the whole
 * header in iov[0]); 0 when there is none. */
static uint64_t reply_unique(const struct iovec *iov, int count)
{
	struct fuse_out_header h;

	if (count < 1 || iov[0].iov_len < sizeof(h))
		return 0;
	memcpy(&h, iov[0].iov_base, sizeof(h));
	return h.unique;
}

/* Copy the message in iov into msg (at most REPLY_COPY_MAX bytes); its
 * length in *len.  False: too long, or an error reply (header only). */
static bool gather_success(const struct iovec *iov, int count, char *msg,
			   size_t *len)
{
	struct fuse_out_header h;

	*len = 0;
	for (int i = 0; i < count; i++) {
		if (iov[i].iov_len > REPLY_COPY_MAX - *len)
			return false;
		memcpy(msg + *len, iov[i].iov_base, iov[i].iov_len);
		*len += iov[i].iov_len;
	}
	memcpy(&h, msg, sizeof(h));
	return h.error == 0;
}

ssize_t initflags_writev(struct initflags *st, int fd, const struct iovec *iov,
			 int count)
{
	char msg[REPLY_COPY_MAX];
	struct iovec one;
	size_t len;

	if (st->answered || !st->init_unique ||
	    reply_unique(iov, count) != st->init_unique)
		return writev(fd, iov, count);
	st->answered = true;
	if (!gather_success(iov, count, msg, &len))
		return writev(fd, iov, count);
	st->added = add_flags(st, msg, len);
	one = (struct iovec){ .iov_base = msg, .iov_len = len };
	return writev(fd, &one, 1);
}

bool initflags_granted(const struct initflags *st, uint64_t flag)
{
	return (st->added & flag) == flag && flag != 0;
}

/* test_initflags.c -- unit tests of src/fs/initflags.c: what it reads from
 * the kernel's requests and adds to the INIT reply, through pipes standing
 * for /dev/fuse. */
#include <errno.h>
#include <linux/fuse.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "initflags.h"
#include "unit.h"

#define ALLOW_MMAP_BIT2 (1u << 4)       /* bit 36, in flags2 */

struct init_request {
	struct fuse_in_header h;
	struct fuse_init_in in;
};

struct init_reply {
	struct fuse_out_header h;
	struct fuse_init_out out;
};

static struct init_request init_request(uint64_t unique, uint32_t flags,
					uint32_t flags2)
{
	struct init_request r;

	memset(&r, 0, sizeof(r));
	r.h.len = sizeof(r);
	r.h.opcode = FUSE_INIT;
	r.h.unique = unique;
	r.in.major = 7;
	r.in.minor = 45;
	r.in.flags = flags;
	r.in.flags2 = flags2;
	return r;
}

/* Feed req to initflags_read through a pipe. */
static ssize_t feed(struct initflags *st, const void *req, size_t len)
{
	char buf[4096];
	int p[2];
	ssize_t n;

	if (pipe(p))
		return -1;
	n = write(p[1], req, len);
	if (n == (ssize_t)len)
		n = initflags_read(st, p[0], buf, sizeof(buf));
	close(p[0]);
	close(p[1]);
	return n;
}

/* Send the two-part reply (header, body) through initflags_writev and
 * return what came out of the pipe in got (its length). */
static ssize_t send_reply(struct initflags *st, const void *hdr, size_t hlen,
			  const void *body, size_t blen, void *got,
			  size_t gotlen)
{
	struct iovec iov[2] = {
		{ .iov_base = (void *)hdr, .iov_len = hlen },
		{ .iov_base = (void *)body, .iov_len = blen },
	};
	ssize_t n;
	int p[2];

	if (pipe(p))
		return -1;
	n = initflags_writev(st, p[1], iov, blen ? 2 : 1);
	if (n >= 0)
		n = read(p[0], got, gotlen);
	close(p[0]);
	close(p[1]);
	return n;
}

static struct init_reply libfuse_reply(uint64_t unique)
{
	struct init_reply r;

	memset(&r, 0, sizeof(r));
	r.h.len = sizeof(r);
	r.h.unique = unique;
	r.out.major = 7;
	r.out.minor = 31;
	r.out.flags = FUSE_ASYNC_READ | FUSE_INIT_EXT;
	r.out.max_write = 1 << 20;
	return r;
}

static void test_offer_granted(void)
{
	struct init_request req = init_request(2, FUSE_INIT_EXT |
			FUSE_HANDLE_KILLPRIV_V2 | FUSE_ASYNC_READ,
			ALLOW_MMAP_BIT2 | 1u);
	struct init_reply rep = libfuse_reply(2), got;
	struct initflags st = { 0 };

	CHECK(feed(&st, &req, sizeof(req)) == sizeof(req), "INIT read");
	CHECK(st.offered == ((uint64_t)(ALLOW_MMAP_BIT2 | 1u) << 32 |
			     FUSE_INIT_EXT | FUSE_HANDLE_KILLPRIV_V2 |
			     FUSE_ASYNC_READ), "offer with flags2");
	CHECK(!st.answered && !initflags_granted(&st, INITFLAGS_KILLPRIV_V2),
	      "nothing granted before the reply");
	CHECK(send_reply(&st, &rep.h, sizeof(rep.h), &rep.out,
			 sizeof(rep.out), &got, sizeof(got)) == sizeof(got),
	      "whole reply written");
	CHECK(st.answered, "answered");
	CHECK(got.out.flags == (FUSE_ASYNC_READ | FUSE_INIT_EXT |
				FUSE_HANDLE_KILLPRIV_V2), "flags: %#x",
	      got.out.flags);
	CHECK(got.out.flags2 == ALLOW_MMAP_BIT2, "flags2: %#x",
	      got.out.flags2);
	CHECK(got.out.max_write == 1 << 20 && got.h.len == sizeof(got) &&
	      got.h.unique == 2, "the rest unchanged");
	CHECK(initflags_granted(&st, INITFLAGS_KILLPRIV_V2) &&
	      initflags_granted(&st, INITFLAGS_DIO_ALLOW_MMAP),
	      "both granted");
	CHECK(!initflags_granted(&st, 0), "no flag is no grant");
}

static void test_not_offered(void)
{
	/* A kernel before 6.6: KILLPRIV_V2 but no flags2 bit 4. */
	struct init_request req = init_request(5, FUSE_INIT_EXT |
			FUSE_HANDLE_KILLPRIV_V2, 0);
	struct init_reply rep = libfuse_reply(5), got;
	struct initflags st = { 0 };

	feed(&st, &req, sizeof(req));
	send_reply(&st, &rep.h, sizeof(rep.h), &rep.out, sizeof(rep.out),
		   &got, sizeof(got));
	CHECK(got.out.flags2 == 0, "ALLOW_MMAP not offered, not added");
	CHECK(initflags_granted(&st, INITFLAGS_KILLPRIV_V2) &&
	      !initflags_granted(&st, INITFLAGS_DIO_ALLOW_MMAP), "grants");

	/* Without FUSE_INIT_EXT flags2 is no offer, whatever it holds. */
	req = init_request(6, FUSE_ASYNC_READ, ALLOW_MMAP_BIT2);
	rep = libfuse_reply(6);
	st = (struct initflags){ 0 };
	feed(&st, &req, sizeof(req));
	send_reply(&st, &rep.h, sizeof(rep.h), &rep.out, sizeof(rep.out),
		   &got, sizeof(got));
	CHECK(st.offered == FUSE_ASYNC_READ, "flags2 ignored");
	CHECK(memcmp(&got, &rep, sizeof(got)) == 0, "reply unchanged");
	CHECK(st.answered && st.added == 0, "answered, nothing added");
}

static void test_no_init_ext(void)
{
	/* A kernel with KILLPRIV_V2 but no flags2 at all (5.11 to 5.16). */
	struct init_request req = init_request(4, FUSE_HANDLE_KILLPRIV_V2, 0);
	struct init_reply rep = libfuse_reply(4), got;
	struct initflags st = { 0 };

	rep.out.flags = FUSE_ASYNC_READ;        /* libfuse adds no INIT_EXT */
	feed(&st, &req, sizeof(req));
	send_reply(&st, &rep.h, sizeof(rep.h), &rep.out, sizeof(rep.out),
		   &got, sizeof(got));
	CHECK(got.out.flags == (FUSE_ASYNC_READ | FUSE_HANDLE_KILLPRIV_V2),
	      "KILLPRIV_V2 without INIT_EXT: %#x", got.out.flags);
	CHECK(got.out.flags2 == 0, "no flags2");
}

static void test_old_kernel_short_init(void)
{
	/* Before 7.36 fuse_init_in ended after flags. */
	struct init_request req = init_request(3, FUSE_HANDLE_KILLPRIV_V2 |
					       FUSE_INIT_EXT, ALLOW_MMAP_BIT2);
	size_t len = sizeof(req.h) + offsetof(struct fuse_init_in, flags2);
	struct initflags st = { 0 };

	feed(&st, &req, len);
	CHECK(st.offered == (FUSE_HANDLE_KILLPRIV_V2 | FUSE_INIT_EXT),
	      "no flags2 in a short INIT: %#llx",
	      (unsigned long long)st.offered);
}

static void test_other_messages_pass(void)
{
	struct init_request req = init_request(9, FUSE_INIT_EXT |
			FUSE_HANDLE_KILLPRIV_V2, ALLOW_MMAP_BIT2);
	struct fuse_out_header err = { .len = sizeof(err), .error = -EPROTO,
				       .unique = 9 };
	struct init_reply rep = libfuse_reply(11), got;
	struct fuse_out_header notify = { .len = sizeof(notify),
					  .error = FUSE_NOTIFY_INVAL_INODE };
	struct initflags st = { 0 };

	feed(&st, &req, sizeof(req));
	/* Another request's reply goes as it is. */
	CHECK(send_reply(&st, &rep.h, sizeof(rep.h), &rep.out,
			 sizeof(rep.out), &got, sizeof(got)) == sizeof(got) &&
	      memcmp(&got, &rep, sizeof(got)) == 0, "other reply unchanged");
	CHECK(send_reply(&st, &notify, sizeof(notify), NULL, 0, &got,
			 sizeof(got)) == sizeof(notify) &&
	      memcmp(&got, &notify, sizeof(notify)) == 0,
	      "notification unchanged");
	CHECK(!st.answered, "INIT still pending");
	/* An error reply to INIT goes as it is and ends the exchange. */
	CHECK(send_reply(&st, &err, sizeof(err), NULL, 0, &got, sizeof(got)) ==
	      sizeof(err) && memcmp(&got, &err, sizeof(err)) == 0,
	      "error reply unchanged");
	CHECK(st.answered && st.added == 0, "answered without grants");
	/* Later replies with the same id are left alone. */
	rep = libfuse_reply(9);
	send_reply(&st, &rep.h, sizeof(rep.h), &rep.out, sizeof(rep.out),
		   &got, sizeof(got));
	CHECK(memcmp(&got, &rep, sizeof(got)) == 0, "only one INIT reply");
}

static void test_kill_flags(void)
{
	struct {
		struct fuse_in_header h;
		struct fuse_write_in in;
	} w;
	struct {
		struct fuse_in_header h;
		struct fuse_open_in in;
	} o;
	struct fuse_in_header g = { .len = sizeof(g), .opcode = FUSE_GETATTR };
	struct initflags st = { 0 };

	memset(&w, 0, sizeof(w));
	w.h.opcode = FUSE_WRITE;
	w.in.write_flags = FUSE_WRITE_KILL_SUIDGID | FUSE_WRITE_LOCKOWNER;
	initflags_note(&st, &w, sizeof(w));
	CHECK(initflags_kill_suidgid(), "WRITE asks");
	w.in.write_flags = FUSE_WRITE_LOCKOWNER;
	initflags_note(&st, &w, sizeof(w));
	CHECK(!initflags_kill_suidgid(), "WRITE does not ask");

	memset(&o, 0, sizeof(o));
	o.h.opcode = FUSE_OPEN;
	o.in.open_flags = FUSE_OPEN_KILL_SUIDGID;
	initflags_note(&st, &o, sizeof(o));
	CHECK(initflags_kill_suidgid(), "OPEN asks");
	initflags_note(&st, &g, sizeof(g));
	CHECK(!initflags_kill_suidgid(), "the next request starts afresh");
	initflags_note(&st, &o, sizeof(o.h) + 4);
	CHECK(!initflags_kill_suidgid(), "too short to have open_flags");
	initflags_note(&st, &o, 3);
	CHECK(!initflags_kill_suidgid(), "shorter than a header");
	CHECK(st.offered == 0 && st.init_unique == 0, "no INIT seen");
}

static void test_read_errors_pass(void)
{
	struct initflags st = { 0 };
	char buf[64];
	int p[2];

	CHECK(pipe(p) == 0, "pipe");
	close(p[1]);
	CHECK(initflags_read(&st, p[0], buf, sizeof(buf)) == 0, "EOF");
	close(p[0]);
	errno = 0;
	CHECK(initflags_read(&st, -1, buf, sizeof(buf)) == -1 &&
	      errno == EBADF, "read(2) error and errno");
}

int main(void)
{
	test_offer_granted();
	test_not_offered();
	test_no_init_ext();
	test_old_kernel_short_init();
	test_other_messages_pass();
	test_kill_flags();
	test_read_errors_pass();
	return unit_exit("initflags");
}

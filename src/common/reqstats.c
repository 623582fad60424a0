/* reqstats.c -- FUSE request counters by opcode (see reqstats.h).
 *
 * The names are those of enum fuse_opcode in <linux/fuse.h>, lower case
 * and without the FUSE_ prefix; the table is indexed by the enum itself,
 * so the compiler refuses an opcode past REQSTATS_SLOTS.
 */
#include <linux/fuse.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <string.h>

#include "reqstats.h"

/* FUSE_STATX came with protocol 7.39; older uapi headers lack it. */
#if FUSE_KERNEL_MINOR_VERSION >= 39
#define OPCODE_STATX FUSE_STATX
#else
#define OPCODE_STATX 52
#endif

_Static_assert(sizeof(((struct fuse_in_header *)0)->opcode) ==
	       sizeof(uint32_t), "the opcode is a u32");

static const char *const opcode_names[REQSTATS_SLOTS] = {
	[FUSE_LOOKUP] = "lookup",
	[FUSE_FORGET] = "forget",
	[FUSE_GETATTR] = "getattr",
	[FUSE_SETATTR] = "setattr",
	[FUSE_READLINK] = "readlink",
	[FUSE_SYMLINK] = "symlink",
	[FUSE_MKNOD] = "mknod",
	[FUSE_MKDIR] = "mkdir",
	[FUSE_UNLINK] = "unlink",
	[FUSE_RMDIR] = "rmdir",
	[FUSE_RENAME] = "rename",
	[FUSE_LINK] = "link",
	[FUSE_OPEN] = "open",
	[FUSE_READ] = "read",
	[FUSE_WRITE] = "write",
	[FUSE_STATFS] = "statfs",
	[FUSE_RELEASE] = "release",
	[FUSE_FSYNC] = "fsync",
	[FUSE_SETXATTR] = "setxattr",
	[FUSE_GETXATTR] = "getxattr",
	[FUSE_LISTXATTR] = "listxattr",
	[FUSE_REMOVEXATTR] = "removexattr",
	[FUSE_FLUSH] = "flush",
	[FUSE_INIT] = "init",
	[FUSE_OPENDIR] = "opendir",
	[FUSE_READDIR] = "readdir",
	[FUSE_RELEASEDIR] = "releasedir",
	[FUSE_FSYNCDIR] = "fsyncdir",
	[FUSE_GETLK] = "getlk",
	[FUSE_SETLK] = "setlk",
	[FUSE_SETLKW] = "setlkw",
	[FUSE_ACCESS] = "access",
	[FUSE_CREATE] = "create",
	[FUSE_INTERRUPT] = "interrupt",
	[FUSE_BMAP] = "bmap",
	[FUSE_DESTROY] = "destroy",
	[FUSE_IOCTL] = "ioctl",
	[FUSE_POLL] = "poll",
	[FUSE_NOTIFY_REPLY] = "notify_reply",
	[FUSE_BATCH_FORGET] = "batch_forget",
	[FUSE_FALLOCATE] = "fallocate",
	[FUSE_READDIRPLUS] = "readdirplus",
	[FUSE_RENAME2] = "rename2",
	[FUSE_LSEEK] = "lseek",
	[FUSE_COPY_FILE_RANGE] = "copy_file_range",
	[FUSE_SETUPMAPPING] = "setupmapping",
	[FUSE_REMOVEMAPPING] = "removemapping",
	[FUSE_SYNCFS] = "syncfs",
	[FUSE_TMPFILE] = "tmpfile",
	[OPCODE_STATX] = "statx",
};

struct reqstats *reqstats_in(void *area, size_t size)
{
	if (!area || size < sizeof(struct reqstats) ||
	    (uintptr_t)area % alignof(struct reqstats))
		return NULL;
	return area;
}

void reqstats_reset(struct reqstats *r)
{
	if (r)
		memset(r->count, 0, sizeof(r->count));
}

/* The one place that reads a raw request: its opcode is a field of the
 * header every request starts with.  memcpy, as the buffer is libfuse's
 * and this code does not rely on its alignment. */
void reqstats_count(struct reqstats *r, const void *req, size_t len)
{
	uint32_t opcode;

	if (!r || len < sizeof(struct fuse_in_header))
		return;
	memcpy(&opcode, (const char *)req +
	       offsetof(struct fuse_in_header, opcode), sizeof(opcode));
	/* several serving threads count at once */
	atomic_fetch_add_explicit((_Atomic uint64_t *)
				  &r->count[opcode < REQSTATS_SLOTS ? opcode : 0],
				  1, memory_order_relaxed);
}

uint64_t reqstats_total(const struct reqstats *r)
{
	uint64_t total = 0;

	for (unsigned i = 0; i < REQSTATS_SLOTS; i++)
		total += r->count[i];
	return total;
}

const char *reqstats_name(unsigned slot)
{
	return slot < REQSTATS_SLOTS ? opcode_names[slot] : NULL;
}

/* initflags.h -- the INIT flags libfuse 3.14 cannot negotiate, and the
 * request flags it does not pass on.
 *
 * libfuse 3.14 answers the kernel's INIT request itself and knows nothing
 * of two flags mmfs wants:
 *   - FUSE_DIRECT_IO_ALLOW_MMAP (kernel 6.6+, bit 36: flags2 bit 4): the
 *     kernel maps files opened with direct I/O -- O_RDONLY opens here --
 *     with MAP_SHARED, instead of refusing with ENODEV;
 *   - FUSE_HANDLE_KILLPRIV_V2 (bit 28): the daemon clears set-ID bits and
 *     file capabilities on write, truncate and chown, so the kernel stops
 *     asking getxattr(security.capability) before each write.  The kernel
 *     then says on each request whether to clear them, in flags libfuse
 *     3.14 drops: FUSE_WRITE_KILL_SUIDGID in a WRITE's write_flags,
 *     FUSE_OPEN_KILL_SUIDGID in an OPEN's open_flags.  (SETATTR's
 *     FATTR_KILL_SUIDGID does reach setattr, as FUSE_SET_ATTR_KILL_SUID.)
 *
 * How: libfuse's fuse_session_custom_io() hands every read of /dev/fuse
 * and every write to it to functions of ours.  initflags_read() sees each
 * raw request: the INIT request's offer (flags, and flags2 when
 * FUSE_INIT_EXT is set) and the kill flags of the others.
 * initflags_writev() sees each reply: to the INIT reply it adds the
 * wanted flags the kernel offered, with FUSE_INIT_EXT when one of them
 * is in flags2.  Chosen over
 * building a newer libfuse (>= 3.17) at setup time: nothing to build and
 * ship beside Debian's libfuse, and the same code keeps working if a newer
 * libfuse negotiates the flags itself.
 *
 * Invariants:
 *   - A flag is added to the INIT reply only if the kernel offered it;
 *     added holds exactly what was added (0 until the reply is written).
 *   - Every other byte read or written passes unchanged; errors of
 *     read(2) and writev(2) reach libfuse as they are, with errno.
 *   - initflags_kill_suidgid() describes the request the calling thread
 *     read last.  Each serving thread reads a request only after handling
 *     the one before (serve.h), so it describes the request the thread is
 *     handling.
 *
 * No allocation; the only state outside struct initflags is the thread-
 * local kill flag.  struct initflags zeroed is ready.
 */
#ifndef MMFS_INITFLAGS_H
#define MMFS_INITFLAGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#define INITFLAGS_KILLPRIV_V2 (1ULL << 28)        /* FUSE_HANDLE_KILLPRIV_V2 */
#define INITFLAGS_DIO_ALLOW_MMAP (1ULL << 36)     /* FUSE_DIRECT_IO_ALLOW_MMAP */

/* What mount.mmfs adds to its INIT reply when the kernel offers it. */
#define INITFLAGS_WANTED (INITFLAGS_KILLPRIV_V2 | INITFLAGS_DIO_ALLOW_MMAP)

struct initflags {
	uint64_t offered;       /* the kernel's INIT flags, flags2 << 32 */
	uint64_t added;         /* flags added to the INIT reply */
	uint64_t init_unique;   /* the INIT request's id; 0: none pending */
	bool answered;          /* the INIT reply has been written */
};

/* Does the request this thread read last ask to clear set-ID bits?
 * (WRITE or OPEN; see above) */
bool initflags_kill_suidgid(void);

/* fuse_custom_io.read: read(2) one request from fd into buf, then note
 * what it carries (initflags_note).  Returns what read(2) returned. */
ssize_t initflags_read(struct initflags *st, int fd, void *buf, size_t len);

/* fuse_custom_io.writev: writev(2) a reply or notification to fd; the
 * INIT reply goes with the flags of INITFLAGS_WANTED the kernel offered
 * added.  Returns what writev(2) returned. */
ssize_t initflags_writev(struct initflags *st, int fd, const struct iovec *iov,
			 int count);

/* Note the request req (len bytes, as read from /dev/fuse): the INIT
 * offer, or the request's kill flags.  A buffer too short for what its
 * opcode needs is noted as asking nothing. */
void initflags_note(struct initflags *st, const void *req, size_t len);

/* Did the INIT reply carry flag (one of INITFLAGS_WANTED)? */
bool initflags_granted(const struct initflags *st, uint64_t flag);

#endif

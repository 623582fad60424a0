/* fileattr.h -- chattr(1) and lsattr(1) on mmfs: the attribute-flag
 * ioctls, and the rules of open(2) and chmod(2) the flags add.
 *
 * The kernel's fileattr_get/fileattr_set for FUSE (fs/fuse/ioctl.c) open
 * the file (OPEN O_RDONLY, or OPENDIR) and send FUSE_IOCTL with one of
 * four restricted ioctls, each with a fixed size: FS_IOC_GETFLAGS (out:
 * an int), FS_IOC_SETFLAGS (in: an int), FS_IOC_FSGETXATTR (out: struct
 * fsxattr), FS_IOC_FSSETXATTR (in: struct fsxattr).  Regular files and
 * directories only; FUSE_IOCTL_DIR marks the latter (libfuse passes it
 * only with FUSE_CAP_IOCTL_DIR).
 *
 * The flags are tmpfs's four (mm/shmem.c): FS_APPEND_FL / FS_XFLAG_APPEND
 * (chattr +a), FS_IMMUTABLE_FL (+i), FS_NODUMP_FL (+d), FS_NOATIME_FL
 * (+A), kept in the arena (store.h, "Attribute flags", which also says
 * what the store refuses).  Any other bit, and any fsxattr extent size,
 * project id or CoW extent size, is EOPNOTSUPP, as on tmpfs.  Setting
 * them takes the file's owner or CAP_FOWNER, and a change of +a or +i
 * CAP_LINUX_IMMUTABLE (caps.h says how the daemon tells); a change sets
 * ctime.  Other ioctls: ENOTTY.
 *
 * FUSE inodes never carry S_IMMUTABLE or S_APPEND in the kernel, so the
 * checks the VFS makes on those for a local file system are made here
 * (open) or by the store (everything that changes the arena).
 */
#ifndef MMFS_FILEATTR_H
#define MMFS_FILEATTR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "store.h"

/* Who asks (a FUSE request's context). */
struct fileattr_caller {
	uid_t uid;
	pid_t pid;
};

/* One of the four ioctls on ref: in / in_size is what the kernel sent,
 * out (out_size bytes) receives the answer and *out_len its length;
 * *changed says whether the flags (and ctime) changed.  0 or -errno:
 * -ENOTTY (another ioctl), -EINVAL (a size too small for the ioctl),
 * -EOPNOTSUPP, -EPERM, and the store's (-ESTALE, -EROFS). */
int fileattr_ioctl(struct store *s, store_ref ref,
		   const struct fileattr_caller *who, unsigned cmd,
		   const void *in, size_t in_size, void *out, size_t out_size,
		   size_t *out_len, bool *changed);

/* May a file with these flags (STORE_IFL_*) be opened with open(2)
 * flags?  -EPERM for writing or O_TRUNC on an immutable file, and for
 * writing without O_APPEND or O_TRUNC on an append-only one (may_open). */
int fileattr_open_denied(uint32_t iflags, int flags);

/* May a setattr change a file with these flags?  -EPERM when the mode,
 * owner or group changes (owner: chown), or times are set to given values
 * (times set to now, utimes(NULL), are fine) on an append-only file:
 * notify_change.  The store refuses everything on an immutable one and
 * the size of an append-only one. */
int fileattr_setattr_denied(uint32_t iflags, bool owner_mode,
			    bool times_given);

#endif

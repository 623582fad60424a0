/* caps.h -- does the process behind a request have a capability?
 *
 * A FUSE request names its caller by uid, gid and pid, not by its
 * capabilities, and the daemon must sometimes decide as the kernel would
 * with capable(): chattr +i and +a need CAP_LINUX_IMMUTABLE, and a
 * chattr of another's file CAP_FOWNER.  The answer comes from the
 * CapEff line of /proc/PID/status (PID is a thread id: the kernel gives
 * the calling thread's).  When it cannot be read (the caller is exiting,
 * or out of sight in another PID namespace), uid 0 stands for every
 * capability, as it does elsewhere in mount.mmfs.  Since Linux 5.13 the
 * kernel checks these two capabilities itself before it sends the
 * request (vfs_fileattr_set); this check is the daemon's own, for older
 * kernels and for what comes through no check.
 */
#ifndef MMFS_CAPS_H
#define MMFS_CAPS_H

#include <stdbool.h>
#include <sys/types.h>

/* Has process (or thread) pid, running as uid, capability cap (a
 * CAP_* number) in its effective set? */
bool caps_has(pid_t pid, uid_t uid, int cap);

#endif

/* fdscan.h -- does a process still hold a file open?
 *
 * The kernel sends RELEASE when the last descriptor on an open file is
 * closed, but after close(2) has returned.  ops.c needs to know sooner
 * whether a replace that wrote nothing is over (see "Deferred O_TRUNC"
 * there): when another request touches the file, it asks whether the
 * process that opened the replace still has a descriptor on the file.
 *
 * The answer comes from /proc/PID/fdinfo, which names each descriptor's
 * inode number and open flags without touching the file (a stat of
 * /proc/PID/fd/N would send a request to this very daemon).  A dup of the
 * replace's open file has its inode and its access mode, which fcntl cannot
 * change; a descriptor that differs in either is another open file (a
 * process that keeps an O_RDWR handle and replaces the file through a new
 * O_WRONLY open).  Matching an open file of the same inode and mode, or a
 * file of another file system with the same number, can only err towards
 * "still held", which postpones the work to RELEASE.  When
 * /proc cannot be read (the process is exiting, or is out of sight in
 * another PID namespace), the answer is "not held".
 */
#ifndef MMFS_FDSCAN_H
#define MMFS_FDSCAN_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/* Does process (or thread) pid have a descriptor open on an inode
 * numbered ino with access mode accmode (O_RDONLY, O_WRONLY or O_RDWR)?
 * A descriptor being closed is no longer listed. */
bool fdscan_holds(pid_t pid, uint64_t ino, int accmode);

/* Might process (or thread) pid be inside an open(2) whose descriptor is
 * not in its table yet?  The daemon answers OPEN before the kernel
 * installs the descriptor, so fdscan_holds cannot see a descriptor being
 * opened; asked first, this says whether that can be the case: pid is
 * in open(2), openat(2), openat2(2), creat(2) or open_by_handle_at(2)
 * (/proc/PID/syscall); or it stays running, where no system call can be
 * told, for a millisecond (a process that has just sent a request runs
 * until it sleeps for the answer); or /proc cannot tell (no permission).
 * False once pid has exited. */
bool fdscan_opening(pid_t pid);

#endif

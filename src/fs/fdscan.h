/* fdscan.h -- does a process still hold a file open?
 *
 * A FLUSH request says that a process closed a descriptor, not whether it
 * was the last one on its open file: the kernel sends RELEASE for that,
 * after close(2) has returned.  ops.c needs to know at FLUSH whether a
 * replace that wrote nothing is over (see "Deferred O_TRUNC" there), so it
 * asks whether the closing process still has a descriptor on the file.
 *
 * The answer comes from /proc/PID/fdinfo, which names each descriptor's
 * inode number and open flags without touching the file (a stat of
 * /proc/PID/fd/N would send a request to this very daemon).  A dup of the
 * closing open file has its inode and its access mode, which fcntl cannot
 * change; a descriptor that differs in either is another open file (a
 * process that keeps an O_RDWR handle and replaces the file through a new
 * O_WRONLY open).  Matching an open file of the same inode and mode, or a
 * file of another file system with the same number, can only err towards
 * "still held", which postpones the work to RELEASE as before.  When
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

#endif

/* fdscan.c -- does a process still hold a file open?  See fdscan.h. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "fdscan.h"

/* The "flags:" (octal) and "ino:" lines of one fdinfo file (dirfd:
 * /proc/PID/fdinfo). */
static bool fdinfo_read(int dirfd, const char *fd, unsigned *flags,
			uint64_t *ino)
{
	char text[1024];
	ssize_t n;
	char *line;
	int f = openat(dirfd, fd, O_RDONLY | O_CLOEXEC);

	if (f < 0)
		return false;
	n = read(f, text, sizeof(text) - 1);
	close(f);
	if (n <= 0)
		return false;
	text[n] = '\0';
	line = strstr(text, "\nflags:");
	if (!line || sscanf(line + 7, "%o", flags) != 1)
		return false;
	line = strstr(text, "\nino:");
	if (!line)
		return false;
	return sscanf(line + 5, "%" SCNu64, ino) == 1;
}

bool fdscan_holds(pid_t pid, uint64_t ino, int accmode)
{
	char path[64];
	struct dirent *e;
	bool held = false;
	DIR *dir;
	unsigned flags;
	uint64_t n;

	snprintf(path, sizeof(path), "/proc/%d/fdinfo", (int)pid);
	dir = opendir(path);
	if (!dir)
		return false;
	while (!held && (e = readdir(dir)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		held = fdinfo_read(dirfd(dir), e->d_name, &flags, &n) &&
		       n == ino && (int)(flags & O_ACCMODE) == accmode;
	}
	closedir(dir);
	return held;
}

/* Is nr a system call that opens a file and installs a descriptor? */
static bool opens_files(long nr)
{
	return nr == SYS_open || nr == SYS_openat || nr == SYS_creat ||
	       nr == SYS_open_by_handle_at
#ifdef SYS_openat2
	       || nr == SYS_openat2
#endif
	       ;
}

/* What /proc/PID/syscall says: 1 in an open, 0 in another or none (or
 * exited), -1 running (no system call can be told), -2 unreadable. */
static int syscall_state(const char *path)
{
	char text[256];
	ssize_t n;
	long nr;
	int f = open(path, O_RDONLY | O_CLOEXEC);

	if (f < 0)
		return errno == ENOENT || errno == ESRCH ? 0 : -2;
	n = read(f, text, sizeof(text) - 1);
	if (n < 0 && (errno == EPERM || errno == EACCES))
		n = -2;                 /* the check is made at the read */
	close(f);
	if (n == -2)
		return -2;
	if (n <= 0)
		return 0;               /* exiting: its descriptors are gone */
	text[n] = '\0';
	if (strncmp(text, "running", 7) == 0)
		return -1;
	return sscanf(text, "%ld", &nr) != 1 || opens_files(nr);
}

/* A process that has just sent us a request shows "running" until it
 * sleeps for the answer: a few tries at 20 us apart see it settle. */
#define OPENING_TRIES 50

bool fdscan_opening(pid_t pid)
{
	const struct timespec pause = { .tv_nsec = 20 * 1000 };
	char path[64];
	int state = -1;

	snprintf(path, sizeof(path), "/proc/%d/syscall", (int)pid);
	for (int i = 0; i < OPENING_TRIES && state == -1; i++) {
		if (i)
			nanosleep(&pause, NULL);
		state = syscall_state(path);
	}
	return state != 0;
}

/* fdscan.c -- does a process still hold a file open?  See fdscan.h. */
#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

/* caps.c -- does the process behind a request have a capability?  See
 * caps.h. */
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "caps.h"

/* The effective set of pid, from /proc/PID/status: 0, or -1 when it
 * cannot be read. */
static int effective_set(pid_t pid, uint64_t *caps)
{
	char path[64], text[4096], *line;
	ssize_t n;
	int fd;

	if (pid <= 0)
		return -1;
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = read(fd, text, sizeof(text) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	text[n] = '\0';
	line = strstr(text, "\nCapEff:");
	if (!line || sscanf(line + 8, "%" SCNx64, caps) != 1)
		return -1;
	return 0;
}

bool caps_has(pid_t pid, uid_t uid, int cap)
{
	uint64_t caps;

	if (cap < 0 || cap > 63)
		return false;
	if (effective_set(pid, &caps))
		return uid == 0;
	return (caps >> cap) & 1;
}

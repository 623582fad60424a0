/* ring_logger.c -- log into an mmfs ring while anyone follows it.
 *
 * Usage: ring_logger RING N [DELAY_MS]
 *
 * Appends N records "seq N pid P: message\n" to RING (a file whose name
 * ends in .ring on an mmfs mount), one write(2) per record, DELAY_MS
 * milliseconds apart (default 10).  Each write is one record: concurrent
 * loggers never interleave inside a record, and when the ring is full its
 * oldest whole records are evicted.  Follow it with `tail -f RING`.
 *
 * Build: cc -O2 -o ring_logger examples/ring_logger.c
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int log_record(int fd, long seq)
{
	char rec[128];
	int len = snprintf(rec, sizeof(rec), "seq %ld pid %d: message\n", seq,
			   (int)getpid());

	if (write(fd, rec, (size_t)len) != len) {
		fprintf(stderr, "ring_logger: write: %s\n", strerror(errno));
		return -1;
	}
	return 0;
}

int main(int argc, char *argv[])
{
	struct timespec delay = { 0, 10 * 1000000L };
	long n;
	int fd;

	if (argc < 3 || argc > 4) {
		fprintf(stderr, "usage: ring_logger RING N [DELAY_MS]\n");
		return 2;
	}
	n = atol(argv[2]);
	if (argc == 4)
		delay.tv_nsec = atol(argv[3]) % 1000 * 1000000L;
	fd = open(argv[1], O_WRONLY | O_APPEND | O_CREAT, 0644);
	if (fd < 0) {
		fprintf(stderr, "ring_logger: %s: %s\n", argv[1],
			strerror(errno));
		return 1;
	}
	for (long seq = 0; seq < n; seq++) {
		if (log_record(fd, seq)) {
			close(fd);
			return 1;
		}
		nanosleep(&delay, NULL);
	}
	return close(fd) ? 1 : 0;
}

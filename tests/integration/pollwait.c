/* pollwait.c -- poll(2) on mmfs files from C, for test_poll.py (which
 * builds it with cc).
 *
 *   pollwait wait PATH pri|in ro|rw TIMEOUT_MS...
 *       Open PATH (O_RDONLY or O_RDWR) and read it as its kind wants (a
 *       variable from offset 0, a ring to its end), print "ready", then
 *       poll once per timeout (-1: until woken) for POLLPRI (pri) or
 *       POLLIN (in), and print
 *       one line per poll: {"events": [NAMES], "data": "HEX"}, data being
 *       what it read after a poll that returned events (a variable: lseek
 *       to 0 and read; a ring: read on to the end).
 *
 *   pollwait pingpong DIR ROUNDS
 *       Two processes hand a number back and forth through the variables
 *       DIR/ping and DIR/pong: each replaces the other's (open O_TRUNC,
 *       one write, close) and sleeps in poll for POLLPRI on its own.  A
 *       writer puts its CLOCK_MONOTONIC time in the value, so the woken
 *       side knows how long the wake took.  Prints "wake_ns N..." (from
 *       the start of a replace to the poll returning in the other
 *       process, both directions) and "round_ns N..." (whole round
 *       trips); exits 1 at the first value that is wrong.  Polls have no
 *       timeout: a poll that times out looks at the file once more, and
 *       would find a change that never woke it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define VALUE_MAX 65536

static char value[VALUE_MAX];

static void die(const char *what)
{
	fprintf(stderr, "pollwait: %s: %s\n", what, strerror(errno));
	exit(1);
}

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* A variable's whole value, read from offset 0.  Returns its length. */
static size_t read_value(int fd)
{
	ssize_t n;

	if (lseek(fd, 0, SEEK_SET) < 0)
		die("lseek");
	n = read(fd, value, sizeof(value) - 1);
	if (n < 0)
		die("read");
	value[n] = '\0';
	return (size_t)n;
}

/* A ring's records from where the handle is to the end. */
static size_t read_ring(int fd)
{
	size_t len = 0;
	ssize_t n;

	while ((n = read(fd, value + len, sizeof(value) - 1 - len)) > 0)
		len += (size_t)n;
	if (n < 0)
		die("read");
	value[len] = '\0';
	return len;
}

static void print_events(short revents, size_t len)
{
	static const struct { short bit; const char *name; } names[] = {
		{ POLLIN, "IN" }, { POLLPRI, "PRI" }, { POLLOUT, "OUT" },
		{ POLLERR, "ERR" }, { POLLHUP, "HUP" }, { POLLNVAL, "NVAL" },
	};
	const char *sep = "";

	printf("{\"events\": [");
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (revents & names[i].bit) {
			printf("%s\"%s\"", sep, names[i].name);
			sep = ", ";
		}
	}
	printf("], \"data\": \"");
	for (size_t i = 0; i < len; i++)
		printf("%02x", (unsigned char)value[i]);
	printf("\"}\n");
	fflush(stdout);
}

static int wait_cmd(int argc, char **argv)
{
	int ring = strcmp(argv[3], "in") == 0;
	int flags = strcmp(argv[4], "rw") == 0 ? O_RDWR : O_RDONLY;
	struct pollfd p = { .events = ring ? POLLIN : POLLPRI };
	size_t len;

	p.fd = open(argv[2], flags);
	if (p.fd < 0)
		die(argv[2]);
	len = ring ? read_ring(p.fd) : read_value(p.fd);
	printf("ready\n");
	fflush(stdout);
	for (int i = 5; i < argc; i++) {
		p.revents = 0;
		if (poll(&p, 1, atoi(argv[i])) < 0)
			die("poll");
		len = 0;
		if (p.revents)
			len = ring ? read_ring(p.fd) : read_value(p.fd);
		print_events(p.revents, len);
	}
	close(p.fd);
	return 0;
}

/* Replace the variable at path with "round stamp" (what echo does). */
static void put(const char *path, long round)
{
	char text[64];
	int fd, len;

	len = snprintf(text, sizeof(text), "%ld %" PRId64 "\n", round,
		       now_ns());
	fd = open(path, O_WRONLY | O_TRUNC);
	if (fd < 0)
		die(path);
	if (write(fd, text, (size_t)len) != len)
		die("write");
	if (close(fd))
		die("close");
}

/* Sleep until fd's variable changes to round: returns when its writer
 * stamped it (CLOCK_MONOTONIC ns); *woken is when poll returned. */
static int64_t take(int fd, long round, int64_t *woken)
{
	struct pollfd p = { .fd = fd, .events = POLLPRI };
	int64_t stamp;
	long got;
	int n;

	n = poll(&p, 1, -1);
	*woken = now_ns();
	if (n < 0)
		die("poll");
	read_value(fd);
	if (sscanf(value, "%ld %" SCNd64, &got, &stamp) != 2 || got != round) {
		fprintf(stderr, "pollwait: round %ld: read '%s'\n", round,
			value);
		exit(1);
	}
	return stamp;
}

static int open_seen(const char *path)
{
	int fd = open(path, O_RDONLY);

	if (fd < 0)
		die(path);
	read_value(fd);
	return fd;
}

static void print_list(const char *key, const int64_t *v, long n)
{
	printf("%s", key);
	for (long i = 0; i < n; i++)
		printf(" %" PRId64, v[i]);
	printf("\n");
	fflush(stdout);
}

/* The child: wakes on ping, answers on pong. */
static void pong_side(const char *ping, const char *pong, long rounds,
		      int ready)
{
	int64_t *wake = calloc((size_t)rounds, sizeof(*wake)), stamp, woken;
	int fd = open_seen(ping);

	if (!wake || write(ready, "r", 1) != 1)
		die("start");
	for (long i = 0; i < rounds; i++) {
		stamp = take(fd, i, &woken);
		wake[i] = woken - stamp;
		put(pong, i);
	}
	print_list("wake_ns", wake, rounds);
	exit(0);
}

static int pingpong_cmd(char **argv)
{
	long rounds = atol(argv[3]);
	char ping[4096], pong[4096], c;
	int64_t *wake, *round, start, stamp, woken;
	int pipefd[2], fd, status;
	pid_t child;

	snprintf(ping, sizeof(ping), "%s/ping", argv[2]);
	snprintf(pong, sizeof(pong), "%s/pong", argv[2]);
	wake = calloc((size_t)rounds, sizeof(*wake));
	round = calloc((size_t)rounds, sizeof(*round));
	if (!wake || !round || pipe(pipefd))
		die("setup");
	fd = open_seen(pong);
	child = fork();
	if (child < 0)
		die("fork");
	if (child == 0)
		pong_side(ping, pong, rounds, pipefd[1]);
	if (read(pipefd[0], &c, 1) != 1)
		die("child did not start");
	for (long i = 0; i < rounds; i++) {
		start = now_ns();
		put(ping, i);
		stamp = take(fd, i, &woken);
		wake[i] = woken - stamp;
		round[i] = woken - start;
	}
	if (waitpid(child, &status, 0) < 0)
		die("waitpid");
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return 1;
	print_list("wake_ns", wake, rounds);
	print_list("round_ns", round, rounds);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc >= 6 && strcmp(argv[1], "wait") == 0)
		return wait_cmd(argc, argv);
	if (argc == 4 && strcmp(argv[1], "pingpong") == 0)
		return pingpong_cmd(argv);
	fprintf(stderr, "usage: pollwait wait PATH pri|in ro|rw TIMEOUT_MS...\n"
			"       pollwait pingpong DIR ROUNDS\n");
	return 2;
}

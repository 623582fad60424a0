/* prefork_counter.c -- a pre-fork server whose workers count with libmmfs.
 *
 * Usage: prefork_counter PATH [WORKERS]        (default 4 workers)
 *
 * PATH is an mmfs mount point, a directory in one, or an arena file.  The
 * server listens on 127.0.0.1 at a port the kernel picks and prints
 * "listening on 127.0.0.1:PORT"; then it forks WORKERS worker processes,
 * which all accept connections on that socket, and serves until SIGTERM or
 * SIGINT.  A request is one line; its answer is one line:
 *
 *     request N served by worker W
 *
 * Each worker counts what it serves with mmfs_add, which adds atomically
 * whichever process adds at the same time (no lock of the program's own):
 *
 *     PATH/prefork/requests           every request, all workers together
 *     PATH/prefork/worker-W/requests  the requests worker W served
 *
 * N is the sum mmfs_add returned for the request: every request gets a
 * number of its own.  An administrator reads the counters with cat at any
 * moment, as any other file of the mount:
 *
 *     cat /mnt/shm/prefork/requests
 *
 * On SIGTERM the server stops its workers, lets each finish the request it
 * is serving, and prints every counter and their sum; it exits 0 if the
 * workers' counts add up to the total.
 *
 * Each worker attaches itself after fork(2).  (Using the handle the server
 * attached before forking would work too: libmmfs attaches again in a
 * child at its first call; see mmfs(3).)
 *
 * Build: cc -O2 -o prefork_counter examples/prefork_counter.c \
 *            $(pkg-config --cflags --libs mmfs)
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <mmfs.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_WORKERS 64

static volatile sig_atomic_t stop;

static void on_stop(int sig)
{
	(void)sig;
	stop = 1;
}

/* Read one request line (at most size - 1 bytes of it are kept). */
static void read_request(int fd, char *buf, size_t size)
{
	size_t n = 0;
	char c;

	while (read(fd, &c, 1) == 1 && c != '\n')
		if (n < size - 1)
			buf[n++] = c;
	buf[n] = '\0';
}

static int serve_one(struct mmfs *m, int conn, int w, const char *mine)
{
	char req[256], answer[128];
	int64_t n;
	int rc, len;

	read_request(conn, req, sizeof(req));
	rc = mmfs_add(m, "prefork/requests", 1, &n);
	if (rc == 0)
		rc = mmfs_add(m, mine, 1, NULL);
	if (rc < 0) {
		fprintf(stderr, "worker %d: add: %s\n", w, strerror(-rc));
		return -1;
	}
	len = snprintf(answer, sizeof(answer),
		       "request %" PRId64 " served by worker %d\n", n, w);
	if (write(conn, answer, (size_t)len) != len)
		fprintf(stderr, "worker %d: write: %s\n", w, strerror(errno));
	return 0;
}

/* A worker: accept and serve until SIGTERM.  SIGTERM is blocked but while
 * the worker sleeps in ppoll, so it never interrupts a request. */
static int worker(const char *path, int lsock, int w, const sigset_t *wait)
{
	struct pollfd p = { .fd = lsock, .events = POLLIN };
	struct mmfs *m;
	char mine[64];
	int rc = mmfs_attach(path, 0, &m);

	if (rc < 0) {
		fprintf(stderr, "worker %d: %s\n", w, mmfs_attach_error());
		return 1;
	}
	snprintf(mine, sizeof(mine), "prefork/worker-%d/requests", w);
	while (!stop) {
		int conn;

		if (ppoll(&p, 1, NULL, wait) < 0)
			continue;       /* EINTR: SIGTERM came */
		conn = accept(lsock, NULL, NULL);
		if (conn < 0)
			continue;       /* another worker took it (EAGAIN) */
		rc = serve_one(m, conn, w, mine);
		close(conn);
		if (rc)
			break;
	}
	mmfs_detach(m);
	return rc ? 1 : 0;
}

static int64_t counter(struct mmfs *m, const char *name)
{
	char buf[32];
	ssize_t n = mmfs_get(m, name, buf, sizeof(buf) - 1, NULL);

	if (n < 0)
		return -1;
	buf[n] = '\0';
	return strtoll(buf, NULL, 10);
}

static int listen_local(uint16_t *port)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t len = sizeof(a);
	int s = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof(a)) != 0 ||
	    listen(s, 128) != 0 ||
	    getsockname(s, (struct sockaddr *)&a, &len) != 0) {
		perror("prefork_counter: socket");
		if (s >= 0)
			close(s);
		return -1;
	}
	*port = ntohs(a.sin_port);
	return s;
}

int main(int argc, char *argv[])
{
	struct sigaction sa = { .sa_handler = on_stop };
	pid_t pids[MAX_WORKERS];
	sigset_t stops, wait;
	int64_t total, sum = 0;
	int nworkers = argc > 2 ? atoi(argv[2]) : 4, lsock, sig, rc, ok = 1;
	struct mmfs *m;
	uint16_t port;
	char name[64];

	if (argc < 2 || argc > 3 || nworkers < 1 || nworkers > MAX_WORKERS) {
		fprintf(stderr, "usage: prefork_counter PATH [WORKERS (1-%d)]\n",
			MAX_WORKERS);
		return 2;
	}
	rc = mmfs_attach(argv[1], 0, &m);
	if (rc < 0) {
		fprintf(stderr, "prefork_counter: %s\n", mmfs_attach_error());
		return 1;
	}
	/* Start from zero; the admin sees the counters from now on. */
	rc = mmfs_set(m, "prefork/requests", "0\n", 2);
	for (int w = 1; w <= nworkers && rc == 0; w++) {
		snprintf(name, sizeof(name), "prefork/worker-%d/requests", w);
		rc = mmfs_set(m, name, "0\n", 2);
	}
	if (rc < 0) {
		fprintf(stderr, "prefork_counter: set: %s\n", strerror(-rc));
		return 1;
	}
	lsock = listen_local(&port);
	if (lsock < 0)
		return 1;

	/* SIGTERM and SIGINT are blocked in every process: the server takes
	 * both with sigwait; a worker takes SIGTERM (from the server) only
	 * while it sleeps in ppoll, and never SIGINT (^C is for the server,
	 * which stops the workers). */
	sigemptyset(&stops);
	sigaddset(&stops, SIGTERM);
	sigaddset(&stops, SIGINT);
	sigprocmask(SIG_BLOCK, &stops, &wait);
	sigdelset(&wait, SIGTERM);
	sigaddset(&wait, SIGINT);
	sigaction(SIGTERM, &sa, NULL);

	for (int w = 0; w < nworkers; w++) {
		pids[w] = fork();
		if (pids[w] == 0)
			_exit(worker(argv[1], lsock, w + 1, &wait));
		if (pids[w] < 0) {
			perror("prefork_counter: fork");
			nworkers = w;
			ok = 0;
			break;
		}
	}
	close(lsock);
	printf("listening on 127.0.0.1:%u with %d workers\n", port, nworkers);
	fflush(stdout);

	if (ok)
		sigwait(&stops, &sig);
	for (int w = 0; w < nworkers; w++)
		kill(pids[w], SIGTERM);
	for (int w = 0; w < nworkers; w++) {
		int status;

		if (waitpid(pids[w], &status, 0) != pids[w] ||
		    !WIFEXITED(status) || WEXITSTATUS(status) != 0)
			ok = 0;
	}

	for (int w = 1; w <= nworkers; w++) {
		int64_t n;

		snprintf(name, sizeof(name), "prefork/worker-%d/requests", w);
		n = counter(m, name);
		printf("worker %d: %" PRId64 " requests\n", w, n);
		sum += n;
	}
	total = counter(m, "prefork/requests");
	printf("total: %" PRId64 " requests (workers' sum %" PRId64 ")\n",
	       total, sum);
	mmfs_detach(m);
	return ok && total == sum ? 0 : 1;
}

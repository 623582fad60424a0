/* handover.c -- hand values between two processes with mmfs_wait.
 *
 * Usage: handover PATH consume
 *        handover PATH produce [ROUNDS]        (default 100 rounds)
 *
 * PATH is an mmfs mount point, a directory in one, or an arena file.  Two
 * processes hand work to each other through two values, sleeping on
 * libmmfs's futex until the other has set one (no polling, no socket):
 *
 *   - the consumer waits for PATH/handover/job to change, squares the
 *     number in it and sets PATH/handover/result, until the job is "stop";
 *   - the producer sets a job, waits for the result to change, checks the
 *     answer, and goes on; at the end it sets the job "stop".
 *
 * The way to wait for a value (mmfs(3), Waiting): read it together with
 * its version (mmfs_get), use it, then mmfs_wait for a version other than
 * that one.  A change made between the get and the wait makes the wait
 * return at once, so none is missed.  A value is a state, not a queue: the
 * producer sets the next job only once the consumer has answered the last.
 * Every job carries the producer's tag ("TAG K"), so that a stale job or
 * result left by an earlier run is never taken for an answer: either
 * process may start first.
 *
 * The job may come from anywhere: `echo "shell 7" > PATH/handover/job`
 * through the mount wakes the consumer too, and `cat PATH/handover/result`
 * then says "shell 7 49".
 *
 * The producer prints its first three rounds, then
 * "ROUNDS hand-overs, every answer right" and the median round trip; it
 * exits 0 only if every answer was right.  The consumer prints
 * "consumer ready" once it waits, and at "stop" "consumer: N jobs".
 *
 * Build: cc -O2 -o handover examples/handover.c \
 *            $(pkg-config --cflags --libs mmfs)
 */
#include <errno.h>
#include <inttypes.h>
#include <mmfs.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define JOB "handover/job"
#define RESULT "handover/result"
#define TIMEOUT_MS 10000        /* the producer's patience per round */

/* name's value as a string in buf, and its version; a missing name is
 * created empty first. */
static int get_text(struct mmfs *m, const char *name, char *buf,
		    size_t size, uint64_t *version)
{
	ssize_t n = mmfs_get(m, name, buf, size - 1, version);

	if (n == -ENOENT) {
		n = mmfs_set(m, name, "", 0);
		if (n == 0)
			n = mmfs_get(m, name, buf, size - 1, version);
	}
	if (n < 0) {
		fprintf(stderr, "handover: %s: %s\n", name, strerror((int)-n));
		return -1;
	}
	buf[n] = '\0';
	return 0;
}

/* Answer job (if it is one) in RESULT. */
static int answer(struct mmfs *m, const char *job, long *jobs)
{
	char text[160], tag[64];
	int64_t k;
	int rc, len;

	if (sscanf(job, "%63s %" SCNd64, tag, &k) != 2)
		return 0;               /* empty, or not for us */
	len = snprintf(text, sizeof(text), "%s %" PRId64 " %" PRId64 "\n",
		       tag, k, k * k);
	rc = mmfs_set(m, RESULT, text, (size_t)len);
	if (rc < 0) {
		fprintf(stderr, "handover: set: %s\n", strerror(-rc));
		return -1;
	}
	++*jobs;
	return 0;
}

static int consume(struct mmfs *m)
{
	char job[128];
	uint64_t version;
	long jobs = 0;
	int rc;

	if (get_text(m, JOB, job, sizeof(job), &version))
		return 1;
	/* What is there already may be a job (answered) or the "stop" of an
	 * earlier run (not for us). */
	if (strcmp(job, "stop\n") != 0 && answer(m, job, &jobs))
		return 1;
	printf("consumer ready\n");
	fflush(stdout);
	for (;;) {
		rc = mmfs_wait(m, JOB, version, -1);
		if (rc < 0 && rc != -EINTR) {
			fprintf(stderr, "handover: wait: %s\n", strerror(-rc));
			return 1;
		}
		if (get_text(m, JOB, job, sizeof(job), &version))
			return 1;
		if (strcmp(job, "stop\n") == 0)
			break;
		if (answer(m, job, &jobs))
			return 1;
	}
	printf("consumer: %ld jobs\n", jobs);
	return 0;
}

static double now_us(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e6 + t.tv_nsec / 1e3;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* One round: set job k, sleep until the result for it comes. */
static int round_trip(struct mmfs *m, const char *tag, int64_t k)
{
	char job[128], want[160], got[160];
	uint64_t version;
	int rc, len;

	if (get_text(m, RESULT, got, sizeof(got), &version))
		return -1;
	len = snprintf(job, sizeof(job), "%s %" PRId64 "\n", tag, k);
	rc = mmfs_set(m, JOB, job, (size_t)len);
	if (rc < 0) {
		fprintf(stderr, "handover: set: %s\n", strerror(-rc));
		return -1;
	}
	len = snprintf(want, sizeof(want), "%s %" PRId64 " ", tag, k);
	/* Results of other producers or earlier rounds: wait on. */
	while (strncmp(got, want, (size_t)len) != 0) {
		rc = mmfs_wait(m, RESULT, version, TIMEOUT_MS);
		if (rc == -ETIMEDOUT) {
			fprintf(stderr, "handover: no answer to job %" PRId64
				" within %d ms: is a consumer running?\n", k,
				TIMEOUT_MS);
			return -1;
		}
		if (rc < 0 && rc != -EINTR) {
			fprintf(stderr, "handover: wait: %s\n", strerror(-rc));
			return -1;
		}
		if (get_text(m, RESULT, got, sizeof(got), &version))
			return -1;
	}
	if (strtoll(got + len, NULL, 10) != k * k) {
		fprintf(stderr, "handover: wrong answer to %" PRId64 ": %s", k,
			got);
		return -1;
	}
	if (k <= 3)
		printf("round %" PRId64 ": %" PRId64 " squared is %" PRId64
		       "\n", k, k, k * k);
	return 0;
}

static int produce(struct mmfs *m, long rounds)
{
	double *lat = calloc((size_t)rounds, sizeof(*lat));
	char tag[32];
	int rc;

	if (!lat)
		return 1;
	snprintf(tag, sizeof(tag), "p%ld", (long)getpid());
	for (long k = 1; k <= rounds; k++) {
		double t0 = now_us();

		if (round_trip(m, tag, k)) {
			free(lat);
			return 1;
		}
		lat[k - 1] = now_us() - t0;
	}
	rc = mmfs_set(m, JOB, "stop\n", 5);
	qsort(lat, (size_t)rounds, sizeof(*lat), cmp_double);
	printf("%ld hand-overs, every answer right; round trip median %.0f us\n",
	       rounds, lat[rounds / 2]);
	free(lat);
	return rc < 0 ? 1 : 0;
}

int main(int argc, char *argv[])
{
	struct mmfs *m;
	long rounds = 100;
	int rc;

	bool consumer = argc == 3 && strcmp(argv[2], "consume") == 0;
	bool producer = (argc == 3 || argc == 4) &&
			strcmp(argv[2], "produce") == 0;

	if (producer && argc == 4)
		rounds = atol(argv[3]);
	if ((!consumer && !producer) || rounds < 1) {
		fprintf(stderr, "usage: handover PATH consume\n"
				"       handover PATH produce [ROUNDS]\n");
		return 2;
	}
	rc = mmfs_attach(argv[1], 0, &m);
	if (rc < 0) {
		fprintf(stderr, "handover: %s\n", mmfs_attach_error());
		return 1;
	}
	rc = consumer ? consume(m) : produce(m, rounds);
	mmfs_detach(m);
	return rc;
}

/* lib_torture_worker.c -- a library writer of the crash torture test
 * (test_torture.py), and the reader that tells what the arena holds.
 *
 *   lib_torture_worker run ARENA DIR JOURNAL BASE
 *
 * run: attach ARENA (a mount point or an arena file) with libmmfs and
 * change DIR, a directory of the arena that the test made, until killed:
 *   set     DIR/kK (K in 0..7): a value of LEN bytes, "SEQ:" then the
 *           letter 'a' + SEQ % 26 (16 to 90000 bytes: small files, and
 *           chunked ones whose copies take long);
 *   add     DIR/cK (K in 0..3): DELTA (-3 to 20); K = 255: +1 to the
 *           counter every worker shares, libshared/total;
 *   append  DIR/log.ring: the record "rSEQ;" padded with 'x' to LEN bytes
 *           and a newline.
 * SEQ is BASE + the operation's number: unique to this worker, given by
 * the test.  Each operation is journaled in JOURNAL, a file of 8-byte
 * records (struct rec, record i for operation i) mapped MAP_SHARED: its
 * fields, then state = BEGUN, the call, then state = ENDED (FAILED if the
 * call failed).  The journal costs no system call, so the process spends
 * its time in libmmfs and a kill -9 lands inside a call (often inside
 * the arena mutex or a file writer lock) most of the time; the kernel
 * keeps what was stored in the mapping after the kill.
 *
 *   lib_torture_worker dump ARENA DIR...
 * dump: attach ARENA read-only and print what each DIR holds, one line
 * each, after a line "dir DIR":
 *   set K SEQ LEN | set K empty | set K bad LEN      (absent: no line)
 *   add K TEXT | add K empty                         (TEXT: as stored)
 *   ring SEQ SEQ ...     (the records retained, oldest first) | ring bad
 * and last "shared TEXT" (absent: no line).  A call that fails prints
 * "error" and its errno in place of the value.
 *
 *   lib_torture_worker add ARENA NAME
 * add: attach ARENA and mmfs_add 1 to NAME; print the sum (exit 1 if the
 * add failed).
 *
 * Exit status: 0, 1 on a failed attach, 2 on a usage error.
 *
 * Written in C rather than over the Python binding (torture_worker.py's
 * way): a Python writer spends most of each operation in the interpreter
 * and in its journal's system calls, so a kill would seldom land inside
 * the library, and less often inside its locks; this one is inside a
 * library call at nearly every kill (the test counts those kills).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "mmfs.h"

#define JOURNAL_RECS (1u << 16)         /* operations one worker may do */
#define KEYS 8
#define COUNTERS 4
#define SHARED 255                      /* the key of libshared/total */
#define VALUE_MAX 90000
#define RECORD_MAX 48

enum { NONE, BEGUN, ENDED, FAILED };
enum { OP_SET = 1, OP_ADD, OP_APPEND };

struct rec {
	uint8_t state;
	uint8_t op;
	uint8_t key;
	uint8_t pad;
	int32_t arg;                    /* set, append: LEN; add: DELTA */
};

static uint64_t rng;

static uint32_t rnd(uint32_t n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)(rng % n);
}

static int value_of(char *buf, uint32_t seq, int len)
{
	int head = snprintf(buf, 16, "%" PRIu32 ":", seq);

	memset(buf + head, 'a' + (int)(seq % 26), (size_t)(len - head));
	return len;
}

static int record_of(char *buf, uint32_t seq, int len)
{
	int head = snprintf(buf, 16, "r%" PRIu32 ";", seq);

	memset(buf + head, 'x', (size_t)(len - head - 1));
	buf[len - 1] = '\n';
	return len;
}

/* The next operation, journaled before it starts. */
static void choose(struct rec *r)
{
	static const int small[] = { 16, 100, 3000 };
	uint32_t what = rnd(100);

	r->pad = 0;
	if (what < 35) {
		r->op = OP_SET;
		r->key = (uint8_t)rnd(KEYS);
		r->arg = rnd(5) ? small[rnd(3)] : 40000 + (int)rnd(50000);
	} else if (what < 80) {
		r->op = OP_ADD;
		r->key = what < 55 ? (uint8_t)rnd(COUNTERS) : SHARED;
		r->arg = r->key == SHARED ? 1 : (int32_t)rnd(24) - 3;
	} else {
		r->op = OP_APPEND;
		r->key = 0;
		r->arg = 16 + (int)rnd(RECORD_MAX - 16);
	}
}

static int perform(struct mmfs *m, const char *dir, const struct rec *r,
		   uint32_t seq)
{
	static char buf[VALUE_MAX];
	char name[256];

	switch (r->op) {
	case OP_SET:
		snprintf(name, sizeof(name), "%s/k%u", dir, r->key);
		return mmfs_set(m, name, buf, (size_t)value_of(buf, seq,
								r->arg));
	case OP_ADD:
		if (r->key == SHARED)
			snprintf(name, sizeof(name), "libshared/total");
		else
			snprintf(name, sizeof(name), "%s/c%u", dir, r->key);
		return mmfs_add(m, name, r->arg, NULL);
	default:
		snprintf(name, sizeof(name), "%s/log.ring", dir);
		return mmfs_append(m, name, buf, (size_t)record_of(buf, seq,
								   r->arg));
	}
}

static struct rec *map_journal(const char *path)
{
	size_t len = JOURNAL_RECS * sizeof(struct rec);
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	void *p;

	if (fd < 0 || ftruncate(fd, (off_t)len) != 0) {
		perror(path);
		exit(1);
	}
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (p == MAP_FAILED) {
		perror("mmap");
		exit(1);
	}
	return p;
}

static struct mmfs *attach(const char *arena, int flags)
{
	struct mmfs *m = NULL;

	if (mmfs_attach(arena, flags, &m) != 0) {
		fprintf(stderr, "lib_torture_worker: attach %s: %s\n", arena,
			mmfs_attach_error());
		exit(1);
	}
	return m;
}

static int run(const char *arena, const char *dir, const char *journal,
	       uint32_t base)
{
	struct rec *j = map_journal(journal);
	struct mmfs *m = attach(arena, 0);

	rng = base * 0x9e3779b97f4a7c15ULL | 1;
	for (uint32_t i = 0; i < JOURNAL_RECS; i++) {
		struct rec *r = &j[i];
		int rc;

		choose(r);
		__atomic_store_n(&r->state, BEGUN, __ATOMIC_RELEASE);
		rc = perform(m, dir, r, base + i);
		__atomic_store_n(&r->state, rc ? FAILED : ENDED,
				 __ATOMIC_RELEASE);
		if (rc)
			fprintf(stderr, "lib_torture_worker: op %u: %s\n", i,
				strerror(-rc));
	}
	pause();                /* the journal is full: wait for the kill */
	return 0;
}

/* "SEQ LEN" of a value made by value_of, or "bad LEN". */
static void print_value(const char *what, unsigned key, const char *v,
			ssize_t n)
{
	char want[VALUE_MAX];
	unsigned long seq;
	char *end;

	if (n == 0) {
		printf("%s %u empty\n", what, key);
		return;
	}
	seq = strtoul(v, &end, 10);
	if (end == v || *end != ':' || n > VALUE_MAX || n < 16 ||
	    value_of(want, (uint32_t)seq, (int)n) != n ||
	    memcmp(want, v, (size_t)n) != 0) {
		printf("%s %u bad %zd\n", what, key, n);
		return;
	}
	printf("%s %u %lu %zd\n", what, key, seq, n);
}

/* The counter's text as stored, newline dropped; nothing if missing. */
static void print_counter(struct mmfs *m, const char *name, const char *tag)
{
	char buf[64];
	ssize_t n = mmfs_get(m, name, buf, sizeof(buf) - 1, NULL);

	if (n == -ENOENT)
		return;
	if (n < 0) {
		printf("%s error %zd\n", tag, n);
		return;
	}
	while (n > 0 && buf[n - 1] == '\n')
		n--;
	buf[n] = '\0';
	printf("%s %s\n", tag, n ? buf : "empty");
}

static void print_ring(struct mmfs *m, const char *dir)
{
	struct mmfs_ring_reader *r;
	char name[256], buf[RECORD_MAX + 1], want[RECORD_MAX + 1];
	ssize_t n;
	int rc;

	snprintf(name, sizeof(name), "%s/log.ring", dir);
	rc = mmfs_ring_open(m, name, &r);
	if (rc) {
		printf(rc == -ENOENT ? "ring\n" : "ring bad open %d\n", rc);
		return;
	}
	printf("ring");
	while ((n = mmfs_ring_next(r, buf, sizeof(buf) - 1, 0)) > 0) {
		unsigned long seq = strtoul(buf + 1, NULL, 10);

		if (buf[0] != 'r' || n > RECORD_MAX ||
		    record_of(want, (uint32_t)seq, (int)n) != n ||
		    memcmp(want, buf, (size_t)n) != 0) {
			printf(" bad");
			break;
		}
		printf(" %lu", seq);
	}
	if (n < 0 && n != -ETIMEDOUT)
		printf(" bad next %zd", n);
	printf("\n");
	mmfs_ring_close(r);
}

static void dump_dir(struct mmfs *m, const char *dir)
{
	static char buf[VALUE_MAX + 1];
	char name[256], tag[16];

	printf("dir %s\n", dir);
	for (unsigned k = 0; k < KEYS; k++) {
		ssize_t n;

		snprintf(name, sizeof(name), "%s/k%u", dir, k);
		n = mmfs_get(m, name, buf, sizeof(buf), NULL);
		if (n >= 0)
			print_value("set", k, buf, n);
		else if (n != -ENOENT)
			printf("set %u error %zd\n", k, n);
	}
	for (unsigned k = 0; k < COUNTERS; k++) {
		snprintf(name, sizeof(name), "%s/c%u", dir, k);
		snprintf(tag, sizeof(tag), "add %u", k);
		print_counter(m, name, tag);
	}
	print_ring(m, dir);
}

static int dump(const char *arena, char **dirs, int n)
{
	struct mmfs *m = attach(arena, MMFS_ATTACH_RDONLY);

	for (int i = 0; i < n; i++)
		dump_dir(m, dirs[i]);
	print_counter(m, "libshared/total", "shared");
	mmfs_detach(m);
	return 0;
}

/* One mmfs_add of 1 to name: the next writer after the kills. */
static int add(const char *arena, const char *name)
{
	struct mmfs *m = attach(arena, 0);
	int64_t sum = 0;
	int rc = mmfs_add(m, name, 1, &sum);

	if (rc)
		fprintf(stderr, "lib_torture_worker: add %s: %s\n", name,
			strerror(-rc));
	else
		printf("%" PRId64 "\n", sum);
	mmfs_detach(m);
	return rc ? 1 : 0;
}

int main(int argc, char **argv)
{
	if (argc == 4 && strcmp(argv[1], "add") == 0)
		return add(argv[2], argv[3]);
	if (argc == 6 && strcmp(argv[1], "run") == 0)
		return run(argv[2], argv[3], argv[4],
			   (uint32_t)strtoul(argv[5], NULL, 10));
	if (argc >= 4 && strcmp(argv[1], "dump") == 0)
		return dump(argv[2], argv + 3, argc - 3);
	fprintf(stderr, "usage: lib_torture_worker run ARENA DIR JOURNAL "
		"BASE\n       lib_torture_worker dump ARENA DIR...\n"
		"       lib_torture_worker add ARENA NAME\n");
	return 2;
}

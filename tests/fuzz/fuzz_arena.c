/* fuzz_arena.c -- libFuzzer target: hostile arenas.
 *
 * The input is an arena file, byte for byte (the seeds in corpus/arena are
 * real arenas).  Each run:
 *   1. snapshots it: store_verify, store_census, store_extent of the root;
 *      if the checker finds no problem, the snapshot is walked as it is
 *      (mmfsctl reads such snapshots without recovery); then
 *      store_recover: if recovery accepts the arena, store_verify must
 *      find no problem and a read-only walk of the tree must work;
 *   2. opens it writable (recovery runs; refusing is fine); if it opens:
 *      walks the whole tree (bounded), runs a short op script derived from
 *      the input (writes, creates, unlinks, renames, xattrs, rings...) and
 *      closes it; the result must verify clean, and reopening it must need
 *      no repair and show the same tree.
 * Any sanitizer report, assertion failure, leak or timeout is a bug.
 * MMFS_FUZZ_VERBOSE=1 prints what recovery and the checker say.
 *
 * A custom mutator knows the block layout (fz_mutate_arena in
 * fuzz_common.c, shared with fuzz_lib).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "format.h"
#include "fuzz_common.h"

#define SCRIPT_LEN 48

static int verbose;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fz_scratch_paths("arena");
	verbose = getenv("MMFS_FUZZ_VERBOSE") != NULL;
	return 0;
}

/* Step 1: the checker and recovery on a private copy. */
static void inspect(void)
{
	struct store_options o = { .flags = STORE_OPEN_SNAPSHOT };
	struct store *s = NULL;
	struct store_census c;
	struct store_extent e;
	struct store_statfs st;
	char err[256];
	int n;

	if (store_open(fz_arena_path, &o, &s, err, sizeof(err)) != 0) {
		if (verbose)
			fprintf(stderr, "snapshot refused: %s\n", err);
		return;
	}
	n = store_verify(s, verbose ? fz_print_problem : NULL, NULL);
	if (verbose)
		fprintf(stderr, "verify: %d problem(s)\n", n);
	store_census(s, &c);
	store_statfs(s, &st);
	store_extent(s, store_root(s), &e);
	if (n == 0)
		fz_walk(s);
	n = store_recover(s);
	if (verbose)
		fprintf(stderr, "recover: %d (%s)\n", n,
			store_recovery_report(s));
	if (n == 0) {
		n = store_verify(s, fz_print_problem, NULL);
		FZ_ASSERT(n == 0, "%d problem(s) after store_recover", n);
		fz_walk(s);
		n = store_verify(s, fz_print_problem, NULL);
		FZ_ASSERT(n == 0, "%d problem(s) after a read-only walk", n);
	}
	store_close(s);
}

static void make_script(const uint8_t *data, size_t size, uint8_t *script)
{
	uint64_t x = fz_hash(data, size, 0) | 1;

	for (int i = 0; i < SCRIPT_LEN; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		script[i] = (uint8_t)(x >> 24);
	}
}

/* Hold refs[0..n) in order until one fails: the number held. */
static unsigned hold_all(struct store *s, const store_ref *refs, unsigned n)
{
	unsigned i = 0;

	while (i < n && store_hold(s, refs[i]) == 0)
		i++;
	return i;
}

/* Change every file and directory met (bounded): whatever recovery let
 * through must survive truncates, writes, xattrs, appends and renames.
 * The refs are held meanwhile, as the daemon holds the nodes the kernel
 * knows (a rename may replace one of them); one it cannot hold (no
 * memory) and those after it are left alone. */
static void mutate_all(struct store *s)
{
	store_ref dirs[FZ_MAX_DIRS], files[FZ_MAX_DIRS], ref;
	unsigned ndirs = 0, nfiles = 0;
	struct store_attr a, in = {0};
	char buf[64] = "fuzz";

	fz_walk_collect(s, dirs, &ndirs, files, &nfiles);
	ndirs = hold_all(s, dirs, ndirs);
	nfiles = hold_all(s, files, nfiles);
	for (unsigned i = 0; i < nfiles && i < 16; i++) {
		if (store_getattr(s, files[i], &a) != 0)
			continue;
		in.size = a.size / 2;
		store_setattr(s, files[i], STORE_SET_SIZE, &in, &a);
		store_write(s, files[i], a.size, buf, sizeof(buf), false);
		store_write(s, files[i], 70000, buf, 10, false);
		ring_append(s, files[i], buf, 10);
		store_setxattr(s, files[i], "user.fuzz", buf, 5, 0);
		store_removexattr(s, files[i], "user.fuzz");
		store_setxattr(s, files[i], "user.more", buf, 30, 0);
	}
	for (unsigned i = 0; i < ndirs && i < 8; i++) {
		store_mknod(s, dirs[i], "fz.new", 0100644, 0, 0, 0, &ref, &a);
		store_rename(s, dirs[i], "fz.new", dirs[(i + 1) % ndirs],
			     "fz.moved", 0);
		store_mknod(s, dirs[i], "fz.dir", 0040755, 0, 0, 0, &ref, &a);
		store_rename(s, dirs[i], "fz.dir", dirs[0], "fz.dir2", 0);
		store_unlink(s, dirs[(i + 1) % ndirs], "fz.moved");
		store_setxattr(s, dirs[i], "user.dir", buf, 3, 0);
	}
	for (unsigned i = 0; i < ndirs; i++)
		store_release(s, dirs[i]);
	for (unsigned i = 0; i < nfiles; i++)
		store_release(s, files[i]);
}

/* Step 2: serve it as the daemon would. */
static void exercise(const uint8_t *data, size_t size)
{
	struct store_options o = {0};
	struct store *s = NULL;
	struct fz_ctx c = { .arena_path = fz_arena_path };
	uint8_t script[SCRIPT_LEN];
	char err[256];

	if (store_open(fz_arena_path, &o, &s, err, sizeof(err)) != 0) {
		if (verbose)
			fprintf(stderr, "open refused: %s\n", err);
		return;
	}
	if (verbose)
		fprintf(stderr, "recovery: %s\n", store_recovery_report(s));
	mutate_all(s);
	make_script(data, size, script);
	c.s = s;
	fz_run(&c, script, sizeof(script));
	fz_close_and_reopen(s, fz_arena_path);
}

size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size,
			       unsigned int seed)
{
	return fz_mutate_arena(data, size, max_size, seed);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fz_write_file(fz_arena_path, data, size);
	inspect();
	fz_write_file(fz_arena_path, data, size);
	exercise(data, size);
	return 0;
}

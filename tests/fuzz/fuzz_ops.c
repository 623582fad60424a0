/* fuzz_ops.c -- libFuzzer target: op sequences against a valid arena.
 *
 * The input is an op script (fuzz_common.c) preceded by two bytes that
 * choose the arena's size cap and ring size.  Each run creates a fresh
 * arena, runs the script with store_verify after every op and crash images
 * (op 15) that must recover to the same tree, releases everything and closes;
 * the arena must then verify clean, reopen without repairs and show the
 * same tree.  Small caps make ENOSPC common: a failed call must change
 * nothing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "fuzz_common.h"


static const uint64_t caps[] = { 64u << 10, 256u << 10, 1u << 20, 128u << 10 };
static const uint64_t ring_sizes[] = { 256, 4096, 65536, 64 };

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fz_scratch_paths("ops");
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct store_options o = { .flags = STORE_OPEN_CREATE };
	struct fz_ctx c = { .arena_path = fz_arena_path,
			    .crash_path = fz_crash_path, .verify_each = 1 };
	struct store *s = NULL;
	char err[256];
	int n;

	if (size < 2)
		return 0;
	o.size_cap = caps[data[0] % 4];
	o.ring_size = ring_sizes[data[1] % 4];
	unlink(fz_arena_path);
	n = store_open(fz_arena_path, &o, &s, err, sizeof(err));
	FZ_ASSERT(n == 0, "create: %s", err);
	c.s = s;
	fz_run(&c, data + 2, size - 2);
	fz_close_and_reopen(s, fz_arena_path);
	return 0;
}

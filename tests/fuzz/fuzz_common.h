/* fuzz_common.h -- what the two fuzz targets share (fuzz_common.c).
 *
 *   fz_write_file   put the input bytes in the scratch arena file;
 *   fz_verify_path  snapshot an arena file and run store_verify on it;
 *   fz_walk         visit the tree of an open store, read-only, bounded;
 *   fz_digest       an order-independent hash of everything visible;
 *   fz_run          interpret an operation script against a writable store;
 *   fz_mutate_arena a structure-aware mutator for arena files.
 *
 * Everything is bounded: a hostile arena may hold 64 GiB sparse files,
 * million-entry directories or rings of any capacity, and no loop here may
 * follow it further than the limits below.
 */
#ifndef MMFS_FUZZ_COMMON_H
#define MMFS_FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>

#include "ring.h"
#include "store.h"

/* The libFuzzer entry points each target defines, and libFuzzer's own
 * mutator (for custom ones). */
int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size,
			       unsigned int seed);
size_t LLVMFuzzerMutate(uint8_t *data, size_t size, size_t max_size);

/* A custom mutator for arena files (fuzz_arena, fuzz_lib) that knows the
 * block layout of format.h. */
size_t fz_mutate_arena(uint8_t *data, size_t size, size_t max_size,
		       unsigned int seed);

#define FZ_MAX_DIRS 64          /* directories a walk descends into */
#define FZ_MAX_ENTRIES 1024     /* entries a walk visits */
#define FZ_MAX_READ (256u << 10)  /* bytes read from one file */
#define FZ_MAX_REFS 32          /* held refs an op script keeps */

/* Die loudly: a broken invariant is a bug, whatever the input. */
#define FZ_ASSERT(cond, ...) do { \
	if (!(cond)) { \
		fz_fail(__FILE__, __LINE__, #cond, __VA_ARGS__); \
	} \
} while (0)

void fz_fail(const char *file, int line, const char *cond,
	     const char *fmt, ...) __attribute__((noreturn, format(printf, 4, 5)));

/* The scratch files of this process, under /dev/shm: the arena an input
 * becomes, and where crash images of it go.  fz_scratch_paths names them
 * ("tag" tells the targets apart) and removes them at exit. */
extern char fz_arena_path[128], fz_crash_path[128];
void fz_scratch_paths(const char *tag);
void fz_write_file(const char *path, const uint8_t *data, size_t size);
/* Copy the file src to dst (a crash image of an open arena). */
void fz_copy_file(const char *src, const char *dst);

/* Snapshot path and verify it: the problem count, or -1 if it does not
 * open.  With print, problems go to stderr. */
int fz_verify_path(const char *path, int print);
void fz_print_problem(void *ctx, const char *msg);

/* Visit the tree: lookups, readdir, getattr, reads, readlink, xattrs,
 * ring_read/ring_stat, extents.  Returns the digest of what it saw. */
uint64_t fz_walk(struct store *s);
/* The same, also filling dirs (FZ_MAX_DIRS) and files (FZ_MAX_DIRS
 * non-directories) with what it met; any of them may be NULL. */
uint64_t fz_walk_collect(struct store *s, store_ref *dirs, unsigned *ndirs,
			 store_ref *files, unsigned *nfiles);

/* Interpret script [p, p+n) against writable store s (see fuzz_common.c
 * for the opcodes); crash_path, if not NULL, is where crash images of
 * arena_path go. */
struct fz_ctx {
	struct store *s;
	const char *arena_path;
	const char *crash_path;
	int verify_each;            /* verify a snapshot after every op */
};
void fz_run(struct fz_ctx *c, const uint8_t *p, size_t n);

uint64_t fz_hash(const void *p, size_t n, uint64_t h);

/* Close writable store s (open on path); the arena must then verify
 * clean, reopen without any repair and show the same tree. */
void fz_close_and_reopen(struct store *s, const char *path);

#endif

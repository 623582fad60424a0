/* fuzz_lib.c -- libFuzzer target: hostile arenas attached as a library.
 *
 * libmmfs programs map the arena and work on it directly (issue 14): a
 * read-only handle (STORE_OPEN_PEEK) runs no recovery and takes no lock,
 * so its lock-free readers see the file exactly as it is, whatever it
 * holds; a read-write one (STORE_OPEN_SHARED | STORE_OPEN_LIBRARY) that
 * finds nobody else recovers first.  The input is an arena file (the seeds
 * of corpus/arena and corpus/lib), mutated as fuzz_arena mutates it.
 * Each run, on the input's bytes afresh:
 *   1. read-only: store_open(STORE_OPEN_PEEK) works or fails with a
 *      reason; then, on paths made of the names the input's dentries hold
 *      and on hostile ones: store_get with several buffers (whose answers
 *      must agree), store_resolve (which must agree with store_get),
 *      store_version, store_wait with timeout 0, ring_next over every
 *      ring met, and the same on refs taken from anywhere in the input;
 *      every change is refused (-EROFS);
 *   2. read-write: the library store opens (recovery runs; refusing is
 *      fine, with a reason) beside a read-only one; the readers again,
 *      then store_resolve with create, writes, store_update (a counter,
 *      a refusal, a value of the whole room), ring_create/ring_append and
 *      store_wait: what the writer commits, the read-only store must read
 *      at once; after store_close the arena must verify clean;
 *   3. libmmfs itself (mmfs_attach of the file, read-only then
 *      read-write): attached, or refused with mmfs_attach_error saying
 *      why; gets, waits, ring reads, sets, adds and appends.
 * A crash, sanitizer report, leak, timeout or failed FZ_ASSERT is a bug.
 * An input whose lock generation is odd (a writer holds the arena, for
 * all a read-only reader can tell) makes read-only readers wait 2 s for
 * it and give up (-EAGAIN; test_lib checks that): steps 1 and 3 skip
 * their read-only readers then, to keep the fuzzer fast.
 * MMFS_FUZZ_VERBOSE=1 prints why an arena was refused.
 */
#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "format.h"
#include "fuzz_common.h"
#include "mmfs.h"

#define MAX_PATHS 48
#define PATH_LEN 512
#define DEPTH_MAX 4             /* directories above a name we follow */
#define BIG (16u << 20)         /* the largest buffer store_get fills */
#define SMALL 64
#define RECORDS_MAX 64          /* ring records one pass reads */
#define REFS_MAX 64             /* refs taken from the input */

static unsigned char *big;
static int verbose;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fz_scratch_paths("lib");
	verbose = getenv("MMFS_FUZZ_VERBOSE") != NULL;
	big = malloc(BIG);
	FZ_ASSERT(big, "out of memory");
	return 0;
}

size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size,
			       unsigned int seed)
{
	return fz_mutate_arena(data, size, max_size, seed);
}

/* ---- what the input holds -------------------------------------------- */

struct input {
	const uint8_t *d;
	size_t size;
	uint64_t blocks[REFS_MAX];      /* block offsets, as far as they tile */
	unsigned nblocks;
	char paths[MAX_PATHS][PATH_LEN];
	unsigned npaths;
	bool gen_odd;
};

static uint64_t at64(const struct input *in, uint64_t off)
{
	uint64_t v = 0;

	if (off <= in->size && in->size - off >= sizeof(v))
		memcpy(&v, in->d + off, sizeof(v));
	return v;
}

static void add_path(struct input *in, const char *p)
{
	if (in->npaths < MAX_PATHS)
		snprintf(in->paths[in->npaths++], PATH_LEN, "%s", p);
}

/* Is block b a DENTRY block big enough for its fixed fields? */
static bool is_dentry(const struct input *in, uint64_t b)
{
	uint32_t size;

	memcpy(&size, in->d + b, sizeof(size));
	return in->d[b + 4] == MM_DENTRY &&
	       size >= 8 + sizeof(struct mm_dentry);
}

/* The dentry (a DENTRY block offset) that names inode, 0 if none. */
static uint64_t dentry_of(const struct input *in, uint64_t inode)
{
	for (unsigned i = 0; i < in->nblocks; i++) {
		uint64_t b = in->blocks[i];

		if (is_dentry(in, b) &&
		    at64(in, b + 8 + offsetof(struct mm_dentry, inode)) ==
		    inode)
			return b;
	}
	return 0;
}

/* The name of dentry b, prefixed by the names of up to DEPTH_MAX
 * directories above it, into out.  Blocks lie below brk and the input's
 * end (read_input), and every dentry followed is checked (is_dentry). */
static void path_of(const struct input *in, uint64_t b, char *out)
{
	char tmp[PATH_LEN];

	out[0] = '\0';
	for (int depth = 0; b && depth <= DEPTH_MAX; depth++) {
		uint64_t name = b + 8 + sizeof(struct mm_dentry);
		uint32_t size;
		uint16_t len;

		memcpy(&size, in->d + b, sizeof(size));
		memcpy(&len, in->d + b + 8 + offsetof(struct mm_dentry,
						      namelen), sizeof(len));
		if (len > size - 8 - sizeof(struct mm_dentry))
			len = (uint16_t)(size - 8 - sizeof(struct mm_dentry));
		snprintf(tmp, sizeof(tmp), "%.*s%s%s", (int)len,
			 (const char *)in->d + name, out[0] ? "/" : "", out);
		memcpy(out, tmp, sizeof(tmp));
		b = dentry_of(in, at64(in, b + 8 + offsetof(struct mm_dentry,
							     parent)));
	}
}

/* Blocks by their sizes, the names of the dentries among them, and
 * paths no arena holds. */
static void read_input(struct input *in, const uint8_t *d, size_t size)
{
	static const char *const hostile[] = {
		"", "/", ".", "..", "a/../b", "//f1//", "none", "d1/sub/x",
		"r.ring", "f1/x", "log.ring", "app/counter", "x/./y",
	};
	uint64_t brk, off = MM_PAGE;
	char path[PATH_LEN];

	memset(in, 0, sizeof(*in));
	in->d = d;
	in->size = size;
	in->gen_odd = at64(in, offsetof(struct mm_header, gen)) & 1;
	brk = at64(in, offsetof(struct mm_header, brk));
	brk = brk < size ? brk : size;
	while (off + 16 <= brk && in->nblocks < REFS_MAX) {
		uint32_t bsize;

		memcpy(&bsize, d + off, sizeof(bsize));
		if (bsize < 16 || bsize % 16 || off + bsize > brk)
			break;
		in->blocks[in->nblocks++] = off;
		off += bsize;
	}
	for (unsigned i = 0; i < in->nblocks; i++) {
		uint64_t b = in->blocks[i];

		if (!is_dentry(in, b))
			continue;
		path_of(in, b, path);
		add_path(in, path);
	}
	for (size_t i = 0; i < sizeof(hostile) / sizeof(*hostile); i++)
		add_path(in, hostile[i]);
	memset(path, 'L', 300);
	path[300] = '\0';
	add_path(in, path);
}

/* ---- readers ----------------------------------------------------------- */

static bool one_of(long rc, const int *allowed, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (rc == -allowed[i])
			return true;
	return false;
}

/* What store_get may answer: a length, or one of these.  A read-only
 * store may also find the arena damaged (it runs no recovery). */
static void check_get(ssize_t rc, bool ro, const char *path)
{
	static const int ok[] = { ERANGE, ENOENT, ENOTDIR, EISDIR, EINVAL,
				  ENAMETOOLONG, ENXIO };

	FZ_ASSERT(rc >= 0 || one_of(rc, ok, sizeof(ok) / sizeof(*ok)) ||
		  (ro && rc == -EUCLEAN), "store_get(%s): %zd", path, rc);
}

/* Read the records of ring ref from *pos on (a pass of ring_next). */
static void read_records(struct store *s, store_ref ref, uint64_t pos,
			 bool ro)
{
	for (int i = 0; i < RECORDS_MAX; i++) {
		uint64_t was = pos;
		ssize_t n = ring_next(s, ref, &pos, big, SMALL);

		if (n == -EMSGSIZE)
			n = ring_next(s, ref, &pos, big, BIG);
		if (n == 0 || (ro && n == -EUCLEAN))
			return;
		FZ_ASSERT(n > 0, "ring_next: %zd", n);
		FZ_ASSERT(pos > was || i == 0, "ring_next went from %" PRIu64
			  " to %" PRIu64, was, pos);
	}
}

static ssize_t refuse(void *ctx, const void *cur, size_t len, void *out,
		      size_t out_size)
{
	(void)ctx;
	(void)cur;
	(void)len;
	(void)out;
	(void)out_size;
	return -EINVAL;
}

/* The lock-free readers on one path; store_get and store_resolve must
 * agree, and with each other on a store nobody changes meanwhile. */
static void probe_path(struct store *s, const char *path, bool ro)
{
	uint32_t v0 = 0, v1 = 0, v;
	ssize_t len = store_get(s, path, NULL, 0, &v0), n;
	store_ref ref;
	unsigned kind;
	int rc;

	check_get(len, ro, path);
	n = store_get(s, path, big, BIG, &v1);
	check_get(n, ro, path);
	if (n == -EUCLEAN && len >= 0)
		return;         /* only a copy checks a map's chunks */
	if (len >= 0 && len <= BIG)
		FZ_ASSERT(n == len && v1 == v0, "get(%s): %zd then %zd", path,
			  len, n);
	else
		FZ_ASSERT(n == (len > BIG ? -ERANGE : len), "get(%s): %zd "
			  "then %zd", path, len, n);
	if (len > 1 && len <= BIG)      /* (size 0 asks for the length) */
		FZ_ASSERT(store_get(s, path, big, (size_t)len - 1, NULL) ==
			  -ERANGE, "get(%s) into a short buffer", path);
	rc = store_resolve(s, path, false, 0, 0, 0, &ref);
	FZ_ASSERT(len < 0 || rc == 0 || !path[strspn(path, "/")],
		  "get(%s) found it, resolve: %d", path, rc);   /* the root:
								   no value */
	if (len == -ENOENT || len == -ENOTDIR)
		FZ_ASSERT(rc == len, "get(%s): %zd, resolve: %d", path, len,
			  rc);
	if (ro) {
		FZ_ASSERT(store_resolve(s, path, true, 0644, 0, 0, &ref) ==
			  -EROFS, "a read-only store creates");
		FZ_ASSERT(rc || store_update(s, ref, refuse, NULL, 8) ==
			  -EROFS, "a read-only store updates");
	}
	if (rc)
		return;
	rc = store_version(s, ref, &kind, &v);
	FZ_ASSERT(rc == 0 || (ro && rc == -EUCLEAN), "version(%s): %d", path,
		  rc);
	if (rc)
		return;
	FZ_ASSERT(len < 0 || (kind == 0 && v == v0), "version(%s): kind %u, "
		  "%" PRIu32 " and %" PRIu32, path, kind, v, v0);
	FZ_ASSERT(store_wait(s, ref, v, 0) == -ETIMEDOUT, "wait(%s)", path);
	FZ_ASSERT(store_wait(s, ref, v + 1, 0) == 0, "wait(%s) past", path);
	if (kind == RING_KIND)
		read_records(s, ref, 0, ro);
}

/* Refs from anywhere in the input: block starts, their payloads, garbage;
 * the readers that take a ref check it. */
static void probe_refs(struct store *s, const struct input *in)
{
	static const uint64_t junk[] = { 0, 1, 8, MM_PAGE, UINT64_MAX - 15,
					 1ULL << 40 };
	uint64_t pos;

	for (unsigned i = 0; i < in->nblocks + 6; i++) {
		store_ref ref = i < in->nblocks ? in->blocks[i] :
						  junk[i - in->nblocks];
		unsigned kind;
		uint32_t v;
		int rc = store_version(s, ref, &kind, &v);

		FZ_ASSERT(rc == 0 || rc == -ESTALE || rc == -EUCLEAN,
			  "version(%" PRIu64 "): %d", ref, rc);
		rc = store_wait(s, ref, rc ? 0 : v, 0);
		FZ_ASSERT(rc == -ETIMEDOUT || rc == -ESTALE || rc == 0,
			  "wait(%" PRIu64 "): %d", ref, rc);
		pos = at64(in, ref + 24);
		ring_next(s, ref, &pos, big, SMALL);
	}
}

static struct store *open_as(const char *path, unsigned flags)
{
	struct store_options o = { .flags = flags };
	struct store *s = NULL;
	char err[256] = "";
	int rc = store_open(path, &o, &s, err, sizeof(err));

	FZ_ASSERT(rc == 0 || err[0], "store_open refused without a reason: "
		  "%d", rc);
	if (rc && verbose)
		fprintf(stderr, "refused (%x): %s\n", flags, err);
	return rc ? NULL : s;
}

/* Step 1. */
static void read_only(const struct input *in)
{
	struct store *s;

	if (in->gen_odd)
		return;
	s = open_as(fz_arena_path, STORE_OPEN_PEEK);
	if (!s)
		return;
	for (unsigned i = 0; i < in->npaths; i++)
		probe_path(s, in->paths[i], true);
	probe_refs(s, in);
	store_close(s);
}

/* ---- the library writer -------------------------------------------- */

/* mmfs_add's update: the decimal integer held, plus one. */
static ssize_t add_one(void *ctx, const void *cur, size_t len, void *out,
		       size_t out_size)
{
	char text[32];
	long long v = 0;

	(void)ctx;
	if (len >= sizeof(text))
		return -EINVAL;
	memcpy(text, cur, len);
	text[len] = '\0';
	if (len && sscanf(text, "%lld", &v) != 1)
		return -EINVAL;
	return snprintf(out, out_size, "%lld\n", v + 1);
}

static ssize_t fill_all(void *ctx, const void *cur, size_t len, void *out,
			size_t out_size)
{
	(void)ctx;
	(void)cur;
	(void)len;
	memset(out, 'u', out_size);
	return (ssize_t)out_size;
}

/* What ro reads of path is what was just committed through lib. */
static void same_value(struct store *ro, struct store *lib, const char *path)
{
	static unsigned char mine[SMALL * 1024];
	ssize_t a = store_get(lib, path, mine, sizeof(mine), NULL);
	ssize_t b = ro ? store_get(ro, path, big, BIG, NULL) : a;

	FZ_ASSERT(a >= 0, "get(%s) after a commit: %zd", path, a);
	FZ_ASSERT(b == a && memcmp(mine, ro ? big : mine, (size_t)a) == 0,
		  "the read-only store reads %zd bytes of %s, the writer "
		  "%zd", b, path, a);
}

/* Changes through the library store; ro (may be NULL) must see them. */
static void write_some(struct store *lib, struct store *ro,
		       const struct input *in)
{
	static const size_t sizes[] = { 0, 16, 3000, 40000 };
	struct store_attr a;
	store_ref ref, dir;
	uint32_t v;
	unsigned kind;
	int rc;

	for (unsigned i = 0; i < in->npaths && i < 12; i++) {
		const char *path = in->paths[i];

		rc = store_resolve(lib, path, true, 0644, 0, 0, &ref);
		if (rc)
			continue;
		memset(big, 'a' + (int)i, sizes[i % 4]);
		if (store_write(lib, ref, 0, big, sizes[i % 4], true) < 0)
			continue;       /* ENOSPC: a full arena */
		same_value(ro, lib, path);
		FZ_ASSERT(store_update(lib, ref, refuse, NULL, 8) == -EINVAL,
			  "a refused update");
		same_value(ro, lib, path);
		if (store_update(lib, ref, fill_all, NULL, 100) == 0)
			same_value(ro, lib, path);
		FZ_ASSERT(store_version(lib, ref, &kind, &v) == 0, "version");
		FZ_ASSERT(store_wait(lib, ref, v, 0) == -ETIMEDOUT, "wait");
	}
	if (store_resolve(lib, "fz/n", true, 0644, 0, 0, &ref) == 0 &&
	    store_update(lib, ref, add_one, NULL, 32) == 0 &&
	    store_update(lib, ref, add_one, NULL, 32) == 0) {
		same_value(ro, lib, "fz/n");
		FZ_ASSERT(store_get(lib, "fz/n", big, BIG, NULL) == 2 &&
			  memcmp(big, "2\n", 2) == 0, "two adds");
	}
	if (store_resolve(lib, "fz", false, 0, 0, 0, &dir) != 0)
		return;
	rc = ring_create(lib, dir, "l.ring", 0644, 0, 0, &ref, &a);
	if (rc == -EEXIST)
		rc = store_resolve(lib, "fz/l.ring", false, 0, 0, 0, &ref);
	if (rc == 0 && ring_append(lib, ref, "one", 3) == 3 &&
	    ring_append(lib, ref, "three", 5) == 5) {
		read_records(lib, ref, 0, false);
		if (ro)
			read_records(ro, ref, 0, false);
	}
}

/* Step 2. */
static void read_write(const struct input *in)
{
	struct store *ro = open_as(fz_arena_path, STORE_OPEN_PEEK), *lib;

	lib = open_as(fz_arena_path, STORE_OPEN_SHARED | STORE_OPEN_LIBRARY);
	if (lib) {
		for (unsigned i = 0; i < in->npaths; i++) {
			probe_path(lib, in->paths[i], false);
			if (ro)
				probe_path(ro, in->paths[i], true);
		}
		probe_refs(lib, in);
		write_some(lib, ro, in);
		store_close(lib);
		FZ_ASSERT(fz_verify_path(fz_arena_path, 1) == 0,
			  "problems after a library wrote and left");
	}
	store_close(ro);
}

/* ---- libmmfs ------------------------------------------------------- */

static struct mmfs *attach(int flags)
{
	struct mmfs *m = NULL;
	int rc = mmfs_attach(fz_arena_path, flags, &m);

	FZ_ASSERT(rc == 0 || mmfs_attach_error()[0], "mmfs_attach refused "
		  "without a reason: %d", rc);
	if (rc && verbose)
		fprintf(stderr, "mmfs_attach (%d): %s\n", flags,
			mmfs_attach_error());
	return rc ? NULL : m;
}

static void mmfs_reads(struct mmfs *m, const char *path)
{
	struct mmfs_ring_reader *r;
	uint64_t v = 0;
	ssize_t n = mmfs_get(m, path, big, BIG, &v);

	if (n >= 0 && path[strspn(path, "/")])  /* (the root: no value) */
		FZ_ASSERT(mmfs_wait(m, path, v, 0) == -ETIMEDOUT, "mmfs_wait");
	if (mmfs_ring_open(m, path, &r) == 0) {
		for (int i = 0; i < RECORDS_MAX; i++)
			if (mmfs_ring_next(r, big, BIG, 0) < 0)
				break;
		mmfs_ring_close(r);
	}
}

/* Step 3. */
static void through_libmmfs(const struct input *in)
{
	struct mmfs *m = in->gen_odd ? NULL : attach(MMFS_ATTACH_RDONLY);

	for (unsigned i = 0; m && i < in->npaths; i++)
		mmfs_reads(m, in->paths[i]);
	mmfs_detach(m);
	m = attach(0);
	if (!m)
		return;
	for (unsigned i = 0; i < in->npaths && i < 8; i++)
		mmfs_reads(m, in->paths[i]);
	mmfs_set(m, "fz/set", "value", 5);
	mmfs_add(m, "fz/add", 1, NULL);
	mmfs_append(m, "fz/log.ring", "record", 6);
	mmfs_reads(m, "fz/set");
	mmfs_reads(m, "fz/log.ring");
	mmfs_detach(m);
	FZ_ASSERT(fz_verify_path(fz_arena_path, 1) == 0,
		  "problems after libmmfs wrote and detached");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct input in;

	read_input(&in, data, size);
	fz_write_file(fz_arena_path, data, size);
	read_only(&in);
	fz_write_file(fz_arena_path, data, size);
	read_write(&in);
	fz_write_file(fz_arena_path, data, size);
	through_libmmfs(&in);
	return 0;
}

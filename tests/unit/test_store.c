/* test_store.c -- unit tests of the store without FUSE.
 *
 * Each test opens a fresh arena in a temporary directory and drives the
 * store API directly: files, directories, rename, xattrs, limits, reopen,
 * recovery, holds and the statistics area.  Exit 0 on success; a failed CHECK prints the line.
 */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "format.h"             /* header field offsets, to damage them */
#include "ring.h"
#include "store.h"

static int failures;
static char dir_template[] = "/tmp/mmfs-unit-XXXXXX";
static char arena_path[256];

#define CHECK(cond) do { \
	if (!(cond)) { \
		fprintf(stderr, "%s:%d: CHECK(%s) failed\n", __FILE__, \
			__LINE__, #cond); \
		failures++; \
	} \
} while (0)

#define CHECK_RC(expr, want) do { \
	long long rc_ = (long long)(expr); \
	if (rc_ != (long long)(want)) { \
		fprintf(stderr, "%s:%d: %s = %lld, want %lld\n", __FILE__, \
			__LINE__, #expr, rc_, (long long)(want)); \
		failures++; \
	} \
} while (0)

static struct store *open_arena(uint64_t cap)
{
	struct store_options o = { .size_cap = cap,
				   .flags = STORE_OPEN_CREATE };
	struct store *s = NULL;
	char err[256];
	int rc = store_open(arena_path, &o, &s, err, sizeof(err));

	if (rc) {
		fprintf(stderr, "store_open: %s\n", err);
		exit(1);
	}
	return s;
}

static void print_problem(void *ctx, const char *msg)
{
	(void)ctx;
	fprintf(stderr, "verify: %s\n", msg);
}

/* Snapshot the arena (open or closed) and verify every invariant. */
static void verify_arena(void)
{
	struct store_options o = { .flags = STORE_OPEN_SNAPSHOT };
	struct store *s = NULL;
	char err[256];

	CHECK_RC(store_open(arena_path, &o, &s, err, sizeof(err)), 0);
	if (!s)
		return;
	CHECK_RC(store_verify(s, print_problem, NULL), 0);
	store_close(s);
}

static store_ref make(struct store *s, store_ref dir, const char *name,
		      uint32_t mode)
{
	struct store_attr a;
	store_ref ref = 0;

	CHECK_RC(store_mknod(s, dir, name, mode, 0, 0, 0, &ref, &a), 0);
	return ref;
}

static void test_small_files(void)
{
	struct store *s = open_arena(0);
	store_ref root = store_root(s), f, g;
	struct store_attr a;
	char buf[64];

	f = make(s, root, "counter", 0100644);
	CHECK_RC(store_write(s, f, 0, "42\n", 3, false), 3);
	CHECK_RC(store_read(s, f, 0, buf, sizeof(buf)), 3);
	CHECK(memcmp(buf, "42\n", 3) == 0);
	CHECK_RC(store_write(s, f, 0, "7\n", 2, true), 2);
	CHECK_RC(store_read(s, f, 0, buf, sizeof(buf)), 2);
	CHECK_RC(store_write(s, f, 10, "x", 1, false), 1);
	CHECK_RC(store_read(s, f, 0, buf, sizeof(buf)), 11);
	CHECK(buf[5] == 0 && buf[10] == 'x');
	CHECK_RC(store_lookup(s, root, "counter", &g, &a), 0);
	CHECK(g == f && a.size == 11 && a.nlink == 1);
	CHECK_RC(store_lookup(s, root, "nope", &g, &a), -ENOENT);
	CHECK_RC(store_mknod(s, root, "counter", 0100644, 0, 0, 0, &g, &a),
		 -EEXIST);
	CHECK_RC(store_write(s, f, 1ULL << 50, "x", 1, false), -EFBIG);
	verify_arena();
	store_close(s);
	verify_arena();
}

static void test_large_file(void)
{
	struct store *s = open_arena(64 << 20);
	store_ref f = make(s, store_root(s), "big", 0100644);
	size_t n = 3 * 1024 * 1024 + 123;
	unsigned char *data = malloc(n), *back = malloc(n);
	struct store_attr a;

	for (size_t i = 0; i < n; i++)
		data[i] = (unsigned char)(i * 7 + i / 4096);
	for (size_t off = 0; off < n; off += 100000) {
		size_t len = n - off < 100000 ? n - off : 100000;

		CHECK_RC(store_write(s, f, off, data + off, len, false),
			 (long long)len);
	}
	CHECK_RC(store_read(s, f, 0, back, n), (long long)n);
	CHECK(memcmp(data, back, n) == 0);
	/* overwrite across chunks, then a hole far away */
	memset(data + 60000, 0xab, 200000);
	CHECK_RC(store_write(s, f, 60000, data + 60000, 200000, false),
		 200000);
	CHECK_RC(store_read(s, f, 0, back, n), (long long)n);
	CHECK(memcmp(data, back, n) == 0);
	CHECK_RC(store_write(s, f, 100 << 20, "end", 3, false), 3);
	CHECK_RC(store_getattr(s, f, &a), 0);
	CHECK(a.size == (100 << 20) + 3);
	CHECK_RC(store_read(s, f, 50 << 20, back, 4096), 4096);
	CHECK(back[0] == 0 && back[4095] == 0);
	CHECK_RC(store_setattr(s, f, STORE_SET_SIZE,
			       &(struct store_attr){ .size = 1000 }, &a), 0);
	CHECK(a.size == 1000);
	CHECK_RC(store_setattr(s, f, STORE_SET_SIZE,
			       &(struct store_attr){ .size = 200000 }, &a), 0);
	CHECK_RC(store_read(s, f, 0, back, 200000), 200000);
	CHECK(memcmp(back, data, 1000) == 0 && back[1000] == 0 &&
	      back[199999] == 0);
	free(data);
	free(back);
	verify_arena();
	store_close(s);
}

static void test_namespace(void)
{
	struct store *s = open_arena(0);
	store_ref root = store_root(s), d, e, f, g;
	struct store_attr a;
	struct store_dir *cur;
	struct store_dirent ent;
	int count = 0;
	char name[300];

	CHECK_RC(store_mknod(s, root, "dir", 0040755, 0, 0, 0, &d, &a), 0);
	CHECK(a.nlink == 2);
	CHECK_RC(store_mknod(s, d, "sub", 0040755, 0, 0, 0, &e, &a), 0);
	f = make(s, d, "a", 0100644);
	CHECK_RC(store_write(s, f, 0, "A", 1, false), 1);
	CHECK_RC(store_getattr(s, d, &a), 0);
	CHECK(a.nlink == 3);
	CHECK_RC(store_rename(s, d, "a", e, "b", 0), 0);
	CHECK_RC(store_lookup(s, e, "b", &g, &a), 0);
	CHECK(g == f);
	CHECK_RC(store_lookup(s, d, "a", &g, &a), -ENOENT);
	CHECK_RC(store_rename(s, root, "dir", e, "loop", 0), -EINVAL);
	CHECK_RC(store_rename(s, d, "sub", root, "moved", 0), 0);
	CHECK_RC(store_lookup(s, root, "moved", &g, &a), 0);
	CHECK(g == e && a.nlink == 2);
	CHECK_RC(store_lookup(s, e, "b", &g, &a), 0);
	CHECK(g == f);
	CHECK_RC(store_rename(s, root, "moved", d, "sub", 0), 0);
	CHECK_RC(store_rmdir(s, d, "sub"), -ENOTEMPTY);
	CHECK_RC(store_link(s, f, root, "hard", &a), 0);
	CHECK(a.nlink == 2);
	CHECK_RC(store_unlink(s, e, "b"), 0);
	CHECK_RC(store_rmdir(s, d, "sub"), 0);
	CHECK_RC(store_getattr(s, f, &a), 0);
	CHECK(a.nlink == 1 && a.size == 1);
	memset(name, 'n', 256);
	name[256] = 0;
	CHECK_RC(store_mknod(s, root, name, 0100644, 0, 0, 0, &g, &a),
		 -ENAMETOOLONG);
	for (int i = 0; i < 1000; i++) {
		snprintf(name, sizeof(name), "f%d", i);
		make(s, d, name, 0100644);
	}
	CHECK_RC(store_dir_open(s, d, &cur), 0);
	while (store_dir_peek(cur, &ent) == 1) {
		/* remove the entry just returned and one ahead */
		store_dir_advance(cur);
		snprintf(name, sizeof(name), "%.*s", ent.namelen, ent.name);
		CHECK_RC(store_unlink(s, d, name), 0);
		count++;
	}
	store_dir_close(cur);
	CHECK(count == 1000);
	verify_arena();
	store_close(s);
}

/* RENAME_WHITEOUT: the old name names a new char device 0/0, mode 0,
 * owned as asked, in the same commit; with EXCHANGE it is refused; at
 * max_files it fails whole; the arena verifies and the whiteout stays. */
static void test_whiteout(void)
{
	struct store_options o = { .max_files = 5,
				   .flags = STORE_OPEN_CREATE };
	struct store *s = NULL;
	store_ref root, d, f, g, w;
	struct store_statfs st;
	struct store_attr a;
	char err[256];

	CHECK_RC(store_open(arena_path, &o, &s, err, sizeof(err)), 0);
	if (!s)
		return;
	root = store_root(s);
	CHECK_RC(store_mknod(s, root, "d", 0040755, 0, 0, 0, &d, &a), 0);
	f = make(s, d, "a", 0100644);
	g = make(s, root, "b", 0100644);
	CHECK_RC(store_rename_whiteout(s, d, "a", root, "c",
				       STORE_RENAME_EXCHANGE, 7, 8), -EINVAL);
	CHECK_RC(store_rename_whiteout(s, d, "a", root, "b",
				       STORE_RENAME_NOREPLACE, 7, 8), -EEXIST);
	CHECK_RC(store_rename_whiteout(s, d, "a", root, "b", 0, 7, 8), 0);
	CHECK_RC(store_lookup(s, root, "b", &w, &a), 0);
	CHECK(w == f);
	CHECK_RC(store_getattr(s, g, &a), -ESTALE);     /* replaced, freed */
	CHECK_RC(store_lookup(s, d, "a", &w, &a), 0);
	CHECK(a.mode == 0020000 && a.rdev == 0 && a.nlink == 1 &&
	      a.uid == 7 && a.gid == 8);
	/* root, d, a, whiteout: one inode left under max_files */
	CHECK_RC(store_rename_whiteout(s, root, "b", d, "x",
				       STORE_RENAME_NOREPLACE, 0, 0), 0);
	store_statfs(s, &st);
	CHECK(st.inodes == 5);
	CHECK_RC(store_rename_whiteout(s, d, "x", root, "y", 0, 0, 0),
		 -ENOSPC);
	CHECK_RC(store_lookup(s, d, "x", &w, &a), 0);
	CHECK(w == f);
	CHECK_RC(store_lookup(s, root, "y", &w, &a), -ENOENT);
	/* a link of the same file: nothing happens, no whiteout */
	CHECK_RC(store_unlink(s, root, "b"), 0);        /* a whiteout */
	CHECK_RC(store_link(s, f, root, "y", &a), 0);
	CHECK_RC(store_rename_whiteout(s, d, "x", root, "y", 0, 0, 0), 0);
	CHECK_RC(store_lookup(s, d, "x", &w, &a), 0);
	CHECK(w == f && a.nlink == 2);
	verify_arena();
	store_close(s);
	s = open_arena(0);
	CHECK_RC(store_lookup(s, store_root(s), "d", &d, &a), 0);
	CHECK_RC(store_lookup(s, d, "a", &w, &a), 0);
	CHECK(a.mode == 0020000 && a.rdev == 0 && a.uid == 7);
	store_close(s);
	verify_arena();
}

/* Refs from file handles: a live inode opens, by a map of the heap, not
 * a header; a forged header in file bytes, a freed inode, a dentry, an
 * unaligned ref do not; the map follows inodes made and freed after it
 * was built; parents of directories. */
static void test_handles(void)
{
	struct store *s = open_arena(0);
	store_ref root = store_root(s), d, e, f, g, p;
	unsigned char fake[16 + 80];
	struct store_attr a;
	uint16_t check;
	uint64_t data;

	CHECK_RC(store_mknod(s, root, "d", 0040755, 0, 0, 0, &d, &a), 0);
	CHECK_RC(store_mknod(s, d, "e", 0040755, 0, 0, 0, &e, &a), 0);
	f = make(s, e, "f", 0100644);
	CHECK_RC(store_lookup_ref(s, f, &a), 0);        /* builds the map */
	CHECK(a.nlink == 1 && S_ISREG(a.mode));
	CHECK_RC(store_lookup_ref(s, root, &a), 0);
	CHECK_RC(store_lookup_ref(s, f + 8, &a), -ESTALE);
	CHECK_RC(store_lookup_ref(s, f + 16, &a), -ESTALE);
	CHECK_RC(store_lookup_ref(s, 0, &a), -ESTALE);
	CHECK_RC(store_lookup_ref(s, 1ULL << 40, &a), -ESTALE);
	/* A perfect INODE block inside a file's bytes. */
	memset(fake, 0, sizeof(fake));
	check = (uint16_t)((80u >> 4) * 0x9e37u ^ 2u * 0x79b9u ^ 0x4d4du);
	fake[16] = 80;                              /* size */
	fake[20] = 2;                               /* kind: INODE */
	memcpy(fake + 22, &check, 2);
	fake[24] = 7;                               /* ino */
	fake[24 + 48] = 0xa4;                       /* mode 0100644 */
	fake[24 + 49] = 0x81;
	fake[24 + 60] = 1;                          /* nlink */
	g = make(s, root, "bait", 0100644);
	CHECK_RC(store_write(s, g, 0, fake, sizeof(fake), false),
		 (long long)sizeof(fake));
	{
		struct store_extent x;

		CHECK_RC(store_extent(s, g, &x), 0);
		data = x.block;
	}
	/* DATA block: 8-byte header, u64 size, then the bytes */
	/* The header check alone takes the forgery; the map does not. */
	CHECK(store_valid_ref(s, data + 16 + 16));
	CHECK_RC(store_lookup_ref(s, data + 16 + 16, &a), -ESTALE);
	/* Made and freed after the map was built. */
	p = make(s, root, "late", 0100644);
	CHECK_RC(store_lookup_ref(s, p, &a), 0);
	CHECK_RC(store_unlink(s, root, "late"), 0);
	CHECK_RC(store_lookup_ref(s, p, &a), -ESTALE);
	/* Held without a link: stale for a handle (deleted). */
	CHECK_RC(store_hold(s, f), 0);
	CHECK_RC(store_unlink(s, e, "f"), 0);
	CHECK_RC(store_lookup_ref(s, f, &a), -ESTALE);
	store_release(s, f);
	/* Parents. */
	CHECK_RC(store_parent(s, e, &p, &a), 0);
	CHECK(p == d && S_ISDIR(a.mode));
	CHECK_RC(store_parent(s, d, &p, &a), 0);
	CHECK(p == root);
	CHECK_RC(store_parent(s, root, &p, &a), 0);
	CHECK(p == root);
	CHECK_RC(store_parent(s, g, &p, &a), -ENOTDIR);
	CHECK_RC(store_rename(s, d, "e", root, "e2", 0), 0);
	CHECK_RC(store_parent(s, e, &p, &a), 0);
	CHECK(p == root);
	CHECK_RC(store_hold(s, e), 0);
	CHECK_RC(store_rmdir(s, root, "e2"), 0);
	CHECK_RC(store_parent(s, e, &p, &a), -ENOENT);
	store_release(s, e);
	/* Reopened: a new map, the same answers. */
	store_close(s);
	s = open_arena(0);
	CHECK_RC(store_lookup_ref(s, d, &a), 0);
	CHECK_RC(store_lookup_ref(s, g, &a), 0);
	CHECK_RC(store_lookup_ref(s, data + 16 + 16, &a), -ESTALE);
	CHECK_RC(store_lookup_ref(s, e, &a), -ESTALE);
	store_close(s);
}

static void test_xattr(void)
{
	struct store *s = open_arena(0);
	store_ref f = make(s, store_root(s), "x", 0100644);
	char buf[128];

	CHECK_RC(store_setxattr(s, f, "user.a", "1", 1, 0), 0);
	CHECK_RC(store_setxattr(s, f, "user.b", "22", 2, 0), 0);
	CHECK_RC(store_setxattr(s, f, "user.a", "333", 3, 0), 0);
	CHECK_RC(store_getxattr(s, f, "user.a", buf, sizeof(buf)), 3);
	CHECK(memcmp(buf, "333", 3) == 0);
	CHECK_RC(store_getxattr(s, f, "user.a", buf, 1), -ERANGE);
	CHECK_RC(store_listxattr(s, f, buf, sizeof(buf)), 14);
	CHECK_RC(store_setxattr(s, f, "user.a", "1", 1, STORE_XATTR_CREATE),
		 -EEXIST);
	CHECK_RC(store_removexattr(s, f, "user.a"), 0);
	CHECK_RC(store_getxattr(s, f, "user.a", buf, sizeof(buf)), -ENODATA);
	store_close(s);
	verify_arena();
}

static void test_persist_and_enospc(void)
{
	struct store *s = open_arena(1 << 20);
	store_ref root = store_root(s), f, g;
	struct store_attr a;
	char buf[4096] = {1};
	int n = 0;

	f = make(s, root, "keep", 0100600);
	CHECK_RC(store_write(s, f, 0, "persist", 7, false), 7);
	CHECK_RC(store_setxattr(s, f, "user.k", "v", 1, 0), 0);
	for (;;) {
		char name[32];
		store_ref x;

		snprintf(name, sizeof(name), "fill%d", n);
		if (store_mknod(s, root, name, 0100644, 0, 0, 0, &x, &a))
			break;
		if (store_write(s, x, 0, buf, sizeof(buf), false) < 0)
			break;
		n++;
	}
	CHECK(n > 100 && n < 300);
	CHECK_RC(store_write(s, f, 0, buf, sizeof(buf), false), -ENOSPC);
	CHECK_RC(store_read(s, f, 0, buf, sizeof(buf)), 7);
	for (int i = 0; i < n; i++) {
		char name[32];

		snprintf(name, sizeof(name), "fill%d", i);
		CHECK_RC(store_unlink(s, root, name), 0);
	}
	CHECK_RC(store_write(s, f, 0, buf, sizeof(buf), true), 4096);
	CHECK_RC(store_write(s, f, 0, "persist", 7, true), 7);
	verify_arena();
	store_close(s);
	s = open_arena(0);
	CHECK(store_recovery_report(s)[0] == 0);
	CHECK_RC(store_lookup(s, store_root(s), "keep", &g, &a), 0);
	CHECK(a.size == 7 && (a.mode & 0777) == 0600);
	CHECK_RC(store_getxattr(s, g, "user.k", buf, sizeof(buf)), 1);
	store_close(s);
}

static int count_problem(void *ctx, const char *msg)
{
	(void)msg;
	return ++*(int *)ctx;
}

static void count_cb(void *ctx, const char *msg)
{
	count_problem(ctx, msg);
}

/* Damage a derived header field: verify must see it, recovery fix it.
 * The field is found by its name in format.h; statfs shows the damage, so
 * the test knows it hit `used`. */
static void test_verify_detects(void)
{
	struct store_options snap = { .flags = STORE_OPEN_SNAPSHOT };
	struct store *s = open_arena(0);
	struct store_statfs st;
	const off_t at = offsetof(struct mm_header, used);
	uint64_t used, before;
	int fd, seen = 0;
	char err[256];

	_Static_assert(sizeof(((struct mm_header *)0)->used) == sizeof(used),
		       "mm_header.used is a u64");
	make(s, store_root(s), "a", 0100644);
	store_statfs(s, &st);
	before = st.used;
	store_close(s);
	fd = open(arena_path, O_RDWR);
	CHECK(pread(fd, &used, sizeof(used), at) == sizeof(used));
	CHECK(used == before);
	used += 16;
	CHECK(pwrite(fd, &used, sizeof(used), at) == sizeof(used));
	close(fd);
	CHECK_RC(store_open(arena_path, &snap, &s, err, sizeof(err)), 0);
	store_statfs(s, &st);
	CHECK(st.used == before + 16);
	CHECK(store_verify(s, count_cb, &seen) == 1 && seen == 1);
	CHECK_RC(store_recover(s), 0);
	store_statfs(s, &st);
	CHECK(st.used == before);
	CHECK(store_verify(s, print_problem, NULL) == 0);
	store_close(s);
	s = open_arena(0);             /* a writable open repairs it */
	store_close(s);
	verify_arena();
}

static void test_bad_arenas(void)
{
	struct store *s = NULL;
	struct store_options o = {0};
	char err[256];
	int fd = open(arena_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	CHECK(write(fd, "hello, not an arena\n", 20) == 20);
	close(fd);
	CHECK_RC(store_open(arena_path, &o, &s, err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "not an mmfs arena") != NULL);
	unlink(arena_path);
	s = open_arena(0);
	store_close(s);
	CHECK(truncate(arena_path, 2000) == 0);
	CHECK_RC(store_open(arena_path, &o, &s, err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "truncated") != NULL);
}

/* The whole arena file, malloc'd (*len bytes), to see it unchanged. */
static unsigned char *slurp_arena(size_t *len)
{
	struct stat st;
	unsigned char *buf;
	int fd = open(arena_path, O_RDONLY);

	if (fd < 0 || fstat(fd, &st) != 0 || !(buf = malloc(st.st_size + 1)))
		exit(1);
	*len = (size_t)st.st_size;
	CHECK(pread(fd, buf, *len, 0) == (ssize_t)*len);
	close(fd);
	return buf;
}

/* Write the u64 header field at `at` of the closed arena. */
static void poke_header(off_t at, uint64_t v)
{
	int fd = open(arena_path, O_RDWR);

	CHECK(pwrite(fd, &v, sizeof(v), at) == sizeof(v));
	close(fd);
}

/* An open that refuses the arena leaves every byte of it as it was. */
static void refused_untouched(const struct store_options *o,
			      const char *why)
{
	struct store *s = NULL;
	size_t n0, n1;
	unsigned char *before = slurp_arena(&n0), *after;
	char err[256] = "";

	CHECK_RC(store_open(arena_path, o, &s, err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, why) != NULL);
	after = slurp_arena(&n1);
	CHECK(n0 == n1 && memcmp(before, after, n0) == 0);
	free(before);
	free(after);
}

/* ring_size: options outside ring capacities are refused (nothing is
 * created); a header's (hostile) value outside them keeps a writable
 * store, which would make rings, from opening unless an option replaces
 * it; a read-only one serves it; the checker reports it. */
static void test_ring_size_limits(void)
{
	struct store_options bad = { .ring_size = 63,
				     .flags = STORE_OPEN_CREATE };
	struct store_options rw = {0}, fix = { .ring_size = 4096 };
	struct store_options ro = { .flags = STORE_OPEN_RDONLY };
	struct store_options snap = { .flags = STORE_OPEN_SNAPSHOT };
	struct store_statfs st;
	struct store *s = NULL;
	char err[256];
	int seen = 0;

	CHECK_RC(store_open(arena_path, &bad, &s, err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "ring_size") && access(arena_path, F_OK) != 0);
	s = open_arena(0);
	store_close(s);
	bad.flags = 0;
	refused_untouched(&bad, "ring_size must be");
	bad.ring_size = (uint64_t)RING_CAPACITY_MAX + 1;
	refused_untouched(&bad, "ring_size must be");
	poke_header(offsetof(struct mm_header, ring_size), 1);
	refused_untouched(&rw, "ring_size 1 is not a ring capacity");
	CHECK_RC(store_open(arena_path, &ro, &s, err, sizeof(err)), 0);
	store_close(s);
	CHECK_RC(store_open(arena_path, &snap, &s, err, sizeof(err)), 0);
	CHECK(store_verify(s, count_cb, &seen) == 1 && seen == 1);
	store_close(s);
	CHECK_RC(store_open(arena_path, &fix, &s, err, sizeof(err)), 0);
	store_statfs(s, &st);
	CHECK(st.ring_size == 4096);
	store_close(s);
	verify_arena();
}

/* The size cap: the whole cap is mapped, so options over STORE_SIZE_MAX
 * are refused, and so is a header's (hostile) cap over it -- it would not
 * map, whatever size= said -- unless a writable open lowers it with
 * size=; the checker reports it. */
static void test_size_cap_limits(void)
{
	struct store_options big = { .size_cap = STORE_SIZE_MAX + 4096,
				     .flags = STORE_OPEN_CREATE };
	struct store_options rw = {0}, fix = { .size_cap = 8 << 20 };
	struct store_options ro = { .flags = STORE_OPEN_RDONLY,
				    .size_cap = 8 << 20 };
	struct store_options snap = { .flags = STORE_OPEN_SNAPSHOT };
	struct store_statfs st;
	struct store *s = NULL;
	char err[256];
	int seen = 0;

	CHECK_RC(store_open(arena_path, &big, &s, err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "at most") && access(arena_path, F_OK) != 0);
	s = open_arena(0);
	make(s, store_root(s), "kept", 0100644);
	store_close(s);
	big.flags = 0;
	refused_untouched(&big, "at most");
	poke_header(offsetof(struct mm_header, size_cap), 1ULL << 62);
	refused_untouched(&rw, "-o size=SIZE");
	refused_untouched(&ro, "-o size=SIZE");
	CHECK_RC(store_open(arena_path, &snap, &s, err, sizeof(err)), 0);
	CHECK(store_verify(s, count_cb, &seen) == 1 && seen == 1);
	store_close(s);
	CHECK_RC(store_open(arena_path, &fix, &s, err, sizeof(err)), 0);
	store_statfs(s, &st);
	CHECK(st.size_cap == 8 << 20);
	store_close(s);
	verify_arena();
}

/* store_discard removes the arena only if this open created it, and
 * only while the path still names it. */
static void test_discard(void)
{
	struct store *s;
	char other[300];
	struct stat st;
	int fd;

	store_discard(open_arena(0));
	CHECK(access(arena_path, F_OK) != 0);
	store_close(open_arena(0));
	store_discard(open_arena(0));          /* existing: kept, whole */
	CHECK(access(arena_path, F_OK) == 0);
	verify_arena();
	unlink(arena_path);
	snprintf(other, sizeof(other), "%s.other", arena_path);
	fd = open(other, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	close(fd);
	s = open_arena(0);
	CHECK(rename(other, arena_path) == 0);  /* now someone else's file */
	store_discard(s);
	CHECK(stat(arena_path, &st) == 0 && st.st_size == 0);
	store_discard(NULL);
}

/* store_served tells a serving owner, writable or read-only, from none
 * (never opened, or retired). */
static void test_served(void)
{
	struct store_options ro = { .flags = STORE_OPEN_RDONLY };
	struct store *s = open_arena(0);
	bool rdonly = true;
	char err[256];

	CHECK_RC(store_served(arena_path, &rdonly, NULL), 0);
	CHECK(!rdonly);
	store_retire(s);
	CHECK_RC(store_served(arena_path, &rdonly, NULL), -ENOENT);
	store_close(s);
	CHECK_RC(store_served(arena_path, &rdonly, NULL), -ENOENT);
	CHECK_RC(store_open(arena_path, &ro, &s, err, sizeof(err)), 0);
	CHECK_RC(store_served(arena_path, &rdonly, NULL), 0);
	CHECK(rdonly);
	store_close(s);
	unlink(arena_path);
	CHECK_RC(store_served(arena_path, &rdonly, NULL), -ENOENT);
}

/* "test_store --open-arena RC PATH", run by test_owner_locks in a fresh
 * process (a forked one would hold the parent's mapping and with it the
 * parent's locks): open the arena, expect RC; with 0, "late" must exist. */
static int child_opens(int want_rc)
{
	struct store_options o = {0};
	struct store_attr a;
	struct store *s = NULL;
	store_ref ref;
	char err[256] = "";
	int rc;

	rc = store_open(arena_path, &o, &s, err, sizeof(err));
	if (rc != want_rc) {
		fprintf(stderr, "child: store_open = %d (%s), want %d\n", rc,
			err, want_rc);
		return 1;
	}
	if (rc == -EBUSY && !strstr(err, "in use"))
		return 1;
	if (rc)
		return 0;
	rc = store_lookup(s, store_root(s), "late", &ref, &a);
	store_close(s);
	return rc == 0 ? 0 : 1;
}

static pid_t spawn_opener(int want_rc)
{
	char rc_arg[16];
	pid_t pid = fork();

	if (pid != 0)
		return pid;
	snprintf(rc_arg, sizeof(rc_arg), "%d", want_rc);
	execl("/proc/self/exe", "test_store", "--open-arena", rc_arg,
	      arena_path, (char *)NULL);
	_exit(127);
}

static int child_status(pid_t pid)
{
	int st;

	if (pid < 0 || waitpid(pid, &st, 0) != pid)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* A serving owner refuses a second opener at once; a retired one (its
 * mount gone, still closing) makes it wait until store_close, and can still
 * change the arena meanwhile. */
static void test_owner_locks(void)
{
	struct store *s = open_arena(0);
	pid_t pid;

	pid = spawn_opener(-EBUSY);
	CHECK_RC(child_status(pid), 0);
	store_retire(s);
	pid = spawn_opener(0);
	usleep(300 * 1000);             /* the child is waiting by now */
	make(s, store_root(s), "late", S_IFREG | 0644);
	store_close(s);
	CHECK_RC(child_status(pid), 0);
	verify_arena();
}

static uint64_t retired_blocks(struct store *s)
{
	struct store_census c;

	CHECK_RC(store_census(s, &c), 0);
	return c.retired_blocks;
}

/* Fill buf with n bytes of pattern p (a version's signature). */
static void pattern(unsigned char *buf, size_t n, unsigned p)
{
	for (size_t i = 0; i < n; i++)
		buf[i] = (unsigned char)(p * 31 + i * 7 + i / 4096);
}

/* A snapshot of version `want` (n bytes, pattern p) reads it whole. */
static void check_snap(struct store *s, const struct store_snap *snap,
		       size_t n, unsigned p)
{
	static unsigned char want[1 << 20], got[1 << 20];

	pattern(want, n, p);
	memset(got, 0xaa, n);
	for (size_t off = 0; off < n; off += 40000)
		CHECK_RC(store_snap_read(s, snap, off, got + off,
					 n - off < 40000 ? n - off : 40000),
			 n - off < 40000 ? n - off : 40000);
	CHECK(memcmp(got, want, n) == 0);
	CHECK_RC(store_snap_read(s, snap, n, got, 10), 0);
}

/* One version per reader: whatever writers commit, a snapshot reads the
 * version it took, small or large; what commits drop is retired until
 * the last snapshot goes, and the checker accepts it meanwhile. */
static void test_snapshots(void)
{
	static unsigned char v[1 << 20];
	struct store *s = open_arena(0);
	store_ref root = store_root(s), f = make(s, root, "v", 0100644);
	struct store_snap a = {0}, b = {0};
	size_t sizes[] = { 100, 16384, 65536 + 5, 1 << 20 };

	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		size_t n = sizes[i];

		pattern(v, n, 1);
		CHECK_RC(store_write(s, f, 0, v, n, true), n);
		CHECK_RC(store_snap_take(s, f, &a), 0);
		pattern(v, n, 2);               /* replace (O_TRUNC) */
		CHECK_RC(store_write(s, f, 0, v, n, true), n);
		CHECK_RC(store_snap_take(s, f, &b), 0);
		pattern(v, n, 3);               /* overwrite in the middle */
		CHECK_RC(store_write(s, f, n / 2, v + n / 2, 10, false), 10);
		CHECK_RC(store_setattr(s, f, STORE_SET_SIZE,
				       &(struct store_attr){ .size = n / 3 },
				       NULL), 0);
		CHECK_RC(store_write(s, f, n / 3, "tail", 4, false), 4);
		check_snap(s, &a, n, 1);
		check_snap(s, &b, n, 2);
		CHECK(retired_blocks(s) == 2);
		verify_arena();                 /* retired blocks are no leak */
		store_snap_drop(s, &a);
		CHECK(retired_blocks(s) == 1);
		store_snap_drop(s, &b);
		store_snap_drop(s, &b);         /* twice: nothing happens */
		CHECK(retired_blocks(s) == 0);
	}
	/* An unread version does not stop appends in place, and survives
	 * close: what it kept is freed then. */
	CHECK_RC(store_write(s, f, 0, "abc", 3, true), 3);
	CHECK_RC(store_snap_take(s, f, &a), 0);
	CHECK_RC(store_write(s, f, 3, "def", 3, false), 3);
	CHECK(a.size == 3 && retired_blocks(s) == 0);
	CHECK_RC(store_write(s, f, 0, "X", 1, true), 1);
	CHECK(retired_blocks(s) == 1);
	CHECK_RC(store_snap_take(s, root, &b), -EISDIR);
	store_close(s);
	verify_arena();
}

static struct store_attr attr_of(struct store *s, store_ref f)
{
	struct store_attr a;

	memset(&a, 0, sizeof(a));
	CHECK_RC(store_getattr(s, f, &a), 0);
	return a;
}

static uint64_t arena_used(struct store *s)
{
	struct store_statfs st;

	store_statfs(s, &st);
	return st.used;
}

/* The file reads exactly as want (n bytes) and is n bytes long. */
static void check_bytes(struct store *s, store_ref f, const void *want,
			size_t n)
{
	static unsigned char got[(3 << 20) + 1];

	CHECK(n < sizeof(got));
	memset(got, 0xaa, n + 1);
	CHECK_RC(store_read(s, f, 0, got, n + 1), n);
	CHECK(memcmp(got, want, n) == 0);
	CHECK_RC(attr_of(s, f).size, n);
}

/* fallocate on small files: room reserved past the end counts in
 * st_blocks, is used by writes past the end without new space, survives
 * copies and reads as zeros; punching zeroes bytes and gives back the
 * room it covers to its end; the modes tmpfs refuses are refused. */
static void test_fallocate_small(void)
{
	const unsigned keep = STORE_FALLOC_KEEP_SIZE;
	const unsigned punch = keep | STORE_FALLOC_PUNCH_HOLE;
	struct store *s = open_arena(0);
	store_ref root = store_root(s), f = make(s, root, "v", 0100644);
	store_ref e = make(s, root, "e", 0100644), r;
	static unsigned char want[8192];
	struct store_attr a;
	uint64_t used, reserved;

	CHECK_RC(store_write(s, f, 0, "hello", 5, false), 5);
	CHECK(attr_of(s, f).blocks * 512 < 4096);
	CHECK_RC(store_fallocate(s, f, keep, 0, 8192), 0);
	reserved = attr_of(s, f).blocks;
	CHECK(reserved * 512 >= 8192);
	memcpy(want, "hello", 5);
	check_bytes(s, f, want, 5);
	used = arena_used(s);
	CHECK_RC(store_write(s, f, 100, "x", 1, false), 1);
	CHECK_RC(arena_used(s), used);          /* in the room: no new space */
	want[100] = 'x';
	check_bytes(s, f, want, 101);
	CHECK_RC(store_write(s, f, 0, "J", 1, false), 1);   /* a copy */
	want[0] = 'J';
	check_bytes(s, f, want, 101);
	CHECK_RC(attr_of(s, f).blocks, reserved);          /* keeps the room */
	CHECK_RC(store_fallocate(s, f, 0, 4000, 1000), 0);  /* extends */
	check_bytes(s, f, want, 5000);
	CHECK_RC(store_fallocate(s, f, 0, 0, 10), 0);       /* nothing to do */
	CHECK_RC(store_fallocate(s, f, punch, 1, 2), 0);
	want[1] = want[2] = 0;
	check_bytes(s, f, want, 5000);
	CHECK_RC(attr_of(s, f).blocks, reserved);
	CHECK_RC(store_fallocate(s, f, punch, 6000, 1 << 20), 0);
	a = attr_of(s, f);
	CHECK(a.blocks < reserved && a.blocks * 512 >= 5000);
	check_bytes(s, f, want, 5000);
	/* An empty file reserves without a size; truncation gives it back. */
	CHECK_RC(store_fallocate(s, e, keep, 0, 100), 0);
	a = attr_of(s, e);
	CHECK(a.size == 0 && a.blocks > 0);
	CHECK_RC(store_setattr(s, e, STORE_SET_SIZE,
			       &(struct store_attr){ .size = 0 }, &a), 0);
	CHECK_RC(a.blocks, 0);
	/* Refused: what Linux and tmpfs refuse. */
	CHECK_RC(store_fallocate(s, f, STORE_FALLOC_PUNCH_HOLE, 0, 1), -EINVAL);
	CHECK_RC(store_fallocate(s, f, 0, 0, 0), -EINVAL);
	CHECK_RC(store_fallocate(s, f, 0x10, 0, 1), -EOPNOTSUPP);
	CHECK_RC(store_fallocate(s, f, 0, STORE_FILE_MAX, 1), -EFBIG);
	CHECK_RC(store_fallocate(s, f, keep, STORE_FILE_MAX - 1, 2), -EFBIG);
	CHECK_RC(store_fallocate(s, f, punch, STORE_FILE_MAX - 1, 100), 0);
	CHECK_RC(store_fallocate(s, root, 0, 0, 1), -EISDIR);
	CHECK_RC(ring_create(s, root, "log.ring", 0100644, 0, 0, &r, &a), 0);
	CHECK_RC(store_fallocate(s, r, 0, 0, 1), -EOPNOTSUPP);
	check_bytes(s, f, want, 5000);
	verify_arena();
	store_close(s);
	verify_arena();
}

/* fallocate on large files: reserved chunks (also past the end, where
 * the checker accepts them), whole chunks punched back to holes and to
 * free space, partial chunks zeroed, truncation over reserved chunks,
 * ENOSPC that changes nothing, and snapshots that keep their version. */
static void test_fallocate_large(void)
{
	const unsigned keep = STORE_FALLOC_KEEP_SIZE;
	const unsigned punch = keep | STORE_FALLOC_PUNCH_HOLE;
	static unsigned char want[3 << 20];
	const size_t mib = 1 << 20;
	struct store *s = open_arena(64 << 20);
	store_ref root = store_root(s), f = make(s, root, "big", 0100644);
	store_ref g = make(s, root, "grow", 0100644);
	struct store_snap snap = {0};
	struct store_attr a;
	uint64_t used, blocks;

	CHECK_RC(store_fallocate(s, f, 0, 0, mib), 0);
	a = attr_of(s, f);
	CHECK(a.size == mib && a.blocks * 512 >= mib);
	check_bytes(s, f, want, mib);                   /* zeros */
	pattern(want, mib, 5);
	used = arena_used(s);
	CHECK_RC(store_write(s, f, 0, want, mib, false), mib);
	CHECK(arena_used(s) <= used + 2 * 65536);        /* no new chunks */
	CHECK_RC(store_fallocate(s, f, keep, mib, mib), 0);
	a = attr_of(s, f);
	CHECK(a.size == mib && a.blocks * 512 >= 2 * mib);
	verify_arena();                 /* chunks past the size are no fault */
	used = arena_used(s);
	CHECK_RC(store_fallocate(s, f, punch, 100000, 300000), 0);
	memset(want + 100000, 0, 300000);
	check_bytes(s, f, want, mib);
	CHECK(arena_used(s) + 4 * 65536 <= used);       /* 4 whole chunks */
	blocks = attr_of(s, f).blocks;
	CHECK_RC(store_fallocate(s, f, punch, 65536, 65536), 0);   /* a slot */
	memset(want + 65536, 0, 65536);
	check_bytes(s, f, want, mib);
	CHECK(attr_of(s, f).blocks < blocks);
	CHECK_RC(store_fallocate(s, f, punch, 10, 20), 0);  /* in one chunk */
	memset(want + 10, 0, 20);
	check_bytes(s, f, want, mib);
	CHECK_RC(store_fallocate(s, f, keep, 65536, 10), 0);  /* refill one */
	CHECK_RC(store_fallocate(s, f, 0, 100, 2 * mib), 0);  /* extends */
	check_bytes(s, f, want, 2 * mib + 100);
	CHECK_RC(store_fallocate(s, f, keep, 3 * mib, 100), 0);
	CHECK_RC(store_setattr(s, f, STORE_SET_SIZE, &(struct store_attr){
			       .size = 3 * mib }, &a), 0);    /* over them */
	check_bytes(s, f, want, 3 * mib);
	CHECK_RC(store_fallocate(s, f, keep, 3 * mib, mib), 0);
	blocks = attr_of(s, f).blocks;
	CHECK_RC(store_setattr(s, f, STORE_SET_SIZE, &(struct store_attr){
			       .size = 3 * mib }, &a), 0);    /* same size */
	CHECK(a.blocks + mib / 512 <= blocks);
	/* ENOSPC: nothing changes. */
	used = arena_used(s);
	blocks = attr_of(s, f).blocks;
	CHECK_RC(store_fallocate(s, f, 0, 0, 1ULL << 30), -ENOSPC);
	CHECK_RC(store_fallocate(s, f, keep, 3 * mib, 100 * mib), -ENOSPC);
	CHECK_RC(arena_used(s), used);
	CHECK_RC(attr_of(s, f).blocks, blocks);
	check_bytes(s, f, want, 3 * mib);
	/* A small file becomes large to reserve past MM_SMALL_MAX. */
	CHECK_RC(store_write(s, g, 0, "abc", 3, false), 3);
	CHECK_RC(store_fallocate(s, g, keep, 0, 200000), 0);
	a = attr_of(s, g);
	CHECK(a.size == 3 && a.blocks * 512 >= 200000);
	CHECK_RC(store_write(s, g, 150000, "z", 1, false), 1);
	memset(want, 0, 150001);
	memcpy(want, "abc", 3);
	want[150000] = 'z';
	check_bytes(s, g, want, 150001);
	/* A snapshot keeps its version through a punch and a reservation. */
	pattern(want, mib, 6);
	CHECK_RC(store_write(s, g, 0, want, mib, true), mib);
	CHECK_RC(store_snap_take(s, g, &snap), 0);
	CHECK_RC(store_fallocate(s, g, punch, 1000, 200000), 0);
	CHECK_RC(store_fallocate(s, g, 0, 0, 2 * mib), 0);
	check_snap(s, &snap, mib, 6);
	CHECK_RC(retired_blocks(s), 1);
	verify_arena();
	store_snap_drop(s, &snap);
	CHECK_RC(retired_blocks(s), 0);
	memset(want + 1000, 0, 200000);
	memset(want + mib, 0, mib);
	check_bytes(s, g, want, 2 * mib);
	verify_arena();
	store_close(s);
	verify_arena();
}

/* "test_store --unregistered PATH": a program that did not define the
 * ring kind must not open an arena (it could not check or recover rings):
 * -EPROTONOSUPPORT, with a reason that names the kind. */
static int child_unregistered(const char *path)
{
	struct store_options o = {0};
	struct store *s = NULL;
	char err[256] = "";
	int rc = store_open(path, &o, &s, err, sizeof(err));

	if (rc == -EPROTONOSUPPORT && strstr(err, "ring"))
		return 0;
	fprintf(stderr, "child: store_open = %d (%s)\n", rc, err);
	store_close(s);
	return 1;
}

static void test_needs_ring_kind(void)
{
	struct store *s = open_arena(0);
	pid_t pid;

	store_close(s);
	pid = fork();
	if (pid == 0) {
		execl("/proc/self/exe", "test_store", "--unregistered",
		      arena_path, (char *)NULL);
		_exit(127);
	}
	CHECK_RC(child_status(pid), 0);
}

static uint64_t live_inodes(struct store *s)
{
	struct store_statfs st;

	store_statfs(s, &st);
	return st.inodes;
}

/* Holds keep unlinked inodes alive: readable until the last release, and
 * freed by store_close if never released. */
static void test_holds(void)
{
	struct store *s = open_arena(0);
	store_ref root = store_root(s), a = make(s, root, "a", S_IFREG | 0644);
	store_ref b = make(s, root, "b", S_IFREG | 0644);
	uint64_t before = live_inodes(s);
	char buf[8];

	CHECK_RC(store_hold(s, 4096 + 8), -ESTALE);
	CHECK_RC(store_write(s, a, 0, "alive", 5, false), 5);
	CHECK_RC(store_hold(s, a), 0);
	CHECK_RC(store_hold(s, a), 0);  /* counted */
	CHECK_RC(store_unlink(s, root, "a"), 0);
	CHECK(live_inodes(s) == before);
	store_release(s, a);
	CHECK_RC(store_read(s, a, 0, buf, sizeof(buf)), 5);
	CHECK(memcmp(buf, "alive", 5) == 0);
	store_release(s, a);
	CHECK(live_inodes(s) == before - 1);
	store_release(s, a);            /* not held: nothing happens */
	store_release(s, b);
	CHECK(live_inodes(s) == before - 1);
	CHECK_RC(store_hold(s, b), 0);
	CHECK_RC(store_unlink(s, root, "b"), 0);
	CHECK(live_inodes(s) == before - 1);
	store_close(s);                 /* frees the held orphan */
	s = open_arena(0);
	CHECK(live_inodes(s) == before - 2);
	store_close(s);
	verify_arena();
}

/* Tmpfiles (O_TMPFILE): made held without a link; a plain store_link
 * refuses them, store_link_orphan gives one its first name; one never
 * linked goes with its hold, or at close; max_files counts them. */
static void test_tmpfiles(void)
{
	struct store_options o = { .max_files = 4,
				   .flags = STORE_OPEN_CREATE };
	struct store *s = NULL;
	store_ref root, d, t, u, w;
	struct store_xattr x = { "user.k", "v", 1 };
	struct store_attr a;
	char err[256], buf[8];

	CHECK_RC(store_open(arena_path, &o, &s, err, sizeof(err)), 0);
	if (!s)
		return;
	root = store_root(s);
	d = make(s, root, "d", S_IFDIR | 0755);
	CHECK_RC(store_tmpfile_with(s, d, 0640, 7, 8, &x, 1, &t, &a), 0);
	CHECK(a.nlink == 0 && a.mode == (S_IFREG | 0640) && a.uid == 7);
	CHECK_RC(store_getxattr(s, t, "user.k", buf, sizeof(buf)), 1);
	CHECK_RC(store_write(s, t, 0, "tmp", 3, false), 3);
	CHECK_RC(store_link(s, t, root, "n", &a), -ENOENT);
	CHECK_RC(store_link_orphan(s, t, root, "n", &a), 0);
	CHECK(a.nlink == 1);
	store_release(s, t);            /* linked: stays */
	CHECK_RC(store_read(s, t, 0, buf, sizeof(buf)), 3);
	CHECK_RC(store_tmpfile_with(s, d, 0600, 0, 0, NULL, 0, &u, &a), 0);
	CHECK_RC(store_tmpfile_with(s, d, 0600, 0, 0, NULL, 0, &w, &a),
		 -ENOSPC);              /* root, d, n, u */
	store_release(s, u);            /* never linked: freed */
	CHECK_RC(store_getattr(s, u, &a), -ESTALE);
	CHECK_RC(store_link_orphan(s, u, root, "m", &a), -ESTALE);
	CHECK_RC(store_tmpfile_with(s, root, 0600, 0, 0, NULL, 0, &u, &a), 0);
	store_close(s);                 /* frees the held tmpfile */
	verify_arena();
	s = open_arena(0);
	CHECK(live_inodes(s) == 3);
	store_close(s);
}

/* The statistics area is the caller's: kept across opens, copied by
 * snapshots, never checked; read-only openers do not get it. */
static void test_stats(void)
{
	struct store_options snap = { .flags = STORE_OPEN_SNAPSHOT };
	struct store_options peek = { .flags = STORE_OPEN_PEEK };
	unsigned char want[512], *area;
	struct store *s = open_arena(0);
	char err[256];
	size_t size;

	area = store_stats(s, &size);
	CHECK(area != NULL && size == sizeof(want));
	memset(want, 0, sizeof(want));
	CHECK(area && memcmp(area, want, sizeof(want)) == 0);
	memset(want, 0xee, sizeof(want));
	if (area)
		memcpy(area, want, sizeof(want));
	store_close(s);
	s = open_arena(0);
	area = store_stats(s, &size);
	CHECK(area && memcmp(area, want, sizeof(want)) == 0);
	store_close(s);
	CHECK_RC(store_open(arena_path, &snap, &s, err, sizeof(err)), 0);
	area = store_stats(s, &size);
	CHECK(area && memcmp(area, want, sizeof(want)) == 0);
	if (area)
		memset(area, 0, size);  /* a private copy: the file keeps it */
	store_close(s);
	CHECK_RC(store_open(arena_path, &peek, &s, err, sizeof(err)), 0);
	CHECK(store_stats(s, &size) == NULL && size == 0);
	store_close(s);
	s = open_arena(0);
	area = store_stats(s, &size);
	CHECK(area && memcmp(area, want, sizeof(want)) == 0);
	store_close(s);
	verify_arena();
}

/* Set ref's atime, mtime and ctime to now minus the given seconds. */
static void set_times_ago(struct store *s, store_ref ref, time_t a, time_t m,
			  time_t c)
{
	struct store_attr in = {0};
	time_t now = time(NULL);

	in.atime.tv_sec = now - a;
	in.mtime.tv_sec = now - m;
	in.ctime.tv_sec = now - c;
	CHECK_RC(store_setattr(s, ref, STORE_SET_ATIME | STORE_SET_MTIME |
			       STORE_SET_CTIME, &in, NULL), 0);
}

static time_t atime_of(struct store *s, store_ref ref)
{
	struct store_attr a;

	CHECK_RC(store_getattr(s, ref, &a), 0);
	return a.atime.tv_sec;
}

/* store_touch_atime: relatime as Linux has it (atime not after mtime or
 * ctime, or a day old), strictatime always, nothing but atime changes. */
static void test_atime(void)
{
	struct store *s = open_arena(0);
	store_ref f = make(s, store_root(s), "f", 0100644);
	const time_t hour = 3600, day = 24 * hour;
	struct store_attr a;

	set_times_ago(s, f, 2 * day, 3 * day, 3 * day);
	CHECK_RC(store_touch_atime(s, f, STORE_ATIME_RELATIVE), 1);
	CHECK(atime_of(s, f) >= time(NULL) - 5);
	CHECK_RC(store_getattr(s, f, &a), 0);
	CHECK(a.ctime.tv_sec <= time(NULL) - 3 * day + 5);
	set_times_ago(s, f, hour, 2 * hour, 2 * hour);
	CHECK_RC(store_touch_atime(s, f, STORE_ATIME_RELATIVE), 0);
	CHECK(atime_of(s, f) <= time(NULL) - hour + 5);
	set_times_ago(s, f, day - hour, 2 * day, 2 * day);
	CHECK_RC(store_touch_atime(s, f, STORE_ATIME_RELATIVE), 0);
	set_times_ago(s, f, hour, hour, 2 * hour);       /* atime == mtime */
	CHECK_RC(store_touch_atime(s, f, STORE_ATIME_RELATIVE), 1);
	set_times_ago(s, f, 2 * hour, 3 * hour, hour);   /* ctime newer */
	CHECK_RC(store_touch_atime(s, f, STORE_ATIME_RELATIVE), 1);
	set_times_ago(s, f, hour, 2 * hour, 2 * hour);
	CHECK_RC(store_touch_atime(s, f, STORE_ATIME_STRICT), 1);
	CHECK(atime_of(s, f) >= time(NULL) - 5);
	CHECK_RC(store_touch_atime(s, 12345, STORE_ATIME_STRICT), -ESTALE);
	store_close(s);
}

int main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "--unregistered") == 0)
		return child_unregistered(argv[2]);
	if (ring_register() != 0)
		return 1;
	if (argc == 4 && strcmp(argv[1], "--open-arena") == 0) {
		snprintf(arena_path, sizeof(arena_path), "%s", argv[3]);
		return child_opens(atoi(argv[2]));
	}
	if (!mkdtemp(dir_template))
		return 1;
	snprintf(arena_path, sizeof(arena_path), "%s/arena", dir_template);
	void (*tests[])(void) = { test_small_files, test_large_file,
				  test_namespace, test_whiteout, test_handles,
				  test_xattr,
				  test_persist_and_enospc, test_verify_detects,
				  test_bad_arenas, test_owner_locks,
				  test_needs_ring_kind, test_holds,
				  test_tmpfiles,
				  test_stats, test_snapshots,
				  test_ring_size_limits,
				  test_size_cap_limits, test_discard,
				  test_served,
				  test_fallocate_small,
				  test_fallocate_large, test_atime };

	for (size_t i = 0; i < sizeof(tests) / sizeof(tests[0]); i++) {
		unlink(arena_path);
		tests[i]();
	}
	unlink(arena_path);
	rmdir(dir_template);
	if (failures)
		fprintf(stderr, "%d check(s) failed\n", failures);
	return failures ? 1 : 0;
}

/* make_seeds.c -- write the fuzzing seed corpus (see README.md).
 *
 *   make_seeds DIR    writes DIR/arena/<name> (arena files for fuzz_arena
 *                     and fuzz_lib), DIR/ops/<name> (op scripts for
 *                     fuzz_ops) and DIR/lib/<name> (arenas as libmmfs
 *                     leaves them, for fuzz_lib)
 *
 * Arenas are made with the store API, capped at MM_MIN_ARENA (64 KiB)
 * except the one chunked file, which needs a 64 KiB chunk; after a clean
 * close the file is cut to the pages below brk (a valid arena: the store
 * grows a file on demand), so seeds stay small.  "crash" is a copy taken
 * while the store is open, then edited into the state of a death inside a
 * rename: a committed intent, the new name still PENDING, the old still
 * LIVE, an orphan and a leaked block.  The hostile-* seeds are one arena
 * with one targeted corruption each, a regression test for each class of
 * damage the store once mishandled (README.md lists them).  Seeds differ
 * between runs only in the random hash seed and timestamps.
 */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ring.h"
#include "store_int.h"

static char outdir[512], tmp[128];

static void die(const char *what)
{
	fprintf(stderr, "make_seeds: %s: %s\n", what, strerror(errno));
	exit(1);
}

static struct store *create(uint64_t cap, uint64_t ring_size)
{
	struct store_options o = { .size_cap = cap, .ring_size = ring_size,
				   .flags = STORE_OPEN_CREATE };
	struct store *s = NULL;
	char err[256];

	unlink(tmp);
	if (store_open(tmp, &o, &s, err, sizeof(err)) != 0) {
		fprintf(stderr, "make_seeds: create: %s\n", err);
		exit(1);
	}
	return s;
}

static store_ref node(struct store *s, store_ref dir, const char *name,
		      uint32_t mode)
{
	struct store_attr a;
	store_ref ref = 0;
	int rc = (mode & 0170000) == 0100000 && ring_name(name) ?
		 ring_create(s, dir, name, mode, 0, 0, &ref, &a) :
		 store_mknod(s, dir, name, mode, 0, 0, 0x0103, &ref, &a);

	if (rc) {
		fprintf(stderr, "make_seeds: mknod %s: %d\n", name, rc);
		exit(1);
	}
	return ref;
}

static void put(struct store *s, store_ref ref, uint64_t off, size_t len)
{
	static unsigned char buf[70000];

	for (size_t i = 0; i < len; i++)
		buf[i] = (unsigned char)('a' + (off + i) % 26);
	if (store_write(s, ref, off, buf, len, false) != (ssize_t)len) {
		fprintf(stderr, "make_seeds: write %zu bytes failed\n", len);
		exit(1);
	}
}

static void symlink_to(struct store *s, store_ref dir, const char *name,
		       const char *target)
{
	struct store_attr a;
	store_ref ref;

	if (store_symlink(s, dir, name, target, 0, 0, &ref, &a) != 0) {
		fprintf(stderr, "make_seeds: symlink %s failed\n", name);
		exit(1);
	}
}

static void setx(struct store *s, store_ref ref, const char *name,
		 const char *value)
{
	if (store_setxattr(s, ref, name, value, strlen(value), 0) != 0) {
		fprintf(stderr, "make_seeds: setxattr %s failed\n", name);
		exit(1);
	}
}

static void truncate_to(struct store *s, store_ref ref, uint64_t size)
{
	struct store_attr in = { .size = size }, out;

	if (store_setattr(s, ref, STORE_SET_SIZE, &in, &out) != 0) {
		fprintf(stderr, "make_seeds: truncate failed\n");
		exit(1);
	}
}

static void copy_to(const char *from, const char *name, const char *sub)
{
	char path[1024];
	unsigned char *buf;
	struct stat st;
	int in = open(from, O_RDONLY), out;

	snprintf(path, sizeof(path), "%s/%s/%s", outdir, sub, name);
	if (in < 0 || fstat(in, &st) != 0)
		die(from);
	buf = malloc((size_t)st.st_size);
	if (!buf || read(in, buf, (size_t)st.st_size) != st.st_size)
		die("read");
	out = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (out < 0 || write(out, buf, (size_t)st.st_size) != st.st_size)
		die(path);
	close(out);
	close(in);
	free(buf);
}

/* Cut the file to the pages below brk and record that size. */
static void shrink(const char *path)
{
	struct mm_header h;
	int fd = open(path, O_RDWR);

	if (fd < 0 || pread(fd, &h, sizeof(h), 0) != sizeof(h))
		die(path);
	h.file_size = (h.brk + MM_PAGE - 1) / MM_PAGE * MM_PAGE;
	if (pwrite(fd, &h, sizeof(h), 0) != sizeof(h) ||
	    ftruncate(fd, (off_t)h.file_size) != 0)
		die(path);
	close(fd);
}

static void save(struct store *s, const char *name)
{
	store_close(s);
	shrink(tmp);
	copy_to(tmp, name, "arena");
}

static void seed_empty(void)
{
	save(create(MM_MIN_ARENA, 0), "empty");
}

static void seed_small(void)
{
	struct store *s = create(MM_MIN_ARENA, 0);
	store_ref root = store_root(s);

	node(s, root, "empty", 0100644);
	put(s, node(s, root, "tiny", 0100600), 0, 3);
	put(s, node(s, root, "page", 0100644), 0, 4096);
	put(s, node(s, root, "grown", 0100644), 0, 10);
	put(s, node(s, root, "big", 0100644), 0, 20000);
	save(s, "small");
}

static void seed_tree(void)
{
	struct store *s = create(MM_MIN_ARENA, 0);
	store_ref root = store_root(s), d1, d2, d3, f;
	struct store_attr a;

	d1 = node(s, root, "usr", 0040755);
	d2 = node(s, d1, "lib", 0040700);
	d3 = node(s, d2, "deep", 0040755);
	node(s, d3, "deeper", 0040755);
	node(s, root, "etc", 0040755);
	f = node(s, d2, "file", 0100644);
	put(s, f, 0, 50);
	store_link(s, f, root, "hardlink", &a);
	store_link(s, f, d3, "another", &a);
	node(s, root, "fifo", 0010644);
	node(s, root, "sock", 0140755);
	node(s, d1, "chr", 0020644);
	node(s, d1, "blk", 0060600);
	node(s, root, "tmp", 0041777);
	store_rename(s, root, "tmp", d3, "moved", 0);
	save(s, "tree");
}

static void seed_symlinks(void)
{
	struct store *s = create(MM_MIN_ARENA, 0);
	store_ref root = store_root(s), d = node(s, root, "d", 0040755);
	char long_target[STORE_SYMLINK_MAX + 1];

	memset(long_target, 'p', STORE_SYMLINK_MAX);
	long_target[STORE_SYMLINK_MAX] = '\0';
	symlink_to(s, root, "rel", "d/target");
	symlink_to(s, d, "abs", "/etc/passwd");
	symlink_to(s, d, "dots", "../../..");
	symlink_to(s, root, "long", long_target);
	symlink_to(s, root, "loop", "loop");
	save(s, "symlinks");
}

static void seed_xattrs(void)
{
	struct store *s = create(MM_MIN_ARENA, 0);
	store_ref root = store_root(s), f = node(s, root, "f", 0100644);
	store_ref d = node(s, root, "d", 0040755);
	char value[3000];

	memset(value, 'v', sizeof(value) - 1);
	value[sizeof(value) - 1] = '\0';
	setx(s, f, "user.a", "1");
	setx(s, f, "user.long.name.for.an.attribute", value);
	setx(s, f, "user.empty", "");
	setx(s, f, "trusted.t", "xyz");
	store_removexattr(s, f, "user.a");
	setx(s, d, "user.dir", "on a directory");
	setx(s, root, "user.root", "r");
	put(s, f, 0, 100);
	save(s, "xattrs");
}

static void seed_ring(void)
{
	struct store *s = create(MM_MIN_ARENA, 256);
	store_ref root = store_root(s), r, r2;
	char rec[40];

	r = node(s, root, "log.ring", 0100644);
	for (int i = 0; i < 40; i++) {
		int n = snprintf(rec, sizeof(rec), "record %d%s\n", i,
				 i % 3 ? "" : " with a longer tail");

		ring_append(s, r, rec, (size_t)n);
	}
	r2 = node(s, root, "small.ring", 0100644);
	ring_set_capacity(s, r2, 64);
	ring_append(s, r2, "0123456789", 10);
	node(s, root, "empty.ring", 0100644);
	setx(s, r, RING_CAPACITY_XATTR, "256");
	save(s, "ring");
}

static void seed_sparse(void)
{
	struct store *s = create(MM_MIN_ARENA, 0);
	store_ref root = store_root(s), f = node(s, root, "sparse", 0100644);
	store_ref g = node(s, root, "shrunk", 0100644);

	truncate_to(s, f, 200000);
	truncate_to(s, g, 5000000);
	truncate_to(s, g, 70000);
	save(s, "sparse");
}

static void seed_chunked(void)
{
	struct store *s = create(192u << 10, 0);
	store_ref root = store_root(s), f = node(s, root, "chunked", 0100644);

	put(s, f, 0, 40000);
	truncate_to(s, f, 150000);
	save(s, "chunked");
}

static void seed_mixed(void)
{
	struct store *s = create(MM_MIN_ARENA, 128);
	store_ref root = store_root(s), d = node(s, root, "dir", 0040755);
	store_ref f = node(s, d, "file", 0100644), r;

	put(s, f, 0, 700);
	setx(s, f, "user.x", "y");
	symlink_to(s, d, "link", "file");
	r = node(s, root, "a.ring", 0100644);
	ring_append(s, r, "hello\n", 6);
	truncate_to(s, node(s, root, "map", 0100644), 40000);
	node(s, d, "sub", 0040755);
	store_rename(s, d, "sub", root, "sub2", 0);
	store_unlink(s, d, "link");
	symlink_to(s, root, "l2", "dir/file");
	save(s, "mixed");
}

static void patch(const char *path, uint64_t off, const void *p, size_t n)
{
	int fd = open(path, O_RDWR);

	if (fd < 0 || pwrite(fd, p, n, (off_t)off) != (ssize_t)n)
		die(path);
	close(fd);
}

/* A death inside rename(b -> d/b2), with an orphan and a leaked block. */
static void seed_crash(void)
{
	struct store *s = create(MM_MIN_ARENA, 256);
	store_ref root = store_root(s), d = node(s, root, "d", 0040755);
	store_ref a = node(s, root, "a", 0100644), r;
	uint64_t old, fresh, leak;
	unsigned char saved[64 + 16];
	struct mm_intent in;
	char path[1024];
	uint8_t pending = MM_DENTRY_PENDING;

	put(s, a, 0, 30);
	put(s, node(s, root, "b", 0100644), 0, 40);
	r = node(s, d, "x.ring", 0100644);
	ring_append(s, r, "one\n", 4);
	ring_append(s, r, "two\n", 4);
	if (store_hold(s, a) != 0)
		exit(1);
	store_unlink(s, root, "a");          /* open and unlinked: orphan */
	if (mm_alloc(s, MM_DATA, 100, &leak) != 0)
		exit(1);
	old = ns_find(s, root, "b", 1);
	memcpy(saved, mm_block(s, old), sizeof(saved));
	store_rename(s, root, "b", d, "b2", 0);
	fresh = ns_find(s, d, "b2", 2);
	snprintf(path, sizeof(path), "%s/arena/crash", outdir);
	copy_to(tmp, "crash", "arena");
	store_close(s);
	in = (struct mm_intent){ .commit = 1, .add = { fresh, 0 },
				 .kill = { old, 0 } };
	patch(path, old, saved, mm_block_size_for(sizeof(struct mm_dentry) +
						  1));
	patch(path, fresh + sizeof(struct mm_block) +
	      __builtin_offsetof(struct mm_dentry, state), &pending, 1);
	patch(path, __builtin_offsetof(struct mm_header, intent), &in,
	      sizeof(in));
	shrink(path);
}

/* ---- hostile arenas ------------------------------------------------- */

struct base {
	uint64_t f1, f1_data, f1_xattr, f2, f2_dentry, d1, d1_dir, d1_dentry;
	uint64_t sub, d2, link, dev, ring, ring_block, map, map_block;
	uint64_t dots[4], hash, root;
};

#define INO(ref, field) \
	((ref) + sizeof(struct mm_block) + offsetof(struct mm_inode, field))
#define DEN(d, field) \
	((d) + sizeof(struct mm_block) + offsetof(struct mm_dentry, field))
#define HDR(field) offsetof(struct mm_header, field)

static void make_base(struct base *b)
{
	struct store *s = create(MM_MIN_ARENA, 256);
	store_ref root = store_root(s);
	static const char *const dots[4] = { "w", "w1", "w2", "w3" };

	b->f1 = node(s, root, "f1", 0100644);
	put(s, b->f1, 0, 100);
	setx(s, b->f1, "user.a", "value");
	setx(s, b->f1, "user.b", "another value");
	b->f2 = node(s, root, "f2", 0100644);
	put(s, b->f2, 0, 50);
	b->d1 = node(s, root, "d1", 0040755);
	b->sub = node(s, b->d1, "sub", 0040755);
	put(s, node(s, b->sub, "x", 0100644), 0, 10);
	b->d2 = node(s, root, "d2", 0040755);
	node(s, b->d2, "y", 0100644);
	symlink_to(s, root, "l", "f1");
	b->link = ns_find(s, root, "l", 1);
	b->link = mm_dentry(s, b->link)->inode;
	b->dev = node(s, root, "c", 0020644);
	b->ring = node(s, root, "r.ring", 0100644);
	ring_append(s, b->ring, "record one\n", 11);
	ring_append(s, b->ring, "record two\n", 11);
	b->map = node(s, root, "m", 0100644);
	truncate_to(s, b->map, 200000);
	for (int i = 0; i < 4; i++) {
		node(s, root, dots[i], 0100644);
		b->dots[i] = ns_find(s, root, dots[i], strlen(dots[i]));
	}
	b->f1_data = mm_inode(s, b->f1)->data;
	b->f1_xattr = mm_inode(s, b->f1)->xattr;
	b->f2_dentry = ns_find(s, root, "f2", 2);
	b->d1_dir = mm_inode(s, b->d1)->data;
	b->d1_dentry = ns_find(s, root, "d1", 2);
	b->ring_block = mm_inode(s, b->ring)->data;
	b->map_block = mm_inode(s, b->map)->data;
	b->hash = s->hdr->hash_table;
	b->root = root;
	store_close(s);
	shrink(tmp);
}

/* One hostile seed: the base arena with n patches. */
struct patch {
	uint64_t off;
	uint64_t value;
	size_t len;             /* bytes of value stored (1, 2, 4, 8) */
};

static void hostile(const char *name, const struct patch *p, size_t n)
{
	char path[1024], full[80];

	snprintf(full, sizeof(full), "hostile-%s", name);
	copy_to(tmp, full, "arena");
	snprintf(path, sizeof(path), "%s/arena/%s", outdir, full);
	for (size_t i = 0; i < n; i++)
		patch(path, p[i].off, &p[i].value, p[i].len);
}

#define HOSTILE(name, ...) do { \
	const struct patch p_[] = { __VA_ARGS__ }; \
	hostile(name, p_, sizeof(p_) / sizeof(p_[0])); \
} while (0)

static void seed_hostile(void)
{
	struct base b;
	uint64_t rec, bucket, fake;

	make_base(&b);
	fake = b.f1_data + 32;
	fake = (uint64_t)48 | (uint64_t)MM_DATA << 32 |
	       (uint64_t)MM_BLOCK_CHECK(48u, MM_DATA) << 48;
	rec = b.f1_xattr + sizeof(struct mm_block) +
	      sizeof(struct mm_xattr_head);
	bucket = b.hash + sizeof(struct mm_block);
	/* hash_buckets * 8 overflows to 0: the index check passed */
	HOSTILE("buckets", { HDR(hash_buckets), 1ULL << 61, 8 });
	/* no index and a huge derived inode count: an endless doubling */
	HOSTILE("ninodes", { HDR(hash_table), 0, 8 },
		{ HDR(ninodes), UINT64_MAX, 8 }, { HDR(clean), 0, 4 });
	/* xattr records running past their block */
	HOSTILE("xattr-len", { rec + 4, 0x7fffffff, 4 });
	HOSTILE("xattr-count", { rec - 8, 0xffff, 4 });
	/* two owners of one block: a write frees it under the other */
	HOSTILE("shared-data", { INO(b.f2, data), b.f1_data, 8 });
	HOSTILE("shared-xattr", { INO(b.f2, xattr), b.f1_xattr, 8 });
	HOSTILE("shared-dir", { INO(b.d2, data), b.d1_dir, 8 });
	/* the ring flag on a device, a directory and a symlink */
	HOSTILE("ring-flag", { INO(b.dev, flags), MM_INODE_RING, 4 },
		{ INO(b.d1, flags), MM_INODE_RING, 4 },
		{ INO(b.link, flags), MM_INODE_RING, 4 });
	/* a map whose size its slots cannot hold (truncate wrote past them) */
	HOSTILE("map-size", { b.map_block + 8, (1ULL << 35) + 2000, 8 });
	/* a DATA size whose sum with the head overflows the payload check */
	HOSTILE("data-size", { b.f1_data + 8, UINT64_MAX - 3, 8 });
	/* ring offsets at the end of the 64-bit range */
	HOSTILE("ring-tail", { b.ring_block + 16, UINT64_MAX - 10, 8 },
		{ b.ring_block + 24, UINT64_MAX - 10, 8 });
	/* a ring at its st_size limit: the next append must fail */
	HOSTILE("ring-limit", { b.ring_block + 16, RING_TAIL_MAX, 8 },
		{ b.ring_block + 24, RING_TAIL_MAX, 8 });
	/* the arena mutex locked by a thread that does not exist */
	HOSTILE("mutex", { HDR(lock), 0x3fff0001, 4 },
		{ HDR(lock) + 8, 0x3fff0001, 4 });
	/* an index chain that loops: one bucket -> d1's name -> itself */
	HOSTILE("chain-loop", { HDR(hash_buckets), 1, 8 },
		{ bucket, b.d1_dentry, 8 },
		{ DEN(b.d1_dentry, hash_next), b.d1_dentry, 8 });
	/* names no directory may hold: ".", "..", "a/", "b\0" */
	HOSTILE("names", { DEN(b.dots[0], name), '.', 1 },
		{ DEN(b.dots[1], name), 0x2e2e, 2 },
		{ DEN(b.dots[2], name), 0x2f61, 2 },
		{ DEN(b.dots[3], name), 0x0062, 2 });
	/* d1 inside its own subdirectory: a cycle cut off from the root */
	HOSTILE("cycle", { DEN(b.d1_dentry, parent), b.sub, 8 },
		{ HDR(clean), 0, 4 });
	/* a second name for a directory; a name for the root */
	HOSTILE("dir-names", { DEN(b.f2_dentry, inode), b.d1, 8 },
		{ DEN(b.dots[0], inode), b.root, 8 });
	/* an unknown file type */
	HOSTILE("type", { INO(b.f2, mode), 0170644, 4 });
	/* a root with nlink 0 in a clean arena: lookups in it fail */
	HOSTILE("root-nlink", { INO(b.root, nlink), 0, 4 });
	/* references into the middle of blocks that hold header-shaped
	 * bytes: f2's data at a header written inside f1's data */
	HOSTILE("interior", { b.f1_data + 32, fake, 8 },
		{ b.f1_data + 40, 10, 8 },
		{ INO(b.f2, data), b.f1_data + 32, 8 });
}

/* ---- fuzz_lib's own seeds (DIR/lib) --------------------------------- */

/* A value as libmmfs sets one: the file at path, made with the
 * directories before it (store_resolve), holding len bytes. */
static store_ref value(struct store *s, const char *path, size_t len)
{
	store_ref ref;

	if (store_resolve(s, path, true, 0644, 0, 0, &ref) != 0) {
		fprintf(stderr, "make_seeds: resolve %s failed\n", path);
		exit(1);
	}
	put(s, ref, 0, len);
	return ref;
}

static void save_lib(struct store *s, const char *name)
{
	store_close(s);
	shrink(tmp);
	copy_to(tmp, name, "lib");
}

/* An arena as libmmfs programs leave it: values of every representation
 * in nested directories, a counter, a ring that wrapped. */
static store_ref make_values(struct store *s)
{
	store_ref dir, r, counter;
	char rec[40];

	value(s, "app/empty", 0);
	value(s, "app/small", 16);
	value(s, "app/mid", 3000);
	value(s, "app/big", 40000);
	value(s, "a/b/c/d/v", 100);
	counter = value(s, "app/counter", 0);
	store_write(s, counter, 0, "42\n", 3, true);
	if (store_resolve(s, "app", false, 0, 0, 0, &dir) != 0)
		die("resolve app");
	r = node(s, dir, "log.ring", 0100644);
	for (int i = 0; i < 30; i++) {
		int n = snprintf(rec, sizeof(rec), "rec %d\n", i);

		ring_append(s, r, rec, (size_t)n);
	}
	return r;
}

static void seed_lib(void)
{
	static const char foreign[] = "#!/bin/sh\necho no arena here\n";
	struct store *s = create(256u << 10, 256);
	store_ref r = make_values(s), m;
	uint64_t ring = mm_inode(s, r)->data, map, zero = 0;
	char path[1024];

	save_lib(s, "lib-values");
	/* a ring of capacity 0 (the lock-free reader divides by it) */
	copy_to(tmp, "hostile-ring-cap", "lib");
	snprintf(path, sizeof(path), "%s/lib/hostile-ring-cap", outdir);
	patch(path, ring + sizeof(struct mm_block), &zero, sizeof(zero));
	/* the last block a map whose slot count overflows when multiplied
	 * by 8, its size 16 MiB, ending where the file ends: a lock-free
	 * reader with a 16 MiB buffer read the slots past the end of the
	 * file (SIGBUS); a padding value puts the end on a page boundary */
	for (size_t pad = 0;; pad += 16) {
		s = create(MM_MIN_ARENA, 256);
		value(s, "pad", pad);
		m = value(s, "m", 0);
		truncate_to(s, m, 200000);
		map = mm_inode(s, m)->data;
		if (map + mm_block(s, map)->size != s->hdr->brk)
			die("the map is not the last block");
		if (s->hdr->brk % MM_PAGE == 0)
			break;
		store_close(s);
		if (pad > MM_PAGE)
			die("no padding ends the map on a page");
	}
	save_lib(s, "hostile-map-slots");
	/* not an arena at all: attaches are refused, with a reason */
	snprintf(path, sizeof(path), "%s/lib/foreign", outdir);
	close(open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644));
	patch(path, 0, foreign, sizeof(foreign) - 1);
	snprintf(path, sizeof(path), "%s/lib/hostile-map-slots", outdir);
	patch(path, map + 8, &(uint64_t){ 16u << 20 }, 8);
	patch(path, map + 16, &(uint64_t){ 1ULL << 61 }, 8);
}

/* Op scripts for fuzz_ops: [cap, ring size] then ops (fuzz_common.c). */
static const unsigned char script_files[] = {
	1, 1,
	0, 0, 0, 0,             /* mknod / "a" regular -> ref 1 */
	3, 1, 0, 3, 0,          /* write a @0 100 bytes */
	3, 1, 0, 7, 1,          /* append 40000: a map */
	15,                     /* crash image */
	6, 1, 8, 0, 0, 3, 0,    /* truncate a to 4096 */
	7, 1, 0, 2, 0,          /* setxattr user.a, 10 bytes */
	15,
	1, 0, 5,                /* mkdir /dir -> ref 2 */
	12, 0, 0, 2, 1, 0,      /* rename /a -> /dir/b */
	20, 2, 1,               /* unlink /dir/b (held: orphan) */
	15,
	5, 1, 0, 3, 0,          /* read the orphan */
};

static const unsigned char script_rings[] = {
	0, 0,
	0, 0, 3, 0,             /* mknod log.ring -> ref 1 */
	3, 1, 0, 3, 0,          /* append 100 */
	3, 1, 0, 3, 0,
	3, 1, 0, 3, 0,          /* wraps at 256 */
	5, 1, 0, 3, 1,          /* sequential read */
	13, 1, 0, 4,            /* capacity 1 MiB: ENOSPC */
	13, 1, 0, 0,            /* capacity 64 */
	15,
	13, 1, 1,               /* clear */
	15,
};

static const unsigned char script_tree[] = {
	2, 2,
	1, 0, 5,                /* mkdir /dir -> 1 */
	1, 1, 6,                /* mkdir /dir/sub -> 2 */
	0, 2, 0, 0,             /* /dir/sub/a -> 3 */
	2, 1, 2, 3,             /* symlink /dir/c -> 4 */
	19, 3, 0, 7,            /* link a as /f */
	11, 1, 4, 5,            /* cursor on /dir */
	12, 0, 5, 2, 6, 0,      /* rename /dir into /dir/sub/sub: EINVAL */
	12, 1, 6, 0, 12, 2,     /* exchange */
	21, 0, 5,               /* rmdir /dir: ENOTEMPTY */
	11, 1, 1, 3,
	15,
	17, 1,                  /* release */
	14, 1, 2,
};

static const unsigned char script_full[] = {
	0, 1,
	0, 0, 0, 0,
	3, 1, 0, 10, 0,         /* 140000 bytes: ENOSPC */
	3, 1, 0, 8, 0,          /* 65536: ENOSPC */
	3, 1, 0, 7, 0,          /* 40000 */
	3, 1, 9, 3, 0,          /* write at 65535 */
	7, 1, 5, 5, 0,          /* 65536-byte xattr: ENOSPC */
	15,
	6, 1, 8, 0, 0, 9, 0,    /* truncate to 1 GiB (sparse) */
	15,
};

static const unsigned char script_falloc[] = {
	2, 0,                   /* cap 1 MiB */
	0, 0, 0, 0,             /* mknod / "a" regular -> ref 1 */
	3, 1, 0, 3, 0,          /* write a @0 100 bytes */
	22, 1, 1, 0, 3, 0,      /* reserve 4096 at 0, keeping the size */
	22, 1, 0, 7, 7, 1,      /* allocate 100000 at 32768 (a map), read */
	15,
	22, 1, 2, 9, 6, 0,      /* punch the chunk at 65536 */
	22, 1, 3, 4, 8, 1,      /* punch 140000 at 4095, read */
	22, 1, 1, 12, 6, 0,     /* reserve 65536 at 200000, past the end */
	15,
	22, 1, 0, 0, 9, 0,      /* allocate 1 GiB: ENOSPC */
	22, 1, 5, 0, 1, 0,      /* zero range: EOPNOTSUPP */
	22, 1, 0, 14, 2, 0,     /* allocate at STORE_FILE_MAX - 1: EFBIG */
	6, 1, 8, 0, 0, 3, 0,    /* truncate a to 4096 */
	15,
};

static void write_script(const char *name, const unsigned char *p,
			 size_t n)
{
	char path[1024];
	int fd;

	snprintf(path, sizeof(path), "%s/ops/%s", outdir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || write(fd, p, n) != (ssize_t)n)
		die(path);
	close(fd);
}

int main(int argc, char **argv)
{
	char sub[600];

	if (argc != 2) {
		fprintf(stderr, "usage: make_seeds DIR\n");
		return 2;
	}
	if (ring_register() != 0)
		return 1;
	snprintf(outdir, sizeof(outdir), "%s", argv[1]);
	snprintf(tmp, sizeof(tmp), "/dev/shm/mmfs-seeds-%d", (int)getpid());
	snprintf(sub, sizeof(sub), "%s/arena", outdir);
	mkdir(outdir, 0755);
	mkdir(sub, 0755);
	snprintf(sub, sizeof(sub), "%s/ops", outdir);
	mkdir(sub, 0755);
	snprintf(sub, sizeof(sub), "%s/lib", outdir);
	mkdir(sub, 0755);
	seed_empty();
	seed_small();
	seed_tree();
	seed_symlinks();
	seed_xattrs();
	seed_ring();
	seed_sparse();
	seed_chunked();
	seed_mixed();
	seed_crash();
	seed_hostile();
	seed_lib();
	write_script("files", script_files, sizeof(script_files));
	write_script("rings", script_rings, sizeof(script_rings));
	write_script("tree", script_tree, sizeof(script_tree));
	write_script("full", script_full, sizeof(script_full));
	write_script("falloc", script_falloc, sizeof(script_falloc));
	unlink(tmp);
	return 0;
}

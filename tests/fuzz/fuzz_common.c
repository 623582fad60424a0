/* fuzz_common.c -- tree walks, digests and the op-script interpreter shared
 * by fuzz_arena.c and fuzz_ops.c (see fuzz_common.h and README.md).
 *
 * Op scripts.  A script is a byte string read front to back; a missing
 * byte reads as 0, so every script is valid.  Each op is one opcode byte
 * (taken modulo the number of ops) and a few argument bytes: a ref (index
 * into the table of refs the script holds, the root first), a name (index
 * into names[]), a value index (into offsets[], lengths[]...).  Refs are
 * held in the store (store_hold) while the table has them, as the daemon
 * holds the nodes the kernel knows; a full table releases the oldest.  Results are not checked against a
 * model: the oracles are the sanitizers, store_verify after every op (when
 * asked), and crash images that must recover to the same tree.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "format.h"
#include "fuzz_common.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))
#define BUF_SIZE (FZ_MAX_READ > 300000 ? FZ_MAX_READ : 300000)

void fz_fail(const char *file, int line, const char *cond,
	     const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s:%d: FUZZ ASSERT (%s) failed: ", file, line, cond);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	abort();
}

uint64_t fz_hash(const void *p, size_t n, uint64_t h)
{
	const unsigned char *b = p;

	h ^= 0xcbf29ce484222325ULL;
	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 0x100000001b3ULL;
	h ^= h >> 29;
	return h * 0xbf58476d1ce4e5b9ULL;
}

static uint64_t hash_u64(uint64_t h, uint64_t v)
{
	return fz_hash(&v, sizeof(v), h);
}

char fz_arena_path[128], fz_crash_path[128];

static void remove_scratch(void)
{
	unlink(fz_arena_path);
	unlink(fz_crash_path);
}

void fz_scratch_paths(const char *tag)
{
	if (ring_register() != 0)
		abort();
	snprintf(fz_arena_path, sizeof(fz_arena_path),
		 "/dev/shm/mmfs-fuzz-%d-%s", (int)getpid(), tag);
	snprintf(fz_crash_path, sizeof(fz_crash_path),
		 "/dev/shm/mmfs-fuzz-%d-%s-crash", (int)getpid(), tag);
	atexit(remove_scratch);
}

void fz_write_file(const char *path, const uint8_t *data, size_t size)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	size_t done = 0;

	FZ_ASSERT(fd >= 0, "open %s: %s", path, strerror(errno));
	while (done < size) {
		ssize_t n = write(fd, data + done, size - done);

		FZ_ASSERT(n > 0, "write %s: %s", path, strerror(errno));
		done += (size_t)n;
	}
	close(fd);
}

void fz_copy_file(const char *src, const char *dst)
{
	int in = open(src, O_RDONLY | O_CLOEXEC);
	struct stat st;
	uint8_t *data;

	FZ_ASSERT(in >= 0 && fstat(in, &st) == 0, "open %s", src);
	data = malloc((size_t)st.st_size + 1);
	FZ_ASSERT(data, "out of memory");
	FZ_ASSERT(pread(in, data, (size_t)st.st_size, 0) == st.st_size,
		  "read %s", src);
	close(in);
	fz_write_file(dst, data, (size_t)st.st_size);
	free(data);
}

void fz_print_problem(void *ctx, const char *msg)
{
	(void)ctx;
	fprintf(stderr, "verify: %s\n", msg);
}

int fz_verify_path(const char *path, int print)
{
	struct store_options o = { .flags = STORE_OPEN_SNAPSHOT };
	struct store *s = NULL;
	char err[256];
	int n;

	if (store_open(path, &o, &s, err, sizeof(err)) != 0) {
		if (print)
			fprintf(stderr, "snapshot %s: %s\n", path, err);
		return -1;
	}
	n = store_verify(s, print ? fz_print_problem : NULL, NULL);
	store_close(s);
	return n;
}

/* ---- walking a tree ------------------------------------------------- */

struct walker {
	struct store *s;
	store_ref dirs[FZ_MAX_DIRS];
	uint64_t dir_hash[FZ_MAX_DIRS];
	store_ref *files;             /* non-directories seen, if wanted */
	unsigned ndirs, entries, nfiles;
	uint64_t digest;
	unsigned char *buf;
};

static uint64_t read_file(struct walker *w, store_ref ref, uint64_t size)
{
	uint64_t h = 0, want = size < FZ_MAX_READ ? size : FZ_MAX_READ;
	ssize_t n;

	for (uint64_t off = 0; off < want; off += (uint64_t)n) {
		size_t len = want - off < 65536 ? want - off : 65536;

		n = store_read(w->s, ref, off, w->buf, len);
		FZ_ASSERT(n == (ssize_t)len, "read %zu at %llu of %llu: %zd",
			  len, (unsigned long long)off,
			  (unsigned long long)size, n);
		h = fz_hash(w->buf, len, h);
	}
	if (size > want) {      /* the tail of a big (sparse) file */
		n = store_read(w->s, ref, size - 100, w->buf, 4096);
		FZ_ASSERT(n == 100, "read at the tail: %zd", n);
		h = fz_hash(w->buf, 100, h);
	}
	n = store_read(w->s, ref, size, w->buf, 16);
	FZ_ASSERT(n == 0, "read at EOF: %zd", n);
	return h;
}

static uint64_t read_ring(struct walker *w, store_ref ref)
{
	struct ring_reader rd = {0};
	struct ring_stat st;
	uint64_t h = 0, total = 0, off = 0;
	ssize_t n;

	FZ_ASSERT(ring_stat(w->s, ref, &st) == 0, "ring_stat");
	FZ_ASSERT(st.head <= st.tail && st.tail - st.head <= st.capacity,
		  "ring head %llu tail %llu capacity %llu",
		  (unsigned long long)st.head, (unsigned long long)st.tail,
		  (unsigned long long)st.capacity);
	h = hash_u64(hash_u64(hash_u64(h, st.head), st.tail), st.records);
	do {
		n = ring_read(w->s, ref, &rd, off, w->buf, 4096);
		FZ_ASSERT(n >= 0, "ring_read: %zd", n);
		h = fz_hash(w->buf, (size_t)n, h);
		off += (uint64_t)n;
		total += (uint64_t)n;
	} while (n > 0 && total < FZ_MAX_READ);
	n = ring_read(w->s, ref, &rd, st.tail ? st.tail - 1 : 0, w->buf, 64);
	FZ_ASSERT(n >= 0 && n <= 1, "positional ring_read: %zd", n);
	return h;
}

static uint64_t read_xattrs(struct walker *w, store_ref ref)
{
	char *list = (char *)w->buf, value[512];
	ssize_t len = store_listxattr(w->s, ref, NULL, 0), n;
	uint64_t h = 0;

	FZ_ASSERT(len >= 0 && len <= 65536 + 128, "listxattr: %zd", len);
	n = store_listxattr(w->s, ref, list, (size_t)len);
	FZ_ASSERT(n == len, "listxattr: %zd, then %zd", len, n);
	if (len > 0)
		FZ_ASSERT(store_listxattr(w->s, ref, list, (size_t)len - 1) ==
			  -ERANGE, "listxattr with a short buffer");
	for (ssize_t i = 0; i < len; i += (ssize_t)strlen(list + i) + 1) {
		n = store_getxattr(w->s, ref, list + i, NULL, 0);
		FZ_ASSERT(n >= 0, "getxattr(%s) of a listed name: %zd",
			  list + i, n);
		if (n > (ssize_t)sizeof(value))
			n = (ssize_t)sizeof(value);
		n = store_getxattr(w->s, ref, list + i, value, (size_t)n);
		FZ_ASSERT(n >= 0 || n == -ERANGE, "getxattr: %zd", n);
		h = fz_hash(list + i, strlen(list + i), h);
		if (n > 0)
			h = fz_hash(value, (size_t)n, h);
	}
	return h;
}

static uint64_t visit(struct walker *w, store_ref ref,
		      const struct store_attr *a)
{
	uint32_t type = a->mode & 0170000;
	struct store_extent e;
	uint64_t h = hash_u64(hash_u64(0, a->mode), a->size);
	char target[STORE_SYMLINK_MAX + 1];
	int n;

	h = hash_u64(hash_u64(h, a->uid), a->gid);
	h = hash_u64(hash_u64(h, a->rdev), a->ino);
	if (type != 0040000)
		h = hash_u64(h, a->nlink);
	FZ_ASSERT(store_extent(w->s, ref, &e) == 0, "extent");
	if (a->kind == RING_KIND) {
		FZ_ASSERT(type == 0100000, "a ring of type %o", type);
		h ^= read_ring(w, ref);
	} else if (type == 0100000) {
		h ^= read_file(w, ref, a->size);
	}
	if (w->files && type != 0040000 && w->nfiles < FZ_MAX_DIRS)
		w->files[w->nfiles++] = ref;
	if (type == 0120000) {
		/* -EINVAL: recovery cut an invalid target */
		n = store_readlink(w->s, ref, target, sizeof(target));
		FZ_ASSERT(n > 0 || n == -EINVAL, "readlink: %d", n);
		if (n > 0)
			h = fz_hash(target, (size_t)n < sizeof(target) ?
				    (size_t)n : sizeof(target), h);
	}
	return h ^ read_xattrs(w, ref);
}

static void walk_dir(struct walker *w, unsigned i)
{
	struct store *s = w->s;
	struct store_dir *d;
	struct store_dirent ent;
	struct store_attr da, a;
	uint64_t seen = 0, pos = 0;
	char name[STORE_NAME_MAX + 1];
	store_ref ref;

	FZ_ASSERT(store_getattr(s, w->dirs[i], &da) == 0, "getattr dir");
	FZ_ASSERT(store_dir_open(s, w->dirs[i], &d) == 0, "dir_open");
	while (w->entries < FZ_MAX_ENTRIES && store_dir_peek(d, &ent) == 1) {
		FZ_ASSERT(ent.namelen > 0 && ent.namelen <= STORE_NAME_MAX,
			  "entry name length %u", ent.namelen);
		memcpy(name, ent.name, ent.namelen);
		name[ent.namelen] = '\0';
		FZ_ASSERT(strlen(name) == ent.namelen && !strchr(name, '/') &&
			  strcmp(name, ".") && strcmp(name, ".."),
			  "listed name '%s' is no file name", name);
		FZ_ASSERT(ent.pos > pos, "'%s' is out of position order",
			  name);
		pos = ent.pos;
		store_dir_advance(d);
		seen++;
		w->entries++;
		FZ_ASSERT(store_lookup(s, w->dirs[i], name, &ref, &a) == 0 &&
			  ref == ent.ref, "lookup of listed entry '%s'", name);
		if ((a.mode & 0170000) == 0040000 && w->ndirs < FZ_MAX_DIRS) {
			w->dir_hash[w->ndirs] = fz_hash(name, ent.namelen,
							w->dir_hash[i]);
			w->dirs[w->ndirs++] = ref;
		}
		w->digest += fz_hash(name, ent.namelen, w->dir_hash[i]) ^
			     visit(w, ref, &a);
	}
	if (w->entries < FZ_MAX_ENTRIES)
		FZ_ASSERT(seen == da.size, "directory lists %llu entries, "
			  "size says %llu", (unsigned long long)seen,
			  (unsigned long long)da.size);
	store_dir_close(d);
}

uint64_t fz_walk(struct store *s)
{
	return fz_walk_collect(s, NULL, NULL, NULL, NULL);
}

uint64_t fz_walk_collect(struct store *s, store_ref *dirs, unsigned *ndirs,
			 store_ref *files, unsigned *nfiles)
{
	struct walker w = { .s = s, .files = files };
	struct store_attr a;
	struct store_statfs st;

	w.buf = malloc(BUF_SIZE);
	FZ_ASSERT(w.buf, "out of memory");
	store_statfs(s, &st);
	w.dirs[0] = store_root(s);
	w.ndirs = 1;
	FZ_ASSERT(store_getattr(s, w.dirs[0], &a) == 0, "getattr root");
	w.digest = visit(&w, w.dirs[0], &a);
	for (unsigned i = 0; i < w.ndirs; i++)
		walk_dir(&w, i);
	free(w.buf);
	if (dirs) {
		memcpy(dirs, w.dirs, w.ndirs * sizeof(*dirs));
		*ndirs = w.ndirs;
	}
	if (nfiles)
		*nfiles = w.nfiles;
	return w.digest;
}

/* ---- op scripts ------------------------------------------------------ */

static const char *const names[] = {
	"a", "b", "c", "log.ring", "x.ring", "dir", "sub", "f",
	"g", "h", ".ring", "n\x7f\xff", "z", "dd", "e.ring",
	"LLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLL"
	"LLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLL"
	"LLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLL"
	"LLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLL",
};

static const uint64_t offsets[] = {
	0, 1, 7, 100, 4095, 4096, 32767, 32768, 65535, 65536, 65537,
	131072, 200000, 1000000, STORE_FILE_MAX - 1, STORE_FILE_MAX,
};

static const size_t lengths[] = {
	0, 1, 5, 100, 4096, 32767, 32768, 40000, 65536, 70000, 140000, 3,
};

static const uint64_t sizes[] = {
	0, 1, 10, 4096, 32768, 32769, 65536, 100000, 140000, 1ULL << 30,
	STORE_FILE_MAX, STORE_FILE_MAX + 1,
};

static const uint64_t capacities[] = {
	64, 100, 4096, 65536, 1u << 20, 63, 0xffffffffu, 1000,
};

static const char *const xnames[] = {
	"user.a", "user.b", "user.mmfs.capacity", "trusted.x", "user.c",
	"security.selinux", "user.LLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLLL",
	"user.d",
};

static const size_t xlens[] = { 0, 1, 10, 200, 4096, 65536, 65537, 30000 };

struct run {
	struct fz_ctx *c;
	struct store *s;
	const uint8_t *p, *end;
	store_ref refs[FZ_MAX_REFS];
	unsigned nrefs, evict;
	struct store_dir *cur;        /* a cursor kept across ops */
	store_ref cur_dir;
	uint64_t cur_after;           /* the position it has gone past */
	struct ring_reader rd;        /* a ring reader kept across ops */
	store_ref rd_ref;
	unsigned char *buf;
	unsigned counter;
};

static unsigned byte(struct run *r)
{
	return r->p < r->end ? *r->p++ : 0;
}

static store_ref ref_arg(struct run *r)
{
	return r->refs[byte(r) % r->nrefs];
}

static const char *name_arg(struct run *r)
{
	return names[byte(r) % NELEM(names)];
}

static void drop_ref(struct run *r, unsigned i)
{
	store_ref ref = r->refs[i];

	if (r->cur && r->cur_dir == ref) {
		store_dir_close(r->cur);
		r->cur = NULL;
	}
	if (r->rd_ref == ref)
		r->rd_ref = 0;
	r->refs[i] = r->refs[--r->nrefs];
	store_release(r->s, ref);
}

/* Keep ref (held in the store) in the table. */
static void keep(struct run *r, store_ref ref)
{
	for (unsigned i = 0; i < r->nrefs; i++)
		if (r->refs[i] == ref)
			return;
	if (r->nrefs == FZ_MAX_REFS)
		drop_ref(r, 1 + r->evict++ % (FZ_MAX_REFS - 1));
	if (store_hold(r->s, ref) != 0)
		return;
	r->refs[r->nrefs++] = ref;
}

static void fill(struct run *r, size_t len)
{
	unsigned char c = (unsigned char)(++r->counter * 37);

	for (size_t i = 0; i < len; i++)
		r->buf[i] = (unsigned char)(c + i % 251);
}

static void op_create(struct run *r, unsigned kind)
{
	static const uint32_t modes[] = { 0100644, 0040755, 0010644, 0140644,
					  0020644, 0060644, 0100000, 0 };
	store_ref dir = ref_arg(r), out;
	const char *name = name_arg(r);
	struct store_attr a;
	char target[STORE_SYMLINK_MAX + 2];
	size_t tlen;
	int rc;

	if (kind == 0) {
		uint32_t mode = modes[byte(r) % NELEM(modes)];

		if ((mode & 0170000) == 0100000 && ring_name(name))
			rc = ring_create(r->s, dir, name, mode, 0, 0, &out,
					 &a);
		else
			rc = store_mknod(r->s, dir, name, mode, 0, 0, 0x0801,
					 &out, &a);
	} else if (kind == 1) {
		rc = store_mknod(r->s, dir, name, 0040755, 1, 2, 0, &out, &a);
	} else {
		tlen = lengths[byte(r) % NELEM(lengths)] % sizeof(target);
		memset(target, 't', tlen);
		target[tlen] = '\0';
		rc = store_symlink(r->s, dir, name, target, 0, 0, &out, &a);
	}
	if (rc == 0)
		keep(r, out);
}

static void op_write(struct run *r)
{
	store_ref ref = ref_arg(r);
	uint64_t off = offsets[byte(r) % NELEM(offsets)];
	size_t len = lengths[byte(r) % NELEM(lengths)];
	unsigned how = byte(r);
	struct store_attr a;

	if ((how & 3) == 1 && store_getattr(r->s, ref, &a) == 0)
		off = a.size;                  /* append */
	if ((how & 3) == 2 && store_getattr(r->s, ref, &a) == 0)
		off = a.size > 3 ? a.size - 3 : 0;
	fill(r, len);
	if (store_getattr(r->s, ref, &a) == 0 && a.kind == RING_KIND)
		ring_append(r->s, ref, r->buf, len);
	else
		store_write(r->s, ref, off, r->buf, len, how & 4);
}

static void op_read(struct run *r)
{
	store_ref ref = ref_arg(r);
	uint64_t off = offsets[byte(r) % NELEM(offsets)];
	size_t len = lengths[byte(r) % NELEM(lengths)];
	unsigned how = byte(r);
	struct store_attr a;

	if (store_getattr(r->s, ref, &a) == 0 && a.kind == RING_KIND) {
		if (r->rd_ref != ref) {
			r->rd_ref = ref;
			memset(&r->rd, 0, sizeof(r->rd));
		}
		ring_read(r->s, ref, &r->rd, how & 1 ? r->rd.next : off,
			  r->buf, len);
	} else {
		store_read(r->s, ref, off, r->buf, len);
	}
}

static void op_setattr(struct run *r)
{
	store_ref ref = ref_arg(r);
	unsigned mask = byte(r);
	struct store_attr in = {0}, out;

	in.mode = byte(r) * 0123u;
	in.uid = byte(r);
	in.gid = 7;
	in.size = sizes[byte(r) % NELEM(sizes)];
	in.atime.tv_sec = byte(r) * 1000000;
	in.mtime.tv_nsec = 999999999;
	in.ctime.tv_sec = -1;
	store_setattr(r->s, ref, mask & 0x7f, &in, &out);
}

static void op_xattr(struct run *r, unsigned what)
{
	store_ref ref = ref_arg(r);
	const char *name = xnames[byte(r) % NELEM(xnames)];
	size_t len = xlens[byte(r) % NELEM(xlens)];
	unsigned flags = byte(r) % 4;

	fill(r, len);
	if (what == 0)
		store_setxattr(r->s, ref, name, r->buf, len, (int)flags);
	else if (what == 1)
		store_removexattr(r->s, ref, name);
	else if (what == 2)
		store_getxattr(r->s, ref, name, r->buf, flags ? len : 0);
	else
		store_listxattr(r->s, ref, (char *)r->buf, flags ? len : 0);
}

/* A cursor kept across ops: opened, sought back n positions or rewound,
 * then advanced n times.  Within a pass positions only grow. */
static void op_cursor(struct run *r)
{
	store_ref dir = ref_arg(r);
	unsigned how = byte(r), n = byte(r) % 8;
	struct store_dirent ent;

	if (!r->cur || (how & 3) == 0) {
		if (r->cur)
			store_dir_close(r->cur);
		r->cur = NULL;
		if (store_dir_open(r->s, dir, &r->cur) != 0)
			return;
		r->cur_dir = dir;
		r->cur_after = 0;
	}
	if ((how & 3) == 1) {
		r->cur_after = r->cur_after > n ? r->cur_after - n : 0;
		store_dir_seek(r->cur, r->cur_after);
	} else if ((how & 3) == 2) {
		store_dir_rewind(r->cur);
		r->cur_after = 0;
	}
	for (unsigned i = 0; i < n; i++) {
		if (store_dir_peek(r->cur, &ent) != 1)
			break;
		FZ_ASSERT(ent.namelen > 0 && ent.namelen <= STORE_NAME_MAX,
			  "cursor name length %u", ent.namelen);
		FZ_ASSERT(ent.pos > r->cur_after, "cursor went back: position "
			  "%llu after %llu", (unsigned long long)ent.pos,
			  (unsigned long long)r->cur_after);
		r->cur_after = ent.pos;
		store_dir_advance(r->cur);
		if (how & 4)
			keep(r, ent.ref);     /* may close the cursor */
		if (!r->cur)
			break;
	}
}

#define FUZZ_WHITEOUT 8u     /* store_rename_whiteout, the other bits */

static void op_rename(struct run *r)
{
	static const unsigned flags[] = { 0, STORE_RENAME_NOREPLACE,
					  STORE_RENAME_EXCHANGE, 0, 4,
					  FUZZ_WHITEOUT,
					  FUZZ_WHITEOUT | STORE_RENAME_NOREPLACE,
					  FUZZ_WHITEOUT | STORE_RENAME_EXCHANGE };
	store_ref d1 = ref_arg(r);
	const char *n1 = name_arg(r);
	store_ref d2 = ref_arg(r);
	const char *n2 = name_arg(r);
	unsigned f = flags[byte(r) % NELEM(flags)];

	if (f & FUZZ_WHITEOUT)
		store_rename_whiteout(r->s, d1, n1, d2, n2, f & ~FUZZ_WHITEOUT,
				      1000, 1000);
	else
		store_rename(r->s, d1, n1, d2, n2, f);
}

static void op_ring(struct run *r)
{
	store_ref ref = ref_arg(r);
	unsigned how = byte(r);
	struct ring_stat st;

	if (how % 3 == 0)
		ring_set_capacity(r->s, ref,
				  capacities[byte(r) % NELEM(capacities)]);
	else if (how % 3 == 1)
		ring_clear(r->s, ref);
	else
		ring_stat(r->s, ref, &st);
}

static void op_inspect(struct run *r)
{
	struct store_statfs st;
	struct store_census c;
	struct store_extent e;
	struct store_attr a;

	store_statfs(r->s, &st);
	store_census(r->s, &c);
	store_extent(r->s, ref_arg(r), &e);
	store_getattr(r->s, ref_arg(r), &a);
}

/* Copy the open arena as a crash would leave it: it must open (recovery),
 * verify clean and show the same tree. */
static void op_crash(struct run *r)
{
	struct store_options o = {0};
	struct store *t = NULL;
	char err[256];
	uint64_t want, got;
	int rc;

	if (!r->c->crash_path)
		return;
	fz_copy_file(r->c->arena_path, r->c->crash_path);
	rc = store_open(r->c->crash_path, &o, &t, err, sizeof(err));
	FZ_ASSERT(rc == 0, "a crash image does not open: %s", err);
	want = fz_walk(r->s);
	got = fz_walk(t);
	store_close(t);
	FZ_ASSERT(want == got, "the tree changed in recovery of a crash image");
	rc = fz_verify_path(r->c->crash_path, 1);
	FZ_ASSERT(rc == 0, "recovered crash image: %d problem(s)", rc);
}

/* What a file shows: its size and blocks and up to FZ_MAX_READ of its
 * bytes (a snapshot's, when snap is taken), hashed; 0 when it is no file
 * of bytes. */
static uint64_t shown(struct run *r, store_ref ref,
		      const struct store_snap *snap)
{
	struct store_attr a;
	uint64_t h;
	ssize_t n;

	if (store_getattr(r->s, ref, &a) != 0 || a.kind)
		return 0;
	if (snap->taken) {
		h = hash_u64(0, snap->size);
		n = store_snap_read(r->s, snap, 0, r->buf, FZ_MAX_READ);
	} else {
		h = hash_u64(hash_u64(0, a.size), a.blocks);
		n = store_read(r->s, ref, 0, r->buf, FZ_MAX_READ);
	}
	return n < 0 ? h : fz_hash(r->buf, (size_t)n, h);
}

#define FZ_RESERVE_MAX (256ULL << 20)

/* fallocate in every mode the store knows and one it refuses, at the
 * offsets and lengths of writes and truncations (around the small/chunked
 * boundary, the cap and STORE_FILE_MAX).  A failed call changes nothing,
 * and a snapshot taken before reads the same version after. */
static void op_fallocate(struct run *r)
{
	static const unsigned modes[] = {
		0, STORE_FALLOC_KEEP_SIZE,
		STORE_FALLOC_KEEP_SIZE | STORE_FALLOC_PUNCH_HOLE,
		STORE_FALLOC_KEEP_SIZE | STORE_FALLOC_PUNCH_HOLE,
		STORE_FALLOC_PUNCH_HOLE, 0x10,
	};
	store_ref ref = ref_arg(r);
	unsigned mode = modes[byte(r) % NELEM(modes)];
	uint64_t off = offsets[byte(r) % NELEM(offsets)];
	uint64_t len = sizes[byte(r) % NELEM(sizes)];
	struct store_snap snap = {0}, none = {0};
	struct store_statfs st;
	uint64_t file, version = 0, used;

	if (byte(r) & 1 && store_snap_take(r->s, ref, &snap) == 0)
		version = shown(r, ref, &snap);
	file = shown(r, ref, &none);
	store_statfs(r->s, &st);
	used = st.used;
	/* A hostile header may allow terabytes: a reservation that would
	 * really take more than FZ_RESERVE_MAX of memory is not the harness's
	 * to make (libFuzzer stops at 2 GB); at a real cap it fails fast. */
	if (!(mode & STORE_FALLOC_PUNCH_HOLE) && len > FZ_RESERVE_MAX &&
	    st.free > FZ_RESERVE_MAX)
		len = FZ_RESERVE_MAX;
	if (store_fallocate(r->s, ref, mode, off, len) != 0) {
		store_statfs(r->s, &st);
		FZ_ASSERT(shown(r, ref, &none) == file && st.used == used,
			  "a failed fallocate changed the file or the arena");
	}
	if (snap.taken)
		FZ_ASSERT(shown(r, ref, &snap) == version,
			  "fallocate changed a version a snapshot reads");
	store_snap_drop(r->s, &snap);
}

/* A name, a parent, or a file handle's ref: one near a known inode,
 * mostly no inode at all, which store_lookup_ref must say. */
static void op_lookup(struct run *r)
{
	store_ref dir = ref_arg(r), out;
	const char *name = name_arg(r);
	unsigned how = byte(r);
	struct store_attr a;
	int rc;

	if (how % 4 == 1) {
		out = dir + (uint64_t)(int64_t)(int8_t)byte(r) * 8;
		rc = store_lookup_ref(r->s, out, &a);
		FZ_ASSERT(rc == 0 || rc == -ESTALE || rc == -ENOMEM,
			  "store_lookup_ref: %d", rc);
		if (rc == 0)
			keep(r, out);
	} else if (how % 4 == 2) {
		if (store_parent(r->s, dir, &out, &a) == 0)
			keep(r, out);
	} else if (store_lookup(r->s, dir, name, &out, &a) == 0) {
		keep(r, out);
	}
}

static void op_misc(struct run *r, unsigned op)
{
	store_ref ref = ref_arg(r);
	char buf[64];

	switch (op) {
	case 0:
		if (r->nrefs > 1)
			drop_ref(r, 1 + byte(r) % (r->nrefs - 1));
		break;
	case 1:
		store_readlink(r->s, ref, buf, byte(r) % sizeof(buf));
		break;
	case 2: {
		struct store_attr a;

		store_link(r->s, ref, ref_arg(r), name_arg(r), &a);
		break;
	}
	case 3:
		store_unlink(r->s, ref, name_arg(r));
		break;
	case 4:
		store_rmdir(r->s, ref, name_arg(r));
		break;
	default:
		store_sync_file(r->s, ref, false);
		break;
	}
}

static void step(struct run *r)
{
	unsigned op = byte(r) % 24;

	switch (op) {
	case 0: case 1: case 2: op_create(r, op); break;
	case 3: case 4: op_write(r); break;
	case 5: op_read(r); break;
	case 6: op_setattr(r); break;
	case 7: case 8: case 9: case 10: op_xattr(r, op - 7); break;
	case 11: op_cursor(r); break;
	case 12: op_rename(r); break;
	case 13: op_ring(r); break;
	case 14: op_inspect(r); break;
	case 15: op_crash(r); break;
	case 16: op_lookup(r); break;
	case 22: op_fallocate(r); break;
	default: op_misc(r, op - 17); break;
	}
}

void fz_run(struct fz_ctx *c, const uint8_t *p, size_t n)
{
	struct run r = { .c = c, .s = c->s, .p = p, .end = p + n };
	int problems;

	r.buf = malloc(BUF_SIZE);
	FZ_ASSERT(r.buf, "out of memory");
	r.refs[0] = store_root(c->s);
	r.nrefs = 1;
	for (unsigned ops = 0; r.p < r.end && ops < 256; ops++) {
		step(&r);
		if (!c->verify_each)
			continue;
		problems = fz_verify_path(c->arena_path, 1);
		FZ_ASSERT(problems == 0, "after op %u: %d problem(s)", ops,
			  problems);
	}
	store_dir_close(r.cur);
	r.cur = NULL;
	while (r.nrefs > 1)
		drop_ref(&r, r.nrefs - 1);
	free(r.buf);
}

void fz_close_and_reopen(struct store *s, const char *path)
{
	struct store_options o = {0};
	uint64_t before = fz_walk(s), after;
	char err[256];
	int n;

	store_close(s);
	n = fz_verify_path(path, 1);
	FZ_ASSERT(n == 0, "%d problem(s) after a clean close", n);
	n = store_open(path, &o, &s, err, sizeof(err));
	FZ_ASSERT(n == 0, "reopening a cleanly closed arena: %s", err);
	FZ_ASSERT(store_recovery_report(s)[0] == '\0',
		  "reopening after a clean close needed repairs: %s",
		  store_recovery_report(s));
	after = fz_walk(s);
	store_close(s);
	FZ_ASSERT(before == after, "the tree changed across close and open");
}

/* ---- the arena mutator ---------------------------------------------- */

/* Half of the mutations are libFuzzer's own followed by re-sealing the
 * block headers (so a changed size or kind is not simply refused by its
 * check word), the others write the offset of one block into a field of
 * another (shared blocks, cycles, wrong kinds), change a kind, split or
 * merge blocks, or store edge values (0, -1, 2^32...) into payload and
 * header fields. */

#define MAX_BLOCKS 1024

struct heap {
	uint8_t *d;
	size_t size;
	uint64_t off[MAX_BLOCKS];
	unsigned n;
};

static uint64_t get64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

static void put64(uint8_t *p, uint64_t v)
{
	memcpy(p, &v, sizeof(v));
}

static void seal(uint8_t *p)
{
	struct mm_block b;

	memcpy(&b, p, sizeof(b));
	b.check = MM_BLOCK_CHECK(b.size, b.kind);
	memcpy(p, &b, sizeof(b));
}

/* Blocks whose sizes tile the heap, as far as they do. */
static void scan(struct heap *h, uint8_t *d, size_t size)
{
	uint64_t brk, off = MM_PAGE;

	h->d = d;
	h->size = size;
	h->n = 0;
	if (size < MM_PAGE)
		return;
	brk = get64(d + 32) < size ? get64(d + 32) : size;
	while (off + 16 <= brk && h->n < MAX_BLOCKS) {
		struct mm_block b;

		memcpy(&b, d + off, sizeof(b));
		if (b.size < 16 || b.size % 16 || off + b.size > brk)
			break;
		h->off[h->n++] = off;
		off += b.size;
	}
}

static uint64_t rnd(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

/* An 8-byte aligned field: in a block's payload or the header's first
 * 224 bytes (offsets, counters, intent; not the mutex). */
static uint8_t *field(struct heap *h, uint64_t *x)
{
	uint64_t b, len;

	if (h->n == 0 || rnd(x) % 4 == 0)
		return h->d + 8 * (rnd(x) % 28);
	b = h->off[rnd(x) % h->n];
	len = get64(h->d + b) & 0xffffffffu;
	if (len <= 8 || b + len > h->size)
		return h->d + 40;
	return h->d + b + 8 + 8 * (rnd(x) % ((len - 8) / 8));
}

static void structured(struct heap *h, uint64_t *x)
{
	static const uint64_t edges[] = {
		0, 1, 2, 0xff, 0x100, 0xffff, 0x10000, 0xffffffffULL,
		0x100000000ULL, UINT64_MAX, UINT64_MAX - 7, 1ULL << 62,
		1ULL << 61, 1ULL << 36, 40, 65535,
	};
	uint8_t *p, *end = h->d + h->size;
	uint32_t a, b, head;

	if (h->n == 0)
		return;
	p = h->d + h->off[rnd(x) % h->n];
	memcpy(&a, p, 4);
	if (a < 16 || a > (size_t)(end - p))
		return;                 /* changed by an earlier mutation */
	switch (rnd(x) % 5) {
	case 0:         /* point a field at a block */
		put64(field(h, x), h->off[rnd(x) % h->n]);
		break;
	case 1:         /* an edge value */
		put64(field(h, x), edges[rnd(x) % 16]);
		break;
	case 2:         /* another kind */
		p[4] = (uint8_t)(1 + rnd(x) % MM_KIND_MAX);
		seal(p);
		break;
	case 3:         /* merge with the next block */
		if ((size_t)(end - p) < (size_t)a + 8)
			break;
		memcpy(&b, p + a, 4);
		if ((size_t)(end - p) < (size_t)a + b)
			break;
		a += b;
		memcpy(p, &a, 4);
		seal(p);
		break;
	default:        /* split off a tail block */
		if (a < 32)
			break;
		head = 16 * (uint32_t)(1 + rnd(x) % (a / 16 - 1));
		memcpy(p, &head, 4);
		seal(p);
		a -= head;
		memcpy(p + head, &a, 4);
		p[head + 4] = (uint8_t)(1 + rnd(x) % MM_KIND_MAX);
		p[head + 5] = 0;
		seal(p + head);
		break;
	}
}

size_t fz_mutate_arena(uint8_t *data, size_t size, size_t max_size,
		       unsigned int seed)
{
	uint64_t x = seed * 0x9e3779b97f4a7c15ULL | 1;
	struct heap h;

	if (rnd(&x) % 2 == 0) {
		size = LLVMFuzzerMutate(data, size, max_size);
		scan(&h, data, size);
		for (unsigned i = 0; i < h.n; i++)
			seal(data + h.off[i]);
		return size;
	}
	scan(&h, data, size);
	for (int i = (int)(1 + rnd(&x) % 3); i > 0; i--)
		structured(&h, &x);
	return size;
}

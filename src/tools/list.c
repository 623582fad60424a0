/* list.c -- ls and dump: the entry table (list.h).
 *
 * The entry table ("variable table") has one line per entry, columns
 *   TYPE INO MODE LINKS SIZE LAYOUT BLOCK BYTES CHUNKS PATH [EXTRA]
 * TYPE is file, dir, link, ring, fifo, sock, chr or blk; LAYOUT, BLOCK,
 * BYTES and CHUNKS come from store_extent (BLOCK "-" when there is no data
 * block).  The path comes last, escaped (out_escape), then
 * for symlinks " -> TARGET", for rings "  capacity=C head=H tail=T
 * records=R", for devices "  rdev=MAJ:MIN" and with values, for regular
 * files of at most VALUE_MAX bytes, "  value=\"...\"".
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "list.h"
#include "out.h"
#include "ring.h"
#include "view.h"
#include "walk.h"

#define VALUE_MAX 64

static const char *type_name(uint32_t mode, bool ring)
{
	switch (mode & S_IFMT) {
	case S_IFREG: return ring ? "ring" : "file";
	case S_IFDIR: return "dir";
	case S_IFLNK: return "link";
	case S_IFIFO: return "fifo";
	case S_IFSOCK: return "sock";
	case S_IFCHR: return "chr";
	case S_IFBLK: return "blk";
	default: return "?";
	}
}

static void print_link(struct store *s, store_ref ref)
{
	static char target[STORE_SYMLINK_MAX + 1];
	int n = store_readlink(s, ref, target, sizeof(target));

	fputs(" -> ", stdout);
	if (n < 0)
		fputs("?", stdout);
	else
		out_escape(stdout, target, (size_t)n < sizeof(target) ?
			   (size_t)n : sizeof(target), 0);
}

static void print_ring(struct store *s, store_ref ref)
{
	struct ring_stat r;

	if (ring_stat(s, ref, &r) == 0)
		printf("  capacity=%" PRIu64 " head=%" PRIu64 " tail=%"
		       PRIu64 " records=%" PRIu64, r.capacity, r.head, r.tail,
		       r.records);
}

static void print_value(struct store *s, store_ref ref, uint64_t size)
{
	unsigned char buf[VALUE_MAX];
	ssize_t n = store_read(s, ref, 0, buf, (size_t)size);

	if (n < 0)
		return;
	fputs("  value=\"", stdout);
	out_escape(stdout, buf, (size_t)n, OUT_ESC_QUOTE | OUT_ESC_BINARY);
	putchar('"');
}

static void print_extra(struct store *s, store_ref ref,
			const struct store_attr *a, bool ring, bool values)
{
	if (S_ISLNK(a->mode))
		print_link(s, ref);
	else if (ring)
		print_ring(s, ref);
	else if (S_ISCHR(a->mode) || S_ISBLK(a->mode))
		printf("  rdev=%u:%u", major(a->rdev), minor(a->rdev));
	else if (values && S_ISREG(a->mode) && a->size <= VALUE_MAX)
		print_value(s, ref, a->size);
}

static void print_header(bool recursive)
{
	printf("%-4s %8s %4s %5s %12s %-7s %10s %10s %6s %s\n", "TYPE",
	       "INO", "MODE", "LINKS", "SIZE", "LAYOUT", "BLOCK", "BYTES",
	       "CHUNKS", recursive ? "PATH" : "NAME");
}

static int print_entry(struct store *s, store_ref ref, const char *name,
		       size_t len, bool values)
{
	struct store_attr a;
	struct store_extent e;
	char block[24];
	bool ring;
	int rc;

	rc = store_getattr(s, ref, &a);
	if (rc == 0)
		rc = store_extent(s, ref, &e);
	if (rc)
		return rc;
	ring = a.kind == RING_KIND;
	snprintf(block, sizeof(block), "%" PRIu64, e.block);
	printf("%-4s %8" PRIu64 " %04o %5" PRIu32 " %12" PRIu64 " %-7s %10s "
	       "%10" PRIu64 " %6" PRIu64 " ", type_name(a.mode, ring),
	       a.ino, (unsigned)(a.mode & 07777), a.nlink, a.size, e.layout,
	       e.block ? block : "-", e.bytes, e.chunks);
	out_escape(stdout, name, len, 0);
	print_extra(s, ref, &a, ring, values);
	putchar('\n');
	return 0;
}

/* ---- ls and dump ------------------------------------------------------ */

static int list_dir(struct store *s, store_ref dir, const char *path,
		    bool values)
{
	struct store_dirent ent;
	struct store_dir *d;
	struct store_attr a;
	int rc = store_getattr(s, dir, &a);

	if (rc)
		return rc;
	if (!S_ISDIR(a.mode))
		return print_entry(s, dir, path, strlen(path), values);
	rc = store_dir_open(s, dir, &d);
	if (rc)
		return rc;
	while (rc == 0 && store_dir_peek(d, &ent) > 0) {
		rc = print_entry(s, ent.ref, ent.name, ent.namelen, values);
		store_dir_advance(d);
	}
	store_dir_close(d);
	return rc;
}

static int print_visit(void *ctx, struct store *s, store_ref ref,
		       const char *path, size_t len)
{
	return print_entry(s, ref, path, len, *(const bool *)ctx);
}

int list_run(const char *name, const struct target *t, const char *path,
	      bool recursive, bool values)
{
	struct view v;
	store_ref ref;
	char *full;
	int rc, ex = OUT_FAIL;

	if (view_open(name, t, &v))
		return OUT_FAIL;
	full = walk_clean_path(t->inner, path);
	if (!full) {
		out_err(name, "out of memory");
		goto out;
	}
	rc = walk_lookup(v.s, full, &ref);
	if (rc == 0) {
		print_header(recursive);
		rc = recursive ? walk_tree(v.s, ref, full, print_visit,
					   &values) :
				 list_dir(v.s, ref, full, values);
	}
	if (rc) {
		out_err(name, "%s: %s", full, strerror(-rc));
		goto out;
	}
	ex = view_verdict(name, t, &v);
out:
	free(full);
	view_close(&v);
	return ex;
}

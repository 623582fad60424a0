/* summary.c -- mmfsctl stat: what an arena holds and how full it is
 * (summary.h).
 *
 * Space figures come from the header (store_statfs) and a walk of the heap
 * (store_census), both of the arena as it is; the counts by type come from
 * a walk of the namespace, each inode counted once; the request counts
 * from the statistics area, where the daemon keeps them (reqstats.h).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "out.h"
#include "reqstats.h"
#include "ring.h"
#include "summary.h"
#include "view.h"
#include "walk.h"

#define KEY_WIDTH 16

static void key(const char *k)
{
	printf("%-*s", KEY_WIDTH, k);
}

static void line_count(const char *k, uint64_t n)
{
	key(k);
	printf("%" PRIu64 "\n", n);
}

static void line_bytes(const char *k, uint64_t n)
{
	char h[OUT_HUMAN_LEN];

	key(k);
	printf("%" PRIu64 " (%s)\n", n, out_human(n, h));
}

static void line_path(const char *k, const char *path)
{
	key(k);
	if (path)
		out_escape(stdout, path, strlen(path), 0);
	else
		fputs("none", stdout);
	putchar('\n');
}

static void stat_use(const struct target *t, const struct view *v)
{
	struct target_holder h;
	bool held = target_holder(t->arena, &h) == 0 && h.held;

	line_path("arena:", t->arena);
	line_path("mount point:", t->mountpoint);
	key("in use:");
	if (!held)
		puts("no");
	else if (h.pid)
		printf("yes (pid %d, %s)\n", (int)h.pid,
		       h.exclusive ? "read-write" : "read-only");
	else
		printf("yes (%s)\n", h.exclusive ? "read-write" : "read-only");
	line_count("format version:", v->st.format_version);
	key("clean:");
	puts(v->st.clean ? "yes" : held ? "no (in use)" :
	     "no (not closed cleanly; the next mount recovers it)");
}

static void stat_space(const struct view *v)
{
	const struct store_census *c = &v->census;
	uint64_t total = c->free_bytes + c->tail_room;
	double frag = total ? 100.0 * (1.0 - (double)c->largest_free /
				       (double)total) : 0.0;

	line_bytes("size cap:", v->st.size_cap);
	line_bytes("file size:", v->st.file_size);
	line_bytes("used:", v->st.used);
	line_bytes("free:", v->st.free);
	line_count("blocks:", c->blocks);
	line_count("free blocks:", c->free_blocks);
	line_bytes("free bytes:", c->free_bytes);
	line_bytes("largest free:", c->largest_free);
	line_bytes("tail room:", c->tail_room);
	key("fragmentation:");
	printf("%.1f%%\n", frag);
}

/* Entries by type, counting each inode once (a name of a non-directory
 * with several links is set aside, then deduplicated). */
struct tally {
	uint64_t files, dirs, symlinks, rings, others;
	store_ref *linked;
	size_t n, cap;
};

static void classify(struct tally *t, const struct store_attr *a)
{
	switch (a->mode & S_IFMT) {
	case S_IFREG:
		if (a->kind == RING_KIND)
			t->rings++;
		else
			t->files++;
		break;
	case S_IFDIR:
		t->dirs++;
		break;
	case S_IFLNK:
		t->symlinks++;
		break;
	default:
		t->others++;
	}
}

static int count_visit(void *ctx, struct store *s, store_ref ref,
		       const char *path, size_t len)
{
	struct tally *t = ctx;
	struct store_attr a;
	int rc = store_getattr(s, ref, &a);

	if (rc)
		return rc;
	if (S_ISDIR(a.mode) || a.nlink <= 1) {
		classify(t, &a);
		return 0;
	}
	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 64;
		store_ref *l = realloc(t->linked, cap * sizeof(*l));

		if (!l)
			return -ENOMEM;
		t->linked = l;
		t->cap = cap;
	}
	t->linked[t->n++] = ref;
	return 0;
}

static int cmp_ref(const void *a, const void *b)
{
	store_ref x = *(const store_ref *)a, y = *(const store_ref *)b;

	return (x > y) - (x < y);
}

static int count_tree(struct store *s, struct tally *t)
{
	struct store_attr a;
	int rc;

	memset(t, 0, sizeof(*t));
	rc = walk_tree(s, store_root(s), "/", count_visit, t);
	if (t->n)
		qsort(t->linked, t->n, sizeof(*t->linked), cmp_ref);
	for (size_t i = 0; rc == 0 && i < t->n; i++) {
		if (i > 0 && t->linked[i] == t->linked[i - 1])
			continue;
		rc = store_getattr(s, t->linked[i], &a);
		if (rc == 0)
			classify(t, &a);
	}
	free(t->linked);
	t->linked = NULL;
	return rc;
}

static void stat_counts(const struct view *v, const struct tally *t)
{
	line_count("files:", t->files);
	line_count("directories:", t->dirs);
	line_count("symlinks:", t->symlinks);
	line_count("rings:", t->rings);
	line_count("other nodes:", t->others);
	line_count("inodes:", v->st.inodes);
	line_count("max files:", v->st.max_files);
	line_count("orphans:", v->census.orphans);
	line_count("retired blocks:", v->census.retired_blocks);
	key("problems:");
	if (v->verify_failed[0])
		printf("at least 1 (the checker crashed: %s)\n",
		       v->verify_failed);
	else if (v->problems)
		printf("%d (run '" OUT_PROG " check')\n", v->problems);
	else
		puts("0");
}

/* Requests served since the mount, by opcode (the round trips), from
 * the statistics area where the daemon counts them (reqstats.h). */
static void stat_requests(struct view *v)
{
	const struct reqstats *r;
	const char *name;
	char label[48];
	size_t size;
	void *area;

	area = store_stats(v->s, &size);
	r = reqstats_in(area, size);
	if (!r) {
		key("requests:");
		puts("unknown");
		return;
	}
	line_count("requests:", reqstats_total(r));
	for (unsigned i = 0; i < REQSTATS_SLOTS; i++) {
		if (!r->count[i])
			continue;
		name = reqstats_name(i);
		snprintf(label, sizeof(label), "  %s:", name ? name : "other");
		line_count(label, r->count[i]);
	}
}

int summary_run(const char *name, const struct target *t)
{
	struct tally tally;
	struct view v;
	int rc, ex = OUT_FAIL;

	if (view_open(name, t, &v))
		return OUT_FAIL;
	rc = count_tree(v.s, &tally);
	if (rc) {
		out_err(name, "cannot walk the tree: %s", strerror(-rc));
		goto out;
	}
	stat_use(t, &v);
	stat_space(&v);
	stat_counts(&v, &tally);
	stat_requests(&v);
	ex = view_verdict(name, t, &v);
out:
	view_close(&v);
	return ex;
}

/* test_nodes.c -- unit tests of the daemon's node table (src/fs/nodes.h).
 *
 * Drives the table as the FUSE operations do, over a real store: counts
 * and holds of one node, an unlinked file that lives until forgotten or
 * until nodes_finish, forgets the table must ignore, tmpfiles, and
 * thousands of nodes learned and forgotten in random order against a
 * plain array (the table grows and shifts entries back on every removal).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "nodes.h"
#include "ring.h"
#include "store.h"

#define MANY 3000

static int failures;
static char dir_template[] = "/tmp/mmfs-nodes-XXXXXX";
static char arena_path[256];

#define CHECK(cond) do { \
	if (!(cond)) { \
		fprintf(stderr, "%s:%d: CHECK(%s) failed\n", __FILE__, \
			__LINE__, #cond); \
		failures++; \
	} \
} while (0)

static struct store *open_arena(void)
{
	struct store_options o = { .size_cap = 64 << 20,
				   .flags = STORE_OPEN_CREATE };
	struct store *s = NULL;
	char err[256];

	unlink(arena_path);
	if (store_open(arena_path, &o, &s, err, sizeof(err))) {
		fprintf(stderr, "store_open: %s\n", err);
		exit(1);
	}
	return s;
}

static store_ref make(struct store *s, const char *name)
{
	struct store_attr a;
	store_ref ref = 0;

	CHECK(store_mknod(s, store_root(s), name, S_IFREG | 0644, 0, 0, 0,
			  &ref, &a) == 0);
	return ref;
}

static uint64_t live_inodes(struct store *s)
{
	struct store_statfs st;

	store_statfs(s, &st);
	return st.inodes;
}

/* An unlinked file lives while the kernel knows it. */
static void test_one_node(void)
{
	struct store *s = open_arena();
	store_ref a = make(s, "a");
	uint64_t before = live_inodes(s);
	struct nodes t;
	char buf[4];

	nodes_init(&t, s);
	nodes_forget(&t, a, 1);                 /* empty table: ignored */
	CHECK(nodes_count(&t, a) == 0);
	CHECK(nodes_learn(&t, 4096 + 8) == -ESTALE);
	CHECK(t.used == 0 && t.total == 0);
	CHECK(store_write(s, a, 0, "abc", 3, false) == 3);
	CHECK(nodes_learn(&t, a) == 0);
	CHECK(nodes_learn(&t, a) == 0);
	CHECK(nodes_learn(&t, a) == 0);
	CHECK(nodes_count(&t, a) == 3 && t.total == 3 && t.used == 1);
	CHECK(store_unlink(s, store_root(s), "a") == 0);
	nodes_forget(&t, a, 2);
	CHECK(live_inodes(s) == before);
	CHECK(store_read(s, a, 0, buf, sizeof(buf)) == 3);
	nodes_forget(&t, a, 1);
	CHECK(nodes_count(&t, a) == 0 && t.total == 0 && t.used == 0);
	CHECK(live_inodes(s) == before - 1);
	nodes_forget(&t, a, 1);                 /* forgotten: ignored */
	nodes_finish(&t);
	store_close(s);
}

/* At unmount the table lets go of everything: unlinked files go. */
static void test_finish(void)
{
	struct store *s = open_arena();
	store_ref a = make(s, "a"), b = make(s, "b");
	uint64_t before = live_inodes(s);
	struct nodes t;

	nodes_init(&t, s);
	CHECK(nodes_learn(&t, a) == 0);
	CHECK(nodes_learn(&t, b) == 0);
	CHECK(store_unlink(s, store_root(s), "a") == 0);
	nodes_finish(&t);
	CHECK(live_inodes(s) == before - 1);
	CHECK(t.used == 0 && t.total == 0 && t.cap == 0);
	nodes_forget(&t, b, 1);                 /* after finish: ignored */
	CHECK(nodes_learn(&t, b) == 0);         /* usable again */
	CHECK(nodes_count(&t, b) == 1);
	nodes_finish(&t);
	CHECK(live_inodes(s) == before - 1);
	store_close(s);
}

/* A tmpfile's hold goes from the store's creation to the table; it is
 * linkable until told otherwise, and a node forgotten and learned again
 * (another inode at the same place) is not. */
static void test_tmpfile(void)
{
	struct store *s = open_arena();
	store_ref root = store_root(s), t0, t1;
	uint64_t before = live_inodes(s);
	struct store_attr a;
	struct nodes t;

	nodes_init(&t, s);
	CHECK(store_tmpfile_with(s, root, 0600, 0, 0, NULL, 0, &t0, &a) == 0);
	CHECK(nodes_learn(&t, t0) == 0);
	store_release(s, t0);                   /* the table keeps it */
	CHECK(!nodes_linkable(&t, t0));
	nodes_set_linkable(&t, t0, true);
	CHECK(nodes_linkable(&t, t0));
	CHECK(live_inodes(s) == before + 1);
	nodes_forget(&t, t0, 1);                /* never named: freed */
	CHECK(live_inodes(s) == before);
	CHECK(!nodes_linkable(&t, t0));
	CHECK(store_tmpfile_with(s, root, 0600, 0, 0, NULL, 0, &t1, &a) == 0);
	CHECK(nodes_learn(&t, t1) == 0);
	store_release(s, t1);
	CHECK(!nodes_linkable(&t, t1));         /* wherever it lies */
	nodes_set_linkable(&t, t1, true);
	CHECK(store_link_orphan(s, t1, root, "named", &a) == 0);
	nodes_set_linkable(&t, t1, false);
	nodes_forget(&t, t1, 1);                /* named: stays */
	CHECK(live_inodes(s) == before + 1);
	nodes_finish(&t);
	store_close(s);
}

/* Thousands of nodes, learned and forgotten at random; the table must
 * agree with a plain array of counts after every step. */
static void test_many(void)
{
	static store_ref refs[MANY];
	static uint64_t want[MANY];
	struct store *s = open_arena();
	uint64_t total = 0, before;
	struct nodes t;
	char name[32];
	size_t used = 0;

	for (int i = 0; i < MANY; i++) {
		snprintf(name, sizeof(name), "f%d", i);
		refs[i] = make(s, name);
	}
	before = live_inodes(s);
	nodes_init(&t, s);
	srand(11);
	for (int step = 0; step < 40 * MANY; step++) {
		int i = rand() % MANY;
		uint64_t n = want[i] ? (uint64_t)(rand() % (int)want[i]) + 1
				     : 0;

		if (rand() % 3 || !n) {
			CHECK(nodes_learn(&t, refs[i]) == 0);
			used += want[i] == 0;
			want[i]++;
			total++;
		} else {
			nodes_forget(&t, refs[i], n);
			want[i] -= n;
			total -= n;
			used -= want[i] == 0;
		}
		if (step % 997 == 0)
			for (int k = 0; k < MANY; k++)
				CHECK(nodes_count(&t, refs[k]) == want[k]);
		CHECK(t.total == total && t.used == used);
	}
	for (int k = 0; k < MANY; k++) {
		CHECK(nodes_count(&t, refs[k]) == want[k]);
		snprintf(name, sizeof(name), "f%d", k);
		CHECK(store_unlink(s, store_root(s), name) == 0);
	}
	CHECK(live_inodes(s) == before - (MANY - used));
	for (int k = 0; k < MANY; k++)
		nodes_forget(&t, refs[k], want[k]);
	CHECK(t.used == 0 && t.total == 0);
	CHECK(live_inodes(s) == before - MANY);
	nodes_finish(&t);
	store_close(s);
}

int main(void)
{
	if (ring_register() != 0 || !mkdtemp(dir_template))
		return 1;
	snprintf(arena_path, sizeof(arena_path), "%s/arena", dir_template);
	test_one_node();
	test_finish();
	test_tmpfile();
	test_many();
	unlink(arena_path);
	rmdir(dir_template);
	if (failures)
		fprintf(stderr, "%d check(s) failed\n", failures);
	return failures ? 1 : 0;
}

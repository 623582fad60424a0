/* test_dirs.c -- directory positions and cursors (ns.c), and the upgrade
 * of version-1 arenas (upgrade.c, recover.c).
 *
 *   test_dirs DATA_DIR
 *
 * Cursors are driven through store.h as the daemon drives them, and every
 * guarantee of store.h's "Directory cursors" is checked: a pass returns the
 * names that stay put exactly once and ends, whatever happens meanwhile
 * (names renamed away and back, created, removed); seeks go on after a
 * position; positions survive a remount.  The upgrade is checked on
 * arenas that a version-1 mount.mmfs wrote (DATA_DIR, see
 * make-v1-arena.sh): v1-arena, cleanly closed, and v1-upgrade-died, the
 * same arena after a death in mid-upgrade (one name copied and not yet
 * killed).  Exit 0 when every check passed.
 */
#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ring.h"
#include "store.h"
#include "unit.h"

#define NAMES 1000
#define MAX_LISTED (4 * NAMES)

static char tmp_dir[] = "/tmp/mmfs-dirs-XXXXXX";
static char arena[300];
static const char *data_dir;

static struct store *open_flags(uint64_t cap, unsigned flags, int want_rc,
				char *err, size_t errlen)
{
	struct store_options o = { .size_cap = cap, .flags = flags };
	struct store *s = NULL;
	int rc = store_open(arena, &o, &s, err, errlen);

	CHECK(rc == want_rc, "store_open %s: %d (%s), want %d", arena, rc,
	      err, want_rc);
	return rc ? NULL : s;
}

static struct store *open_arena(void)
{
	char err[256] = "";
	struct store *s = open_flags(0, STORE_OPEN_CREATE, 0, err,
				     sizeof(err));

	if (!s)
		exit(1);
	return s;
}

static void print_problem(void *ctx, const char *msg)
{
	fprintf(stderr, "verify %s: %s\n", (const char *)ctx, msg);
}

/* A snapshot of the arena (open or closed) breaks no invariant. */
static void verify(const char *when)
{
	char err[256] = "";
	struct store *s = open_flags(0, STORE_OPEN_SNAPSHOT, 0, err,
				     sizeof(err));

	if (!s)
		return;
	CHECK(store_verify(s, print_problem, (void *)when) == 0,
	      "%s: problems", when);
	store_close(s);
}

static store_ref mkdir_in(struct store *s, store_ref dir, const char *name)
{
	struct store_attr a;
	store_ref ref = 0;

	CHECK(store_mknod(s, dir, name, 0040755, 0, 0, 0, &ref, &a) == 0,
	      "mkdir %s", name);
	return ref;
}

static void create(struct store *s, store_ref dir, const char *name)
{
	struct store_attr a;
	store_ref ref;

	CHECK(store_mknod(s, dir, name, 0100644, 0, 0, 0, &ref, &a) == 0,
	      "create %s", name);
}

static void name_of(const struct store_dirent *e, char *buf)
{
	memcpy(buf, e->name, e->namelen);
	buf[e->namelen] = '\0';
}

static int number_of(const struct store_dirent *e)
{
	char name[STORE_NAME_MAX + 1];

	name_of(e, name);
	return atoi(name);
}

/* A directory of names "0" .. "n-1", made in that order. */
static store_ref numbered_dir(struct store *s, const char *name, int n)
{
	store_ref d = mkdir_in(s, store_root(s), name);
	char buf[16];

	for (int i = 0; i < n; i++) {
		snprintf(buf, sizeof(buf), "%d", i);
		create(s, d, buf);
	}
	return d;
}

/* xfstests generic/736 on the store: each name is renamed away and back
 * as the pass returns it.  Every name comes once, in the order they were
 * made, and the pass ends. */
static void test_rename_away_and_back(void)
{
	struct store *s = open_arena();
	store_ref d = numbered_dir(s, "d", NAMES), other = mkdir_in(s,
		store_root(s), "other");
	struct store_dirent e;
	struct store_dir *c;
	int seen = 0;
	char name[STORE_NAME_MAX + 1];

	CHECK(store_dir_open(s, d, &c) == 0, "open");
	while (seen < MAX_LISTED && store_dir_peek(c, &e) == 1) {
		store_dir_advance(c);
		CHECK(number_of(&e) == seen, "entry %d is %d", seen,
		      number_of(&e));
		name_of(&e, name);
		store_ref to = seen % 2 ? other : d;
		CHECK(store_rename(s, d, name, to, "TEMP", 0) == 0, "away");
		CHECK(store_rename(s, to, "TEMP", d, name, 0) == 0, "back");
		seen++;
	}
	CHECK(seen == NAMES, "the pass returned %d names of %d", seen, NAMES);
	store_dir_close(c);
	verify("after renames");
	store_close(s);
}

/* Names made during a pass are not returned; removed ones at most once
 * (if reached first); the others exactly once.  Here each name is removed
 * as soon as it is returned, and for even k name k + NAMES/2 ahead too,
 * and a name is made.  rewind starts a pass that returns all there is. */
static void test_pass_under_change(void)
{
	struct store *s = open_arena();
	store_ref d = numbered_dir(s, "d", NAMES);
	int count[NAMES] = {0}, listed = 0, half = NAMES / 2;
	struct store_dirent e;
	struct store_dir *c;
	char name[32];

	CHECK(store_dir_open(s, d, &c) == 0, "open");
	create(s, d, "made-before-the-first-peek");
	while (listed < MAX_LISTED && store_dir_peek(c, &e) == 1) {
		int k = number_of(&e);

		name_of(&e, name);
		CHECK(strncmp(name, "made", 4) != 0, "%s listed", name);
		store_dir_advance(c);
		listed++;
		if (k < 0 || k >= NAMES)
			continue;
		count[k]++;
		CHECK(store_unlink(s, d, name) == 0, "unlink %s", name);
		snprintf(name, sizeof(name), "%d", k + half);
		if (k < half && k % 2 == 0)
			CHECK(store_unlink(s, d, name) == 0, "unlink %s",
			      name);
		snprintf(name, sizeof(name), "made-%d", k);
		create(s, d, name);
	}
	store_dir_close(c);
	for (int k = 0; k < NAMES; k++)
		CHECK(count[k] == (k < half || k % 2), "name %d listed %d "
		      "times", k, count[k]);
	CHECK(listed == half + half / 2, "listed %d", listed);
	CHECK(store_dir_open(s, d, &c) == 0, "open");
	store_dir_rewind(c);
	for (listed = 0; store_dir_peek(c, &e) == 1; listed++)
		store_dir_advance(c);
	CHECK(listed == half + half / 2 + 1, "a new pass listed %d", listed);
	store_dir_close(c);
	verify("after a pass under change");
	store_close(s);
}

/* seek(p) goes on after position p, wherever the cursor is, whether or
 * not that name still exists; seek(0) is the start of the same pass. */
static void test_seek(void)
{
	struct store *s = open_arena();
	store_ref d = numbered_dir(s, "d", 100);
	uint64_t pos[100];
	struct store_dirent e;
	struct store_dir *c;

	CHECK(store_dir_open(s, d, &c) == 0, "open");
	for (int k = 0; k < 100 && store_dir_peek(c, &e) == 1; k++) {
		pos[k] = e.pos;
		CHECK(k == 0 || pos[k] > pos[k - 1], "positions grow");
		store_dir_advance(c);
	}
	CHECK(store_unlink(s, d, "50") == 0 && store_unlink(s, d, "51") == 0,
	      "unlink");
	create(s, d, "new");
	store_dir_seek(c, pos[49]);
	CHECK(store_dir_peek(c, &e) == 1 && number_of(&e) == 52,
	      "after 49: %d", number_of(&e));
	store_dir_seek(c, pos[50]);     /* a removed name's position */
	CHECK(store_dir_peek(c, &e) == 1 && number_of(&e) == 52,
	      "after removed 50: %d", number_of(&e));
	store_dir_seek(c, pos[10]);     /* backwards */
	CHECK(store_dir_peek(c, &e) == 1 && number_of(&e) == 11,
	      "after 10: %d", number_of(&e));
	store_dir_seek(c, pos[99]);
	CHECK(store_dir_peek(c, &e) == 0, "after the last: end of the pass");
	store_dir_seek(c, 0);
	CHECK(store_dir_peek(c, &e) == 1 && number_of(&e) == 0, "start");
	store_dir_rewind(c);
	store_dir_seek(c, pos[99]);
	CHECK(store_dir_peek(c, &e) == 1 && strncmp(e.name, "new", 3) == 0,
	      "a new pass returns the new name");
	store_dir_close(c);
	store_close(s);
}

/* Positions and the order of a listing are kept in the arena. */
static void test_positions_survive_remount(void)
{
	struct store *s = open_arena();
	store_ref d = numbered_dir(s, "d", 50);
	uint64_t pos[60];
	int n = 0, again = 0;
	struct store_dirent e;
	struct store_dir *c;

	for (int k = 0; k < 50; k += 3) {
		char name[16];

		snprintf(name, sizeof(name), "%d", k);
		CHECK(store_unlink(s, d, name) == 0, "unlink");
	}
	create(s, d, "99");             /* reuses a freed block */
	CHECK(store_rename(s, d, "1", d, "98", 0) == 0, "rename");
	CHECK(store_dir_open(s, d, &c) == 0, "open");
	for (; n < 60 && store_dir_peek(c, &e) == 1; n++) {
		pos[n] = e.pos;
		store_dir_advance(c);
	}
	store_dir_close(c);
	store_close(s);
	s = open_arena();
	CHECK(store_recovery_report(s)[0] == '\0', "clean reopen: %s",
	      store_recovery_report(s));
	CHECK(store_dir_open(s, d, &c) == 0, "open");
	for (; again < 60 && store_dir_peek(c, &e) == 1; again++) {
		CHECK(again < n && e.pos == pos[again], "entry %d moved",
		      again);
		if (again == n - 2)
			CHECK(number_of(&e) == 99, "made last but one");
		if (again == n - 1)
			CHECK(number_of(&e) == 98, "renamed last");
		store_dir_advance(c);
	}
	CHECK(again == n, "%d entries, then %d", n, again);
	store_dir_close(c);
	store_close(s);
}

static void copy_file(const char *from, const char *to)
{
	char buf[65536];
	int in = open(from, O_RDONLY), out;
	ssize_t n;

	out = open(to, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	CHECK(in >= 0 && out >= 0, "copy %s", from);
	while (in >= 0 && out >= 0 && (n = read(in, buf, sizeof(buf))) > 0)
		CHECK(write(out, buf, (size_t)n) == n, "write");
	close(in);
	close(out);
}

static void use_data(const char *name)
{
	char path[300];

	snprintf(path, sizeof(path), "%s/%s", data_dir, name);
	copy_file(path, arena);
}

/* The list version 1 showed, one name a line: NULL-terminated, static. */
static char **v1_listing(void)
{
	static char *names[200];
	static char text[8192];
	char path[300];
	size_t n = 0, len;
	FILE *f;

	snprintf(path, sizeof(path), "%s/v1-arena.list", data_dir);
	f = fopen(path, "r");
	CHECK(f != NULL, "open %s", path);
	if (!f)
		exit(1);
	len = fread(text, 1, sizeof(text) - 1, f);
	fclose(f);
	text[len] = '\0';
	for (char *line = strtok(text, "\n"); line && n < 199;
	     line = strtok(NULL, "\n"))
		names[n++] = line;
	names[n] = NULL;
	return names;
}

static store_ref lookup(struct store *s, store_ref dir, const char *name,
			struct store_attr *a)
{
	store_ref ref = 0;

	CHECK(store_lookup(s, dir, name, &ref, a) == 0, "lookup %s", name);
	return ref;
}

/* /list of an upgraded v1-arena: the names version 1 listed, in its
 * order, with growing positions; the files as they were. */
static void check_upgraded(struct store *s)
{
	char **want = v1_listing(), name[STORE_NAME_MAX + 1], buf[32];
	store_ref list, ref;
	struct store_dirent e;
	struct store_attr a;
	struct store_dir *c;
	uint64_t last = 0;
	int i = 0;

	list = lookup(s, store_root(s), "list", &a);
	CHECK(store_dir_open(s, list, &c) == 0, "open /list");
	for (; want[i] && store_dir_peek(c, &e) == 1; i++) {
		name_of(&e, name);
		CHECK(strcmp(name, want[i]) == 0, "entry %d: %s, version 1 "
		      "listed %s", i, name, want[i]);
		CHECK(e.pos > last, "positions grow");
		last = e.pos;
		store_dir_advance(c);
	}
	CHECK(!want[i] && store_dir_peek(c, &e) == 0, "as many names");
	store_dir_close(c);
	ref = lookup(s, list, "entry-2", &a);
	CHECK(a.nlink == 2, "entry-2 has its hard link");
	CHECK(store_read(s, ref, 0, buf, sizeof(buf)) == 8 &&
	      memcmp(buf, "value 2\n", 8) == 0, "entry-2's bytes");
	CHECK(store_getxattr(s, ref, "user.k", buf, sizeof(buf)) == 1,
	      "entry-2's xattr");
	ref = lookup(s, list, "symlink", &a);
	CHECK(store_readlink(s, ref, buf, sizeof(buf)) == 11 &&
	      memcmp(buf, "../sub/deep", 11) == 0, "symlink target");
	lookup(s, lookup(s, lookup(s, store_root(s), "sub", &a), "deep", &a),
	       "file", &a);
	CHECK(a.size == 6, "sub/deep/file");
}

/* A version-1 arena: read-only opens refuse it, naming the fix; a
 * writable open upgrades it once; the result verifies and reopens clean. */
static void test_upgrade(void)
{
	char err[256] = "";
	struct store *s;

	use_data("v1-arena");
	open_flags(0, STORE_OPEN_SNAPSHOT, -EPROTONOSUPPORT, err,
		   sizeof(err));
	CHECK(strstr(err, "version 1") && strstr(err, "read-write mount"),
	      "snapshot refusal: %s", err);
	open_flags(0, STORE_OPEN_RDONLY, -EPROTONOSUPPORT, err, sizeof(err));
	s = open_flags(131072, 0, 0, err, sizeof(err));
	if (!s)
		return;
	CHECK(strncmp(store_recovery_report(s), "upgraded from arena format "
		      "version 1 to 2", 40) == 0, "report: %s",
	      store_recovery_report(s));
	check_upgraded(s);
	store_close(s);
	verify("after the upgrade");
	s = open_flags(0, 0, 0, err, sizeof(err));
	if (!s)
		return;
	CHECK(store_recovery_report(s)[0] == '\0', "second open: %s",
	      store_recovery_report(s));
	check_upgraded(s);
	store_close(s);
}

/* The bytes of path, with the lock words that every writable open sets
 * up (format.h: header.lock at 160, file_locks at 1536) zeroed; *len. */
static unsigned char *arena_bytes(const char *path, size_t *len)
{
	static const size_t locks[][2] = { { 160, 64 }, { 1536, 2048 } };
	unsigned char *buf = malloc(1 << 20);
	int fd = open(path, O_RDONLY);
	ssize_t n = fd >= 0 && buf ? read(fd, buf, 1 << 20) : -1;

	close(fd);
	CHECK(n > 4096, "read %s", path);
	if (n <= 4096)
		exit(1);
	for (size_t i = 0; i < 2; i++)
		memset(buf + locks[i][0], 0, locks[i][1]);
	*len = (size_t)n;
	return buf;
}

static bool same_arena(const char *a, const char *b)
{
	size_t la, lb;
	unsigned char *x = arena_bytes(a, &la), *y = arena_bytes(b, &lb);
	bool same = la == lb && memcmp(x, y, la) == 0;

	free(x);
	free(y);
	return same;
}

/* No room under the size cap for the new names: refused, naming the fix,
 * and the file as it was; with a larger cap the upgrade goes through. */
static void test_upgrade_needs_room(void)
{
	char err[256] = "", before[320];
	struct store *s;

	use_data("v1-arena");       /* 4.5 KiB left under its 64 KiB cap */
	snprintf(before, sizeof(before), "%s/before", tmp_dir);
	copy_file(arena, before);
	open_flags(0, 0, -ENOSPC, err, sizeof(err));
	CHECK(strstr(err, "no room to upgrade") && strstr(err, "size="),
	      "refusal: %s", err);
	CHECK(same_arena(arena, before), "a refused upgrade changed the file");
	unlink(before);
	s = open_flags(131072, 0, 0, err, sizeof(err));
	if (s)
		check_upgraded(s);
	store_close(s);
}

/* A death in mid-upgrade (v1-upgrade-died: version 2, 29 names copied,
 * the 30th copied and its old name still LIVE, the rest of version 1's
 * layout): the next open finishes, keeping the first copy. */
static void test_upgrade_after_death(void)
{
	char err[256] = "";
	struct store *s;

	use_data("v1-upgrade-died");
	s = open_flags(0, STORE_OPEN_SNAPSHOT, 0, err, sizeof(err));
	if (s) {
		CHECK(store_verify(s, NULL, NULL) > 0, "a half upgrade");
		CHECK(store_recover(s) == -EPROTONOSUPPORT &&
		      strstr(store_recovery_report(s), "read-write mount"),
		      "a private copy is not upgraded: %s",
		      store_recovery_report(s));
		store_close(s);
	}
	s = open_flags(0, 0, 0, err, sizeof(err));
	if (!s)
		return;
	CHECK(strstr(store_recovery_report(s), "upgraded") &&
	      strstr(store_recovery_report(s), "dropped 1 name"),
	      "report: %s", store_recovery_report(s));
	check_upgraded(s);
	store_close(s);
	verify("after an upgrade that died");
}

int main(int argc, char **argv)
{
	void (*tests[])(void) = {
		test_rename_away_and_back, test_pass_under_change, test_seek,
		test_positions_survive_remount, test_upgrade,
		test_upgrade_needs_room, test_upgrade_after_death,
	};

	if (argc != 2) {
		fprintf(stderr, "usage: test_dirs DATA_DIR\n");
		return 2;
	}
	data_dir = argv[1];
	if (ring_register() != 0 || !mkdtemp(tmp_dir))
		return 1;
	snprintf(arena, sizeof(arena), "%s/arena", tmp_dir);
	for (size_t i = 0; i < sizeof(tests) / sizeof(tests[0]); i++) {
		unlink(arena);
		tests[i]();
	}
	unlink(arena);
	rmdir(tmp_dir);
	return unit_exit("test_dirs");
}

/* test_walk.c -- cleaning of paths inside an arena (walk_clean_path,
 * src/tools/walk.c), and looking clean paths up (walk_lookup).
 *
 * mmfsctl ls resolves its argument against the path a mount point stands
 * for, lexically: links inside an arena are never followed.  Checked on
 * examples ("." and ".." anywhere, ".." above the root, repeated and
 * trailing slashes, names that only look like dots, absolute paths, long
 * paths), then against a component-stack model on random paths, with the
 * properties every clean path has.  walk_lookup is run on a small arena:
 * found, missing, a file used as a directory, a name too long.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ring.h"
#include "walk.h"
#include "unit.h"

static void check_clean(const char *base, const char *path, const char *want)
{
	char *got = walk_clean_path(base, path);

	CHECK(got && strcmp(got, want) == 0,
	      "clean \"%s\" against \"%s\": got \"%s\", want \"%s\"",
	      path ? path : "(null)", base, got ? got : "(null)", want);
	free(got);
}

static void test_examples(void)
{
	static const struct {
		const char *base, *path, *want;
	} cases[] = {
		{ "/", NULL, "/" },
		{ "/a/b", NULL, "/a/b" },
		{ "/", "", "/" },
		{ "/a", "", "/a" },
		{ "/", "a", "/a" },
		{ "/a", "b/c", "/a/b/c" },
		{ "/a/b", "/x", "/x" },              /* absolute: base unused */
		{ "/a/b", "/", "/" },
		{ "/a/b", ".", "/a/b" },
		{ "/a/b", "..", "/a" },
		{ "/a/b", "../..", "/" },
		{ "/a", "../../..", "/" },           /* not above the root */
		{ "/", "..", "/" },
		{ "/", "/../a", "/a" },
		{ "/", "a/b/../../..", "/" },
		{ "/a", "b/..", "/a" },
		{ "/a", "b/../c", "/a/c" },
		{ "/a/b/c", "../../x/../y", "/a/y" },
		{ "/ab/cd", "..", "/ab" },           /* .. drops a whole name */
		{ "/", "a//b///c/", "/a/b/c" },
		{ "//a//", "b", "/a/b" },
		{ "/", "./a/./b/.", "/a/b" },
		{ "/", "///", "/" },
		/* names that only look like . or .. */
		{ "/", "...", "/..." },
		{ "/", "..a/.b/a../b.", "/..a/.b/a../b." },
		{ "/x", ".../..", "/x" },
		{ "/", "a b/\tc", "/a b/\tc" },
		/* a relative base is taken from the root */
		{ "a", "b", "/a/b" },
		{ "", "b", "/b" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		check_clean(cases[i].base, cases[i].path, cases[i].want);
}

/* The model: a stack of components; "" and "." skip, ".." pops. */
static char *model(const char *base, const char *path)
{
	size_t cap = strlen(base) + strlen(path) + 3, n = 0;
	char *joined = malloc(cap), *out = malloc(cap);
	size_t starts[256], depth = 0;

	if (!joined || !out)
		abort();
	snprintf(joined, cap, "%s/%s", path[0] == '/' ? "" : base, path);
	for (char *c = joined; *c;) {
		size_t len = strcspn(c, "/");

		if (len == 1 && c[0] == '.') {
			/* skip */
		} else if (len == 2 && c[0] == '.' && c[1] == '.') {
			if (depth)
				n = starts[--depth];
		} else if (len) {
			starts[depth++] = n;
			out[n++] = '/';
			memcpy(out + n, c, len);
			n += len;
		}
		c += len + (c[len] == '/');
	}
	if (n == 0)
		out[n++] = '/';
	out[n] = '\0';
	free(joined);
	return out;
}

/* What every clean path is: "/" or "/"-separated names, none of them
 * empty, "." or "..", and cleaning it again changes nothing. */
static void check_is_clean(const char *p, const char *from)
{
	char *again = walk_clean_path("/unused", p);
	int ok = p[0] == '/' && (strcmp(p, "/") == 0 ||
				 (p[strlen(p) - 1] != '/' && !strstr(p, "//") &&
				  !strstr(p, "/./") && !strstr(p, "/../")));
	size_t len = strlen(p);

	if (len >= 2 && strcmp(p + len - 2, "/.") == 0)
		ok = 0;
	if (len >= 3 && strcmp(p + len - 3, "/..") == 0)
		ok = 0;
	CHECK(ok, "\"%s\" (from \"%s\") is not clean", p, from);
	CHECK(again && strcmp(again, p) == 0,
	      "cleaning \"%s\" again gave \"%s\"", p, again ? again : "");
	free(again);
}

static void test_model(void)
{
	static const char *const parts[] = {
		"a", "bc", ".", "..", "", "...", ".x", "x..",
	};
	unsigned seed = 7;
	char base[128], path[128];

	for (int k = 0; k < 100000; k++) {
		int nb = rand_r(&seed) % 4, np = rand_r(&seed) % 8;
		size_t b = 0, p = 0;

		b += (size_t)snprintf(base + b, sizeof(base) - b, "/");
		for (int i = 0; i < nb; i++)
			b += (size_t)snprintf(base + b, sizeof(base) - b,
					      "%s/", parts[rand_r(&seed) % 2]);
		if (rand_r(&seed) % 4 == 0)
			p += (size_t)snprintf(path, sizeof(path), "/");
		for (int i = 0; i < np; i++)
			p += (size_t)snprintf(path + p, sizeof(path) - p,
					      i ? "/%s" : "%s",
					      parts[rand_r(&seed) % 8]);
		if (rand_r(&seed) % 4 == 0)
			snprintf(path + p, sizeof(path) - p, "/");

		char *got = walk_clean_path(base, path), *want = model(base, path);

		CHECK(got && strcmp(got, want) == 0,
		      "clean \"%s\" against \"%s\": got \"%s\", want \"%s\"",
		      path, base, got ? got : "(null)", want);
		if (got)
			check_is_clean(got, path);
		free(got);
		free(want);
		if (unit_failures)
			break;
	}
}

/* Long paths: many components, long names, long runs of "..". */
static void test_long(void)
{
	size_t n = 4000 * 2 + 1;
	char *deep = malloc(n + 1), *name = malloc(STORE_NAME_MAX + 2);
	char *ups = malloc(4000 * 3 + 2), *got;

	if (!deep || !name || !ups)
		abort();
	for (size_t i = 0; i < 4000; i++)
		memcpy(deep + 2 * i, "/d", 2);
	deep[8000] = '\0';
	got = walk_clean_path("/", deep);
	CHECK(got && strcmp(got, deep) == 0, "4000 components kept");
	free(got);
	for (size_t i = 0; i < 4000; i++)
		memcpy(ups + 3 * i, "../", 3);
	strcpy(ups + 12000, "x");
	got = walk_clean_path(deep, ups);
	CHECK(got && strcmp(got, "/x") == 0, "4000 .. back to the root: %.60s",
	      got ? got : "(null)");
	free(got);
	memset(name, 'n', STORE_NAME_MAX);
	name[STORE_NAME_MAX] = '\0';
	got = walk_clean_path("/", name);
	CHECK(got && strlen(got) == STORE_NAME_MAX + 1 && got[0] == '/' &&
	      strcmp(got + 1, name) == 0, "a 255-byte name kept whole");
	free(got);
	free(deep);
	free(name);
	free(ups);
}

static void test_lookup(void)
{
	char dir[] = "/tmp/mmfs-unit-walk-XXXXXX", path[64], name[300];
	char p[600];
	struct store_options o = { .flags = STORE_OPEN_CREATE };
	struct store_attr a;
	struct store *s = NULL;
	store_ref d, f, got;
	char err[256];

	if (!mkdtemp(dir))
		abort();
	snprintf(path, sizeof(path), "%s/arena", dir);
	if (store_open(path, &o, &s, err, sizeof(err))) {
		CHECK(0, "store_open: %s", err);
		return;
	}
	CHECK(store_mknod(s, store_root(s), "d", 0040755, 0, 0, 0, &d, &a) ==
	      0, "mkdir d");
	memset(name, 'f', STORE_NAME_MAX);
	name[STORE_NAME_MAX] = '\0';
	CHECK(store_mknod(s, d, name, 0100644, 0, 0, 0, &f, &a) == 0,
	      "create a 255-byte name");
	CHECK(walk_lookup(s, "/", &got) == 0 && got == store_root(s),
	      "lookup /");
	CHECK(walk_lookup(s, "/d", &got) == 0 && got == d, "lookup /d");
	CHECK(walk_lookup(s, "//d//", &got) == 0 && got == d, "lookup //d//");
	char *full = walk_clean_path("/d", name);

	CHECK(full && walk_lookup(s, full, &got) == 0 && got == f,
	      "lookup /d/<255 bytes>");
	free(full);
	CHECK(walk_lookup(s, "/nope", &got) == -ENOENT, "lookup /nope");
	CHECK(walk_lookup(s, "/d/nope/x", &got) == -ENOENT,
	      "lookup /d/nope/x");
	snprintf(p, sizeof(p), "/d/%s/x", name);
	CHECK(walk_lookup(s, p, &got) == -ENOTDIR, "a file as a directory");
	name[STORE_NAME_MAX] = 'f';
	name[STORE_NAME_MAX + 1] = '\0';
	snprintf(p, sizeof(p), "/d/%s", name);
	CHECK(walk_lookup(s, p, &got) == -ENAMETOOLONG,
	      "a 256-byte name");
	store_close(s);
	unlink(path);
	rmdir(dir);
}

int main(void)
{
	CHECK(ring_register() == 0, "ring_register");
	test_examples();
	test_model();
	test_long();
	test_lookup();
	return unit_exit("test_walk");
}

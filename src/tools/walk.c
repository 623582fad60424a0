/* walk.c -- paths and depth-first walks inside an arena (walk.h).
 *
 * The walk keeps an explicit stack of directory cursors and one growing
 * path buffer, so a deep tree costs heap, not C stack.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "walk.h"

/* "/"-rooted, with ".", ".." and empty components resolved lexically
 * (links inside the arena are never followed, so this is exact). */
char *walk_clean_path(const char *base, const char *path)
{
	char *in, *out, *save = NULL;
	size_t n = 0;

	if (!path)
		path = "";
	if (asprintf(&in, "%s/%s", path[0] == '/' ? "" : base, path) < 0)
		return NULL;
	out = malloc(strlen(in) + 2);
	if (!out)
		goto out;
	for (char *c = strtok_r(in, "/", &save); c;
	     c = strtok_r(NULL, "/", &save)) {
		if (strcmp(c, ".") == 0)
			continue;
		if (strcmp(c, "..") == 0) {
			while (n > 0 && out[--n] != '/')
				;
			continue;
		}
		n += (size_t)sprintf(out + n, "/%s", c);
	}
	if (n == 0)
		out[n++] = '/';
	out[n] = '\0';
out:
	free(in);
	return out;
}

int walk_lookup(struct store *s, const char *path, store_ref *out)
{
	char name[STORE_NAME_MAX + 1];
	struct store_attr a;
	store_ref ref = store_root(s);
	int rc = 0;

	for (const char *p = path; *p && rc == 0;) {
		size_t len;

		while (*p == '/')
			p++;
		len = strcspn(p, "/");
		if (len == 0)
			break;
		if (len > STORE_NAME_MAX)
			return -ENAMETOOLONG;
		memcpy(name, p, len);
		name[len] = '\0';
		rc = store_lookup(s, ref, name, &ref, &a);
		p += len;
	}
	*out = ref;
	return rc;
}

struct pathbuf {
	char *p;
	size_t len, cap;
};

/* Truncate to len, then append "/name" ("name" after the root's "/"). */
static int pb_set(struct pathbuf *b, size_t len, const char *name,
		  size_t namelen)
{
	size_t need = len + namelen + 2;

	if (need > b->cap) {
		char *p = realloc(b->p, need * 2);

		if (!p)
			return -ENOMEM;
		b->p = p;
		b->cap = need * 2;
	}
	b->len = len;
	if (b->len == 0 || b->p[b->len - 1] != '/')
		b->p[b->len++] = '/';
	memcpy(b->p + b->len, name, namelen);
	b->len += namelen;
	b->p[b->len] = '\0';
	return 0;
}

struct frame {
	struct store_dir *d;
	size_t len;         /* length of the directory's path */
};

struct stack {
	struct frame *f;
	size_t depth, cap;
};

static int push(struct stack *st, struct store *s, store_ref dir,
		size_t len)
{
	int rc;

	if (st->depth == st->cap) {
		size_t cap = st->cap ? st->cap * 2 : 16;
		struct frame *f = realloc(st->f, cap * sizeof(*f));

		if (!f)
			return -ENOMEM;
		st->f = f;
		st->cap = cap;
	}
	rc = store_dir_open(s, dir, &st->f[st->depth].d);
	if (rc == 0)
		st->f[st->depth++].len = len;
	return rc;
}

struct walk {
	struct store *s;
	struct stack st;
	struct pathbuf pb;
	walk_visit_fn visit;
	void *ctx;
};

/* One step of the walk: the next entry of the innermost directory. */
static int walk_step(struct walk *w)
{
	struct frame *top = &w->st.f[w->st.depth - 1];
	struct store_dirent ent;
	int rc;

	if (store_dir_peek(top->d, &ent) <= 0) {
		store_dir_close(top->d);
		w->st.depth--;
		return 0;
	}
	rc = pb_set(&w->pb, top->len, ent.name, ent.namelen);
	store_dir_advance(top->d);
	if (rc == 0)
		rc = w->visit(w->ctx, w->s, ent.ref, w->pb.p, w->pb.len);
	if (rc == 0 && S_ISDIR(ent.mode))
		rc = push(&w->st, w->s, ent.ref, w->pb.len);
	return rc;
}

int walk_tree(struct store *s, store_ref top, const char *path,
	      walk_visit_fn visit, void *ctx)
{
	struct walk w = { .s = s, .visit = visit, .ctx = ctx };
	struct store_attr a;
	int rc;

	rc = store_getattr(s, top, &a);
	if (rc == 0)
		rc = visit(ctx, s, top, path, strlen(path));
	if (rc || !S_ISDIR(a.mode))
		return rc;
	rc = pb_set(&w.pb, 0, path + 1, strlen(path + 1));
	if (rc == 0)
		rc = push(&w.st, s, top, w.pb.len);
	while (rc == 0 && w.st.depth > 0)
		rc = walk_step(&w);
	while (w.st.depth > 0)
		store_dir_close(w.st.f[--w.st.depth].d);
	free(w.st.f);
	free(w.pb.p);
	return rc;
}

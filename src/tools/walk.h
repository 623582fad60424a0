/* walk.h -- paths and depth-first walks inside an arena.
 *
 * Paths inside an arena are "/"-rooted; links inside it are never
 * followed.  The arena must be a verified or recovered view (view.h):
 * these functions trust its directory lists.
 */
#ifndef MMFSCTL_WALK_H
#define MMFSCTL_WALK_H

#include <stddef.h>

#include "store.h"

/* path resolved against base (unless it starts with '/'), with ".", ".."
 * and repeated slashes removed lexically: "/a/b", or "/".  malloc'd; NULL
 * when out of memory.  path may be NULL (base itself). */
char *walk_clean_path(const char *base, const char *path);

/* The inode a clean path names.  -ENOENT, -ENOTDIR, -ENAMETOOLONG. */
int walk_lookup(struct store *s, const char *path, store_ref *out);

/* Called for every entry with its full path (len bytes, NUL-terminated);
 * a non-zero return stops the walk and is returned by walk_tree. */
typedef int (*walk_visit_fn)(void *ctx, struct store *s, store_ref ref,
			     const char *path, size_t len);

/* Visit top, named path, then, depth first and in directory order, every
 * entry below it.  0 or the first error (-errno or from visit). */
int walk_tree(struct store *s, store_ref top, const char *path,
	      walk_visit_fn visit, void *ctx);

#endif

/* list.h -- mmfsctl ls and dump: the table of entries of an arena.
 *
 * Works on a view (view.h) of the arena a target names and never modifies
 * it.  Returns an exit code (out.h): OUT_OK, or OUT_FAIL after one
 * "mmfsctl: NAME: reason" line; an arena in need of recovery is listed as
 * recovery will leave it (view_verdict says what that means).
 */
#ifndef MMFSCTL_LIST_H
#define MMFSCTL_LIST_H

#include <stdbool.h>

#include "target.h"

/* With recursive (dump) every entry at and below path with its full path,
 * else (ls) the entries of directory path, or the one entry path names.
 * path is inside the arena, relative to t->inner unless it starts with
 * '/'; NULL means t->inner.  values: show small file contents too.  name
 * is what the user typed, for messages. */
int list_run(const char *name, const struct target *t, const char *path,
	     bool recursive, bool values);

#endif

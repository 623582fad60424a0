/* view.h -- a private picture of an arena that is safe to walk.
 *
 * The store's readers trust the arena's structures; on a damaged arena
 * they could follow garbage.  view_open therefore takes one snapshot and
 * verifies it in a child process (guard.h), which leaves the parent's
 * copy untouched and survives a checker that faults.  When every invariant
 * holds, the snapshot is read as it is; when some do not, recovery runs on
 * it first and the view shows the arena as the next mount (or check
 * --repair) will leave it.  An arena that even recovery refuses is
 * reported as damaged.  Nothing ever writes the file.
 */
#ifndef MMFSCTL_VIEW_H
#define MMFSCTL_VIEW_H

#include <stdbool.h>
#include <stddef.h>

#include "store.h"
#include "target.h"

struct view {
	struct store *s;          /* the snapshot to read */
	int problems;             /* invariants broken in the arena as it is */
	char verify_failed[64];   /* "": the checker ran; else how it died */
	bool recovered;           /* s shows the arena after recovery */
	struct store_statfs st;   /* header figures of the arena as it is */
	struct store_census census; /* its heap as it is (lock words too) */
};

/* A private copy of the arena (store_open with STORE_OPEN_SNAPSHOT).  If
 * the arena lock cannot be had within 15 seconds (a hung daemon) the
 * process prints one line and exits 1. */
int view_snapshot(const char *arena, struct store **out, char *err,
		  size_t errlen);

/* Open a view of the target's arena.  When the file is missing, foreign,
 * truncated or damaged beyond recovery: one "mmfsctl: NAME: reason" line
 * and -errno.  name is what the user typed. */
int view_open(const char *name, const struct target *t, struct view *v);
void view_close(struct view *v);

/* After a command's output: say on stderr what is wrong with the arena
 * and return the exit code.  Problems in an arena that was not closed
 * cleanly and is not in use are expected (a note, OUT_OK); anywhere else
 * they are damage (OUT_FAIL).  name is what the user typed. */
int view_verdict(const char *name, const struct target *t,
		 const struct view *v);

#endif

/* summary.h -- mmfsctl stat: capacity, space, fragmentation, counts and
 * flags of an arena, one "key: value" line each.
 *
 * Works on a view (view.h) and never modifies the arena.  Returns an exit
 * code (out.h); see view_verdict for arenas in need of recovery.  name is
 * what the user typed, for messages.
 */
#ifndef MMFSCTL_SUMMARY_H
#define MMFSCTL_SUMMARY_H

#include "target.h"

int summary_run(const char *name, const struct target *t);

#endif

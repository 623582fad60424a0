/* check.h -- mmfsctl check: verify an arena's invariants, and repair it.
 *
 * check_run snapshots the arena (under its lock if it is mounted) and
 * reports every broken invariant (store_verify), then what recovery would
 * do about them (store_recover on the copy).  Exit OUT_OK when there is
 * nothing wrong, OUT_FAIL with the report otherwise.
 *
 * With repair it then opens the arena writable, which takes the arena's
 * exclusive flock (a mounted arena is refused: unmount it first) and runs
 * recovery on the file itself; then it checks again and exits OUT_OK only
 * if the arena is consistent now.
 */
#ifndef MMFSCTL_CHECK_H
#define MMFSCTL_CHECK_H

#include <stdbool.h>

#include "target.h"

int check_run(const char *name, const struct target *t, bool repair);

#endif

/* guard.h -- run work on untrusted arenas in child processes, so that no
 * arena, however damaged, makes mmfsctl die without saying why.
 *
 * The store's checker and readers trust more of the arena than they
 * verify; some damage makes them fault.  Two tools:
 *
 *   guard_run   runs a whole command in a child and passes its exit code
 *               on; a child killed by a signal becomes one line,
 *               "mmfsctl: WHAT: damaged arena? reading it failed (SIGNAL)",
 *               and exit code 1.  SIGPIPE (output closed early) ends the
 *               parent the same way, silently.
 *   guard_call  runs one step (store_verify, store_recover) in a child and
 *               returns what it wrote and how it ended.  The child works on
 *               a copy-on-write image of the parent, so a private snapshot
 *               it scribbles on (verify's marks) stays pristine here.
 */
#ifndef MMFSCTL_GUARD_H
#define MMFSCTL_GUARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

int guard_run(const char *what, int (*fn)(void *ctx), void *ctx);

struct guard_result {
	char *out;        /* what the child wrote to its stream, NUL-ended */
	size_t len;
	int status;       /* the child's exit code, if it exited */
	int signal;       /* the signal that killed it, 0 if none */
	bool failed;      /* it was killed or exited non-zero: */
	char why[64];     /* "Segmentation fault", "exit status 1" */
};

/* Run fn(ctx, out) in a child; fn's return value (0..255) is its exit
 * code, and anything but 0 counts as a failure (a sanitizer reports a
 * fault by exiting 1).  Returns 0, and r->out must then be released with
 * guard_result_free; or -errno (fork, pipe, out of memory). */
int guard_call(int (*fn)(void *ctx, FILE *out), void *ctx,
	       struct guard_result *r);
void guard_result_free(struct guard_result *r);

#endif

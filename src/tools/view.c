/* view.c -- verified or recovered snapshots for the readers (view.h). */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "guard.h"
#include "out.h"
#include "target.h"
#include "view.h"

#define VIEW_LOCK_TIMEOUT 15   /* seconds to wait for the arena lock */

/* A snapshot of a mounted arena is copied under the arena lock, and
 * pthread_mutex_lock waits for ever on a hung daemon (or on a lock word
 * naming a thread that is gone but was never marked dead).  The alarm
 * turns that into one line and exit status 1. */
static const char *alarm_arena;

static void lock_timeout(int sig)
{
	static const char head[] = OUT_PROG ": ";
	static const char tail[] = ": timed out waiting for the arena lock "
				   "(held by a hung or vanished process)\n";
	ssize_t ignored;

	(void)sig;
	ignored = write(STDERR_FILENO, head, sizeof(head) - 1);
	ignored = write(STDERR_FILENO, alarm_arena, strlen(alarm_arena));
	ignored = write(STDERR_FILENO, tail, sizeof(tail) - 1);
	(void)ignored;
	_exit(OUT_FAIL);
}

static int snapshot_with_timeout(const char *arena, struct store **out,
				 char *err, size_t errlen)
{
	struct store_options o = { .flags = STORE_OPEN_SNAPSHOT };
	struct sigaction sa = { .sa_handler = lock_timeout }, old;
	int rc;

	alarm_arena = arena;
	sigaction(SIGALRM, &sa, &old);
	alarm(VIEW_LOCK_TIMEOUT);
	rc = store_open(arena, &o, out, err, errlen);
	alarm(0);
	sigaction(SIGALRM, &old, NULL);
	return rc;
}

int view_snapshot(const char *arena, struct store **out, char *err,
		  size_t errlen)
{
	*out = NULL;
	return snapshot_with_timeout(arena, out, err, errlen);
}

/* In a child: verify the copy it inherited, write the count. */
static int verify_child(void *ctx, FILE *out)
{
	fprintf(out, "%d\n", store_verify(ctx, NULL, NULL));
	return 0;
}

/* Count the broken invariants without touching v->s (verify marks blocks
 * and counts names in lock words, so it runs on the child's copy). */
static int count_problems(struct view *v, char *err, size_t errlen)
{
	struct guard_result r;
	int rc = guard_call(verify_child, v->s, &r);

	if (rc) {
		snprintf(err, errlen, "cannot verify: %s", strerror(-rc));
		return rc;
	}
	if (r.failed) {
		v->problems = 1;        /* at least: the checker crashed */
		snprintf(v->verify_failed, sizeof(v->verify_failed), "%s",
			 r.why);
	} else if (sscanf(r.out, "%d", &v->problems) != 1 || v->problems < 0) {
		snprintf(err, errlen, "cannot verify the arena");
		rc = -EIO;
	}
	guard_result_free(&r);
	return rc;
}

static int load(const char *arena, struct view *v, char *err, size_t errlen)
{
	int rc;

	rc = view_snapshot(arena, &v->s, err, errlen);
	if (rc)
		return rc;
	store_statfs(v->s, &v->st);
	store_census(v->s, &v->census);
	rc = count_problems(v, err, errlen);
	if (rc || v->problems == 0)
		return rc;
	rc = store_recover(v->s);
	if (rc) {
		snprintf(err, errlen, "damaged arena: %s",
			 store_recovery_report(v->s));
		return rc;
	}
	v->recovered = true;
	return 0;
}

int view_open(const char *name, const struct target *t, struct view *v)
{
	char err[512];
	int rc;

	memset(v, 0, sizeof(*v));
	rc = load(t->arena, v, err, sizeof(err));
	if (rc) {
		out_err(name, "%s", err);
		view_close(v);
	}
	return rc;
}

/* After the output: say what is wrong with the arena, pick the exit code. */
int view_verdict(const char *name, const struct target *t,
		 const struct view *v)
{
	struct target_holder h;

	if (!v->problems)
		return OUT_OK;
	if (!v->st.clean && !(target_holder(t->arena, &h) == 0 && h.held)) {
		out_err(name, "note: not closed cleanly; shown as the next "
			"mount will recover it");
		return OUT_OK;
	}
	if (v->verify_failed[0])
		out_err(name, "damaged arena: the checker crashed on it (%s); "
			"run '" OUT_PROG " check %s'", v->verify_failed,
			t->arena);
	else
		out_err(name, "damaged arena: %d problem(s); run '" OUT_PROG
			" check %s'", v->problems, t->arena);
	return OUT_FAIL;
}

void view_close(struct view *v)
{
	store_close(v->s);
	memset(v, 0, sizeof(*v));
}

/* check.c -- verify and repair an arena (check.h).
 *
 * What a finding means depends on how the arena was left:
 *   closed cleanly          every invariant must hold: a problem is damage;
 *   in use (mounted)        the snapshot is taken under the arena lock, so
 *                           it must verify too (open unlinked files are
 *                           orphans, not problems);
 *   not closed cleanly and  problems are the traces of an interrupted
 *   not in use              operation, which the next mount's recovery
 *                           (or --repair) removes.
 * In every case the report lists the problems and what recovery would do.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "guard.h"
#include "out.h"
#include "view.h"

struct findings {
	char **msg;               /* store_verify's reports */
	size_t n, cap;
	int problems;             /* its count (may exceed n) */
	char verify_failed[64];   /* "", or how the checker died */
	bool clean;               /* the header's clean flag */
	int recover_rc;           /* store_recover on the copy */
	char recovery[512];       /* its report */
};

static void add(struct findings *f, const char *msg, size_t len)
{
	char *copy = strndup(msg, len);

	if (f->n == f->cap) {
		size_t cap = f->cap ? f->cap * 2 : 16;
		char **m = realloc(f->msg, cap * sizeof(*m));

		if (!m) {
			free(copy);
			return;
		}
		f->msg = m;
		f->cap = cap;
	}
	if (copy)
		f->msg[f->n++] = copy;
}

static void findings_free(struct findings *f)
{
	for (size_t i = 0; i < f->n; i++)
		free(f->msg[i]);
	free(f->msg);
	memset(f, 0, sizeof(*f));
}

/* Children (guard_call) get a copy-on-write image of the snapshot.
 * Verify writes "- PROBLEM" lines, then "= COUNT"; recovery writes
 * "RC REPORT". */
static void report_line(void *ctx, const char *msg)
{
	fprintf(ctx, "- %s\n", msg);
}

static int verify_child(void *ctx, FILE *out)
{
	fprintf(out, "= %d\n", store_verify(ctx, report_line, out));
	return 0;
}

static int recover_child(void *ctx, FILE *out)
{
	int rc = store_recover(ctx);

	fprintf(out, "%d %s\n", rc, store_recovery_report(ctx));
	return 0;
}

static void parse_verify(struct findings *f, const struct guard_result *r)
{
	bool counted = false;

	for (const char *p = r->out; *p;) {
		size_t len = strcspn(p, "\n");

		if (p[0] == '-' && len >= 2)
			add(f, p + 2, len - 2);
		else if (p[0] == '=')
			counted = sscanf(p, "= %d", &f->problems) == 1;
		p += len + (p[len] == '\n');
	}
	if (r->failed || !counted) {
		snprintf(f->verify_failed, sizeof(f->verify_failed), "%s",
			 r->failed ? r->why : "no result");
		f->problems = (int)f->n + 1;
	}
}

static void parse_recover(struct findings *f, const struct guard_result *r)
{
	int used = 0;

	if (r->failed) {
		f->recover_rc = -EFAULT;
		snprintf(f->recovery, sizeof(f->recovery),
			 "recovery crashed on it (%s)", r->why);
	} else if (sscanf(r->out, "%d %n", &f->recover_rc, &used) == 1) {
		snprintf(f->recovery, sizeof(f->recovery), "%.*s",
			 (int)strcspn(r->out + used, "\n"), r->out + used);
	} else {
		f->recover_rc = -EIO;
		snprintf(f->recovery, sizeof(f->recovery), "no report");
	}
}

/* Snapshot, verify, and try recovery, each step in a child. */
static int examine(const char *name, const char *arena, struct findings *f)
{
	struct store_statfs st;
	struct guard_result r;
	struct store *s = NULL;
	char err[512];
	int rc;

	memset(f, 0, sizeof(*f));
	rc = view_snapshot(arena, &s, err, sizeof(err));
	if (rc) {
		out_err(name, "%s", err);
		return rc;
	}
	store_statfs(s, &st);
	f->clean = st.clean;
	rc = guard_call(verify_child, s, &r);
	if (rc == 0) {
		parse_verify(f, &r);
		guard_result_free(&r);
		rc = guard_call(recover_child, s, &r);
	}
	if (rc == 0) {
		parse_recover(f, &r);
		guard_result_free(&r);
	} else {
		out_err(name, "cannot check: %s", strerror(-rc));
	}
	store_close(s);
	return rc;
}

static const char *plural(int n)
{
	return n == 1 ? "" : "s";
}

static void print_findings(const char *arena, const struct findings *f,
			   const char *state)
{
	printf("%s: %d problem%s (%s):\n", arena, f->problems,
	       plural(f->problems), state);
	for (size_t i = 0; i < f->n; i++) {
		fputs("  ", stdout);    /* names in messages may be garbage */
		out_escape(stdout, f->msg[i], strlen(f->msg[i]), 0);
		putchar('\n');
	}
	if (f->verify_failed[0])
		printf("  the checker crashed on the arena (%s); more may be "
		       "wrong\n", f->verify_failed);
	else if ((size_t)f->problems > f->n)
		printf("  ... and %zu more\n", (size_t)f->problems - f->n);
	if (f->recover_rc)
		printf("recovery cannot repair it: %s\n", f->recovery);
	else if (f->recovery[0])
		printf("recovery would do: %s\n", f->recovery);
	else
		printf("recovery would rebuild the derived state (free lists, "
		       "name index, directory lists, counters)\n");
}

static const char *state_of(const struct findings *f,
			    const struct target_holder *h, char *buf,
			    size_t len)
{
	if (h->held && h->pid)
		snprintf(buf, len, "in use by pid %d", (int)h->pid);
	else if (h->held)
		snprintf(buf, len, "in use");
	else
		snprintf(buf, len, "%s", f->clean ? "closed cleanly" :
			 "not closed cleanly");
	return buf;
}

/* The report of a plain check, and its exit code. */
static int judge(const char *name, const struct target *t,
		 const struct findings *f, const struct target_holder *h)
{
	char state[64];

	state_of(f, h, state, sizeof(state));
	if (f->problems == 0) {
		printf("%s: consistent (%s)\n", t->arena, state);
		if (!f->clean && !h->held)
			printf("the next mount (or check --repair) runs "
			       "recovery: %s\n", f->recovery[0] ?
			       f->recovery : "nothing to repair");
		return OUT_OK;
	}
	print_findings(t->arena, f, state);
	if (f->recover_rc)
		out_err(name, "damaged arena: %s (cannot be repaired)",
			f->recovery);
	else if (h->held)
		out_err(name, "%d problem%s in a snapshot of the arena in use",
			f->problems, plural(f->problems));
	else if (!f->clean)
		out_err(name, "not closed cleanly: %d problem%s left by an "
			"interrupted operation; mount it or run '" OUT_PROG
			" check --repair %s'", f->problems,
			plural(f->problems), t->arena);
	else
		out_err(name, "damaged arena: %d problem%s; run '" OUT_PROG
			" check --repair %s'", f->problems,
			plural(f->problems), t->arena);
	return OUT_FAIL;
}

/* Open the arena writable (recovery runs), close it (marks it clean). */
static int repair(const char *name, const struct target *t,
		  const struct findings *before)
{
	struct store_options o = {0};
	struct store *s = NULL;
	char err[512];
	int rc = store_open(t->arena, &o, &s, err, sizeof(err));

	if (rc == -EBUSY) {
		out_err(name, "%s; unmount it first", err);
		return rc;
	}
	if (rc) {
		out_err(name, "cannot repair: %s", err);
		return rc;
	}
	if (store_recovery_report(s)[0])
		printf("repaired: %s\n", store_recovery_report(s));
	else if (before->problems)
		printf("repaired: rebuilt the derived state (free lists, name "
		       "index, directory lists, counters)\n");
	store_close(s);
	return 0;
}

/* Check again after a repair. */
static int recheck(const char *name, const struct target *t,
		   struct findings *f)
{
	findings_free(f);
	if (examine(name, t->arena, f))
		return OUT_FAIL;
	if (f->problems == 0) {
		printf("%s: consistent now\n", t->arena);
		return OUT_OK;
	}
	print_findings(t->arena, f, "after repair");
	out_err(name, "%d problem%s remain after repair", f->problems,
		plural(f->problems));
	return OUT_FAIL;
}

static int repair_and_recheck(const char *name, const struct target *t,
			      struct findings *f,
			      const struct target_holder *h)
{
	char state[64];

	if (f->problems)
		print_findings(t->arena, f, state_of(f, h, state,
						     sizeof(state)));
	if (f->problems == 0 && f->clean && !h->held) {
		printf("%s: consistent (closed cleanly); nothing to repair\n",
		       t->arena);
		return OUT_OK;
	}
	if (h->held) {
		out_err(name, "arena is %s; unmount it first",
			state_of(f, h, state, sizeof(state)));
		return OUT_FAIL;
	}
	if (f->recover_rc) {
		out_err(name, "damaged arena: %s (cannot be repaired)",
			f->recovery);
		return OUT_FAIL;
	}
	if (repair(name, t, f))
		return OUT_FAIL;
	return recheck(name, t, f);
}

int check_run(const char *name, const struct target *t, bool do_repair)
{
	struct target_holder h;
	struct findings f;
	int ex;

	if (examine(name, t->arena, &f))
		return OUT_FAIL;
	if (target_holder(t->arena, &h) != 0)
		memset(&h, 0, sizeof(h));
	ex = do_repair ? repair_and_recheck(name, t, &f, &h) :
			 judge(name, t, &f, &h);
	findings_free(&f);
	return ex;
}

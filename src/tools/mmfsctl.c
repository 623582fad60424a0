/* mmfsctl.c -- the mmfs administration tool: command line and dispatch.
 *
 *   mmfsctl stat  ARENA|MOUNTPOINT
 *   mmfsctl ls    [-v] [ARENA|MOUNTPOINT|PATH] [PATH]
 *   mmfsctl dump  [-v] [ARENA|MOUNTPOINT|PATH] [PATH]
 *   mmfsctl check [--repair] ARENA|MOUNTPOINT
 *
 * Each command resolves its target (target.h) and hands it, in a child
 * process (guard.h), to summary.c, list.c or check.c, which do the work
 * and return the exit code: 0 success, 1 a failure reported in one
 * "mmfsctl: WHAT: reason" line, 2 a usage error.
 */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "guard.h"
#include "list.h"
#include "out.h"
#include "ring.h"
#include "summary.h"
#include "target.h"

#ifndef MMFS_VERSION
#define MMFS_VERSION "unknown"
#endif

struct command {
	const char *name;
	int (*run)(int argc, char *argv[]);
};

static void usage(FILE *f)
{
	fputs("Usage: " OUT_PROG " COMMAND [OPTIONS] ARGS...\n"
	      "Inspect, check and repair mmfs arenas.\n"
	      "\n"
	      "Commands:\n"
	      "  stat  ARENA|MOUNTPOINT        size, use, fragmentation, "
	      "counts, flags\n"
	      "  ls    [-v] [TARGET] [PATH]    entries of one directory "
	      "(default /)\n"
	      "  dump  [-v] [TARGET] [PATH]    every entry of the tree, "
	      "with full paths\n"
	      "  check [-r] ARENA|MOUNTPOINT   verify every invariant of the "
	      "arena\n"
	      "\n"
	      "Options:\n"
	      "  -v, --values   ls, dump: show regular files of up to 64 "
	      "bytes\n"
	      "  -r, --repair   check: repair what recovery can (the arena "
	      "must not be mounted)\n"
	      "  -h, --help     show this help and exit\n"
	      "  -V, --version  show the version and exit\n"
	      "\n"
	      "TARGET is an arena file, an mmfs mount point or a path inside "
	      "a mounted mmfs\n"
	      "(default: the current directory); PATH is a path inside the "
	      "arena.\n"
	      "Nothing but 'check --repair' ever writes the arena; the others "
	      "read a private\n"
	      "snapshot, taken under the arena lock when it is mounted.\n"
	      "Exit status: 0 success, 1 failure or problems found, 2 usage "
	      "error.\n"
	      "See mmfsctl(8).\n", f);
}

static void version(void)
{
	printf(OUT_PROG " (mmfs) %s, arena format %u\n", MMFS_VERSION,
	       STORE_FORMAT_VERSION);
}

/* Parse a command's options; -1 means continue, else an exit code. */
static int parse(int argc, char *argv[], const char *shorts,
		 const struct option *longs, bool *flag)
{
	int c;

	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, shorts, longs, NULL)) != -1) {
		switch (c) {
		case 'h':
			usage(stdout);
			return OUT_OK;
		case 'V':
			version();
			return OUT_OK;
		case 'v':
		case 'r':
			*flag = true;
			break;
		default:
			return out_usage("%s: unknown option '%s'", argv[0],
					 argv[optind - 1]);
		}
	}
	return -1;
}

static const struct option common_opts[] = {
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ NULL, 0, NULL, 0 },
};

static const struct option list_opts[] = {
	{ "values", no_argument, NULL, 'v' },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ NULL, 0, NULL, 0 },
};

static const struct option check_opts[] = {
	{ "repair", no_argument, NULL, 'r' },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ NULL, 0, NULL, 0 },
};

/* A resolved command, run under guard_run. */
struct job {
	const char *name;         /* the argument, for messages */
	struct target t;
	const char *path;         /* ls, dump: PATH inside the arena */
	bool recursive, flag;     /* dump; --values or --repair */
	int (*run)(struct job *j);
};

static int job_main(void *ctx)
{
	struct job *j = ctx;

	return j->run(j);
}

static int start(struct job *j, const char *arg)
{
	char err[512];
	int ex;

	j->name = arg;
	if (target_resolve(arg, &j->t, err, sizeof(err))) {
		out_err(arg, "%s", err);
		return OUT_FAIL;
	}
	ex = guard_run(arg, job_main, j);
	target_finish(&j->t);
	return ex;
}

static int run_stat(struct job *j)
{
	return summary_run(j->name, &j->t);
}

static int run_list(struct job *j)
{
	return list_run(j->name, &j->t, j->path, j->recursive, j->flag);
}

static int run_check(struct job *j)
{
	return check_run(j->name, &j->t, j->flag);
}

static int cmd_stat(int argc, char *argv[])
{
	struct job j = { .run = run_stat };
	int ex = parse(argc, argv, "hV", common_opts, &j.flag);

	if (ex >= 0)
		return ex;
	if (argc - optind != 1)
		return out_usage("stat: expected one ARENA or MOUNTPOINT");
	return start(&j, argv[optind]);
}

static int list(int argc, char *argv[], bool recursive)
{
	struct job j = { .run = run_list, .recursive = recursive };
	int ex = parse(argc, argv, "vhV", list_opts, &j.flag);

	if (ex >= 0)
		return ex;
	if (argc - optind > 2)
		return out_usage("%s: expected [ARENA|MOUNTPOINT] [PATH]",
				 argv[0]);
	if (argc - optind == 2)
		j.path = argv[optind + 1];
	return start(&j, argc - optind >= 1 ? argv[optind] : ".");
}

static int cmd_ls(int argc, char *argv[])
{
	return list(argc, argv, false);
}

static int cmd_dump(int argc, char *argv[])
{
	return list(argc, argv, true);
}

static int cmd_check(int argc, char *argv[])
{
	struct job j = { .run = run_check };
	int ex = parse(argc, argv, "rhV", check_opts, &j.flag);

	if (ex >= 0)
		return ex;
	if (argc - optind != 1)
		return out_usage("check: expected one ARENA or MOUNTPOINT");
	return start(&j, argv[optind]);
}

static const struct command commands[] = {
	{ "stat", cmd_stat },
	{ "ls", cmd_ls },
	{ "dump", cmd_dump },
	{ "check", cmd_check },
};

int main(int argc, char *argv[])
{
	const char *cmd = argc > 1 ? argv[1] : NULL;

	if (ring_register() != 0) {
		fprintf(stderr, "%s: this build cannot read rings\n", OUT_PROG);
		return OUT_FAIL;
	}
	if (!cmd)
		return out_usage("missing command");
	if (strcmp(cmd, "-h") == 0 || strcmp(cmd, "--help") == 0 ||
	    strcmp(cmd, "help") == 0) {
		usage(stdout);
		return OUT_OK;
	}
	if (strcmp(cmd, "-V") == 0 || strcmp(cmd, "--version") == 0) {
		version();
		return OUT_OK;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(cmd, commands[i].name) == 0)
			return commands[i].run(argc - 1, argv + 1);
	if (cmd[0] == '-')
		return out_usage("unknown option '%s'", cmd);
	return out_usage("unknown command '%s'", cmd);
}

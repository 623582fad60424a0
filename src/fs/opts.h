/* opts.h -- the mount.mmfs command line.
 *
 * mount.mmfs [-f] [-d] [-o OPT[,OPT...]] [ARENA] MOUNTPOINT, options
 * anywhere (mount(8) passes them after the positional arguments).
 * mmfs_opts_parse sorts every option into one of three kinds:
 *   - mmfs options (size=, name=, max_files=, ring_size=, arena_mode=,
 *     arena_group=, ...), which end up in store_options or in the
 *     daemon's own fields;
 *   - kernel/FUSE mount options (allow_other, dirsync, ...), collected
 *     verbatim in fuse_opts for fuse_session_new, and the per-mount
 *     flags [no]suid, [no]dev, [no]exec, resolved with their defaults
 *     (which depend on the name the program runs under) and added there;
 *   - mount(8)-only options (defaults, noauto, x-*, ...), dropped.
 * Anything else is an error.  With remount, only ro and the per-mount
 * flags count (the permission options are not checked, and user_id= and
 * group_id=, which mount(8) copies from the mount table, are accepted).
 * allow_other without default_permissions is refused (mmfs checks no
 * permissions itself), and so is acl with no_default_permissions (the
 * kernel checks ACLs as part of default_permissions, which acl implies).
 * Invariants after a successful parse:
 * mountpoint is set; a value given for size/max_files is > 0, one given
 * for ring_size a ring capacity (RING_CAPACITY_MIN to _MAX, ring.h);
 * store.mode is 0 or STORE_MODE_MIN to _MAX without other bits, and
 * store.mode and store.set_group come with a read-write mount only;
 * nosuid, nodev and noexec are 0 or 1; atime says what the access-time
 * options decided, as the kernel decides for a local file system
 * (strictatime beats noatime; relatime is the default).
 */
#ifndef MMFS_OPTS_H
#define MMFS_OPTS_H

#include <stdbool.h>
#include <stdio.h>

#include "store.h"

/* When a read updates atime (mmfs(7), ACCESS TIMES). */
enum mmfs_atime {
	MMFS_ATIME_RELATIVE,    /* relatime: the first read after a change,
				   or once a day (the default) */
	MMFS_ATIME_STRICT,      /* strictatime: every read */
	MMFS_ATIME_NEVER,       /* noatime */
};

struct mmfs_opts {
	char *arena;            /* first positional, NULL when only one */
	char *mountpoint;       /* last positional */
	char *name;             /* name=: default arena /dev/shm/mmfs.NAME */
	char *fuse_opts;        /* comma list for fuse_session_new, or NULL */
	struct store_options store;
	bool foreground;        /* -f (and -d) */
	bool debug;             /* -d */
	bool help, version;     /* -h, -V: print and exit 0 */
	bool ro;
	bool remount;           /* -o remount: change a mount (remount.h) */
	char *remount_only;     /* the first user_id=/group_id= given */
	int nosuid, nodev, noexec;  /* 1 set, 0 cleared: the last of noX and
	                               X given, else the default (opts.c) */
	bool allow_other;
	bool default_permissions;
	bool no_default_permissions;
	bool acl;               /* acl: POSIX ACLs (acl.h); noacl undoes */
	unsigned threads;       /* threads=: serving threads */
	bool noatime, strictatime;  /* as given, last one of a pair wins */
	bool nodiratime;        /* reads of directories never update atime */
	enum mmfs_atime atime;  /* what they decide */
};

#define MMFS_THREADS_MAX 64
/* The default of threads=: half the online CPUs, 1 to
 * MMFS_THREADS_DEFAULT_MAX.  Requests take microseconds, and the clients
 * that send them need CPUs too: on 2 CPUs one thread served 1 to 8
 * clients faster than 2 or 4 threads (docs/BENCHMARKS.md). */
#define MMFS_THREADS_DEFAULT_MAX 4
unsigned mmfs_threads_default(void);

/* Parse argv into o (zeroed first).  Returns 0, or -1 after printing a
 * one-line error to stderr.  mmfs_opts_free releases what it allocated. */
int mmfs_opts_parse(int argc, char *argv[], struct mmfs_opts *o);
void mmfs_opts_free(struct mmfs_opts *o);

/* Print the usage summary, listing every option. */
void mmfs_opts_usage(FILE *f);

#endif

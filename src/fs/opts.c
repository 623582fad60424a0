/* opts.c -- the mount.mmfs command line (see opts.h).
 *
 * One fuse_opt table names every option the daemon knows, each with a key
 * saying what to do with it; opt_proc does it.  The usage text below lists
 * the same options and must be kept in step with the table (and with
 * man/mount.mmfs.8).
 */
#define FUSE_USE_VERSION 34

#include <ctype.h>
#include <errno.h>
#include <fuse_opt.h>
#include <grp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "opts.h"
#include "ring.h"

enum opt_key {
	KEY_HELP,
	KEY_VERSION,
	KEY_FOREGROUND,
	KEY_DEBUG,
	KEY_SIZE,
	KEY_NAME,
	KEY_MAX_FILES,
	KEY_RING_SIZE,
	KEY_THREADS,
	KEY_ARENA_MODE,
	KEY_ARENA_GROUP,
	KEY_RO,
	KEY_RW,
	KEY_ALLOW_OTHER,
	KEY_DEFAULT_PERMISSIONS,
	KEY_NO_DEFAULT_PERMISSIONS,
	KEY_ACL,
	KEY_NOACL,
	KEY_REMOUNT,
	KEY_REMOUNT_ONLY, /* the kernel's, copied by mount(8) into a remount */
	KEY_MNT_FLAG,   /* [no]suid, [no]dev, [no]exec (set_mnt_flag) */
	KEY_ATIME,      /* the access-time options: set_atime_option */
	KEY_KERNEL,     /* handed to fuse_session_new as given */
	KEY_DROP,       /* meant for mount(8) or fstab: ignored */
};

static const struct fuse_opt opt_table[] = {
	FUSE_OPT_KEY("-h", KEY_HELP),
	FUSE_OPT_KEY("--help", KEY_HELP),
	FUSE_OPT_KEY("-V", KEY_VERSION),
	FUSE_OPT_KEY("--version", KEY_VERSION),
	FUSE_OPT_KEY("-f", KEY_FOREGROUND),
	FUSE_OPT_KEY("-d", KEY_DEBUG),
	FUSE_OPT_KEY("debug", KEY_DEBUG),

	FUSE_OPT_KEY("size=", KEY_SIZE),
	FUSE_OPT_KEY("name=", KEY_NAME),
	FUSE_OPT_KEY("max_files=", KEY_MAX_FILES),
	FUSE_OPT_KEY("ring_size=", KEY_RING_SIZE),
	FUSE_OPT_KEY("threads=", KEY_THREADS),
	FUSE_OPT_KEY("arena_mode=", KEY_ARENA_MODE),
	FUSE_OPT_KEY("arena_group=", KEY_ARENA_GROUP),
	FUSE_OPT_KEY("ro", KEY_RO),
	FUSE_OPT_KEY("rw", KEY_RW),
	FUSE_OPT_KEY("allow_other", KEY_ALLOW_OTHER),
	FUSE_OPT_KEY("default_permissions", KEY_DEFAULT_PERMISSIONS),
	FUSE_OPT_KEY("no_default_permissions", KEY_NO_DEFAULT_PERMISSIONS),
	FUSE_OPT_KEY("acl", KEY_ACL),
	FUSE_OPT_KEY("noacl", KEY_NOACL),
	FUSE_OPT_KEY("atime", KEY_ATIME),
	FUSE_OPT_KEY("noatime", KEY_ATIME),
	FUSE_OPT_KEY("strictatime", KEY_ATIME),
	FUSE_OPT_KEY("nostrictatime", KEY_ATIME),
	FUSE_OPT_KEY("relatime", KEY_ATIME),
	FUSE_OPT_KEY("norelatime", KEY_ATIME),
	FUSE_OPT_KEY("diratime", KEY_ATIME),
	FUSE_OPT_KEY("nodiratime", KEY_ATIME),

	FUSE_OPT_KEY("remount", KEY_REMOUNT),
	FUSE_OPT_KEY("user_id=", KEY_REMOUNT_ONLY),
	FUSE_OPT_KEY("group_id=", KEY_REMOUNT_ONLY),

	FUSE_OPT_KEY("nosuid", KEY_MNT_FLAG),
	FUSE_OPT_KEY("suid", KEY_MNT_FLAG),
	FUSE_OPT_KEY("nodev", KEY_MNT_FLAG),
	FUSE_OPT_KEY("dev", KEY_MNT_FLAG),
	FUSE_OPT_KEY("noexec", KEY_MNT_FLAG),
	FUSE_OPT_KEY("exec", KEY_MNT_FLAG),
	FUSE_OPT_KEY("dirsync", KEY_KERNEL),
	FUSE_OPT_KEY("auto_unmount", KEY_KERNEL),
	FUSE_OPT_KEY("max_read=", KEY_KERNEL),
	FUSE_OPT_KEY("context=", KEY_KERNEL),
	FUSE_OPT_KEY("fscontext=", KEY_KERNEL),
	FUSE_OPT_KEY("defcontext=", KEY_KERNEL),
	FUSE_OPT_KEY("rootcontext=", KEY_KERNEL),

	/* mount(8) and fstab; "x-*" and "comment=*" are dropped in opt_proc */
	FUSE_OPT_KEY("defaults", KEY_DROP),
	FUSE_OPT_KEY("auto", KEY_DROP),
	FUSE_OPT_KEY("noauto", KEY_DROP),
	FUSE_OPT_KEY("user", KEY_DROP),
	FUSE_OPT_KEY("user=", KEY_DROP),
	FUSE_OPT_KEY("nouser", KEY_DROP),
	FUSE_OPT_KEY("users", KEY_DROP),
	FUSE_OPT_KEY("owner", KEY_DROP),
	FUSE_OPT_KEY("group", KEY_DROP),
	FUSE_OPT_KEY("_netdev", KEY_DROP),
	FUSE_OPT_KEY("nofail", KEY_DROP),
	FUSE_OPT_KEY("lazytime", KEY_DROP),
	FUSE_OPT_KEY("nolazytime", KEY_DROP),
	FUSE_OPT_KEY("async", KEY_DROP),
	FUSE_OPT_KEY("sync", KEY_DROP),
	/* flags mount(8) gives its helpers: sloppy, no mtab, verbose, type */
	FUSE_OPT_KEY("-s", KEY_DROP),
	FUSE_OPT_KEY("-n", KEY_DROP),
	FUSE_OPT_KEY("-v", KEY_DROP),
	FUSE_OPT_KEY("-t ", KEY_DROP),
	FUSE_OPT_END
};

void mmfs_opts_usage(FILE *f)
{
	fprintf(f,
"usage: mount.mmfs [-f] [-d] [-o OPT[,OPT...]] [ARENA] MOUNTPOINT\n"
"       mount.mmfs -h | -V\n"
"\n"
"Serve the mmfs arena file ARENA at MOUNTPOINT (a missing arena is created).\n"
"Without ARENA: /dev/shm/mmfs.NAME, NAME from name= or the mount point's\n"
"absolute path with '/' turned into '-' (/mnt/shm -> mnt-shm).\n"
"\n"
"  -f                        stay in the foreground\n"
"  -d                        debug: print FUSE requests (implies -f)\n"
"  -h, --help                print this help and exit\n"
"  -V, --version             print the version and exit\n"
"  -o OPT[,OPT...]           mount options:\n"
"     size=SIZE                cap on the arena size (suffixes K M G T,\n"
"                              powers of 1024; default %lluM, at most 16T)\n"
"     name=NAME                default arena /dev/shm/mmfs.NAME\n"
"     max_files=N              limit on the number of files (default %llu)\n"
"     ring_size=SIZE           capacity of new ring logs, 64 to 2G - 1\n"
"                              (default %lluK)\n"
"     threads=N                threads serving requests, 1 to %u\n"
"                              (default: half the CPUs, 1 to %u; %u here)\n"
"     arena_mode=MODE          mode of the arena file, octal, %04o to %04o\n"
"                              (default: %04o when created, else kept): who\n"
"                              may attach with libmmfs (read: read-only)\n"
"     arena_group=GROUP        group of the arena file (a name or a number)\n"
"     ro                       mount read-only; rw: read-write (default)\n"
"     remount                  change ro/rw, [no]suid, [no]dev, [no]exec of\n"
"                              the mmfs mounted at MOUNTPOINT (and nothing\n"
"                              else: other options are ignored)\n"
"     allow_other              let other users in (implies\n"
"                              default_permissions)\n"
"     default_permissions      let the kernel check permissions\n"
"     no_default_permissions   not implied by allow_other (refused with\n"
"                              allow_other: mmfs checks no permissions)\n"
"     acl                      POSIX ACLs, checked by the kernel (implies\n"
"                              default_permissions)\n"
"     noacl                    no POSIX ACLs (the default)\n"
"     relatime                 a read updates atime if it is not after mtime\n"
"                              or ctime, or a day old (the default)\n"
"     strictatime              every read updates atime\n"
"     noatime                  reads never update atime\n"
"     nodiratime               listings never update a directory's atime\n"
"     atime, diratime, nostrictatime\n"
"                              undo noatime, nodiratime, strictatime\n"
"     norelatime               changes nothing (as on Linux)\n"
"     nosuid, suid, nodev, dev, noexec, exec\n"
"                              for the kernel; default nosuid,nodev (as\n"
"                              mount.fuse.mmfs run by root: suid,dev)\n"
"     dirsync, auto_unmount, max_read=N, context=, fscontext=,\n"
"     defcontext=, rootcontext=\n"
"                              passed to the kernel\n"
"     defaults, auto, noauto, user, nouser, users, owner, group, _netdev,\n"
"     nofail, x-*, comment=*, [no]lazytime, async, sync\n"
"                              for mount(8) and fstab: ignored\n"
"     user_id=, group_id=      the kernel's: ignored in a remount\n",
		(unsigned long long)(STORE_DEFAULT_SIZE >> 20),
		(unsigned long long)STORE_DEFAULT_MAX_FILES,
		(unsigned long long)(STORE_DEFAULT_RING_SIZE >> 10),
		MMFS_THREADS_MAX, MMFS_THREADS_DEFAULT_MAX,
		mmfs_threads_default(), STORE_MODE_MIN,
		STORE_MODE_MAX, STORE_MODE_MIN);
}

/* Parse a positive decimal number, with an optional K/M/G/T suffix (powers
 * of 1024) when suffix is set.  Returns 0 or -1. */
static int parse_number(const char *s, bool suffix, uint64_t *out)
{
	static const char units[] = "KMGT";
	unsigned long long v;
	unsigned shift = 0;
	const char *u;
	char *end;

	if (!isdigit((unsigned char)*s))
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno)
		return -1;
	if (suffix && *end) {
		u = strchr(units, toupper((unsigned char)*end));
		if (!u)
			return -1;
		shift = 10 * (unsigned)(u - units + 1);
		end++;
	}
	if (*end || v == 0 || v > (UINT64_MAX >> shift))
		return -1;
	*out = (uint64_t)v << shift;
	return 0;
}

static int bad_value(const char *arg)
{
	fprintf(stderr, "mount.mmfs: bad value in option '%s'\n", arg);
	return -1;
}

static int set_number(const char *arg, bool suffix, uint64_t *out)
{
	return parse_number(strchr(arg, '=') + 1, suffix, out) ? bad_value(arg)
							       : 0;
}

unsigned mmfs_threads_default(void)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	long n = cpus > 0 ? cpus / 2 : 1;

	if (n < 1)
		n = 1;
	return n > MMFS_THREADS_DEFAULT_MAX ? MMFS_THREADS_DEFAULT_MAX
					    : (unsigned)n;
}

static int set_threads(struct mmfs_opts *o, const char *arg)
{
	uint64_t n;

	if (parse_number(strchr(arg, '=') + 1, false, &n) ||
	    n > MMFS_THREADS_MAX)
		return bad_value(arg);
	o->threads = (unsigned)n;
	return 0;
}

/* ring_size=: a ring capacity (ring.h), or no ring could be created. */
static int set_ring_size(const char *arg, uint64_t *out)
{
	if (set_number(arg, true, out))
		return -1;
	if (*out >= RING_CAPACITY_MIN && *out <= RING_CAPACITY_MAX)
		return 0;
	fprintf(stderr, "mount.mmfs: bad value in option '%s': a ring's "
		"capacity is %llu to %llu bytes\n", arg,
		(unsigned long long)RING_CAPACITY_MIN,
		(unsigned long long)RING_CAPACITY_MAX);
	return -1;
}

/* arena_mode=: octal permission bits that let the owner read and write
 * and nobody execute (STORE_MODE_MIN to STORE_MODE_MAX, store.h). */
static int set_arena_mode(struct mmfs_opts *o, const char *arg)
{
	const char *v = strchr(arg, '=') + 1;
	unsigned long mode;
	char *end;

	if (!*v || strspn(v, "01234567") != strlen(v) || strlen(v) > 12) {
		fprintf(stderr, "mount.mmfs: bad value in option '%s': an "
			"octal mode such as 0660\n", arg);
		return -1;
	}
	mode = strtoul(v, &end, 8);
	if (mode & ~(unsigned long)STORE_MODE_MAX) {
		fprintf(stderr, "mount.mmfs: bad value in option '%s': at "
			"most %04o (no execute, set-ID or sticky bits)\n", arg,
			STORE_MODE_MAX);
		return -1;
	}
	if ((mode & STORE_MODE_MIN) != STORE_MODE_MIN) {
		fprintf(stderr, "mount.mmfs: bad value in option '%s': the "
			"owner must read and write it (%04o)\n", arg,
			STORE_MODE_MIN);
		return -1;
	}
	o->store.mode = (uint32_t)mode;
	return 0;
}

/* The gid of group name, -1 if there is none (or no memory to look). */
static int64_t group_gid(const char *name)
{
	struct group gr, *found = NULL;
	int64_t gid = -1;
	int rc = ERANGE;

	for (size_t len = 4096; rc == ERANGE && len <= (1u << 20); len *= 2) {
		char *buf = malloc(len);

		if (!buf)
			break;
		rc = getgrnam_r(name, &gr, buf, len, &found);
		if (rc == 0 && found)
			gid = found->gr_gid;
		free(buf);
	}
	return gid;
}

/* arena_group=: a group name, else a number (as chown(1) takes them). */
static int set_arena_group(struct mmfs_opts *o, const char *arg)
{
	const char *v = strchr(arg, '=') + 1;
	int64_t gid = *v ? group_gid(v) : -1;
	unsigned long long n;
	char *end;

	if (gid < 0 && isdigit((unsigned char)*v)) {
		errno = 0;
		n = strtoull(v, &end, 10);
		if (errno == 0 && !*end && n < UINT32_MAX)
			gid = (int64_t)n;
	}
	if (gid < 0 || gid >= UINT32_MAX) {
		fprintf(stderr, "mount.mmfs: unknown group '%s' in option "
			"'%s'\n", v, arg);
		return -1;
	}
	o->store.set_group = true;
	o->store.gid = (uint32_t)gid;
	return 0;
}

static int set_name(struct mmfs_opts *o, const char *arg)
{
	const char *v = strchr(arg, '=') + 1;

	if (!*v || strchr(v, '/') || !strcmp(v, ".") || !strcmp(v, ".."))
		return bad_value(arg);
	free(o->name);
	o->name = strdup(v);
	return o->name ? 0 : -1;
}

/* One access-time option: the flag it sets or clears, as mount(8) has
 * it.  relatime is the default and norelatime does not change it (on
 * Linux too: strictatime is the way out of it). */
static void set_atime_option(struct mmfs_opts *o, const char *arg)
{
	bool set = strncmp(arg, "no", 2) != 0;
	const char *flag = set ? arg : arg + 2;

	if (!strcmp(flag, "atime"))
		o->noatime = !set;
	else if (!strcmp(flag, "strictatime"))
		o->strictatime = set;
	else if (!strcmp(flag, "diratime"))
		o->nodiratime = !set;
}

/* What the flags decide, as Linux decides it for a mount. */
static enum mmfs_atime atime_policy(const struct mmfs_opts *o)
{
	if (o->strictatime)
		return MMFS_ATIME_STRICT;
	return o->noatime ? MMFS_ATIME_NEVER : MMFS_ATIME_RELATIVE;
}

static int add_positional(struct mmfs_opts *o, const char *arg)
{
	char *copy;

	if (o->arena) {
		fprintf(stderr, "mount.mmfs: too many arguments: '%s'\n", arg);
		return -1;
	}
	copy = strdup(arg);
	if (!copy)
		return -1;
	o->arena = o->mountpoint;       /* the earlier one was the arena */
	o->mountpoint = copy;
	return 0;
}

/* nosuid/suid, nodev/dev, noexec/exec: the last one given wins. */
static int set_mnt_flag(struct mmfs_opts *o, const char *arg)
{
	bool no = strncmp(arg, "no", 2) == 0;
	const char *flag = no ? arg + 2 : arg;

	if (strcmp(flag, "suid") == 0)
		o->nosuid = no;
	else if (strcmp(flag, "dev") == 0)
		o->nodev = no;
	else
		o->noexec = no;
	return 0;
}

static bool is_dropped_prefix(const char *arg)
{
	return !strncmp(arg, "x-", 2) || !strncmp(arg, "comment=", 8);
}

static int unknown_option(const char *arg)
{
	if (is_dropped_prefix(arg))
		return 0;
	fprintf(stderr, "mount.mmfs: unknown option '%s'\n", arg);
	return -1;
}

/* fuse_opt callback: returns -1 on error, 0 to drop arg (we keep none). */
static int opt_proc(void *data, const char *arg, int key,
		    struct fuse_args *outargs)
{
	struct mmfs_opts *o = data;

	switch (key) {
	case FUSE_OPT_KEY_NONOPT:
		return add_positional(o, arg);
	case FUSE_OPT_KEY_OPT:
		return unknown_option(arg);
	case KEY_HELP:
		o->help = true;
		return 0;
	case KEY_VERSION:
		o->version = true;
		return 0;
	case KEY_DEBUG:
		o->debug = true;        /* -d implies -f */
		o->foreground = true;
		return 0;
	case KEY_FOREGROUND:
		o->foreground = true;
		return 0;
	case KEY_SIZE:
		return set_number(arg, true, &o->store.size_cap);
	case KEY_NAME:
		return set_name(o, arg);
	case KEY_MAX_FILES:
		return set_number(arg, false, &o->store.max_files);
	case KEY_RING_SIZE:
		return set_ring_size(arg, &o->store.ring_size);
	case KEY_THREADS:
		return set_threads(o, arg);
	case KEY_ARENA_MODE:
		return set_arena_mode(o, arg);
	case KEY_ARENA_GROUP:
		return set_arena_group(o, arg);
	case KEY_RO:
	case KEY_RW:
		o->ro = key == KEY_RO;
		return 0;
	case KEY_ALLOW_OTHER:
		o->allow_other = true;
		return 0;
	case KEY_DEFAULT_PERMISSIONS:
		o->default_permissions = true;
		return 0;
	case KEY_NO_DEFAULT_PERMISSIONS:
		o->no_default_permissions = true;
		return 0;
	case KEY_ACL:
	case KEY_NOACL:
		o->acl = key == KEY_ACL;
		return 0;
	case KEY_REMOUNT:
		o->remount = true;
		return 0;
	case KEY_REMOUNT_ONLY:
		if (!o->remount_only)
			o->remount_only = strdup(arg);
		return o->remount_only ? 0 : -1;
	case KEY_MNT_FLAG:
		return set_mnt_flag(o, arg);
	case KEY_ATIME:
		set_atime_option(o, arg);
		return 0;
	case KEY_KERNEL:
		return fuse_opt_add_opt_escaped(&o->fuse_opts, arg);
	case KEY_DROP:
		return 0;
	}
	return unknown_option(arg);
}

/* Does the kernel check permissions (default_permissions, given or
 * implied by allow_other or acl)? */
static bool kernel_checks(const struct mmfs_opts *o)
{
	return o->default_permissions ||
	       ((o->allow_other || o->acl) && !o->no_default_permissions);
}

/* Without default_permissions a FUSE server must check permissions
 * itself, and mmfs checks none: with allow_other every user could read
 * and change every file.  And the kernel checks ACLs only as part of
 * default_permissions (it turns it on for FUSE_CAP_POSIX_ACL).  Both
 * refused (mount.mmfs(8) says why). */
static int check_permissions(const struct mmfs_opts *o)
{
	if (o->acl && !kernel_checks(o)) {
		fprintf(stderr, "mount.mmfs: acl needs default_permissions: "
			"the kernel checks ACLs with the mode bits\n");
		return -1;
	}
	if (!o->allow_other || kernel_checks(o))
		return 0;
	fprintf(stderr, "mount.mmfs: allow_other needs default_permissions: "
		"mmfs checks no permissions itself\n");
	return -1;
}

/* A read-only mount changes nothing in the arena file, its mode and
 * group neither. */
static int check_arena_access(const struct mmfs_opts *o)
{
	if (!o->ro || (!o->store.mode && !o->store.set_group))
		return 0;
	fprintf(stderr, "mount.mmfs: arena_mode= and arena_group= need a "
		"read-write mount\n");
	return -1;
}

/* Is argv0 mount.fuse.mmfs, the name mount(8) runs for type fuse.mmfs? */
static bool is_helper(const char *argv0)
{
	const char *base = strrchr(argv0, '/');

	base = base ? base + 1 : argv0;
	return strncmp(base, "mount.fuse.", 11) == 0;
}

/* nosuid and nodev when not given.  mount(8) passes nosuid and nodev to
 * its helper, never suid or dev (the absence of the "no" means them), so
 * the helper run by root mounts dev,suid unless told otherwise, as
 * mount.fuse3 does and as mount(8) mounts every file system.  Run under
 * its own name, or by another user (fusermount3 allows neither), it
 * mounts nosuid,nodev, libfuse's default.  exec unless noexec. */
static void default_mnt_flags(struct mmfs_opts *o, const char *argv0)
{
	int no = !(is_helper(argv0) && geteuid() == 0);

	if (o->nosuid < 0)
		o->nosuid = no;
	if (o->nodev < 0)
		o->nodev = no;
	if (o->noexec < 0)
		o->noexec = 0;
}

/* Add the options decided by flags (rather than passed through) to the
 * list for fuse_session_new.  noatime goes to the kernel too, so that
 * /proc/mounts shows it (libfuse 3.14 passes no other atime flag); the
 * kernel updates no atime of a FUSE file itself either way. */
static int add_flag_opts(struct mmfs_opts *o)
{
	bool perms = kernel_checks(o);

	if (fuse_opt_add_opt(&o->fuse_opts, o->nosuid ? "nosuid" : "suid") ||
	    fuse_opt_add_opt(&o->fuse_opts, o->nodev ? "nodev" : "dev") ||
	    (o->noexec && fuse_opt_add_opt(&o->fuse_opts, "noexec")))
		return -1;
	if (o->ro && fuse_opt_add_opt(&o->fuse_opts, "ro"))
		return -1;
	if (o->allow_other && fuse_opt_add_opt(&o->fuse_opts, "allow_other"))
		return -1;
	if (perms && fuse_opt_add_opt(&o->fuse_opts, "default_permissions"))
		return -1;
	if (o->atime == MMFS_ATIME_NEVER &&
	    fuse_opt_add_opt(&o->fuse_opts, "noatime"))
		return -1;
	return 0;
}

/* user_id= and group_id= are what the kernel shows of a FUSE mount:
 * mount(8) repeats them in a remount, and nobody sets them otherwise. */
static int check_remount_only(const struct mmfs_opts *o)
{
	if (o->remount || !o->remount_only)
		return 0;
	fprintf(stderr, "mount.mmfs: option '%s' is set by the kernel "
		"(accepted in a remount only)\n", o->remount_only);
	return -1;
}

int mmfs_opts_parse(int argc, char *argv[], struct mmfs_opts *o)
{
	struct fuse_args args = FUSE_ARGS_INIT(argc, argv);
	int rc;

	memset(o, 0, sizeof(*o));
	o->threads = mmfs_threads_default();
	o->nosuid = o->nodev = o->noexec = -1;
	rc = fuse_opt_parse(&args, o, opt_table, opt_proc);
	fuse_opt_free_args(&args);
	if (rc)
		return -1;
	if (o->help || o->version)
		return 0;
	if (!o->mountpoint) {
		fprintf(stderr, "mount.mmfs: no mount point given "
			"(mount.mmfs -h for help)\n");
		return -1;
	}
	if (check_remount_only(o))
		return -1;
	default_mnt_flags(o, argc > 0 ? argv[0] : "mount.mmfs");
	if (o->remount)
		return 0;       /* remount.c needs ro and the flags alone */
	if (check_permissions(o) || check_arena_access(o))
		return -1;
	if (o->ro)
		o->store.flags |= STORE_OPEN_RDONLY;
	else
		o->store.flags |= STORE_OPEN_CREATE | STORE_OPEN_SHARED;
	o->atime = atime_policy(o);
	return add_flag_opts(o);
}

void mmfs_opts_free(struct mmfs_opts *o)
{
	free(o->arena);
	free(o->mountpoint);
	free(o->name);
	free(o->fuse_opts);
	free(o->remount_only);
	memset(o, 0, sizeof(*o));
}

/* test_opts.c -- numbers, access-time choices and the arena file's mode
 * and group in mount.mmfs options (src/fs/opts.c).
 *
 * size=, max_files= and ring_size= take a positive decimal number; size=
 * and ring_size= also a K, M, G or T suffix (powers of 1024, either case);
 * ring_size= only ring capacities.
 * Checked through mmfs_opts_parse, as the daemon calls it: the values that
 * are accepted and what they become, and the ones refused (empty, zero,
 * signs, spaces, trailing garbage, other bases and suffixes, values and
 * suffixed values past 2^64 - 1), each with one line on stderr that
 * names the option.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "opts.h"
#include "unit.h"

static char said[512];         /* what the last parse printed on stderr */

/* ARGV0 -o OPT /mnt; 0 or -1, o filled on success.  Its stderr is kept
 * in said rather than shown. */
static int parse_as(const char *argv0, const char *opt, struct mmfs_opts *o)
{
	char *argv[] = { (char *)argv0, "-o", (char *)opt, "/mnt", NULL };
	FILE *tmp = tmpfile();
	int saved = dup(2), rc;
	size_t n;

	if (!tmp || saved < 0)
		abort();
	fflush(stderr);
	dup2(fileno(tmp), 2);
	rc = mmfs_opts_parse(4, argv, o);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	rewind(tmp);
	n = fread(said, 1, sizeof(said) - 1, tmp);
	said[n] = '\0';
	fclose(tmp);
	return rc;
}

static int parse(const char *opt, struct mmfs_opts *o)
{
	return parse_as("mount.mmfs", opt, o);
}

/* Which field an option sets. */
static uint64_t field(const struct mmfs_opts *o, const char *opt)
{
	if (strncmp(opt, "threads=", 8) == 0)
		return o->threads;
	if (strncmp(opt, "size=", 5) == 0)
		return o->store.size_cap;
	if (strncmp(opt, "max_files=", 10) == 0)
		return o->store.max_files;
	return o->store.ring_size;
}

static void accepted(const char *opt, uint64_t want)
{
	struct mmfs_opts o;
	int rc = parse(opt, &o);
	uint64_t got = rc ? 0 : field(&o, opt);

	CHECK(rc == 0 && got == want && said[0] == '\0',
	      "-o %s: rc %d, value %llu, want %llu, said \"%s\"", opt, rc,
	      (unsigned long long)got, (unsigned long long)want, said);
	mmfs_opts_free(&o);
}

static void refused(const char *opt)
{
	struct mmfs_opts o;
	int rc = parse(opt, &o);

	const char *nl = strchr(said, '\n');

	CHECK(rc == -1, "-o %s accepted (value %llu)", opt,
	      rc ? 0ULL : (unsigned long long)field(&o, opt));
	/* one line that names the option */
	CHECK(rc != -1 || (strstr(said, opt) && nl && nl[1] == '\0'),
	      "-o %s refused with \"%s\"", opt, said);
	mmfs_opts_free(&o);
}

static void test_sizes(void)
{
	static const char *const keys[] = { "size" };   /* ring_size: below */
	char opt[128];

	for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
#define OK(v, want) (snprintf(opt, sizeof(opt), "%s=%s", keys[k], v), \
		     accepted(opt, want))
#define NO(v) (snprintf(opt, sizeof(opt), "%s=%s", keys[k], v), refused(opt))
		OK("1", 1);
		OK("4096", 4096);
		OK("007", 7);                   /* decimal, not octal */
		OK("010", 10);
		OK("1K", 1024);
		OK("1k", 1024);
		OK("64M", 64ULL << 20);
		OK("64m", 64ULL << 20);
		OK("3G", 3ULL << 30);
		OK("2t", 2ULL << 40);
		OK("18446744073709551615", UINT64_MAX);
		OK("18014398509481983K", UINT64_MAX >> 10 << 10);
		OK("17592186044415M", UINT64_MAX >> 20 << 20);
		OK("17179869183G", UINT64_MAX >> 30 << 30);
		OK("16777215T", UINT64_MAX >> 40 << 40);
		/* past 2^64 - 1, with and without a suffix */
		NO("18446744073709551616");
		NO("99999999999999999999999999");
		NO("18014398509481984K");
		NO("17592186044416M");
		NO("17179869184G");
		NO("16777216T");
		NO("18446744073709551615K");
		/* not a positive decimal number */
		NO("");
		NO("0");
		NO("0K");
		NO("000");
		NO("-1");
		NO("-0");
		NO("+1");
		NO(" 1");
		NO("1 ");
		NO("\t1");
		NO("0x10");
		NO("1e3");
		NO("1.5M");
		NO("K");
		NO("M1");
		/* suffixes: one letter of KMGT, nothing after it */
		NO("1KB");
		NO("1KiB");
		NO("1KK");
		NO("1P");
		NO("1E");
		NO("1b");
		NO("1 K");
		NO("1K ");
		NO("1abc");
#undef OK
#undef NO
	}
}

/* ring_size= takes the same numbers, and only ring capacities: 64 bytes
 * to 2 GiB - 1 (ring.h), so that rings can be created on the mount. */
static void test_ring_size(void)
{
	accepted("ring_size=64", 64);
	accepted("ring_size=0064", 64);
	accepted("ring_size=4096", 4096);
	accepted("ring_size=1k", 1024);
	accepted("ring_size=64M", 64ULL << 20);
	accepted("ring_size=2147483647", 2147483647);
	accepted("ring_size=2097151K", 2097151ULL << 10);
	refused("ring_size=1");
	refused("ring_size=63");
	refused("ring_size=2G");
	refused("ring_size=2147483648");
	refused("ring_size=2097152K");
	refused("ring_size=1T");
	refused("ring_size=18446744073709551615");
	refused("ring_size=0");
	refused("ring_size=");
	refused("ring_size=64x");
}

/* max_files= is a count: no suffix. */
static void test_counts(void)
{
	accepted("max_files=1", 1);
	accepted("max_files=1000000", 1000000);
	accepted("max_files=0100", 100);
	accepted("max_files=18446744073709551615", UINT64_MAX);
	refused("max_files=18446744073709551616");
	refused("max_files=1K");
	refused("max_files=1k");
	refused("max_files=0");
	refused("max_files=");
	refused("max_files=-5");
	refused("max_files=+5");
	refused("max_files=5x");
	refused("max_files=0x5");
}

/* threads=: 1 to 64; by default half the online CPUs, 1 to 4. */
static void test_threads(void)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	unsigned want = cpus >= 8 ? 4 : cpus >= 2 ? (unsigned)cpus / 2 : 1;
	struct mmfs_opts o;
	int rc = parse("size=1M", &o);

	CHECK(rc == 0 && o.threads == want, "default threads: %u for %ld "
	      "CPUs, want %u", o.threads, cpus, want);
	mmfs_opts_free(&o);
	rc = parse("threads=1", &o);
	CHECK(rc == 0 && o.threads == 1, "threads=1");
	mmfs_opts_free(&o);
	rc = parse("threads=64", &o);
	CHECK(rc == 0 && o.threads == 64, "threads=64");
	mmfs_opts_free(&o);
	refused("threads=0");
	refused("threads=65");
}

/* Numbers do not leak into other options, and the last one given wins. */
static void test_combined(void)
{
	struct mmfs_opts o;
	int rc = parse("size=1M,max_files=7,ring_size=2K,size=3M", &o);

	CHECK(rc == 0 && o.store.size_cap == 3ULL << 20 &&
	      o.store.max_files == 7 && o.store.ring_size == 2048,
	      "size=1M,max_files=7,ring_size=2K,size=3M: rc %d", rc);
	mmfs_opts_free(&o);
	rc = parse("ro", &o);
	CHECK(rc == 0 && o.store.size_cap == 0 && o.store.max_files == 0 &&
	      o.store.ring_size == 0, "no number given: all 0 (defaults)");
	mmfs_opts_free(&o);
	refused("size");
	rc = parse("size=1M,size=x", &o);
	CHECK(rc == -1 && strstr(said, "'size=x'"),
	      "size=1M,size=x: rc %d, said \"%s\"", rc, said);
	mmfs_opts_free(&o);
}

/* allow_other without default_permissions would let every user read and
 * change every file (mmfs checks no permissions itself): refused, with
 * one line.  Each alone is fine, and default_permissions given wins. */
static void test_permissions(void)
{
	static const char *const ok[] = {
		"allow_other", "no_default_permissions",
		"default_permissions,allow_other",
		"allow_other,no_default_permissions,default_permissions",
	};
	static const char *const no[] = {
		"allow_other,no_default_permissions",
		"no_default_permissions,allow_other",
		"size=1M,no_default_permissions,ro,allow_other",
	};
	struct mmfs_opts o;
	int rc;

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		rc = parse(ok[i], &o);
		CHECK(rc == 0 && said[0] == '\0' &&
		      (!strstr(ok[i], "allow_other") ||
		       strstr(o.fuse_opts, "default_permissions")),
		      "-o %s: rc %d, said \"%s\"", ok[i], rc, said);
		mmfs_opts_free(&o);
	}
	for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++) {
		rc = parse(no[i], &o);
		CHECK(rc == -1 && strstr(said, "default_permissions") &&
		      strchr(said, '\n') == said + strlen(said) - 1,
		      "-o %s: rc %d, said \"%s\"", no[i], rc, said);
		mmfs_opts_free(&o);
	}
}

/* Has the comma list l the option w? */
static bool has_opt(const char *l, const char *w)
{
	size_t n = strlen(w);

	for (const char *p = l; p && *p; p = strchr(p, ',') ? strchr(p, ',') + 1
							     : NULL)
		if (strncmp(p, w, n) == 0 && (p[n] == ',' || p[n] == '\0'))
			return true;
	return false;
}

static bool has_perm(const char *l)
{
	return has_opt(l, "default_permissions");
}

/* acl: POSIX ACLs, which the kernel checks as part of
 * default_permissions: it implies default_permissions, and is refused with
 * no_default_permissions alone; noacl (the default) undoes it. */
static void test_acl(void)
{
	static const struct {
		const char *opts;
		int rc;
		bool acl;
	} cases[] = {
		{ "ro", 0, false },
		{ "acl", 0, true },
		{ "acl,noacl", 0, false },
		{ "noacl,acl,allow_other", 0, true },
		{ "acl,no_default_permissions,default_permissions", 0, true },
		{ "acl,no_default_permissions", -1, false },
		{ "no_default_permissions,allow_other,acl", -1, false },
		{ "noacl,no_default_permissions", 0, false },
	};
	struct mmfs_opts o;
	int rc;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		rc = parse(cases[i].opts, &o);
		CHECK(rc == cases[i].rc, "-o %s: rc %d, said \"%s\"",
		      cases[i].opts, rc, said);
		if (rc == 0)
			CHECK(o.acl == cases[i].acl &&
			      (!o.acl || has_perm(o.fuse_opts)),
			      "-o %s: acl %d, fuse options %s",
			      cases[i].opts, o.acl, o.fuse_opts);
		else
			CHECK(strstr(said, "acl needs default_permissions") ||
			      strstr(said, "allow_other needs"),
			      "-o %s: said \"%s\"", cases[i].opts, said);
		mmfs_opts_free(&o);
	}
}

static void flags_are(const char *argv0, const char *opt, int nosuid,
		      int nodev, int noexec)
{
	struct mmfs_opts o;
	int rc = parse_as(argv0, opt, &o);

	CHECK(rc == 0 && o.nosuid == nosuid && o.nodev == nodev &&
	      o.noexec == noexec &&
	      has_opt(o.fuse_opts, nosuid ? "nosuid" : "suid") &&
	      has_opt(o.fuse_opts, nodev ? "nodev" : "dev") &&
	      has_opt(o.fuse_opts, "noexec") == (noexec == 1),
	      "%s -o %s: rc %d, nosuid %d nodev %d noexec %d, fuse opts %s",
	      argv0, opt, rc, o.nosuid, o.nodev, o.noexec, o.fuse_opts);
	mmfs_opts_free(&o);
}

/* nosuid, nodev: mount(8) passes them to its helper, never suid or dev,
 * so mount.fuse.mmfs run by root takes their absence for suid, dev (as
 * mount.fuse3 does); under any other name or user, libfuse's nosuid,
 * nodev.  The last of noX and X wins. */
static void test_mnt_flags(void)
{
	int helper_no = geteuid() != 0;
	const char *helper = "/sbin/mount.fuse.mmfs";

	flags_are("mount.mmfs", "rw", 1, 1, 0);
	flags_are("/usr/local/sbin/mount.mmfs", "rw", 1, 1, 0);
	flags_are("mount.mmfs", "suid,dev", 0, 0, 0);
	flags_are("mount.mmfs", "dev,noexec", 1, 0, 1);
	flags_are("mount.mmfs", "suid,nosuid,nodev,dev,noexec,exec", 1, 0, 0);
	flags_are(helper, "rw", helper_no, helper_no, 0);
	flags_are(helper, "size=1M,nosuid", 1, helper_no, 0);
	flags_are(helper, "nodev,noexec", helper_no, 1, 1);
	flags_are(helper, "nosuid,nodev,noexec", 1, 1, 1);
	flags_are("mount.fuse.mmfs", "suid,dev", 0, 0, 0);
}

/* remount: what mount(8) passes for `mount -o remount,ro MNT` (the
 * options of the mount merged in) parses, whatever the permission
 * options; user_id= and group_id= only there. */
static void test_remount(void)
{
	struct mmfs_opts o;
	int rc;

	rc = parse("ro,nosuid,nodev,relatime,remount,user_id=0,group_id=0,"
		   "default_permissions,allow_other,size=16M,x-a=b", &o);
	CHECK(rc == 0 && o.remount && o.ro && o.nosuid == 1 && o.nodev == 1 &&
	      said[0] == '\0', "mount(8)'s remount,ro: rc %d, said \"%s\"",
	      rc, said);
	mmfs_opts_free(&o);
	rc = parse("remount,allow_other,no_default_permissions", &o);
	CHECK(rc == 0 && o.remount && !o.ro, "remount,...: rc %d, said \"%s\"",
	      rc, said);
	mmfs_opts_free(&o);
	refused("user_id=0");
	refused("group_id=5");
}

/* The access-time options decide as Linux decides for a local mount:
 * relatime unless noatime, strictatime over both; noatime alone goes to
 * the kernel. */
static void atime_is(const char *opt, enum mmfs_atime want, bool nodiratime)
{
	struct mmfs_opts o;
	int rc = parse(opt, &o);
	bool kernel = rc == 0 && o.fuse_opts && strstr(o.fuse_opts, "noatime");

	CHECK(rc == 0 && o.atime == want && o.nodiratime == nodiratime &&
	      kernel == (want == MMFS_ATIME_NEVER) && said[0] == '\0',
	      "-o %s: rc %d, atime %d (want %d), nodiratime %d, kernel "
	      "options %s", opt, rc, rc ? -1 : (int)o.atime, (int)want,
	      rc ? -1 : o.nodiratime, rc || !o.fuse_opts ? "" : o.fuse_opts);
	mmfs_opts_free(&o);
}

static void test_atime(void)
{
	atime_is("ro", MMFS_ATIME_RELATIVE, false);
	atime_is("relatime", MMFS_ATIME_RELATIVE, false);
	atime_is("norelatime", MMFS_ATIME_RELATIVE, false);
	atime_is("strictatime", MMFS_ATIME_STRICT, false);
	atime_is("noatime", MMFS_ATIME_NEVER, false);
	atime_is("noatime,atime", MMFS_ATIME_RELATIVE, false);
	atime_is("noatime,strictatime", MMFS_ATIME_STRICT, false);
	atime_is("strictatime,noatime", MMFS_ATIME_STRICT, false);
	atime_is("strictatime,nostrictatime", MMFS_ATIME_RELATIVE, false);
	atime_is("strictatime,nostrictatime,noatime", MMFS_ATIME_NEVER,
		 false);
	atime_is("nodiratime", MMFS_ATIME_RELATIVE, true);
	atime_is("nodiratime,diratime,strictatime", MMFS_ATIME_STRICT, false);
	refused("noatimes");
}

/* arena_mode=: octal, the owner reads and writes, nobody executes, no
 * set-ID or sticky bit; arena_group=: a group name, else a number (a
 * name that is no group and no number is refused).  Neither with ro.
 * Each refusal is one line naming the option. */
static void mode_is(const char *opt, uint32_t mode)
{
	struct mmfs_opts o;
	int rc = parse(opt, &o);

	CHECK(rc == 0 && o.store.mode == mode && said[0] == '\0',
	      "-o %s: rc %d, mode %o, said \"%s\"", opt, rc,
	      rc ? 0 : o.store.mode, said);
	mmfs_opts_free(&o);
}

static void group_is(const char *opt, uint32_t gid)
{
	struct mmfs_opts o;
	int rc = parse(opt, &o);

	CHECK(rc == 0 && o.store.set_group && o.store.gid == gid &&
	      said[0] == '\0', "-o %s: rc %d, gid %u, said \"%s\"", opt, rc,
	      rc ? 0 : o.store.gid, said);
	mmfs_opts_free(&o);
}

static void test_arena_access(void)
{
	static const char *const bad_modes[] = {
		"arena_mode=", "arena_mode=0777", "arena_mode=0760",
		"arena_mode=0670", "arena_mode=4660", "arena_mode=02660",
		"arena_mode=01660", "arena_mode=0460", "arena_mode=0200",
		"arena_mode=0", "arena_mode=0x1b0", "arena_mode=abc",
		"arena_mode=0668", "arena_mode=-0660", "arena_mode= 0660",
		"arena_mode=0660x", "arena_mode=1000000000000660",
	};
	static const char *const bad_groups[] = {
		"arena_group=", "arena_group=mmfs-no-such-group",
		"arena_group=4294967295", "arena_group=99999999999999999999",
		"arena_group=12a", "arena_group=-1", "arena_group=+5",
	};
	struct mmfs_opts o;
	int rc;

	mode_is("arena_mode=0660", 0660);
	mode_is("arena_mode=660", 0660);
	mode_is("arena_mode=0600", 0600);
	mode_is("arena_mode=0666", 0666);
	mode_is("arena_mode=000640", 0640);
	mode_is("arena_mode=0640,arena_mode=0604", 0604);
	mode_is("size=1M", 0);
	for (size_t i = 0; i < sizeof(bad_modes) / sizeof(*bad_modes); i++)
		refused(bad_modes[i]);
	group_is("arena_group=root", 0);
	group_is("arena_group=0", 0);
	group_is("arena_group=12345", 12345);
	group_is("arena_group=4294967294", 4294967294u);
	for (size_t i = 0; i < sizeof(bad_groups) / sizeof(*bad_groups); i++)
		refused(bad_groups[i]);
	rc = parse("arena_group=mmfs-no-such-group", &o);
	CHECK(rc == -1 && strstr(said, "unknown group 'mmfs-no-such-group'"),
	      "unknown group: said \"%s\"", said);
	mmfs_opts_free(&o);
	rc = parse("size=1M", &o);
	CHECK(rc == 0 && !o.store.set_group, "no group given");
	mmfs_opts_free(&o);
	rc = parse("ro,arena_mode=0640", &o);
	CHECK(rc == -1 && strstr(said, "read-write") &&
	      strchr(said, '\n') == said + strlen(said) - 1,
	      "ro,arena_mode=0640: rc %d, said \"%s\"", rc, said);
	mmfs_opts_free(&o);
	rc = parse("arena_group=root,ro", &o);
	CHECK(rc == -1 && strstr(said, "read-write"),
	      "arena_group=root,ro: rc %d, said \"%s\"", rc, said);
	mmfs_opts_free(&o);
}

int main(void)
{
	test_sizes();
	test_ring_size();
	test_counts();
	test_threads();
	test_combined();
	test_permissions();
	test_acl();
	test_mnt_flags();
	test_remount();
	test_atime();
	test_arena_access();
	return unit_exit("test_opts");
}

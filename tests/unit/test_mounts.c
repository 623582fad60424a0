/* test_mounts.c -- reading /proc/self/mountinfo (src/common/mounts.c).
 *
 * The helpers are static, so mounts.c is compiled into this test (and the
 * test does not link mmfs_common).  Checked: the kernel's \ooo unescaping,
 * splitting a line into mount point, type and source (optional fields,
 * escaped spaces, malformed lines), device and read-only super option,
 * and which mount contains a path or is of a device.
 */
#include "mounts.c"

#include "unit.h"

static void check_unescape(const char *in, const char *want, size_t wantlen)
{
	char buf[256];

	snprintf(buf, sizeof(buf), "%s", in);
	unescape(buf);
	CHECK(strlen(buf) == wantlen && memcmp(buf, want, wantlen) == 0,
	      "unescape \"%s\" gave \"%s\"", in, buf);
}

static void test_unescape(void)
{
	static const struct {
		const char *in, *want;
	} cases[] = {
		{ "", "" },
		{ "/mnt/plain", "/mnt/plain" },
		/* what the kernel escapes: space, tab, newline, backslash */
		{ "/mnt/a\\040b", "/mnt/a b" },
		{ "a\\011b\\012c", "a\tb\nc" },
		{ "back\\134slash", "back\\slash" },
		{ "\\040\\040", "  " },
		{ "\\040", " " },
		{ "x\\040", "x " },
		/* an unescaped backslash only starts \ooo */
		{ "\\134040", "\\040" },
		{ "\\377", "\377" },
		/* not \ooo: kept as it is */
		{ "\\", "\\" },
		{ "a\\", "a\\" },
		{ "\\04", "\\04" },
		{ "\\0", "\\0" },
		{ "\\400", "\\400" },   /* more than one byte */
		{ "\\080", "\\080" },
		{ "\\08", "\\08" },
		{ "\\048", "\\048" },
		{ "\\04 ", "\\04 " },
		{ "\\x41", "\\x41" },
		{ "\\\\040", "\\ " },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		check_unescape(cases[i].in, cases[i].want,
			       strlen(cases[i].want));
}

/* parse_mount on a copy of line: its return, then the three fields. */
static void check_parse(const char *line, int want_rc, const char *point,
			const char *fstype, const char *source)
{
	char buf[512];
	struct mount_ent m;
	int rc;

	snprintf(buf, sizeof(buf), "%s", line);
	rc = parse_mount(buf, &m);
	CHECK(rc == want_rc, "parse \"%s\": rc %d", line, rc);
	if (rc || want_rc)
		return;
	CHECK(strcmp(m.point, point) == 0, "parse \"%s\": point \"%s\"", line,
	      m.point);
	CHECK(strcmp(m.fstype, fstype) == 0, "parse \"%s\": type \"%s\"", line,
	      m.fstype);
	CHECK(strcmp(m.source, source) == 0, "parse \"%s\": source \"%s\"",
	      line, m.source);
}

static void test_parse_mount(void)
{
	check_parse("36 35 0:52 / /mnt/x rw,nosuid - fuse.mmfs /dev/shm/arena "
		    "rw,user_id=0\n", 0, "/mnt/x", "fuse.mmfs",
		    "/dev/shm/arena");
	/* no trailing newline, no super options */
	check_parse("1 0 8:1 / / rw - ext4 /dev/sda1", 0, "/", "ext4",
		    "/dev/sda1");
	/* optional fields before the separator */
	check_parse("36 35 98:0 /mnt1 /mnt/2 rw,noatime master:1 shared:7 - "
		    "ext3 /dev/root rw,errors=continue", 0, "/mnt/2", "ext3",
		    "/dev/root");
	/* escaped spaces, tabs, newlines, backslashes in point and source */
	check_parse("40 1 0:60 / /tmp/my\\040mnt rw - fuse.mmfs "
		    "/dev/shm/a\\011b\\134c rw", 0, "/tmp/my mnt", "fuse.mmfs",
		    "/dev/shm/a\tb\\c");
	check_parse("40 1 0:60 / /tmp/new\\012line rw - fuse.mmfs /x rw", 0,
		    "/tmp/new\nline", "fuse.mmfs", "/x");
	/* a mount point or root named "-" is no separator */
	check_parse("40 1 0:60 - /- rw - tmpfs none rw", 0, "/-", "tmpfs",
		    "none");
	check_parse("40 1 0:60 / - rw - tmpfs none rw", 0, "-", "tmpfs",
		    "none");
	/* an optional field "-" ends them; the next words are type, source */
	check_parse("40 1 0:60 / /m rw shared:1 - - src rw", 0, "/m", "-",
		    "src");
	/* runs of spaces are one separator */
	check_parse("40  1 0:60 /  /m rw -  tmpfs  none", 0, "/m", "tmpfs",
		    "none");
	/* malformed: no separator, nothing after it, too short, empty */
	check_parse("36 35 0:52 / /mnt/x rw fuse.mmfs /dev/shm/arena", -EINVAL,
		    NULL, NULL, NULL);
	check_parse("36 35 0:52 / /mnt/x rw -", -EINVAL, NULL, NULL, NULL);
	check_parse("36 35 0:52 / /mnt/x rw - fuse.mmfs", -EINVAL, NULL, NULL,
		    NULL);
	check_parse("36 35 0:52 /", -EINVAL, NULL, NULL, NULL);
	check_parse("", -EINVAL, NULL, NULL, NULL);
	check_parse("\n", -EINVAL, NULL, NULL, NULL);
}

/* The device and whether the super options say read-only. */
static void check_super(const char *line, const char *dev, bool ro)
{
	char buf[512];
	struct mount_ent m;
	int rc;

	snprintf(buf, sizeof(buf), "%s", line);
	rc = parse_mount(buf, &m);
	CHECK(rc == 0 && strcmp(m.dev, dev) == 0 && m.sb_ro == ro,
	      "parse \"%s\": rc %d, dev \"%s\", sb_ro %d", line, rc,
	      rc ? "" : m.dev, rc ? -1 : m.sb_ro);
}

static void test_super_options(void)
{
	check_super("36 35 0:52 / /mnt/x rw,nosuid - fuse.mmfs /a "
		    "rw,user_id=0\n", "0:52", false);
	check_super("36 35 0:52 / /mnt/x rw,nosuid - fuse.mmfs /a "
		    "ro,user_id=0\n", "0:52", true);
	check_super("36 35 0:52 / /mnt/x rw - fuse.mmfs /a ro\n", "0:52", true);
	check_super("36 35 0:52 / /mnt/x rw - fuse.mmfs /a ro", "0:52", true);
	/* a read-only mount point of a writable file system (bind,ro) */
	check_super("36 35 0:52 / /mnt/x ro,relatime - fuse.mmfs /a rw\n",
		    "0:52", false);
	/* no super options; "ro" only as a whole word */
	check_super("1 0 8:1 / / ro - ext4 /dev/sda1", "8:1", false);
	check_super("1 0 8:1 / / rw - ext4 /dev/sda1 rox,ro", "8:1", false);
	check_super("1 0 259:3 / / rw shared:1 - ext4 /dev/sda1 ro", "259:3",
		    true);
}

static void test_is_under(void)
{
	static const struct {
		const char *path, *point;
		bool want;
	} cases[] = {
		{ "/mnt/x", "/mnt/x", true },
		{ "/mnt/x/a/b", "/mnt/x", true },
		{ "/mnt/xy", "/mnt/x", false },
		{ "/mnt", "/mnt/x", false },
		{ "/anything", "/", true },
		{ "/", "/", true },
		{ "/mnt/x", "/mnt/x/", false },  /* points have no trailing / */
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		CHECK(is_under(cases[i].path, cases[i].point) == cases[i].want,
		      "\"%s\" under \"%s\"", cases[i].path, cases[i].point);
}

/* The real table: "/" is always mounted, and a path inside /proc is on
 * the proc mount if there is one. */
static void test_find_path(void)
{
	struct mount_ent m;
	int rc = mounts_find_path("/", &m);

	CHECK(rc == 0 && strcmp(m.point, "/") == 0, "the mount of / (rc %d)",
	      rc);
	mount_ent_free(&m);
	CHECK(m.point == NULL && m.fstype == NULL && m.source == NULL,
	      "mount_ent_free empties the entry");
	rc = mounts_find_path("/proc/self/status", &m);
	CHECK(rc == 0, "the mount of /proc/self/status (rc %d)", rc);
	if (rc == 0 && strcmp(m.point, "/proc") == 0)
		CHECK(strcmp(m.fstype, "proc") == 0, "/proc has type \"%s\"",
		      m.fstype);
	mount_ent_free(&m);
	rc = mounts_find_arena("/nonexistent/mmfs/arena", &m);
	CHECK(rc == -ENOENT, "no mmfs mount serves a made-up arena (rc %d)",
	      rc);
	rc = mounts_find_path("/", &m);
	if (rc == 0) {
		char *dev = strdup(m.dev);

		mount_ent_free(&m);
		rc = mounts_find_dev(dev, &m);
		CHECK(rc == 0 && strcmp(m.dev, dev) == 0,
		      "the mount of device %s (rc %d)", dev, rc);
		mount_ent_free(&m);
		free(dev);
	}
	rc = mounts_find_dev("4095:1048575", &m);
	CHECK(rc == -ENOENT, "no mount of a made-up device (rc %d)", rc);
}

int main(void)
{
	test_unescape();
	test_parse_mount();
	test_super_options();
	test_is_under();
	test_find_path();
	return unit_exit("test_mounts");
}

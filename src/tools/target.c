/* target.c -- resolve arguments to arenas; find mounts and holders.
 *
 * /proc/self/mountinfo lines look like
 *   36 35 0:52 / /mnt/x rw,nosuid - fuse.mmfs /dev/shm/arena rw,...
 * with the mount point in field 5, then optional fields up to "-", the
 * file system type and the mount source.  The kernel escapes space, tab,
 * newline and backslash in them as \ooo.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "target.h"

#define MMFS_FSTYPE "fuse.mmfs"

struct mount_ent {
	char *point;
	char *fstype;
	char *source;
};

static int fail(char *err, size_t errlen, int rc, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int fail(char *err, size_t errlen, int rc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return rc;
}

/* Undo the kernel's \ooo escapes in place. */
static void unescape(char *s)
{
	char *out = s;

	while (*s) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' &&
		    s[2] >= '0' && s[2] <= '7' && s[3] >= '0' && s[3] <= '7') {
			*out++ = (char)((s[1] - '0') << 6 | (s[2] - '0') << 3 |
					(s[3] - '0'));
			s += 4;
		} else {
			*out++ = *s++;
		}
	}
	*out = '\0';
}

/* Split one mountinfo line in place; 0 or -EINVAL if malformed. */
static int parse_mount(char *line, struct mount_ent *m)
{
	char *save = NULL, *tok;
	int field = 0;
	bool dash = false;

	memset(m, 0, sizeof(*m));
	for (tok = strtok_r(line, " \n", &save); tok;
	     tok = strtok_r(NULL, " \n", &save), field++) {
		if (field == 4) {
			m->point = tok;
		} else if (field >= 6 && !dash && strcmp(tok, "-") == 0) {
			dash = true;
		} else if (dash && !m->fstype) {
			m->fstype = tok;
		} else if (dash && !m->source) {
			m->source = tok;
			break;
		}
	}
	if (!m->point || !m->fstype || !m->source)
		return -EINVAL;
	unescape(m->point);
	unescape(m->fstype);
	unescape(m->source);
	return 0;
}

/* Is path equal to, or below, the mount point? */
static bool is_under(const char *path, const char *point)
{
	size_t n = strlen(point);

	if (strcmp(point, "/") == 0)
		return true;
	return strncmp(path, point, n) == 0 &&
	       (path[n] == '\0' || path[n] == '/');
}

static bool same_file(const char *a, const char *b)
{
	char *ra;
	bool same;

	if (strcmp(a, b) == 0)
		return true;
	ra = realpath(a, NULL);
	same = ra && strcmp(ra, b) == 0;
	free(ra);
	return same;
}

static void ent_dup(struct mount_ent *dst, const struct mount_ent *src)
{
	free(dst->point);
	free(dst->fstype);
	free(dst->source);
	dst->point = strdup(src->point);
	dst->fstype = strdup(src->fstype);
	dst->source = strdup(src->source);
}

static void ent_free(struct mount_ent *m)
{
	free(m->point);
	free(m->fstype);
	free(m->source);
	memset(m, 0, sizeof(*m));
}

/* Find the mount that contains path (longest mount point; the last one
 * mounted wins a tie), or with arena set, the first mmfs mount serving
 * that arena.  Fills found (owned copies); -ENOENT if none. */
static int find_mount(const char *path, const char *arena,
		      struct mount_ent *found)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	char *line = NULL;
	size_t cap = 0, best = 0;
	struct mount_ent m;
	int rc = -ENOENT;

	memset(found, 0, sizeof(*found));
	if (!f)
		return -errno;
	while (getline(&line, &cap, f) > 0) {
		if (parse_mount(line, &m))
			continue;
		if (arena) {
			if (strcmp(m.fstype, MMFS_FSTYPE) == 0 &&
			    same_file(m.source, arena)) {
				ent_dup(found, &m);
				rc = 0;
				break;
			}
		} else if (is_under(path, m.point) &&
			   strlen(m.point) >= best) {
			best = strlen(m.point);
			ent_dup(found, &m);
			rc = 0;
		}
	}
	free(line);
	fclose(f);
	if (rc == 0 && !found->point)
		rc = -ENOMEM;
	return rc;
}

/* Absolute, symlink-free path of arg.  A dead FUSE mount point cannot be
 * resolved itself (ENOTCONN): then its parent is. */
static int absolute(const char *arg, char **out)
{
	char *copy, *slash, *parent, *base;
	int rc;

	*out = realpath(arg, NULL);
	if (*out)
		return 0;
	if (errno != ENOTCONN)
		return -errno;
	copy = strdup(arg);
	if (!copy)
		return -ENOMEM;
	for (size_t n = strlen(copy); n > 1 && copy[n - 1] == '/'; n--)
		copy[n - 1] = '\0';
	slash = strrchr(copy, '/');
	base = slash ? slash + 1 : copy;
	if (slash)
		*slash = '\0';
	parent = realpath(!slash ? "." : slash == copy ? "/" : copy, NULL);
	rc = parent ? 0 : -errno;
	if (parent && asprintf(out, "%s/%s", strcmp(parent, "/") ?
			       parent : "", base) < 0) {
		*out = NULL;
		rc = -ENOMEM;
	}
	free(parent);
	free(copy);
	return rc;
}

static int from_mount(struct target *t, const char *path,
		      struct mount_ent *m, char *err, size_t errlen)
{
	const char *rest = path + strlen(m->point);

	if (strcmp(m->point, "/") == 0)
		rest = path;
	if (m->source[0] != '/')
		return fail(err, errlen, -EINVAL, "mount source '%s' is not "
			    "the path of an arena", m->source);
	t->arena = strdup(m->source);
	t->inner = strdup(*rest ? rest : "/");
	t->mountpoint = strdup(m->point);
	if (!t->arena || !t->inner || !t->mountpoint)
		return fail(err, errlen, -ENOMEM, "out of memory");
	return 0;
}

static int from_file(struct target *t, char *path, char *err, size_t errlen)
{
	struct mount_ent m;

	t->arena = path;
	t->inner = strdup("/");
	if (!t->inner)
		return fail(err, errlen, -ENOMEM, "out of memory");
	if (find_mount(NULL, path, &m) == 0) {
		t->mountpoint = m.point;
		m.point = NULL;
		ent_free(&m);
	}
	return 0;
}

int target_resolve(const char *arg, struct target *t, char *err,
		   size_t errlen)
{
	struct mount_ent m = {0};
	struct stat st;
	char *path = NULL;
	int rc;

	memset(t, 0, sizeof(*t));
	rc = absolute(arg, &path);
	if (rc) {
		fail(err, errlen, rc, "%s", strerror(-rc));
		goto out;
	}
	if (find_mount(path, NULL, &m) == 0 &&
	    strcmp(m.fstype, MMFS_FSTYPE) == 0) {
		rc = from_mount(t, path, &m, err, errlen);
	} else if (stat(path, &st) != 0) {
		rc = fail(err, errlen, -errno, "%s", strerror(errno));
	} else if (S_ISREG(st.st_mode)) {
		rc = from_file(t, path, err, errlen);
		path = NULL;
	} else {
		rc = fail(err, errlen, -EINVAL,
			  "not an mmfs arena or mount point");
	}
out:
	ent_free(&m);
	free(path);
	if (rc)
		target_finish(t);
	return rc;
}

void target_finish(struct target *t)
{
	free(t->arena);
	free(t->inner);
	free(t->mountpoint);
	memset(t, 0, sizeof(*t));
}

/* One /proc/locks line: "1: FLOCK  ADVISORY  WRITE 1234 00:1a:5678 0 EOF"
 * (waiters have "->" after the number and are skipped). */
static bool lock_matches(const char *line, dev_t dev, ino_t ino,
			 struct target_holder *h)
{
	char type[16], rw[16];
	unsigned maj, min;
	unsigned long long inode;
	int pid;

	if (strstr(line, "->"))
		return false;
	if (sscanf(line, "%*d: %15s %*s %15s %d %x:%x:%llu", type, rw, &pid,
		   &maj, &min, &inode) != 6)
		return false;
	if (strcmp(type, "FLOCK") || maj != major(dev) || min != minor(dev) ||
	    inode != (unsigned long long)ino)
		return false;
	h->held = true;
	h->pid = pid > 0 ? pid : 0;
	h->exclusive = strcmp(rw, "WRITE") == 0;
	return true;
}

int target_holder(const char *arena, struct target_holder *h)
{
	struct stat st;
	char *line = NULL;
	size_t cap = 0;
	FILE *f;

	memset(h, 0, sizeof(*h));
	if (stat(arena, &st) != 0)
		return -errno;
	f = fopen("/proc/locks", "re");
	if (!f)
		return -errno;
	while (getline(&line, &cap, f) > 0)
		if (lock_matches(line, st.st_dev, st.st_ino, h) &&
		    h->exclusive)
			break;
	free(line);
	fclose(f);
	return 0;
}

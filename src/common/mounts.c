/* mounts.c -- the mounts this process sees, from /proc/self/mountinfo.
 *
 * A mountinfo line looks like
 *   36 35 0:52 / /mnt/x rw,nosuid - fuse.mmfs /dev/shm/arena rw,...
 * with the device in field 3, the mount point in field 5, then optional
 * fields up to "-", the file system type, the mount source and the super
 * options (the file system's, shared by all its mounts; "ro" or "rw"
 * first).  The kernel escapes space, tab, newline and backslash in them
 * as \ooo.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mounts.h"

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
		if (field == 2) {
			m->dev = tok;
		} else if (field == 4) {
			m->point = tok;
		} else if (field >= 6 && !dash && strcmp(tok, "-") == 0) {
			dash = true;
		} else if (dash && !m->fstype) {
			m->fstype = tok;
		} else if (dash && !m->source) {
			m->source = tok;
		} else if (dash) {
			m->sb_ro = strncmp(tok, "ro", 2) == 0 &&
				   (tok[2] == ',' || tok[2] == '\0');
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

void mount_ent_free(struct mount_ent *m)
{
	free(m->point);
	free(m->fstype);
	free(m->source);
	free(m->dev);
	memset(m, 0, sizeof(*m));
}

/* Owned copies of src's fields in dst (freed first); -ENOMEM leaves dst
 * empty. */
static int ent_dup(struct mount_ent *dst, const struct mount_ent *src)
{
	mount_ent_free(dst);
	dst->point = strdup(src->point);
	dst->fstype = strdup(src->fstype);
	dst->source = strdup(src->source);
	dst->dev = strdup(src->dev);
	dst->sb_ro = src->sb_ro;
	if (dst->point && dst->fstype && dst->source && dst->dev)
		return 0;
	mount_ent_free(dst);
	return -ENOMEM;
}

/* What find_mount looks for: one of the three. */
struct wanted {
	const char *path;       /* the mount containing it */
	const char *arena;      /* the first mmfs mount serving it */
	const char *dev;        /* the last mount of that device */
};

static int find_mount(const struct wanted *w, struct mount_ent *found)
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
		if (w->arena) {
			if (strcmp(m.fstype, MMFS_FSTYPE) == 0 &&
			    same_file(m.source, w->arena)) {
				rc = ent_dup(found, &m);
				break;
			}
		} else if (w->dev) {
			if (m.dev && strcmp(m.dev, w->dev) == 0)
				rc = ent_dup(found, &m);
			if (rc == -ENOMEM)
				break;
		} else if (is_under(w->path, m.point) &&
			   strlen(m.point) >= best) {
			best = strlen(m.point);
			rc = ent_dup(found, &m);
			if (rc)
				break;
		}
	}
	free(line);
	fclose(f);
	return rc;
}

int mounts_find_path(const char *path, struct mount_ent *found)
{
	const struct wanted w = { .path = path };

	return find_mount(&w, found);
}

int mounts_find_arena(const char *arena, struct mount_ent *found)
{
	const struct wanted w = { .arena = arena };

	return find_mount(&w, found);
}

int mounts_find_dev(const char *dev, struct mount_ent *found)
{
	const struct wanted w = { .dev = dev };

	return find_mount(&w, found);
}

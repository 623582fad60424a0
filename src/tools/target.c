/* target.c -- resolve arguments to arenas; find holders. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "mounts.h"
#include "store.h"
#include "target.h"

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
	if (mounts_find_arena(path, &m) == 0) {
		t->mountpoint = m.point;
		m.point = NULL;
		mount_ent_free(&m);
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
	if (mounts_find_path(path, &m) == 0 &&
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
	mount_ent_free(&m);
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
	if (!h->pid || pid == h->pid)
		h->pid = pid > 0 ? pid : 0;
	h->exclusive |= strcmp(rw, "WRITE") == 0;
	return pid > 0 && pid == h->pid;
}

/* The holders of flocks on the arena: held, any writer, and a pid: want's
 * if it holds one (the server), else the first one listed. */
static int flock_holders(const struct stat *st, pid_t want,
			 struct target_holder *h)
{
	char *line = NULL;
	size_t cap = 0;
	bool found = false;
	FILE *f = fopen("/proc/locks", "re");

	if (!f)
		return -errno;
	h->pid = want;
	while (getline(&line, &cap, f) > 0)
		found |= lock_matches(line, st->st_dev, st->st_ino, h);
	if (!found && want)     /* the recorded server is gone */
		h->pid = 0;
	free(line);
	fclose(f);
	if (h->held && !h->pid && want)
		return flock_holders(st, 0, h);
	return 0;
}

/* A server's mode comes from its serving lock: it shares the flock with
 * libmmfs programs (format.h, "Owners"). */
int target_holder(const char *arena, struct target_holder *h)
{
	struct stat st;
	pid_t server = 0;
	bool rdonly = false, served;
	int rc;

	memset(h, 0, sizeof(*h));
	if (stat(arena, &st) != 0)
		return -errno;
	served = store_served(arena, &rdonly, &server) == 0;
	rc = flock_holders(&st, served ? server : 0, h);
	if (rc == 0 && served)
		h->exclusive = !rdonly;
	else if (rc == 0 && h->held)
		h->exclusive = true;    /* library programs write */
	return rc;
}

/* remount.c -- change a mounted mmfs: ro/rw and its flags (remount.h). */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>

#include "mounts.h"
#include "remount.h"
#include "store.h"

/* Do a and b name one file (or, if either is gone, one path)? */
static bool same_arena(const char *a, const char *b)
{
	struct stat sa, sb;

	if (stat(a, &sa) != 0 || stat(b, &sb) != 0)
		return strcmp(a, b) == 0;
	return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

/* The mmfs mounted at mnt, or -1 after saying why not. */
static int find_mmfs(const struct mmfs_opts *o, const char *mnt,
		     struct mount_ent *m)
{
	int rc = mounts_find_path(mnt, m);

	if (rc == 0 && (strcmp(m->point, mnt) != 0 ||
			strcmp(m->fstype, MMFS_FSTYPE) != 0))
		rc = -EINVAL;
	if (rc) {
		fprintf(stderr, "mount.mmfs: %s: %s\n", mnt,
			rc == -EINVAL || rc == -ENOENT ?
			"not an mmfs mount point" : strerror(-rc));
		return -1;
	}
	if (o->arena && !same_arena(o->arena, m->source)) {
		fprintf(stderr, "mount.mmfs: %s serves %s, not %s\n", mnt,
			m->source, o->arena);
		return -1;
	}
	return 0;
}

/* A daemon that opened its arena read-only cannot start writing. */
static int check_writable(const struct mmfs_opts *o, const char *mnt,
			  const struct mount_ent *m)
{
	bool rdonly = false;

	if (o->ro || store_served(m->source, &rdonly, NULL) != 0 || !rdonly)
		return 0;
	fprintf(stderr, "mount.mmfs: %s: its daemon opened the arena "
		"read-only (-o ro); unmount it and mount it again to write\n",
		mnt);
	return -1;
}

static unsigned long remount_flags(const struct mmfs_opts *o)
{
	unsigned long flags = MS_REMOUNT;

	if (o->ro)
		flags |= MS_RDONLY;
	if (o->nosuid)
		flags |= MS_NOSUID;
	if (o->nodev)
		flags |= MS_NODEV;
	if (o->noexec)
		flags |= MS_NOEXEC;
	return flags;
}

int remount_run(const struct mmfs_opts *o, const char *mnt)
{
	struct mount_ent m = { 0 };
	int ret = 1;

	if (find_mmfs(o, mnt, &m) || check_writable(o, mnt, &m))
		goto out;
	if (mount(m.source, mnt, NULL, remount_flags(o), NULL) != 0) {
		fprintf(stderr, "mount.mmfs: remount of %s: %s%s\n", mnt,
			strerror(errno), errno == EBUSY && o->ro ?
			" (files are open for writing)" : "");
		goto out;
	}
	ret = 0;
out:
	mount_ent_free(&m);
	return ret;
}

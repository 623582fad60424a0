/* iflags.c -- attribute flags (chattr): keeping them, and the rules they
 * impose on every change of the arena (store.h, "Attribute flags").
 *
 * The flags are bits of inode->flags (format.h, "Attribute flags"); this
 * module alone turns them into the STORE_IFL_* bits of the API.  The
 * rules are the kernel's for a local file system (may_delete, may_create,
 * vfs_link, notify_change, vfs_fallocate, xattr_permission), applied here
 * under the arena lock, so that no caller of the store can go round them
 * and no change can slip between a check and its commit.  Each rule is a
 * function that answers 0 (allowed) or -EPERM, called by the module that
 * makes the change after its own lookups (ENOENT, EEXIST come first, as
 * the kernel's lookups do).
 *
 * Invariant: flags change only under the arena lock, by one 4-byte store
 * of the flags word.
 */
#include <errno.h>

#include "store_int.h"
#include "store_kind.h"

uint32_t iflags_of(const struct mm_inode *ino)
{
	return (ino->flags & MM_INODE_ATTRS) >> MM_INODE_ATTR_SHIFT;
}

int store_get_iflags(struct store *s, store_ref ref, uint32_t *iflags)
{
	int rc = store_enter(s, ref);

	if (rc)
		return rc;
	*iflags = iflags_of(mm_inode(s, ref));
	arena_unlock(s);
	return 0;
}

int store_set_iflags(struct store *s, store_ref ref, uint32_t iflags)
{
	struct mm_inode *ino;
	uint32_t word;
	int rc;

	if (iflags & ~STORE_IFL_ALL)
		return -EOPNOTSUPP;
	if (store_readonly(s))
		return -EROFS;
	rc = store_enter(s, ref);
	if (rc)
		return rc;
	ino = mm_inode(s, ref);
	word = (ino->flags & ~MM_INODE_ATTRS) |
	       (iflags << MM_INODE_ATTR_SHIFT);
	__atomic_store_n(&ino->flags, word, __ATOMIC_RELEASE);
	ino->ctime = mm_now();
	arena_unlock(s);
	return 0;
}

/* Is the inode immutable (nothing changes), or append-only? */
static bool immutable(const struct mm_inode *ino)
{
	return ino->flags & MM_INODE_IMMUTABLE;
}

static bool append_only(const struct mm_inode *ino)
{
	return ino->flags & MM_INODE_APPEND;
}

int iflags_deny_write(const struct mm_inode *ino)
{
	return immutable(ino) ? -EPERM : 0;
}

int iflags_deny_change(const struct mm_inode *ino)
{
	return immutable(ino) || append_only(ino) ? -EPERM : 0;
}

int iflags_deny_overwrite(const struct mm_inode *ino, uint64_t off,
			  uint64_t size, bool truncate_first)
{
	if (immutable(ino))
		return -EPERM;
	if (append_only(ino) && (truncate_first || off < size))
		return -EPERM;
	return 0;
}

int iflags_deny_entries(const struct mm_inode *dir, bool removing)
{
	if (immutable(dir) || (removing && append_only(dir)))
		return -EPERM;
	return 0;
}

int store_kind_may_change(struct store *s, store_ref ref, bool appending)
{
	const struct mm_inode *ino = mm_inode(s, ref);

	return appending ? iflags_deny_write(ino) : iflags_deny_change(ino);
}

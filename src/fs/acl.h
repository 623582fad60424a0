/* acl.h -- POSIX ACLs: what a local file system does around them.
 *
 * With the mount option acl (FUSE_CAP_POSIX_ACL) the kernel checks every
 * access against ACLs, caches them, and passes system.posix_acl_access and
 * system.posix_acl_default to the daemon as extended attributes, already
 * parsed and checked.  What a local file system does as it stores them
 * (Linux's fs/posix_acl.c, which tmpfs uses) is the daemon's part:
 *   - refuse an ACL that is malformed or invalid: -EINVAL;
 *   - keep the mode in step with an access ACL: the owner, mask (or, with
 *     no mask, group) and other permissions are the mode's rwx bits, and
 *     an ACL that says no more than those bits is not stored (setfacl -b);
 *     S_ISGID goes unless the caller is in the file's group or privileged;
 *   - rewrite the access ACL at chmod;
 *   - give a new node its directory's default ACL: as access ACL masked
 *     by the mode asked for, and a directory as default ACL too; the umask
 *     applies only where the directory has none (FUSE_CAP_DONT_MASK).
 * acl_* are these rules on the xattr form; acl_store_* apply them to a
 * store, and ops.c calls those.  No FUSE here.
 *
 * The xattr form, little-endian (the kernel's posix_acl_xattr_*): u32
 * version 2, then entries { u16 tag, u16 perm, u32 id }.  Valid, as
 * posix_acl_valid says: at least one entry; tags in the order USER_OBJ,
 * USER..., GROUP_OBJ, GROUP..., MASK, OTHER, with exactly one USER_OBJ,
 * GROUP_OBJ and OTHER; a MASK, at most one, when there is a USER or GROUP
 * entry; USER and GROUP ids other than -1; perms within rwx.
 *
 * Atomicity.  A node is made with its inherited ACLs in one commit
 * (store_mknod_with); an access ACL and its mode bits change under one
 * lock (store_setxattr_mode: a kill between its two commits leaves the
 * new ACL with the old mode bits).  The read-modify-writes below do not
 * race: the kernel holds the inode's lock across setattr and ACL changes,
 * and the directory's across a creation in it.
 */
#ifndef MMFS_ACL_H
#define MMFS_ACL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store.h"

#define ACL_ACCESS_XATTR "system.posix_acl_access"
#define ACL_DEFAULT_XATTR "system.posix_acl_default"

/* Is name one of the two ACL attributes? */
bool acl_name(const char *name);

/* 0 when value (size bytes) is a valid ACL, else -EINVAL. */
int acl_valid(const void *value, size_t size);

/* The rwx bits of a mode that a valid access ACL decides, in *rwx;
 * returns 1 when the ACL says more than those bits (it has USER, GROUP or
 * MASK entries: stored), 0 when not (the mode says it all). */
int acl_mode(const void *value, size_t size, uint32_t *rwx);

/* chmod of a file with a valid access ACL: its owner, mask (or group)
 * and other permissions become mode's. */
void acl_chmod(void *value, size_t size, uint32_t mode);

/* A new node's access ACL from its directory's default one (value, a
 * valid ACL, is a copy changed in place): every permission of the owner,
 * other and mask (or group) entries is cut to what *mode asks for, and
 * *mode's rwx bits to what the ACL grants.  Returns 1 when the ACL says
 * more than the mode (stored), 0 when not. */
int acl_create_masq(void *value, size_t size, uint32_t *mode);

/* The ACL attributes a new node is made with, for store_mknod_with. */
struct acl_new {
	struct store_xattr x[2];
	size_t n;
	void *buf;              /* what x[] points into (malloc'd) */
};

/* A new node of *mode (type included) in dir: its ACLs in *out (n 0:
 * none), and *mode cut by the default ACL, or by umask when dir has
 * none.  0, -ENOMEM, -EIO (dir's default ACL is not valid), or what
 * store_getxattr of dir gives.  acl_new_free frees *out (and a zeroed
 * one). */
int acl_store_inherit(struct store *s, store_ref dir, uint32_t *mode,
		      uint32_t umask, struct acl_new *out);
void acl_new_free(struct acl_new *out);

/* setxattr of an ACL attribute (acl_name) on ref: the rules above.
 * keep_sgid: the caller is in the file's group or privileged.  0,
 * -EINVAL (not a valid ACL), -EACCES (a default ACL on anything but a
 * directory), or the errors of store_setxattr_mode. */
int acl_store_set(struct store *s, store_ref ref, const char *name,
		  const void *value, size_t size, bool keep_sgid);

/* removexattr of an ACL attribute: an absent one is no error (tmpfs);
 * the mode stays, but S_ISGID unless keep_sgid (an access ACL's). */
int acl_store_remove(struct store *s, store_ref ref, const char *name,
		     bool keep_sgid);

/* ref's mode becomes mode: rewrite its access ACL, if it has one, to
 * match (before the mode changes: a failure changes nothing).  0,
 * -ENOMEM, or the errors of store_getxattr and store_setxattr. */
int acl_store_chmod(struct store *s, store_ref ref, uint32_t mode);

#endif

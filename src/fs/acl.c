/* acl.c -- POSIX ACLs: what a local file system does around them (see
 * acl.h).  The rules follow Linux's fs/posix_acl.c: posix_acl_valid,
 * posix_acl_equiv_mode, __posix_acl_chmod and posix_acl_create_masq.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "acl.h"

#define ACL_VERSION 2u
#define HEAD 4u                 /* u32 version */
#define ENTRY 8u                /* u16 tag, u16 perm, u32 id */
#define UNDEFINED_ID 0xffffffffu

enum acl_tag {
	TAG_USER_OBJ = 0x01,
	TAG_USER = 0x02,
	TAG_GROUP_OBJ = 0x04,
	TAG_GROUP = 0x08,
	TAG_MASK = 0x10,
	TAG_OTHER = 0x20,
};

struct entry {
	uint16_t tag, perm;
	uint32_t id;
};

static uint32_t get_le(const unsigned char *p, size_t n)
{
	uint32_t v = 0;

	for (size_t i = n; i-- > 0;)
		v = v << 8 | p[i];
	return v;
}

static size_t count_of(size_t size)
{
	return (size - HEAD) / ENTRY;
}

static struct entry entry_at(const void *value, size_t i)
{
	const unsigned char *p = (const unsigned char *)value + HEAD + i * ENTRY;

	return (struct entry){ (uint16_t)get_le(p, 2),
			       (uint16_t)get_le(p + 2, 2),
			       get_le(p + 4, 4) };
}

static void set_perm(void *value, size_t i, uint32_t perm)
{
	unsigned char *p = (unsigned char *)value + HEAD + i * ENTRY + 2;

	p[0] = (unsigned char)(perm & 7);
	p[1] = 0;
}

bool acl_name(const char *name)
{
	return strcmp(name, ACL_ACCESS_XATTR) == 0 ||
	       strcmp(name, ACL_DEFAULT_XATTR) == 0;
}

/* posix_acl_valid's walk: the state is the tag expected next. */
static int next_state(const struct entry *e, int state, bool *needs_mask)
{
	switch (e->tag) {
	case TAG_USER_OBJ:
		return state == TAG_USER_OBJ ? TAG_USER : -1;
	case TAG_USER:
		*needs_mask = true;
		return state == TAG_USER && e->id != UNDEFINED_ID ? state : -1;
	case TAG_GROUP_OBJ:
		return state == TAG_USER ? TAG_GROUP : -1;
	case TAG_GROUP:
		*needs_mask = true;
		return state == TAG_GROUP && e->id != UNDEFINED_ID ? state : -1;
	case TAG_MASK:
		return state == TAG_GROUP ? TAG_OTHER : -1;
	case TAG_OTHER:
		return state == TAG_OTHER ||
		       (state == TAG_GROUP && !*needs_mask) ? 0 : -1;
	default:
		return -1;
	}
}

int acl_valid(const void *value, size_t size)
{
	bool needs_mask = false;
	int state = TAG_USER_OBJ;

	if (size < HEAD + ENTRY || (size - HEAD) % ENTRY ||
	    get_le(value, 4) != ACL_VERSION)
		return -EINVAL;
	for (size_t i = 0; i < count_of(size); i++) {
		struct entry e = entry_at(value, i);

		if (state <= 0 || (e.perm & ~7u))
			return -EINVAL;
		state = next_state(&e, state, &needs_mask);
	}
	return state == 0 ? 0 : -EINVAL;
}

int acl_mode(const void *value, size_t size, uint32_t *rwx)
{
	uint32_t mode = 0;
	int more = 0;

	for (size_t i = 0; i < count_of(size); i++) {
		struct entry e = entry_at(value, i);

		if (e.tag == TAG_USER_OBJ)
			mode |= (e.perm & 7u) << 6;
		else if (e.tag == TAG_GROUP_OBJ)
			mode |= (e.perm & 7u) << 3;
		else if (e.tag == TAG_OTHER)
			mode |= e.perm & 7u;
		else if (e.tag == TAG_MASK)
			mode = (mode & ~(uint32_t)S_IRWXG) | (e.perm & 7u) << 3;
		if (e.tag == TAG_MASK || e.tag == TAG_USER ||
		    e.tag == TAG_GROUP)
			more = 1;
	}
	*rwx = mode;
	return more;
}

/* The entry that stands for the group class: the mask if there is one,
 * else the owning group (a valid ACL has one or the other). */
static size_t group_class(const void *value, size_t size)
{
	size_t group = 0;

	for (size_t i = 0; i < count_of(size); i++) {
		uint16_t tag = entry_at(value, i).tag;

		if (tag == TAG_MASK)
			return i;
		if (tag == TAG_GROUP_OBJ)
			group = i;
	}
	return group;
}

void acl_chmod(void *value, size_t size, uint32_t mode)
{
	for (size_t i = 0; i < count_of(size); i++) {
		uint16_t tag = entry_at(value, i).tag;

		if (tag == TAG_USER_OBJ)
			set_perm(value, i, mode >> 6);
		else if (tag == TAG_OTHER)
			set_perm(value, i, mode);
	}
	set_perm(value, group_class(value, size), mode >> 3);
}

int acl_create_masq(void *value, size_t size, uint32_t *mode)
{
	uint32_t m = *mode & 0777, perm;
	size_t g = group_class(value, size);
	int more = 0;

	for (size_t i = 0; i < count_of(size); i++) {
		struct entry e = entry_at(value, i);

		if (e.tag == TAG_USER_OBJ) {
			perm = e.perm & (m >> 6);
			set_perm(value, i, perm);
			m = (m & ~(uint32_t)S_IRWXU) | (m & perm << 6);
		} else if (e.tag == TAG_OTHER) {
			perm = e.perm & m;
			set_perm(value, i, perm);
			m = (m & ~(uint32_t)S_IRWXO) | (m & perm);
		} else if (e.tag != TAG_GROUP_OBJ) {
			more = 1;       /* USER, GROUP, MASK */
		}
	}
	perm = entry_at(value, g).perm & (m >> 3);
	set_perm(value, g, perm);
	m = (m & ~(uint32_t)S_IRWXG) | (m & perm << 3);
	*mode = (*mode & ~0777u) | m;
	return more;
}

/* ---- on a store ---------------------------------------------------------- */

/* name's value on ref, in a new buffer of twice its size (*size bytes
 * used; room for a copy after it).  -ENODATA when absent. */
static int read_acl(struct store *s, store_ref ref, const char *name,
		    void **buf, size_t *size)
{
	ssize_t n = store_getxattr(s, ref, name, NULL, 0);

	*buf = NULL;
	if (n < 0)
		return (int)n;
	*buf = malloc(2 * (size_t)n + 1);
	if (!*buf)
		return -ENOMEM;
	n = store_getxattr(s, ref, name, *buf, (size_t)n);
	if (n < 0) {
		free(*buf);
		*buf = NULL;
		return (int)n;
	}
	*size = (size_t)n;
	return 0;
}

void acl_new_free(struct acl_new *out)
{
	free(out->buf);
	memset(out, 0, sizeof(*out));
}

int acl_store_inherit(struct store *s, store_ref dir, uint32_t *mode,
		      uint32_t umask, struct acl_new *out)
{
	size_t size;
	char *copy;
	int rc;

	memset(out, 0, sizeof(*out));
	rc = read_acl(s, dir, ACL_DEFAULT_XATTR, &out->buf, &size);
	if (rc == -ENODATA) {
		*mode &= ~(umask & 0777);
		return 0;
	}
	if (rc == 0 && acl_valid(out->buf, size))
		rc = -EIO;
	if (rc) {
		acl_new_free(out);
		return rc;
	}
	copy = (char *)out->buf + size;
	memcpy(copy, out->buf, size);
	if (acl_create_masq(copy, size, mode))
		out->x[out->n++] = (struct store_xattr){ ACL_ACCESS_XATTR,
							 copy, size };
	if (S_ISDIR(*mode))
		out->x[out->n++] = (struct store_xattr){ ACL_DEFAULT_XATTR,
							 out->buf, size };
	return 0;
}

static int set_default(struct store *s, store_ref ref, const void *value,
		       size_t size)
{
	struct store_attr a;
	int rc = store_getattr(s, ref, &a);

	if (rc == 0 && !S_ISDIR(a.mode))
		rc = -EACCES;
	if (rc == 0)
		rc = store_setxattr(s, ref, ACL_DEFAULT_XATTR, value, size, 0);
	return rc;
}

int acl_store_set(struct store *s, store_ref ref, const char *name,
		  const void *value, size_t size, bool keep_sgid)
{
	uint32_t clear = 0777u | (keep_sgid ? 0 : S_ISGID), rwx;
	int more;

	if (acl_valid(value, size))
		return -EINVAL;
	if (strcmp(name, ACL_DEFAULT_XATTR) == 0)
		return set_default(s, ref, value, size);
	more = acl_mode(value, size, &rwx);
	return store_setxattr_mode(s, ref, ACL_ACCESS_XATTR,
				   more ? value : NULL, size, clear, rwx);
}

int acl_store_remove(struct store *s, store_ref ref, const char *name,
		     bool keep_sgid)
{
	int rc;

	if (strcmp(name, ACL_ACCESS_XATTR) == 0)
		return store_setxattr_mode(s, ref, name, NULL, 0,
					   keep_sgid ? 0 : S_ISGID, 0);
	rc = store_removexattr(s, ref, name);
	return rc == -ENODATA ? 0 : rc;
}

int acl_store_chmod(struct store *s, store_ref ref, uint32_t mode)
{
	size_t size;
	void *buf;
	int rc = read_acl(s, ref, ACL_ACCESS_XATTR, &buf, &size);

	if (rc)
		return rc == -ENODATA ? 0 : rc;
	if (acl_valid(buf, size) == 0) {
		acl_chmod(buf, size, mode);
		rc = store_setxattr(s, ref, ACL_ACCESS_XATTR, buf, size,
				    STORE_XATTR_REPLACE);
	}
	free(buf);
	return rc;
}

/* test_acl.c -- unit tests of the ACL rules (src/fs/acl.h).
 *
 * The rules on the xattr form against what Linux's fs/posix_acl.c does
 * (tmpfs's outputs, as getfacl shows them, are the expectations): which
 * ACLs are valid, the mode an access ACL decides, chmod, and the masking
 * of an inherited default ACL.  Then the same rules on a store: a default
 * ACL inherited in the same commit as the node (and the attribute limits
 * still holding), set and remove with the mode in step, chmod rewriting
 * the ACL.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "acl.h"
#include "ring.h"
#include "store.h"
#include "unit.h"

enum { UO = 1, U = 2, GO = 4, G = 8, M = 0x10, O = 0x20 };
#define NONE 0xffffffffu
#define MAXE 16

/* An ACL in xattr form from (tag, perm, id) triples. */
struct xacl {
	unsigned char b[4 + 8 * MAXE];
	size_t size;
};

static struct xacl make(size_t n, const unsigned (*e)[3])
{
	struct xacl x = { .size = 4 + 8 * n };

	x.b[0] = 2;
	for (size_t i = 0; i < n; i++) {
		unsigned char *p = x.b + 4 + 8 * i;

		p[0] = (unsigned char)e[i][0];
		p[1] = (unsigned char)(e[i][0] >> 8);
		p[2] = (unsigned char)e[i][1];
		for (int k = 0; k < 4; k++)
			p[4 + k] = (unsigned char)(e[i][2] >> (8 * k));
	}
	return x;
}

#define XACL(...) ({ static const unsigned e_[][3] = { __VA_ARGS__ }; \
		     make(sizeof(e_) / sizeof(e_[0]), e_); })

static unsigned perm_of(const struct xacl *x, unsigned tag)
{
	for (size_t i = 0; i < (x->size - 4) / 8; i++)
		if (x->b[4 + 8 * i] == tag)
			return x->b[4 + 8 * i + 2];
	return 99;
}

static void test_valid(void)
{
	struct xacl ok = XACL({ UO, 6, NONE }, { U, 6, 12345 }, { GO, 4, NONE },
			      { M, 6, NONE }, { O, 4, NONE });
	struct xacl min = XACL({ UO, 6, NONE }, { GO, 4, NONE }, { O, 4, NONE });
	struct xacl bad;

	CHECK(acl_valid(ok.b, ok.size) == 0, "full");
	CHECK(acl_valid(min.b, min.size) == 0, "minimal");
	CHECK(acl_valid(ok.b, 4) == -EINVAL, "no entry");
	CHECK(acl_valid(ok.b, ok.size - 1) == -EINVAL, "ragged size");
	CHECK(acl_valid(ok.b, 2) == -EINVAL, "no header");
	bad = ok;
	bad.b[0] = 1;
	CHECK(acl_valid(bad.b, bad.size) == -EINVAL, "version");
	bad = ok;
	bad.b[4 + 2] = 8;
	CHECK(acl_valid(bad.b, bad.size) == -EINVAL, "perm past rwx");
	bad = XACL({ GO, 4, NONE }, { UO, 6, NONE }, { O, 4, NONE });
	CHECK(acl_valid(bad.b, bad.size) == -EINVAL, "out of order");
	bad = XACL({ UO, 6, NONE }, { U, 6, 7 }, { GO, 4, NONE },
		   { O, 4, NONE });
	CHECK(acl_valid(bad.b, bad.size) == -EINVAL, "named without mask");
	bad = XACL({ UO, 6, NONE }, { U, 6, NONE }, { GO, 4, NONE },
		   { M, 6, NONE }, { O, 4, NONE });
	CHECK(acl_valid(bad.b, bad.size) == -EINVAL, "user id -1");
	bad = XACL({ UO, 6, NONE }, { GO, 4, NONE }, { O, 4, NONE },
		   { O, 4, NONE });
	CHECK(acl_valid(bad.b, bad.size) == -EINVAL, "two others");
	bad = XACL({ UO, 6, NONE }, { GO, 4, NONE }, { M, 4, NONE },
		   { M, 4, NONE }, { O, 4, NONE });
	CHECK(acl_valid(bad.b, bad.size) == -EINVAL, "two masks");
	bad = XACL({ UO, 6, NONE }, { GO, 4, NONE });
	CHECK(acl_valid(bad.b, bad.size) == -EINVAL, "no other");
	bad = XACL({ UO, 6, NONE }, { GO, 4, NONE }, { 0x40, 4, NONE });
	CHECK(acl_valid(bad.b, bad.size) == -EINVAL, "unknown tag");
	bad = XACL({ UO, 6, NONE }, { GO, 4, NONE }, { M, 4, NONE },
		   { O, 4, NONE });
	CHECK(acl_valid(bad.b, bad.size) == 0, "mask alone is valid");
}

static void test_mode_chmod_masq(void)
{
	struct xacl x = XACL({ UO, 6, NONE }, { U, 6, 12345 }, { GO, 4, NONE },
			     { M, 6, NONE }, { O, 4, NONE });
	struct xacl min = XACL({ UO, 7, NONE }, { GO, 5, NONE }, { O, 0, NONE });
	struct xacl d;
	uint32_t rwx, mode;

	CHECK(acl_mode(x.b, x.size, &rwx) == 1 && rwx == 0664,
	      "mask is the group bits: %o", rwx);
	CHECK(acl_mode(min.b, min.size, &rwx) == 0 && rwx == 0750,
	      "minimal says only the mode: %o", rwx);
	acl_chmod(x.b, x.size, S_IFREG | 0640);
	CHECK(perm_of(&x, UO) == 6 && perm_of(&x, M) == 4 &&
	      perm_of(&x, GO) == 4 && perm_of(&x, O) == 0 &&
	      perm_of(&x, U) == 6, "chmod 640 sets the mask, not the group");
	acl_chmod(min.b, min.size, 0604);
	CHECK(perm_of(&min, UO) == 6 && perm_of(&min, GO) == 0 &&
	      perm_of(&min, O) == 4, "chmod without mask sets the group");
	/* setfacl -d -m u:12345:rwx,g::r-x,o::- then touch (0666): tmpfs
	 * gives user::rw- user:12345:rwx group::r-x mask::rw- other::---,
	 * mode 0660. */
	d = XACL({ UO, 7, NONE }, { U, 7, 12345 }, { GO, 5, NONE },
		 { M, 7, NONE }, { O, 0, NONE });
	mode = S_IFREG | 0666;
	CHECK(acl_create_masq(d.b, d.size, &mode) == 1, "named: stored");
	CHECK(mode == (S_IFREG | 0660), "masq mode %o", mode);
	CHECK(perm_of(&d, UO) == 6 && perm_of(&d, U) == 7 &&
	      perm_of(&d, GO) == 5 && perm_of(&d, M) == 6 &&
	      perm_of(&d, O) == 0, "masq entries");
	min = XACL({ UO, 7, NONE }, { GO, 5, NONE }, { O, 0, NONE });
	mode = S_IFDIR | S_ISGID | 0777;
	CHECK(acl_create_masq(min.b, min.size, &mode) == 0, "minimal: mode");
	CHECK(mode == (S_IFDIR | S_ISGID | 0750), "minimal mode %o", mode);
}

static char dir_template[] = "/tmp/mmfs-acl-XXXXXX";
static char arena_path[256];

static struct store *open_arena(void)
{
	struct store_options o = { .size_cap = 64 << 20,
				   .flags = STORE_OPEN_CREATE };
	struct store *s = NULL;
	char err[256];

	unlink(arena_path);
	if (store_open(arena_path, &o, &s, err, sizeof(err))) {
		fprintf(stderr, "store_open: %s\n", err);
		exit(1);
	}
	return s;
}

/* A node made in dir as the daemon makes it (ops.c new_acl). */
static int make_node(struct store *s, store_ref dir, const char *name,
		     uint32_t mode, uint32_t umask, store_ref *ref)
{
	struct acl_new acl;
	struct store_attr a;
	int rc = acl_store_inherit(s, dir, &mode, umask, &acl);

	if (rc == 0)
		rc = store_mknod_with(s, dir, name, mode, 0, 0, 0, acl.x, acl.n,
				      ref, &a);
	acl_new_free(&acl);
	return rc;
}

static uint32_t mode_of(struct store *s, store_ref ref)
{
	struct store_attr a;

	return store_getattr(s, ref, &a) ? 0 : a.mode;
}

static void test_on_store(void)
{
	struct xacl d = XACL({ UO, 7, NONE }, { U, 7, 12345 }, { GO, 5, NONE },
			     { M, 7, NONE }, { O, 0, NONE });
	struct xacl x = XACL({ UO, 6, NONE }, { U, 6, 12345 }, { GO, 4, NONE },
			     { M, 6, NONE }, { O, 4, NONE });
	struct xacl min = XACL({ UO, 6, NONE }, { GO, 0, NONE }, { O, 0, NONE });
	struct store *s = open_arena();
	store_ref root = store_root(s), dir, f, sub, g;
	struct xacl got;
	ssize_t n;

	/* No default ACL: the umask applies, nothing is stored. */
	CHECK(make_node(s, root, "plain", S_IFREG | 0666, 027, &f) == 0, "plain");
	CHECK(mode_of(s, f) == (S_IFREG | 0640), "umask: %o", mode_of(s, f));
	CHECK(store_listxattr(s, f, NULL, 0) == 0, "no attribute");
	/* A default ACL only on directories. */
	CHECK(acl_store_set(s, f, ACL_DEFAULT_XATTR, d.b, d.size, true) ==
	      -EACCES, "default on a file");
	CHECK(make_node(s, root, "d", S_IFDIR | 0755, 022, &dir) == 0, "dir");
	CHECK(acl_store_set(s, dir, ACL_DEFAULT_XATTR, d.b, d.size - 1, true)
	      == -EINVAL, "invalid");
	CHECK(acl_store_set(s, dir, ACL_DEFAULT_XATTR, d.b, d.size, true) == 0,
	      "default on a dir");
	CHECK(mode_of(s, dir) == (S_IFDIR | 0755), "a default ACL leaves the "
	      "mode");
	/* Inherited, umask ignored. */
	CHECK(make_node(s, dir, "nf", S_IFREG | 0666, 077, &f) == 0, "nf");
	CHECK(mode_of(s, f) == (S_IFREG | 0660), "nf mode %o", mode_of(s, f));
	got.size = (size_t)store_getxattr(s, f, ACL_ACCESS_XATTR, got.b,
					  sizeof(got.b));
	CHECK(got.size == d.size && perm_of(&got, M) == 6 &&
	      perm_of(&got, UO) == 6, "nf access ACL");
	CHECK(store_getxattr(s, f, ACL_DEFAULT_XATTR, NULL, 0) == -ENODATA,
	      "a file gets no default ACL");
	CHECK(make_node(s, dir, "nd", S_IFDIR | 0777, 077, &sub) == 0, "nd");
	CHECK(mode_of(s, sub) == (S_IFDIR | 0770), "nd mode %o",
	      mode_of(s, sub));
	CHECK(store_getxattr(s, sub, ACL_DEFAULT_XATTR, NULL, 0) ==
	      (ssize_t)d.size, "a directory passes it on");
	/* chmod rewrites the access ACL's mask. */
	CHECK(acl_store_chmod(s, f, 0640) == 0, "chmod");
	got.size = (size_t)store_getxattr(s, f, ACL_ACCESS_XATTR, got.b,
					  sizeof(got.b));
	CHECK(perm_of(&got, M) == 4 && perm_of(&got, O) == 0 &&
	      perm_of(&got, U) == 7, "chmod: mask r--");
	/* Set: the mode follows; S_ISGID goes unless kept. */
	CHECK(make_node(s, root, "g", S_IFREG | 02700, 0, &g) == 0, "g");
	CHECK(acl_store_set(s, g, ACL_ACCESS_XATTR, x.b, x.size, true) == 0,
	      "set");
	CHECK(mode_of(s, g) == (S_IFREG | 02664), "mode from ACL %o",
	      mode_of(s, g));
	CHECK(acl_store_set(s, g, ACL_ACCESS_XATTR, x.b, x.size, false) == 0,
	      "set, sgid dropped");
	CHECK(mode_of(s, g) == (S_IFREG | 0664), "no sgid %o", mode_of(s, g));
	/* An ACL that says no more than the mode is not stored. */
	CHECK(acl_store_set(s, g, ACL_ACCESS_XATTR, min.b, min.size, true) ==
	      0, "minimal");
	CHECK(mode_of(s, g) == (S_IFREG | 0600), "minimal mode %o",
	      mode_of(s, g));
	CHECK(store_getxattr(s, g, ACL_ACCESS_XATTR, NULL, 0) == -ENODATA,
	      "minimal not stored");
	CHECK(acl_store_chmod(s, g, 0644) == 0, "chmod without ACL");
	CHECK(acl_store_remove(s, g, ACL_ACCESS_XATTR, true) == 0,
	      "remove absent");
	CHECK(acl_store_remove(s, dir, ACL_DEFAULT_XATTR, true) == 0 &&
	      store_getxattr(s, dir, ACL_DEFAULT_XATTR, NULL, 0) == -ENODATA,
	      "remove default");
	/* The per-file limits hold for ACLs: 256 names of 255 bytes fill
	 * the name list (STORE_XATTR_LIST_MAX), then none. */
	for (int i = 0; i < 256; i++) {
		char name[STORE_XATTR_NAME_MAX + 1];

		snprintf(name, sizeof(name), "user.%03d%0247d", i, 0);
		CHECK(store_setxattr(s, g, name, "v", 1, 0) == 0, "%s", name);
	}
	CHECK(acl_store_set(s, g, ACL_ACCESS_XATTR, x.b, x.size, true) ==
	      -ENOSPC, "an ACL past a full name list");
	CHECK(mode_of(s, g) == (S_IFREG | 0600), "a refused ACL leaves the "
	      "mode %o", mode_of(s, g));
	/* A node whose inherited attributes do not fit is not made at all:
	 * five of 60000 bytes are over STORE_XATTR_TOTAL_MAX. */
	{
		static char value[60000];
		static const char *const names[] = {
			"user.1", "user.2", "user.3", "user.4", "user.5",
		};
		struct store_xattr big[5];

		for (int i = 0; i < 5; i++)
			big[i] = (struct store_xattr){ names[i], value,
						       sizeof(value) };
		CHECK(store_mknod_with(s, root, "toomany", S_IFREG | 0644, 0,
				       0, 0, big, 5, &f, NULL) == -ENOSPC,
		      "300 KB of attributes at creation");
		n = store_lookup(s, root, "toomany", &f, NULL);
		CHECK(n == -ENOENT, "not made");
	}
	store_close(s);
}

int main(void)
{
	if (ring_register() != 0 || !mkdtemp(dir_template))
		return 1;
	snprintf(arena_path, sizeof(arena_path), "%s/arena", dir_template);
	test_valid();
	test_mode_chmod_masq();
	test_on_store();
	unlink(arena_path);
	rmdir(dir_template);
	return unit_exit("test_acl");
}

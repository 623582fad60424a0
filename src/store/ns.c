/* ns.c -- the namespace: directory entries, the name index, rename, cursors.
 *
 * Every link is a DENTRY block.  A dentry counts only once its state byte
 * says LIVE (the commit point of create and link) and stops counting when
 * it says DEAD (unlink, rmdir).  Each gets a position when it is made
 * (format.h, "Names": header.next_pos, which only grows).  Live dentries
 * are also
 *   - chained from the HASH block by ns_hash(parent, name): O(1) lookups
 *     whatever the directory size;
 *   - linked into their directory's list in position order (readdir):
 *     ns_insert appends, and a new dentry has the largest position.
 * Both are derived: recovery rebuilds them, so only the state byte needs to
 * be crash-ordered.  Rename uses the header's intent record (format.h).
 *
 * Cursors (store.h, "Directory cursors").  A struct store_dir returns the
 * entries whose position lies in (after, end): `after` is the position it
 * has gone past, `end` the header's next_pos when its pass began.  It
 * also keeps `last`, the last dentry of the list at or before `after` (0:
 * none), so that the next entry is one step away.  Invariant: last is 0
 * or a live dentry of the directory with pos <= after.  ns_remove keeps it
 * by moving a cursor on the removed dentry to the one before; appends come
 * after it.  A seek walks from last to the new place: O(entries passed).
 */
#include <errno.h>
#include <stdlib.h>

#include "kind.h"
#include "store_int.h"
#include "store_kind.h"

static uint64_t mix64(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ULL;
	x ^= x >> 33;
	return x;
}

uint32_t ns_hash(const struct store *s, uint64_t parent, const char *name,
		 size_t len)
{
	uint64_t h = s->hdr->hash_seed ^ mix64(parent);

	for (size_t i = 0; i < len; i++)
		h = (h ^ (unsigned char)name[i]) * 0x100000001b3ULL;
	return (uint32_t)mix64(h);
}

static uint64_t *buckets(struct store *s)
{
	return mm_payload(s, s->hdr->hash_table);
}

static uint64_t *bucket_of(struct store *s, uint32_t hash)
{
	return &buckets(s)[hash & (s->hdr->hash_buckets - 1)];
}

uint64_t ns_find(struct store *s, uint64_t dir, const char *name, size_t len)
{
	uint32_t hash = ns_hash(s, dir, name, len);
	uint64_t off = *bucket_of(s, hash);

	while (off) {
		struct mm_dentry *d = mm_dentry(s, off);

		if (d->hash == hash && d->parent == dir && d->namelen == len &&
		    memcmp(d->name, name, len) == 0)
			return off;
		off = d->hash_next;
	}
	return 0;
}

int ns_index_init(struct store *s, uint64_t nbuckets)
{
	uint64_t off;
	int rc = mm_zalloc(s, MM_HASH, nbuckets * sizeof(uint64_t), &off);

	if (rc)
		return rc;
	s->hdr->hash_table = off;
	s->hdr->hash_buckets = nbuckets;
	s->hdr->hash_count = 0;
	return 0;
}

/* Double the index when it holds more entries than buckets.  The old table
 * stays in use if the arena has no room for a new one. */
void ns_index_maybe_grow(struct store *s)
{
	struct mm_header *h = s->hdr;
	uint64_t old = h->hash_table, n = h->hash_buckets, fresh;
	uint64_t *from = mm_payload(s, old), *to;

	if (h->hash_count <= n || n >= (1ULL << 28))
		return;
	if (mm_zalloc(s, MM_HASH, 2 * n * sizeof(uint64_t), &fresh) != 0)
		return;
	to = mm_payload(s, fresh);
	for (uint64_t i = 0; i < n; i++) {
		uint64_t off = from[i];

		while (off) {
			struct mm_dentry *d = mm_dentry(s, off);
			uint64_t next = d->hash_next, *b;

			b = &to[d->hash & (2 * n - 1)];
			d->hash_next = *b;
			*b = off;
			off = next;
		}
	}
	h->hash_table = fresh;
	h->hash_buckets = 2 * n;
	mm_free(s, old);
}

void ns_insert(struct store *s, uint64_t off)
{
	struct mm_dentry *d = mm_dentry(s, off);
	struct mm_dir *dir = mm_dir(s, d->parent);
	uint64_t *b = bucket_of(s, d->hash);
	struct mm_inode *child = mm_inode(s, d->inode);

	d->hash_next = *b;
	*b = off;
	s->hdr->hash_count++;
	d->next = 0;
	d->prev = dir->tail;
	if (dir->tail)
		mm_dentry(s, dir->tail)->next = off;
	else
		dir->head = off;
	dir->tail = off;
	dir->count++;
	if (mm_is_dir(child)) {
		dir->nsubdirs++;
		mm_dir(s, d->inode)->dentry = off;
	}
}

static void unhash(struct store *s, uint64_t off)
{
	struct mm_dentry *d = mm_dentry(s, off);
	uint64_t *link = bucket_of(s, d->hash);

	while (*link && *link != off)
		link = &mm_dentry(s, *link)->hash_next;
	if (*link)
		*link = d->hash_next;
	s->hdr->hash_count--;
}

void ns_remove(struct store *s, uint64_t off)
{
	struct mm_dentry *d = mm_dentry(s, off);
	struct mm_dir *dir = mm_dir(s, d->parent);

	for (struct store_dir *c = s->cursors; c; c = c->next)
		if (c->last == off)
			c->last = d->prev;      /* keeps pos <= after */
	unhash(s, off);
	if (d->prev)
		mm_dentry(s, d->prev)->next = d->next;
	else
		dir->head = d->next;
	if (d->next)
		mm_dentry(s, d->next)->prev = d->prev;
	else
		dir->tail = d->prev;
	dir->count--;
	if (mm_is_dir(mm_inode(s, d->inode))) {
		dir->nsubdirs--;
		mm_dir(s, d->inode)->dentry = 0;
	}
}

/* A PENDING dentry with the next position.  -ENOSPC also when the
 * positions are used up (2^62 names made since the arena was created: a
 * remount renumbers them, recover.c). */
static int dentry_new(struct store *s, uint64_t parent, const char *name,
		      size_t len, uint64_t inode, uint64_t *out)
{
	struct mm_dentry *d;
	int rc;

	if (s->hdr->next_pos >= MM_POS_MAX)
		return -ENOSPC;
	rc = mm_alloc(s, MM_DENTRY, sizeof(*d) + len, out);
	if (rc)
		return rc;
	d = mm_dentry(s, *out);
	memset(d, 0, sizeof(*d));
	d->parent = parent;
	d->inode = inode;
	d->hash = ns_hash(s, parent, name, len);
	d->namelen = (uint16_t)len;
	d->state = MM_DENTRY_PENDING;
	d->pos = s->hdr->next_pos++;
	memcpy(d->name, name, len);
	return 0;
}

/* A directory that can take entries: valid, a directory, not removed. */
static int check_dir(struct store *s, uint64_t dir)
{
	if (!store_valid_ref(s, dir))
		return -ESTALE;
	if (!mm_is_dir(mm_inode(s, dir)))
		return -ENOTDIR;
	return mm_inode(s, dir)->nlink ? 0 : -ENOENT;
}

static int check_name(const char *name, size_t *len)
{
	*len = strlen(name);
	if (*len == 0)
		return -EINVAL;
	return *len > STORE_NAME_MAX ? -ENAMETOOLONG : 0;
}

/* Find name in dir: 0 and *out, or -errno. */
static int find(struct store *s, uint64_t dir, const char *name,
		uint64_t *out)
{
	size_t len;
	int rc = check_name(name, &len);

	if (rc == 0)
		rc = check_dir(s, dir);
	if (rc)
		return rc;
	*out = ns_find(s, dir, name, len);
	return *out ? 0 : -ENOENT;
}

int store_lookup(struct store *s, store_ref dir, const char *name,
		 store_ref *out, struct store_attr *attr)
{
	uint64_t d;
	int rc;

	arena_lock(s);
	rc = find(s, dir, name, &d);
	if (rc == 0) {
		*out = mm_dentry(s, d)->inode;
		if (attr)
			inode_fill_attr(s, *out, attr);
	}
	arena_unlock(s);
	return rc;
}

/* Link an existing inode under a new name: allocate, commit, index. */
static int add_link(struct store *s, uint64_t dir, const char *name,
		    size_t len, uint64_t inode)
{
	uint64_t d;
	int rc = dentry_new(s, dir, name, len, inode, &d);

	if (rc)
		return rc;
	mm_inode(s, inode)->nlink++;
	mm_commit8(&mm_dentry(s, d)->state, MM_DENTRY_LIVE);
	ns_insert(s, d);
	ns_index_maybe_grow(s);
	inode_touch(s, dir, true, true);
	return 0;
}

/* The attributes a new node is made with (store_mknod_with). */
struct new_xattrs {
	const struct store_xattr *x;
	size_t n;
};

/* Common part of every creation: checks, a new inode with its data,
 * flags and attributes set, then its first link (the commit). */
static int create_node(struct store *s, uint64_t dir, const char *name,
		       const struct mm_inode *init,
		       const struct new_xattrs *xa, uint64_t *out)
{
	size_t len;
	uint64_t inode, xattr = 0;
	int rc = check_name(name, &len);

	if (rc == 0)
		rc = check_dir(s, dir);
	if (rc == 0 && ns_find(s, dir, name, len))
		rc = -EEXIST;
	if (rc == 0 && s->hdr->ninodes >= s->hdr->max_files)
		rc = -ENOSPC;
	if (rc == 0 && xa)
		rc = xattr_build(s, xa->x, xa->n, &xattr);
	if (rc == 0) {
		rc = inode_new(s, init->mode, init->uid, init->gid, &inode);
		if (rc && xattr)
			mm_free(s, xattr);
	}
	if (rc)
		return rc;
	if (init->data)
		mm_inode(s, inode)->data = init->data;
	mm_inode(s, inode)->flags = init->flags;
	mm_inode(s, inode)->xattr = xattr;
	s->hdr->nrings += (init->flags & MM_INODE_RING) != 0;
	rc = add_link(s, dir, name, len, inode);
	if (rc) {
		mm_inode(s, inode)->data = 0;
		mm_inode(s, inode)->flags = 0;
		s->hdr->nrings -= (init->flags & MM_INODE_RING) != 0;
		inode_free(s, inode);
		return rc;
	}
	*out = inode;
	return 0;
}

int store_mknod(struct store *s, store_ref dir, const char *name,
		uint32_t mode, uint32_t uid, uint32_t gid, uint32_t rdev,
		store_ref *out, struct store_attr *attr)
{
	return store_mknod_with(s, dir, name, mode, uid, gid, rdev, NULL, 0,
				out, attr);
}

int store_mknod_with(struct store *s, store_ref dir, const char *name,
		     uint32_t mode, uint32_t uid, uint32_t gid, uint32_t rdev,
		     const struct store_xattr *x, size_t n, store_ref *out,
		     struct store_attr *attr)
{
	struct mm_inode init = { .mode = mode, .uid = uid, .gid = gid };
	struct new_xattrs xa = { x, n };
	uint32_t type = mode & MM_IFMT;
	int rc = 0;

	if (type == 0)
		init.mode |= type = MM_IFREG;
	if (type != MM_IFREG && type != MM_IFDIR && type != MM_IFIFO &&
	    type != MM_IFSOCK && type != MM_IFCHR && type != MM_IFBLK)
		return -EINVAL;
	if (store_readonly(s))
		return -EROFS;
	arena_lock(s);
	if (type == MM_IFCHR || type == MM_IFBLK)
		init.data = rdev;
	rc = create_node(s, dir, name, &init, &xa, out);
	if (rc == 0)
		inode_fill_attr(s, *out, attr);
	arena_unlock(s);
	return rc;
}

/* A regular file without a name, held (store_tmpfile_with).  Checks
 * as create_node's but the name's; the inode and its hold are made under
 * one lock, so no moment exists where it has neither a link nor a hold. */
static int create_orphan(struct store *s, uint64_t dir, uint32_t mode,
			 uint32_t uid, uint32_t gid,
			 const struct new_xattrs *xa, uint64_t *out)
{
	uint64_t inode, xattr = 0;
	int rc = check_dir(s, dir);

	if (rc == 0 && s->hdr->ninodes >= s->hdr->max_files)
		rc = -ENOSPC;
	if (rc == 0)
		rc = xattr_build(s, xa->x, xa->n, &xattr);
	if (rc)
		return rc;
	rc = inode_new(s, MM_IFREG | (mode & 07777), uid, gid, &inode);
	if (rc) {
		if (xattr)
			mm_free(s, xattr);
		return rc;
	}
	mm_inode(s, inode)->xattr = xattr;
	rc = inode_hold(s, inode);
	if (rc) {
		inode_free(s, inode);   /* and its xattr block */
		return rc;
	}
	*out = inode;
	return 0;
}

int store_tmpfile_with(struct store *s, store_ref dir, uint32_t mode,
		       uint32_t uid, uint32_t gid,
		       const struct store_xattr *x, size_t n, store_ref *out,
		       struct store_attr *attr)
{
	struct new_xattrs xa = { x, n };
	int rc;

	if (store_readonly(s))
		return -EROFS;
	arena_lock(s);
	rc = create_orphan(s, dir, mode, uid, gid, &xa, out);
	if (rc == 0)
		inode_fill_attr(s, *out, attr);
	arena_unlock(s);
	return rc;
}

int store_kind_create(struct store *s, store_ref dir, const char *name,
		      uint32_t mode, uint32_t uid, uint32_t gid,
		      unsigned kind, uint64_t block,
		      const struct store_xattr *x, size_t n, store_ref *out,
		      struct store_attr *attr)
{
	struct mm_inode init = { .mode = MM_IFREG | (mode & 07777),
				 .uid = uid, .gid = gid, .data = block,
				 .flags = kind_inode_flag(kind) };
	struct new_xattrs xa = { x, n };
	int rc = create_node(s, dir, name, &init, &xa, out);

	if (rc) {
		mm_free(s, block);
		return rc;
	}
	inode_fill_attr(s, *out, attr);
	return 0;
}

int store_symlink(struct store *s, store_ref dir, const char *name,
		  const char *target, uint32_t uid, uint32_t gid,
		  store_ref *out, struct store_attr *attr)
{
	size_t len = strlen(target);
	uint64_t data;
	int rc;

	if (len == 0)
		return -ENOENT;
	if (len > STORE_SYMLINK_MAX)
		return -ENAMETOOLONG;
	if (store_readonly(s))
		return -EROFS;
	arena_lock(s);
	rc = mm_alloc(s, MM_DATA, sizeof(struct mm_data) + len, &data);
	if (rc)
		goto out;
	((struct mm_data *)mm_payload(s, data))->size = len;
	memcpy(((struct mm_data *)mm_payload(s, data))->bytes, target, len);
	rc = create_node(s, dir, name, &(struct mm_inode){ .mode = (MM_IFLNK | 0777),
			 .uid = uid, .gid = gid, .data = data }, NULL, out);
	if (rc) {
		mm_free(s, data);
		goto out;
	}
	inode_fill_attr(s, *out, attr);
out:
	arena_unlock(s);
	return rc;
}

int store_readlink(struct store *s, store_ref ref, char *buf, size_t size)
{
	struct mm_inode *ino;
	struct mm_data *data;
	int rc = store_enter(s, ref);

	if (rc)
		return rc;
	rc = -EINVAL;
	ino = mm_inode(s, ref);
	if (mm_type(ino) != MM_IFLNK || !ino->data)
		goto out;
	data = mm_payload(s, ino->data);
	memcpy(buf, data->bytes, data->size < size ? data->size : size);
	rc = (int)data->size;
out:
	arena_unlock(s);
	return rc;
}

/* The checks of a new link to ref, under the arena lock.  An inode
 * without links takes one only when orphan says the caller may give it
 * one, and only while it is held (else it is being freed). */
static int link_checks(struct store *s, store_ref ref, store_ref newdir,
		       const char *newname, size_t len, bool orphan)
{
	int rc = check_dir(s, newdir);
	struct mm_inode *ino;

	if (rc == 0 && !store_valid_ref(s, ref))
		rc = -ESTALE;
	if (rc)
		return rc;
	ino = mm_inode(s, ref);
	if (mm_is_dir(ino))
		return -EPERM;
	if (ino->nlink == 0 && (!orphan || !inode_held(s, ref)))
		return -ENOENT;
	if (ino->nlink >= 65000)
		return -EMLINK;
	return ns_find(s, newdir, newname, len) ? -EEXIST : 0;
}

static int link_as(struct store *s, store_ref ref, store_ref newdir,
		   const char *newname, bool orphan, struct store_attr *attr)
{
	size_t len;
	int rc = check_name(newname, &len);

	if (rc)
		return rc;
	if (store_readonly(s))
		return -EROFS;
	arena_lock(s);
	rc = link_checks(s, ref, newdir, newname, len, orphan);
	if (rc == 0)
		rc = add_link(s, newdir, newname, len, ref);
	if (rc == 0) {
		inode_touch(s, ref, false, true);
		inode_fill_attr(s, ref, attr);
	}
	arena_unlock(s);
	return rc;
}

int store_link(struct store *s, store_ref ref, store_ref newdir,
	       const char *newname, struct store_attr *attr)
{
	return link_as(s, ref, newdir, newname, false, attr);
}

int store_link_orphan(struct store *s, store_ref ref, store_ref newdir,
		      const char *newname, struct store_attr *attr)
{
	return link_as(s, ref, newdir, newname, true, attr);
}

/* Undo a live dentry after its commit: unindex, free, drop the link. */
static void drop_dentry(struct store *s, uint64_t d)
{
	uint64_t inode = mm_dentry(s, d)->inode;

	ns_remove(s, d);
	mm_free(s, d);
	inode_drop_link(s, inode);
}

static int remove_entry(struct store *s, store_ref dir, const char *name,
			bool want_dir)
{
	uint64_t d;
	struct mm_inode *ino;
	int rc;

	if (store_readonly(s))
		return -EROFS;
	arena_lock(s);
	rc = find(s, dir, name, &d);
	if (rc)
		goto out;
	ino = mm_inode(s, mm_dentry(s, d)->inode);
	if (mm_is_dir(ino) != want_dir)
		rc = want_dir ? -ENOTDIR : -EISDIR;
	else if (want_dir && mm_dir(s, mm_dentry(s, d)->inode)->count)
		rc = -ENOTEMPTY;
	if (rc)
		goto out;
	mm_commit8(&mm_dentry(s, d)->state, MM_DENTRY_DEAD);
	drop_dentry(s, d);
	inode_touch(s, dir, true, true);
out:
	arena_unlock(s);
	return rc;
}

int store_unlink(struct store *s, store_ref dir, const char *name)
{
	return remove_entry(s, dir, name, false);
}

int store_rmdir(struct store *s, store_ref dir, const char *name)
{
	return remove_entry(s, dir, name, true);
}

/* Would moving directory `moved` under `target` put it inside itself? */
static bool is_ancestor(struct store *s, uint64_t moved, uint64_t target)
{
	uint64_t root = s->hdr->root;

	for (uint64_t p = target; p && p != root;) {
		uint64_t d;

		if (p == moved)
			return true;
		d = mm_dir(s, p)->dentry;
		p = d ? mm_dentry(s, d)->parent : 0;
	}
	return false;
}

static int rename_checks(struct store *s, uint64_t src, uint64_t dst,
			 uint64_t newdir, unsigned flags)
{
	struct mm_dentry *sd = mm_dentry(s, src);
	bool sdir = mm_is_dir(mm_inode(s, sd->inode));

	if ((flags & STORE_RENAME_NOREPLACE) && dst)
		return -EEXIST;
	if ((flags & STORE_RENAME_EXCHANGE) && !dst)
		return -ENOENT;
	if (sdir && is_ancestor(s, sd->inode, newdir))
		return -EINVAL;
	if (!dst)
		return 0;
	if (flags & STORE_RENAME_EXCHANGE) {
		struct mm_dentry *dd = mm_dentry(s, dst);

		if (mm_is_dir(mm_inode(s, dd->inode)) &&
		    is_ancestor(s, dd->inode, sd->parent))
			return -EINVAL;
		return 0;
	}
	if (sdir && !mm_is_dir(mm_inode(s, mm_dentry(s, dst)->inode)))
		return -ENOTDIR;
	if (!sdir && mm_is_dir(mm_inode(s, mm_dentry(s, dst)->inode)))
		return -EISDIR;
	if (sdir && mm_dir(s, mm_dentry(s, dst)->inode)->count)
		return -ENOTEMPTY;
	return 0;
}

/* Publish the intent record: adds become live and kills dead together. */
static void rename_commit(struct store *s, const uint64_t add[2],
			  const uint64_t kill[2])
{
	struct mm_intent *in = &s->hdr->intent;

	for (int i = 0; i < 2; i++) {
		in->add[i] = add[i];
		in->kill[i] = kill[i];
	}
	mm_commit64(&in->commit, 1);
	for (int i = 0; i < 2; i++) {
		if (add[i])
			mm_commit8(&mm_dentry(s, add[i])->state,
				   MM_DENTRY_LIVE);
		if (kill[i])
			mm_commit8(&mm_dentry(s, kill[i])->state,
				   MM_DENTRY_DEAD);
	}
	mm_commit64(&in->commit, 0);
}

/* A whiteout for a rename (store_rename_whiteout): a new character
 * device 0/0 with mode 0 and no link yet, and its PENDING dentry under the
 * old name, which rename_commit makes live with the rest.  0, -ENOSPC. */
static int whiteout_new(struct store *s, uint64_t olddir,
			const struct mm_dentry *sd, const struct mm_inode *wo,
			uint64_t *dentry)
{
	uint64_t inode;
	int rc;

	if (s->hdr->ninodes >= s->hdr->max_files)
		return -ENOSPC;
	rc = inode_new(s, MM_IFCHR, wo->uid, wo->gid, &inode);
	if (rc)
		return rc;
	rc = dentry_new(s, olddir, sd->name, sd->namelen, inode, dentry);
	if (rc)
		inode_free(s, inode);
	return rc;
}

/* The second name a rename adds, if any: the old name of an exchange,
 * or a whiteout.  0, -ENOSPC. */
static int second_add(struct store *s, uint64_t olddir, uint64_t src,
		      uint64_t dst, unsigned flags,
		      const struct mm_inode *wo, uint64_t *add)
{
	struct mm_dentry *sd = mm_dentry(s, src);

	*add = 0;
	if (flags & STORE_RENAME_EXCHANGE)
		return dentry_new(s, olddir, sd->name, sd->namelen,
				  mm_dentry(s, dst)->inode, add);
	if (wo)
		return whiteout_new(s, olddir, sd, wo, add);
	return 0;
}

static int do_rename(struct store *s, uint64_t olddir, uint64_t src,
		     uint64_t newdir, const char *newname, size_t newlen,
		     uint64_t dst, unsigned flags, const struct mm_inode *wo)
{
	struct mm_dentry *sd = mm_dentry(s, src);
	uint64_t add[2] = {0, 0}, kill[2] = {src, dst};
	int rc;

	rc = dentry_new(s, newdir, newname, newlen, sd->inode, &add[0]);
	if (rc)
		return rc;
	rc = second_add(s, olddir, src, dst, flags, wo, &add[1]);
	if (rc) {
		mm_free(s, add[0]);
		return rc;
	}
	mm_inode(s, sd->inode)->nlink++;
	if (add[1])
		mm_inode(s, mm_dentry(s, add[1])->inode)->nlink++;
	rename_commit(s, add, kill);
	for (int i = 0; i < 2; i++)
		if (kill[i])
			drop_dentry(s, kill[i]);
	for (int i = 0; i < 2; i++)
		if (add[i]) {
			ns_insert(s, add[i]);
			inode_touch(s, mm_dentry(s, add[i])->inode, false,
				    true);
		}
	inode_touch(s, olddir, true, true);
	inode_touch(s, newdir, true, true);
	return 0;
}

/* store_rename and store_rename_whiteout: wo is the whiteout's owner, or
 * NULL for none. */
static int rename_entry(struct store *s, store_ref olddir, const char *oldname,
			store_ref newdir, const char *newname, unsigned flags,
			const struct mm_inode *wo)
{
	uint64_t src, dst = 0;
	size_t newlen;
	int rc;

	if (flags & ~(unsigned)(STORE_RENAME_NOREPLACE | STORE_RENAME_EXCHANGE)
	    || flags == (STORE_RENAME_NOREPLACE | STORE_RENAME_EXCHANGE) ||
	    (wo && (flags & STORE_RENAME_EXCHANGE)))
		return -EINVAL;
	rc = check_name(newname, &newlen);
	if (rc)
		return rc;
	if (store_readonly(s))
		return -EROFS;
	arena_lock(s);
	rc = find(s, olddir, oldname, &src);
	if (rc == 0)
		rc = check_dir(s, newdir);
	if (rc)
		goto out;
	dst = ns_find(s, newdir, newname, newlen);
	if (dst == src || (dst && mm_dentry(s, dst)->inode ==
				  mm_dentry(s, src)->inode))
		goto out;       /* same file: rename(2) does nothing */
	rc = rename_checks(s, src, dst, newdir, flags);
	if (rc == 0)
		rc = do_rename(s, olddir, src, newdir, newname, newlen, dst,
			       flags, wo);
out:
	arena_unlock(s);
	return rc;
}

int store_rename(struct store *s, store_ref olddir, const char *oldname,
		 store_ref newdir, const char *newname, unsigned flags)
{
	return rename_entry(s, olddir, oldname, newdir, newname, flags, NULL);
}

int store_rename_whiteout(struct store *s, store_ref olddir,
			  const char *oldname, store_ref newdir,
			  const char *newname, unsigned flags, uint32_t uid,
			  uint32_t gid)
{
	struct mm_inode wo = { .uid = uid, .gid = gid };

	return rename_entry(s, olddir, oldname, newdir, newname, flags, &wo);
}

/* A new pass: before the first entry, up to what exists now. */
static void cursor_start(struct store_dir *d)
{
	d->last = 0;
	d->after = 0;
	d->end = d->s->hdr->next_pos;
}

int store_dir_open(struct store *s, store_ref dir, struct store_dir **out)
{
	struct store_dir *d;
	int rc = store_enter(s, dir);

	if (rc)
		return rc;
	rc = -ENOTDIR;
	if (!mm_is_dir(mm_inode(s, dir)))
		goto out;
	rc = -ENOMEM;
	d = calloc(1, sizeof(*d));
	if (!d)
		goto out;
	d->s = s;
	d->dir = dir;
	cursor_start(d);
	d->next = s->cursors;
	if (s->cursors)
		s->cursors->prev = d;
	s->cursors = d;
	*out = d;
	rc = 0;
out:
	arena_unlock(s);
	return rc;
}

/* The directory's list, or NULL when the directory is gone. */
static struct mm_dir *cursor_dir(struct store_dir *d)
{
	if (!store_valid_ref(d->s, d->dir) || !mm_is_dir(mm_inode(d->s, d->dir)))
		return NULL;
	return mm_dir(d->s, d->dir);
}

/* The dentry after off in dir's list; off 0 stands before the head. */
static uint64_t list_next(struct store *s, const struct mm_dir *dir,
			  uint64_t off)
{
	return off ? mm_dentry(s, off)->next : dir->head;
}

/* The next entry the pass returns, 0 at its end. */
static uint64_t cursor_next(struct store_dir *d)
{
	struct mm_dir *dir = cursor_dir(d);
	uint64_t off;

	if (!dir || d->after >= d->end)
		return 0;
	off = list_next(d->s, dir, d->last);
	while (off && mm_dentry(d->s, off)->pos <= d->after)
		off = mm_dentry(d->s, off)->next;
	return off && mm_dentry(d->s, off)->pos < d->end ? off : 0;
}

int store_dir_peek(struct store_dir *d, struct store_dirent *ent)
{
	struct store *s = d->s;
	uint64_t off;
	struct mm_dentry *de;
	int rc = 0;

	arena_lock(s);
	off = cursor_next(d);
	if (off) {
		de = mm_dentry(s, off);
		ent->ref = de->inode;
		ent->ino = mm_inode(s, de->inode)->ino;
		ent->mode = mm_inode(s, de->inode)->mode;
		ent->pos = de->pos;
		ent->namelen = de->namelen;
		/* a copy: another thread may remove the entry at once */
		memcpy(d->name, de->name, de->namelen);
		ent->name = d->name;
		rc = 1;
	}
	arena_unlock(s);
	return rc;
}

void store_dir_advance(struct store_dir *d)
{
	uint64_t off;

	arena_lock(d->s);
	off = cursor_next(d);
	if (off) {
		d->last = off;
		d->after = mm_dentry(d->s, off)->pos;
	}
	arena_unlock(d->s);
}

void store_dir_rewind(struct store_dir *d)
{
	arena_lock(d->s);
	cursor_start(d);
	arena_unlock(d->s);
}

/* Move last to the last dentry at or before pos, from where it is. */
static void cursor_locate(struct store_dir *d, const struct mm_dir *dir,
			  uint64_t pos)
{
	struct store *s = d->s;
	uint64_t at = d->last, next;

	while (at && mm_dentry(s, at)->pos > pos)
		at = mm_dentry(s, at)->prev;
	while ((next = list_next(s, dir, at)) && mm_dentry(s, next)->pos <= pos)
		at = next;
	d->last = at;
	d->after = pos;
}

void ns_cursors_relocate(struct store *s)
{
	for (struct store_dir *d = s->cursors; d; d = d->next) {
		d->last = 0;
		if (store_valid_ref(s, d->dir) &&
		    mm_is_dir(mm_inode(s, d->dir)))
			cursor_locate(d, mm_dir(s, d->dir), d->after);
	}
}

void store_dir_seek(struct store_dir *d, uint64_t pos)
{
	struct mm_dir *dir;

	arena_lock(d->s);
	dir = cursor_dir(d);
	if (pos != d->after && dir)
		cursor_locate(d, dir, pos);
	arena_unlock(d->s);
}

void store_dir_close(struct store_dir *d)
{
	struct store *s;

	if (!d)
		return;
	s = d->s;
	arena_lock(s);
	if (d->prev)
		d->prev->next = d->next;
	else
		s->cursors = d->next;
	if (d->next)
		d->next->prev = d->prev;
	arena_unlock(s);
	free(d);
}

/* kind.c -- the block-kind table (kind.h) and extension kinds
 * (store_kind.h).
 *
 * The table is static for the store's own kinds; the entry of an
 * extension kind (RING) names it and says who may hold it, and its
 * callbacks arrive through store_define_kind.  Until they do, the store
 * refuses to open arenas (kind_ready), since it could neither check nor
 * recover such blocks.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>

#include "kind.h"
#include "store_kind.h"

#define HOLD(type) (1u << ((type) >> 12))

struct kind_entry {
	const char *name;
	const char *layout;          /* as a file's content, or NULL */
	uint32_t holders;            /* HOLD(file type) bits */
	uint32_t inode_flag;         /* extension kinds: their files' flag */
	size_t fixed;                /* payload bytes every block needs */
	size_t (*need)(const void *payload);         /* + variable part */
	uint64_t (*size)(const void *payload);
	void (*children)(struct store *s, uint64_t off, kind_visit_fn visit,
			 void *ctx);
	bool (*check)(struct kind_check *k, uint64_t off);
	const struct store_kind *ext;                /* extension callbacks */
};

static size_t dentry_need(const void *p)
{
	return ((const struct mm_dentry *)p)->namelen;
}

static size_t dentry_v1_need(const void *p)
{
	return ((const struct mm_dentry_v1 *)p)->namelen;
}

static size_t data_need(const void *p)
{
	uint64_t size = ((const struct mm_data *)p)->size;

	return size > UINT32_MAX ? SIZE_MAX : size;
}

static uint64_t data_size(const void *p)
{
	return ((const struct mm_data *)p)->size;
}

static size_t map_need(const void *p)
{
	uint64_t nslots = ((const struct mm_map *)p)->nslots;

	return nslots > UINT32_MAX ? SIZE_MAX : nslots * 8;
}

static uint64_t map_size(const void *p)
{
	return ((const struct mm_map *)p)->size;
}

static size_t xattr_need(const void *p)
{
	return ((const struct mm_xattr_head *)p)->bytes;
}

static struct kind_entry kinds[MM_KIND_MAX + 1];

static void map_children(struct store *s, uint64_t off, kind_visit_fn visit,
			 void *ctx)
{
	struct mm_map *m = mm_map(s, off);

	for (uint64_t i = 0; i < m->nslots; i++)
		if (m->chunk[i])
			visit(ctx, &m->chunk[i], MM_CHUNK_KIND);
}

/* A symlink's target is what store_symlink would accept. */
static bool data_check(struct kind_check *k, uint64_t off)
{
	struct mm_data *d = mm_data(k->s, off);

	if (mm_type(k->ino) != MM_IFLNK ||
	    (d->size && d->size <= STORE_SYMLINK_MAX))
		return true;
	kind_problem(k, "symlink target of %" PRIu64 " bytes", d->size);
	return false;
}

/* A map's size fits its slots and STORE_FILE_MAX (kind_children checks
 * what the slots name).  Slots past the size may hold chunks: space
 * fallocate reserved, which no reader sees. */
static bool map_check(struct kind_check *k, uint64_t off)
{
	struct mm_map *m = mm_map(k->s, off);

	if ((m->size > STORE_FILE_MAX || MM_CHUNKS(m->size) > m->nslots) &&
	    kind_problem(k, "size %" PRIu64 " does not fit its %" PRIu64
			 " map slots", m->size, m->nslots)) {
		m->size = m->nslots * MM_CHUNK;
		if (m->size > STORE_FILE_MAX)
			m->size = STORE_FILE_MAX;
	}
	return true;
}

/* An extension block: recovery has its layer repair it; the checker asks
 * its layer for problems. */
static bool ext_check(struct kind_check *k, uint64_t off)
{
	const struct store_kind *ext = kinds[mm_block(k->s, off)->kind].ext;
	char buf[160];
	const char *why;

	if (k->repair) {
		ext->repair(mm_payload(k->s, off));
		return true;
	}
	why = ext->verify(mm_payload(k->s, off), buf, sizeof(buf));
	if (why)
		kind_problem(k, "%s", why);
	return true;
}

static struct kind_entry kinds[MM_KIND_MAX + 1] = {
	[MM_FREE] = { .name = "free", .fixed = 8 },
	[MM_INODE] = { .name = "inode", .fixed = sizeof(struct mm_inode) },
	[MM_DENTRY_V1] = { .name = "dentry-v1",
			   .fixed = sizeof(struct mm_dentry_v1),
			   .need = dentry_v1_need },
	[MM_DATA] = { .name = "data", .layout = "small",
		      .holders = HOLD(MM_IFREG) | HOLD(MM_IFLNK),
		      .fixed = sizeof(struct mm_data), .need = data_need,
		      .size = data_size, .check = data_check },
	[MM_MAP] = { .name = "map", .layout = "chunked",
		     .holders = HOLD(MM_IFREG), .fixed = sizeof(struct mm_map),
		     .need = map_need, .size = map_size,
		     .children = map_children, .check = map_check },
	[MM_CHUNK_KIND] = { .name = "chunk", .fixed = MM_CHUNK },
	[MM_DIR] = { .name = "dir", .layout = "dir", .holders = HOLD(MM_IFDIR),
		     .fixed = sizeof(struct mm_dir) },
	[MM_XATTR] = { .name = "xattr", .fixed = sizeof(struct mm_xattr_head),
		       .need = xattr_need },
	[MM_HASH] = { .name = "hash" },
	[MM_RING] = { .name = "ring", .layout = "ring",
		      .holders = HOLD(MM_IFREG), .inode_flag = MM_INODE_RING,
		      .fixed = sizeof(struct mm_ring), .check = ext_check },
	[MM_DENTRY] = { .name = "dentry", .fixed = sizeof(struct mm_dentry),
			.need = dentry_need },
};

static const struct kind_entry *entry(unsigned kind)
{
	return kind && kind <= MM_KIND_MAX && kinds[kind].name ? &kinds[kind]
							      : NULL;
}

const char *kind_name(unsigned kind)
{
	return entry(kind) ? entry(kind)->name : "?";
}

const char *kind_layout(unsigned kind)
{
	return entry(kind) ? entry(kind)->layout : NULL;
}

size_t kind_need(const struct store *s, uint64_t off)
{
	const struct kind_entry *e = entry(mm_block(s, off)->kind);
	const void *p = mm_payload(s, off);
	size_t var = 0;

	if (!e)
		return SIZE_MAX;
	if (mm_payload_size(s, off) < e->fixed)
		return e->fixed;       /* fixed fields absent: do not read */
	if (e->ext)
		return e->ext->need(p);
	if (e->need)
		var = e->need(p);
	return var == SIZE_MAX ? SIZE_MAX : e->fixed + var;
}

uint32_t kind_inode_flag(unsigned kind)
{
	return entry(kind) ? entry(kind)->inode_flag : 0;
}

bool kind_holds(const struct mm_inode *ino, unsigned kind)
{
	const struct kind_entry *e = entry(kind);
	uint32_t flags = ino->flags & MM_INODE_KINDS;

	return e && (e->holders & HOLD(mm_type(ino))) &&
	       flags == e->inode_flag;
}

uint64_t kind_size(const struct store *s, const struct mm_inode *ino)
{
	const struct kind_entry *e;

	if (!ino->data || !kind_holds(ino, mm_block(s, ino->data)->kind))
		return 0;
	e = entry(mm_block(s, ino->data)->kind);
	if (e->ext)
		return e->ext->size(mm_payload(s, ino->data));
	return e->size ? e->size(mm_payload(s, ino->data)) : 0;
}

void kind_children(struct store *s, uint64_t off, kind_visit_fn visit,
		   void *ctx)
{
	const struct kind_entry *e = entry(mm_block(s, off)->kind);

	if (e && e->children)
		e->children(s, off, visit, ctx);
}

bool kind_check_data(struct kind_check *k, uint64_t off)
{
	const struct kind_entry *e = entry(mm_block(k->s, off)->kind);

	return !e || !e->check || e->check(k, off);
}

bool kind_problem(struct kind_check *k, const char *fmt, ...)
{
	char msg[200], line[240];
	va_list ap;

	if (k->repair) {
		k->cuts++;
		return true;
	}
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(line, sizeof(line), "inode %" PRIu64 ": %s", k->ino->ino,
		 msg);
	k->report(k->ctx, line);
	return false;
}

static void free_child(void *ctx, uint64_t *slot, unsigned kind)
{
	(void)kind;
	mm_free(ctx, *slot);
}

void kind_free(struct store *s, uint64_t off)
{
	kind_children(s, off, free_child, s);
	mm_free(s, off);
}

struct bytes_ctx {
	const struct store *s;
	uint64_t bytes;
};

static void add_child(void *ctx, uint64_t *slot, unsigned kind)
{
	struct bytes_ctx *b = ctx;

	(void)kind;
	b->bytes += mm_block(b->s, *slot)->size;
}

uint64_t kind_bytes(const struct store *s, uint64_t off)
{
	struct bytes_ctx b = { s, mm_block(s, off)->size };

	kind_children((struct store *)s, off, add_child, &b);
	return b.bytes;
}

int kind_truncate(struct store *s, store_ref ref, uint64_t size)
{
	uint64_t data = mm_inode(s, ref)->data;
	const struct kind_entry *e = data ? entry(mm_block(s, data)->kind)
					  : NULL;

	return e && e->ext ? e->ext->truncate(s, ref, mm_payload(s, data), size)
			   : -EINVAL;
}

int kind_ready(const char **missing)
{
	for (unsigned k = 1; k <= MM_KIND_MAX; k++) {
		if (kinds[k].inode_flag && !kinds[k].ext) {
			*missing = kinds[k].name;
			return -EPROTONOSUPPORT;
		}
	}
	return 0;
}

/* ---- extension kinds (store_kind.h) ------------------------------------ */

int store_define_kind(const struct store_kind *k)
{
	struct kind_entry *e = k->kind <= MM_KIND_MAX ? &kinds[k->kind] : NULL;

	if (!e || !e->inode_flag || e->inode_flag != k->inode_flag ||
	    !k->need || !k->size || !k->repair || !k->verify || !k->truncate)
		return -EINVAL;
	if (e->ext && e->ext != k)
		return -EEXIST;
	e->ext = k;
	return 0;
}

int store_kind_enter(struct store *s, store_ref ref, unsigned kind,
		     void **payload)
{
	struct mm_inode *ino;
	int rc = store_enter(s, ref);

	if (rc)
		return rc;
	ino = mm_inode(s, ref);
	if (!entry(kind) || !entry(kind)->ext || !kind_holds(ino, kind) ||
	    !ino->data || mm_block(s, ino->data)->kind != kind) {
		arena_unlock(s);
		return -EINVAL;
	}
	*payload = mm_payload(s, ino->data);
	return 0;
}

void store_kind_leave(struct store *s, store_ref ref, bool changed)
{
	if (changed)
		inode_touch(s, ref, true, true);
	arena_unlock(s);
}

int store_kind_alloc_raw(struct store *s, unsigned kind, size_t payload,
			 uint64_t *block)
{
	if (store_readonly(s))
		return -EROFS;
	if (!entry(kind) || !entry(kind)->ext)
		return -EINVAL;
	return mm_alloc(s, kind, payload, block);
}

int store_kind_alloc(struct store *s, unsigned kind, size_t payload,
		     uint64_t *block)
{
	int rc = store_kind_alloc_raw(s, kind, payload, block);

	if (rc == 0)
		memset(mm_payload(s, *block), 0, mm_payload_size(s, *block));
	return rc;
}

void *store_kind_payload(struct store *s, uint64_t block)
{
	return mm_payload(s, block);
}

void store_kind_publish(struct store *s, store_ref ref, uint64_t block)
{
	struct mm_inode *ino = mm_inode(s, ref);
	uint64_t stale = ino->data;

	mm_commit64(&ino->data, block);
	if (stale)
		mm_free(s, stale);
	inode_touch(s, ref, true, true);
}

void store_kind_discard(struct store *s, uint64_t block)
{
	mm_free(s, block);
}

int store_kind_lock(struct store *s)
{
	if (store_readonly(s))
		return -EROFS;
	arena_lock(s);
	return 0;
}

void store_kind_unlock(struct store *s)
{
	arena_unlock(s);
}

uint64_t store_kind_size_cap(const struct store *s)
{
	return s->hdr->size_cap;
}

uint64_t store_kind_default_capacity(const struct store *s)
{
	return s->hdr->ring_size;
}

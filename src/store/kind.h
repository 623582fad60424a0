/* kind.h -- the block-kind table: what the store does by block kind.
 *
 * One entry per enum mm_kind (format.h) says what a block of that kind
 * must hold and owns.  Recovery, the checker, census, extents, free and
 * fsync ask the table instead of switching on kinds, so a new kind or a
 * changed payload touches format.h and one entry here (kind.c).
 *
 * Kinds that hold a file's content are "data kinds": an inode's data may
 * reference a block of such a kind when the inode's file type is among the
 * kind's holders, and, for an extension kind (one a layer above the store
 * defines, store_kind.h: the RING block of src/ring), when the inode has
 * the extension's flag (MM_INODE_RING).  Bytes (DATA, MAP) and directories
 * (DIR) are the store's own.
 *
 * Invariants the callbacks rely on: need is asked of any block whose
 * header is valid and reads only its fixed fields; every other callback
 * is asked only of a block whose payload holds what need said.
 */
#ifndef MMFS_KIND_H
#define MMFS_KIND_H

#include "store_int.h"

/* What recovery (repair) or the checker (report) does with one block. */
struct kind_check {
	struct store *s;
	const struct mm_inode *ino;  /* the file whose data it is */
	bool repair;                 /* recovery: fix and count */
	uint64_t cuts;               /* fixes made (repair) */
	void (*report)(void *ctx, const char *msg);   /* checker */
	void *ctx;
};

/* A problem with the block under check: recovery counts it and gets true
 * (fix it); the checker reports "inode N: msg" and gets false. */
bool kind_problem(struct kind_check *k, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* A reference slot found in a block: *slot names a block of kind `kind`. */
typedef void (*kind_visit_fn)(void *ctx, uint64_t *slot, unsigned kind);

/* Name of a kind ("inode", "map", ...), "?" for no kind. */
const char *kind_name(unsigned kind);
/* Bytes the payload of the block at off needs by its own fields (0 for
 * kinds without a variable part, SIZE_MAX when the fields are out of
 * range).  Only a block whose payload size is at least this is valid. */
size_t kind_need(const struct store *s, uint64_t off);
/* The inode flag of an extension kind's files (0 for the store's own). */
uint32_t kind_inode_flag(unsigned kind);
/* May ino's data reference a block of this kind?  (type and flag) */
bool kind_holds(const struct mm_inode *ino, unsigned kind);
/* The file's st_size from its data block (0 if it has none). */
uint64_t kind_size(const struct store *s, const struct mm_inode *ino);
/* A file's layout by its data block ("small", "chunked", "ring", "dir"),
 * or NULL when the kind holds no file's content. */
const char *kind_layout(unsigned kind);
/* Visit every reference slot of the block at off (a map's chunks). */
void kind_children(struct store *s, uint64_t off, kind_visit_fn visit,
		   void *ctx);
/* Check (repair or report) the content of the data block at off of the
 * file k->ino, beyond what kind_need validated.  false: the block cannot
 * be this file's content (recovery cuts the reference). */
bool kind_check_data(struct kind_check *k, uint64_t off);
/* Free the block at off and every block it owns. */
void kind_free(struct store *s, uint64_t off);
/* Arena bytes of the block at off and every block it owns. */
uint64_t kind_bytes(const struct store *s, uint64_t off);
/* Truncate a file whose data is an extension kind (arena lock held):
 * the extension's rule, or -EINVAL when it has none. */
int kind_truncate(struct store *s, store_ref ref, uint64_t size);
/* 0 when every extension kind format.h names is defined in this process
 * (store_define_kind), else -EPROTONOSUPPORT with the kind's name in
 * *missing: the store must not check or recover blocks it cannot read. */
int kind_ready(const char **missing);

#endif

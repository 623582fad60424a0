/* upgrade.c -- bring an arena of an older format version to this one.
 *
 * Version 1 differs from version 2 only in its names: 48-byte dentries
 * without a position (DENTRY_V1 blocks).  Recovery calls these functions
 * (recover.c), so an upgrade is crash-safe the way recovery is: format.h,
 * "Upgrade from version 1", gives the steps and what a death between any
 * two of them leaves.
 *
 * Invariants: the version field is raised before the first new DENTRY is
 * written, so a version-1 mmfs never meets one; a DENTRY_V1 is marked DEAD
 * only after its copy is LIVE, so a name is never lost.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>

#include "store_int.h"

static struct mm_dentry_v1 *dentry_v1(const struct store *s, uint64_t off)
{
	return mm_payload(s, off);
}

/* A DENTRY_V1 block whose fields recovery may read. */
static bool is_dentry_v1(const struct store *s, uint64_t off)
{
	return mm_block(s, off)->kind == MM_DENTRY_V1 &&
	       mm_block_start(s, off) && recover_block_ok(s, off);
}

static uint64_t copy_size(const struct store *s, uint64_t off)
{
	return mm_block_size_for(sizeof(struct mm_dentry) +
				 dentry_v1(s, off)->namelen);
}

/* A name the upgrade will copy: LIVE, or made LIVE by the rename intent
 * recovery redoes first. */
static bool to_copy(const struct store *s, uint64_t off)
{
	const struct mm_intent *in = &s->hdr->intent;

	return is_dentry_v1(s, off) &&
	       (dentry_v1(s, off)->state == MM_DENTRY_LIVE ||
		(in->commit == 1 && (off == in->add[0] || off == in->add[1])));
}

int upgrade_check(struct store *s, char *why, size_t whylen)
{
	struct mm_header *h = s->hdr;
	uint64_t need = 0, names = 0;

	for_each_block(s, off)
		if (to_copy(s, off)) {
			need += copy_size(s, off);
			names++;
		}
	if (names && store_readonly(s)) {
		snprintf(why, whylen, "%" PRIu64 " name(s) of format version 1:"
			 " a read-write mount upgrades them", names);
		return -EPROTONOSUPPORT;
	}
	if (need > h->size_cap - h->brk) {
		snprintf(why, whylen, "no room to upgrade %" PRIu64 " name(s) "
			 "of format version 1: %" PRIu64 " bytes needed past "
			 "the end, %" PRIu64 " left under the size cap (mount "
			 "with a larger size=)", names, need,
			 h->size_cap - h->brk);
		return -ENOSPC;
	}
	return 0;
}

/* A LIVE copy of version-1 dentry old with the next position, then old
 * DEAD.  The copy's hash is recovery's to set. */
static int upgrade_one(struct store *s, uint64_t old)
{
	struct mm_dentry *d;
	uint64_t off;
	int rc = mm_alloc(s, MM_DENTRY, sizeof(*d) + dentry_v1(s, old)->namelen,
			  &off);

	if (rc)
		return rc;
	d = mm_dentry(s, off);
	memset(d, 0, sizeof(*d));
	d->parent = dentry_v1(s, old)->parent;
	d->inode = dentry_v1(s, old)->inode;
	d->namelen = dentry_v1(s, old)->namelen;
	d->pos = s->hdr->next_pos++;
	memcpy(d->name, dentry_v1(s, old)->name, d->namelen);
	mm_commit8(&d->state, MM_DENTRY_LIVE);
	mm_commit8(&dentry_v1(s, old)->state, MM_DENTRY_DEAD);
	return 0;
}

int upgrade_names(struct store *s, uint64_t *count)
{
	struct mm_header *h = s->hdr;
	int rc = 0;

	*count = 0;
	if (h->version < MM_FORMAT_VERSION)
		h->version = MM_FORMAT_VERSION;
	if (h->next_pos == 0)
		h->next_pos = 1;        /* version 1 had zeros there */
	for_each_block(s, off) {
		if (!is_dentry_v1(s, off) ||
		    dentry_v1(s, off)->state != MM_DENTRY_LIVE)
			continue;
		rc = upgrade_one(s, off);
		if (rc)
			break;
		(*count)++;
	}
	return rc;
}

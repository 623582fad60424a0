/* fileattr.c -- chattr(1) and lsattr(1) on mmfs.  See fileattr.h. */
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/fs.h>
#include <string.h>

#include "caps.h"
#include "fileattr.h"

/* Each flag in the store's bits, FS_IOC_*FLAGS's and struct fsxattr's. */
static const struct {
	uint32_t store, fl, xflag;
} flag_table[] = {
	{ STORE_IFL_APPEND, FS_APPEND_FL, FS_XFLAG_APPEND },
	{ STORE_IFL_IMMUTABLE, FS_IMMUTABLE_FL, FS_XFLAG_IMMUTABLE },
	{ STORE_IFL_NODUMP, FS_NODUMP_FL, FS_XFLAG_NODUMP },
	{ STORE_IFL_NOATIME, FS_NOATIME_FL, FS_XFLAG_NOATIME },
};
#define NFLAGS (sizeof(flag_table) / sizeof(flag_table[0]))

/* Store bits -> the ioctl's (xflags: struct fsxattr's). */
static uint32_t flags_out(uint32_t iflags, bool xflags)
{
	uint32_t bits = 0;

	for (size_t i = 0; i < NFLAGS; i++)
		if (iflags & flag_table[i].store)
			bits |= xflags ? flag_table[i].xflag : flag_table[i].fl;
	return bits;
}

/* The ioctl's bits -> the store's: 0, or -EOPNOTSUPP for a bit mmfs
 * does not keep. */
static int flags_in(uint32_t bits, bool xflags, uint32_t *iflags)
{
	*iflags = 0;
	for (size_t i = 0; i < NFLAGS; i++) {
		uint32_t b = xflags ? flag_table[i].xflag : flag_table[i].fl;

		if (bits & b)
			*iflags |= flag_table[i].store;
		bits &= ~b;
	}
	return bits ? -EOPNOTSUPP : 0;
}

static int get_flags(struct store *s, store_ref ref, bool xflags, void *out,
		     size_t out_size, size_t *out_len)
{
	struct fsxattr fsx;
	uint32_t iflags;
	int fl, rc;

	*out_len = xflags ? sizeof(fsx) : sizeof(fl);
	if (out_size < *out_len)
		return -EINVAL;
	rc = store_get_iflags(s, ref, &iflags);
	if (rc)
		return rc;
	memset(&fsx, 0, sizeof(fsx));
	fsx.fsx_xflags = flags_out(iflags, true);
	fl = (int)flags_out(iflags, false);
	memcpy(out, xflags ? (void *)&fsx : (void *)&fl, *out_len);
	return 0;
}

/* The flags a set asks for, in the store's bits. */
static int wanted_flags(bool xflags, const void *in, size_t in_size,
			uint32_t *iflags)
{
	struct fsxattr fsx;
	int fl;

	if (!xflags) {
		if (in_size < sizeof(fl))
			return -EINVAL;
		memcpy(&fl, in, sizeof(fl));
		return flags_in((uint32_t)fl, false, iflags);
	}
	if (in_size < sizeof(fsx))
		return -EINVAL;
	memcpy(&fsx, in, sizeof(fsx));
	if (fsx.fsx_extsize || fsx.fsx_projid || fsx.fsx_cowextsize)
		return -EOPNOTSUPP;
	return flags_in(fsx.fsx_xflags, true, iflags);
}

/* May who change ref's flags to iflags?  The owner or CAP_FOWNER; and
 * for a change of IMMUTABLE or APPEND, CAP_LINUX_IMMUTABLE. */
static int may_set(struct store *s, store_ref ref,
		   const struct fileattr_caller *who, uint32_t iflags)
{
	const uint32_t guarded = STORE_IFL_IMMUTABLE | STORE_IFL_APPEND;
	struct store_attr a;
	int rc = store_getattr(s, ref, &a);

	if (rc)
		return rc;
	if (a.uid != who->uid && !caps_has(who->pid, who->uid, CAP_FOWNER))
		return -EPERM;
	if (((a.iflags ^ iflags) & guarded) &&
	    !caps_has(who->pid, who->uid, CAP_LINUX_IMMUTABLE))
		return -EPERM;
	return 0;
}

static int set_flags(struct store *s, store_ref ref,
		     const struct fileattr_caller *who, bool xflags,
		     const void *in, size_t in_size, bool *changed)
{
	uint32_t iflags;
	int rc = wanted_flags(xflags, in, in_size, &iflags);

	if (rc == 0)
		rc = may_set(s, ref, who, iflags);
	if (rc == 0)
		rc = store_set_iflags(s, ref, iflags);
	*changed = rc == 0;
	return rc;
}

int fileattr_ioctl(struct store *s, store_ref ref,
		   const struct fileattr_caller *who, unsigned cmd,
		   const void *in, size_t in_size, void *out, size_t out_size,
		   size_t *out_len, bool *changed)
{
	*out_len = 0;
	*changed = false;
	switch (cmd) {
	case (unsigned)FS_IOC_GETFLAGS:
		return get_flags(s, ref, false, out, out_size, out_len);
	case (unsigned)FS_IOC_FSGETXATTR:
		return get_flags(s, ref, true, out, out_size, out_len);
	case (unsigned)FS_IOC_SETFLAGS:
		return set_flags(s, ref, who, false, in, in_size, changed);
	case (unsigned)FS_IOC_FSSETXATTR:
		return set_flags(s, ref, who, true, in, in_size, changed);
	default:
		return -ENOTTY;
	}
}

int fileattr_open_denied(uint32_t iflags, int flags)
{
	bool writes = (flags & O_ACCMODE) != O_RDONLY;

	if ((iflags & STORE_IFL_IMMUTABLE) && (writes || (flags & O_TRUNC)))
		return -EPERM;
	if ((iflags & STORE_IFL_APPEND) &&
	    ((writes && !(flags & O_APPEND)) || (flags & O_TRUNC)))
		return -EPERM;
	return 0;
}

int fileattr_setattr_denied(uint32_t iflags, bool owner_mode,
			    bool times_given)
{
	if ((iflags & STORE_IFL_APPEND) && (owner_mode || times_given))
		return -EPERM;
	return 0;
}

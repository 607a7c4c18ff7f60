// SPDX-License-Identifier: MIT
/*
 * Reflink and dedupe: the destination's extent items are made to point
 * at the source's physical blocks, and each shared block gains one
 * reference. Partial overlaps split extent records; counts are exact per
 * block because the space map keeps per-range refcounts.
 */
#include <errno.h>
#include <stdlib.h>
#include "ns_priv.h"

static int remap_check(struct pmcfs_fs *fs, struct pmcfs_tree *st, uint64_t src, uint64_t soff,
		       struct pmcfs_tree *dt, uint64_t dst, uint64_t doff, uint64_t *len,
		       struct ns_inode *sin, struct ns_inode *din)
{
	uint64_t ssize, dsize;
	int err;

	if (st->fs != dt->fs)
		return -EXDEV;
	if ((err = ns_inode_get(fs, st, src, sin)) || (err = ns_inode_get(fs, dt, dst, din)))
		return err;
	if ((pmcfs_inode_mode(&sin->d) & S_IFMT) == S_IFDIR ||
	    (pmcfs_inode_mode(&din->d) & S_IFMT) == S_IFDIR)
		return -EISDIR;
	if ((pmcfs_inode_mode(&sin->d) & S_IFMT) != S_IFREG ||
	    (pmcfs_inode_mode(&din->d) & S_IFMT) != S_IFREG)
		return -EINVAL;
	ssize = pmcfs_inode_size(&sin->d);
	dsize = pmcfs_inode_size(&din->d);
	if (soff % BS || doff % BS || soff > ssize)
		return -EINVAL;
	if (*len == 0)
		*len = ssize - soff;
	if (soff + *len < soff || soff + *len > ssize || doff + *len < doff)
		return -EINVAL;
	/* An unaligned tail is only allowed at the source's end of file, and
	 * must not land inside the destination (the rest of the block would
	 * show source bytes past its EOF). */
	if (*len % BS && (soff + *len != ssize || doff + *len < dsize))
		return -EINVAL;
	if (st == dt && src == dst && soff < doff + *len && doff < soff + *len)
		return -EINVAL;
	return 0;
}

static int remap(struct pmcfs_trans *tx, struct pmcfs_tree *st, uint64_t src, uint64_t soff,
		 struct pmcfs_tree *dt, uint64_t dst, uint64_t doff, uint64_t len,
		 struct ns_inode *din, bool touch)
{
	uint64_t sb0 = soff / BS, nb = (len + BS - 1) / BS, db0 = doff / BS, dropped, added = 0;
	struct ns_ext *v;
	size_t n;
	int err;

	if (!nb)
		return 0;
	/* Collect the source first: the destination may be the same file. */
	if ((err = ns_ext_collect(tx->fs, st, src, sb0, sb0 + nb, &v, &n)))
		return err;
	if ((err = ns_ext_drop(tx, dt, dst, db0, db0 + nb, &dropped)))
		goto out;
	for (size_t i = 0; i < n && !err; i++) {
		uint64_t lo = v[i].fblk > sb0 ? v[i].fblk : sb0;
		uint64_t hi = v[i].fblk + v[i].n < sb0 + nb ? v[i].fblk + v[i].n : sb0 + nb;
		uint64_t phys = v[i].phys + (lo - v[i].fblk);
		if ((err = pmcfs_space_inc(tx, phys, hi - lo)))
			break;
		err = ns_ext_insert(tx, dt, dst, db0 + (lo - sb0), phys, hi - lo, v[i].flags);
		added += hi - lo;
	}
	if (err)
		goto out;
	if (dst == din->ino && dt == st && src == dst)
		err = ns_inode_get(tx->fs, dt, dst, din);	/* refresh: same inode */
	pmcfs_set_inode_nblocks(&din->d, pmcfs_inode_nblocks(&din->d) - dropped + added);
	if (doff + len > pmcfs_inode_size(&din->d))
		pmcfs_set_inode_size(&din->d, doff + len);
	/* A clone changes the file; a dedupe changes only where its bytes live
	 * (the kernel's FIDEDUPERANGE leaves the timestamps alone too). */
	if (touch)
		ns_touch(din, true);
	if (!err)
		err = ns_inode_put(tx, dt, din);
out:
	free(v);
	return err;
}

int pmcfs_ns_clone_range(struct pmcfs_trans *tx, struct pmcfs_tree *st, uint64_t src,
			 uint64_t soff, struct pmcfs_tree *dt, uint64_t dst, uint64_t doff,
			 uint64_t len)
{
	struct ns_inode sin, din;
	int err = remap_check(tx->fs, st, src, soff, dt, dst, doff, &len, &sin, &din);

	if (err)
		return err;
	return remap(tx, st, src, soff, dt, dst, doff, len, &din, true);
}

int pmcfs_ns_dedupe_range(struct pmcfs_trans *tx, struct pmcfs_tree *st, uint64_t src,
			  uint64_t soff, struct pmcfs_tree *dt, uint64_t dst, uint64_t doff,
			  uint64_t len)
{
	struct ns_inode sin, din;
	const size_t chunk = 256 * 1024;
	uint8_t *a, *b;
	int err = remap_check(tx->fs, st, src, soff, dt, dst, doff, &len, &sin, &din);

	if (err)
		return err;
	if (doff + len > pmcfs_inode_size(&din.d))
		return -EINVAL;		/* dedupe never extends the destination */
	if (!(a = malloc(2 * chunk)))
		return -ENOMEM;
	b = a + chunk;
	for (uint64_t pos = 0; pos < len && !err; pos += chunk) {
		size_t want = len - pos < chunk ? len - pos : chunk, ga, gb;
		if (!(err = pmcfs_ns_read(tx->fs, st, src, soff + pos, a, want, &ga)) &&
		    !(err = pmcfs_ns_read(tx->fs, dt, dst, doff + pos, b, want, &gb)) &&
		    (ga != want || gb != want || memcmp(a, b, want)))
			err = -PMCFS_EDIFFERS;
	}
	free(a);
	if (err)
		return err;
	return remap(tx, st, src, soff, dt, dst, doff, len, &din, false);
}

// SPDX-License-Identifier: MIT
/*
 * Extent maps: EXTENT items (ino, EXTENT, file byte offset) map whole
 * blocks of a file to physical blocks; gaps are holes. Every extent item
 * holds one reference on each block of its physical range.
 */
#include <errno.h>
#include <stdlib.h>
#include "ns_priv.h"

static int ext_decode(const struct pmcfs_ckey *k, const void *body, uint32_t size, struct ns_ext *e)
{
	struct pmcfs_extent d;

	if (size != sizeof(d) || k->offset % BS)
		return -PMCFS_ECORRUPT;
	memcpy(&d, body, sizeof(d));
	e->fblk = k->offset / BS;
	e->phys = pmcfs_extent_phys(&d);
	e->n = pmcfs_extent_nblocks(&d);
	e->flags = pmcfs_extent_flags(&d);
	if (!e->n || e->phys + e->n < e->phys || e->fblk + e->n < e->fblk)
		return -PMCFS_ECORRUPT;
	return 0;
}

static int ext_put(struct pmcfs_trans *tx, struct pmcfs_tree *t, uint64_t ino, const struct ns_ext *e)
{
	struct pmcfs_ckey k = ns_key(ino, PMCFS_KEY_EXTENT, e->fblk * BS);
	struct pmcfs_extent d;

	memset(&d, 0, sizeof(d));
	pmcfs_set_extent_phys(&d, e->phys);
	pmcfs_set_extent_nblocks(&d, (uint32_t)e->n);
	pmcfs_set_extent_flags(&d, e->flags);
	return pmcfs_tree_update(tx, t, &k, &d, sizeof(d));
}

int ns_ext_collect(struct pmcfs_fs *fs, struct pmcfs_tree *t, uint64_t ino, uint64_t b0,
		   uint64_t b1, struct ns_ext **ret, size_t *ret_n)
{
	struct pmcfs_ckey start = ns_key(ino, PMCFS_KEY_EXTENT, b0 * BS), k;
	struct pmcfs_iter *it;
	struct ns_ext *v = NULL;
	size_t n = 0, cap = 0;
	const void *body;
	uint32_t size;
	int err;

	/* The extent that starts before b0 may still cover it. */
	if (b0 && !pmcfs_tree_lookup_le(fs, t, &start, &k, NULL, 0, NULL) &&
	    k.objectid == ino && k.type == PMCFS_KEY_EXTENT)
		start = k;
	if ((err = pmcfs_iter_start(fs, t, &start, &it)))
		return err;
	while ((err = pmcfs_iter_next(it, &k, &body, &size)) > 0) {
		struct ns_ext e;
		if (k.objectid != ino || k.type != PMCFS_KEY_EXTENT || k.offset / BS >= b1)
			break;
		if ((err = ext_decode(&k, body, size, &e)))
			break;
		if (n && e.fblk < v[n - 1].fblk + v[n - 1].n) {
			err = -PMCFS_ECORRUPT;		/* overlapping extents */
			break;
		}
		if (e.fblk + e.n <= b0)
			continue;
		if (n == cap) {
			struct ns_ext *nv;
			cap = cap ? cap * 2 : 8;
			if (!(nv = realloc(v, cap * sizeof(*v)))) {
				err = -ENOMEM;
				break;
			}
			v = nv;
		}
		v[n++] = e;
	}
	pmcfs_iter_free(it);
	if (err < 0) {
		free(v);
		return err;
	}
	*ret = v;
	*ret_n = n;
	return 0;
}

int ns_ext_drop(struct pmcfs_trans *tx, struct pmcfs_tree *t, uint64_t ino, uint64_t b0,
		uint64_t b1, uint64_t *ret_dropped)
{
	struct ns_ext *v;
	size_t n;
	uint64_t dropped = 0;
	int err = ns_ext_collect(tx->fs, t, ino, b0, b1, &v, &n);

	if (err)
		return err;
	for (size_t i = 0; !err && i < n; i++) {
		struct ns_ext e = v[i];
		uint64_t lo = e.fblk > b0 ? e.fblk : b0;
		uint64_t hi = e.fblk + e.n < b1 ? e.fblk + e.n : b1;
		struct pmcfs_ckey k = ns_key(ino, PMCFS_KEY_EXTENT, e.fblk * BS);

		err = pmcfs_tree_delete(tx, t, &k);
		if (!err && e.fblk < lo) {
			struct ns_ext left = { e.fblk, e.phys, lo - e.fblk, e.flags };
			err = ext_put(tx, t, ino, &left);
		}
		if (!err && e.fblk + e.n > hi) {
			struct ns_ext right = { hi, e.phys + (hi - e.fblk), e.fblk + e.n - hi, e.flags };
			err = ext_put(tx, t, ino, &right);
		}
		if (!err)
			err = pmcfs_space_dec(tx, e.phys + (lo - e.fblk), hi - lo);
		dropped += hi - lo;
	}
	free(v);
	if (!err && ret_dropped)
		*ret_dropped = dropped;
	return err;
}

int ns_ext_insert(struct pmcfs_trans *tx, struct pmcfs_tree *t, uint64_t ino, uint64_t fblk,
		  uint64_t phys, uint64_t n, uint32_t flags)
{
	struct pmcfs_ckey k = ns_key(ino, PMCFS_KEY_EXTENT, fblk * BS), prev;
	struct pmcfs_extent d;
	uint32_t size;
	struct ns_ext e = { fblk, phys, n, flags };

	/* Extend the left neighbour when the new range continues it physically. */
	if (fblk && !pmcfs_tree_lookup_le(tx->fs, t, &k, &prev, &d, sizeof(d), &size) &&
	    prev.objectid == ino && prev.type == PMCFS_KEY_EXTENT && size == sizeof(d)) {
		struct ns_ext l;
		if (!ext_decode(&prev, &d, size, &l) && l.fblk + l.n == fblk && l.phys + l.n == phys &&
		    l.flags == flags && l.n + n <= PMCFS_MAX_EXTENT_BLOCKS) {
			l.n += n;
			return ext_put(tx, t, ino, &l);
		}
	}
	return ext_put(tx, t, ino, &e);
}

int pmcfs_ns_extents(struct pmcfs_fs *fs, struct pmcfs_tree *t, uint64_t ino,
		     pmcfs_extent_fn fn, void *ctx)
{
	struct ns_ext *v;
	size_t n;
	int err = ns_ext_collect(fs, t, ino, 0, UINT64_MAX / BS, &v, &n);

	if (err)
		return err;
	for (size_t i = 0; !err && i < n; i++) {
		struct pmcfs_extent_info ei = { v[i].fblk * BS, v[i].phys, v[i].n, v[i].flags };
		err = fn(ctx, &ei);
	}
	free(v);
	return err;
}

static int require_reg(struct pmcfs_fs *fs, struct pmcfs_tree *t, uint64_t ino, struct ns_inode *in)
{
	int err = ns_inode_get(fs, t, ino, in);

	if (err)
		return err;
	if ((pmcfs_inode_mode(&in->d) & S_IFMT) == S_IFDIR)
		return -EISDIR;
	if ((pmcfs_inode_mode(&in->d) & S_IFMT) != S_IFREG)
		return -EINVAL;
	return 0;
}

int pmcfs_ns_read(struct pmcfs_fs *fs, struct pmcfs_tree *t, uint64_t ino, uint64_t off,
		  void *buf, size_t len, size_t *ret_read)
{
	struct ns_inode in;
	struct ns_ext *v;
	size_t n;
	uint64_t size, end;
	int err = require_reg(fs, t, ino, &in);

	if (err)
		return err;
	size = pmcfs_inode_size(&in.d);
	if (off >= size || !len) {
		*ret_read = 0;
		return 0;
	}
	end = off + len < size && off + len > off ? off + len : size;
	memset(buf, 0, end - off);
	if ((err = ns_ext_collect(fs, t, ino, off / BS, (end + BS - 1) / BS, &v, &n)))
		return err;
	for (size_t i = 0; !err && i < n; i++) {
		uint64_t es = v[i].fblk * BS, ee = (v[i].fblk + v[i].n) * BS;
		uint64_t lo = es > off ? es : off, hi = ee < end ? ee : end;
		if (v[i].flags & PMCFS_EXTENT_UNWRITTEN || lo >= hi)
			continue;
		if (v[i].phys < fs->sb.data_start || v[i].phys + v[i].n > fs->sb.data_end)
			err = -PMCFS_ECORRUPT;
		else
			err = pmcfs_dev_read(fs->dev, (uint8_t *)buf + (lo - off), hi - lo,
					     v[i].phys * BS + (lo - es));
	}
	free(v);
	if (!err)
		*ret_read = end - off;
	return err;
}

/* Old contents of file block fblk (zeros past EOF, in holes, if unwritten). */
static int read_block(struct pmcfs_fs *fs, struct pmcfs_tree *t, uint64_t ino, uint64_t fblk,
		      uint8_t *blk)
{
	size_t got;

	memset(blk, 0, BS);
	return pmcfs_ns_read(fs, t, ino, fblk * BS, blk, BS, &got);
}

/* Physical block just after the one mapping file block fblk - 1 (0: none). */
static int prev_phys_end(struct pmcfs_fs *fs, struct pmcfs_tree *t, uint64_t ino, uint64_t fblk,
			 uint64_t *goal)
{
	struct ns_ext *v;
	size_t n;
	int err;

	*goal = 0;
	if (!fblk)
		return 0;
	if ((err = ns_ext_collect(fs, t, ino, fblk - 1, fblk, &v, &n)))
		return err;
	if (n && !(v[0].flags & PMCFS_EXTENT_UNWRITTEN))
		*goal = v[0].phys + (fblk - v[0].fblk);
	free(v);
	return 0;
}

/*
 * Copy-on-write: [off, off+len) gets new blocks. The head and tail of
 * partly written blocks are copied from the old blocks first. Ranges of
 * at least one DAX unit that start on one are placed on the alignment,
 * so physical and file offsets agree modulo 2 MiB (PMD mappings).
 */
static int write_data(struct pmcfs_trans *tx, struct pmcfs_tree *t, struct ns_inode *in,
		      uint64_t off, const uint8_t *buf, size_t len)
{
	struct pmcfs_fs *fs = tx->fs;
	uint64_t b0 = off / BS, b1 = (off + len + BS - 1) / BS, align = fs->sb.dax_align / BS;
	uint8_t *head = NULL, *tail = NULL;
	uint64_t dropped, fblk, goal;
	int err = 0;

	head = aligned_alloc(64, 2 * BS);
	if (!head)
		return -ENOMEM;
	tail = head + BS;
	/* Only partly written edge blocks need their old contents. */
	if ((off % BS || (b1 - b0 == 1 && (off + len) % BS)) &&
	    (err = read_block(fs, t, in->ino, b0, head)))
		goto out;
	if (b1 - 1 > b0 && (off + len) % BS && (err = read_block(fs, t, in->ino, b1 - 1, tail)))
		goto out;
	memcpy(head + off % BS, buf, off % BS + len < BS ? len : BS - off % BS);
	if (b1 - 1 > b0)
		memcpy(tail, buf + ((b1 - 1) * BS - off), off + len - (b1 - 1) * BS);
	else
		memcpy(tail, head, BS);
	if ((err = ns_ext_drop(tx, t, in->ino, b0, b1, &dropped)))
		goto out;
	pmcfs_set_inode_nblocks(&in->d, pmcfs_inode_nblocks(&in->d) - dropped);
	if ((err = prev_phys_end(fs, t, in->ino, b0, &goal)))
		goto out;
	for (fblk = b0; fblk < b1 && !err;) {
		uint64_t want = b1 - fblk, phys, got;
		unsigned flags = 0;
		if (want > PMCFS_MAX_EXTENT_BLOCKS)
			want = PMCFS_MAX_EXTENT_BLOCKS;
		/* A large write starting on a DAX boundary starts a PMD-mappable
		 * extent; later writes continue it through the goal. */
		if (align > 1 && fblk % align == 0 &&
		    (pmcfs_inode_flags(&in->d) & PMCFS_INODE_HUGE || want >= align / 2)) {
			flags = PMCFS_ALLOC_HUGE;
			goal = 0;
		}
		if ((err = pmcfs_alloc_goal(tx, goal, want, flags, &phys, &got)))
			break;
		goal = phys + got;
		for (uint64_t i = 0; i < got && !err; ) {
			uint64_t f = fblk + i;
			const uint8_t *src;
			uint64_t run = 1;
			if (f == b0)
				src = head;
			else if (f == b1 - 1)
				src = tail;
			else {
				src = buf + (f * BS - off);
				while (i + run < got && f + run < b1 - 1)
					run++;
			}
			err = pmcfs_dev_write(fs->dev, src, run * BS, (phys + i) * BS);
			i += run;
		}
		if (!err)
			err = ns_ext_insert(tx, t, in->ino, fblk, phys, got, 0);
		pmcfs_set_inode_nblocks(&in->d, pmcfs_inode_nblocks(&in->d) + got);
		fblk += got;
	}
out:
	free(head);
	return err;
}

int pmcfs_ns_write(struct pmcfs_trans *tx, struct pmcfs_tree *t, uint64_t ino, uint64_t off,
		   const void *buf, size_t len)
{
	struct ns_inode in;
	int err = require_reg(tx->fs, t, ino, &in);

	if (err)
		return err;
	if (!len)
		return 0;
	if (off + len < off || off + len > (uint64_t)INT64_MAX)
		return -EFBIG;
	if ((err = write_data(tx, t, &in, off, buf, len)))
		return err;
	if (off + len > pmcfs_inode_size(&in.d))
		pmcfs_set_inode_size(&in.d, off + len);
	ns_touch(&in, true);
	return ns_inode_put(tx, t, &in);
}

/* Zero [off, end) inside one block through the write path (copy-on-write). */
static int zero_partial(struct pmcfs_trans *tx, struct pmcfs_tree *t, struct ns_inode *in,
			uint64_t off, uint64_t end)
{
	static const uint8_t zeros[PMCFS_BLOCK_SIZE];
	struct ns_ext *v;
	size_t n;
	int err;

	if (off >= end)
		return 0;
	if ((err = ns_ext_collect(tx->fs, t, in->ino, off / BS, off / BS + 1, &v, &n)))
		return err;
	free(v);
	if (!n)
		return 0;	/* a hole reads as zeros already */
	return write_data(tx, t, in, off, zeros, end - off);
}

int pmcfs_ns_truncate(struct pmcfs_trans *tx, struct pmcfs_tree *t, uint64_t ino, uint64_t size)
{
	struct ns_inode in;
	uint64_t dropped;
	int err = require_reg(tx->fs, t, ino, &in);

	if (err)
		return err;
	if (size > (uint64_t)INT64_MAX)
		return -EFBIG;
	if (size < pmcfs_inode_size(&in.d)) {
		/* Bytes past the new end must read as zeros if the file grows again. */
		uint64_t blk_end = (size + BS - 1) / BS * BS;
		if ((err = zero_partial(tx, t, &in, size, blk_end)) ||
		    (err = ns_ext_drop(tx, t, ino, blk_end / BS, UINT64_MAX / BS, &dropped)))
			return err;
		pmcfs_set_inode_nblocks(&in.d, pmcfs_inode_nblocks(&in.d) - dropped);
	}
	pmcfs_set_inode_size(&in.d, size);
	ns_touch(&in, true);
	return ns_inode_put(tx, t, &in);
}

int pmcfs_ns_punch(struct pmcfs_trans *tx, struct pmcfs_tree *t, uint64_t ino, uint64_t off,
		   uint64_t len)
{
	struct ns_inode in;
	uint64_t end, b0, b1, dropped;
	int err = require_reg(tx->fs, t, ino, &in);

	if (err)
		return err;
	end = off + len < off ? UINT64_MAX : off + len;
	if (end > pmcfs_inode_size(&in.d))
		end = pmcfs_inode_size(&in.d);
	if (off >= end)
		return 0;
	b0 = (off + BS - 1) / BS;
	b1 = end / BS;
	if (b0 > b1) {		/* inside one block */
		err = zero_partial(tx, t, &in, off, end);
	} else {
		err = zero_partial(tx, t, &in, off, b0 * BS);
		if (!err)
			err = zero_partial(tx, t, &in, b1 * BS, end);
		if (!err && b0 < b1 && !(err = ns_ext_drop(tx, t, ino, b0, b1, &dropped)))
			pmcfs_set_inode_nblocks(&in.d, pmcfs_inode_nblocks(&in.d) - dropped);
	}
	if (err)
		return err;
	ns_touch(&in, true);
	return ns_inode_put(tx, t, &in);
}

int pmcfs_ns_prealloc(struct pmcfs_trans *tx, struct pmcfs_tree *t, uint64_t ino, uint64_t off,
		      uint64_t len)
{
	struct ns_inode in;
	struct ns_ext *v;
	size_t n;
	uint64_t b0 = off / BS, b1 = (off + len + BS - 1) / BS, pos;
	int err = require_reg(tx->fs, t, ino, &in);

	if (err)
		return err;
	if (!len || off + len < off)
		return len ? -EINVAL : 0;
	if ((err = ns_ext_collect(tx->fs, t, ino, b0, b1, &v, &n)))
		return err;
	pos = b0;
	for (size_t i = 0; i <= n && !err; i++) {
		uint64_t gap_end = i < n ? (v[i].fblk > b0 ? v[i].fblk : b0) : b1;
		while (pos < gap_end && !err) {
			uint64_t phys, got, want = gap_end - pos;
			if (want > PMCFS_MAX_EXTENT_BLOCKS)
				want = PMCFS_MAX_EXTENT_BLOCKS;
			if (!(err = pmcfs_alloc(tx, want, 1, 0, &phys, &got)))
				err = ns_ext_insert(tx, t, ino, pos, phys, got, PMCFS_EXTENT_UNWRITTEN);
			pmcfs_set_inode_nblocks(&in.d, pmcfs_inode_nblocks(&in.d) + got);
			pos += got;
		}
		if (i < n)
			pos = v[i].fblk + v[i].n > pos ? v[i].fblk + v[i].n : pos;
	}
	free(v);
	if (err)
		return err;
	ns_touch(&in, false);
	return ns_inode_put(tx, t, &in);
}

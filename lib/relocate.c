// SPDX-License-Identifier: MIT
/*
 * Moving file data off bad media (pmcfs_relocate.h): the entry point,
 * and the units' copies; relocate_walk.c finds and remaps the items.
 *
 * Four steps, one transaction:
 *  1. free blocks of the bad list are recorded bad first, so that no copy
 *     is placed on them;
 *  2. every subvolume's extent items touching a bad block are collected
 *     and their physical ranges merged into move units (one copy each,
 *     so everything sharing a unit keeps sharing);
 *  3. each unit gets a new run, written before anything points at it
 *     (bad blocks as zeros, never read: a read of poison can fault); if
 *     no free run is that long, several, and step 4 splits the items
 *     that cross their boundaries;
 *  4. every item inside a unit, in every tree, is pointed at the copy
 *     (+1 on the new blocks, -1 on the old), the allocation's own
 *     reference on the copy is dropped, and the bad blocks the move
 *     freed are recorded bad.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "relocate_priv.h"

#define CHUNK		256		/* blocks per copy I/O */

int reloc_ranges_add(struct ranges *r, uint64_t start, uint64_t len)
{
	if (r->n && r->v[r->n - 1].start + r->v[r->n - 1].len == start) {
		r->v[r->n - 1].len += len;
		return 0;
	}
	if (r->n == r->cap) {
		size_t cap = r->cap ? r->cap * 2 : 16;
		struct pmcfs_badrange *v = realloc(r->v, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		r->v = v;
		r->cap = cap;
	}
	r->v[r->n++] = (struct pmcfs_badrange){ start, len };
	return 0;
}

static int cmp_range(const void *a, const void *b)
{
	const struct pmcfs_badrange *x = a, *y = b;
	return x->start < y->start ? -1 : x->start > y->start;
}

/* Sort and merge overlapping (and, if join_adjacent, touching) ranges in place. */
static void ranges_merge(struct ranges *r, bool join_adjacent)
{
	size_t n = 0;

	if (r->n)
		qsort(r->v, r->n, sizeof(*r->v), cmp_range);
	for (size_t i = 0; i < r->n; i++) {
		struct pmcfs_badrange *l = n ? &r->v[n - 1] : NULL;
		uint64_t end = r->v[i].start + r->v[i].len;
		if (l && (r->v[i].start < l->start + l->len ||
			  (join_adjacent && r->v[i].start == l->start + l->len))) {
			if (end > l->start + l->len)
				l->len = end - l->start;
			continue;
		}
		r->v[n++] = r->v[i];
	}
	r->n = n;
}

/* Index of the first range ending after b. */
size_t reloc_ranges_find(const struct ranges *r, uint64_t b)
{
	size_t lo = 0, hi = r->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (r->v[mid].start + r->v[mid].len <= b)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

bool reloc_ranges_overlap(const struct ranges *r, uint64_t start, uint64_t len)
{
	size_t i = reloc_ranges_find(r, start);
	return i < r->n && r->v[i].start < start + len;
}

/*
 * Record the free blocks of [start, start+len) as bad: committed-free ones
 * leave the free index, ones freed in this transaction the deferred list
 * (they must never become allocatable). Blocks in use count as busy.
 */
static int claim_bad(struct reloc *r, uint64_t start, uint64_t len, bool count_busy)
{
	struct pmcfs_fs *fs = r->fs;
	uint64_t pos = start, end = start + len;
	int err;

	while (pos < end) {
		struct pmcfs_space_info si;
		uint64_t stop;
		if ((err = pmcfs_space_lookup(fs, pos, &si)))
			return err;
		stop = si.start + si.len < end ? si.start + si.len : end;
		if (si.owner == PMCFS_OWNER_FS && si.refcount) {
			if (count_busy)
				r->res->busy += stop - pos;
		} else if (si.owner == PMCFS_OWNER_FS) {
			if ((err = pmcfs_space_claim_free_bad(r->tx, pos, stop)))
				return err;
			r->res->marked_bad += stop - pos;
		}
		pos = stop;
	}
	return 0;
}

/* Is old block b to be written as zeros? *ret_end: up to where the answer holds. */
static int badness(struct reloc *r, uint64_t b, uint64_t end, bool *ret_bad, uint64_t *ret_end)
{
	struct pmcfs_space_info si;
	size_t i = reloc_ranges_find(&r->bad, b);
	bool listed = i < r->bad.n && r->bad.v[i].start <= b;
	int err = pmcfs_space_lookup(r->fs, b, &si);

	if (err)
		return err;
	if (si.start + si.len < end)
		end = si.start + si.len;
	if (listed && r->bad.v[i].start + r->bad.v[i].len < end)
		end = r->bad.v[i].start + r->bad.v[i].len;
	if (!listed && i < r->bad.n && r->bad.v[i].start < end)
		end = r->bad.v[i].start;
	*ret_bad = listed || si.owner == PMCFS_OWNER_BADBLOCK;
	*ret_end = end;
	return 0;
}

/* Read n good blocks at old; a block failing with EIO is poison found now: zeros. */
static int read_good(struct reloc *r, uint8_t *buf, uint64_t old, uint64_t n)
{
	struct pmcfs_dev *dev = r->fs->dev;
	int err = pmcfs_dev_read(dev, buf, n * BS, old * BS);

	if (err != -EIO)
		return err;
	for (uint64_t i = 0; i < n; i++) {
		err = pmcfs_dev_read(dev, buf + i * BS, BS, (old + i) * BS);
		if (err == -EIO) {
			memset(buf + i * BS, 0, BS);
			err = reloc_ranges_add(&r->zeroed, old + i, 1);
		}
		if (err)
			return err;
	}
	return 0;
}

static int add_piece(struct unit *u, uint64_t off, uint64_t len, uint64_t new)
{
	struct piece *p = realloc(u->p, (u->np + 1) * sizeof(*p));

	if (!p)
		return -ENOMEM;
	u->p = p;
	u->p[u->np++] = (struct piece){ off, len, new };
	return 0;
}

/* Where old block phys of u went, and how many blocks on from it stay contiguous. */
uint64_t reloc_unit_new(const struct unit *u, uint64_t phys, uint64_t *ret_run)
{
	uint64_t off = phys - u->old;
	size_t i = 0;

	while (off >= u->p[i].off + u->p[i].len)	/* the pieces cover [0, len) in order */
		i++;
	*ret_run = u->p[i].off + u->p[i].len - off;
	return u->p[i].new + (off - u->p[i].off);
}

/* One run for u if there is one, else as few as the allocator finds. */
static int alloc_unit(struct reloc *r, struct unit *u)
{
	uint64_t align = r->fs->sb.dax_align / BS, got, new;
	unsigned flags = 0;
	int err;

	/* As the write path: a long extent on a DAX boundary stays PMD-mappable. */
	if (align > 1 && u->old % align == 0 && u->len >= align / 2)
		flags = PMCFS_ALLOC_HUGE;
	err = pmcfs_alloc(r->tx, u->len, u->len, flags, &new, &got);
	if (!err && got < u->len) {	/* an aligned start without the room behind it */
		if (!(err = pmcfs_space_dec(r->tx, new, got)))
			err = pmcfs_alloc(r->tx, u->len, u->len, 0, &new, &got);
	}
	if (!err)
		return add_piece(u, 0, u->len, new);
	if (err != -ENOSPC)
		return err;
	/* Free space too fragmented for one copy: the data still moves. */
	for (uint64_t off = 0; off < u->len; off += got)
		if ((err = pmcfs_alloc(r->tx, u->len - off, 1, 0, &new, &got)) ||
		    (err = add_piece(u, off, got, new)))
			return err;
	r->res->split_units++;
	return 0;
}

/* Step 3: a new run (or runs) for u, written whole before anything points at it. */
static int copy_unit(struct reloc *r, struct unit *u, uint8_t *buf)
{
	struct pmcfs_fs *fs = r->fs;
	uint64_t pos, end = u->old + u->len;
	int err;

	if ((err = alloc_unit(r, u)))
		return err;
	for (pos = u->old; pos < end;) {
		uint64_t stop, run;
		bool bad;
		if ((err = badness(r, pos, end, &bad, &stop)))
			return err;
		while (pos < stop) {
			uint64_t new = reloc_unit_new(u, pos, &run);
			uint64_t n = stop - pos < CHUNK ? stop - pos : CHUNK;
			n = n < run ? n : run;
			if (bad) {
				memset(buf, 0, n * BS);
				err = reloc_ranges_add(&r->zeroed, pos, n);
			} else {
				err = read_good(r, buf, pos, n);
			}
			if (!err)
				err = pmcfs_dev_write(fs->dev, buf, n * BS, new * BS);
			if (err)
				return err;
			pos += n;
		}
	}
	r->res->runs += u->np;
	r->res->blocks += u->len;
	return 0;
}

int pmcfs_data_relocate(struct pmcfs_trans *tx, const struct pmcfs_badrange *bad, size_t nbad,
			pmcfs_relocate_fn fn, void *ctx, struct pmcfs_relocate_result *ret)
{
	struct pmcfs_fs *fs = tx->fs;
	struct pmcfs_relocate_result res = { 0 };
	struct reloc r = { .tx = tx, .fs = fs, .fn = fn, .ctx = ctx, .res = &res };
	uint8_t *buf = NULL;
	int err = 0;

	if (!fs->in_trans || tx != &fs->tx || fs->broken)
		return -EINVAL;
	for (size_t i = 0; !err && i < nbad; i++) {
		uint64_t s = bad[i].start, e = bad[i].start + bad[i].len;
		if (e < s)
			err = -EINVAL;
		s = s > fs->sb.data_start ? s : fs->sb.data_start;
		e = e < fs->sb.data_end ? e : fs->sb.data_end;
		if (!err && s < e)
			err = reloc_ranges_add(&r.bad, s, e - s);
	}
	ranges_merge(&r.bad, true);
	if (err || (err = pmcfs_space_load(fs)))
		goto out;
	fs->bad_refs_ok = true;
	/* 1: no copy may land on a bad block. */
	for (size_t i = 0; !err && i < r.bad.n; i++)
		err = claim_bad(&r, r.bad.v[i].start, r.bad.v[i].len, false);
	/* 2: the units. */
	if (!err && !(r.skip = calloc(fs->sb.nblocks / 8 + 1, 1)))
		err = -ENOMEM;
	if (!err)
		err = reloc_for_each_subvol(&r, reloc_collect);
	if (err)
		goto out;
	ranges_merge(&r.cand, false);
	if (r.cand.n && !(r.u = malloc(r.cand.n * sizeof(*r.u)))) {
		err = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < r.cand.n; i++)
		r.u[r.nu++] = (struct unit){ r.cand.v[i].start, r.cand.v[i].len, NULL, 0 };
	/* 3: the copies. */
	if (r.nu && !(buf = aligned_alloc(64, CHUNK * BS)))
		err = -ENOMEM;
	for (size_t i = 0; !err && i < r.nu; i++)
		err = copy_unit(&r, &r.u[i], buf);
	/* 4: the references, then the copies' own allocation reference, then the records. */
	if (!err && r.nu) {
		memset(r.skip, 0, fs->sb.nblocks / 8 + 1);
		err = reloc_for_each_subvol(&r, reloc_remap);
	}
	for (size_t i = 0; !err && i < r.nu; i++)
		for (size_t j = 0; !err && j < r.u[i].np; j++)
			err = pmcfs_space_dec(tx, r.u[i].p[j].new, r.u[i].p[j].len);
	for (size_t i = 0; !err && i < r.bad.n; i++)
		err = claim_bad(&r, r.bad.v[i].start, r.bad.v[i].len, true);
	/* Blocks found unreadable; listed or recorded ones are bad already. */
	for (size_t i = 0; !err && i < r.zeroed.n; i++)
		err = claim_bad(&r, r.zeroed.v[i].start, r.zeroed.v[i].len, true);
	res.lost_blocks = 0;
	for (size_t i = 0; i < r.zeroed.n; i++)
		res.lost_blocks += r.zeroed.v[i].len;
out:
	fs->bad_refs_ok = false;
	free(buf);
	free(r.skip);
	for (size_t i = 0; i < r.nu; i++)
		free(r.u[i].p);
	free(r.u);
	free(r.bad.v);
	free(r.zeroed.v);
	free(r.cand.v);
	if (!err && ret)
		*ret = res;
	return err;
}

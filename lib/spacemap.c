// SPDX-License-Identifier: MIT
/*
 * The space map: a canonical partition of the device into runs
 * (start, len, refcount, owner), adjacent runs always differing.
 *
 * During a transaction the tree is not touched. Every refcount change
 * goes to an in-memory overlay of the touched ranges (loaded from the
 * tree on first touch); queries look at the overlay first. At commit
 * the overlay is written into the tree. That rewrite shadows space-map
 * nodes, which changes the counts of those very nodes: the new ones go
 * 0 -> 1 and the old ones 1 -> 0, and both land in the overlay again.
 * pmcfs_space_apply() repeats until no run is dirty. It converges
 * because a shadow of a shadow is a no-op: once every node on the
 * touched paths is new, rewriting them allocates nothing more (only a
 * leaf split can, and splits are rare and bounded).
 *
 * Space-map and root-table nodes are never shared, so their counts are
 * known (1) and updated with pmcfs_space_set_known() without reading
 * the tree - which matters, since the tree may be mid-rewrite then.
 */
#include <errno.h>
#include <stdlib.h>
#include "fs_priv.h"

static int read_tree_run(struct pmcfs_fs *fs, uint64_t blk, struct pmcfs_run *ret)
{
	struct pmcfs_ckey k = { blk, PMCFS_KEY_SPACE_RUN, 0 }, found;
	struct pmcfs_space_run sr;
	uint32_t size;
	int err;

	err = pmcfs_tree_lookup_le(fs, &fs->spacemap, &k, &found, &sr, sizeof(sr), &size);
	if (err == -ENOENT)
		return -PMCFS_ECORRUPT;	/* the partition must start at block 0 */
	if (err)
		return err;
	if (found.type != PMCFS_KEY_SPACE_RUN || size != sizeof(sr) ||
	    found.objectid > blk || pmcfs_space_run_len(&sr) == 0 ||
	    found.objectid + pmcfs_space_run_len(&sr) <= blk)
		return -PMCFS_ECORRUPT;
	ret->start = found.objectid;
	ret->len = pmcfs_space_run_len(&sr);
	ret->count = pmcfs_space_run_refcount(&sr);
	ret->owner = pmcfs_space_run_owner(&sr);
	ret->dirty = false;
	return 0;
}

/* Make the overlay cover [start, start+len) without changing any count. */
static int overlay_load(struct pmcfs_fs *fs, uint64_t start, uint64_t len)
{
	struct pmcfs_runmap *m = &fs->overlay;
	uint64_t pos = start, end = start + len;
	int err;

	if (len == 0 || end > fs->sb.nblocks || end < start)
		return -PMCFS_ECORRUPT;
	while (pos < end) {
		size_t i = pmcfs_runmap_search(m, pos);
		uint64_t gap_end = end;
		struct pmcfs_run r;

		if (i < m->n && m->runs[i].start <= pos) {
			pos = m->runs[i].start + m->runs[i].len;
			continue;
		}
		if (i < m->n && m->runs[i].start < gap_end)
			gap_end = m->runs[i].start;
		if ((err = read_tree_run(fs, pos, &r)))
			return err;
		if (r.start + r.len > gap_end)
			r.len = gap_end - r.start;
		r.len -= pos - r.start;
		r.start = pos;
		if ((err = pmcfs_runmap_insert_at(m, i, &r)))
			return err;
		pos = r.start + r.len;
	}
	return 0;
}

static int deferred_free(struct pmcfs_fs *fs, uint64_t start, uint64_t len)
{
	return pmcfs_freeidx_add(&fs->deferred, start, len);
}

/* Split the overlay so [start, end) is covered by whole runs; return the first index. */
static int overlay_isolate(struct pmcfs_fs *fs, uint64_t start, uint64_t end, size_t *ret)
{
	int err = pmcfs_runmap_split(&fs->overlay, start);

	if (!err && end < fs->sb.nblocks)
		err = pmcfs_runmap_split(&fs->overlay, end);
	if (!err)
		*ret = pmcfs_runmap_search(&fs->overlay, start);
	return err;
}

static int space_add(struct pmcfs_trans *tx, uint64_t start, uint64_t len, int delta)
{
	struct pmcfs_fs *fs = tx->fs;
	uint64_t end = start + len;
	size_t i;
	int err;

	if ((err = overlay_load(fs, start, len)) || (err = overlay_isolate(fs, start, end, &i)))
		return err;
	/* Check the whole range before changing any of it. */
	for (size_t j = i; j < fs->overlay.n && fs->overlay.runs[j].start < end; j++) {
		const struct pmcfs_run *r = &fs->overlay.runs[j];
		if (r->owner == PMCFS_OWNER_BADBLOCK && fs->bad_refs_ok)
			continue;	/* pmcfs_data_relocate: the bad record stands */
		if (r->owner != PMCFS_OWNER_FS || r->count == 0)
			return -PMCFS_ECORRUPT;	/* reference into free, bad or reserved space */
		if (delta > 0 && r->count == UINT32_MAX)
			return -EOVERFLOW;
	}
	for (; i < fs->overlay.n && fs->overlay.runs[i].start < end; i++) {
		struct pmcfs_run *r = &fs->overlay.runs[i];
		if (r->owner == PMCFS_OWNER_BADBLOCK)
			continue;
		r->count += delta;
		r->dirty = true;
		if (r->count == 0) {
			fs->free_blocks += r->len;
			if ((err = deferred_free(fs, r->start, r->len)))
				return err;
		}
	}
	return 0;
}

int pmcfs_space_inc(struct pmcfs_trans *tx, uint64_t start, uint64_t len)
{
	return space_add(tx, start, len, 1);
}

int pmcfs_space_dec(struct pmcfs_trans *tx, uint64_t start, uint64_t len)
{
	return space_add(tx, start, len, -1);
}

int pmcfs_space_set_known(struct pmcfs_fs *fs, uint64_t start, uint64_t len,
			  uint32_t old_count, uint32_t new_count, uint32_t owner)
{
	struct pmcfs_runmap *m = &fs->overlay;
	uint64_t pos = start, end = start + len;
	int err;

	while (pos < end) {
		size_t i = pmcfs_runmap_search(m, pos);
		if (i < m->n && m->runs[i].start <= pos) {
			struct pmcfs_run *r;
			if ((err = overlay_isolate(fs, pos, end < m->runs[i].start + m->runs[i].len ?
						   end : m->runs[i].start + m->runs[i].len, &i)))
				return err;
			r = &m->runs[i];
			if (r->count != old_count)
				return -PMCFS_ECORRUPT;
			r->count = new_count;
			r->owner = owner;
			r->dirty = true;
			pos = r->start + r->len;
		} else {
			struct pmcfs_run r = { pos, end - pos, new_count, owner, true };
			if (i < m->n && m->runs[i].start < end)
				r.len = m->runs[i].start - pos;
			if ((err = pmcfs_runmap_insert_at(m, i, &r)))
				return err;
			pos += r.len;
		}
	}
	if (old_count == 0 && new_count)
		fs->free_blocks -= len;
	if (old_count && new_count == 0) {
		fs->free_blocks += len;
		return deferred_free(fs, start, len);
	}
	return 0;
}

int pmcfs_space_get_count(struct pmcfs_fs *fs, uint64_t blkno, uint32_t *ret)
{
	struct pmcfs_space_info si;
	int err = pmcfs_space_lookup(fs, blkno, &si);

	if (!err)
		*ret = si.refcount;
	return err;
}

int pmcfs_space_lookup(struct pmcfs_fs *fs, uint64_t blkno, struct pmcfs_space_info *ret)
{
	size_t i = pmcfs_runmap_search(&fs->overlay, blkno);
	struct pmcfs_run r;
	int err;

	if (blkno >= fs->sb.nblocks)
		return -EINVAL;
	if (i < fs->overlay.n && fs->overlay.runs[i].start <= blkno) {
		r = fs->overlay.runs[i];
	} else if ((err = read_tree_run(fs, blkno, &r))) {
		return err;
	}
	ret->start = r.start;
	ret->len = r.len;
	ret->refcount = r.count;
	ret->owner = r.owner;
	return 0;
}

int pmcfs_space_mark_bad(struct pmcfs_trans *tx, uint64_t start, uint64_t len)
{
	struct pmcfs_fs *fs = tx->fs;
	size_t i;
	int err;

	if ((err = pmcfs_space_load(fs)) || (err = overlay_load(fs, start, len)) ||
	    (err = overlay_isolate(fs, start, start + len, &i)))
		return err;
	for (; i < fs->overlay.n && fs->overlay.runs[i].start < start + len; i++) {
		struct pmcfs_run *r = &fs->overlay.runs[i];
		if (r->owner == PMCFS_OWNER_BADBLOCK)
			continue;
		if (r->count || r->owner != PMCFS_OWNER_FS)
			return -EBUSY;		/* in use: the caller must move it first */
		if ((err = pmcfs_freeidx_take(fs, r->start, r->len)))
			return err;
		r->count = 1;
		r->owner = PMCFS_OWNER_BADBLOCK;
		r->dirty = true;
		fs->free_blocks -= r->len;
	}
	return 0;
}

/* ---- commit: write the overlay into the tree ------------------------------ */

static int put_run(struct pmcfs_trans *tx, const struct pmcfs_run *r)
{
	struct pmcfs_ckey k = { r->start, PMCFS_KEY_SPACE_RUN, 0 };
	struct pmcfs_space_run sr;

	memset(&sr, 0, sizeof(sr));
	pmcfs_set_space_run_len(&sr, r->len);
	pmcfs_set_space_run_refcount(&sr, r->count);
	pmcfs_set_space_run_owner(&sr, r->owner);
	return pmcfs_tree_insert(tx, &tx->fs->spacemap, &k, &sr, sizeof(sr));
}

/*
 * Set [start, start+len) to (count, owner) in the tree, keeping it
 * canonical: collect the records from the one before start to the one
 * after the end, rewrite that span with equal neighbours merged.
 */
static int write_range(struct pmcfs_trans *tx, const struct pmcfs_run *nr)
{
	struct pmcfs_fs *fs = tx->fs;
	uint64_t end = nr->start + nr->len;
	uint64_t lo = nr->start ? nr->start - 1 : 0, hi = end < fs->sb.nblocks ? end : end - 1;
	struct pmcfs_run old[64], out[3];
	size_t nold = 0, nout = 0;
	uint64_t pos = lo;
	int err;

	/* Old records over [lo, hi]; a long span is rewritten in slices. */
	while (pos <= hi) {
		if (nold == 64)
			return -EAGAIN;
		if ((err = read_tree_run(fs, pos, &old[nold])))
			return err;
		pos = old[nold].start + old[nold].len;
		nold++;
	}
	/* Left remainder, the new run, right remainder; then merge neighbours. */
	if (old[0].start < nr->start) {
		out[nout] = old[0];
		out[nout].len = nr->start - old[0].start;
		nout++;
	}
	out[nout++] = *nr;
	if (old[nold - 1].start + old[nold - 1].len > end) {
		out[nout] = old[nold - 1];
		out[nout].len = old[nold - 1].start + old[nold - 1].len - end;
		out[nout].start = end;
		nout++;
	}
	for (size_t j = 1; j < nout; j++) {
		if (out[j].count == out[j - 1].count && out[j].owner == out[j - 1].owner) {
			out[j - 1].len += out[j].len;
			memmove(&out[j], &out[j + 1], (nout - j - 1) * sizeof(out[0]));
			nout--;
			j--;
		}
	}
	for (size_t j = 0; j < nold; j++) {
		struct pmcfs_ckey k = { old[j].start, PMCFS_KEY_SPACE_RUN, 0 };
		if ((err = pmcfs_tree_delete(tx, &fs->spacemap, &k)))
			return err;
	}
	for (size_t j = 0; j < nout; j++)
		if ((err = put_run(tx, &out[j])))
			return err;
	return 0;
}

static int write_dirty_run(struct pmcfs_trans *tx, struct pmcfs_run r)
{
	/* A run spanning many old records is written 32 records' worth at a time. */
	for (;;) {
		int err = write_range(tx, &r);
		struct pmcfs_run first;
		if (err != -EAGAIN)
			return err;
		if ((err = read_tree_run(tx->fs, r.start, &first)))
			return err;
		struct pmcfs_run part = r;
		part.len = first.start + first.len - r.start;
		if ((err = write_range(tx, &part)))
			return err;
		r.start += part.len;
		r.len -= part.len;
	}
}

int pmcfs_space_apply(struct pmcfs_trans *tx)
{
	struct pmcfs_fs *fs = tx->fs;
	bool progress = true;
	int err, rounds = 0;

	while (progress) {
		progress = false;
		if (++rounds > 1000)
			return -PMCFS_ECORRUPT;	/* cannot converge: a bug, not media */
		for (size_t i = 0; i < fs->overlay.n; i++) {
			struct pmcfs_run r = fs->overlay.runs[i];
			if (!r.dirty)
				continue;
			fs->overlay.runs[i].dirty = false;
			if ((err = write_dirty_run(tx, r)))
				return err;
			progress = true;
			/* Writing may have added overlay runs: find our place again. */
			i = pmcfs_runmap_search(&fs->overlay, r.start + r.len);
			if (i == 0)
				break;
			i--;
		}
	}
	return 0;
}

void pmcfs_space_reset(struct pmcfs_fs *fs)
{
	pmcfs_runmap_release(&fs->overlay);
	pmcfs_runmap_release(&fs->deferred);
	pmcfs_runmap_release(&fs->freeidx);
	fs->freeidx_loaded = false;
	fs->free_blocks = fs->commit.free_blocks;
}

int pmcfs_space_release_deferred(struct pmcfs_fs *fs)
{
	int err = 0;

	for (size_t i = 0; !err && fs->freeidx_loaded && i < fs->deferred.n; i++)
		err = pmcfs_freeidx_add(&fs->freeidx, fs->deferred.runs[i].start,
					fs->deferred.runs[i].len);
	pmcfs_runmap_release(&fs->deferred);
	pmcfs_runmap_release(&fs->overlay);
	return err;
}

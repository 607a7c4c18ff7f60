// SPDX-License-Identifier: MIT
/*
 * Allocation. The free index is built once from the space map's
 * refcount-0 runs (O(runs), as format-notes §7 plans for mount) and
 * then kept in step: allocations take from it, frees go to a deferred
 * list that joins it only after the freeing transaction committed.
 *
 * Policy (not format): extents of HUGE requests start on the DAX
 * alignment so the kernel can map them with PMD pages; everything else
 * is taken first-fit from a rotating cursor, which packs small
 * allocations together and leaves whole aligned chunks for large files.
 */
#include <errno.h>
#include "fs_priv.h"

int pmcfs_freeidx_add(struct pmcfs_runmap *m, uint64_t start, uint64_t len)
{
	size_t i = pmcfs_runmap_search(m, start);
	struct pmcfs_run *prev = i ? &m->runs[i - 1] : NULL;
	struct pmcfs_run *next = i < m->n ? &m->runs[i] : NULL;
	struct pmcfs_run r = { start, len, 0, 0, false };

	if (next && next->start < start + len)
		return -PMCFS_ECORRUPT;		/* freeing a range twice */
	if (prev && prev->start + prev->len > start)
		return -PMCFS_ECORRUPT;
	if (prev && prev->start + prev->len == start) {
		prev->len += len;
		if (next && next->start == start + len) {
			prev->len += next->len;
			pmcfs_runmap_remove_at(m, i, 1);
		}
		return 0;
	}
	if (next && next->start == start + len) {
		next->start = start;
		next->len += len;
		return 0;
	}
	return pmcfs_runmap_insert_at(m, i, &r);
}

int pmcfs_freeidx_take(struct pmcfs_fs *fs, uint64_t start, uint64_t len)
{
	struct pmcfs_runmap *m = &fs->freeidx;
	size_t i = pmcfs_runmap_search(m, start);
	struct pmcfs_run *r = i < m->n ? &m->runs[i] : NULL;
	uint64_t end = start + len;

	if (!r || r->start > start || r->start + r->len < end)
		return -PMCFS_ECORRUPT;
	if (r->start == start) {
		r->start += len;
		r->len -= len;
		if (!r->len)
			pmcfs_runmap_remove_at(m, i, 1);
		return 0;
	}
	if (r->start + r->len == end) {
		r->len -= len;
		return 0;
	}
	struct pmcfs_run tail = { end, r->start + r->len - end, 0, 0, false };
	r->len = start - r->start;
	return pmcfs_runmap_insert_at(m, i + 1, &tail);
}

/* Build the free index from the committed space map (lazily: dump never pays). */
static int freeidx_load(struct pmcfs_fs *fs)
{
	struct pmcfs_ckey start = { 0, PMCFS_KEY_SPACE_RUN, 0 }, k;
	struct pmcfs_iter *it;
	const void *body;
	uint32_t size;
	int err;

	if (fs->freeidx_loaded)
		return 0;
	if ((err = pmcfs_iter_start(fs, &fs->spacemap, &start, &it)))
		return err;
	while ((err = pmcfs_iter_next(it, &k, &body, &size)) > 0) {
		struct pmcfs_space_run sr;
		if (k.type != PMCFS_KEY_SPACE_RUN || size != sizeof(sr)) {
			err = -PMCFS_ECORRUPT;
			break;
		}
		memcpy(&sr, body, sizeof(sr));
		if (pmcfs_space_run_refcount(&sr) || pmcfs_space_run_owner(&sr) != PMCFS_OWNER_FS)
			continue;
		/* Ranges freed earlier in this transaction are not allocatable yet. */
		if ((err = pmcfs_freeidx_add(&fs->freeidx, k.objectid, pmcfs_space_run_len(&sr))))
			break;
	}
	pmcfs_iter_free(it);
	if (err < 0) {
		pmcfs_runmap_release(&fs->freeidx);
		return err;
	}
	fs->freeidx_loaded = true;
	return 0;
}

int pmcfs_space_load(struct pmcfs_fs *fs)
{
	return freeidx_load(fs);
}

static bool pick_aligned(const struct pmcfs_runmap *m, uint64_t align, uint64_t want,
			 uint64_t min, uint64_t *start, uint64_t *len)
{
	for (size_t i = 0; i < m->n; i++) {
		const struct pmcfs_run *r = &m->runs[i];
		uint64_t a = (r->start + align - 1) / align * align, end = r->start + r->len;
		if (a < end && end - a >= min) {
			*start = a;
			*len = end - a < want ? end - a : want;
			return true;
		}
	}
	return false;
}

static bool pick_first_fit(const struct pmcfs_runmap *m, uint64_t hint, uint64_t want,
			   uint64_t min, uint64_t *start, uint64_t *len)
{
	size_t first = pmcfs_runmap_search(m, hint);

	for (size_t n = 0; n < m->n; n++) {
		const struct pmcfs_run *r = &m->runs[(first + n) % m->n];
		uint64_t s = r->start, avail = r->len;
		if (n == 0 && s < hint && hint < s + avail) {
			avail -= hint - s;
			s = hint;
		}
		if (avail >= min) {
			*start = s;
			*len = avail < want ? avail : want;
			return true;
		}
	}
	return false;
}

/*
 * Allocate starting exactly at goal if it is free (extending a file's
 * last extent keeps it contiguous, and keeps a DAX-aligned extent
 * aligned as it grows); otherwise as pmcfs_alloc().
 */
int pmcfs_alloc_goal(struct pmcfs_trans *tx, uint64_t goal, uint64_t want, unsigned flags,
		     uint64_t *ret_start, uint64_t *ret_len)
{
	struct pmcfs_fs *fs = tx->fs;
	size_t i;
	int err;

	if (!want)
		return -EINVAL;
	if ((err = freeidx_load(fs)))
		return err;
	i = pmcfs_runmap_search(&fs->freeidx, goal);
	if (goal && i < fs->freeidx.n && fs->freeidx.runs[i].start <= goal) {
		const struct pmcfs_run *r = &fs->freeidx.runs[i];
		uint64_t len = r->start + r->len - goal < want ? r->start + r->len - goal : want;
		if ((err = pmcfs_freeidx_take(fs, goal, len)) ||
		    (err = pmcfs_space_set_known(fs, goal, len, 0, 1, PMCFS_OWNER_FS)))
			return err;
		*ret_start = goal;
		*ret_len = len;
		return 0;
	}
	return pmcfs_alloc(tx, want, 1, flags, ret_start, ret_len);
}

int pmcfs_alloc(struct pmcfs_trans *tx, uint64_t want, uint64_t min, unsigned flags,
		uint64_t *ret_start, uint64_t *ret_len)
{
	struct pmcfs_fs *fs = tx->fs;
	uint64_t align = fs->sb.dax_align / PMCFS_BLOCK_SIZE, start, len;
	bool ok = false;
	int err;

	if (!min || min > want)
		return -EINVAL;
	if ((err = freeidx_load(fs)))
		return err;
	/* An aligned start is only worth it with a whole DAX unit behind it. */
	if ((flags & PMCFS_ALLOC_HUGE) && align > 1)
		ok = pick_aligned(&fs->freeidx, align, want, want < align ? want : align, &start, &len);
	if (!ok)
		ok = pick_first_fit(&fs->freeidx, flags & PMCFS_ALLOC_META ? fs->meta_hint : fs->data_hint,
				    want, min, &start, &len);
	if (!ok)
		return -ENOSPC;
	if ((err = pmcfs_freeidx_take(fs, start, len)))
		return err;
	if ((err = pmcfs_space_set_known(fs, start, len, 0, 1, PMCFS_OWNER_FS)))
		return err;
	if (flags & PMCFS_ALLOC_META)
		fs->meta_hint = start + len;
	else if (!(flags & PMCFS_ALLOC_HUGE))
		fs->data_hint = start + len;
	*ret_start = start;
	*ret_len = len;
	return 0;
}

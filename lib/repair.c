// SPDX-License-Identifier: MIT
/*
 * Repair primitives (pmcfs_repair.h) for fsck.pmcfs.
 *
 * Rebuilding the space map. The space map is derived data (format notes
 * §9): fsck computes the exact count of every block from a walk of all
 * the other trees and hands the partition here. The new tree is bulk
 * built bottom-up, leaves three quarters full, nodes evenly filled (so
 * every non-root node is at least half full, above the quarter the tree
 * code requires).
 *
 * The circularity spacemap.c settles by iterating pmcfs_space_apply() -
 * the tree's own nodes change the counts it records - is settled here
 * directly. The k new nodes are placed at the start of a free run longer
 * than any k we could need. Taking the first k blocks of such a run
 * changes the record structure in the same way for every such k: the
 * free run loses its head (it survives, since it is longer than k), and
 * a count-1 run appears before it or extends its left neighbour. So
 * r = records(partition with the nodes) does not depend on k, and
 * k = nodes_for(r) is a fixed point reached in two steps:
 *   1. place kmax = nodes_for(n + 2) blocks (a record count can grow by at
 *      most two), count the records r exactly;
 *   2. place k = nodes_for(r) <= kmax blocks at the same start: same r.
 * Nothing is written to the media until commit, so an interrupted
 * rebuild leaves the old commit - and its old space map - intact: blocks
 * the old map still uses are passed in keep[] and never written.
 */
#include <errno.h>
#include <stdlib.h>
#include "fs_priv.h"
#include "pmcfs_repair.h"

#define RUN_BODY	((uint32_t)sizeof(struct pmcfs_space_run))
#define LEAF_CAP	(PMCFS_NODE_SPACE / (sizeof(struct pmcfs_item) + RUN_BODY))
#define LEAF_FILL	(LEAF_CAP * 3 / 4)
#define PTR_FILL	(PMCFS_NODE_MAX_PTRS * 3 / 4)

/* Nodes per level for r records; returns the total, *ret_top the root level. */
static uint64_t layout(uint64_t r, uint64_t cnt[PMCFS_MAX_LEVEL], int *ret_top)
{
	uint64_t total;
	int l = 0;

	cnt[0] = r ? (r + LEAF_FILL - 1) / LEAF_FILL : 1;
	total = cnt[0];
	while (cnt[l] > 1 && l + 1 < PMCFS_MAX_LEVEL) {
		cnt[l + 1] = (cnt[l] + PTR_FILL - 1) / PTR_FILL;
		total += cnt[++l];
	}
	*ret_top = l;
	return total;
}

static bool same_kind(const struct pmcfs_space_info *a, const struct pmcfs_space_info *b)
{
	return a->refcount == b->refcount && a->owner == b->owner;
}

static int check_partition(const struct pmcfs_fs *fs, const struct pmcfs_space_info *runs, size_t n)
{
	uint64_t pos = 0;

	for (size_t i = 0; i < n; i++) {
		if (runs[i].start != pos || runs[i].len == 0 || runs[i].len > fs->sb.nblocks - pos ||
		    runs[i].owner > PMCFS_OWNER_SUPER || (i && same_kind(&runs[i - 1], &runs[i])))
			return -EINVAL;
		pos += runs[i].len;
	}
	return pos == fs->sb.nblocks ? 0 : -EINVAL;
}

/* Append a run to out, merging it into the previous one when equal. */
static void put(struct pmcfs_space_info *out, size_t *nout, const struct pmcfs_space_info *r)
{
	if (*nout && same_kind(&out[*nout - 1], r) &&
	    out[*nout - 1].start + out[*nout - 1].len == r->start) {
		out[*nout - 1].len += r->len;
		return;
	}
	out[(*nout)++] = *r;
}

/* runs with [s, s+k) - inside free run idx, not reaching its end - counted 1. */
static size_t place(const struct pmcfs_space_info *runs, size_t n, size_t idx, uint64_t s,
		    uint64_t k, struct pmcfs_space_info *out)
{
	size_t nout = 0;

	for (size_t i = 0; i < n; i++) {
		struct pmcfs_space_info a = runs[i], m, b;
		if (i != idx) {
			put(out, &nout, &a);
			continue;
		}
		b = a;
		a.len = s - a.start;
		m = (struct pmcfs_space_info){ s, k, 1, PMCFS_OWNER_FS };
		b.start = s + k;
		b.len = runs[i].start + runs[i].len - b.start;
		if (a.len)
			put(out, &nout, &a);
		put(out, &nout, &m);
		put(out, &nout, &b);
	}
	return nout;
}

static int cmp_range(const void *a, const void *b)
{
	const struct pmcfs_badrange *x = a, *y = b;
	return x->start < y->start ? -1 : x->start > y->start;
}

/* First free block s of a stretch longer than need that avoids keep; run index in *idx. */
static int find_home(const struct pmcfs_fs *fs, const struct pmcfs_space_info *runs, size_t n,
		     const struct pmcfs_badrange *keep, size_t nkeep, uint64_t need,
		     size_t *ret_idx, uint64_t *ret_s)
{
	size_t kj = 0;

	for (size_t i = 0; i < n; i++) {
		uint64_t pos = runs[i].start, end = runs[i].start + runs[i].len;
		if (runs[i].refcount || runs[i].owner != PMCFS_OWNER_FS)
			continue;
		if (pos < fs->sb.data_start)
			pos = fs->sb.data_start;
		if (end > fs->sb.data_end)
			end = fs->sb.data_end;
		while (pos < end) {
			uint64_t stop = end;
			while (kj < nkeep && keep[kj].start + keep[kj].len <= pos)
				kj++;
			if (kj < nkeep && keep[kj].start <= pos) {
				pos = keep[kj].start + keep[kj].len;
				continue;
			}
			if (kj < nkeep && keep[kj].start < stop)
				stop = keep[kj].start;
			if (stop - pos > need) {
				*ret_idx = i;
				*ret_s = pos;
				return 0;
			}
			pos = stop;
		}
	}
	return -ENOSPC;
}

static int new_node(struct pmcfs_trans *tx, uint64_t blkno, unsigned level, struct pmcfs_buf **ret)
{
	struct pmcfs_fs *fs = tx->fs;
	int err;

	pmcfs_cache_forget(&fs->cache, blkno);
	if ((err = pmcfs_cache_add(&fs->cache, blkno, ret)))
		return err;
	pmcfs_node_init(fs, (*ret)->data, blkno, PMCFS_SPACEMAP_MAGIC, PMCFS_SPACEMAP_TREE, level,
			tx->gen);
	(*ret)->fresh = true;
	pmcfs_cache_mark_dirty(&fs->cache, *ret);
	return 0;
}

static void leaf_put(uint8_t *leaf, unsigned i, const struct pmcfs_space_info *r)
{
	struct pmcfs_item *it = pmcfs_leaf_item(leaf, i);
	uint32_t off = PMCFS_BLOCK_SIZE - (i + 1) * RUN_BODY;
	struct pmcfs_ckey k = { r->start, PMCFS_KEY_SPACE_RUN, 0 };
	struct pmcfs_space_run sr;

	memset(&sr, 0, sizeof(sr));
	pmcfs_set_space_run_len(&sr, r->len);
	pmcfs_set_space_run_refcount(&sr, r->refcount);
	pmcfs_set_space_run_owner(&sr, r->owner);
	memcpy(leaf + off, &sr, sizeof(sr));
	pmcfs_key_to_disk(&k, &it->key);
	pmcfs_set_item_offset(it, off);
	pmcfs_set_item_size(it, RUN_BODY);
}

/*
 * Write the tree for recs[0..r) into blocks s, s+1, ...: level by level,
 * each node taking an even share of the level below. keys[] holds the
 * first key (run start) of every node of the level just built.
 */
static int build(struct pmcfs_trans *tx, const struct pmcfs_space_info *recs, uint64_t r,
		 uint64_t s, struct pmcfs_root_ref *root)
{
	uint64_t cnt[PMCFS_MAX_LEVEL], blk = s, below = r, first_blk = s;
	uint64_t *keys = malloc((r ? r : 1) * sizeof(*keys));
	int top, err = 0;

	if (!keys)
		return -ENOMEM;
	layout(r, cnt, &top);
	for (int l = 0; l <= top && !err; l++) {
		uint64_t base = blk, done = 0;
		for (uint64_t j = 0; j < cnt[l] && !err; j++) {
			uint64_t take = below / cnt[l] + (j < below % cnt[l]);
			struct pmcfs_buf *b;
			if ((err = new_node(tx, blk, l, &b)))
				break;
			for (uint64_t i = 0; i < take; i++) {
				if (l == 0) {
					leaf_put(b->data, i, &recs[done + i]);
				} else {
					struct pmcfs_node_ptr *p = pmcfs_node_ptr_at(b->data, i);
					struct pmcfs_ckey k = { keys[done + i], PMCFS_KEY_SPACE_RUN, 0 };
					pmcfs_key_to_disk(&k, &p->key);
					pmcfs_set_node_ptr_blkno(p, first_blk + done + i);
					pmcfs_set_node_ptr_generation(p, tx->gen);
				}
			}
			pmcfs_set_header_nritems((struct pmcfs_header *)b->data, take);
			keys[j] = l == 0 ? (take ? recs[done].start : 0) : keys[done];
			done += take;
			blk++;
		}
		first_blk = base;
		below = cnt[l];
	}
	free(keys);
	if (!err)
		*root = (struct pmcfs_root_ref){ blk - 1, tx->gen, (uint8_t)top };
	return err;
}

int pmcfs_space_rebuild(struct pmcfs_trans *tx, const struct pmcfs_space_info *runs, size_t n,
			const struct pmcfs_badrange *keep, size_t nkeep)
{
	struct pmcfs_fs *fs = tx->fs;
	struct pmcfs_space_info *out = NULL;
	struct pmcfs_badrange *ks = NULL;
	uint64_t cnt[PMCFS_MAX_LEVEL], kmax, k, s, free_blocks = 0;
	size_t idx, r;
	int top, err;

	if (!fs->in_trans || tx != &fs->tx || fs->broken)
		return -EINVAL;
	/* Counts changed earlier in the transaction would be lost. */
	if (fs->overlay.n || fs->deferred.n)
		return -EBUSY;
	if ((err = check_partition(fs, runs, n)))
		return err;
	if (n > SIZE_MAX / sizeof(*out) - 3)
		return -ENOMEM;
	out = malloc((n + 2) * sizeof(*out));
	ks = malloc((nkeep ? nkeep : 1) * sizeof(*ks));
	if (!out || !ks) {
		err = -ENOMEM;
		goto done;
	}
	if (nkeep) {
		memcpy(ks, keep, nkeep * sizeof(*ks));
		qsort(ks, nkeep, sizeof(*ks), cmp_range);
	}
	kmax = layout(n + 2, cnt, &top);
	if ((err = find_home(fs, runs, n, ks, nkeep, kmax, &idx, &s)))
		goto done;
	r = place(runs, n, idx, s, kmax, out);
	k = layout(r, cnt, &top);
	if (place(runs, n, idx, s, k, out) != r) {
		err = -PMCFS_ECORRUPT;	/* the argument above failed: a bug */
		goto done;
	}
	if ((err = build(tx, out, r, s, &fs->spacemap.root)))
		goto done;
	fs->spacemap.dirty = true;
	for (size_t i = 0; i < r; i++)
		if (out[i].refcount == 0)
			free_blocks += out[i].len;
	fs->free_blocks = free_blocks;
	/* The free index is rebuilt from the new tree at commit. */
	pmcfs_runmap_release(&fs->freeidx);
	fs->freeidx_loaded = false;
done:
	free(out);
	free(ks);
	return err;
}

/* Remove [start, start+len) from a run map of disjoint runs. */
static int runmap_cut(struct pmcfs_runmap *m, uint64_t start, uint64_t len)
{
	size_t i, j;
	int err;

	if ((err = pmcfs_runmap_split(m, start)) || (err = pmcfs_runmap_split(m, start + len)))
		return err;
	i = j = pmcfs_runmap_search(m, start);
	while (j < m->n && m->runs[j].start < start + len)
		j++;
	pmcfs_runmap_remove_at(m, i, j - i);
	return 0;
}

int pmcfs_space_claim_free_bad(struct pmcfs_trans *tx, uint64_t pos, uint64_t end)
{
	struct pmcfs_fs *fs = tx->fs;
	int err;

	/* Split at the deferred runs: those were freed by this transaction. */
	while (pos < end) {
		const struct pmcfs_runmap *d = &fs->deferred;
		size_t i = pmcfs_runmap_search(d, pos);
		bool deferred = i < d->n && d->runs[i].start <= pos;
		uint64_t e = end;
		if (deferred && d->runs[i].start + d->runs[i].len < e)
			e = d->runs[i].start + d->runs[i].len;
		if (!deferred && i < d->n && d->runs[i].start < e)
			e = d->runs[i].start;
		err = deferred ? runmap_cut(&fs->deferred, pos, e - pos) : 0;
		if (!err)
			err = deferred ? pmcfs_space_set_known(fs, pos, e - pos, 0, 1, PMCFS_OWNER_BADBLOCK)
				       : pmcfs_space_mark_bad(tx, pos, e - pos);
		if (err)
			return err;
		pos = e;
	}
	return 0;
}

int pmcfs_space_set_bad(struct pmcfs_trans *tx, uint64_t start, uint64_t len)
{
	uint64_t end = start + len;
	int err;

	if (len == 0 || end < start || end > tx->fs->sb.nblocks)
		return -EINVAL;
	/* Check first, so that -EBUSY changes nothing. */
	for (int claim = 0; claim < 2; claim++)
		for (uint64_t pos = start, stop; pos < end; pos = stop) {
			struct pmcfs_space_info si;
			if ((err = pmcfs_space_lookup(tx->fs, pos, &si)))
				return err;
			stop = si.start + si.len < end ? si.start + si.len : end;
			if (si.owner == PMCFS_OWNER_FS && si.refcount)
				return -EBUSY;		/* in use: the caller must move it first */
			if (claim && si.owner == PMCFS_OWNER_FS &&
			    (err = pmcfs_space_claim_free_bad(tx, pos, stop)))
				return err;
		}
	return 0;
}

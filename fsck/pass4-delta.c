// SPDX-License-Identifier: MIT
/*
 * Pass 4, the delta check: prove a subvolume clean from what earlier
 * clean subvolumes of this run left in the memo (pass4-memo.c) and the
 * blocks it does not share with them, or give up (the full check then
 * runs and reports). It never reports: the full check is the only
 * source of findings and repairs.
 *
 * The walk descends the tree and stops at every block in the memo (a
 * subtree of a subvolume found clean). What remains is a sequence of
 * pieces in key order: memo subtrees, and leaves read now (the changed
 * leaves, C). Then:
 *   1. every leaf of C passes the per-leaf checks (memoized bit);
 *   2. the per-inode checks (pass4-scan.c, on ranges of inodes) run on
 *      every inode with an item in C, and on the inode at each side of a
 *      join between pieces unless the join is free (free_join below);
 *   3. the pieces' summaries add up to zero (pass4-memo.c), with one
 *      depth label per directory across joins.
 * Why that suffices. An inode's items are contiguous. One not rechecked
 * in 2 lies in memo subtrees only, crossing free joins only: those put
 * it, with the same items, in one clean subvolume where the subtrees
 * were summarized, and it passed the same per-inode checks there. Every
 * leaf passed the per-leaf checks. What crosses inodes (names against
 * back-references, names against inodes and their types, link counts,
 * one name per directory) is the zero sums. Connectivity and cycles do
 * not fold as counts do: the depth labels make them fold. Each label is
 * a directory's depth where its block was summarized (for C, found now
 * by climbing back-references); the sum does not trust them, it checks
 * that a subdirectory's label is its parent's plus one, so labels
 * strictly grow downwards and every chain of parents ends at the root.
 * Any orphan item, inode without links, unreadable or unverified block,
 * key order problem or label conflict: give up.
 * Cost: the changed blocks, their siblings' memo entries, one climb per
 * directory in C (cached), and the leaves of the rechecked inodes: all
 * of a changed directory's items, however many leaves they fill (the
 * per-inode checks do not fold yet).
 * Memory: the memo (one entry per distinct clean block) and per
 * subvolume, arrays of pieces and changed nodes.
 */
#include <stdlib.h>
#include <string.h>
#include "pass4-scan.h"

#define MAX_DEPTH 4096			/* deeper: give up (and let the full check judge) */

struct piece {
	uint64_t blk, next;
	uint32_t tid;
	struct p4_sum sum;
	bool memo, first_closed, last_closed;
};

/* A block read in this walk: its pieces are [pa, pb); next: its next sibling. */
struct node {
	uint64_t blk, next;
	size_t pa, pb;
};

struct delta {
	struct p4_run *run;
	struct fsck_ctx *ctx;
	struct fsck_subvol *sv;
	struct p4_sv *full;		/* record mode: the full check's arrays */
	uint64_t root;
	int root_level;
	struct piece *p;
	size_t np, pcap;
	struct node *nn;
	size_t nnn, nncap;
	struct p4_range *r;
	size_t nr, rcap;
	uint8_t *buf[MAX_LEVEL], *lbuf;
	/* Depth cache, open addressing: ino -> depth + 1 (PENDING: being climbed). */
	uint64_t *ck;
	uint32_t *cv;
	size_t cn, ccap;
};

#define PENDING UINT32_MAX

static uint32_t *cache_slot(struct delta *d, uint64_t ino, bool add)
{
	size_t i;

	if (add && 2 * (d->cn + 1) > d->ccap) {
		uint64_t *ok = d->ck;
		uint32_t *ov = d->cv;
		size_t oc = d->ccap;
		d->ccap = oc ? 2 * oc : 256;
		d->ck = xcalloc(d->ccap, sizeof(*d->ck));
		d->cv = xcalloc(d->ccap, sizeof(*d->cv));
		d->cn = 0;
		for (size_t j = 0; j < oc; j++)
			if (ok[j])
				*cache_slot(d, ok[j], true) = ov[j];
		free(ok);
		free(ov);
	}
	if (!d->ccap)
		return NULL;
	for (i = (size_t)(ino * 0x9e3779b97f4a7c15ull >> 17) & (d->ccap - 1); d->ck[i] && d->ck[i] != ino;
	     i = (i + 1) & (d->ccap - 1))
		;
	if (!d->ck[i]) {
		if (!add)
			return NULL;
		d->ck[i] = ino;
		d->cn++;
	}
	return &d->cv[i];
}

/* The parent named by dir's back-reference (the last one, if several). */
static int parent_of(struct delta *d, uint64_t dir, uint64_t *parent)
{
	struct pmcfs_ckey want = { dir, PMCFS_KEY_INODE_REF, UINT64_MAX }, k;
	uint64_t blk = d->root, gen;
	int level = d->root_level;

	if (d->full) {		/* sorted by child since p4_links */
		size_t lo = 0, hi = d->full->nrefs;
		while (lo < hi) {
			size_t mid = lo + (hi - lo) / 2;
			if (d->full->refs[mid].child <= dir)
				lo = mid + 1;
			else
				hi = mid;
		}
		if (!lo || d->full->refs[lo - 1].child != dir)
			return -1;
		*parent = d->full->refs[lo - 1].parent;
		return 0;
	}
	for (;;) {
		unsigned n, i;
		if (level < 0 || level >= MAX_LEVEL || blk >= d->ctx->nblocks || !bit_test(d->ctx->seen, blk) ||
		    pmcfs_block_read(d->ctx->fs, blk, d->lbuf) || (int)pmcfs_node_level(d->lbuf) != level)
			return -1;
		d->run->delta_lookups++;
		n = pmcfs_node_nritems(d->lbuf);
		for (i = 0; i < n; i++) {	/* i: first key above want */
			pmcfs_node_key(d->lbuf, i, &k);
			if (pmcfs_key_cmp(&k, &want) > 0)
				break;
		}
		if (!i)
			return -1;
		if (level == 0) {
			pmcfs_node_key(d->lbuf, i - 1, &k);
			if (k.objectid != dir || k.type != PMCFS_KEY_INODE_REF)
				return -1;
			*parent = k.offset;
			return 0;
		}
		pmcfs_node_child(d->lbuf, i - 1, &blk, &gen);
		level--;
	}
}

/*
 * Depth of dir: climb back-references to the root or to a known depth.
 * A failure fails the whole walk, so what it leaves pending never counts.
 */
static int depth_of(void *arg, uint64_t dir, uint32_t *depth)
{
	struct delta *d = arg;
	uint64_t *ch = NULL, x = dir;
	size_t n = 0, cap = 0;
	uint32_t *v, base;
	int rc = -1;

	while (x != PMCFS_ROOT_INO && !((v = cache_slot(d, x, false)) && *v != PENDING)) {
		if (v || n >= MAX_DEPTH)
			goto out;	/* came round, or too deep */
		*cache_slot(d, x, true) = PENDING;
		ch = xgrow(ch, &cap, n + 1, sizeof(*ch));
		ch[n++] = x;
		if (parent_of(d, x, &x))
			goto out;
	}
	base = x == PMCFS_ROOT_INO ? 0 : *v - 1;
	for (size_t i = 0; i < n; i++)
		*cache_slot(d, ch[i], false) = base + (uint32_t)(n - i) + 1;
	*depth = dir == PMCFS_ROOT_INO ? 0 : *cache_slot(d, dir, false) - 1;
	rc = 0;
out:
	free(ch);
	return rc;
}

static int add_piece(struct delta *d, const struct piece *pc)
{
	/* Inodes in key order across pieces, or the joins below mean nothing. */
	if (d->np && pc->sum.lo < d->p[d->np - 1].sum.hi)
		return -1;
	d->p = xgrow(d->p, &d->pcap, d->np + 1, sizeof(*d->p));
	d->p[d->np++] = *pc;
	return 0;
}

static int walk(struct delta *d, uint64_t blk, int level, uint64_t next)
{
	struct fsck_ctx *ctx = d->ctx;
	const struct p4_memo_ent *e = p4_memo_get(&d->run->memo, blk);
	uint8_t *buf;
	size_t me;

	if (e)
		return add_piece(d, &(struct piece){ blk, e->next, e->tid, e->sum, true, e->first_closed,
						     e->last_closed });
	/* Blocks a repair wrote since pass 2 are the full check's to verify. */
	if (level < 0 || level >= MAX_LEVEL || blk >= ctx->nblocks || !bit_test(ctx->seen, blk))
		return -1;
	buf = d->buf[level];
	if (pmcfs_block_read(ctx->fs, blk, buf) || (int)pmcfs_node_level(buf) != level)
		return -1;
	d->nn = xgrow(d->nn, &d->nncap, d->nnn + 1, sizeof(*d->nn));
	me = d->nnn++;
	d->nn[me] = (struct node){ blk, next, d->np, d->np };
	if (level == 0) {
		struct piece pc;
		memset(&pc, 0, sizeof(pc));
		pc.blk = blk;
		if (d->full)
			d->run->memo_leaves++;
		else
			d->run->delta_leaves++;
		if (d->full ? !bit_test(d->run->clean, blk) : !p4_leaf_local(d->run, d->sv, buf, blk))
			return -1;
		if (p4_leaf_sum(&d->run->memo, buf, depth_of, d, &pc.sum) || add_piece(d, &pc))
			return -1;
	} else {
		unsigned n = pmcfs_node_nritems(buf);
		for (unsigned i = 0; i < n && !fsck_cancelled; i++) {
			uint64_t c, g, nx = 0;
			pmcfs_node_child(buf, i, &c, &g);
			if (i + 1 < n)
				pmcfs_node_child(buf, i + 1, &nx, &g);
			if (walk(d, c, level - 1, nx))
				return -1;
		}
	}
	d->nn[me].pb = d->np;
	return 0;
}

static void add_range(struct delta *d, uint64_t lo, uint64_t hi)
{
	/* Pieces come in key order, so ranges do: merge with the last one. */
	if (d->nr && lo <= d->r[d->nr - 1].hi + 1) {
		if (hi > d->r[d->nr - 1].hi)
			d->r[d->nr - 1].hi = hi;
		return;
	}
	d->r = xgrow(d->r, &d->rcap, d->nr + 1, sizeof(*d->r));
	d->r[d->nr++] = (struct p4_range){ lo, hi };
}

/*
 * A join between pieces is free if no inode crosses it that could have
 * other items in this subvolume than where its pieces were found clean:
 *   - different inodes meet, and each side was closed there;
 *   - one inode crosses, and both pieces were summarized in the same
 *     subvolume T, a followed there by its sibling b: a run of such
 *     joins is a run of consecutive siblings of T, whose end joins are
 *     free by the first rule (T's edges, from the same summaries) or
 *     rechecked, so the inode had exactly these items in T;
 *   - one inode crosses, begins inside a and ends inside b, and a was
 *     followed by b where it was summarized: it had these items there.
 */
static bool free_join(const struct piece *a, const struct piece *b)
{
	if (a && !a->memo)
		return false;
	if (b && !b->memo)
		return false;
	if (!a && !b)
		return true;
	if (!a || !b)
		return a ? a->last_closed : b->first_closed;
	if (a->sum.hi != b->sum.lo)
		return a->last_closed && b->first_closed;
	if (a->next != b->blk)
		return false;
	return a->tid == b->tid || (a->sum.lo != a->sum.hi && b->sum.lo != b->sum.hi);
}

/* The inodes whose per-inode checks must run in this subvolume (step 2). */
static void ranges(struct delta *d)
{
	for (size_t i = 0; i <= d->np; i++) {
		const struct piece *a = i ? &d->p[i - 1] : NULL, *b = i < d->np ? &d->p[i] : NULL;
		bool free = free_join(a, b);
		if (!free && a)
			add_range(d, a->sum.hi, a->sum.hi);
		if (!free && b)
			add_range(d, b->sum.lo, b->sum.lo);
		if (b && !b->memo)
			add_range(d, b->sum.lo, b->sum.hi);
	}
}

static void fold(const struct delta *d, size_t pa, size_t pb, struct p4_sum *out)
{
	p4_sum_zero(out);
	for (size_t i = pa; i < pb; i++)
		p4_sum_join(out, &d->p[i].sum, i == pa);
}

/* Remember every block read in this walk, with its edges in this subvolume. */
static void record(struct delta *d)
{
	uint32_t tid = ++d->run->ntid;

	for (size_t j = 0; j < d->nnn; j++) {
		const struct node *n = &d->nn[j];
		struct p4_memo_ent e;
		memset(&e, 0, sizeof(e));
		e.blk = n->blk;
		e.next = n->next;
		e.tid = tid;
		if (n->pa == n->pb)
			continue;
		fold(d, n->pa, n->pb, &e.sum);
		if (e.sum.conflict)
			continue;	/* two labels for one directory: cannot vouch */
		e.first_closed = !n->pa || d->p[n->pa - 1].sum.hi != e.sum.lo;
		e.last_closed = n->pb == d->np || d->p[n->pb].sum.lo != e.sum.hi;
		p4_memo_put(&d->run->memo, &e);
	}
}

static int start(struct delta *d, struct p4_run *run, struct fsck_subvol *sv, struct p4_sv *full)
{
	struct pmcfs_subvol_info si;

	memset(d, 0, sizeof(*d));
	d->run = run;
	d->ctx = run->ctx;
	d->sv = sv;
	d->full = full;
	if (pmcfs_subvol_info(run->ctx->fs, sv->id, &si))
		return -1;
	d->root = si.root.blkno;
	d->root_level = si.root.level;
	for (int l = 0; l < MAX_LEVEL; l++)
		d->buf[l] = xmalloc(PMCFS_BLOCK_SIZE);
	d->lbuf = xmalloc(PMCFS_BLOCK_SIZE);
	return walk(d, d->root, d->root_level, 0);
}

static void finish(struct delta *d)
{
	for (int l = 0; l < MAX_LEVEL; l++)
		free(d->buf[l]);
	free(d->lbuf);
	free(d->p);
	free(d->nn);
	free(d->r);
	free(d->ck);
	free(d->cv);
}

bool p4_delta(struct p4_run *run, struct fsck_subvol *sv, uint64_t *files, uint64_t *dirs)
{
	struct delta d;
	struct p4_sv s;
	struct p4_sum total;
	const char *why = NULL;

	memset(&s, 0, sizeof(s));
	s.ctx = run->ctx;
	s.sv = sv;
	s.rdonly = sv->flags & PMCFS_ROOT_RDONLY;
	if (start(&d, run, sv, NULL) || fsck_cancelled) {
		why = "a changed leaf has findings or cannot be summarized";
		goto out;
	}
	ranges(&d);
	if (p4_scan_ranges(run, &s, d.r, d.nr) || s.nfinds) {
		why = "an inode it changed has findings";
		goto out;
	}
	fold(&d, 0, d.np, &total);
	if (!d.np || !p4_sum_clean(&run->memo, &total)) {
		why = "the cross-inode sums do not balance";
		goto out;
	}
	record(&d);
	*files = total.files;
	*dirs = total.dirs;
out:
	if (why)
		verbose(run->ctx, "subvolume %llu: delta check gave up (%s): full check\n",
			(unsigned long long)sv->id, why);
	else
		verbose(run->ctx, "subvolume %llu: namespace clean by the delta check (%zu pieces, %zu blocks read, %zu inode ranges)\n",
			(unsigned long long)sv->id, d.np, d.nnn, d.nr);
	p4_sv_free(&s);
	finish(&d);
	if (why)
		run->delta_fallback++;
	else
		run->delta_ok++;
	return !why;
}

void p4_memo_record(struct p4_run *run, struct p4_sv *s)
{
	struct delta d;

	if (!start(&d, run, s->sv, s) && !fsck_cancelled)
		record(&d);
	finish(&d);
}

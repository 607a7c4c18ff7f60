// SPDX-License-Identifier: MIT
/*
 * Pass 3: exact reference counts against the space map.
 *
 * Consumes: pass 2's reference arrays. Space map nodes are tagged (bit 31
 *   of the length) and appended, everything is sorted by start, block
 *   ends are sorted apart, and one sweep (+1 at a start, -1 at an end)
 *   yields the exact count of every block as canonical runs, in
 *   O(R log R) time and 20 bytes per reference, whatever the device size
 *   or the number of snapshots sharing the trees.
 * Checks: a merge-join of those runs with the space map's records,
 *   streamed through the library iterator: the records form a canonical
 *   partition (contiguous from 0 to the end of the device, no gaps or
 *   overlaps, adjacent records differ, sane lengths and owners), the
 *   reserved areas before data_start and from data_end are superblock
 *   space with count 1, bad-block records have count 1 and no
 *   references, and every data block's count equals the references
 *   found: leaks, over-counts, under-counts (blocks at risk of double
 *   allocation), references into free space or bad blocks. Also the free
 *   block count of the commit record.
 * Bad records: referenced blocks the map records as bad (P3.005) are
 *   believed, not rebuilt away: pass 6 moves their data off (badmove.c),
 *   and a rebuild keeps their bad record meanwhile.
 * Fixes: the space map is derived data. If any of the above (or pass 2's
 *   space map damage) is to be fixed, a second sweep without the old map's
 *   own nodes gives the partition the new map must describe, and
 *   pmcfs_space_rebuild() writes it in one transaction. Not while some
 *   other tree was unreadable: references below a damaged node are
 *   unknown, and a rebuild would free blocks still in use.
 * Then: damaged blocks pass 2 was told to cut out go (prune.c), once this
 *   pass has vouched for the space map.
 * Collects: the summary counts (blocks used, shared, extra references).
 * Frees: its sorted copies and the partition, before it returns.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "fsck.h"
#include "pmcfs_endian.h"
#include "pmcfs_repair.h"

#define TAG (1u << 31)			/* a space map node: left out of the rebuild */
#define ENDTAG (1ULL << 63)

struct sweep {
	const struct fsck_ref *s;	/* sorted by start */
	const uint64_t *e;		/* sorted ends, ENDTAG on tagged ones */
	size_t n, i, j;
	uint64_t pos, count, nblocks;
	bool all;			/* count tagged references too */
};

static void apply_events(struct sweep *sw)
{
	for (; sw->i < sw->n && sw->s[sw->i].start == sw->pos; sw->i++)
		if (sw->all || !(sw->s[sw->i].len & TAG))
			sw->count++;
	for (; sw->j < sw->n && (sw->e[sw->j] & ~ENDTAG) == sw->pos; sw->j++)
		if (sw->all || !(sw->e[sw->j] & ENDTAG))
			sw->count--;
}

/* The next run [*start, *start+*len) of equal count; false at the end. */
static bool sweep_next(struct sweep *sw, uint64_t *start, uint64_t *len, uint64_t *count)
{
	uint64_t c;

	apply_events(sw);
	if (sw->pos >= sw->nblocks)
		return false;
	*start = sw->pos;
	c = sw->count;
	for (;;) {
		uint64_t next = sw->nblocks;
		if (sw->i < sw->n && sw->s[sw->i].start < next)
			next = sw->s[sw->i].start;
		if (sw->j < sw->n && (sw->e[sw->j] & ~ENDTAG) < next)
			next = sw->e[sw->j] & ~ENDTAG;
		sw->pos = next;
		if (next >= sw->nblocks)
			break;
		apply_events(sw);
		if (sw->count != c)
			break;
	}
	*len = sw->pos - *start;
	*count = c;
	return true;
}

static int cmp_ref(const void *a, const void *b)
{
	uint64_t x = ((const struct fsck_ref *)a)->start, y = ((const struct fsck_ref *)b)->start;
	return x < y ? -1 : x > y;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a & ~ENDTAG, y = *(const uint64_t *)b & ~ENDTAG;
	return x < y ? -1 : x > y;
}

/* ---- findings, coalesced over adjacent blocks ---------------------------- */

struct pending {
	uint32_t code;
	uint64_t start, end, stored, found;
};

/*
 * Referenced blocks the space map records as bad: that record is the
 * filesystem's own bad-block list, so it is believed and the data moves
 * off them in pass 6 (badmove.c). Tree blocks cannot move yet.
 */
static void move_later(struct fsck_ctx *ctx, uint64_t s, uint64_t e)
{
	for (uint64_t b = s; b < e; b++)
		if (bit_test(ctx->seen, b)) {
			out(ctx, "not moved: block %llu is a tree block (tree blocks are not moved off "
				 "bad media yet)\n", (unsigned long long)b);
			fix_failed(ctx, 1);
			break;
		}
	refs_add(&ctx->move, s, e - s);
	ctx->move_yes++;
}

static void flush(struct fsck_ctx *ctx, struct pending *p)
{
	bool fix;

	if (!p->code)
		return;
	fix = fix_problem(ctx, p->code, "blocks %llu-%llu (%llu): space map %llu, found %llu",
			  (unsigned long long)p->start, (unsigned long long)p->end - 1,
			  (unsigned long long)(p->end - p->start), (unsigned long long)p->stored,
			  (unsigned long long)p->found);
	if (p->code == PR_REF_TO_BAD) {
		if (fix)
			move_later(ctx, p->start, p->end);
	} else if (fix) {
		ctx->rebuild_yes++;
	} else if (fsck_problem_find(p->code)->fix[0]) {
		ctx->rebuild_no++;
	}
	p->code = 0;
}

static void note(struct fsck_ctx *ctx, struct pending *p, uint32_t code, uint64_t s, uint64_t e,
		 uint64_t stored, uint64_t found)
{
	if (p->code == code && p->end == s && p->stored == stored && p->found == found) {
		p->end = e;
		return;
	}
	flush(ctx, p);
	if (code == PR_UNDERCOUNT || code == PR_REF_TO_FREE || code == PR_PARTITION ||
	    code == PR_RECORD_BAD)
		ctx->space_risky = true;
	if (code)
		*p = (struct pending){ code, s, e, stored, found };
}

static uint32_t classify(const struct fsck_ctx *ctx, uint64_t s, uint64_t f, uint32_t c, uint32_t o)
{
	bool reserved = s < ctx->sb.data_start || s >= ctx->sb.data_end;

	if (reserved)
		return o != PMCFS_OWNER_SUPER ? PR_RESERVED_WRONG : c != 1 ? PR_BADRUN_COUNT : 0;
	if (o == PMCFS_OWNER_SUPER)
		return PR_RESERVED_WRONG;
	if (o == PMCFS_OWNER_BADBLOCK)
		return f ? PR_REF_TO_BAD : c != 1 ? PR_BADRUN_COUNT : 0;
	if (c == f)
		return 0;
	if (c > f)
		return f ? PR_OVERCOUNT : PR_LEAKED;
	return c ? PR_UNDERCOUNT : PR_REF_TO_FREE;
}

/* A problem with the records themselves: fixed by the rebuild. */
static void smfix(struct fsck_ctx *ctx, uint32_t code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void smfix(struct fsck_ctx *ctx, uint32_t code, const char *fmt, ...)
{
	va_list ap;

	if (code == PR_RECORD_BAD || code == PR_PARTITION)
		ctx->space_risky = true;
	va_start(ap, fmt);
	if (vfix_problem(ctx, code, fmt, ap))
		ctx->rebuild_yes++;
	else
		ctx->rebuild_no++;
	va_end(ap);
}

/* ---- the merge-join ---------------------------------------------------------- */

struct stored {
	struct pmcfs_iter *it;
	uint64_t next;			/* where the next record must start */
	uint32_t prev_count, prev_owner;
	bool have_prev, done;
	uint64_t free;
};

/* The next usable record, clipped to start at st->next; false at the end. */
static bool stored_next(struct fsck_ctx *ctx, struct stored *st, uint64_t *s, uint64_t *len,
			uint32_t *count, uint32_t *owner)
{
	struct pmcfs_ckey k;
	const void *body;
	uint32_t size;
	int rc = 0;

	while (!st->done && (rc = pmcfs_iter_next(st->it, &k, &body, &size)) > 0) {
		struct pmcfs_space_run sr;
		uint64_t l;
		if (k.type != PMCFS_KEY_SPACE_RUN || size != sizeof(sr) || k.offset) {
			smfix(ctx, PR_RECORD_BAD, "key (%llu,%u,%llu), %u bytes",
				    (unsigned long long)k.objectid, k.type, (unsigned long long)k.offset, size);
			continue;
		}
		memcpy(&sr, body, sizeof(sr));
		l = pmcfs_space_run_len(&sr);
		*count = pmcfs_space_run_refcount(&sr);
		*owner = pmcfs_space_run_owner(&sr);
		if (!l || k.objectid >= ctx->nblocks || l > ctx->nblocks - k.objectid ||
		    *owner > PMCFS_OWNER_SUPER) {
			smfix(ctx, PR_RECORD_BAD, "run at %llu: length %llu, count %u, owner %u",
				    (unsigned long long)k.objectid, (unsigned long long)l, *count, *owner);
			continue;
		}
		if (k.objectid != st->next) {
			smfix(ctx, PR_PARTITION, "run at %llu, expected %llu (%s)",
				    (unsigned long long)k.objectid, (unsigned long long)st->next,
				    k.objectid > st->next ? "gap" : "overlap");
			if (k.objectid + l <= st->next)
				continue;
			if (k.objectid < st->next) {
				l -= st->next - k.objectid;
				k.objectid = st->next;
			}
		} else if (st->have_prev && *count == st->prev_count && *owner == st->prev_owner) {
			smfix(ctx, PR_NOT_MERGED, "runs meeting at block %llu: count %u, owner %u",
				    (unsigned long long)k.objectid, *count, *owner);
		}
		st->have_prev = true;
		st->prev_count = *count;
		st->prev_owner = *owner;
		if (*count == 0)
			st->free += l;
		*s = k.objectid;
		*len = l;
		st->next = k.objectid + l;
		return true;
	}
	if (!st->done && rc < 0)
		smfix(ctx, PR_RECORD_BAD, "space map unreadable after block %llu: %s",
			    (unsigned long long)st->next, pmcfs_strerror(rc));
	if (!st->done && rc == 0 && st->next != ctx->nblocks)
		smfix(ctx, PR_PARTITION, "the records end at block %llu, the device at %llu",
			    (unsigned long long)st->next, (unsigned long long)ctx->nblocks);
	st->done = true;
	return false;
}

static void compare(struct fsck_ctx *ctx, struct sweep *sw)
{
	struct pmcfs_ckey first = { 0, PMCFS_KEY_SPACE_RUN, 0 };
	struct stored st = { 0 };
	struct pending p = { 0 };
	uint64_t fs = 0, fl = 0, f = 0, ss = 0, sl = 0, unreached = 0;
	uint32_t c = 0, o = 0, code;
	int rc;

	if (ctx->sm_damaged) {
		ctx->space_risky = true;
		return;		/* reported in pass 2; the map is rebuilt whole */
	}
	if ((rc = pmcfs_iter_start(ctx->fs, pmcfs_fs_spacemap(ctx->fs), &first, &st.it))) {
		smfix(ctx, PR_RECORD_BAD, "space map unreadable: %s", pmcfs_strerror(rc));
		return;
	}
	while (!fsck_cancelled) {
		uint64_t a, b;
		if (!fl && !sweep_next(sw, &fs, &fl, &f))
			break;
		while (ss + sl <= fs && stored_next(ctx, &st, &ss, &sl, &c, &o))
			;
		if (ss + sl <= fs)
			break;		/* no records left: reported as a partition error */
		if (ss > fs) {		/* a gap in the records: nothing to compare */
			b = ss < fs + fl ? ss : fs + fl;
			fl -= b - fs;
			fs = b;
			continue;
		}
		a = fs;
		b = fs + fl < ss + sl ? fs + fl : ss + sl;
		/* Split at the data area's edges so classification is per area. */
		if (a < ctx->sb.data_start && b > ctx->sb.data_start)
			b = ctx->sb.data_start;
		if (a < ctx->sb.data_end && b > ctx->sb.data_end)
			b = ctx->sb.data_end;
		code = classify(ctx, a, f, c, o);
		/*
		 * Below an unreadable block nothing is counted, so everything
		 * there looks leaked: say so once, not per run. Blocks that
		 * stay unreferenced once the damage is cut out are found by
		 * the recount after the cut.
		 */
		if (ctx->walk_incomplete && (code == PR_LEAKED || code == PR_OVERCOUNT)) {
			unreached += b - a;
			code = 0;
		}
		note(ctx, &p, code, a, b, c, f);
		fl -= b - a;
		fs = b;
		progress(ctx, 3, b, ctx->nblocks);
	}
	flush(ctx, &p);
	if (unreached)
		out(ctx, "%llu blocks counted in the space map were not reached: they may lie below "
			 "the damaged blocks; not counted as leaked\n", (unsigned long long)unreached);
	while (!st.done && stored_next(ctx, &st, &ss, &sl, &c, &o))
		;
	pmcfs_iter_free(st.it);
	if (st.free != ctx->commit.free_blocks && !fsck_cancelled)
		smfix(ctx, PR_FREE_COUNT, "commit says %llu, space map has %llu",
			    (unsigned long long)ctx->commit.free_blocks, (unsigned long long)st.free);
}

/* ---- the rebuild ------------------------------------------------------------- */

static void put_run(struct fsck_ctx *ctx, uint64_t s, uint64_t l, uint64_t count, uint32_t owner)
{
	struct pmcfs_space_info r = { s, l, count > UINT32_MAX ? UINT32_MAX : (uint32_t)count, owner };
	struct pmcfs_space_info *last = ctx->nruns ? &ctx->runs[ctx->nruns - 1] : NULL;

	if (!l)
		return;
	if (last && last->refcount == r.refcount && last->owner == r.owner) {
		last->len += l;
		return;
	}
	ctx->runs = xgrow(ctx->runs, &ctx->runs_cap, ctx->nruns + 1, sizeof(*ctx->runs));
	ctx->runs[ctx->nruns++] = r;
}

static int cmp_bad(const void *a, const void *b)
{
	uint64_t x = ((const struct fsck_ref *)a)->start, y = ((const struct fsck_ref *)b)->start;
	return x < y ? -1 : x > y;
}

/*
 * Free blocks on the bad-block list (--badblocks, or the namespace's own)
 * are recorded bad rather than freed: the rebuilt map is allocated from at
 * once, and a write to a bad block fails (on pmem, clearing poison needs
 * firmware help an emulated NVDIMM lacks).
 */
static void put_free(struct fsck_ctx *ctx, uint64_t s, uint64_t e, size_t *vi, uint64_t *nbad)
{
	const struct pmcfs_badrange *v = ctx->badv;

	while (s < e) {
		while (*vi < ctx->nbadv && v[*vi].start + v[*vi].len <= s)
			(*vi)++;
		if (*vi < ctx->nbadv && v[*vi].start <= s) {
			uint64_t be = v[*vi].start + v[*vi].len < e ? v[*vi].start + v[*vi].len : e;
			put_run(ctx, s, be - s, 1, PMCFS_OWNER_BADBLOCK);
			*nbad += be - s;
			s = be;
			continue;
		}
		uint64_t stop = *vi < ctx->nbadv && v[*vi].start < e ? v[*vi].start : e;
		put_run(ctx, s, stop - s, 0, PMCFS_OWNER_FS);
		s = stop;
	}
}

/*
 * Blocks the old map recorded as bad stay bad: free ones, and referenced
 * ones too (P3.005: their data moves off them in pass 6; until then the
 * record must not be lost).
 */
static void put_split(struct fsck_ctx *ctx, uint64_t s, uint64_t l, uint64_t count, size_t *bi,
		      size_t *vi, uint64_t *nbad)
{
	const struct fsck_refs *bad = &ctx->smbad;
	uint64_t e = s + l;

	while (s < e) {
		while (*bi < bad->n && bad->v[*bi].start + bad->v[*bi].len <= s)
			(*bi)++;
		if (*bi < bad->n && bad->v[*bi].start <= s) {
			uint64_t be = bad->v[*bi].start + bad->v[*bi].len;
			put_run(ctx, s, (be < e ? be : e) - s, 1, PMCFS_OWNER_BADBLOCK);
			s = be < e ? be : e;
			continue;
		}
		uint64_t stop = *bi < bad->n && bad->v[*bi].start < e ? bad->v[*bi].start : e;
		if (count)
			put_run(ctx, s, stop - s, count, PMCFS_OWNER_FS);
		else
			put_free(ctx, s, stop, vi, nbad);
		s = stop;
	}
}

static void rebuild(struct fsck_ctx *ctx, struct sweep *sw)
{
	struct pmcfs_badrange *keep = xcalloc(ctx->smrefs.n, sizeof(*keep));
	struct pmcfs_trans *tx;
	uint64_t s, l, c, nbad = 0;
	size_t bi = 0, vi = 0;
	int rc;

	if (ctx->smbad.n)
		qsort(ctx->smbad.v, ctx->smbad.n, sizeof(*ctx->smbad.v), cmp_bad);
	ctx->nruns = 0;
	put_run(ctx, 0, ctx->sb.data_start, 1, PMCFS_OWNER_SUPER);
	while (sweep_next(sw, &s, &l, &c)) {
		uint64_t e = s + l;
		if (s < ctx->sb.data_start)
			s = ctx->sb.data_start;
		if (e > ctx->sb.data_end)
			e = ctx->sb.data_end;
		if (s >= e)
			continue;
		put_split(ctx, s, e - s, c, &bi, &vi, &nbad);
	}
	put_run(ctx, ctx->sb.data_end, ctx->nblocks - ctx->sb.data_end, 1, PMCFS_OWNER_SUPER);
	for (size_t i = 0; i < ctx->smrefs.n; i++)
		keep[i] = (struct pmcfs_badrange){ ctx->smrefs.v[i].start, ctx->smrefs.v[i].len };
	/*
	 * The runs record the free bad blocks themselves (put_free), and
	 * keep[] names the map the walk saw: repair_begin must not commit a
	 * new one first.
	 */
	ctx->bad_recorded = true;
	rc = repair_begin(ctx, &tx);
	if (!rc) {
		rc = pmcfs_space_rebuild(tx, ctx->runs, ctx->nruns, keep, ctx->smrefs.n);
		if (rc) {
			error("cannot rebuild the space map of %s: %s", ctx->device, pmcfs_strerror(rc));
			pmcfs_trans_abort(tx);
		} else {
			rc = repair_commit(ctx, tx, "commit the rebuilt space map");
		}
	}
	if (rc)
		fix_failed(ctx, ctx->rebuild_yes);
	else {
		ctx->commit = *pmcfs_fs_commit(ctx->fs);
		ctx->space_risky = false;
		out(ctx, "space map rebuilt: %zu runs, %llu blocks free\n", ctx->nruns,
		    (unsigned long long)ctx->commit.free_blocks);
		if (nbad)
			out(ctx, "%llu free blocks on the bad-block list recorded as bad\n",
			    (unsigned long long)nbad);
	}
	free(keep);
}

int pass3_refcount(struct fsck_ctx *ctx)
{
	size_t n = ctx->refs.n + ctx->smrefs.n;
	struct fsck_ref *s = xmalloc(n * sizeof(*s));
	uint64_t *e = xmalloc(n * sizeof(*e));
	struct sweep sw = { s, e, n, 0, 0, 0, 0, ctx->nblocks, true };
	uint64_t rs, rl, rc;

	if (ctx->refs.n)
		memcpy(s, ctx->refs.v, ctx->refs.n * sizeof(*s));
	for (size_t i = 0; i < ctx->smrefs.n; i++) {
		s[ctx->refs.n + i] = ctx->smrefs.v[i];
		s[ctx->refs.n + i].len |= TAG;
	}
	for (size_t i = 0; i < n; i++)
		e[i] = (s[i].start + (s[i].len & ~TAG)) | (s[i].len & TAG ? ENDTAG : 0);
	if (n) {
		qsort(s, n, sizeof(*s), cmp_ref);
		qsort(e, n, sizeof(*e), cmp_u64);
	}

	/* Summary figures from the exact counts. */
	while (sweep_next(&sw, &rs, &rl, &rc)) {
		if (rs < ctx->sb.data_start || rs >= ctx->sb.data_end || !rc)
			continue;
		ctx->st.used += rl;
		if (rc > 1) {
			ctx->st.shared += rl;
			ctx->st.extra_refs += (rc - 1) * rl;
		}
	}
	sw.i = sw.j = 0;
	sw.pos = sw.count = 0;
	ctx->move.n = 0;
	ctx->ntmove = 0;
	ctx->move_yes = 0;
	compare(ctx, &sw);
	if (ctx->rebuild_yes && !fsck_cancelled) {
		if (ctx->walk_incomplete) {
			out(ctx, "space map not rebuilt: some tree blocks are unreadable, so their references are unknown\n");
			fix_failed(ctx, ctx->rebuild_yes);
		} else {
			sw = (struct sweep){ s, e, n, 0, 0, 0, 0, ctx->nblocks, false };
			rebuild(ctx, &sw);
		}
	}
	free(ctx->runs);
	ctx->runs = NULL;
	ctx->nruns = ctx->runs_cap = 0;
	free(s);
	free(e);
	progress(ctx, 3, 1, 1);
	/* Now that the map is known fit to allocate from: */
	if (!offer_roottab_rebuild(ctx))
		prune_damaged(ctx);
	return 0;
}

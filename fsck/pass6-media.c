// SPDX-License-Identifier: MIT
/*
 * Pass 6: media errors.
 *
 * Consumes: the bad-block list (--badblocks FILE, else the pmem
 *   namespace's own list from sysfs), and pass 2's media hits: every
 *   referenced range found lying on a bad block, with the tree holding
 *   the reference (the first one found, for a shared block) and the
 *   extent's inode and offset, and the file's path from its
 *   back-references (pass 4's p4_path; the first name of each directory).
 * Checks: each hit is reported; every listed bad block of the data area
 *   is recorded as bad media in the space map.
 * Fixes: data on bad blocks (and, from pass 3, data on blocks the space
 *   map records as bad) moves to new blocks, and the bad blocks are
 *   recorded, in one transaction (badmove.c); then the check restarts to
 *   recount. Tree blocks on bad media that could be read are copied in
 *   every tree holding them (as P2.008's are) and recorded bad in the
 *   same transaction; the space map's own blocks are not (only its
 *   rebuild writes them anew). Free bad blocks are recorded (owner
 *   BADBLOCK, count 1) so they are never allocated.
 * Frees: nothing (the hit list goes with pass 2's state).
 */
#include <stdio.h>
#include <stdlib.h>
#include "fsck.h"
#include "pass4.h"
#include "pmcfs_repair.h"

/* Only the listed blocks of a hit are bad: the rest of its data is copied. */
static void move_listed(struct fsck_ctx *ctx, uint64_t s, uint64_t len)
{
	for (size_t i = 0; i < ctx->nbadv; i++) {
		uint64_t a = ctx->badv[i].start > s ? ctx->badv[i].start : s;
		uint64_t b = ctx->badv[i].start + ctx->badv[i].len < s + len ?
			     ctx->badv[i].start + ctx->badv[i].len : s + len;
		if (a < b)
			refs_add(&ctx->move, a, b - a);
	}
}

/*
 * A tree block on bad media read and verified in pass 2 (a listed block
 * that can still be read; poison that cannot fails the read, and pass 2
 * cuts the block out). It is copied as a P2.008 block is, in every tree
 * holding it, and recorded bad (badmove.c). The space map is not: its
 * blocks are written anew only by its rebuild.
 */
static void move_tree_block(struct fsck_ctx *ctx, const struct fsck_media_hit *h)
{
	if (h->tree == PMCFS_SPACEMAP_TREE) {
		out(ctx, "not moved: block %llu is a space map block (only a rebuild of the space map, "
			 "P2.015, moves it)\n", (unsigned long long)h->start);
		fix_failed(ctx, 1);
		return;
	}
	ctx->tmove = xgrow(ctx->tmove, &ctx->tmove_cap, ctx->ntmove + 1, sizeof(*ctx->tmove));
	ctx->tmove[ctx->ntmove++] = (struct fsck_damage){ .tree = h->tree, .blkno = h->start,
							  .level = h->level, .key = h->key,
							  .hi = h->key, .rewrite = true };
	ctx->move_yes++;
}

static void report_hits(struct fsck_ctx *ctx)
{
	for (size_t i = 0; i < ctx->nhits; i++) {
		const struct fsck_media_hit *h = &ctx->hits[i];
		char where[64];
		if (h->tree == PMCFS_ROOTTAB_TREE || h->tree == PMCFS_SPACEMAP_TREE)
			snprintf(where, sizeof(where), "the %s",
				 h->tree == PMCFS_ROOTTAB_TREE ? "root table" : "space map");
		else
			snprintf(where, sizeof(where), "subvolume %llu", (unsigned long long)h->tree);
		if (h->data) {
			char path[1024];
			p4_path(ctx, h->tree, h->key.objectid, path, sizeof(path));
			if (fix_problem(ctx, PR_DATA_ON_BAD,
					"blocks %llu-%llu: extent of inode %llu at offset %llu in %s: %s",
					(unsigned long long)h->start,
					(unsigned long long)(h->start + h->len - 1),
					(unsigned long long)h->key.objectid,
					(unsigned long long)h->key.offset, where, path)) {
				move_listed(ctx, h->start, h->len);
				ctx->move_yes++;
			}
		} else if (fix_problem(ctx, PR_DATA_ON_BAD, "block %llu: tree block of %s",
				       (unsigned long long)h->start, where)) {
			move_tree_block(ctx, h);
		}
	}
}

/* Free parts of [s, e) the space map does not record as bad: record them. */
static void check_range(struct fsck_ctx *ctx, uint64_t s, uint64_t e)
{
	while (s < e && !fsck_cancelled) {
		struct pmcfs_space_info si;
		struct pmcfs_trans *tx;
		uint64_t end;
		int rc = pmcfs_space_lookup(ctx->fs, s, &si);

		if (rc) {
			error("cannot look up block %llu in the space map: %s", (unsigned long long)s,
			      pmcfs_strerror(rc));
			return;
		}
		end = si.start + si.len < e ? si.start + si.len : e;
		if (si.owner == PMCFS_OWNER_FS && si.refcount == 0 &&
		    fix_problem(ctx, PR_BAD_NOT_RECORDED, "blocks %llu-%llu", (unsigned long long)s,
				(unsigned long long)end - 1)) {
			if (ctx->space_risky) {
				out(ctx, "not repaired: the space map under-counts and was not rebuilt\n");
				fix_failed(ctx, 1);
			} else if (!repair_begin(ctx, &tx)) {
				rc = pmcfs_space_set_bad(tx, s, end - s);
				if (rc) {
					error("cannot record bad blocks %llu-%llu: %s", (unsigned long long)s,
					      (unsigned long long)end - 1, pmcfs_strerror(rc));
					pmcfs_trans_abort(tx);
					fix_failed(ctx, 1);
				} else if (repair_commit(ctx, tx, "commit the bad-block records")) {
					fix_failed(ctx, 1);
				}
			} else {
				fix_failed(ctx, 1);
			}
		}
		s = end;
	}
}

int pass6_media(struct fsck_ctx *ctx)
{
	if (ctx->have_badlist)
		report_hits(ctx);
	move_off_bad(ctx);	/* P3.005's blocks too, bad-block list or not */
	if (!ctx->have_badlist) {
		verbose(ctx, "no bad-block list: media errors not checked\n");
		return 0;
	}
	if (ctx->sm_damaged && ctx->space_risky) {
		out(ctx, "bad blocks not compared with the space map: it is damaged\n");
		return 0;
	}
	ctx->bad_recorded = true;	/* here, not again from repair_begin */
	record_free_bad(ctx, true);
	return 0;
}

void record_free_bad(struct fsck_ctx *ctx, bool show_progress)
{
	for (size_t i = 0; i < ctx->nbadv && !fsck_cancelled; i++) {
		uint64_t s = ctx->badv[i].start, e = s + ctx->badv[i].len;
		if (s < ctx->sb.data_start)
			s = ctx->sb.data_start;
		if (e > ctx->sb.data_end)
			e = ctx->sb.data_end;
		if (s < e)
			check_range(ctx, s, e);
		if (show_progress)
			progress(ctx, 6, i + 1, ctx->nbadv);
	}
}

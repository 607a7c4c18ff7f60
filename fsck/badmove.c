// SPDX-License-Identifier: MIT
/*
 * Moving data off bad media: the fix of P6.001 (referenced blocks on the
 * bad-block list) and P3.005 (referenced blocks the space map records as
 * bad), run in pass 6.
 *
 * Consumes: ctx->move, the bad blocks whose findings were answered yes,
 *   and ctx->tmove, the tree blocks on bad media.
 * Does: one transaction. Tree blocks first: each is copied in every tree
 *   holding it (rewrite_blocks, as for P2.008) and recorded bad. Then
 *   the data (pmcfs_data_relocate): every extent touching
 *   them gets one new copy, shared by every item that pointed into the
 *   old range in every subvolume and snapshot; the bad blocks are
 *   written as zeros in the copy (never read: poison can fault), and
 *   recorded as bad media. Read-only snapshots stay read-only: only where
 *   their data lives changes (and what could not be read now reads as
 *   zeros), so they are still the image they were taken as.
 * Says: one line per item moved, and a "lost data" line per file whose
 *   bytes now read as zeros. Then the check restarts to recount.
 * Frees: its list of moved items.
 */
#include <stdio.h>
#include <stdlib.h>
#include "fsck.h"
#include "pass4.h"
#include "pmcfs_ns.h"
#include "pmcfs_relocate.h"
#include "pmcfs_repair.h"

struct moved {
	struct pmcfs_relocate_info *v;
	size_t n, cap;
};

static int note(void *p, const struct pmcfs_relocate_info *in)
{
	struct moved *m = p;

	m->v = xgrow(m->v, &m->cap, m->n + 1, sizeof(*m->v));
	m->v[m->n++] = *in;
	return 0;
}

static const struct fsck_subvol *subvol(const struct fsck_ctx *ctx, uint64_t id)
{
	for (size_t i = 0; i < ctx->nsubvols; i++)
		if (ctx->subvols[i].id == id)
			return &ctx->subvols[i];
	return NULL;
}

/* A read-only snapshot that already held newer blocks would lose that evidence. */
static bool rdonly_newer(const struct fsck_ctx *ctx)
{
	for (size_t i = 0; i < ctx->nsubvols; i++) {
		const struct fsck_subvol *sv = &ctx->subvols[i];
		if ((sv->flags & PMCFS_ROOT_RDONLY) && sv->newer_blkno) {
			struct pmcfs_subvol_info si;
			/* Pass 5 may have cleared the flag since the walk. */
			if (!pmcfs_subvol_info(ctx->fs, sv->id, &si) && (si.flags & PMCFS_ROOT_RDONLY))
				return true;
		}
	}
	return false;
}

/*
 * Clip the zeroed byte span to the file's size: zeroed blocks past the end
 * of the file lose nothing. False if nothing within the file was lost. If
 * the size cannot be read, the span stands as it is.
 */
static bool lost_in_file(struct fsck_ctx *ctx, const struct pmcfs_relocate_info *in,
			 uint64_t *hi)
{
	struct pmcfs_tree *t;
	struct pmcfs_stat st;

	*hi = in->lost_hi;
	if (!in->lost_blocks)
		return false;
	if (pmcfs_subvol_open(ctx->fs, in->subvol, &t) || pmcfs_ns_stat(ctx->fs, t, in->ino, &st))
		return true;
	if (st.size <= in->lost_lo)
		return false;
	if (st.size < *hi)
		*hi = st.size;
	return true;
}

static void say(struct fsck_ctx *ctx, const struct moved *m)
{
	uint64_t last_sv = 0, last_ino = 0, ro_said = 0;

	for (size_t i = 0; i < m->n; i++) {
		const struct pmcfs_relocate_info *in = &m->v[i];
		char path[1024], lost[96] = "";
		uint64_t hi;
		bool lost_any = lost_in_file(ctx, in, &hi);
		if (in->rdonly && ro_said != in->subvol) {
			const struct fsck_subvol *sv = subvol(ctx, in->subvol);
			out(ctx, "subvolume %llu \"%s\" stays read-only: only where its data lives changes\n",
			    (unsigned long long)in->subvol, sv ? sv->name : "?");
			ro_said = in->subvol;
		}
		if (lost_any)
			snprintf(lost, sizeof(lost), ", bytes %llu-%llu now read as zeros",
				 (unsigned long long)in->lost_lo, (unsigned long long)hi - 1);
		out(ctx, "moved off bad media: subvolume %llu: extent of inode %llu at offset %llu: "
			 "blocks %llu-%llu to %llu-%llu%s\n", (unsigned long long)in->subvol,
		    (unsigned long long)in->ino, (unsigned long long)in->offset,
		    (unsigned long long)in->old_phys, (unsigned long long)(in->old_phys + in->nblocks - 1),
		    (unsigned long long)in->new_phys, (unsigned long long)(in->new_phys + in->nblocks - 1),
		    lost);
		if (!lost_any || (in->subvol == last_sv && in->ino == last_ino))
			continue;
		last_sv = in->subvol;
		last_ino = in->ino;
		p4_path(ctx, in->subvol, in->ino, path, sizeof(path));
		out(ctx, "lost data: subvolume %llu: %s (inode %llu)\n", (unsigned long long)in->subvol,
		    path, (unsigned long long)in->ino);
	}
}

/* Tree blocks on bad media: a copy in every tree holding them, then recorded bad. */
static int move_tree_blocks(struct fsck_ctx *ctx, struct pmcfs_trans *tx, size_t *copies)
{
	int rc = rewrite_blocks(ctx, tx, ctx->tmove, ctx->ntmove, copies);

	for (size_t i = 0; !rc && i < ctx->ntmove; i++)
		rc = pmcfs_space_set_bad(tx, ctx->tmove[i].blkno, 1);
	if (rc)
		error("cannot move tree blocks off bad media on %s: %s", ctx->device, pmcfs_strerror(rc));
	return rc;
}

void move_off_bad(struct fsck_ctx *ctx)
{
	struct pmcfs_relocate_result res = { 0 };
	struct pmcfs_badrange *bad = NULL;
	struct moved m = { NULL, 0, 0 };
	struct pmcfs_trans *tx;
	size_t copies = 0;
	int rc;

	if ((!ctx->move.n && !ctx->ntmove) || fsck_cancelled)
		return;
	if (ctx->sm_damaged || ctx->space_risky) {
		out(ctx, "not moved off bad media: the space map is damaged or under-counts, so "
			 "new blocks cannot be placed safely\n");
		fix_failed(ctx, ctx->move_yes);
		goto done;
	}
	if (rdonly_newer(ctx)) {
		out(ctx, "not moved off bad media: a read-only snapshot holds blocks newer than "
			 "it (P5.005 left uncorrected)\n");
		fix_failed(ctx, ctx->move_yes);
		goto done;
	}
	if ((rc = repair_begin(ctx, &tx)))
		goto failed;
	if (ctx->ntmove && move_tree_blocks(ctx, tx, &copies)) {
		pmcfs_trans_abort(tx);
		goto failed;
	}
	if (ctx->move.n) {
		bad = xcalloc(ctx->move.n, sizeof(*bad));
		for (size_t i = 0; i < ctx->move.n; i++)
			bad[i] = (struct pmcfs_badrange){ ctx->move.v[i].start, ctx->move.v[i].len };
		rc = pmcfs_data_relocate(tx, bad, ctx->move.n, note, &m, &res);
		if (rc) {
			error("cannot move data off bad media on %s: %s", ctx->device,
			      pmcfs_strerror(rc));
			pmcfs_trans_abort(tx);
			goto failed;
		}
	}
	if (!copies && !res.items && !res.marked_bad) {
		pmcfs_trans_abort(tx);	/* nothing to do */
		goto done;
	}
	if ((rc = repair_commit(ctx, tx, "commit what moved off bad media")))
		goto failed;
	say(ctx, &m);
	for (size_t i = 0; i < ctx->ntmove; i++)
		out(ctx, "recorded bad: block %llu (no tree holds it now)\n",
		    (unsigned long long)ctx->tmove[i].blkno);
	verbose(ctx, "%llu blocks copied in %llu runs (%llu units split: free space fragmented), "
		"%llu read as zeros, %llu recorded bad\n",
		(unsigned long long)res.blocks, (unsigned long long)res.runs,
		(unsigned long long)res.split_units,
		(unsigned long long)res.lost_blocks, (unsigned long long)res.marked_bad);
	if (res.busy)
		out(ctx, "%llu bad blocks are still in use by tree blocks: not recorded\n",
		    (unsigned long long)res.busy);
	ctx->restart = true;	/* recount: the walk's references are stale */
	goto done;
failed:
	fix_failed(ctx, ctx->move_yes);
done:
	ctx->move.n = 0;
	ctx->ntmove = 0;
	free(bad);
	free(m.v);
}

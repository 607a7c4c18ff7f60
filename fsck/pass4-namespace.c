// SPDX-License-Identifier: MIT
/*
 * Pass 4: namespace, per subvolume and snapshot.
 *
 * Consumes: pass 2's decoded root items, its per-subvolume damage flags
 *   (a damaged tree is not checked: its lost items would read as
 *   namespace errors, and repairing around them would be guessing) and
 *   its seen bitmap (blocks it verified).
 * Checks, per subvolume: the scan (pass4-scan.c: items, inodes, names,
 *   extents, xattrs, symlinks, a directory's entries against its index
 *   items, sizes) and the cross-inode checks (pass4-links.c: back-
 *   references, missing inodes, entry types, second parents,
 *   connectivity from the root directory, link counts, orphans).
 * Cost: a leaf found clean is marked in a bitmap (one bit per block) and
 *   its local checks are not run again for any other subvolume or
 *   snapshot that shares it; a snapshot whose root block is the root of
 *   a subvolume already found clean takes that verdict (and its counts)
 *   without reading anything. A snapshot that diverged is first given to
 *   the delta check (pass4-delta.c): it reads only the blocks no clean
 *   subvolume of this run had, rechecks the inodes they touch, and adds
 *   up memoized summaries for the rest; only if that does not prove it
 *   clean are its leaves read and its compact records (one per inode,
 *   name and back-reference) rebuilt and joined, and that full check
 *   reports. After a full check finds a subvolume clean (with no repair),
 *   its blocks are read once more to summarize them for the delta check.
 *   PMCFS_FSCK_FULL_NAMESPACE=1 turns the delta check off (tests compare).
 * Fixes, in phases (items; names; connectivity; counts), each finding in
 *   its own transaction (pass4-repair.c). After the repairs of a phase,
 *   the subvolume is scanned again and only the later phases reported,
 *   so each fix sees the state the earlier ones left. Read-only snapshots
 *   are checked and reported, never repaired: the library refuses to
 *   change them, and nothing outside a snapshot depends on its namespace
 *   (its extents' references are counted by passes 2-3 whatever its
 *   names say). Clear the read-only flag to repair one.
 * Reports: after a cut (prune.c), every file that kept its inode item but
 *   had other items in the cut-out block, as "lost data" (the files that
 *   lost their inode item are reported by the repair that clears them).
 * Collects: the file and directory counts of the summary.
 * Frees: everything it allocates, before returning.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "pass4.h"

struct verdict {
	uint64_t root, files, dirs;
};

static const char *const phase_name[] = { "items", "names", "connectivity", "counts" };

/* Report the findings of one phase; apply the fixes answered yes. True if one was applied. */
static bool run_phase(struct p4_sv *s, enum p4_phase ph)
{
	struct fsck_ctx *ctx = s->ctx;
	bool applied = false;

	for (size_t i = 0; i < s->nfinds && !fsck_cancelled; i++) {
		const struct p4_find *f = &s->finds[i];
		int rc;
		if (f->phase != ph)
			continue;
		/* Made before this phase's repairs: one of them may have settled it. */
		if (applied && !p4_still_holds(s, f)) {
			verbose(ctx, "no longer holds after the repairs above: %s\n", f->detail);
			continue;
		}
		if (!fix_problem(ctx, f->code, "%s", f->detail))
			continue;
		if (s->rdonly) {
			out(ctx, "not repaired: subvolume %llu is a read-only snapshot\n",
			    (unsigned long long)s->sv->id);
			fix_failed(ctx, 1);
		} else if (ctx->space_risky) {
			out(ctx, "not repaired: the space map under-counts and was not rebuilt\n");
			fix_failed(ctx, 1);
		} else if ((rc = p4_repair(s, f))) {
			error("cannot repair subvolume %llu (%s): %s", (unsigned long long)s->sv->id,
			      phase_name[ph], pmcfs_strerror(rc));
			fix_failed(ctx, 1);
		} else {
			applied = true;
		}
	}
	return applied;
}

/* Check one subvolume; true if it was clean. */
static bool check_subvol(struct p4_run *run, struct fsck_subvol *sv, uint64_t *files, uint64_t *dirs)
{
	struct fsck_ctx *ctx = run->ctx;
	struct p4_sv s;
	enum p4_phase from = PH_ITEMS;
	bool clean = true, restarted = false;
	unsigned restarts = 0;
	int rc;

	memset(&s, 0, sizeof(s));
	s.ctx = ctx;
	s.sv = sv;
	s.rdonly = sv->flags & PMCFS_ROOT_RDONLY;
	if ((rc = pmcfs_subvol_open(ctx->fs, sv->id, &s.t))) {
		error("cannot open subvolume %llu: %s", (unsigned long long)sv->id, pmcfs_strerror(rc));
		return false;
	}
	for (;;) {
		enum p4_phase ph;
		if ((rc = p4_scan(run, &s))) {
			out(ctx, "subvolume %llu: namespace not checked: its tree cannot be read\n",
			    (unsigned long long)sv->id);
			clean = false;
			break;
		}
		p4_links(&s);
		if (s.nfinds)
			clean = false;
		/* A repair can create an earlier phase's finding (clearing the
		 * root directory's inode leaves it missing): go back for it, a
		 * bounded number of times so repairs cannot chase each other. */
		for (size_t i = 0; i < s.nfinds && restarts < 3; i++)
			if (s.finds[i].phase < from) {
				from = s.finds[i].phase;
				restarted = true;
			}
		if (restarted) {
			restarts++;
			restarted = false;
		}
		/* Files that kept their inode item but lost other items to a cut. */
		for (size_t i = 0; from == PH_ITEMS && i < s.ninodes; i++)
			if (lost_inode(ctx, sv->id, s.inodes[i].ino))
				p4_lost_data(&s, s.inodes[i].ino);
		lost_reported(ctx, sv->id);
		for (ph = from; ph < PH_DONE; ph++)
			if (run_phase(&s, ph))
				break;
		if (ph >= PH_DONE || fsck_cancelled)
			break;
		/* Bits of blocks a repair freed must not vouch for what is written there next. */
		memset(run->clean, 0, (ctx->nblocks + 7) / 8);
		p4_memo_clear(&run->memo);
		from = ph + 1;
	}
	/* Its subtrees can vouch for later snapshots: only if nothing was repaired. */
	if (clean && from == PH_ITEMS && run->more && !run->full_only && !fsck_cancelled)
		p4_memo_record(run, &s);
	*files = s.files;
	*dirs = s.dirs;
	p4_sv_free(&s);
	return clean;
}

int pass4_namespace(struct fsck_ctx *ctx)
{
	struct p4_run run;
	struct verdict *v = NULL;
	size_t nv = 0, vcap = 0;
	const char *full = getenv("PMCFS_FSCK_FULL_NAMESPACE");

	memset(&run, 0, sizeof(run));
	run.ctx = ctx;
	run.clean = xcalloc((ctx->nblocks + 7) / 8, 1);
	p4_memo_init(&run.memo);
	/* Hidden switch: the tests compare the delta's verdicts with the full check's. */
	run.full_only = full && *full && strcmp(full, "0");
	for (size_t i = 0; i < ctx->nsubvols && !fsck_cancelled; i++) {
		struct fsck_subvol *sv = &ctx->subvols[i];
		struct pmcfs_subvol_info si;
		uint64_t files = 0, dirs = 0;
		size_t j;

		progress(ctx, 4, i, ctx->nsubvols);
		if (!sv->usable || (sv->flags & PMCFS_ROOT_DROPPING) || sv->root_bad)
			continue;	/* pass 5 reports these */
		if (sv->damaged) {
			out(ctx, "subvolume %llu: namespace not checked: its tree is damaged\n",
			    (unsigned long long)sv->id);
			continue;
		}
		if (pmcfs_subvol_info(ctx->fs, sv->id, &si)) {
			/* Pass 5 reports the root item; its repair brings us back here. */
			out(ctx, "subvolume %llu: namespace not checked: its root item is unusable\n",
			    (unsigned long long)sv->id);
			sv->ns_unchecked = true;
			continue;
		}
		/* Summaries only help a subvolume still to come. */
		run.more = false;
		for (j = i + 1; j < ctx->nsubvols && !run.more; j++)
			run.more = ctx->subvols[j].usable && !ctx->subvols[j].damaged;
		for (j = 0; j < nv && v[j].root != si.root.blkno; j++)
			;
		if (j < nv) {
			verbose(ctx, "subvolume %llu: root block %llu already checked: verdict reused\n",
				(unsigned long long)sv->id, (unsigned long long)si.root.blkno);
			ctx->st.files += v[j].files;
			ctx->st.dirs += v[j].dirs;
			continue;
		}
		/* What a cut took away is reported by the full check. */
		if (!run.full_only && !ctx->nlost && run.memo.n && p4_delta(&run, sv, &files, &dirs)) {
			v = xgrow(v, &vcap, nv + 1, sizeof(*v));
			v[nv++] = (struct verdict){ si.root.blkno, files, dirs };
		} else if (check_subvol(&run, sv, &files, &dirs)) {
			v = xgrow(v, &vcap, nv + 1, sizeof(*v));
			v[nv++] = (struct verdict){ si.root.blkno, files, dirs };
		}
		ctx->st.files += files;
		ctx->st.dirs += dirs;
		ctx->st.ns_checked++;
	}
	verbose(ctx, "namespace: %llu leaves checked, %llu memoized\n",
		(unsigned long long)run.leaves_checked, (unsigned long long)run.leaves_memo);
	verbose(ctx, "namespace: delta check: %llu subvolumes clean, %llu fell back to the full check; "
		"%llu leaves read, %llu for inode ranges, %llu blocks for depths\n",
		(unsigned long long)run.delta_ok, (unsigned long long)run.delta_fallback,
		(unsigned long long)run.delta_leaves, (unsigned long long)run.delta_range_leaves,
		(unsigned long long)run.delta_lookups);
	verbose(ctx, "namespace: %llu leaves read again to summarize, %zu blocks summarized\n",
		(unsigned long long)run.memo_leaves, run.memo.n);
	progress(ctx, 4, 1, 1);
	free(v);
	free(run.clean);
	p4_memo_free(&run.memo);
	return 0;
}

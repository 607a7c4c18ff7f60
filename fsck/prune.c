// SPDX-License-Identifier: MIT
/*
 * Cutting damaged tree blocks out (the fix of P2.001-P2.007, P2.009,
 * P2.011), rewriting sound ones with an implausible owner (P2.008), and
 * deleting unusable extent items (P2.012, P2.013, and P2.014: data over
 * a tree block, where the tree block wins).
 *
 * Pass 2 records each damaged non-root block the user agreed to cut, with
 * the key its parent's pointer holds. Here, at the end of pass 3 - once
 * the space map has been compared with the references, so that new
 * blocks can be placed safely (the map is not damaged and under-counts
 * nothing) - every tree whose descent by that key reaches the block loses
 * it, all in one transaction (pmcfs_tree_prune; the block itself is never
 * read, so snapshots sharing it lose it too; a read-only one loses its
 * read-only flag, saying so, since it no longer is what it was taken
 * as and pass 4 must mend it). What the block pointed to,
 * and its last reference, are left counted on purpose: the restart's
 * pass 3 finds them leaked and rebuilds the space map, and pass 4 mends
 * the namespace around the hole and names every file whose items were
 * in it (lost_inode). A deleted cross-linked extent's data references
 * are left counted too: its count is shared with a tree block, and
 * shadowing a shared leaf on the way counts the extent once more, so
 * only the restart's recount is exact; pass 3 finds the excess and
 * rebuilds the space map.
 *
 * A block with a wrong owner verified otherwise, so nothing is lost: in
 * the same transaction, before the cuts, every tree reaching it gets a
 * fresh copy with its own id as owner (pmcfs_tree_rewrite; counts stay
 * exact). Every tree, because a tree left holding the block would have
 * it reported again. A read-only snapshot among them stays read-only:
 * the copy is newer than the snapshot, so the snapshot's create_gen moves
 * up to the repair's generation (as when data moves off bad media),
 * rather than the copy getting an old generation, which would defeat the
 * lost-write check. Only a snapshot that already held newer blocks
 * (P5.005) loses its flag instead, so that evidence is not hidden.
 * Rewrites go from the highest level down: a block above another is
 * moved on the way to it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "fsck.h"
#include "pmcfs_endian.h"
#include "pmcfs_repair.h"

static void key_text(const struct pmcfs_ckey *k, char *buf, size_t size)
{
	snprintf(buf, size, "(%llu,%u,%llu)", (unsigned long long)k->objectid, k->type,
		 (unsigned long long)k->offset);
}

static void tree_text(const struct fsck_ctx *ctx, uint64_t tree, char *buf, size_t size)
{
	if (tree == PMCFS_ROOTTAB_TREE) {
		snprintf(buf, size, "the root table");
		return;
	}
	for (size_t i = 0; i < ctx->nsubvols; i++)
		if (ctx->subvols[i].id == tree) {
			snprintf(buf, size, "subvolume %llu \"%s\"", (unsigned long long)tree,
				 ctx->subvols[i].name);
			return;
		}
	snprintf(buf, size, "subvolume %llu", (unsigned long long)tree);
}

static void add_lost(struct fsck_ctx *ctx, uint64_t tree, const struct pmcfs_ckey *lo,
		     const struct pmcfs_ckey *hi, bool has_hi)
{
	ctx->lost = xgrow(ctx->lost, &ctx->lost_cap, ctx->nlost + 1, sizeof(*ctx->lost));
	ctx->lost[ctx->nlost++] = (struct fsck_lost){ tree, *lo, *hi, has_hi, false };
}

static bool in_range(const struct fsck_damage *d, const struct pmcfs_ckey *k)
{
	return pmcfs_key_cmp(k, &d->key) >= 0 && (!d->has_hi || pmcfs_key_cmp(k, &d->hi) < 0);
}

/*
 * Put back the items of the sound leaf buf that lie in its range (a
 * KEY_RANGE cut); the others are lost, each recorded for pass 4.
 */
static int salvage(struct fsck_ctx *ctx, struct pmcfs_trans *tx, struct pmcfs_tree *t, uint64_t tree,
		   const struct fsck_damage *d, const uint8_t *buf, unsigned *kept)
{
	*kept = 0;
	for (unsigned i = 0; i < pmcfs_node_nritems(buf); i++) {
		struct pmcfs_ckey k, k1;
		uint32_t size;
		const void *body = pmcfs_leaf_body(buf, i, &size);
		int rc;
		pmcfs_node_key(buf, i, &k);
		if (in_range(d, &k)) {
			if ((rc = pmcfs_tree_insert(tx, t, &k, body, size)) && rc != -EEXIST)
				return rc;
			*kept += !rc;
			continue;
		}
		k1 = k;
		k1.offset++;
		add_lost(ctx, tree, &k, &k1, k1.offset != 0);
	}
	return 0;
}

/* Cut d out of t if t reaches it; an error only when a started cut failed. */
static int cut(struct fsck_ctx *ctx, struct pmcfs_trans *tx, struct pmcfs_tree *t, uint64_t tree,
	       const struct fsck_damage *d, const uint8_t *buf, size_t *cuts)
{
	char tn[300], lo[64], hi[64];
	unsigned kept = 0;
	bool last;
	int rc;

	/* Another block, the root itself, or an unreadable node on the way:
	 * this tree does not reach it by this key (nothing is changed). */
	if (pmcfs_tree_prune_probe(t, (unsigned)d->level, &d->key, d->blkno))
		return 0;
	if ((rc = pmcfs_tree_prune(tx, t, (unsigned)d->level, &d->key, d->blkno, &last)))
		return rc;
	(*cuts)++;
	if (buf) {
		if ((rc = salvage(ctx, tx, t, tree, d, buf, &kept)))
			return rc;
	} else {
		add_lost(ctx, tree, &d->key, &d->hi, d->has_hi);
	}
	tree_text(ctx, tree, tn, sizeof(tn));
	key_text(&d->key, lo, sizeof(lo));
	if (d->has_hi)
		key_text(&d->hi, hi, sizeof(hi));
	if (buf)
		out(ctx, "cut out of %s: block %llu, keys %s to %s, and put back %u of its %u items "
			 "(the others lie outside that range)\n", tn, (unsigned long long)d->blkno, lo,
		    d->has_hi ? hi : "the end", kept, pmcfs_node_nritems(buf));
	else
		out(ctx, "cut out of %s: block %llu and everything under it, keys %s to %s\n", tn,
		    (unsigned long long)d->blkno, lo, d->has_hi ? hi : "the end");
	return 0;
}

/* Pass 2's verdict on an extent item, again (another tree's item at the key may be sound). */
static bool extent_unusable(const struct fsck_ctx *ctx, const uint8_t *body, uint32_t size)
{
	struct pmcfs_extent e;
	uint64_t phys, n;

	if (size != sizeof(e))
		return true;
	memcpy(&e, body, sizeof(e));
	phys = pmcfs_extent_phys(&e);
	n = pmcfs_extent_nblocks(&e);
	if (n && (phys < ctx->sb.data_start || phys >= ctx->sb.data_end ||
		  n > ctx->sb.data_end - phys))
		return true;
	/* Over a block pass 2 walked as a tree block (P2.014). */
	for (uint64_t b = phys; n && b < phys + n; b++)
		if (bit_test(ctx->seen, b))
			return true;
	return false;
}

static bool holds_bad_extent(struct fsck_ctx *ctx, struct pmcfs_tree *t, const struct fsck_damage *d)
{
	uint8_t body[PMCFS_MAX_ITEM_BODY];
	uint32_t size;

	return !pmcfs_tree_lookup(ctx->fs, t, &d->key, body, sizeof(body), &size) &&
	       extent_unusable(ctx, body, size);
}

/* Delete the unusable extent item d->key from t if t holds it. */
static int drop_extent(struct fsck_ctx *ctx, struct pmcfs_trans *tx, struct pmcfs_tree *t,
		       uint64_t tree, const struct fsck_damage *d, size_t *cuts)
{
	char tn[300];
	int rc;

	if (!holds_bad_extent(ctx, t, d))
		return 0;
	if ((rc = pmcfs_tree_delete(tx, t, &d->key)))
		return rc;
	(*cuts)++;
	{
		struct pmcfs_ckey k1 = d->key;
		k1.offset++;
		add_lost(ctx, tree, &d->key, &k1, k1.offset != 0);
	}
	tree_text(ctx, tree, tn, sizeof(tn));
	out(ctx, "deleted from %s: the extent item of inode %llu at offset %llu\n", tn,
	    (unsigned long long)d->key.objectid, (unsigned long long)d->key.offset);
	return 0;
}

/* Rewrite d's block in t, which reaches it. */
static int rewrite(struct fsck_ctx *ctx, struct pmcfs_trans *tx, struct pmcfs_tree *t, uint64_t tree,
		   const struct fsck_damage *d, size_t *done)
{
	char tn[300];
	uint64_t nb;
	int rc;

	if ((rc = pmcfs_tree_rewrite(tx, t, (unsigned)d->level, &d->key, d->blkno, &nb)))
		return rc;
	(*done)++;
	tree_text(ctx, tree, tn, sizeof(tn));
	out(ctx, "rewrote block %llu of %s as block %llu, owner %llu\n", (unsigned long long)d->blkno,
	    tn, (unsigned long long)nb, (unsigned long long)tree);
	return 0;
}

static bool holds(struct fsck_ctx *ctx, struct pmcfs_tree *t, const struct fsck_damage *d)
{
	if (d->rewrite)
		return !pmcfs_tree_reaches(t, (unsigned)d->level, &d->key, d->blkno);
	if (d->level < 0)
		return holds_bad_extent(ctx, t, d);
	return !pmcfs_tree_prune_probe(t, (unsigned)d->level, &d->key, d->blkno);
}

/*
 * A rewrite keeps a read-only snapshot's contents: it stays read-only and
 * is, from now on, as of this repair's generation, like the snapshots
 * whose data moves off bad media (pmcfs_subvol_advance_create_gen).
 */
static int rewrite_rdonly(struct fsck_ctx *ctx, struct pmcfs_trans *tx, struct pmcfs_tree *t,
			  struct fsck_subvol *sv, const struct fsck_damage *d, size_t *cuts)
{
	int rc;

	if (!sv->rdonly_kept_said) {
		out(ctx, "subvolume %llu \"%s\" stays read-only: only where its blocks live changes\n",
		    (unsigned long long)sv->id, sv->name);
		sv->rdonly_kept_said = true;
	}
	if ((rc = rewrite(ctx, tx, t, sv->id, d, cuts)))
		return rc;
	return pmcfs_subvol_advance_create_gen(tx, sv->id);
}

/* Apply d to one subvolume, if its tree holds the damage. */
static int fix_in_subvol(struct fsck_ctx *ctx, struct pmcfs_trans *tx, struct fsck_subvol *sv,
			 const struct fsck_damage *d, const uint8_t *buf, size_t *cuts)
{
	size_t before = *cuts;
	struct pmcfs_tree *t;
	int rc = 0;

	if (!sv->usable || sv->root_bad)
		return 0;
	if (pmcfs_subvol_open(ctx->fs, sv->id, &t)) {
		sv->ns_unchecked = true;	/* its root item: pass 5 mends it, then a restart */
		return 0;
	}
	if (!holds(ctx, t, d))
		return 0;
	if ((sv->flags & PMCFS_ROOT_RDONLY) && d->rewrite && !sv->newer_blkno)
		return rewrite_rdonly(ctx, tx, t, sv, d, cuts);
	/* A changed snapshot is no longer the image it was taken as, and pass 4
	 * must be free to mend its namespace. Item changes (a deleted extent,
	 * salvaged items) need the flag gone first; so does a rewrite in a
	 * snapshot that already holds newer blocks (P5.005's fix clears the
	 * flag: moving create_gen up would hide that evidence). */
	if ((sv->flags & PMCFS_ROOT_RDONLY)) {
		if ((rc = pmcfs_subvol_set_rdonly(tx, sv->id, false)))
			return rc;
		sv->flags &= ~(uint64_t)PMCFS_ROOT_RDONLY;
		out(ctx, "subvolume %llu \"%s\" is no longer read-only: a repair changes it\n",
		    (unsigned long long)sv->id, sv->name);
	}
	if (d->rewrite)
		rc = rewrite(ctx, tx, t, sv->id, d, cuts);
	else if (d->level < 0)
		rc = drop_extent(ctx, tx, t, sv->id, d, cuts);
	else
		rc = cut(ctx, tx, t, sv->id, d, buf, cuts);
	return rc || *cuts > before ? rc : -PMCFS_ECORRUPT;	/* it held it a moment ago */
}

/* Is d's block also to be cut? Then the cut takes it; no rewrite. */
static bool also_cut(const struct fsck_ctx *ctx, const struct fsck_damage *d)
{
	for (size_t i = 0; i < ctx->ndamage; i++)
		if (!ctx->damage[i].rewrite && ctx->damage[i].level >= 0 &&
		    ctx->damage[i].blkno == d->blkno)
			return true;
	return false;
}

/* Apply d to every tree holding it. */
static int fix_one(struct fsck_ctx *ctx, struct pmcfs_trans *tx, const struct fsck_damage *d,
		   size_t *cuts)
{
	uint8_t *buf = NULL;
	size_t before = *cuts;
	int rc = 0;

	if (d->salvage && (buf = xmalloc(PMCFS_BLOCK_SIZE)) &&
	    pmcfs_block_read(ctx->fs, d->blkno, buf)) {
		free(buf);
		buf = NULL;
	}
	if (d->tree == PMCFS_ROOTTAB_TREE && d->rewrite) {
		struct pmcfs_tree *rt = pmcfs_fs_roottab(ctx->fs);
		rc = holds(ctx, rt, d) ? rewrite(ctx, tx, rt, d->tree, d, cuts) : -PMCFS_ECORRUPT;
	} else if (d->tree == PMCFS_ROOTTAB_TREE) {
		rc = cut(ctx, tx, pmcfs_fs_roottab(ctx->fs), d->tree, d, buf, cuts);
	}
	for (size_t j = 0; !rc && d->tree != PMCFS_ROOTTAB_TREE && j < ctx->nsubvols; j++)
		rc = fix_in_subvol(ctx, tx, &ctx->subvols[j], d, buf, cuts);
	free(buf);
	/* A rewrite reaches its block in some tree: pass 2 came to it through one. */
	return rc || !d->rewrite || *cuts > before ? rc : -PMCFS_ECORRUPT;
}

int rewrite_blocks(struct fsck_ctx *ctx, struct pmcfs_trans *tx, const struct fsck_damage *v,
		   size_t n, size_t *done)
{
	int rc = 0;

	/*
	 * Highest level first (pmcfs_repair.h), and the root table's before
	 * the subvolumes': changing a snapshot's root item (its read-only flag
	 * or create_gen) moves the root table's path to it.
	 */
	for (int roottab = 1; roottab >= 0; roottab--)
		for (int level = PMCFS_MAX_LEVEL - 1; !rc && level >= 0; level--)
			for (size_t i = 0; !rc && i < n; i++) {
				const struct fsck_damage *d = &v[i];
				if (d->rewrite && d->level == level &&
				    (d->tree == PMCFS_ROOTTAB_TREE) == roottab && !also_cut(ctx, d))
					rc = fix_one(ctx, tx, d, done);
			}
	return rc;
}

void prune_damaged(struct fsck_ctx *ctx)
{
	size_t cuts = 0, lost_before = ctx->nlost;
	struct pmcfs_trans *tx;
	int rc = 0;

	if (!ctx->ndamage || fsck_cancelled)
		return;
	if (ctx->sm_damaged || ctx->space_risky) {
		out(ctx, "tree blocks not cut out or rewritten: the space map is damaged or "
			 "under-counts, so new blocks cannot be placed safely\n");
		fix_failed(ctx, (unsigned)ctx->ndamage);
		return;
	}
	if (repair_begin(ctx, &tx)) {
		fix_failed(ctx, (unsigned)ctx->ndamage);
		return;
	}
	/* Rewrites first, then the cuts. */
	rc = rewrite_blocks(ctx, tx, ctx->damage, ctx->ndamage, &cuts);
	for (size_t i = 0; !rc && i < ctx->ndamage; i++)
		if (!ctx->damage[i].rewrite)
			rc = fix_one(ctx, tx, &ctx->damage[i], &cuts);
	if (!rc && !cuts) {	/* every tree holding them is one the library cannot open */
		out(ctx, "tree blocks not cut out: no tree that holds them can be opened "
			 "(a root item pass 5 reports)\n");
		pmcfs_trans_abort(tx);
		fix_failed(ctx, (unsigned)ctx->ndamage);
		return;
	}
	if (rc) {
		error("cannot cut out or rewrite tree blocks on %s: %s", ctx->device, pmcfs_strerror(rc));
		pmcfs_trans_abort(tx);
	} else {
		rc = repair_commit(ctx, tx, "commit the cuts and rewrites");
	}
	if (rc) {
		ctx->nlost = lost_before;
		fix_failed(ctx, (unsigned)ctx->ndamage);
		return;
	}
	verbose(ctx, "%zu cuts and rewrites for %zu blocks\n", cuts, ctx->ndamage);
	ctx->restart = ctx->restart_now = true;
}

bool lost_inode(const struct fsck_ctx *ctx, uint64_t tree, uint64_t ino)
{
	const struct pmcfs_ckey first = { ino, 0, 0 }, last = { ino, UINT8_MAX, UINT64_MAX };

	for (size_t i = 0; i < ctx->nlost; i++) {
		const struct fsck_lost *l = &ctx->lost[i];
		if (l->tree == tree && !l->reported && pmcfs_key_cmp(&last, &l->lo) >= 0 &&
		    (!l->has_hi || pmcfs_key_cmp(&first, &l->hi) < 0))
			return true;
	}
	return false;
}

void lost_reported(struct fsck_ctx *ctx, uint64_t tree)
{
	for (size_t i = 0; i < ctx->nlost; i++)
		if (ctx->lost[i].tree == tree)
			ctx->lost[i].reported = true;
}

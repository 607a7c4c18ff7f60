// SPDX-License-Identifier: MIT
/*
 * Rolling back to the previous commit (P2.016).
 *
 * Damage in the root table, or in the root block of a subvolume, costs
 * whole subvolumes: a cut takes their entries away, a damaged root
 * everything under it. The previous commit is usually intact then:
 * copy-on-write never writes a block that commit reaches, and what the
 * newest transaction freed is not reused before the newest commit is
 * durable (pmcfs(5), "Deferred frees"). So after pass 2, if it found such
 * damage, the older commit's trees are walked, every block read and
 * verified once (as pass 2 does on a first visit: checksum, magic, own
 * block number, level, structure, generation), and if all of them
 * verify, fsck offers to go back to that commit, losing only what the
 * newest transaction changed: a few seconds of work instead of whole
 * subvolumes. The rollback writes one commit record (pmcfs_fs_rollback);
 * the check then starts again from pass 1 and settles whatever else the
 * older commit holds.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "fsck.h"
#include "pmcfs_endian.h"
#include "pmcfs_repair.h"

struct older_root {
	uint64_t id;
	struct pmcfs_root_ref root;
	bool dropping;			/* subtrees wholly below drop are gone */
	struct pmcfs_ckey drop;
};

struct older {
	struct fsck_ctx *ctx;
	uint64_t tree;
	const struct older_root *cur;	/* the subvolume walked, NULL for the others */
	uint8_t *seen;
	uint8_t *buf[PMCFS_MAX_LEVEL];
	struct older_root *roots;
	size_t nroots, cap;
	uint64_t blocks;
	char why[200];
};

static bool fail(struct older *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static bool fail(struct older *o, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(o->why, sizeof(o->why), fmt, ap);
	va_end(ap);
	return false;
}

static bool root_item(struct older *o, const struct pmcfs_ckey *k, const uint8_t *body, uint32_t size)
{
	struct pmcfs_root_item ri;
	struct older_root *r;

	if (size < sizeof(ri) || k->offset || k->objectid < PMCFS_FIRST_SUBVOL ||
	    k->objectid > PMCFS_LAST_SUBVOL)
		return fail(o, "the root item of subvolume %llu is malformed",
			    (unsigned long long)k->objectid);
	memcpy(&ri, body, sizeof(ri));
	o->roots = xgrow(o->roots, &o->cap, o->nroots + 1, sizeof(*o->roots));
	r = &o->roots[o->nroots++];
	r->id = k->objectid;
	r->root.blkno = pmcfs_root_item_blkno(&ri);
	r->root.gen = pmcfs_root_item_generation(&ri);
	r->root.level = pmcfs_root_item_level(&ri);
	r->drop.objectid = le64toh(ri.drop_progress.objectid);
	r->drop.type = ri.drop_progress.type;
	r->drop.offset = le64toh(ri.drop_progress.offset);
	r->dropping = (pmcfs_root_item_flags(&ri) & PMCFS_ROOT_DROPPING) &&
		      (r->drop.objectid || r->drop.type || r->drop.offset);
	return true;
}

static bool visit(struct older *o, uint64_t blk, uint64_t ptr_gen, unsigned level, uint64_t parent_gen)
{
	const struct pmcfs_sb_info *sb = &o->ctx->sb;
	uint8_t *buf = o->buf[level];
	struct pmcfs_verify_err why;
	uint64_t gen;
	unsigned n;

	if (blk < sb->data_start || blk >= sb->data_end)
		return fail(o, "tree %llu: block %llu is outside the data area",
			    (unsigned long long)o->tree, (unsigned long long)blk);
	if (bit_test(o->seen, blk))
		return true;	/* shared: verified on its first visit */
	bit_set(o->seen, blk);
	o->blocks++;
	if (pmcfs_block_read(o->ctx->fs, blk, buf))
		return fail(o, "tree %llu: block %llu cannot be read", (unsigned long long)o->tree,
			    (unsigned long long)blk);
	if (pmcfs_node_verify(o->ctx->fs, buf, blk, pmcfs_tree_magic(o->tree), (int)level, &why))
		return fail(o, "tree %llu: block %llu: %s (expected 0x%llx, found 0x%llx)",
			    (unsigned long long)o->tree, (unsigned long long)blk, why.check, (unsigned long long)why.expected, (unsigned long long)why.found);
	gen = pmcfs_header_generation((const struct pmcfs_header *)buf);
	if (gen != ptr_gen || gen > parent_gen)
		return fail(o, "tree %llu: block %llu: generation %llu, pointer %llu, parent %llu",
			    (unsigned long long)o->tree, (unsigned long long)blk, (unsigned long long)gen,
			    (unsigned long long)ptr_gen, (unsigned long long)parent_gen);
	n = pmcfs_node_nritems(buf);
	for (unsigned i = 0; i < n && !fsck_cancelled; i++) {
		struct pmcfs_ckey k, next;
		uint64_t cblk, cgen;
		uint32_t size;
		pmcfs_node_key(buf, i, &k);
		if (level == 0) {
			const uint8_t *body = pmcfs_leaf_body(buf, i, &size);
			if (o->tree == PMCFS_ROOTTAB_TREE && k.type == PMCFS_KEY_ROOT &&
			    !root_item(o, &k, body, size))
				return false;
			continue;
		}
		if (o->cur && o->cur->dropping && i + 1 < n) {
			pmcfs_node_key(buf, i + 1, &next);
			if (pmcfs_key_cmp(&next, &o->cur->drop) <= 0)
				continue;	/* already dropped: its blocks may be reused */
		}
		pmcfs_node_child(buf, i, &cblk, &cgen);
		if (!visit(o, cblk, cgen, level - 1, gen))
			return false;
	}
	return true;
}

static bool walk(struct older *o, uint64_t tree, const struct pmcfs_root_ref *root, uint64_t commit_gen)
{
	o->tree = tree;
	if (root->level >= PMCFS_MAX_LEVEL)
		return fail(o, "root level %u", root->level);
	return visit(o, root->blkno, root->gen, root->level, commit_gen);
}

/* Do all the trees of commit ci read and verify? o->why says why not. */
static bool older_intact(struct older *o, const struct pmcfs_commit_info *ci)
{
	bool ok;

	o->seen = xcalloc((o->ctx->nblocks + 63) / 64, 8);
	for (int l = 0; l < PMCFS_MAX_LEVEL; l++)
		o->buf[l] = xmalloc(PMCFS_BLOCK_SIZE);
	ok = walk(o, PMCFS_ROOTTAB_TREE, &ci->roottab, ci->generation) &&
	     walk(o, PMCFS_SPACEMAP_TREE, &ci->spacemap, ci->generation);
	for (size_t i = 0; ok && i < o->nroots; i++) {
		o->cur = &o->roots[i];
		ok = walk(o, o->cur->id, &o->cur->root, ci->generation);
	}
	for (int l = 0; l < PMCFS_MAX_LEVEL; l++)
		free(o->buf[l]);
	free(o->seen);
	return ok && !fsck_cancelled;
}

/* What the damage pass 2 found costs, if whole subvolumes; false if less. */
static bool whole_trees_lost(const struct fsck_ctx *ctx, char *buf, size_t sz)
{
	size_t nroots = 0;
	uint64_t first = 0;

	for (size_t i = 0; i < ctx->nsubvols; i++)
		if (ctx->subvols[i].usable && ctx->subvols[i].root_bad && !nroots++)
			first = ctx->subvols[i].id;
	if (ctx->roottab_damaged)
		snprintf(buf, sz, "the root table is damaged");
	else if (nroots)
		snprintf(buf, sz, "the root block of subvolume %llu%s is damaged",
			 (unsigned long long)first, nroots > 1 ? " and others" : "");
	return ctx->roottab_damaged || nroots;
}

void offer_rollback(struct fsck_ctx *ctx)
{
	struct older o = { .ctx = ctx };
	struct pmcfs_super_scan sc;
	const struct pmcfs_commit_info *ci;
	char what[96];
	uint64_t gen;
	int older = -1, rc;

	if (!whole_trees_lost(ctx, what, sizeof(what)) || pmcfs_super_scan(ctx->dev, &sc) ||
	    sc.current < 0)
		return;
	for (int s = 0; s < PMCFS_NSLOTS; s++)
		if (!sc.slot[s].err && sc.slot[s].ci.generation < ctx->commit.generation &&
		    (older < 0 || sc.slot[s].ci.generation > sc.slot[older].ci.generation))
			older = s;
	if (older < 0) {
		verbose(ctx, "%s, and there is no older commit to go back to\n", what);
		return;
	}
	ci = &sc.slot[older].ci;
	if (!older_intact(&o, ci)) {
		verbose(ctx, "%s, and the older commit (generation %llu) is damaged too: %s\n", what,
			(unsigned long long)ci->generation, o.why);
		free(o.roots);
		return;
	}
	rc = fix_problem(ctx, PR_OLDER_COMMIT,
			 "%s; generation %llu (%s) verifies: %llu tree blocks, %zu subvolumes; "
			 "what generation %llu changed would be lost", what,
			 (unsigned long long)ci->generation, fsck_slot_name[older],
			 (unsigned long long)o.blocks, o.nroots, (unsigned long long)ctx->commit.generation);
	free(o.roots);
	if (!rc)
		return;
	rc = pmcfs_fs_rollback(ctx->dev, older, &gen);
	if (rc) {
		error("cannot roll back to generation %llu: %s", (unsigned long long)ci->generation,
		      pmcfs_strerror(rc));
		fix_failed(ctx, 1);
		return;
	}
	ctx->modified = true;
	out(ctx, "rolled back to generation %llu: its commit record is written again as generation %llu\n",
	    (unsigned long long)ci->generation, (unsigned long long)gen);
	ctx->restart = ctx->restart_now = ctx->reopen = true;
}

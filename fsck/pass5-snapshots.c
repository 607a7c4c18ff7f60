// SPDX-License-Identifier: MIT
/*
 * Pass 5: subvolumes, snapshots and the root table.
 *
 * Consumes: pass 2's decoded root items and per-subvolume findings.
 * Checks: every root item decodes (size, key, name length), has only
 *   known flags, and its root block was usable (pass 2 read it); parent
 *   links resolve or carry PARENT_GONE; names are unique; a read-only
 *   snapshot holds no block written after the snapshot was taken (pass 2
 *   noted the first block with a generation above create_gen, checked at
 *   every pointer, shared or not, so no subtree needs a second walk);
 *   the default subvolume exists; no deletion was left half done.
 * Fixes, each in its own transaction: unknown flags cleared, PARENT_GONE
 *   set, duplicate or malformed names renamed, the read-only flag of a
 *   modified snapshot cleared, an interrupted deletion finished
 *   (pmcfs_subvol_delete when nothing was dropped yet), and the entry of
 *   a snapshot whose root is unusable, or whose item is malformed,
 *   deleted. The default subvolume with an unusable root gets an empty
 *   root directory instead (its snapshots are kept and named). Removing an entry without dropping its tree leaves its
 *   blocks counted, so the check restarts from pass 2 to recount them.
 *   A default subvolume missing from the root table is replaced in both
 *   superblock copies (pmcfs_subvol_set_default) by the lowest-numbered
 *   usable writable subvolume (256, the one mkfs made, if it is there),
 *   or by a new empty one with a root directory if there is none: what
 *   mkfs would leave, and nothing is deleted.
 *   None of these runs while the space map under-counts (pass 3 could
 *   not rebuild it): the allocator could hand out blocks in use.
 * Frees: nothing.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "fsck.h"
#include "pmcfs_endian.h"
#include "pmcfs_repair.h"

#define KNOWN_FLAGS (PMCFS_ROOT_RDONLY | PMCFS_ROOT_DROPPING | PMCFS_ROOT_PARENT_GONE)

enum edit { EDIT_DELETE, EDIT_CLEAR_FLAGS, EDIT_SET_FLAGS, EDIT_RENAME, EDIT_NEXT_INO };

static bool safe_to_repair(struct fsck_ctx *ctx)
{
	if (!ctx->space_risky)
		return true;
	out(ctx, "not repaired: the space map under-counts and was not rebuilt\n");
	fix_failed(ctx, 1);
	return false;
}

/* Apply one edit to a root item in its own transaction; arg: the flags, or next_ino. */
static void edit_item(struct fsck_ctx *ctx, struct fsck_subvol *sv, enum edit op, uint64_t arg,
		      const char *name)
{
	struct pmcfs_tree *rt = pmcfs_fs_roottab(ctx->fs);
	uint8_t buf[sizeof(struct pmcfs_root_item) + PMCFS_NAME_MAX];
	struct pmcfs_root_item ri;
	struct pmcfs_trans *tx;
	uint32_t size = 0;
	int rc;

	if (!safe_to_repair(ctx) || repair_begin(ctx, &tx)) {
		if (!ctx->space_risky)
			fix_failed(ctx, 1);
		return;
	}
	if (op == EDIT_DELETE) {
		rc = pmcfs_tree_delete(tx, rt, &sv->key);
		ctx->restart = true;
	} else if (!(rc = pmcfs_tree_lookup(ctx->fs, rt, &sv->key, buf, sizeof(buf), &size))) {
		memcpy(&ri, buf, sizeof(ri));
		if (op == EDIT_CLEAR_FLAGS)
			pmcfs_set_root_item_flags(&ri, pmcfs_root_item_flags(&ri) & ~arg);
		if (op == EDIT_SET_FLAGS)
			pmcfs_set_root_item_flags(&ri, pmcfs_root_item_flags(&ri) | arg);
		if (op == EDIT_NEXT_INO)
			pmcfs_set_root_item_next_ino(&ri, arg);
		if (op == EDIT_RENAME) {
			size = sizeof(ri) + strlen(name);
			pmcfs_set_root_item_name_len(&ri, strlen(name));
			memcpy(buf + sizeof(ri), name, strlen(name));
		}
		memcpy(buf, &ri, sizeof(ri));
		rc = pmcfs_tree_update(tx, rt, &sv->key, buf, size);
	}
	if (rc) {
		error("cannot repair the root item of subvolume %llu: %s", (unsigned long long)sv->id,
		      pmcfs_strerror(rc));
		pmcfs_trans_abort(tx);
		fix_failed(ctx, 1);
		return;
	}
	if (repair_commit(ctx, tx, "commit the root table repair"))
		fix_failed(ctx, 1);
	else if (sv->ns_unchecked)
		ctx->restart = true;	/* pass 4 could not open it: now it can */
}

static void finish_drop(struct fsck_ctx *ctx, struct fsck_subvol *sv)
{
	struct pmcfs_ckey zero = { 0, 0, 0 };
	struct pmcfs_trans *tx;
	int rc;

	/* Part already dropped, or unreadable: remove the entry and recount. */
	if (pmcfs_key_cmp(&sv->drop_progress, &zero) || sv->damaged) {
		edit_item(ctx, sv, EDIT_DELETE, 0, NULL);
		return;
	}
	if (!safe_to_repair(ctx))
		return;
	if (repair_begin(ctx, &tx)) {
		fix_failed(ctx, 1);
		return;
	}
	if ((rc = pmcfs_subvol_delete(tx, sv->id))) {
		error("cannot finish deleting subvolume %llu: %s", (unsigned long long)sv->id,
		      pmcfs_strerror(rc));
		pmcfs_trans_abort(tx);
		fix_failed(ctx, 1);
		return;
	}
	if (repair_commit(ctx, tx, "commit the subvolume deletion"))
		fix_failed(ctx, 1);
}

static const struct fsck_subvol *find(const struct fsck_ctx *ctx, uint64_t id)
{
	for (size_t i = 0; i < ctx->nsubvols; i++)
		if (ctx->subvols[i].id == id && ctx->subvols[i].usable)
			return &ctx->subvols[i];
	return NULL;
}

/* Before sv in the table, a usable entry with the same non-empty name? */
static bool name_taken(const struct fsck_ctx *ctx, const struct fsck_subvol *sv)
{
	for (const struct fsck_subvol *o = ctx->subvols; o < sv; o++)
		if (o->usable && o->name_ok && !strcmp(o->name, sv->name))
			return true;
	return false;
}

/* An empty root directory in sv, which may be read-only. */
static int new_root_dir(struct fsck_ctx *ctx, struct pmcfs_trans *tx, const struct fsck_subvol *sv)
{
	bool ro = sv->flags & PMCFS_ROOT_RDONLY;
	struct pmcfs_tree *t;
	int rc;

	if ((rc = pmcfs_subvol_open(ctx->fs, sv->id, &t)) ||
	    (ro && (rc = pmcfs_subvol_set_rdonly(tx, sv->id, false))) || (rc = make_root_dir(tx, t)))
		return rc;
	if (ro && !(rc = pmcfs_subvol_set_rdonly(tx, sv->id, true)))
		rc = pmcfs_subvol_advance_create_gen(tx, sv->id);
	return rc;
}

/*
 * The default subvolume's root block is unusable: all it held is lost,
 * and nothing says where its other blocks are. It stays the default (the
 * filesystem stays mountable, its snapshots keep their parent) with an
 * empty root directory; its old blocks stay counted until the restart's
 * recount rebuilds the space map. Its snapshots are named: they are what
 * an operator restores from.
 */
static void reset_default(struct fsck_ctx *ctx, struct fsck_subvol *sv)
{
	struct pmcfs_trans *tx;
	bool kept;
	int rc;

	if (!safe_to_repair(ctx))
		return;
	if (repair_begin(ctx, &tx)) {
		fix_failed(ctx, 1);
		return;
	}
	if ((rc = pmcfs_subvol_reset_root(tx, sv->id, &kept)) || (rc = new_root_dir(ctx, tx, sv))) {
		error("cannot give subvolume %llu a new root: %s", (unsigned long long)sv->id,
		      pmcfs_strerror(rc));
		pmcfs_trans_abort(tx);
		fix_failed(ctx, 1);
		return;
	}
	if (repair_commit(ctx, tx, "commit the default subvolume's new root")) {
		fix_failed(ctx, 1);
		return;
	}
	out(ctx, "lost data: subvolume %llu: everything in it; it now holds an empty root directory\n",
	    (unsigned long long)sv->id);
	for (size_t i = 0; i < ctx->nsubvols; i++) {
		const struct fsck_subvol *s = &ctx->subvols[i];
		if (s->usable && !s->root_bad && s->parent == sv->id &&
		    !(s->flags & PMCFS_ROOT_DROPPING))
			out(ctx, "snapshot %llu \"%s\" of subvolume %llu is intact (taken at generation "
				 "%llu)\n", (unsigned long long)s->id, s->name,
			    (unsigned long long)sv->id, (unsigned long long)s->create_gen);
	}
	ctx->restart = true;	/* recount: its old blocks are leaked now */
}

static void check_one(struct fsck_ctx *ctx, struct fsck_subvol *sv)
{
	bool is_default = sv->id == ctx->sb.root_subvol;
	char name[PMCFS_NAME_MAX + 1];
	struct pmcfs_subvol_info si;	/* as the repairs so far left it */
	uint64_t need;

	if (!sv->usable) {
		if (fix_problem(ctx, PR_ROOT_ITEM_BAD, "key (%llu,%u,%llu): %u bytes, root block %llu, level %u",
				(unsigned long long)sv->key.objectid, sv->key.type,
				(unsigned long long)sv->key.offset, sv->item_size,
				(unsigned long long)sv->root.blkno, sv->root.level)) {
			if (is_default) {
				out(ctx, "not repaired: subvolume %llu is the default subvolume\n",
				    (unsigned long long)sv->id);
				fix_failed(ctx, 1);
			} else {
				edit_item(ctx, sv, EDIT_DELETE, 0, NULL);
			}
		}
		return;
	}
	if (sv->flags & PMCFS_ROOT_DROPPING) {
		if (fix_problem(ctx, PR_DROPPING, "subvolume %llu \"%s\"", (unsigned long long)sv->id,
				sv->name))
			finish_drop(ctx, sv);
		return;
	}
	if (sv->root_bad && is_default) {
		if (fix_problem(ctx, PR_DEFAULT_ROOT_BAD, "subvolume %llu \"%s\": root block %llu",
				(unsigned long long)sv->id, sv->name, (unsigned long long)sv->root.blkno))
			reset_default(ctx, sv);
		return;
	}
	if (sv->root_bad && !is_default) {
		if (fix_problem(ctx, PR_SNAP_ROOT_BAD, "subvolume %llu \"%s\": root block %llu",
				(unsigned long long)sv->id, sv->name, (unsigned long long)sv->root.blkno))
			edit_item(ctx, sv, EDIT_DELETE, 0, NULL);
		return;
	}
	if (!sv->name_ok) {
		snprintf(name, sizeof(name), "subvol-%llu", (unsigned long long)sv->id);
		if (fix_problem(ctx, PR_ROOT_NAME_BAD, "subvolume %llu: item of %u bytes",
				(unsigned long long)sv->id, sv->item_size))
			edit_item(ctx, sv, EDIT_RENAME, 0, name);
	} else if (sv->name[0] && name_taken(ctx, sv)) {
		snprintf(name, sizeof(name), "%.200s.%llu", sv->name, (unsigned long long)sv->id);
		if (fix_problem(ctx, PR_NAME_DUP, "subvolume %llu \"%s\": renaming to \"%s\"",
				(unsigned long long)sv->id, sv->name, name))
			edit_item(ctx, sv, EDIT_RENAME, 0, name);
	}
	if (sv->flags & ~(uint64_t)KNOWN_FLAGS) {
		if (fix_problem(ctx, PR_ROOT_ITEM_FLAGS, "subvolume %llu: flags 0x%llx",
				(unsigned long long)sv->id, (unsigned long long)sv->flags))
			edit_item(ctx, sv, EDIT_CLEAR_FLAGS, sv->flags & ~(uint64_t)KNOWN_FLAGS, NULL);
	}
	/* With the root table damaged, the parent may be in what cannot be read. */
	if (sv->parent && !(sv->flags & PMCFS_ROOT_PARENT_GONE) && !find(ctx, sv->parent) &&
	    !ctx->roottab_damaged) {
		if (fix_problem(ctx, PR_PARENT_MISSING, "subvolume %llu: parent %llu",
				(unsigned long long)sv->id, (unsigned long long)sv->parent))
			edit_item(ctx, sv, EDIT_SET_FLAGS, PMCFS_ROOT_PARENT_GONE, NULL);
	}
	/*
	 * A new inode takes next_ino: one at or below an inode that exists
	 * would be refused or, worse, reuse its number. The rightmost path
	 * says where the inodes end.
	 */
	if (!sv->damaged && !pmcfs_subvol_info(ctx->fs, sv->id, &si) &&
	    !pmcfs_tree_next_ino(ctx->fs, &si.root, &need) && si.next_ino < need) {
		if (fix_problem(ctx, PR_NEXT_INO_LOW, "subvolume %llu \"%s\": next inode number %llu, "
				"the largest in use is %llu", (unsigned long long)sv->id, sv->name,
				(unsigned long long)si.next_ino, (unsigned long long)need - 1))
			edit_item(ctx, sv, EDIT_NEXT_INO, need, NULL);
	}
	if ((sv->flags & PMCFS_ROOT_RDONLY) && sv->newer_blkno) {
		if (fix_problem(ctx, PR_RDONLY_NEWER,
				"subvolume %llu \"%s\" taken at generation %llu: block %llu has generation %llu",
				(unsigned long long)sv->id, sv->name, (unsigned long long)sv->create_gen,
				(unsigned long long)sv->newer_blkno, (unsigned long long)sv->newer_gen))
			edit_item(ctx, sv, EDIT_CLEAR_FLAGS, PMCFS_ROOT_RDONLY, NULL);
	}
}

/* The lowest-numbered subvolume a mount could use as the default. */
static const struct fsck_subvol *default_candidate(const struct fsck_ctx *ctx)
{
	const struct fsck_subvol *best = NULL;

	for (size_t i = 0; i < ctx->nsubvols; i++) {
		const struct fsck_subvol *sv = &ctx->subvols[i];
		if (sv->usable && !sv->root_bad &&
		    !(sv->flags & (PMCFS_ROOT_RDONLY | PMCFS_ROOT_DROPPING)) &&
		    (!best || sv->id < best->id))
			best = sv;
	}
	return best;
}

/* An empty subvolume with a root directory, as mkfs makes 256. */
static int create_default(struct fsck_ctx *ctx, uint64_t *id)
{
	struct pmcfs_trans *tx;
	struct pmcfs_tree *t;
	int rc;

	if (!safe_to_repair(ctx))
		return -EAGAIN;
	if ((rc = repair_begin(ctx, &tx)))
		return rc;
	if ((rc = pmcfs_subvol_create(tx, "", id)) || (rc = pmcfs_subvol_open(ctx->fs, *id, &t)) ||
	    (rc = make_root_dir(tx, t))) {
		error("cannot create a default subvolume: %s", pmcfs_strerror(rc));
		pmcfs_trans_abort(tx);
		return rc;
	}
	return repair_commit(ctx, tx, "commit the new default subvolume");
}

static void replace_default(struct fsck_ctx *ctx)
{
	const struct fsck_subvol *sv = default_candidate(ctx);
	uint64_t old = ctx->sb.root_subvol, id;
	int rc;

	if (sv)
		id = sv->id;
	else if (create_default(ctx, &id)) {
		if (!ctx->space_risky)
			fix_failed(ctx, 1);
		return;
	}
	if ((rc = pmcfs_subvol_set_default(ctx->fs, id))) {
		error("cannot make subvolume %llu the default on %s: %s", (unsigned long long)id,
		      ctx->device, pmcfs_strerror(rc));
		fix_failed(ctx, 1);
		return;
	}
	ctx->modified = true;
	ctx->sb = *pmcfs_fs_sb(ctx->fs);
	if (sv)
		out(ctx, "the default subvolume is now %llu \"%s\", the lowest-numbered writable one, "
			 "in place of %llu (both superblock copies rewritten)\n",
		    (unsigned long long)id, sv->name, (unsigned long long)old);
	else
		out(ctx, "the default subvolume is now %llu, a new empty one with a root directory, in "
			 "place of %llu: no other is usable and writable (both superblock copies "
			 "rewritten)\n", (unsigned long long)id, (unsigned long long)old);
	/* Walk the new subvolume; repair what was refused as the default's. */
	for (size_t i = 0; i < ctx->nsubvols; i++)
		if (ctx->subvols[i].id == old)
			ctx->restart = true;
	if (!sv)
		ctx->restart = true;
}

int pass5_snapshots(struct fsck_ctx *ctx)
{
	bool have_default = false;

	for (size_t i = 0; i < ctx->nsubvols && !fsck_cancelled; i++) {
		struct fsck_subvol *sv = &ctx->subvols[i];
		if (sv->usable && sv->id == ctx->sb.root_subvol)
			have_default = true;
		if (sv->usable) {
			ctx->st.subvols++;
			if (sv->parent)
				ctx->st.snapshots++;
		}
		check_one(ctx, sv);
		progress(ctx, 5, i + 1, ctx->nsubvols);
	}
	if (!have_default && !ctx->walk_incomplete &&
	    fix_problem(ctx, PR_ROOT_SUBVOL_GONE, "subvolume %llu", (unsigned long long)ctx->sb.root_subvol))
		replace_default(ctx);
	return 0;
}

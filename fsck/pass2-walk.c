// SPDX-License-Identifier: MIT
/*
 * Pass 2: walk the DAG of every tree from every root, each unique block
 * once.
 *
 * Roots: the commit's root table and space map, then every subvolume and
 *   snapshot in the root table (a DROPPING one only above its
 *   drop_progress key: pointers to subtrees wholly below it no longer hold
 *   references, and leaf items below it are not counted).
 * Checks, per block on its first visit: readable, checksum, magic of the
 *   tree, uuid and own block number, level = parent's - 1, structure
 *   (library verifier), generation = the parent pointer's and not newer
 *   than the parent (or the commit), owner plausible for the tree, keys
 *   inside the range the parent gives, fill (non-root nodes at least a
 *   quarter full: a warning, since every operation stays correct), and
 *   extent items well formed and inside the data area; after the walk,
 *   no extent over a tree block (pass2-crosslink.c). A repeat visit
 *   (a pointer to a block already seen: sharing) reads the block again
 *   only to check what depends on the pointer: generation, level, magic,
 *   key range. It collects nothing, so the cost is one read per pointer
 *   into a shared block, independent of how many snapshots share it.
 * Collects: ctx->refs (every child pointer, root reference and extent as
 *   packed (start, len) ranges), ctx->smrefs (space map nodes, kept apart:
 *   a rebuild releases them), ctx->datarefs, the seen and bad bitmaps,
 *   ctx->subvols (decoded root items), media hits for pass 6, and per
 *   subvolume whether it is damaged and, for read-only snapshots, the
 *   first block newer than the snapshot (for pass 5).
 * Frees: pass2_release() frees all of it; main.c calls it at the end, or
 *   before a restart.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "pass2.h"
#include "pmcfs_endian.h"

/* Buffers per level; the library's verifier rejects levels of 8 and up. */
#define MAX_LEVEL 16

struct bound {
	bool has_lo, has_hi;
	struct pmcfs_ckey lo, hi;	/* lo <= keys < hi */
};

struct walk {
	struct fsck_ctx *ctx;
	uint64_t tree;
	uint32_t magic;
	struct fsck_subvol *sv;		/* NULL for the root table and space map */
	struct fsck_refs *refs;
	uint8_t *buf[MAX_LEVEL];
	uint8_t *rbuf;			/* repeat visits */
	bool dropping;
	struct pmcfs_ckey drop;
	uint64_t progress_max;
	/* The block being checked, for a cut: its level, bound, and rootness. */
	int cur_level;
	const struct bound *cur_bd;
	bool cur_root;
	struct xleaves xl;		/* leaves that counted extents (pass2-crosslink.c) */
};

static const char *tree_name(const struct walk *w, char *buf, size_t sz)
{
	if (w->tree == PMCFS_ROOTTAB_TREE)
		return "root table";
	if (w->tree == PMCFS_SPACEMAP_TREE)
		return "space map";
	snprintf(buf, sz, "subvolume %llu", (unsigned long long)w->tree);
	return buf;
}

static void damaged(struct walk *w, uint64_t blk, bool is_root)
{
	bit_set(w->ctx->bad, blk);
	if (w->tree == PMCFS_SPACEMAP_TREE) {
		w->ctx->sm_damaged = true;
		return;
	}
	w->ctx->walk_incomplete = true;
	w->ctx->roottab_damaged |= w->tree == PMCFS_ROOTTAB_TREE;
	if (w->sv) {
		w->sv->damaged = true;
		w->sv->root_bad |= is_root;
	}
}

/* Record blk for prune.c (once, however many trees reach it). */
static void want_cut(struct walk *w, uint64_t blk)
{
	struct fsck_ctx *ctx = w->ctx;

	for (size_t i = 0; i < ctx->ndamage; i++)
		if (ctx->damage[i].blkno == blk && !ctx->damage[i].rewrite)
			return;
	ctx->damage = xgrow(ctx->damage, &ctx->damage_cap, ctx->ndamage + 1, sizeof(*ctx->damage));
	ctx->damage[ctx->ndamage++] = (struct fsck_damage){ w->tree, blk, w->cur_level,
							    w->cur_bd->lo, w->cur_bd->hi,
							    w->cur_bd->has_hi, false, false };
}

/*
 * A block-level finding. Space map damage is fixed by the rebuild; a
 * damaged block of another tree by cutting it out (prune.c), unless it
 * is a root: pass 5 deals with those (a snapshot's entry goes).
 */
static void block_problem(struct walk *w, uint32_t code, uint64_t blk, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void block_problem(struct walk *w, uint32_t code, uint64_t blk, const char *fmt, ...)
{
	char detail[256], tn[40];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	if (w->tree == PMCFS_SPACEMAP_TREE) {
		const struct fsck_problem *p = fsck_problem_find(code);
		if (fix_problem(w->ctx, PR_SPACEMAP_BLOCK, "block %llu: %s: %s", (unsigned long long)blk,
				p->msg, detail))
			w->ctx->rebuild_yes++;
		else
			w->ctx->rebuild_no++;
		return;
	}
	w->ctx->no_fix = w->cur_root || !w->cur_bd->has_lo;
	if (fix_problem(w->ctx, code, "block %llu in the %s: %s", (unsigned long long)blk,
			tree_name(w, tn, sizeof(tn)), detail) && !w->ctx->no_fix)
		want_cut(w, blk);
	w->ctx->no_fix = false;
}

/*
 * A sound block with an implausible owner: its contents verified, so it
 * is kept and rewritten (a fresh copy, owned by the tree) in every tree
 * reaching it (prune.c). The root is reached by any key. Checked on the
 * first visit only, so this runs once per block.
 */
static void owner_problem(struct walk *w, uint64_t blk, uint64_t owner)
{
	struct fsck_ctx *ctx = w->ctx;
	struct pmcfs_ckey k = w->cur_bd->has_lo ? w->cur_bd->lo : (struct pmcfs_ckey){ 0, 0, 0 };
	char tn[40];

	if (w->tree == PMCFS_SPACEMAP_TREE) {	/* the rebuild writes it anew */
		block_problem(w, PR_BLOCK_OWNER, blk, "owner %llu", (unsigned long long)owner);
		return;
	}
	if (!fix_problem(ctx, PR_BLOCK_OWNER, "block %llu in the %s: owner %llu",
			 (unsigned long long)blk, tree_name(w, tn, sizeof(tn)), (unsigned long long)owner))
		return;
	ctx->damage = xgrow(ctx->damage, &ctx->damage_cap, ctx->ndamage + 1, sizeof(*ctx->damage));
	ctx->damage[ctx->ndamage++] = (struct fsck_damage){ w->tree, blk, w->cur_level, k, k,
							    false, false, true };
}

/* An unusable extent item: deleted from every tree holding it (prune.c). */
static void extent_problem(struct walk *w, uint32_t code, uint64_t blk, const struct pmcfs_ckey *k,
			   const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static void extent_problem(struct walk *w, uint32_t code, uint64_t blk, const struct pmcfs_ckey *k,
			   const char *fmt, ...)
{
	struct fsck_ctx *ctx = w->ctx;
	char detail[256], tn[40];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	if (!fix_problem(ctx, code, "block %llu in the %s: %s", (unsigned long long)blk,
			 tree_name(w, tn, sizeof(tn)), detail))
		return;
	ctx->damage = xgrow(ctx->damage, &ctx->damage_cap, ctx->ndamage + 1, sizeof(*ctx->damage));
	ctx->damage[ctx->ndamage++] = (struct fsck_damage){ w->tree, blk, -1, *k, *k, false, false, false };
}

static uint32_t verify_code(const struct pmcfs_verify_err *why)
{
	if (why->code == -PMCFS_EBADCRC)
		return PR_BLOCK_CRC;
	if (!strcmp(why->check, "magic"))
		return PR_BLOCK_MAGIC;
	if (why->code == -PMCFS_EMISDIRECT)
		return PR_BLOCK_MISDIRECTED;
	if (!strcmp(why->check, "level"))
		return PR_BLOCK_LEVEL;
	return PR_BLOCK_STRUCTURE;
}

static bool owner_ok(const struct walk *w, uint64_t owner)
{
	if (w->tree < PMCFS_FIRST_SUBVOL)
		return owner == w->tree;
	return owner >= PMCFS_FIRST_SUBVOL && owner <= PMCFS_LAST_SUBVOL;
}

static void media_hit(struct walk *w, uint64_t start, uint64_t len, bool data,
		      const struct pmcfs_ckey *key, int level)
{
	struct fsck_ctx *ctx = w->ctx;

	if (!ctx->nbadv || !in_bad_media(ctx, start, len))
		return;
	ctx->hits = xgrow(ctx->hits, &ctx->hits_cap, ctx->nhits + 1, sizeof(*ctx->hits));
	ctx->hits[ctx->nhits++] = (struct fsck_media_hit){ start, len, w->tree, data, *key, level };
}

static void key_range(struct walk *w, const uint8_t *buf, uint64_t blk, const struct bound *bd)
{
	unsigned n = pmcfs_node_nritems(buf);
	struct pmcfs_ckey first, last;

	if (!n)
		return;
	pmcfs_node_key(buf, 0, &first);
	pmcfs_node_key(buf, n - 1, &last);
	if ((bd->has_lo && pmcfs_key_cmp(&first, &bd->lo) < 0) ||
	    (bd->has_hi && pmcfs_key_cmp(&last, &bd->hi) >= 0)) {
		size_t before = w->ctx->ndamage;
		block_problem(w, PR_KEY_RANGE, blk, "keys (%llu,%u,%llu)..(%llu,%u,%llu)",
			      (unsigned long long)first.objectid, first.type,
			      (unsigned long long)first.offset, (unsigned long long)last.objectid,
			      last.type, (unsigned long long)last.offset);
		/* A sound leaf: the cut can keep the items that are in place. */
		if (w->ctx->ndamage > before && pmcfs_node_level(buf) == 0)
			w->ctx->damage[w->ctx->ndamage - 1].salvage = true;
		/* Items out of place are lost to lookups: pass 4 leaves this tree alone. */
		if (w->sv)
			w->sv->damaged = true;
	}
}

static void check_fill(struct walk *w, const uint8_t *buf, uint64_t blk)
{
	unsigned n = pmcfs_node_nritems(buf), level = pmcfs_node_level(buf);
	uint32_t used = n * sizeof(struct pmcfs_item);

	if (level) {
		if (n < PMCFS_NODE_MAX_PTRS / 4)
			block_problem(w, PR_UNDERFULL, blk, "%u pointers", n);
		return;
	}
	for (unsigned i = 0; i < n; i++) {
		uint32_t sz;
		pmcfs_leaf_body(buf, i, &sz);
		used += (sz + 7) & ~7u;
	}
	if (used < PMCFS_NODE_SPACE / 4)
		block_problem(w, PR_UNDERFULL, blk, "%u of %zu bytes used", used, PMCFS_NODE_SPACE);
}

static void note_newer(struct walk *w, uint64_t blk, uint64_t gen)
{
	struct fsck_subvol *sv = w->sv;

	if (sv && (sv->flags & PMCFS_ROOT_RDONLY) && gen > sv->create_gen && !sv->newer_blkno) {
		sv->newer_blkno = blk;
		sv->newer_gen = gen;
	}
}

/* A pointer to a block already visited: check only what the pointer implies. */
static void revisit(struct walk *w, uint64_t blk, uint64_t ptr_gen, int level,
		    const struct bound *bd, bool is_root)
{
	const struct pmcfs_header *h = (const void *)w->rbuf;

	w->cur_level = level;
	w->cur_bd = bd;
	w->cur_root = is_root;
	if (bit_test(w->ctx->bad, blk)) {
		damaged(w, blk, is_root);
		return;
	}
	if (pmcfs_block_read(w->ctx->fs, blk, w->rbuf))
		return;		/* it was readable a moment ago; reported then if not */
	if (pmcfs_header_magic(h) != w->magic) {
		block_problem(w, PR_BLOCK_MAGIC, blk, "shared with another tree: magic 0x%x",
			      pmcfs_header_magic(h));
		damaged(w, blk, is_root);
		return;
	}
	if (pmcfs_header_level(h) != level) {
		block_problem(w, PR_BLOCK_LEVEL, blk, "expected %d, found %u", level,
			      pmcfs_header_level(h));
		damaged(w, blk, is_root);
		return;
	}
	if (pmcfs_header_generation(h) != ptr_gen) {
		block_problem(w, PR_BLOCK_STALE, blk, "pointer says %llu, block has %llu",
			      (unsigned long long)ptr_gen,
			      (unsigned long long)pmcfs_header_generation(h));
		damaged(w, blk, is_root);
		return;
	}
	note_newer(w, blk, ptr_gen);
	key_range(w, w->rbuf, blk, bd);
}

static void leaf_items(struct walk *w, const uint8_t *buf, uint64_t blk);

static void visit(struct walk *w, uint64_t blk, uint64_t ptr_gen, int level, uint64_t parent_gen,
		  const struct bound *bd, bool is_root)
{
	struct fsck_ctx *ctx = w->ctx;
	uint8_t *buf = w->buf[level];
	const struct pmcfs_header *h = (const void *)buf;
	struct pmcfs_verify_err why;
	uint64_t gen;
	unsigned n;

	refs_add(w->refs, blk, 1);
	ctx->st.tree_refs++;
	w->cur_level = level;
	w->cur_bd = bd;
	w->cur_root = is_root;
	if (bit_test(ctx->seen, blk)) {
		revisit(w, blk, ptr_gen, level, bd, is_root);
		return;
	}
	bit_set(ctx->seen, blk);
	ctx->st.tree_blocks++;
	if ((ctx->st.tree_blocks & 1023) == 0)
		progress(ctx, 2, ctx->st.tree_blocks + ctx->st.data_blocks, w->progress_max);
	if (pmcfs_block_read(ctx->fs, blk, buf)) {
		block_problem(w, PR_BLOCK_UNREADABLE, blk, "read error");
		damaged(w, blk, is_root);
		return;
	}
	if (pmcfs_node_verify(ctx->fs, buf, blk, w->magic, level, &why)) {
		block_problem(w, verify_code(&why), blk, "%s (expected 0x%llx, found 0x%llx)%s",
			      why.check, (unsigned long long)why.expected,
			      (unsigned long long)why.found, why.item >= 0 ? " in an item" : "");
		damaged(w, blk, is_root);
		return;
	}
	gen = pmcfs_header_generation(h);
	if (gen != ptr_gen) {
		block_problem(w, PR_BLOCK_STALE, blk, "pointer says %llu, block has %llu",
			      (unsigned long long)ptr_gen, (unsigned long long)gen);
		damaged(w, blk, is_root);
		return;
	}
	if (gen > parent_gen) {
		block_problem(w, PR_BLOCK_FUTURE, blk, "generation %llu, %s %llu",
			      (unsigned long long)gen, is_root ? "commit" : "parent",
			      (unsigned long long)parent_gen);
		damaged(w, blk, is_root);
		return;
	}
	/* Any key reaches the root; a lower block, its parent pointer's. */
	media_hit(w, blk, 1, false, w->cur_bd->has_lo ? &w->cur_bd->lo : &(struct pmcfs_ckey){ 0, 0, 0 },
		  w->cur_level);
	if (!owner_ok(w, pmcfs_header_owner(h)))
		owner_problem(w, blk, pmcfs_header_owner(h));
	note_newer(w, blk, gen);
	/* A tree being deleted loses subtrees from the left: no fill rule. */
	if (!is_root && !(w->sv && (w->sv->flags & PMCFS_ROOT_DROPPING)))
		check_fill(w, buf, blk);
	key_range(w, buf, blk, bd);
	n = pmcfs_node_nritems(buf);
	if (level == 0) {
		leaf_items(w, buf, blk);
		return;
	}
	for (unsigned i = 0; i < n && !fsck_cancelled; i++) {
		struct bound cb = *bd;
		uint64_t cblk, cgen;
		pmcfs_node_key(buf, i, &cb.lo);
		cb.has_lo = true;
		if (i + 1 < n) {
			pmcfs_node_key(buf, i + 1, &cb.hi);
			cb.has_hi = true;
		}
		/* Already dropped: wholly below drop_progress. */
		if (w->dropping && cb.has_hi && pmcfs_key_cmp(&cb.hi, &w->drop) <= 0)
			continue;
		pmcfs_node_child(buf, i, &cblk, &cgen);
		visit(w, cblk, cgen, level - 1, gen, &cb, false);
	}
}

/* ---- leaf items: root items and extents --------------------------------- */

static void root_item(struct walk *w, const struct pmcfs_ckey *k, const uint8_t *body, uint32_t size)
{
	struct fsck_ctx *ctx = w->ctx;
	struct fsck_subvol *sv;
	struct pmcfs_root_item ri;
	unsigned nl;

	ctx->subvols = realloc(ctx->subvols, (ctx->nsubvols + 1) * sizeof(*sv));
	if (!ctx->subvols) {
		error("out of memory: %zu subvolumes", ctx->nsubvols + 1);
		exit(FSCK_ERROR);
	}
	sv = &ctx->subvols[ctx->nsubvols++];
	memset(sv, 0, sizeof(*sv));
	sv->id = k->objectid;
	sv->key = *k;
	sv->item_size = size;
	if (size < sizeof(ri) || k->offset || k->objectid < PMCFS_FIRST_SUBVOL ||
	    k->objectid > PMCFS_LAST_SUBVOL) {
		sv->name = xstrdup("");
		return;
	}
	memcpy(&ri, body, sizeof(ri));
	sv->root.blkno = pmcfs_root_item_blkno(&ri);
	sv->root.gen = pmcfs_root_item_generation(&ri);
	sv->root.level = pmcfs_root_item_level(&ri);
	sv->flags = pmcfs_root_item_flags(&ri);
	sv->parent = pmcfs_root_item_parent(&ri);
	sv->create_gen = pmcfs_root_item_create_gen(&ri);
	sv->next_ino = pmcfs_root_item_next_ino(&ri);
	sv->drop_level = pmcfs_root_item_drop_level(&ri);
	sv->drop_progress.objectid = le64toh(ri.drop_progress.objectid);
	sv->drop_progress.type = ri.drop_progress.type;
	sv->drop_progress.offset = le64toh(ri.drop_progress.offset);
	nl = pmcfs_root_item_name_len(&ri);
	sv->name_ok = nl <= PMCFS_NAME_MAX && size == sizeof(ri) + nl;
	sv->name = xmalloc(sv->name_ok ? nl + 1 : 1);
	if (sv->name_ok)
		memcpy(sv->name, body + sizeof(ri), nl);
	sv->name[sv->name_ok ? nl : 0] = 0;
	sv->usable = sv->root.level < MAX_LEVEL && sv->root.blkno >= ctx->sb.data_start &&
		     sv->root.blkno < ctx->sb.data_end;
}

static void extent_item(struct walk *w, const struct pmcfs_ckey *k, const void *body,
			uint32_t size, uint64_t blk)
{
	struct fsck_ctx *ctx = w->ctx;
	struct pmcfs_extent e;
	uint64_t phys, n;

	if (size != sizeof(e)) {
		extent_problem(w, PR_EXTENT_BAD, blk, k, "inode %llu offset %llu: %u bytes, expected %zu",
			      (unsigned long long)k->objectid, (unsigned long long)k->offset, size,
			      sizeof(e));
		return;
	}
	memcpy(&e, body, sizeof(e));
	phys = pmcfs_extent_phys(&e);
	n = pmcfs_extent_nblocks(&e);
	if (!n)
		return;
	if (phys < ctx->sb.data_start || phys >= ctx->sb.data_end || n > ctx->sb.data_end - phys) {
		extent_problem(w, PR_EXTENT_OUTSIDE, blk, k,
			      "inode %llu offset %llu: blocks %llu-%llu, data area %llu-%llu",
			      (unsigned long long)k->objectid, (unsigned long long)k->offset,
			      (unsigned long long)phys, (unsigned long long)(phys + n - 1),
			      (unsigned long long)ctx->sb.data_start,
			      (unsigned long long)ctx->sb.data_end - 1);
		return;
	}
	refs_add(w->refs, phys, n);
	refs_add(&ctx->datarefs, phys, n);
	ctx->st.extents++;
	ctx->st.data_blocks += n;
	media_hit(w, phys, n, true, k, -1);
}

static void leaf_items(struct walk *w, const uint8_t *buf, uint64_t blk)
{
	unsigned n = pmcfs_node_nritems(buf);
	size_t first;

	if (w->tree == PMCFS_SPACEMAP_TREE) {
		/* Records are checked by pass 3; keep the bad-block ones, so a
		 * rebuild of a damaged map still knows them. */
		for (unsigned i = 0; i < n; i++) {
			struct pmcfs_space_run sr;
			struct pmcfs_ckey k;
			uint32_t size;
			const void *body = pmcfs_leaf_body(buf, i, &size);
			pmcfs_node_key(buf, i, &k);
			if (size != sizeof(sr))
				continue;
			memcpy(&sr, body, sizeof(sr));
			if (pmcfs_space_run_owner(&sr) == PMCFS_OWNER_BADBLOCK &&
			    k.objectid >= w->ctx->sb.data_start && k.objectid < w->ctx->sb.data_end &&
			    pmcfs_space_run_len(&sr) <= w->ctx->sb.data_end - k.objectid)
				refs_add(&w->ctx->smbad, k.objectid, pmcfs_space_run_len(&sr));
		}
		return;
	}
	first = w->ctx->datarefs.n;
	for (unsigned i = 0; i < n; i++) {
		struct pmcfs_ckey k;
		uint32_t size;
		const uint8_t *body = pmcfs_leaf_body(buf, i, &size);

		pmcfs_node_key(buf, i, &k);
		if (w->tree == PMCFS_ROOTTAB_TREE && k.type == PMCFS_KEY_ROOT)
			root_item(w, &k, body, size);
		else if (w->tree >= PMCFS_FIRST_SUBVOL && k.type == PMCFS_KEY_EXTENT &&
			 !(w->dropping && pmcfs_key_cmp(&k, &w->drop) < 0))
			extent_item(w, &k, body, size, blk);
	}
	if (w->ctx->datarefs.n > first) {
		w->xl.v = xgrow(w->xl.v, &w->xl.cap, w->xl.n + 1, sizeof(*w->xl.v));
		w->xl.v[w->xl.n++] = (struct xleaf){ blk, w->tree, first };
	}
}

/* ---- driver ---------------------------------------------------------------- */

static void walk_tree(struct walk *w, const struct pmcfs_root_ref *root)
{
	struct bound none = { 0 };
	char tn[40];

	w->magic = pmcfs_tree_magic(w->tree);
	if (root->blkno < w->ctx->sb.data_start || root->blkno >= w->ctx->sb.data_end ||
	    root->level >= MAX_LEVEL) {
		w->cur_level = root->level;
		w->cur_bd = &none;
		w->cur_root = true;
		block_problem(w, PR_BLOCK_STRUCTURE, root->blkno, "root of the %s outside the data area",
			      tree_name(w, tn, sizeof(tn)));
		if (w->tree == PMCFS_SPACEMAP_TREE)
			w->ctx->sm_damaged = true;
		else
			w->ctx->walk_incomplete = true;
		/* Not damaged(): the block number may lie past the bitmaps. */
		w->ctx->roottab_damaged |= w->tree == PMCFS_ROOTTAB_TREE;
		if (w->sv)
			w->sv->damaged = w->sv->root_bad = true;
		return;
	}
	visit(w, root->blkno, root->gen, root->level, w->ctx->commit.generation, &none, true);
}

int pass2_walk(struct fsck_ctx *ctx)
{
	struct walk w;
	uint64_t words = (ctx->nblocks + 63) / 64;

	memset(&w, 0, sizeof(w));
	w.ctx = ctx;
	for (int l = 0; l < MAX_LEVEL; l++)
		w.buf[l] = aligned_alloc(64, PMCFS_BLOCK_SIZE);
	w.rbuf = aligned_alloc(64, PMCFS_BLOCK_SIZE);
	for (int l = 0; l < MAX_LEVEL; l++)
		if (!w.buf[l] || !w.rbuf) {
			error("out of memory: walk buffers");
			return FSCK_ERROR;
		}
	ctx->seen = xcalloc(words, 8);
	ctx->bad = xcalloc(words, 8);
	w.progress_max = ctx->sb.data_end - ctx->sb.data_start - ctx->commit.free_blocks;

	w.tree = PMCFS_ROOTTAB_TREE;
	w.refs = &ctx->refs;
	walk_tree(&w, &ctx->commit.roottab);
	w.tree = PMCFS_SPACEMAP_TREE;
	w.refs = &ctx->smrefs;
	walk_tree(&w, &ctx->commit.spacemap);
	w.refs = &ctx->refs;
	for (size_t i = 0; i < ctx->nsubvols && !fsck_cancelled; i++) {
		struct fsck_subvol *sv = &ctx->subvols[i];
		if (!sv->usable)
			continue;
		w.tree = sv->id;
		w.sv = sv;
		w.dropping = (sv->flags & PMCFS_ROOT_DROPPING) &&
			     (sv->drop_progress.objectid || sv->drop_progress.type ||
			      sv->drop_progress.offset);
		w.drop = sv->drop_progress;
		verbose(ctx, "walking subvolume %llu \"%s\"\n", (unsigned long long)sv->id, sv->name);
		walk_tree(&w, &sv->root);
	}
	for (int l = 0; l < MAX_LEVEL; l++)
		free(w.buf[l]);
	free(w.rbuf);
	crosslinks(ctx, &w.xl);
	free(w.xl.v);
	progress(ctx, 2, 1, 1);
	offer_rollback(ctx);
	return 0;
}

void pass2_release(struct fsck_ctx *ctx)
{
	free(ctx->seen);
	free(ctx->bad);
	ctx->seen = ctx->bad = NULL;
	refs_free(&ctx->refs);
	refs_free(&ctx->smrefs);
	refs_free(&ctx->datarefs);
	refs_free(&ctx->smbad);
	for (size_t i = 0; i < ctx->nsubvols; i++)
		free(ctx->subvols[i].name);
	free(ctx->subvols);
	ctx->subvols = NULL;
	ctx->nsubvols = 0;
	free(ctx->hits);
	ctx->hits = NULL;
	free(ctx->damage);
	ctx->damage = NULL;
	ctx->ndamage = ctx->damage_cap = 0;
	ctx->nhits = ctx->hits_cap = 0;
	ctx->walk_incomplete = ctx->sm_damaged = ctx->roottab_damaged = false;
	ctx->rebuild_yes = ctx->rebuild_no = 0;
	memset(&ctx->st, 0, sizeof(ctx->st));
}

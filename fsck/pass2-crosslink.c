// SPDX-License-Identifier: MIT
/*
 * Pass 2, after the walk: data extents over tree blocks (P2.014).
 *
 * Every tree block is in the seen bitmap once the walk is over, so an
 * extent is checked against it only then. A cross-linked reference is
 * traced back to its item through the leaf that counted it (struct
 * xleaf: one entry per leaf) and the item's rank among that leaf's
 * counted extents, and the fix deletes the extent item from every tree
 * holding it (prune.c, as for P2.012): the tree block wins, since a
 * tree's blocks are checked (checksum, owner, generation) and an
 * extent's target is not. The file loses the range, and pass 4 names it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "pass2.h"
#include "pmcfs_endian.h"

static const struct fsck_subvol *subvol(const struct fsck_ctx *ctx, uint64_t id)
{
	for (size_t i = 0; i < ctx->nsubvols; i++)
		if (ctx->subvols[i].id == id)
			return &ctx->subvols[i];
	return NULL;
}

/* The leaf that counted datarefs[i]: the last one whose first is <= i. */
static const struct xleaf *leaf_of(const struct xleaves *xl, size_t i)
{
	size_t lo = 0, hi = xl->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (xl->v[mid].first <= i)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo ? &xl->v[lo - 1] : NULL;
}

/*
 * The key of the rank-th extent the walk counted in leaf buf: the items
 * pass2-walk.c's extent_item() counts (one block or more, inside the
 * data area; not below a dropping tree's progress key).
 */
static bool nth_extent(const struct fsck_ctx *ctx, const uint8_t *buf, const struct fsck_subvol *sv,
		       size_t rank, struct pmcfs_ckey *ret, uint64_t *phys, uint64_t *n)
{
	bool dropping = sv && (sv->flags & PMCFS_ROOT_DROPPING) &&
			(sv->drop_progress.objectid || sv->drop_progress.type || sv->drop_progress.offset);

	for (unsigned i = 0; i < pmcfs_node_nritems(buf); i++) {
		struct pmcfs_extent e;
		struct pmcfs_ckey k;
		uint32_t size;
		const void *body = pmcfs_leaf_body(buf, i, &size);

		pmcfs_node_key(buf, i, &k);
		if (k.type != PMCFS_KEY_EXTENT || size != sizeof(e) ||
		    (dropping && pmcfs_key_cmp(&k, &sv->drop_progress) < 0))
			continue;
		memcpy(&e, body, sizeof(e));
		*phys = pmcfs_extent_phys(&e);
		*n = pmcfs_extent_nblocks(&e);
		if (!*n || *phys < ctx->sb.data_start || *phys >= ctx->sb.data_end ||
		    *n > ctx->sb.data_end - *phys)
			continue;
		if (!rank--) {
			*ret = k;
			return true;
		}
	}
	return false;
}

/* The item behind datarefs[i], read again from its leaf; false if it cannot be told. */
static bool item_of(struct fsck_ctx *ctx, const struct xleaves *xl, size_t i, uint8_t *buf,
		    const struct xleaf **ret_leaf, struct pmcfs_ckey *ret_key)
{
	const struct xleaf *l = leaf_of(xl, i);
	uint64_t phys, n;

	*ret_leaf = l;
	return l && !pmcfs_block_read(ctx->fs, l->blk, buf) &&
	       !pmcfs_node_verify(ctx->fs, buf, l->blk, pmcfs_tree_magic(l->tree), 0, NULL) &&
	       nth_extent(ctx, buf, subvol(ctx, l->tree), i - l->first, ret_key, &phys, &n) &&
	       phys == ctx->datarefs.v[i].start && n == ctx->datarefs.v[i].len;
}

static void want_delete(struct fsck_ctx *ctx, const struct xleaf *l, const struct pmcfs_ckey *k)
{
	for (size_t i = 0; i < ctx->ndamage; i++)
		if (ctx->damage[i].level < 0 && !pmcfs_key_cmp(&ctx->damage[i].key, k))
			return;	/* prune.c deletes it from every tree holding it */
	ctx->damage = xgrow(ctx->damage, &ctx->damage_cap, ctx->ndamage + 1, sizeof(*ctx->damage));
	ctx->damage[ctx->ndamage++] = (struct fsck_damage){ l->tree, l->blk, -1, *k, *k, false, false, false };
}

static void crosslink(struct fsck_ctx *ctx, const struct xleaves *xl, size_t i, uint64_t b,
		      uint8_t *buf)
{
	const struct fsck_ref *r = &ctx->datarefs.v[i];
	const struct xleaf *l;
	struct pmcfs_ckey k;
	bool known = item_of(ctx, xl, i, buf, &l, &k);

	ctx->no_fix = !known;
	if (!known) {
		fix_problem(ctx, PR_CROSSLINK, "block %llu is a tree block and extent data",
			    (unsigned long long)b);
	} else if (fix_problem(ctx, PR_CROSSLINK,
			       "block %llu is a tree block and extent data: block %llu in the "
			       "subvolume %llu: inode %llu offset %llu: blocks %llu-%llu",
			       (unsigned long long)b, (unsigned long long)l->blk,
			       (unsigned long long)l->tree, (unsigned long long)k.objectid,
			       (unsigned long long)k.offset, (unsigned long long)r->start,
			       (unsigned long long)(r->start + r->len - 1))) {
		want_delete(ctx, l, &k);
	}
	ctx->no_fix = false;
}

void crosslinks(struct fsck_ctx *ctx, const struct xleaves *xl)
{
	uint8_t *buf = NULL;

	for (size_t i = 0; i < ctx->datarefs.n && !fsck_cancelled; i++) {
		uint64_t s = ctx->datarefs.v[i].start, e = s + ctx->datarefs.v[i].len;
		for (uint64_t b = s; b < e; b++) {
			if (!(b & 63) && e - b >= 64 && !((const uint64_t *)(void *)ctx->seen)[b / 64]) {
				b += 63;
				continue;
			}
			if (!bit_test(ctx->seen, b))
				continue;
			if (!buf && !(buf = aligned_alloc(64, PMCFS_BLOCK_SIZE))) {
				error("out of memory: a block buffer");
				exit(FSCK_ERROR);
			}
			crosslink(ctx, xl, i, b, buf);
			break;
		}
	}
	free(buf);
}

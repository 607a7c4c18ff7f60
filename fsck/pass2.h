/* SPDX-License-Identifier: MIT */
/* Private to pass 2 (pass2-walk.c: the walk; pass2-crosslink.c: data over tree blocks). */
#ifndef FSCK_PASS2_H
#define FSCK_PASS2_H

#include "fsck.h"

/*
 * A leaf whose extents were counted as ctx->datarefs[first..]: one entry
 * per leaf, not per extent, so a cross-linked reference can be traced
 * back to its item without keeping a key per extent.
 */
struct xleaf {
	uint64_t blk, tree;
	size_t first;
};

struct xleaves {
	struct xleaf *v;
	size_t n, cap;
};

/* After the walk: report extents over tree blocks; those to fix go to ctx->damage. */
void crosslinks(struct fsck_ctx *ctx, const struct xleaves *xl);

#endif

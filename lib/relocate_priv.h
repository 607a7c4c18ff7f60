/* SPDX-License-Identifier: MIT */
/* Internals shared by the bad-media move files (relocate.c, relocate_walk.c). */
#ifndef PMCFS_RELOCATE_PRIV_H
#define PMCFS_RELOCATE_PRIV_H

#include "fs_priv.h"
#include "pmcfs_relocate.h"

#define BS		PMCFS_BLOCK_SIZE

/* Where [old + off, old + off + len) of a unit went. */
struct piece {
	uint64_t off, len, new;
};

/* One move unit: its copy is one piece, or several when no free run is long enough. */
struct unit {
	uint64_t old, len;
	struct piece *p;
	size_t np;
};

struct ranges {
	struct pmcfs_badrange *v;
	size_t n, cap;
};

struct reloc {
	struct pmcfs_trans *tx;
	struct pmcfs_fs *fs;
	struct ranges bad;		/* sorted, merged */
	struct ranges zeroed;		/* old blocks written as zeros, ascending */
	struct ranges cand;		/* ranges of the items touching bad blocks */
	struct unit *u;
	size_t nu;
	uint8_t *skip;			/* tree blocks the walk need not descend into */
	pmcfs_relocate_fn fn;
	void *ctx;
	struct pmcfs_relocate_result *res;
};

/* Append [start, start+len), extending the last range if it ends at start. */
int reloc_ranges_add(struct ranges *r, uint64_t start, uint64_t len);
/* Index of the first range of r (ascending) ending after b. */
size_t reloc_ranges_find(const struct ranges *r, uint64_t b);
/* Does a range of r overlap [start, start+len)? */
bool reloc_ranges_overlap(const struct ranges *r, uint64_t start, uint64_t len);
/* Where old block phys of u went, and how many blocks on from it stay contiguous. */
uint64_t reloc_unit_new(const struct unit *u, uint64_t phys, uint64_t *ret_run);

typedef int (*reloc_subvol_fn)(struct reloc *r, uint64_t id, struct pmcfs_tree *t);
/* fn on every subvolume and snapshot (listed first: fn may change the root table). */
int reloc_for_each_subvol(struct reloc *r, reloc_subvol_fn fn);
/* Step 2, per tree: the physical ranges of the items touching a bad block, into r->cand. */
int reloc_collect(struct reloc *r, uint64_t id, struct pmcfs_tree *t);
/* Step 4, per tree: every item lying inside a unit points at its copy. */
int reloc_remap(struct reloc *r, uint64_t id, struct pmcfs_tree *t);

#endif /* PMCFS_RELOCATE_PRIV_H */

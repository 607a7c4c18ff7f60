/* SPDX-License-Identifier: MIT */
/*
 * Moving file data off bad media, for offline repair (fsck.pmcfs). On
 * pmem a bad block is poison: a read faults or fails, and only a write of
 * the whole block clears it. So the data of every extent touching a bad
 * block is copied to a new run, the bad blocks of it written as zeros
 * (never read), every extent item pointing into the old range is pointed
 * at the copy, and the bad blocks are recorded as bad media. All in the
 * caller's transaction: an interrupted repair leaves the old or the new
 * committed state.
 */
#ifndef PMCFS_RELOCATE_H
#define PMCFS_RELOCATE_H

#include "pmcfs.h"

/* One extent item that now points at the copy. */
struct pmcfs_relocate_info {
	uint64_t subvol, ino;
	uint64_t offset;		/* file byte offset of the item */
	uint64_t old_phys, new_phys, nblocks;
	uint32_t flags;			/* the extent's flags (unchanged) */
	bool rdonly;			/* in a read-only snapshot, which stays read-only */
	uint64_t lost_blocks;		/* blocks that now read as zeros (0 if unwritten) */
	uint64_t lost_lo, lost_hi;	/* file bytes [lost_lo, lost_hi) spanning them */
};

/* Called for each item moved, inside the transaction; nonzero stops the move. */
typedef int (*pmcfs_relocate_fn)(void *ctx, const struct pmcfs_relocate_info *info);

struct pmcfs_relocate_result {
	uint64_t runs;			/* runs written (a split unit writes several) */
	uint64_t split_units;		/* units copied into several runs: no free run was long enough */
	uint64_t blocks;		/* blocks copied */
	uint64_t items;			/* extent items remapped */
	uint64_t lost_blocks;		/* blocks written as zeros */
	uint64_t marked_bad;		/* blocks newly recorded as bad media */
	uint64_t busy;			/* bad blocks still in use (tree blocks): not recorded */
};

/*
 * Move every data extent that overlaps bad[0..nbad) (blocks, any order,
 * may overlap) off it, in every subvolume and snapshot:
 *
 * - a move unit is a maximal physical range covered by overlapping extent
 *   items that touch a bad block; each gets one new run (2 MiB aligned
 *   when it was and is at least half a DAX unit long, as the write path
 *   places large extents), so reflinked and snapshotted extents stay
 *   shared: every item lying inside a unit is remapped to the copy and
 *   the counts stay exact per block. An item that only shares good
 *   blocks with a unit keeps the old ones (they stay allocated for it).
 * - blocks of bad[], blocks the space map records as bad, and blocks
 *   whose read fails with EIO are written as zeros, never read; the rest
 *   is copied.
 * - a read-only snapshot is changed too (only where its data lives, and
 *   what read as an I/O error reads as zeros), and stays read-only: its
 *   create_gen moves to this transaction, so that it still holds no block
 *   newer than create_gen. The caller must know it held none before (fsck
 *   checks that), or that evidence is lost.
 * - then every block of bad[] (and every block found unreadable) that is
 *   free, or was freed by the move, is recorded as bad media; one still
 *   in use (a tree block) is counted in busy and left.
 *
 * References into runs recorded as bad (a space map that says bad under
 * live data) are not counted while they move: such a run keeps its bad
 * record, which is exact once nothing refers to it.
 *
 * A unit that finds no free run as long as itself is copied into several
 * (split_units counts them), and every item crossing a boundary between
 * them becomes one item per run: the file reads the same, its data is
 * shared as before, only less contiguous. -ENOSPC only when the free
 * blocks do not add up to the unit; any error leaves the transaction to
 * be aborted.
 */
int pmcfs_data_relocate(struct pmcfs_trans *tx, const struct pmcfs_badrange *bad, size_t nbad,
			pmcfs_relocate_fn fn, void *ctx, struct pmcfs_relocate_result *ret);

#endif /* PMCFS_RELOCATE_H */

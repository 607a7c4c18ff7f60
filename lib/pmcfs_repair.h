/* SPDX-License-Identifier: MIT */
/*
 * Repair primitives for offline tools (fsck.pmcfs). Each one works inside
 * an ordinary transaction, so an interrupted repair leaves either the old
 * or the repaired committed state, never a mix.
 */
#ifndef PMCFS_REPAIR_H
#define PMCFS_REPAIR_H

#include "pmcfs.h"

/*
 * Replace the space map with a freshly built tree describing runs[0..n),
 * a canonical partition of [0, nblocks) (sorted, contiguous from 0,
 * adjacent runs differing in refcount or owner) as it must be after the
 * commit, not counting the new tree's own nodes: those are placed in a
 * free run of the partition and counted 1 by the function itself, which
 * settles the circularity (the nodes change the partition they describe)
 * in two steps rather than by iteration, see repair.c.
 *
 * keep[0..nkeep) are blocks free in runs that must not be written by this
 * transaction because the durable commit still uses them (the old space
 * map's own nodes); they become allocatable once the transaction commits.
 *
 * The transaction must not have changed anything else yet (-EBUSY).
 * -EINVAL if runs is not a canonical partition of the device, -ENOSPC if
 * no free run is long enough for the new tree.
 */
int pmcfs_space_rebuild(struct pmcfs_trans *tx, const struct pmcfs_space_info *runs, size_t n,
			const struct pmcfs_badrange *keep, size_t nkeep);

/*
 * Record [start, start+len) as bad media (owner BADBLOCK, refcount 1) so
 * it is never allocated. Every block must be free or already bad: free
 * since the last commit, or freed by this transaction (a tree block just
 * rewritten elsewhere, say; it leaves the list of blocks that become
 * allocatable at commit). -EBUSY, changing nothing, if one is in use:
 * what is on it must be moved first.
 */
int pmcfs_space_set_bad(struct pmcfs_trans *tx, uint64_t start, uint64_t len);

/*
 * Cut out of t the subtree under the unusable block blkno: the child at
 * `level` that the descent by `key` (the key its parent's pointer holds)
 * reaches. Every node above it must be readable; they are shadowed as
 * for any change, the pointer is deleted, interior nodes left empty go
 * (an emptied tree becomes an empty leaf), underfull ones merge with a
 * readable sibling, and a root left with one child hands over. Allowed
 * on read-only snapshots: a repair, not an item change.
 *
 * The block's reference count drops only if another tree still holds it:
 * releasing the last reference would mean reading the block to release
 * what it points to, so that is left to the caller (*ret_kept true),
 * which must recount the space from a walk (fsck.pmcfs rebuilds the
 * space map).
 *
 * -ENOENT if the descent reaches another block (a tree that does not
 * share it), -EINVAL if blkno is t's root. pmcfs_tree_prune_probe says
 * the same without a transaction and without changing anything.
 */
int pmcfs_tree_prune(struct pmcfs_trans *tx, struct pmcfs_tree *t, unsigned level,
		     const struct pmcfs_ckey *key, uint64_t blkno, bool *ret_kept);
int pmcfs_tree_prune_probe(struct pmcfs_tree *t, unsigned level, const struct pmcfs_ckey *key,
			   uint64_t blkno);

/*
 * Rewrite the sound block blkno of t - the node at `level` that the
 * descent by `key` reaches (any key reaches the root) - as a fresh copy
 * in a new block, through the copy-on-write path: the nodes above it
 * are shadowed as for any change, and the copy gets a correct header
 * (new block number, this transaction's generation, t as owner, and its
 * checksum at commit). Counts stay exact as for any shadow: if another
 * tree still holds the original it keeps that reference and the copy's
 * children gain one; a block only t held is released, reusable once
 * this transaction is durable. The original is read and verified (not
 * its owner), never written. Fixes a wrong header field; moves a block
 * off a bad one. A block this transaction already wrote is new already
 * and stays where it is. Allowed on read-only snapshots (the contents do
 * not change, but the copy is newer than the snapshot: clearing the
 * flag, or not calling this, is the caller's choice). *ret_blkno
 * (optional) is where the block now is.
 *
 * Call it once per tree that reaches the block; to rewrite several
 * blocks in one transaction, take them from the highest level down (a
 * block above another is shadowed, so moved, on the way to it).
 * -ENOENT if the descent reaches another block. pmcfs_tree_reaches says
 * whether it does (0), without a transaction and changing nothing.
 */
int pmcfs_tree_rewrite(struct pmcfs_trans *tx, struct pmcfs_tree *t, unsigned level,
		       const struct pmcfs_ckey *key, uint64_t blkno, uint64_t *ret_blkno);
int pmcfs_tree_reaches(struct pmcfs_tree *t, unsigned level, const struct pmcfs_ckey *key,
		       uint64_t blkno);

/*
 * Give subvolume id a new, empty tree (one empty leaf) in place of its
 * unusable root block, which is never read. As for pmcfs_tree_prune,
 * the old root's reference count drops only if another tree still holds
 * it (*ret_kept false); otherwise it and everything under it stay
 * counted, and the caller must recount the space (fsck.pmcfs rebuilds
 * the space map). The root item keeps its name, flags, parent links and
 * next_ino (inode numbers are not reused). The subvolume has no root
 * directory afterwards: the caller makes one.
 */
int pmcfs_subvol_reset_root(struct pmcfs_trans *tx, uint64_t id, bool *ret_kept);

/*
 * A repair that keeps a read-only snapshot's contents but moves its
 * blocks (pmcfs_tree_rewrite, pmcfs_data_relocate) gives it blocks newer
 * than the snapshot. Rather than lose the read-only flag (backups stay
 * immutable), the snapshot's create_gen becomes this transaction's
 * generation: it is, from now on, as of this generation, and the check
 * that it holds no newer block keeps its meaning. The caller must not
 * use this on a snapshot that already held newer blocks (that evidence
 * would be lost). No-op if create_gen is already this generation.
 */
int pmcfs_subvol_advance_create_gen(struct pmcfs_trans *tx, uint64_t id);

/*
 * Make the commit in slot (enum pmcfs_slot_state's index) current again:
 * for fsck, when the newest commit's trees are damaged beyond repair and
 * that older commit's trees verify (the caller checks; this does not).
 * Its record is written once more with the generation after the newest
 * one, so it outranks it: the slot of a generation is its parity, so the
 * newest record stays where it is, as the previous commit, and no
 * generation number is ever used for two states. Nothing else is
 * written: what the abandoned commits wrote is free in the older
 * commit's space map. A crash leaves the newest commit or the rollback.
 * -EINVAL if the slot is not valid or not older than the newest.
 * *ret_gen: the rollback's generation.
 */
int pmcfs_fs_rollback(struct pmcfs_dev *dev, int slot, uint64_t *ret_gen);

/*
 * Replace the root table, which cannot be read, with a new one holding
 * exactly the entries v[0..n) (ids unique, non-empty names unique, each
 * next_ino at least PMCFS_FIRST_INO) and a NEXT_SUBVOL item of next_id,
 * above every id. For fsck, when a damaged root table would cost whole
 * subvolumes: the entries are what survived and what a scan for root
 * blocks found. The old table's blocks are never read and stay counted,
 * and each entry's reference to its root block is taken as counted
 * already (it was the lost entry's): the caller must recount the space
 * (fsck.pmcfs rebuilds the space map). Open subvolumes follow their new
 * entries. -EBUSY if the root table or an open subvolume was changed
 * earlier in the transaction; -EINVAL or -EEXIST for bad entries.
 */
int pmcfs_roottab_rebuild(struct pmcfs_trans *tx, const struct pmcfs_subvol_info *v, size_t n,
			  uint64_t next_id);

/*
 * One above the greatest inode number in the fs tree at root
 * (PMCFS_FIRST_INO if it holds none): a safe next_ino for an entry that
 * was lost. Reads the tree's rightmost path only.
 */
int pmcfs_tree_next_ino(struct pmcfs_fs *fs, const struct pmcfs_root_ref *root, uint64_t *ret);

#endif /* PMCFS_REPAIR_H */

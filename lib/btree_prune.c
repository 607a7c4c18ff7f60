// SPDX-License-Identifier: MIT
/* Cutting an unusable subtree out of a tree (repair); see pmcfs_repair.h. */
#include <errno.h>
#include <string.h>
#include "btree_priv.h"
#include "pmcfs_repair.h"

/* Does the descent by key reach blkno at level? Reads only. */
static int reaches(struct pmcfs_tree *t, int level, const struct pmcfs_ckey *key, uint64_t blkno)
{
	struct pmcfs_buf *b;
	uint64_t blk, gen;
	int err;

	if (level >= t->root.level)
		return t->root.blkno == blkno && level == t->root.level ? -EINVAL : -ENOENT;
	if ((err = btree_read_root(t, &b)))
		return err;
	for (int l = t->root.level; l > level; l--) {
		pmcfs_node_child(b->data, btree_node_search(b, key), &blk, &gen);
		if (l - 1 == level)
			return blk == blkno ? 0 : -ENOENT;
		if ((err = pmcfs_read_node(t->fs, blk, t->magic, l - 1, gen, &b)))
			return err;
	}
	return -ENOENT;
}

int pmcfs_tree_prune_probe(struct pmcfs_tree *t, unsigned level, const struct pmcfs_ckey *key,
			   uint64_t blkno)
{
	return reaches(t, (int)level, key, blkno);
}

int pmcfs_tree_prune(struct pmcfs_trans *tx, struct pmcfs_tree *t, unsigned level,
		     const struct pmcfs_ckey *key, uint64_t blkno, bool *ret_kept)
{
	int err, l, pl = (int)level + 1;
	uint64_t blk, gen;
	struct path p;
	uint32_t rc;

	if ((err = btree_check_tx_drop(tx, t)))
		return err;
	/* Probe first: nothing is shadowed on a path that leads elsewhere. */
	if ((err = reaches(t, (int)level, key, blkno)))
		return err;
	pmcfs_cache_trim(&t->fs->cache);
	memset(&p, 0, sizeof(p));
	p.top = t->root.level;
	if ((err = btree_read_root(t, &p.b[p.top])) || (err = btree_cow_at(tx, t, &p, p.top)))
		return err;
	for (l = p.top; l > pl; l--) {
		p.slot[l] = (int)btree_node_search(p.b[l], key);
		pmcfs_node_child(p.b[l]->data, (unsigned)p.slot[l], &blk, &gen);
		if ((err = pmcfs_read_node(t->fs, blk, t->magic, l - 1, gen, &p.b[l - 1])) ||
		    (err = btree_cow_at(tx, t, &p, l - 1)))
			return err;
	}
	p.slot[pl] = (int)btree_node_search(p.b[pl], key);
	pmcfs_node_child(p.b[pl]->data, (unsigned)p.slot[pl], &blk, &gen);
	if (blk != blkno)
		return -PMCFS_ECORRUPT;	/* the probe said otherwise */
	/*
	 * Another tree still holding the block keeps its count exact; the
	 * last reference is left alone, since releasing it would mean
	 * reading the block to release what it points to. The caller
	 * recounts the space from a walk (fsck rebuilds the space map).
	 */
	*ret_kept = true;
	if (pmcfs_tree_shareable(t) && !(err = btree_node_count(t, blkno, &rc)) && rc > 1) {
		err = pmcfs_space_dec(tx, blkno, 1);
		*ret_kept = false;
	}
	if (err)
		return err;
	btree_node_delete_ptr(p.b[pl], (unsigned)p.slot[pl]);
	/* Interior nodes left empty go, up the path; an emptied tree is an empty leaf. */
	for (l = pl; nritems(p.b[l]) == 0; l++) {
		if ((err = btree_node_release(tx, t, p.b[l]->blkno)))
			return err;
		if (l == p.top)
			return pmcfs_tree_new_root(tx, t);
		btree_node_delete_ptr(p.b[l + 1], (unsigned)p.slot[l + 1]);
	}
	for (; l < p.top; l++)
		if ((err = btree_fix_underflow_if_readable(tx, t, &p, l)))
			return err;
	return btree_shrink_root(tx, t);
}

int pmcfs_subvol_reset_root(struct pmcfs_trans *tx, uint64_t id, bool *ret_kept)
{
	struct pmcfs_root_ref old;
	struct pmcfs_tree *t;
	uint32_t rc;
	int err;

	if (!tx || !tx->fs->in_trans || &tx->fs->tx != tx)
		return -EINVAL;
	if ((err = pmcfs_subvol_open(tx->fs, id, &t)))
		return err;
	old = t->root;
	*ret_kept = true;
	/* As for a cut: only a reference another tree keeps can be dropped unread. */
	if (!(err = btree_node_count(t, old.blkno, &rc)) && rc > 1) {
		err = pmcfs_space_dec(tx, old.blkno, 1);
		*ret_kept = false;
	}
	return err ? err : pmcfs_tree_new_root(tx, t);
}

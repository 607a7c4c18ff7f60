// SPDX-License-Identifier: MIT
/* Dropping a tree a step at a time (snapshot deletion); see pmcfs(5) SNAPSHOTS. */
#include <errno.h>
#include "btree_priv.h"

/* ---- dropping a tree (snapshot deletion) ---------------------------------------- */

/*
 * One step of dropping t: remove the leftmost child subtree of the
 * leftmost path, through ordinary copy-on-write, so the tree is a valid
 * tree with exact refcounts at every commit and an interrupted deletion
 * simply continues. A subtree still shared with another tree (count > 1)
 * costs one decrement, however large it is; only blocks private to t
 * are visited. *ret_done when the tree is empty and its root released.
 */
int pmcfs_tree_drop_step(struct pmcfs_trans *tx, struct pmcfs_tree *t, bool *ret_done)
{
	struct path p;
	uint64_t blk, gen;
	uint32_t rc;
	int err, level;

	*ret_done = false;
	if ((err = btree_check_tx_drop(tx, t)))
		return err;
	pmcfs_cache_trim(&t->fs->cache);
	if ((err = btree_node_count(t, t->root.blkno, &rc)))
		return err;
	if (rc > 1) {			/* the whole tree is shared: drop our reference */
		if ((err = pmcfs_space_dec(tx, t->root.blkno, 1)))
			return err;
		goto done;
	}
	memset(&p, 0, sizeof(p));
	p.top = t->root.level;
	if ((err = btree_read_root(t, &p.b[p.top])) || (err = btree_cow_at(tx, t, &p, p.top)))
		return err;
	/* Down the leftmost path through private interior nodes. */
	for (level = p.top; level > 1; level--) {
		pmcfs_node_child(p.b[level]->data, 0, &blk, &gen);
		if ((err = btree_node_count(t, blk, &rc)))
			return err;
		if (rc > 1)
			break;
		p.slot[level] = 0;
		if ((err = pmcfs_read_node(t->fs, blk, t->magic, level - 1, gen, &p.b[level - 1])) ||
		    (err = btree_cow_at(tx, t, &p, level - 1)))
			return err;
	}
	if (level == 0) {		/* a single-leaf tree */
		if ((err = pmcfs_node_for_each_ref(tx, t, p.b[0]->data, pmcfs_space_dec)) ||
		    (err = btree_node_release(tx, t, p.b[0]->blkno)))
			return err;
		goto done;
	}
	/* Drop the leftmost child of p.b[level]: shared (one decrement) or a private leaf. */
	pmcfs_node_child(p.b[level]->data, 0, &blk, &gen);
	if ((err = btree_node_count(t, blk, &rc)))
		return err;
	if (rc == 1) {
		struct pmcfs_buf *leaf;
		if ((err = pmcfs_read_node(t->fs, blk, t->magic, 0, gen, &leaf)) ||
		    (err = pmcfs_node_for_each_ref(tx, t, leaf->data, pmcfs_space_dec)))
			return err;
	}
	if ((err = btree_node_release(tx, t, blk)))
		return err;
	btree_node_delete_ptr(p.b[level], 0);
	/* Empty interior nodes go too, up to the root. */
	while (nritems(p.b[level]) == 0) {
		if ((err = btree_node_release(tx, t, p.b[level]->blkno)))
			return err;
		if (level == p.top)
			goto done;
		btree_node_delete_ptr(p.b[level + 1], 0);
		level++;
	}
	return 0;
done:
	t->root.blkno = 0;
	t->gone = true;
	*ret_done = true;
	return 0;
}

int pmcfs_tree_drop(struct pmcfs_trans *tx, struct pmcfs_tree *t)
{
	bool done = false;
	int err = 0;

	while (!err && !done)
		err = pmcfs_tree_drop_step(tx, t, &done);
	return err;
}

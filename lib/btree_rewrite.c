// SPDX-License-Identifier: MIT
/* Rewriting a sound tree block as a fresh copy (repair); see pmcfs_repair.h. */
#include <errno.h>
#include <string.h>
#include "btree_priv.h"
#include "pmcfs_repair.h"

int pmcfs_tree_reaches(struct pmcfs_tree *t, unsigned level, const struct pmcfs_ckey *key,
		       uint64_t blkno)
{
	if (t->gone || !t->root.blkno)
		return -ENOENT;
	/* The prune probe refuses the root (a cut cannot take it); a rewrite can. */
	if (level == t->root.level)
		return t->root.blkno == blkno ? 0 : -ENOENT;
	return pmcfs_tree_prune_probe(t, level, key, blkno);
}

int pmcfs_tree_rewrite(struct pmcfs_trans *tx, struct pmcfs_tree *t, unsigned level,
		       const struct pmcfs_ckey *key, uint64_t blkno, uint64_t *ret_blkno)
{
	uint64_t blk, gen;
	struct path p;
	int err, l;

	/* Allowed on read-only snapshots: no item changes (the caller decides). */
	if ((err = btree_check_tx_drop(tx, t)))
		return err;
	/* Probe first: nothing is shadowed on a path that leads elsewhere. */
	if ((err = pmcfs_tree_reaches(t, level, key, blkno)))
		return err;
	pmcfs_cache_trim(&t->fs->cache);
	memset(&p, 0, sizeof(p));
	p.top = t->root.level;
	/*
	 * Shadowing is the whole rewrite: the copy gets a new block, this
	 * transaction's generation, t as owner and (at commit) its checksum;
	 * the parent points at it; a shared original keeps its other
	 * references and the copy's children gain one, a private one is
	 * released (reusable only once this commit is durable).
	 */
	if ((err = btree_read_root(t, &p.b[p.top])) || (err = btree_cow_at(tx, t, &p, p.top)))
		return err;
	for (l = p.top; l > (int)level; l--) {
		p.slot[l] = (int)btree_node_search(p.b[l], key);
		pmcfs_node_child(p.b[l]->data, (unsigned)p.slot[l], &blk, &gen);
		if (l - 1 == (int)level && blk != blkno)
			return -PMCFS_ECORRUPT;	/* the probe said otherwise */
		if ((err = pmcfs_read_node(t->fs, blk, t->magic, l - 1, gen, &p.b[l - 1])) ||
		    (err = btree_cow_at(tx, t, &p, l - 1)))
			return err;
	}
	if (ret_blkno)
		*ret_blkno = p.b[level]->blkno;
	return 0;
}

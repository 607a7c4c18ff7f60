// SPDX-License-Identifier: MIT
/*
 * In-order iteration. The iterator keeps block numbers and a copy of the
 * current leaf, not cache buffers, so other reads between calls (which
 * may trim the cache) cannot pull anything from under it.
 */
#include <errno.h>
#include <stdlib.h>
#include "btree_priv.h"

/* ---- iteration ---------------------------------------------------------------------- */

struct pmcfs_iter {
	struct pmcfs_fs *fs;
	struct pmcfs_tree *t;
	struct {
		uint64_t blkno, gen;
		unsigned slot;
	} lvl[PMCFS_MAX_LEVEL];
	int top;
	unsigned slot;
	bool done;
	_Alignas(64) uint8_t leaf[PMCFS_BLOCK_SIZE];
};

/* Descend from lvl[level] (whose slot is set) to a leaf, leftmost below level-1. */
static int iter_descend(struct pmcfs_iter *it, int level, const struct pmcfs_ckey *start)
{
	struct pmcfs_buf *b;
	int err;

	for (; level >= 0; level--) {
		if ((err = pmcfs_read_node(it->fs, it->lvl[level].blkno, it->t->magic, level,
					   it->lvl[level].gen, &b)))
			return err;
		if (level == 0) {
			bool found;
			memcpy(it->leaf, b->data, PMCFS_BLOCK_SIZE);
			it->slot = start ? btree_leaf_search(b, start, &found) : 0;
			return 0;
		}
		it->lvl[level].slot = start ? btree_node_search(b, start) : 0;
		pmcfs_node_child(b->data, it->lvl[level].slot, &it->lvl[level - 1].blkno,
				 &it->lvl[level - 1].gen);
	}
	return 0;
}

int pmcfs_iter_start(struct pmcfs_fs *fs, struct pmcfs_tree *t, const struct pmcfs_ckey *start,
		     struct pmcfs_iter **ret_it)
{
	struct pmcfs_iter *it;
	struct pmcfs_ckey zero = { 0, 0, 0 };
	int err;

	if (t->gone || !t->root.blkno)
		return -ENOENT;
	pmcfs_cache_trim(&fs->cache);
	it = calloc(1, sizeof(*it));
	if (!it)
		return -ENOMEM;
	it->fs = fs;
	it->t = t;
	it->top = t->root.level;
	it->lvl[it->top].blkno = t->root.blkno;
	it->lvl[it->top].gen = t->root.gen;
	err = iter_descend(it, it->top, start ? start : &zero);
	if (err) {
		free(it);
		return err;
	}
	*ret_it = it;
	return 0;
}

int pmcfs_iter_next(struct pmcfs_iter *it, struct pmcfs_ckey *ret_key, const void **ret_body,
		    uint32_t *ret_size)
{
	while (!it->done && it->slot >= pmcfs_node_nritems(it->leaf)) {
		int level, err;
		for (level = 1; level <= it->top; level++) {
			struct pmcfs_buf *b;
			if ((err = pmcfs_read_node(it->fs, it->lvl[level].blkno, it->t->magic,
						   level, it->lvl[level].gen, &b)))
				return err;
			if (it->lvl[level].slot + 1 < nritems(b)) {
				it->lvl[level].slot++;
				pmcfs_node_child(b->data, it->lvl[level].slot,
						 &it->lvl[level - 1].blkno, &it->lvl[level - 1].gen);
				break;
			}
		}
		if (level > it->top) {
			it->done = true;
			break;
		}
		if ((err = iter_descend(it, level - 1, NULL)))
			return err;
	}
	if (it->done)
		return 0;
	pmcfs_node_key(it->leaf, it->slot, ret_key);
	*ret_body = pmcfs_leaf_body(it->leaf, it->slot, ret_size);
	it->slot++;
	return 1;
}

void pmcfs_iter_free(struct pmcfs_iter *it)
{
	free(it);
}

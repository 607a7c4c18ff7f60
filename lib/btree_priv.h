/* SPDX-License-Identifier: MIT */
/* Internals shared by the B+tree files (btree.c, btree_drop.c, btree_iter.c). */
#ifndef PMCFS_BTREE_PRIV_H
#define PMCFS_BTREE_PRIV_H

#include "fs_priv.h"

struct path {
	struct pmcfs_buf *b[PMCFS_MAX_LEVEL];
	int slot[PMCFS_MAX_LEVEL];
	int top;			/* level of the root */
};

static inline unsigned nritems(const struct pmcfs_buf *b) { return pmcfs_node_nritems(b->data); }

int btree_check_tx_drop(struct pmcfs_trans *tx, struct pmcfs_tree *t);
int btree_node_count(struct pmcfs_tree *t, uint64_t blkno, uint32_t *rc);
int btree_read_root(struct pmcfs_tree *t, struct pmcfs_buf **ret);
int btree_cow_at(struct pmcfs_trans *tx, struct pmcfs_tree *t, struct path *p, int level);
int btree_node_release(struct pmcfs_trans *tx, struct pmcfs_tree *t, uint64_t blkno);
void btree_node_delete_ptr(struct pmcfs_buf *b, unsigned slot);
unsigned btree_leaf_search(struct pmcfs_buf *b, const struct pmcfs_ckey *k, bool *found);
unsigned btree_node_search(struct pmcfs_buf *b, const struct pmcfs_ckey *k);
int btree_shrink_root(struct pmcfs_trans *tx, struct pmcfs_tree *t);
int btree_fix_underflow_if_readable(struct pmcfs_trans *tx, struct pmcfs_tree *t, struct path *p,
				    int level);

#endif

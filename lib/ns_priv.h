/* SPDX-License-Identifier: MIT */
/* Internals shared by the namespace files (ns_*.c). */
#ifndef PMCFS_NS_PRIV_H
#define PMCFS_NS_PRIV_H

#include <sys/stat.h>
#include "fs_priv.h"
#include "pmcfs_ns.h"

#define BS			PMCFS_BLOCK_SIZE
#define PMCFS_MAX_EXTENT_BLOCKS	(1u << 18)	/* 1 GiB per extent item */

/* An inode item in native form plus the key it came from. */
struct ns_inode {
	uint64_t ino;
	struct pmcfs_inode d;	/* on-media copy; use the accessors */
};

int ns_inode_get(struct pmcfs_fs *fs, struct pmcfs_tree *t, uint64_t ino, struct ns_inode *ret);
int ns_inode_put(struct pmcfs_trans *tx, struct pmcfs_tree *t, const struct ns_inode *in);
void ns_now(struct pmcfs_timespec *ts);
void ns_touch(struct ns_inode *in, bool mtime);		/* ctime, and mtime if asked */
int ns_inode_alloc(struct pmcfs_trans *tx, struct pmcfs_tree *t, uint64_t *ret_ino);
/* Free an inode with no links left: its data references and every item. */
int ns_inode_evict(struct pmcfs_trans *tx, struct pmcfs_tree *t, uint64_t ino);

static inline struct pmcfs_ckey ns_key(uint64_t obj, uint8_t type, uint64_t off)
{
	struct pmcfs_ckey k = { obj, type, off };
	return k;
}

/* Collect the keys of every item of inode ino with type in [tmin, tmax]. */
int ns_item_keys(struct pmcfs_fs *fs, struct pmcfs_tree *t, uint64_t ino, uint8_t tmin,
		 uint8_t tmax, struct pmcfs_ckey **ret, size_t *ret_n);

/* Extent map (ns_extent.c): file block ranges. */
struct ns_ext {
	uint64_t fblk, phys, n;
	uint32_t flags;
};
int ns_ext_collect(struct pmcfs_fs *fs, struct pmcfs_tree *t, uint64_t ino, uint64_t b0,
		   uint64_t b1, struct ns_ext **ret, size_t *ret_n);
/* Unmap [b0, b1) and drop the data references; returns blocks unmapped. */
int ns_ext_drop(struct pmcfs_trans *tx, struct pmcfs_tree *t, uint64_t ino, uint64_t b0,
		uint64_t b1, uint64_t *ret_dropped);
/* Map [fblk, fblk+n) -> phys (the caller holds the reference), merging with the left neighbour. */
int ns_ext_insert(struct pmcfs_trans *tx, struct pmcfs_tree *t, uint64_t ino, uint64_t fblk,
		  uint64_t phys, uint64_t n, uint32_t flags);

#define ns_dirent_size pmcfs_dirent_size

#endif

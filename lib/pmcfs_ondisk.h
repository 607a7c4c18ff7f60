/* SPDX-License-Identifier: MIT */
/*
 * Pin the on-media layout at compile time (as xfsprogs' xfs_ondisk.h):
 * a change to any size or key offset here is a format change and must
 * also change man/pmcfs.5. tests/unit/test_layout prints the same table.
 */
#ifndef PMCFS_ONDISK_H
#define PMCFS_ONDISK_H

#include <stddef.h>
#include "pmcfs_format.h"

#define PMCFS_CHECK_SIZE(s, n) \
	_Static_assert(sizeof(struct s) == (n), "sizeof(struct " #s ") changed")
#define PMCFS_CHECK_OFFSET(s, f, n) \
	_Static_assert(offsetof(struct s, f) == (n), "offset of " #s "." #f " changed")

PMCFS_CHECK_SIZE(pmcfs_super, 320);
PMCFS_CHECK_OFFSET(pmcfs_super, crc, 0);
PMCFS_CHECK_OFFSET(pmcfs_super, magic, 8);
PMCFS_CHECK_OFFSET(pmcfs_super, uuid, 16);
PMCFS_CHECK_OFFSET(pmcfs_super, nblocks, 64);
PMCFS_CHECK_OFFSET(pmcfs_super, label, 128);

PMCFS_CHECK_SIZE(pmcfs_commit, 128);
PMCFS_CHECK_OFFSET(pmcfs_commit, magic, 0);
PMCFS_CHECK_OFFSET(pmcfs_commit, generation, 24);
PMCFS_CHECK_OFFSET(pmcfs_commit, roottab_blkno, 32);
PMCFS_CHECK_OFFSET(pmcfs_commit, spacemap_blkno, 48);
PMCFS_CHECK_OFFSET(pmcfs_commit, free_blocks, 80);
PMCFS_CHECK_OFFSET(pmcfs_commit, roottab_level, 96);
PMCFS_CHECK_OFFSET(pmcfs_commit, crc, 124);

PMCFS_CHECK_SIZE(pmcfs_header, 64);
PMCFS_CHECK_OFFSET(pmcfs_header, magic, 4);
PMCFS_CHECK_OFFSET(pmcfs_header, uuid, 8);
PMCFS_CHECK_OFFSET(pmcfs_header, blkno, 24);
PMCFS_CHECK_OFFSET(pmcfs_header, generation, 32);
PMCFS_CHECK_OFFSET(pmcfs_header, owner, 40);
PMCFS_CHECK_OFFSET(pmcfs_header, level, 48);
PMCFS_CHECK_OFFSET(pmcfs_header, nritems, 50);

PMCFS_CHECK_SIZE(pmcfs_key, 24);
PMCFS_CHECK_OFFSET(pmcfs_key, type, 8);
PMCFS_CHECK_OFFSET(pmcfs_key, offset, 16);
PMCFS_CHECK_SIZE(pmcfs_node_ptr, 40);
PMCFS_CHECK_SIZE(pmcfs_item, 32);
PMCFS_CHECK_SIZE(pmcfs_space_run, 16);
PMCFS_CHECK_SIZE(pmcfs_root_item, 128);
PMCFS_CHECK_OFFSET(pmcfs_root_item, next_ino, 64);
PMCFS_CHECK_OFFSET(pmcfs_root_item, drop_progress, 72);
PMCFS_CHECK_SIZE(pmcfs_timespec, 16);
PMCFS_CHECK_SIZE(pmcfs_inode, 160);
PMCFS_CHECK_OFFSET(pmcfs_inode, atime, 72);
PMCFS_CHECK_SIZE(pmcfs_dirent, 24);
PMCFS_CHECK_SIZE(pmcfs_extent, 16);
PMCFS_CHECK_SIZE(pmcfs_xattr, 8);

_Static_assert(PMCFS_NODE_MAX_PTRS == 100, "interior fan-out changed");
_Static_assert(PMCFS_MAX_ITEM_BODY == 976, "maximum item body changed");

#endif

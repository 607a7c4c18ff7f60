/* SPDX-License-Identifier: MIT */
/*
 * Field accessors for on-media structs: pmcfs_<struct>_<field>() reads,
 * pmcfs_set_<struct>_<field>() writes. Raw fields are never byte-swapped
 * in place (btrfs-progs' accessors.h pattern).
 */
#ifndef PMCFS_ENDIAN_H
#define PMCFS_ENDIAN_H

#include <endian.h>
#include <string.h>
#include "pmcfs_format.h"

#define PMCFS_ACCESSOR(s, f, bits)					\
static inline uint##bits##_t pmcfs_##s##_##f(const struct pmcfs_##s *p)\
{ return le##bits##toh(p->f); }						\
static inline void pmcfs_set_##s##_##f(struct pmcfs_##s *p, uint##bits##_t v)\
{ p->f = htole##bits(v); }
#define PMCFS_ACCESSOR8(s, f)						\
static inline uint8_t pmcfs_##s##_##f(const struct pmcfs_##s *p)	\
{ return p->f; }							\
static inline void pmcfs_set_##s##_##f(struct pmcfs_##s *p, uint8_t v)	\
{ p->f = v; }

PMCFS_ACCESSOR(super, crc, 32)
PMCFS_ACCESSOR(super, version, 32)
PMCFS_ACCESSOR(super, magic, 64)
PMCFS_ACCESSOR(super, feature_compat, 64)
PMCFS_ACCESSOR(super, feature_ro_compat, 64)
PMCFS_ACCESSOR(super, feature_incompat, 64)
PMCFS_ACCESSOR(super, block_size, 32)
PMCFS_ACCESSOR(super, dax_align, 32)
PMCFS_ACCESSOR(super, nblocks, 64)
PMCFS_ACCESSOR(super, data_start, 64)
PMCFS_ACCESSOR(super, data_end, 64)
PMCFS_ACCESSOR(super, replica_blkno, 64)
PMCFS_ACCESSOR(super, mkfs_time, 64)
PMCFS_ACCESSOR(super, root_subvol, 64)

PMCFS_ACCESSOR(commit, magic, 64)
PMCFS_ACCESSOR(commit, generation, 64)
PMCFS_ACCESSOR(commit, roottab_blkno, 64)
PMCFS_ACCESSOR(commit, roottab_gen, 64)
PMCFS_ACCESSOR(commit, spacemap_blkno, 64)
PMCFS_ACCESSOR(commit, spacemap_gen, 64)
PMCFS_ACCESSOR(commit, log_root, 64)
PMCFS_ACCESSOR(commit, rmap_root, 64)
PMCFS_ACCESSOR(commit, free_blocks, 64)
PMCFS_ACCESSOR(commit, feature_incompat, 64)
PMCFS_ACCESSOR8(commit, roottab_level)
PMCFS_ACCESSOR8(commit, spacemap_level)
PMCFS_ACCESSOR(commit, flags, 64)
PMCFS_ACCESSOR(commit, crc, 32)

PMCFS_ACCESSOR(header, crc, 32)
PMCFS_ACCESSOR(header, magic, 32)
PMCFS_ACCESSOR(header, blkno, 64)
PMCFS_ACCESSOR(header, generation, 64)
PMCFS_ACCESSOR(header, owner, 64)
PMCFS_ACCESSOR(header, level, 16)
PMCFS_ACCESSOR(header, nritems, 16)
PMCFS_ACCESSOR(header, flags, 32)
PMCFS_ACCESSOR(header, reserved, 64)

PMCFS_ACCESSOR(node_ptr, blkno, 64)
PMCFS_ACCESSOR(node_ptr, generation, 64)
PMCFS_ACCESSOR(item, offset, 32)
PMCFS_ACCESSOR(item, size, 32)

PMCFS_ACCESSOR(space_run, len, 64)
PMCFS_ACCESSOR(space_run, refcount, 32)
PMCFS_ACCESSOR(space_run, owner, 32)

PMCFS_ACCESSOR(root_item, blkno, 64)
PMCFS_ACCESSOR(root_item, generation, 64)
PMCFS_ACCESSOR(root_item, flags, 64)
PMCFS_ACCESSOR(root_item, parent, 64)
PMCFS_ACCESSOR(root_item, parent_gen, 64)
PMCFS_ACCESSOR(root_item, create_gen, 64)
PMCFS_ACCESSOR(root_item, ctime_sec, 64)
PMCFS_ACCESSOR(root_item, ctime_nsec, 32)
PMCFS_ACCESSOR8(root_item, level)
PMCFS_ACCESSOR8(root_item, drop_level)
PMCFS_ACCESSOR(root_item, name_len, 16)
PMCFS_ACCESSOR(root_item, next_ino, 64)

PMCFS_ACCESSOR(inode, mode, 32)
PMCFS_ACCESSOR(inode, uid, 32)
PMCFS_ACCESSOR(inode, gid, 32)
PMCFS_ACCESSOR(inode, nlink, 32)
PMCFS_ACCESSOR(inode, size, 64)
PMCFS_ACCESSOR(inode, nblocks, 64)
PMCFS_ACCESSOR(inode, flags, 64)
PMCFS_ACCESSOR(inode, generation, 64)
PMCFS_ACCESSOR(inode, rdev, 64)
PMCFS_ACCESSOR(inode, next_index, 64)
PMCFS_ACCESSOR(inode, extsize, 32)
PMCFS_ACCESSOR(inode, cowextsize, 32)
PMCFS_ACCESSOR(timespec, sec, 64)
PMCFS_ACCESSOR(timespec, nsec, 32)

PMCFS_ACCESSOR(dirent, ino, 64)
PMCFS_ACCESSOR(dirent, index, 64)
PMCFS_ACCESSOR(dirent, name_len, 16)
PMCFS_ACCESSOR8(dirent, type)

PMCFS_ACCESSOR(extent, phys, 64)
PMCFS_ACCESSOR(extent, nblocks, 32)
PMCFS_ACCESSOR(extent, flags, 32)

PMCFS_ACCESSOR(xattr, value_len, 32)
PMCFS_ACCESSOR(xattr, name_len, 16)
PMCFS_ACCESSOR(xattr, nchunks, 16)

#undef PMCFS_ACCESSOR
#undef PMCFS_ACCESSOR8

#endif

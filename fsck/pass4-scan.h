/* SPDX-License-Identifier: MIT */
/* Private to the pass 4 scan (pass4-scan.c: the walk; pass4-items.c: the items). */
#ifndef FSCK_PASS4_SCAN_H
#define FSCK_PASS4_SCAN_H

#include "pass4.h"

#define MAX_LEVEL 16
#define KNOWN_IFLAGS (PMCFS_INODE_HUGE | PMCFS_INODE_IMMUTABLE | PMCFS_INODE_APPEND | PMCFS_INODE_NODUMP)
#define KNOWN_EFLAGS PMCFS_EXTENT_UNWRITTEN
#define BS PMCFS_BLOCK_SIZE

struct dent {
	uint64_t ino, index;
	unsigned type;
	const char *name;
	size_t len;
};

/* One name of the directory being scanned, from DIR_ENTRY or DIR_INDEX. */
struct dname {
	uint64_t index, child;
	uint32_t nhash;
	uint8_t type, bad;
};

struct grp {
	uint64_t ino;
	bool any, have_inode, inode_bad;
	uint32_t mode, nlink;
	uint8_t ftype;
	uint64_t size, nblocks, next_index;
	/* extents */
	uint64_t ext_blocks, ext_end, last_end, written_end;
	bool has_ext;
	/* symlink */
	uint64_t sym_next;
	bool sym_bad, has_sym;
	/* directory */
	struct dname *e, *ix;
	size_t ne, ne_cap, ni, ni_cap;
};

struct scan {
	struct p4_run *run;
	struct p4_sv *s;
	struct grp g;
	uint8_t *buf[MAX_LEVEL];
	bool check;			/* this leaf is not memoized: run the local checks */
	bool dirty;			/* a local check failed in this leaf */
	bool root_items;		/* some item of the root directory was seen */
	const struct p4_range *r;	/* p4_scan_ranges: only these inodes */
	size_t nr;
};

void p4_inode_item(struct scan *sc, const struct pmcfs_ckey *k, const uint8_t *body, uint32_t size);
void p4_dir_item(struct scan *sc, const struct pmcfs_ckey *k, const uint8_t *body, uint32_t size);
void p4_xattr_item(struct scan *sc, const struct pmcfs_ckey *k, const uint8_t *body, uint32_t size);
void p4_extent_item(struct scan *sc, const struct pmcfs_ckey *k, const uint8_t *body, uint32_t size);
void p4_symlink_item(struct scan *sc, const struct pmcfs_ckey *k, uint32_t size);
void p4_item_stray(struct scan *sc, const struct pmcfs_ckey *k, const char *why);

#endif

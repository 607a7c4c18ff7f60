// SPDX-License-Identifier: MIT
/*
 * Print the on-media layout (as e2fsprogs' tst_super_size): every field
 * of every on-media struct with its offset and size. pmcfs_ondisk.h pins
 * sizes and key offsets at compile time; this adds what a static assert
 * per field would make unreadable: the fields of each struct tile it
 * exactly, so there is no compiler-inserted padding whose bytes would be
 * unspecified on media. Exit 0 only if every size matches
 * pmcfs_ondisk.h and no struct has a gap.
 */
#include <stddef.h>
#include <stdio.h>
#include "pmcfs.h"
#include "pmcfs_ondisk.h"

struct field {
	const char *name;
	size_t off, size;
};

struct layout {
	const char *name;
	size_t size, expect;		/* expect: the value pinned in pmcfs_ondisk.h */
	const struct field *fields;
	size_t nfields;
};

#define F(s, f) { #f, offsetof(struct s, f), sizeof(((struct s *)0)->f) }
#define L(s, n, ...)							\
	{ #s, sizeof(struct s), n, (const struct field[]){ __VA_ARGS__ }, \
	  sizeof((const struct field[]){ __VA_ARGS__ }) / sizeof(struct field) }

static const struct layout layouts[] = {
	L(pmcfs_super, 320,
	  F(pmcfs_super, crc), F(pmcfs_super, version), F(pmcfs_super, magic),
	  F(pmcfs_super, uuid), F(pmcfs_super, feature_compat),
	  F(pmcfs_super, feature_ro_compat), F(pmcfs_super, feature_incompat),
	  F(pmcfs_super, block_size), F(pmcfs_super, dax_align),
	  F(pmcfs_super, nblocks), F(pmcfs_super, data_start),
	  F(pmcfs_super, data_end), F(pmcfs_super, slot_blkno),
	  F(pmcfs_super, replica_blkno), F(pmcfs_super, mkfs_time),
	  F(pmcfs_super, root_subvol), F(pmcfs_super, label),
	  F(pmcfs_super, reserved)),
	L(pmcfs_commit, 128,
	  F(pmcfs_commit, magic), F(pmcfs_commit, uuid), F(pmcfs_commit, generation),
	  F(pmcfs_commit, roottab_blkno), F(pmcfs_commit, roottab_gen),
	  F(pmcfs_commit, spacemap_blkno), F(pmcfs_commit, spacemap_gen),
	  F(pmcfs_commit, log_root), F(pmcfs_commit, rmap_root),
	  F(pmcfs_commit, free_blocks), F(pmcfs_commit, feature_incompat),
	  F(pmcfs_commit, roottab_level), F(pmcfs_commit, spacemap_level),
	  F(pmcfs_commit, pad), F(pmcfs_commit, flags), F(pmcfs_commit, reserved),
	  F(pmcfs_commit, reserved2), F(pmcfs_commit, crc)),
	L(pmcfs_header, 64,
	  F(pmcfs_header, crc), F(pmcfs_header, magic), F(pmcfs_header, uuid),
	  F(pmcfs_header, blkno), F(pmcfs_header, generation),
	  F(pmcfs_header, owner), F(pmcfs_header, level),
	  F(pmcfs_header, nritems), F(pmcfs_header, flags),
	  F(pmcfs_header, reserved)),
	L(pmcfs_key, 24,
	  F(pmcfs_key, objectid), F(pmcfs_key, type), F(pmcfs_key, pad),
	  F(pmcfs_key, offset)),
	L(pmcfs_node_ptr, 40,
	  F(pmcfs_node_ptr, key), F(pmcfs_node_ptr, blkno),
	  F(pmcfs_node_ptr, generation)),
	L(pmcfs_item, 32,
	  F(pmcfs_item, key), F(pmcfs_item, offset), F(pmcfs_item, size)),
	L(pmcfs_space_run, 16,
	  F(pmcfs_space_run, len), F(pmcfs_space_run, refcount),
	  F(pmcfs_space_run, owner)),
	L(pmcfs_root_item, 128,
	  F(pmcfs_root_item, blkno), F(pmcfs_root_item, generation),
	  F(pmcfs_root_item, flags), F(pmcfs_root_item, parent),
	  F(pmcfs_root_item, parent_gen), F(pmcfs_root_item, create_gen),
	  F(pmcfs_root_item, ctime_sec), F(pmcfs_root_item, ctime_nsec),
	  F(pmcfs_root_item, level), F(pmcfs_root_item, drop_level),
	  F(pmcfs_root_item, name_len), F(pmcfs_root_item, next_ino),
	  F(pmcfs_root_item, drop_progress), F(pmcfs_root_item, reserved)),
	L(pmcfs_timespec, 16,
	  F(pmcfs_timespec, sec), F(pmcfs_timespec, nsec), F(pmcfs_timespec, pad)),
	L(pmcfs_inode, 160,
	  F(pmcfs_inode, mode), F(pmcfs_inode, uid), F(pmcfs_inode, gid),
	  F(pmcfs_inode, nlink), F(pmcfs_inode, size), F(pmcfs_inode, nblocks),
	  F(pmcfs_inode, flags), F(pmcfs_inode, generation), F(pmcfs_inode, rdev),
	  F(pmcfs_inode, next_index), F(pmcfs_inode, extsize),
	  F(pmcfs_inode, cowextsize), F(pmcfs_inode, atime), F(pmcfs_inode, mtime),
	  F(pmcfs_inode, ctime), F(pmcfs_inode, crtime), F(pmcfs_inode, reserved)),
	L(pmcfs_dirent, 24,
	  F(pmcfs_dirent, ino), F(pmcfs_dirent, index), F(pmcfs_dirent, name_len),
	  F(pmcfs_dirent, type), F(pmcfs_dirent, pad)),
	L(pmcfs_extent, 16,
	  F(pmcfs_extent, phys), F(pmcfs_extent, nblocks), F(pmcfs_extent, flags)),
	L(pmcfs_xattr, 8,
	  F(pmcfs_xattr, value_len), F(pmcfs_xattr, name_len),
	  F(pmcfs_xattr, nchunks)),
};

/* Print one struct; return the number of problems found. */
static int check_layout(const struct layout *l)
{
	size_t next = 0, i;
	int bad = 0;

	printf("struct %s: %zu bytes\n", l->name, l->size);
	for (i = 0; i < l->nfields; i++) {
		const struct field *f = &l->fields[i];

		printf("  %4zu %4zu  %s\n", f->off, f->size, f->name);
		if (f->off != next) {
			fprintf(stderr, "%s.%s: at offset %zu, expected %zu (gap or overlap)\n",
				l->name, f->name, f->off, next);
			bad++;
		}
		next = f->off + f->size;
	}
	if (next != l->size) {
		fprintf(stderr, "%s: fields end at %zu, struct is %zu bytes (tail padding)\n",
			l->name, next, l->size);
		bad++;
	}
	if (l->size != l->expect) {
		fprintf(stderr, "%s: %zu bytes, pmcfs_ondisk.h says %zu\n",
			l->name, l->size, l->expect);
		bad++;
	}
	return bad;
}

int main(void)
{
	size_t i, n = sizeof(layouts) / sizeof(layouts[0]);
	int bad = 0;

	printf("  %4s %4s  %s\n", "off", "size", "field");
	for (i = 0; i < n; i++)
		bad += check_layout(&layouts[i]);
	printf("node: %zu-byte header, %zu pointers per interior node, item body <= %zu bytes\n",
	       sizeof(struct pmcfs_header), (size_t)PMCFS_NODE_MAX_PTRS,
	       (size_t)PMCFS_MAX_ITEM_BODY);
	if (PMCFS_NODE_MAX_PTRS != 100 || PMCFS_MAX_ITEM_BODY != 976)
		bad++;
	printf("test_layout: %zu structs, %d problems\n", n, bad);
	return bad ? 1 : 0;
}

// SPDX-License-Identifier: MIT
/*
 * tree ID|NAME: every block of one tree, depth first.
 * block BLKNO: any single block, decoded as what it is.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "pmcfs_endian.h"
#include "dump.h"

const char *const cmd_tree_usage[] = {
	"tree ID|NAME",
	"every block of a tree, depth first: headers, keys, pointers, items",
	"ID|NAME is roottab (or 1), spacemap (or 2), a subvolume id such as 256,",
	"or a subvolume name from the root table. A block that fails a check is",
	"reported with the check and not descended into; the walk goes on.",
	NULL
};

const char *const cmd_block_usage[] = {
	"block BLKNO",
	"decode one block: superblock, commit slot or tree block",
	"A block with no tree magic is reported as data or unused, with its run",
	"in the space map.",
	NULL
};

static void resolve(struct pmcfs_fs *fs, const char *arg, uint64_t *id, struct pmcfs_root_ref *root,
		    char *name, size_t namesz)
{
	const struct pmcfs_commit_info *ci = pmcfs_fs_commit(fs);
	struct pmcfs_subvol_info si;
	int err;

	if (!strcmp(arg, "roottab") || !strcmp(arg, "1")) {
		*id = PMCFS_ROOTTAB_TREE;
		*root = ci->roottab;
		snprintf(name, namesz, "roottab");
		return;
	}
	if (!strcmp(arg, "spacemap") || !strcmp(arg, "2")) {
		*id = PMCFS_SPACEMAP_TREE;
		*root = ci->spacemap;
		snprintf(name, namesz, "spacemap");
		return;
	}
	if (parse_u64(arg, id)) {
		err = subvol_by_name(fs, arg, id);
		if (err == -ENOENT)
			die(EXIT_CORRUPT, "no such tree: %s: not roottab, spacemap, a subvolume id or name", arg);
		if (err)
			die(EXIT_CORRUPT, "cannot search the root table for %s: %s", arg, pmcfs_strerror(err));
	} else if (*id < PMCFS_FIRST_SUBVOL || *id > PMCFS_LAST_SUBVOL) {
		die(EXIT_CORRUPT, "no such tree: %s: tree ids are 1, 2, and %llu to %llu for subvolumes",
		    arg, PMCFS_FIRST_SUBVOL, PMCFS_LAST_SUBVOL);
	}
	err = pmcfs_subvol_info(fs, *id, &si);
	if (err == -ENOENT)
		die(EXIT_CORRUPT, "no such tree: subvolume %llu is not in the root table", (unsigned long long)*id);
	if (err)
		die(EXIT_CORRUPT, "cannot read the root item of subvolume %llu: %s", (unsigned long long)*id,
		    pmcfs_strerror(err));
	*root = si.root;
	snprintf(name, namesz, "%s", si.name);
}

int cmd_tree(int argc, char **argv)
{
	struct pmcfs_dev *dev = open_device(PMCFS_DEV_RDONLY);
	struct pmcfs_fs *fs = open_fs(dev);
	struct pmcfs_root_ref root;
	char name[PMCFS_NAME_MAX + 1];
	uint64_t id;
	int bad;

	resolve(fs, argv[0], &id, &root, name, sizeof(name));
	if (opt.json) {
		json_obj_begin(NULL);
		json_obj_begin("tree");
		json_u64("id", id);
		json_str("name", name);
		json_obj_begin("root");
		json_u64("blkno", root.blkno);
		json_u64("generation", root.gen);
		json_u64("level", root.level);
		json_obj_end();
		json_obj_end();
		json_arr_begin("nodes");
	} else {
		printf("tree %llu%s%s%s: root block %llu, level %u, generation %llu\n",
		       (unsigned long long)id, name[0] ? " (" : "", name, name[0] ? ")" : "", (unsigned long long)root.blkno, root.level,
		       (unsigned long long)root.gen);
	}
	bad = walk_tree(fs, id, &root, true, NULL, NULL);
	if (opt.json) {
		json_arr_end();
		json_u64("unreadable_blocks", bad);
		json_obj_end();
		json_done();
	}
	pmcfs_fs_close(fs);
	pmcfs_dev_close(dev);
	return 0;
}

static void not_tree(struct pmcfs_fs *fs, uint64_t blkno, const char *what)
{
	struct pmcfs_space_info si;
	int err = pmcfs_space_lookup(fs, blkno, &si);

	if (opt.json) {
		json_obj_begin(NULL);
		json_u64("block", blkno);
		json_str("kind", what);
		if (!err) {
			json_obj_begin("space_run");
			json_u64("start", si.start);
			json_u64("len", si.len);
			json_u64("refcount", si.refcount);
			json_u64("owner", si.owner);
			json_str("owner_name", owner_name(si.owner, si.refcount));
			json_obj_end();
		} else {
			json_null("space_run");
		}
		json_obj_end();
		json_done();
		return;
	}
	printf("block %llu: %s", (unsigned long long)blkno, what);
	if (!err)
		printf("; in space-map run %llu+%llu, refcount %u, owner %s", (unsigned long long)si.start,
		       (unsigned long long)si.len, si.refcount, owner_name(si.owner, si.refcount));
	printf("\n");
}

int cmd_block(int argc, char **argv)
{
	struct pmcfs_dev *dev = open_device(PMCFS_DEV_RDONLY);
	struct pmcfs_super_scan scan;
	struct pmcfs_verify_err why = { 0, NULL, 0, 0, -1 };
	struct pmcfs_commit_info ci;
	struct pmcfs_sb_info sbi;
	struct pmcfs_fs *fs;
	uint8_t *buf = xcalloc(1, PMCFS_BLOCK_SIZE);
	uint64_t blkno, replica;
	uint32_t magic;
	int err;

	if (parse_u64(argv[0], &blkno))
		usage_error("block: invalid block number '%s'", argv[0]);
	if (pmcfs_super_scan(dev, &scan) && scan.sb_err && scan.replica_err)
		die(EXIT_CORRUPT, "cannot read the superblock of %s: %s (see '%s super %s')", opt.device,
		    pmcfs_strerror(scan.sb_err), PROG, opt.device);
	if (blkno >= scan.sb.nblocks || blkno >= dev->size / PMCFS_BLOCK_SIZE)
		die(EXIT_CORRUPT, "block %llu is beyond the end of the filesystem (%llu blocks)",
		    (unsigned long long)blkno, (unsigned long long)scan.sb.nblocks);
	replica = scan.sb.replica_blkno;
	err = pmcfs_dev_read(dev, buf, PMCFS_BLOCK_SIZE, blkno * PMCFS_BLOCK_SIZE);
	if (err)
		die(EXIT_CORRUPT, "cannot read block %llu: %s", (unsigned long long)blkno, pmcfs_strerror(err));
	if (blkno == PMCFS_SB_BLOCK || blkno == replica) {
		err = pmcfs_super_from_disk(buf, &sbi, &why);
		show_struct(NULL, blkno ? "superblock replica" : "superblock", blkno, 0, err, &why,
			    super_fields, buf);
	} else if (blkno == scan.sb.slot_blkno[0] || blkno == scan.sb.slot_blkno[1] ||
		   blkno == replica + 1 || blkno == replica + 2) {
		err = pmcfs_commit_from_disk(buf, scan.sb.uuid, &ci, &why);
		show_struct(NULL, "commit slot", blkno, 0, err, &why, commit_fields, buf);
	} else {
		fs = open_fs(dev);
		magic = pmcfs_header_magic((const struct pmcfs_header *)buf);
		if (blkno < scan.sb.data_start || blkno >= scan.sb.data_end) {
			not_tree(fs, blkno, "reserved area outside the data area, not a metadata block");
		} else if (magic != PMCFS_FS_MAGIC && magic != PMCFS_ROOTTAB_MAGIC &&
			   magic != PMCFS_SPACEMAP_MAGIC) {
			not_tree(fs, blkno, "no tree magic: a data block or unused");
		} else {
			err = pmcfs_node_verify(fs, buf, blkno, 0, -1, &why);
			if (err) {
				char msg[256];
				corrupt("block %llu: %s", (unsigned long long)blkno, verify_text(&why, msg, sizeof(msg)));
			}
			block_print(fs, buf, blkno, -1, &why, err, true);
			if (opt.json)
				json_done();
		}
		pmcfs_fs_close(fs);
		free(buf);
		pmcfs_dev_close(dev);
		return 0;
	}
	if (opt.json)
		json_done();
	free(buf);
	pmcfs_dev_close(dev);
	return 0;
}

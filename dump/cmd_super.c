// SPDX-License-Identifier: MIT
/*
 * super: both copies of the static superblock and all four commit slots,
 * each with its verdict (the exact failed check), and the slot open would
 * pick. Works without opening the filesystem, so it also explains why
 * open fails: if neither superblock is valid the slots are still read at
 * their fixed places and checked on their own.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "dump.h"

const char *const cmd_super_usage[] = {
	"super",
	"superblock copies and every commit slot, and which slot is current",
	"Prints the primary and replica superblock and the commit slots A, B,",
	"A replica and B replica: each valid, or the exact check it fails, and",
	"all its fields. Does not need a mountable filesystem.",
	NULL
};

static const char *const slot_names[PMCFS_NSLOTS] = { "A", "B", "A replica", "B replica" };

/* Print one structure: a title line and its fields, or a JSON object. */
void show_struct(const char *key, const char *title, uint64_t blkno, int read_err, int err,
		 const struct pmcfs_verify_err *why, const struct field *tbl, const void *raw)
{
	char buf[256];
	bool empty = !read_err && err == -ENODATA;	/* a slot no commit has used yet */

	if (empty) {
		if (opt.json) {
			json_obj_begin(key);
			json_str("name", title);
			json_u64("block", blkno);
			json_bool("valid", false);
			json_bool("empty", true);
			json_null("error");
			json_obj_end();
		} else {
			printf("%s (block %llu): empty (never written)\n", title, (unsigned long long)blkno);
		}
		return;
	}
	if (read_err || err)
		corrupt("%s (block %llu): %s", title, (unsigned long long)blkno,
			read_err ? pmcfs_strerror(read_err) : verify_text(why, buf, sizeof(buf)));
	if (opt.json) {
		json_obj_begin(key);
		json_str("name", title);
		json_u64("block", blkno);
		json_bool("valid", !read_err && !err);
		if (read_err)
			json_str("error", pmcfs_strerror(read_err));
		else if (err)
			json_verify_err("error", why);
		else
			json_null("error");
		if (!read_err)
			fields_print(tbl, raw, NULL, false);
		json_obj_end();
		return;
	}
	printf("%s (block %llu): ", title, (unsigned long long)blkno);
	if (read_err) {
		printf("unreadable: %s\n", pmcfs_strerror(read_err));
		return;
	}
	printf("%s%s\n", err ? "invalid: " : "valid", err ? verify_text(why, buf, sizeof(buf)) : "");
	fields_print(tbl, raw, "  ", false);
}

static int read_blk(struct pmcfs_dev *dev, uint64_t blkno, void *buf)
{
	if (blkno >= dev->size / PMCFS_BLOCK_SIZE)
		return -PMCFS_ENOFS;
	return pmcfs_dev_read(dev, buf, PMCFS_BLOCK_SIZE, blkno * PMCFS_BLOCK_SIZE);
}

int cmd_super(int argc, char **argv)
{
	struct pmcfs_dev *dev = open_device(PMCFS_DEV_RDONLY);
	struct pmcfs_super_scan scan;
	struct pmcfs_verify_err why;
	struct pmcfs_sb_info sbi;
	uint8_t *buf = xcalloc(1, PMCFS_BLOCK_SIZE);
	uint64_t replica, slot_blk[PMCFS_NSLOTS];
	bool have_sb;
	int rerr, err;

	pmcfs_super_scan(dev, &scan);
	have_sb = !scan.sb_err || !scan.replica_err;
	/* Where the copies are: from a valid superblock, else where mkfs puts them. */
	replica = have_sb ? scan.sb.replica_blkno :
		  dev->size >= PMCFS_HUGE_SIZE ?
		  (dev->size / PMCFS_HUGE_SIZE - 1) * PMCFS_HUGE_BLOCKS : 0;
	slot_blk[PMCFS_SLOT_A] = PMCFS_SLOT_A_BLOCK;
	slot_blk[PMCFS_SLOT_B] = PMCFS_SLOT_B_BLOCK;
	slot_blk[PMCFS_SLOT_A_REPLICA] = replica + 1;
	slot_blk[PMCFS_SLOT_B_REPLICA] = replica + 2;
	if (have_sb)
		for (int s = 0; s < PMCFS_NSLOTS; s++)
			slot_blk[s] = scan.slot[s].blkno;

	if (opt.json) {
		json_obj_begin(NULL);
		json_str("device", opt.device);
		json_u64("device_size", dev->size);
	}
	rerr = read_blk(dev, PMCFS_SB_BLOCK, buf);
	err = rerr ? 0 : pmcfs_super_from_disk(buf, &sbi, &why);
	show_struct("superblock", "superblock", PMCFS_SB_BLOCK, rerr, err, &why, super_fields, buf);
	rerr = replica ? read_blk(dev, replica, buf) : -PMCFS_ENOFS;
	err = rerr ? 0 : pmcfs_super_from_disk(buf, &sbi, &why);
	show_struct("superblock_replica", "superblock replica", replica, rerr, err, &why, super_fields, buf);
	if (opt.json) {
		json_bool("sb_from_replica", scan.sb_from_replica);
		json_arr_begin("slots");
	} else if (scan.sb_from_replica) {
		printf("using the replica superblock: the primary is invalid\n");
	}
	for (int s = 0; s < PMCFS_NSLOTS; s++) {
		char title[64];
		struct pmcfs_commit_info ci;

		snprintf(title, sizeof(title), "commit slot %s", slot_names[s]);
		rerr = read_blk(dev, slot_blk[s], buf);
		err = 0;
		if (!rerr) {
			/* The scan's verdict includes the uuid check against the superblock. */
			err = have_sb ? scan.slot[s].err : pmcfs_commit_from_disk(buf, NULL, &ci, &why);
			if (have_sb)
				why = scan.slot[s].why;
		}
		show_struct(NULL, title, slot_blk[s], rerr, err, &why, commit_fields, buf);
	}
	if (opt.json) {
		json_arr_end();
		if (scan.current >= 0) {
			json_obj_begin("current");
			json_str("slot", slot_names[scan.current]);
			json_u64("block", scan.slot[scan.current].blkno);
			json_u64("generation", scan.slot[scan.current].ci.generation);
			json_obj_end();
		} else {
			json_null("current");
		}
		json_obj_end();
		json_done();
	} else if (scan.current >= 0) {
		printf("current: slot %s (block %llu), generation %llu\n", slot_names[scan.current],
		       (unsigned long long)scan.slot[scan.current].blkno,
		       (unsigned long long)scan.slot[scan.current].ci.generation);
	} else {
		printf("current: none (no valid commit slot)\n");
	}
	if (scan.current < 0)
		corrupt("no valid commit slot: the filesystem cannot be opened");
	free(buf);
	pmcfs_dev_close(dev);
	return 0;
}

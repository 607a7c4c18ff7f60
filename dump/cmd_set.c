// SPDX-License-Identifier: MIT
/*
 * set FIELD VALUE: change one field of the superblock, a commit slot or a
 * tree block header, through the same field tables that print them, and
 * recompute the checksum unless --no-crc (or the field is the crc). For
 * tests that craft corruption; the only subcommand that writes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "dump.h"

const char *const cmd_set_usage[] = {
	"set FIELD VALUE",
	"change one field (crafting corruption for tests); the only writer",
	"Without --slot or --block, FIELD is a superblock field (with --replica,",
	"of the replica). With --slot A|B, a commit slot field (with --replica,",
	"of that slot's replica). With --block BLKNO, a tree block header field.",
	"The checksum is recomputed unless --no-crc is given or FIELD is crc.",
	"Numbers may be decimal or 0x hex; uuids as 8-4-4-4-12; label as text.",
	NULL
};

int cmd_set(int argc, char **argv)
{
	static const char *const slot_names[] = { "A", "B" };
	const char *fname = argv[0], *value = argv[1];
	const struct field *tbl, *f;
	struct pmcfs_super_scan scan;
	struct pmcfs_dev *dev;
	uint8_t *buf = xcalloc(1, PMCFS_BLOCK_SIZE);
	uint64_t blkno, replica, crc_before, crc_after;
	char target[64], before[256], after[256], list[1024];
	size_t crc_off;
	int err;

	if (opt.have_block && (opt.slot >= 0 || opt.replica))
		usage_error("set: --block cannot be combined with --slot or --replica");
	tbl = opt.have_block ? header_fields : opt.slot >= 0 ? commit_fields : super_fields;
	f = field_find(tbl, fname);
	if (!f) {
		fields_list(tbl, list, sizeof(list));
		usage_error("set: unknown %s field '%s': expected one of %s", opt.have_block ? "block header" :
			    opt.slot >= 0 ? "commit slot" : "superblock", fname, list);
	}
	dev = open_device(PMCFS_DEV_EXCL);
	pmcfs_super_scan(dev, &scan);
	replica = !scan.sb_err || !scan.replica_err ? scan.sb.replica_blkno :
		  dev->size >= PMCFS_HUGE_SIZE ? (dev->size / PMCFS_HUGE_SIZE - 1) * PMCFS_HUGE_BLOCKS : 0;
	if (opt.have_block) {
		blkno = opt.block;
		snprintf(target, sizeof(target), "block %llu header", (unsigned long long)blkno);
		crc_off = 0;	/* struct pmcfs_header: crc first */
	} else if (opt.slot >= 0) {
		blkno = opt.replica ? replica + 1 + opt.slot : (uint64_t)(opt.slot == 0 ? PMCFS_SLOT_A_BLOCK :
									  PMCFS_SLOT_B_BLOCK);
		snprintf(target, sizeof(target), "commit slot %s%s", slot_names[opt.slot],
			 opt.replica ? " replica" : "");
		crc_off = field_find(commit_fields, "crc")->off;
	} else {
		blkno = opt.replica ? replica : PMCFS_SB_BLOCK;
		snprintf(target, sizeof(target), "superblock%s", opt.replica ? " replica" : "");
		crc_off = field_find(super_fields, "crc")->off;
	}
	if (blkno >= dev->size / PMCFS_BLOCK_SIZE || (opt.replica && !replica))
		die(EXIT_CORRUPT, "cannot set %s in %s: block %llu is beyond the end of %s", fname, target,
		    (unsigned long long)blkno, opt.device);
	err = pmcfs_dev_read(dev, buf, PMCFS_BLOCK_SIZE, blkno * PMCFS_BLOCK_SIZE);
	if (err)
		die(EXIT_CORRUPT, "cannot read block %llu: %s", (unsigned long long)blkno, pmcfs_strerror(err));
	field_format(f, buf, before, sizeof(before));
	crc_before = field_get(field_find(tbl, "crc"), buf);
	if (field_set(f, buf, value))
		exit(EXIT_USAGE);
	field_format(f, buf, after, sizeof(after));
	if (!opt.no_crc && strcmp(fname, "crc")) {
		if (opt.slot >= 0 && !opt.have_block)
			/* the record's crc covers the bytes before it */
			field_put(field_find(commit_fields, "crc"), buf, pmcfs_crc32c(0, buf, crc_off));
		else
			pmcfs_cksum_update(buf, PMCFS_BLOCK_SIZE, crc_off);
	}
	crc_after = field_get(field_find(tbl, "crc"), buf);
	err = pmcfs_dev_write(dev, buf, PMCFS_BLOCK_SIZE, blkno * PMCFS_BLOCK_SIZE);
	if (!err)
		err = pmcfs_dev_flush(dev);
	if (err)
		die(EXIT_CORRUPT, "cannot write block %llu: %s", (unsigned long long)blkno, pmcfs_strerror(err));
	if (opt.json) {
		json_obj_begin(NULL);
		json_str("target", target);
		json_u64("block", blkno);
		json_str("field", fname);
		json_str("old", before);
		json_str("new", after);
		json_hex("crc_old", crc_before);
		json_hex("crc_new", crc_after);
		json_obj_end();
		json_done();
	} else {
		printf("%s (block %llu): %s: %s -> %s\n", target, (unsigned long long)blkno, fname, before, after);
		if (crc_after != crc_before && strcmp(fname, "crc"))
			printf("%s (block %llu): crc: 0x%llx -> 0x%llx\n", target, (unsigned long long)blkno,
			       (unsigned long long)crc_before, (unsigned long long)crc_after);
	}
	free(buf);
	pmcfs_dev_close(dev);
	return 0;
}

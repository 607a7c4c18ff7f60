// SPDX-License-Identifier: MIT
/*
 * pmcfs-sbinfo IMAGE: the superblock and current commit record as
 * key=value lines, read through the library, so tests can check what
 * mkfs wrote before (and independently of) pmcfs-dump.
 */
#include <stdio.h>
#include <string.h>
#include <uuid/uuid.h>
#include "pmcfs.h"

int main(int argc, char **argv)
{
	struct pmcfs_super_scan scan;
	struct pmcfs_dev *dev;
	char u[37];
	int rc;

	if (argc != 2) {
		fprintf(stderr, "usage: pmcfs-sbinfo IMAGE\n");
		return 2;
	}
	rc = pmcfs_dev_open(argv[1], PMCFS_DEV_RDONLY, &dev);
	if (rc) {
		fprintf(stderr, "pmcfs-sbinfo: cannot open %s: %s\n", argv[1], pmcfs_strerror(rc));
		return 1;
	}
	rc = pmcfs_super_scan(dev, &scan);
	pmcfs_dev_close(dev);
	if (rc || (scan.sb_err && scan.replica_err) || scan.current < 0) {
		fprintf(stderr, "pmcfs-sbinfo: no valid superblock on %s: %s\n", argv[1],
			pmcfs_strerror(rc ? rc : scan.sb_err ? scan.sb_err : -PMCFS_ENOFS));
		return 1;
	}
	uuid_unparse_lower(scan.sb.uuid, u);
	printf("label=%s\n", scan.sb.label);
	printf("uuid=%s\n", u);
	printf("nblocks=%llu\n", (unsigned long long)scan.sb.nblocks);
	printf("block_size=%u\n", scan.sb.block_size);
	printf("dax_align=%u\n", scan.sb.dax_align);
	printf("data_start=%llu\n", (unsigned long long)scan.sb.data_start);
	printf("data_end=%llu\n", (unsigned long long)scan.sb.data_end);
	printf("replica_blkno=%llu\n", (unsigned long long)scan.sb.replica_blkno);
	printf("generation=%llu\n", (unsigned long long)scan.slot[scan.current].ci.generation);
	printf("free_blocks=%llu\n", (unsigned long long)scan.slot[scan.current].ci.free_blocks);
	printf("sb_from_replica=%d\n", scan.sb_from_replica ? 1 : 0);
	return 0;
}

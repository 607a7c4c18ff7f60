// SPDX-License-Identifier: MIT
/*
 * reflink-audit IMAGE: open the image through the library and run the
 * independent audit (tests/lib/fsaudit.c) on its last commit: every tree
 * from every root, every reference counted and compared with the space
 * map. Exit 0 clean, 1 with the first problem on stderr. The reflink
 * image-mode tests run it after every change, with fsck.pmcfs -n as
 * well once that exists.
 */
#include <stdio.h>
#include "fsaudit.h"
#include "pmcfs.h"

int main(int argc, char **argv)
{
	struct pmcfs_dev *dev;
	struct pmcfs_fs *fs;
	struct fsaudit a;
	int rc;

	if (argc != 2) {
		fprintf(stderr, "usage: reflink-audit IMAGE\n");
		return 2;
	}
	rc = pmcfs_dev_open(argv[1], PMCFS_DEV_RDONLY, &dev);
	if (rc) {
		fprintf(stderr, "reflink-audit: open %s: %s\n", argv[1], pmcfs_strerror(rc));
		return 1;
	}
	rc = pmcfs_fs_open(dev, PMCFS_OPEN_RDONLY, &fs);
	if (rc) {
		fprintf(stderr, "reflink-audit: %s: %s\n", argv[1], pmcfs_strerror(rc));
		pmcfs_dev_close(dev);
		return 1;
	}
	rc = fsaudit_run(fs, &a);
	if (rc || a.errors)
		fprintf(stderr, "reflink-audit: %s: %d errors, first: %s\n", argv[1],
			a.errors ? a.errors : 1, a.errors ? a.first_error : pmcfs_strerror(rc));
	else
		printf("audit: %llu nodes, %llu items, %llu free blocks: clean\n",
		       (unsigned long long)a.nodes, (unsigned long long)a.items,
		       (unsigned long long)a.free_blocks);
	fsaudit_free(&a);
	pmcfs_fs_close(fs);
	pmcfs_dev_close(dev);
	return rc || a.errors ? 1 : 0;
}

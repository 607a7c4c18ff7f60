/*
 * dump-commit IMG N: commit N empty transactions, so tests get an image
 * whose both commit slots hold a generation (mkfs leaves slot B empty).
 */
#include <stdio.h>
#include <stdlib.h>
#include "pmcfs.h"

int main(int argc, char **argv)
{
	struct pmcfs_dev *dev;
	struct pmcfs_fs *fs;
	struct pmcfs_trans *tx;
	int n = argc > 2 ? atoi(argv[2]) : 1, err;

	if (argc < 2) {
		fprintf(stderr, "usage: dump-commit IMG [N]\n");
		return 2;
	}
	if ((err = pmcfs_dev_open(argv[1], 0, &dev)) || (err = pmcfs_fs_open(dev, 0, &fs))) {
		fprintf(stderr, "dump-commit: %s: %s\n", argv[1], pmcfs_strerror(err));
		return 1;
	}
	for (int i = 0; i < n && !err; i++)
		if (!(err = pmcfs_trans_begin(fs, &tx)))
			err = pmcfs_trans_commit(tx);
	if (err)
		fprintf(stderr, "dump-commit: commit: %s\n", pmcfs_strerror(err));
	pmcfs_fs_close(fs);
	pmcfs_dev_close(dev);
	return err ? 1 : 0;
}

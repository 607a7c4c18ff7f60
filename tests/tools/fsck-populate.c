// SPDX-License-Identifier: MIT
/*
 * fsck-populate IMAGE [ITEMS [EXTENTS [SNAPSHOTS [RDONLY [REFLINKS]]]]]
 *
 * Ages a fresh image through the library for the fsck corpus: ITEMS
 * opaque items in subvolume 256 (enough for a multi-level tree), EXTENTS
 * extent items with allocated blocks, REFLINKS of them shared by a second
 * extent item, then SNAPSHOTS snapshots of 256 (the first RDONLY of them
 * read-only), each followed by changes to 256 so the trees diverge.
 * Deterministic: the same arguments give the same image.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "pmcfs.h"
#include "pmcfs_endian.h"

#define KEY_OPAQUE 100

static int die(const char *what, int rc)
{
	fprintf(stderr, "fsck-populate: %s: %s\n", what, pmcfs_strerror(rc));
	exit(1);
}

static void put_items(struct pmcfs_trans *tx, struct pmcfs_tree *t, unsigned n, unsigned salt)
{
	uint8_t body[120];
	int rc;

	for (unsigned i = 0; i < n; i++) {
		struct pmcfs_ckey k = { 1000 + i / 7, KEY_OPAQUE, i };
		memset(body, (int)(i * 7 + salt), sizeof(body));
		if ((rc = pmcfs_tree_update(tx, t, &k, body, 40 + (i * 13 + salt) % 80)))
			die("insert", rc);
	}
}

static void put_extent(struct pmcfs_trans *tx, struct pmcfs_tree *t, uint64_t ino, uint64_t off,
		       uint64_t phys, uint32_t n)
{
	struct pmcfs_ckey k = { ino, PMCFS_KEY_EXTENT, off };
	struct pmcfs_extent e;
	int rc;

	memset(&e, 0, sizeof(e));
	pmcfs_set_extent_phys(&e, phys);
	pmcfs_set_extent_nblocks(&e, n);
	if ((rc = pmcfs_tree_insert(tx, t, &k, &e, sizeof(e))))
		die("insert extent", rc);
}

int main(int argc, char **argv)
{
	unsigned items = argc > 2 ? atoi(argv[2]) : 2000, extents = argc > 3 ? atoi(argv[3]) : 20;
	unsigned snaps = argc > 4 ? atoi(argv[4]) : 0, rdonly = argc > 5 ? atoi(argv[5]) : 0;
	unsigned reflinks = argc > 6 ? atoi(argv[6]) : 0;
	struct pmcfs_dev *dev;
	struct pmcfs_fs *fs;
	struct pmcfs_trans *tx;
	struct pmcfs_tree *t;
	int rc;

	if (argc < 2) {
		fprintf(stderr, "usage: fsck-populate IMAGE [ITEMS [EXTENTS [SNAPSHOTS [RDONLY [REFLINKS]]]]]\n");
		return 2;
	}
	if ((rc = pmcfs_dev_open(argv[1], 0, &dev)) || (rc = pmcfs_fs_open(dev, 0, &fs)))
		die(argv[1], rc);
	if ((rc = pmcfs_trans_begin(fs, &tx)) || (rc = pmcfs_subvol_open(fs, PMCFS_FIRST_SUBVOL, &t)))
		die("begin", rc);
	put_items(tx, t, items, 0);
	for (unsigned i = 0; i < extents; i++) {
		uint64_t s, l;
		if ((rc = pmcfs_alloc(tx, 1 + i % 8, 1, 0, &s, &l)))
			die("alloc", rc);
		put_extent(tx, t, 300 + i, 0, s, (uint32_t)l);
		if (i < reflinks) {
			if ((rc = pmcfs_space_inc(tx, s, l)))
				die("reflink", rc);
			put_extent(tx, t, 300 + i, 1 << 20, s, (uint32_t)l);
		}
	}
	if ((rc = pmcfs_trans_commit(tx)))
		die("commit", rc);
	for (unsigned s = 0; s < snaps; s++) {
		char name[32];
		uint64_t id;
		snprintf(name, sizeof(name), "snap-%u", s);
		if ((rc = pmcfs_trans_begin(fs, &tx)) ||
		    (rc = pmcfs_subvol_snapshot(tx, PMCFS_FIRST_SUBVOL, name,
						s < rdonly ? PMCFS_SNAP_RDONLY : 0, &id)) ||
		    (rc = pmcfs_trans_commit(tx)))
			die("snapshot", rc);
		if ((rc = pmcfs_trans_begin(fs, &tx)) || (rc = pmcfs_subvol_open(fs, PMCFS_FIRST_SUBVOL, &t)))
			die("begin", rc);
		put_items(tx, t, items / 10 + 1, s + 1);
		if ((rc = pmcfs_trans_commit(tx)))
			die("commit", rc);
	}
	pmcfs_fs_close(fs);
	pmcfs_dev_close(dev);
	return 0;
}

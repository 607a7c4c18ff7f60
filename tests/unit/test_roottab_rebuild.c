// SPDX-License-Identifier: MIT
/*
 * pmcfs_roottab_rebuild and pmcfs_tree_next_ino (lib/roottab_rebuild.c):
 * a new root table from given entries replaces the old one, which is
 * never read and stays counted; bad entries and a transaction that
 * already changed a tree are refused, changing nothing.
 */
#include <errno.h>
#include <string.h>
#include "pmcfs.h"
#include "pmcfs_repair.h"
#include "tcheck.h"

#define DEV_SIZE	(64ULL << 20)
#define KEY_TYPE	100	/* a raw test item: no data references */
#define NKEYS		3000

static struct pmcfs_ckey mkkey(unsigned k)
{
	return (struct pmcfs_ckey){ 1000 + k, KEY_TYPE, 0 };
}

static struct pmcfs_fs *setup(struct pmcfs_dev **dev)
{
	struct pmcfs_mkfs_params p = { .mkfs_time = 1700000000 };
	uint8_t body[64] = { 0 };
	struct pmcfs_fs *fs;
	struct pmcfs_trans *tx;
	struct pmcfs_tree *t;
	uint64_t id;

	memset(p.uuid, 0x44, 16);
	CHECK_OK(pmcfs_dev_mem_open(DEV_SIZE, dev));
	CHECK_OK(pmcfs_mkfs(*dev, &p, NULL));
	CHECK_OK(pmcfs_fs_open(*dev, 0, &fs));
	CHECK_OK(pmcfs_trans_begin(fs, &tx));
	CHECK_OK(pmcfs_subvol_open(fs, PMCFS_FIRST_SUBVOL, &t));
	for (unsigned k = 0; k < NKEYS; k++) {
		struct pmcfs_ckey key = mkkey(k);
		CHECK_OK(pmcfs_tree_insert(tx, t, &key, body, sizeof(body)));
	}
	CHECK_OK(pmcfs_subvol_snapshot(tx, PMCFS_FIRST_SUBVOL, "snap", PMCFS_SNAP_RDONLY, &id));
	CHECK(id == 257);
	CHECK_OK(pmcfs_subvol_snapshot(tx, PMCFS_FIRST_SUBVOL, "s2", 0, &id));
	CHECK(id == 258);
	CHECK_OK(pmcfs_subvol_create(tx, "empty", &id));
	CHECK(id == 259);
	CHECK_OK(pmcfs_trans_commit(tx));
	return fs;
}

/* Every refusal leaves the transaction unchanged: the commit after it is empty. */
static void refusals(struct pmcfs_fs *fs, const struct pmcfs_subvol_info *v)
{
	struct pmcfs_subvol_info w[3];
	struct pmcfs_trans *tx;
	struct pmcfs_tree *t;
	struct pmcfs_ckey key = mkkey(NKEYS);
	uint8_t body[8] = { 0 };

	CHECK_OK(pmcfs_trans_begin(fs, &tx));
	memcpy(w, v, sizeof(w));
	w[1].id = w[0].id;
	CHECK(pmcfs_roottab_rebuild(tx, w, 2, 300) == -EEXIST);	/* the same id twice */
	memcpy(w, v, sizeof(w));
	strcpy(w[2].name, w[1].name);
	CHECK(pmcfs_roottab_rebuild(tx, w, 3, 300) == -EEXIST);	/* the same name twice */
	memcpy(w, v, sizeof(w));
	CHECK(pmcfs_roottab_rebuild(tx, w, 3, 258) == -EINVAL);	/* next id not above them */
	w[1].next_ino = 0;
	CHECK(pmcfs_roottab_rebuild(tx, w, 3, 300) == -EINVAL);
	memcpy(w, v, sizeof(w));
	w[2].root.blkno = 0;						/* the superblock */
	CHECK(pmcfs_roottab_rebuild(tx, w, 3, 300) == -EINVAL);
	memcpy(w, v, sizeof(w));
	w[0].id = PMCFS_FIRST_SUBVOL - 1;
	CHECK(pmcfs_roottab_rebuild(tx, w, 3, 300) == -EINVAL);
	/* A subvolume changed in this transaction: its new root would be lost. */
	CHECK_OK(pmcfs_subvol_open(fs, PMCFS_FIRST_SUBVOL, &t));
	CHECK_OK(pmcfs_tree_insert(tx, t, &key, body, sizeof(body)));
	CHECK(pmcfs_roottab_rebuild(tx, v, 3, 300) == -EBUSY);
	pmcfs_trans_abort(tx);
	CHECK(pmcfs_roottab_rebuild(tx, v, 3, 300) == -EINVAL);	/* no transaction */
}

int main(void)
{
	struct pmcfs_subvol_info v[3], si, empty;
	struct pmcfs_dev *dev;
	struct pmcfs_fs *fs;
	struct pmcfs_trans *tx;
	struct pmcfs_tree *t;
	struct pmcfs_space_info sp;
	struct pmcfs_root_ref old_table;
	uint64_t ino, id, free_before;
	uint8_t body[64];
	uint32_t size;

	fs = setup(&dev);
	CHECK_OK(pmcfs_subvol_info(fs, 256, &v[0]));
	CHECK_OK(pmcfs_subvol_info(fs, 257, &v[1]));
	CHECK_OK(pmcfs_subvol_info(fs, 258, &v[2]));
	CHECK_OK(pmcfs_subvol_info(fs, 259, &empty));

	/* One above the largest objectid below the orphan items; FIRST_INO if none. */
	CHECK_OK(pmcfs_tree_next_ino(fs, &v[0].root, &ino));
	CHECK(ino == 1000 + NKEYS);
	CHECK_OK(pmcfs_tree_next_ino(fs, &empty.root, &ino));
	CHECK(ino == PMCFS_FIRST_INO);
	{
		struct pmcfs_root_ref bad = v[0].root;
		bad.level = PMCFS_MAX_LEVEL;
		CHECK(pmcfs_tree_next_ino(fs, &bad, &ino) == -EINVAL);
	}

	refusals(fs, v);

	/* 256 as it was, 257 renamed, 258 under a new id, 259 dropped from the table. */
	pmcfs_tree_root(pmcfs_fs_roottab(fs), &old_table);
	free_before = pmcfs_fs_free_blocks(fs);
	strcpy(v[1].name, "renamed");
	v[2].id = 300;
	CHECK_OK(pmcfs_trans_begin(fs, &tx));
	CHECK_OK(pmcfs_roottab_rebuild(tx, v, 3, 301));
	CHECK_OK(pmcfs_trans_commit(tx));
	/* A new leaf; the old one is neither read nor freed: the caller recounts. */
	CHECK(pmcfs_fs_free_blocks(fs) == free_before - 1);
	CHECK_OK(pmcfs_space_lookup(fs, old_table.blkno, &sp));
	CHECK(sp.refcount == 1);
	pmcfs_fs_close(fs);

	CHECK_OK(pmcfs_fs_open(dev, 0, &fs));
	CHECK_OK(pmcfs_subvol_info(fs, 256, &si));
	CHECK(si.root.blkno == v[0].root.blkno && si.next_ino == v[0].next_ino &&
	      si.ctime_sec == v[0].ctime_sec && si.create_gen == v[0].create_gen);
	CHECK_OK(pmcfs_subvol_info(fs, 257, &si));
	CHECK(!strcmp(si.name, "renamed") && (si.flags & PMCFS_ROOT_RDONLY) && si.parent == 256);
	CHECK(pmcfs_subvol_info(fs, 258, &si) == -ENOENT);
	CHECK(pmcfs_subvol_info(fs, 259, &si) == -ENOENT);
	CHECK_OK(pmcfs_subvol_info(fs, 300, &si));
	CHECK(!strcmp(si.name, "s2") && si.root.blkno == v[2].root.blkno);
	{
		struct pmcfs_ckey key = mkkey(NKEYS - 1);
		CHECK_OK(pmcfs_subvol_open(fs, 300, &t));
		CHECK_OK(pmcfs_tree_lookup(fs, t, &key, body, sizeof(body), &size));
		CHECK(size == sizeof(body));
	}
	/* The next id comes from the new NEXT_SUBVOL item. */
	CHECK_OK(pmcfs_trans_begin(fs, &tx));
	CHECK_OK(pmcfs_subvol_snapshot(tx, 300, "s3", 0, &id));
	CHECK_OK(pmcfs_trans_commit(tx));
	CHECK(id == 301);
	pmcfs_fs_close(fs);
	pmcfs_dev_close(dev);
	return tcheck_done("test_roottab_rebuild");
}

// SPDX-License-Identifier: MIT
/*
 * pmcfs_tree_rewrite (lib/btree_rewrite.c): a block whose header names a
 * wrong owner (its checksum made to match) is rewritten as a fresh copy
 * through the copy-on-write path, first in the live tree that shares it
 * with a read-only snapshot, then in the snapshot; every item stays, the
 * copies carry the right header, the original is freed only when the last
 * tree lets go, and the independent audit finds the counts exact after
 * every commit. Also: an interior node, the root, the root table's root,
 * two blocks on one path in one transaction (highest level first), a
 * block rewritten twice in one transaction, and probes that lead
 * elsewhere changing nothing.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "pmcfs.h"
#include "pmcfs_endian.h"
#include "pmcfs_repair.h"
#include "fsaudit.h"
#include "tcheck.h"

#define DEV_SIZE	(128ULL << 20)
#define KEY_TYPE	100	/* a raw test item: no data references */
#define NKEYS		20000
#define BODY		200
#define LIVE		PMCFS_FIRST_SUBVOL

static struct pmcfs_dev *dev;
static struct pmcfs_fs *fs;
static uint8_t *buf;

static struct pmcfs_ckey mkkey(unsigned k)
{
	return (struct pmcfs_ckey){ 1000 + k, KEY_TYPE, 0 };
}

static struct pmcfs_tree *tree(uint64_t id)
{
	struct pmcfs_tree *t = NULL;

	if (id == PMCFS_ROOTTAB_TREE)
		return pmcfs_fs_roottab(fs);
	CHECK_OK(pmcfs_subvol_open(fs, id, &t));
	return t;
}

/* The pointer `slot` of tree id's root (its blkno and key). */
static uint64_t root_child(uint64_t id, unsigned slot, struct pmcfs_ckey *key)
{
	struct pmcfs_root_ref r;
	uint64_t blk, gen;

	pmcfs_tree_root(tree(id), &r);
	CHECK_OK(pmcfs_block_read(fs, r.blkno, buf));
	pmcfs_node_child(buf, slot, &blk, &gen);
	pmcfs_node_key(buf, slot, key);
	return blk;
}

/* The leaf the descent by key reaches in tree id. */
static uint64_t leaf_of(uint64_t id, const struct pmcfs_ckey *key)
{
	struct pmcfs_root_ref r;
	uint64_t blk;

	pmcfs_tree_root(tree(id), &r);
	blk = r.blkno;
	for (unsigned l = r.level; l > 0; l--) {
		unsigned n, i = 0;
		uint64_t gen;
		struct pmcfs_ckey k;
		CHECK_OK(pmcfs_block_read(fs, blk, buf));
		n = pmcfs_node_nritems(buf);
		while (i + 1 < n && (pmcfs_node_key(buf, i + 1, &k), pmcfs_key_cmp(&k, key) <= 0))
			i++;
		pmcfs_node_child(buf, i, &blk, &gen);
	}
	return blk;
}

/* Give blkno a wrong owner with a matching checksum; reopen past the cache. */
static void set_owner(uint64_t blkno, uint64_t owner)
{
	CHECK_OK(pmcfs_block_read(fs, blkno, buf));
	pmcfs_set_header_owner((struct pmcfs_header *)buf, owner);
	pmcfs_cksum_update(buf, PMCFS_BLOCK_SIZE, offsetof(struct pmcfs_header, crc));
	CHECK_OK(pmcfs_dev_write(dev, buf, PMCFS_BLOCK_SIZE, blkno * PMCFS_BLOCK_SIZE));
	pmcfs_fs_close(fs);
	CHECK_OK(pmcfs_fs_open(dev, 0, &fs));
}

static uint64_t owner_of(uint64_t blkno)
{
	CHECK_OK(pmcfs_block_read(fs, blkno, buf));
	return pmcfs_header_owner((const struct pmcfs_header *)buf);
}

static uint32_t count_of(uint64_t blkno)
{
	struct pmcfs_space_info si;

	CHECK_OK(pmcfs_space_lookup(fs, blkno, &si));
	return si.refcount;
}

static void check_all_keys(uint64_t id)
{
	uint8_t body[BODY];
	unsigned missing = 0;
	uint32_t size;

	for (unsigned k = 0; k < NKEYS; k++) {
		struct pmcfs_ckey key = mkkey(k);
		missing += pmcfs_tree_lookup(fs, tree(id), &key, body, sizeof(body), &size) != 0;
	}
	CHECK(missing == 0);
}

/* Rewrite in one transaction; the new block number. */
static uint64_t rewrite(uint64_t id, unsigned level, const struct pmcfs_ckey *key, uint64_t blkno)
{
	struct pmcfs_trans *tx;
	uint64_t nb = 0, gen;

	CHECK_OK(pmcfs_trans_begin(fs, &tx));
	gen = pmcfs_trans_generation(tx);
	CHECK_OK(pmcfs_tree_rewrite(tx, tree(id), level, key, blkno, &nb));
	CHECK_OK(pmcfs_trans_commit(tx));
	CHECK(nb && nb != blkno);
	CHECK_OK(pmcfs_block_read(fs, nb, buf));
	CHECK(pmcfs_header_owner((const struct pmcfs_header *)buf) == id);
	CHECK(pmcfs_header_generation((const struct pmcfs_header *)buf) == gen);
	CHECK(pmcfs_header_blkno((const struct pmcfs_header *)buf) == nb);
	CHECK(pmcfs_node_verify(fs, buf, nb, pmcfs_tree_magic(id), (int)level, NULL) == 0);
	return nb;
}

int main(void)
{
	struct pmcfs_mkfs_params p = { .mkfs_time = 1700000000 };
	struct pmcfs_ckey key = mkkey(NKEYS / 2), nkey, zero = { 0, 0, 0 };
	struct pmcfs_root_ref r;
	struct pmcfs_trans *tx;
	uint8_t body[BODY];
	uint64_t snap, leaf, nleaf, node, nnode, free_before, nb, nb2, gen;

	buf = aligned_alloc(64, PMCFS_BLOCK_SIZE);
	memset(p.uuid, 0x44, 16);
	memset(body, 0xcd, sizeof(body));
	CHECK_OK(pmcfs_dev_mem_open(DEV_SIZE, &dev));
	CHECK_OK(pmcfs_mkfs(dev, &p, NULL));
	CHECK_OK(pmcfs_fs_open(dev, 0, &fs));
	CHECK_OK(pmcfs_trans_begin(fs, &tx));
	for (unsigned k = 0; k < NKEYS; k++) {
		struct pmcfs_ckey k1 = mkkey(k);
		CHECK_OK(pmcfs_tree_insert(tx, tree(LIVE), &k1, body, sizeof(body)));
	}
	CHECK_OK(pmcfs_subvol_snapshot(tx, LIVE, "snap", PMCFS_SNAP_RDONLY, &snap));
	CHECK_OK(pmcfs_trans_commit(tx));
	pmcfs_tree_root(tree(LIVE), &r);
	CHECK(r.level == 2);	/* the test needs a leaf, an interior node and a root */

	/* A leaf shared by the live tree and the read-only snapshot. */
	leaf = leaf_of(LIVE, &key);
	CHECK(leaf == leaf_of(snap, &key));	/* shared, counted once: lazy refcounts */
	set_owner(leaf, PMCFS_SPACEMAP_TREE);
	CHECK(fsaudit_errors(fs, "after setup") == 0);

	/* Probes that lead elsewhere: nothing changes. */
	free_before = pmcfs_fs_free_blocks(fs);
	CHECK(pmcfs_tree_reaches(tree(LIVE), 0, &key, leaf) == 0);
	CHECK(pmcfs_tree_reaches(tree(LIVE), 0, &key, leaf + 1) == -ENOENT);
	CHECK(pmcfs_tree_reaches(tree(LIVE), r.level, &zero, r.blkno) == 0);
	CHECK(pmcfs_tree_reaches(tree(LIVE), r.level + 1, &zero, r.blkno) == -ENOENT);
	CHECK_OK(pmcfs_trans_begin(fs, &tx));
	CHECK(pmcfs_tree_rewrite(tx, tree(LIVE), 0, &key, leaf + 1, NULL) == -ENOENT);
	CHECK(pmcfs_fs_free_blocks(fs) == free_before);
	pmcfs_trans_abort(tx);

	/* In the live tree: its own copy; the snapshot keeps the original. */
	nleaf = rewrite(LIVE, 0, &key, leaf);
	CHECK(fsaudit_errors(fs, "shared leaf rewritten in the live tree") == 0);
	CHECK(leaf_of(LIVE, &key) == nleaf && leaf_of(snap, &key) == leaf);
	CHECK(count_of(leaf) == 1 && count_of(nleaf) == 1);
	CHECK(owner_of(leaf) == PMCFS_SPACEMAP_TREE);	/* never written */
	check_all_keys(LIVE);

	/* In the read-only snapshot: allowed; the original is freed. */
	nb = rewrite(snap, 0, &key, leaf);
	CHECK(fsaudit_errors(fs, "the leaf's last holder rewritten") == 0);
	CHECK(leaf_of(snap, &key) == nb && count_of(leaf) == 0);
	check_all_keys(snap);

	/* A shared interior node: the copy's children gain a reference. */
	node = root_child(snap, 0, &nkey);
	CHECK(node == root_child(LIVE, 0, &nkey) && count_of(node) == 2);
	CHECK_OK(pmcfs_block_read(fs, node, buf));
	{
		uint64_t child, cgen;
		uint32_t before;
		pmcfs_node_child(buf, 0, &child, &cgen);
		before = count_of(child);
		nnode = rewrite(LIVE, 1, &nkey, node);
		CHECK(count_of(child) == before + 1 && count_of(node) == 1);
	}
	CHECK(fsaudit_errors(fs, "shared interior node rewritten") == 0);
	CHECK(root_child(LIVE, 0, &nkey) == nnode);

	/* The root, and the leaf under it, in one transaction: root first. */
	pmcfs_tree_root(tree(snap), &r);
	leaf = leaf_of(snap, &key);
	CHECK_OK(pmcfs_trans_begin(fs, &tx));
	CHECK_OK(pmcfs_tree_rewrite(tx, tree(snap), r.level, &zero, r.blkno, &nb));
	CHECK_OK(pmcfs_tree_rewrite(tx, tree(snap), 0, &key, leaf, &nb2));
	/* A second rewrite of what this transaction wrote: it stays. */
	CHECK_OK(pmcfs_tree_rewrite(tx, tree(snap), r.level, &zero, nb, &nleaf));
	CHECK(nleaf == nb && nb != r.blkno && nb2 != leaf);
	/* The snapshot stays read-only, as of this generation (twice: a no-op). */
	gen = pmcfs_trans_generation(tx);
	CHECK_OK(pmcfs_subvol_advance_create_gen(tx, snap));
	CHECK_OK(pmcfs_subvol_advance_create_gen(tx, snap));
	CHECK_OK(pmcfs_trans_commit(tx));
	{
		struct pmcfs_subvol_info si;
		CHECK_OK(pmcfs_subvol_info(fs, snap, &si));
		CHECK(si.root.blkno == nb && (si.flags & PMCFS_ROOT_RDONLY));
		CHECK(si.create_gen == gen && si.root.gen == gen);
	}
	CHECK(owner_of(nb) == snap && owner_of(nb2) == snap);
	CHECK(fsaudit_errors(fs, "root and leaf rewritten in one transaction") == 0);
	check_all_keys(snap);

	/* A tree block on bad media: rewritten away, then recorded bad in the
	 * same transaction (freed by it, so not yet allocatable). */
	leaf = leaf_of(LIVE, &key);
	CHECK(count_of(leaf) == 1);
	CHECK_OK(pmcfs_trans_begin(fs, &tx));
	CHECK(pmcfs_space_set_bad(tx, leaf, 1) == -EBUSY);	/* still in use */
	CHECK_OK(pmcfs_tree_rewrite(tx, tree(LIVE), 0, &key, leaf, &nb));
	CHECK_OK(pmcfs_space_set_bad(tx, leaf, 1));
	CHECK_OK(pmcfs_space_set_bad(tx, leaf, 1));		/* already bad: fine */
	CHECK_OK(pmcfs_trans_commit(tx));
	{
		struct pmcfs_space_info si;
		CHECK_OK(pmcfs_space_lookup(fs, leaf, &si));
		CHECK(si.refcount == 1 && si.owner == PMCFS_OWNER_BADBLOCK);
	}
	CHECK(leaf_of(LIVE, &key) == nb);
	CHECK(fsaudit_errors(fs, "leaf moved off a bad block") == 0);
	/* Nothing allocates it afterwards. */
	CHECK_OK(pmcfs_trans_begin(fs, &tx));
	for (unsigned k = NKEYS; k < NKEYS + 200; k++) {
		struct pmcfs_ckey k1 = mkkey(k);
		CHECK_OK(pmcfs_tree_insert(tx, tree(LIVE), &k1, body, sizeof(body)));
	}
	CHECK_OK(pmcfs_trans_commit(tx));
	CHECK(count_of(leaf) == 1);
	CHECK(fsaudit_errors(fs, "inserts after the bad block") == 0);
	check_all_keys(LIVE);

	/* The root table's root (not shareable: moved, released). */
	r = pmcfs_fs_commit(fs)->roottab;
	set_owner(r.blkno, LIVE);
	nb = rewrite(PMCFS_ROOTTAB_TREE, r.level, &zero, r.blkno);
	CHECK(pmcfs_fs_commit(fs)->roottab.blkno == nb && count_of(r.blkno) == 0);
	CHECK(fsaudit_errors(fs, "root table root rewritten") == 0);
	pmcfs_fs_close(fs);
	CHECK_OK(pmcfs_fs_open(dev, 0, &fs));
	check_all_keys(LIVE);
	check_all_keys(snap);
	CHECK(fsaudit_errors(fs, "reopened") == 0);

	pmcfs_fs_close(fs);
	pmcfs_dev_close(dev);
	free(buf);
	return tcheck_done("test_rewrite");
}

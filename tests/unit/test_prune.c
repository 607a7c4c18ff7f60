// SPDX-License-Identifier: MIT
/*
 * pmcfs_tree_prune (lib/btree_prune.c): cutting an unusable subtree out
 * of a tree shared with a snapshot keeps every other key, leaves the
 * tree valid at every commit, and keeps exact reference counts wherever
 * it can (a block another tree still holds); where it cannot (the last
 * reference), the test releases what the block held, as fsck's space map
 * rebuild would, and the independent audit must then be clean. Also: a
 * prune next to an unreadable sibling, probes, and pruning every leaf
 * until the tree is empty.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "pmcfs.h"
#include "pmcfs_repair.h"
#include "fsaudit.h"
#include "tcheck.h"

#define DEV_SIZE	(128ULL << 20)
#define KEY_TYPE	100	/* a raw test item: no data references */
#define NKEYS		20000
#define BODY		200

struct child {
	uint64_t blkno;
	unsigned level;
	struct pmcfs_ckey key;	/* the parent pointer's key */
};

static struct pmcfs_ckey mkkey(unsigned k)
{
	return (struct pmcfs_ckey){ 1000 + k, KEY_TYPE, 0 };
}

/* The children of every node at `level`+1 of tree id, in key order. */
static size_t list_children(struct pmcfs_fs *fs, uint64_t id, unsigned level, struct child *out,
			    size_t max)
{
	uint8_t *buf = aligned_alloc(64, PMCFS_BLOCK_SIZE);
	struct pmcfs_tree *t;
	struct pmcfs_root_ref r;
	uint64_t *cur = malloc(sizeof(*cur) * max), *next = malloc(sizeof(*next) * max);
	size_t ncur = 1, n = 0;

	CHECK_OK(pmcfs_subvol_open(fs, id, &t));
	pmcfs_tree_root(t, &r);
	cur[0] = r.blkno;
	for (unsigned l = r.level; l > level; l--) {
		size_t nn = 0;
		for (size_t i = 0; i < ncur; i++) {
			struct pmcfs_verify_err why;
			CHECK_OK(pmcfs_block_read(fs, cur[i], buf));
			if (pmcfs_node_verify(fs, buf, cur[i], pmcfs_tree_magic(id), (int)l, &why))
				continue;	/* the garbage node: its children are out of reach */
			for (unsigned j = 0; j < pmcfs_node_nritems(buf) && nn < max; j++) {
				uint64_t gen;
				pmcfs_node_child(buf, j, &next[nn], &gen);
				if (l - 1 == level) {
					out[n].blkno = next[nn];
					out[n].level = level;
					pmcfs_node_key(buf, j, &out[n].key);
					n++;
				}
				nn++;
			}
		}
		memcpy(cur, next, nn * sizeof(*cur));
		ncur = nn;
	}
	free(buf);
	free(cur);
	free(next);
	return n;
}

static bool has_key(struct pmcfs_fs *fs, uint64_t id, unsigned k)
{
	struct pmcfs_ckey key = mkkey(k);
	struct pmcfs_tree *t;
	uint8_t body[BODY];
	uint32_t size;

	CHECK_OK(pmcfs_subvol_open(fs, id, &t));
	return pmcfs_tree_lookup(fs, t, &key, body, sizeof(body), &size) == 0;
}

/*
 * Prune c out of subvolume id and, when that was the last reference,
 * release the block and what it points to (readable here: the test
 * prunes healthy blocks so it can check exact counts afterwards).
 */
static void prune(struct pmcfs_fs *fs, uint64_t id, const struct child *c)
{
	uint8_t *buf = aligned_alloc(64, PMCFS_BLOCK_SIZE);
	struct pmcfs_trans *tx;
	struct pmcfs_tree *t;
	bool last;

	CHECK_OK(pmcfs_block_read(fs, c->blkno, buf));
	CHECK_OK(pmcfs_trans_begin(fs, &tx));
	CHECK_OK(pmcfs_subvol_open(fs, id, &t));
	CHECK_OK(pmcfs_tree_prune(tx, t, c->level, &c->key, c->blkno, &last));
	if (last) {
		for (unsigned j = 0; c->level && j < pmcfs_node_nritems(buf); j++) {
			uint64_t blk, gen;
			pmcfs_node_child(buf, j, &blk, &gen);
			CHECK_OK(pmcfs_space_dec(tx, blk, 1));
		}
		CHECK_OK(pmcfs_space_dec(tx, c->blkno, 1));
	}
	CHECK_OK(pmcfs_trans_commit(tx));
	free(buf);
}

/* Keys [lo, hi) gone from id, every other key present. */
static void check_keys(struct pmcfs_fs *fs, uint64_t id, unsigned lo, unsigned hi)
{
	unsigned wrong = 0;

	for (unsigned k = 0; k < NKEYS; k++)
		wrong += has_key(fs, id, k) == (k >= lo && k < hi);
	if (wrong)
		fprintf(stderr, "subvolume %llu, keys %u-%u pruned: %u keys wrong\n", (unsigned long long)id, lo, hi, wrong);
	CHECK(wrong == 0);
}

/* The test keys a child's subtree covers: [first key, next child's key). */
static void key_span(const struct child *v, size_t n, size_t i, unsigned *lo, unsigned *hi)
{
	*lo = v[i].key.objectid < 1000 ? 0 : (unsigned)(v[i].key.objectid - 1000);
	*hi = i + 1 < n ? (unsigned)(v[i + 1].key.objectid - 1000) : NKEYS;
}

/* A new filesystem: NKEYS items in subvolume 256 and a read-only snapshot of it. */
static struct pmcfs_fs *setup(uint8_t uuid_byte, struct pmcfs_dev **dev, uint64_t *ret_snap)
{
	struct pmcfs_mkfs_params p = { .mkfs_time = 1700000000 };
	uint8_t body[BODY];
	struct pmcfs_fs *fs;
	struct pmcfs_trans *tx;
	struct pmcfs_tree *t;
	uint64_t snap;

	memset(p.uuid, uuid_byte, 16);
	memset(body, 0xab, sizeof(body));
	CHECK_OK(pmcfs_dev_mem_open(DEV_SIZE, dev));
	CHECK_OK(pmcfs_mkfs(*dev, &p, NULL));
	CHECK_OK(pmcfs_fs_open(*dev, 0, &fs));
	CHECK_OK(pmcfs_trans_begin(fs, &tx));
	CHECK_OK(pmcfs_subvol_open(fs, PMCFS_FIRST_SUBVOL, &t));
	for (unsigned k = 0; k < NKEYS; k++) {
		struct pmcfs_ckey key = mkkey(k);
		CHECK_OK(pmcfs_tree_insert(tx, t, &key, body, sizeof(body)));
	}
	CHECK_OK(pmcfs_subvol_snapshot(tx, PMCFS_FIRST_SUBVOL, "snap", PMCFS_SNAP_RDONLY, &snap));
	CHECK_OK(pmcfs_trans_commit(tx));
	CHECK(snap == PMCFS_FIRST_SUBVOL + 1);
	if (ret_snap)
		*ret_snap = snap;
	return fs;
}

/*
 * A subvolume's root replaced by an empty tree, the old root never read:
 * shared with a snapshot, its count drops and counts stay exact; private,
 * it stays counted (the caller recounts).
 */
static void reset_root_case(void)
{
	struct pmcfs_dev *dev;
	struct pmcfs_fs *fs = setup(0x35, &dev, NULL);
	struct pmcfs_trans *tx;
	struct pmcfs_tree *t;
	struct pmcfs_root_ref r, before;
	uint64_t snap, free_before;
	bool kept;

	CHECK_OK(pmcfs_subvol_open(fs, PMCFS_FIRST_SUBVOL, &t));
	snap = PMCFS_FIRST_SUBVOL + 1;
	pmcfs_tree_root(t, &before);
	CHECK(before.level > 0);

	CHECK_OK(pmcfs_trans_begin(fs, &tx));
	CHECK_OK(pmcfs_subvol_reset_root(tx, PMCFS_FIRST_SUBVOL, &kept));
	CHECK_OK(pmcfs_trans_commit(tx));
	CHECK(!kept);
	CHECK(fsaudit_errors(fs, "shared root reset") == 0);
	pmcfs_tree_root(t, &r);
	CHECK(r.level == 0 && r.blkno != before.blkno);
	CHECK(!has_key(fs, PMCFS_FIRST_SUBVOL, 0) && !has_key(fs, PMCFS_FIRST_SUBVOL, NKEYS - 1));
	check_keys(fs, snap, 0, 0);

	/* A private root: kept counted, nothing freed. */
	free_before = pmcfs_fs_free_blocks(fs);
	CHECK_OK(pmcfs_trans_begin(fs, &tx));
	CHECK_OK(pmcfs_subvol_reset_root(tx, PMCFS_FIRST_SUBVOL, &kept));
	CHECK_OK(pmcfs_trans_commit(tx));
	CHECK(kept && pmcfs_fs_free_blocks(fs) == free_before - 1);
	pmcfs_fs_close(fs);
	CHECK_OK(pmcfs_fs_open(dev, 0, &fs));
	check_keys(fs, snap, 0, 0);
	pmcfs_fs_close(fs);
	pmcfs_dev_close(dev);
}

int main(void)
{
	static struct child leaves[4096], nodes[256];
	struct pmcfs_dev *dev;
	struct pmcfs_fs *fs;
	struct pmcfs_trans *tx;
	struct pmcfs_tree *t;
	uint64_t snap;
	unsigned lo, hi, lo2, hi2;

	size_t nleaves, nnodes, pick;

	fs = setup(0x33, &dev, &snap);
	CHECK(fsaudit_errors(fs, "after setup") == 0);

	nleaves = list_children(fs, PMCFS_FIRST_SUBVOL, 0, leaves, 4096);
	nnodes = list_children(fs, PMCFS_FIRST_SUBVOL, 1, nodes, 256);
	CHECK(nleaves > 100 && nnodes > 2);	/* three levels: the test needs them */

	/* Probes: the root is refused, a block the descent does not reach is not found. */
	{
		struct pmcfs_root_ref r;
		CHECK_OK(pmcfs_subvol_open(fs, PMCFS_FIRST_SUBVOL, &t));
		pmcfs_tree_root(t, &r);
		CHECK(pmcfs_tree_prune_probe(t, r.level, &leaves[0].key, r.blkno) == -EINVAL);
		CHECK(pmcfs_tree_prune_probe(t, 0, &leaves[5].key, leaves[6].blkno) == -ENOENT);
		CHECK(pmcfs_tree_prune_probe(t, 0, &leaves[5].key, leaves[5].blkno) == 0);
	}

	/* A leaf shared with the snapshot: the live tree loses its keys, counts stay exact. */
	pick = nleaves / 2;
	key_span(leaves, nleaves, pick, &lo, &hi);
	prune(fs, PMCFS_FIRST_SUBVOL, &leaves[pick]);
	CHECK(fsaudit_errors(fs, "shared leaf pruned from the live tree") == 0);
	check_keys(fs, PMCFS_FIRST_SUBVOL, lo, hi);
	check_keys(fs, snap, 0, 0);

	/* The same leaf from the snapshot (read-only: a repair may change it). */
	prune(fs, snap, &leaves[pick]);
	CHECK(fsaudit_errors(fs, "the leaf's last reference pruned") == 0);
	check_keys(fs, snap, lo, hi);

	/* An interior node of the live tree: private now, its children shared. */
	nnodes = list_children(fs, PMCFS_FIRST_SUBVOL, 1, nodes, 256);
	key_span(nodes, nnodes, 0, &lo2, &hi2);
	prune(fs, PMCFS_FIRST_SUBVOL, &nodes[0]);
	CHECK(fsaudit_errors(fs, "interior node pruned") == 0);
	for (unsigned k = 0; k < NKEYS; k++)
		if (!(k >= lo2 && k < hi2) && !(k >= lo && k < hi) && !has_key(fs, PMCFS_FIRST_SUBVOL, k))
			CHECK(!"key outside both pruned ranges lost");
	CHECK(!has_key(fs, PMCFS_FIRST_SUBVOL, lo2) && !has_key(fs, PMCFS_FIRST_SUBVOL, hi2 - 1));

	/* Every leaf of the live tree, one prune per commit, down to the root leaf. */
	for (;;) {
		nleaves = list_children(fs, PMCFS_FIRST_SUBVOL, 0, leaves, 4096);
		if (!nleaves)
			break;
		prune(fs, PMCFS_FIRST_SUBVOL, &leaves[nleaves / 3]);
		if (getenv("TEST_PRUNE_AUDIT"))
			CHECK(fsaudit_errors(fs, "pruning every leaf") == 0);
		if (tcheck_failures)
			break;
	}
	{
		struct pmcfs_root_ref r;
		CHECK_OK(pmcfs_subvol_open(fs, PMCFS_FIRST_SUBVOL, &t));
		pmcfs_tree_root(t, &r);
		CHECK(r.level == 0);	/* down to the root leaf, which prune refuses */
		unsigned left = 0;
		for (unsigned k = 0; k < NKEYS; k++)
			left += has_key(fs, PMCFS_FIRST_SUBVOL, k);
		CHECK(left < PMCFS_BLOCK_SIZE / BODY);
	}
	CHECK(fsaudit_errors(fs, "every leaf of the live tree pruned") == 0);
	/*
	 * Next to an unreadable sibling: the snapshot's first interior node
	 * loses leaves until it is underfull; the sibling a merge would pair
	 * it with is garbage, so the prune must leave it underfull rather
	 * than fail. Then the garbage node itself is pruned.
	 */
	{
		static uint8_t junk[PMCFS_BLOCK_SIZE];
		uint8_t *buf = aligned_alloc(64, PMCFS_BLOCK_SIZE);
		uint64_t below[PMCFS_NODE_MAX_PTRS];
		unsigned nbelow;
		struct child n1;
		bool kept;

		nnodes = list_children(fs, snap, 1, nodes, 256);
		n1 = nodes[1];
		CHECK_OK(pmcfs_block_read(fs, n1.blkno, buf));
		nbelow = pmcfs_node_nritems(buf);
		for (unsigned j = 0; j < nbelow; j++) {
			uint64_t gen;
			pmcfs_node_child(buf, j, &below[j], &gen);
		}
		memset(junk, 0x5c, sizeof(junk));
		CHECK_OK(pmcfs_dev_write(dev, junk, sizeof(junk), n1.blkno * PMCFS_BLOCK_SIZE));
		pmcfs_fs_close(fs);
		CHECK_OK(pmcfs_fs_open(dev, 0, &fs));
		for (int guard = 0; guard < 200 && !tcheck_failures; guard++) {
			nnodes = list_children(fs, snap, 1, nodes, 256);
			CHECK_OK(pmcfs_block_read(fs, nodes[0].blkno, buf));
			if (pmcfs_node_nritems(buf) < PMCFS_NODE_MAX_PTRS / 4 - 1)
				break;
			nleaves = list_children(fs, snap, 0, leaves, 4096);
			prune(fs, snap, &leaves[1]);
		}
		CHECK(nodes[1].blkno == n1.blkno);	/* never merged: it cannot be read */
		CHECK_OK(pmcfs_trans_begin(fs, &tx));
		CHECK_OK(pmcfs_subvol_open(fs, snap, &t));
		CHECK_OK(pmcfs_tree_prune(tx, t, 1, &n1.key, n1.blkno, &kept));
		if (kept) {
			for (unsigned j = 0; j < nbelow; j++)
				CHECK_OK(pmcfs_space_dec(tx, below[j], 1));
			CHECK_OK(pmcfs_space_dec(tx, n1.blkno, 1));
		}
		CHECK_OK(pmcfs_trans_commit(tx));
		{
			/* Counts exact; the node it could not merge stays underfull (legal). */
			struct fsaudit a;
			fsaudit_run(fs, &a);
			CHECK(a.errors == 1 && strstr(a.first_error, "underfull"));
			fsaudit_free(&a);
		}
		free(buf);
	}

	pmcfs_fs_close(fs);
	pmcfs_dev_close(dev);
	reset_root_case();
	return tcheck_done("test_prune");
}

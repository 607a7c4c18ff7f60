/*
 * Superblock and commit slots: a torn or damaged write of the newer
 * commit record makes open fall back to the older one, whose state is
 * intact (frees are deferred); a damaged primary superblock is replaced
 * by its replica; nothing valid means a clear error, not a crash. Also
 * pmcfs_subvol_set_default: both copies rewritten alike, refusals. And
 * pmcfs_fs_rollback: an older commit made current again.
 */
#include <errno.h>
#include <string.h>
#include "fsaudit.h"
#include "pmcfs_repair.h"
#include "tcheck.h"

#define DEV_SIZE (64ULL << 20)

static struct pmcfs_dev *dev;

/* Commit one transaction that adds n items; return the new generation. */
static uint64_t commit_items(unsigned first, unsigned n)
{
	struct pmcfs_fs *fs;
	struct pmcfs_trans *tx;
	struct pmcfs_tree *t;
	uint64_t gen = 0;

	CHECK_OK(pmcfs_fs_open(dev, 0, &fs));
	CHECK_OK(pmcfs_trans_begin(fs, &tx));
	CHECK_OK(pmcfs_subvol_open(fs, PMCFS_FIRST_SUBVOL, &t));
	for (unsigned i = first; i < first + n; i++) {
		struct pmcfs_ckey k = { 5000 + i, 100, 0 };
		char body[64];
		memset(body, (int)i, sizeof(body));
		CHECK_OK(pmcfs_tree_insert(tx, t, &k, body, sizeof(body)));
	}
	CHECK_OK(pmcfs_trans_commit(tx));
	gen = pmcfs_fs_commit(fs)->generation;
	pmcfs_fs_close(fs);
	return gen;
}

static unsigned count_items(struct pmcfs_fs *fs)
{
	struct pmcfs_ckey start = { 5000, 0, 0 }, k;
	struct pmcfs_tree *t;
	struct pmcfs_iter *it;
	const void *body;
	uint32_t size;
	unsigned n = 0;

	CHECK_OK(pmcfs_subvol_open(fs, PMCFS_FIRST_SUBVOL, &t));
	CHECK_OK(pmcfs_iter_start(fs, t, &start, &it));
	while (pmcfs_iter_next(it, &k, &body, &size) > 0)
		n++;
	pmcfs_iter_free(it);
	return n;
}

/* Open, expect generation gen with nitems items, and a clean audit. */
static void expect_state(uint64_t gen, unsigned nitems)
{
	struct pmcfs_fs *fs;
	struct fsaudit a;

	CHECK_OK(pmcfs_fs_open(dev, PMCFS_OPEN_RDONLY, &fs));
	CHECK(pmcfs_fs_commit(fs)->generation == gen);
	CHECK(count_items(fs) == nitems);
	CHECK(fsaudit_run(fs, &a) == 0);
	if (a.errors)
		fprintf(stderr, "audit: %s\n", a.first_error);
	fsaudit_free(&a);
	pmcfs_fs_close(fs);
}

static void poke(uint64_t off, const void *bytes, size_t len)
{
	CHECK_OK(pmcfs_dev_write(dev, bytes, len, off));
}

static uint64_t slot_off(const struct pmcfs_sb_info *sb, uint64_t gen, bool replica)
{
	int s = gen & 1;
	return (replica ? sb->replica_blkno + 1 + s : sb->slot_blkno[s]) * PMCFS_BLOCK_SIZE;
}

int main(void)
{
	struct pmcfs_mkfs_params p = { .mkfs_time = 1700000000, .label = "torn" };
	struct pmcfs_super_scan scan;
	uint8_t zeros[64] = { 0 }, saved[128], block[PMCFS_BLOCK_SIZE];
	uint64_t g1, g2;

	memset(p.uuid, 0x11, 16);
	CHECK_OK(pmcfs_dev_mem_open(DEV_SIZE, &dev));
	CHECK_OK(pmcfs_mkfs(dev, &p, NULL));
	g1 = commit_items(0, 300);
	g2 = commit_items(300, 300);
	CHECK(g2 == g1 + 1);
	expect_state(g2, 600);
	CHECK_OK(pmcfs_super_scan(dev, &scan));
	CHECK(scan.current == (int)(g2 & 1));

	/* Torn newer slot (bytes zeroed mid-struct): its replica still holds g2. */
	uint8_t replica_saved[128];
	CHECK_OK(pmcfs_dev_read(dev, saved, sizeof(saved), slot_off(&scan.sb, g2, false)));
	CHECK_OK(pmcfs_dev_read(dev, replica_saved, sizeof(replica_saved), slot_off(&scan.sb, g2, true)));
	poke(slot_off(&scan.sb, g2, false) + 40, zeros, 48);
	expect_state(g2, 600);
	/* Crash before the replica was written too: back to the older slot. */
	poke(slot_off(&scan.sb, g2, true) + 100, zeros, 24);
	expect_state(g1, 300);

	/* One changed byte mid-struct (not zeroed): CRC catches it. */
	poke(slot_off(&scan.sb, g2, false), saved, sizeof(saved));
	poke(slot_off(&scan.sb, g2, true), replica_saved, sizeof(replica_saved));
	expect_state(g2, 600);
	{
		uint8_t b = saved[60] ^ 0x40;
		poke(slot_off(&scan.sb, g2, false) + 60, &b, 1);
		poke(slot_off(&scan.sb, g2, true) + 60, &b, 1);
	}
	expect_state(g1, 300);
	CHECK_OK(pmcfs_super_scan(dev, &scan));
	CHECK(scan.slot[g2 & 1].err == -PMCFS_EBADCRC);
	CHECK(scan.slot[2 + (g2 & 1)].err == -PMCFS_EBADCRC);

	/* After falling back, a new commit goes on from the older state. */
	uint64_t g3 = commit_items(1000, 10);
	CHECK(g3 == g1 + 1);
	expect_state(g3, 310);

	/* Damaged primary superblock: the replica is used. */
	CHECK_OK(pmcfs_dev_read(dev, block, sizeof(block), 0));
	poke(8, zeros, 8);
	CHECK_OK(pmcfs_super_scan(dev, &scan));
	CHECK(scan.sb_err == -PMCFS_ENOFS && scan.sb_from_replica);
	expect_state(g3, 310);
	poke(0, block, sizeof(block));

	/* No valid commit record at all: a clear error, not a crash. */
	for (int s = 0; s < 2; s++) {
		poke(scan.sb.slot_blkno[s] * PMCFS_BLOCK_SIZE, zeros, 64);
		poke((scan.sb.replica_blkno + 1 + s) * PMCFS_BLOCK_SIZE, zeros, 64);
	}
	{
		struct pmcfs_fs *fs = NULL;
		CHECK(pmcfs_fs_open(dev, 0, &fs) == -PMCFS_ECORRUPT);
	}

	/* Unknown incompat feature in the superblock: refused. */
	{
		struct pmcfs_dev *d2;
		struct pmcfs_fs *fs = NULL;
		struct pmcfs_sb_info sb;
		CHECK_OK(pmcfs_dev_mem_open(DEV_SIZE, &d2));
		CHECK_OK(pmcfs_mkfs(d2, &p, NULL));
		CHECK_OK(pmcfs_dev_read(d2, block, sizeof(block), 0));
		CHECK_OK(pmcfs_super_from_disk(block, &sb, NULL));
		sb.feature_incompat |= 1ULL << 63;
		pmcfs_super_to_disk(&sb, block);
		CHECK_OK(pmcfs_dev_write(d2, block, sizeof(block), 0));
		CHECK(pmcfs_fs_open(d2, 0, &fs) == -PMCFS_EFEATURE);
		pmcfs_dev_close(d2);
	}
	pmcfs_dev_close(dev);

	/* The default subvolume: both copies, the in-core copy, refusals. */
	{
		struct pmcfs_dev *d2;
		struct pmcfs_fs *fs;
		struct pmcfs_trans *tx;
		uint8_t b2[PMCFS_BLOCK_SIZE];
		uint64_t snap, gone;
		CHECK_OK(pmcfs_dev_mem_open(DEV_SIZE, &d2));
		CHECK_OK(pmcfs_mkfs(d2, &p, NULL));
		CHECK_OK(pmcfs_fs_open(d2, 0, &fs));
		CHECK_OK(pmcfs_trans_begin(fs, &tx));
		CHECK_OK(pmcfs_subvol_snapshot(tx, PMCFS_FIRST_SUBVOL, "s", 0, &snap));
		CHECK_OK(pmcfs_subvol_snapshot(tx, PMCFS_FIRST_SUBVOL, "d", 0, &gone));
		CHECK_OK(pmcfs_subvol_delete_start(tx, gone));
		CHECK(pmcfs_subvol_set_default(fs, snap) == -EBUSY);	/* inside a transaction */
		CHECK_OK(pmcfs_trans_commit(tx));
		CHECK(pmcfs_subvol_set_default(fs, gone) == -EBUSY);	/* being deleted */
		CHECK(pmcfs_subvol_set_default(fs, 999) == -ENOENT);
		CHECK(pmcfs_fs_sb(fs)->root_subvol == PMCFS_FIRST_SUBVOL);
		CHECK_OK(pmcfs_subvol_set_default(fs, snap));
		CHECK(pmcfs_fs_sb(fs)->root_subvol == snap);
		CHECK_OK(pmcfs_trans_begin(fs, &tx));	/* the old default may go now, not the new */
		CHECK(pmcfs_subvol_delete_start(tx, snap) == -EBUSY);
		pmcfs_trans_abort(tx);
		pmcfs_fs_close(fs);
		CHECK_OK(pmcfs_super_scan(d2, &scan));
		CHECK(!scan.sb_err && !scan.replica_err && scan.sb.root_subvol == snap);
		CHECK_OK(pmcfs_dev_read(d2, block, sizeof(block), 0));
		CHECK_OK(pmcfs_dev_read(d2, b2, sizeof(b2), scan.sb.replica_blkno * PMCFS_BLOCK_SIZE));
		CHECK(!memcmp(block, b2, sizeof(block)));
		CHECK(!strcmp(scan.sb.label, "torn"));	/* the rest kept */
		CHECK_OK(pmcfs_fs_open(d2, PMCFS_OPEN_RDONLY, &fs));
		CHECK(pmcfs_fs_sb(fs)->root_subvol == snap);
		CHECK(pmcfs_subvol_set_default(fs, PMCFS_FIRST_SUBVOL) == -EROFS);
		pmcfs_fs_close(fs);
		pmcfs_dev_close(d2);
	}

	/* Rollback (fsck's P2.016): the older commit outranks the newest one. */
	{
		uint64_t gen = 0;
		CHECK_OK(pmcfs_dev_mem_open(DEV_SIZE, &dev));
		CHECK_OK(pmcfs_mkfs(dev, &p, NULL));
		g1 = commit_items(0, 300);
		g2 = commit_items(300, 300);
		{	/* the older commit, read-only only */
			struct pmcfs_fs *fs = NULL;
			CHECK(pmcfs_fs_open_slot(dev, 0, (int)(g1 & 1), &fs) == -EINVAL);
			CHECK(pmcfs_fs_open_slot(dev, PMCFS_OPEN_RDONLY, PMCFS_NSLOTS, &fs) == -EINVAL);
			CHECK_OK(pmcfs_fs_open_slot(dev, PMCFS_OPEN_RDONLY, (int)(g1 & 1), &fs));
			CHECK(pmcfs_fs_commit(fs)->generation == g1 && count_items(fs) == 300);
			pmcfs_fs_close(fs);
		}
		CHECK(pmcfs_fs_rollback(dev, (int)(g2 & 1), &gen) == -EINVAL);	/* the newest */
		CHECK(pmcfs_fs_rollback(dev, PMCFS_NSLOTS, &gen) == -EINVAL);
		CHECK(pmcfs_fs_rollback(dev, -1, &gen) == -EINVAL);
		expect_state(g2, 600);			/* refusals change nothing */
		CHECK_OK(pmcfs_fs_rollback(dev, (int)(g1 & 1), &gen));
		CHECK(gen == g2 + 1);
		expect_state(g2 + 1, 300);
		CHECK_OK(pmcfs_super_scan(dev, &scan));
		CHECK(scan.current == (int)(g1 & 1));
		CHECK(scan.slot[g2 & 1].ci.generation == g2);	/* kept, outranked */
		CHECK(scan.slot[2 + (g2 & 1)].ci.generation == g2);
		CHECK(scan.slot[2 + (g1 & 1)].ci.generation == g2 + 1);	/* the replica too */
		/* A new commit goes on from the rolled-back state, over the abandoned one. */
		CHECK(commit_items(2000, 10) == g2 + 2);
		expect_state(g2 + 2, 310);
		pmcfs_dev_close(dev);
	}
	return tcheck_done("test_super");
}

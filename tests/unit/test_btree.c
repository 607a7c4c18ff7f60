/*
 * Randomised test of the copy-on-write B+tree against a reference model.
 *
 * 100,000+ operations (insert, update, delete, lookup, range scan) on a
 * subvolume tree, with snapshots taken and deleted along the way and
 * transactions committed or aborted at random. After every commit an
 * independent audit (tests/lib/fsaudit.c) checks key order, key ranges,
 * generations, node fill, and that every block's stored refcount equals
 * the references found; every snapshot must still equal its model. A
 * write guard on the recording device fails any write into a block
 * reachable from the last durable commit, other than the commit slot
 * being written.
 *
 * Usage: test_btree [OPS [SEED]]
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "fsaudit.h"
#include "tcheck.h"

#define NKEYS		20000
#define MAX_SNAPS	6
#define DEV_SIZE	(256ULL << 20)
#define KEY_TYPE	100	/* not a namespace type: no data references */

struct model {
	uint16_t len[NKEYS];	/* 0xffff = absent */
	uint32_t seed[NKEYS];
};

struct snap {
	uint64_t id;
	struct model m;
};

static struct model live, committed;
static struct snap snaps[MAX_SNAPS];
static int nsnaps;
static uint64_t dropping[MAX_SNAPS];	/* incremental deletions in progress */
static int ndropping;
static uint64_t rng_state;

static uint64_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static void fill_value(uint8_t *buf, unsigned key, uint32_t seed, unsigned len)
{
	for (unsigned i = 0; i < len; i++)
		buf[i] = (uint8_t)(key * 31 + seed * 7 + i);
}

static struct pmcfs_ckey mkkey(unsigned k)
{
	struct pmcfs_ckey key = { 1000 + k / 7, KEY_TYPE, k };
	return key;
}

/* ---- write guard: nothing reachable from the durable commit is written ---- */

struct guard {
	const uint8_t *reachable;
	uint64_t nblocks;
	uint64_t allowed[2];	/* the commit slot and its replica for this generation */
	long violations;
};

static int guard_fn(void *ctx, uint64_t off, uint64_t len)
{
	struct guard *g = ctx;
	uint64_t first = off / PMCFS_BLOCK_SIZE, last = (off + len - 1) / PMCFS_BLOCK_SIZE;

	for (uint64_t b = first; b <= last && g->reachable; b++) {
		if (b == g->allowed[0] || b == g->allowed[1])
			continue;
		if (b < PMCFS_RESERVED_BLOCKS || b >= g->nblocks - PMCFS_RESERVED_BLOCKS ||
		    (b < g->nblocks && g->reachable[b])) {
			fprintf(stderr, "guard: write to block %lu of the durable state\n", b);
			g->violations++;
			return -EPERM;
		}
	}
	return 0;
}

static struct fsaudit audit;
static struct guard guard;

static void audit_and_arm(struct pmcfs_fs *fs)
{
	const struct pmcfs_commit_info *ci = pmcfs_fs_commit(fs);
	const struct pmcfs_sb_info *sb = pmcfs_fs_sb(fs);
	uint64_t next = ci->generation + 1;

	fsaudit_free(&audit);
	if (fsaudit_run(fs, &audit))
		fprintf(stderr, "audit after generation %lu: %d errors, first: %s\n",
			ci->generation, audit.errors, audit.first_error);
	CHECK(audit.errors == 0);
	guard.reachable = audit.reachable;
	guard.nblocks = sb->nblocks;
	guard.allowed[0] = sb->slot_blkno[next & 1];
	guard.allowed[1] = sb->replica_blkno + 1 + (next & 1);
}

static void compare_tree(struct pmcfs_fs *fs, uint64_t id, const struct model *m)
{
	struct pmcfs_tree *t;
	struct pmcfs_iter *it;
	struct pmcfs_ckey k;
	const void *body;
	uint32_t size;
	unsigned expect = 0, found = 0;
	uint8_t want[PMCFS_MAX_ITEM_BODY];

	struct pmcfs_ckey first = mkkey(0);

	CHECK_OK(pmcfs_subvol_open(fs, id, &t));
	CHECK_OK(pmcfs_iter_start(fs, t, &first, &it));
	for (unsigned i = 0; i < NKEYS; i++)
		expect += m->len[i] != 0xffff;
	while (pmcfs_iter_next(it, &k, &body, &size) > 0) {
		unsigned key = (unsigned)k.offset;
		found++;
		if (key >= NKEYS || m->len[key] == 0xffff || m->len[key] != size) {
			CHECK(!"tree item not in the model or wrong size");
			continue;
		}
		fill_value(want, key, m->seed[key], size);
		CHECK(memcmp(want, body, size) == 0);
	}
	pmcfs_iter_free(it);
	CHECK(found == expect);
}

static void op_put(struct pmcfs_trans *tx, struct pmcfs_tree *t, bool update)
{
	unsigned k = rnd() % NKEYS, len = rnd() % 8 ? rnd() % 200 : rnd() % (PMCFS_MAX_ITEM_BODY + 1);
	uint32_t seed = (uint32_t)rnd();
	uint8_t buf[PMCFS_MAX_ITEM_BODY];
	struct pmcfs_ckey key = mkkey(k);
	int err;

	fill_value(buf, k, seed, len);
	err = update ? pmcfs_tree_update(tx, t, &key, buf, len) : pmcfs_tree_insert(tx, t, &key, buf, len);
	if (!update && live.len[k] != 0xffff) {
		CHECK(err == -EEXIST);
		return;
	}
	CHECK_OK(err);
	live.len[k] = len;
	live.seed[k] = seed;
}

static void op_delete(struct pmcfs_trans *tx, struct pmcfs_tree *t)
{
	unsigned k = rnd() % NKEYS;
	struct pmcfs_ckey key = mkkey(k);
	int err = pmcfs_tree_delete(tx, t, &key);

	if (live.len[k] == 0xffff) {
		CHECK(err == -ENOENT);
		return;
	}
	CHECK_OK(err);
	live.len[k] = 0xffff;
}

static void op_lookup(struct pmcfs_fs *fs, struct pmcfs_tree *t)
{
	unsigned k = rnd() % NKEYS;
	struct pmcfs_ckey key = mkkey(k);
	uint8_t buf[PMCFS_MAX_ITEM_BODY], want[PMCFS_MAX_ITEM_BODY];
	uint32_t size;
	int err = pmcfs_tree_lookup(fs, t, &key, buf, sizeof(buf), &size);

	if (live.len[k] == 0xffff) {
		CHECK(err == -ENOENT);
		return;
	}
	CHECK_OK(err);
	CHECK(size == live.len[k]);
	fill_value(want, k, live.seed[k], size);
	CHECK(!memcmp(buf, want, size));
}

static void op_scan(struct pmcfs_fs *fs, struct pmcfs_tree *t)
{
	unsigned k = rnd() % NKEYS, n = 0;
	struct pmcfs_ckey start = mkkey(k), got;
	struct pmcfs_iter *it;
	const void *body;
	uint32_t size;

	CHECK_OK(pmcfs_iter_start(fs, t, &start, &it));
	/* Keys are ordered as k (objectid k/7, then offset k): the model order. */
	for (unsigned i = k; i < NKEYS && n < 40; i++) {
		if (live.len[i] == 0xffff)
			continue;
		CHECK(pmcfs_iter_next(it, &got, &body, &size) == 1);
		CHECK(got.offset == i && size == live.len[i]);
		n++;
	}
	if (n < 40)
		CHECK(pmcfs_iter_next(it, &got, &body, &size) == 0);
	pmcfs_iter_free(it);
}

int main(int argc, char **argv)
{
	long ops = argc > 1 ? atol(argv[1]) : 100000, done = 0, commits = 0, aborts = 0, reopens = 0;
	struct pmcfs_dev *mem, *dev;
	struct pmcfs_fs *fs;
	struct pmcfs_mkfs_params p = { .mkfs_time = 1700000000 };
	long snaps_made = 0, snaps_dropped = 0;

	rng_state = argc > 2 ? strtoull(argv[2], NULL, 0) : 0x9e3779b97f4a7c15ULL;
	memset(live.len, 0xff, sizeof(live.len));
	committed = live;
	memset(p.uuid, 0x5a, 16);
	CHECK_OK(pmcfs_dev_mem_open(DEV_SIZE, &mem));
	CHECK_OK(pmcfs_dev_record_open(mem, &dev));
	CHECK_OK(pmcfs_mkfs(dev, &p, NULL));
	CHECK_OK(pmcfs_fs_open(dev, 0, &fs));
	audit_and_arm(fs);
	pmcfs_dev_record_set_guard(dev, guard_fn, &guard);

	while (done < ops && !tcheck_failures) {
		struct pmcfs_trans *tx;
		struct pmcfs_tree *t;
		bool abortable = rnd() % 10 == 0;
		long n = 1 + rnd() % 200;
		/* Debugging aid: commit after every operation so the audit names it. */
		if (getenv("TEST_BTREE_ONE_OP"))
			n = 1;

		CHECK_OK(pmcfs_trans_begin(fs, &tx));
		CHECK_OK(pmcfs_subvol_open(fs, PMCFS_FIRST_SUBVOL, &t));
		for (long i = 0; i < n && done < ops; i++, done++) {
			unsigned r = rnd() % 100;
			if (getenv("TEST_BTREE_ONE_OP") || getenv("TEST_BTREE_TRACE"))
				fprintf(stderr, "op %ld: %u\n", done, r);
			if (r < 35)
				op_put(tx, t, false);
			else if (r < 45)
				op_put(tx, t, true);
			else if (r < 75)
				op_delete(tx, t);
			else if (r < 90)
				op_lookup(fs, t);
			else if (r < 98)
				op_scan(fs, t);
			else if (!abortable && nsnaps < MAX_SNAPS && r == 98) {
				uint64_t id;
				char name[32];
				snprintf(name, sizeof(name), "snap%ld", snaps_made++);
				CHECK_OK(pmcfs_subvol_snapshot(tx, PMCFS_FIRST_SUBVOL, name,
							       PMCFS_SNAP_RDONLY, &id));
				snaps[nsnaps].id = id;
				snaps[nsnaps].m = live;
				nsnaps++;
			} else if (!abortable && nsnaps && r == 99) {
				int s = rnd() % nsnaps;
				if (rnd() % 2 || ndropping == MAX_SNAPS) {
					CHECK_OK(pmcfs_subvol_delete(tx, snaps[s].id));
				} else {
					/* Deleted a little per transaction from now on. */
					CHECK_OK(pmcfs_subvol_delete_start(tx, snaps[s].id));
					dropping[ndropping++] = snaps[s].id;
				}
				snaps[s] = snaps[--nsnaps];
				snaps_dropped++;
			}
		}
		for (int d = 0; !abortable && d < ndropping; d++) {
			bool finished;
			CHECK_OK(pmcfs_subvol_drop_step(tx, dropping[d], 1 + rnd() % 3, &finished));
			if (finished)
				dropping[d--] = dropping[--ndropping];
		}
		if (abortable) {
			pmcfs_trans_abort(tx);
			live = committed;
			aborts++;
		} else {
			CHECK_OK(pmcfs_trans_commit(tx));
			committed = live;
			commits++;
		}
		if (rnd() % 50 == 0) {
			pmcfs_fs_close(fs);
			CHECK_OK(pmcfs_fs_open(dev, 0, &fs));
			reopens++;
		}
		audit_and_arm(fs);
		compare_tree(fs, PMCFS_FIRST_SUBVOL, &live);
		for (int s = 0; s < nsnaps; s++)
			compare_tree(fs, snaps[s].id, &snaps[s].m);
	}
	CHECK(guard.violations == 0);
	printf("test_btree: %ld ops, %ld commits, %ld aborts, %ld reopens, %ld snapshots made, "
	       "%ld deleted, final tree %lu nodes %lu items\n", done, commits, aborts, reopens,
	       snaps_made, snaps_dropped, audit.nodes, audit.items);
	pmcfs_fs_close(fs);
	fsaudit_free(&audit);
	pmcfs_dev_close(dev);
	return tcheck_done("test_btree");
}

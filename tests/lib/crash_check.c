/*
 * Oracles for one crash image (format-notes §10):
 *  1. it opens;
 *  2. the independent audit finds nothing (structure, exact refcounts,
 *     free count), and neither does fsck.pmcfs -n (crash_fsck.c), run
 *     once per distinct committed state;
 *  3. its logical content is the state before the op in flight or one
 *     the op committed, nothing else;
 *  and, because recovery must leave a filesystem that keeps working,
 *  4. one more transaction on the recovered image commits and audits
 *     clean (a recovered free-space view that hands out a live block
 *     would pass 1-3 and corrupt the next write).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "crash.h"
#include "fsaudit.h"
#include "pmcfs_endian.h"

/* ---- reachability, for pruning ------------------------------------------------ */

static void reach_walk(struct pmcfs_fs *fs, uint8_t *mark, uint8_t *seen, uint64_t nblocks,
		       uint64_t tree, uint64_t blk, int level)
{
	uint8_t buf[PMCFS_BLOCK_SIZE] __attribute__((aligned(64)));
	struct pmcfs_verify_err why;
	unsigned n;

	if (blk >= nblocks || seen[blk])
		return;
	seen[blk] = mark[blk] = 1;
	/* A block that fails its checks is read but leads nowhere. */
	if (pmcfs_block_read(fs, blk, buf) ||
	    pmcfs_node_verify(fs, buf, blk, pmcfs_tree_magic(tree), level, &why))
		return;
	n = pmcfs_node_nritems(buf);
	for (unsigned i = 0; i < n; i++) {
		struct pmcfs_ckey k;
		uint32_t sz;
		const void *body;
		if (level) {
			uint64_t cb, cg;
			pmcfs_node_child(buf, i, &cb, &cg);
			reach_walk(fs, mark, seen, nblocks, tree, cb, level - 1);
			continue;
		}
		pmcfs_node_key(buf, i, &k);
		body = pmcfs_leaf_body(buf, i, &sz);
		if (tree == PMCFS_ROOTTAB_TREE && k.type == PMCFS_KEY_ROOT && sz >= sizeof(struct pmcfs_root_item)) {
			struct pmcfs_root_item ri;
			memcpy(&ri, body, sizeof(ri));
			reach_walk(fs, mark, seen, nblocks, k.objectid, pmcfs_root_item_blkno(&ri),
				   pmcfs_root_item_level(&ri));
		} else if (tree >= PMCFS_FIRST_SUBVOL && k.type == PMCFS_KEY_EXTENT &&
			   sz >= sizeof(struct pmcfs_extent)) {
			/* Data is read by dump (content hashes) once files exist. */
			struct pmcfs_extent e;
			memcpy(&e, body, sizeof(e));
			for (uint64_t b = pmcfs_extent_phys(&e), c = 0;
			     c < pmcfs_extent_nblocks(&e) && b < nblocks; b++, c++)
				mark[b] = 1;
		}
	}
}

void crash_reach(struct crash_img *im, uint8_t *mark, const uint8_t *inflight)
{
	struct pmcfs_super_scan scan;
	struct pmcfs_dev *dev;
	struct pmcfs_fs *fs;
	uint8_t *seen;

	/* Open reads these whatever they hold. */
	mark[0] = 1;
	for (uint64_t b = 1; b < 3; b++)
		mark[b] = 1;
	if (crash_img_dev(im, false, &dev))
		return;
	if (pmcfs_super_scan(dev, &scan) && scan.current < 0) {
		pmcfs_dev_close(dev);
		return;
	}
	for (uint64_t b = scan.sb.replica_blkno; b < scan.sb.replica_blkno + 3 && b < im->nblocks; b++)
		mark[b] = 1;
	if (pmcfs_fs_open(dev, PMCFS_OPEN_RDONLY | PMCFS_OPEN_NOSPACE, &fs)) {
		pmcfs_dev_close(dev);
		return;
	}
	seen = calloc(im->nblocks, 1);
	if (!seen)
		abort();
	/*
	 * Every record that some subset of the epoch can make open choose:
	 * the newest valid one, and older ones while every newer record sits
	 * in a block the epoch writes (and so may be torn). A stale record
	 * behind an intact newer one can never be chosen, so the blocks it
	 * reaches (freed and reused since) cannot matter.
	 */
	for (uint64_t floor = UINT64_MAX;;) {
		uint64_t gen = 0;
		bool stop = false, any = false;
		for (int s = 0; s < PMCFS_NSLOTS; s++)
			if (!scan.slot[s].err && scan.slot[s].ci.generation < floor &&
			    scan.slot[s].ci.generation >= gen)
				gen = scan.slot[s].ci.generation, any = true;
		if (!any)
			break;
		for (int s = 0; s < PMCFS_NSLOTS; s++) {
			const struct pmcfs_commit_info *ci = &scan.slot[s].ci;
			if (scan.slot[s].err || ci->generation != gen)
				continue;
			if (!inflight[scan.slot[s].blkno])
				stop = true;
			memset(seen, 0, im->nblocks);
			reach_walk(fs, mark, seen, im->nblocks, PMCFS_ROOTTAB_TREE, ci->roottab.blkno,
				   ci->roottab.level);
			reach_walk(fs, mark, seen, im->nblocks, PMCFS_SPACEMAP_TREE, ci->spacemap.blkno,
				   ci->spacemap.level);
		}
		if (stop)
			break;
		floor = gen;
	}
	free(seen);
	pmcfs_fs_close(fs);
	pmcfs_dev_close(dev);
}

/*
 * What fsck reads of a committed state: the superblocks and commit slots
 * (both copies) and every block the commit reaches (tree nodes and data,
 * from the audit). Images equal in these get the same verdict.
 */
static uint64_t fsck_key(struct crash_img *im, const struct fsaudit *a)
{
	uint64_t h = 0xf5c4, replica = im->nblocks - PMCFS_RESERVED_BLOCKS;

	for (uint64_t b = 0; b < im->nblocks; b++) {
		const uint8_t *blk;
		if (!(b < 3 || (b >= replica && b < replica + 3) || (a->refs && a->refs[b]) ||
		      (a->reachable && a->reachable[b])))
			continue;
		blk = im->map[b] >= 0 ? im->copies + (size_t)im->map[b] * PMCFS_BLOCK_SIZE :
		      im->base + b * PMCFS_BLOCK_SIZE;
		h = crash_mix(h, crash_hash64(blk, PMCFS_BLOCK_SIZE, b));
	}
	return h;
}

/* ---- the checks ---------------------------------------------------------------- */

static int fail(char *why, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(char *why, size_t len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, len, fmt, ap);
	va_end(ap);
	return -1;
}

/* Finish interrupted deletions, one step per transaction, as mount or fsck would. */
static int finish_drops(struct pmcfs_fs *fs)
{
	struct pmcfs_ckey start = { PMCFS_FIRST_SUBVOL, 0, 0 }, k;
	struct pmcfs_iter *it;
	const void *body;
	uint32_t size;
	uint64_t ids[64];
	size_t n = 0;
	int err;

	if ((err = pmcfs_iter_start(fs, pmcfs_fs_roottab(fs), &start, &it)))
		return err;
	while (n < 64 && (err = pmcfs_iter_next(it, &k, &body, &size)) > 0) {
		struct pmcfs_root_item ri;
		if (k.type != PMCFS_KEY_ROOT || size < sizeof(ri))
			continue;
		memcpy(&ri, body, sizeof(ri));
		if (pmcfs_root_item_flags(&ri) & PMCFS_ROOT_DROPPING)
			ids[n++] = k.objectid;
	}
	pmcfs_iter_free(it);
	for (size_t i = 0; err >= 0 && i < n; i++) {
		bool done = false;
		while (!done) {
			struct pmcfs_trans *tx;
			if ((err = pmcfs_trans_begin(fs, &tx)))
				return err;
			if ((err = pmcfs_subvol_drop_step(tx, ids[i], 4, &done))) {
				pmcfs_trans_abort(tx);
				return err;
			}
			if ((err = pmcfs_trans_commit(tx)))
				return err;
		}
	}
	return err < 0 ? err : 0;
}

/* Commit one more change on the recovered image and audit the result. */
static int recover_check(struct crash_img *im, char *why, size_t whylen)
{
	struct pmcfs_dev *dev;
	struct pmcfs_fs *fs;
	struct pmcfs_trans *tx;
	struct pmcfs_tree *t;
	struct fsaudit a;
	uint8_t body[200];
	int err, ret = 0;

	if ((err = crash_img_dev(im, true, &dev)))
		return fail(why, whylen, "recovery: %s", pmcfs_strerror(err));
	if ((err = pmcfs_fs_open(dev, 0, &fs))) {
		pmcfs_dev_close(dev);
		return fail(why, whylen, "recovery: read-write open: %s", pmcfs_strerror(err));
	}
	memset(body, 0xc5, sizeof(body));
	if ((err = finish_drops(fs))) {
		pmcfs_fs_close(fs);
		pmcfs_dev_close(dev);
		return fail(why, whylen, "recovery: finishing an interrupted deletion: %s",
			    pmcfs_strerror(err));
	}
	err = pmcfs_trans_begin(fs, &tx);
	if (!err) {
		uint64_t root = pmcfs_fs_sb(fs)->root_subvol, id;
		struct pmcfs_ckey k = { 0xc0ffee, 100, pmcfs_trans_generation(tx) };
		if (pmcfs_subvol_open(fs, root, &t) == 0)
			err = pmcfs_tree_update(tx, t, &k, body, sizeof(body));
		else
			err = pmcfs_subvol_create(tx, "recovered", &id);
		if (!err)
			err = pmcfs_trans_commit(tx);
		else
			pmcfs_trans_abort(tx);
	}
	if (err)
		ret = fail(why, whylen, "recovery: transaction after recovery failed: %s",
			   pmcfs_strerror(err));
	else if (fsaudit_run(fs, &a))
		ret = fail(why, whylen, "recovery: audit after one more commit: %d errors, first: %s",
			   a.errors, a.first_error);
	if (!err)
		fsaudit_free(&a);
	pmcfs_fs_close(fs);
	pmcfs_dev_close(dev);
	return ret;
}

int crash_check_image(struct crash_img *im, const struct crash_expect *ex,
		      const struct crash_cfg *cfg, char *why, size_t whylen)
{
	struct pmcfs_dev *dev;
	struct pmcfs_fs *fs;
	struct fsaudit a;
	struct crash_dump d;
	int err, ret = 0;

	if ((err = crash_img_dev(im, false, &dev)))
		return fail(why, whylen, "image device: %s", pmcfs_strerror(err));
	im->track = true;
	err = pmcfs_fs_open(dev, PMCFS_OPEN_RDONLY | PMCFS_OPEN_NOSPACE, &fs);
	if (err) {
		im->track = false;
		pmcfs_dev_close(dev);
		if (ex->nofs_ok)
			return 0;
		return fail(why, whylen, "open failed: %s", pmcfs_strerror(err));
	}
	if (fsaudit_run(fs, &a))
		ret = fail(why, whylen, "audit: %d errors, first: %s (generation %lu)", a.errors,
			   a.first_error, (unsigned long)pmcfs_fs_commit(fs)->generation);
	if (!ret && ex->fsck && crash_fsck_path() && crash_fsck_new_state(fsck_key(im, &a)))
		ret = crash_fsck_check(im, why, whylen);
	fsaudit_free(&a);
	if (!ret && (err = crash_dump_fs(fs, &d)))
		ret = fail(why, whylen, "dump failed: %s", pmcfs_strerror(err));
	if (!ret) {
		int i;
		for (i = 0; i < ex->n && ex->hash[i] != d.hash; i++)
			;
		if (i == ex->n)
			ret = fail(why, whylen, "state (generation %lu) %s is none of the %d legal ones, "
				   "first %s, last %s", (unsigned long)pmcfs_fs_commit(fs)->generation,
				   d.text, ex->n, ex->n ? ex->dump[0].text : "-",
				   ex->n ? ex->dump[ex->n - 1].text : "-");
	}
	im->track = false;
	pmcfs_fs_close(fs);
	pmcfs_dev_close(dev);
	if (!ret && cfg->recover_tx)
		ret = recover_check(im, why, whylen);
	return ret;
}

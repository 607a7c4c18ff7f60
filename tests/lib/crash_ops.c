/*
 * The op table of the crash harness, and the image every workload
 * starts from.
 *
 * Adding an op (the namespace operations: create, write, truncate,
 * punch, unlink, rename, link, clone-range, dedupe, xattr, fsck -y) is one
 * function and one row: apply() gets an open transaction and a private
 * rng and picks its targets from what the live filesystem holds, so
 * every sequence of ops is meaningful and a replay repeats it exactly.
 * The harness commits, explores every epoch and checks every state; an op
 * never has to describe what it changed.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "crash.h"
#include "pmcfs_endian.h"
#include "pmcfs_repair.h"

#define ITEM_TYPE	100	/* test items: no data references, any body */
#define NKEYS		20000
#define MAX_LIST	1024

uint64_t crash_rand(struct crash_opctx *c)
{
	c->rng = crash_mix(c->rng, 0x2545f4914f6cdd1dULL);
	return c->rng;
}

static struct pmcfs_ckey item_key(unsigned k)
{
	struct pmcfs_ckey key = { 1000 + k / 7, ITEM_TYPE, k };
	return key;
}

static void fill(uint8_t *buf, size_t len, uint64_t seed)
{
	for (size_t i = 0; i < len; i++)
		buf[i] = (uint8_t)crash_mix(seed, i / 8) ^ (uint8_t)i;
}

size_t crash_list_subvols(struct pmcfs_fs *fs, uint64_t *ids, size_t max, bool writable_only,
			  bool skip_root)
{
	struct pmcfs_ckey start = { PMCFS_FIRST_SUBVOL, 0, 0 }, k;
	struct pmcfs_iter *it;
	const void *body;
	uint32_t size;
	size_t n = 0;

	if (pmcfs_iter_start(fs, pmcfs_fs_roottab(fs), &start, &it))
		return 0;
	while (pmcfs_iter_next(it, &k, &body, &size) > 0 && n < max) {
		struct pmcfs_root_item ri;
		if (k.type != PMCFS_KEY_ROOT || size < sizeof(ri))
			continue;
		memcpy(&ri, body, sizeof(ri));
		if (pmcfs_root_item_flags(&ri) & PMCFS_ROOT_DROPPING)
			continue;	/* logically gone already */
		if (writable_only && (pmcfs_root_item_flags(&ri) & PMCFS_ROOT_RDONLY))
			continue;
		if (skip_root && k.objectid == pmcfs_fs_sb(fs)->root_subvol)
			continue;
		ids[n++] = k.objectid;
	}
	pmcfs_iter_free(it);
	return n;
}

/* Mostly the live subvolume, sometimes another writable one (a snapshot's CoW). */
static int pick_tree(struct crash_opctx *c, struct pmcfs_tree **t)
{
	uint64_t ids[MAX_LIST], id = pmcfs_fs_sb(c->fs)->root_subvol;
	size_t n = crash_list_subvols(c->fs, ids, MAX_LIST, true, true);

	if (n && crash_rand(c) % 4 == 0)
		id = ids[crash_rand(c) % n];
	return pmcfs_subvol_open(c->fs, id, t);
}

/* Keys of up to max test items from the n-th on (n taken modulo the count). */
static size_t pick_items(struct crash_opctx *c, struct pmcfs_tree *t, size_t max,
			 struct pmcfs_ckey *keys)
{
	struct pmcfs_ckey start = { 0, 0, 0 }, k;
	struct pmcfs_iter *it;
	const void *body;
	uint32_t size;
	size_t count = 0, skip, n = 0;

	if (pmcfs_iter_start(c->fs, t, &start, &it))
		return 0;
	while (pmcfs_iter_next(it, &k, &body, &size) > 0)
		count += k.type == ITEM_TYPE;
	pmcfs_iter_free(it);
	if (!count)
		return 0;
	skip = crash_rand(c) % count;
	if (pmcfs_iter_start(c->fs, t, &start, &it))
		return 0;
	while (n < max && pmcfs_iter_next(it, &k, &body, &size) > 0) {
		if (k.type != ITEM_TYPE)
			continue;
		if (skip) {
			skip--;
			continue;
		}
		keys[n++] = k;
	}
	pmcfs_iter_free(it);
	return n;
}

static int put_items(struct crash_opctx *c, struct pmcfs_trans *tx, struct pmcfs_tree *t,
		     unsigned n, bool dense, unsigned maxlen)
{
	uint8_t body[PMCFS_MAX_ITEM_BODY];
	unsigned k0 = crash_rand(c) % NKEYS;

	for (unsigned i = 0; i < n; i++) {
		unsigned k = dense ? (k0 + i) % NKEYS : crash_rand(c) % NKEYS;
		uint32_t len = crash_rand(c) % (maxlen + 1);
		struct pmcfs_ckey key = item_key(k);
		int err;
		fill(body, len, crash_rand(c));
		err = pmcfs_tree_insert(tx, t, &key, body, len);
		if (err && err != -EEXIST)
			return err;
	}
	return 0;
}

static int op_ins(struct pmcfs_trans *tx, struct crash_opctx *c)
{
	struct pmcfs_tree *t;
	int err = pick_tree(c, &t);

	return err ? err : put_items(c, tx, t, 1, false, 300);
}

static int op_ins_split(struct pmcfs_trans *tx, struct crash_opctx *c)
{
	struct pmcfs_tree *t;
	int err = pick_tree(c, &t);

	/* About 7 KiB into one key range: at least one leaf split. */
	return err ? err : put_items(c, tx, t, 48, true, 300);
}

static int op_upd(struct pmcfs_trans *tx, struct crash_opctx *c)
{
	uint8_t body[PMCFS_MAX_ITEM_BODY];
	struct pmcfs_ckey key;
	struct pmcfs_tree *t;
	uint32_t len;
	int err = pick_tree(c, &t);

	if (err || !pick_items(c, t, 1, &key))
		return err;
	len = crash_rand(c) % (PMCFS_MAX_ITEM_BODY + 1);
	fill(body, len, crash_rand(c));
	return pmcfs_tree_update(tx, t, &key, body, len);
}

static int del_items(struct pmcfs_trans *tx, struct crash_opctx *c, size_t max)
{
	struct pmcfs_ckey keys[64];
	struct pmcfs_tree *t;
	size_t n;
	int err = pick_tree(c, &t);

	if (err)
		return err;
	n = pick_items(c, t, max, keys);
	for (size_t i = 0; !err && i < n; i++)
		err = pmcfs_tree_delete(tx, t, &keys[i]);
	return err;
}

static int op_del(struct pmcfs_trans *tx, struct crash_opctx *c) { return del_items(tx, c, 1); }
/* Enough consecutive items to empty a leaf: merges and rebalancing. */
static int op_del_range(struct pmcfs_trans *tx, struct crash_opctx *c) { return del_items(tx, c, 48); }

static int op_subvol(struct pmcfs_trans *tx, struct crash_opctx *c)
{
	struct pmcfs_tree *t;
	char name[32];
	uint64_t id;
	int err;

	snprintf(name, sizeof(name), "sv%04x", (unsigned)(crash_rand(c) & 0xffff));
	if ((err = pmcfs_subvol_create(tx, name, &id)) == -EEXIST)
		return 0;
	if (err || (err = pmcfs_subvol_open(c->fs, id, &t)))
		return err;
	return put_items(c, tx, t, 8, false, 200);
}

static int op_snap(struct pmcfs_trans *tx, struct crash_opctx *c)
{
	uint64_t ids[MAX_LIST], src = pmcfs_fs_sb(c->fs)->root_subvol, id;
	size_t n = crash_list_subvols(c->fs, ids, MAX_LIST, false, true);
	char name[32];
	int err;

	if (n && crash_rand(c) % 4 == 0)
		src = ids[crash_rand(c) % n];	/* snapshots of snapshots share deeper */
	snprintf(name, sizeof(name), "snap%04x", (unsigned)(crash_rand(c) & 0xffff));
	err = pmcfs_subvol_snapshot(tx, src, name, crash_rand(c) % 2 ? PMCFS_SNAP_RDONLY : 0, &id);
	return err == -EEXIST ? 0 : err;
}

/* Deletion in one transaction. */
static int op_snapdel(struct pmcfs_trans *tx, struct crash_opctx *c)
{
	uint64_t ids[MAX_LIST];
	size_t n = crash_list_subvols(c->fs, ids, MAX_LIST, false, true);

	return n ? pmcfs_subvol_delete(tx, ids[crash_rand(c) % n]) : 0;
}

/*
 * Incremental deletion: mark DROPPING, then one subtree per transaction,
 * so crashes land between any two steps (an interrupted delete). The
 * harness accepts every committed step; the dump already counts a
 * DROPPING subvolume as gone, and recovery finishes the drop.
 */
static int op_snapdel_inc(struct pmcfs_trans *tx, struct crash_opctx *c)
{
	uint64_t ids[MAX_LIST];
	size_t n;
	bool done;
	int err;

	if (c->step == 0) {
		c->state = 0;
		n = crash_list_subvols(c->fs, ids, MAX_LIST, false, true);
		if (!n)
			return 0;
		c->state = ids[crash_rand(c) % n];
		err = pmcfs_subvol_delete_start(tx, c->state);
		return err ? err : CRASH_MORE;
	}
	err = pmcfs_subvol_drop_step(tx, c->state, 1, &done);
	return err ? err : done ? CRASH_COMMIT : CRASH_MORE;
}

/*
 * An interrupted deletion: mark DROPPING and take two steps, one per
 * transaction, then stop. The subvolume stays DROPPING in every later
 * state, for recovery (and fsck -y) to finish.
 */
static int op_snapdel_part(struct pmcfs_trans *tx, struct crash_opctx *c)
{
	bool done;
	int err;

	if (c->step == 0)
		return op_snapdel_inc(tx, c);
	if (!c->state)
		return 0;
	err = pmcfs_subvol_drop_step(tx, c->state, 1, &done);
	return err ? err : done || c->step >= 2 ? CRASH_COMMIT : CRASH_MORE;
}

/* Changes that must leave no trace. */
static int op_abort(struct pmcfs_trans *tx, struct crash_opctx *c)
{
	int err = op_ins_split(tx, c);

	if (!err)
		err = op_del_range(tx, c);
	if (!err)
		err = op_snap(tx, c);
	return err ? err : CRASH_ABORT;
}

static int op_commit(struct pmcfs_trans *tx, struct crash_opctx *c)
{
	return 0;	/* an empty transaction still writes a commit record */
}

static int do_mkfs(struct crash_opctx *c, bool same_uuid)
{
	struct pmcfs_mkfs_params p = { .mkfs_time = 1700000000 };
	struct pmcfs_super_scan scan;
	uint64_t r = crash_rand(c);

	memcpy(p.uuid, &r, 8);
	r = crash_rand(c);
	memcpy(p.uuid + 8, &r, 8);
	if (same_uuid && pmcfs_super_scan(c->dev, &scan) == 0)
		memcpy(p.uuid, scan.sb.uuid, 16);
	snprintf(p.label, sizeof(p.label), "crash");
	return pmcfs_mkfs(c->dev, &p, NULL);
}

/*
 * fsck's rollback (P2.016) on a sound filesystem: the previous commit is
 * made current again, as the newest generation + 1. It is intact however
 * the workload got here (deferred frees; after a rollback nothing was
 * allocated since), so the harness may take it back: a crash must leave
 * one of the two states, and every op after it must run on the old
 * state's space map with the abandoned commit's blocks free.
 */
static int op_rollback(struct crash_opctx *c)
{
	struct pmcfs_super_scan sc;
	int older = -1, err = pmcfs_super_scan(c->dev, &sc);

	if (err)
		return err;
	for (int s = 0; s < PMCFS_NSLOTS; s++)
		if (!sc.slot[s].err && sc.slot[s].ci.generation < sc.slot[sc.current].ci.generation &&
		    (older < 0 || sc.slot[s].ci.generation > sc.slot[older].ci.generation))
			older = s;
	return older < 0 ? 0 : pmcfs_fs_rollback(c->dev, older, NULL);	/* none: just formatted */
}

static int op_mkfs(struct crash_opctx *c) { return do_mkfs(c, false); }
static int op_mkfs_same(struct crash_opctx *c) { return do_mkfs(c, true); }

const struct crash_op crash_ops[] = {
	{ "ins", op_ins, NULL, CRASH_OP_SHORT | CRASH_OP_RAW, "insert one item" },
	{ "ins-split", op_ins_split, NULL, CRASH_OP_SHORT | CRASH_OP_RAW,
	  "insert 48 adjacent items (leaf splits)" },
	{ "upd", op_upd, NULL, CRASH_OP_RAW, "replace one item's body, up to the largest size" },
	{ "del", op_del, NULL, CRASH_OP_RAW, "delete one item" },
	{ "del-range", op_del_range, NULL, CRASH_OP_SHORT | CRASH_OP_RAW,
	  "delete 48 adjacent items (merges)" },
	{ "subvol", op_subvol, NULL, CRASH_OP_RAW, "create a subvolume with 8 items" },
	{ "snap", op_snap, NULL, CRASH_OP_SHORT, "snapshot a subvolume, read-only or not" },
	{ "snapdel", op_snapdel, NULL, 0, "delete a snapshot or subvolume in one transaction" },
	{ "snapdel-inc", op_snapdel_inc, NULL, CRASH_OP_SHORT,
	  "delete a snapshot or subvolume one subtree per transaction" },
	{ "snapdel-part", op_snapdel_part, NULL, CRASH_OP_NS | CRASH_OP_SHORT,
	  "start deleting a subvolume, two steps, then stop (left DROPPING)" },
	{ "abort", op_abort, NULL, 0, "insert, delete, snapshot, then abort" },
	{ "commit", op_commit, NULL, 0, "commit an empty transaction" },
	{ "create", crash_op_create, NULL, CRASH_OP_NS | CRASH_OP_SHORT, "create a regular file" },
	{ "mkdir", crash_op_mkdir, NULL, CRASH_OP_NS, "create a directory" },
	{ "symlink", crash_op_symlink, NULL, CRASH_OP_NS, "create a symlink, short or long target" },
	{ "write", crash_op_write, NULL, CRASH_OP_NS, "write inside one block of a file (or past its end)" },
	{ "write-multi", crash_op_write_multi, NULL, CRASH_OP_NS, "write 2-5 blocks, unaligned" },
	{ "write-dax", crash_op_write_dax, NULL, CRASH_OP_NS, "new huge-page file, 256 KiB on a DAX boundary" },
	{ "overwrite-shared", crash_op_overwrite_shared, NULL, CRASH_OP_NS | CRASH_OP_SHORT,
	  "overwrite part of a range shared by a clone" },
	{ "trunc-down", crash_op_trunc_down, NULL, CRASH_OP_NS, "truncate a file down into a block" },
	{ "trunc-up", crash_op_trunc_up, NULL, CRASH_OP_NS, "extend a file by truncate" },
	{ "punch", crash_op_punch, NULL, CRASH_OP_NS, "punch a hole, partial blocks at the edges" },
	{ "unlink", crash_op_unlink, NULL, CRASH_OP_NS, "unlink a file or symlink" },
	{ "unlink-open", crash_op_unlink_open, NULL, CRASH_OP_NS, "unlink a file still open: an orphan" },
	{ "rename", crash_op_rename, NULL, CRASH_OP_NS, "rename within the directory" },
	{ "rename-dir", crash_op_rename_dir, NULL, CRASH_OP_NS, "rename into another directory" },
	{ "rename-over", crash_op_rename_over, NULL, CRASH_OP_NS, "rename over an existing file (replacing it)" },
	{ "link", crash_op_link, NULL, CRASH_OP_NS, "hard link a file" },
	{ "clone", crash_op_clone, NULL, CRASH_OP_NS, "clone a file or a block range (reflink)" },
	{ "dedupe", crash_op_dedupe, NULL, CRASH_OP_NS, "dedupe equal ranges: they become shared" },
	{ "dedupe-diff", crash_op_dedupe_diff, NULL, CRASH_OP_NS, "dedupe differing ranges: EDIFFERS, no change" },
	{ "xattr", crash_op_xattr, NULL, CRASH_OP_NS, "set an xattr, small or large value" },
	{ "fsck-y", NULL, crash_op_fsck_y, CRASH_OP_KEEPFS | CRASH_OP_NS | CRASH_OP_SHORT,
	  "fsck.pmcfs -y on the image (under strace: its writes replayed in order)" },
	{ "rollback", NULL, op_rollback, CRASH_OP_KEEPFS | CRASH_OP_NS,
	  "roll back to the previous commit (fsck's P2.016, on a sound filesystem)" },
	{ "mkfs", NULL, op_mkfs, CRASH_OP_SHORT | CRASH_OP_NORANDOM, "format (a new UUID)" },
	{ "mkfs-same", NULL, op_mkfs_same, CRASH_OP_NORANDOM, "reformat keeping the UUID" },
};
const size_t crash_nops = sizeof(crash_ops) / sizeof(crash_ops[0]);

const struct crash_op *crash_op_find(const char *name)
{
	for (size_t i = 0; i < crash_nops; i++)
		if (!strcmp(crash_ops[i].name, name))
			return &crash_ops[i];
	return NULL;
}

/* ---- the base image -------------------------------------------------------------- */

/*
 * A few hundred items so the live tree has height 2, a read-only snapshot
 * sharing most of it (so CoW and drops meet refcounts above 1), and a
 * second subvolume. Built once per process through the library itself.
 */
static int base_populate(struct pmcfs_dev *dev)
{
	struct crash_opctx c = { .dev = dev, .rng = 0xba5e };
	struct pmcfs_subvol_info si;
	struct pmcfs_trans *tx;
	struct pmcfs_tree *t;
	uint64_t id;
	int err;

	if ((err = pmcfs_fs_open(dev, 0, &c.fs)))
		return err;
	if (!(err = pmcfs_trans_begin(c.fs, &tx)) &&
	    !(err = pmcfs_subvol_open(c.fs, PMCFS_FIRST_SUBVOL, &t)) &&
	    !(err = put_items(&c, tx, t, 300, false, 250)))
		err = pmcfs_trans_commit(tx);
	if (!err && !(err = pmcfs_trans_begin(c.fs, &tx)) &&
	    !(err = pmcfs_subvol_snapshot(tx, PMCFS_FIRST_SUBVOL, "base-snap", PMCFS_SNAP_RDONLY, &id)))
		err = pmcfs_trans_commit(tx);
	if (!err && !(err = pmcfs_trans_begin(c.fs, &tx)) &&
	    !(err = put_items(&c, tx, t, 60, false, 250)) && !(err = del_items(tx, &c, 20)) &&
	    !(err = pmcfs_subvol_create(tx, "sv-base", &id)) &&
	    !(err = pmcfs_subvol_open(c.fs, id, &t)) && !(err = put_items(&c, tx, t, 20, false, 100)))
		err = pmcfs_trans_commit(tx);
	if (!err && !(err = pmcfs_subvol_info(c.fs, PMCFS_FIRST_SUBVOL, &si)) && si.root.level < 1)
		err = -EINVAL;	/* the base must exercise interior nodes */
	pmcfs_fs_close(c.fs);
	return err;
}

static int ns_populate(struct pmcfs_dev *dev)
{
	struct pmcfs_fs *fs;
	int err = pmcfs_fs_open(dev, 0, &fs);

	if (err)
		return err;
	err = crash_ns_populate(fs);
	pmcfs_fs_close(fs);
	return err;
}

int crash_base_get(bool ns, const struct crash_base **ret)
{
	static struct crash_base bases[2];
	static bool builts[2];
	struct crash_base *basep = &bases[ns];
	bool *built = &builts[ns];
	struct pmcfs_mkfs_params p = { .mkfs_time = 1700000000 };
	uint8_t buf[PMCFS_BLOCK_SIZE], zero[PMCFS_BLOCK_SIZE] = { 0 };
	uint64_t nblocks = CRASH_DEV_SIZE / PMCFS_BLOCK_SIZE;
	struct pmcfs_dev *dev;
	int err;

	*ret = basep;
	if (*built)
		return 0;
	memset(p.uuid, 0x5a, 16);
	if ((err = pmcfs_dev_mem_open(CRASH_DEV_SIZE, &dev)))
		return err;
	if (!(err = pmcfs_mkfs(dev, &p, NULL)))
		err = ns ? ns_populate(dev) : base_populate(dev);
	basep->blkno = malloc(nblocks * sizeof(*basep->blkno));
	basep->data = malloc(nblocks * PMCFS_BLOCK_SIZE);
	if (!err && (!basep->blkno || !basep->data))
		err = -ENOMEM;
	for (uint64_t b = 0; !err && b < nblocks; b++) {
		if ((err = pmcfs_dev_read(dev, buf, sizeof(buf), b * PMCFS_BLOCK_SIZE)))
			break;
		if (!memcmp(buf, zero, sizeof(buf)))
			continue;
		basep->blkno[basep->n] = b;
		memcpy(basep->data + basep->n++ * PMCFS_BLOCK_SIZE, buf, sizeof(buf));
	}
	pmcfs_dev_close(dev);
	*built = !err;
	return err;
}

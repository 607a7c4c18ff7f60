// SPDX-License-Identifier: MIT
/*
 * Making a filesystem. mkfs writes a bounded amount whatever the device
 * size: the superblock and its replica, four zeroed commit slots, and a
 * bootstrap generation (an empty root table and a space map of a few runs).
 * Everything else - bad blocks, the first subvolume and its root
 * directory - is built by an ordinary transaction on top, so mkfs uses
 * the same code paths as every later change.
 */
#include <errno.h>
#include <stdlib.h>
#include <sys/stat.h>
#include "fs_priv.h"

static bool pow2(uint64_t v) { return v && !(v & (v - 1)); }

static bool range_hits(const struct pmcfs_badrange *b, uint64_t start, uint64_t len)
{
	return b->start < start + len && start < b->start + b->len;
}

int pmcfs_mkfs_geometry(const struct pmcfs_mkfs_params *p, uint64_t dev_size,
			struct pmcfs_geometry *g)
{
	uint64_t size = p->size ? p->size : dev_size, align = p->dax_align ? p->dax_align : PMCFS_HUGE_SIZE;
	uint64_t align_blocks;

	memset(g, 0, sizeof(*g));
	if (!pow2(align) || align < PMCFS_BLOCK_SIZE || align > (1u << 30))
		return -EINVAL;
	if (size > dev_size)
		return -ENOSPC;
	align_blocks = align / PMCFS_BLOCK_SIZE;
	g->dax_align = align;
	g->nblocks = size / PMCFS_HUGE_SIZE * PMCFS_HUGE_BLOCKS;
	if (g->nblocks < PMCFS_MIN_BLOCKS)
		return -ENOSPC;
	g->replica_blkno = g->nblocks - PMCFS_RESERVED_BLOCKS;
	g->data_start = align_blocks > PMCFS_RESERVED_BLOCKS ? align_blocks : PMCFS_RESERVED_BLOCKS;
	g->data_end = g->replica_blkno;
	if (g->data_end < g->data_start + PMCFS_HUGE_BLOCKS)
		return -ENOSPC;
	for (size_t i = 0; i < p->nbad; i++) {
		const struct pmcfs_badrange *b = &p->bad[i];
		uint64_t s, e;
		if (b->len == 0 || b->start + b->len < b->start)
			return -EINVAL;
		/* Copies of the superblock and commit slots must be readable. */
		if (range_hits(b, 0, 3) || range_hits(b, g->replica_blkno, 3))
			return -EIO;
		s = b->start > g->data_start ? b->start : g->data_start;
		e = b->start + b->len < g->data_end ? b->start + b->len : g->data_end;
		if (s < e)
			g->bad_blocks += e - s;	/* overlapping entries are merged by the caller */
	}
	/* Root table, space map and fs tree leaves, before any growth. */
	g->meta_blocks = 3;
	if (g->data_end - g->data_start < g->bad_blocks + g->meta_blocks + 2)
		return -ENOSPC;
	g->free_blocks = g->data_end - g->data_start - g->bad_blocks - g->meta_blocks;
	return 0;
}

static bool is_bad(const struct pmcfs_mkfs_params *p, uint64_t blk)
{
	for (size_t i = 0; i < p->nbad; i++)
		if (range_hits(&p->bad[i], blk, 1))
			return true;
	return false;
}

static int write_block(struct pmcfs_dev *dev, uint64_t blkno, const void *buf)
{
	return pmcfs_dev_write(dev, buf, PMCFS_BLOCK_SIZE, blkno * PMCFS_BLOCK_SIZE);
}

static bool holds_blkno(const struct pmcfs_super_scan *sc, uint64_t blkno)
{
	for (int s = 0; s < PMCFS_NSLOTS; s++)
		if (sc->slot[s].blkno == blkno)
			return true;
	return false;
}

/*
 * Zero the old filesystem's commit slots (found through its own
 * superblock, whatever geometry it had) and the new geometry's, oldest
 * generation first with a barrier after each round. The writes of one
 * epoch persist in any order, so zeroing everything at once could
 * destroy the newest record while an older one survived, and the old
 * filesystem would reopen rolled back onto blocks it had since freed
 * and reused. Retired in order, a crash leaves it as it was or gone.
 * Without an old filesystem (with_barriers false) there is nothing to
 * protect and no barrier is issued.
 */
static int retire_old_commits(struct pmcfs_dev *dev, const struct pmcfs_sb_info *new_sb,
			      bool with_barriers, uint8_t *zero)
{
	uint64_t dev_blocks = dev->size / PMCFS_BLOCK_SIZE;
	struct pmcfs_super_scan sc;
	int err;

	if (pmcfs_super_scan(dev, &sc) == -ENOMEM)
		return -ENOMEM;
	memset(zero, 0, PMCFS_BLOCK_SIZE);
	/* The new geometry's slots, where they are not the old ones, go
	 * in the first round: the old superblock does not reach them. */
	for (int s = 0; new_sb && s < 2; s++) {
		uint64_t blk[2] = { new_sb->slot_blkno[s], pmcfs_slot_replica(new_sb, s) };
		for (int i = 0; i < 2; i++)
			if (!holds_blkno(&sc, blk[i]) && (err = write_block(dev, blk[i], zero)))
				return err;
	}
	for (int round = 0;; round++) {
		uint64_t gen = UINT64_MAX;	/* invalid slots count as generation 0 */
		for (int s = 0; s < PMCFS_NSLOTS; s++) {
			const struct pmcfs_slot_state *st = &sc.slot[s];
			if (st->blkno && st->blkno < dev_blocks && (st->err ? 0 : st->ci.generation) < gen)
				gen = st->err ? 0 : st->ci.generation;
		}
		if (gen == UINT64_MAX && round > 0)
			return 0;
		for (int s = 0; s < PMCFS_NSLOTS; s++) {
			struct pmcfs_slot_state *st = &sc.slot[s];
			if (st->blkno && st->blkno < dev_blocks &&
			    (st->err ? 0 : st->ci.generation) == gen) {
				if ((err = write_block(dev, st->blkno, zero)))
					return err;
				st->blkno = 0;
			}
		}
		if (with_barriers && (err = pmcfs_dev_flush(dev)))
			return err;
	}
}

int pmcfs_mkfs_retire_old(struct pmcfs_dev *dev)
{
	uint8_t *block = aligned_alloc(64, PMCFS_BLOCK_SIZE);
	int err;

	if (!block)
		return -ENOMEM;
	err = retire_old_commits(dev, NULL, true, block);
	free(block);
	return err;
}

static void leaf_put_run(uint8_t *leaf, unsigned *n, uint64_t start, uint64_t len,
			 uint32_t count, uint32_t owner)
{
	struct pmcfs_item *it = pmcfs_leaf_item(leaf, *n);
	uint32_t off = PMCFS_BLOCK_SIZE - (*n + 1) * sizeof(struct pmcfs_space_run);
	struct pmcfs_ckey k = { start, PMCFS_KEY_SPACE_RUN, 0 };
	struct pmcfs_space_run sr;

	memset(&sr, 0, sizeof(sr));
	pmcfs_set_space_run_len(&sr, len);
	pmcfs_set_space_run_refcount(&sr, count);
	pmcfs_set_space_run_owner(&sr, owner);
	memcpy(leaf + off, &sr, sizeof(sr));
	pmcfs_key_to_disk(&k, &it->key);
	pmcfs_set_item_offset(it, off);
	pmcfs_set_item_size(it, sizeof(sr));
	(*n)++;
}

/* Generation 1: an empty root table and a space map of at most seven runs. */
static int write_bootstrap(struct pmcfs_fs *tmp, const struct pmcfs_mkfs_params *p,
			   struct pmcfs_commit_info *ci)
{
	const struct pmcfs_sb_info *sb = &tmp->sb;
	uint8_t *rt = calloc(2, PMCFS_BLOCK_SIZE), *sm = rt ? rt + PMCFS_BLOCK_SIZE : NULL;
	uint64_t b_rt = sb->data_start, b_sm;
	unsigned n = 0;
	int err;

	if (!rt)
		return -ENOMEM;
	while (is_bad(p, b_rt))
		b_rt++;
	b_sm = b_rt + 1;
	while (is_bad(p, b_sm))
		b_sm++;
	if (b_sm >= sb->data_end) {
		free(rt);
		return -ENOSPC;
	}
	pmcfs_node_init(tmp, rt, b_rt, PMCFS_ROOTTAB_MAGIC, PMCFS_ROOTTAB_TREE, 0, 1);
	pmcfs_node_init(tmp, sm, b_sm, PMCFS_SPACEMAP_MAGIC, PMCFS_SPACEMAP_TREE, 0, 1);
	/* Bad blocks show as free here; the first transaction marks them before allocating. */
	leaf_put_run(sm, &n, 0, sb->data_start, 1, PMCFS_OWNER_SUPER);
	if (b_rt > sb->data_start)
		leaf_put_run(sm, &n, sb->data_start, b_rt - sb->data_start, 0, PMCFS_OWNER_FS);
	if (b_sm == b_rt + 1) {
		leaf_put_run(sm, &n, b_rt, 2, 1, PMCFS_OWNER_FS);
	} else {
		leaf_put_run(sm, &n, b_rt, 1, 1, PMCFS_OWNER_FS);
		leaf_put_run(sm, &n, b_rt + 1, b_sm - b_rt - 1, 0, PMCFS_OWNER_FS);
		leaf_put_run(sm, &n, b_sm, 1, 1, PMCFS_OWNER_FS);
	}
	leaf_put_run(sm, &n, b_sm + 1, sb->data_end - b_sm - 1, 0, PMCFS_OWNER_FS);
	leaf_put_run(sm, &n, sb->data_end, sb->nblocks - sb->data_end, 1, PMCFS_OWNER_SUPER);
	pmcfs_set_header_nritems((struct pmcfs_header *)sm, n);
	pmcfs_node_seal(rt);
	pmcfs_node_seal(sm);
	err = write_block(tmp->dev, b_rt, rt);
	if (!err)
		err = write_block(tmp->dev, b_sm, sm);
	free(rt);
	memset(ci, 0, sizeof(*ci));
	memcpy(ci->uuid, sb->uuid, 16);
	ci->generation = 1;
	ci->roottab = (struct pmcfs_root_ref){ b_rt, 1, 0 };
	ci->spacemap = (struct pmcfs_root_ref){ b_sm, 1, 0 };
	ci->free_blocks = sb->data_end - sb->data_start - 2;
	ci->feature_incompat = sb->feature_incompat;
	return err;
}

/* The root directory of the first subvolume. */
static int make_root_dir(struct pmcfs_trans *tx, uint64_t subvol, uint64_t now)
{
	struct pmcfs_ckey k = { PMCFS_ROOT_INO, PMCFS_KEY_INODE, 0 };
	struct pmcfs_tree *t;
	struct pmcfs_inode ino;
	int err = pmcfs_subvol_open(tx->fs, subvol, &t);

	if (err)
		return err;
	memset(&ino, 0, sizeof(ino));
	pmcfs_set_inode_mode(&ino, S_IFDIR | 0755);
	pmcfs_set_inode_nlink(&ino, 2);
	pmcfs_set_inode_generation(&ino, tx->gen);
	pmcfs_set_inode_next_index(&ino, 2);
	pmcfs_set_timespec_sec(&ino.atime, now);
	pmcfs_set_timespec_sec(&ino.mtime, now);
	pmcfs_set_timespec_sec(&ino.ctime, now);
	pmcfs_set_timespec_sec(&ino.crtime, now);
	return pmcfs_tree_insert(tx, t, &k, &ino, sizeof(ino));
}

int pmcfs_mkfs(struct pmcfs_dev *dev, const struct pmcfs_mkfs_params *p, struct pmcfs_geometry *ret_geo)
{
	struct pmcfs_geometry g;
	struct pmcfs_fs tmp, *fs;
	struct pmcfs_commit_info ci;
	struct pmcfs_trans *tx;
	uint8_t *block;
	uint64_t subvol;
	int err = pmcfs_mkfs_geometry(p, dev->size, &g);

	if (err)
		return err;
	if (strnlen(p->label, sizeof(p->label)) > PMCFS_LABEL_MAX)
		return -ENAMETOOLONG;
	block = aligned_alloc(64, PMCFS_BLOCK_SIZE);
	if (!block)
		return -ENOMEM;
	memset(&tmp, 0, sizeof(tmp));
	tmp.dev = dev;
	tmp.sb = (struct pmcfs_sb_info){
		.version = PMCFS_FORMAT_VERSION, .block_size = PMCFS_BLOCK_SIZE,
		.dax_align = g.dax_align, .nblocks = g.nblocks,
		.data_start = g.data_start, .data_end = g.data_end,
		.slot_blkno = { PMCFS_SLOT_A_BLOCK, PMCFS_SLOT_B_BLOCK },
		.replica_blkno = g.replica_blkno, .mkfs_time = p->mkfs_time,
		.root_subvol = PMCFS_FIRST_SUBVOL,
	};
	memcpy(tmp.sb.uuid, p->uuid, 16);
	memcpy(tmp.sb.label, p->label, strnlen(p->label, PMCFS_LABEL_MAX));

	/*
	 * Crash safety of mkfs itself: the old filesystem's commit records
	 * are retired before anything else is written (retire_old_commits),
	 * so it cannot open through blocks mkfs is about to overwrite.
	 * Generation 1 (the bootstrap) is never written as a commit record:
	 * mkfs opens it in memory, and the first durable commit is
	 * generation 2, through the ordinary protocol. A crash anywhere
	 * before that leaves no filesystem at all.
	 */
	err = retire_old_commits(dev, &tmp.sb, !(p->flags & PMCFS_MKFS_NO_OLD_FS), block);
	if (!err)
		err = write_bootstrap(&tmp, p, &ci);
	if (!err) {
		pmcfs_super_to_disk(&tmp.sb, block);
		err = write_block(dev, PMCFS_SB_BLOCK, block);
		if (!err)
			err = write_block(dev, g.replica_blkno, block);
	}
	free(block);
	if (err)
		return err;

	/* Generation 2, through the ordinary transaction machinery. */
	if ((err = pmcfs_fs_open_state(dev, 0, &tmp.sb, &ci, &fs)))
		return err;
	err = pmcfs_trans_begin(fs, &tx);
	for (size_t i = 0; !err && i < p->nbad; i++) {
		uint64_t s = p->bad[i].start, e = s + p->bad[i].len;
		if (s < g.data_start)
			s = g.data_start;
		if (e > g.data_end)
			e = g.data_end;
		if (s < e)
			err = pmcfs_space_mark_bad(tx, s, e - s);
	}
	if (!err)
		err = pmcfs_subvol_create(tx, "", &subvol);
	if (!err && subvol != PMCFS_FIRST_SUBVOL)
		err = -PMCFS_ECORRUPT;
	if (!err)
		err = make_root_dir(tx, subvol, p->mkfs_time);
	if (!err)
		err = pmcfs_trans_commit(tx);
	else if (fs->in_trans)
		pmcfs_trans_abort(tx);
	if (!err) {
		g.free_blocks = fs->free_blocks;
		g.meta_blocks = g.data_end - g.data_start - g.bad_blocks - g.free_blocks;
		if (ret_geo)
			*ret_geo = g;
	}
	pmcfs_fs_close(fs);
	return err;
}

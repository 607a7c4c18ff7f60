// SPDX-License-Identifier: MIT
/* Opening a filesystem, and transactions: begin, commit, abort. */
#include <errno.h>
#include <stdlib.h>
#include "fs_priv.h"
#include "pmcfs_repair.h"

int pmcfs_fs_open(struct pmcfs_dev *dev, unsigned flags, struct pmcfs_fs **ret_fs)
{
	struct pmcfs_super_scan scan;
	int err = pmcfs_super_scan(dev, &scan);

	if (err)
		return err;
	return pmcfs_fs_open_state(dev, flags, &scan.sb, &scan.slot[scan.current].ci, ret_fs);
}

int pmcfs_fs_open_slot(struct pmcfs_dev *dev, unsigned flags, int slot, struct pmcfs_fs **ret_fs)
{
	struct pmcfs_super_scan scan;
	int err;

	if (!(flags & PMCFS_OPEN_RDONLY) || slot < 0 || slot >= PMCFS_NSLOTS)
		return -EINVAL;
	if ((err = pmcfs_super_scan(dev, &scan)))
		return err;
	if (scan.slot[slot].err)
		return scan.slot[slot].err;
	return pmcfs_fs_open_state(dev, flags, &scan.sb, &scan.slot[slot].ci, ret_fs);
}

/* Open on a given superblock and commit (pmcfs_fs_open after choosing a slot; mkfs). */
int pmcfs_fs_open_state(struct pmcfs_dev *dev, unsigned flags, const struct pmcfs_sb_info *sb,
			const struct pmcfs_commit_info *ci, struct pmcfs_fs **ret_fs)
{
	struct pmcfs_fs *fs;
	int err;

	if ((sb->feature_incompat & ~PMCFS_FEATURE_INCOMPAT_SUPP) ||
	    (ci->feature_incompat & ~PMCFS_FEATURE_INCOMPAT_SUPP))
		return -PMCFS_EFEATURE;
	if (!(flags & PMCFS_OPEN_RDONLY) && (sb->feature_ro_compat & ~PMCFS_FEATURE_RO_COMPAT_SUPP))
		return -PMCFS_EFEATURE;
	if (sb->nblocks > dev->size / PMCFS_BLOCK_SIZE)
		return -PMCFS_ECORRUPT;		/* device shorter than the filesystem */
	if (!(flags & PMCFS_OPEN_RDONLY) && (dev->flags & PMCFS_DEV_RDONLY))
		return -EROFS;
	fs = calloc(1, sizeof(*fs));
	if (!fs)
		return -ENOMEM;
	if ((err = pmcfs_cache_init(&fs->cache))) {
		free(fs);
		return err;
	}
	fs->dev = dev;
	fs->flags = flags;
	fs->sb = *sb;
	fs->commit = *ci;
	fs->free_blocks = fs->commit.free_blocks;
	/* Tree blocks from the start of the data area, small data from an
	 * eighth of the way in: the two do not interleave, so tree updates
	 * do not split the extents of files written in pieces. */
	fs->meta_hint = fs->sb.data_start;
	fs->data_hint = fs->sb.data_start + (fs->sb.data_end - fs->sb.data_start) / 8;
	pmcfs_tree_init(&fs->roottab, fs, PMCFS_ROOTTAB_TREE, &fs->commit.roottab);
	pmcfs_tree_init(&fs->spacemap, fs, PMCFS_SPACEMAP_TREE, &fs->commit.spacemap);
	*ret_fs = fs;
	return 0;
}

int pmcfs_fs_rollback(struct pmcfs_dev *dev, int slot, uint64_t *ret_gen)
{
	struct pmcfs_super_scan scan;
	struct pmcfs_commit_info ci;
	struct pmcfs_trans *tx;
	struct pmcfs_fs *fs;
	int err = pmcfs_super_scan(dev, &scan);

	if (err)
		return err;
	if (slot < 0 || slot >= PMCFS_NSLOTS || scan.slot[slot].err ||
	    scan.slot[slot].ci.generation >= scan.slot[scan.current].ci.generation)
		return -EINVAL;
	ci = scan.slot[slot].ci;
	/* An empty transaction commits as the next generation: give it the newest one's. */
	ci.generation = scan.slot[scan.current].ci.generation;
	if ((err = pmcfs_fs_open_state(dev, 0, &scan.sb, &ci, &fs)))
		return err;
	if (!(err = pmcfs_trans_begin(fs, &tx)))
		err = pmcfs_trans_commit(tx);
	if (!err && ret_gen)
		*ret_gen = fs->commit.generation;
	pmcfs_fs_close(fs);
	return err;
}

void pmcfs_fs_close(struct pmcfs_fs *fs)
{
	if (!fs)
		return;
	if (fs->in_trans)
		pmcfs_trans_abort(&fs->tx);
	pmcfs_subvol_free_all(fs);
	pmcfs_cache_release(&fs->cache);
	pmcfs_runmap_release(&fs->overlay);
	pmcfs_runmap_release(&fs->freeidx);
	pmcfs_runmap_release(&fs->deferred);
	free(fs);
}

void pmcfs_fs_set_log(struct pmcfs_fs *fs, pmcfs_log_fn fn, void *ctx)
{
	fs->log = fn;
	fs->log_ctx = ctx;
}

const struct pmcfs_sb_info *pmcfs_fs_sb(const struct pmcfs_fs *fs) { return &fs->sb; }
const struct pmcfs_commit_info *pmcfs_fs_commit(const struct pmcfs_fs *fs) { return &fs->commit; }
struct pmcfs_dev *pmcfs_fs_dev(const struct pmcfs_fs *fs) { return fs->dev; }
uint64_t pmcfs_fs_free_blocks(const struct pmcfs_fs *fs) { return fs->free_blocks; }
bool pmcfs_fs_broken(const struct pmcfs_fs *fs) { return fs->broken; }
struct pmcfs_tree *pmcfs_fs_roottab(struct pmcfs_fs *fs) { return &fs->roottab; }
struct pmcfs_tree *pmcfs_fs_spacemap(struct pmcfs_fs *fs) { return &fs->spacemap; }
uint64_t pmcfs_trans_generation(const struct pmcfs_trans *tx) { return tx->gen; }

int pmcfs_trans_begin(struct pmcfs_fs *fs, struct pmcfs_trans **ret_tx)
{
	if (fs->broken)
		return -EIO;
	if (fs->flags & PMCFS_OPEN_RDONLY)
		return -EROFS;
	if (fs->in_trans)
		return -EBUSY;
	if (fs->commit.generation + 1 >= PMCFS_GENERATION_MAX)
		return -EOVERFLOW;
	fs->in_trans = true;
	fs->tx.fs = fs;
	fs->tx.gen = fs->commit.generation + 1;
	*ret_tx = &fs->tx;
	return 0;
}

void pmcfs_trans_abort(struct pmcfs_trans *tx)
{
	struct pmcfs_fs *fs = tx->fs;

	pmcfs_cache_discard_dirty(&fs->cache);
	pmcfs_space_reset(fs);
	pmcfs_tree_init(&fs->roottab, fs, PMCFS_ROOTTAB_TREE, &fs->commit.roottab);
	pmcfs_tree_init(&fs->spacemap, fs, PMCFS_SPACEMAP_TREE, &fs->commit.spacemap);
	pmcfs_subvol_reset(fs);
	fs->next_subvol = 0;
	fs->in_trans = false;
}

/* Write path: check the structure, then set the checksum, then write. */
static int write_buf(void *ctx, struct pmcfs_buf *b)
{
	struct pmcfs_fs *fs = ctx;
	struct pmcfs_verify_err why;
	int err;

	pmcfs_node_seal(b->data);
	err = pmcfs_node_verify(fs, b->data, b->blkno, 0, -1, &why);
	if (err)
		return -PMCFS_ECORRUPT;
	return pmcfs_dev_write(fs->dev, b->data, PMCFS_BLOCK_SIZE, b->blkno * PMCFS_BLOCK_SIZE);
}

static int clean_buf(void *ctx, struct pmcfs_buf *b)
{
	struct pmcfs_cache *c = ctx;

	b->dirty = false;
	b->fresh = false;
	c->nclean++;
	return 0;
}

int pmcfs_trans_commit(struct pmcfs_trans *tx)
{
	struct pmcfs_fs *fs = tx->fs;
	struct pmcfs_commit_info ci;
	int err;

	if (!fs->in_trans || tx != &fs->tx)
		return -EINVAL;
	if (fs->broken)
		return -EIO;
	/* Roots into the root table, then every count into the space map. */
	if ((err = pmcfs_subvol_flush_roots(tx)) || (err = pmcfs_space_load(fs)) ||
	    (err = pmcfs_space_apply(tx))) {
		pmcfs_trans_abort(tx);
		return err;
	}
	ci = fs->commit;
	ci.generation = tx->gen;
	ci.roottab = fs->roottab.root;
	ci.spacemap = fs->spacemap.root;
	ci.free_blocks = fs->free_blocks;
	ci.feature_incompat = fs->sb.feature_incompat;
	ci.flags = PMCFS_COMMIT_CLEAN;

	/* From here the media changes: a failure leaves the fs unusable until reopened. */
	err = pmcfs_cache_for_each_dirty(&fs->cache, write_buf, fs);
	if (!err)
		err = pmcfs_dev_flush(fs->dev);
	if (!err)
		err = pmcfs_commit_write(fs, &ci);
	if (err) {
		fs->broken = true;
		return err;
	}
	fs->commit = ci;
	pmcfs_cache_for_each_dirty(&fs->cache, clean_buf, &fs->cache);
	for (struct pmcfs_tree *t = fs->subvols; t; t = t->next)
		t->dirty = false;
	fs->roottab.dirty = fs->spacemap.dirty = false;
	err = pmcfs_space_release_deferred(fs);
	fs->in_trans = false;
	return err;
}

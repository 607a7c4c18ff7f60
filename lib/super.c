// SPDX-License-Identifier: MIT
/*
 * Superblock and commit records: native in-core copies with separate
 * read (verify, then decode) and write (encode, then checksum) paths,
 * as xfsprogs' xfs_sb.c. Open reads all four commit slots and takes the
 * valid one with the highest generation: recovery is choosing a slot.
 */
#include <errno.h>
#include <stdlib.h>
#include "fs_priv.h"

static int why_set(struct pmcfs_verify_err *why, int code, const char *check,
		   uint64_t expected, uint64_t found)
{
	if (why) {
		why->code = code;
		why->check = check;
		why->expected = expected;
		why->found = found;
		why->item = -1;
	}
	return code;
}

static bool pow2(uint64_t v) { return v && !(v & (v - 1)); }

int pmcfs_super_from_disk(const void *block, struct pmcfs_sb_info *sb, struct pmcfs_verify_err *why)
{
	const struct pmcfs_super *d = block;
	const uint8_t *raw = block;

	if (pmcfs_super_magic(d) != PMCFS_SB_MAGIC)
		return why_set(why, -PMCFS_ENOFS, "magic", PMCFS_SB_MAGIC, pmcfs_super_magic(d));
	if (!pmcfs_cksum_verify(block, PMCFS_BLOCK_SIZE, offsetof(struct pmcfs_super, crc)))
		return why_set(why, -PMCFS_EBADCRC, "crc", pmcfs_cksum(block, PMCFS_BLOCK_SIZE, 0),
			       pmcfs_super_crc(d));
	memset(sb, 0, sizeof(*sb));
	sb->version = pmcfs_super_version(d);
	memcpy(sb->uuid, d->uuid, 16);
	sb->feature_compat = pmcfs_super_feature_compat(d);
	sb->feature_ro_compat = pmcfs_super_feature_ro_compat(d);
	sb->feature_incompat = pmcfs_super_feature_incompat(d);
	sb->block_size = pmcfs_super_block_size(d);
	sb->dax_align = pmcfs_super_dax_align(d);
	sb->nblocks = pmcfs_super_nblocks(d);
	sb->data_start = pmcfs_super_data_start(d);
	sb->data_end = pmcfs_super_data_end(d);
	sb->slot_blkno[0] = le64toh(d->slot_blkno[0]);
	sb->slot_blkno[1] = le64toh(d->slot_blkno[1]);
	sb->replica_blkno = pmcfs_super_replica_blkno(d);
	sb->mkfs_time = pmcfs_super_mkfs_time(d);
	sb->root_subvol = pmcfs_super_root_subvol(d);
	memcpy(sb->label, d->label, PMCFS_LABEL_MAX);
	sb->label[PMCFS_LABEL_MAX] = 0;

	if (sb->version != PMCFS_FORMAT_VERSION)
		return why_set(why, -PMCFS_EFEATURE, "version", PMCFS_FORMAT_VERSION, sb->version);
	if (sb->block_size != PMCFS_BLOCK_SIZE)
		return why_set(why, -PMCFS_ECORRUPT, "block_size", PMCFS_BLOCK_SIZE, sb->block_size);
	if (!pow2(sb->dax_align) || sb->dax_align < PMCFS_BLOCK_SIZE || sb->dax_align > (1u << 30))
		return why_set(why, -PMCFS_ECORRUPT, "dax_align", PMCFS_HUGE_SIZE, sb->dax_align);
	if (sb->nblocks < PMCFS_MIN_BLOCKS || sb->nblocks % PMCFS_HUGE_BLOCKS ||
	    sb->nblocks > (UINT64_MAX >> PMCFS_BLOCK_SHIFT))
		return why_set(why, -PMCFS_ECORRUPT, "nblocks", PMCFS_MIN_BLOCKS, sb->nblocks);
	if (sb->replica_blkno != sb->nblocks - PMCFS_RESERVED_BLOCKS)
		return why_set(why, -PMCFS_ECORRUPT, "replica_blkno",
			       sb->nblocks - PMCFS_RESERVED_BLOCKS, sb->replica_blkno);
	if (sb->data_start < PMCFS_RESERVED_BLOCKS || sb->data_end > sb->replica_blkno ||
	    sb->data_start >= sb->data_end)
		return why_set(why, -PMCFS_ECORRUPT, "data area", PMCFS_RESERVED_BLOCKS, sb->data_start);
	if (sb->slot_blkno[0] != PMCFS_SLOT_A_BLOCK || sb->slot_blkno[1] != PMCFS_SLOT_B_BLOCK)
		return why_set(why, -PMCFS_ECORRUPT, "slot_blkno", PMCFS_SLOT_A_BLOCK, sb->slot_blkno[0]);
	if (sb->root_subvol < PMCFS_FIRST_SUBVOL || sb->root_subvol > PMCFS_LAST_SUBVOL)
		return why_set(why, -PMCFS_ECORRUPT, "root_subvol", PMCFS_FIRST_SUBVOL, sb->root_subvol);
	for (size_t i = offsetof(struct pmcfs_super, reserved); i < PMCFS_BLOCK_SIZE; i++)
		if (raw[i])
			return why_set(why, -PMCFS_ECORRUPT, "reserved bytes", 0, i);
	return 0;
}

void pmcfs_super_to_disk(const struct pmcfs_sb_info *sb, void *block)
{
	struct pmcfs_super *d = block;

	memset(block, 0, PMCFS_BLOCK_SIZE);
	pmcfs_set_super_magic(d, PMCFS_SB_MAGIC);
	pmcfs_set_super_version(d, sb->version);
	memcpy(d->uuid, sb->uuid, 16);
	pmcfs_set_super_feature_compat(d, sb->feature_compat);
	pmcfs_set_super_feature_ro_compat(d, sb->feature_ro_compat);
	pmcfs_set_super_feature_incompat(d, sb->feature_incompat);
	pmcfs_set_super_block_size(d, sb->block_size);
	pmcfs_set_super_dax_align(d, sb->dax_align);
	pmcfs_set_super_nblocks(d, sb->nblocks);
	pmcfs_set_super_data_start(d, sb->data_start);
	pmcfs_set_super_data_end(d, sb->data_end);
	d->slot_blkno[0] = htole64(sb->slot_blkno[0]);
	d->slot_blkno[1] = htole64(sb->slot_blkno[1]);
	pmcfs_set_super_replica_blkno(d, sb->replica_blkno);
	pmcfs_set_super_mkfs_time(d, sb->mkfs_time);
	pmcfs_set_super_root_subvol(d, sb->root_subvol);
	/* All 64 bytes: the field is NUL-padded, not NUL-terminated, and a
	 * copy must round-trip whatever it holds. */
	memcpy(d->label, sb->label, PMCFS_LABEL_MAX);
	pmcfs_cksum_update(block, PMCFS_BLOCK_SIZE, offsetof(struct pmcfs_super, crc));
}

int pmcfs_commit_from_disk(const void *rec, const uint8_t uuid[16], struct pmcfs_commit_info *ci,
			   struct pmcfs_verify_err *why)
{
	const struct pmcfs_commit *d = rec;
	static const uint8_t zeros[sizeof(struct pmcfs_commit)];

	/* mkfs zeroes every slot; one that no commit has used yet is empty, not damaged. */
	if (!memcmp(rec, zeros, sizeof(zeros)))
		return why_set(why, -ENODATA, "empty (never written)", 0, 0);
	if (pmcfs_commit_magic(d) != PMCFS_COMMIT_MAGIC)
		return why_set(why, -PMCFS_ECORRUPT, "magic", PMCFS_COMMIT_MAGIC, pmcfs_commit_magic(d));
	if (pmcfs_commit_crc(d) != pmcfs_crc32c(0, rec, offsetof(struct pmcfs_commit, crc)))
		return why_set(why, -PMCFS_EBADCRC, "crc",
			       pmcfs_crc32c(0, rec, offsetof(struct pmcfs_commit, crc)),
			       pmcfs_commit_crc(d));
	if (uuid && memcmp(d->uuid, uuid, 16))
		return why_set(why, -PMCFS_EMISDIRECT, "uuid", 0, 0);
	memset(ci, 0, sizeof(*ci));
	memcpy(ci->uuid, d->uuid, 16);
	ci->generation = pmcfs_commit_generation(d);
	ci->roottab.blkno = pmcfs_commit_roottab_blkno(d);
	ci->roottab.gen = pmcfs_commit_roottab_gen(d);
	ci->roottab.level = pmcfs_commit_roottab_level(d);
	ci->spacemap.blkno = pmcfs_commit_spacemap_blkno(d);
	ci->spacemap.gen = pmcfs_commit_spacemap_gen(d);
	ci->spacemap.level = pmcfs_commit_spacemap_level(d);
	ci->log_root = pmcfs_commit_log_root(d);
	ci->rmap_root = pmcfs_commit_rmap_root(d);
	ci->free_blocks = pmcfs_commit_free_blocks(d);
	ci->feature_incompat = pmcfs_commit_feature_incompat(d);
	ci->flags = pmcfs_commit_flags(d);
	/* Generations count commits from 2; the top half is never reached,
	 * so a record there is damaged (and the next commit would wrap). */
	if (ci->generation == 0 || ci->generation >= PMCFS_GENERATION_MAX)
		return why_set(why, -PMCFS_ECORRUPT, "generation", PMCFS_GENERATION_MAX - 1,
			       ci->generation);
	if (ci->roottab.level >= PMCFS_MAX_LEVEL || ci->spacemap.level >= PMCFS_MAX_LEVEL)
		return why_set(why, -PMCFS_ECORRUPT, "root level", PMCFS_MAX_LEVEL - 1,
			       ci->roottab.level > ci->spacemap.level ? ci->roottab.level : ci->spacemap.level);
	if (ci->roottab.gen > ci->generation || ci->spacemap.gen > ci->generation)
		return why_set(why, -PMCFS_ECORRUPT, "root generation", ci->generation,
			       ci->roottab.gen > ci->spacemap.gen ? ci->roottab.gen : ci->spacemap.gen);
	return 0;
}

void pmcfs_commit_to_disk(const struct pmcfs_commit_info *ci, void *rec)
{
	struct pmcfs_commit *d = rec;

	memset(d, 0, sizeof(*d));
	pmcfs_set_commit_magic(d, PMCFS_COMMIT_MAGIC);
	memcpy(d->uuid, ci->uuid, 16);
	pmcfs_set_commit_generation(d, ci->generation);
	pmcfs_set_commit_roottab_blkno(d, ci->roottab.blkno);
	pmcfs_set_commit_roottab_gen(d, ci->roottab.gen);
	pmcfs_set_commit_roottab_level(d, ci->roottab.level);
	pmcfs_set_commit_spacemap_blkno(d, ci->spacemap.blkno);
	pmcfs_set_commit_spacemap_gen(d, ci->spacemap.gen);
	pmcfs_set_commit_spacemap_level(d, ci->spacemap.level);
	pmcfs_set_commit_log_root(d, ci->log_root);
	pmcfs_set_commit_rmap_root(d, ci->rmap_root);
	pmcfs_set_commit_free_blocks(d, ci->free_blocks);
	pmcfs_set_commit_feature_incompat(d, ci->feature_incompat);
	pmcfs_set_commit_flags(d, ci->flags);
	pmcfs_set_commit_crc(d, pmcfs_crc32c(0, rec, offsetof(struct pmcfs_commit, crc)));
}

uint64_t pmcfs_slot_replica(const struct pmcfs_sb_info *sb, int slot)
{
	return sb->replica_blkno + 1 + slot;
}

static int read_block(struct pmcfs_dev *dev, uint64_t blkno, void *buf)
{
	if ((blkno + 1) * PMCFS_BLOCK_SIZE > dev->size)
		return -PMCFS_ENOFS;
	return pmcfs_dev_read(dev, buf, PMCFS_BLOCK_SIZE, blkno * PMCFS_BLOCK_SIZE);
}

/* The replica sits at the start of the last 2 MiB of the filesystem,
 * which is the device's last 2 MiB boundary unless mkfs used less. */
static int read_replica_sb(struct pmcfs_dev *dev, const struct pmcfs_sb_info *hint,
			   uint8_t *buf, struct pmcfs_sb_info *sb, struct pmcfs_verify_err *why)
{
	uint64_t blk = hint ? hint->replica_blkno :
		       (dev->size / PMCFS_HUGE_SIZE) * PMCFS_HUGE_BLOCKS - PMCFS_RESERVED_BLOCKS;
	int err = read_block(dev, blk, buf);

	if (err)
		return why_set(why, err, "replica location", blk, 0);
	return pmcfs_super_from_disk(buf, sb, why);
}

int pmcfs_super_scan(struct pmcfs_dev *dev, struct pmcfs_super_scan *ret)
{
	uint8_t *buf = aligned_alloc(64, PMCFS_BLOCK_SIZE);
	struct pmcfs_sb_info replica;
	int err;

	if (!buf)
		return -ENOMEM;
	memset(ret, 0, sizeof(*ret));
	ret->current = -1;
	err = read_block(dev, PMCFS_SB_BLOCK, buf);
	ret->sb_err = err ? err : pmcfs_super_from_disk(buf, &ret->sb, &ret->sb_why);
	ret->replica_err = read_replica_sb(dev, ret->sb_err ? NULL : &ret->sb, buf, &replica,
					   &ret->replica_why);
	if (ret->sb_err && !ret->replica_err) {
		ret->sb = replica;
		ret->sb_from_replica = true;
	} else if (ret->sb_err) {
		free(buf);
		return ret->sb_err == -PMCFS_ENOFS && ret->replica_err != -PMCFS_ENOFS ?
		       ret->replica_err : ret->sb_err;
	}
	for (int s = 0; s < PMCFS_NSLOTS; s++) {
		struct pmcfs_slot_state *st = &ret->slot[s];
		st->blkno = s < 2 ? ret->sb.slot_blkno[s] : pmcfs_slot_replica(&ret->sb, s - 2);
		err = read_block(dev, st->blkno, buf);
		st->err = err ? err : pmcfs_commit_from_disk(buf, ret->sb.uuid, &st->ci, &st->why);
		if (st->err)
			continue;
		/* Highest generation wins; a primary beats its replica on a tie. */
		if (ret->current < 0 || st->ci.generation > ret->slot[ret->current].ci.generation)
			ret->current = s;
	}
	free(buf);
	return ret->current < 0 ? -PMCFS_ECORRUPT : 0;
}

/*
 * Commit point: the record for generation N goes to slot N & 1 (the one
 * holding the older generation), is made durable, then copied to that
 * slot's replica. Until the first flush returns nothing new is reachable.
 */
int pmcfs_commit_write(struct pmcfs_fs *fs, const struct pmcfs_commit_info *ci)
{
	struct pmcfs_commit rec;
	int slot = ci->generation & 1, err;

	pmcfs_commit_to_disk(ci, &rec);
	err = pmcfs_dev_write(fs->dev, &rec, sizeof(rec), fs->sb.slot_blkno[slot] * PMCFS_BLOCK_SIZE);
	/* The replica must not run ahead of its primary - except for a new
	 * filesystem's first commit (mkfs's bootstrap is generation 1 and
	 * never on media): with no older generation to protect, a torn pair
	 * just means no filesystem yet, so one barrier does for both. */
	if (!err && fs->commit.generation != 1)
		err = pmcfs_dev_flush(fs->dev);
	if (!err)
		err = pmcfs_dev_write(fs->dev, &rec, sizeof(rec),
				      pmcfs_slot_replica(&fs->sb, slot) * PMCFS_BLOCK_SIZE);
	if (!err)
		err = pmcfs_dev_flush(fs->dev);
	return err;
}

/*
 * The static superblock is not part of any commit: offline tools rewrite
 * it in place, the primary first, a barrier after each copy. A crash
 * between leaves the copies differing (fsck copies the primary over the
 * replica, P1.003); a torn primary fails its crc and the replica, still
 * the old one, is used - never a mix of the two.
 */
int pmcfs_subvol_set_default(struct pmcfs_fs *fs, uint64_t id)
{
	struct pmcfs_sb_info sb = fs->sb;
	struct pmcfs_subvol_info si;
	uint8_t *block;
	int err;

	if (fs->flags & PMCFS_OPEN_RDONLY)
		return -EROFS;
	if (fs->in_trans)
		return -EBUSY;		/* it could be creating or deleting id */
	if (fs->broken)
		return -EIO;
	if ((err = pmcfs_subvol_info(fs, id, &si)))
		return err;
	if (si.flags & PMCFS_ROOT_DROPPING)
		return -EBUSY;		/* being deleted: deletion refuses the default */
	if (!(block = aligned_alloc(64, PMCFS_BLOCK_SIZE)))
		return -ENOMEM;
	sb.root_subvol = id;
	pmcfs_super_to_disk(&sb, block);
	err = pmcfs_dev_write(fs->dev, block, PMCFS_BLOCK_SIZE, PMCFS_SB_BLOCK * PMCFS_BLOCK_SIZE);
	if (!err)
		err = pmcfs_dev_flush(fs->dev);
	if (!err)
		err = pmcfs_dev_write(fs->dev, block, PMCFS_BLOCK_SIZE, sb.replica_blkno * PMCFS_BLOCK_SIZE);
	if (!err)
		err = pmcfs_dev_flush(fs->dev);
	free(block);
	if (!err)
		fs->sb.root_subvol = id;
	return err;
}

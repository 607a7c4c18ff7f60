// SPDX-License-Identifier: MIT
/*
 * Pass 1: superblocks and commit records.
 *
 * Checks: the primary superblock and its replica (each verified, then
 *   compared byte for byte), the four commit slots (A, B and their
 *   replicas), feature bits against what this fsck supports, and that
 *   the device is as large as the filesystem. The newest valid slot is
 *   the current commit, exactly as the library's open chooses it; an
 *   older valid slot is normal (commits alternate) and is not reported.
 *   A slot failing its checks (torn: its crc) is reported whatever its
 *   content, since a torn newer slot cannot be told from an older one.
 * Fixes: a bad superblock copy is rewritten from the good one; a bad slot
 *   is rewritten from the current commit. Single-block writes, each
 *   followed by a flush; none of them changes which commit is current.
 * Collects: ctx->sb, ctx->commit, and the open filesystem ctx->fs.
 * Frees: nothing (main.c closes the filesystem).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "fsck.h"
#include "pmcfs_probe.h"

const char *const fsck_slot_name[PMCFS_NSLOTS] = {
	"slot A", "slot B", "slot A replica", "slot B replica",
};

static const char *why_text(int err, const struct pmcfs_verify_err *why, char *buf, size_t sz)
{
	if (err && why->check)
		snprintf(buf, sz, "%s: %s (expected 0x%llx, found 0x%llx)", why->check,
			 pmcfs_strerror(err), (unsigned long long)why->expected,
			 (unsigned long long)why->found);
	else
		snprintf(buf, sz, "%s", pmcfs_strerror(err));
	return buf;
}

static int write_block(struct fsck_ctx *ctx, uint64_t blkno, const void *buf, const char *what)
{
	int rc = pmcfs_dev_write(ctx->dev, buf, PMCFS_BLOCK_SIZE, blkno * PMCFS_BLOCK_SIZE);

	if (!rc)
		rc = pmcfs_dev_flush(ctx->dev);
	if (rc) {
		error("cannot rewrite the %s at block %llu: %s", what, (unsigned long long)blkno,
		      pmcfs_strerror(rc));
		fix_failed(ctx, 1);
		return rc;
	}
	ctx->modified = true;
	return 0;
}

static void check_superblocks(struct fsck_ctx *ctx, const struct pmcfs_super_scan *sc)
{
	uint8_t *a = xmalloc(PMCFS_BLOCK_SIZE), *b = xmalloc(PMCFS_BLOCK_SIZE);
	char why[160];

	pmcfs_super_to_disk(&sc->sb, b);
	if (sc->sb_err) {
		if (fix_problem(ctx, PR_SB_PRIMARY_BAD, "block 0: %s",
				why_text(sc->sb_err, &sc->sb_why, why, sizeof(why))))
			write_block(ctx, PMCFS_SB_BLOCK, b, "primary superblock");
	} else if (sc->replica_err) {
		if (fix_problem(ctx, PR_SB_REPLICA_BAD, "block %llu: %s",
				(unsigned long long)sc->sb.replica_blkno,
				why_text(sc->replica_err, &sc->replica_why, why, sizeof(why))))
			write_block(ctx, sc->sb.replica_blkno, b, "superblock replica");
	} else if (!pmcfs_dev_read(ctx->dev, a, PMCFS_BLOCK_SIZE, PMCFS_SB_BLOCK) &&
		   !pmcfs_dev_read(ctx->dev, b, PMCFS_BLOCK_SIZE,
				   sc->sb.replica_blkno * PMCFS_BLOCK_SIZE) &&
		   memcmp(a, b, PMCFS_BLOCK_SIZE)) {
		if (fix_problem(ctx, PR_SB_COPIES_DIFFER, "block %llu",
				(unsigned long long)sc->sb.replica_blkno))
			write_block(ctx, sc->sb.replica_blkno, a, "superblock replica");
	}
	free(a);
	free(b);
}

static void check_slots(struct fsck_ctx *ctx, const struct pmcfs_super_scan *sc)
{
	const struct pmcfs_commit_info *cur = &sc->slot[sc->current].ci;
	uint8_t *blk = xcalloc(1, PMCFS_BLOCK_SIZE);
	char why[160];

	pmcfs_commit_to_disk(cur, blk);
	for (int s = 0; s < PMCFS_NSLOTS; s++) {
		const struct pmcfs_slot_state *st = &sc->slot[s];
		if (!st->err || st->err == -ENODATA)
			continue;	/* valid, or empty: no commit has used it yet */
		if (fix_problem(ctx, PR_SLOT_BAD, "%s (block %llu): %s", fsck_slot_name[s],
				(unsigned long long)st->blkno, why_text(st->err, &st->why, why, sizeof(why))))
			write_block(ctx, st->blkno, blk, "commit slot");
	}
	free(blk);
}

static bool check_features(struct fsck_ctx *ctx, const struct pmcfs_super_scan *sc)
{
	const struct pmcfs_commit_info *ci = &sc->slot[sc->current].ci;
	uint64_t inc = (sc->sb.feature_incompat | ci->feature_incompat) & ~PMCFS_FEATURE_INCOMPAT_SUPP;
	uint64_t ro = sc->sb.feature_ro_compat & ~PMCFS_FEATURE_RO_COMPAT_SUPP;

	if (inc) {
		fix_problem(ctx, PR_FEATURE_INCOMPAT, "0x%llx: %s cannot be checked by this fsck.pmcfs",
			    (unsigned long long)inc, ctx->device);
		return false;
	}
	if (ro && ctx->mode != MODE_NO) {
		fix_problem(ctx, PR_FEATURE_RO_COMPAT, "0x%llx: run with -n to check only",
			    (unsigned long long)ro);
		return false;
	}
	if (ro)
		warnmsg("unsupported read-only-compatible features 0x%llx: checking anyway (-n)",
			(unsigned long long)ro);
	if (sc->sb.nblocks > ctx->dev->size / PMCFS_BLOCK_SIZE) {
		fix_problem(ctx, PR_DEVICE_SHORT, "%llu blocks, the device has %llu",
			    (unsigned long long)sc->sb.nblocks,
			    (unsigned long long)(ctx->dev->size / PMCFS_BLOCK_SIZE));
		return false;
	}
	return true;
}

int pass1_super(struct fsck_ctx *ctx)
{
	struct pmcfs_super_scan sc;
	char why[160], why2[160];
	int rc = pmcfs_super_scan(ctx->dev, &sc);

	if (sc.sb_err && sc.replica_err) {
		fix_problem(ctx, PR_NO_SUPER, "primary: %s; replica: %s",
			    why_text(sc.sb_err, &sc.sb_why, why, sizeof(why)),
			    why_text(sc.replica_err, &sc.replica_why, why2, sizeof(why2)));
		return FSCK_ERROR;
	}
	/*
	 * A pmcfs found only through its replica may be a leftover: another
	 * mkfs (mkfs.xfs, say) rewrote the start of the device and left the
	 * far end alone. Restoring block 0 from the replica would destroy
	 * that filesystem, so libblkid gets the last word.
	 */
	if (sc.sb_err) {
		char type[64];
		bool found = false;
		if (!pmcfs_probe_signature(ctx->device, type, sizeof(type), &found) && found) {
			fix_problem(ctx, PR_FOREIGN_FS, "libblkid finds %s on %s; not touching it",
				    type, ctx->device);
			return FSCK_ERROR;
		}
	}
	if (sc.current < 0) {
		fix_problem(ctx, PR_NO_COMMIT, "all four slots fail their checks (%s)",
			    pmcfs_strerror(rc ? rc : -PMCFS_ECORRUPT));
		return FSCK_ERROR;
	}
	if (!check_features(ctx, &sc))
		return FSCK_ERROR;
	check_superblocks(ctx, &sc);
	check_slots(ctx, &sc);
	verbose(ctx, "superblock: %llu blocks, data %llu-%llu, dax alignment %u, features 0x%llx/0x%llx/0x%llx\n",
		(unsigned long long)sc.sb.nblocks, (unsigned long long)sc.sb.data_start,
		(unsigned long long)sc.sb.data_end - 1, sc.sb.dax_align,
		(unsigned long long)sc.sb.feature_compat, (unsigned long long)sc.sb.feature_ro_compat,
		(unsigned long long)sc.sb.feature_incompat);
	verbose(ctx, "commit: generation %llu from %s\n",
		(unsigned long long)sc.slot[sc.current].ci.generation, fsck_slot_name[sc.current]);

	rc = pmcfs_fs_open(ctx->dev, ctx->mode == MODE_NO ? PMCFS_OPEN_RDONLY : 0, &ctx->fs);
	if (rc) {
		error("cannot open the filesystem on %s: %s", ctx->device, pmcfs_strerror(rc));
		return FSCK_ERROR;
	}
	ctx->sb = *pmcfs_fs_sb(ctx->fs);
	ctx->commit = *pmcfs_fs_commit(ctx->fs);
	ctx->nblocks = ctx->sb.nblocks;
	return 0;
}

// SPDX-License-Identifier: MIT
/*
 * pmcfs_data_relocate (lib/relocate.c): data on bad blocks moves to one
 * new copy per unit, every reference to it (reflinks, a read-write and
 * a read-only snapshot) follows, counts stay exact (independent audit),
 * the bad blocks read as zeros and everything else as before, a 2 MiB
 * aligned extent stays aligned, the read-only snapshot stays read-only
 * with no block newer than its create_gen, the bad blocks (and a free
 * one) are recorded bad and never reused, and a second run finds nothing.
 * With free space in single blocks, a unit still moves, into several runs.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "pmcfs.h"
#include "pmcfs_ns.h"
#include "pmcfs_relocate.h"
#include "fsaudit.h"
#include "tcheck.h"

#define DEV_SIZE	(64ULL << 20)
#define BS		4096ULL
#define MiB		(1ULL << 20)

enum { F_A, F_B, F_C, F_D, F_U, NFILES };
static const char *const names[NFILES] = { "a", "b", "c", "d", "u" };
static const uint64_t sizes[NFILES] = { 3 * MiB, 5 * BS, 5 * BS, 16 * BS, 4 * BS };

struct seen {
	struct pmcfs_relocate_info v[64];
	size_t n;
};

static int note(void *ctx, const struct pmcfs_relocate_info *in)
{
	struct seen *s = ctx;
	if (s->n < 64)
		s->v[s->n++] = *in;
	return 0;
}

static void fill(uint8_t *buf, uint64_t len, unsigned seed)
{
	for (uint64_t i = 0; i < len; i++)
		buf[i] = (uint8_t)(seed * 31 + i / 7 + (i >> 12));
}

static int first_cb(void *c, const struct pmcfs_extent_info *e)
{
	if (!((struct pmcfs_extent_info *)c)->nblocks)
		*(struct pmcfs_extent_info *)c = *e;
	return 0;
}

static uint64_t first_phys(struct pmcfs_fs *fs, uint64_t subvol, uint64_t ino, uint64_t *n)
{
	struct pmcfs_extent_info got = { 0 };
	struct pmcfs_tree *t;

	CHECK_OK(pmcfs_subvol_open(fs, subvol, &t));
	CHECK_OK(pmcfs_ns_extents(fs, t, ino, first_cb, &got));
	if (n)
		*n = got.nblocks;
	return got.phys;
}

static uint8_t *read_all(struct pmcfs_fs *fs, uint64_t subvol, uint64_t ino, uint64_t size)
{
	uint8_t *buf = malloc(size);
	struct pmcfs_tree *t;
	size_t got = 0;

	CHECK_OK(pmcfs_subvol_open(fs, subvol, &t));
	CHECK_OK(pmcfs_ns_read(fs, t, ino, 0, buf, size, &got));
	CHECK(got == size);
	return buf;
}

static bool is_bad(const struct pmcfs_badrange *bad, size_t n, uint64_t b)
{
	for (size_t i = 0; i < n; i++)
		if (b >= bad[i].start && b < bad[i].start + bad[i].len)
			return true;
	return false;
}

struct badctx {
	const struct pmcfs_badrange *bad;
	size_t n;
	int hits;
};

static int bad_cb(void *p, const struct pmcfs_extent_info *e)
{
	struct badctx *x = p;
	for (uint64_t b = e->phys; b < e->phys + e->nblocks; b++)
		x->hits += is_bad(x->bad, x->n, b);
	return 0;
}

/* No extent of any file in any subvolume lies on a bad block. */
static void no_refs_to_bad(struct pmcfs_fs *fs, const uint64_t *subvols, const uint64_t *ino,
			   const struct pmcfs_badrange *bad, size_t nbad)
{
	for (int s = 0; s < 3; s++)
		for (int f = 0; f < NFILES; f++) {
			struct pmcfs_tree *t;
			struct badctx c = { bad, nbad, 0 };
			CHECK_OK(pmcfs_subvol_open(fs, subvols[s], &t));
			CHECK_OK(pmcfs_ns_extents(fs, t, ino[f], bad_cb, &c));
			CHECK(c.hits == 0);
		}
}

/* Every extent of ino in subvolume 256 as [phys, phys+n) runs into v; the count. */
struct runs {
	struct pmcfs_extent_info v[128];
	size_t n;
};

static int runs_cb(void *c, const struct pmcfs_extent_info *e)
{
	struct runs *r = c;
	if (r->n < 128)
		r->v[r->n++] = *e;
	return 0;
}

/*
 * Free space in single blocks only: a 64-block extent (and its reflink)
 * with a bad block still moves, into several runs; both files keep
 * sharing every block, read as before but for the bad block, and the
 * counts stay exact.
 */
static void split_case(void)
{
	struct pmcfs_mkfs_params p = { .mkfs_time = 1700000000 };
	struct pmcfs_create_args ca = { S_IFREG | 0644, 0, 0, 0, 0 };
	const uint64_t size = 64 * BS;
	struct pmcfs_relocate_result res;
	struct pmcfs_badrange bad;
	struct runs ra = { .n = 0 }, rb = { .n = 0 };
	struct pmcfs_dev *dev;
	struct pmcfs_fs *fs;
	struct pmcfs_trans *tx;
	struct pmcfs_tree *t;
	uint64_t big, copy, filler, fill_len, s, n;
	uint8_t *buf = malloc(size), *after;

	memset(p.uuid, 0x46, 16);
	CHECK_OK(pmcfs_dev_mem_open(DEV_SIZE, &dev));
	CHECK_OK(pmcfs_mkfs(dev, &p, NULL));
	CHECK_OK(pmcfs_fs_open(dev, 0, &fs));
	CHECK_OK(pmcfs_subvol_open(fs, PMCFS_FIRST_SUBVOL, &t));
	CHECK_OK(pmcfs_trans_begin(fs, &tx));
	CHECK_OK(pmcfs_ns_create(tx, t, PMCFS_ROOT_INO, "big", 3, &ca, &big));
	CHECK_OK(pmcfs_ns_create(tx, t, PMCFS_ROOT_INO, "copy", 4, &ca, &copy));
	CHECK_OK(pmcfs_ns_create(tx, t, PMCFS_ROOT_INO, "filler", 6, &ca, &filler));
	fill(buf, size, 9);
	CHECK_OK(pmcfs_ns_write(tx, t, big, 0, buf, size));
	CHECK_OK(pmcfs_ns_clone_range(tx, t, big, 0, t, copy, 0, 0));
	CHECK_OK(pmcfs_trans_commit(tx));
	/* Fill the device, then free every other block of the filler. */
	fill_len = (pmcfs_fs_free_blocks(fs) - 48) * BS;
	CHECK_OK(pmcfs_trans_begin(fs, &tx));
	for (uint64_t off = 0; off < fill_len; off += size)
		CHECK_OK(pmcfs_ns_write(tx, t, filler, off, buf, off + size <= fill_len ? size : fill_len - off));
	CHECK_OK(pmcfs_trans_commit(tx));
	/* In batches: what a punch frees is reusable only once it commits. */
	for (uint64_t off = 0; off < fill_len && !tcheck_failures;) {
		CHECK_OK(pmcfs_trans_begin(fs, &tx));
		for (int i = 0; i < 32 && off < fill_len; i++, off += 2 * BS)
			CHECK_OK(pmcfs_ns_punch(tx, t, filler, off, BS));
		CHECK_OK(pmcfs_trans_commit(tx));
	}
	CHECK(fsaudit_errors(fs, "fragmented") == 0);
	CHECK_OK(pmcfs_trans_begin(fs, &tx));
	CHECK(pmcfs_alloc(tx, 64, 64, 0, &s, &n) == -ENOSPC);	/* the test needs it */
	pmcfs_trans_abort(tx);

	CHECK_OK(pmcfs_ns_extents(fs, t, big, runs_cb, &ra));
	CHECK(ra.n == 1 && ra.v[0].nblocks == 64);
	bad = (struct pmcfs_badrange){ ra.v[0].phys + 10, 1 };
	CHECK_OK(pmcfs_trans_begin(fs, &tx));
	CHECK_OK(pmcfs_data_relocate(tx, &bad, 1, NULL, NULL, &res));
	CHECK_OK(pmcfs_trans_commit(tx));
	CHECK(res.split_units == 1 && res.runs > 1 && res.blocks == 64 && res.lost_blocks == 1);
	CHECK(res.items == 2 * res.runs);	/* both files, one item per run */
	CHECK(fsaudit_errors(fs, "after a split move") == 0);

	ra.n = 0;
	CHECK_OK(pmcfs_ns_extents(fs, t, big, runs_cb, &ra));
	CHECK_OK(pmcfs_ns_extents(fs, t, copy, runs_cb, &rb));
	CHECK(ra.n == res.runs && rb.n == ra.n);
	for (size_t i = 0; i < ra.n && i < rb.n; i++)
		CHECK(ra.v[i].phys == rb.v[i].phys && ra.v[i].nblocks == rb.v[i].nblocks &&
		      ra.v[i].file_off == rb.v[i].file_off && ra.v[i].phys != bad.start);
	memset(buf + 10 * BS, 0, BS);
	after = read_all(fs, PMCFS_FIRST_SUBVOL, big, size);
	CHECK(memcmp(after, buf, size) == 0);
	free(after);
	after = read_all(fs, PMCFS_FIRST_SUBVOL, copy, size);
	CHECK(memcmp(after, buf, size) == 0);
	free(after);
	free(buf);
	pmcfs_fs_close(fs);
	pmcfs_dev_close(dev);
}

int main(void)
{
	struct pmcfs_mkfs_params p = { .mkfs_time = 1700000000 };
	struct pmcfs_create_args ca = { S_IFREG | 0644, 0, 0, 0, 0 };
	struct pmcfs_relocate_result res;
	struct pmcfs_badrange bad[4];
	struct pmcfs_subvol_info si;
	struct pmcfs_space_info sp;
	struct pmcfs_dev *dev;
	struct pmcfs_fs *fs;
	struct pmcfs_trans *tx;
	struct pmcfs_tree *t;
	uint64_t ino[NFILES], subvols[3] = { PMCFS_FIRST_SUBVOL, 0, 0 }, a_phys, a_n, b_phys, gen;
	uint64_t free_blk;
	uint8_t *before[3][NFILES];
	struct seen seen = { .n = 0 };

	memset(p.uuid, 0x44, 16);
	CHECK_OK(pmcfs_dev_mem_open(DEV_SIZE, &dev));
	CHECK_OK(pmcfs_mkfs(dev, &p, NULL));
	CHECK_OK(pmcfs_fs_open(dev, 0, &fs));

	/* a: 3 MiB written at once (a 2 MiB aligned extent); b, c = reflink of b;
	 * d = reflink of 16 blocks in the middle of a; u: preallocated (unwritten). */
	CHECK_OK(pmcfs_trans_begin(fs, &tx));
	CHECK_OK(pmcfs_subvol_open(fs, PMCFS_FIRST_SUBVOL, &t));
	for (int f = 0; f < NFILES; f++)
		CHECK_OK(pmcfs_ns_create(tx, t, PMCFS_ROOT_INO, names[f], 1, &ca, &ino[f]));
	for (int f = F_A; f <= F_B; f++) {
		uint8_t *buf = malloc(sizes[f]);
		fill(buf, sizes[f], (unsigned)f + 1);
		CHECK_OK(pmcfs_ns_write(tx, t, ino[f], 0, buf, sizes[f]));
		free(buf);
	}
	CHECK_OK(pmcfs_ns_clone_range(tx, t, ino[F_B], 0, t, ino[F_C], 0, 0));
	CHECK_OK(pmcfs_ns_clone_range(tx, t, ino[F_A], MiB, t, ino[F_D], 0, 16 * BS));
	CHECK_OK(pmcfs_ns_prealloc(tx, t, ino[F_U], 0, sizes[F_U]));
	CHECK_OK(pmcfs_ns_truncate(tx, t, ino[F_U], sizes[F_U]));
	CHECK_OK(pmcfs_trans_commit(tx));
	CHECK_OK(pmcfs_trans_begin(fs, &tx));
	CHECK_OK(pmcfs_subvol_snapshot(tx, PMCFS_FIRST_SUBVOL, "ro", PMCFS_SNAP_RDONLY, &subvols[1]));
	CHECK_OK(pmcfs_subvol_snapshot(tx, PMCFS_FIRST_SUBVOL, "rw", 0, &subvols[2]));
	CHECK_OK(pmcfs_trans_commit(tx));
	CHECK(fsaudit_errors(fs, "after setup") == 0);

	a_phys = first_phys(fs, PMCFS_FIRST_SUBVOL, ino[F_A], &a_n);
	b_phys = first_phys(fs, PMCFS_FIRST_SUBVOL, ino[F_B], NULL);
	CHECK(a_phys % 512 == 0 && a_n == 768);
	CHECK(first_phys(fs, PMCFS_FIRST_SUBVOL, ino[F_D], NULL) == a_phys + 256);
	CHECK(first_phys(fs, PMCFS_FIRST_SUBVOL, ino[F_C], NULL) == b_phys);
	for (int s = 0; s < 3; s++)
		for (int f = 0; f < NFILES; f++)
			before[s][f] = read_all(fs, subvols[s], ino[f], sizes[f]);

	/* Bad: a block of a inside d's share, b's third block, u's first, and a free block. */
	CHECK_OK(pmcfs_space_lookup(fs, DEV_SIZE / BS - 4096, &sp));
	free_blk = DEV_SIZE / BS - 4096;
	CHECK(sp.refcount == 0 && sp.owner == PMCFS_OWNER_FS);
	bad[0] = (struct pmcfs_badrange){ a_phys + 258, 1 };
	bad[1] = (struct pmcfs_badrange){ b_phys + 2, 1 };
	bad[2] = (struct pmcfs_badrange){ first_phys(fs, PMCFS_FIRST_SUBVOL, ino[F_U], NULL), 1 };
	bad[3] = (struct pmcfs_badrange){ free_blk, 1 };

	CHECK_OK(pmcfs_trans_begin(fs, &tx));
	gen = pmcfs_trans_generation(tx);
	CHECK_OK(pmcfs_data_relocate(tx, bad, 4, note, &seen, &res));
	CHECK_OK(pmcfs_trans_commit(tx));
	CHECK(fsaudit_errors(fs, "after the move") == 0);

	/* Three units (a, b, u), each item once per subvolume: 5 files x 3. */
	CHECK(res.runs == 3 && res.items == 15 && seen.n == 15);
	CHECK(res.blocks == 768 + 5 + 4);
	CHECK(res.lost_blocks == 3 && res.marked_bad == 4 && res.busy == 0);
	for (size_t i = 0; i < seen.n; i++) {
		const struct pmcfs_relocate_info *in = &seen.v[i];
		CHECK(in->rdonly == (in->subvol == subvols[1]));
		if (in->ino == ino[F_B] || in->ino == ino[F_C])
			CHECK(in->lost_blocks == 1 && in->lost_lo == 2 * BS && in->lost_hi == 3 * BS);
		else if (in->ino == ino[F_D])
			CHECK(in->lost_blocks == 1 && in->lost_lo == 2 * BS && in->lost_hi == 3 * BS);
		else if (in->ino == ino[F_A])
			CHECK(in->lost_blocks == 1 && in->lost_lo == MiB + 2 * BS);
		else
			CHECK(in->lost_blocks == 0);	/* unwritten: reads as zeros anyway */
	}

	/* One copy per unit, shared as before, a still 2 MiB aligned. */
	{
		uint64_t na = first_phys(fs, PMCFS_FIRST_SUBVOL, ino[F_A], NULL);
		uint64_t nb = first_phys(fs, PMCFS_FIRST_SUBVOL, ino[F_B], NULL);
		CHECK(na != a_phys && na % 512 == 0);
		CHECK(nb != b_phys);
		for (int s = 0; s < 3; s++) {
			CHECK(first_phys(fs, subvols[s], ino[F_A], NULL) == na);
			CHECK(first_phys(fs, subvols[s], ino[F_D], NULL) == na + 256);
			CHECK(first_phys(fs, subvols[s], ino[F_B], NULL) == nb);
			CHECK(first_phys(fs, subvols[s], ino[F_C], NULL) == nb);
		}
		CHECK_OK(pmcfs_space_lookup(fs, na + 256, &sp));
		/* a's and d's items, in a leaf of each tree now (changing a
		 * shared leaf copies it, as any change does). */
		CHECK(sp.refcount == 6 && sp.owner == PMCFS_OWNER_FS);
	}
	no_refs_to_bad(fs, subvols, ino, bad, 4);
	for (int i = 0; i < 4; i++) {
		CHECK_OK(pmcfs_space_lookup(fs, bad[i].start, &sp));
		CHECK(sp.owner == PMCFS_OWNER_BADBLOCK && sp.refcount == 1);
	}

	/* Contents: as before, except the bad blocks, which read as zeros. */
	for (int s = 0; s < 3; s++)
		for (int f = 0; f < NFILES; f++) {
			uint8_t *now = read_all(fs, subvols[s], ino[f], sizes[f]);
			uint64_t zero_at = f == F_A ? MiB + 2 * BS : f == F_U ? 0 : 2 * BS;
			bool ok = true;
			for (uint64_t off = 0; off < sizes[f]; off++) {
				bool zero = f != F_U && off / BS == zero_at / BS;
				ok &= zero ? now[off] == 0 : now[off] == before[s][f][off];
			}
			CHECK(ok);
			free(now);
			free(before[s][f]);
		}

	/* The read-only snapshot is still read-only, as of the move. */
	CHECK_OK(pmcfs_subvol_info(fs, subvols[1], &si));
	CHECK((si.flags & PMCFS_ROOT_RDONLY) && si.create_gen == gen && si.root.gen <= gen);
	CHECK_OK(pmcfs_subvol_info(fs, subvols[2], &si));
	CHECK(!(si.flags & PMCFS_ROOT_RDONLY));
	CHECK_OK(pmcfs_subvol_open(fs, subvols[1], &t));
	CHECK_OK(pmcfs_trans_begin(fs, &tx));
	CHECK(pmcfs_ns_truncate(tx, t, ino[F_A], 0) == -EROFS);
	pmcfs_trans_abort(tx);

	/* Nothing left to move; and no allocation may land on a bad block. */
	CHECK_OK(pmcfs_trans_begin(fs, &tx));
	CHECK_OK(pmcfs_data_relocate(tx, bad, 4, note, &seen, &res));
	CHECK(res.runs == 0 && res.items == 0 && res.marked_bad == 0 && res.busy == 0);
	for (;;) {
		uint64_t s, n;
		if (pmcfs_alloc(tx, 64, 1, 0, &s, &n))
			break;
		for (uint64_t b = s; b < s + n; b++)
			CHECK(!is_bad(bad, 4, b));
	}
	pmcfs_trans_abort(tx);
	CHECK(fsaudit_errors(fs, "at the end") == 0);

	pmcfs_fs_close(fs);
	pmcfs_dev_close(dev);
	split_case();
	return tcheck_done("test_relocate");
}

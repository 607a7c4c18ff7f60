// SPDX-License-Identifier: MIT
/*
 * AFL++ custom mutator for PMCFZ inputs (tests/fuzz/harness.c): picks a
 * metadata block (superblock, commit slot, tree block; or their
 * replicas), changes one structural field — header fields, keys,
 * pointers, item offsets and sizes, item bodies by key type (inodes,
 * dirents, extents, xattrs, root items, space-map runs), the superblock
 * geometry, a commit record's roots, levels and generation — or moves
 * whole items or blocks around, then recomputes the checksum of every
 * block it changed (the tree block's or superblock's, or the commit
 * record's), so the change gets past the CRC check and reaches the
 * parsers. 1 change in 20 leaves the checksum stale, 1 in 10 is plain
 * random bytes (checksum fixed); AFL++'s own havoc also runs, unless
 * AFL_CUSTOM_MUTATOR_ONLY is set.
 *
 * Built by scripts/fuzz-build.sh as build-fuzz/fuzz-mutator.so with
 * lib/crc32c.c (for pmcfs_cksum_update/pmcfs_crc32c) compiled in.
 * Also a standalone tool for tests: define PMCFZ_MUTATOR_MAIN.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "pmcfs.h"

#define BLK		4096u
#define HDR		16u
#define REC		(4u + BLK)
#define MAX_RECS	512

#define FS_MAGIC	0x31534650u
#define RT_MAGIC	0x31545250u
#define SM_MAGIC	0x314d5350u
#define SB_MAGIC	0x3142535346434d50ULL
#define COMMIT_MAGIC	0x314d4f4346434d50ULL

/* Header, key, pointer and item layout (lib/pmcfs_format.h). */
#define H_SIZE		64u
#define KEY_SIZE	24u
#define PTR_SIZE	40u
#define ITEM_SIZE	32u

struct field { uint16_t off; uint8_t width; };

static const struct field hdr_fields[] = {
	{ 4, 4 }, { 24, 8 }, { 32, 8 }, { 40, 8 }, { 48, 2 }, { 50, 2 }, { 52, 4 }, { 56, 8 },
};
static const struct field key_fields[] = { { 0, 8 }, { 8, 1 }, { 9, 1 }, { 16, 8 } };
static const struct field sb_fields[] = {
	{ 4, 4 }, { 16, 8 }, { 32, 8 }, { 40, 8 }, { 48, 8 }, { 56, 4 }, { 60, 4 }, { 64, 8 },
	{ 72, 8 }, { 80, 8 }, { 88, 8 }, { 96, 8 }, { 104, 8 }, { 120, 8 }, { 128, 8 }, { 192, 8 },
};
static const struct field commit_fields[] = {
	{ 8, 8 }, { 24, 8 }, { 32, 8 }, { 40, 8 }, { 48, 8 }, { 56, 8 }, { 64, 8 }, { 72, 8 },
	{ 80, 8 }, { 88, 8 }, { 96, 1 }, { 97, 1 }, { 98, 1 }, { 104, 8 }, { 112, 8 }, { 120, 4 },
};
static const struct field inode_fields[] = {
	{ 0, 4 }, { 4, 4 }, { 12, 4 }, { 16, 8 }, { 24, 8 }, { 32, 8 }, { 40, 8 }, { 48, 8 },
	{ 56, 8 }, { 64, 4 }, { 68, 4 }, { 72, 8 }, { 80, 4 }, { 88, 8 }, { 104, 8 }, { 136, 8 },
};
static const struct field dirent_fields[] = { { 0, 8 }, { 8, 8 }, { 16, 2 }, { 18, 1 }, { 19, 1 }, { 24, 1 } };
static const struct field extent_fields[] = { { 0, 8 }, { 8, 4 }, { 12, 4 } };
static const struct field xattr_fields[] = { { 0, 4 }, { 4, 2 }, { 6, 2 }, { 8, 1 } };
static const struct field root_fields[] = {
	{ 0, 8 }, { 8, 8 }, { 16, 8 }, { 24, 8 }, { 32, 8 }, { 40, 8 }, { 48, 8 }, { 56, 4 },
	{ 60, 1 }, { 61, 1 }, { 62, 2 }, { 64, 8 }, { 72, 8 }, { 80, 1 }, { 88, 8 }, { 96, 8 },
};
static const struct field run_fields[] = { { 0, 8 }, { 8, 4 }, { 12, 4 } };
static const struct field u64_fields[] = { { 0, 8 } };

struct state {
	uint64_t rng;
	uint8_t *out;
	size_t out_cap;
};

struct input {
	uint8_t *buf;
	size_t len;
	uint32_t nblocks;
	size_t nrecs;
	size_t rec[MAX_RECS];		/* offset of each complete record */
	uint8_t dirty[MAX_RECS];	/* 1 + kind before the change, 0 = unchanged */
};

static uint64_t rnd(struct state *s)
{
	uint64_t x = s->rng;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return s->rng = x;
}

static uint64_t below(struct state *s, uint64_t n)
{
	return n ? rnd(s) % n : 0;
}

static uint64_t get(const uint8_t *p, unsigned w)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < w; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

static void put(uint8_t *p, unsigned w, uint64_t v)
{
	for (unsigned i = 0; i < w; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint8_t *blk(struct input *in, size_t r)
{
	return in->buf + in->rec[r] + 4;
}

static uint32_t blkno(struct input *in, size_t r)
{
	return (uint32_t)get(in->buf + in->rec[r], 4);
}

enum kind { K_OTHER, K_SB, K_COMMIT, K_TREE };

static enum kind kind_of(const uint8_t *b)
{
	uint32_t m = (uint32_t)get(b + 4, 4);

	if (get(b + 8, 8) == SB_MAGIC)
		return K_SB;
	if (get(b, 8) == COMMIT_MAGIC)
		return K_COMMIT;
	if (m == FS_MAGIC || m == RT_MAGIC || m == SM_MAGIC)
		return K_TREE;
	return K_OTHER;
}

/* A value for a field of WIDTH bytes whose current value is CUR. */
static uint64_t pick_value(struct state *s, struct input *in, unsigned width, uint64_t cur)
{
	uint64_t mask = width == 8 ? ~0ULL : (1ULL << (8 * width)) - 1, v;

	switch (below(s, 12)) {
	case 0: v = 0; break;
	case 1: v = 1; break;
	case 2: v = ~0ULL; break;
	case 3: v = mask >> 1; break;		/* largest signed */
	case 4: v = (mask >> 1) + 1; break;	/* smallest signed */
	case 5: {
		static const uint64_t iv[] = { 2, 3, 4, 7, 8, 15, 16, 63, 64, 127, 128, 255, 256,
			257, 511, 512, 1024, 2047, 2048, 4095, 4096, 4097, 65535, 65536,
			1ULL << 31, 1ULL << 32, 1ULL << 48, (1ULL << 48) - 1, 1ULL << 62,
			(uint64_t)-5, (uint64_t)-2, 1536, 1535, 1537 };
		v = iv[below(s, sizeof(iv) / sizeof(iv[0]))];
		break;
	}
	case 6: case 7: v = cur + 1 + below(s, 8); break;
	case 8: case 9: v = cur - 1 - below(s, 8); break;
	case 10:	/* a block number in or near the image */
		v = in->nrecs && below(s, 2) ? blkno(in, below(s, in->nrecs)) :
		    in->nblocks + below(s, 3) - 1;
		break;
	default: v = rnd(s); break;
	}
	return v & mask;
}

static void mutate_field(struct state *s, struct input *in, uint8_t *base, size_t room,
			 const struct field *f, size_t nf)
{
	const struct field *x = &f[below(s, nf)];

	if (x->off + x->width > room)
		return;
	put(base + x->off, x->width, pick_value(s, in, x->width, get(base + x->off, x->width)));
}

static void mutate_bytes(struct state *s, uint8_t *p, size_t len)
{
	unsigned n = 1 + below(s, 4);

	if (!len)
		return;
	while (n--) {
		size_t o = below(s, len);

		switch (below(s, 3)) {
		case 0: p[o] ^= (uint8_t)(1u << below(s, 8)); break;
		case 1: p[o] = (uint8_t)rnd(s); break;
		default: p[o] = (uint8_t[]){ 0, 0xff, '/', '.', 0x80 }[below(s, 5)]; break;
		}
	}
}

/* Change one thing in the leaf item I's body, by the item's key type. */
static void mutate_body(struct state *s, struct input *in, uint8_t *b, unsigned i)
{
	uint8_t *it = b + H_SIZE + i * ITEM_SIZE;
	uint32_t off = (uint32_t)get(it + 24, 4), size = (uint32_t)get(it + 28, 4);
	uint8_t *body;

	if (off > BLK || size > BLK - off || !size)
		return;
	body = b + off;
	if (below(s, 5) == 0) {
		mutate_bytes(s, body, size);
		return;
	}
	switch (it[8]) {
	case 1: mutate_field(s, in, body, size, inode_fields, 16); break;
	case 2: case 3: case 4:
		if (below(s, 4) == 0 && size > 24)
			mutate_bytes(s, body + 24, size - 24);	/* the name */
		else
			mutate_field(s, in, body, size, dirent_fields, 6);
		break;
	case 5: mutate_field(s, in, body, size, extent_fields, 3); break;
	case 6: mutate_field(s, in, body, size, xattr_fields, 4); break;
	case 16: mutate_field(s, in, body, size, root_fields, 16); break;
	case 17: mutate_field(s, in, body, size, u64_fields, 1); break;
	case 32: mutate_field(s, in, body, size, run_fields, 3); break;
	default: mutate_bytes(s, body, size); break;
	}
}

static void mutate_tree(struct state *s, struct input *in, size_t r)
{
	uint8_t *b = blk(in, r), tmp[PTR_SIZE];
	unsigned level = (unsigned)get(b + 48, 2), n = (unsigned)get(b + 50, 2);
	unsigned esz = level ? PTR_SIZE : ITEM_SIZE, max = (BLK - H_SIZE) / esz;
	unsigned i, j;

	if (n > max)
		n = max;
	i = (unsigned)below(s, n ? n : 1);
	j = (unsigned)below(s, n ? n : 1);
	switch (below(s, 10)) {
	case 0:
		mutate_field(s, in, b, BLK, hdr_fields, sizeof(hdr_fields) / sizeof(hdr_fields[0]));
		break;
	case 1: case 2:		/* a key */
		mutate_field(s, in, b + H_SIZE + i * esz, KEY_SIZE, key_fields, 4);
		break;
	case 3:			/* swap two entries */
		memcpy(tmp, b + H_SIZE + i * esz, esz);
		memcpy(b + H_SIZE + i * esz, b + H_SIZE + j * esz, esz);
		memcpy(b + H_SIZE + j * esz, tmp, esz);
		break;
	case 4:			/* drop or duplicate an entry */
		if (below(s, 2) && n) {
			memmove(b + H_SIZE + i * esz, b + H_SIZE + (i + 1) * esz, (n - i - 1) * esz);
			put(b + 50, 2, n - 1);
		} else if (n < max) {
			memmove(b + H_SIZE + (i + 1) * esz, b + H_SIZE + i * esz, (n - i) * esz);
			put(b + 50, 2, n + 1);
		}
		break;
	case 5: case 6:
		if (level) {	/* pointer: block number or generation */
			static const struct field pf[] = { { 24, 8 }, { 32, 8 } };
			mutate_field(s, in, b + H_SIZE + i * esz, PTR_SIZE, pf, 2);
		} else {	/* item offset or size */
			static const struct field itf[] = { { 24, 4 }, { 28, 4 } };
			uint8_t *it = b + H_SIZE + i * esz;

			if (below(s, 3) == 0 && n > 1)	/* overlap a neighbour's body */
				memcpy(it + 24 + 4 * below(s, 2), b + H_SIZE + j * esz + 24, 4);
			else
				mutate_field(s, in, it, ITEM_SIZE, itf, 2);
		}
		break;
	default:
		if (!level && n)
			mutate_body(s, in, b, i);
		else
			mutate_field(s, in, b, BLK, hdr_fields, 8);
		break;
	}
}

/* The record of block B, or -1. */
static long find_rec(struct input *in, uint32_t b)
{
	for (size_t r = 0; r < in->nrecs; r++)
		if (blkno(in, r) == b)
			return (long)r;
	return -1;
}

static void mutate_one(struct state *s, struct input *in)
{
	size_t meta[MAX_RECS], nmeta = 0, r;
	uint8_t *b;

	for (r = 0; r < in->nrecs; r++)
		if (kind_of(blk(in, r)) != K_OTHER)
			meta[nmeta++] = r;
	if (!in->nrecs)
		return;
	r = nmeta && below(s, 10) ? meta[below(s, nmeta)] : below(s, in->nrecs);
	b = blk(in, r);
	if (!in->dirty[r])	/* the kind before the change picks the checksum */
		in->dirty[r] = (uint8_t)(1 + kind_of(b));
	if (below(s, 10) == 0) {		/* plain random bytes, mostly near the start */
		mutate_bytes(s, b, below(s, 2) ? 512 : BLK);
		return;
	}
	if (below(s, 25) == 0) {		/* a whole block replaced by another */
		size_t o = below(s, in->nrecs);

		if (o != r)
			memcpy(b, blk(in, o), BLK);
		if (below(s, 2))
			put(b + 24, 8, blkno(in, r));	/* passes the misdirected check */
		return;
	}
	switch (kind_of(b)) {
	case K_SB:
		mutate_field(s, in, b, BLK, sb_fields, sizeof(sb_fields) / sizeof(sb_fields[0]));
		break;
	case K_COMMIT:
		mutate_field(s, in, b, 128, commit_fields, sizeof(commit_fields) / sizeof(commit_fields[0]));
		if (below(s, 2))	/* make it the newest record */
			put(b + 24, 8, get(b + 24, 8) + 2);
		break;
	case K_TREE:
		mutate_tree(s, in, r);
		break;
	default:
		mutate_bytes(s, b, BLK);
		break;
	}
	/* Superblock and commit slots: often the replica too, or fsck just uses it. */
	if (blkno(in, r) < 3 && in->nblocks > 512 && below(s, 2)) {
		long rr = find_rec(in, in->nblocks - 512 + blkno(in, r));

		if (rr >= 0) {
			memcpy(blk(in, (size_t)rr), b, BLK);
			in->dirty[rr] = in->dirty[r];
		}
	}
}

static void fix_crc(uint8_t *b, enum kind k)
{
	switch (k) {
	case K_COMMIT:
		put(b + 124, 4, pmcfs_crc32c(0, b, 124));
		break;
	case K_SB: case K_TREE: default:
		pmcfs_cksum_update(b, BLK, 0);
		break;
	}
}

static size_t mutate(struct state *s, const uint8_t *buf, size_t len, uint8_t **out, size_t max)
{
	struct input in;
	unsigned n;

	if (len > max)
		len = max;
	if (s->out_cap < len + 1) {
		uint8_t *p = realloc(s->out, len + 1);

		if (!p) {
			*out = (uint8_t *)buf;
			return len;
		}
		s->out = p;
		s->out_cap = len + 1;
	}
	memcpy(s->out, buf, len);
	memset(&in, 0, sizeof(in));
	in.buf = s->out;
	in.len = len;
	in.nblocks = len >= 12 ? (uint32_t)get(in.buf + 8, 4) : 0;
	for (size_t o = HDR; o + REC <= len && in.nrecs < MAX_RECS; o += REC)
		in.rec[in.nrecs++] = o;
	if (len >= 12 && below(s, 50) == 0) {		/* the device size */
		static const int64_t d[] = { -1, 1, -512, 512, -1024 };
		put(in.buf + 8, 4, in.nblocks + d[below(s, 5)]);
		*out = s->out;
		return len;
	}
	n = 1 + (unsigned)below(s, 3);
	while (n--)
		mutate_one(s, &in);
	if (below(s, 20))
		for (size_t r = 0; r < in.nrecs; r++)
			if (in.dirty[r])
				fix_crc(blk(&in, r), (enum kind)(in.dirty[r] - 1));
	*out = s->out;
	return len;
}

/* ---- AFL++ custom mutator API ---------------------------------------------- */

void *afl_custom_init(void *afl, unsigned int seed);
size_t afl_custom_fuzz(void *data, uint8_t *buf, size_t buf_size, uint8_t **out_buf,
		       uint8_t *add_buf, size_t add_buf_size, size_t max_size);
void afl_custom_deinit(void *data);

void *afl_custom_init(void *afl, unsigned int seed)
{
	struct state *s = calloc(1, sizeof(*s));

	(void)afl;
	if (s)
		s->rng = 0x9e3779b97f4a7c15ULL ^ seed ^ ((uint64_t)seed << 32);
	return s;
}

size_t afl_custom_fuzz(void *data, uint8_t *buf, size_t buf_size, uint8_t **out_buf,
		       uint8_t *add_buf, size_t add_buf_size, size_t max_size)
{
	(void)add_buf; (void)add_buf_size;
	return mutate(data, buf, buf_size, out_buf, max_size);
}

void afl_custom_deinit(void *data)
{
	struct state *s = data;

	free(s->out);
	free(s);
}

#ifdef PMCFZ_MUTATOR_MAIN
#include <stdio.h>
/* fuzz-mutate SEED N IN OUTPREFIX: write N mutants OUTPREFIX.0 ... */
int main(int argc, char **argv)
{
	static uint8_t buf[1 << 20];
	struct state *s;
	size_t len;
	FILE *f;

	if (argc != 5 || !(f = fopen(argv[3], "rb")))
		return 2;
	len = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	s = afl_custom_init(NULL, (unsigned)strtoul(argv[1], NULL, 0));
	for (long i = 0; i < strtol(argv[2], NULL, 0); i++) {
		char name[4096];
		uint8_t *o;
		size_t n = afl_custom_fuzz(s, buf, len, &o, NULL, 0, sizeof(buf));

		snprintf(name, sizeof(name), "%s.%ld", argv[4], i);
		if (!(f = fopen(name, "wb")))
			return 1;
		fwrite(o, 1, n, f);
		fclose(f);
	}
	afl_custom_deinit(s);
	return 0;
}
#endif

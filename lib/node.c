// SPDX-License-Identifier: MIT
/*
 * Tree block layout and its verifier. A leaf keeps item headers growing
 * from the front and bodies packed from the end, item 0's body last in
 * the block; bodies are 8-byte aligned and contiguous, so the verifier
 * can check the exact position of every body.
 */
#include <errno.h>
#include "fs_priv.h"

#define HDR(buf) ((struct pmcfs_header *)(buf))
#define CHDR(buf) ((const struct pmcfs_header *)(buf))

int pmcfs_key_cmp(const struct pmcfs_ckey *a, const struct pmcfs_ckey *b)
{
	if (a->objectid != b->objectid)
		return a->objectid < b->objectid ? -1 : 1;
	if (a->type != b->type)
		return a->type < b->type ? -1 : 1;
	if (a->offset != b->offset)
		return a->offset < b->offset ? -1 : 1;
	return 0;
}

void pmcfs_key_to_disk(const struct pmcfs_ckey *k, struct pmcfs_key *d)
{
	memset(d, 0, sizeof(*d));
	d->objectid = htole64(k->objectid);
	d->type = k->type;
	d->offset = htole64(k->offset);
}

void pmcfs_key_from_disk(const struct pmcfs_key *d, struct pmcfs_ckey *k)
{
	k->objectid = le64toh(d->objectid);
	k->type = d->type;
	k->offset = le64toh(d->offset);
}

uint32_t pmcfs_tree_magic(uint64_t tree_id)
{
	if (tree_id == PMCFS_ROOTTAB_TREE)
		return PMCFS_ROOTTAB_MAGIC;
	if (tree_id == PMCFS_SPACEMAP_TREE)
		return PMCFS_SPACEMAP_MAGIC;
	return PMCFS_FS_MAGIC;
}

struct pmcfs_item *pmcfs_leaf_item(uint8_t *buf, unsigned i)
{
	return (struct pmcfs_item *)(buf + sizeof(struct pmcfs_header)) + i;
}

struct pmcfs_node_ptr *pmcfs_node_ptr_at(uint8_t *buf, unsigned i)
{
	return (struct pmcfs_node_ptr *)(buf + sizeof(struct pmcfs_header)) + i;
}

unsigned pmcfs_node_level(const void *buf) { return pmcfs_header_level(CHDR(buf)); }
unsigned pmcfs_node_nritems(const void *buf) { return pmcfs_header_nritems(CHDR(buf)); }

void pmcfs_node_key(const void *buf, unsigned i, struct pmcfs_ckey *ret_key)
{
	uint8_t *b = (uint8_t *)buf;

	if (pmcfs_node_level(buf))
		pmcfs_key_from_disk(&pmcfs_node_ptr_at(b, i)->key, ret_key);
	else
		pmcfs_key_from_disk(&pmcfs_leaf_item(b, i)->key, ret_key);
}

void pmcfs_node_child(const void *buf, unsigned i, uint64_t *ret_blkno, uint64_t *ret_gen)
{
	const struct pmcfs_node_ptr *p = pmcfs_node_ptr_at((uint8_t *)buf, i);

	*ret_blkno = pmcfs_node_ptr_blkno(p);
	*ret_gen = pmcfs_node_ptr_generation(p);
}

const void *pmcfs_leaf_body(const void *buf, unsigned i, uint32_t *ret_size)
{
	const struct pmcfs_item *it = pmcfs_leaf_item((uint8_t *)buf, i);

	*ret_size = pmcfs_item_size(it);
	return (const uint8_t *)buf + pmcfs_item_offset(it);
}

/* Start of the body area: the lowest body offset, or the block end. */
static uint32_t leaf_data_start(const uint8_t *buf)
{
	unsigned n = pmcfs_node_nritems(buf);

	if (!n)
		return PMCFS_BLOCK_SIZE;
	return pmcfs_item_offset(pmcfs_leaf_item((uint8_t *)buf, n - 1));
}

uint32_t pmcfs_leaf_free(const uint8_t *buf)
{
	uint32_t end = sizeof(struct pmcfs_header) +
		       pmcfs_node_nritems(buf) * sizeof(struct pmcfs_item);
	return leaf_data_start(buf) - end;
}

uint32_t pmcfs_leaf_used(const uint8_t *buf)
{
	return PMCFS_NODE_SPACE - pmcfs_leaf_free(buf);
}

void pmcfs_node_init(struct pmcfs_fs *fs, uint8_t *buf, uint64_t blkno, uint32_t magic,
		     uint64_t owner, unsigned level, uint64_t gen)
{
	struct pmcfs_header *h = HDR(buf);

	memset(buf, 0, PMCFS_BLOCK_SIZE);
	pmcfs_set_header_magic(h, magic);
	memcpy(h->uuid, fs->sb.uuid, 16);
	pmcfs_set_header_blkno(h, blkno);
	pmcfs_set_header_generation(h, gen);
	pmcfs_set_header_owner(h, owner);
	pmcfs_set_header_level(h, level);
}

void pmcfs_node_seal(uint8_t *buf)
{
	pmcfs_cksum_update(buf, PMCFS_BLOCK_SIZE, offsetof(struct pmcfs_header, crc));
}

static int fail(struct pmcfs_verify_err *why, int code, const char *check,
		uint64_t expected, uint64_t found, int item)
{
	if (why) {
		why->code = code;
		why->check = check;
		why->expected = expected;
		why->found = found;
		why->item = item;
	}
	return code;
}

static int verify_leaf(const uint8_t *buf, unsigned n, struct pmcfs_verify_err *why)
{
	uint32_t items_end = sizeof(struct pmcfs_header) + n * sizeof(struct pmcfs_item);
	uint32_t expect_end = PMCFS_BLOCK_SIZE;

	if (items_end > PMCFS_BLOCK_SIZE)
		return fail(why, -PMCFS_ECORRUPT, "nritems", PMCFS_NODE_SPACE / sizeof(struct pmcfs_item), n, -1);
	for (unsigned i = 0; i < n; i++) {
		const struct pmcfs_item *it = pmcfs_leaf_item((uint8_t *)buf, i);
		uint32_t size = pmcfs_item_size(it), off = pmcfs_item_offset(it);

		if (size > PMCFS_MAX_ITEM_BODY)
			return fail(why, -PMCFS_ECORRUPT, "item size", PMCFS_MAX_ITEM_BODY, size, i);
		if (PMCFS_BODY_ALIGN(size) > expect_end - items_end ||
		    off != expect_end - PMCFS_BODY_ALIGN(size))
			return fail(why, -PMCFS_ECORRUPT, "item offset",
				    expect_end - PMCFS_BODY_ALIGN(size), off, i);
		expect_end = off;
	}
	return 0;
}

int pmcfs_node_verify(const struct pmcfs_fs *fs, const void *vbuf, uint64_t blkno,
		      uint32_t expect_magic, int expect_level, struct pmcfs_verify_err *why)
{
	const uint8_t *buf = vbuf;
	const struct pmcfs_header *h = CHDR(buf);
	uint32_t magic = pmcfs_header_magic(h);
	unsigned level = pmcfs_header_level(h), n = pmcfs_header_nritems(h);
	struct pmcfs_ckey prev, cur;
	int ret;

	if (!pmcfs_cksum_verify(buf, PMCFS_BLOCK_SIZE, offsetof(struct pmcfs_header, crc)))
		return fail(why, -PMCFS_EBADCRC, "crc",
			    pmcfs_cksum(buf, PMCFS_BLOCK_SIZE, 0), pmcfs_header_crc(h), -1);
	if (expect_magic ? magic != expect_magic :
	    (magic != PMCFS_FS_MAGIC && magic != PMCFS_ROOTTAB_MAGIC && magic != PMCFS_SPACEMAP_MAGIC))
		return fail(why, -PMCFS_ECORRUPT, "magic", expect_magic, magic, -1);
	if (memcmp(h->uuid, fs->sb.uuid, 16))
		return fail(why, -PMCFS_EMISDIRECT, "uuid", 0, 0, -1);
	if (pmcfs_header_blkno(h) != blkno)
		return fail(why, -PMCFS_EMISDIRECT, "blkno", blkno, pmcfs_header_blkno(h), -1);
	if (level >= PMCFS_MAX_LEVEL)
		return fail(why, -PMCFS_ECORRUPT, "level", PMCFS_MAX_LEVEL - 1, level, -1);
	if (expect_level >= 0 && level != (unsigned)expect_level)
		return fail(why, -PMCFS_ECORRUPT, "level", expect_level, level, -1);
	if (pmcfs_header_flags(h) || pmcfs_header_reserved(h))
		return fail(why, -PMCFS_ECORRUPT, "reserved fields", 0, 1, -1);
	if (level) {
		if (n > PMCFS_NODE_MAX_PTRS)
			return fail(why, -PMCFS_ECORRUPT, "nritems", PMCFS_NODE_MAX_PTRS, n, -1);
		if (n == 0)
			return fail(why, -PMCFS_ECORRUPT, "empty interior node", 1, 0, -1);
		for (unsigned i = 0; i < n; i++) {
			const struct pmcfs_node_ptr *np = pmcfs_node_ptr_at((uint8_t *)buf, i);
			uint64_t child = pmcfs_node_ptr_blkno(np), cgen = pmcfs_node_ptr_generation(np);
			if (child >= fs->sb.nblocks || child < fs->sb.data_start || child >= fs->sb.data_end)
				return fail(why, -PMCFS_ECORRUPT, "child pointer", fs->sb.data_end, child, i);
			/* A child is written no later than the parent that points at it. */
			if (cgen == 0 || cgen > pmcfs_header_generation(h))
				return fail(why, -PMCFS_ECORRUPT, "child generation",
					    pmcfs_header_generation(h), cgen, i);
		}
	} else if ((ret = verify_leaf(buf, n, why))) {
		return ret;
	}
	for (unsigned i = 0; i < n; i++) {
		const struct pmcfs_key *dk = level ? &pmcfs_node_ptr_at((uint8_t *)buf, i)->key :
						     &pmcfs_leaf_item((uint8_t *)buf, i)->key;
		for (int j = 0; j < 7; j++)
			if (dk->pad[j])
				return fail(why, -PMCFS_ECORRUPT, "key padding", 0, dk->pad[j], i);
		pmcfs_key_from_disk(dk, &cur);
		if (i && pmcfs_key_cmp(&prev, &cur) >= 0)
			return fail(why, -PMCFS_ECORRUPT, "key order", 0, 0, i);
		prev = cur;
	}
	return 0;
}

int pmcfs_block_read(struct pmcfs_fs *fs, uint64_t blkno, void *buf)
{
	if (blkno >= fs->sb.nblocks)
		return -EINVAL;
	return pmcfs_dev_read(fs->dev, buf, PMCFS_BLOCK_SIZE, blkno * PMCFS_BLOCK_SIZE);
}

int pmcfs_read_node(struct pmcfs_fs *fs, uint64_t blkno, uint32_t magic, int level,
		    uint64_t gen, struct pmcfs_buf **ret)
{
	struct pmcfs_buf *b = pmcfs_cache_find(&fs->cache, blkno);
	struct pmcfs_verify_err why;
	int err;

	if (!b) {
		if (blkno < fs->sb.data_start || blkno >= fs->sb.data_end)
			return -PMCFS_ECORRUPT;
		err = pmcfs_cache_add(&fs->cache, blkno, &b);
		if (err)
			return err;
		err = pmcfs_block_read(fs, blkno, b->data);
		if (!err)
			err = pmcfs_node_verify(fs, b->data, blkno, magic, level, &why);
		if (err) {
			pmcfs_cache_forget(&fs->cache, blkno);
			return err;
		}
	} else if (pmcfs_header_magic(CHDR(b->data)) != magic ||
		   (level >= 0 && pmcfs_node_level(b->data) != (unsigned)level)) {
		return -PMCFS_ECORRUPT;
	}
	if (pmcfs_header_generation(CHDR(b->data)) != gen)
		return gen ? -PMCFS_ESTALE : -PMCFS_ECORRUPT;
	*ret = b;
	return 0;
}

// SPDX-License-Identifier: MIT
/*
 * fsck-poke: precise corruption for the fsck corpus, no pmcfs-dump needed.
 *
 *   fsck-poke IMG blocks TREE          every block of TREE: "BLKNO LEVEL NRITEMS"
 *   fsck-poke IMG item TREE OBJ TYPE OFF   "BLKNO BODYOFFSET SIZE SLOT" of that item
 *   fsck-poke IMG run BLK              the space map record holding BLK:
 *                                      "START LEN COUNT OWNER LEAF BODYOFFSET"
 *   fsck-poke IMG w8|w16|w32|w64 BLK OFF VALUE   little-endian store, then
 *                                      the block's header crc is recomputed
 *   fsck-poke IMG raw8 BLK OFF VALUE   a store with no crc update
 *   fsck-poke IMG c64 BLK OFF VALUE    a store into a commit record (block
 *                                      1, 2 or a replica): its crc is updated
 *   fsck-poke IMG r64 BLK OFF          print the little-endian u64 there
 *
 * TREE is "roottab", "spacemap" or a subvolume id. Reads go through the
 * library (open read-only); writes straight to the image.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "pmcfs.h"
#include "pmcfs_endian.h"

static struct pmcfs_fs *fs;

static void die(const char *what, int rc)
{
	fprintf(stderr, "fsck-poke: %s: %s\n", what, pmcfs_strerror(rc));
	exit(1);
}

static struct pmcfs_root_ref tree_root(const char *name, uint64_t *id)
{
	struct pmcfs_subvol_info si;
	int rc;

	if (!strcmp(name, "roottab")) {
		*id = PMCFS_ROOTTAB_TREE;
		return pmcfs_fs_commit(fs)->roottab;
	}
	if (!strcmp(name, "spacemap")) {
		*id = PMCFS_SPACEMAP_TREE;
		return pmcfs_fs_commit(fs)->spacemap;
	}
	*id = strtoull(name, NULL, 0);
	if ((rc = pmcfs_subvol_info(fs, *id, &si)))
		die(name, rc);
	return si.root;
}

/* Pre-order walk; fn returns nonzero to stop. */
typedef int (*visit_fn)(uint64_t blk, const uint8_t *buf, void *arg);
static int walk(uint64_t blk, visit_fn fn, void *arg)
{
	uint8_t *buf = malloc(PMCFS_BLOCK_SIZE);
	int rc;

	if (pmcfs_block_read(fs, blk, buf))
		die("read", -5);
	rc = fn(blk, buf, arg);
	for (unsigned i = 0; !rc && pmcfs_node_level(buf) && i < pmcfs_node_nritems(buf); i++) {
		uint64_t c, g;
		pmcfs_node_child(buf, i, &c, &g);
		rc = walk(c, fn, arg);
	}
	free(buf);
	return rc;
}

static int print_block(uint64_t blk, const uint8_t *buf, void *arg)
{
	(void)arg;
	printf("%llu %u %u\n", (unsigned long long)blk, pmcfs_node_level(buf), pmcfs_node_nritems(buf));
	return 0;
}

struct find { struct pmcfs_ckey key; uint64_t blk; };
static int find_item(uint64_t blk, const uint8_t *buf, void *arg)
{
	struct find *f = arg;

	if (pmcfs_node_level(buf))
		return 0;
	for (unsigned i = 0; i < pmcfs_node_nritems(buf); i++) {
		struct pmcfs_ckey k;
		uint32_t size;
		const uint8_t *body = pmcfs_leaf_body(buf, i, &size);
		pmcfs_node_key(buf, i, &k);
		if (!pmcfs_key_cmp(&k, &f->key)) {
			printf("%llu %u %u %u\n", (unsigned long long)blk, (unsigned)(body - buf), size, i);
			return 1;
		}
		if (f->key.type == 0 && k.type == PMCFS_KEY_SPACE_RUN && k.objectid <= f->key.objectid) {
			struct pmcfs_space_run sr;
			memcpy(&sr, body, sizeof(sr));
			if (f->key.objectid < k.objectid + pmcfs_space_run_len(&sr)) {
				printf("%llu %llu %u %u %llu %u\n", (unsigned long long)k.objectid,
				       (unsigned long long)pmcfs_space_run_len(&sr),
				       pmcfs_space_run_refcount(&sr), pmcfs_space_run_owner(&sr),
				       (unsigned long long)blk, (unsigned)(body - buf));
				return 1;
			}
		}
	}
	return 0;
}

static void store(const char *img, const char *op, uint64_t blk, unsigned off, uint64_t v)
{
	unsigned w = !strcmp(op, "w16") ? 2 : !strcmp(op, "w32") ? 4 :
		     !strcmp(op, "w64") || !strcmp(op, "c64") || !strcmp(op, "r64") ? 8 : 1;
	uint8_t buf[PMCFS_BLOCK_SIZE];
	struct pmcfs_dev *dev;
	int rc;

	if (off + w > PMCFS_BLOCK_SIZE)
		die("offset", -22);
	if ((rc = pmcfs_dev_open(img, strcmp(op, "r64") ? 0 : PMCFS_DEV_RDONLY, &dev)) ||
	    (rc = pmcfs_dev_read(dev, buf, sizeof(buf), blk * PMCFS_BLOCK_SIZE)))
		die(img, rc);
	for (unsigned i = 0; i < w && strcmp(op, "r64"); i++)
		buf[off + i] = (uint8_t)(v >> (8 * i));
	if (!strcmp(op, "c64")) {
		uint32_t crc = pmcfs_crc32c(0, buf, offsetof(struct pmcfs_commit, crc));
		for (unsigned i = 0; i < 4; i++)
			buf[offsetof(struct pmcfs_commit, crc) + i] = (uint8_t)(crc >> (8 * i));
	} else if (!strcmp(op, "r64")) {
		uint64_t r = 0;
		for (unsigned i = 0; i < 8; i++)
			r |= (uint64_t)buf[off + i] << (8 * i);
		printf("%llu\n", (unsigned long long)r);
		pmcfs_dev_close(dev);
		return;
	} else if (strcmp(op, "raw8")) {
		pmcfs_cksum_update(buf, PMCFS_BLOCK_SIZE, 0);
	}
	if ((rc = pmcfs_dev_write(dev, buf, sizeof(buf), blk * PMCFS_BLOCK_SIZE)) ||
	    (rc = pmcfs_dev_flush(dev)))
		die(img, rc);
	pmcfs_dev_close(dev);
}

int main(int argc, char **argv)
{
	struct pmcfs_dev *dev;
	uint64_t id;
	int rc;

	if (argc < 4) {
		fprintf(stderr, "usage: see tests/tools/fsck-poke.c\n");
		return 2;
	}
	if (argv[2][0] == 'w' || !strcmp(argv[2], "raw8") || !strcmp(argv[2], "c64") ||
	    !strcmp(argv[2], "r64")) {
		if (argc != 6 && !(argc == 5 && !strcmp(argv[2], "r64")))
			return 2;
		store(argv[1], argv[2], strtoull(argv[3], NULL, 0), (unsigned)strtoul(argv[4], NULL, 0),
		      argc == 6 ? strtoull(argv[5], NULL, 0) : 0);
		return 0;
	}
	if ((rc = pmcfs_dev_open(argv[1], PMCFS_DEV_RDONLY, &dev)) ||
	    (rc = pmcfs_fs_open(dev, PMCFS_OPEN_RDONLY, &fs)))
		die(argv[1], rc);
	if (!strcmp(argv[2], "blocks")) {
		walk(tree_root(argv[3], &id).blkno, print_block, NULL);
	} else if (!strcmp(argv[2], "item") && argc == 7) {
		struct find f = { { strtoull(argv[4], NULL, 0), (uint8_t)atoi(argv[5]),
				    strtoull(argv[6], NULL, 0) }, 0 };
		if (!walk(tree_root(argv[3], &id).blkno, find_item, &f))
			die("item", -2);
	} else if (!strcmp(argv[2], "run")) {
		struct find f = { { strtoull(argv[3], NULL, 0), 0, 0 }, 0 };
		if (!walk(pmcfs_fs_commit(fs)->spacemap.blkno, find_item, &f))
			die("run", -2);
	} else {
		return 2;
	}
	pmcfs_fs_close(fs);
	pmcfs_dev_close(dev);
	return 0;
}

// SPDX-License-Identifier: MIT
/*
 * fsck-ns: namespace corruption and read-back for the fsck corpus. Every
 * change is made in one library transaction with pmcfs_tree_update /
 * insert / delete on the exact item, so checksums and reference counts
 * stay right and only the namespace invariant breaks.
 *
 *   fsck-ns IMG ino SUB PATH                 print PATH's inode number
 *   fsck-ns IMG index SUB DIR NAME           print NAME's index in directory inode DIR
 *   fsck-ns IMG inode SUB INO FIELD VALUE    set an inode field: mode nlink size
 *                                            nblocks flags rdev next_index nsec
 *   fsck-ns IMG del SUB OBJ TYPE OFF         delete an item
 *   fsck-ns IMG put SUB OBJ TYPE OFF HEX     insert or replace an item's body
 *   fsck-ns IMG cut SUB OBJ TYPE OFF SIZE    keep only SIZE bytes of an item's body
 *   fsck-ns IMG dirent SUB OBJ TYPE OFF INDEX FIELD VALUE
 *                                            change one packed entry (by index):
 *                                            ino, type, or name (a string, may hold '/')
 *   fsck-ns IMG extent SUB INO OFF FIELD VALUE   phys, nblocks or flags of an extent
 *   fsck-ns IMG newextent SUB INO OFF PHYS N FLAGS   insert an extent item as is
 *   fsck-ns IMG copy SUB OBJ TYPE OFF NEWOFF copy an item's body to offset NEWOFF
 *   fsck-ns IMG link-raw SUB DIR NAME INO TYPE   a name's three items, DIR's size,
 *                                            next index (and nlink for TYPE 2) as
 *                                            lib/ns_dir.c writes them, for any inode
 *   fsck-ns IMG unlink-raw SUB DIR NAME      remove a name's three items and fix
 *                                            DIR's size (and nlink): the inode stays
 *   fsck-ns IMG unlink-open SUB PATH         unlink, keeping the inode as an orphan
 *   fsck-ns IMG rdonly SUB 0|1               clear or set a subvolume's read-only flag
 *   fsck-ns IMG sums SUB                     "INO SIZE CRC" of every regular file
 *                                            reachable from the root, by inode
 * OFF may be "hash:NAME" (the name's hash, for DIR_ENTRY and XATTR keys).
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "pmcfs.h"
#include "pmcfs_endian.h"
#include "pmcfs_ns.h"

static struct pmcfs_fs *fs;
static struct pmcfs_tree *t;

static void die(const char *what, int rc)
{
	fprintf(stderr, "fsck-ns: %s: %s\n", what, pmcfs_strerror(rc));
	exit(1);
}

static uint64_t num(const char *s)
{
	if (!strncmp(s, "hash:", 5))
		return pmcfs_name_hash(s + 5, strlen(s + 5));
	return strtoull(s, NULL, 0);
}

static struct pmcfs_ckey key(char **a)
{
	struct pmcfs_ckey k = { num(a[0]), (uint8_t)num(a[1]), num(a[2]) };
	return k;
}

static uint32_t get(const struct pmcfs_ckey *k, uint8_t *body)
{
	uint32_t size;
	int rc = pmcfs_tree_lookup(fs, t, k, body, PMCFS_MAX_ITEM_BODY, &size);

	if (rc)
		die("lookup", rc);
	return size;
}

/* Rewrite one packed dirent (found by index) in the item at k. */
static void set_dirent(struct pmcfs_trans *tx, const struct pmcfs_ckey *k, uint64_t index,
		       const char *field, const char *val)
{
	uint8_t body[PMCFS_MAX_ITEM_BODY], out[PMCFS_MAX_ITEM_BODY + 300];
	uint32_t size = get(k, body), pos = 0, o = 0;
	bool found = false;
	int rc;

	while (pos + sizeof(struct pmcfs_dirent) <= size) {
		struct pmcfs_dirent d;
		size_t len, esz;
		const char *name;
		memcpy(&d, body + pos, sizeof(d));
		len = pmcfs_dirent_name_len(&d);
		esz = (sizeof(d) + len + 7) & ~(size_t)7;
		name = (const char *)body + pos + sizeof(d);
		if (pmcfs_dirent_index(&d) == index) {
			found = true;
			if (!strcmp(field, "ino"))
				pmcfs_set_dirent_ino(&d, num(val));
			else if (!strcmp(field, "type"))
				pmcfs_set_dirent_type(&d, (uint8_t)num(val));
			else if (!strcmp(field, "name")) {
				name = val;
				len = strlen(val);
				pmcfs_set_dirent_name_len(&d, (uint16_t)len);
			} else
				die(field, -22);
		}
		memset(out + o, 0, (sizeof(d) + len + 7) & ~(size_t)7);
		memcpy(out + o, &d, sizeof(d));
		memcpy(out + o + sizeof(d), name, len);
		o += (uint32_t)((sizeof(d) + len + 7) & ~(size_t)7);
		pos += (uint32_t)esz;
	}
	if (!found)
		die("no entry with that index", -2);
	if ((rc = pmcfs_tree_update(tx, t, k, out, o)))
		die("update", rc);
}


static void encode(uint8_t *at, uint64_t ino, uint64_t index, unsigned type, const char *name, size_t len)
{
	struct pmcfs_dirent d;

	memset(&d, 0, sizeof(d));
	pmcfs_set_dirent_ino(&d, ino);
	pmcfs_set_dirent_index(&d, index);
	pmcfs_set_dirent_name_len(&d, (uint16_t)len);
	pmcfs_set_dirent_type(&d, (uint8_t)type);
	memset(at, 0, (sizeof(d) + len + 7) & ~(size_t)7);
	memcpy(at, &d, sizeof(d));
	memcpy(at + sizeof(d), name, len);
}

static void append(struct pmcfs_trans *tx, const struct pmcfs_ckey *k, const uint8_t *e, uint32_t sz)
{
	uint8_t body[PMCFS_MAX_ITEM_BODY];
	uint32_t size = 0;
	int rc = pmcfs_tree_lookup(fs, t, k, body, sizeof(body), &size);

	if (rc == -2)
		size = 0;
	else if (rc)
		die("lookup", rc);
	memcpy(body + size, e, sz);
	if ((rc = pmcfs_tree_update(tx, t, k, body, size + sz)))
		die("update", rc);
}

/* Remove the element with this index from a packed item (the item if it was the last). */
static void cut_elem(struct pmcfs_trans *tx, const struct pmcfs_ckey *k, uint64_t index)
{
	uint8_t body[PMCFS_MAX_ITEM_BODY];
	uint32_t size = get(k, body), pos = 0;
	int rc;

	while (pos + sizeof(struct pmcfs_dirent) <= size) {
		struct pmcfs_dirent d;
		uint32_t esz;
		memcpy(&d, body + pos, sizeof(d));
		esz = (uint32_t)((sizeof(d) + pmcfs_dirent_name_len(&d) + 7) & ~(size_t)7);
		if (pmcfs_dirent_index(&d) == index) {
			memmove(body + pos, body + pos + esz, size - pos - esz);
			size -= esz;
			rc = size ? pmcfs_tree_update(tx, t, k, body, size) : pmcfs_tree_delete(tx, t, k);
			if (rc)
				die("update", rc);
			return;
		}
		pos += esz;
	}
	die("no entry with that index", -2);
}

static void dir_adjust(struct pmcfs_trans *tx, uint64_t dir, int dsize, int dnlink, bool bump_index)
{
	struct pmcfs_ckey k = { dir, PMCFS_KEY_INODE, 0 };
	struct pmcfs_inode d;
	uint8_t body[PMCFS_MAX_ITEM_BODY];
	int rc;

	get(&k, body);
	memcpy(&d, body, sizeof(d));
	pmcfs_set_inode_size(&d, pmcfs_inode_size(&d) + (uint64_t)(int64_t)dsize);
	pmcfs_set_inode_nlink(&d, pmcfs_inode_nlink(&d) + (uint32_t)dnlink);
	if (bump_index)
		pmcfs_set_inode_next_index(&d, pmcfs_inode_next_index(&d) + 1);
	if ((rc = pmcfs_tree_update(tx, t, &k, &d, sizeof(d))))
		die("update", rc);
}

static uint64_t resolve(const char *path)
{
	uint64_t ino;
	int rc = pmcfs_ns_resolve(fs, t, path, &ino);

	if (rc)
		die(path, rc);
	return ino;
}

static void link_raw(struct pmcfs_trans *tx, const char *dirpath, const char *name, uint64_t ino, unsigned type)
{
	uint64_t dir = resolve(dirpath), index;
	struct pmcfs_ckey k = { dir, PMCFS_KEY_INODE, 0 };
	struct pmcfs_inode d;
	uint8_t body[PMCFS_MAX_ITEM_BODY], e[300];
	size_t len = strlen(name);
	uint32_t sz = (uint32_t)((sizeof(struct pmcfs_dirent) + len + 7) & ~(size_t)7);
	int rc;

	get(&k, body);
	memcpy(&d, body, sizeof(d));
	index = pmcfs_inode_next_index(&d);
	encode(e, ino, index, type, name, len);
	k = (struct pmcfs_ckey){ dir, PMCFS_KEY_DIR_ENTRY, pmcfs_name_hash(name, len) };
	append(tx, &k, e, sz);
	k = (struct pmcfs_ckey){ dir, PMCFS_KEY_DIR_INDEX, index };
	if ((rc = pmcfs_tree_insert(tx, t, &k, e, sz)))
		die("insert", rc);
	encode(e, dir, index, PMCFS_FT_DIR, name, len);
	k = (struct pmcfs_ckey){ ino, PMCFS_KEY_INODE_REF, dir };
	append(tx, &k, e, sz);
	dir_adjust(tx, dir, 1, type == PMCFS_FT_DIR, true);
}

static void unlink_raw(struct pmcfs_trans *tx, const char *dirpath, const char *name)
{
	uint64_t dir = resolve(dirpath);
	struct pmcfs_ckey k = { dir, PMCFS_KEY_DIR_ENTRY, pmcfs_name_hash(name, strlen(name)) };
	uint8_t body[PMCFS_MAX_ITEM_BODY];
	uint32_t size = get(&k, body), pos = 0;
	struct pmcfs_dirent d;
	int rc;

	for (;;) {	/* the entry with this name */
		if (pos + sizeof(d) > size)
			die(name, -2);
		memcpy(&d, body + pos, sizeof(d));
		if (pmcfs_dirent_name_len(&d) == strlen(name) &&
		    !memcmp(body + pos + sizeof(d), name, strlen(name)))
			break;
		pos += (uint32_t)((sizeof(d) + pmcfs_dirent_name_len(&d) + 7) & ~(size_t)7);
	}
	cut_elem(tx, &k, pmcfs_dirent_index(&d));
	k = (struct pmcfs_ckey){ dir, PMCFS_KEY_DIR_INDEX, pmcfs_dirent_index(&d) };
	if ((rc = pmcfs_tree_delete(tx, t, &k)))
		die("delete", rc);
	k = (struct pmcfs_ckey){ pmcfs_dirent_ino(&d), PMCFS_KEY_INODE_REF, dir };
	cut_elem(tx, &k, pmcfs_dirent_index(&d));
	dir_adjust(tx, dir, -1, pmcfs_dirent_type(&d) == PMCFS_FT_DIR ? -1 : 0, false);
}

static int readdir_sum(void *ctx, const char *name, size_t len, uint64_t ino, unsigned type, uint64_t index);

static void sum_dir(uint64_t dir)
{
	int rc = pmcfs_ns_readdir(fs, t, dir, readdir_sum, NULL);
	if (rc)
		printf("# directory %llu unreadable: %s\n", (unsigned long long)dir, pmcfs_strerror(rc));
}

static int readdir_sum(void *ctx, const char *name, size_t len, uint64_t ino, unsigned type, uint64_t index)
{
	struct pmcfs_stat st;
	(void)ctx; (void)name; (void)len; (void)index;
	if (type == PMCFS_FT_DIR) {
		sum_dir(ino);
	} else if (type == PMCFS_FT_REG && !pmcfs_ns_stat(fs, t, ino, &st)) {
		uint8_t *buf = malloc(st.size + 1);
		size_t got = 0;
		if (pmcfs_ns_read(fs, t, ino, 0, buf, st.size, &got))
			printf("%llu unreadable\n", (unsigned long long)ino);
		else
			printf("%llu %llu %08x\n", (unsigned long long)ino, (unsigned long long)st.size,
			       pmcfs_crc32c(0, buf, got));
		free(buf);
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct pmcfs_dev *dev;
	struct pmcfs_trans *tx = NULL;
	const char *op = argc > 2 ? argv[2] : "";
	bool ro = !strcmp(op, "ino") || !strcmp(op, "sums") || !strcmp(op, "index");
	uint8_t body[PMCFS_MAX_ITEM_BODY];
	uint64_t ino;
	int rc;

	if (argc < 4) {
		fprintf(stderr, "usage: see tests/tools/fsck-ns.c\n");
		return 2;
	}
	if ((rc = pmcfs_dev_open(argv[1], ro ? PMCFS_DEV_RDONLY : 0, &dev)) ||
	    (rc = pmcfs_fs_open(dev, ro ? PMCFS_OPEN_RDONLY : 0, &fs)))
		die(argv[1], rc);
	if ((rc = pmcfs_subvol_open(fs, num(argv[3]), &t)))
		die("subvolume", rc);
	if (!ro && (rc = pmcfs_trans_begin(fs, &tx)))
		die("begin", rc);
	if (!strcmp(op, "ino") && argc == 5) {
		if ((rc = pmcfs_ns_resolve(fs, t, argv[4], &ino)))
			die(argv[4], rc);
		printf("%llu\n", (unsigned long long)ino);
	} else if (!strcmp(op, "index") && argc == 6) {
		struct pmcfs_ckey k = { num(argv[4]), PMCFS_KEY_DIR_ENTRY, pmcfs_name_hash(argv[5], strlen(argv[5])) };
		uint32_t size = get(&k, body), pos = 0;
		while (pos + sizeof(struct pmcfs_dirent) <= size) {
			struct pmcfs_dirent d;
			memcpy(&d, body + pos, sizeof(d));
			if (pmcfs_dirent_name_len(&d) == strlen(argv[5]) &&
			    !memcmp(body + pos + sizeof(d), argv[5], strlen(argv[5]))) {
				printf("%llu\n", (unsigned long long)pmcfs_dirent_index(&d));
				break;
			}
			pos += (uint32_t)((sizeof(d) + pmcfs_dirent_name_len(&d) + 7) & ~(size_t)7);
		}
	} else if (!strcmp(op, "sums")) {
		sum_dir(PMCFS_ROOT_INO);
	} else if (!strcmp(op, "inode") && argc == 7) {
		struct pmcfs_ckey k = { num(argv[4]), PMCFS_KEY_INODE, 0 };
		struct pmcfs_inode d;
		get(&k, body);
		memcpy(&d, body, sizeof(d));
		if (!strcmp(argv[5], "mode")) pmcfs_set_inode_mode(&d, (uint32_t)num(argv[6]));
		else if (!strcmp(argv[5], "nlink")) pmcfs_set_inode_nlink(&d, (uint32_t)num(argv[6]));
		else if (!strcmp(argv[5], "size")) pmcfs_set_inode_size(&d, num(argv[6]));
		else if (!strcmp(argv[5], "nblocks")) pmcfs_set_inode_nblocks(&d, num(argv[6]));
		else if (!strcmp(argv[5], "flags")) pmcfs_set_inode_flags(&d, num(argv[6]));
		else if (!strcmp(argv[5], "rdev")) pmcfs_set_inode_rdev(&d, num(argv[6]));
		else if (!strcmp(argv[5], "next_index")) pmcfs_set_inode_next_index(&d, num(argv[6]));
		else if (!strcmp(argv[5], "nsec")) pmcfs_set_timespec_nsec(&d.mtime, (uint32_t)num(argv[6]));
		else die(argv[5], -22);
		if ((rc = pmcfs_tree_update(tx, t, &k, &d, sizeof(d))))
			die("update", rc);
	} else if (!strcmp(op, "del") && argc == 7) {
		struct pmcfs_ckey k = key(argv + 4);
		if ((rc = pmcfs_tree_delete(tx, t, &k)))
			die("delete", rc);
	} else if (!strcmp(op, "put") && argc == 8) {
		struct pmcfs_ckey k = key(argv + 4);
		size_t n = strlen(argv[7]) / 2;
		for (size_t i = 0; i < n && i < sizeof(body); i++)
			sscanf(argv[7] + 2 * i, "%2hhx", &body[i]);
		if ((rc = pmcfs_tree_update(tx, t, &k, body, (uint32_t)n)))
			die("update", rc);
	} else if (!strcmp(op, "cut") && argc == 8) {
		struct pmcfs_ckey k = key(argv + 4);
		uint32_t size = get(&k, body), want = (uint32_t)num(argv[7]);
		if ((rc = pmcfs_tree_update(tx, t, &k, body, want < size ? want : size)))
			die("update", rc);
	} else if (!strcmp(op, "dirent") && argc == 10) {
		struct pmcfs_ckey k = key(argv + 4);
		set_dirent(tx, &k, num(argv[7]), argv[8], argv[9]);
	} else if (!strcmp(op, "extent") && argc == 8) {
		struct pmcfs_ckey k = { num(argv[4]), PMCFS_KEY_EXTENT, num(argv[5]) };
		struct pmcfs_extent e;
		get(&k, body);
		memcpy(&e, body, sizeof(e));
		if (!strcmp(argv[6], "phys")) pmcfs_set_extent_phys(&e, num(argv[7]));
		else if (!strcmp(argv[6], "nblocks")) pmcfs_set_extent_nblocks(&e, (uint32_t)num(argv[7]));
		else if (!strcmp(argv[6], "flags")) pmcfs_set_extent_flags(&e, (uint32_t)num(argv[7]));
		else die(argv[6], -22);
		if ((rc = pmcfs_tree_update(tx, t, &k, &e, sizeof(e))))
			die("update", rc);
	} else if (!strcmp(op, "newextent") && argc == 9) {
		struct pmcfs_ckey k = { num(argv[4]), PMCFS_KEY_EXTENT, num(argv[5]) };
		struct pmcfs_extent e;
		memset(&e, 0, sizeof(e));
		pmcfs_set_extent_phys(&e, num(argv[6]));
		pmcfs_set_extent_nblocks(&e, (uint32_t)num(argv[7]));
		pmcfs_set_extent_flags(&e, (uint32_t)num(argv[8]));
		if ((rc = pmcfs_tree_insert(tx, t, &k, &e, sizeof(e))))
			die("insert", rc);
	} else if (!strcmp(op, "copy") && argc == 8) {
		struct pmcfs_ckey k = key(argv + 4);
		uint32_t size = get(&k, body);
		k.offset = num(argv[7]);
		if ((rc = pmcfs_tree_insert(tx, t, &k, body, size)))
			die("insert", rc);
	} else if (!strcmp(op, "link-raw") && argc == 8) {
		link_raw(tx, argv[4], argv[5], num(argv[6]), (unsigned)num(argv[7]));
	} else if (!strcmp(op, "unlink-raw") && argc == 6) {
		unlink_raw(tx, argv[4], argv[5]);
	} else if (!strcmp(op, "unlink-open") && argc == 5) {
		char *slash = strrchr(argv[4], '/');
		uint64_t dir = PMCFS_ROOT_INO;
		if (slash && slash != argv[4]) {
			*slash = 0;
			if ((rc = pmcfs_ns_resolve(fs, t, argv[4], &dir)))
				die(argv[4], rc);
		}
		slash = slash ? slash + 1 : argv[4];
		if ((rc = pmcfs_ns_unlink(tx, t, dir, slash, strlen(slash), PMCFS_UNLINK_OPEN)))
			die("unlink", rc);
	} else if (!strcmp(op, "rdonly") && argc == 5) {
		if ((rc = pmcfs_subvol_set_rdonly(tx, num(argv[3]), num(argv[4]) != 0)))
			die("rdonly", rc);
	} else {
		fprintf(stderr, "usage: see tests/tools/fsck-ns.c\n");
		return 2;
	}
	if (tx && (rc = pmcfs_trans_commit(tx)))
		die("commit", rc);
	pmcfs_fs_close(fs);
	pmcfs_dev_close(dev);
	return 0;
}

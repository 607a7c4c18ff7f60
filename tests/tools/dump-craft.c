// SPDX-License-Identifier: MIT
/*
 * dump-craft: hostile directory entries for the pmcfs-dump extract tests,
 * written as raw items through the library's tree API (the namespace API
 * refuses such names, as it should).
 *
 *   dump-craft IMG rename DIR NAME NEWHEX    rewrite the name of DIR's entry NAME,
 *                                            in its DIR_INDEX item, its DIR_ENTRY
 *                                            (moved to the new name's hash) and its
 *                                            INODE_REF, to the bytes NEWHEX (hex,
 *                                            "" for an empty name)
 *   dump-craft IMG retarget DIR NAME PATH    point DIR's (last) entry NAME (DIR_INDEX) at
 *                                            the inode of PATH (a directory cycle
 *                                            when PATH is an ancestor)
 *
 * Works on the live subvolume; one transaction, committed.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "pmcfs_endian.h"
#include "pmcfs_ns.h"

#define BODY_MAX 1024

static void fail(const char *what, int rc)
{
	fprintf(stderr, "dump-craft: %s: %s\n", what, pmcfs_strerror(rc));
	exit(1);
}

static size_t dirent_size(size_t len)
{
	return (sizeof(struct pmcfs_dirent) + len + 7) & ~(size_t)7;
}

static size_t encode(uint8_t *at, uint64_t ino, uint64_t index, unsigned type, const char *name,
		     size_t len)
{
	struct pmcfs_dirent d;

	memset(&d, 0, sizeof(d));
	pmcfs_set_dirent_ino(&d, ino);
	pmcfs_set_dirent_index(&d, index);
	pmcfs_set_dirent_name_len(&d, (uint16_t)len);
	d.type = (uint8_t)type;
	memset(at, 0, dirent_size(len));
	memcpy(at, &d, sizeof(d));
	memcpy(at + sizeof(d), name, len);
	return dirent_size(len);
}

static size_t unhex(const char *hex, char *out)
{
	size_t n = 0;
	unsigned v;

	for (; hex[0] && hex[1]; hex += 2) {
		if (sscanf(hex, "%2x", &v) != 1)
			fail("bad hex name", -EINVAL);
		out[n++] = (char)v;
	}
	return n;
}

/* DIR's (last) DIR_INDEX item for name: its key and decoded entry. */
static void find_index(struct pmcfs_fs *fs, struct pmcfs_tree *t, uint64_t dir, const char *name,
		       struct pmcfs_ckey *ret_key, struct pmcfs_dirent *ret)
{
	struct pmcfs_ckey start = { dir, PMCFS_KEY_DIR_INDEX, 0 }, k;
	struct pmcfs_iter *it;
	const void *body;
	uint32_t size;
	bool found = false;
	int rc = pmcfs_iter_start(fs, t, &start, &it);

	if (rc)
		fail("iter", rc);
	while ((rc = pmcfs_iter_next(it, &k, &body, &size)) > 0 && k.objectid == dir &&
	       k.type == PMCFS_KEY_DIR_INDEX) {
		struct pmcfs_dirent d;
		memcpy(&d, body, sizeof(d));
		if (pmcfs_dirent_name_len(&d) == strlen(name) &&
		    !memcmp((const char *)body + sizeof(d), name, strlen(name))) {
			*ret_key = k;
			*ret = d;
			found = true;
		}
	}
	pmcfs_iter_free(it);
	if (!found)
		fail(name, -ENOENT);
}

/* Replace old (name) by new (nname) inside the packed item at k, or drop/insert it. */
static void repack(struct pmcfs_trans *tx, struct pmcfs_tree *t, struct pmcfs_fs *fs,
		   const struct pmcfs_ckey *from, const struct pmcfs_ckey *to, const char *name,
		   const char *nname, size_t nlen)
{
	uint8_t body[BODY_MAX], out[BODY_MAX], moved[BODY_MAX];
	uint32_t size = 0, pos = 0, n = 0, m = 0;
	int rc = pmcfs_tree_lookup(fs, t, from, body, sizeof(body), &size);

	if (rc)
		fail("lookup packed item", rc);
	while (pos < size) {
		struct pmcfs_dirent d;
		size_t len, sz;

		memcpy(&d, body + pos, sizeof(d));
		len = pmcfs_dirent_name_len(&d);
		sz = dirent_size(len);
		if (len == strlen(name) && !memcmp(body + pos + sizeof(d), name, len))
			m = (uint32_t)encode(moved, pmcfs_dirent_ino(&d), pmcfs_dirent_index(&d), d.type,
					     nname, nlen);
		else
			memcpy(out + n, body + pos, sz), n += (uint32_t)sz;
		pos += (uint32_t)sz;
	}
	if (!m)
		fail("entry not in its packed item", -ENOENT);
	if (!pmcfs_key_cmp(from, to)) {
		memcpy(out + n, moved, m);
		if ((rc = pmcfs_tree_update(tx, t, from, out, n + m)))
			fail("update", rc);
		return;
	}
	if ((rc = n ? pmcfs_tree_update(tx, t, from, out, n) : pmcfs_tree_delete(tx, t, from)))
		fail("update old", rc);
	size = 0;
	rc = pmcfs_tree_lookup(fs, t, to, body, sizeof(body), &size);
	if (rc && rc != -ENOENT)
		fail("lookup new", rc);
	if (rc == -ENOENT)
		size = 0;
	memcpy(body + size, moved, m);
	if ((rc = pmcfs_tree_update(tx, t, to, body, size + m)))
		fail("update new", rc);
}

int main(int argc, char **argv)
{
	struct pmcfs_dev *dev;
	struct pmcfs_fs *fs;
	struct pmcfs_tree *t;
	struct pmcfs_trans *tx;
	struct pmcfs_ckey k;
	struct pmcfs_dirent d = { 0 };
	uint64_t dir, target;
	uint8_t body[BODY_MAX];
	char nname[512];
	size_t nlen;
	int rc;

	if (argc != 6 || (strcmp(argv[2], "rename") && strcmp(argv[2], "retarget"))) {
		fprintf(stderr, "usage: dump-craft IMG rename DIR NAME NEWHEX | retarget DIR NAME PATH\n");
		return 2;
	}
	if ((rc = pmcfs_dev_open(argv[1], 0, &dev)) || (rc = pmcfs_fs_open(dev, 0, &fs)) ||
	    (rc = pmcfs_subvol_open(fs, PMCFS_FIRST_SUBVOL, &t)))
		fail(argv[1], rc);
	if ((rc = pmcfs_ns_resolve(fs, t, argv[3], &dir)))
		fail(argv[3], rc);
	find_index(fs, t, dir, argv[4], &k, &d);
	if ((rc = pmcfs_trans_begin(fs, &tx)))
		fail("begin", rc);
	if (!strcmp(argv[2], "rename")) {
		struct pmcfs_ckey e_old = { dir, PMCFS_KEY_DIR_ENTRY, pmcfs_name_hash(argv[4], strlen(argv[4])) };
		struct pmcfs_ckey ref = { pmcfs_dirent_ino(&d), PMCFS_KEY_INODE_REF, dir };
		struct pmcfs_ckey e_new = e_old;

		nlen = unhex(argv[5], nname);
		e_new.offset = pmcfs_name_hash(nname, nlen);
		rc = pmcfs_tree_update(tx, t, &k, body,
				       (uint32_t)encode(body, pmcfs_dirent_ino(&d), pmcfs_dirent_index(&d),
							d.type, nname, nlen));
		if (rc)
			fail("update DIR_INDEX", rc);
		repack(tx, t, fs, &e_old, &e_new, argv[4], nname, nlen);
		repack(tx, t, fs, &ref, &ref, argv[4], nname, nlen);
	} else {
		if ((rc = pmcfs_ns_resolve(fs, t, argv[5], &target)))
			fail(argv[5], rc);
		rc = pmcfs_tree_update(tx, t, &k, body,
				       (uint32_t)encode(body, target, pmcfs_dirent_index(&d), d.type, argv[4],
							strlen(argv[4])));
		if (rc)
			fail("update DIR_INDEX", rc);
	}
	if ((rc = pmcfs_trans_commit(tx)))
		fail("commit", rc);
	pmcfs_fs_close(fs);
	pmcfs_dev_close(dev);
	return 0;
}

// SPDX-License-Identifier: MIT
/*
 * fsck-populate IMAGE [ITEMS [EXTENTS [SNAPSHOTS [RDONLY [REFLINKS]]]]]
 *
 * Ages a fresh image through the namespace API for the fsck corpus, so
 * every tree is a consistent namespace (fsck -n exits 0):
 *   - 43 directories (inodes 257-299), nested a few deep;
 *   - EXTENTS regular files, inodes 300 on, each written with 1 + i%8
 *     blocks (one extent at offset 0); the first REFLINKS of them also
 *     share that extent at offset 1 MiB (pmcfs_ns_clone_range);
 *   - about ITEMS further items: small files with data, symlinks (some
 *     longer than one 512-byte chunk), hard links, xattrs, fifos and
 *     devices, a preallocated range past a file's end;
 *   - SNAPSHOTS snapshots of 256 (the first RDONLY read-only), each
 *     followed by changes to 256 (new names, a rename, an unlink, a
 *     rewrite), so the trees diverge;
 *   - last, /tail with 60 xattrs: the last leaves of 256 hold only its
 *     xattr items (tests/fsck/019 truncates the last leaf).
 * Deterministic: the same arguments give the same image.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include "pmcfs.h"
#include "pmcfs_ns.h"

static int die(const char *what, int rc)
{
	fprintf(stderr, "fsck-populate: %s: %s\n", what, pmcfs_strerror(rc));
	exit(1);
}

static void chk(const char *what, int rc)
{
	if (rc)
		die(what, rc);
}

static uint64_t mk(struct pmcfs_trans *tx, struct pmcfs_tree *t, uint64_t dir, const char *name,
		   uint32_t mode, uint64_t rdev)
{
	struct pmcfs_create_args a = { mode, 1000, 1000, rdev, 0 };
	uint64_t ino;

	chk(name, pmcfs_ns_create(tx, t, dir, name, strlen(name), &a, &ino));
	return ino;
}

static void fill(uint8_t *buf, size_t len, uint64_t seed)
{
	for (size_t i = 0; i < len; i++)
		buf[i] = (uint8_t)((seed * 131 + i * 7 + (i >> 12)) ^ (seed >> 3));
}

static void put_data(struct pmcfs_trans *tx, struct pmcfs_tree *t, uint64_t ino, uint64_t off,
		     size_t len, uint64_t seed)
{
	uint8_t *buf = malloc(len ? len : 1);

	fill(buf, len, seed);
	chk("write", pmcfs_ns_write(tx, t, ino, off, buf, len));
	free(buf);
}

static void names(struct pmcfs_trans *tx, struct pmcfs_tree *t, uint64_t *dirs, unsigned ndirs,
		  unsigned n, unsigned salt)
{
	static uint64_t links[64];
	unsigned nl = 0;
	char name[64], target[1200];

	for (unsigned i = 0; i < n; i++) {
		uint64_t dir = dirs[(i * 7 + salt) % ndirs], ino;
		snprintf(name, sizeof(name), "n%u-%u", salt, i);
		if (i % 5 == 4) {
			size_t tl = i % 20 == 19 ? 700 : 10 + i % 50;
			memset(target, 'a' + (int)(i % 26), tl);
			target[0] = '/';
			chk("symlink", pmcfs_ns_symlink(tx, t, dir, name, strlen(name), target, tl, 0, 0, &ino));
		} else if (i % 7 == 6 && nl) {
			chk("link", pmcfs_ns_link(tx, t, links[i % nl], dir, name, strlen(name)));
		} else if (i % 11 == 10) {
			mk(tx, t, dir, name, S_IFIFO | 0644, 0);
		} else if (i % 13 == 12) {
			mk(tx, t, dir, name, S_IFCHR | 0600, makedev(1, 3));
		} else {
			ino = mk(tx, t, dir, name, S_IFREG | 0644, 0);
			if (nl < 64)
				links[nl++] = ino;
			if (i % 4 == 0)
				put_data(tx, t, ino, 0, 100 + (i * 37) % 5000, ino + salt);
			if (i % 3 == 0) {
				char v[64];
				memset(v, 'x' + (int)(i % 3), sizeof(v));
				chk("setxattr", pmcfs_ns_setxattr(tx, t, ino, "user.fsck", v, 20 + i % 40, 0));
			}
			if (i % 17 == 16)
				chk("prealloc", pmcfs_ns_prealloc(tx, t, ino, 16384, 8192));
		}
	}
}

int main(int argc, char **argv)
{
	unsigned items = argc > 2 ? atoi(argv[2]) : 2000, extents = argc > 3 ? atoi(argv[3]) : 20;
	unsigned snaps = argc > 4 ? atoi(argv[4]) : 0, rdonly = argc > 5 ? atoi(argv[5]) : 0;
	unsigned reflinks = argc > 6 ? atoi(argv[6]) : 0;
	uint64_t dirs[43];
	struct pmcfs_dev *dev;
	struct pmcfs_fs *fs;
	struct pmcfs_trans *tx;
	struct pmcfs_tree *t;
	char name[64];
	int rc;

	if (argc < 2) {
		fprintf(stderr, "usage: fsck-populate IMAGE [ITEMS [EXTENTS [SNAPSHOTS [RDONLY [REFLINKS]]]]]\n");
		return 2;
	}
	if ((rc = pmcfs_dev_open(argv[1], 0, &dev)) || (rc = pmcfs_fs_open(dev, 0, &fs)))
		die(argv[1], rc);
	chk("begin", pmcfs_trans_begin(fs, &tx));
	chk("open", pmcfs_subvol_open(fs, PMCFS_FIRST_SUBVOL, &t));
	for (unsigned i = 0; i < 43; i++) {
		snprintf(name, sizeof(name), "d%02u", i);
		dirs[i] = mk(tx, t, i < 4 ? PMCFS_ROOT_INO : dirs[(i - 4) / 4], name, S_IFDIR | 0755, 0);
	}
	for (unsigned i = 0; i < extents; i++) {
		uint64_t ino;
		snprintf(name, sizeof(name), "f%u", 300 + i);
		ino = mk(tx, t, dirs[i % 43], name, S_IFREG | 0644, 0);
		put_data(tx, t, ino, 0, (size_t)(1 + i % 8) * PMCFS_BLOCK_SIZE, ino);
		if (i < reflinks)
			chk("clone", pmcfs_ns_clone_range(tx, t, ino, 0, t, ino, 1 << 20,
							  (uint64_t)(1 + i % 8) * PMCFS_BLOCK_SIZE));
	}
	names(tx, t, dirs, 43, items / 6, 0);
	chk("commit", pmcfs_trans_commit(tx));
	for (unsigned s = 0; s < snaps; s++) {
		uint64_t id, d, ino;
		snprintf(name, sizeof(name), "snap-%u", s);
		chk("begin", pmcfs_trans_begin(fs, &tx));
		chk("snapshot", pmcfs_subvol_snapshot(tx, PMCFS_FIRST_SUBVOL, name,
						      s < rdonly ? PMCFS_SNAP_RDONLY : 0, &id));
		chk("commit", pmcfs_trans_commit(tx));
		chk("begin", pmcfs_trans_begin(fs, &tx));
		chk("open", pmcfs_subvol_open(fs, PMCFS_FIRST_SUBVOL, &t));
		snprintf(name, sizeof(name), "s%u", s);
		d = mk(tx, t, PMCFS_ROOT_INO, name, S_IFDIR | 0755, 0);
		names(tx, t, &d, 1, items / 60 + 1, s + 1);
		snprintf(name, sizeof(name), "f%u", 300 + s);
		chk("rename", pmcfs_ns_rename(tx, t, dirs[s % 43], name, strlen(name), d, "moved", 5, 0));
		chk("resolve", pmcfs_ns_resolve(fs, t, "/d00/n0-0", &ino));
		put_data(tx, t, ino, 0, 3000, s + 77);
		snprintf(name, sizeof(name), "n0-%u", 43 + s);
		chk("unlink", pmcfs_ns_unlink(tx, t, dirs[(7 * (43 + s)) % 43], name, strlen(name), 0));
		chk("commit", pmcfs_trans_commit(tx));
	}
	chk("begin", pmcfs_trans_begin(fs, &tx));
	chk("open", pmcfs_subvol_open(fs, PMCFS_FIRST_SUBVOL, &t));
	{
		uint64_t ino = mk(tx, t, PMCFS_ROOT_INO, "tail", S_IFREG | 0600, 0);
		char v[100];
		memset(v, 'v', sizeof(v));
		for (unsigned i = 0; i < 60; i++) {
			snprintf(name, sizeof(name), "user.tail%02u", i);
			chk("setxattr", pmcfs_ns_setxattr(tx, t, ino, name, v, sizeof(v), 0));
		}
	}
	chk("commit", pmcfs_trans_commit(tx));
	pmcfs_fs_close(fs);
	pmcfs_dev_close(dev);
	return 0;
}

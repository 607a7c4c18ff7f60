/*
 * The "ns" setup of the crash harness: a populated namespace built once
 * through the library (directories, files of many sizes, sparse files,
 * symlinks, hard links, xattrs, clones, identical copies for dedupe, a
 * read-only and a writable snapshot with changes after them), with no
 * raw test items, so fsck.pmcfs -n can judge every crash image of it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "crash.h"
#include "pmcfs_ns.h"

struct ctx {
	struct pmcfs_trans *tx;
	struct pmcfs_tree *t;
};

static void fill(uint8_t *buf, size_t len, uint64_t seed)
{
	for (size_t i = 0; i < len; i++)
		buf[i] = (uint8_t)crash_mix(seed, i / 16) ^ (uint8_t)i;
}

static int pop_file(struct ctx *x, uint64_t dir, const char *name, uint64_t size, uint64_t seed,
		    uint64_t *ino)
{
	struct pmcfs_create_args a = { S_IFREG | 0644, 1000, 100, 0, 0 };
	uint8_t *buf = malloc(size ? size : 1);
	int err;

	if (!buf)
		return -ENOMEM;
	fill(buf, size, seed);
	err = pmcfs_ns_create(x->tx, x->t, dir, name, strlen(name), &a, ino);
	if (!err && size)
		err = pmcfs_ns_write(x->tx, x->t, *ino, 0, buf, size);
	free(buf);
	return err;
}

/*
 * Directories, files of many sizes (empty, inline-sized, one block,
 * several, sparse), symlinks, hard links, xattrs, clones and identical
 * copies (for dedupe); enough items for an fs tree of height 2.
 */
static int pop_tree(struct ctx *x, unsigned nfiles, uint64_t seed)
{
	struct pmcfs_create_args da = { S_IFDIR | 0755, 0, 0, 0, 0 };
	static const uint64_t sizes[] = { 0, 100, 4096, 5000, 3 * 4096 + 17, 9000 };
	uint64_t dirs[4] = { PMCFS_ROOT_INO }, ino, first = 0;
	char name[64];
	int err = 0;

	for (unsigned i = 1; i < 4 && !err; i++) {
		snprintf(name, sizeof(name), "dir%u.%u", i, (unsigned)seed);
		err = pmcfs_ns_create(x->tx, x->t, dirs[i % 2 ? 0 : 1], name, strlen(name), &da, &dirs[i]);
	}
	for (unsigned i = 0; i < nfiles && !err; i++) {
		uint64_t dir = dirs[i % 4];
		snprintf(name, sizeof(name), "file%03u.%u", i, (unsigned)seed);
		/* Every fifth file a copy of the one before: dedupe candidates. */
		err = pop_file(x, dir, name, sizes[i % 6], i % 5 == 4 ? seed + i - 1 : seed + i, &ino);
		if (!err && !first)
			first = ino;
		if (!err && i % 7 == 0) {
			snprintf(name, sizeof(name), "link%03u.%u", i, (unsigned)seed);
			err = pmcfs_ns_link(x->tx, x->t, ino, dirs[(i + 1) % 4], name, strlen(name));
		}
		if (!err && i % 6 == 3) {
			snprintf(name, sizeof(name), "clone%03u.%u", i, (unsigned)seed);
			uint64_t c;
			if (!(err = pop_file(x, dir, name, 0, 0, &c)))
				err = pmcfs_ns_clone_range(x->tx, x->t, ino, 0, x->t, c, 0, 0);
		}
		if (!err && i % 9 == 0)
			err = pmcfs_ns_setxattr(x->tx, x->t, ino, "user.tag", name, strlen(name), 0);
		if (!err && i % 11 == 0) {
			char target[400];
			size_t tlen = i % 2 ? 20 : sizeof(target);
			memset(target, 'a' + i % 26, tlen);
			snprintf(name, sizeof(name), "sym%03u.%u", i, (unsigned)seed);
			err = pmcfs_ns_symlink(x->tx, x->t, dirs[i % 4], name, strlen(name), target, tlen,
					       0, 0, &ino);
		}
	}
	/* A sparse file. */
	if (!err && !(err = pop_file(x, dirs[2], seed == 1 ? "sparse" : "sparse2", 0, 0, &ino)))
		err = pmcfs_ns_write(x->tx, x->t, ino, 40000, name, 10);
	return err;
}

int crash_ns_populate(struct pmcfs_fs *fs)
{
	struct pmcfs_subvol_info si;
	struct ctx x = { NULL, NULL };
	uint64_t id;
	int err;

	if (!(err = pmcfs_trans_begin(fs, &x.tx)) &&
	    !(err = pmcfs_subvol_open(fs, PMCFS_FIRST_SUBVOL, &x.t)) &&
	    !(err = pop_tree(&x, 60, 1)))
		err = pmcfs_trans_commit(x.tx);
	/* A read-only snapshot sharing it all, then changes after it. */
	if (!err && !(err = pmcfs_trans_begin(fs, &x.tx)) &&
	    !(err = pmcfs_subvol_snapshot(x.tx, PMCFS_FIRST_SUBVOL, "ns-ro", PMCFS_SNAP_RDONLY, &id)))
		err = pmcfs_trans_commit(x.tx);
	if (!err && !(err = pmcfs_trans_begin(fs, &x.tx)) &&
	    !(err = pmcfs_subvol_snapshot(x.tx, PMCFS_FIRST_SUBVOL, "ns-rw", 0, &id)) &&
	    !(err = pmcfs_subvol_open(fs, id, &x.t)) && !(err = pop_tree(&x, 8, 100)) &&
	    !(err = pmcfs_subvol_open(fs, PMCFS_FIRST_SUBVOL, &x.t)) && !(err = pop_tree(&x, 6, 200)))
		err = pmcfs_trans_commit(x.tx);
	if (!err && !(err = pmcfs_subvol_info(fs, PMCFS_FIRST_SUBVOL, &si)) && si.root.level < 1)
		err = -EINVAL;	/* the namespace must exercise interior nodes */
	return err;
}

/*
 * The logical dump oracle: a hash of everything a user could observe, so
 * a crash image can be compared with the states before and after the op
 * in flight.
 *
 * Per subvolume (DROPPING ones count as deleted): its root item's logical
 * fields, every item (key and body: raw test items, inodes, names,
 * extents, xattrs, orphans) and then the namespace as read through the
 * library - every path from the root directory with its mode, uid, gid,
 * size, nlink and mtime, the content of every regular file read through
 * pmcfs_ns_read (so data blocks missing or stale under a valid extent
 * record are seen), every symlink target and every xattr.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "crash.h"
#include "pmcfs_ns.h"

#define NS_MAX_DEPTH	64
#define READ_CHUNK	(256 * 1024)

#define DUMP_MAX_SUBVOLS 4096

/* Only the logical fields: root block, level and ctime (wall clock) vary legitimately. */
static uint64_t hash_subvol_info(const struct pmcfs_subvol_info *si, uint64_t h)
{
	h = crash_mix(h, si->id);
	h = crash_mix(h, si->flags);
	h = crash_mix(h, si->parent);
	h = crash_mix(h, si->parent_gen);
	h = crash_mix(h, si->create_gen);
	h = crash_mix(h, si->next_ino);
	return crash_hash64(si->name, strlen(si->name), h);
}

static int hash_tree(struct pmcfs_fs *fs, struct pmcfs_tree *t, uint64_t *h, uint64_t *nitems,
		     uint64_t skip_type)
{
	struct pmcfs_iter *it;
	struct pmcfs_ckey k;
	const void *body;
	uint32_t size;
	int err = pmcfs_iter_start(fs, t, NULL, &it);

	if (err)
		return err;
	while ((err = pmcfs_iter_next(it, &k, &body, &size)) > 0) {
		if (k.type == skip_type)
			continue;
		*h = crash_mix(crash_mix(crash_mix(*h, k.objectid), k.type), k.offset);
		*h = crash_hash64(body, size, *h);
		(*nitems)++;
	}
	pmcfs_iter_free(it);
	return err;
}

struct ns_hash {
	struct pmcfs_fs *fs;
	struct pmcfs_tree *t;
	uint64_t h, files;
	uint8_t *buf;
	int depth, err;
	char path[4096];
	size_t plen;
};

static int xattr_fn(void *ctx, const char *name, const void *value, size_t size)
{
	struct ns_hash *n = ctx;

	n->h = crash_hash64(name, strlen(name) + 1, n->h);
	n->h = crash_hash64(value, size, crash_mix(n->h, size));
	return 0;
}

static int hash_inode(struct ns_hash *n, uint64_t ino, unsigned type);

static int dirent_fn(void *ctx, const char *name, size_t len, uint64_t ino, unsigned type,
		     uint64_t index)
{
	struct ns_hash *n = ctx;
	size_t old = n->plen;
	int err;

	(void)index;
	if (n->plen + 1 + len >= sizeof(n->path))
		return -ENAMETOOLONG;
	n->path[n->plen++] = '/';
	memcpy(n->path + n->plen, name, len);
	n->plen += len;
	err = hash_inode(n, ino, type);
	n->plen = old;
	return err;
}

/* The inode at n->path: metadata, then content, target or entries. */
static int hash_inode(struct ns_hash *n, uint64_t ino, unsigned type)
{
	struct pmcfs_stat st;
	int err;

	if ((err = pmcfs_ns_stat(n->fs, n->t, ino, &st)))
		return err;
	n->files++;
	n->h = crash_hash64(n->path, n->plen, crash_mix(n->h, type));
	n->h = crash_mix(crash_mix(crash_mix(n->h, st.mode), st.uid), st.gid);
	n->h = crash_mix(crash_mix(crash_mix(n->h, st.size), st.nlink), (uint64_t)st.mtime.tv_sec);
	n->h = crash_mix(n->h, (uint64_t)st.mtime.tv_nsec);
	if ((err = pmcfs_ns_listxattr(n->fs, n->t, ino, xattr_fn, n)))
		return err;
	if (type == PMCFS_FT_REG) {
		for (uint64_t off = 0; off < st.size;) {
			size_t got = 0, want = st.size - off < READ_CHUNK ? st.size - off : READ_CHUNK;
			if ((err = pmcfs_ns_read(n->fs, n->t, ino, off, n->buf, want, &got)))
				return err;
			if (got != want)
				return -EIO;	/* short read inside the size */
			n->h = crash_hash64(n->buf, got, n->h);
			off += got;
		}
	} else if (type == PMCFS_FT_LNK) {
		size_t len = 0;
		if ((err = pmcfs_ns_readlink(n->fs, n->t, ino, (char *)n->buf, READ_CHUNK, &len)))
			return err;
		n->h = crash_hash64(n->buf, len, crash_mix(n->h, len));
	} else if (type == PMCFS_FT_DIR) {
		if (++n->depth > NS_MAX_DEPTH)
			return -ELOOP;
		err = pmcfs_ns_readdir(n->fs, n->t, ino, dirent_fn, n);
		n->depth--;
	}
	return err;
}

/* The namespace of one subvolume; one without a root directory (raw items only) hashes as such. */
static int hash_ns(struct pmcfs_fs *fs, struct pmcfs_tree *t, uint64_t *h, uint64_t *files)
{
	struct ns_hash n = { .fs = fs, .t = t, .h = *h };
	struct pmcfs_stat st;
	int err;

	if (pmcfs_ns_stat(fs, t, PMCFS_ROOT_INO, &st) == -ENOENT) {
		*h = crash_mix(*h, 0x6e6f726f6f74);
		return 0;
	}
	if (!(n.buf = malloc(READ_CHUNK)))
		return -ENOMEM;
	err = hash_inode(&n, PMCFS_ROOT_INO, PMCFS_FT_DIR);
	free(n.buf);
	*h = n.h;
	*files += n.files;
	return err;
}

int crash_dump_fs(struct pmcfs_fs *fs, struct crash_dump *d)
{
	struct pmcfs_ckey start = { PMCFS_FIRST_SUBVOL, 0, 0 }, k;
	uint64_t *ids = malloc(DUMP_MAX_SUBVOLS * sizeof(*ids)), h = 0x5eed, other = 0;
	struct pmcfs_iter *it;
	const void *body;
	uint32_t size;
	size_t n = 0, len = 0;
	int err;

	memset(d, 0, sizeof(*d));
	if (!ids)
		return -ENOMEM;
	/* Collect the ids first: each subvolume is then walked with its own iterator. */
	if ((err = pmcfs_iter_start(fs, pmcfs_fs_roottab(fs), &start, &it)))
		goto out;
	while ((err = pmcfs_iter_next(it, &k, &body, &size)) > 0)
		if (k.type == PMCFS_KEY_ROOT && n < DUMP_MAX_SUBVOLS)
			ids[n++] = k.objectid;
	pmcfs_iter_free(it);
	if (err < 0)
		goto out;
	/* Other root-table items (none yet) are logical content as they stand. */
	if ((err = hash_tree(fs, pmcfs_fs_roottab(fs), &h, &other, PMCFS_KEY_ROOT)))
		goto out;
	len = (size_t)snprintf(d->text, sizeof(d->text), "%zu subvols:", n);
	for (size_t i = 0; i < n; i++) {
		struct pmcfs_subvol_info si;
		struct pmcfs_tree *t;
		uint64_t items = 0;
		if ((err = pmcfs_subvol_info(fs, ids[i], &si)))
			goto out;
		/* Deleted as soon as it is marked: what is left is garbage being collected. */
		if (si.flags & PMCFS_ROOT_DROPPING)
			continue;
		if ((err = pmcfs_subvol_open(fs, ids[i], &t)))
			goto out;
		h = hash_subvol_info(&si, h);
		if ((err = hash_tree(fs, t, &h, &items, 0x100)) ||
		    (err = hash_ns(fs, t, &h, &d->nfiles)))
			goto out;
		d->nitems += items;
		if (len < sizeof(d->text))
			len += (size_t)snprintf(d->text + len, sizeof(d->text) - len, " %lu%s%s=%lu",
						(unsigned long)si.id, si.name[0] ? ":" : "", si.name,
						(unsigned long)items);
	}
	d->nsubvols = (unsigned)n;
	d->hash = h | 1;	/* 0 means "no filesystem" */
out:
	free(ids);
	return err;
}


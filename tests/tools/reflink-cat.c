// SPDX-License-Identifier: MIT
/*
 * Read files out of a pmcfs image through the library, for the reflink
 * image-mode tests (pmcfs-dump has no cat yet):
 *   reflink-cat IMAGE PATH        the file's bytes on stdout
 *   reflink-cat -s IMAGE [DIR]    "xxh128 size path" for every regular
 *                                 file under DIR (default /), sorted by
 *                                 path, so content can be compared
 *   reflink-cat -l IMAGE [DIR]    every entry under DIR with the metadata
 *                                 cp -a keeps: path (relative to DIR),
 *                                 type, mode, owner, links, size, mtime,
 *                                 rdev, symlink target, xattrs, and the
 *                                 first path of the same inode ("=path")
 * PATH may be NAME@/PATH for a file in snapshot NAME.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <xxhash.h>
#include "pmcfs.h"
#include "pmcfs_ns.h"

static struct pmcfs_fs *fs;

static struct pmcfs_tree *tree_of(const char **path)
{
	const char *at = strstr(*path, "@/");
	uint64_t id = pmcfs_fs_sb(fs)->root_subvol;
	struct pmcfs_tree *t;

	if (at && at != *path && !memchr(*path, '/', at - *path)) {
		struct pmcfs_subvol_info si;

		for (id = PMCFS_FIRST_SUBVOL; id < PMCFS_FIRST_SUBVOL + 4096; id++)
			if (!pmcfs_subvol_info(fs, id, &si) && strlen(si.name) == (size_t)(at - *path) &&
			    !memcmp(si.name, *path, at - *path))
				break;
		*path = at + 1;
	}
	if (pmcfs_subvol_open(fs, id, &t)) {
		fprintf(stderr, "reflink-cat: no subvolume for %s\n", *path);
		exit(1);
	}
	return t;
}

static int hash_file(struct pmcfs_tree *t, uint64_t ino, uint64_t size, XXH128_hash_t *h)
{
	static char buf[1 << 20];
	XXH3_state_t *st = XXH3_createState();
	uint64_t off = 0;
	size_t got;
	int err = 0;

	XXH3_128bits_reset(st);
	while (off < size && !(err = pmcfs_ns_read(fs, t, ino, off, buf, sizeof(buf), &got)) && got) {
		XXH3_128bits_update(st, buf, got);
		off += got;
	}
	*h = XXH3_128bits_digest(st);
	XXH3_freeState(st);
	return err ? err : off == size ? 0 : -5;
}

struct ent { char *path; uint64_t ino; };
struct list { struct ent *v; size_t n, cap; const char *prefix; };

static int dir_cb(void *ctx, const char *name, size_t len, uint64_t ino, unsigned type,
		  uint64_t index)
{
	struct list *l = ctx;

	(void)type, (void)index;
	if (l->n == l->cap) {
		l->cap = l->cap ? 2 * l->cap : 64;
		l->v = realloc(l->v, l->cap * sizeof(*l->v));
	}
	if (asprintf(&l->v[l->n].path, "%s/%.*s", l->prefix, (int)len, name) < 0)
		exit(1);
	l->v[l->n++].ino = ino;
	return 0;
}

static int cmp_ent(const void *a, const void *b)
{
	return strcmp(((const struct ent *)a)->path, ((const struct ent *)b)->path);
}

static bool meta;
static size_t root_len;
static struct { uint64_t ino; char *path; } *inos;
static size_t ninos;

static int xattr_cb(void *ctx, const char *name, const void *value, size_t size)
{
	(void)ctx;
	printf(" %s=", name);
	for (size_t i = 0; i < size; i++)
		printf("%02x", ((const unsigned char *)value)[i]);
	return 0;
}

static int print_meta(struct pmcfs_tree *t, const char *path, const struct pmcfs_stat *ps)
{
	const char *rel = path + root_len;
	char target[4096];
	size_t tl = 0;
	int err = 0;

	printf("%s %o %u:%u %u %llu %lld.%09ld %llu", *rel ? rel : ".", ps->mode, ps->uid, ps->gid,
	       ps->nlink, S_ISDIR(ps->mode) ? 0ULL : (unsigned long long)ps->size,
	       (long long)ps->mtime.tv_sec, ps->mtime.tv_nsec, (unsigned long long)ps->rdev);
	if (S_ISLNK(ps->mode) && !(err = pmcfs_ns_readlink(fs, t, ps->ino, target,
							    sizeof(target), &tl)))
		printf(" -> %.*s", (int)tl, target);
	err |= pmcfs_ns_listxattr(fs, t, ps->ino, xattr_cb, NULL);
	if (!S_ISDIR(ps->mode) && ps->nlink > 1) {
		size_t i;

		for (i = 0; i < ninos && inos[i].ino != ps->ino; i++)
			;
		if (i < ninos) {
			printf(" =%s", inos[i].path);
		} else {
			inos = realloc(inos, (ninos + 1) * sizeof(*inos));
			inos[ninos].ino = ps->ino;
			inos[ninos++].path = strdup(*rel ? rel : ".");
		}
	}
	printf("\n");
	return err ? 1 : 0;
}

static int sums(struct pmcfs_tree *t, uint64_t dir, const char *prefix)
{
	struct list l = { .prefix = prefix };
	int err = pmcfs_ns_readdir(fs, t, dir, dir_cb, &l), ret = err ? 1 : 0;

	if (l.n > 1)
		qsort(l.v, l.n, sizeof(*l.v), cmp_ent);
	for (size_t i = 0; i < l.n; i++) {
		struct pmcfs_stat ps;
		XXH128_hash_t h;

		if (pmcfs_ns_stat(fs, t, l.v[i].ino, &ps)) {
			ret = 1;
		} else if (meta) {
			ret |= print_meta(t, l.v[i].path, &ps);
			if (S_ISDIR(ps.mode))
				ret |= sums(t, l.v[i].ino, l.v[i].path);
		} else if (S_ISDIR(ps.mode)) {
			ret |= sums(t, l.v[i].ino, l.v[i].path);
		} else if (S_ISREG(ps.mode)) {
			if (hash_file(t, l.v[i].ino, ps.size, &h))
				ret = 1;
			printf("%016llx%016llx %llu %s\n", (unsigned long long)h.high64,
			       (unsigned long long)h.low64, (unsigned long long)ps.size, l.v[i].path);
		}
		free(l.v[i].path);
	}
	free(l.v);
	return ret;
}

int main(int argc, char **argv)
{
	bool sum = argc > 1 && (!strcmp(argv[1], "-s") || !strcmp(argv[1], "-l"));
	const char *path;
	struct pmcfs_dev *dev;
	struct pmcfs_tree *t;
	uint64_t ino;
	int err;

	if (argc - sum < 2 || argc - sum > 3 || (!sum && argc != 3)) {
		fprintf(stderr, "usage: reflink-cat IMAGE PATH | reflink-cat -s|-l IMAGE [DIR]\n");
		return 2;
	}
	if ((err = pmcfs_dev_open(argv[1 + sum], PMCFS_DEV_RDONLY, &dev)) ||
	    (err = pmcfs_fs_open(dev, PMCFS_OPEN_RDONLY, &fs))) {
		fprintf(stderr, "reflink-cat: %s: %s\n", argv[1 + sum], pmcfs_strerror(err));
		return 1;
	}
	path = argc > 2 + sum ? argv[2 + sum] : "/";
	t = tree_of(&path);
	if ((err = pmcfs_ns_resolve(fs, t, path, &ino))) {
		fprintf(stderr, "reflink-cat: %s: %s\n", path, pmcfs_strerror(err));
		return 1;
	}
	if (sum) {
		const char *prefix = strcmp(path, "/") ? path : "";
		struct pmcfs_stat ps;

		meta = !strcmp(argv[1], "-l");
		root_len = strlen(prefix) + 1;
		if (meta && !(err = pmcfs_ns_stat(fs, t, ino, &ps))) {
			root_len--;
			err = print_meta(t, prefix, &ps);
			root_len++;
		}
		err |= sums(t, ino, prefix);
	} else {
		static char buf[1 << 20];
		uint64_t off = 0;
		size_t got;

		while (!(err = pmcfs_ns_read(fs, t, ino, off, buf, sizeof(buf), &got)) && got) {
			fwrite(buf, 1, got, stdout);
			off += got;
		}
		if (err)
			fprintf(stderr, "reflink-cat: %s: %s\n", path, pmcfs_strerror(err));
	}
	pmcfs_fs_close(fs);
	pmcfs_dev_close(dev);
	return err ? 1 : 0;
}

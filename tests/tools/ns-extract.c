// SPDX-License-Identifier: MIT
/*
 * ns-extract IMAGE DESTDIR: recreate the live filesystem's tree under
 * DESTDIR (which must exist) through the library's namespace API, so
 * tests can compare a populated image with its source before
 * pmcfs-dump extract exists. Restores file types, data (only the mapped
 * extents are written, so holes stay holes), symlink targets, hard links,
 * device numbers, owners, modes, xattrs (raw, ACLs included) and
 * nanosecond atime/mtime (directories after their children). Works with
 * openat() relative paths, so depth is not bounded by PATH_MAX. A test
 * tool: it trusts the image and stops at the first error (exit 1).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>
#include "pmcfs_ns.h"

#define CHUNK	(4U << 20)

struct link_ent {
	uint64_t ino;
	int fd;				/* O_PATH fd of the first name extracted */
	uint32_t left;			/* names still to come */
};

struct ctx {
	struct pmcfs_fs *fs;
	struct pmcfs_tree *t;
	uint8_t *buf;
	struct link_ent *links;
	size_t nlinks, caplinks;
};

static __attribute__((noreturn)) void fail(const char *what, const char *name, int err)
{
	fprintf(stderr, "ns-extract: %s %s: %s\n", what, name ? name : "", pmcfs_strerror(err));
	exit(1);
}

static struct link_ent *link_find(struct ctx *c, uint64_t ino)
{
	size_t i;

	for (i = 0; i < c->nlinks; i++)
		if (c->links[i].ino == ino && c->links[i].fd >= 0)
			return &c->links[i];
	return NULL;
}

struct ext_list {
	struct pmcfs_extent_info *e;
	size_t n, cap;
};

static int ext_cb(void *ctx, const struct pmcfs_extent_info *e)
{
	struct ext_list *l = ctx;

	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 16;
		l->e = realloc(l->e, l->cap * sizeof(*l->e));
		if (!l->e)
			return -ENOMEM;
	}
	l->e[l->n++] = *e;
	return 0;
}

static void copy_data(struct ctx *c, int fd, uint64_t ino, uint64_t size, const char *name)
{
	struct ext_list l = { 0 };
	uint64_t off, end;
	size_t i, got;
	int rc = pmcfs_ns_extents(c->fs, c->t, ino, ext_cb, &l);

	if (rc)
		fail("cannot list the extents of", name, rc);
	for (i = 0; i < l.n; i++) {
		if (l.e[i].flags & PMCFS_EXTENT_UNWRITTEN)
			continue;
		off = l.e[i].file_off;
		end = off + l.e[i].nblocks * PMCFS_BLOCK_SIZE;
		if (end > size)
			end = size;
		while (off < end) {
			size_t want = end - off < CHUNK ? (size_t)(end - off) : CHUNK;

			rc = pmcfs_ns_read(c->fs, c->t, ino, off, c->buf, want, &got);
			if (rc)
				fail("cannot read", name, rc);
			if (got != want)
				fail("short read of", name, -EIO);
			if (pwrite(fd, c->buf, want, (off_t)off) != (ssize_t)want)
				fail("cannot write", name, -errno);
			off += want;
		}
	}
	if (ftruncate(fd, (off_t)size) < 0)
		fail("cannot set the size of", name, -errno);
	free(l.e);
}

struct xctx {
	const char *path;
	const char *name;
};

static int xattr_cb(void *ctx, const char *name, const void *value, size_t size)
{
	struct xctx *x = ctx;

	if (lsetxattr(x->path, name, value, size, 0) < 0) {
		fprintf(stderr, "ns-extract: cannot set xattr %s of %s: %s\n", name, x->name,
			strerror(errno));
		exit(1);
	}
	return 0;
}

/* Owner, xattrs, mode, then times (the last change). */
static void set_meta(struct ctx *c, int dfd, const char *name, const struct pmcfs_stat *st)
{
	struct timespec ts[2] = { st->atime, st->mtime };
	char proc[320];
	struct xctx x = { proc, name };
	int rc;

	snprintf(proc, sizeof(proc), "/proc/self/fd/%d/%s", dfd, name);
	if (fchownat(dfd, name, st->uid, st->gid, AT_SYMLINK_NOFOLLOW) < 0)
		fail("cannot chown", name, -errno);
	rc = pmcfs_ns_listxattr(c->fs, c->t, st->ino, xattr_cb, &x);
	if (rc)
		fail("cannot list the xattrs of", name, rc);
	if (!S_ISLNK(st->mode) && fchmodat(dfd, name, st->mode & 07777, 0) < 0)
		fail("cannot chmod", name, -errno);
	if (utimensat(dfd, name, ts, AT_SYMLINK_NOFOLLOW) < 0)
		fail("cannot set the times of", name, -errno);
}

static void extract_dir(struct ctx *c, uint64_t dir, int dfd);

struct dctx {
	struct ctx *c;
	int dfd;
	struct dent { char name[256]; uint64_t ino; } *e;
	size_t n, cap;
};

static int dirent_cb(void *ctx, const char *name, size_t len, uint64_t ino, unsigned type,
		     uint64_t index)
{
	struct dctx *d = ctx;

	(void)type;
	(void)index;
	if (d->n == d->cap) {
		d->cap = d->cap ? d->cap * 2 : 64;
		d->e = realloc(d->e, d->cap * sizeof(*d->e));
		if (!d->e)
			return -ENOMEM;
	}
	memcpy(d->e[d->n].name, name, len);
	d->e[d->n].name[len] = '\0';
	d->e[d->n++].ino = ino;
	return 0;
}

static void extract_one(struct ctx *c, int dfd, const char *name, uint64_t ino)
{
	struct pmcfs_stat st;
	struct link_ent *le;
	char target[4097];
	size_t tlen;
	int rc, fd;

	rc = pmcfs_ns_stat(c->fs, c->t, ino, &st);
	if (rc)
		fail("cannot stat", name, rc);
	if (!S_ISDIR(st.mode) && st.nlink > 1 && (le = link_find(c, ino))) {
		if (linkat(le->fd, "", dfd, name, AT_EMPTY_PATH) < 0)
			fail("cannot link", name, -errno);
		if (--le->left == 0) {
			close(le->fd);
			le->fd = -1;
		}
		return;
	}
	switch (st.mode & S_IFMT) {
	case S_IFDIR:
		if (mkdirat(dfd, name, 0700) < 0)
			fail("cannot mkdir", name, -errno);
		fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
		if (fd < 0)
			fail("cannot open", name, -errno);
		extract_dir(c, ino, fd);
		close(fd);
		break;
	case S_IFREG:
		fd = openat(dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0600);
		if (fd < 0)
			fail("cannot create", name, -errno);
		copy_data(c, fd, ino, st.size, name);
		close(fd);
		break;
	case S_IFLNK:
		rc = pmcfs_ns_readlink(c->fs, c->t, ino, target, sizeof(target) - 1, &tlen);
		if (rc)
			fail("cannot readlink", name, rc);
		target[tlen] = '\0';
		if (symlinkat(target, dfd, name) < 0)
			fail("cannot symlink", name, -errno);
		break;
	default:
		if (mknodat(dfd, name, st.mode & S_IFMT, (dev_t)st.rdev) < 0)
			fail("cannot mknod", name, -errno);
		break;
	}
	set_meta(c, dfd, name, &st);
	if (!S_ISDIR(st.mode) && st.nlink > 1) {
		if (c->nlinks == c->caplinks) {
			c->caplinks = c->caplinks ? c->caplinks * 2 : 64;
			c->links = realloc(c->links, c->caplinks * sizeof(*c->links));
			if (!c->links)
				fail("out of memory", NULL, -ENOMEM);
		}
		fd = openat(dfd, name, O_PATH | O_NOFOLLOW);
		if (fd < 0)
			fail("cannot open", name, -errno);
		c->links[c->nlinks++] = (struct link_ent){ ino, fd, st.nlink - 1 };
	}
}

static void extract_dir(struct ctx *c, uint64_t dir, int dfd)
{
	struct dctx d = { c, dfd, NULL, 0, 0 };
	size_t i;
	int rc = pmcfs_ns_readdir(c->fs, c->t, dir, dirent_cb, &d);

	if (rc)
		fail("cannot read directory inode", NULL, rc);
	for (i = 0; i < d.n; i++)
		extract_one(c, dfd, d.e[i].name, d.e[i].ino);
	free(d.e);
}

int main(int argc, char **argv)
{
	struct ctx c = { 0 };
	struct pmcfs_stat st;
	struct pmcfs_dev *dev;
	int rc, dfd;

	if (argc != 3) {
		fprintf(stderr, "usage: ns-extract IMAGE DESTDIR\n");
		return 2;
	}
	rc = pmcfs_dev_open(argv[1], PMCFS_DEV_RDONLY, &dev);
	if (!rc)
		rc = pmcfs_fs_open(dev, PMCFS_OPEN_RDONLY, &c.fs);
	if (!rc)
		rc = pmcfs_subvol_open(c.fs, PMCFS_FIRST_SUBVOL, &c.t);
	if (rc)
		fail("cannot open", argv[1], rc);
	c.buf = malloc(CHUNK);
	dfd = open(argv[2], O_RDONLY | O_DIRECTORY);
	if (!c.buf || dfd < 0)
		fail("cannot open", argv[2], -errno);
	extract_dir(&c, PMCFS_ROOT_INO, dfd);
	rc = pmcfs_ns_stat(c.fs, c.t, PMCFS_ROOT_INO, &st);
	if (rc)
		fail("cannot stat the root of", argv[1], rc);
	/* The root directory itself: DESTDIR takes its attributes. */
	set_meta(&c, dfd, ".", &st);
	close(dfd);
	while (c.nlinks)
		if (c.links[--c.nlinks].fd >= 0)
			close(c.links[c.nlinks].fd);
	free(c.links);
	free(c.buf);
	pmcfs_fs_close(c.fs);
	pmcfs_dev_close(dev);
	return 0;
}

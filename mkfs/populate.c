// SPDX-License-Identifier: MIT
/*
 * mkfs.pmcfs --populate DIR: copy a directory tree into the filesystem
 * just written, as mkfs.ext4 -d and mkfs.btrfs --rootdir do. The walk
 * uses openat() relative to each directory, so depth is not bounded by
 * PATH_MAX, and never follows a symlink below DIR. Every entry keeps its
 * mode, owner, nanosecond atime/mtime (and birth time where the source
 * has one), xattrs of every namespace, and hard links stay links.
 * Directory times are set after their children are created (post-order,
 * deepest first). Changes are batched into bounded transactions.
 *
 * A source entry that cannot be read is reported by path and skipped,
 * and mkfs then exits 1: nothing half-copied is left in the filesystem.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>
#include "mkfs.h"
#include "populate.h"

struct xbuf {
	char *list;
	size_t listcap;
	uint8_t val[XATTR_SIZE_MAX];
};

/* ---- metadata ------------------------------------------------------------------------- */

/*
 * Every xattr of the entry: through fd when the entry is open, else by
 * name relative to dfd (via /proc/self/fd, so the path stays short).
 */
static void copy_xattrs(struct pop *p, struct xbuf *xb, int fd, int dfd, const char *name,
			uint64_t ino)
{
	char proc[320];
	const char *n, *end;
	ssize_t len, vlen;
	int rc;

	if (fd < 0)
		snprintf(proc, sizeof(proc), "/proc/self/fd/%d/%s", dfd, name);
	for (;;) {
		len = fd >= 0 ? flistxattr(fd, NULL, 0) : llistxattr(proc, NULL, 0);
		if (len <= 0)
			break;
		if ((size_t)len > xb->listcap) {
			xb->listcap = (size_t)len * 2;
			free(xb->list);
			xb->list = xcalloc(1, xb->listcap);
		}
		len = fd >= 0 ? flistxattr(fd, xb->list, xb->listcap) :
				llistxattr(proc, xb->list, xb->listcap);
		if (len >= 0 || errno != ERANGE)
			break;
	}
	if (len < 0) {
		if (errno != ENOTSUP && errno != ENODATA)
			pop_error(p, "cannot read the xattrs of %s: %s", p->path, strerror(errno));
		return;
	}
	for (n = xb->list, end = xb->list + len; n < end; n += strlen(n) + 1) {
		vlen = fd >= 0 ? fgetxattr(fd, n, xb->val, sizeof(xb->val)) :
				 lgetxattr(proc, n, xb->val, sizeof(xb->val));
		if (vlen < 0) {
			if (errno != ENODATA)	/* removed meanwhile */
				pop_error(p, "cannot read xattr %s of %s: %s", n, p->path,
					  strerror(errno));
			continue;
		}
		rc = pmcfs_ns_setxattr(p->tx, p->t, ino, n, xb->val, (size_t)vlen, 0);
		if (rc)
			pop_error(p, "cannot copy xattr %s of %s (%zd bytes): %s", n, p->path,
				  vlen, rc == -E2BIG ? "too large for the format" : pmcfs_strerror(rc));
	}
}

static void set_times(struct pop *p, uint64_t ino, const struct statx *stx)
{
	struct pmcfs_setattr sa = { .mask = PMCFS_SET_ATIME | PMCFS_SET_MTIME };
	int rc;

	sa.atime = (struct timespec){ stx->stx_atime.tv_sec, stx->stx_atime.tv_nsec };
	sa.mtime = (struct timespec){ stx->stx_mtime.tv_sec, stx->stx_mtime.tv_nsec };
	if (stx->stx_mask & STATX_BTIME) {
		sa.mask |= PMCFS_SET_CRTIME;
		sa.crtime = (struct timespec){ stx->stx_btime.tv_sec, stx->stx_btime.tv_nsec };
	}
	rc = pmcfs_ns_setattr(p->tx, p->t, ino, &sa);
	if (rc)
		pop_fatal(p, "cannot set the times of", rc);
}

static int open_source(struct pop *p, int dfd, const char *name, int flags)
{
	int fd = openat(dfd, name, flags | O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOATIME);

	if (fd < 0 && errno == EPERM)	/* O_NOATIME needs ownership */
		fd = openat(dfd, name, flags | O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		pop_error(p, "cannot read %s: %s", p->path, strerror(errno));
	return fd;
}

static int do_stat(int dfd, const char *name, struct statx *stx)
{
	return statx(dfd, name, AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT,
		     STATX_BASIC_STATS | STATX_BTIME, stx);
}

/* ---- the walk --------------------------------------------------------------------------- */

struct dent {
	uint64_t ino;
	size_t name;			/* offset in the name arena */
};

static int dent_cmp(const void *a, const void *b)
{
	const struct dent *x = a, *y = b;

	return x->ino < y->ino ? -1 : x->ino > y->ino;
}

static void copy_entry(struct pop *p, struct xbuf *xb, int dfd, const char *name, uint64_t dir);

/* Copy the children of the open directory fd (consumed) into dir. */
static void walk(struct pop *p, struct xbuf *xb, int fd, uint64_t dir)
{
	struct dent *ents = NULL;
	size_t n = 0, cap = 0, alen = 0, acap = 0, i, l;
	char *arena = NULL;
	struct dirent *de;
	DIR *d = fdopendir(fd);

	if (!d) {
		pop_error(p, "cannot read %s: %s", p->path, strerror(errno));
		close(fd);
		return;
	}
	/* Read the whole directory first, then copy in inode order (fewer seeks). */
	for (errno = 0; (de = readdir(d)); errno = 0) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		l = strlen(de->d_name) + 1;
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			ents = realloc(ents, cap * sizeof(*ents));
		}
		if (alen + l > acap) {
			acap = (alen + l) * 2;
			arena = realloc(arena, acap);
		}
		if (!ents || !arena)
			die(EXIT_OPER, "out of memory reading %s", p->path);
		memcpy(arena + alen, de->d_name, l);
		ents[n++] = (struct dent){ de->d_ino, alen };
		alen += l;
	}
	if (errno)
		pop_error(p, "cannot read %s: %s", p->path, strerror(errno));
	if (n)
		qsort(ents, n, sizeof(*ents), dent_cmp);
	for (i = 0; i < n; i++)
		copy_entry(p, xb, dirfd(d), arena + ents[i].name, dir);
	closedir(d);
	free(ents);
	free(arena);
}

static uint64_t create(struct pop *p, uint64_t dir, const char *name, const struct statx *stx)
{
	struct pmcfs_create_args a = {
		.mode = stx->stx_mode, .uid = stx->stx_uid, .gid = stx->stx_gid,
		.rdev = makedev(stx->stx_rdev_major, stx->stx_rdev_minor),
	};
	uint64_t ino;
	int rc = pmcfs_ns_create(p->tx, p->t, dir, name, strlen(name), &a, &ino);

	if (rc)
		pop_fatal(p, "cannot create", rc);
	return ino;
}

static void copy_symlink(struct pop *p, struct xbuf *xb, int dfd, const char *name,
			 uint64_t dir, const struct statx *stx, uint64_t *ret_ino)
{
	char target[PATH_MAX + 1];
	ssize_t len = readlinkat(dfd, name, target, sizeof(target));
	int rc;

	*ret_ino = 0;
	if (len < 0) {
		pop_error(p, "cannot read %s: %s", p->path, strerror(errno));
		return;
	}
	if ((size_t)len >= sizeof(target) - 1) {
		pop_error(p, "cannot copy %s: symlink target longer than %d bytes", p->path,
			  PATH_MAX - 1);
		return;
	}
	rc = pmcfs_ns_symlink(p->tx, p->t, dir, name, strlen(name), target, (size_t)len,
			      stx->stx_uid, stx->stx_gid, ret_ino);
	if (rc)
		pop_fatal(p, "cannot create", rc);
	copy_xattrs(p, xb, -1, dfd, name, *ret_ino);
	set_times(p, *ret_ino, stx);
	p->symlinks++;
}

static void copy_file(struct pop *p, struct xbuf *xb, int dfd, const char *name,
		      uint64_t dir, const struct statx *stx, uint64_t *ret_ino)
{
	int fd = open_source(p, dfd, name, 0);
	int rc;

	*ret_ino = 0;
	if (fd < 0)
		return;
	*ret_ino = create(p, dir, name, stx);
	copy_xattrs(p, xb, fd, dfd, name, *ret_ino);
	if (pop_copy_data(p, fd, *ret_ino, stx)) {
		/* Read error, reported: leave nothing half-copied behind. */
		rc = pmcfs_ns_unlink(p->tx, p->t, dir, name, strlen(name), 0);
		if (rc)
			pop_fatal(p, "cannot remove the partial copy of", rc);
		dd_forget(p->dd, *ret_ino);
		*ret_ino = 0;
	} else {
		set_times(p, *ret_ino, stx);
		p->files++;
	}
	close(fd);
}

static void copy_dir(struct pop *p, struct xbuf *xb, int dfd, const char *name,
		     uint64_t dir, const struct statx *stx)
{
	int fd = open_source(p, dfd, name, O_DIRECTORY);
	uint64_t ino;

	if (fd < 0)
		return;
	ino = create(p, dir, name, stx);
	copy_xattrs(p, xb, fd, dfd, name, ino);
	p->dirs++;
	pop_account(p, 1, 0);
	walk(p, xb, fd, ino);
	set_times(p, ino, stx);		/* after the children: post-order */
}

static void copy_entry(struct pop *p, struct xbuf *xb, int dfd, const char *name, uint64_t dir)
{
	size_t saved = pop_path_push(p, name);
	uint64_t ino = 0, dev;
	struct statx stx;
	int rc;

	if (do_stat(dfd, name, &stx) < 0) {
		pop_error(p, "cannot read %s: %s", p->path, strerror(errno));
		goto out;
	}
	dev = makedev(stx.stx_dev_major, stx.stx_dev_minor);
	if (dev == p->dev_dev && stx.stx_ino == p->dev_ino) {
		warnmsg("not copying %s: it is the device being formatted", p->path);
		goto out;
	}
	if (!S_ISDIR(stx.stx_mode) && stx.stx_nlink > 1 && (ino = pop_hl_find(p, dev, stx.stx_ino))) {
		rc = pmcfs_ns_link(p->tx, p->t, ino, dir, name, strlen(name));
		if (rc)
			pop_fatal(p, "cannot link", rc);
		p->hardlinks++;
		pop_account(p, 1, 0);
		goto out;
	}
	switch (stx.stx_mode & S_IFMT) {
	case S_IFDIR:
		copy_dir(p, xb, dfd, name, dir, &stx);
		goto out;
	case S_IFREG:
		copy_file(p, xb, dfd, name, dir, &stx, &ino);
		break;
	case S_IFLNK:
		copy_symlink(p, xb, dfd, name, dir, &stx, &ino);
		break;
	case S_IFCHR: case S_IFBLK: case S_IFIFO: case S_IFSOCK:
		ino = create(p, dir, name, &stx);
		copy_xattrs(p, xb, -1, dfd, name, ino);
		set_times(p, ino, &stx);
		p->special++;
		break;
	default:
		pop_error(p, "cannot copy %s: unknown file type 0%o", p->path,
			  stx.stx_mode & S_IFMT);
		goto out;
	}
	if (ino && stx.stx_nlink > 1)
		pop_hl_add(p, dev, stx.stx_ino, ino);
	pop_account(p, 1, 0);
out:
	pop_path_pop(p, saved);
}

/* ---- entry points ------------------------------------------------------------------------- */

/* Before anything is written: DIR must be a directory we can list and stat in. */
void populate_check(const char *dir)
{
	struct statx stx;
	struct dirent *de;
	DIR *d;
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0 && errno == ENOTDIR)
		die(EXIT_OPER, "cannot populate from %s: not a directory", dir);
	if (fd < 0 || !(d = fdopendir(fd)))
		die(EXIT_OPER, "cannot read %s: %s", dir, strerror(errno));
	for (errno = 0; (de = readdir(d)); errno = 0) {
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			break;
	}
	if (!de && errno)
		die(EXIT_OPER, "cannot read %s: %s", dir, strerror(errno));
	if (de && do_stat(dirfd(d), de->d_name, &stx) < 0)	/* r-- but no x */
		die(EXIT_OPER, "cannot read %s: %s", dir, strerror(errno));
	closedir(d);
}

static void summary(struct pop *p)
{
	struct timespec now;
	char h[32], sh[32];

	clock_gettime(CLOCK_MONOTONIC, &now);
	pop_progress(p, true);		/* the final figures, even for a short run */
	if (p->progress_len)
		fprintf(stderr, "\r\033[K");
	p->progress_len = 0;
	if (p->quiet)
		return;
	if (p->dedupe)
		snprintf(sh, sizeof(sh), ", %llu bytes shared", (unsigned long long)p->shared);
	else
		sh[0] = '\0';
	printf("populated:     %llu files, %llu directories, %llu symlinks, %llu hard links, %llu special files, %llu bytes (%s)%s, in %.2f s\n",
	       (unsigned long long)p->files, (unsigned long long)p->dirs,
	       (unsigned long long)p->symlinks, (unsigned long long)p->hardlinks,
	       (unsigned long long)p->special, (unsigned long long)p->bytes,
	       human_size(p->bytes, h, sizeof(h)), sh, pop_elapsed(p, &now));
}

/* Copy DIR into the filesystem on dev; EXIT_OK, or EXIT_OPER if anything was not copied. */
int populate_fs(struct pmcfs_dev *dev, const char *device, const char *dir, bool dedupe,
		bool quiet)
{
	struct pop p = { .device = device, .dedupe = dedupe, .quiet = quiet };
	struct xbuf *xb = xcalloc(1, sizeof(*xb));
	struct pmcfs_setattr sa;
	struct statx stx;
	struct stat dst;
	struct rlimit rl;
	int rc, fd;

	/* The walk holds one directory fd per level: allow deep trees. */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	if (stat(device, &dst) == 0) {
		p.dev_dev = dst.st_dev;
		p.dev_ino = dst.st_ino;
	}
	p.progress = !quiet && isatty(STDERR_FILENO);
	clock_gettime(CLOCK_MONOTONIC, &p.start);
	p.last = p.start;
	pop_path_push(&p, dir);
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || statx(fd, "", AT_EMPTY_PATH, STATX_BASIC_STATS | STATX_BTIME, &stx) < 0)
		die(EXIT_OPER, "cannot read %s: %s", dir, strerror(errno));
	rc = pmcfs_fs_open(dev, 0, &p.fs);
	if (!rc)
		rc = pmcfs_subvol_open(p.fs, PMCFS_FIRST_SUBVOL, &p.t);
	if (rc)
		die(EXIT_OPER, "cannot open the new filesystem on %s: %s", device, pmcfs_strerror(rc));
	p.buf = xcalloc(1, POP_CHUNK);
	p.cmp = xcalloc(1, PMCFS_BLOCK_SIZE);
	if (dedupe)
		p.dd = dd_new();
	pop_tx_begin(&p);

	/* The root directory takes DIR's mode, owner, xattrs and (last) times. */
	sa = (struct pmcfs_setattr){ .mask = PMCFS_SET_MODE | PMCFS_SET_UID | PMCFS_SET_GID,
		.mode = stx.stx_mode & 07777, .uid = stx.stx_uid, .gid = stx.stx_gid };
	rc = pmcfs_ns_setattr(p.tx, p.t, PMCFS_ROOT_INO, &sa);
	if (rc)
		pop_fatal(&p, "cannot set the attributes of", rc);
	copy_xattrs(&p, xb, fd, -1, NULL, PMCFS_ROOT_INO);
	p.dirs++;
	walk(&p, xb, fd, PMCFS_ROOT_INO);
	set_times(&p, PMCFS_ROOT_INO, &stx);
	pop_tx_commit(&p);

	summary(&p);
	dd_free(p.dd);
	pmcfs_fs_close(p.fs);
	free(p.buf);
	free(p.cmp);
	free(p.hl);
	free(p.path);
	free(xb->list);
	free(xb);
	if (p.errors) {
		error("populating from %s is incomplete: %llu error%s, reported above", dir,
		      (unsigned long long)p.errors, p.errors == 1 ? "" : "s");
		return EXIT_OPER;
	}
	return EXIT_OK;
}

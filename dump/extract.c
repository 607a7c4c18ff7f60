// SPDX-License-Identifier: MIT
/*
 * extract [--snapshot NAME] [--force] PATH DESTDIR: restore files from
 * the image: contents (only data extents are written and the size set
 * with ftruncate, so holes stay holes), directories, hard links (as
 * links), symlinks, device nodes, fifos and sockets, owners (as root),
 * modes, xattrs of every namespace, and nanosecond times (after the
 * contents; a directory's after its children, so deepest first).
 *
 * The image is untrusted, so nothing is ever written outside DESTDIR:
 *  - an entry named "", ".", ".." or holding '/' or NUL is reported as
 *    corruption and skipped (ns_dir_list flags it);
 *  - every path operation is relative to a directory fd opened with
 *    O_NOFOLLOW|O_DIRECTORY and names one component, so a symlink the
 *    image made (created, never followed) cannot redirect a later write;
 *    files are created with O_CREAT|O_EXCL|O_NOFOLLOW, metadata is set
 *    through the fd or with AT_SYMLINK_NOFOLLOW;
 *  - what already exists in DESTDIR is reported and left alone unless
 *    --force, which removes it (never following it) first; an existing
 *    directory is then reused;
 *  - a directory reachable twice (a cycle) is extracted once.
 * What cannot be read is reported with its path and the run goes on; the
 * exit status is then 1.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>
#include "pmcfs_ns.h"
#include "dump.h"

#define CHUNK (4U << 20)

const char *const cmd_extract_usage[] = {
	"extract [--snapshot NAME] [--force] PATH DESTDIR",
	"copy files out of the image into DESTDIR",
	"A directory PATH is extracted into DESTDIR (created if missing, and then",
	"given PATH's owner, mode, xattrs and times); anything else becomes",
	"DESTDIR/NAME. Restores contents with holes, hard links, symlinks (never",
	"followed), device nodes, fifos, sockets, owners (as root), modes, xattrs",
	"and nanosecond times. Nothing is written outside DESTDIR, whatever the",
	"image holds: invalid names are reported and skipped. Existing files are",
	"not replaced without --force. Unreadable parts are reported and skipped;",
	"the exit status is then 1.",
	NULL
};

struct link_ent {
	uint64_t ino;
	int fd;			/* O_PATH fd of the first name extracted */
	uint32_t left;		/* names still expected */
};

struct xerr { char *path, *msg; };

struct xrun {
	struct ns_ctx c;
	uint8_t *buf;
	struct u64set dirs;
	struct link_ent *links;
	size_t nlinks;
	struct xerr *errs;
	size_t nerrs;
	bool root;
	uint64_t files, dirs_made, symlinks, hardlinks, special;
};

/* "cannot WHAT PATH: DETAIL" to stderr (unless quiet, already said) and into the report. */
static void fail_msg(struct xrun *r, const char *path, const char *what, const char *detail, bool quiet)
{
	char *msg = NULL;

	if (!quiet)
		corrupt("cannot %s %s: %s", what, esc(path), detail);
	if (asprintf(&msg, "cannot %s: %s", what, detail) < 0)
		msg = NULL;
	r->errs = realloc(r->errs, (r->nerrs + 1) * sizeof(*r->errs));
	if (!r->errs)
		die(EXIT_CORRUPT, "out of memory");
	r->errs[r->nerrs++] = (struct xerr){ strdup(path), msg };
	exit_status = EXIT_CORRUPT;
}

static void fail(struct xrun *r, const char *path, const char *what, int err)
{
	fail_msg(r, path, what, pmcfs_strerror(err), false);
}

/* Data extents only, then the size: holes stay holes. */
static void copy_data(struct xrun *r, int fd, uint64_t ino, uint64_t size, const char *path)
{
	struct ext_list l = { NULL, 0 };
	int err = ext_list_read(&r->c, ino, &l);

	if (err)
		fail(r, path, "read the extents of", err);
	for (size_t i = 0; i < l.n; i++) {
		uint64_t off = l.e[i].file_off, end = off + l.e[i].nblocks * PMCFS_BLOCK_SIZE;

		if (l.e[i].flags & PMCFS_EXTENT_UNWRITTEN)
			continue;
		if (end > size)
			end = size;
		while (off < end) {
			size_t want = end - off < CHUNK ? (size_t)(end - off) : CHUNK, got = 0;

			err = pmcfs_ns_read(r->c.fs, r->c.t, ino, off, r->buf, want, &got);
			if (err || got != want) {
				fail(r, path, "read the data of", err ? err : -EIO);
			} else if (pwrite(fd, r->buf, want, (off_t)off) != (ssize_t)want) {
				fail(r, path, "write", -errno);
				break;
			}
			off += want;
		}
	}
	if (ftruncate(fd, (off_t)size) < 0)
		fail(r, path, "set the size of", -errno);
	free(l.e);
}

struct xattr_ctx {
	struct xrun *r;
	int fd;
	const char *proc, *path;
};

static int xattr_cb(void *ctx, const char *name, const void *value, size_t size)
{
	struct xattr_ctx *x = ctx;
	int rc = x->fd >= 0 ? fsetxattr(x->fd, name, value, size, 0) :
			      lsetxattr(x->proc, name, value, size, 0);

	if (rc < 0) {
		char what[300];
		snprintf(what, sizeof(what), "set the xattr %s of", esc(name));
		fail(x->r, x->path, what, -errno);
	}
	return 0;
}

/*
 * Owner, xattrs, mode, then times, on fd (a file or directory) or else
 * on dfd/name (symlinks and nodes) without following it.
 */
static void set_meta(struct xrun *r, int dfd, const char *name, int fd, const struct pmcfs_stat *st,
		     const char *path)
{
	struct timespec ts[2] = { st->atime, st->mtime };
	char proc[64 + NAME_MAX];
	struct xattr_ctx x = { r, fd, proc, path };
	int err;

	/* the directory component is our fd; the last one is not followed */
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d/%s", dfd, name);
	if (r->root && (fd >= 0 ? fchown(fd, st->uid, st->gid) :
			fchownat(dfd, name, st->uid, st->gid, AT_SYMLINK_NOFOLLOW)) < 0)
		fail(r, path, "set the owner of", -errno);
	if ((err = pmcfs_ns_listxattr(r->c.fs, r->c.t, st->ino, xattr_cb, &x)))
		fail(r, path, "list the xattrs of", err);
	if (!S_ISLNK(st->mode) && (fd >= 0 ? fchmod(fd, st->mode & 07777) :
				   fchmodat(dfd, name, st->mode & 07777, 0)) < 0)
		fail(r, path, "set the mode of", -errno);
	if ((fd >= 0 ? futimens(fd, ts) : utimensat(dfd, name, ts, AT_SYMLINK_NOFOLLOW)) < 0)
		fail(r, path, "set the times of", -errno);
}

/* 0: the name is free; 1: an existing directory to reuse (--force); -1: skip it. */
static int clear_way(struct xrun *r, int dfd, const char *name, const char *path, bool want_dir)
{
	struct stat sb;

	if (fstatat(dfd, name, &sb, AT_SYMLINK_NOFOLLOW) < 0) {
		if (errno == ENOENT)
			return 0;
		fail(r, path, "check the destination of", -errno);
		return -1;
	}
	if (!opt.force) {
		fail_msg(r, path, "extract", "it exists in DESTDIR; not replaced without --force", false);
		return -1;
	}
	if (want_dir && S_ISDIR(sb.st_mode))
		return 1;
	if (unlinkat(dfd, name, S_ISDIR(sb.st_mode) ? AT_REMOVEDIR : 0) < 0) {
		fail(r, path, "replace (remove what is in DESTDIR)", -errno);
		return -1;
	}
	return 0;
}

static struct link_ent *link_find(struct xrun *r, uint64_t ino)
{
	for (size_t i = 0; i < r->nlinks; i++)
		if (r->links[i].ino == ino && r->links[i].fd >= 0)
			return &r->links[i];
	return NULL;
}

static void make_link(struct xrun *r, struct link_ent *le, int dfd, const char *name, const char *path)
{
	char proc[64];

	if (clear_way(r, dfd, name, path, false) < 0)
		return;
	if (linkat(le->fd, "", dfd, name, AT_EMPTY_PATH) < 0) {
		/* AT_EMPTY_PATH needs CAP_DAC_READ_SEARCH: go through /proc instead */
		snprintf(proc, sizeof(proc), "/proc/self/fd/%d", le->fd);
		if (linkat(AT_FDCWD, proc, dfd, name, AT_SYMLINK_FOLLOW) < 0) {
			fail(r, path, "create the hard link", -errno);
			return;
		}
	}
	r->hardlinks++;
	if (--le->left == 0) {
		close(le->fd);
		le->fd = -1;
	}
}

static void remember_link(struct xrun *r, int dfd, const char *name, const struct pmcfs_stat *st,
			  const char *path)
{
	int fd = openat(dfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);

	if (fd < 0) {
		fail(r, path, "open (to hard-link it later)", -errno);
		return;
	}
	r->links = realloc(r->links, (r->nlinks + 1) * sizeof(*r->links));
	if (!r->links)
		die(EXIT_CORRUPT, "out of memory");
	r->links[r->nlinks++] = (struct link_ent){ st->ino, fd, st->nlink - 1 };
}

static void extract_dir(struct xrun *r, uint64_t dir, int dfd, const char *path);

static void extract_entry(struct xrun *r, int dfd, const char *name, uint64_t ino, const char *path)
{
	struct pmcfs_stat st;
	struct link_ent *le;
	char target[PMCFS_BLOCK_SIZE + 1];
	size_t tlen;
	int err, fd, w;

	if ((err = pmcfs_ns_stat(r->c.fs, r->c.t, ino, &st))) {
		fail(r, path, "read the inode of", err);
		return;
	}
	if (!S_ISDIR(st.mode) && st.nlink > 1 && (le = link_find(r, ino))) {
		make_link(r, le, dfd, name, path);
		return;
	}
	switch (st.mode & S_IFMT) {
	case S_IFDIR:
		if (!u64set_add(&r->dirs, ino)) {
			fail_msg(r, path, "extract",
				 "directory reached twice (a directory cycle in a corrupt image); skipped", false);
			return;
		}
		if ((w = clear_way(r, dfd, name, path, true)) < 0)
			return;
		if (!w && mkdirat(dfd, name, 0700) < 0) {
			fail(r, path, "create the directory", -errno);
			return;
		}
		if ((fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0) {
			fail(r, path, "open the directory", -errno);
			return;
		}
		r->dirs_made++;
		extract_dir(r, ino, fd, path);
		set_meta(r, dfd, name, fd, &st, path);
		close(fd);
		return;
	case S_IFREG:
		if (clear_way(r, dfd, name, path, false) < 0)
			return;
		fd = openat(dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd < 0) {
			fail(r, path, "create", -errno);
			return;
		}
		copy_data(r, fd, ino, st.size, path);
		set_meta(r, dfd, name, fd, &st, path);
		close(fd);
		r->files++;
		break;
	case S_IFLNK:
		if ((err = pmcfs_ns_readlink(r->c.fs, r->c.t, ino, target, sizeof(target) - 1, &tlen))) {
			fail(r, path, "read the symlink", err);
			return;
		}
		target[tlen] = '\0';
		if (memchr(target, '\0', tlen)) {
			fail_msg(r, path, "create the symlink", "its target holds a NUL byte (corrupt image)", false);
			return;
		}
		if (clear_way(r, dfd, name, path, false) < 0)
			return;
		if (symlinkat(target, dfd, name) < 0) {
			fail(r, path, "create the symlink", -errno);
			return;
		}
		set_meta(r, dfd, name, -1, &st, path);
		r->symlinks++;
		break;
	case S_IFCHR: case S_IFBLK: case S_IFIFO: case S_IFSOCK:
		if (clear_way(r, dfd, name, path, false) < 0)
			return;
		if (mknodat(dfd, name, (st.mode & S_IFMT) | 0600, (dev_t)st.rdev) < 0) {
			fail(r, path, "create the node", -errno);
			return;
		}
		set_meta(r, dfd, name, -1, &st, path);
		r->special++;
		break;
	default:
		fail_msg(r, path, "extract", "unknown file type (corrupt image)", false);
		return;
	}
	if (st.nlink > 1)
		remember_link(r, dfd, name, &st, path);
}

static void extract_dir(struct xrun *r, uint64_t dir, int dfd, const char *path)
{
	struct ns_dent *v;
	size_t n;

	if (ns_dir_list(&r->c, dir, path, false, &v, &n)) {
		fail(r, path, "read the directory", -PMCFS_ECORRUPT);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		char *p = path_join(path, v[i].name);

		if (v[i].bad_name)	/* reported by ns_dir_list */
			fail_msg(r, p, "extract", "invalid name in a directory entry (corrupt image); skipped", true);
		else
			extract_entry(r, dfd, v[i].name, v[i].ino, p);
		free(p);
	}
	free(v);
}

static void report(struct xrun *r, const char *dest)
{
	if (!opt.json) {
		printf("extracted %llu files, %llu directories, %llu symlinks, %llu hard links, %llu special files into %s",
		       (unsigned long long)r->files, (unsigned long long)r->dirs_made,
		       (unsigned long long)r->symlinks, (unsigned long long)r->hardlinks,
		       (unsigned long long)r->special, esc(dest));
		if (r->nerrs)
			printf("; %zu errors", r->nerrs);
		putchar('\n');
		return;
	}
	json_obj_begin(NULL);
	json_str("destdir", dest);
	json_obj_begin("subvolume");
	json_u64("id", r->c.subvol);
	json_str("name", r->c.subvol_name);
	json_obj_end();
	json_obj_begin("extracted");
	json_u64("files", r->files);
	json_u64("directories", r->dirs_made);
	json_u64("symlinks", r->symlinks);
	json_u64("hardlinks", r->hardlinks);
	json_u64("special", r->special);
	json_obj_end();
	json_arr_begin("errors");
	for (size_t i = 0; i < r->nerrs; i++) {
		json_obj_begin(NULL);
		json_str("path", r->errs[i].path);
		json_str("error", r->errs[i].msg);
		json_obj_end();
	}
	json_arr_end();
	json_obj_end();
	json_done();
}

int cmd_extract(int argc, char **argv)
{
	const char *path = argv[0], *dest = argv[1], *base;
	struct xrun r = { .root = geteuid() == 0 };
	struct pmcfs_stat st;
	struct rlimit rl;
	bool created;
	uint64_t ino;
	int err, dfd;
	size_t i;

	(void)argc;
	ns_open(&r.c);
	ino = ns_resolve(&r.c, path);
	if ((err = pmcfs_ns_stat(r.c.fs, r.c.t, ino, &st)))
		die(EXIT_CORRUPT, "cannot read the inode of %s: %s", esc(path), pmcfs_strerror(err));
	/* an fd per directory level and per pending hard link */
	if (!getrlimit(RLIMIT_NOFILE, &rl) && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	r.buf = xcalloc(1, CHUNK);
	created = mkdir(dest, 0700) == 0;
	if (!created && errno != EEXIST)
		die(EXIT_CORRUPT, "cannot create %s: %s", esc(dest), strerror(errno));
	if ((dfd = open(dest, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		die(EXIT_CORRUPT, "cannot open %s: %s", esc(dest), strerror(errno));
	if (S_ISDIR(st.mode)) {
		u64set_add(&r.dirs, ino);
		extract_dir(&r, ino, dfd, path);
		if (created)
			set_meta(&r, dfd, ".", dfd, &st, path);
	} else {
		base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
		if (!*base || !strcmp(base, ".") || !strcmp(base, ".."))
			die(EXIT_CORRUPT, "cannot extract %s: not a directory, and no file name to give it", esc(path));
		extract_entry(&r, dfd, base, ino, path);
	}
	close(dfd);
	report(&r, dest);
	for (i = 0; i < r.nlinks; i++)
		if (r.links[i].fd >= 0)
			close(r.links[i].fd);
	for (i = 0; i < r.nerrs; i++) {
		free(r.errs[i].path);
		free(r.errs[i].msg);
	}
	free(r.errs);
	free(r.links);
	free(r.buf);
	u64set_free(&r.dirs);
	ns_close(&r.c);
	return 0;
}

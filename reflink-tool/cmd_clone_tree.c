// SPDX-License-Identifier: MIT
/*
 * clone -r: copy a tree as cp -a --reflink=always does. File data is
 * shared through the backend's clone_file; the namespace work (mkdir,
 * symlinks, links, nodes, owners, modes, times, xattrs) is done here on
 * the mounted tree. Image mode has its own copy through the namespace
 * API (clone_tree_image.c).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "reflink_priv.h"

struct link_seen {
	dev_t dev;
	ino_t ino;
	char *dst;
};

struct failure {
	char *path;
	int err;
};

struct tree {
	struct rl_json *js;
	uint64_t files, dirs, symlinks, others, links, bytes;
	struct link_seen *seen;
	size_t nseen, capseen;
	struct failure *fail;
	size_t nfail, capfail;
	dev_t top_dev;		/* the new top directory: never descend into it */
	ino_t top_ino;
};

static void failed(struct tree *t, const char *path, int err)
{
	if (t->nfail == t->capfail) {
		t->capfail = t->capfail ? 2 * t->capfail : 16;
		t->fail = xreallocarray(t->fail, t->capfail, sizeof(*t->fail));
	}
	t->fail[t->nfail].path = xstrdup(path);
	t->fail[t->nfail].err = err;
	t->nfail++;
}

static int meta_error(struct tree *t, const char *src, const char *dst,
		      const char *what, int err)
{
	error("clone %s -> %s: %s: %s", src, dst, what, strerror(-err));
	failed(t, src, err);
	return err;
}

/* Copy every xattr (ACLs included: they are system.posix_acl_*). */
static int copy_xattrs(struct tree *t, const char *src, const char *dst)
{
	ssize_t len, vlen;
	char *names, *name, *val = NULL;
	size_t vcap = 0;
	int ret = 0;

	len = llistxattr(src, NULL, 0);
	if (len <= 0)
		return len < 0 && errno != ENOTSUP ? meta_error(t, src, dst, "list xattrs", -errno) : 0;
	names = xmalloc(len);
	len = llistxattr(src, names, len);
	for (name = names; len > 0 && name < names + len; name += strlen(name) + 1) {
		vlen = lgetxattr(src, name, NULL, 0);
		if (vlen < 0)
			continue;	/* removed meanwhile */
		if ((size_t)vlen + 1 > vcap) {
			vcap = vlen + 1;
			val = xreallocarray(val, vcap, 1);
		}
		vlen = lgetxattr(src, name, val, vcap);
		if (vlen < 0)
			continue;
		if (lsetxattr(dst, name, val, vlen, 0) < 0) {
			char what[300];

			snprintf(what, sizeof(what), "set xattr %s", name);
			ret = meta_error(t, src, dst, what, -errno);
		}
	}
	free(val);
	free(names);
	return ret;
}

/* Owner, mode, xattrs, then times last (everything else changes ctime/mtime). */
static void copy_meta(struct tree *t, const char *src, const char *dst, const struct stat *st)
{
	struct timespec ts[2] = { st->st_atim, st->st_mtim };

	/* Only root may give files away; others keep their own, as cp -a. */
	if (lchown(dst, st->st_uid, st->st_gid) < 0 && (errno != EPERM || geteuid() == 0))
		meta_error(t, src, dst, "set owner", -errno);
	copy_xattrs(t, src, dst);
	/* After chown, which clears set-id bits. Symlinks have no mode. */
	if (!S_ISLNK(st->st_mode) && chmod(dst, st->st_mode & 07777) < 0)
		meta_error(t, src, dst, "set mode", -errno);
	if (utimensat(AT_FDCWD, dst, ts, AT_SYMLINK_NOFOLLOW) < 0)
		meta_error(t, src, dst, "set times", -errno);
}

static const char *seen_link(struct tree *t, const struct stat *st)
{
	size_t i;

	for (i = 0; i < t->nseen; i++)
		if (t->seen[i].dev == st->st_dev && t->seen[i].ino == st->st_ino)
			return t->seen[i].dst;
	return NULL;
}

static void remember_link(struct tree *t, const struct stat *st, const char *dst)
{
	if (t->nseen == t->capseen) {
		t->capseen = t->capseen ? 2 * t->capseen : 16;
		t->seen = xreallocarray(t->seen, t->capseen, sizeof(*t->seen));
	}
	t->seen[t->nseen++] = (struct link_seen){ st->st_dev, st->st_ino, xstrdup(dst) };
}

static int clone_regular(struct tree *t, const char *srcp, const char *dstp)
{
	struct rl_file *src = NULL, *dst = NULL;
	char msg[256];
	int err;

	err = rl_ops->open(srcp, RL_OPEN_READ | RL_OPEN_NOFOLLOW, &src);
	if (err) {
		error("clone %s -> %s: open %s: %s", srcp, dstp, srcp,
		      rl_errmsg(err, NULL, msg, sizeof(msg)));
		goto out;
	}
	err = rl_ops->open(dstp, RL_OPEN_CREATE | RL_OPEN_NOFOLLOW, &dst);
	if (err) {
		error("clone %s -> %s: open %s: %s", srcp, dstp, dstp,
		      rl_errmsg(err, "clone", msg, sizeof(msg)));
		goto out;
	}
	err = rl_ops->clone_file(src, dst);
	if (err) {
		rl_report_range("clone", src, dst, RL_NO_RANGE, 0, err);
		goto out;
	}
	if (dst->st.st_size > src->st.st_size && ftruncate(dst->fd, src->st.st_size) < 0) {
		err = -errno;
		error("clone %s -> %s: truncate: %s", srcp, dstp, strerror(errno));
		goto out;
	}
	t->bytes += src->st.st_size;
out:
	if (err)
		failed(t, srcp, err);
	if (err && dst)		/* no empty file where the clone failed */
		unlink(dstp);
	rl_ops->close(src);
	rl_ops->close(dst);
	return err;
}

static void clone_entry(struct tree *t, const char *srcp, const char *dstp);

static void clone_dir(struct tree *t, const char *srcp, const char *dstp, const struct stat *st)
{
	struct stat dst_st;
	struct dirent *de;
	DIR *d;

	if (mkdir(dstp, 0700) < 0 && errno != EEXIST) {
		meta_error(t, srcp, dstp, "mkdir", -errno);
		return;
	}
	if (lstat(dstp, &dst_st) < 0 || !S_ISDIR(dst_st.st_mode)) {
		meta_error(t, srcp, dstp, "mkdir", -EEXIST);
		return;
	}
	if (!t->top_ino) {
		t->top_dev = dst_st.st_dev;
		t->top_ino = dst_st.st_ino;
	}
	t->dirs++;
	d = opendir(srcp);
	if (!d) {
		meta_error(t, srcp, dstp, "open directory", -errno);
		return;
	}
	while ((de = readdir(d))) {
		char *s, *n;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		s = xasprintf("%s/%s", srcp, de->d_name);
		n = xasprintf("%s/%s", dstp, de->d_name);
		clone_entry(t, s, n);
		free(s);
		free(n);
	}
	closedir(d);
	copy_meta(t, srcp, dstp, st);
}

static void clone_entry(struct tree *t, const char *srcp, const char *dstp)
{
	struct stat st;
	const char *prev;

	if (lstat(srcp, &st) < 0) {
		meta_error(t, srcp, dstp, "stat", -errno);
		return;
	}
	/* A destination inside the source: do not copy the copy. */
	if (S_ISDIR(st.st_mode) && t->top_ino && st.st_dev == t->top_dev &&
	    st.st_ino == t->top_ino)
		return;
	if (!S_ISDIR(st.st_mode) && st.st_nlink > 1 && (prev = seen_link(t, &st))) {
		if (link(prev, dstp) < 0)
			meta_error(t, srcp, dstp, "link", -errno);
		else
			t->links++;
		return;
	}
	if (S_ISDIR(st.st_mode)) {
		clone_dir(t, srcp, dstp, &st);
		return;
	}
	if (S_ISREG(st.st_mode)) {
		if (clone_regular(t, srcp, dstp))
			return;
		t->files++;
	} else if (S_ISLNK(st.st_mode)) {
		char *target = xmalloc(st.st_size + 1);
		ssize_t n = readlink(srcp, target, st.st_size + 1);

		if (n < 0 || n > st.st_size) {
			free(target);
			meta_error(t, srcp, dstp, "read link", n < 0 ? -errno : -EAGAIN);
			return;
		}
		target[n] = 0;
		n = symlink(target, dstp);
		free(target);
		if (n < 0) {
			meta_error(t, srcp, dstp, "symlink", -errno);
			return;
		}
		t->symlinks++;
	} else {
		if (mknod(dstp, st.st_mode, st.st_rdev) < 0) {
			meta_error(t, srcp, dstp, "mknod", -errno);
			return;
		}
		t->others++;
	}
	if (st.st_nlink > 1)
		remember_link(t, &st, dstp);
	copy_meta(t, srcp, dstp, &st);
}

int rl_clone_tree(const char *src, const char *dst, struct rl_json *js)
{
	struct tree t = { .js = js };
	struct stat st;
	char *top, *tmp;
	size_t i;

	if (stat(dst, &st) == 0 && S_ISDIR(st.st_mode)) {
		tmp = xstrdup(src);
		top = xasprintf("%s/%s", dst, basename(tmp));
		free(tmp);
	} else {
		top = xstrdup(dst);
	}
	clone_entry(&t, src, top);
	if (js) {
		rl_json_obj_begin(js, NULL);
		rl_json_str(js, "command", "clone");
		rl_json_bool(js, "recursive", true);
		rl_json_str(js, "src", src);
		rl_json_str(js, "dst", top);
		rl_json_u64(js, "files", t.files);
		rl_json_u64(js, "directories", t.dirs);
		rl_json_u64(js, "symlinks", t.symlinks);
		rl_json_u64(js, "hardlinks", t.links);
		rl_json_u64(js, "other", t.others);
		rl_json_u64(js, "bytes", t.bytes);
		rl_json_arr_begin(js, "failures");
		for (i = 0; i < t.nfail; i++) {
			rl_json_obj_begin(js, NULL);
			rl_json_str(js, "path", t.fail[i].path);
			rl_json_error(js, t.fail[i].err);
			rl_json_obj_end(js);
		}
		rl_json_arr_end(js);
		rl_json_str(js, "status", t.nfail ? "error" : "ok");
		rl_json_obj_end(js);
	}
	for (i = 0; i < t.nseen; i++)
		free(t.seen[i].dst);
	for (i = 0; i < t.nfail; i++)
		free(t.fail[i].path);
	free(t.seen);
	free(t.fail);
	free(top);
	return t.nfail ? RL_EXIT_FAIL : RL_EXIT_OK;
}

// SPDX-License-Identifier: MIT
/*
 * clone -r in image mode: copy a tree inside the image as cp -a
 * --reflink=always would, through the namespace API: readdir, then
 * create / mkdir / symlink / link, clone_range for file data (shared,
 * never copied), xattrs, and owner, mode and times last. The source may
 * be in a snapshot (NAME@/DIR); the copy is in the live filesystem. The
 * whole copy is one transaction: the first failure stops it, and the
 * transaction is aborted, so a half-made tree is never left behind.
 */
#include <errno.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "image_priv.h"

struct ient {
	char *name;
	uint64_t ino;
};

struct itree {
	struct pmcfs_tree *st, *dt;
	uint64_t top;			/* the new top directory: never descend into it */
	uint64_t files, dirs, symlinks, others, links, bytes;
	struct { uint64_t sino, dino; } *seen;
	size_t nseen, capseen;
	char *fail_path;
	int fail_err;
};

static int failed(struct itree *t, const char *src, const char *dst, const char *what, int err)
{
	char msg[256];

	rl_image_note_error(err);
	if (!strcmp(what, "clone"))
		error("clone %s -> %s: %s", src, dst, rl_errmsg(err, "clone", msg, sizeof(msg)));
	else
		error("clone %s -> %s: %s: %s", src, dst, what, rl_errmsg(err, NULL, msg, sizeof(msg)));
	if (!t->fail_path) {
		t->fail_path = xstrdup(src);
		t->fail_err = err;
	}
	return err;
}

static int ent_cb(void *ctx, const char *name, size_t len, uint64_t ino, unsigned type,
		  uint64_t index)
{
	struct { struct ient *v; size_t n, cap; } *l = ctx;

	(void)type, (void)index;
	if (l->n == l->cap) {
		l->cap = l->cap ? 2 * l->cap : 32;
		l->v = xreallocarray(l->v, l->cap, sizeof(*l->v));
	}
	l->v[l->n].name = xasprintf("%.*s", (int)len, name);
	l->v[l->n++].ino = ino;
	return 0;
}

static int cmp_ent(const void *a, const void *b)
{
	return strcmp(((const struct ient *)a)->name, ((const struct ient *)b)->name);
}

struct xctx {
	uint64_t ino;
	struct pmcfs_tree *t;
	int err;
	const char *name;
};

static int xattr_cb(void *ctx, const char *name, const void *value, size_t size)
{
	struct xctx *x = ctx;

	x->err = pmcfs_ns_setxattr(rl_img.tx, x->t, x->ino, name, value, size, 0);
	x->name = name;
	return x->err;
}

/* xattrs, then owner and mode, then times (everything else changes them). */
static int copy_meta(struct itree *t, uint64_t sino, uint64_t dino, const struct pmcfs_stat *ps,
		     const char *src, const char *dst)
{
	struct pmcfs_setattr sa = {
		.mask = PMCFS_SET_UID | PMCFS_SET_GID | PMCFS_SET_ATIME | PMCFS_SET_MTIME,
		.uid = ps->uid, .gid = ps->gid, .atime = ps->atime, .mtime = ps->mtime,
	};
	struct xctx x = { dino, t->dt, 0, NULL };
	int err = pmcfs_ns_listxattr(rl_img.fs, t->st, sino, xattr_cb, &x);

	if (x.err)
		return failed(t, src, dst, "set xattr", x.err);
	if (err)
		return failed(t, src, dst, "list xattrs", err);
	if (!S_ISLNK(ps->mode)) {
		sa.mask |= PMCFS_SET_MODE;
		sa.mode = ps->mode & 07777;
	}
	err = pmcfs_ns_setattr(rl_img.tx, t->dt, dino, &sa);
	return err ? failed(t, src, dst, "set attributes", err) : 0;
}

static int clone_entry(struct itree *t, uint64_t sino, const char *src, uint64_t dparent,
		       const char *name, const char *dst);

static int clone_dir(struct itree *t, uint64_t sino, const struct pmcfs_stat *ps,
		     const char *src, uint64_t dino, const char *dst)
{
	struct { struct ient *v; size_t n, cap; } l = { 0 };
	size_t i;
	int err;

	if (!t->top)
		t->top = dino;
	t->dirs++;
	err = pmcfs_ns_readdir(rl_img.fs, t->st, sino, ent_cb, &l);
	if (err)
		failed(t, src, dst, "read directory", err);
	if (l.n > 1)
		qsort(l.v, l.n, sizeof(*l.v), cmp_ent);
	for (i = 0; i < l.n; i++) {
		size_t sl = strlen(src), dl = strlen(dst);
		char *s = xasprintf("%s%s%s", src, sl && src[sl - 1] == '/' ? "" : "/", l.v[i].name);
		char *d = xasprintf("%s%s%s", dst, dl && dst[dl - 1] == '/' ? "" : "/", l.v[i].name);

		if (!err)
			err = clone_entry(t, l.v[i].ino, s, dino, l.v[i].name, d);
		free(s);
		free(d);
		free(l.v[i].name);
	}
	free(l.v);
	return err ? err : copy_meta(t, sino, dino, ps, src, dst);
}

static uint64_t seen_link(struct itree *t, uint64_t sino)
{
	for (size_t i = 0; i < t->nseen; i++)
		if (t->seen[i].sino == sino)
			return t->seen[i].dino;
	return 0;
}

static void remember_link(struct itree *t, uint64_t sino, uint64_t dino)
{
	if (t->nseen == t->capseen) {
		t->capseen = t->capseen ? 2 * t->capseen : 16;
		t->seen = xreallocarray(t->seen, t->capseen, sizeof(*t->seen));
	}
	t->seen[t->nseen].sino = sino;
	t->seen[t->nseen++].dino = dino;
}

static int clone_entry(struct itree *t, uint64_t sino, const char *src, uint64_t dparent,
		       const char *name, const char *dst)
{
	struct pmcfs_create_args a = { 0 };
	struct pmcfs_stat ps, ds;
	size_t len = strlen(name);
	uint64_t dino, prev;
	int err;

	if ((err = pmcfs_ns_stat(rl_img.fs, t->st, sino, &ps)))
		return failed(t, src, dst, "stat", err);
	/* A destination inside the source: do not copy the copy. */
	if (S_ISDIR(ps.mode) && t->st == t->dt && sino == t->top)
		return 0;
	if (!S_ISDIR(ps.mode) && ps.nlink > 1 && (prev = seen_link(t, sino))) {
		if ((err = pmcfs_ns_link(rl_img.tx, t->dt, prev, dparent, name, len)))
			return failed(t, src, dst, "link", err);
		t->links++;
		return 0;
	}
	a = (struct pmcfs_create_args){ (ps.mode & S_IFMT) | 0700, ps.uid, ps.gid, ps.rdev, 0 };
	if (S_ISDIR(ps.mode)) {
		/* An existing directory is merged into, as mkdir -p would. */
		err = pmcfs_ns_lookup(rl_img.fs, t->dt, dparent, name, len, &dino);
		if (!err && (err = pmcfs_ns_stat(rl_img.fs, t->dt, dino, &ds)) == 0 &&
		    !S_ISDIR(ds.mode))
			err = -EEXIST;
		if (err == -ENOENT)
			err = pmcfs_ns_create(rl_img.tx, t->dt, dparent, name, len, &a, &dino);
		if (err)
			return failed(t, src, dst, "mkdir", err);
		return clone_dir(t, sino, &ps, src, dino, dst);
	}
	if (S_ISLNK(ps.mode)) {
		char *target = xmalloc(ps.size + 1);
		size_t tl;

		err = pmcfs_ns_readlink(rl_img.fs, t->st, sino, target, ps.size + 1, &tl);
		if (err) {
			free(target);
			return failed(t, src, dst, "read link", err);
		}
		err = pmcfs_ns_symlink(rl_img.tx, t->dt, dparent, name, len, target, tl,
				       ps.uid, ps.gid, &dino);
		free(target);
		if (err)
			return failed(t, src, dst, "symlink", err);
		t->symlinks++;
	} else {
		/* An existing regular file is cloned over, as cp does. */
		err = pmcfs_ns_lookup(rl_img.fs, t->dt, dparent, name, len, &dino);
		if (!err && S_ISREG(ps.mode) &&
		    !(err = pmcfs_ns_stat(rl_img.fs, t->dt, dino, &ds)) && S_ISREG(ds.mode))
			err = pmcfs_ns_truncate(rl_img.tx, t->dt, dino, 0);
		else if (!err)
			err = -EEXIST;
		else if (err == -ENOENT)
			err = pmcfs_ns_create(rl_img.tx, t->dt, dparent, name, len, &a, &dino);
		if (err)
			return failed(t, src, dst, S_ISREG(ps.mode) ? "create" : "mknod", err);
		if (S_ISREG(ps.mode)) {
			err = pmcfs_ns_clone_range(rl_img.tx, t->st, sino, 0, t->dt, dino, 0, 0);
			if (err)
				return failed(t, src, dst, "clone", err);
			t->files++;
			t->bytes += ps.size;
		} else {
			t->others++;
		}
	}
	if (ps.nlink > 1)
		remember_link(t, sino, dino);
	return copy_meta(t, sino, dino, &ps, src, dst);
}

static void report(struct itree *t, struct rl_json *js, const char *src, const char *top)
{
	rl_json_obj_begin(js, NULL);
	rl_json_str(js, "command", "clone");
	rl_json_bool(js, "recursive", true);
	rl_json_str(js, "src", src);
	rl_json_str(js, "dst", top);
	rl_json_u64(js, "files", t->files);
	rl_json_u64(js, "directories", t->dirs);
	rl_json_u64(js, "symlinks", t->symlinks);
	rl_json_u64(js, "hardlinks", t->links);
	rl_json_u64(js, "other", t->others);
	rl_json_u64(js, "bytes", t->bytes);
	rl_json_arr_begin(js, "failures");
	if (t->fail_path) {
		rl_json_obj_begin(js, NULL);
		rl_json_str(js, "path", t->fail_path);
		rl_json_error(js, t->fail_err);
		rl_json_obj_end(js);
	}
	rl_json_arr_end(js);
	rl_json_str(js, "status", t->fail_path ? "error" : "ok");
	rl_json_obj_end(js);
}

int rl_image_clone_tree(const char *src, const char *dst, struct rl_json *js)
{
	struct itree t = { 0 };
	struct img_where sw, dw;
	struct pmcfs_stat ds;
	const char *name;
	uint64_t sino, dino, dparent;
	char *top, *tmp;
	size_t len;
	int err;

	err = img_resolve(src, &sw, &sino);
	if (err) {
		failed(&t, src, dst, "stat", err);
		goto out_notop;
	}
	t.st = sw.t;
	if (!img_resolve(dst, &dw, &dino) && !pmcfs_ns_stat(rl_img.fs, dw.t, dino, &ds) &&
	    S_ISDIR(ds.mode)) {
		size_t dl = strlen(dst);

		tmp = xstrdup(sw.rel);
		top = xasprintf("%s%s%s", dst, dl && dst[dl - 1] == '/' ? "" : "/", basename(tmp));
		free(tmp);
	} else {
		top = xstrdup(dst);
	}
	err = img_resolve_parent(top, &dw, &dparent, &name, &len);
	if (!err && dw.ro)
		err = -EROFS;
	if (err) {
		failed(&t, src, top, "create", err);
		goto out;
	}
	t.dt = dw.t;
	tmp = xasprintf("%.*s", (int)len, name);
	clone_entry(&t, sino, src, dparent, tmp, top);
	free(tmp);
out:
	if (js)
		report(&t, js, src, top);
	free(top);
	free(t.seen);
	free(t.fail_path);
	return t.fail_path ? RL_EXIT_FAIL : RL_EXIT_OK;
out_notop:
	if (js)
		report(&t, js, src, dst);
	free(t.fail_path);
	return RL_EXIT_FAIL;
}

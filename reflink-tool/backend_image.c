// SPDX-License-Identifier: MIT
/*
 * The image backend: the same operations as the kernel backend, done
 * through the libpmcfs namespace API on an unmounted image (image.c
 * opens it and owns the transaction). Errors that must keep the
 * transaction from committing are counted as they happen; a dedupe
 * whose bytes differ (-PMCFS_EDIFFERS) changes nothing and is not one.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <linux/fiemap.h>

#include "image_priv.h"

struct img_file {
	struct pmcfs_tree *t;
	uint64_t subvol, ino;
	bool ro;
};

static int noted(int err)
{
	rl_image_note_error(err);
	return err;
}

static int fill_stat(struct rl_file *f)
{
	struct img_file *p = f->priv;
	struct pmcfs_stat ps;
	int err = pmcfs_ns_stat(rl_img.fs, p->t, p->ino, &ps);

	if (!err)
		img_stat_conv(&ps, p->subvol, &f->st);
	return err;
}

static int create_file(const char *path, struct img_where *w, uint64_t *ino)
{
	struct pmcfs_create_args a = { .uid = geteuid(), .gid = getegid() };
	const char *name;
	uint64_t dir;
	size_t len;
	mode_t um = umask(0);
	int err;

	umask(um);
	a.mode = S_IFREG | (0666 & ~um);
	err = img_resolve_parent(path, w, &dir, &name, &len);
	if (!err && w->ro)
		err = -EROFS;
	if (!err && !rl_img.tx)
		err = -EROFS;
	if (!err)
		err = pmcfs_ns_create(rl_img.tx, w->t, dir, name, len, &a, ino);
	return err;
}

static int iopen_locked(const char *path, int how, struct rl_file **ret)
{
	int mode = how & RL_OPEN_HOW_MASK;
	struct img_where w;
	struct img_file *p;
	struct rl_file *f;
	struct pmcfs_stat ps;
	uint64_t ino;
	int err;

	err = img_resolve(path, &w, &ino);
	if (err == -ENOENT && mode == RL_OPEN_CREATE)
		err = create_file(path, &w, &ino);
	if (err)
		return err;
	err = pmcfs_ns_stat(rl_img.fs, w.t, ino, &ps);
	if (err)
		return err;
	/* Never followed, so a symlink is refused as O_NOFOLLOW would. */
	if (S_ISLNK(ps.mode))
		return -ELOOP;
	if (mode == RL_OPEN_WRITE || mode == RL_OPEN_CREATE) {
		if (S_ISDIR(ps.mode))
			return -EISDIR;
		if (w.ro || !rl_img.tx)
			return -EROFS;
	}
	p = xcalloc(1, sizeof(*p));
	*p = (struct img_file){ w.t, w.subvol, ino, w.ro || !rl_img.tx };
	f = xcalloc(1, sizeof(*f));
	f->fd = -1;
	f->path = xstrdup(path);
	f->priv = p;
	f->writable = !p->ro;
	img_stat_conv(&ps, w.subvol, &f->st);
	*ret = f;
	return 0;
}

static int iopen(const char *path, int how, struct rl_file **ret)
{
	int err;

	img_lock();
	err = iopen_locked(path, how, ret);
	img_unlock();
	return noted(err);
}

static int ireopen_rw(struct rl_file *f)
{
	/* Writability is settled at open: snapshots stay read-only. */
	return ((struct img_file *)f->priv)->ro ? -EROFS : 0;
}

static void iclose(struct rl_file *f)
{
	if (!f)
		return;
	free(f->priv);
	free(f->path);
	free(f);
}

static int ipread(struct rl_file *f, void *buf, size_t len, uint64_t off, size_t *ret_len)
{
	struct img_file *p = f->priv;
	int err;

	img_lock();
	err = pmcfs_ns_read(rl_img.fs, p->t, p->ino, off, buf, len, ret_len);
	img_unlock();
	return noted(err);
}

static int wcheck(struct rl_file *dst)
{
	return ((struct img_file *)dst->priv)->ro || !rl_img.tx ? -EROFS : 0;
}

static int iclone_range(struct rl_file *src, uint64_t soff, struct rl_file *dst,
			uint64_t doff, uint64_t len)
{
	struct img_file *s = src->priv, *d = dst->priv;
	int err = wcheck(dst);

	img_lock();
	if (!err)
		err = pmcfs_ns_clone_range(rl_img.tx, s->t, s->ino, soff, d->t, d->ino, doff, len);
	if (!err)
		fill_stat(dst);
	img_unlock();
	return noted(err);
}

/* FICLONE: the destination becomes a copy of the whole source. */
static int iclone_file(struct rl_file *src, struct rl_file *dst)
{
	struct img_file *s = src->priv, *d = dst->priv;
	int err = wcheck(dst);

	if (!err && S_ISDIR(src->st.st_mode))
		err = -EISDIR;
	if (!err && s->t == d->t && s->ino == d->ino)
		err = -EINVAL;		/* the kernel refuses a file onto itself too */
	img_lock();
	if (!err)
		err = pmcfs_ns_truncate(rl_img.tx, d->t, d->ino, 0);
	if (!err)
		err = pmcfs_ns_clone_range(rl_img.tx, s->t, s->ino, 0, d->t, d->ino, 0, 0);
	if (!err)
		fill_stat(dst);
	img_unlock();
	return noted(err);
}

static int idedupe_range(struct rl_file *src, uint64_t soff, uint64_t len,
			 struct rl_dedupe_dest *dests, unsigned int n)
{
	struct img_file *s = src->priv;
	unsigned int i;

	if (S_ISDIR(src->st.st_mode))
		return noted(-EISDIR);
	img_lock();
	for (i = 0; i < n; i++) {
		struct img_file *d = dests[i].file->priv;
		int err = wcheck(dests[i].file);

		if (!err)
			err = pmcfs_ns_dedupe_range(rl_img.tx, s->t, s->ino, soff, d->t, d->ino,
						    dests[i].offset, len);
		dests[i].deduped = err ? 0 : len;
		dests[i].status = err == -PMCFS_EDIFFERS ? RL_DEDUPE_DIFFERS : err;
		rl_image_note_error(err);
	}
	img_unlock();
	return 0;
}

struct ext_acc {
	struct rl_extent *v;
	size_t n, cap;
	uint64_t start, end;	/* bytes wanted */
	int err;
};

static void ext_push(struct ext_acc *a, uint64_t logical, uint64_t phys, uint64_t len,
		     uint32_t flags, uint32_t refs)
{
	struct rl_extent *last = a->n ? &a->v[a->n - 1] : NULL;

	/* Pieces split by the lookup, or extents split by earlier remaps,
	 * that still continue each other are shown as one. */
	if (last && last->logical + last->length == logical &&
	    last->physical + last->length == phys && last->flags == flags &&
	    last->refcount == refs) {
		last->length += len;
		return;
	}
	if (a->n == a->cap) {
		a->cap = a->cap ? 2 * a->cap : 64;
		a->v = xreallocarray(a->v, a->cap, sizeof(*a->v));
	}
	a->v[a->n++] = (struct rl_extent){ logical, phys, len, flags, refs };
}

/* One file extent, cut where the space map's reference count changes. */
static int ext_cb(void *ctx, const struct pmcfs_extent_info *e)
{
	struct ext_acc *a = ctx;
	uint64_t bs = PMCFS_BLOCK_SIZE, b = e->phys, end = e->phys + e->nblocks;
	uint32_t base = e->flags & PMCFS_EXTENT_UNWRITTEN ? FIEMAP_EXTENT_UNWRITTEN : 0;

	if (e->file_off >= a->end || e->file_off + e->nblocks * bs <= a->start)
		return 0;
	while (b < end) {
		struct pmcfs_space_info si;
		uint64_t stop;
		int err = pmcfs_space_lookup(rl_img.fs, b, &si);

		if (err)
			return err;
		stop = si.start + si.len < end ? si.start + si.len : end;
		if (stop <= b)
			return -PMCFS_ECORRUPT;
		ext_push(a, e->file_off + (b - e->phys) * bs, b * bs, (stop - b) * bs,
			 base | (si.refcount > 1 ? FIEMAP_EXTENT_SHARED : 0), si.refcount);
		b = stop;
	}
	return 0;
}

static int ifiemap(struct rl_file *f, uint64_t start, uint64_t len,
		   struct rl_extent **ret, size_t *ret_n)
{
	struct img_file *p = f->priv;
	struct ext_acc a = { .start = start,
			     .end = len > UINT64_MAX - start ? UINT64_MAX : start + len };
	int err;

	img_lock();
	err = pmcfs_ns_extents(rl_img.fs, p->t, p->ino, ext_cb, &a);
	img_unlock();
	if (err) {
		free(a.v);
		return noted(err);
	}
	if (a.n)
		a.v[a.n - 1].flags |= FIEMAP_EXTENT_LAST;
	*ret = a.v;
	*ret_n = a.n;
	return 0;
}

static int ireflink_supported(struct rl_file *f, const char **ret_fsname)
{
	(void)f;
	*ret_fsname = "pmcfs";
	return 1;
}

/* A query: a missing path is an answer, not an error of the command. */
static int ilstat(const char *path, struct stat *st)
{
	struct pmcfs_stat ps;
	struct img_where w;
	uint64_t ino;
	int err;

	img_lock();
	err = img_resolve(path, &w, &ino);
	if (!err)
		err = pmcfs_ns_stat(rl_img.fs, w.t, ino, &ps);
	img_unlock();
	if (!err)
		img_stat_conv(&ps, w.subvol, st);
	return err;
}

struct names {
	char **v;
	size_t n, cap;
};

static int name_cb(void *ctx, const char *name, size_t len, uint64_t ino, unsigned type,
		   uint64_t index)
{
	struct names *nm = ctx;

	(void)ino, (void)type, (void)index;
	if (nm->n == nm->cap) {
		nm->cap = nm->cap ? 2 * nm->cap : 32;
		nm->v = xreallocarray(nm->v, nm->cap, sizeof(*nm->v));
	}
	nm->v[nm->n++] = xasprintf("%.*s", (int)len, name);
	return 0;
}

static int cmp_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int ilist_dir(const char *path, char ***ret, size_t *ret_n)
{
	struct names nm = { 0 };
	struct img_where w;
	uint64_t ino;
	int err;

	img_lock();
	err = img_resolve(path, &w, &ino);
	if (!err)
		err = pmcfs_ns_readdir(rl_img.fs, w.t, ino, name_cb, &nm);
	img_unlock();
	if (err) {
		while (nm.n)
			free(nm.v[--nm.n]);
		free(nm.v);
		return noted(err);
	}
	if (nm.n > 1)
		qsort(nm.v, nm.n, sizeof(*nm.v), cmp_name);
	*ret = nm.v;
	*ret_n = nm.n;
	return 0;
}

/*
 * Commands unlink a destination they created when the remap failed; in
 * an image the failed command's transaction is aborted instead, which
 * takes the new file away with everything else.
 */
static int iunlink(const char *path)
{
	(void)path;
	return 0;
}

static int itruncate(struct rl_file *f, uint64_t size)
{
	struct img_file *p = f->priv;
	int err = wcheck(f);

	img_lock();
	if (!err)
		err = pmcfs_ns_truncate(rl_img.tx, p->t, p->ino, size);
	if (!err)
		fill_stat(f);
	img_unlock();
	return noted(err);
}

const struct rl_backend_ops rl_image_ops = {
	.name = "image",
	.open = iopen,
	.reopen_rw = ireopen_rw,
	.close = iclose,
	.pread = ipread,
	.clone_file = iclone_file,
	.clone_range = iclone_range,
	.dedupe_range = idedupe_range,
	.fiemap = ifiemap,
	.reflink_supported = ireflink_supported,
	.stat = ilstat,
	.lstat = ilstat,
	.list_dir = ilist_dir,
	.unlink = iunlink,
	.truncate = itruncate,
	/* The same chunks as the kernel backend, so a partly differing
	 * range reports the same "differs at" offset in both modes. */
	.max_dedupe_len = 16ULL << 20,
	.max_dedupe_dests = 127,
	.exclusive = true,
};

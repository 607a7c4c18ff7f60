// SPDX-License-Identifier: MIT
/*
 * Image mode: open an unmounted pmcfs image through libpmcfs, refusing
 * one that is mounted or in use, run the command in one transaction and
 * commit it only when the command succeeded (or only found ranges that
 * differ, which change nothing); otherwise abort, so the image is left
 * exactly as it was. Also path lookup inside the image.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "image_priv.h"
#include "pmcfs_probe.h"

const char *rl_image_path;
struct rl_image rl_img = { .lockfd = -1, .lock = PTHREAD_MUTEX_INITIALIZER };

void rl_image_note_error(int err)
{
	if (err && err != -PMCFS_EDIFFERS)
		rl_img.errors++;
}

static int open_fail(const char *what, int err)
{
	error("%s: %s: %s", rl_image_path, what, pmcfs_strerror(err));
	return -1;
}

int rl_backend_begin(bool write)
{
	struct rl_image *im = &rl_img;
	char mnt[512];
	bool mounted = false;
	uint64_t root;
	int err;

	if (!rl_image_mode())
		return 0;
	im->write = write;
	err = pmcfs_probe_mounted(rl_image_path, mnt, sizeof(mnt), &mounted);
	if (err)
		return open_fail("open image", err);
	if (mounted)
		return error("%s: mounted on %s: use pmcfs-reflink on the mounted "
			     "filesystem (without --image)", rl_image_path, mnt);
	/*
	 * A block device is opened O_EXCL by the device layer; an image
	 * file gets an advisory lock so two runs cannot interleave.
	 */
	err = pmcfs_dev_open(rl_image_path, PMCFS_DEV_EXCL | (write ? 0 : PMCFS_DEV_RDONLY),
			     &im->dev);
	if (err == -EBUSY)
		return error("%s: in use (opened exclusively by someone else)", rl_image_path);
	if (err)
		return open_fail("open image", err);
	if (im->dev->kind == PMCFS_DEV_IMAGE) {
		im->lockfd = open(rl_image_path, O_RDONLY | O_CLOEXEC);
		if (im->lockfd >= 0 &&
		    flock(im->lockfd, (write ? LOCK_EX : LOCK_SH) | LOCK_NB) < 0 &&
		    errno == EWOULDBLOCK)
			return error("%s: in use by another program (locked)", rl_image_path);
	}
	err = pmcfs_fs_open(im->dev, write ? 0 : PMCFS_OPEN_RDONLY, &im->fs);
	if (err)
		return open_fail("not a usable pmcfs image", err);
	root = pmcfs_fs_sb(im->fs)->root_subvol;
	im->live_id = root ? root : PMCFS_FIRST_SUBVOL;
	err = pmcfs_subvol_open(im->fs, im->live_id, &im->live);
	if (err)
		return open_fail("open the live subvolume", err);
	if (write) {
		err = pmcfs_trans_begin(im->fs, &im->tx);
		if (err)
			return open_fail("begin a transaction", err);
	}
	return 0;
}

int rl_backend_end(int ret)
{
	struct rl_image *im = &rl_img;
	int err;

	if (!rl_image_mode())
		return ret;
	if (im->tx) {
		if (im->errors == 0) {
			err = pmcfs_trans_commit(im->tx);
			im->tx = NULL;
			if (err) {
				error("%s: commit: %s; the image is unchanged", rl_image_path,
				      pmcfs_strerror(err));
				ret = RL_EXIT_FAIL;
			}
		} else {
			pmcfs_trans_abort(im->tx);
			im->tx = NULL;
			error("%s: aborted after the errors above: nothing was written, "
			      "the image is unchanged", rl_image_path);
			if (ret == RL_EXIT_OK)
				ret = RL_EXIT_FAIL;
		}
	}
	if (im->fs)
		pmcfs_fs_close(im->fs);
	if (im->dev)
		pmcfs_dev_close(im->dev);
	if (im->lockfd >= 0)
		close(im->lockfd);
	im->fs = NULL;
	im->dev = NULL;
	im->lockfd = -1;
	return ret;
}

int img_subvol_by_name(const char *name, uint64_t *ret_id)
{
	struct pmcfs_ckey start = { PMCFS_FIRST_SUBVOL, 0, 0 }, k;
	struct pmcfs_iter *it;
	const void *body;
	uint32_t size;
	uint64_t found = 0;
	int err;

	err = pmcfs_iter_start(rl_img.fs, pmcfs_fs_roottab(rl_img.fs), &start, &it);
	if (err)
		return err;
	while (!found && (err = pmcfs_iter_next(it, &k, &body, &size)) > 0) {
		struct pmcfs_subvol_info si;

		if (k.type != PMCFS_KEY_ROOT || k.objectid < PMCFS_FIRST_SUBVOL)
			continue;
		/* The body is only valid until the next call: use the info. */
		if (!pmcfs_subvol_info(rl_img.fs, k.objectid, &si) && !strcmp(si.name, name) &&
		    !(si.flags & PMCFS_ROOT_DROPPING))
			found = k.objectid;
	}
	pmcfs_iter_free(it);
	if (err < 0)
		return err;
	if (!found)
		return -ENOENT;
	*ret_id = found;
	return 0;
}

bool rl_image_path_readonly(const char *path)
{
	const char *at = strstr(path, "@/");

	return at && at != path && !memchr(path, '/', at - path);
}

int img_where(const char *path, struct img_where *w)
{
	const char *at = strstr(path, "@/");
	char name[PMCFS_NAME_MAX + 1];
	size_t len;
	int err;

	*w = (struct img_where){ rl_img.live, rl_img.live_id, false, path };
	/* NAME@/PATH: NAME cannot hold a '/', so the first "@/" ends it. */
	if (!rl_image_path_readonly(path))
		return 0;
	len = at - path;
	if (len > PMCFS_NAME_MAX)
		return -ENAMETOOLONG;
	memcpy(name, path, len);
	name[len] = 0;
	err = img_subvol_by_name(name, &w->subvol);
	if (err == -ENOENT) {
		static char warned[PMCFS_NAME_MAX + 1];

		if (strcmp(warned, name)) {
			warning("%s: no snapshot named '%s'", rl_image_path, name);
			snprintf(warned, sizeof(warned), "%s", name);
		}
	}
	if (!err)
		err = pmcfs_subvol_open(rl_img.fs, w->subvol, &w->t);
	w->ro = true;
	w->rel = at + 1;
	return err;
}

int img_resolve(const char *path, struct img_where *w, uint64_t *ino)
{
	int err = img_where(path, w);

	if (err)
		return err;
	return pmcfs_ns_resolve(rl_img.fs, w->t, w->rel, ino);
}

int img_resolve_parent(const char *path, struct img_where *w, uint64_t *dir,
		       const char **name, size_t *len)
{
	const char *end, *slash;
	char *parent;
	int err = img_where(path, w);

	if (err)
		return err;
	end = w->rel + strlen(w->rel);
	while (end > w->rel && end[-1] == '/')	/* "dir/" names dir */
		end--;
	for (slash = end; slash > w->rel && slash[-1] != '/'; slash--)
		;
	*name = slash;
	*len = end - slash;
	if (!*len)
		return -EEXIST;		/* the root directory itself */
	if (!pmcfs_name_valid(*name, *len))
		return *len > PMCFS_NAME_MAX ? -ENAMETOOLONG : -EINVAL;
	parent = xasprintf("%.*s", (int)(slash - w->rel), w->rel);
	err = pmcfs_ns_resolve(rl_img.fs, w->t, parent, dir);
	free(parent);
	return err;
}

static void ts(struct timespec *d, const struct timespec *s)
{
	d->tv_sec = s->tv_sec;
	d->tv_nsec = s->tv_nsec;
}

void img_stat_conv(const struct pmcfs_stat *ps, uint64_t subvol, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	/* Inode numbers repeat in every snapshot: the subvolume is the device. */
	st->st_dev = subvol;
	st->st_ino = ps->ino;
	st->st_mode = ps->mode;
	st->st_nlink = ps->nlink;
	st->st_uid = ps->uid;
	st->st_gid = ps->gid;
	st->st_rdev = ps->rdev;
	st->st_size = ps->size;
	st->st_blksize = PMCFS_BLOCK_SIZE;
	st->st_blocks = ps->nblocks * (PMCFS_BLOCK_SIZE / 512);
	ts(&st->st_atim, &ps->atime);
	ts(&st->st_mtim, &ps->mtime);
	ts(&st->st_ctim, &ps->ctime);
}

// SPDX-License-Identifier: MIT
/* Inode items: read, write, allocate numbers, evict; names and orphans. */
#include <errno.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <xxhash.h>
#include "ns_priv.h"

uint64_t pmcfs_name_hash(const char *name, size_t len)
{
	return XXH64(name, len, 0);
}

bool pmcfs_name_valid(const char *name, size_t len)
{
	if (len == 0 || len > PMCFS_NAME_MAX || memchr(name, '/', len) || memchr(name, 0, len))
		return false;
	return !(len == 1 && name[0] == '.') && !(len == 2 && name[0] == '.' && name[1] == '.');
}

unsigned pmcfs_ftype(uint32_t mode)
{
	switch (mode & S_IFMT) {
	case S_IFREG: return PMCFS_FT_REG;
	case S_IFDIR: return PMCFS_FT_DIR;
	case S_IFCHR: return PMCFS_FT_CHR;
	case S_IFBLK: return PMCFS_FT_BLK;
	case S_IFIFO: return PMCFS_FT_FIFO;
	case S_IFSOCK: return PMCFS_FT_SOCK;
	case S_IFLNK: return PMCFS_FT_LNK;
	}
	return PMCFS_FT_UNKNOWN;
}

int ns_inode_get(struct pmcfs_fs *fs, struct pmcfs_tree *t, uint64_t ino, struct ns_inode *ret)
{
	struct pmcfs_ckey k = ns_key(ino, PMCFS_KEY_INODE, 0);
	uint32_t size;
	int err = pmcfs_tree_lookup(fs, t, &k, &ret->d, sizeof(ret->d), &size);

	if (err)
		return err;
	if (size != sizeof(ret->d) || !pmcfs_ftype(pmcfs_inode_mode(&ret->d)))
		return -PMCFS_ECORRUPT;
	ret->ino = ino;
	return 0;
}

int ns_inode_put(struct pmcfs_trans *tx, struct pmcfs_tree *t, const struct ns_inode *in)
{
	struct pmcfs_ckey k = ns_key(in->ino, PMCFS_KEY_INODE, 0);

	return pmcfs_tree_update(tx, t, &k, &in->d, sizeof(in->d));
}

void ns_now(struct pmcfs_timespec *ts)
{
	struct timespec now;

	clock_gettime(CLOCK_REALTIME, &now);
	pmcfs_set_timespec_sec(ts, now.tv_sec);
	pmcfs_set_timespec_nsec(ts, now.tv_nsec);
}

void ns_touch(struct ns_inode *in, bool mtime)
{
	ns_now(&in->d.ctime);
	if (mtime)
		in->d.mtime = in->d.ctime;
}

int ns_inode_alloc(struct pmcfs_trans *tx, struct pmcfs_tree *t, uint64_t *ret_ino)
{
	if (t->next_ino < PMCFS_FIRST_INO || t->next_ino >= PMCFS_ORPHAN_OBJECTID - 1)
		return -ENOSPC;
	*ret_ino = t->next_ino++;
	t->dirty = true;
	return 0;
}

static void decode_ts(const struct pmcfs_timespec *d, struct timespec *ts)
{
	ts->tv_sec = (time_t)pmcfs_timespec_sec(d);
	ts->tv_nsec = pmcfs_timespec_nsec(d);
}

int pmcfs_ns_stat(struct pmcfs_fs *fs, struct pmcfs_tree *t, uint64_t ino, struct pmcfs_stat *st)
{
	struct ns_inode in;
	int err = ns_inode_get(fs, t, ino, &in);

	if (err)
		return err;
	st->ino = ino;
	st->mode = pmcfs_inode_mode(&in.d);
	st->uid = pmcfs_inode_uid(&in.d);
	st->gid = pmcfs_inode_gid(&in.d);
	st->nlink = pmcfs_inode_nlink(&in.d);
	st->size = pmcfs_inode_size(&in.d);
	st->nblocks = pmcfs_inode_nblocks(&in.d);
	st->flags = pmcfs_inode_flags(&in.d);
	st->generation = pmcfs_inode_generation(&in.d);
	st->rdev = pmcfs_inode_rdev(&in.d);
	decode_ts(&in.d.atime, &st->atime);
	decode_ts(&in.d.mtime, &st->mtime);
	decode_ts(&in.d.ctime, &st->ctime);
	decode_ts(&in.d.crtime, &st->crtime);
	return 0;
}

static void encode_ts(const struct timespec *ts, struct pmcfs_timespec *d)
{
	pmcfs_set_timespec_sec(d, (uint64_t)ts->tv_sec);
	pmcfs_set_timespec_nsec(d, (uint32_t)ts->tv_nsec);
}

int pmcfs_ns_setattr(struct pmcfs_trans *tx, struct pmcfs_tree *t, uint64_t ino,
		     const struct pmcfs_setattr *sa)
{
	struct ns_inode in;
	int err = ns_inode_get(tx->fs, t, ino, &in);

	if (err)
		return err;
	if (sa->mask & PMCFS_SET_MODE)
		pmcfs_set_inode_mode(&in.d, (pmcfs_inode_mode(&in.d) & S_IFMT) | (sa->mode & 07777));
	if (sa->mask & PMCFS_SET_UID)
		pmcfs_set_inode_uid(&in.d, sa->uid);
	if (sa->mask & PMCFS_SET_GID)
		pmcfs_set_inode_gid(&in.d, sa->gid);
	if (sa->mask & PMCFS_SET_FLAGS)
		pmcfs_set_inode_flags(&in.d, sa->flags);
	ns_touch(&in, false);
	if (sa->mask & PMCFS_SET_ATIME)
		encode_ts(&sa->atime, &in.d.atime);
	if (sa->mask & PMCFS_SET_MTIME)
		encode_ts(&sa->mtime, &in.d.mtime);
	if (sa->mask & PMCFS_SET_CTIME)
		encode_ts(&sa->ctime, &in.d.ctime);
	if (sa->mask & PMCFS_SET_CRTIME)
		encode_ts(&sa->crtime, &in.d.crtime);
	return ns_inode_put(tx, t, &in);
}

int ns_item_keys(struct pmcfs_fs *fs, struct pmcfs_tree *t, uint64_t ino, uint8_t tmin,
		 uint8_t tmax, struct pmcfs_ckey **ret, size_t *ret_n)
{
	struct pmcfs_ckey start = ns_key(ino, tmin, 0), k;
	struct pmcfs_iter *it;
	const void *body;
	uint32_t size;
	size_t n = 0, cap = 0;
	struct pmcfs_ckey *v = NULL;
	int err;

	if ((err = pmcfs_iter_start(fs, t, &start, &it)))
		return err;
	while ((err = pmcfs_iter_next(it, &k, &body, &size)) > 0) {
		if (k.objectid != ino || k.type > tmax)
			break;
		if (n == cap) {
			struct pmcfs_ckey *nv;
			cap = cap ? cap * 2 : 16;
			nv = realloc(v, cap * sizeof(*v));
			if (!nv) {
				err = -ENOMEM;
				break;
			}
			v = nv;
		}
		v[n++] = k;
	}
	pmcfs_iter_free(it);
	if (err < 0) {
		free(v);
		return err;
	}
	*ret = v;
	*ret_n = n;
	return 0;
}

int ns_inode_evict(struct pmcfs_trans *tx, struct pmcfs_tree *t, uint64_t ino)
{
	struct pmcfs_ckey *keys;
	size_t n;
	int err = ns_ext_drop(tx, t, ino, 0, UINT64_MAX / BS, NULL);

	if (err)
		return err;
	if ((err = ns_item_keys(tx->fs, t, ino, 0, UINT8_MAX, &keys, &n)))
		return err;
	for (size_t i = 0; !err && i < n; i++)
		err = pmcfs_tree_delete(tx, t, &keys[i]);
	free(keys);
	return err;
}

int pmcfs_ns_orphans_finish(struct pmcfs_trans *tx, struct pmcfs_tree *t, uint64_t *ret_count)
{
	struct pmcfs_ckey *keys;
	size_t n;
	int err = ns_item_keys(tx->fs, t, PMCFS_ORPHAN_OBJECTID, PMCFS_KEY_ORPHAN, PMCFS_KEY_ORPHAN,
			       &keys, &n);

	if (err)
		return err;
	for (size_t i = 0; !err && i < n; i++) {
		struct ns_inode in;
		err = ns_inode_get(tx->fs, t, keys[i].offset, &in);
		if (err == -ENOENT)
			err = 0;		/* already gone: only the orphan item is left */
		else if (!err && pmcfs_inode_nlink(&in.d))
			err = -PMCFS_ECORRUPT;	/* linked inodes are never orphans */
		else if (!err)
			err = ns_inode_evict(tx, t, keys[i].offset);
		if (!err)
			err = pmcfs_tree_delete(tx, t, &keys[i]);
	}
	free(keys);
	if (!err && ret_count)
		*ret_count = n;
	return err;
}

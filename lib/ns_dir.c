// SPDX-License-Identifier: MIT
/*
 * Directories. A name lives in three items, so each direction can be
 * checked against the other: DIR_ENTRY (dir, hash) for lookup, with
 * colliding names packed into one item; DIR_INDEX (dir, index) for
 * readdir in creation order; INODE_REF (child, parent) naming every
 * link of the child in that parent. A directory's size is its number of
 * entries and its nlink is 2 plus its subdirectories.
 */
#include <errno.h>
#include <stdlib.h>
#include "ns_priv.h"

#define PACKED_MAX PMCFS_MAX_ITEM_BODY

struct dent {
	uint64_t ino, index;
	unsigned type;
	const char *name;
	size_t len;
	uint32_t pos, size;	/* where in the packed body */
};

/* Next entry of a packed body at *pos; -PMCFS_ECORRUPT on a bad layout. */
static int dent_next(const uint8_t *body, uint32_t size, uint32_t *pos, struct dent *e)
{
	struct pmcfs_dirent d;

	if (*pos + sizeof(d) > size)
		return -PMCFS_ECORRUPT;
	memcpy(&d, body + *pos, sizeof(d));
	e->ino = pmcfs_dirent_ino(&d);
	e->index = pmcfs_dirent_index(&d);
	e->type = pmcfs_dirent_type(&d);
	e->len = pmcfs_dirent_name_len(&d);
	e->name = (const char *)body + *pos + sizeof(d);
	e->pos = *pos;
	e->size = ns_dirent_size(e->len);
	if (e->len == 0 || e->len > PMCFS_NAME_MAX || *pos + e->size > size)
		return -PMCFS_ECORRUPT;
	*pos += e->size;
	return 0;
}

static int dent_find(const uint8_t *body, uint32_t size, const char *name, size_t len,
		     uint64_t parent, struct dent *ret)
{
	uint32_t pos = 0;
	int err;

	while (pos < size) {
		if ((err = dent_next(body, size, &pos, ret)))
			return err;
		if (ret->len == len && !memcmp(ret->name, name, len) && (!parent || ret->ino == parent))
			return 0;
	}
	return -ENOENT;
}

uint32_t pmcfs_dirent_size(size_t len)
{
	return PMCFS_BODY_ALIGN(sizeof(struct pmcfs_dirent) + len);
}

void pmcfs_dirent_encode(void *vat, uint64_t ino, uint64_t index, unsigned type,
			 const char *name, size_t len)
{
	uint8_t *at = vat;
	struct pmcfs_dirent d;

	memset(&d, 0, sizeof(d));
	pmcfs_set_dirent_ino(&d, ino);
	pmcfs_set_dirent_index(&d, index);
	pmcfs_set_dirent_name_len(&d, (uint16_t)len);
	pmcfs_set_dirent_type(&d, (uint8_t)type);
	memset(at, 0, pmcfs_dirent_size(len));
	memcpy(at, &d, sizeof(d));
	memcpy(at + sizeof(d), name, len);
}

/* Append an entry to the packed item at key (created if absent). */
static int packed_add(struct pmcfs_trans *tx, struct pmcfs_tree *t, const struct pmcfs_ckey *k,
		      uint64_t ino, uint64_t index, unsigned type, const char *name, size_t len)
{
	uint8_t body[PACKED_MAX];
	uint32_t size = 0;
	int err = pmcfs_tree_lookup(tx->fs, t, k, body, sizeof(body), &size);

	if (err && err != -ENOENT)
		return err;
	if (err == -ENOENT)
		size = 0;
	if (size > sizeof(body) || size + ns_dirent_size(len) > PACKED_MAX)
		return -ENOSPC;		/* too many colliding names */
	pmcfs_dirent_encode(body + size, ino, index, type, name, len);
	return pmcfs_tree_update(tx, t, k, body, size + ns_dirent_size(len));
}

static int packed_remove(struct pmcfs_trans *tx, struct pmcfs_tree *t, const struct pmcfs_ckey *k,
			 const char *name, size_t len, uint64_t parent)
{
	uint8_t body[PACKED_MAX];
	uint32_t size;
	struct dent e;
	int err = pmcfs_tree_lookup(tx->fs, t, k, body, sizeof(body), &size);

	if (err)
		return err == -ENOENT ? -PMCFS_ECORRUPT : err;
	if (size > sizeof(body))
		return -PMCFS_ECORRUPT;
	if ((err = dent_find(body, size, name, len, parent, &e)))
		return err == -ENOENT ? -PMCFS_ECORRUPT : err;
	memmove(body + e.pos, body + e.pos + e.size, size - e.pos - e.size);
	size -= e.size;
	return size ? pmcfs_tree_update(tx, t, k, body, size) : pmcfs_tree_delete(tx, t, k);
}

/* -ENAMETOOLONG or -EINVAL for a name no entry may have. */
static int name_error(const char *name, size_t len)
{
	if (len > PMCFS_NAME_MAX)
		return -ENAMETOOLONG;
	return pmcfs_name_valid(name, len) ? 0 : -EINVAL;
}

static int find_entry(struct pmcfs_fs *fs, struct pmcfs_tree *t, uint64_t dir, const char *name,
		      size_t len, struct dent *ret, uint8_t *body)
{
	struct pmcfs_ckey k = ns_key(dir, PMCFS_KEY_DIR_ENTRY, pmcfs_name_hash(name, len));
	uint32_t size;
	int err = pmcfs_tree_lookup(fs, t, &k, body, PACKED_MAX, &size);

	if (err)
		return err;
	if (size > PACKED_MAX)
		return -PMCFS_ECORRUPT;
	return dent_find(body, size, name, len, 0, ret);
}

static int get_dir(struct pmcfs_fs *fs, struct pmcfs_tree *t, uint64_t dir, struct ns_inode *in)
{
	int err = ns_inode_get(fs, t, dir, in);

	if (err)
		return err;
	return (pmcfs_inode_mode(&in->d) & S_IFMT) == S_IFDIR ? 0 : -ENOTDIR;
}

int pmcfs_ns_lookup(struct pmcfs_fs *fs, struct pmcfs_tree *t, uint64_t dir, const char *name,
		    size_t len, uint64_t *ret_ino)
{
	uint8_t body[PACKED_MAX];
	struct ns_inode din;
	struct dent e;
	int err;

	if ((err = name_error(name, len)))
		return err;
	if ((err = get_dir(fs, t, dir, &din)) || (err = find_entry(fs, t, dir, name, len, &e, body)))
		return err;
	*ret_ino = e.ino;
	return 0;
}

/* The parent of a directory: the one INODE_REF key it has (the root is its own). */
static int dir_parent(struct pmcfs_fs *fs, struct pmcfs_tree *t, uint64_t dir, uint64_t *ret)
{
	struct pmcfs_ckey *keys;
	size_t n;
	int err;

	if (dir == PMCFS_ROOT_INO) {
		*ret = dir;
		return 0;
	}
	if ((err = ns_item_keys(fs, t, dir, PMCFS_KEY_INODE_REF, PMCFS_KEY_INODE_REF, &keys, &n)))
		return err;
	err = n == 1 ? 0 : -PMCFS_ECORRUPT;
	if (!err)
		*ret = keys[0].offset;
	free(keys);
	return err;
}

int pmcfs_ns_resolve(struct pmcfs_fs *fs, struct pmcfs_tree *t, const char *path, uint64_t *ret_ino)
{
	uint64_t ino = PMCFS_ROOT_INO;
	const char *p = path;
	int err;

	while (*p) {
		const char *end;
		size_t len;
		while (*p == '/')
			p++;
		if (!*p)
			break;
		end = strchr(p, '/');
		len = end ? (size_t)(end - p) : strlen(p);
		if (len == 1 && p[0] == '.')
			err = 0;
		else if (len == 2 && p[0] == '.' && p[1] == '.')
			err = dir_parent(fs, t, ino, &ino);
		else
			err = pmcfs_ns_lookup(fs, t, ino, p, len, &ino);
		if (err)
			return err;
		p += len;
	}
	*ret_ino = ino;
	return 0;
}

int pmcfs_ns_readdir(struct pmcfs_fs *fs, struct pmcfs_tree *t, uint64_t dir,
		     pmcfs_dirent_fn fn, void *ctx)
{
	struct pmcfs_ckey start = ns_key(dir, PMCFS_KEY_DIR_INDEX, 0), k;
	struct ns_inode din;
	struct pmcfs_iter *it;
	const void *body;
	uint32_t size;
	int err;

	if ((err = get_dir(fs, t, dir, &din)) || (err = pmcfs_iter_start(fs, t, &start, &it)))
		return err;
	while ((err = pmcfs_iter_next(it, &k, &body, &size)) > 0) {
		uint32_t pos = 0;
		struct dent e;
		if (k.objectid != dir || k.type != PMCFS_KEY_DIR_INDEX) {
			err = 0;
			break;
		}
		if ((err = dent_next(body, size, &pos, &e)) || pos != size) {
			err = -PMCFS_ECORRUPT;
			break;
		}
		if ((err = fn(ctx, e.name, e.len, e.ino, e.type, k.offset)))
			break;
	}
	pmcfs_iter_free(it);
	return err;
}

/* The three items of one name. */
static int link_add(struct pmcfs_trans *tx, struct pmcfs_tree *t, struct ns_inode *din,
		    const char *name, size_t len, uint64_t ino, unsigned type)
{
	uint64_t index = pmcfs_inode_next_index(&din->d);
	struct pmcfs_ckey ke = ns_key(din->ino, PMCFS_KEY_DIR_ENTRY, pmcfs_name_hash(name, len));
	struct pmcfs_ckey ki = ns_key(din->ino, PMCFS_KEY_DIR_INDEX, index);
	struct pmcfs_ckey kr = ns_key(ino, PMCFS_KEY_INODE_REF, din->ino);
	uint8_t body[sizeof(struct pmcfs_dirent) + PMCFS_NAME_MAX + 8];
	int err;

	pmcfs_set_inode_next_index(&din->d, index + 1);
	pmcfs_set_inode_size(&din->d, pmcfs_inode_size(&din->d) + 1);
	ns_touch(din, true);
	pmcfs_dirent_encode(body, ino, index, type, name, len);
	if ((err = packed_add(tx, t, &ke, ino, index, type, name, len)) ||
	    (err = pmcfs_tree_insert(tx, t, &ki, body, ns_dirent_size(len))))
		return err;
	return packed_add(tx, t, &kr, din->ino, index, PMCFS_FT_DIR, name, len);
}

static int link_remove(struct pmcfs_trans *tx, struct pmcfs_tree *t, struct ns_inode *din,
		       const struct dent *e)
{
	struct pmcfs_ckey ke = ns_key(din->ino, PMCFS_KEY_DIR_ENTRY, pmcfs_name_hash(e->name, e->len));
	struct pmcfs_ckey ki = ns_key(din->ino, PMCFS_KEY_DIR_INDEX, e->index);
	struct pmcfs_ckey kr = ns_key(e->ino, PMCFS_KEY_INODE_REF, din->ino);
	char name[PMCFS_NAME_MAX];
	size_t len = e->len;
	int err;

	memcpy(name, e->name, len);	/* e points into a buffer the next calls reuse */
	if (!pmcfs_inode_size(&din->d))
		return -PMCFS_ECORRUPT;
	pmcfs_set_inode_size(&din->d, pmcfs_inode_size(&din->d) - 1);
	ns_touch(din, true);
	if ((err = packed_remove(tx, t, &ke, name, len, 0)))
		return err;
	if ((err = pmcfs_tree_delete(tx, t, &ki)))
		return err == -ENOENT ? -PMCFS_ECORRUPT : err;
	return packed_remove(tx, t, &kr, name, len, din->ino);
}

static int check_new_name(struct pmcfs_fs *fs, struct pmcfs_tree *t, struct ns_inode *din,
			  uint64_t dir, const char *name, size_t len)
{
	uint64_t ino;
	int err;

	if ((err = name_error(name, len)))
		return err;
	if ((err = get_dir(fs, t, dir, din)))
		return err;
	if (!pmcfs_inode_nlink(&din->d))
		return -ENOENT;		/* a removed directory takes no new names */
	err = pmcfs_ns_lookup(fs, t, dir, name, len, &ino);
	return err == -ENOENT ? 0 : err ? err : -EEXIST;
}

static int create_inode(struct pmcfs_trans *tx, struct pmcfs_tree *t, uint64_t dir,
			const char *name, size_t len, const struct pmcfs_create_args *a,
			uint64_t size, uint64_t *ret_ino)
{
	struct ns_inode din, in;
	unsigned type = pmcfs_ftype(a->mode);
	bool isdir = type == PMCFS_FT_DIR;
	int err = check_new_name(tx->fs, t, &din, dir, name, len);

	if (err)
		return err;
	if (!type)
		return -EINVAL;
	if ((err = ns_inode_alloc(tx, t, &in.ino)))
		return err;
	memset(&in.d, 0, sizeof(in.d));
	pmcfs_set_inode_mode(&in.d, a->mode);
	pmcfs_set_inode_uid(&in.d, a->uid);
	pmcfs_set_inode_gid(&in.d, a->gid);
	pmcfs_set_inode_nlink(&in.d, isdir ? 2 : 1);
	pmcfs_set_inode_size(&in.d, size);
	pmcfs_set_inode_flags(&in.d, a->flags);
	pmcfs_set_inode_generation(&in.d, tx->gen);
	if (type == PMCFS_FT_CHR || type == PMCFS_FT_BLK)
		pmcfs_set_inode_rdev(&in.d, a->rdev);
	if (isdir)
		pmcfs_set_inode_next_index(&in.d, 2);
	ns_now(&in.d.crtime);
	in.d.atime = in.d.mtime = in.d.ctime = in.d.crtime;
	{
		struct pmcfs_ckey k = ns_key(in.ino, PMCFS_KEY_INODE, 0);
		if ((err = pmcfs_tree_insert(tx, t, &k, &in.d, sizeof(in.d))))
			return err;
	}
	if ((err = link_add(tx, t, &din, name, len, in.ino, type)))
		return err;
	if (isdir)
		pmcfs_set_inode_nlink(&din.d, pmcfs_inode_nlink(&din.d) + 1);
	*ret_ino = in.ino;
	return ns_inode_put(tx, t, &din);
}

int pmcfs_ns_create(struct pmcfs_trans *tx, struct pmcfs_tree *t, uint64_t dir,
		    const char *name, size_t len, const struct pmcfs_create_args *a, uint64_t *ret_ino)
{
	if ((a->mode & S_IFMT) == S_IFLNK)
		return -EINVAL;		/* symlinks need a target: pmcfs_ns_symlink */
	return create_inode(tx, t, dir, name, len, a, 0, ret_ino);
}

int pmcfs_ns_symlink(struct pmcfs_trans *tx, struct pmcfs_tree *t, uint64_t dir,
		     const char *name, size_t len, const char *target, size_t tlen,
		     uint32_t uid, uint32_t gid, uint64_t *ret_ino)
{
	struct pmcfs_create_args a = { S_IFLNK | 0777, uid, gid, 0, 0 };
	int err;

	if (!tlen)
		return -ENOENT;
	if (tlen >= 4096 || memchr(target, 0, tlen))
		return tlen >= 4096 ? -ENAMETOOLONG : -EINVAL;
	if ((err = create_inode(tx, t, dir, name, len, &a, tlen, ret_ino)))
		return err;
	for (size_t off = 0; off < tlen && !err; off += PMCFS_SYMLINK_CHUNK) {
		struct pmcfs_ckey k = ns_key(*ret_ino, PMCFS_KEY_SYMLINK, off);
		size_t n = tlen - off < PMCFS_SYMLINK_CHUNK ? tlen - off : PMCFS_SYMLINK_CHUNK;
		err = pmcfs_tree_insert(tx, t, &k, target + off, n);
	}
	return err;
}

int pmcfs_ns_readlink(struct pmcfs_fs *fs, struct pmcfs_tree *t, uint64_t ino, char *buf,
		      size_t bufsize, size_t *ret_len)
{
	struct ns_inode in;
	uint64_t size;
	int err = ns_inode_get(fs, t, ino, &in);

	if (err)
		return err;
	if ((pmcfs_inode_mode(&in.d) & S_IFMT) != S_IFLNK)
		return -EINVAL;
	size = pmcfs_inode_size(&in.d);
	if (size == 0 || size >= 4096)
		return -PMCFS_ECORRUPT;
	if (size > bufsize)
		return -ERANGE;
	for (uint64_t off = 0; off < size; off += PMCFS_SYMLINK_CHUNK) {
		struct pmcfs_ckey k = ns_key(ino, PMCFS_KEY_SYMLINK, off);
		uint32_t n, want = size - off < PMCFS_SYMLINK_CHUNK ? size - off : PMCFS_SYMLINK_CHUNK;
		err = pmcfs_tree_lookup(fs, t, &k, buf + off, want, &n);
		if (err || n != want)
			return err == -ENOENT || !err ? -PMCFS_ECORRUPT : err;
	}
	*ret_len = size;
	return 0;
}

int pmcfs_ns_link(struct pmcfs_trans *tx, struct pmcfs_tree *t, uint64_t ino, uint64_t dir,
		  const char *name, size_t len)
{
	struct ns_inode din, in;
	int err = check_new_name(tx->fs, t, &din, dir, name, len);

	if (err || (err = ns_inode_get(tx->fs, t, ino, &in)))
		return err;
	if ((pmcfs_inode_mode(&in.d) & S_IFMT) == S_IFDIR)
		return -EPERM;
	if (!pmcfs_inode_nlink(&in.d))
		return -ENOENT;
	if (pmcfs_inode_nlink(&in.d) >= UINT32_MAX - 1)
		return -EMLINK;
	pmcfs_set_inode_nlink(&in.d, pmcfs_inode_nlink(&in.d) + 1);
	ns_touch(&in, false);
	if ((err = link_add(tx, t, &din, name, len, ino, pmcfs_ftype(pmcfs_inode_mode(&in.d)))) ||
	    (err = ns_inode_put(tx, t, &in)))
		return err;
	return ns_inode_put(tx, t, &din);
}

static int dir_is_empty(struct pmcfs_fs *fs, struct pmcfs_tree *t, uint64_t dir)
{
	struct pmcfs_ckey *keys;
	size_t n;
	int err = ns_item_keys(fs, t, dir, PMCFS_KEY_DIR_INDEX, PMCFS_KEY_DIR_INDEX, &keys, &n);

	free(err ? NULL : keys);
	return err ? err : n == 0;
}

/* Drop one link of e->ino (named e in din); evict or orphan it at zero. */
static int drop_link(struct pmcfs_trans *tx, struct pmcfs_tree *t, struct ns_inode *din,
		     const struct dent *e, unsigned flags)
{
	struct ns_inode in;
	uint64_t ino = e->ino;
	bool isdir;
	int err;

	if ((err = ns_inode_get(tx->fs, t, ino, &in)))
		return err == -ENOENT ? -PMCFS_ECORRUPT : err;
	isdir = (pmcfs_inode_mode(&in.d) & S_IFMT) == S_IFDIR;
	if (isdir && !(flags & PMCFS_UNLINK_DIR))
		return -EISDIR;
	if (!isdir && (flags & PMCFS_UNLINK_DIR))
		return -ENOTDIR;
	if (isdir && (err = dir_is_empty(tx->fs, t, ino)) <= 0)
		return err < 0 ? err : -ENOTEMPTY;
	if ((err = link_remove(tx, t, din, e)))
		return err;
	if (isdir) {
		pmcfs_set_inode_nlink(&in.d, 0);
		pmcfs_set_inode_nlink(&din->d, pmcfs_inode_nlink(&din->d) - 1);
	} else {
		pmcfs_set_inode_nlink(&in.d, pmcfs_inode_nlink(&in.d) - 1);
	}
	ns_touch(&in, false);
	if (pmcfs_inode_nlink(&in.d))
		return ns_inode_put(tx, t, &in);
	if (flags & PMCFS_UNLINK_OPEN) {
		struct pmcfs_ckey ko = ns_key(PMCFS_ORPHAN_OBJECTID, PMCFS_KEY_ORPHAN, ino);
		if ((err = ns_inode_put(tx, t, &in)))
			return err;
		return pmcfs_tree_insert(tx, t, &ko, NULL, 0);
	}
	return ns_inode_evict(tx, t, ino);
}

int pmcfs_ns_unlink(struct pmcfs_trans *tx, struct pmcfs_tree *t, uint64_t dir, const char *name,
		    size_t len, unsigned flags)
{
	uint8_t body[PACKED_MAX];
	struct ns_inode din;
	struct dent e;
	int err;

	if ((err = name_error(name, len)))
		return err;
	if ((err = get_dir(tx->fs, t, dir, &din)) ||
	    (err = find_entry(tx->fs, t, dir, name, len, &e, body)) ||
	    (err = drop_link(tx, t, &din, &e, flags)))
		return err;
	return ns_inode_put(tx, t, &din);
}

/* Would moving dir `moved` under `target` put it inside itself? */
static int is_ancestor(struct pmcfs_fs *fs, struct pmcfs_tree *t, uint64_t moved, uint64_t target)
{
	for (int depth = 0; depth < 100000; depth++) {
		uint64_t parent;
		int err;
		if (target == moved)
			return 1;
		if (target == PMCFS_ROOT_INO)
			return 0;
		if ((err = dir_parent(fs, t, target, &parent)))
			return err;
		target = parent;
	}
	return -PMCFS_ECORRUPT;		/* a cycle in the parent chain */
}

int pmcfs_ns_rename(struct pmcfs_trans *tx, struct pmcfs_tree *t, uint64_t sdir,
		    const char *sname, size_t slen, uint64_t ddir, const char *dname,
		    size_t dlen, unsigned flags)
{
	uint8_t sbody[PACKED_MAX], dbody[PACKED_MAX];
	struct ns_inode sd, dd, *dp;
	struct dent se, de;
	bool sisdir;
	int err;

	if ((err = name_error(sname, slen)) || (err = name_error(dname, dlen)))
		return err;
	if ((err = get_dir(tx->fs, t, sdir, &sd)) || (err = get_dir(tx->fs, t, ddir, &dd)) ||
	    (err = find_entry(tx->fs, t, sdir, sname, slen, &se, sbody)))
		return err;
	dp = sdir == ddir ? &sd : &dd;
	sisdir = se.type == PMCFS_FT_DIR;
	if (sdir == ddir && slen == dlen && !memcmp(sname, dname, slen))
		return 0;
	if (sisdir && sdir != ddir && (err = is_ancestor(tx->fs, t, se.ino, ddir)))
		return err < 0 ? err : -EINVAL;
	err = find_entry(tx->fs, t, ddir, dname, dlen, &de, dbody);
	if (err && err != -ENOENT)
		return err;
	if (!err) {
		if (flags & PMCFS_RENAME_NOREPLACE)
			return -EEXIST;
		if (de.ino == se.ino)
			return 0;	/* two links of one inode: POSIX says do nothing */
		if (sisdir != (de.type == PMCFS_FT_DIR))
			return sisdir ? -ENOTDIR : -EISDIR;
		if ((err = drop_link(tx, t, dp, &de, sisdir ? PMCFS_UNLINK_DIR : 0)))
			return err;
	}
	/* drop_link may have changed sd through dp when sdir == ddir. */
	if ((err = link_remove(tx, t, &sd, &se)))
		return err;
	if (sdir == ddir)
		dd = sd;
	if ((err = link_add(tx, t, &dd, dname, dlen, se.ino, se.type)))
		return err;
	if (sdir == ddir)
		return ns_inode_put(tx, t, &dd);
	if (sisdir) {
		pmcfs_set_inode_nlink(&sd.d, pmcfs_inode_nlink(&sd.d) - 1);
		pmcfs_set_inode_nlink(&dd.d, pmcfs_inode_nlink(&dd.d) + 1);
	}
	if ((err = ns_inode_put(tx, t, &sd)))
		return err;
	return ns_inode_put(tx, t, &dd);
}

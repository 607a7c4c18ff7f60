// SPDX-License-Identifier: MIT
/*
 * Extended attributes: XATTR items (ino, XATTR, hash of the full name),
 * names that collide packed into one item. Values are raw bytes of any
 * namespace (POSIX ACLs included). A name and value must fit in one
 * item together (PMCFS_MAX_ITEM_BODY), as ext4 without ea_inode limits
 * them to a block; larger values get -E2BIG.
 */
#include <errno.h>
#include <stdlib.h>
#include "ns_priv.h"

#define XHDR sizeof(struct pmcfs_xattr)

struct xent {
	const char *name;
	size_t name_len;
	const uint8_t *value;
	size_t value_len;
	uint32_t pos, size;
};

static uint32_t xent_size(size_t nlen, size_t vlen)
{
	return PMCFS_BODY_ALIGN(XHDR + nlen + vlen);
}

static int xent_next(const uint8_t *body, uint32_t size, uint32_t *pos, struct xent *e)
{
	struct pmcfs_xattr x;

	if (*pos + XHDR > size)
		return -PMCFS_ECORRUPT;
	memcpy(&x, body + *pos, XHDR);
	e->name_len = pmcfs_xattr_name_len(&x);
	e->value_len = pmcfs_xattr_value_len(&x);
	if (!e->name_len || e->name_len > PMCFS_XATTR_NAME_MAX || e->value_len > PMCFS_MAX_ITEM_BODY ||
	    pmcfs_xattr_nchunks(&x))
		return -PMCFS_ECORRUPT;
	e->size = xent_size(e->name_len, e->value_len);
	if (*pos + e->size > size)
		return -PMCFS_ECORRUPT;
	e->name = (const char *)body + *pos + XHDR;
	e->value = body + *pos + XHDR + e->name_len;
	e->pos = *pos;
	*pos += e->size;
	return 0;
}

static int xattr_item(struct pmcfs_fs *fs, struct pmcfs_tree *t, uint64_t ino, const char *name,
		      uint8_t *body, uint32_t *size, struct pmcfs_ckey *k)
{
	struct ns_inode in;
	size_t len = strlen(name);
	int err;

	if (!len || len > PMCFS_XATTR_NAME_MAX)
		return len ? -ERANGE : -EINVAL;
	if ((err = ns_inode_get(fs, t, ino, &in)))
		return err;
	*k = ns_key(ino, PMCFS_KEY_XATTR, pmcfs_name_hash(name, len));
	err = pmcfs_tree_lookup(fs, t, k, body, PMCFS_MAX_ITEM_BODY, size);
	if (err == -ENOENT) {
		*size = 0;
		return 0;
	}
	return !err && *size > PMCFS_MAX_ITEM_BODY ? -PMCFS_ECORRUPT : err;
}

static int xfind(const uint8_t *body, uint32_t size, const char *name, struct xent *e)
{
	size_t len = strlen(name);
	uint32_t pos = 0;
	int err;

	while (pos < size) {
		if ((err = xent_next(body, size, &pos, e)))
			return err;
		if (e->name_len == len && !memcmp(e->name, name, len))
			return 0;
	}
	return -ENODATA;
}

static int touch_inode(struct pmcfs_trans *tx, struct pmcfs_tree *t, uint64_t ino)
{
	struct ns_inode in;
	int err = ns_inode_get(tx->fs, t, ino, &in);

	if (err)
		return err;
	ns_touch(&in, false);
	return ns_inode_put(tx, t, &in);
}

int pmcfs_ns_setxattr(struct pmcfs_trans *tx, struct pmcfs_tree *t, uint64_t ino,
		      const char *name, const void *value, size_t vsize, unsigned flags)
{
	uint8_t body[PMCFS_MAX_ITEM_BODY];
	struct pmcfs_ckey k;
	struct pmcfs_xattr x;
	struct xent e;
	uint32_t size;
	size_t len = strlen(name);
	int err = xattr_item(tx->fs, t, ino, name, body, &size, &k);

	if (err)
		return err;
	err = xfind(body, size, name, &e);
	if (err && err != -ENODATA)
		return err;
	if (!err && (flags & PMCFS_XATTR_CREATE))
		return -EEXIST;
	if (err == -ENODATA && (flags & PMCFS_XATTR_REPLACE))
		return -ENODATA;
	if (!err) {
		memmove(body + e.pos, body + e.pos + e.size, size - e.pos - e.size);
		size -= e.size;
	}
	if (vsize > PMCFS_MAX_ITEM_BODY || size + xent_size(len, vsize) > PMCFS_MAX_ITEM_BODY)
		return -E2BIG;
	memset(&x, 0, sizeof(x));
	pmcfs_set_xattr_value_len(&x, (uint32_t)vsize);
	pmcfs_set_xattr_name_len(&x, (uint16_t)len);
	memset(body + size, 0, xent_size(len, vsize));
	memcpy(body + size, &x, XHDR);
	memcpy(body + size + XHDR, name, len);
	if (vsize)
		memcpy(body + size + XHDR + len, value, vsize);
	size += xent_size(len, vsize);
	if ((err = pmcfs_tree_update(tx, t, &k, body, size)))
		return err;
	return touch_inode(tx, t, ino);
}

int pmcfs_ns_getxattr(struct pmcfs_fs *fs, struct pmcfs_tree *t, uint64_t ino, const char *name,
		      void *buf, size_t bufsize, size_t *ret_size)
{
	uint8_t body[PMCFS_MAX_ITEM_BODY];
	struct pmcfs_ckey k;
	struct xent e;
	uint32_t size;
	int err = xattr_item(fs, t, ino, name, body, &size, &k);

	if (err || (err = xfind(body, size, name, &e)))
		return err;
	if (ret_size)
		*ret_size = e.value_len;
	if (e.value_len > bufsize)
		return -ERANGE;
	memcpy(buf, e.value, e.value_len);
	return 0;
}

int pmcfs_ns_listxattr(struct pmcfs_fs *fs, struct pmcfs_tree *t, uint64_t ino,
		       pmcfs_xattr_fn fn, void *ctx)
{
	struct pmcfs_ckey start = ns_key(ino, PMCFS_KEY_XATTR, 0), k;
	struct ns_inode in;
	struct pmcfs_iter *it;
	const void *body;
	uint32_t size;
	int err;

	if ((err = ns_inode_get(fs, t, ino, &in)) || (err = pmcfs_iter_start(fs, t, &start, &it)))
		return err;
	while ((err = pmcfs_iter_next(it, &k, &body, &size)) > 0) {
		uint32_t pos = 0;
		if (k.objectid != ino || k.type != PMCFS_KEY_XATTR) {
			err = 0;
			break;
		}
		while (pos < size && err > 0) {
			struct xent e;
			char name[PMCFS_XATTR_NAME_MAX + 1];
			if ((err = xent_next(body, size, &pos, &e))) {
				break;
			}
			memcpy(name, e.name, e.name_len);
			name[e.name_len] = 0;
			err = fn(ctx, name, e.value, e.value_len);
			if (!err)
				err = 1;
		}
		if (err <= 0)
			break;
	}
	pmcfs_iter_free(it);
	return err;
}

int pmcfs_ns_removexattr(struct pmcfs_trans *tx, struct pmcfs_tree *t, uint64_t ino, const char *name)
{
	uint8_t body[PMCFS_MAX_ITEM_BODY];
	struct pmcfs_ckey k;
	struct xent e;
	uint32_t size;
	int err = xattr_item(tx->fs, t, ino, name, body, &size, &k);

	if (err || (err = xfind(body, size, name, &e)))
		return err;
	memmove(body + e.pos, body + e.pos + e.size, size - e.pos - e.size);
	size -= e.size;
	err = size ? pmcfs_tree_update(tx, t, &k, body, size) : pmcfs_tree_delete(tx, t, &k);
	return err ? err : touch_inode(tx, t, ino);
}

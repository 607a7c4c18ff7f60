// SPDX-License-Identifier: MIT
/*
 * Pass 4 repairs, one transaction each, so an interrupted repair leaves
 * the old or the repaired state. The namespace API is used where it has
 * the operation (pmcfs_ns_create for /lost+found, pmcfs_ns_rename to move
 * a directory out of a cycle, pmcfs_ns_orphans_finish). Where it has none
 * - rewriting one inode field, deleting one dangling name whose inode is
 * gone (the API looks the inode up first), naming a directory or an inode
 * whose link count is 0 (pmcfs_ns_link refuses both), recreating the twin
 * of a half-written name - fsck edits the exact items with
 * pmcfs_tree_update/insert/delete, laid out as lib/ns_dir.c lays them
 * out, and data references are released with pmcfs_space_dec as
 * lib/ns_extent.c releases them.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include "pass4.h"
#include "pmcfs_endian.h"
#include "pmcfs_ns.h"

#define BODY_MAX PMCFS_MAX_ITEM_BODY
/* The filesystem of the transaction under way (p4_repair sets it). */
static struct pmcfs_fs *rfs;

#define DSZ(len) pmcfs_dirent_size(len)

static struct pmcfs_ckey key(uint64_t o, uint8_t t, uint64_t off)
{
	struct pmcfs_ckey k = { o, t, off };
	return k;
}

static int get_inode(struct pmcfs_fs *fs, struct pmcfs_tree *t, uint64_t ino, struct pmcfs_inode *d)
{
	struct pmcfs_ckey k = key(ino, PMCFS_KEY_INODE, 0);
	uint32_t size;
	int rc = pmcfs_tree_lookup(fs, t, &k, d, sizeof(*d), &size);

	return rc ? rc : size == sizeof(*d) ? 0 : -PMCFS_ECORRUPT;
}

static int put_inode(struct pmcfs_trans *tx, struct pmcfs_tree *t, uint64_t ino, const struct pmcfs_inode *d)
{
	struct pmcfs_ckey k = key(ino, PMCFS_KEY_INODE, 0);
	return pmcfs_tree_update(tx, t, &k, d, sizeof(*d));
}

/* Element of a packed body with this index (and parent, for INODE_REF): its offset and size. */
static bool find_elem(const uint8_t *body, uint32_t size, uint64_t index, uint32_t *ret_pos, uint32_t *ret_sz)
{
	uint32_t pos = 0;

	while (pos + sizeof(struct pmcfs_dirent) <= size) {
		struct pmcfs_dirent d;
		uint32_t sz;
		memcpy(&d, body + pos, sizeof(d));
		sz = DSZ(pmcfs_dirent_name_len(&d));
		if (!pmcfs_dirent_name_len(&d) || pos + sz > size)
			return false;
		if (pmcfs_dirent_index(&d) == index) {
			*ret_pos = pos;
			*ret_sz = sz;
			return true;
		}
		pos += sz;
	}
	return false;
}

/* The DIR_ENTRY item of dir holding the name with this index: key and body. */
static int entry_by_index(struct pmcfs_fs *fs, struct pmcfs_tree *t, uint64_t dir, uint64_t index,
			  struct pmcfs_ckey *ret_key, uint8_t *body, uint32_t *size, uint32_t *pos,
			  uint32_t *sz)
{
	struct pmcfs_ckey start = key(dir, PMCFS_KEY_DIR_ENTRY, 0), k;
	struct pmcfs_iter *it;
	const void *b;
	uint32_t bs;
	int rc;

	if ((rc = pmcfs_iter_start(fs, t, &start, &it)))
		return rc;
	while ((rc = pmcfs_iter_next(it, &k, &b, &bs)) > 0) {
		if (k.objectid != dir || k.type != PMCFS_KEY_DIR_ENTRY) {
			rc = 0;
			break;
		}
		if (bs <= BODY_MAX && find_elem(b, bs, index, pos, sz)) {
			memcpy(body, b, bs);
			*size = bs;
			*ret_key = k;
			break;
		}
	}
	pmcfs_iter_free(it);
	return rc < 0 ? rc : rc ? 0 : -ENOENT;
}

/* Remove the element [pos, pos+sz) of the packed item at k (the item if it was the last). */
static int packed_cut(struct pmcfs_trans *tx, struct pmcfs_tree *t, const struct pmcfs_ckey *k,
		      uint8_t *body, uint32_t size, uint32_t pos, uint32_t sz)
{
	memmove(body + pos, body + pos + sz, size - pos - sz);
	size -= sz;
	return size ? pmcfs_tree_update(tx, t, k, body, size) : pmcfs_tree_delete(tx, t, k);
}

static int packed_append(struct pmcfs_trans *tx, struct pmcfs_tree *t, const struct pmcfs_ckey *k,
			 const uint8_t *elem, uint32_t sz)
{
	uint8_t body[BODY_MAX];
	uint32_t size = 0;
	int rc = pmcfs_tree_lookup(rfs, t, k, body, sizeof(body), &size);

	if (rc == -ENOENT)
		size = 0;
	else if (rc)
		return rc;
	if (size > sizeof(body) || size + sz > BODY_MAX)
		return -ENOSPC;
	memcpy(body + size, elem, sz);
	return pmcfs_tree_update(tx, t, k, body, size + sz);
}

/* Remove the element with this index from the packed item at k, if both are there. */
static int packed_remove(struct pmcfs_trans *tx, struct pmcfs_tree *t, const struct pmcfs_ckey *k,
			 uint64_t index)
{
	uint8_t body[BODY_MAX];
	uint32_t size, pos, sz;
	int rc = pmcfs_tree_lookup(rfs, t, k, body, sizeof(body), &size);

	if (rc)
		return rc == -ENOENT ? 0 : rc;
	if (size > sizeof(body) || !find_elem(body, size, index, &pos, &sz))
		return 0;
	return packed_cut(tx, t, k, body, size, pos, sz);
}

/* A name's three items gone, whichever of them exist (its inode may be gone too). */
static int remove_name(struct pmcfs_trans *tx, struct pmcfs_tree *t, uint64_t dir, uint64_t index)
{
	struct pmcfs_ckey ki = key(dir, PMCFS_KEY_DIR_INDEX, index), ke;
	uint8_t body[BODY_MAX];
	uint32_t size, pos, sz;
	uint64_t child = 0;
	int rc = pmcfs_tree_lookup(rfs, t, &ki, body, sizeof(body), &size);

	if (!rc && size >= sizeof(struct pmcfs_dirent))
		child = pmcfs_dirent_ino((const struct pmcfs_dirent *)(const void *)body);
	if (!rc && (rc = pmcfs_tree_delete(tx, t, &ki)))
		return rc;
	if (rc && rc != -ENOENT)
		return rc;
	rc = entry_by_index(rfs, t, dir, index, &ke, body, &size, &pos, &sz);
	if (!rc) {
		struct pmcfs_dirent d;
		memcpy(&d, body + pos, sizeof(d));
		child = pmcfs_dirent_ino(&d);
		rc = packed_cut(tx, t, &ke, body, size, pos, sz);
	}
	if (rc && rc != -ENOENT)
		return rc;
	if (!child)
		return 0;
	ke = key(child, PMCFS_KEY_INODE_REF, dir);
	return packed_remove(tx, t, &ke, index);
}

/* A new name: what lib/ns_dir.c link_add() writes, for any inode. */
static int add_name(struct pmcfs_trans *tx, struct pmcfs_tree *t, uint64_t dir, const char *name,
		    size_t len, uint64_t child, unsigned type)
{
	uint8_t elem[sizeof(struct pmcfs_dirent) + PMCFS_NAME_MAX + 8];
	struct pmcfs_inode d;
	struct pmcfs_ckey ke = key(dir, PMCFS_KEY_DIR_ENTRY, pmcfs_name_hash(name, len));
	struct pmcfs_ckey kr = key(child, PMCFS_KEY_INODE_REF, dir), ki;
	uint64_t index;
	int rc = get_inode(rfs, t, dir, &d);

	if (rc)
		return rc;
	index = pmcfs_inode_next_index(&d);
	ki = key(dir, PMCFS_KEY_DIR_INDEX, index);
	pmcfs_dirent_encode(elem, child, index, type, name, len);
	if ((rc = packed_append(tx, t, &ke, elem, DSZ(len))) ||
	    (rc = pmcfs_tree_insert(tx, t, &ki, elem, DSZ(len))))
		return rc;
	pmcfs_dirent_encode(elem, dir, index, PMCFS_FT_DIR, name, len);
	if ((rc = packed_append(tx, t, &kr, elem, DSZ(len))))
		return rc;
	pmcfs_set_inode_next_index(&d, index + 1);
	pmcfs_set_inode_size(&d, pmcfs_inode_size(&d) + 1);
	if (type == PMCFS_FT_DIR)
		pmcfs_set_inode_nlink(&d, pmcfs_inode_nlink(&d) + 1);
	return put_inode(tx, t, dir, &d);
}

/* Extent references pass 2 counted for this item body (what to release with it). */
static void counted(const struct fsck_ctx *ctx, const void *body, uint32_t size, uint64_t *phys, uint64_t *n)
{
	struct pmcfs_extent e;

	*phys = *n = 0;
	if (size != sizeof(e))
		return;
	memcpy(&e, body, sizeof(e));
	if (pmcfs_extent_nblocks(&e) && pmcfs_extent_phys(&e) >= ctx->sb.data_start &&
	    pmcfs_extent_phys(&e) < ctx->sb.data_end &&
	    pmcfs_extent_nblocks(&e) <= ctx->sb.data_end - pmcfs_extent_phys(&e)) {
		*phys = pmcfs_extent_phys(&e);
		*n = pmcfs_extent_nblocks(&e);
	}
}

static int delete_item(struct p4_sv *s, struct pmcfs_trans *tx, const struct pmcfs_ckey *k)
{
	uint8_t body[BODY_MAX];
	uint32_t size;
	uint64_t phys = 0, n = 0;
	int rc;

	if (k->type == PMCFS_KEY_EXTENT) {
		if ((rc = pmcfs_tree_lookup(rfs, s->t, k, body, sizeof(body), &size)))
			return rc;
		counted(s->ctx, body, size, &phys, &n);
	}
	if ((rc = pmcfs_tree_delete(tx, s->t, k)))
		return rc;
	return n ? pmcfs_space_dec(tx, phys, n) : 0;
}

/* Every item of one inode, extents' references released. */
static int clear_inode(struct p4_sv *s, struct pmcfs_trans *tx, uint64_t ino)
{
	struct pmcfs_ckey start = key(ino, 0, 0), k, *keys = NULL;
	size_t n = 0, cap = 0;
	struct pmcfs_iter *it;
	const void *b;
	uint32_t bs;
	int rc;

	if ((rc = pmcfs_iter_start(rfs, s->t, &start, &it)))
		return rc;
	while ((rc = pmcfs_iter_next(it, &k, &b, &bs)) > 0 && k.objectid == ino) {
		keys = xgrow(keys, &cap, n + 1, sizeof(*keys));
		keys[n++] = k;
	}
	pmcfs_iter_free(it);
	for (size_t i = 0; rc >= 0 && i < n; i++)
		rc = delete_item(s, tx, &keys[i]);
	free(keys);
	return rc < 0 ? rc : 0;
}

/* An extent item of the inode being settled: key, body, and the range the scan reads. */
struct fext {
	struct pmcfs_ckey k;
	struct pmcfs_extent e;
	uint64_t fblk, n;		/* file blocks [fblk, fblk + n) */
	uint64_t cut;			/* blocks lost from its head; n: the whole item */
};

/* The inode's extent items that the scan reads as extents (pass4-items.c); others are P4.009's. */
static int read_extents(struct p4_sv *s, uint64_t ino, struct fext **ret, size_t *ret_n)
{
	struct pmcfs_ckey start = key(ino, PMCFS_KEY_EXTENT, 0), k;
	struct pmcfs_iter *it;
	struct fext *v = NULL;
	size_t n = 0, cap = 0;
	const void *b;
	uint32_t bs;
	int rc;

	if ((rc = pmcfs_iter_start(rfs, s->t, &start, &it)))
		return rc;
	while ((rc = pmcfs_iter_next(it, &k, &b, &bs)) > 0 && k.objectid == ino &&
	       k.type == PMCFS_KEY_EXTENT) {
		struct fext f = { .k = k };
		if (!p4_extent_usable(&k, b, bs))
			continue;
		memcpy(&f.e, b, sizeof(f.e));
		f.fblk = k.offset / PMCFS_BLOCK_SIZE;
		f.n = pmcfs_extent_nblocks(&f.e);
		v = xgrow(v, &cap, n + 1, sizeof(*v));
		v[n++] = f;
	}
	pmcfs_iter_free(it);
	if (rc < 0) {
		free(v);
		return rc;
	}
	*ret = v;
	*ret_n = n;
	return 0;
}

/*
 * Overlapping extents of one file (P4.010): in key order the extent that
 * starts first keeps its range, and a later one loses the part already
 * mapped - its head (the item moves up past it) or, if nothing is left,
 * the whole item - and the references to the blocks it loses. Every
 * overlap of the inode is settled at once: removing all changed items
 * before inserting the trimmed ones, so a trimmed extent never meets a
 * later one at its new key (that one overlaps it too, and moves or goes).
 */
static int settle_overlaps(struct p4_sv *s, struct pmcfs_trans *tx, uint64_t ino)
{
	char tn[32];
	struct fext *v;
	size_t n, changed = 0;
	uint64_t end = 0;
	int rc = read_extents(s, ino, &v, &n);

	if (rc)
		return rc;
	for (size_t i = 0; i < n; i++) {
		if (i && v[i].fblk < end)
			v[i].cut = end - v[i].fblk < v[i].n ? end - v[i].fblk : v[i].n;
		changed += v[i].cut != 0;
		if (v[i].fblk + v[i].n > end)
			end = v[i].fblk + v[i].n;
	}
	snprintf(tn, sizeof(tn), "subvolume %llu", (unsigned long long)s->sv->id);
	for (size_t i = 0; !rc && i < n; i++) {
		uint64_t phys, cnt;
		if (!v[i].cut)
			continue;
		counted(s->ctx, &v[i].e, sizeof(v[i].e), &phys, &cnt);
		if (!(rc = pmcfs_tree_delete(tx, s->t, &v[i].k)) && cnt)
			rc = pmcfs_space_dec(tx, phys, v[i].cut);
	}
	for (size_t i = 0; !rc && i < n; i++) {
		if (!v[i].cut || v[i].cut == v[i].n)
			continue;
		pmcfs_set_extent_phys(&v[i].e, pmcfs_extent_phys(&v[i].e) + v[i].cut);
		pmcfs_set_extent_nblocks(&v[i].e, (uint32_t)(v[i].n - v[i].cut));
		v[i].k.offset += v[i].cut * PMCFS_BLOCK_SIZE;
		rc = pmcfs_tree_insert(tx, s->t, &v[i].k, &v[i].e, sizeof(v[i].e));
		/*
		 * Every usable extent that overlapped moved or went above, so
		 * what holds the key is an item the scan could not use (P4.009
		 * deletes it, and releases what it counted): it goes now.
		 */
		if (rc == -EEXIST && !(rc = pmcfs_tree_delete(tx, s->t, &v[i].k))) {
			out(s->ctx, "deleted from %s: the malformed extent item of inode %llu at offset "
				    "%llu (the trimmed extent takes its key)\n", tn,
			    (unsigned long long)ino, (unsigned long long)v[i].k.offset);
			rc = pmcfs_tree_insert(tx, s->t, &v[i].k, &v[i].e, sizeof(v[i].e));
		}
	}
	/* Said once it is all done: a failure aborts the whole transaction. */
	for (size_t i = 0; !rc && i < n; i++) {
		uint64_t lost = v[i].cut * PMCFS_BLOCK_SIZE;
		uint64_t off = v[i].k.offset - (v[i].cut == v[i].n ? 0 : lost);
		if (v[i].cut == v[i].n)
			out(s->ctx, "deleted from %s: the extent item of inode %llu at offset %llu (its "
				    "range is mapped by an earlier extent)\n", tn, (unsigned long long)ino,
			    (unsigned long long)off);
		else if (v[i].cut)
			out(s->ctx, "trimmed in %s: the extent of inode %llu at offset %llu now starts at "
				    "%llu (bytes %llu-%llu are mapped by an earlier extent)\n", tn,
			    (unsigned long long)ino, (unsigned long long)off,
			    (unsigned long long)(off + lost), (unsigned long long)off,
			    (unsigned long long)(off + lost - 1));
	}
	free(v);
	if (!rc && changed)
		p4_lost_data(s, ino);
	return rc;
}

/*
 * P4.009's item, unless P4.010's trim took its key first (settle_overlaps
 * deleted it and put a usable extent there). What pass 2 counted for it
 * is released either way, by the caller.
 */
static int delete_bad_extent(struct p4_sv *s, struct pmcfs_trans *tx, const struct pmcfs_ckey *k)
{
	uint8_t body[64];
	uint32_t size;
	int rc = pmcfs_tree_lookup(rfs, s->t, k, body, sizeof(body), &size);

	/* A longer body is truncated into buf: its size alone makes it unusable. */
	if (rc == -ENOENT || (!rc && p4_extent_usable(k, body, size)))
		return 0;
	return rc ? rc : pmcfs_tree_delete(tx, s->t, k);
}

/* Once per file: a cleared inode's names dangle next, and say it again. */
static bool first_say(struct fsck_ctx *ctx, uint64_t tree, uint64_t ino)
{
	for (size_t i = 0; i < ctx->nlost_said; i++)
		if (ctx->lost_said[i].tree == tree && ctx->lost_said[i].ino == ino)
			return false;
	ctx->lost_said = xgrow(ctx->lost_said, &ctx->lost_said_cap, ctx->nlost_said + 1,
			       sizeof(*ctx->lost_said));
	ctx->lost_said[ctx->nlost_said].tree = tree;
	ctx->lost_said[ctx->nlost_said++].ino = ino;
	return true;
}

static void name_path(struct p4_sv *s, uint64_t dir, uint64_t index, char *buf, size_t bufsize);

void p4_lost_data(struct p4_sv *s, uint64_t ino)
{
	char path[1400];

	if (!first_say(s->ctx, s->sv->id, ino))
		return;
	p4_path(s->ctx, s->sv->id, ino, path, sizeof(path));
	/* No back-reference left: a name in a directory may still say where it was. */
	for (size_t i = 0; path[0] == '<' && i < s->nlinks; i++) {
		char named[sizeof(path)];
		if (s->links[i].child != ino || s->links[i].bad)
			continue;
		name_path(s, s->links[i].parent, s->links[i].index, named, sizeof(named));
		if (named[0] != '<')
			memcpy(path, named, sizeof(path));
	}
	out(s->ctx, "lost data: subvolume %llu: %s (inode %llu)\n", (unsigned long long)s->sv->id, path,
	    (unsigned long long)ino);
}

/* "DIRPATH/NAME" for the name at index in dir. */
static void name_path(struct p4_sv *s, uint64_t dir, uint64_t index, char *buf, size_t bufsize)
{
	struct pmcfs_ckey ki = key(dir, PMCFS_KEY_DIR_INDEX, index);
	char path[1024], name[PMCFS_NAME_MAX + 1] = "?";
	uint8_t body[BODY_MAX];
	uint32_t size;

	p4_path(s->ctx, s->sv->id, dir, path, sizeof(path));
	if (!pmcfs_tree_lookup(s->ctx->fs, s->t, &ki, body, sizeof(body), &size) &&
	    size >= sizeof(struct pmcfs_dirent)) {
		struct pmcfs_dirent d;
		size_t len;
		memcpy(&d, body, sizeof(d));
		len = pmcfs_dirent_name_len(&d);
		if (len <= PMCFS_NAME_MAX && len <= size - sizeof(d)) {
			for (size_t i = 0; i < len; i++) {
				char c = (char)body[sizeof(d) + i];
				name[i] = c > 0x1f && c != 0x7f ? c : '?';
			}
			name[len] = 0;
		}
	}
	snprintf(buf, bufsize, "%s%s%s", path, strcmp(path, "/") ? "/" : "", name);
}

/* A name whose inode is gone: the file it named is lost, say which. */
static void lost_name(struct p4_sv *s, uint64_t dir, uint64_t index, uint64_t child)
{
	char path[1400];

	if (!first_say(s->ctx, s->sv->id, child))
		return;
	name_path(s, dir, index, path, sizeof(path));
	out(s->ctx, "lost data: subvolume %llu: %s (inode %llu)\n", (unsigned long long)s->sv->id,
	    path, (unsigned long long)child);
}

static int lost_found(struct pmcfs_trans *tx, struct pmcfs_tree *t, uint64_t *ret)
{
	static const char name[] = "lost+found";
	struct pmcfs_create_args a = { S_IFDIR | 0700, 0, 0, 0, 0 };
	struct pmcfs_stat st;
	int rc = pmcfs_ns_lookup(rfs, t, PMCFS_ROOT_INO, name, sizeof(name) - 1, ret);

	if (rc == -ENOENT)
		return pmcfs_ns_create(tx, t, PMCFS_ROOT_INO, name, sizeof(name) - 1, &a, ret);
	if (rc || (rc = pmcfs_ns_stat(rfs, t, *ret, &st)))
		return rc;
	return S_ISDIR(st.mode) ? 0 : -ENOTDIR;
}

static int reconnect(struct p4_sv *s, struct pmcfs_trans *tx, const struct p4_find *f)
{
	char name[32], old[PMCFS_NAME_MAX];
	uint8_t body[BODY_MAX];
	uint32_t size;
	uint64_t lf;
	struct pmcfs_inode d;
	int rc;

	snprintf(name, sizeof(name), "#%llu", (unsigned long long)f->ino);
	if ((rc = lost_found(tx, s->t, &lf)))
		return rc;
	if (f->arg == 1) {	/* in a cycle: move its name */
		struct pmcfs_dirent de;
		if ((rc = pmcfs_tree_lookup(rfs, s->t, &f->key, body, sizeof(body), &size)))
			return rc;
		memcpy(&de, body, sizeof(de));
		if (size < sizeof(de) + pmcfs_dirent_name_len(&de) || pmcfs_dirent_name_len(&de) > PMCFS_NAME_MAX)
			return -PMCFS_ECORRUPT;
		memcpy(old, body + sizeof(de), pmcfs_dirent_name_len(&de));
		return pmcfs_ns_rename(tx, s->t, f->key.objectid, old, pmcfs_dirent_name_len(&de), lf,
				       name, strlen(name), PMCFS_RENAME_NOREPLACE);
	}
	if ((rc = add_name(tx, s->t, lf, name, strlen(name), f->ino, (unsigned)f->arg2)))
		return rc;
	if (f->arg2 == PMCFS_FT_DIR || (rc = get_inode(rfs, s->t, f->ino, &d)))
		return rc;
	pmcfs_set_inode_nlink(&d, 1);
	return put_inode(tx, s->t, f->ino, &d);
}

/* A twin rebuilt from the name that survives: DIR_INDEX from DIR_ENTRY or back. */
static int twin(struct p4_sv *s, struct pmcfs_trans *tx, const struct p4_find *f)
{
	uint8_t body[BODY_MAX];
	uint32_t size, pos, sz;
	struct pmcfs_ckey k, ki = key(f->ino, PMCFS_KEY_DIR_INDEX, f->arg);
	struct pmcfs_dirent d;
	int rc;

	if (f->code == PR_NS_INDEX_NO_ENTRY) {
		if ((rc = pmcfs_tree_lookup(rfs, s->t, &ki, body, sizeof(body), &size)))
			return rc;
		memcpy(&d, body, sizeof(d));
		if (size != DSZ(pmcfs_dirent_name_len(&d)))
			return -PMCFS_ECORRUPT;
		k = key(f->ino, PMCFS_KEY_DIR_ENTRY,
			pmcfs_name_hash((const char *)body + sizeof(d), pmcfs_dirent_name_len(&d)));
		return packed_append(tx, s->t, &k, body, size);
	}
	if ((rc = entry_by_index(rfs, s->t, f->ino, f->arg, &k, body, &size, &pos, &sz)))
		return rc;
	if (f->code == PR_NS_ENTRY_NO_INDEX)
		return pmcfs_tree_insert(tx, s->t, &ki, body + pos, sz);
	/* ENTRY_NO_REF: the child's back-reference to this name. */
	memcpy(&d, body + pos, sizeof(d));
	pmcfs_set_dirent_ino(&d, f->ino);
	pmcfs_set_dirent_type(&d, PMCFS_FT_DIR);
	memcpy(body + pos, &d, sizeof(d));
	k = key(f->arg2, PMCFS_KEY_INODE_REF, f->ino);
	return packed_append(tx, s->t, &k, body + pos, sz);
}

/* Has the child of the name elem (a packed dirent) at index in dir a back-reference with that name? */
static bool has_ref(struct p4_sv *s, uint64_t dir, uint64_t index, const uint8_t *elem)
{
	struct pmcfs_dirent d, r;
	struct pmcfs_ckey kr;
	uint8_t body[BODY_MAX];
	uint32_t size, pos, sz;

	memcpy(&d, elem, sizeof(d));
	kr = key(pmcfs_dirent_ino(&d), PMCFS_KEY_INODE_REF, dir);
	if (pmcfs_tree_lookup(rfs, s->t, &kr, body, sizeof(body), &size) || size > sizeof(body) ||
	    !find_elem(body, size, index, &pos, &sz))
		return false;
	memcpy(&r, body + pos, sizeof(r));
	return pmcfs_dirent_name_len(&r) == pmcfs_dirent_name_len(&d) &&
	       !memcmp(body + pos + sizeof(r), elem + sizeof(d), pmcfs_dirent_name_len(&d));
}

/*
 * Do the child's INODE_REF back-reference and inode confirm the name
 * elem: same name, and an inode of the name's type? The back-reference
 * is written with both twins and lies under the child's key, so one
 * damaged item rarely touches it.
 */
static bool confirmed(struct p4_sv *s, uint64_t dir, uint64_t index, const uint8_t *elem)
{
	struct pmcfs_dirent d;
	struct pmcfs_inode in;

	memcpy(&d, elem, sizeof(d));
	return has_ref(s, dir, index, elem) && !get_inode(rfs, s->t, pmcfs_dirent_ino(&d), &in) &&
	       pmcfs_ftype(pmcfs_inode_mode(&in)) == d.type;
}

/* The DIR_ENTRY element of (dir, index) as it is now, in elem (DSZ bytes); false if none. */
static bool entry_now(struct p4_sv *s, uint64_t dir, uint64_t index, uint8_t *elem)
{
	uint8_t body[BODY_MAX];
	uint32_t size, pos, sz;
	struct pmcfs_ckey k;

	if (entry_by_index(rfs, s->t, dir, index, &k, body, &size, &pos, &sz))
		return false;
	memcpy(elem, body + pos, sz);
	return true;
}

/*
 * Does a name finding still hold? Findings are made before the repairs
 * of their phase, and a P4.022 repair before them may have rewritten the
 * name they were made from (the scan pairs names by the entry): then
 * they describe the wrong twin, and applying them would undo the repair.
 */
static bool still_holds(struct p4_sv *s, const struct p4_find *f)
{
	uint8_t elem[BODY_MAX];
	struct pmcfs_dirent d;
	struct pmcfs_inode in;

	switch (f->code) {
	case PR_NS_ENTRY_NO_REF: case PR_NS_DIR_MULTI_PARENT: case PR_NS_ENTRY_TYPE:
		if (!entry_now(s, f->ino, f->arg, elem))
			return f->code != PR_NS_ENTRY_NO_REF;
		memcpy(&d, elem, sizeof(d));
		if (f->code == PR_NS_ENTRY_NO_REF)
			return pmcfs_dirent_ino(&d) == f->arg2 && !has_ref(s, f->ino, f->arg, elem);
		if (f->code == PR_NS_DIR_MULTI_PARENT)
			return pmcfs_dirent_ino(&d) == f->arg2;
		return get_inode(rfs, s->t, pmcfs_dirent_ino(&d), &in) ||
		       pmcfs_ftype(pmcfs_inode_mode(&in)) == f->arg2;
	case PR_NS_REF_NO_ENTRY:
		if (!entry_now(s, f->key.offset, f->arg, elem))
			return true;
		memcpy(&d, elem, sizeof(d));
		return pmcfs_dirent_ino(&d) != f->key.objectid || !has_ref(s, f->key.offset, f->arg, elem);
	default:
		return true;
	}
}

/*
 * A name whose DIR_ENTRY element and DIR_INDEX item disagree (P4.022):
 * the twin the back-reference and the inode's type confirm is rewritten
 * over the other. If neither or both are, the name goes with every
 * back-reference to it; an inode left without a name is then taken to
 * /lost+found by the connectivity phase.
 */
static int settle_twins(struct p4_sv *s, struct pmcfs_trans *tx, uint64_t dir, uint64_t index)
{
	struct pmcfs_ckey ki = key(dir, PMCFS_KEY_DIR_INDEX, index), ke;
	uint8_t ib[BODY_MAX], eb[BODY_MAX];
	uint32_t isize, esize, pos, sz;
	struct pmcfs_dirent d;
	bool i_ok = false, e_ok = false;
	uint64_t ichild = 0, echild = 0;
	int rc = pmcfs_tree_lookup(rfs, s->t, &ki, ib, sizeof(ib), &isize);

	if (rc && rc != -ENOENT)
		return rc;
	if (!rc && isize >= sizeof(d) && isize <= sizeof(ib)) {
		memcpy(&d, ib, sizeof(d));
		ichild = pmcfs_dirent_ino(&d);
		i_ok = isize == DSZ(pmcfs_dirent_name_len(&d)) && pmcfs_dirent_name_len(&d) &&
		       confirmed(s, dir, index, ib);
	}
	if ((rc = entry_by_index(rfs, s->t, dir, index, &ke, eb, &esize, &pos, &sz)) && rc != -ENOENT)
		return rc;
	e_ok = !rc && confirmed(s, dir, index, eb + pos);
	if (!rc) {
		memcpy(&d, eb + pos, sizeof(d));
		echild = pmcfs_dirent_ino(&d);
	}
	/* The twin that loses may name another inode: its back-reference to this name goes. */
	if (e_ok != i_ok && echild != ichild && (e_ok ? ichild : echild)) {
		struct pmcfs_ckey kr = key(e_ok ? ichild : echild, PMCFS_KEY_INODE_REF, dir);
		if ((rc = packed_remove(tx, s->t, &kr, index)))
			return rc;
	}
	if (e_ok && !i_ok) {
		out(s->ctx, "subvolume %llu: directory %llu index %llu: the index item is rewritten from "
			    "the entry, which the back-reference confirms\n", (unsigned long long)s->sv->id,
		    (unsigned long long)dir, (unsigned long long)index);
		return pmcfs_tree_update(tx, s->t, &ki, eb + pos, sz);
	}
	if (i_ok && !e_ok) {
		out(s->ctx, "subvolume %llu: directory %llu index %llu: the entry is rewritten from the "
			    "index item, which the back-reference confirms\n", (unsigned long long)s->sv->id,
		    (unsigned long long)dir, (unsigned long long)index);
		if (echild && (rc = packed_cut(tx, s->t, &ke, eb, esize, pos, sz)))
			return rc;
		memcpy(&d, ib, sizeof(d));
		ke = key(dir, PMCFS_KEY_DIR_ENTRY,
			 pmcfs_name_hash((const char *)ib + sizeof(d), pmcfs_dirent_name_len(&d)));
		return packed_append(tx, s->t, &ke, ib, isize);
	}
	out(s->ctx, "subvolume %llu: directory %llu index %llu: %s confirmed by a back-reference: the "
		    "name is removed\n", (unsigned long long)s->sv->id, (unsigned long long)dir,
	    (unsigned long long)index, e_ok ? "both the entry and the index item are" :
					      "neither the entry nor the index item is");
	/* remove_name drops the back-reference of the entry's child; the index item's may differ. */
	ke = key(ichild, PMCFS_KEY_INODE_REF, dir);
	if (ichild && (rc = packed_remove(tx, s->t, &ke, index)))
		return rc;
	return remove_name(tx, s->t, dir, index);
}

static int set_type(struct p4_sv *s, struct pmcfs_trans *tx, const struct p4_find *f)
{
	uint8_t body[BODY_MAX];
	uint32_t size, pos, sz;
	struct pmcfs_ckey k, ki = key(f->ino, PMCFS_KEY_DIR_INDEX, f->arg);
	const size_t toff = offsetof(struct pmcfs_dirent, type);
	int rc;

	if (!(rc = pmcfs_tree_lookup(rfs, s->t, &ki, body, sizeof(body), &size)) && size > toff) {
		body[toff] = (uint8_t)f->arg2;
		rc = pmcfs_tree_update(tx, s->t, &ki, body, size);
	}
	if (rc && rc != -ENOENT)
		return rc;
	if ((rc = entry_by_index(rfs, s->t, f->ino, f->arg, &k, body, &size, &pos, &sz)))
		return rc == -ENOENT ? 0 : rc;
	body[pos + toff] = (uint8_t)f->arg2;
	return pmcfs_tree_update(tx, s->t, &k, body, size);
}

static int fix_fields(struct p4_sv *s, struct pmcfs_trans *tx, const struct p4_find *f)
{
	struct pmcfs_inode d;
	struct pmcfs_timespec *ts[4] = { &d.atime, &d.mtime, &d.ctime, &d.crtime };
	unsigned type;
	int rc = get_inode(rfs, s->t, f->ino, &d);

	if (rc)
		return rc;
	type = pmcfs_inode_mode(&d) & S_IFMT;
	switch (f->code) {
	case PR_NS_INODE_FIELDS:
		pmcfs_set_inode_flags(&d, pmcfs_inode_flags(&d) & (PMCFS_INODE_HUGE | PMCFS_INODE_IMMUTABLE |
								    PMCFS_INODE_APPEND | PMCFS_INODE_NODUMP));
		if (type != S_IFCHR && type != S_IFBLK)
			pmcfs_set_inode_rdev(&d, 0);
		for (int i = 0; i < 4; i++)
			if (pmcfs_timespec_nsec(ts[i]) >= 1000000000u)
				pmcfs_set_timespec_nsec(ts[i], 0);
		break;
	case PR_NS_NLINK: pmcfs_set_inode_nlink(&d, (uint32_t)f->arg); break;
	case PR_NS_DIR_SIZE: pmcfs_set_inode_size(&d, f->arg); break;
	case PR_NS_NEXT_INDEX: pmcfs_set_inode_next_index(&d, f->arg); break;
	case PR_NS_NBLOCKS: pmcfs_set_inode_nblocks(&d, f->arg); break;
	case PR_NS_EXTENT_PAST_EOF: pmcfs_set_inode_size(&d, f->arg); break;
	}
	return put_inode(tx, s->t, f->ino, &d);
}

int make_root_dir(struct pmcfs_trans *tx, struct pmcfs_tree *t)
{
	struct pmcfs_ckey k = key(PMCFS_ROOT_INO, PMCFS_KEY_INODE, 0);
	struct pmcfs_inode d;

	/* As mkfs makes it; pass 4's counts then set size, nlink and next_index. */
	memset(&d, 0, sizeof(d));
	pmcfs_set_inode_mode(&d, S_IFDIR | 0755);
	pmcfs_set_inode_nlink(&d, 2);
	pmcfs_set_inode_generation(&d, pmcfs_trans_generation(tx));
	pmcfs_set_inode_next_index(&d, 2);
	pmcfs_set_timespec_sec(&d.ctime, (uint64_t)time(NULL));
	d.atime = d.mtime = d.crtime = d.ctime;
	return pmcfs_tree_insert(tx, t, &k, &d, sizeof(d));
}

int p4_repair(struct p4_sv *s, const struct p4_find *f)
{
	struct pmcfs_trans *tx;
	uint64_t done;
	int rc;

	rfs = s->ctx->fs;
	if (!still_holds(s, f))
		return 0;
	if (repair_begin(s->ctx, &tx))
		return -EIO;
	switch (f->code) {
	case PR_NS_ITEM_STRAY: case PR_NS_DIRENT_BAD: case PR_NS_XATTR_BAD: case PR_NS_ORPHAN_LINKED:
		rc = delete_item(s, tx, &f->key);
		break;
	case PR_NS_EXTENT_BAD:
		p4_lost_data(s, f->ino);
		rc = delete_bad_extent(s, tx, &f->key);
		if (!rc && f->arg2)
			rc = pmcfs_space_dec(tx, f->arg, f->arg2);
		break;
	case PR_NS_ITEM_NO_INODE: case PR_NS_INODE_BAD: case PR_NS_SYMLINK_BAD:
		p4_lost_data(s, f->ino);
		rc = clear_inode(s, tx, f->ino);
		break;
	case PR_NS_ROOT_MISSING:
		rc = make_root_dir(tx, s->t);
		break;
	case PR_NS_EXTENT_OVERLAP:
		rc = settle_overlaps(s, tx, f->ino);
		break;
	case PR_NS_NAME_BAD:
		if (f->key.type == PMCFS_KEY_INODE_REF)
			rc = packed_remove(tx, s->t, &f->key, f->arg);
		else
			rc = remove_name(tx, s->t, f->key.objectid, f->arg);
		break;
	case PR_NS_ENTRY_NO_INDEX: case PR_NS_INDEX_NO_ENTRY: case PR_NS_ENTRY_NO_REF:
		rc = twin(s, tx, f);
		break;
	case PR_NS_REF_NO_ENTRY:
		rc = packed_remove(tx, s->t, &f->key, f->arg);
		break;
	case PR_NS_ENTRY_DANGLING:
		lost_name(s, f->ino, f->arg, f->arg2);
		rc = remove_name(tx, s->t, f->ino, f->arg);
		break;
	case PR_NS_DIR_MULTI_PARENT:
		rc = remove_name(tx, s->t, f->ino, f->arg);
		break;
	case PR_NS_ENTRY_TYPE:
		rc = set_type(s, tx, f);
		break;
	case PR_NS_ENTRY_INDEX_DIFFER:
		rc = settle_twins(s, tx, f->ino, f->arg);
		break;
	case PR_NS_UNATTACHED:
		rc = reconnect(s, tx, f);
		break;
	case PR_NS_ORPHANS:
		rc = pmcfs_ns_orphans_finish(tx, s->t, &done);
		break;
	default:
		rc = fix_fields(s, tx, f);
	}
	if (rc) {
		pmcfs_trans_abort(tx);
		return rc;
	}
	return repair_commit(s->ctx, tx, "commit the namespace repair") ? -EIO : 0;
}

void p4_path(struct fsck_ctx *ctx, uint64_t subvol, uint64_t ino, char *buf, size_t size)
{
	char tmp[4096];
	size_t pos = sizeof(tmp) - 1;
	struct pmcfs_tree *t;
	uint64_t cur = ino;
	int depth = 0;

	tmp[pos] = 0;
	if (pmcfs_subvol_open(ctx->fs, subvol, &t))
		cur = 0;
	while (cur && cur != PMCFS_ROOT_INO && depth++ < 256) {
		struct pmcfs_ckey start = key(cur, PMCFS_KEY_INODE_REF, 0), k;
		struct pmcfs_iter *it;
		struct pmcfs_dirent d;
		const uint8_t *b;
		uint32_t bs;
		size_t len;
		int rc;

		if (pmcfs_iter_start(ctx->fs, t, &start, &it))
			break;
		rc = pmcfs_iter_next(it, &k, (const void **)&b, &bs);
		if (rc <= 0 || k.objectid != cur || k.type != PMCFS_KEY_INODE_REF || bs < sizeof(d)) {
			pmcfs_iter_free(it);
			break;
		}
		memcpy(&d, b, sizeof(d));
		len = pmcfs_dirent_name_len(&d);
		if (len > bs - sizeof(d) || len + 1 >= pos) {
			pmcfs_iter_free(it);
			break;
		}
		pos -= len;
		for (size_t i = 0; i < len; i++) {
			char c = (char)b[sizeof(d) + i];
			tmp[pos + i] = c > 0x1f && c != 0x7f ? c : '?';
		}
		tmp[--pos] = '/';
		pmcfs_iter_free(it);
		cur = k.offset;
	}
	if (cur == PMCFS_ROOT_INO)
		snprintf(buf, size, "%s", tmp[pos] ? tmp + pos : "/");
	else
		snprintf(buf, size, "<no path to inode %llu>%s", (unsigned long long)ino, tmp + pos);
}

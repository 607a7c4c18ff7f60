// SPDX-License-Identifier: MIT
/*
 * Pass 4 repairs: p4_repair applies one finding of the scan or of the
 * cross-leaf checks in a transaction of its own, so an interrupted
 * repair leaves the old or the repaired state. Here are the item-level
 * fixes (stray and undecodable items, overlapping extents, inode fields,
 * a missing root directory); the names are pass4-names.c's. Items are
 * edited with pmcfs_tree_update/insert/delete, data references released
 * with pmcfs_space_dec as lib/ns_extent.c releases them, and each file
 * that loses data is said once ("lost data: ...", which scripts grep for).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include "pass4.h"
#include "pmcfs_endian.h"
#include "pmcfs_ns.h"

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
	uint8_t body[PMCFS_MAX_ITEM_BODY];
	uint32_t size;
	uint64_t phys = 0, n = 0;
	int rc;

	if (k->type == PMCFS_KEY_EXTENT) {
		if ((rc = pmcfs_tree_lookup(s->ctx->fs, s->t, k, body, sizeof(body), &size)))
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
	struct pmcfs_ckey start = p4_key(ino, 0, 0), k, *keys = NULL;
	size_t n = 0, cap = 0;
	struct pmcfs_iter *it;
	const void *b;
	uint32_t bs;
	int rc;

	if ((rc = pmcfs_iter_start(s->ctx->fs, s->t, &start, &it)))
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
	struct pmcfs_ckey start = p4_key(ino, PMCFS_KEY_EXTENT, 0), k;
	struct pmcfs_iter *it;
	struct fext *v = NULL;
	size_t n = 0, cap = 0;
	const void *b;
	uint32_t bs;
	int rc;

	if ((rc = pmcfs_iter_start(s->ctx->fs, s->t, &start, &it)))
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
	int rc = pmcfs_tree_lookup(s->ctx->fs, s->t, k, body, sizeof(body), &size);

	/* A longer body is truncated into buf: its size alone makes it unusable. */
	if (rc == -ENOENT || (!rc && p4_extent_usable(k, body, size)))
		return 0;
	return rc ? rc : pmcfs_tree_delete(tx, s->t, k);
}

/* Once per file: a cleared inode's names dangle next, and say it again. */
bool p4_first_say(struct fsck_ctx *ctx, uint64_t tree, uint64_t ino)
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

void p4_lost_data(struct p4_sv *s, uint64_t ino)
{
	char path[1400];

	if (!p4_first_say(s->ctx, s->sv->id, ino))
		return;
	p4_path(s->ctx, s->sv->id, ino, path, sizeof(path));
	/* No back-reference left: a name in a directory may still say where it was. */
	for (size_t i = 0; path[0] == '<' && i < s->nlinks; i++) {
		char named[sizeof(path)];
		if (s->links[i].child != ino || s->links[i].bad)
			continue;
		p4_name_path(s, s->links[i].parent, s->links[i].index, named, sizeof(named));
		if (named[0] != '<')
			memcpy(path, named, sizeof(path));
	}
	out(s->ctx, "lost data: subvolume %llu: %s (inode %llu)\n", (unsigned long long)s->sv->id, path,
	    (unsigned long long)ino);
}

static int fix_fields(struct p4_sv *s, struct pmcfs_trans *tx, const struct p4_find *f)
{
	struct pmcfs_inode d;
	struct pmcfs_timespec *ts[4] = { &d.atime, &d.mtime, &d.ctime, &d.crtime };
	unsigned type;
	int rc = p4_get_inode(s, f->ino, &d);

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
	return p4_put_inode(s, tx, f->ino, &d);
}

int make_root_dir(struct pmcfs_trans *tx, struct pmcfs_tree *t)
{
	struct pmcfs_ckey k = p4_key(PMCFS_ROOT_INO, PMCFS_KEY_INODE, 0);
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
			rc = p4_packed_remove(s, tx, &f->key, f->arg);
		else
			rc = p4_remove_name(s, tx, f->key.objectid, f->arg);
		break;
	case PR_NS_ENTRY_NO_INDEX: case PR_NS_INDEX_NO_ENTRY: case PR_NS_ENTRY_NO_REF:
		rc = p4_twin(s, tx, f);
		break;
	case PR_NS_REF_NO_ENTRY:
		rc = p4_packed_remove(s, tx, &f->key, f->arg);
		break;
	case PR_NS_ENTRY_DANGLING:
		p4_lost_name(s, f->ino, f->arg, f->arg2);
		rc = p4_remove_name(s, tx, f->ino, f->arg);
		break;
	case PR_NS_DIR_MULTI_PARENT:
		rc = p4_remove_name(s, tx, f->ino, f->arg);
		break;
	case PR_NS_ENTRY_TYPE:
		rc = p4_set_type(s, tx, f);
		break;
	case PR_NS_ENTRY_INDEX_DIFFER:
		rc = p4_settle_twins(s, tx, f->ino, f->arg);
		break;
	case PR_NS_UNATTACHED:
		rc = p4_reconnect(s, tx, f);
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
		struct pmcfs_ckey start = p4_key(cur, PMCFS_KEY_INODE_REF, 0), k;
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

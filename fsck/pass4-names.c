// SPDX-License-Identifier: MIT
/*
 * Pass 4 repairs of directory names, for p4_repair (pass4-repair.c) and
 * in its transaction. A name is three items: its DIR_ENTRY element
 * (packed by name hash), its DIR_INDEX item and the child's INODE_REF
 * element. The namespace API is used where it has the operation
 * (pmcfs_ns_create for /lost+found, pmcfs_ns_rename to move a directory
 * out of a cycle). Where it has none - deleting a dangling name whose
 * inode is gone (the API looks the inode up first), naming a directory
 * or an inode whose link count is 0 (pmcfs_ns_link refuses both),
 * recreating the twin of a half-written name - fsck edits the exact
 * items, laid out as lib/ns_dir.c lays them out. It says which twin it
 * rewrites and which files are lost.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include "pass4.h"
#include "pmcfs_endian.h"
#include "pmcfs_ns.h"

#define BODY_MAX PMCFS_MAX_ITEM_BODY
#define DSZ(len) pmcfs_dirent_size(len)

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
static int entry_by_index(struct p4_sv *s, uint64_t dir, uint64_t index, struct pmcfs_ckey *ret_key,
			  uint8_t *body, uint32_t *size, uint32_t *pos, uint32_t *sz)
{
	struct pmcfs_ckey start = p4_key(dir, PMCFS_KEY_DIR_ENTRY, 0), k;
	struct pmcfs_iter *it;
	const void *b;
	uint32_t bs;
	int rc;

	if ((rc = pmcfs_iter_start(s->ctx->fs, s->t, &start, &it)))
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

static int packed_append(struct p4_sv *s, struct pmcfs_trans *tx, const struct pmcfs_ckey *k,
			 const uint8_t *elem, uint32_t sz)
{
	uint8_t body[BODY_MAX];
	uint32_t size = 0;
	int rc = pmcfs_tree_lookup(s->ctx->fs, s->t, k, body, sizeof(body), &size);

	if (rc == -ENOENT)
		size = 0;
	else if (rc)
		return rc;
	if (size > sizeof(body) || size + sz > BODY_MAX)
		return -ENOSPC;
	memcpy(body + size, elem, sz);
	return pmcfs_tree_update(tx, s->t, k, body, size + sz);
}

/* Remove the element with this index from the packed item at k, if both are there. */
int p4_packed_remove(struct p4_sv *s, struct pmcfs_trans *tx, const struct pmcfs_ckey *k, uint64_t index)
{
	uint8_t body[BODY_MAX];
	uint32_t size, pos, sz;
	int rc = pmcfs_tree_lookup(s->ctx->fs, s->t, k, body, sizeof(body), &size);

	if (rc)
		return rc == -ENOENT ? 0 : rc;
	if (size > sizeof(body) || !find_elem(body, size, index, &pos, &sz))
		return 0;
	return packed_cut(tx, s->t, k, body, size, pos, sz);
}

/* A name's three items gone, whichever of them exist (its inode may be gone too). */
int p4_remove_name(struct p4_sv *s, struct pmcfs_trans *tx, uint64_t dir, uint64_t index)
{
	struct pmcfs_ckey ki = p4_key(dir, PMCFS_KEY_DIR_INDEX, index), ke;
	uint8_t body[BODY_MAX];
	uint32_t size, pos, sz;
	uint64_t child = 0;
	int rc = pmcfs_tree_lookup(s->ctx->fs, s->t, &ki, body, sizeof(body), &size);

	if (!rc && size >= sizeof(struct pmcfs_dirent))
		child = pmcfs_dirent_ino((const struct pmcfs_dirent *)(const void *)body);
	if (!rc && (rc = pmcfs_tree_delete(tx, s->t, &ki)))
		return rc;
	if (rc && rc != -ENOENT)
		return rc;
	rc = entry_by_index(s, dir, index, &ke, body, &size, &pos, &sz);
	if (!rc) {
		struct pmcfs_dirent d;
		memcpy(&d, body + pos, sizeof(d));
		child = pmcfs_dirent_ino(&d);
		rc = packed_cut(tx, s->t, &ke, body, size, pos, sz);
	}
	if (rc && rc != -ENOENT)
		return rc;
	if (!child)
		return 0;
	ke = p4_key(child, PMCFS_KEY_INODE_REF, dir);
	return p4_packed_remove(s, tx, &ke, index);
}

/* A new name: what lib/ns_dir.c link_add() writes, for any inode. */
static int add_name(struct p4_sv *s, struct pmcfs_trans *tx, uint64_t dir, const char *name, size_t len,
		    uint64_t child, unsigned type)
{
	uint8_t elem[sizeof(struct pmcfs_dirent) + PMCFS_NAME_MAX + 8];
	struct pmcfs_inode d;
	struct pmcfs_ckey ke = p4_key(dir, PMCFS_KEY_DIR_ENTRY, pmcfs_name_hash(name, len));
	struct pmcfs_ckey kr = p4_key(child, PMCFS_KEY_INODE_REF, dir), ki;
	uint64_t index;
	int rc = p4_get_inode(s, dir, &d);

	if (rc)
		return rc;
	index = pmcfs_inode_next_index(&d);
	ki = p4_key(dir, PMCFS_KEY_DIR_INDEX, index);
	pmcfs_dirent_encode(elem, child, index, type, name, len);
	if ((rc = packed_append(s, tx, &ke, elem, DSZ(len))) ||
	    (rc = pmcfs_tree_insert(tx, s->t, &ki, elem, DSZ(len))))
		return rc;
	pmcfs_dirent_encode(elem, dir, index, PMCFS_FT_DIR, name, len);
	if ((rc = packed_append(s, tx, &kr, elem, DSZ(len))))
		return rc;
	pmcfs_set_inode_next_index(&d, index + 1);
	pmcfs_set_inode_size(&d, pmcfs_inode_size(&d) + 1);
	if (type == PMCFS_FT_DIR)
		pmcfs_set_inode_nlink(&d, pmcfs_inode_nlink(&d) + 1);
	return p4_put_inode(s, tx, dir, &d);
}

/* "DIRPATH/NAME" for the name at index in dir. */
void p4_name_path(struct p4_sv *s, uint64_t dir, uint64_t index, char *buf, size_t bufsize)
{
	struct pmcfs_ckey ki = p4_key(dir, PMCFS_KEY_DIR_INDEX, index);
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
void p4_lost_name(struct p4_sv *s, uint64_t dir, uint64_t index, uint64_t child)
{
	char path[1400];

	if (!p4_first_say(s->ctx, s->sv->id, child))
		return;
	p4_name_path(s, dir, index, path, sizeof(path));
	out(s->ctx, "lost data: subvolume %llu: %s (inode %llu)\n", (unsigned long long)s->sv->id,
	    path, (unsigned long long)child);
}

static int lost_found(struct p4_sv *s, struct pmcfs_trans *tx, uint64_t *ret)
{
	static const char name[] = "lost+found";
	struct pmcfs_create_args a = { S_IFDIR | 0700, 0, 0, 0, 0 };
	struct pmcfs_stat st;
	int rc = pmcfs_ns_lookup(s->ctx->fs, s->t, PMCFS_ROOT_INO, name, sizeof(name) - 1, ret);

	if (rc == -ENOENT)
		return pmcfs_ns_create(tx, s->t, PMCFS_ROOT_INO, name, sizeof(name) - 1, &a, ret);
	if (rc || (rc = pmcfs_ns_stat(s->ctx->fs, s->t, *ret, &st)))
		return rc;
	return S_ISDIR(st.mode) ? 0 : -ENOTDIR;
}

int p4_reconnect(struct p4_sv *s, struct pmcfs_trans *tx, const struct p4_find *f)
{
	char name[32], old[PMCFS_NAME_MAX];
	uint8_t body[BODY_MAX];
	uint32_t size;
	uint64_t lf;
	struct pmcfs_inode d;
	int rc;

	snprintf(name, sizeof(name), "#%llu", (unsigned long long)f->ino);
	if ((rc = lost_found(s, tx, &lf)))
		return rc;
	if (f->arg == 1) {	/* in a cycle: move its name */
		struct pmcfs_dirent de;
		if ((rc = pmcfs_tree_lookup(s->ctx->fs, s->t, &f->key, body, sizeof(body), &size)))
			return rc;
		memcpy(&de, body, sizeof(de));
		if (size < sizeof(de) + pmcfs_dirent_name_len(&de) || pmcfs_dirent_name_len(&de) > PMCFS_NAME_MAX)
			return -PMCFS_ECORRUPT;
		memcpy(old, body + sizeof(de), pmcfs_dirent_name_len(&de));
		return pmcfs_ns_rename(tx, s->t, f->key.objectid, old, pmcfs_dirent_name_len(&de), lf,
				       name, strlen(name), PMCFS_RENAME_NOREPLACE);
	}
	if ((rc = add_name(s, tx, lf, name, strlen(name), f->ino, (unsigned)f->arg2)))
		return rc;
	if (f->arg2 == PMCFS_FT_DIR || (rc = p4_get_inode(s, f->ino, &d)))
		return rc;
	pmcfs_set_inode_nlink(&d, 1);
	return p4_put_inode(s, tx, f->ino, &d);
}

/* A twin rebuilt from the name that survives: DIR_INDEX from DIR_ENTRY or back. */
int p4_twin(struct p4_sv *s, struct pmcfs_trans *tx, const struct p4_find *f)
{
	uint8_t body[BODY_MAX];
	uint32_t size, pos, sz;
	struct pmcfs_ckey k, ki = p4_key(f->ino, PMCFS_KEY_DIR_INDEX, f->arg);
	struct pmcfs_dirent d;
	int rc;

	if (f->code == PR_NS_INDEX_NO_ENTRY) {
		if ((rc = pmcfs_tree_lookup(s->ctx->fs, s->t, &ki, body, sizeof(body), &size)))
			return rc;
		memcpy(&d, body, sizeof(d));
		if (size != DSZ(pmcfs_dirent_name_len(&d)))
			return -PMCFS_ECORRUPT;
		k = p4_key(f->ino, PMCFS_KEY_DIR_ENTRY,
			pmcfs_name_hash((const char *)body + sizeof(d), pmcfs_dirent_name_len(&d)));
		return packed_append(s, tx, &k, body, size);
	}
	if ((rc = entry_by_index(s, f->ino, f->arg, &k, body, &size, &pos, &sz)))
		return rc;
	if (f->code == PR_NS_ENTRY_NO_INDEX)
		return pmcfs_tree_insert(tx, s->t, &ki, body + pos, sz);
	/* ENTRY_NO_REF: the child's back-reference to this name. */
	memcpy(&d, body + pos, sizeof(d));
	pmcfs_set_dirent_ino(&d, f->ino);
	pmcfs_set_dirent_type(&d, PMCFS_FT_DIR);
	memcpy(body + pos, &d, sizeof(d));
	k = p4_key(f->arg2, PMCFS_KEY_INODE_REF, f->ino);
	return packed_append(s, tx, &k, body + pos, sz);
}

/* Has the child of the name elem (a packed dirent) at index in dir a back-reference with that name? */
static bool has_ref(struct p4_sv *s, uint64_t dir, uint64_t index, const uint8_t *elem)
{
	struct pmcfs_dirent d, r;
	struct pmcfs_ckey kr;
	uint8_t body[BODY_MAX];
	uint32_t size, pos, sz;

	memcpy(&d, elem, sizeof(d));
	kr = p4_key(pmcfs_dirent_ino(&d), PMCFS_KEY_INODE_REF, dir);
	if (pmcfs_tree_lookup(s->ctx->fs, s->t, &kr, body, sizeof(body), &size) || size > sizeof(body) ||
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
	return has_ref(s, dir, index, elem) && !p4_get_inode(s, pmcfs_dirent_ino(&d), &in) &&
	       pmcfs_ftype(pmcfs_inode_mode(&in)) == d.type;
}

/* The DIR_ENTRY element of (dir, index) as it is now, in elem (DSZ bytes); false if none. */
static bool entry_now(struct p4_sv *s, uint64_t dir, uint64_t index, uint8_t *elem)
{
	uint8_t body[BODY_MAX];
	uint32_t size, pos, sz;
	struct pmcfs_ckey k;

	if (entry_by_index(s, dir, index, &k, body, &size, &pos, &sz))
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
bool p4_still_holds(struct p4_sv *s, const struct p4_find *f)
{
	uint8_t elem[BODY_MAX];
	struct pmcfs_dirent d;
	struct pmcfs_inode in;

	switch (f->code) {
	case PR_NS_ENTRY_NO_REF: case PR_NS_DIR_MULTI_PARENT: case PR_NS_ENTRY_TYPE:
		if (!entry_now(s, f->ino, f->arg, elem))
			return false;	/* the name went: nothing left to mend */
		memcpy(&d, elem, sizeof(d));
		if (f->code == PR_NS_ENTRY_NO_REF)
			return pmcfs_dirent_ino(&d) == f->arg2 && !has_ref(s, f->ino, f->arg, elem);
		if (f->code == PR_NS_DIR_MULTI_PARENT)
			return pmcfs_dirent_ino(&d) == f->arg2;
		return p4_get_inode(s, pmcfs_dirent_ino(&d), &in) ||
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
int p4_settle_twins(struct p4_sv *s, struct pmcfs_trans *tx, uint64_t dir, uint64_t index)
{
	struct pmcfs_ckey ki = p4_key(dir, PMCFS_KEY_DIR_INDEX, index), ke;
	uint8_t ib[BODY_MAX], eb[BODY_MAX];
	uint32_t isize, esize, pos, sz;
	struct pmcfs_dirent d;
	bool i_ok = false, e_ok = false;
	uint64_t ichild = 0, echild = 0;
	int rc = pmcfs_tree_lookup(s->ctx->fs, s->t, &ki, ib, sizeof(ib), &isize);

	if (rc && rc != -ENOENT)
		return rc;
	if (!rc && isize >= sizeof(d) && isize <= sizeof(ib)) {
		memcpy(&d, ib, sizeof(d));
		ichild = pmcfs_dirent_ino(&d);
		i_ok = isize == DSZ(pmcfs_dirent_name_len(&d)) && pmcfs_dirent_name_len(&d) &&
		       confirmed(s, dir, index, ib);
	}
	if ((rc = entry_by_index(s, dir, index, &ke, eb, &esize, &pos, &sz)) && rc != -ENOENT)
		return rc;
	e_ok = !rc && confirmed(s, dir, index, eb + pos);
	if (!rc) {
		memcpy(&d, eb + pos, sizeof(d));
		echild = pmcfs_dirent_ino(&d);
	}
	/* The twin that loses may name another inode: its back-reference to this name goes. */
	if (e_ok != i_ok && echild != ichild && (e_ok ? ichild : echild)) {
		struct pmcfs_ckey kr = p4_key(e_ok ? ichild : echild, PMCFS_KEY_INODE_REF, dir);
		if ((rc = p4_packed_remove(s, tx, &kr, index)))
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
		ke = p4_key(dir, PMCFS_KEY_DIR_ENTRY,
			 pmcfs_name_hash((const char *)ib + sizeof(d), pmcfs_dirent_name_len(&d)));
		return packed_append(s, tx, &ke, ib, isize);
	}
	out(s->ctx, "subvolume %llu: directory %llu index %llu: %s confirmed by a back-reference: the "
		    "name is removed\n", (unsigned long long)s->sv->id, (unsigned long long)dir,
	    (unsigned long long)index, e_ok ? "both the entry and the index item are" :
					      "neither the entry nor the index item is");
	/* remove_name drops the back-reference of the entry's child; the index item's may differ. */
	ke = p4_key(ichild, PMCFS_KEY_INODE_REF, dir);
	if (ichild && (rc = p4_packed_remove(s, tx, &ke, index)))
		return rc;
	return p4_remove_name(s, tx, dir, index);
}

int p4_set_type(struct p4_sv *s, struct pmcfs_trans *tx, const struct p4_find *f)
{
	uint8_t body[BODY_MAX];
	uint32_t size, pos, sz;
	struct pmcfs_ckey k, ki = p4_key(f->ino, PMCFS_KEY_DIR_INDEX, f->arg);
	const size_t toff = offsetof(struct pmcfs_dirent, type);
	int rc;

	if (!(rc = pmcfs_tree_lookup(s->ctx->fs, s->t, &ki, body, sizeof(body), &size)) && size > toff) {
		body[toff] = (uint8_t)f->arg2;
		rc = pmcfs_tree_update(tx, s->t, &ki, body, size);
	}
	if (rc && rc != -ENOENT)
		return rc;
	if ((rc = entry_by_index(s, f->ino, f->arg, &k, body, &size, &pos, &sz)))
		return rc == -ENOENT ? 0 : rc;
	body[pos + toff] = (uint8_t)f->arg2;
	return pmcfs_tree_update(tx, s->t, &k, body, size);
}

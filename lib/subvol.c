// SPDX-License-Identifier: MIT
/*
 * Subvolumes: the root table maps a subvolume id to the root of its fs
 * tree. A snapshot is one more entry pointing at the same root plus one
 * reference on that root: O(1), whatever the size of the tree.
 */
#include <errno.h>
#include <stdlib.h>
#include <time.h>
#include "fs_priv.h"
#include "pmcfs_repair.h"
#include "pmcfs_ns.h"

int pmcfs_root_item_decode(uint64_t id, const void *body, uint32_t size,
			   struct pmcfs_subvol_info *ret)
{
	struct pmcfs_root_item ri;
	unsigned len;

	if (size < sizeof(ri))
		return -PMCFS_ECORRUPT;
	memcpy(&ri, body, sizeof(ri));
	len = pmcfs_root_item_name_len(&ri);
	if (size != sizeof(ri) + len || len > PMCFS_NAME_MAX ||
	    pmcfs_root_item_level(&ri) >= PMCFS_MAX_LEVEL)
		return -PMCFS_ECORRUPT;
	ret->id = id;
	ret->root.blkno = pmcfs_root_item_blkno(&ri);
	ret->root.gen = pmcfs_root_item_generation(&ri);
	ret->root.level = pmcfs_root_item_level(&ri);
	ret->flags = pmcfs_root_item_flags(&ri);
	ret->parent = pmcfs_root_item_parent(&ri);
	ret->parent_gen = pmcfs_root_item_parent_gen(&ri);
	ret->create_gen = pmcfs_root_item_create_gen(&ri);
	ret->ctime_sec = pmcfs_root_item_ctime_sec(&ri);
	ret->ctime_nsec = pmcfs_root_item_ctime_nsec(&ri);
	ret->next_ino = pmcfs_root_item_next_ino(&ri);
	memcpy(ret->name, (const uint8_t *)body + sizeof(ri), len);
	ret->name[len] = 0;
	return 0;
}

static int read_root_item(struct pmcfs_fs *fs, uint64_t id, struct pmcfs_root_item *ri,
			  char *name)
{
	struct pmcfs_ckey k = { id, PMCFS_KEY_ROOT, 0 };
	uint8_t buf[sizeof(*ri) + PMCFS_NAME_MAX];
	uint32_t size;
	int err = pmcfs_tree_lookup(fs, &fs->roottab, &k, buf, sizeof(buf), &size);

	if (err)
		return err;
	memcpy(ri, buf, sizeof(*ri));
	if (size < sizeof(*ri) || size != sizeof(*ri) + pmcfs_root_item_name_len(ri) ||
	    pmcfs_root_item_name_len(ri) > PMCFS_NAME_MAX || pmcfs_root_item_level(ri) >= PMCFS_MAX_LEVEL)
		return -PMCFS_ECORRUPT;
	if (name) {
		memcpy(name, buf + sizeof(*ri), pmcfs_root_item_name_len(ri));
		name[pmcfs_root_item_name_len(ri)] = 0;
	}
	return 0;
}

static int write_root_item(struct pmcfs_trans *tx, uint64_t id, const struct pmcfs_root_item *ri,
			   const char *name)
{
	struct pmcfs_ckey k = { id, PMCFS_KEY_ROOT, 0 };
	uint8_t buf[sizeof(*ri) + PMCFS_NAME_MAX];
	size_t len = strlen(name);

	memcpy(buf, ri, sizeof(*ri));
	memcpy(buf + sizeof(*ri), name, len);
	return pmcfs_tree_update(tx, &tx->fs->roottab, &k, buf, sizeof(*ri) + len);
}

int pmcfs_subvol_info(struct pmcfs_fs *fs, uint64_t id, struct pmcfs_subvol_info *ret)
{
	struct pmcfs_ckey k = { id, PMCFS_KEY_ROOT, 0 };
	uint8_t buf[sizeof(struct pmcfs_root_item) + PMCFS_NAME_MAX + 1];
	uint32_t size;
	int err = pmcfs_tree_lookup(fs, &fs->roottab, &k, buf, sizeof(buf), &size);

	return err ? err : pmcfs_root_item_decode(id, buf, size, ret);
}

static struct pmcfs_tree *find_open(struct pmcfs_fs *fs, uint64_t id)
{
	for (struct pmcfs_tree *t = fs->subvols; t; t = t->next)
		if (t->id == id && !t->gone)
			return t;
	return NULL;
}

static int tree_new(struct pmcfs_fs *fs, uint64_t id, const struct pmcfs_root_ref *root,
		    uint64_t next_ino, struct pmcfs_tree **ret)
{
	struct pmcfs_tree *t = malloc(sizeof(*t));

	if (!t)
		return -ENOMEM;
	pmcfs_tree_init(t, fs, id, root);
	t->next_ino = next_ino;
	t->rdonly = false;
	t->next = fs->subvols;
	fs->subvols = t;
	*ret = t;
	return 0;
}

int pmcfs_subvol_open(struct pmcfs_fs *fs, uint64_t id, struct pmcfs_tree **ret_tree)
{
	struct pmcfs_subvol_info si;
	int err;

	if (id < PMCFS_FIRST_SUBVOL || id > PMCFS_LAST_SUBVOL)
		return -EINVAL;
	if ((*ret_tree = find_open(fs, id)))
		return 0;
	if ((err = pmcfs_subvol_info(fs, id, &si)) ||
	    (err = tree_new(fs, id, &si.root, si.next_ino, ret_tree)))
		return err;
	(*ret_tree)->rdonly = si.flags & PMCFS_ROOT_RDONLY;
	return 0;
}

/*
 * Subvolume ids are never reused (a snapshot's parent id must not come
 * to name a stranger): the root table keeps the next id in a
 * NEXT_SUBVOL item, written whenever an id is taken.
 */
int pmcfs_subvol_scan_next_id(struct pmcfs_fs *fs)
{
	struct pmcfs_ckey k = { 0, PMCFS_KEY_NEXT_SUBVOL, 0 }, start = { PMCFS_FIRST_SUBVOL, 0, 0 };
	struct pmcfs_iter *it;
	const void *body;
	uint64_t next = PMCFS_FIRST_SUBVOL, stored;
	uint32_t size;
	int err;

	if (fs->next_subvol)
		return 0;
	err = pmcfs_tree_lookup(fs, &fs->roottab, &k, &stored, sizeof(stored), &size);
	if (!err && size != sizeof(stored))
		return -PMCFS_ECORRUPT;
	if (!err)
		next = le64toh(stored);
	else if (err != -ENOENT)
		return err;
	/* Never below an id in use, whatever the counter says. */
	if ((err = pmcfs_iter_start(fs, &fs->roottab, &start, &it)))
		return err;
	while ((err = pmcfs_iter_next(it, &k, &body, &size)) > 0)
		if (k.type == PMCFS_KEY_ROOT && k.objectid >= next)
			next = k.objectid + 1;
	pmcfs_iter_free(it);
	if (err < 0)
		return err;
	for (struct pmcfs_tree *t = fs->subvols; t; t = t->next)
		if (t->id >= next)
			next = t->id + 1;
	if (next > PMCFS_LAST_SUBVOL)
		return -ENOSPC;
	fs->next_subvol = next;
	return 0;
}

static int take_subvol_id(struct pmcfs_trans *tx, uint64_t *ret)
{
	struct pmcfs_ckey k = { 0, PMCFS_KEY_NEXT_SUBVOL, 0 };
	uint64_t next;
	int err = pmcfs_subvol_scan_next_id(tx->fs);

	if (err)
		return err;
	*ret = tx->fs->next_subvol++;
	next = htole64(tx->fs->next_subvol);
	return pmcfs_tree_update(tx, &tx->fs->roottab, &k, &next, sizeof(next));
}

static int name_check(struct pmcfs_fs *fs, const char *name)
{
	struct pmcfs_ckey start = { PMCFS_FIRST_SUBVOL, 0, 0 }, k;
	struct pmcfs_iter *it;
	const void *body;
	uint32_t size;
	size_t len = strlen(name);
	int err;

	if (len > PMCFS_NAME_MAX)
		return -ENAMETOOLONG;
	if (!len)
		return 0;	/* unnamed subvolumes (the live filesystem) */
	if ((err = pmcfs_iter_start(fs, &fs->roottab, &start, &it)))
		return err;
	while ((err = pmcfs_iter_next(it, &k, &body, &size)) > 0) {
		struct pmcfs_root_item ri;
		if (k.type != PMCFS_KEY_ROOT || size < sizeof(ri))
			continue;
		memcpy(&ri, body, sizeof(ri));
		if (pmcfs_root_item_name_len(&ri) == len && size >= sizeof(ri) + len &&
		    !memcmp((const uint8_t *)body + sizeof(ri), name, len)) {
			err = -EEXIST;
			break;
		}
	}
	pmcfs_iter_free(it);
	return err < 0 ? err : 0;
}

static void root_item_init(struct pmcfs_root_item *ri, const struct pmcfs_root_ref *root,
			   uint64_t gen, const char *name)
{
	struct timespec now;

	clock_gettime(CLOCK_REALTIME, &now);
	memset(ri, 0, sizeof(*ri));
	pmcfs_set_root_item_blkno(ri, root->blkno);
	pmcfs_set_root_item_generation(ri, root->gen);
	pmcfs_set_root_item_level(ri, root->level);
	pmcfs_set_root_item_create_gen(ri, gen);
	pmcfs_set_root_item_ctime_sec(ri, now.tv_sec);
	pmcfs_set_root_item_ctime_nsec(ri, now.tv_nsec);
	pmcfs_set_root_item_next_ino(ri, PMCFS_FIRST_INO);
	pmcfs_set_root_item_name_len(ri, strlen(name));
}

int pmcfs_subvol_create(struct pmcfs_trans *tx, const char *name, uint64_t *ret_id)
{
	struct pmcfs_fs *fs = tx->fs;
	struct pmcfs_root_ref none = { 0, 0, 0 };
	struct pmcfs_root_item ri;
	struct pmcfs_tree *t;
	int err;

	uint64_t id;

	if ((err = name_check(fs, name)) || (err = take_subvol_id(tx, &id)))
		return err;
	if ((err = tree_new(fs, id, &none, PMCFS_FIRST_INO, &t)))
		return err;
	if ((err = pmcfs_tree_new_root(tx, t)))
		return err;
	root_item_init(&ri, &t->root, tx->gen, name);
	if ((err = write_root_item(tx, t->id, &ri, name)))
		return err;
	*ret_id = t->id;
	return 0;
}

/* Write a tree's moved root into its root item. */
static int flush_root(struct pmcfs_trans *tx, struct pmcfs_tree *t)
{
	struct pmcfs_root_item ri;
	char name[PMCFS_NAME_MAX + 1];
	int err;

	if (!t->dirty || t->gone)
		return 0;
	if ((err = read_root_item(tx->fs, t->id, &ri, name)))
		return err;
	pmcfs_set_root_item_blkno(&ri, t->root.blkno);
	pmcfs_set_root_item_generation(&ri, t->root.gen);
	pmcfs_set_root_item_level(&ri, t->root.level);
	pmcfs_set_root_item_next_ino(&ri, t->next_ino);
	if ((err = write_root_item(tx, t->id, &ri, name)))
		return err;
	t->dirty = false;
	return 0;
}

int pmcfs_subvol_snapshot(struct pmcfs_trans *tx, uint64_t src, const char *name,
			  unsigned flags, uint64_t *ret_id)
{
	struct pmcfs_fs *fs = tx->fs;
	struct pmcfs_root_item ri;
	struct pmcfs_tree *st, *t;
	char src_name[PMCFS_NAME_MAX + 1];
	int err;

	uint64_t id;

	if ((err = pmcfs_subvol_open(fs, src, &st)) || (err = flush_root(tx, st)) ||
	    (err = name_check(fs, name)) || (err = read_root_item(fs, src, &ri, src_name)))
		return err;
	if (pmcfs_root_item_flags(&ri) & PMCFS_ROOT_DROPPING)
		return -ENOENT;		/* being deleted */
	if ((err = take_subvol_id(tx, &id)) || (err = pmcfs_space_inc(tx, st->root.blkno, 1)))
		return err;
	if ((err = tree_new(fs, id, &st->root, st->next_ino, &t)))
		return err;
	/*
	 * Inodes unlinked while open are open only in the source: in the copy
	 * nothing holds them, and a read-only copy could never free them (as
	 * btrfs's create_snapshot runs orphan cleanup on the new root).
	 */
	if ((err = pmcfs_ns_orphans_finish(tx, t, NULL)))
		return err;
	root_item_init(&ri, &t->root, tx->gen, name);
	pmcfs_set_root_item_next_ino(&ri, st->next_ino);
	pmcfs_set_root_item_parent(&ri, src);
	pmcfs_set_root_item_parent_gen(&ri, st->root.gen);
	pmcfs_set_root_item_flags(&ri, flags & PMCFS_SNAP_RDONLY ? PMCFS_ROOT_RDONLY : 0);
	t->rdonly = flags & PMCFS_SNAP_RDONLY;
	if ((err = write_root_item(tx, t->id, &ri, name)))
		return err;
	*ret_id = t->id;
	return 0;
}

/* Children of a deleted subvolume keep their parent id, marked gone. */
static int mark_orphaned_children(struct pmcfs_trans *tx, uint64_t parent)
{
	struct pmcfs_ckey start = { PMCFS_FIRST_SUBVOL, 0, 0 }, k;
	struct pmcfs_iter *it;
	const void *body;
	uint32_t size;
	uint64_t ids[64];
	size_t n = 0;
	int err;

	do {
		if ((err = pmcfs_iter_start(tx->fs, &tx->fs->roottab, &start, &it)))
			return err;
		n = 0;
		while (n < 64 && (err = pmcfs_iter_next(it, &k, &body, &size)) > 0) {
			struct pmcfs_root_item ri;
			if (k.type != PMCFS_KEY_ROOT || size < sizeof(ri))
				continue;
			memcpy(&ri, body, sizeof(ri));
			if (pmcfs_root_item_parent(&ri) == parent &&
			    !(pmcfs_root_item_flags(&ri) & PMCFS_ROOT_PARENT_GONE))
				ids[n++] = k.objectid;
		}
		pmcfs_iter_free(it);
		if (err < 0)
			return err;
		for (size_t i = 0; i < n; i++) {
			struct pmcfs_root_item ri;
			char name[PMCFS_NAME_MAX + 1];
			if ((err = read_root_item(tx->fs, ids[i], &ri, name)))
				return err;
			pmcfs_set_root_item_flags(&ri, pmcfs_root_item_flags(&ri) | PMCFS_ROOT_PARENT_GONE);
			if ((err = write_root_item(tx, ids[i], &ri, name)))
				return err;
		}
	} while (n == 64);
	return 0;
}

int pmcfs_subvol_delete_start(struct pmcfs_trans *tx, uint64_t id)
{
	struct pmcfs_root_item ri;
	char name[PMCFS_NAME_MAX + 1];
	struct pmcfs_tree *t;
	int err;

	if (id == tx->fs->sb.root_subvol)
		return -EBUSY;		/* the filesystem's default subvolume */
	if ((err = pmcfs_subvol_open(tx->fs, id, &t)) || (err = flush_root(tx, t)) ||
	    (err = read_root_item(tx->fs, id, &ri, name)))
		return err;
	pmcfs_set_root_item_flags(&ri, pmcfs_root_item_flags(&ri) | PMCFS_ROOT_DROPPING);
	return write_root_item(tx, id, &ri, name);
}

int pmcfs_subvol_set_rdonly(struct pmcfs_trans *tx, uint64_t id, bool rdonly)
{
	struct pmcfs_root_item ri;
	char name[PMCFS_NAME_MAX + 1];
	struct pmcfs_tree *t;
	uint64_t flags;
	int err;

	if ((err = pmcfs_subvol_open(tx->fs, id, &t)) || (err = flush_root(tx, t)) ||
	    (err = read_root_item(tx->fs, id, &ri, name)))
		return err;
	flags = pmcfs_root_item_flags(&ri) & ~(uint64_t)PMCFS_ROOT_RDONLY;
	pmcfs_set_root_item_flags(&ri, flags | (rdonly ? PMCFS_ROOT_RDONLY : 0));
	if ((err = write_root_item(tx, id, &ri, name)))
		return err;
	t->rdonly = rdonly;
	return 0;
}

int pmcfs_subvol_advance_create_gen(struct pmcfs_trans *tx, uint64_t id)
{
	struct pmcfs_root_item ri;
	char name[PMCFS_NAME_MAX + 1];
	struct pmcfs_tree *t;
	int err;

	if ((err = pmcfs_subvol_open(tx->fs, id, &t)) || (err = flush_root(tx, t)) ||
	    (err = read_root_item(tx->fs, id, &ri, name)))
		return err;
	if (pmcfs_root_item_create_gen(&ri) >= tx->gen)
		return 0;
	pmcfs_set_root_item_create_gen(&ri, tx->gen);
	return write_root_item(tx, id, &ri, name);
}

int pmcfs_subvol_drop_step(struct pmcfs_trans *tx, uint64_t id, unsigned budget, bool *ret_done)
{
	struct pmcfs_ckey k = { id, PMCFS_KEY_ROOT, 0 };
	struct pmcfs_subvol_info si;
	struct pmcfs_tree *t;
	bool done = false;
	int err;

	*ret_done = false;
	if ((err = pmcfs_subvol_info(tx->fs, id, &si)))
		return err;
	if (!(si.flags & PMCFS_ROOT_DROPPING))
		return -EINVAL;
	if ((err = pmcfs_subvol_open(tx->fs, id, &t)))
		return err;
	while (!err && !done && budget--)
		err = pmcfs_tree_drop_step(tx, t, &done);
	if (err || !done)
		return err;
	if ((err = pmcfs_tree_delete(tx, &tx->fs->roottab, &k)))
		return err;
	*ret_done = true;
	return mark_orphaned_children(tx, id);
}

int pmcfs_subvol_delete(struct pmcfs_trans *tx, uint64_t id)
{
	bool done = false;
	int err = pmcfs_subvol_delete_start(tx, id);

	while (!err && !done)
		err = pmcfs_subvol_drop_step(tx, id, 1024, &done);
	return err;
}

int pmcfs_subvol_flush_roots(struct pmcfs_trans *tx)
{
	int err;

	for (struct pmcfs_tree *t = tx->fs->subvols; t; t = t->next)
		if ((err = flush_root(tx, t)))
			return err;
	return 0;
}

void pmcfs_subvol_reset(struct pmcfs_fs *fs)
{
	for (struct pmcfs_tree *t = fs->subvols; t; t = t->next) {
		struct pmcfs_subvol_info si;
		t->dirty = false;
		t->gone = pmcfs_subvol_info(fs, t->id, &si) != 0;
		if (!t->gone) {
			t->root = si.root;
			t->next_ino = si.next_ino;
		}
	}
}

void pmcfs_subvol_free_all(struct pmcfs_fs *fs)
{
	while (fs->subvols) {
		struct pmcfs_tree *t = fs->subvols;
		fs->subvols = t->next;
		free(t);
	}
}

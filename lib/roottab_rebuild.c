// SPDX-License-Identifier: MIT
/*
 * A new root table for fsck, when the old one cannot be read: its entries
 * come from the caller (what survived, and roots found by a scan), so the
 * old table's blocks are never read.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "fs_priv.h"
#include "pmcfs_repair.h"

int pmcfs_tree_next_ino(struct pmcfs_fs *fs, const struct pmcfs_root_ref *root, uint64_t *ret)
{
	/* Orphan items sort last (PMCFS_ORPHAN_OBJECTID); every inode sorts below them. */
	struct pmcfs_ckey below = { PMCFS_ORPHAN_OBJECTID - 1, UINT8_MAX, UINT64_MAX }, k;
	struct pmcfs_tree t;
	uint32_t size;
	int err;

	if (root->level >= PMCFS_MAX_LEVEL || root->blkno < fs->sb.data_start ||
	    root->blkno >= fs->sb.data_end)
		return -EINVAL;
	pmcfs_tree_init(&t, fs, PMCFS_FIRST_SUBVOL, root);	/* any fs tree: for its magic */
	err = pmcfs_tree_lookup_le(fs, &t, &below, &k, NULL, 0, &size);
	if (err == -ENOENT || (!err && k.objectid < PMCFS_ROOT_INO)) {
		*ret = PMCFS_FIRST_INO;
		return 0;
	}
	if (err)
		return err;
	*ret = k.objectid < PMCFS_FIRST_INO ? PMCFS_FIRST_INO : k.objectid + 1;
	return 0;
}

static int check_entries(const struct pmcfs_fs *fs, const struct pmcfs_subvol_info *v, size_t n,
			 uint64_t next_id)
{
	if (next_id < PMCFS_FIRST_SUBVOL || next_id > PMCFS_LAST_SUBVOL + 1)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		const struct pmcfs_subvol_info *e = &v[i];
		if (e->id < PMCFS_FIRST_SUBVOL || e->id >= next_id ||
		    e->root.level >= PMCFS_MAX_LEVEL || e->root.blkno < fs->sb.data_start ||
		    e->root.blkno >= fs->sb.data_end || e->next_ino < PMCFS_FIRST_INO ||
		    strnlen(e->name, sizeof(e->name)) > PMCFS_NAME_MAX)
			return -EINVAL;
		for (size_t j = 0; j < i; j++)
			if (v[j].id == e->id || (e->name[0] && !strcmp(v[j].name, e->name)))
				return -EEXIST;
	}
	return 0;
}

static int insert_entry(struct pmcfs_trans *tx, const struct pmcfs_subvol_info *e)
{
	struct pmcfs_ckey k = { e->id, PMCFS_KEY_ROOT, 0 };
	struct pmcfs_root_item ri;
	uint8_t buf[sizeof(ri) + PMCFS_NAME_MAX];
	size_t len = strlen(e->name);

	memset(&ri, 0, sizeof(ri));
	pmcfs_set_root_item_blkno(&ri, e->root.blkno);
	pmcfs_set_root_item_generation(&ri, e->root.gen);
	pmcfs_set_root_item_level(&ri, e->root.level);
	pmcfs_set_root_item_flags(&ri, e->flags);
	pmcfs_set_root_item_parent(&ri, e->parent);
	pmcfs_set_root_item_parent_gen(&ri, e->parent_gen);
	pmcfs_set_root_item_create_gen(&ri, e->create_gen);
	pmcfs_set_root_item_ctime_sec(&ri, e->ctime_sec);
	pmcfs_set_root_item_ctime_nsec(&ri, e->ctime_nsec);
	pmcfs_set_root_item_next_ino(&ri, e->next_ino);
	pmcfs_set_root_item_name_len(&ri, len);
	memcpy(buf, &ri, sizeof(ri));
	memcpy(buf + sizeof(ri), e->name, len);
	return pmcfs_tree_insert(tx, &tx->fs->roottab, &k, buf, sizeof(ri) + len);
}

int pmcfs_roottab_rebuild(struct pmcfs_trans *tx, const struct pmcfs_subvol_info *v, size_t n,
			  uint64_t next_id)
{
	struct pmcfs_ckey nk = { 0, PMCFS_KEY_NEXT_SUBVOL, 0 };
	struct pmcfs_fs *fs;
	uint64_t next_le = htole64(next_id);
	int err;

	if (!tx || !tx->fs->in_trans || &tx->fs->tx != tx || tx->fs->broken)
		return -EINVAL;
	fs = tx->fs;
	if (fs->roottab.dirty)
		return -EBUSY;
	for (struct pmcfs_tree *t = fs->subvols; t; t = t->next)
		if (t->dirty && !t->gone)
			return -EBUSY;	/* its root would be written into the new table */
	if ((err = check_entries(fs, v, n, next_id)))
		return err;
	/* The old table stays counted, unread: the caller recounts the space. */
	if ((err = pmcfs_tree_new_root(tx, &fs->roottab)))
		return err;
	for (size_t i = 0; i < n && !err; i++)
		err = insert_entry(tx, &v[i]);
	if (!err)
		err = pmcfs_tree_insert(tx, &fs->roottab, &nk, &next_le, sizeof(next_le));
	if (err)
		return err;
	fs->next_subvol = 0;
	pmcfs_subvol_reset(fs);	/* open trees follow their new entries */
	return 0;
}

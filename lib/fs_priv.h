/* SPDX-License-Identifier: MIT */
/* Internal state of an open filesystem: cache, trees, space map, transaction. */
#ifndef PMCFS_FS_PRIV_H
#define PMCFS_FS_PRIV_H

#include "pmcfs.h"
#include "pmcfs_endian.h"

#define PMCFS_CACHE_CLEAN_MAX	32768	/* clean blocks kept (128 MiB) */

/* ---- block cache (cache.c) ---------------------------------------------- */

struct pmcfs_buf {
	uint64_t blkno;
	uint8_t *data;			/* PMCFS_BLOCK_SIZE bytes */
	struct pmcfs_buf *hnext;	/* hash chain */
	bool dirty;			/* must be written at commit */
	bool fresh;			/* allocated in the running transaction */
};

struct pmcfs_cache {
	struct pmcfs_buf **table;
	size_t nbuckets;
	size_t count;
	size_t nclean;
};

int pmcfs_cache_init(struct pmcfs_cache *c);
void pmcfs_cache_release(struct pmcfs_cache *c);
struct pmcfs_buf *pmcfs_cache_find(struct pmcfs_cache *c, uint64_t blkno);
int pmcfs_cache_add(struct pmcfs_cache *c, uint64_t blkno, struct pmcfs_buf **ret);
void pmcfs_cache_forget(struct pmcfs_cache *c, uint64_t blkno);
void pmcfs_cache_mark_dirty(struct pmcfs_cache *c, struct pmcfs_buf *b);
/* Drop clean buffers when over the limit; never called inside a tree operation. */
void pmcfs_cache_trim(struct pmcfs_cache *c);
/* Drop every dirty or fresh buffer (abort). */
void pmcfs_cache_discard_dirty(struct pmcfs_cache *c);
typedef int (*pmcfs_buf_fn)(void *ctx, struct pmcfs_buf *b);
int pmcfs_cache_for_each_dirty(struct pmcfs_cache *c, pmcfs_buf_fn fn, void *ctx);

/* ---- run maps (runmap.c): sorted disjoint runs of blocks ---------------- */

struct pmcfs_run {
	uint64_t start, len;
	uint32_t count;
	uint32_t owner;
	bool dirty;
};

struct pmcfs_runmap {
	struct pmcfs_run *runs;
	size_t n, cap;
};

void pmcfs_runmap_release(struct pmcfs_runmap *m);
/* Index of the run containing blk, or of the first run after it (may be n). */
size_t pmcfs_runmap_search(const struct pmcfs_runmap *m, uint64_t blk);
int pmcfs_runmap_insert_at(struct pmcfs_runmap *m, size_t i, const struct pmcfs_run *r);
void pmcfs_runmap_remove_at(struct pmcfs_runmap *m, size_t i, size_t n);
/* Split so that a run boundary falls at blk (no-op if one does). */
int pmcfs_runmap_split(struct pmcfs_runmap *m, uint64_t blk);

/* ---- trees ---------------------------------------------------------------- */

struct pmcfs_tree {
	struct pmcfs_fs *fs;
	uint64_t id;
	uint32_t magic;
	struct pmcfs_root_ref root;
	uint64_t next_ino;		/* fs trees: inode number allocator */
	bool rdonly;			/* a read-only snapshot: items cannot change */
	bool dirty;			/* root or next_ino changed in this transaction */
	bool gone;			/* created in an aborted txn or deleted */
	struct pmcfs_tree *next;	/* open subvolume trees */
};

/* ---- the filesystem ---------------------------------------------------- */

struct pmcfs_trans {
	struct pmcfs_fs *fs;
	uint64_t gen;
};

struct pmcfs_fs {
	struct pmcfs_dev *dev;
	unsigned flags;
	struct pmcfs_sb_info sb;
	struct pmcfs_commit_info commit;	/* last durable commit */
	pmcfs_log_fn log;
	void *log_ctx;

	struct pmcfs_cache cache;
	struct pmcfs_tree roottab;
	struct pmcfs_tree spacemap;
	struct pmcfs_tree *subvols;

	/* Space: committed map + overlay of this transaction's changes. */
	struct pmcfs_runmap overlay;	/* current counts of touched ranges */
	struct pmcfs_runmap freeidx;	/* allocatable now (count 0, not deferred) */
	struct pmcfs_runmap deferred;	/* freed in this txn: reusable after commit */
	uint64_t free_blocks;		/* blocks with count 0, incl. this txn */
	uint64_t meta_hint;		/* where metadata allocation looks first */
	uint64_t data_hint;		/* where small data allocation looks first */
	bool freeidx_loaded;
	bool bad_refs_ok;		/* moving data off bad runs: their refs are not counted */

	struct pmcfs_trans tx;
	bool in_trans;
	bool broken;			/* a commit failed half way: close only */
	uint64_t next_subvol;
};

/* ---- internal operations ---------------------------------------------- */

/* Read a tree block through the cache, verified against what the parent expects. */
int pmcfs_read_node(struct pmcfs_fs *fs, uint64_t blkno, uint32_t magic, int level,
		    uint64_t gen, struct pmcfs_buf **ret);
void pmcfs_node_init(struct pmcfs_fs *fs, uint8_t *buf, uint64_t blkno, uint32_t magic,
		     uint64_t owner, unsigned level, uint64_t gen);
void pmcfs_node_seal(uint8_t *buf);	/* set the crc */
int pmcfs_tree_new_root(struct pmcfs_trans *tx, struct pmcfs_tree *t);
void pmcfs_tree_init(struct pmcfs_tree *t, struct pmcfs_fs *fs, uint64_t id,
		     const struct pmcfs_root_ref *root);

/* Leaf layout helpers (node.c). */
struct pmcfs_item *pmcfs_leaf_item(uint8_t *buf, unsigned i);
struct pmcfs_node_ptr *pmcfs_node_ptr_at(uint8_t *buf, unsigned i);
uint32_t pmcfs_leaf_free(const uint8_t *buf);
uint32_t pmcfs_leaf_used(const uint8_t *buf);
void pmcfs_key_to_disk(const struct pmcfs_ckey *k, struct pmcfs_key *d);
void pmcfs_key_from_disk(const struct pmcfs_key *d, struct pmcfs_ckey *k);
#define PMCFS_BODY_ALIGN(n)	(((n) + 7u) & ~7u)

/* Space map (spacemap.c). */
int pmcfs_space_load(struct pmcfs_fs *fs);		/* build the free index */
int pmcfs_space_get_count(struct pmcfs_fs *fs, uint64_t blkno, uint32_t *ret);
/* Known previous state, no tree read: used for space map / root table nodes. */
int pmcfs_space_set_known(struct pmcfs_fs *fs, uint64_t start, uint64_t len,
			  uint32_t old_count, uint32_t new_count, uint32_t owner);
int pmcfs_space_apply(struct pmcfs_trans *tx);		/* overlay -> tree, at commit */
void pmcfs_space_reset(struct pmcfs_fs *fs);		/* abort */
int pmcfs_space_release_deferred(struct pmcfs_fs *fs);	/* after commit */
int pmcfs_space_mark_bad(struct pmcfs_trans *tx, uint64_t start, uint64_t len);
/* Record the free blocks [start, end) bad, including ones this transaction
 * freed (they leave the deferred list: never to become allocatable). */
int pmcfs_space_claim_free_bad(struct pmcfs_trans *tx, uint64_t start, uint64_t end);
int pmcfs_freeidx_take(struct pmcfs_fs *fs, uint64_t start, uint64_t len);
int pmcfs_freeidx_add(struct pmcfs_runmap *m, uint64_t start, uint64_t len);

int pmcfs_alloc_goal(struct pmcfs_trans *tx, uint64_t goal, uint64_t want, unsigned flags,
		     uint64_t *ret_start, uint64_t *ret_len);

/* Block references held by a node's items (children), for shadow and drop. */
typedef int (*pmcfs_ref_fn)(struct pmcfs_trans *tx, uint64_t start, uint64_t len);
int pmcfs_node_for_each_ref(struct pmcfs_trans *tx, const struct pmcfs_tree *t,
			    const uint8_t *buf, pmcfs_ref_fn fn);
int pmcfs_tree_lookup_le(struct pmcfs_fs *fs, struct pmcfs_tree *t, const struct pmcfs_ckey *key,
			 struct pmcfs_ckey *ret_key, void *buf, uint32_t bufsize, uint32_t *ret_size);
int pmcfs_tree_drop(struct pmcfs_trans *tx, struct pmcfs_tree *t);
int pmcfs_tree_drop_step(struct pmcfs_trans *tx, struct pmcfs_tree *t, bool *ret_done);

/* Root table (subvol.c). */
int pmcfs_subvol_flush_roots(struct pmcfs_trans *tx);
void pmcfs_subvol_reset(struct pmcfs_fs *fs);
void pmcfs_subvol_free_all(struct pmcfs_fs *fs);
int pmcfs_subvol_scan_next_id(struct pmcfs_fs *fs);

int pmcfs_fs_open_state(struct pmcfs_dev *dev, unsigned flags, const struct pmcfs_sb_info *sb,
			const struct pmcfs_commit_info *ci, struct pmcfs_fs **ret_fs);

/* Superblock (super.c). */
int pmcfs_commit_write(struct pmcfs_fs *fs, const struct pmcfs_commit_info *ci);
uint64_t pmcfs_slot_replica(const struct pmcfs_sb_info *sb, int slot);

static inline bool pmcfs_tree_shareable(const struct pmcfs_tree *t)
{
	return t->id >= PMCFS_FIRST_SUBVOL;
}

#endif

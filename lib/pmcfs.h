/* SPDX-License-Identifier: MIT */
/*
 * libpmcfs API. Every fallible function returns 0 or a negative code
 * (-errno or -PMCFS_E*, see pmcfs_errors.h); outputs come back through
 * trailing ret_* pointers. The library never prints, never exits and
 * keeps no global state. Whoever opens a handle closes it.
 */
#ifndef PMCFS_H
#define PMCFS_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include "pmcfs_format.h"
#include "pmcfs_errors.h"

/* ---- checksums ----------------------------------------------------------- */

/* CRC32C (Castagnoli), seed ~0, final xor ~0: "123456789" -> 0xe3069283. */
uint32_t pmcfs_crc32c(uint32_t crc, const void *buf, size_t len);
/* The same, always through the portable table (reference for tests). */
uint32_t pmcfs_crc32c_sw(uint32_t crc, const void *buf, size_t len);
/* Checksum of buf[0..len) with the 4-byte field at csum_off taken as zero. */
uint32_t pmcfs_cksum(const void *buf, size_t len, size_t csum_off);
bool pmcfs_cksum_verify(const void *buf, size_t len, size_t csum_off);
void pmcfs_cksum_update(void *buf, size_t len, size_t csum_off);

/* ---- devices --------------------------------------------------------------- */

enum pmcfs_dev_flags {
	PMCFS_DEV_RDONLY = 1U << 0,
	PMCFS_DEV_EXCL   = 1U << 1,	/* block devices: O_EXCL, refuse if busy */
};

enum pmcfs_dev_kind {
	PMCFS_DEV_IMAGE,	/* regular file */
	PMCFS_DEV_BLOCK,	/* block device, e.g. /dev/pmem0 */
	PMCFS_DEV_DAX,		/* devdax character device, mmap + libpmem */
	PMCFS_DEV_MEM,		/* in-memory image (tests) */
	PMCFS_DEV_RECORD,	/* recording wrapper around another device */
};

struct pmcfs_dev;

struct pmcfs_dev_ops {
	const char *name;
	int (*read)(struct pmcfs_dev *dev, void *buf, size_t len, uint64_t off);
	int (*write)(struct pmcfs_dev *dev, const void *buf, size_t len, uint64_t off);
	int (*flush)(struct pmcfs_dev *dev);	/* persistence barrier */
	void (*close)(struct pmcfs_dev *dev);
};

struct pmcfs_dev {
	const struct pmcfs_dev_ops *ops;
	enum pmcfs_dev_kind kind;
	uint64_t size;		/* bytes */
	unsigned flags;		/* enum pmcfs_dev_flags */
	void *priv;		/* backend state */
};

/* Open a path: regular file, block device or devdax character device. */
int pmcfs_dev_open(const char *path, unsigned flags, struct pmcfs_dev **ret_dev);
/* A zero-filled in-memory device of size bytes. */
int pmcfs_dev_mem_open(uint64_t size, struct pmcfs_dev **ret_dev);
/* Bounds-checked I/O through dev->ops: -EINVAL past the end, -EROFS if RDONLY. */
int pmcfs_dev_read(struct pmcfs_dev *dev, void *buf, size_t len, uint64_t off);
int pmcfs_dev_write(struct pmcfs_dev *dev, const void *buf, size_t len, uint64_t off);
int pmcfs_dev_flush(struct pmcfs_dev *dev);
void pmcfs_dev_close(struct pmcfs_dev *dev);

/*
 * Recording backend: passes I/O to inner (which it then owns) and logs
 * every write with the number of flushes seen before it (its epoch), so
 * any crash state can be rebuilt. An optional guard is asked before each
 * write and can veto it with a negative code (crash-test oracle).
 */
struct pmcfs_rec_write {
	uint64_t off;
	uint32_t len;
	uint32_t epoch;
	const uint8_t *data;
};
typedef int (*pmcfs_write_guard_fn)(void *ctx, uint64_t off, uint64_t len);
int pmcfs_dev_record_open(struct pmcfs_dev *inner, struct pmcfs_dev **ret_dev);
size_t pmcfs_dev_record_nwrites(const struct pmcfs_dev *dev);
const struct pmcfs_rec_write *pmcfs_dev_record_get(const struct pmcfs_dev *dev, size_t i);
uint32_t pmcfs_dev_record_epoch(const struct pmcfs_dev *dev);
void pmcfs_dev_record_clear(struct pmcfs_dev *dev);
void pmcfs_dev_record_set_guard(struct pmcfs_dev *dev, pmcfs_write_guard_fn fn, void *ctx);

/* ---- verification ------------------------------------------------------------ */

/* Which check failed, for messages like "bad magic: expected 0x.. found 0x..". */
struct pmcfs_verify_err {
	int code;		/* -PMCFS_ECORRUPT, -PMCFS_EBADCRC, ... */
	const char *check;	/* static string naming the check, e.g. "magic" */
	uint64_t expected;
	uint64_t found;
	int item;		/* item/pointer index, or -1 */
};

/* ---- superblock and commit records (native in-core copies) ------------------ */

struct pmcfs_sb_info {
	uint32_t version;
	uint8_t uuid[16];
	uint64_t feature_compat, feature_ro_compat, feature_incompat;
	uint32_t block_size;
	uint32_t dax_align;
	uint64_t nblocks;
	uint64_t data_start, data_end;
	uint64_t slot_blkno[2];
	uint64_t replica_blkno;
	uint64_t mkfs_time;
	uint64_t root_subvol;
	char label[PMCFS_LABEL_MAX + 1];
};

struct pmcfs_root_ref {
	uint64_t blkno;
	uint64_t gen;
	uint8_t level;
};

struct pmcfs_commit_info {
	uint8_t uuid[16];
	uint64_t generation;
	struct pmcfs_root_ref roottab;
	struct pmcfs_root_ref spacemap;
	uint64_t log_root, rmap_root;
	uint64_t free_blocks;
	uint64_t feature_incompat;
	uint64_t flags;
};

/* Decode and verify a 4096-byte superblock block (crc first, then fields). */
int pmcfs_super_from_disk(const void *block, struct pmcfs_sb_info *sb,
			  struct pmcfs_verify_err *why);
/* Encode into a zeroed 4096-byte block and set its crc. */
void pmcfs_super_to_disk(const struct pmcfs_sb_info *sb, void *block);
int pmcfs_commit_from_disk(const void *rec, const uint8_t uuid[16],
			   struct pmcfs_commit_info *ci, struct pmcfs_verify_err *why);
void pmcfs_commit_to_disk(const struct pmcfs_commit_info *ci, void *rec);

/* Every copy of the superblock and every commit slot, and which one open picks. */
enum { PMCFS_SLOT_A, PMCFS_SLOT_B, PMCFS_SLOT_A_REPLICA, PMCFS_SLOT_B_REPLICA, PMCFS_NSLOTS };
struct pmcfs_slot_state {
	uint64_t blkno;
	int err;			/* 0 if valid; -ENODATA if empty (all zero) */
	struct pmcfs_verify_err why;
	struct pmcfs_commit_info ci;
};
struct pmcfs_super_scan {
	struct pmcfs_sb_info sb;	/* from the primary, or the replica */
	int sb_err;			/* primary superblock's verdict */
	struct pmcfs_verify_err sb_why;
	int replica_err;		/* replica superblock's verdict */
	struct pmcfs_verify_err replica_why;
	bool sb_from_replica;
	struct pmcfs_slot_state slot[PMCFS_NSLOTS];
	int current;			/* index of the chosen slot, -1 if none */
};
int pmcfs_super_scan(struct pmcfs_dev *dev, struct pmcfs_super_scan *ret);

/* ---- mkfs -------------------------------------------------------------------- */

/*
 * Retire an existing filesystem's commit records, oldest generation
 * first with a barrier after each, so that a crash leaves it either as
 * it was or unopenable, never rolled back. pmcfs_mkfs does this itself;
 * a caller that writes elsewhere on the device first (mkfs.pmcfs wiping
 * stale signatures) calls it before those writes.
 */
int pmcfs_mkfs_retire_old(struct pmcfs_dev *dev);

struct pmcfs_badrange {
	uint64_t start;		/* blocks */
	uint64_t len;
};

enum pmcfs_mkfs_flags {
	/*
	 * The caller found no pmcfs filesystem that could open on the device
	 * before writing anything to it: the barrier that retires an old
	 * filesystem's commit slots before its blocks are overwritten is
	 * not needed.
	 */
	PMCFS_MKFS_NO_OLD_FS = 1U << 0,
};

struct pmcfs_mkfs_params {
	unsigned flags;			/* enum pmcfs_mkfs_flags */
	uint64_t size;			/* bytes to use; 0 = whole device */
	uint32_t dax_align;		/* bytes, power of two >= 4096; 0 = 2 MiB */
	uint8_t uuid[16];
	char label[PMCFS_LABEL_MAX + 1];
	uint64_t mkfs_time;		/* seconds; the caller's clock */
	const struct pmcfs_badrange *bad;
	size_t nbad;
};

struct pmcfs_geometry {
	uint64_t nblocks;
	uint64_t data_start, data_end;
	uint64_t replica_blkno;
	uint32_t dax_align;
	uint64_t bad_blocks;		/* bad blocks inside the data area */
	uint64_t meta_blocks;		/* tree blocks mkfs writes */
	uint64_t free_blocks;		/* after mkfs */
};

/* Compute the geometry without writing (mkfs -n); -ENOSPC if too small. */
int pmcfs_mkfs_geometry(const struct pmcfs_mkfs_params *p, uint64_t dev_size,
			struct pmcfs_geometry *ret_geo);
/* Write a new filesystem; the number of blocks written is bounded. */
int pmcfs_mkfs(struct pmcfs_dev *dev, const struct pmcfs_mkfs_params *p,
	       struct pmcfs_geometry *ret_geo);

/* ---- open filesystem --------------------------------------------------------- */

struct pmcfs_fs;
struct pmcfs_trans;
struct pmcfs_tree;

enum pmcfs_open_flags {
	PMCFS_OPEN_RDONLY = 1U << 0,
	PMCFS_OPEN_NOSPACE = 1U << 1,	/* skip the free-space index (dump, fsck) */
};

typedef void (*pmcfs_log_fn)(void *ctx, int level, const char *msg);

int pmcfs_fs_open(struct pmcfs_dev *dev, unsigned flags, struct pmcfs_fs **ret_fs);
/*
 * Open at the commit in slot (enum PMCFS_SLOT_*) rather than the newest,
 * read-only (-EINVAL otherwise): to look at the previous commit, the one
 * fsck would roll back to. Only the newest commit is sure to be intact
 * (pmcfs(5), "Torn writes"); reads verify every block, as always. The
 * slot's own error if it holds no valid record.
 */
int pmcfs_fs_open_slot(struct pmcfs_dev *dev, unsigned flags, int slot, struct pmcfs_fs **ret_fs);
void pmcfs_fs_close(struct pmcfs_fs *fs);	/* aborts an open transaction */
void pmcfs_fs_set_log(struct pmcfs_fs *fs, pmcfs_log_fn fn, void *ctx);
const struct pmcfs_sb_info *pmcfs_fs_sb(const struct pmcfs_fs *fs);
const struct pmcfs_commit_info *pmcfs_fs_commit(const struct pmcfs_fs *fs);
struct pmcfs_dev *pmcfs_fs_dev(const struct pmcfs_fs *fs);
uint64_t pmcfs_fs_free_blocks(const struct pmcfs_fs *fs);	/* incl. this txn */
/* A commit failed while writing: no transaction until the fs is reopened. */
bool pmcfs_fs_broken(const struct pmcfs_fs *fs);

/* ---- keys and raw blocks ------------------------------------------------------- */

/* Native-endian key, ordered by (objectid, type, offset). */
struct pmcfs_ckey {
	uint64_t objectid;
	uint8_t type;
	uint64_t offset;
};
int pmcfs_key_cmp(const struct pmcfs_ckey *a, const struct pmcfs_ckey *b);

/* Read one block without any check (dump, fsck, forensics). */
int pmcfs_block_read(struct pmcfs_fs *fs, uint64_t blkno, void *buf);
/*
 * Verify a tree block as read from blkno: crc, magic, uuid, blkno, level,
 * item bounds, key order, and child generations not newer than the
 * block's own. The owner is not checked: a shared fs-tree block belongs
 * to several trees. expect_level < 0 skips the level check;
 * expect_magic 0 accepts any tree magic.
 */
int pmcfs_node_verify(const struct pmcfs_fs *fs, const void *buf, uint64_t blkno,
		      uint32_t expect_magic, int expect_level,
		      struct pmcfs_verify_err *why);
/* Accessors for a verified block. */
unsigned pmcfs_node_level(const void *buf);
unsigned pmcfs_node_nritems(const void *buf);
void pmcfs_node_key(const void *buf, unsigned i, struct pmcfs_ckey *ret_key);
void pmcfs_node_child(const void *buf, unsigned i, uint64_t *ret_blkno, uint64_t *ret_gen);
const void *pmcfs_leaf_body(const void *buf, unsigned i, uint32_t *ret_size);
uint32_t pmcfs_tree_magic(uint64_t tree_id);

/* ---- transactions ----------------------------------------------------------------- */

/*
 * One transaction at a time per filesystem. Blocks freed in a transaction
 * are reused only after it commits, so the last committed state stays
 * intact at every crash point. Commit frees tx; so does abort.
 */
int pmcfs_trans_begin(struct pmcfs_fs *fs, struct pmcfs_trans **ret_tx);
int pmcfs_trans_commit(struct pmcfs_trans *tx);
void pmcfs_trans_abort(struct pmcfs_trans *tx);
uint64_t pmcfs_trans_generation(const struct pmcfs_trans *tx);

/* ---- trees -------------------------------------------------------------------------- */

/* The root table and the space map are open while fs is open. */
struct pmcfs_tree *pmcfs_fs_roottab(struct pmcfs_fs *fs);
struct pmcfs_tree *pmcfs_fs_spacemap(struct pmcfs_fs *fs);
uint64_t pmcfs_tree_id(const struct pmcfs_tree *t);
void pmcfs_tree_root(const struct pmcfs_tree *t, struct pmcfs_root_ref *ret);

/* Copy the body (up to bufsize bytes) of the item with this exact key. */
int pmcfs_tree_lookup(struct pmcfs_fs *fs, struct pmcfs_tree *t,
		      const struct pmcfs_ckey *key, void *buf, uint32_t bufsize,
		      uint32_t *ret_size);
/* -EEXIST if present; size <= PMCFS_MAX_ITEM_BODY. */
int pmcfs_tree_insert(struct pmcfs_trans *tx, struct pmcfs_tree *t,
		      const struct pmcfs_ckey *key, const void *body, uint32_t size);
/* Insert, or replace the body of an existing item. */
int pmcfs_tree_update(struct pmcfs_trans *tx, struct pmcfs_tree *t,
		      const struct pmcfs_ckey *key, const void *body, uint32_t size);
/* -ENOENT if absent. */
int pmcfs_tree_delete(struct pmcfs_trans *tx, struct pmcfs_tree *t,
		      const struct pmcfs_ckey *key);

/*
 * In-order iteration from the first key >= start. The body pointer is
 * valid until the next call. Modifying the tree invalidates the iterator.
 */
struct pmcfs_iter;
int pmcfs_iter_start(struct pmcfs_fs *fs, struct pmcfs_tree *t,
		     const struct pmcfs_ckey *start, struct pmcfs_iter **ret_it);
/* 1 and the item, 0 at the end, or a negative code. */
int pmcfs_iter_next(struct pmcfs_iter *it, struct pmcfs_ckey *ret_key,
		    const void **ret_body, uint32_t *ret_size);
void pmcfs_iter_free(struct pmcfs_iter *it);

/* ---- subvolumes (fs trees listed in the root table) ---------------------------------- */

struct pmcfs_subvol_info {
	uint64_t id;
	struct pmcfs_root_ref root;
	uint64_t flags;			/* enum pmcfs_root_flags */
	uint64_t parent, parent_gen, create_gen;
	uint64_t ctime_sec;
	uint32_t ctime_nsec;
	uint64_t next_ino;
	char name[PMCFS_NAME_MAX + 1];
};

/* An open fs tree stays valid until the fs is closed or the subvol deleted. */
int pmcfs_subvol_open(struct pmcfs_fs *fs, uint64_t id, struct pmcfs_tree **ret_tree);
int pmcfs_subvol_info(struct pmcfs_fs *fs, uint64_t id, struct pmcfs_subvol_info *ret);
/* Decode a ROOT item's body (size bytes) as read from a tree block: -PMCFS_ECORRUPT if malformed. */
int pmcfs_root_item_decode(uint64_t id, const void *body, uint32_t size,
			   struct pmcfs_subvol_info *ret);
/* An empty fs tree with a fresh id. */
int pmcfs_subvol_create(struct pmcfs_trans *tx, const char *name, uint64_t *ret_id);
/* O(1): a new root-table entry sharing src's root block. */
enum pmcfs_snapshot_flags { PMCFS_SNAP_RDONLY = 1U << 0 };
int pmcfs_subvol_snapshot(struct pmcfs_trans *tx, uint64_t src, const char *name,
			  unsigned flags, uint64_t *ret_id);
/* Set or clear a subvolume's read-only flag (open trees follow at once). */
int pmcfs_subvol_set_rdonly(struct pmcfs_trans *tx, uint64_t id, bool rdonly);
/*
 * Make id the default subvolume (the one mounted): both superblock
 * copies are rewritten in place, outside any transaction (-EBUSY inside
 * one, or if id is being deleted; -ENOENT if it does not exist). Offline
 * only: a crash leaves the old default or the new one (see super.c).
 */
int pmcfs_subvol_set_default(struct pmcfs_fs *fs, uint64_t id);
/* Drop every reference the subvolume holds, in this transaction; frees what reaches zero. */
int pmcfs_subvol_delete(struct pmcfs_trans *tx, uint64_t id);
/*
 * Incremental deletion across transactions: mark the subvolume DROPPING,
 * then call drop_step (up to budget subtree removals each) in as many
 * transactions as it takes; *ret_done once the root item is gone. At
 * every commit the tree is valid with exact refcounts, so an interrupted
 * deletion continues from where it stopped (fsck finishes it).
 */
int pmcfs_subvol_delete_start(struct pmcfs_trans *tx, uint64_t id);
int pmcfs_subvol_drop_step(struct pmcfs_trans *tx, uint64_t id, unsigned budget, bool *ret_done);

/* ---- space map ------------------------------------------------------------------------ */

struct pmcfs_space_info {
	uint64_t start, len;
	uint32_t refcount;
	uint32_t owner;			/* enum pmcfs_run_owner */
};
/* The run containing blkno, as of this transaction. */
int pmcfs_space_lookup(struct pmcfs_fs *fs, uint64_t blkno, struct pmcfs_space_info *ret);
/* Add or drop one reference over [start, start+len); frees reach the deferred list. */
int pmcfs_space_inc(struct pmcfs_trans *tx, uint64_t start, uint64_t len);
int pmcfs_space_dec(struct pmcfs_trans *tx, uint64_t start, uint64_t len);

enum pmcfs_alloc_flags {
	PMCFS_ALLOC_HUGE = 1U << 0,	/* start on a dax_align boundary */
	PMCFS_ALLOC_META = 1U << 1,	/* tree block: packed low */
};
/*
 * Allocate up to want blocks (at least min) as one extent; refcount 1.
 * -ENOSPC when no run of min blocks is free.
 */
int pmcfs_alloc(struct pmcfs_trans *tx, uint64_t want, uint64_t min, unsigned flags,
		uint64_t *ret_start, uint64_t *ret_len);

#endif /* PMCFS_H */

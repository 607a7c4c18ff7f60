/* SPDX-License-Identifier: MIT */
/*
 * pmcfs on-media format: structs and constants only (freestanding C11).
 *
 * This header and man/pmcfs.5 describe the same format; when they
 * disagree one of them is a bug. Every field is little-endian and is
 * read or written only through the accessors in pmcfs_endian.h.
 * Layout offsets and sizes are pinned in pmcfs_ondisk.h.
 */
#ifndef PMCFS_FORMAT_H
#define PMCFS_FORMAT_H

#include <stdint.h>

/* Endian-tagged storage types: a reminder, not a conversion. */
typedef uint16_t pmcfs_le16;
typedef uint32_t pmcfs_le32;
typedef uint64_t pmcfs_le64;

/* ---- geometry ---------------------------------------------------------- */

#define PMCFS_BLOCK_SHIFT	12
#define PMCFS_BLOCK_SIZE	4096u		/* = PAGE_SIZE, required by DAX */
#define PMCFS_HUGE_SIZE		(2u << 20)	/* PMD page */
#define PMCFS_HUGE_BLOCKS	(PMCFS_HUGE_SIZE / PMCFS_BLOCK_SIZE)

/*
 * Fixed blocks. The first and the last 2 MiB of the device are reserved
 * so the allocatable area starts and ends on a PMD boundary. Replicas of
 * the superblock and both commit slots live at the start of the last
 * 2 MiB, far from the primaries (a stray write or a media error rarely
 * takes both).
 */
#define PMCFS_SB_BLOCK		0
#define PMCFS_SLOT_A_BLOCK	1
#define PMCFS_SLOT_B_BLOCK	2
#define PMCFS_RESERVED_BLOCKS	PMCFS_HUGE_BLOCKS	/* at each end */
/* Replicas are at nblocks - PMCFS_RESERVED_BLOCKS + {0,1,2}. */

/* Smallest filesystem: both reserved areas plus 2 MiB of data. */
#define PMCFS_MIN_BLOCKS	(3 * PMCFS_HUGE_BLOCKS)

/* ---- magic numbers ------------------------------------------------------ */

#define PMCFS_SB_MAGIC		0x3142535346434d50ULL	/* "PMCFSSB1" on media */
#define PMCFS_COMMIT_MAGIC	0x314d4f4346434d50ULL	/* "PMCFCOM1" on media */
#define PMCFS_FS_MAGIC		0x31534650u		/* "PFS1": fs tree block */
#define PMCFS_ROOTTAB_MAGIC	0x31545250u		/* "PRT1": root table block */
#define PMCFS_SPACEMAP_MAGIC	0x314d5350u		/* "PSM1": space map block */

#define PMCFS_FORMAT_VERSION	1

/* ---- feature bits (ext4 semantics) -------------------------------------- */

/* compat: an old reader may ignore; ro_compat: may read, must not write;
 * incompat: must refuse to open. None are defined yet in version 1. */
#define PMCFS_FEATURE_COMPAT_SUPP	0ULL
#define PMCFS_FEATURE_RO_COMPAT_SUPP	0ULL
#define PMCFS_FEATURE_INCOMPAT_SUPP	0ULL

/* ---- static superblock (block 0, replica at the far end) ---------------- */

#define PMCFS_LABEL_MAX		64	/* bytes, NUL-padded, no NUL required */

struct pmcfs_super {
	pmcfs_le32 crc;			/* CRC32C of the block, this field taken as 0 */
	pmcfs_le32 version;		/* PMCFS_FORMAT_VERSION */
	pmcfs_le64 magic;		/* PMCFS_SB_MAGIC */
	uint8_t    uuid[16];
	pmcfs_le64 feature_compat;
	pmcfs_le64 feature_ro_compat;
	pmcfs_le64 feature_incompat;
	pmcfs_le32 block_size;		/* always 4096 in version 1 */
	pmcfs_le32 dax_align;		/* namespace alignment in bytes (2 MiB) */
	pmcfs_le64 nblocks;		/* device size in blocks, a 2 MiB multiple */
	pmcfs_le64 data_start;		/* first allocatable block */
	pmcfs_le64 data_end;		/* one past the last allocatable block */
	pmcfs_le64 slot_blkno[2];	/* commit slots A and B */
	pmcfs_le64 replica_blkno;	/* superblock replica; slots follow it */
	pmcfs_le64 mkfs_time;		/* seconds since the epoch */
	pmcfs_le64 root_subvol;		/* the subvolume mounted by default */
	uint8_t    label[PMCFS_LABEL_MAX];
	uint8_t    reserved[128];	/* zero */
};					/* 320 bytes; rest of the block is zero */

/* ---- commit record (blocks 1 and 2, replicas at the far end) ------------ */

/*
 * 128 bytes: sixteen 8-byte units in two cache lines, so every subset of
 * a torn write can be tested. Generation N is written to slot N & 1.
 */
struct pmcfs_commit {
	pmcfs_le64 magic;		/* PMCFS_COMMIT_MAGIC */
	uint8_t    uuid[16];		/* must equal the superblock's */
	pmcfs_le64 generation;		/* transaction id, increases by 1 */
	pmcfs_le64 roottab_blkno;	/* root of the root table */
	pmcfs_le64 roottab_gen;
	pmcfs_le64 spacemap_blkno;	/* root of the space map */
	pmcfs_le64 spacemap_gen;
	pmcfs_le64 log_root;		/* reserved: fsync intent log, 0 */
	pmcfs_le64 rmap_root;		/* reserved: reverse-map tree, 0 */
	pmcfs_le64 free_blocks;		/* blocks with refcount 0 */
	pmcfs_le64 feature_incompat;	/* copy of the superblock's */
	uint8_t    roottab_level;
	uint8_t    spacemap_level;
	uint8_t    pad[6];		/* zero */
	pmcfs_le64 flags;		/* enum pmcfs_commit_flags */
	pmcfs_le64 reserved;		/* zero */
	pmcfs_le32 reserved2;		/* zero */
	pmcfs_le32 crc;			/* CRC32C of bytes 0..123 */
};

enum pmcfs_commit_flags {
	PMCFS_COMMIT_CLEAN = 1U << 0,	/* written by a tool that closed cleanly */
};

/* ---- metadata block header (every tree block) --------------------------- */

struct pmcfs_header {
	pmcfs_le32 crc;			/* CRC32C of the block, this field taken as 0 */
	pmcfs_le32 magic;		/* tree type */
	uint8_t    uuid[16];
	pmcfs_le64 blkno;		/* the block's own address */
	pmcfs_le64 generation;		/* commit that wrote it */
	pmcfs_le64 owner;		/* tree id that allocated it */
	pmcfs_le16 level;		/* 0 = leaf */
	pmcfs_le16 nritems;
	pmcfs_le32 flags;		/* zero in version 1 */
	pmcfs_le64 reserved;		/* zero */
};

/* ---- keys --------------------------------------------------------------- */

/* Ordered by (objectid, type, offset). */
struct pmcfs_key {
	pmcfs_le64 objectid;
	uint8_t    type;
	uint8_t    pad[7];		/* zero */
	pmcfs_le64 offset;
};

/* Key types. Values are part of the format: never renumber. */
enum pmcfs_key_type {
	PMCFS_KEY_INODE		= 1,	/* (ino, 1, 0) -> pmcfs_inode */
	PMCFS_KEY_INODE_REF	= 2,	/* (ino, 2, parent) -> pmcfs_dirent[] */
	PMCFS_KEY_DIR_ENTRY	= 3,	/* (dir, 3, name hash) -> pmcfs_dirent[] */
	PMCFS_KEY_DIR_INDEX	= 4,	/* (dir, 4, index) -> pmcfs_dirent */
	PMCFS_KEY_EXTENT	= 5,	/* (ino, 5, file byte offset) -> pmcfs_extent */
	PMCFS_KEY_XATTR		= 6,	/* (ino, 6, name hash) -> pmcfs_xattr[] */
	PMCFS_KEY_SYMLINK	= 7,	/* (ino, 7, byte offset) -> target bytes */
	PMCFS_KEY_ORPHAN	= 8,	/* (PMCFS_ORPHAN_OBJECTID, 8, ino) -> empty */
	PMCFS_KEY_ROOT		= 16,	/* (subvol, 16, 0) -> pmcfs_root_item */
	PMCFS_KEY_NEXT_SUBVOL	= 17,	/* (0, 17, 0) -> le64 next subvolume id */
	PMCFS_KEY_SPACE_RUN	= 32,	/* (start, 32, 0) -> pmcfs_space_run */
};

/* ---- tree nodes ---------------------------------------------------------- */

/* Interior entry: the child's generation catches stale/misdirected children. */
struct pmcfs_node_ptr {
	struct pmcfs_key key;		/* lowest key in the child's subtree */
	pmcfs_le64 blkno;
	pmcfs_le64 generation;
};

/* Leaf item header; bodies are packed from the end of the block. */
struct pmcfs_item {
	struct pmcfs_key key;
	pmcfs_le32 offset;		/* body offset from the start of the block */
	pmcfs_le32 size;		/* body size in bytes */
};

#define PMCFS_NODE_SPACE	(PMCFS_BLOCK_SIZE - sizeof(struct pmcfs_header))
#define PMCFS_NODE_MAX_PTRS	(PMCFS_NODE_SPACE / sizeof(struct pmcfs_node_ptr))
/*
 * A body plus its header is at most a quarter of a leaf, so a leaf split
 * or rebalance can always leave both halves at least a quarter full.
 * Larger values (symlink targets, xattr values) are stored in chunks.
 */
#define PMCFS_MAX_ITEM_BODY	(PMCFS_NODE_SPACE / 4 - sizeof(struct pmcfs_item))
/* Commit generations are below 2^63: a record claiming more is damaged. */
#define PMCFS_GENERATION_MAX	(1ULL << 63)
/* Tree height limit: levels 0..7 (100^7 leaves is beyond any device). */
#define PMCFS_MAX_LEVEL		8
/* Symlink targets are stored in SYMLINK items of at most this many bytes. */
#define PMCFS_SYMLINK_CHUNK	512

/* ---- tree ids ------------------------------------------------------------ */

#define PMCFS_ROOTTAB_TREE	1ULL
#define PMCFS_SPACEMAP_TREE	2ULL
#define PMCFS_FIRST_SUBVOL	256ULL	/* the live filesystem made by mkfs */
#define PMCFS_LAST_SUBVOL	((1ULL << 48) - 1)

/* ---- space map ----------------------------------------------------------- */

/*
 * A canonical partition of [0, nblocks): every block is in exactly one
 * run, runs are sorted and contiguous, and adjacent runs always differ in
 * (refcount, owner). The length is 64-bit so one free run can span any
 * device (XFS's 32-bit length would split runs above 16 TiB).
 */
struct pmcfs_space_run {
	pmcfs_le64 len;			/* blocks */
	pmcfs_le32 refcount;		/* 0 = free */
	pmcfs_le32 owner;		/* enum pmcfs_run_owner */
};

enum pmcfs_run_owner {
	PMCFS_OWNER_FS		= 0,	/* counted references from the trees */
	PMCFS_OWNER_BADBLOCK	= 1,	/* media error: refcount 1, never used */
	PMCFS_OWNER_SUPER	= 2,	/* reserved areas: refcount 1 */
};

/* ---- root table ---------------------------------------------------------- */

#define PMCFS_NAME_MAX		255

struct pmcfs_root_item {
	pmcfs_le64 blkno;		/* root block of this subvolume's fs tree */
	pmcfs_le64 generation;		/* generation of that block */
	pmcfs_le64 flags;		/* enum pmcfs_root_flags */
	pmcfs_le64 parent;		/* subvol this was snapshotted from, or 0 */
	pmcfs_le64 parent_gen;		/* generation of the parent's root block when taken */
	pmcfs_le64 create_gen;		/* commit that created this subvol */
	pmcfs_le64 ctime_sec;
	pmcfs_le32 ctime_nsec;
	uint8_t    level;		/* level of the root block */
	uint8_t    drop_level;		/* with drop_progress, while DROPPING */
	pmcfs_le16 name_len;		/* name bytes that follow the struct */
	pmcfs_le64 next_ino;		/* inode number allocator */
	struct pmcfs_key drop_progress;	/* keys below this are already dropped */
	pmcfs_le64 reserved[4];		/* zero */
};					/* followed by name_len bytes of name */

enum pmcfs_root_flags {
	PMCFS_ROOT_RDONLY	= 1U << 0,
	PMCFS_ROOT_DROPPING	= 1U << 1,	/* deletion in progress */
	PMCFS_ROOT_PARENT_GONE	= 1U << 2,	/* parent was deleted */
};

/* ---- filesystem tree items ----------------------------------------------- */

#define PMCFS_ROOT_INO		256ULL	/* root directory of every subvolume */
#define PMCFS_FIRST_INO		257ULL
#define PMCFS_ORPHAN_OBJECTID	((uint64_t)-5)

struct pmcfs_timespec {
	pmcfs_le64 sec;			/* signed seconds since the epoch */
	pmcfs_le32 nsec;
	pmcfs_le32 pad;			/* zero */
};

struct pmcfs_inode {
	pmcfs_le32 mode;		/* S_IFMT | permission bits */
	pmcfs_le32 uid;
	pmcfs_le32 gid;
	pmcfs_le32 nlink;
	pmcfs_le64 size;		/* bytes */
	pmcfs_le64 nblocks;		/* blocks mapped by extents */
	pmcfs_le64 flags;		/* enum pmcfs_inode_flags */
	pmcfs_le64 generation;		/* commit that created the inode */
	pmcfs_le64 rdev;		/* Linux dev_t encoding for devices */
	pmcfs_le64 next_index;		/* directories: next DIR_INDEX */
	pmcfs_le32 extsize;		/* extent size hint in blocks, 0 = none */
	pmcfs_le32 cowextsize;		/* CoW extent size hint in blocks */
	struct pmcfs_timespec atime;
	struct pmcfs_timespec mtime;
	struct pmcfs_timespec ctime;
	struct pmcfs_timespec crtime;
	pmcfs_le64 reserved[3];		/* zero */
};

enum pmcfs_inode_flags {
	PMCFS_INODE_HUGE	= 1U << 0,	/* place data for 2 MiB pages */
	PMCFS_INODE_IMMUTABLE	= 1U << 1,
	PMCFS_INODE_APPEND	= 1U << 2,
	PMCFS_INODE_NODUMP	= 1U << 3,
};

/*
 * Directory entry, also the element of INODE_REF items (where child is
 * the parent directory's inode number). Several entries are packed into
 * one DIR_ENTRY item when names collide on the hash.
 */
struct pmcfs_dirent {
	pmcfs_le64 ino;			/* child (DIR_*) or parent (INODE_REF) */
	pmcfs_le64 index;		/* DIR_INDEX offset of this name */
	pmcfs_le16 name_len;
	uint8_t    type;		/* enum pmcfs_ftype */
	uint8_t    pad[5];		/* zero */
};					/* followed by name_len bytes, then padding to 8 */

enum pmcfs_ftype {
	PMCFS_FT_UNKNOWN = 0, PMCFS_FT_REG = 1, PMCFS_FT_DIR = 2,
	PMCFS_FT_CHR = 3, PMCFS_FT_BLK = 4, PMCFS_FT_FIFO = 5,
	PMCFS_FT_SOCK = 6, PMCFS_FT_LNK = 7,
};

/* File extent: [key.offset, key.offset + nblocks*4096) -> [phys, phys+nblocks). */
struct pmcfs_extent {
	pmcfs_le64 phys;		/* first block (holes are gaps between extents) */
	pmcfs_le32 nblocks;		/* at least 1 */
	pmcfs_le32 flags;		/* enum pmcfs_extent_flags */
};

enum pmcfs_extent_flags {
	PMCFS_EXTENT_UNWRITTEN	= 1U << 0,	/* allocated, reads as zeros */
};

/* Extended attribute; several are packed when names collide on the hash. */
struct pmcfs_xattr {
	pmcfs_le32 value_len;		/* total value length */
	pmcfs_le16 name_len;		/* full name, e.g. "user.foo" */
	pmcfs_le16 nchunks;		/* value bytes stored in later items */
};					/* followed by name, value, padding to 8 */

#endif /* PMCFS_FORMAT_H */

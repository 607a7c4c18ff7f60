/* SPDX-License-Identifier: MIT */
/*
 * The one list of everything fsck.pmcfs can find (style item 14). Each
 * row: stable code (0xPNNN printed as PP.NNN, decimal digits, never reused), symbolic name, severity,
 * flags, the fixed greppable message, and the fix verb ("" = no fix yet).
 * Rows are sorted by code; tests/unit/test_fsck_problems.c checks it and
 * tests/fsck checks that man/fsck.pmcfs.8 lists every code.
 *
 * Flags: PREEN_OK   -p may fix it without asking
 *        NO_DEFAULT an interactive prompt defaults to no (destructive)
 *        FATAL      the check cannot go on: exit 8 after reporting
 */
#ifndef FSCK_PROBLEM_H
#define FSCK_PROBLEM_H

#include <stdbool.h>
#include <stdint.h>

enum { SEV_ERROR, SEV_WARNING };
enum { PREEN_OK = 1U << 0, NO_DEFAULT = 1U << 1, FATAL = 1U << 2 };

#define FSCK_PROBLEMS(X) \
X(0x1001, SB_PRIMARY_BAD,    SEV_ERROR,   PREEN_OK,   "primary superblock is invalid", "rewrite it from the replica") \
X(0x1002, SB_REPLICA_BAD,    SEV_ERROR,   PREEN_OK,   "superblock replica is invalid", "rewrite it from the primary") \
X(0x1003, SB_COPIES_DIFFER,  SEV_ERROR,   PREEN_OK,   "superblock replica differs from the primary", "rewrite the replica from the primary") \
X(0x1004, SLOT_BAD,          SEV_WARNING, PREEN_OK,   "commit slot is invalid (torn by a crash, or damaged)", "rewrite it from the current commit") \
X(0x1005, NO_SUPER,          SEV_ERROR,   FATAL,      "no valid superblock", "") \
X(0x1006, NO_COMMIT,         SEV_ERROR,   FATAL,      "no valid commit record", "") \
X(0x1007, FEATURE_INCOMPAT,  SEV_ERROR,   FATAL,      "unsupported incompatible features", "") \
X(0x1008, FEATURE_RO_COMPAT, SEV_ERROR,   FATAL,      "unsupported read-only-compatible features: cannot repair", "") \
X(0x1009, DEVICE_SHORT,      SEV_ERROR,   FATAL,      "filesystem is larger than the device", "") \
X(0x1010, FOREIGN_FS,        SEV_ERROR,   FATAL,      "another filesystem is on the device: the pmcfs found is a stale copy", "") \
X(0x2001, BLOCK_CRC,         SEV_ERROR,   NO_DEFAULT, "tree block checksum mismatch", "cut the subtree out of every tree") \
X(0x2002, BLOCK_MAGIC,       SEV_ERROR,   NO_DEFAULT, "tree block has the wrong magic", "cut the subtree out of every tree") \
X(0x2003, BLOCK_MISDIRECTED, SEV_ERROR,   NO_DEFAULT, "tree block belongs elsewhere (uuid or block number)", "cut the subtree out of every tree") \
X(0x2004, BLOCK_LEVEL,       SEV_ERROR,   NO_DEFAULT, "tree block has the wrong level", "cut the subtree out of every tree") \
X(0x2005, BLOCK_STRUCTURE,   SEV_ERROR,   NO_DEFAULT, "tree block structure is invalid", "cut the subtree out of every tree") \
X(0x2006, BLOCK_STALE,       SEV_ERROR,   NO_DEFAULT, "tree block generation differs from its parent pointer", "cut the subtree out of every tree") \
X(0x2007, BLOCK_FUTURE,      SEV_ERROR,   NO_DEFAULT, "tree block is newer than its parent or the commit", "cut the subtree out of every tree") \
X(0x2008, BLOCK_OWNER,       SEV_ERROR,   NO_DEFAULT, "tree block owner is implausible", "rewrite it in every tree") \
X(0x2009, KEY_RANGE,         SEV_ERROR,   NO_DEFAULT, "keys outside the range given by the parent", "cut the subtree out of every tree") \
X(0x2010, UNDERFULL,         SEV_WARNING, 0,          "tree node less than a quarter full", "") \
X(0x2011, BLOCK_UNREADABLE,  SEV_ERROR,   NO_DEFAULT, "tree block cannot be read", "cut the subtree out of every tree") \
X(0x2012, EXTENT_BAD,        SEV_ERROR,   NO_DEFAULT, "extent item is malformed", "delete it from every tree") \
X(0x2013, EXTENT_OUTSIDE,    SEV_ERROR,   NO_DEFAULT, "extent lies outside the data area", "delete it from every tree") \
X(0x2014, CROSSLINK,         SEV_ERROR,   NO_DEFAULT, "data extent overlaps a tree block", "delete the extent from every tree") \
X(0x2015, SPACEMAP_BLOCK,    SEV_ERROR,   PREEN_OK,   "space map tree block is damaged", "rebuild the space map") \
X(0x2016, OLDER_COMMIT,      SEV_ERROR,   NO_DEFAULT, "damage costs whole subvolumes, but the older commit is intact", "roll back to the older commit") \
X(0x2017, ROOTTAB_LOST,      SEV_ERROR,   NO_DEFAULT, "the root table is damaged: subvolumes it listed are found by their root blocks", "rebuild the root table") \
X(0x3001, LEAKED,            SEV_ERROR,   PREEN_OK,   "leaked blocks: counted in the space map, referenced by nothing", "rebuild the space map") \
X(0x3002, OVERCOUNT,         SEV_ERROR,   PREEN_OK,   "space map count above the references found", "rebuild the space map") \
X(0x3003, UNDERCOUNT,        SEV_ERROR,   PREEN_OK,   "space map count below the references found (risk of double allocation)", "rebuild the space map") \
X(0x3004, REF_TO_FREE,       SEV_ERROR,   PREEN_OK,   "referenced blocks are free in the space map", "rebuild the space map") \
X(0x3005, REF_TO_BAD,        SEV_ERROR,   NO_DEFAULT, "referenced blocks are recorded as bad media", "move the data off them") \
X(0x3006, RECORD_BAD,        SEV_ERROR,   PREEN_OK,   "space map record is invalid", "rebuild the space map") \
X(0x3007, PARTITION,         SEV_ERROR,   PREEN_OK,   "space map records leave a gap or overlap", "rebuild the space map") \
X(0x3008, NOT_MERGED,        SEV_ERROR,   PREEN_OK,   "adjacent space map records are equal (not canonical)", "rebuild the space map") \
X(0x3009, RESERVED_WRONG,    SEV_ERROR,   PREEN_OK,   "reserved area not recorded as superblock space", "rebuild the space map") \
X(0x3010, BADRUN_COUNT,      SEV_ERROR,   PREEN_OK,   "bad-block or reserved record with a count other than 1", "rebuild the space map") \
X(0x3011, FREE_COUNT,        SEV_ERROR,   PREEN_OK,   "free block count in the commit record is wrong", "rebuild the space map") \
X(0x4001, NS_ITEM_STRAY,     SEV_ERROR,   NO_DEFAULT, "item of an unknown type, or of a type its inode cannot have", "delete it") \
X(0x4002, NS_ITEM_NO_INODE,  SEV_ERROR,   NO_DEFAULT, "items of an inode that has no inode item", "delete them") \
X(0x4003, NS_ROOT_MISSING,   SEV_ERROR,   0,          "the root directory has no inode item", "recreate it") \
X(0x4004, NS_INODE_BAD,      SEV_ERROR,   NO_DEFAULT, "inode item is malformed (size or file type)", "clear the inode") \
X(0x4005, NS_INODE_FIELDS,   SEV_ERROR,   PREEN_OK,   "inode has unknown flags, a stray rdev or invalid times", "correct them") \
X(0x4006, NS_DIRENT_BAD,     SEV_ERROR,   NO_DEFAULT, "directory item is malformed", "delete it") \
X(0x4007, NS_NAME_BAD,       SEV_ERROR,   0,          "directory entry name is invalid", "remove the name") \
X(0x4008, NS_XATTR_BAD,      SEV_ERROR,   NO_DEFAULT, "extended attribute item is malformed", "delete it") \
X(0x4009, NS_EXTENT_BAD,     SEV_ERROR,   NO_DEFAULT, "file extent item is malformed (offset, length or flags)", "delete it") \
X(0x4010, NS_EXTENT_OVERLAP, SEV_ERROR,   NO_DEFAULT, "file extents overlap", "keep the earlier extent") \
X(0x4011, NS_SYMLINK_BAD,    SEV_ERROR,   NO_DEFAULT, "symbolic link target is incomplete", "clear the inode") \
X(0x4020, NS_ENTRY_NO_INDEX, SEV_ERROR,   PREEN_OK,   "directory entry has no index item", "recreate the index item") \
X(0x4021, NS_INDEX_NO_ENTRY, SEV_ERROR,   PREEN_OK,   "directory index item has no entry", "recreate the entry") \
X(0x4022, NS_ENTRY_INDEX_DIFFER, SEV_ERROR, 0,        "directory entry and index item disagree", "rewrite the unconfirmed one") \
X(0x4023, NS_ENTRY_NO_REF,   SEV_ERROR,   PREEN_OK,   "directory entry has no back-reference", "recreate the back-reference") \
X(0x4024, NS_REF_NO_ENTRY,   SEV_ERROR,   PREEN_OK,   "back-reference without a directory entry", "delete the back-reference") \
X(0x4025, NS_ENTRY_DANGLING, SEV_ERROR,   0,          "directory entry points at a missing inode", "remove the name") \
X(0x4026, NS_ENTRY_TYPE,     SEV_ERROR,   PREEN_OK,   "directory entry type differs from the inode's", "correct the entry") \
X(0x4027, NS_DIR_MULTI_PARENT, SEV_ERROR, 0,          "directory has more than one parent", "remove the extra name") \
X(0x4030, NS_UNATTACHED,     SEV_ERROR,   0,          "inode is not reachable from the root directory", "connect it to /lost+found") \
X(0x4040, NS_NLINK,          SEV_ERROR,   PREEN_OK,   "inode link count is wrong", "set it") \
X(0x4041, NS_DIR_SIZE,       SEV_ERROR,   PREEN_OK,   "directory size differs from its number of entries", "set it") \
X(0x4042, NS_NEXT_INDEX,     SEV_ERROR,   PREEN_OK,   "directory next index is not above its entries", "set it") \
X(0x4043, NS_NBLOCKS,        SEV_ERROR,   PREEN_OK,   "inode block count differs from its extents", "set it") \
X(0x4044, NS_EXTENT_PAST_EOF, SEV_ERROR,  0,          "file data is mapped past the end of the file", "extend the file size") \
X(0x4045, NS_ORPHAN_LINKED,  SEV_ERROR,   PREEN_OK,   "orphan item names an inode that still has links", "delete the orphan item") \
X(0x4046, NS_ORPHANS,        SEV_WARNING, PREEN_OK,   "inodes unlinked while open were not freed", "free them") \
X(0x5001, ROOT_ITEM_BAD,     SEV_ERROR,   NO_DEFAULT, "root table item is malformed", "delete the subvolume entry") \
X(0x5002, SNAP_ROOT_BAD,     SEV_ERROR,   NO_DEFAULT, "snapshot root block is unusable", "delete the snapshot entry") \
X(0x5003, PARENT_MISSING,    SEV_ERROR,   PREEN_OK,   "parent subvolume does not exist", "mark the parent as gone") \
X(0x5004, NAME_DUP,          SEV_ERROR,   0,          "subvolume name is not unique", "rename it") \
X(0x5005, RDONLY_NEWER,      SEV_ERROR,   NO_DEFAULT, "read-only snapshot holds blocks written after it was taken", "clear the read-only flag") \
X(0x5006, DROPPING,          SEV_WARNING, PREEN_OK,   "subvolume deletion was interrupted", "finish the deletion") \
X(0x5007, ROOT_SUBVOL_GONE,  SEV_ERROR,   0,          "the default subvolume is missing from the root table", "make another subvolume the default") \
X(0x5008, ROOT_ITEM_FLAGS,   SEV_ERROR,   PREEN_OK,   "root table item has unknown flags", "clear them") \
X(0x5009, ROOT_NAME_BAD,     SEV_ERROR,   PREEN_OK,   "root table item name is malformed", "rename the subvolume to subvol-ID") \
X(0x5010, DEFAULT_ROOT_BAD,  SEV_ERROR,   NO_DEFAULT, "the default subvolume's root block is unusable", "give it an empty root directory") \
X(0x5011, NEXT_INO_LOW,      SEV_ERROR,   PREEN_OK,   "next inode number of the subvolume is not above its inodes", "raise it above them") \
X(0x6001, DATA_ON_BAD,       SEV_ERROR,   NO_DEFAULT, "referenced blocks lie on bad media", "move the data off them") \
X(0x6002, BAD_NOT_RECORDED,  SEV_ERROR,   PREEN_OK,   "bad blocks are not recorded in the space map", "record them")

enum fsck_problem_code {
#define X(code, name, sev, flags, msg, fix) PR_##name = code,
	FSCK_PROBLEMS(X)
#undef X
};

struct fsck_problem {
	uint32_t code;
	const char *name;
	int severity;
	unsigned flags;
	const char *msg;
	const char *fix;
};

extern const struct fsck_problem fsck_problem_table[];
extern const unsigned fsck_problem_count;
const struct fsck_problem *fsck_problem_find(uint32_t code);
/* "P3.001" for 0x3001: the form printed, greppable and stable. */
const char *fsck_problem_id(uint32_t code, char buf[8]);

#endif

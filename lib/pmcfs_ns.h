/* SPDX-License-Identifier: MIT */
/*
 * libpmcfs namespace API: files, directories, links, xattrs, extents,
 * reflink and dedupe inside one subvolume (an fs tree, struct pmcfs_tree
 * from pmcfs_subvol_open). Changes take a transaction; the caller
 * chooses how many operations one transaction holds. Reads take the fs.
 *
 * Names are byte strings with an explicit length (never NUL-terminated
 * on media): 1..255 bytes, no '/' and no NUL, not "." or "..".
 */
#ifndef PMCFS_NS_H
#define PMCFS_NS_H

#include <sys/types.h>
#include <time.h>
#include "pmcfs.h"

struct pmcfs_stat {
	uint64_t ino;
	uint32_t mode, uid, gid, nlink;
	uint64_t size;
	uint64_t nblocks;		/* blocks mapped by extents */
	uint64_t flags;			/* enum pmcfs_inode_flags */
	uint64_t generation;
	uint64_t rdev;
	struct timespec atime, mtime, ctime, crtime;
};

/* 64-bit hash of a name: the DIR_ENTRY and XATTR key offset (XXH64, seed 0). */
uint64_t pmcfs_name_hash(const char *name, size_t len);
/* Is this a valid directory-entry name (see above)? */
bool pmcfs_name_valid(const char *name, size_t len);
/* The directory-entry type (enum pmcfs_ftype) of a mode; 0 if none. */
unsigned pmcfs_ftype(uint32_t mode);
/* Bytes one packed dirent with a name of len bytes takes (8-aligned). */
uint32_t pmcfs_dirent_size(size_t len);
/* Encode one dirent and its name at `at` (pmcfs_dirent_size(len) bytes, padding zeroed). */
void pmcfs_dirent_encode(void *at, uint64_t ino, uint64_t index, unsigned type,
			 const char *name, size_t len);

int pmcfs_ns_stat(struct pmcfs_fs *fs, struct pmcfs_tree *t, uint64_t ino, struct pmcfs_stat *ret);
int pmcfs_ns_lookup(struct pmcfs_fs *fs, struct pmcfs_tree *t, uint64_t dir,
		    const char *name, size_t len, uint64_t *ret_ino);
/* Resolve "/a/b/c" (or "a/b/c") from the root directory; symlinks are not followed. */
int pmcfs_ns_resolve(struct pmcfs_fs *fs, struct pmcfs_tree *t, const char *path, uint64_t *ret_ino);

/* Directory listing in DIR_INDEX order; return non-zero from fn to stop (returned). */
typedef int (*pmcfs_dirent_fn)(void *ctx, const char *name, size_t len, uint64_t ino,
			       unsigned type, uint64_t index);
int pmcfs_ns_readdir(struct pmcfs_fs *fs, struct pmcfs_tree *t, uint64_t dir,
		     pmcfs_dirent_fn fn, void *ctx);

struct pmcfs_create_args {
	uint32_t mode;			/* S_IFREG|S_IFDIR|S_IFCHR|S_IFBLK|S_IFIFO|S_IFSOCK + perms */
	uint32_t uid, gid;
	uint64_t rdev;			/* devices */
	uint64_t flags;			/* enum pmcfs_inode_flags */
};
int pmcfs_ns_create(struct pmcfs_trans *tx, struct pmcfs_tree *t, uint64_t dir,
		    const char *name, size_t len, const struct pmcfs_create_args *a,
		    uint64_t *ret_ino);
int pmcfs_ns_symlink(struct pmcfs_trans *tx, struct pmcfs_tree *t, uint64_t dir,
		     const char *name, size_t len, const char *target, size_t tlen,
		     uint32_t uid, uint32_t gid, uint64_t *ret_ino);
int pmcfs_ns_readlink(struct pmcfs_fs *fs, struct pmcfs_tree *t, uint64_t ino,
		      char *buf, size_t bufsize, size_t *ret_len);
int pmcfs_ns_link(struct pmcfs_trans *tx, struct pmcfs_tree *t, uint64_t ino,
		  uint64_t dir, const char *name, size_t len);

enum pmcfs_unlink_flags {
	PMCFS_UNLINK_DIR = 1U << 0,	/* rmdir: the entry must be an empty directory */
	PMCFS_UNLINK_OPEN = 1U << 1,	/* still open: keep the inode on the orphan list */
};
int pmcfs_ns_unlink(struct pmcfs_trans *tx, struct pmcfs_tree *t, uint64_t dir,
		    const char *name, size_t len, unsigned flags);
/* Free every orphan (inodes unlinked while open), as mount or fsck does. */
int pmcfs_ns_orphans_finish(struct pmcfs_trans *tx, struct pmcfs_tree *t, uint64_t *ret_count);

enum pmcfs_rename_flags {
	PMCFS_RENAME_NOREPLACE = 1U << 0,
};
int pmcfs_ns_rename(struct pmcfs_trans *tx, struct pmcfs_tree *t, uint64_t sdir,
		    const char *sname, size_t slen, uint64_t ddir, const char *dname,
		    size_t dlen, unsigned flags);

enum pmcfs_setattr_mask {
	PMCFS_SET_MODE = 1U << 0,	/* permission bits only */
	PMCFS_SET_UID = 1U << 1,
	PMCFS_SET_GID = 1U << 2,
	PMCFS_SET_ATIME = 1U << 3,
	PMCFS_SET_MTIME = 1U << 4,
	PMCFS_SET_CTIME = 1U << 5,
	PMCFS_SET_CRTIME = 1U << 6,
	PMCFS_SET_FLAGS = 1U << 7,
};
struct pmcfs_setattr {
	unsigned mask;
	uint32_t mode, uid, gid;
	struct timespec atime, mtime, ctime, crtime;
	uint64_t flags;
};
int pmcfs_ns_setattr(struct pmcfs_trans *tx, struct pmcfs_tree *t, uint64_t ino,
		     const struct pmcfs_setattr *sa);

/* ---- file data ----------------------------------------------------------------- */

/* Read up to len bytes at off; holes and unwritten extents read as zeros. */
int pmcfs_ns_read(struct pmcfs_fs *fs, struct pmcfs_tree *t, uint64_t ino, uint64_t off,
		  void *buf, size_t len, size_t *ret_read);
/*
 * Write len bytes at off, extending the size if needed. Data is copied on
 * write: blocks reachable from the durable commit are never overwritten;
 * the unchanged head and tail of a partly written block are copied from
 * the old block, as the kernel's DAX CoW path does.
 */
int pmcfs_ns_write(struct pmcfs_trans *tx, struct pmcfs_tree *t, uint64_t ino, uint64_t off,
		   const void *buf, size_t len);
int pmcfs_ns_truncate(struct pmcfs_trans *tx, struct pmcfs_tree *t, uint64_t ino, uint64_t size);
/* Deallocate [off, off+len); partial blocks at the edges are zeroed. */
int pmcfs_ns_punch(struct pmcfs_trans *tx, struct pmcfs_tree *t, uint64_t ino, uint64_t off,
		   uint64_t len);
/* Allocate [off, off+len) as unwritten extents (reads as zeros), size unchanged. */
int pmcfs_ns_prealloc(struct pmcfs_trans *tx, struct pmcfs_tree *t, uint64_t ino, uint64_t off,
		      uint64_t len);

struct pmcfs_extent_info {
	uint64_t file_off;		/* bytes */
	uint64_t phys;			/* block */
	uint64_t nblocks;
	uint32_t flags;			/* enum pmcfs_extent_flags */
};
typedef int (*pmcfs_extent_fn)(void *ctx, const struct pmcfs_extent_info *e);
/* Extents of a file in file-offset order. */
int pmcfs_ns_extents(struct pmcfs_fs *fs, struct pmcfs_tree *t, uint64_t ino,
		     pmcfs_extent_fn fn, void *ctx);

/*
 * Share [soff, soff+len) of src into dst at doff (FICLONERANGE): offsets
 * block-aligned; len block-aligned or reaching src's end of file; len 0
 * means to src's end. Ranges in one file must not overlap (-EINVAL).
 * src and dst may live in different subvolumes of one filesystem.
 */
int pmcfs_ns_clone_range(struct pmcfs_trans *tx, struct pmcfs_tree *st, uint64_t src,
			 uint64_t soff, struct pmcfs_tree *dt, uint64_t dst, uint64_t doff,
			 uint64_t len);
/* Share only if the bytes are equal; -PMCFS_EDIFFERS (nothing changed) otherwise. */
int pmcfs_ns_dedupe_range(struct pmcfs_trans *tx, struct pmcfs_tree *st, uint64_t src,
			  uint64_t soff, struct pmcfs_tree *dt, uint64_t dst, uint64_t doff,
			  uint64_t len);

/* ---- extended attributes ------------------------------------------------------- */

/* Full names ("user.x", "security.selinux", "system.posix_acl_access"), raw values. */
#define PMCFS_XATTR_NAME_MAX	255
enum pmcfs_xattr_flags { PMCFS_XATTR_CREATE = 1U << 0, PMCFS_XATTR_REPLACE = 1U << 1 };
int pmcfs_ns_setxattr(struct pmcfs_trans *tx, struct pmcfs_tree *t, uint64_t ino,
		      const char *name, const void *value, size_t size, unsigned flags);
/* -ENODATA if absent; -ERANGE if bufsize is too small (ret_size says how much). */
int pmcfs_ns_getxattr(struct pmcfs_fs *fs, struct pmcfs_tree *t, uint64_t ino,
		      const char *name, void *buf, size_t bufsize, size_t *ret_size);
typedef int (*pmcfs_xattr_fn)(void *ctx, const char *name, const void *value, size_t size);
int pmcfs_ns_listxattr(struct pmcfs_fs *fs, struct pmcfs_tree *t, uint64_t ino,
		       pmcfs_xattr_fn fn, void *ctx);
int pmcfs_ns_removexattr(struct pmcfs_trans *tx, struct pmcfs_tree *t, uint64_t ino,
			 const char *name);

#endif /* PMCFS_NS_H */

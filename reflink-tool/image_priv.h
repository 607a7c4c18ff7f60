/* SPDX-License-Identifier: MIT */
/*
 * Image mode internals: the open image (one per run), path lookup inside
 * it, and the lock that serialises library calls from scan's hashing
 * threads (libpmcfs handles are not thread-safe).
 *
 * Paths: "NAME@/PATH" is PATH inside snapshot NAME, read-only; any other
 * path is in the live filesystem (the superblock's root subvolume), from
 * its root directory; the leading "/" is optional. Symbolic links inside
 * an image are never followed.
 */
#ifndef IMAGE_PRIV_H
#define IMAGE_PRIV_H

#include <pthread.h>

#include "pmcfs.h"
#include "pmcfs_ns.h"
#include "reflink_priv.h"

struct rl_image {
	struct pmcfs_dev *dev;
	struct pmcfs_fs *fs;
	struct pmcfs_trans *tx;		/* NULL when opened read-only */
	struct pmcfs_tree *live;
	uint64_t live_id;
	bool write;
	int lockfd;
	unsigned long errors;		/* errors that forbid the commit */
	pthread_mutex_t lock;
};

extern struct rl_image rl_img;

static inline void img_lock(void) { pthread_mutex_lock(&rl_img.lock); }
static inline void img_unlock(void) { pthread_mutex_unlock(&rl_img.lock); }

/* Where a path lives: its tree and whether it may be changed. */
struct img_where {
	struct pmcfs_tree *t;
	uint64_t subvol;
	bool ro;
	const char *rel;	/* the path inside that tree */
};

/* Split off a "NAME@/" prefix and open the tree. */
int img_where(const char *path, struct img_where *w);
/* Resolve a path to its inode (no symlink is followed). */
int img_resolve(const char *path, struct img_where *w, uint64_t *ino);
/*
 * Resolve everything but the last component, which must be a valid
 * name: the parent directory's inode and the name (pointing into path).
 */
int img_resolve_parent(const char *path, struct img_where *w, uint64_t *dir,
		       const char **name, size_t *len);
/* The id of the subvolume called name; -ENOENT if none. */
int img_subvol_by_name(const char *name, uint64_t *ret_id);
void img_stat_conv(const struct pmcfs_stat *ps, uint64_t subvol, struct stat *st);

#endif

/* SPDX-License-Identifier: MIT */
/*
 * Device probing shared by mkfs.pmcfs and fsck.pmcfs: what is behind a
 * path (pmem namespace, devdax device, block device, image file), whether
 * it is mounted or holds a foreign signature, whether the kernel can DAX
 * map it, and which of its blocks are known bad.
 *
 * Like the rest of libpmcfs these functions never print or exit; they
 * return 0 or a negative errno and fill the caller's structs. None of
 * them opens a device for writing or exclusively, so probing a busy
 * device is safe.
 */
#ifndef PMCFS_PROBE_H
#define PMCFS_PROBE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "pmcfs.h"

/* What a path is, from stat(2) and sysfs. */
enum pmcfs_probe_kind {
	PMCFS_PROBE_IMAGE,	/* regular file */
	PMCFS_PROBE_BLOCK,	/* block device (pmem, loop, disk, ...) */
	PMCFS_PROBE_DAX,	/* devdax character device /dev/daxN.M */
	PMCFS_PROBE_OTHER,	/* anything else: not formattable */
};

/* The libndctl / libdaxctl view of the namespace behind a device. */
struct pmcfs_ns_info {
	bool found;		/* a namespace or dax device backs the path */
	char name[64];		/* "namespace0.0", or the dax device name */
	char mode[16];		/* "fsdax", "devdax", "raw", "sector" */
	char devname[64];	/* "pmem0", "pmem0s", "dax0.0" */
	char region[64];	/* "region0" */
	uint64_t size;		/* usable bytes (after any pfn/dax info block) */
	uint64_t align;		/* mapping alignment in bytes, 0 if none */
	bool dax;		/* the kernel can map its pages directly */
};

/* A foreign on-media signature, as libblkid reports it. */
struct pmcfs_signature {
	char type[32];		/* "xfs", "ext4", "gpt", "dos", ... */
	char usage[24];		/* "filesystem", "partition table", "raid", ... */
	uint64_t offset;	/* byte offset of the magic */
	uint64_t len;		/* bytes of magic */
};

int pmcfs_probe_kind(const char *path, enum pmcfs_probe_kind *ret_kind);

/*
 * Identify the pmem namespace (libndctl) or dax device (libdaxctl) behind
 * path. ret->found is false, and 0 is returned, for an image file or a
 * block device that is not pmem; a partition of a pmem device reports
 * its parent namespace.
 */
int pmcfs_probe_namespace(const char *path, struct pmcfs_ns_info *ret);

/*
 * libndctl, libdaxctl and libpmem are loaded at run time, only for a
 * device that needs them; when one cannot be, pmcfs_probe_namespace(),
 * pmcfs_probe_badblocks() and opening a devdax device fail with -ELIBACC
 * (not installed) or -ELIBBAD (too old). This names the library path
 * needs and cannot load ("libndctl"), or is NULL, for the message.
 */
const char *pmcfs_probe_missing_lib(const char *path);

/*
 * Known bad blocks of the device, in 4096-byte blocks relative to the
 * start of the device: the block device's sysfs badblocks, or for devdax
 * the region's list clipped to the device. 512-byte sectors are rounded
 * outward to whole blocks. Sorted and merged; *ret is malloc'ed (NULL
 * when *ret_n is 0) and the caller frees it.
 */
int pmcfs_probe_badblocks(const char *path, struct pmcfs_badrange **ret, size_t *ret_n);

/*
 * Parse the kernel's badblocks text ("SECTOR LEN" per line, 512-byte
 * sectors; LEN may be omitted for one sector; '#' starts a comment) and
 * append the block ranges to *v. On -EINVAL *ret_line is the 1-based
 * line at fault.
 */
int pmcfs_badblocks_parse(const char *text, struct pmcfs_badrange **v, size_t *n,
			  unsigned *ret_line);
/* Sort and merge overlapping or adjacent ranges in place. */
void pmcfs_badranges_normalize(struct pmcfs_badrange *v, size_t *n);

/*
 * Every signature libblkid finds (filesystems, RAID members, partition
 * tables). *ret is malloc'ed (NULL when *ret_n is 0). A devdax device,
 * which has no read(2), is probed through a sparse copy of its head and
 * tail.
 */
int pmcfs_probe_signatures(const char *path, struct pmcfs_signature **ret, size_t *ret_n);
/* The first of those, as "type" (for messages); *found false if none. */
int pmcfs_probe_signature(const char *path, char *type, size_t typesz, bool *found);

/*
 * Is the filesystem on path mounted, or path in use as swap? For an
 * image file, also when a loop device backed by it (or a partition of
 * that loop device) is mounted. mntpoint gets the mount point, followed
 * by " (via /dev/loopN)" for an image.
 */
int pmcfs_probe_mounted(const char *path, char *mntpoint, size_t sz, bool *mounted);

/* For a block device: the first holder in sysfs (dm, md, ...), if any. */
int pmcfs_probe_holder(const char *path, char *holder, size_t sz, bool *held);

/*
 * Can the kernel DAX-map this device? libblkid topology for block
 * devices, always true for devdax, false for image files.
 */
int pmcfs_probe_dax(const char *path, bool *dax);

#endif /* PMCFS_PROBE_H */

/* SPDX-License-Identifier: MIT */
/*
 * Internal to device probing: the sysfs and bad-block helpers of probe.c
 * that the libndctl/libdaxctl lookups in probe_ndctl.c also use.
 */
#ifndef PMCFS_PROBE_PRIV_H
#define PMCFS_PROBE_PRIV_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "pmcfs_probe.h"

#define SECTOR_SHIFT	9

/* snprintf-style copy; src NULL copies "". */
void pmcfs_probe_copy_str(char *dst, size_t sz, const char *src);

/* The sysfs directory of a device node, its kernel name (basename) and rdev. */
int pmcfs_probe_sysfs_dir(const char *path, char *dir, size_t dirsz, const char **ret_name,
			  dev_t *ret_rdev);
/* A whole sysfs attribute, trailing newlines cut; -errno if missing. */
int pmcfs_probe_sysfs_read(const char *dir, const char *attr, char *buf, size_t sz);
/* A numeric sysfs attribute, 0 if missing. */
uint64_t pmcfs_probe_sysfs_u64(const char *dir, const char *attr);

/* Parse "SECTOR [LEN]" lines; each line is handed to fn in sectors. */
typedef int (*sector_fn)(void *ctx, uint64_t s, uint64_t len);
int pmcfs_probe_parse_sectors(const char *text, sector_fn fn, void *ctx, unsigned *ret_line);

/* A sector_fn appending block ranges to *v, clipped to a window. */
struct pmcfs_bb_ctx {
	struct pmcfs_badrange **v;
	size_t *n;
	uint64_t base, nsect;	/* clip window in sectors; nsect 0 = none */
};
int pmcfs_probe_bb_add(void *ctx, uint64_t s, uint64_t len);

#endif /* PMCFS_PROBE_PRIV_H */

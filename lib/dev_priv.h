/* SPDX-License-Identifier: MIT */
/*
 * Internal to the device layer (dev*.c): the backend constructors that
 * pmcfs_dev_open() dispatches to. Backends own dev->priv; their close op
 * frees it, and pmcfs_dev_close() frees the struct pmcfs_dev itself.
 */
#ifndef PMCFS_DEV_PRIV_H
#define PMCFS_DEV_PRIV_H

#include <stdint.h>
#include "pmcfs.h"

#define PMCFS_DEV_FLAGS_ALL (PMCFS_DEV_RDONLY | PMCFS_DEV_EXCL)

/* A zeroed struct pmcfs_dev with these fields set; NULL if out of memory. */
struct pmcfs_dev *pmcfs_dev_alloc(const struct pmcfs_dev_ops *ops,
				  enum pmcfs_dev_kind kind, uint64_t size,
				  unsigned flags, void *priv);

/* kind is PMCFS_DEV_IMAGE (regular file) or PMCFS_DEV_BLOCK. */
int pmcfs_dev_file_open(const char *path, unsigned flags, enum pmcfs_dev_kind kind,
			struct pmcfs_dev **ret_dev);

/* 1 if character device maj:min is a devdax instance, 0 if not, or < 0. */
int pmcfs_dev_dax_probe(unsigned maj, unsigned min);
int pmcfs_dev_dax_open(const char *path, unsigned flags, struct pmcfs_dev **ret_dev);

#endif

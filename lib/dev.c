// SPDX-License-Identifier: MIT
/*
 * Device layer front end: pick a backend for a path, and the checked
 * read/write/flush wrappers every caller goes through. Backends trust
 * that off + len lies inside the device and that writes are allowed;
 * this file is the one place that makes sure.
 */
#include <errno.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include "pmcfs.h"
#include "dev_priv.h"

struct pmcfs_dev *pmcfs_dev_alloc(const struct pmcfs_dev_ops *ops,
				  enum pmcfs_dev_kind kind, uint64_t size,
				  unsigned flags, void *priv)
{
	struct pmcfs_dev *dev = calloc(1, sizeof(*dev));

	if (!dev)
		return NULL;
	dev->ops = ops;
	dev->kind = kind;
	dev->size = size;
	dev->flags = flags;
	dev->priv = priv;
	return dev;
}

int pmcfs_dev_open(const char *path, unsigned flags, struct pmcfs_dev **ret_dev)
{
	struct stat st;
	int ret;

	if (!ret_dev)
		return -EINVAL;
	*ret_dev = NULL;
	if (!path || (flags & ~PMCFS_DEV_FLAGS_ALL))
		return -EINVAL;
	/*
	 * stat() first because the open flags depend on the type (O_EXCL is
	 * only defined for block devices); each backend re-checks the type
	 * with fstat() on what it actually opened.
	 */
	if (stat(path, &st) < 0)
		return -errno;
	if (S_ISREG(st.st_mode))
		return pmcfs_dev_file_open(path, flags, PMCFS_DEV_IMAGE, ret_dev);
	if (S_ISBLK(st.st_mode))
		return pmcfs_dev_file_open(path, flags, PMCFS_DEV_BLOCK, ret_dev);
	if (S_ISCHR(st.st_mode)) {
		ret = pmcfs_dev_dax_probe(major(st.st_rdev), minor(st.st_rdev));
		if (ret < 0)
			return ret;
		if (ret == 0)
			return -ENODEV;	/* a tty, /dev/null, ...: no storage */
		return pmcfs_dev_dax_open(path, flags, ret_dev);
	}
	return -EINVAL;
}

/* Whether [off, off + len) lies inside the device, without overflow. */
static bool dev_range_ok(const struct pmcfs_dev *dev, size_t len, uint64_t off)
{
	return off <= dev->size && len <= dev->size - off;
}

int pmcfs_dev_read(struct pmcfs_dev *dev, void *buf, size_t len, uint64_t off)
{
	if (!dev || (!buf && len) || !dev_range_ok(dev, len, off))
		return -EINVAL;
	if (!len)
		return 0;
	return dev->ops->read(dev, buf, len, off);
}

int pmcfs_dev_write(struct pmcfs_dev *dev, const void *buf, size_t len, uint64_t off)
{
	if (!dev || (!buf && len))
		return -EINVAL;
	if (dev->flags & PMCFS_DEV_RDONLY)
		return -EROFS;
	if (!dev_range_ok(dev, len, off))
		return -EINVAL;
	if (!len)
		return 0;
	return dev->ops->write(dev, buf, len, off);
}

int pmcfs_dev_flush(struct pmcfs_dev *dev)
{
	if (!dev)
		return -EINVAL;
	return dev->ops->flush(dev);
}

void pmcfs_dev_close(struct pmcfs_dev *dev)
{
	if (!dev)
		return;
	if (dev->ops->close)
		dev->ops->close(dev);
	free(dev);
}

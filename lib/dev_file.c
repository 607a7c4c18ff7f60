// SPDX-License-Identifier: MIT
/*
 * Image file and block device backend: pread/pwrite and fdatasync.
 * Block devices go through the page cache too (no O_DIRECT), so any
 * offset and length work; fdatasync on a block device also flushes the
 * device's volatile write cache.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <linux/fs.h>
#include "pmcfs.h"
#include "dev_priv.h"

struct dev_file {
	int fd;
};

static int dev_fd(const struct pmcfs_dev *dev)
{
	return ((const struct dev_file *)dev->priv)->fd;
}

/* The front end has checked the range, so off + len fits in off_t. */
static int file_read(struct pmcfs_dev *dev, void *buf, size_t len, uint64_t off)
{
	uint8_t *p = buf;

	while (len) {
		ssize_t n = pread(dev_fd(dev), p, len, (off_t)off);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return -EIO;	/* the file shrank under us */
		p += n;
		off += (uint64_t)n;
		len -= (size_t)n;
	}
	return 0;
}

static int file_write(struct pmcfs_dev *dev, const void *buf, size_t len, uint64_t off)
{
	const uint8_t *p = buf;

	while (len) {
		ssize_t n = pwrite(dev_fd(dev), p, len, (off_t)off);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return -EIO;	/* no progress: do not spin */
		p += n;
		off += (uint64_t)n;
		len -= (size_t)n;
	}
	return 0;
}

static int file_flush(struct pmcfs_dev *dev)
{
	/* fdatasync: the data and the size, not the timestamps, must be durable. */
	while (fdatasync(dev_fd(dev)) < 0) {
		if (errno != EINTR)
			return -errno;
	}
	return 0;
}

static void file_close(struct pmcfs_dev *dev)
{
	struct dev_file *f = dev->priv;

	/* Errors are reported by flush; close(2) must not be retried on EINTR. */
	close(f->fd);
	free(f);
}

static const struct pmcfs_dev_ops file_ops = {
	.name = "file",
	.read = file_read,
	.write = file_write,
	.flush = file_flush,
	.close = file_close,
};

static const struct pmcfs_dev_ops block_ops = {
	.name = "block",
	.read = file_read,
	.write = file_write,
	.flush = file_flush,
	.close = file_close,
};

int pmcfs_dev_file_open(const char *path, unsigned flags, enum pmcfs_dev_kind kind,
			struct pmcfs_dev **ret_dev)
{
	int oflags = O_CLOEXEC | ((flags & PMCFS_DEV_RDONLY) ? O_RDONLY : O_RDWR);
	struct dev_file *f = NULL;
	struct stat st;
	uint64_t size;
	int fd, ret;

	*ret_dev = NULL;
	if (kind != PMCFS_DEV_IMAGE && kind != PMCFS_DEV_BLOCK)
		return -EINVAL;
	/* Without O_CREAT, O_EXCL means "not in use" for block devices only. */
	if (kind == PMCFS_DEV_BLOCK && (flags & PMCFS_DEV_EXCL))
		oflags |= O_EXCL;
	fd = open(path, oflags);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		ret = -errno;
		goto fail;
	}
	if (kind == PMCFS_DEV_IMAGE) {
		/* The path was replaced between stat() and open(). */
		ret = -EINVAL;
		if (!S_ISREG(st.st_mode))
			goto fail;
		size = (uint64_t)st.st_size;
	} else {
		ret = -EINVAL;
		if (!S_ISBLK(st.st_mode))
			goto fail;
		if (ioctl(fd, BLKGETSIZE64, &size) < 0) {
			ret = -errno;
			goto fail;
		}
		/* pread takes a signed off_t. */
		ret = -EFBIG;
		if (size > INT64_MAX)
			goto fail;
	}
	ret = -ENOMEM;
	f = malloc(sizeof(*f));
	if (!f)
		goto fail;
	f->fd = fd;
	*ret_dev = pmcfs_dev_alloc(kind == PMCFS_DEV_BLOCK ? &block_ops : &file_ops,
				   kind, size, flags, f);
	if (!*ret_dev)
		goto fail;
	return 0;
fail:
	free(f);
	close(fd);
	return ret;
}

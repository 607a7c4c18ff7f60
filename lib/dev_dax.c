// SPDX-License-Identifier: MIT
/*
 * devdax backend (/dev/daxN.M): the whole namespace is mapped and I/O is
 * a CPU copy. devdax has no page cache and no read(2)/write(2), so:
 *
 * - write is pmem_memcpy_nodrain(): libpmem copies with non-temporal
 *   stores (or cached stores followed by CLWB/CLFLUSHOPT for the partial
 *   lines at the edges), so when it returns every written line is on its
 *   way out of the CPU caches, only not yet fenced.
 * - flush is pmem_drain(), the SFENCE that waits for those stores and
 *   flushes. On an ADR platform that is the whole persistence barrier:
 *   there are no dirty pages to msync and no pending ranges to persist,
 *   because each write already flushed its own range. (A MAP_SYNC
 *   mapping makes that guarantee explicit; for devdax it holds anyway,
 *   which is why the plain MAP_SHARED fallback is still correct.)
 * - read is a plain memcpy of exactly the bytes asked for, never a
 *   libpmem call (pmem_memcpy would flush the DRAM destination) and never
 *   a wider copy: a load from a poisoned line raises a machine check
 *   (SIGBUS), so reads touch no line the caller did not ask for.
 *   Handling SIGBUS is the tool's business; known bad blocks are kept
 *   out of use by the allocator instead.
 *
 * libpmem is loaded at run time by a writable open and unloaded by close
 * (pmemlibs_priv.h): its constructor scans sysfs, which nothing but a
 * devdax write needs. A read-only open, such as the signature probe, does
 * not load it.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include "pmcfs.h"
#include "dev_priv.h"
#include "pmemlibs_priv.h"

#ifndef MAP_SHARED_VALIDATE
#define MAP_SHARED_VALIDATE 0x03
#endif
#ifndef MAP_SYNC
#define MAP_SYNC 0x80000
#endif

struct dev_dax {
	int fd;
	uint8_t *base;
	size_t maplen;
	struct pmcfs_pmemlibs libs;	/* libpmem; not loaded when read-only */
};

static int dax_read(struct pmcfs_dev *dev, void *buf, size_t len, uint64_t off)
{
	struct dev_dax *d = dev->priv;

	memcpy(buf, d->base + off, len);
	return 0;
}

static int dax_write(struct pmcfs_dev *dev, const void *buf, size_t len, uint64_t off)
{
	struct dev_dax *d = dev->priv;

	d->libs.pmem_memcpy_nodrain(d->base + off, buf, len);
	return 0;
}

static int dax_flush(struct pmcfs_dev *dev)
{
	struct dev_dax *d = dev->priv;

	/* Read-only: nothing written, nothing to drain. */
	if (d->libs.pmem_drain)
		d->libs.pmem_drain();
	return 0;
}

static void dax_close(struct pmcfs_dev *dev)
{
	struct dev_dax *d = dev->priv;

	munmap(d->base, d->maplen);
	close(d->fd);
	pmcfs_pmemlibs_close(&d->libs);
	free(d);
}

static const struct pmcfs_dev_ops dax_ops = {
	.name = "devdax",
	.read = dax_read,
	.write = dax_write,
	.flush = dax_flush,
	.close = dax_close,
};

/* Read a small sysfs attribute of char device maj:min into buf (NUL-terminated). */
static int dax_sysfs_read(unsigned maj, unsigned min, const char *attr,
			  char *buf, size_t bufsize)
{
	char path[128];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/sys/dev/char/%u:%u/%s", maj, min, attr);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	do
		n = read(fd, buf, bufsize - 1);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		n = -errno;
	close(fd);
	if (n < 0)
		return (int)n;
	buf[n] = '\0';
	return 0;
}

int pmcfs_dev_dax_probe(unsigned maj, unsigned min)
{
	char path[128], link[PATH_MAX];
	const char *base;
	ssize_t n;

	/* subsystem links to .../class/dax (or .../bus/dax on newer kernels). */
	snprintf(path, sizeof(path), "/sys/dev/char/%u:%u/subsystem", maj, min);
	n = readlink(path, link, sizeof(link) - 1);
	if (n < 0)
		return errno == ENOENT ? 0 : -errno;
	link[n] = '\0';
	base = strrchr(link, '/');
	base = base ? base + 1 : link;
	return strcmp(base, "dax") == 0;
}

static int dax_size(unsigned maj, unsigned min, uint64_t *ret_size)
{
	char buf[32], *end;
	unsigned long long v;
	int ret;

	ret = dax_sysfs_read(maj, min, "size", buf, sizeof(buf));
	if (ret < 0)
		return ret;
	errno = 0;
	v = strtoull(buf, &end, 0);
	if (errno || end == buf || (*end && *end != '\n'))
		return -EINVAL;
	*ret_size = v;
	return 0;
}

int pmcfs_dev_dax_open(const char *path, unsigned flags, struct pmcfs_dev **ret_dev)
{
	bool rdonly = flags & PMCFS_DEV_RDONLY;
	struct dev_dax *d = NULL;
	void *base = MAP_FAILED;
	struct stat st;
	uint64_t size = 0;
	int fd, ret, prot;

	*ret_dev = NULL;
	fd = open(path, (rdonly ? O_RDONLY : O_RDWR) | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		ret = -errno;
		goto fail;
	}
	ret = -ENODEV;
	if (!S_ISCHR(st.st_mode))
		goto fail;
	ret = pmcfs_dev_dax_probe(major(st.st_rdev), minor(st.st_rdev));
	if (ret <= 0) {
		ret = ret ? ret : -ENODEV;
		goto fail;
	}
	ret = dax_size(major(st.st_rdev), minor(st.st_rdev), &size);
	if (ret < 0)
		goto fail;
	ret = -EFBIG;
	if (size == 0 || size > SIZE_MAX)
		goto fail;

	prot = PROT_READ | (rdonly ? 0 : PROT_WRITE);
	/* MAP_SYNC asks the kernel to promise that CPU flushes suffice. */
	if (!rdonly)
		base = mmap(NULL, (size_t)size, prot, MAP_SHARED_VALIDATE | MAP_SYNC, fd, 0);
	/* Kernels before 4.15 reject it with EINVAL or EOPNOTSUPP. */
	if (base == MAP_FAILED)
		base = mmap(NULL, (size_t)size, prot, MAP_SHARED, fd, 0);
	if (base == MAP_FAILED) {
		ret = -errno;
		goto fail;
	}
	ret = -ENOMEM;
	d = calloc(1, sizeof(*d));
	if (!d)
		goto fail;
	if (!rdonly) {
		ret = pmcfs_pmemlibs_open(&d->libs, PMCFS_LIB_PMEM);
		if (ret)
			goto fail;
	}
	d->fd = fd;
	d->base = base;
	d->maplen = (size_t)size;
	*ret_dev = pmcfs_dev_alloc(&dax_ops, PMCFS_DEV_DAX, size, flags, d);
	ret = -ENOMEM;
	if (!*ret_dev)
		goto fail;
	return 0;
fail:
	if (d)
		pmcfs_pmemlibs_close(&d->libs);
	free(d);
	if (base != MAP_FAILED)
		munmap(base, (size_t)size);
	close(fd);
	return ret;
}

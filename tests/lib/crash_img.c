/*
 * Crash images as devices. A workload produces thousands of crash images
 * per epoch, each differing from the durable image in a few 8-byte
 * units; copying a 16 MiB image for each would dominate the run. So an
 * image is the shared durable image plus private copies of the blocks
 * that differ, served through a pmcfs_dev whose reads also record which
 * blocks the oracles touched (the pruning of format-notes §10).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>
#include "crash.h"

uint64_t crash_mix(uint64_t a, uint64_t b)
{
	/* splitmix64 finaliser over a combination: cheap and well spread. */
	uint64_t z = a ^ (b + 0x9e3779b97f4a7c15ULL + (a << 6) + (a >> 2));

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

uint64_t crash_hash64(const void *buf, size_t len, uint64_t seed)
{
	/* XXH3: hashing dumps and images is most of the harness's own time. */
	return XXH3_64bits_withSeed(buf, len, seed);
}

int crash_img_init(struct crash_img *im, const uint8_t *base, uint64_t size)
{
	memset(im, 0, sizeof(*im));
	im->base = base;
	im->size = size;
	im->nblocks = size / PMCFS_BLOCK_SIZE;
	im->map = malloc(im->nblocks * sizeof(*im->map));
	im->touched = malloc(im->nblocks * sizeof(*im->touched));
	im->readmap = calloc(im->nblocks, 1);
	if (!im->map || !im->touched || !im->readmap) {
		crash_img_release(im);
		return -ENOMEM;
	}
	memset(im->map, 0xff, im->nblocks * sizeof(*im->map));
	return 0;
}

void crash_img_reset(struct crash_img *im)
{
	for (size_t i = 0; i < im->ncopies; i++)
		im->map[im->touched[i]] = -1;
	im->ncopies = 0;
}

void crash_img_release(struct crash_img *im)
{
	free(im->map);
	free(im->copies);
	free(im->touched);
	free(im->readmap);
	memset(im, 0, sizeof(*im));
}

/* The private copy of block b, made from the base on first use. */
static uint8_t *img_block(struct crash_img *im, uint64_t b)
{
	if (im->map[b] < 0) {
		if (im->ncopies == im->cap) {
			size_t cap = im->cap ? im->cap * 2 : 16;
			uint8_t *c = realloc(im->copies, cap * PMCFS_BLOCK_SIZE);
			if (!c)
				abort();	/* a test helper: out of memory ends the test */
			im->copies = c;
			im->cap = cap;
		}
		memcpy(im->copies + im->ncopies * PMCFS_BLOCK_SIZE, im->base + b * PMCFS_BLOCK_SIZE,
		       PMCFS_BLOCK_SIZE);
		im->touched[im->ncopies] = b;
		im->map[b] = (int32_t)im->ncopies++;
	}
	return im->copies + (size_t)im->map[b] * PMCFS_BLOCK_SIZE;
}

void crash_img_patch(struct crash_img *im, uint64_t off, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	while (len) {
		uint64_t b = off / PMCFS_BLOCK_SIZE, in = off % PMCFS_BLOCK_SIZE;
		size_t n = PMCFS_BLOCK_SIZE - in < len ? PMCFS_BLOCK_SIZE - in : len;
		memcpy(img_block(im, b) + in, p, n);
		p += n;
		off += n;
		len -= n;
	}
}

static int img_read(struct pmcfs_dev *dev, void *buf, size_t len, uint64_t off)
{
	struct crash_img *im = dev->priv;
	uint8_t *p = buf;

	while (len) {
		uint64_t b = off / PMCFS_BLOCK_SIZE, in = off % PMCFS_BLOCK_SIZE;
		size_t n = PMCFS_BLOCK_SIZE - in < len ? PMCFS_BLOCK_SIZE - in : len;
		const uint8_t *src = im->map[b] >= 0 ?
			im->copies + (size_t)im->map[b] * PMCFS_BLOCK_SIZE : im->base + b * PMCFS_BLOCK_SIZE;
		if (im->track)
			im->readmap[b] = 1;
		memcpy(p, src + in, n);
		p += n;
		off += n;
		len -= n;
	}
	return 0;
}

static int img_write(struct pmcfs_dev *dev, const void *buf, size_t len, uint64_t off)
{
	crash_img_patch(dev->priv, off, buf, len);
	return 0;
}

static int img_flush(struct pmcfs_dev *dev)
{
	return 0;
}

static void img_close(struct pmcfs_dev *dev)
{
	/* The image outlives its device: the harness checks it several times. */
}

static const struct pmcfs_dev_ops img_ops = {
	.name = "crash-image",
	.read = img_read,
	.write = img_write,
	.flush = img_flush,
	.close = img_close,
};

int crash_img_dev(struct crash_img *im, bool writable, struct pmcfs_dev **ret)
{
	/* pmcfs_dev_close() frees the struct with free(): allocate it likewise. */
	struct pmcfs_dev *dev = calloc(1, sizeof(*dev));

	if (!dev)
		return -ENOMEM;
	dev->ops = &img_ops;
	dev->kind = PMCFS_DEV_MEM;
	dev->size = im->size;
	dev->flags = writable ? 0 : PMCFS_DEV_RDONLY;
	dev->priv = im;
	*ret = dev;
	return 0;
}

// SPDX-License-Identifier: MIT
/*
 * Recording backend for crash tests. Every write reaching the inner
 * device is also appended to a log (offset, a copy of the bytes, and its
 * epoch = flushes since the log was last cleared). Writes of one epoch
 * may reach media in any order and any subset, while every write of an
 * earlier epoch is durable; a harness can therefore rebuild each
 * possible crash state from a copy of the device taken at clear time plus
 * a chosen subset of the log.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "pmcfs.h"
#include "dev_priv.h"

/* Longer writes are logged as several entries (the entry length is 32-bit). */
#define REC_CHUNK_MAX (1U << 30)

struct dev_record {
	struct pmcfs_dev *inner;
	struct pmcfs_rec_write *log;
	size_t n, cap;
	uint32_t epoch;
	pmcfs_write_guard_fn guard;
	void *guard_ctx;
};

static const struct pmcfs_dev_ops record_ops;

static struct dev_record *rec_of(const struct pmcfs_dev *dev)
{
	return dev && dev->ops == &record_ops ? dev->priv : NULL;
}

/* Make room for one more entry, doubling with overflow checks. */
static int rec_reserve(struct dev_record *r)
{
	struct pmcfs_rec_write *log;
	size_t cap;

	if (r->n < r->cap)
		return 0;
	if (r->cap > SIZE_MAX / 2 / sizeof(*log))
		return -ENOMEM;
	cap = r->cap ? r->cap * 2 : 64;
	log = realloc(r->log, cap * sizeof(*log));
	if (!log)
		return -ENOMEM;
	r->log = log;
	r->cap = cap;
	return 0;
}

static int rec_read(struct pmcfs_dev *dev, void *buf, size_t len, uint64_t off)
{
	return pmcfs_dev_read(rec_of(dev)->inner, buf, len, off);
}

static int rec_write(struct pmcfs_dev *dev, const void *buf, size_t len, uint64_t off)
{
	struct dev_record *r = rec_of(dev);
	const uint8_t *p = buf;
	int ret;

	if (r->guard) {
		ret = r->guard(r->guard_ctx, off, len);
		if (ret < 0)
			return ret;
	}
	while (len) {
		uint32_t chunk = len > REC_CHUNK_MAX ? REC_CHUNK_MAX : (uint32_t)len;
		struct pmcfs_rec_write *w;
		uint8_t *copy;

		/* Reserve and copy first, so a logged write is never missing. */
		ret = rec_reserve(r);
		if (ret < 0)
			return ret;
		copy = malloc(chunk);
		if (!copy)
			return -ENOMEM;
		memcpy(copy, p, chunk);
		ret = pmcfs_dev_write(r->inner, p, chunk, off);
		if (ret < 0) {
			free(copy);
			return ret;
		}
		w = &r->log[r->n++];
		w->off = off;
		w->len = chunk;
		w->epoch = r->epoch;
		w->data = copy;
		p += chunk;
		off += chunk;
		len -= chunk;
	}
	return 0;
}

static int rec_flush(struct pmcfs_dev *dev)
{
	struct dev_record *r = rec_of(dev);
	int ret;

	/* A wrapped epoch would put later writes before earlier flushes. */
	if (r->epoch == UINT32_MAX)
		return -EOVERFLOW;
	ret = pmcfs_dev_flush(r->inner);
	if (ret < 0)
		return ret;	/* nothing became durable: same epoch */
	r->epoch++;
	return 0;
}

static void rec_free_log(struct dev_record *r)
{
	size_t i;

	for (i = 0; i < r->n; i++)
		free((void *)(uintptr_t)r->log[i].data);
	r->n = 0;
}

static void rec_close(struct pmcfs_dev *dev)
{
	struct dev_record *r = dev->priv;

	rec_free_log(r);
	free(r->log);
	pmcfs_dev_close(r->inner);
	free(r);
}

static const struct pmcfs_dev_ops record_ops = {
	.name = "record",
	.read = rec_read,
	.write = rec_write,
	.flush = rec_flush,
	.close = rec_close,
};

/* On failure the caller still owns inner. */
int pmcfs_dev_record_open(struct pmcfs_dev *inner, struct pmcfs_dev **ret_dev)
{
	struct dev_record *r;

	if (!ret_dev)
		return -EINVAL;
	*ret_dev = NULL;
	if (!inner)
		return -EINVAL;
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->inner = inner;
	*ret_dev = pmcfs_dev_alloc(&record_ops, PMCFS_DEV_RECORD, inner->size,
				   inner->flags, r);
	if (!*ret_dev) {
		free(r);
		return -ENOMEM;
	}
	return 0;
}

/* The accessors below treat a non-recording device as an empty log. */
size_t pmcfs_dev_record_nwrites(const struct pmcfs_dev *dev)
{
	const struct dev_record *r = rec_of(dev);

	return r ? r->n : 0;
}

const struct pmcfs_rec_write *pmcfs_dev_record_get(const struct pmcfs_dev *dev, size_t i)
{
	const struct dev_record *r = rec_of(dev);

	return r && i < r->n ? &r->log[i] : NULL;
}

uint32_t pmcfs_dev_record_epoch(const struct pmcfs_dev *dev)
{
	const struct dev_record *r = rec_of(dev);

	return r ? r->epoch : 0;
}

/* Drop the log and restart epochs at 0: the log describes the device from now on. */
void pmcfs_dev_record_clear(struct pmcfs_dev *dev)
{
	struct dev_record *r = rec_of(dev);

	if (!r)
		return;
	rec_free_log(r);
	r->epoch = 0;
}

void pmcfs_dev_record_set_guard(struct pmcfs_dev *dev, pmcfs_write_guard_fn fn, void *ctx)
{
	struct dev_record *r = rec_of(dev);

	if (!r)
		return;
	r->guard = fn;
	r->guard_ctx = ctx;
}

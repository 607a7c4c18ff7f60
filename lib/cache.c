// SPDX-License-Identifier: MIT
/*
 * Block cache: one hash table of 4 KiB buffers keyed by block number.
 * Dirty buffers stay until commit writes them; clean ones are dropped in
 * bulk by pmcfs_cache_trim(), which callers run only between tree
 * operations so no buffer held in a path is ever freed under it.
 * The table starts small and doubles when it holds more buffers than
 * buckets, so the walks over it (commit, trim, close) cost what is
 * cached: an open that reads a few blocks stays cheap, which the tools
 * (and the crash harness, opening every crash image) do constantly.
 */
#include <errno.h>
#include <stdlib.h>
#include "fs_priv.h"

#define CACHE_BUCKETS_MIN 256

static size_t hash_bucket(size_t nbuckets, uint64_t blkno)
{
	return (size_t)((blkno * 0x9e3779b97f4a7c15ULL) >> 20) & (nbuckets - 1);
}

static size_t bucket(const struct pmcfs_cache *c, uint64_t blkno)
{
	return hash_bucket(c->nbuckets, blkno);
}

/* Double the table. Failing to is not an error: the chains just grow. */
static void cache_grow(struct pmcfs_cache *c)
{
	size_t n = c->nbuckets * 2;
	struct pmcfs_buf **t = calloc(n, sizeof(*t));

	if (!t)
		return;
	for (size_t i = 0; i < c->nbuckets; i++) {
		struct pmcfs_buf *b = c->table[i], *next;
		for (; b; b = next) {
			size_t h = hash_bucket(n, b->blkno);
			next = b->hnext;
			b->hnext = t[h];
			t[h] = b;
		}
	}
	free(c->table);
	c->table = t;
	c->nbuckets = n;
}

int pmcfs_cache_init(struct pmcfs_cache *c)
{
	c->nbuckets = CACHE_BUCKETS_MIN;
	c->table = calloc(c->nbuckets, sizeof(*c->table));
	c->count = c->nclean = 0;
	return c->table ? 0 : -ENOMEM;
}

static void buf_free(struct pmcfs_buf *b)
{
	free(b->data);
	free(b);
}

void pmcfs_cache_release(struct pmcfs_cache *c)
{
	for (size_t i = 0; c->table && i < c->nbuckets; i++) {
		struct pmcfs_buf *b = c->table[i], *n;
		for (; b; b = n) {
			n = b->hnext;
			buf_free(b);
		}
	}
	free(c->table);
	c->table = NULL;
	c->count = c->nclean = 0;
}

struct pmcfs_buf *pmcfs_cache_find(struct pmcfs_cache *c, uint64_t blkno)
{
	struct pmcfs_buf *b = c->table[bucket(c, blkno)];

	while (b && b->blkno != blkno)
		b = b->hnext;
	return b;
}

/* A new clean zeroed buffer for blkno; the caller fills it. */
int pmcfs_cache_add(struct pmcfs_cache *c, uint64_t blkno, struct pmcfs_buf **ret)
{
	struct pmcfs_buf *b;
	size_t h;

	if (c->count >= c->nbuckets)
		cache_grow(c);
	h = bucket(c, blkno);
	if (!(b = calloc(1, sizeof(*b))))
		return -ENOMEM;
	if (posix_memalign((void **)&b->data, 64, PMCFS_BLOCK_SIZE)) {
		free(b);
		return -ENOMEM;
	}
	memset(b->data, 0, PMCFS_BLOCK_SIZE);
	b->blkno = blkno;
	b->hnext = c->table[h];
	c->table[h] = b;
	c->count++;
	c->nclean++;
	*ret = b;
	return 0;
}

void pmcfs_cache_forget(struct pmcfs_cache *c, uint64_t blkno)
{
	struct pmcfs_buf **p = &c->table[bucket(c, blkno)];

	for (; *p; p = &(*p)->hnext) {
		struct pmcfs_buf *b = *p;
		if (b->blkno != blkno)
			continue;
		*p = b->hnext;
		if (!b->dirty)
			c->nclean--;
		c->count--;
		buf_free(b);
		return;
	}
}

void pmcfs_cache_mark_dirty(struct pmcfs_cache *c, struct pmcfs_buf *b)
{
	if (!b->dirty) {
		b->dirty = true;
		c->nclean--;
	}
}

static void cache_drop_if(struct pmcfs_cache *c, bool (*pred)(const struct pmcfs_buf *))
{
	for (size_t i = 0; i < c->nbuckets; i++) {
		struct pmcfs_buf **p = &c->table[i];
		while (*p) {
			struct pmcfs_buf *b = *p;
			if (!pred(b)) {
				p = &b->hnext;
				continue;
			}
			*p = b->hnext;
			if (!b->dirty)
				c->nclean--;
			c->count--;
			buf_free(b);
		}
	}
}

static bool is_clean(const struct pmcfs_buf *b) { return !b->dirty && !b->fresh; }
static bool is_dirty(const struct pmcfs_buf *b) { return b->dirty || b->fresh; }

void pmcfs_cache_trim(struct pmcfs_cache *c)
{
	if (c->nclean > PMCFS_CACHE_CLEAN_MAX)
		cache_drop_if(c, is_clean);
}

void pmcfs_cache_discard_dirty(struct pmcfs_cache *c)
{
	cache_drop_if(c, is_dirty);
}

int pmcfs_cache_for_each_dirty(struct pmcfs_cache *c, pmcfs_buf_fn fn, void *ctx)
{
	for (size_t i = 0; i < c->nbuckets; i++) {
		for (struct pmcfs_buf *b = c->table[i]; b; b = b->hnext) {
			if (!b->dirty)
				continue;
			int ret = fn(ctx, b);
			if (ret)
				return ret;
		}
	}
	return 0;
}

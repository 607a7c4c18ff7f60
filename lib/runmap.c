// SPDX-License-Identifier: MIT
/*
 * Sorted arrays of disjoint block runs: the transaction's refcount
 * overlay, the free-space index and the deferred-free list. Binary
 * search plus memmove: transactions are bounded, so the arrays stay
 * small enough that a balanced tree would not pay for itself.
 */
#include <errno.h>
#include <stdlib.h>
#include "fs_priv.h"

void pmcfs_runmap_release(struct pmcfs_runmap *m)
{
	free(m->runs);
	m->runs = NULL;
	m->n = m->cap = 0;
}

size_t pmcfs_runmap_search(const struct pmcfs_runmap *m, uint64_t blk)
{
	size_t lo = 0, hi = m->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct pmcfs_run *r = &m->runs[mid];
		if (r->start + r->len <= blk)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

int pmcfs_runmap_insert_at(struct pmcfs_runmap *m, size_t i, const struct pmcfs_run *r)
{
	if (m->n == m->cap) {
		size_t cap = m->cap ? m->cap * 2 : 64;
		struct pmcfs_run *n;
		if (cap > SIZE_MAX / sizeof(*n))
			return -ENOMEM;
		n = realloc(m->runs, cap * sizeof(*n));
		if (!n)
			return -ENOMEM;
		m->runs = n;
		m->cap = cap;
	}
	memmove(&m->runs[i + 1], &m->runs[i], (m->n - i) * sizeof(*r));
	m->runs[i] = *r;
	m->n++;
	return 0;
}

void pmcfs_runmap_remove_at(struct pmcfs_runmap *m, size_t i, size_t n)
{
	memmove(&m->runs[i], &m->runs[i + n], (m->n - i - n) * sizeof(m->runs[0]));
	m->n -= n;
}

int pmcfs_runmap_split(struct pmcfs_runmap *m, uint64_t blk)
{
	size_t i = pmcfs_runmap_search(m, blk);
	struct pmcfs_run *r, tail;

	if (i == m->n)
		return 0;
	r = &m->runs[i];
	if (r->start >= blk)
		return 0;
	tail = *r;
	tail.start = blk;
	tail.len = r->start + r->len - blk;
	r->len = blk - r->start;
	return pmcfs_runmap_insert_at(m, i + 1, &tail);
}

// SPDX-License-Identifier: MIT
/*
 * --dedupe: share identical 4 KiB-aligned blocks while populating.
 *
 * Every full block written gets an entry (XXH3 hash -> inode, offset)
 * in an open-addressing table. A later block whose hash is there is read
 * back from the filesystem and compared byte for byte; only if equal is
 * it shared, with pmcfs_ns_clone_range(). Runs are coalesced: after a
 * match the next block is first compared with the block that follows
 * the source, so a duplicated file becomes one clone call and one
 * extent, not one per block. An entry also records where the written
 * run holding its block ends ("limit"), so a run never continues into a
 * hole or past the end of its source. Blocks are only shared with data
 * already written (never with the pending run of the same chunk), which
 * keeps a run of identical blocks (zeros) inside a file in one extent.
 */
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>
#include "mkfs.h"
#include "populate.h"

#define BS	((uint64_t)PMCFS_BLOCK_SIZE)
#define PENDING_MAX	(POP_CHUNK / PMCFS_BLOCK_SIZE)

struct dd_ent {
	uint64_t hash;
	uint64_t ino;			/* 0: free slot */
	uint64_t off;
	uint64_t limit;			/* end of the written run; 0 while not written */
};

struct dd_table {
	struct dd_ent *e;
	size_t cap, used;
	uint64_t pending[PENDING_MAX];	/* hashes of the blocks in the pending write */
	size_t npending;
};

/* A pending clone: [soff, soff+len) of src goes to [doff, doff+len). */
struct run {
	uint64_t src, soff, limit, doff, len;
};

/* A pending write: buf[ws, we) of the current chunk. */
struct wrun {
	size_t ws, we;
};

struct dd_table *dd_new(void)
{
	struct dd_table *dd = xcalloc(1, sizeof(*dd));

	dd->cap = 1 << 16;
	dd->e = xcalloc(dd->cap, sizeof(*dd->e));
	return dd;
}

void dd_free(struct dd_table *dd)
{
	if (!dd)
		return;
	free(dd->e);
	free(dd);
}

static struct dd_ent *slot(struct dd_table *dd, uint64_t hash)
{
	size_t i = (size_t)hash & (dd->cap - 1);

	while (dd->e[i].ino && dd->e[i].hash != hash)
		i = (i + 1) & (dd->cap - 1);
	return &dd->e[i];
}

static void grow(struct dd_table *dd)
{
	struct dd_ent *old = dd->e;
	size_t i, oldcap = dd->cap;

	dd->cap *= 2;
	dd->e = xcalloc(dd->cap, sizeof(*dd->e));
	for (i = 0; i < oldcap; i++)
		if (old[i].ino)
			*slot(dd, old[i].hash) = old[i];
	free(old);
}

/* First writer of a hash wins; later identical blocks point to it. */
static void insert(struct dd_table *dd, uint64_t hash, uint64_t ino, uint64_t off)
{
	struct dd_ent *e;

	if ((dd->used + 1) * 10 > dd->cap * 7)
		grow(dd);
	e = slot(dd, hash);
	if (e->ino)
		return;
	*e = (struct dd_ent){ hash, ino, off, 0 };
	dd->used++;
}

/* Is the block at (ino, off) in the filesystem byte-equal to b? */
static bool same(struct pop *p, uint64_t ino, uint64_t off, const uint8_t *b)
{
	size_t got = 0;
	int rc = pmcfs_ns_read(p->fs, p->t, ino, off, p->cmp, BS, &got);

	return !rc && got == BS && !memcmp(p->cmp, b, BS);
}

static void flush_write(struct pop *p, struct wrun *w, uint64_t ino, uint64_t off,
			const uint8_t *buf)
{
	struct dd_table *dd = p->dd;
	uint64_t start = off + w->ws, end = off + w->we;
	struct dd_ent *e;
	size_t i;
	int rc;

	if (w->we > w->ws) {
		rc = pmcfs_ns_write(p->tx, p->t, ino, start, buf + w->ws, w->we - w->ws);
		if (rc)
			pop_fatal(p, "cannot write", rc);
	}
	/* The blocks just written are now data up to the end of this run. */
	for (i = 0; i < dd->npending; i++) {
		e = slot(dd, dd->pending[i]);
		if (e->ino == ino && e->off >= start && e->off < end)
			e->limit = end & ~(BS - 1);
	}
	dd->npending = 0;
	w->ws = w->we;
}

static void flush_clone(struct pop *p, struct run *r, uint64_t ino)
{
	int rc;

	if (!r->len)
		return;
	rc = pmcfs_ns_clone_range(p->tx, p->t, r->src, r->soff, p->t, ino, r->doff, r->len);
	if (rc)
		pop_fatal(p, "cannot share blocks with", rc);
	p->shared += r->len;
	r->len = 0;
}

/* Can the pending clone run take the block at doff (content b)? */
static bool extends(struct pop *p, const struct run *r, uint64_t ino, uint64_t doff,
		    const uint8_t *b)
{
	uint64_t s = r->soff + r->len;

	if (!r->len || r->doff + r->len != doff || s + BS > r->limit)
		return false;
	if (r->src == ino && s + BS > r->doff)	/* never overlap in one file */
		return false;
	return same(p, r->src, s, b);
}

void dd_write(struct pop *p, uint64_t ino, uint64_t off, const uint8_t *buf, size_t len)
{
	struct dd_table *dd = p->dd;
	struct wrun w = { 0, 0 };
	struct run r = { 0 };
	size_t pos = 0;
	int rc;

	if (off % BS) {			/* unaligned head: written as is */
		pos = BS - off % BS < len ? (size_t)(BS - off % BS) : len;
		rc = pmcfs_ns_write(p->tx, p->t, ino, off, buf, pos);
		if (rc)
			pop_fatal(p, "cannot write", rc);
		w.ws = w.we = pos;
	}
	for (; pos + BS <= len; pos += BS) {
		const uint8_t *b = buf + pos;
		uint64_t doff = off + pos, h = XXH3_64bits(b, BS);
		struct dd_ent *e = slot(dd, h);

		if (e->ino && extends(p, &r, ino, doff, b)) {
			r.len += BS;
			continue;
		}
		if (e->ino && e->limit && !(e->ino == ino && e->off + BS > doff) &&
		    same(p, e->ino, e->off, b)) {
			flush_write(p, &w, ino, off, buf);
			flush_clone(p, &r, ino);
			r = (struct run){ e->ino, e->off, e->limit, doff, BS };
			w.ws = w.we = pos + BS;
			continue;
		}
		/* New data: written with its neighbours. */
		flush_clone(p, &r, ino);
		if (w.we != pos)
			w.ws = w.we = pos;
		w.we = pos + BS;
		if (!e->ino) {
			insert(dd, h, ino, doff);
			dd->pending[dd->npending++] = h;
		}
	}
	flush_clone(p, &r, ino);
	if (pos < len) {		/* partial tail block */
		if (w.we != pos)
			w.ws = w.we = pos;
		w.we = len;
	}
	flush_write(p, &w, ino, off, buf);
}

/* Forget blocks of an inode that was removed (a partial copy). */
void dd_forget(struct dd_table *dd, uint64_t ino)
{
	size_t i;

	for (i = 0; dd && i < dd->cap; i++)
		if (dd->e[i].ino == ino)
			dd->e[i].limit = 0;
}

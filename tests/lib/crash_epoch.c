/*
 * One flush epoch as 8-byte units (format-notes §10): the only stores
 * pmem persists atomically are aligned 8-byte ones, and stores of one
 * epoch reach media in any order, so a crash state is the durable image
 * plus any subset of the epoch's units applied in program order (a later
 * store to the same word wins, as it would on media).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "crash.h"

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static uint32_t pos_id(const struct crash_epoch *ep, uint64_t pos)
{
	size_t lo = 0, hi = ep->npos;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (ep->pos[mid] < pos)
			lo = mid + 1;
		else
			hi = mid;
	}
	return (uint32_t)lo;
}

int crash_epoch_build(struct crash_epoch *ep, struct pmcfs_dev *rec, uint32_t epoch,
		      const uint8_t *base, uint64_t size)
{
	size_t nw = pmcfs_dev_record_nwrites(rec), n = 0;

	memset(ep, 0, sizeof(*ep));
	ep->base = base;
	ep->size = size;
	for (size_t i = 0; i < nw; i++) {
		const struct pmcfs_rec_write *w = pmcfs_dev_record_get(rec, i);
		if (w->epoch == epoch && w->len)
			n += (w->off + w->len + 7) / 8 - w->off / 8;
	}
	ep->u = calloc(n ? n : 1, sizeof(*ep->u));
	ep->pos = malloc((n ? n : 1) * sizeof(*ep->pos));
	ep->rel = malloc((n ? n : 1) * sizeof(*ep->rel));
	if (!ep->u || !ep->pos || !ep->rel)
		return -ENOMEM;
	for (size_t i = 0; i < nw; i++) {
		const struct pmcfs_rec_write *w = pmcfs_dev_record_get(rec, i);
		if (w->epoch != epoch)
			continue;
		for (uint64_t p = w->off & ~7ULL; p < w->off + w->len; p += 8) {
			struct crash_unit *u = &ep->u[ep->n++];
			uint64_t s = p > w->off ? p : w->off;
			uint64_t e = p + 8 < w->off + w->len ? p + 8 : w->off + w->len;
			u->pos = p;
			u->lo = (uint8_t)(s - p);
			u->hi = (uint8_t)(e - p);
			memcpy(u->val + u->lo, w->data + (s - w->off), e - s);
		}
	}
	for (size_t i = 0; i < ep->n; i++)
		ep->pos[i] = ep->u[i].pos;
	qsort(ep->pos, ep->n, sizeof(*ep->pos), cmp_u64);
	for (size_t i = 0; i < ep->n; i++)
		if (!ep->npos || ep->pos[ep->npos - 1] != ep->pos[i])
			ep->pos[ep->npos++] = ep->pos[i];
	for (size_t i = 0; i < ep->n; i++) {
		ep->u[i].id = pos_id(ep, ep->u[i].pos);
		ep->rel[i] = i;
	}
	ep->nrel = ep->n;
	ep->cur = malloc((ep->npos ? ep->npos : 1) * sizeof(*ep->cur));
	ep->stamp = calloc(ep->npos ? ep->npos : 1, sizeof(*ep->stamp));
	ep->touched = malloc((ep->npos ? ep->npos : 1) * sizeof(*ep->touched));
	return ep->cur && ep->stamp && ep->touched ? 0 : -ENOMEM;
}

void crash_epoch_free(struct crash_epoch *ep)
{
	free(ep->u);
	free(ep->pos);
	free(ep->rel);
	free(ep->cur);
	free(ep->stamp);
	free(ep->touched);
	memset(ep, 0, sizeof(*ep));
}

void crash_epoch_prune(struct crash_epoch *ep, const uint8_t *relevant, bool prune)
{
	/* A position all of whose stores rewrite the durable bytes cannot matter. */
	uint8_t *changes = calloc(ep->npos ? ep->npos : 1, 1);

	if (!changes)
		abort();
	for (size_t i = 0; i < ep->n; i++) {
		const struct crash_unit *u = &ep->u[i];
		if (memcmp(u->val + u->lo, ep->base + u->pos + u->lo, u->hi - u->lo))
			changes[u->id] = 1;
	}
	ep->nrel = 0;
	for (size_t i = 0; i < ep->n; i++) {
		const struct crash_unit *u = &ep->u[i];
		if (!changes[u->id])
			continue;
		if (prune && !relevant[u->pos / PMCFS_BLOCK_SIZE])
			continue;
		ep->rel[ep->nrel++] = i;
	}
	free(changes);
}

/* Apply units idx[] to the scratch words; returns how many positions were touched. */
static uint32_t scratch_apply(struct crash_epoch *ep, const size_t *idx, size_t n)
{
	uint32_t nt = 0;

	if (++ep->curstamp == 0) {
		memset(ep->stamp, 0, ep->npos * sizeof(*ep->stamp));
		ep->curstamp = 1;
	}
	for (size_t i = 0; i < n; i++) {
		const struct crash_unit *u = &ep->u[idx[i]];
		if (ep->stamp[u->id] != ep->curstamp) {
			ep->stamp[u->id] = ep->curstamp;
			memcpy(ep->cur[u->id], ep->base + u->pos, 8);
			ep->touched[nt++] = u->id;
		}
		memcpy(ep->cur[u->id] + u->lo, u->val + u->lo, u->hi - u->lo);
	}
	return nt;
}

uint64_t crash_epoch_key(struct crash_epoch *ep, const size_t *idx, size_t n)
{
	uint32_t nt = scratch_apply(ep, idx, n);
	uint64_t key = 0;

	/* A sum of per-word hashes: independent of the order words were touched. */
	for (uint32_t i = 0; i < nt; i++) {
		uint32_t id = ep->touched[i];
		uint64_t w;
		if (!memcmp(ep->cur[id], ep->base + ep->pos[id], 8))
			continue;
		memcpy(&w, ep->cur[id], 8);
		key += crash_mix(ep->pos[id], w);
	}
	return key;
}

static int slot_of(const struct pmcfs_sb_info *sb, uint64_t pos)
{
	uint64_t b = pos / PMCFS_BLOCK_SIZE;

	if (pos % PMCFS_BLOCK_SIZE + 8 > sizeof(struct pmcfs_commit))
		return -1;
	for (int s = 0; s < 2; s++) {
		if (b == sb->slot_blkno[s])
			return s;
		if (b == sb->replica_blkno + 1 + s)
			return 2 + s;
	}
	return -1;
}

bool crash_epoch_slots_only(const struct crash_epoch *ep, const struct pmcfs_sb_info *sb)
{
	for (size_t i = 0; i < ep->nrel; i++)
		if (slot_of(sb, ep->u[ep->rel[i]].pos) < 0)
			return false;
	return true;
}

/*
 * When only commit records are in flight, open's result depends only on
 * which records are valid and what they say, so images that agree on
 * that need one check between them (2^16 images become two or three).
 * The key deliberately does not model which slot open picks: a bug there
 * must still show up in the check of each distinct record set.
 */
uint64_t crash_epoch_slot_key(struct crash_epoch *ep, const struct pmcfs_sb_info *sb,
			      const size_t *idx, size_t n)
{
	uint8_t rec[PMCFS_NSLOTS][sizeof(struct pmcfs_commit)];
	uint64_t blk[PMCFS_NSLOTS] = { sb->slot_blkno[0], sb->slot_blkno[1],
				       sb->replica_blkno + 1, sb->replica_blkno + 2 };
	uint32_t nt = scratch_apply(ep, idx, n);
	uint64_t key = 0;

	for (int s = 0; s < PMCFS_NSLOTS; s++)
		memcpy(rec[s], ep->base + blk[s] * PMCFS_BLOCK_SIZE, sizeof(rec[s]));
	for (uint32_t i = 0; i < nt; i++) {
		uint64_t pos = ep->pos[ep->touched[i]];
		int s = slot_of(sb, pos);
		if (s < 0)
			continue;	/* pruned: outside every record */
		memcpy(rec[s] + pos % PMCFS_BLOCK_SIZE, ep->cur[ep->touched[i]], 8);
	}
	for (int s = 0; s < PMCFS_NSLOTS; s++) {
		struct pmcfs_commit_info ci;
		int err = pmcfs_commit_from_disk(rec[s], sb->uuid, &ci, NULL);
		key = crash_mix(key, err ? (uint64_t)(int64_t)err : crash_hash64(rec[s], sizeof(rec[s]), s));
	}
	return key;
}

void crash_epoch_apply(const struct crash_epoch *ep, struct crash_img *im, const size_t *idx, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const struct crash_unit *u = &ep->u[idx[i]];
		crash_img_patch(im, u->pos + u->lo, u->val + u->lo, u->hi - u->lo);
	}
}

/* ---- dedupe: a set of 64-bit image keys ---- */

void crash_keyset_clear(struct crash_keyset *s)
{
	if (s->n)
		memset(s->used, 0, s->cap);
	s->n = 0;
}

/* True if key was new. */
bool crash_keyset_add(struct crash_keyset *s, uint64_t key)
{
	size_t i;

	if (2 * (s->n + 1) > s->cap) {
		struct crash_keyset bigger = { 0 };
		bigger.cap = s->cap ? s->cap * 2 : 1024;
		bigger.keys = malloc(bigger.cap * sizeof(*bigger.keys));
		bigger.used = calloc(bigger.cap, 1);
		if (!bigger.keys || !bigger.used)
			abort();
		for (i = 0; i < s->cap; i++)
			if (s->used[i])
				crash_keyset_add(&bigger, s->keys[i]);
		free(s->keys);
		free(s->used);
		*s = bigger;
	}
	for (i = crash_mix(key, 7) & (s->cap - 1); s->used[i]; i = (i + 1) & (s->cap - 1))
		if (s->keys[i] == key)
			return false;
	s->used[i] = 1;
	s->keys[i] = key;
	s->n++;
	return true;
}

long crash_subset(const struct crash_epoch *ep, const char *spec, uint64_t rseed, size_t *idx)
{
	unsigned long long k = 0;
	const char *arg = strchr(spec, ':');
	long n = 0;

	if (arg && sscanf(arg + 1, strncmp(spec, "mask:", 5) ? "%llu" : "%llx", &k) != 1)
		return -1;
	if (!strcmp(spec, "none"))
		return 0;
	if (!strcmp(spec, "full")) {
		for (size_t i = 0; i < ep->n; i++)
			idx[n++] = i;
		return n;
	}
	if (!strcmp(spec, "all")) {
		memcpy(idx, ep->rel, ep->nrel * sizeof(*idx));
		return (long)ep->nrel;
	}
	if (!strncmp(spec, "prefix:", 7)) {
		if (k > ep->nrel)
			return -1;
		memcpy(idx, ep->rel, k * sizeof(*idx));
		return (long)k;
	}
	if (!strncmp(spec, "omit:", 5)) {
		if (k >= ep->nrel)
			return -1;
		for (size_t i = 0; i < ep->nrel; i++)
			if (i != k)
				idx[n++] = ep->rel[i];
		return n;
	}
	if (!strncmp(spec, "rand:", 5)) {
		/* Vary the density too: mostly-missing and mostly-present epochs differ. */
		static const unsigned pct[] = { 50, 10, 90, 30, 70 };
		uint64_t r = crash_mix(rseed, k);
		unsigned p = pct[k % 5];
		for (size_t i = 0; i < ep->nrel; i++) {
			r = crash_mix(r, i);
			if (r % 100 < p)
				idx[n++] = ep->rel[i];
		}
		return n;
	}
	if (!strncmp(spec, "mask:", 5)) {
		if (ep->nrel > CRASH_EXHAUSTIVE_MAX || k >> ep->nrel)
			return -1;
		for (size_t i = 0; i < ep->nrel; i++)
			if (k >> i & 1)
				idx[n++] = ep->rel[i];
		return n;
	}
	return -1;
}

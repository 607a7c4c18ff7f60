// SPDX-License-Identifier: MIT
/*
 * scan steps 3 and 4: group blocks with equal hashes, pick one source per
 * group, drop members already sharing the source's physical block (so a
 * second run finds nothing), coalesce neighbouring pairs into long ranges
 * (one ioctl and one extent per run, not per block), batch ranges with
 * the same source into one multi-destination call, and dedupe.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "scan_priv.h"

struct blk {
	uint64_t hash;
	uint64_t len;
	uint32_t file, idx;
};

struct pair {			/* one block of dst to share with one of src */
	uint32_t sfile, sidx, dfile, didx;
};

struct range {
	uint32_t sfile, dfile;
	uint64_t soff, doff, len;
};

static const struct scan *g_scan;	/* for the qsort comparators */

static int cmp_blk(const void *a, const void *b)
{
	const struct blk *x = a, *y = b;
	dev_t dx = g_scan->files[x->file].dev, dy = g_scan->files[y->file].dev;

	if (dx != dy)
		return dx < dy ? -1 : 1;
	if (x->hash != y->hash)
		return x->hash < y->hash ? -1 : 1;
	if (x->len != y->len)
		return x->len < y->len ? -1 : 1;
	if (x->file != y->file)
		return x->file < y->file ? -1 : 1;
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

static int cmp_pair(const void *a, const void *b)
{
	const struct pair *x = a, *y = b;

	if (x->dfile != y->dfile)
		return x->dfile < y->dfile ? -1 : 1;
	if (x->sfile != y->sfile)
		return x->sfile < y->sfile ? -1 : 1;
	return x->didx < y->didx ? -1 : x->didx > y->didx;
}

static int cmp_range(const void *a, const void *b)
{
	const struct range *x = a, *y = b;

	if (x->sfile != y->sfile)
		return x->sfile < y->sfile ? -1 : 1;
	if (x->soff != y->soff)
		return x->soff < y->soff ? -1 : 1;
	if (x->len != y->len)
		return x->len < y->len ? -1 : 1;
	if (x->dfile != y->dfile)
		return x->dfile < y->dfile ? -1 : 1;
	return x->doff < y->doff ? -1 : x->doff > y->doff;
}

/* Same group: same filesystem, hash and length. */
static int cmp_blk_key(const struct scan *s, const struct blk *x, const struct blk *y)
{
	return s->files[x->file].dev != s->files[y->file].dev || x->hash != y->hash ||
	       x->len != y->len;
}

static uint64_t phys_of(const struct scan *s, const struct blk *b)
{
	return s->files[b->file].phys[b->idx];
}

/*
 * The source of a group is a member whose physical block the most
 * members already share, so the fewest blocks move and a group that is
 * fully shared needs nothing. Ties go to the first member (file order),
 * which keeps sources in one file and lets runs coalesce.
 */
static size_t pick_source(const struct scan *s, const struct blk *g, size_t n)
{
	size_t best = 0, bestcount = 0, i, j;

	for (i = 0; i < n; i++) {
		uint64_t p = phys_of(s, &g[i]);
		size_t count = 0;

		/* A block split over extents shares with nobody, but is as
		 * good a source as any unshared one: counting it keeps ties
		 * going to the first file, so runs still coalesce. */
		if (p == PHYS_UNKNOWN)
			count = 1;
		for (j = 0; j < n && p != PHYS_UNKNOWN; j++)
			count += phys_of(s, &g[j]) == p;
		if (count > bestcount) {
			best = i;
			bestcount = count;
		}
		if (n > 64 && bestcount > 1)	/* enough: keep big groups linear */
			break;
	}
	return best;
}

static struct pair *find_pairs(struct scan *s, size_t *ret_n)
{
	struct blk *b = NULL;
	struct pair *p = NULL;
	size_t nb = 0, np = 0, capp = 0, i, j, k, f;

	for (f = 0; f < s->nfiles; f++)
		if (!s->files[f].failed)
			nb += s->files[f].nblocks;
	b = xcalloc(nb, sizeof(*b));
	nb = 0;
	for (f = 0; f < s->nfiles; f++) {
		struct scan_file *sf = &s->files[f];

		for (i = 0; !sf->failed && i < sf->nblocks; i++) {
			if (sf->phys[i] == PHYS_HOLE)
				continue;
			b[nb++] = (struct blk){ sf->hash[i], block_len(s, sf, i), f, i };
		}
	}
	g_scan = s;
	qsort(b, nb, sizeof(*b), cmp_blk);
	for (i = 0; i < nb; i = j) {
		size_t src;
		uint64_t sp;

		for (j = i + 1; j < nb && !cmp_blk_key(s, &b[i], &b[j]); j++)
			;
		if (j - i < 2)
			continue;
		src = i + pick_source(s, b + i, j - i);
		sp = phys_of(s, &b[src]);
		for (k = i; k < j; k++) {
			if (k == src)
				continue;
			if (sp != PHYS_UNKNOWN && phys_of(s, &b[k]) == sp) {
				s->shared_bytes += b[k].len;
				continue;
			}
			if (np == capp) {
				capp = capp ? 2 * capp : 1024;
				p = xreallocarray(p, capp, sizeof(*p));
			}
			p[np++] = (struct pair){ b[src].file, b[src].idx, b[k].file, b[k].idx };
			s->dup_bytes += b[k].len;
		}
	}
	free(b);
	*ret_n = np;
	return p;
}

static struct range *coalesce(struct scan *s, struct pair *p, size_t np, size_t *ret_n)
{
	struct range *r = xcalloc(np, sizeof(*r));
	size_t nr = 0, i;

	if (np > 1)
		qsort(p, np, sizeof(*p), cmp_pair);
	for (i = 0; i < np; i++) {
		uint64_t soff = (uint64_t)p[i].sidx * s->block_size;
		uint64_t doff = (uint64_t)p[i].didx * s->block_size;
		uint64_t len = block_len(s, &s->files[p[i].dfile], p[i].didx);
		struct range *last = nr ? &r[nr - 1] : NULL;

		if (last && last->sfile == p[i].sfile && last->dfile == p[i].dfile &&
		    last->len % s->block_size == 0 &&
		    last->soff + last->len == soff && last->doff + last->len == doff) {
			last->len += len;
			continue;
		}
		r[nr++] = (struct range){ p[i].sfile, p[i].dfile, soff, doff, len };
	}
	*ret_n = nr;
	return r;
}

struct fcache {
	struct rl_file **f;	/* by file index */
	bool *bad;		/* open failed or file changed: skip */
	size_t nopen;
};

#define FCACHE_MAX 512		/* well under the usual 1024 descriptors */

static void fcache_flush(struct scan *s, struct fcache *c)
{
	size_t i;

	for (i = 0; i < s->nfiles; i++) {
		rl_ops->close(c->f[i]);
		c->f[i] = NULL;
	}
	c->nopen = 0;
}

static struct rl_file *get_file(struct scan *s, struct fcache *c, uint32_t idx)
{
	struct scan_file *sf = &s->files[idx];
	struct rl_file *f;
	char msg[256];
	int err;

	if (c->f[idx] || c->bad[idx])
		return c->f[idx];
	/* Read-only: the kernel lets the owner or root dedupe into it. */
	err = rl_ops->open(sf->path, RL_OPEN_DEDUPE_DST | RL_OPEN_NOFOLLOW, &f);
	if (err) {
		error("dedupe %s: open: %s", sf->path, rl_errmsg(err, NULL, msg, sizeof(msg)));
		s->errors++;
		c->bad[idx] = true;
		return NULL;
	}
	/* On an image held exclusively only this run changes files, and
	 * its own dedupes may touch mtimes: identity and size suffice. */
	if (f->st.st_ino != sf->ino || (uint64_t)f->st.st_size != sf->size ||
	    (!rl_ops->exclusive && (f->st.st_mtim.tv_sec != sf->mtime.tv_sec ||
				    f->st.st_mtim.tv_nsec != sf->mtime.tv_nsec))) {
		warning("%s changed since it was hashed, left alone", sf->path);
		s->changed++;
		c->bad[idx] = true;
		rl_ops->close(f);
		return NULL;
	}
	c->f[idx] = f;
	c->nopen++;
	return f;
}

static void tally(struct scan *s, struct rl_file *src, struct rl_file *dst,
		  const struct range *rg, const struct rl_dedupe_result *res)
{
	s->deduped += res->deduped;
	if (res->error) {
		s->errors++;
		rl_report_range("dedupe", src, dst, res->error_off, rg->doff + rg->len, res->error);
	} else if (res->differs) {
		s->differs++;
		warning("dedupe %s -> %s [%llu, %llu): data differs, left alone",
			src->path, dst->path, (unsigned long long)res->differs_at,
			(unsigned long long)(rg->doff + rg->len));
	}
}

#define SUBBATCH 256

static void dedupe_ranges(struct scan *s, struct range *r, size_t nr)
{
	struct fcache c = { xcalloc(s->nfiles, sizeof(*c.f)), xcalloc(s->nfiles, sizeof(*c.bad)), 0 };
	struct rl_file *dsts[SUBBATCH];
	uint64_t offs[SUBBATCH];
	size_t which[SUBBATCH];
	struct rl_dedupe_result res[SUBBATCH];
	double last = 0;
	size_t i, j, sub, e, k, n;

	qsort(r, nr, sizeof(*r), cmp_range);
	for (i = 0; i < nr; i = j) {
		for (j = i + 1; j < nr && r[j].sfile == r[i].sfile && r[j].soff == r[i].soff &&
			       r[j].len == r[i].len; j++)
			;
		if (s->progress && now_seconds() - last > 0.2) {
			last = now_seconds();
			fprintf(stderr, "\rscan: deduping range %zu/%zu\033[K", i + 1, nr);
			fflush(stderr);
		}
		for (sub = i; sub < j; sub = e) {
			struct rl_file *src;

			e = j - sub > SUBBATCH ? sub + SUBBATCH : j;
			/* Room for the whole sub-batch, so nothing we hold
			 * is closed under us. */
			if (c.nopen + (e - sub) + 1 > FCACHE_MAX)
				fcache_flush(s, &c);
			src = get_file(s, &c, r[i].sfile);
			if (!src)
				break;
			for (n = 0, k = sub; k < e; k++) {
				struct rl_file *d = get_file(s, &c, r[k].dfile);

				if (!d)
					continue;
				dsts[n] = d;
				offs[n] = r[k].doff;
				which[n++] = k;
			}
			if (!n)
				continue;
			rl_dedupe(src, r[i].soff, r[i].len, dsts, offs, (unsigned int)n, res);
			for (k = 0; k < n; k++)
				tally(s, src, dsts[k], &r[which[k]], &res[k]);
		}
	}
	if (s->progress)
		fprintf(stderr, "\r\033[K");
	fcache_flush(s, &c);
	free(c.f);
	free(c.bad);
}

void scan_plan_and_dedupe(struct scan *s)
{
	struct pair *p;
	struct range *r;
	size_t np, nr;

	p = find_pairs(s, &np);
	r = coalesce(s, p, np, &nr);
	free(p);
	s->ranges = nr;
	if (s->dedupe && nr)
		dedupe_ranges(s, r, nr);
	free(r);
}

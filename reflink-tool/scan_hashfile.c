// SPDX-License-Identifier: MIT
/*
 * The scan hashfile: block hashes kept between runs, keyed by
 * (dev, inode, size, mtime), so files that did not change are not read
 * again. A versioned text file (documented in pmcfs-reflink(8)):
 *
 *   pmcfs-reflink-hashfile 1
 *   block-size 131072
 *   f DEV INO SIZE MTIME_SEC MTIME_NSEC NBLOCKS HASH...
 *
 * one "f" line per file, hashes as 16 hex digits. A stale hash costs
 * nothing worse than a "differs" from the kernel's byte compare.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "scan_priv.h"

#define HASHFILE_MAGIC "pmcfs-reflink-hashfile"
#define HASHFILE_VERSION 1

struct hf_entry {
	uint64_t dev, ino, size, msec, mnsec;
	uint32_t nblocks;
	uint64_t *hash;
};

struct hashfile {
	struct hf_entry *e;
	size_t n;
};

static int cmp_entry(const void *a, const void *b)
{
	const struct hf_entry *x = a, *y = b;

	if (x->dev != y->dev)
		return x->dev < y->dev ? -1 : 1;
	return x->ino < y->ino ? -1 : x->ino > y->ino;
}

static bool parse_entry(char *line, struct hf_entry *e, uint64_t block_size)
{
	uint64_t v[6];
	char *p = line + 1, *end;
	uint32_t i;

	for (i = 0; i < 6; i++) {
		errno = 0;
		v[i] = strtoull(p, &end, 10);
		if (errno || end == p || *end != ' ')
			return false;
		p = end;
	}
	*e = (struct hf_entry){ v[0], v[1], v[2], v[3], v[4], (uint32_t)v[5], NULL };
	if (v[5] != (v[2] + block_size - 1) / block_size)
		return false;
	e->hash = xcalloc(e->nblocks, sizeof(*e->hash));
	for (i = 0; i < e->nblocks; i++) {
		errno = 0;
		e->hash[i] = strtoull(p, &end, 16);
		if (errno || end - p != 17 || p[0] != ' ') {
			free(e->hash);
			return false;
		}
		p = end;
	}
	return *p == '\n' || *p == 0;
}

struct hashfile *hashfile_load(const char *path, uint64_t block_size)
{
	struct hashfile *h = xcalloc(1, sizeof(*h));
	char *line = NULL;
	size_t cap = 0, alloc = 0, lineno = 0;
	unsigned long long bs = 0;
	int version = 0;
	FILE *f;

	f = fopen(path, "re");
	if (!f) {
		if (errno != ENOENT)	/* a first run has none yet */
			warning("hashfile %s: %s, hashing everything", path, strerror(errno));
		return h;
	}
	while (getline(&line, &cap, f) > 0) {
		lineno++;
		if (lineno == 1) {
			if (sscanf(line, HASHFILE_MAGIC " %d", &version) != 1 ||
			    version != HASHFILE_VERSION)
				goto bad;
		} else if (lineno == 2) {
			if (sscanf(line, "block-size %llu", &bs) != 1)
				goto bad;
			if (bs != block_size) {
				warning("hashfile %s: block size %llu, not %llu: hashing everything",
					path, bs, (unsigned long long)block_size);
				goto drop;
			}
		} else if (line[0] == 'f' && line[1] == ' ') {
			if (h->n == alloc) {
				alloc = alloc ? 2 * alloc : 256;
				h->e = xreallocarray(h->e, alloc, sizeof(*h->e));
			}
			if (!parse_entry(line, &h->e[h->n], block_size))
				goto bad;
			h->n++;
		} else {
			goto bad;
		}
	}
	free(line);
	fclose(f);
	if (h->n > 1)
		qsort(h->e, h->n, sizeof(*h->e), cmp_entry);
	return h;
bad:
	warning("hashfile %s: line %zu: not a version %d hashfile, hashing everything",
		path, lineno, HASHFILE_VERSION);
drop:
	free(line);
	fclose(f);
	hashfile_free(h);
	return xcalloc(1, sizeof(struct hashfile));
}

bool hashfile_lookup(const struct hashfile *h, struct scan_file *f)
{
	struct hf_entry key = { .dev = f->dev, .ino = f->ino }, *e;

	if (!h->n)
		return false;
	e = bsearch(&key, h->e, h->n, sizeof(*h->e), cmp_entry);
	if (!e || e->size != f->size || e->msec != (uint64_t)f->mtime.tv_sec ||
	    e->mnsec != (uint64_t)f->mtime.tv_nsec || e->nblocks != f->nblocks)
		return false;
	memcpy(f->hash, e->hash, f->nblocks * sizeof(*f->hash));
	return true;
}

void hashfile_free(struct hashfile *h)
{
	size_t i;

	if (!h)
		return;
	for (i = 0; i < h->n; i++)
		free(h->e[i].hash);
	free(h->e);
	free(h);
}

/* Written beside the target and renamed over it: never half a file. */
int hashfile_save(const char *path, const struct scan *s)
{
	char *tmp = xasprintf("%s.tmp.%d", path, (int)getpid());
	FILE *f = fopen(tmp, "we");
	size_t i;
	uint32_t b;

	if (!f) {
		error("hashfile %s: create: %s", tmp, strerror(errno));
		free(tmp);
		return -1;
	}
	fprintf(f, HASHFILE_MAGIC " %d\nblock-size %llu\n", HASHFILE_VERSION,
		(unsigned long long)s->block_size);
	for (i = 0; i < s->nfiles; i++) {
		const struct scan_file *sf = &s->files[i];

		if (sf->failed || !sf->hash)
			continue;
		fprintf(f, "f %llu %llu %llu %lld %ld %u", (unsigned long long)sf->dev,
			(unsigned long long)sf->ino, (unsigned long long)sf->size,
			(long long)sf->mtime.tv_sec, sf->mtime.tv_nsec, sf->nblocks);
		for (b = 0; b < sf->nblocks; b++)
			fprintf(f, " %016" PRIx64, sf->hash[b]);
		fputc('\n', f);
	}
	if (fflush(f) || ferror(f) || fsync(fileno(f)) < 0) {
		error("hashfile %s: write: %s", tmp, strerror(errno));
		fclose(f);
		unlink(tmp);
		free(tmp);
		return -1;
	}
	fclose(f);
	if (rename(tmp, path) < 0) {
		error("hashfile %s: rename: %s", path, strerror(errno));
		unlink(tmp);
		free(tmp);
		return -1;
	}
	free(tmp);
	return 0;
}

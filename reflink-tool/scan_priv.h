/* SPDX-License-Identifier: MIT */
/*
 * scan internals. A scan runs in four steps:
 *   1. walk the paths and list the regular files (cmd_scan.c)
 *   2. hash each file's aligned blocks with XXH3, or take the hashes from
 *      the hashfile, and map each block to its physical address with
 *      FIEMAP, in parallel (scan_hash.c, scan_hashfile.c)
 *   3. group equal blocks, drop the ones that already share the chosen
 *      source's physical block, and coalesce neighbours into long ranges
 *      (scan_plan.c)
 *   4. with -d, dedupe the ranges through the shared driver (scan_plan.c)
 */
#ifndef SCAN_PRIV_H
#define SCAN_PRIV_H

#include <stdatomic.h>
#include <time.h>

#include "reflink_priv.h"

/* Per-block physical address, or one of these. */
#define PHYS_HOLE	UINT64_MAX		/* nothing to save: not allocated */
#define PHYS_UNKNOWN	(UINT64_MAX - 1)	/* mixed or unknown: never skipped */

struct scan_file {
	char *path;
	dev_t dev;
	ino_t ino;
	uint64_t size;
	struct timespec mtime;
	uint32_t nblocks;	/* ceil(size / block size); the last may be short */
	uint64_t *hash;
	uint64_t *phys;
	bool cached;		/* hashes came from the hashfile */
	bool failed;		/* could not be read: left out */
};

struct scan {
	/* options */
	uint64_t block_size, min_size;
	unsigned int threads;
	bool dedupe, recursive, follow, progress, verbose;
	bool direct;			/* read with O_DIRECT where the filesystem allows */
	const char *hashfile;
	struct rl_json *js;

	struct scan_file *files;
	size_t nfiles, capfiles;

	/* results */
	uint64_t bytes_scanned;		/* sum of the file sizes */
	uint64_t skipped_small;
	atomic_uint_fast64_t bytes_read;	/* hashed this run */
	atomic_uint_fast64_t bytes_read_direct;	/* of which read with O_DIRECT */
	atomic_uint_fast64_t files_done;
	uint64_t files_cached;
	uint64_t dup_bytes;		/* duplicate and not yet shared */
	uint64_t shared_bytes;		/* duplicate and already shared */
	uint64_t ranges;		/* dedupe ranges after coalescing */
	uint64_t deduped;
	uint64_t differs, errors, changed;
	double hash_secs, dedupe_secs;	/* phases, for --json and tuning */
};

static inline uint64_t block_len(const struct scan *s, const struct scan_file *f, uint32_t i)
{
	uint64_t off = (uint64_t)i * s->block_size;

	return f->size - off < s->block_size ? f->size - off : s->block_size;
}

/* scan_hash.c: step 2 for every file; the hashfile must be loaded first. */
void scan_hash_all(struct scan *s);

/* scan_hashfile.c */
struct hashfile;
struct hashfile *hashfile_load(const char *path, uint64_t block_size);
/* Copy cached hashes into f if its key matches; true on a hit. */
bool hashfile_lookup(const struct hashfile *h, struct scan_file *f);
void hashfile_free(struct hashfile *h);
int hashfile_save(const char *path, const struct scan *s);

/* scan_plan.c: steps 3 and 4. */
void scan_plan_and_dedupe(struct scan *s);

#endif

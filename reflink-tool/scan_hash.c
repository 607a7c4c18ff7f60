// SPDX-License-Identifier: MIT
/*
 * scan step 2: hash every file's aligned blocks (XXH3, 64 bits: a match
 * is only a candidate, the kernel compares the bytes before sharing) and
 * record where each block lives (FIEMAP), on a pool of threads pulling
 * files from one counter.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/fiemap.h>
#include <xxhash.h>

#include "scan_priv.h"

struct pool {
	struct scan *s;
	const struct hashfile *hf;
	atomic_size_t next;
	atomic_int running;
};

/*
 * A block mapped in pieces that are not physically contiguous: an id
 * for the whole list of pieces, so two files whose blocks map the very
 * same pieces compare equal (already shared) and a second scan leaves
 * them alone. Top bit set: never a real byte address; a collision could
 * only make the scan skip a block, never share wrong data.
 */
static uint64_t split_phys(const struct rl_extent *e, size_t n, uint64_t start, uint64_t end)
{
	uint64_t v = 0;

	for (size_t k = 0; k < n && e[k].logical < end; k++) {
		uint64_t lo = e[k].logical > start ? e[k].logical : start;
		uint64_t piece[2] = { lo - start, e[k].physical + (lo - e[k].logical) };

		v = XXH3_64bits_withSeed(piece, sizeof(piece), v);
	}
	v |= 1ULL << 63;
	return v >= PHYS_UNKNOWN ? v - 2 : v;
}

/*
 * Physical address of [start, end) if it is one contiguous allocated
 * run, the id of its pieces if it is allocated in several (split_phys),
 * PHYS_HOLE if nothing there is allocated (holes and unwritten extents
 * read as zeros and free nothing), else PHYS_UNKNOWN.
 */
static uint64_t block_phys(const struct rl_extent *e, size_t n, size_t *cursor,
			   uint64_t start, uint64_t end)
{
	const uint32_t odd = FIEMAP_EXTENT_UNKNOWN | FIEMAP_EXTENT_DELALLOC |
		FIEMAP_EXTENT_ENCODED | FIEMAP_EXTENT_DATA_INLINE |
		FIEMAP_EXTENT_DATA_TAIL | FIEMAP_EXTENT_NOT_ALIGNED |
		FIEMAP_EXTENT_DATA_ENCRYPTED | FIEMAP_EXTENT_UNWRITTEN;
	size_t c = *cursor;
	uint64_t phys, pos;
	bool unwritten = true;

	while (c < n && e[c].logical + e[c].length <= start)
		c++;
	*cursor = c;
	if (c == n || e[c].logical >= end)
		return PHYS_HOLE;
	for (size_t k = c; k < n && e[k].logical < end; k++)
		unwritten &= !!(e[k].flags & FIEMAP_EXTENT_UNWRITTEN);
	if (e[c].logical > start)
		return unwritten ? PHYS_HOLE : PHYS_UNKNOWN;
	if (e[c].flags & odd)
		return unwritten && e[c].logical + e[c].length >= end ? PHYS_HOLE : PHYS_UNKNOWN;
	phys = e[c].physical + (start - e[c].logical);
	pos = e[c].logical + e[c].length;
	/* A block may span extents that happen to be physically adjacent. */
	for (size_t k = c + 1; pos < end; k++) {
		if (k == n || e[k].logical != pos || (e[k].flags & odd))
			return PHYS_UNKNOWN;
		if (e[k].physical != phys + (pos - start))
			return split_phys(e + c, k + 1 < n ? n - c : k - c + 1, start, end);
		pos += e[k].length;
	}
	return phys;
}

/*
 * Bytes per read: whole blocks, about READ_CHUNK. With O_DIRECT, 4, 8 and
 * 16 MiB were no faster on the bench and 16 MiB was slower; what keeps the
 * device busy is a second request in flight (so at least 2 threads by
 * default, cmd_scan.c).
 */
#define READ_CHUNK (2U << 20)
static uint64_t read_size(const struct scan *s)
{
	return s->block_size >= READ_CHUNK ? s->block_size :
	       READ_CHUNK / s->block_size * s->block_size;
}

static int hash_file(struct scan *s, const struct hashfile *hf, struct scan_file *f,
		     void *buf)
{
	struct rl_extent *ext = NULL;
	struct rl_file *rf = NULL;
	size_t next = 0, cursor = 0, got;
	char msg[256];
	uint32_t i;
	int err;

	err = rl_ops->open(f->path, RL_OPEN_READ | RL_OPEN_NOFOLLOW |
			   (s->direct ? RL_OPEN_DIRECT : 0), &rf);
	if (err)
		goto fail;
	/* Replaced or rewritten since the walk: leave it for the next run. */
	if (rf->st.st_ino != f->ino || (uint64_t)rf->st.st_size != f->size) {
		err = -EAGAIN;
		goto fail;
	}
	f->hash = xcalloc(f->nblocks, sizeof(*f->hash));
	f->phys = xcalloc(f->nblocks, sizeof(*f->phys));
	if (hf && hashfile_lookup(hf, f)) {
		f->cached = true;
	} else {
		/*
		 * Read several blocks per call (fewer, larger I/Os), hash each.
		 * O_DIRECT where the filesystem has it (rl_file.direct): on a
		 * cold cache it read the bench data in about half the time
		 * the page cache took (bench/README.md, dedupe). A direct read
		 * of the tail asks for it rounded up to RL_DIRECT_ALIGN, so it
		 * stays aligned, and comes back short at EOF; only the bytes
		 * up to EOF are hashed, whatever the rest of the buffer holds.
		 * No POSIX_FADV_SEQUENTIAL for the page cache: it made cold
		 * reads slower there (ibid.).
		 */
		for (i = 0; i < f->nblocks; ) {
			uint64_t off = (uint64_t)i * s->block_size;
			uint64_t len = f->size - off < read_size(s) ? f->size - off : read_size(s);
			uint64_t o, ask = len;

			if (rf->direct)
				ask = (len + RL_DIRECT_ALIGN - 1) / RL_DIRECT_ALIGN * RL_DIRECT_ALIGN;
			err = rl_ops->pread(rf, buf, ask, off, &got);
			if (!err && got < len)
				err = -EAGAIN;	/* shrank under us */
			if (err)
				goto fail;
			for (o = 0; o < len; o += s->block_size, i++)
				f->hash[i] = XXH3_64bits((char *)buf + o, block_len(s, f, i));
			atomic_fetch_add(&s->bytes_read, len);
			if (rf->direct)
				atomic_fetch_add(&s->bytes_read_direct, len);
		}
		if (s->verbose && rf->direct_err)
			fprintf(stderr, "%s: scan %s: O_DIRECT refused (%s), read through the page cache\n",
				PROG, f->path, strerror(-rf->direct_err));
	}
	err = rl_ops->fiemap(rf, 0, f->size, &ext, &next);
	if (err)
		goto fail;
	for (i = 0; i < f->nblocks; i++) {
		uint64_t st = (uint64_t)i * s->block_size;

		f->phys[i] = block_phys(ext, next, &cursor, st, st + block_len(s, f, i));
	}
	free(ext);
	rl_ops->close(rf);
	return 0;
fail:
	if (err == -EAGAIN)
		error("scan %s: changed during the scan, skipped", f->path);
	else
		error("scan %s: %s", f->path, rl_errmsg(err, NULL, msg, sizeof(msg)));
	free(ext);
	rl_ops->close(rf);
	f->failed = true;
	return err;
}

static void *worker(void *arg)
{
	struct pool *p = arg;
	struct scan *s = p->s;
	void *buf = NULL;
	size_t i;

	/* Aligned for O_DIRECT; read_size() is a multiple of 128 KiB, so
	 * a tail rounded up to RL_DIRECT_ALIGN still fits. */
	if (posix_memalign(&buf, RL_DIRECT_MEM_ALIGN, read_size(s)))
		die("out of memory: %llu bytes", (unsigned long long)read_size(s));

	while ((i = atomic_fetch_add(&p->next, 1)) < s->nfiles) {
		hash_file(s, p->hf, &s->files[i], buf);
		atomic_fetch_add(&s->files_done, 1);
	}
	free(buf);
	atomic_fetch_sub(&p->running, 1);
	return NULL;
}

static void show_progress(struct scan *s, bool last)
{
	char a[32], b[32];

	if (last) {
		fprintf(stderr, "\r\033[K");
		return;
	}
	fprintf(stderr, "\rscan: hashing %llu/%zu files, read %s of %s\033[K",
		(unsigned long long)atomic_load(&s->files_done), s->nfiles,
		human_size(atomic_load(&s->bytes_read), a, sizeof(a)),
		human_size(s->bytes_scanned, b, sizeof(b)));
	fflush(stderr);
}

void scan_hash_all(struct scan *s)
{
	struct hashfile *hf = s->hashfile ? hashfile_load(s->hashfile, s->block_size) : NULL;
	unsigned int n = s->threads ? s->threads : 1, i, started = 0;
	pthread_t *tids = xcalloc(n, sizeof(*tids));
	struct pool p = { .s = s, .hf = hf };
	size_t k;

	if (n > s->nfiles)
		n = s->nfiles ? s->nfiles : 1;
	atomic_store(&p.running, (int)n);
	for (i = 0; i < n; i++) {
		if (pthread_create(&tids[i], NULL, worker, &p)) {
			atomic_fetch_sub(&p.running, 1);
			continue;
		}
		started++;
	}
	if (!started)		/* no threads at all: do it here */
		worker((atomic_fetch_add(&p.running, 1), &p));
	while (s->progress && atomic_load(&p.running) > 0) {
		show_progress(s, false);
		usleep(200 * 1000);
	}
	for (i = 0; i < n; i++)
		if (tids[i])
			pthread_join(tids[i], NULL);
	if (s->progress)
		show_progress(s, true);
	for (k = 0; k < s->nfiles; k++) {
		if (s->files[k].cached)
			s->files_cached++;
		if (s->files[k].failed)
			s->errors++;
	}
	free(tids);
	hashfile_free(hf);
}

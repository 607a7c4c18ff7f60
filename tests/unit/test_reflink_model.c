/*
 * Randomised reflink / dedupe / snapshot test against a byte model.
 *
 * Files are byte arrays in the model; operations are write, clone-range,
 * dedupe-range (equal and unequal), overwrite of shared ranges, punch,
 * truncate, snapshot create and delete. After every commit each file of
 * the live subvolume and of every snapshot must equal its model, and the
 * audit must find every block's refcount equal to its references.
 *
 * Usage: test_reflink_model [OPS [SEED]]
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "fsaudit.h"
#include "pmcfs_ns.h"
#include "tcheck.h"

#define NFILES		8
#define MAXSIZE		(96 * 4096)
#define MAXSNAPS	4
#define BS		4096

struct mfile {
	uint64_t ino;
	size_t size;
	uint8_t data[MAXSIZE];
};

struct mstate {
	struct mfile f[NFILES];
};

static struct mstate live, committed;
static struct {
	uint64_t id;
	struct mstate *m;
} snaps[MAXSNAPS];
static int nsnaps;
static uint64_t rs;
static long counts[16];

static uint64_t rnd(void)
{
	rs ^= rs << 13;
	rs ^= rs >> 7;
	rs ^= rs << 17;
	return rs;
}

static void m_write(struct mfile *f, size_t off, const uint8_t *buf, size_t len)
{
	memcpy(f->data + off, buf, len);
	if (off + len > f->size)
		f->size = off + len;
}

static void op_write(struct pmcfs_trans *tx, struct pmcfs_tree *t, struct mfile *f)
{
	static uint8_t buf[MAXSIZE];
	/* One rnd() per statement: a seed must replay the same in every build. */
	size_t off = rnd() % (MAXSIZE - 1), span = rnd() % 4 ? 9000 : MAXSIZE - off;
	size_t len = 1 + rnd() % span;
	uint8_t seed = (uint8_t)rnd();

	if (off + len > MAXSIZE)
		len = MAXSIZE - off;
	for (size_t i = 0; i < len; i++)
		buf[i] = (uint8_t)(seed + i * 13);
	CHECK_OK(pmcfs_ns_write(tx, t, f->ino, off, buf, len));
	m_write(f, off, buf, len);
	counts[0]++;
}

/* Clone or dedupe with parameters that are sometimes invalid; the model predicts the result. */
static void op_remap(struct pmcfs_trans *tx, struct pmcfs_tree *t, struct mfile *s, struct mfile *d,
		     bool dedupe)
{
	size_t soff = (rnd() % (s->size / BS + 1)) * BS, doff, len;
	int expect = 0, err;

	if (dedupe && rnd() % 2 && d->size >= BS) {
		/* Make an equal range first so that dedupe has work to do. */
		doff = (rnd() % (d->size / BS + 1)) * BS;
		len = soff < s->size ? ((rnd() % ((s->size - soff) / BS + 1)) * BS) : 0;
	} else {
		doff = (rnd() % (MAXSIZE / BS)) * BS;
		len = soff < s->size ? (rnd() % 3 ? (1 + rnd() % ((s->size - soff + BS - 1) / BS)) * BS : 0) : 0;
	}
	if (len == 0 || soff + len > s->size)
		len = s->size - soff;		/* to the end of the source */
	if (doff + len > MAXSIZE) {
		len = (MAXSIZE - doff) / BS * BS;
		if (!len)
			return;
	}
	if (soff > s->size || (len % BS && (soff + len != s->size || doff + len < d->size)) ||
	    (s == d && soff < doff + len && doff < soff + len && len))
		expect = -EINVAL;
	if (!expect && dedupe && doff + len > d->size)
		expect = -EINVAL;
	if (!expect && dedupe && memcmp(s->data + soff, d->data + doff, len))
		expect = -PMCFS_EDIFFERS;
	if (dedupe)
		err = pmcfs_ns_dedupe_range(tx, t, s->ino, soff, t, d->ino, doff, len);
	else
		err = pmcfs_ns_clone_range(tx, t, s->ino, soff, t, d->ino, doff, len);
	if (err != expect)
		fprintf(stderr, "%s %lu+%zu -> %lu+%zu (sizes %zu %zu): got %d want %d\n",
			dedupe ? "dedupe" : "clone", s->ino, soff, d->ino, doff, s->size, d->size, err, expect);
	CHECK(err == expect);
	if (err || !len)
		return;
	memmove(d->data + doff, s->data + soff, len);
	if (doff + len > d->size)
		d->size = doff + len;
	counts[dedupe ? 2 : 1]++;
}

static void op_punch(struct pmcfs_trans *tx, struct pmcfs_tree *t, struct mfile *f)
{
	size_t off = rnd() % MAXSIZE, len = rnd() % (3 * BS), end;

	CHECK_OK(pmcfs_ns_punch(tx, t, f->ino, off, len));
	end = off + len < f->size ? off + len : f->size;
	if (off < end)
		memset(f->data + off, 0, end - off);
	counts[3]++;
}

static void op_truncate(struct pmcfs_trans *tx, struct pmcfs_tree *t, struct mfile *f)
{
	size_t size = rnd() % MAXSIZE;

	CHECK_OK(pmcfs_ns_truncate(tx, t, f->ino, size));
	if (size < f->size)
		memset(f->data + size, 0, f->size - size);
	f->size = size;
	counts[4]++;
}

static void compare(struct pmcfs_fs *fs, uint64_t subvol, const struct mstate *m)
{
	static uint8_t buf[MAXSIZE];
	struct pmcfs_tree *t;

	CHECK_OK(pmcfs_subvol_open(fs, subvol, &t));
	for (int i = 0; i < NFILES; i++) {
		struct pmcfs_stat st;
		size_t got;
		CHECK_OK(pmcfs_ns_stat(fs, t, m->f[i].ino, &st));
		CHECK(st.size == m->f[i].size);
		CHECK_OK(pmcfs_ns_read(fs, t, m->f[i].ino, 0, buf, MAXSIZE, &got));
		CHECK(got == m->f[i].size);
		if (got == m->f[i].size && memcmp(buf, m->f[i].data, got)) {
			size_t j = 0;
			while (buf[j] == m->f[i].data[j])
				j++;
			fprintf(stderr, "subvol %lu file %d differs at byte %zu\n", subvol, i, j);
			CHECK(!"file content equals the model");
		}
	}
}

static void audit(struct pmcfs_fs *fs)
{
	struct fsaudit a;

	if (fsaudit_run(fs, &a))
		fprintf(stderr, "audit: %d errors, first: %s\n", a.errors, a.first_error);
	CHECK(a.errors == 0);
	fsaudit_free(&a);
}

int main(int argc, char **argv)
{
	long ops = argc > 1 ? atol(argv[1]) : 10000, done = 0, commits = 0;
	struct pmcfs_mkfs_params p = { .mkfs_time = 1 };
	struct pmcfs_dev *dev;
	struct pmcfs_fs *fs;
	struct pmcfs_trans *tx;
	struct pmcfs_tree *t;

	rs = argc > 2 ? strtoull(argv[2], NULL, 0) : 0x2545f4914f6cdd1dULL;
	memset(p.uuid, 0x33, 16);
	CHECK_OK(pmcfs_dev_mem_open(512ULL << 20, &dev));
	CHECK_OK(pmcfs_mkfs(dev, &p, NULL));
	CHECK_OK(pmcfs_fs_open(dev, 0, &fs));
	CHECK_OK(pmcfs_trans_begin(fs, &tx));
	CHECK_OK(pmcfs_subvol_open(fs, PMCFS_FIRST_SUBVOL, &t));
	for (int i = 0; i < NFILES; i++) {
		struct pmcfs_create_args a = { S_IFREG | 0644, 0, 0, 0, 0 };
		char name[16];
		snprintf(name, sizeof(name), "f%d", i);
		CHECK_OK(pmcfs_ns_create(tx, t, PMCFS_ROOT_INO, name, strlen(name), &a, &live.f[i].ino));
	}
	CHECK_OK(pmcfs_trans_commit(tx));
	committed = live;

	while (done < ops && !tcheck_failures) {
		long n = 1 + rnd() % 30;
		bool abortable = rnd() % 8 == 0;

		CHECK_OK(pmcfs_trans_begin(fs, &tx));
		CHECK_OK(pmcfs_subvol_open(fs, PMCFS_FIRST_SUBVOL, &t));
		for (long i = 0; i < n && done < ops; i++, done++) {
			struct mfile *a = &live.f[rnd() % NFILES], *b = &live.f[rnd() % NFILES];
			unsigned r = rnd() % 100;
			if (r < 30)
				op_write(tx, t, a);
			else if (r < 55)
				op_remap(tx, t, a, b, false);
			else if (r < 75)
				op_remap(tx, t, a, b, true);
			else if (r < 85)
				op_punch(tx, t, a);
			else if (r < 93)
				op_truncate(tx, t, a);
			else if (r < 97 && !abortable && nsnaps < MAXSNAPS) {
				char name[32];
				snprintf(name, sizeof(name), "s%ld", done);
				CHECK_OK(pmcfs_subvol_snapshot(tx, PMCFS_FIRST_SUBVOL, name,
							       rnd() % 2 ? PMCFS_SNAP_RDONLY : 0,
							       &snaps[nsnaps].id));
				snaps[nsnaps].m = malloc(sizeof(struct mstate));
				*snaps[nsnaps].m = live;
				nsnaps++;
				counts[5]++;
			} else if (!abortable && nsnaps) {
				int s = rnd() % nsnaps;
				CHECK_OK(pmcfs_subvol_delete(tx, snaps[s].id));
				free(snaps[s].m);
				snaps[s] = snaps[--nsnaps];
				counts[6]++;
			}
		}
		if (abortable) {
			pmcfs_trans_abort(tx);
			live = committed;
		} else {
			CHECK_OK(pmcfs_trans_commit(tx));
			committed = live;
			commits++;
		}
		audit(fs);
		compare(fs, PMCFS_FIRST_SUBVOL, &live);
		for (int s = 0; s < nsnaps; s++)
			compare(fs, snaps[s].id, snaps[s].m);
	}
	printf("test_reflink_model: %ld ops (%ld writes, %ld clones, %ld dedupes, %ld punches, "
	       "%ld truncates, %ld snapshots, %ld snapshot deletes), %ld commits, %lu free blocks\n",
	       done, counts[0], counts[1], counts[2], counts[3], counts[4], counts[5], counts[6],
	       commits, pmcfs_fs_free_blocks(fs));
	for (int s = 0; s < nsnaps; s++)
		free(snaps[s].m);
	pmcfs_fs_close(fs);
	pmcfs_dev_close(dev);
	return tcheck_done("test_reflink_model");
}

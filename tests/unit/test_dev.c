// SPDX-License-Identifier: MIT
/*
 * Device layer: image file, in-memory and recording backends, the
 * bounds and read-only checks of the front end, pmcfs_dev_open()'s
 * dispatch, O_EXCL on a loop device (root only), and a real fsdax block
 * device and devdax when PMEMVM_FSDAX / PMEMVM_DEVDAX name them
 * (tests/vm/pmemvm -m fsdax,devdax sets both).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include "pmcfs.h"

static int checks, failures;

#define CHECK(expr) do {						\
	checks++;							\
	if (!(expr)) {							\
		failures++;						\
		fprintf(stderr, "%s:%d: check failed: %s\n",		\
			__FILE__, __LINE__, #expr);			\
	}								\
} while (0)

#define MiB (1024ULL * 1024)

static char tmpdir[256];

static void fill(uint8_t *buf, size_t len, unsigned seed)
{
	for (size_t i = 0; i < len; i++)
		buf[i] = (uint8_t)(seed * 131 + i * 7 + (i >> 8));
}

/* A sparse file of size bytes in tmpdir; returns its path in a static buffer. */
static const char *make_image(const char *name, uint64_t size)
{
	static char path[512];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	CHECK(fd >= 0);
	CHECK(ftruncate(fd, (off_t)size) == 0);
	close(fd);
	return path;
}

/* Reads, writes and bounds common to every writable backend. */
static void exercise_rw(struct pmcfs_dev *dev)
{
	uint8_t a[10000], b[10000];
	uint64_t size = dev->size;

	fill(a, sizeof(a), 1);
	CHECK(pmcfs_dev_write(dev, a, sizeof(a), 12345) == 0);
	CHECK(pmcfs_dev_write(dev, a, 4096, size - 4096) == 0);
	CHECK(pmcfs_dev_flush(dev) == 0);
	memset(b, 0, sizeof(b));
	CHECK(pmcfs_dev_read(dev, b, sizeof(b), 12345) == 0);
	CHECK(memcmp(a, b, sizeof(a)) == 0);
	CHECK(pmcfs_dev_read(dev, b, 4096, size - 4096) == 0);
	CHECK(memcmp(a, b, 4096) == 0);
	/* Never written: zeros. */
	CHECK(pmcfs_dev_read(dev, b, 100, 0) == 0);
	CHECK(b[0] == 0 && b[99] == 0);

	/* Bounds: the end is reachable, one byte more is not, no wrap-around. */
	CHECK(pmcfs_dev_read(dev, b, 0, size) == 0);
	CHECK(pmcfs_dev_read(dev, b, 1, size) == -EINVAL);
	CHECK(pmcfs_dev_read(dev, b, 0, size + 1) == -EINVAL);
	CHECK(pmcfs_dev_read(dev, b, 4097, size - 4096) == -EINVAL);
	CHECK(pmcfs_dev_read(dev, b, 2, UINT64_MAX) == -EINVAL);
	CHECK(pmcfs_dev_read(dev, b, SIZE_MAX, 16) == -EINVAL);
	CHECK(pmcfs_dev_write(dev, a, 1, size) == -EINVAL);
	CHECK(pmcfs_dev_write(dev, a, 2, UINT64_MAX - 1) == -EINVAL);
	CHECK(pmcfs_dev_write(dev, a, SIZE_MAX, 16) == -EINVAL);
	CHECK(dev->size == size);
}

static void test_image(void)
{
	const char *path = make_image("img", 4 * MiB);
	struct pmcfs_dev *dev;
	uint8_t a[4096], b[4096];
	struct stat st;
	int fd;

	CHECK(pmcfs_dev_open(path, 0, &dev) == 0);
	if (!dev)
		return;
	CHECK(dev->kind == PMCFS_DEV_IMAGE);
	CHECK(dev->size == 4 * MiB);
	CHECK(dev->flags == 0);
	exercise_rw(dev);
	pmcfs_dev_close(dev);
	CHECK(stat(path, &st) == 0 && st.st_size == (off_t)(4 * MiB));

	/* What the backend wrote is in the file. */
	fill(a, sizeof(a), 1);
	fd = open(path, O_RDONLY);
	CHECK(fd >= 0);
	CHECK(pread(fd, b, sizeof(b), 12345) == (ssize_t)sizeof(b));
	CHECK(memcmp(a, b, sizeof(a)) == 0);
	close(fd);

	/* Read-only: reads work, writes are refused and change nothing. */
	CHECK(pmcfs_dev_open(path, PMCFS_DEV_RDONLY, &dev) == 0);
	if (!dev)
		return;
	CHECK(dev->flags == PMCFS_DEV_RDONLY);
	CHECK(pmcfs_dev_read(dev, b, sizeof(b), 12345) == 0);
	CHECK(memcmp(a, b, sizeof(a)) == 0);
	memset(b, 0xee, sizeof(b));
	CHECK(pmcfs_dev_write(dev, b, sizeof(b), 12345) == -EROFS);
	CHECK(pmcfs_dev_write(dev, b, 0, 0) == -EROFS);
	CHECK(pmcfs_dev_read(dev, b, sizeof(b), 12345) == 0);
	CHECK(memcmp(a, b, sizeof(a)) == 0);
	CHECK(pmcfs_dev_flush(dev) == 0);
	pmcfs_dev_close(dev);

	/* EXCL means nothing for a regular file; it still opens. */
	CHECK(pmcfs_dev_open(path, PMCFS_DEV_EXCL, &dev) == 0);
	CHECK(dev && dev->kind == PMCFS_DEV_IMAGE);
	pmcfs_dev_close(dev);
}

static void test_open_errors(void)
{
	struct pmcfs_dev *dev = (struct pmcfs_dev *)&dev;
	char path[512];

	snprintf(path, sizeof(path), "%s/missing", tmpdir);
	CHECK(pmcfs_dev_open(path, 0, &dev) == -ENOENT);
	CHECK(dev == NULL);
	CHECK(pmcfs_dev_open(tmpdir, 0, &dev) == -EINVAL);	/* directory */
	CHECK(pmcfs_dev_open("/dev/null", 0, &dev) == -ENODEV);	/* not devdax */
	CHECK(pmcfs_dev_open(make_image("f", 8192), 1U << 7, &dev) == -EINVAL);
	CHECK(pmcfs_dev_open(NULL, 0, &dev) == -EINVAL);
	CHECK(pmcfs_dev_open(path, 0, NULL) == -EINVAL);
	pmcfs_dev_close(NULL);
}

static void test_mem(void)
{
	struct pmcfs_dev *dev = NULL;
	uint8_t b[16];

	/* A terabyte: MAP_NORESERVE makes it free until touched. */
	CHECK(pmcfs_dev_mem_open(1ULL << 40, &dev) == 0);
	if (dev) {
		CHECK(dev->kind == PMCFS_DEV_MEM);
		CHECK(dev->size == 1ULL << 40);
		exercise_rw(dev);
		pmcfs_dev_close(dev);
	}
	CHECK(pmcfs_dev_mem_open(0, &dev) == 0);
	if (dev) {
		CHECK(pmcfs_dev_read(dev, b, 0, 0) == 0);
		CHECK(pmcfs_dev_read(dev, b, 1, 0) == -EINVAL);
		CHECK(pmcfs_dev_write(dev, b, 1, 0) == -EINVAL);
		pmcfs_dev_close(dev);
	}
}

/* Vetoes writes that touch [lo, hi), and counts every call. */
struct guard {
	uint64_t lo, hi;
	int calls;
};

static int guard_fn(void *ctx, uint64_t off, uint64_t len)
{
	struct guard *g = ctx;

	g->calls++;
	return off < g->hi && off + len > g->lo ? -EPERM : 0;
}

static void test_record(void)
{
	static const uint32_t want_epoch[] = { 0, 0, 1, 3 };
	struct pmcfs_dev *mem, *dev = NULL;
	const struct pmcfs_rec_write *w;
	uint8_t a[4][5000], b[5000];
	struct guard g = { 65536, 65536 + 4096, 0 };
	size_t i;

	for (i = 0; i < 4; i++)
		fill(a[i], sizeof(a[i]), 10 + (unsigned)i);
	CHECK(pmcfs_dev_mem_open(1 * MiB, &mem) == 0);
	if (!mem)
		return;
	CHECK(pmcfs_dev_record_open(mem, &dev) == 0);
	if (!dev) {
		pmcfs_dev_close(mem);
		return;
	}
	CHECK(dev->kind == PMCFS_DEV_RECORD);
	CHECK(dev->size == 1 * MiB);
	CHECK(pmcfs_dev_record_epoch(dev) == 0);

	/* Epoch = flushes before the write. */
	CHECK(pmcfs_dev_write(dev, a[0], sizeof(a[0]), 0) == 0);
	CHECK(pmcfs_dev_write(dev, a[1], sizeof(a[1]), 100000) == 0);
	CHECK(pmcfs_dev_flush(dev) == 0);
	CHECK(pmcfs_dev_write(dev, a[2], 1234, 200000) == 0);
	CHECK(pmcfs_dev_flush(dev) == 0);
	CHECK(pmcfs_dev_flush(dev) == 0);
	CHECK(pmcfs_dev_write(dev, a[3], sizeof(a[3]), 7) == 0);
	CHECK(pmcfs_dev_record_epoch(dev) == 3);
	CHECK(pmcfs_dev_record_nwrites(dev) == 4);
	/* A refused write is not logged. */
	CHECK(pmcfs_dev_write(dev, a[0], 10, 1 * MiB) == -EINVAL);
	CHECK(pmcfs_dev_record_nwrites(dev) == 4);

	/* The log holds copies: scribbling on the caller's buffer is harmless. */
	memset(a[3], 0, 16);
	fill(a[3], sizeof(a[3]), 13);
	memset(a[0], 0xff, 100);
	fill(a[0], 100, 10);
	for (i = 0; i < 4; i++) {
		static const uint64_t offs[] = { 0, 100000, 200000, 7 };
		static const uint32_t lens[] = { 5000, 5000, 1234, 5000 };

		w = pmcfs_dev_record_get(dev, i);
		CHECK(w != NULL);
		if (!w)
			continue;
		CHECK(w->off == offs[i]);
		CHECK(w->len == lens[i]);
		CHECK(w->epoch == want_epoch[i]);
		CHECK(memcmp(w->data, a[i], w->len) == 0);
	}
	CHECK(pmcfs_dev_record_get(dev, 4) == NULL);

	/* Writes reached the inner device; reads go through. */
	CHECK(pmcfs_dev_read(dev, b, sizeof(b), 100000) == 0);
	CHECK(memcmp(b, a[1], sizeof(b)) == 0);
	CHECK(pmcfs_dev_read(mem, b, 1234, 200000) == 0);
	CHECK(memcmp(b, a[2], 1234) == 0);

	/* The guard vetoes exactly the writes it is asked to. */
	pmcfs_dev_record_set_guard(dev, guard_fn, &g);
	CHECK(pmcfs_dev_write(dev, a[1], 4096, 65536 + 2048) == -EPERM);
	CHECK(pmcfs_dev_write(dev, a[1], 1, 65536 - 1) == 0);
	CHECK(pmcfs_dev_write(dev, a[1], 1, 65536 + 4096) == 0);
	CHECK(g.calls == 3);
	CHECK(pmcfs_dev_record_nwrites(dev) == 6);
	CHECK(pmcfs_dev_read(mem, b, 4096, 65536) == 0);
	for (i = 0; i < 4096 && b[i] == 0; i++)
		;
	CHECK(i == 4096);	/* nothing of the vetoed write landed */
	pmcfs_dev_record_set_guard(dev, NULL, NULL);
	CHECK(pmcfs_dev_write(dev, a[1], 4096, 65536) == 0);
	CHECK(g.calls == 3);

	/* Clear starts a new log at epoch 0. */
	pmcfs_dev_record_clear(dev);
	CHECK(pmcfs_dev_record_nwrites(dev) == 0);
	CHECK(pmcfs_dev_record_epoch(dev) == 0);
	CHECK(pmcfs_dev_record_get(dev, 0) == NULL);
	CHECK(pmcfs_dev_write(dev, a[2], 10, 0) == 0);
	w = pmcfs_dev_record_get(dev, 0);
	CHECK(w && w->epoch == 0 && w->len == 10);

	/* Many writes: the log grows past its first allocation. */
	for (i = 0; i < 1000; i++)
		CHECK(pmcfs_dev_write(dev, &i, sizeof(i), i * sizeof(i)) == 0);
	CHECK(pmcfs_dev_record_nwrites(dev) == 1001);
	w = pmcfs_dev_record_get(dev, 1000);
	CHECK(w && w->off == 999 * sizeof(i) && w->len == sizeof(i));
	CHECK(w && memcmp(w->data, &(size_t){ 999 }, sizeof(i)) == 0);

	/* Not a recording device: an empty log, and no crash. */
	CHECK(pmcfs_dev_record_nwrites(mem) == 0);
	CHECK(pmcfs_dev_record_get(mem, 0) == NULL);
	CHECK(pmcfs_dev_record_epoch(mem) == 0);
	pmcfs_dev_record_clear(mem);
	pmcfs_dev_record_set_guard(mem, guard_fn, &g);
	{
		struct pmcfs_dev *none = (struct pmcfs_dev *)&none;

		CHECK(pmcfs_dev_record_open(NULL, &none) == -EINVAL && none == NULL);
	}

	pmcfs_dev_close(dev);	/* closes mem too (ASan would see a leak) */
}

static void test_record_rdonly(void)
{
	const char *path = make_image("ro", 1 * MiB);
	struct pmcfs_dev *inner, *dev = NULL;
	uint8_t b[512] = { 1 };

	CHECK(pmcfs_dev_open(path, PMCFS_DEV_RDONLY, &inner) == 0);
	if (!inner)
		return;
	CHECK(pmcfs_dev_record_open(inner, &dev) == 0);
	if (!dev) {
		pmcfs_dev_close(inner);
		return;
	}
	CHECK(dev->flags & PMCFS_DEV_RDONLY);
	CHECK(pmcfs_dev_write(dev, b, sizeof(b), 0) == -EROFS);
	CHECK(pmcfs_dev_record_nwrites(dev) == 0);
	CHECK(pmcfs_dev_read(dev, b, sizeof(b), 0) == 0 && b[0] == 0);
	pmcfs_dev_close(dev);
}

/* Run a shell command, returning its first output line (or "" on failure). */
static int run(const char *cmd, char *out, size_t outsize)
{
	FILE *f = popen(cmd, "r");
	int st;

	out[0] = '\0';
	if (!f)
		return -1;
	if (!fgets(out, (int)outsize, f))
		out[0] = '\0';
	out[strcspn(out, "\n")] = '\0';
	st = pclose(f);
	return st == 0 ? 0 : -1;
}

/* O_EXCL on a block device of at least 4 MiB whose contents may be lost. */
static void test_block_dev(const char *path)
{
	struct pmcfs_dev *dev = NULL, *dev2 = NULL;
	uint8_t a[4096], b[4096];

	CHECK(pmcfs_dev_open(path, PMCFS_DEV_EXCL, &dev) == 0);
	if (!dev)
		return;
	CHECK(dev->kind == PMCFS_DEV_BLOCK);
	CHECK(dev->size >= 4 * MiB);
	/* Busy while the first handle holds it. */
	CHECK(pmcfs_dev_open(path, PMCFS_DEV_EXCL, &dev2) == -EBUSY);
	CHECK(dev2 == NULL);
	CHECK(pmcfs_dev_open(path, PMCFS_DEV_EXCL | PMCFS_DEV_RDONLY, &dev2) == -EBUSY);
	/* Without EXCL nothing is claimed or refused. */
	CHECK(pmcfs_dev_open(path, PMCFS_DEV_RDONLY, &dev2) == 0);
	pmcfs_dev_close(dev2);

	exercise_rw(dev);
	fill(a, sizeof(a), 5);
	CHECK(pmcfs_dev_write(dev, a, sizeof(a), 3 * MiB + 512) == 0);
	CHECK(pmcfs_dev_flush(dev) == 0);
	pmcfs_dev_close(dev);

	/* Closed: free again, and the data is there. */
	CHECK(pmcfs_dev_open(path, PMCFS_DEV_EXCL | PMCFS_DEV_RDONLY, &dev) == 0);
	if (!dev)
		return;
	CHECK(pmcfs_dev_read(dev, b, sizeof(b), 3 * MiB + 512) == 0);
	CHECK(memcmp(a, b, sizeof(a)) == 0);
	pmcfs_dev_close(dev);
}

static void test_block_loop(void)
{
	const char *img = make_image("loop", 8 * MiB);
	char cmd[1024], loop[128], junk[128];
	uint8_t a[4096], b[4096];
	int fd;

	if (geteuid() != 0 || access("/dev/loop-control", F_OK) != 0) {
		printf("test_dev: loop: SKIP (needs root and loop devices)\n");
		return;
	}
	snprintf(cmd, sizeof(cmd), "losetup -f --show '%s' 2>/dev/null", img);
	CHECK(run(cmd, loop, sizeof(loop)) == 0 && loop[0] == '/');
	if (loop[0] != '/')
		return;
	test_block_dev(loop);
	snprintf(cmd, sizeof(cmd), "losetup -d '%s'", loop);
	CHECK(run(cmd, junk, sizeof(junk)) == 0);

	/* Flushed through the loop device into the backing file. */
	fill(a, sizeof(a), 5);
	fd = open(img, O_RDONLY);
	CHECK(fd >= 0);
	CHECK(pread(fd, b, sizeof(b), 3 * MiB + 512) == (ssize_t)sizeof(b));
	CHECK(memcmp(a, b, sizeof(a)) == 0);
	close(fd);
}

/* A real pmem block device, e.g. in tests/vm/pmemvm -m fsdax. */
static void test_block_pmem(void)
{
	const char *path = getenv("PMEMVM_FSDAX");

	if (!path || !*path) {
		printf("test_dev: fsdax: SKIP (no PMEMVM_FSDAX)\n");
		return;
	}
	test_block_dev(path);
	printf("test_dev: fsdax: %s ok\n", path);
}

/* Only where a devdax exists, e.g. in tests/vm/pmemvm -m devdax. */
static void test_devdax(void)
{
	const char *path = getenv("PMEMVM_DEVDAX");
	struct pmcfs_dev *dev = NULL;
	uint8_t a[4096], b[4096];

	if (!path || !*path) {
		printf("test_dev: devdax: SKIP (no PMEMVM_DEVDAX)\n");
		return;
	}
	CHECK(pmcfs_dev_open(path, 0, &dev) == 0);
	if (!dev)
		return;
	CHECK(dev->kind == PMCFS_DEV_DAX);
	CHECK(dev->size >= 2 * MiB);
	exercise_rw(dev);
	fill(a, sizeof(a), 9);
	CHECK(pmcfs_dev_write(dev, a, sizeof(a), 1 * MiB + 3) == 0);
	CHECK(pmcfs_dev_flush(dev) == 0);
	pmcfs_dev_close(dev);

	CHECK(pmcfs_dev_open(path, PMCFS_DEV_RDONLY, &dev) == 0);
	if (!dev)
		return;
	CHECK(pmcfs_dev_read(dev, b, sizeof(b), 1 * MiB + 3) == 0);
	CHECK(memcmp(a, b, sizeof(a)) == 0);
	CHECK(pmcfs_dev_write(dev, b, sizeof(b), 0) == -EROFS);
	pmcfs_dev_close(dev);
	printf("test_dev: devdax: %s ok\n", path);
}

int main(void)
{
	char cmd[512];
	const char *base = getenv("TMPDIR");

	snprintf(tmpdir, sizeof(tmpdir), "%s/test_dev.XXXXXX", base && *base ? base : "/tmp");
	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return 1;
	}
	test_image();
	test_open_errors();
	test_mem();
	test_record();
	test_record_rdonly();
	test_block_loop();
	test_block_pmem();
	test_devdax();

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	if (system(cmd) != 0)
		fprintf(stderr, "test_dev: could not remove %s\n", tmpdir);
	printf("test_dev: %d checks, %d failed\n", checks, failures);
	return failures ? 1 : 0;
}

// SPDX-License-Identifier: MIT
/*
 * The target device: what it is, whether it may be overwritten, its bad
 * blocks, and the device-side steps of writing (image creation, the
 * exclusive open, wiping stale signatures).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <uuid/uuid.h>
#include "mkfs.h"

#define WIPE_SPAN	(512u << 10)	/* head and tail zeroed before writing */

static uint64_t device_size(const struct mkfs_params *mp)
{
	struct pmcfs_dev *dev;
	uint64_t size;
	int rc;

	/* Exclusive already here, so -n also reports a busy device. */
	rc = pmcfs_dev_open(mp->device, PMCFS_DEV_RDONLY | PMCFS_DEV_EXCL, &dev);
	if (rc == -EBUSY)
		die(EXIT_OPER, "cannot open %s exclusively: device is busy (mounted, or held by another program)",
		    mp->device);
	if (rc)
		die(EXIT_OPER, "cannot open %s: %s", mp->device, pmcfs_strerror(rc));
	size = dev->size;
	pmcfs_dev_close(dev);
	return size;
}

/* Is there a pmcfs superblock (primary or replica) on the device already? */
static bool has_pmcfs(const struct mkfs_params *mp)
{
	struct pmcfs_super_scan scan;
	struct pmcfs_dev *dev;
	bool found;

	if (mp->dev_size < PMCFS_MIN_BLOCKS * (uint64_t)PMCFS_BLOCK_SIZE ||
	    pmcfs_dev_open(mp->device, PMCFS_DEV_RDONLY, &dev))
		return false;
	found = pmcfs_super_scan(dev, &scan) == 0 && (scan.sb_err == 0 || scan.replica_err == 0);
	pmcfs_dev_close(dev);
	return found;
}

/* The namespace behind a pmem or dax device, and whether we may use it. */
static void check_namespace(struct mkfs_params *mp)
{
	int rc = pmcfs_probe_namespace(mp->device, &mp->ns);

	if (rc == -ELIBACC || rc == -ELIBBAD) {
		const char *lib = pmcfs_probe_missing_lib(mp->device);
		die(EXIT_OPER, "cannot identify the namespace of %s: %s is %s", mp->device,
		    lib ? lib : "a pmem library", rc == -ELIBACC ? "not installed" : "too old");
	}
	if (rc)
		die(EXIT_OPER, "cannot identify the namespace of %s: %s", mp->device,
		    pmcfs_strerror(rc));
	if (!mp->ns.found)
		return;
	if (strcmp(mp->ns.mode, "fsdax") && strcmp(mp->ns.mode, "devdax")) {
		if (!mp->force)
			die(EXIT_OPER, "refusing to format %s: %s is a %s namespace; DAX impossible on a raw/sector namespace: the kernel cannot map its pages directly (use -f to format anyway)",
			    mp->device, mp->ns.name, mp->ns.mode);
		warnmsg("%s is a %s namespace; DAX impossible on a raw/sector namespace: the kernel cannot map its pages directly",
			mp->ns.name, mp->ns.mode);
	}
	if (mp->ns.align && mp->ns.align < PMCFS_HUGE_SIZE) {
		if (!mp->force)
			die(EXIT_OPER, "refusing to format %s: namespace alignment %llu is below 2 MiB, so files cannot use 2 MiB DAX pages (recreate it with ndctl create-namespace --align=2M, or use -f)",
			    mp->device, (unsigned long long)mp->ns.align);
		warnmsg("namespace alignment %llu is below 2 MiB: files cannot use 2 MiB DAX pages",
			(unsigned long long)mp->ns.align);
	}
}

/* libblkid's USAGE values as words for messages. */
const char *usage_text(const char *usage)
{
	if (!strcmp(usage, "filesystem") || !strcmp(usage, "partition table"))
		return usage;
	if (!strcmp(usage, "raid"))
		return "RAID member";
	if (!strcmp(usage, "crypto"))
		return "encrypted volume";
	return "signature";
}

/*
 * Everything that decides whether and how we may format, in the order a
 * user would want to hear about it: existence, mounts, holders, the
 * namespace, then foreign and pmcfs signatures.
 */
void probe_target(struct mkfs_params *mp)
{
	char where[4200], type[64];
	bool yes;
	struct stat st;
	int rc;

	if (stat(mp->device, &st) < 0) {
		if (errno != ENOENT)
			die(EXIT_OPER, "cannot open %s: %s", mp->device, strerror(errno));
		if (!mp->size_opt)
			die(EXIT_OPER, "cannot open %s: no such file (use -s SIZE to create an image file)",
			    mp->device);
		mp->kind = PMCFS_PROBE_IMAGE;
		mp->exists = false;
		mp->dev_size = mp->size_opt;
		return;
	}
	mp->exists = true;
	rc = pmcfs_probe_kind(mp->device, &mp->kind);
	if (rc)
		die(EXIT_OPER, "cannot open %s: %s", mp->device, pmcfs_strerror(rc));
	if (mp->kind == PMCFS_PROBE_OTHER)
		die(EXIT_OPER, "cannot format %s: not a regular file, block device or devdax device",
		    mp->device);

	rc = pmcfs_probe_mounted(mp->device, where, sizeof(where), &yes);
	if (rc)
		die(EXIT_OPER, "cannot check whether %s is mounted: %s", mp->device,
		    pmcfs_strerror(rc));
	if (yes)	/* -f never overrides this: the kernel owns the device */
		die(EXIT_OPER, "refusing to format %s: it is mounted on %s", mp->device, where);
	rc = pmcfs_probe_holder(mp->device, type, sizeof(type), &yes);
	if (rc == 0 && yes)
		die(EXIT_OPER, "refusing to format %s: it is in use by %s", mp->device, type);

	if (mp->kind != PMCFS_PROBE_IMAGE)
		check_namespace(mp);
	rc = pmcfs_probe_dax(mp->device, &mp->dax);
	if (rc)
		die(EXIT_OPER, "cannot query the DAX capability of %s: %s", mp->device,
		    pmcfs_strerror(rc));

	if (mp->kind == PMCFS_PROBE_IMAGE) {
		mp->dev_size = (uint64_t)st.st_size;
		if (mp->size_opt > mp->dev_size)
			mp->dev_size = mp->size_opt;	/* prepare_image extends it */
	} else
		mp->dev_size = device_size(mp);

	rc = pmcfs_probe_signatures(mp->device, &mp->sigs, &mp->nsigs);
	if (rc)
		die(EXIT_OPER, "cannot probe %s for existing signatures: %s", mp->device,
		    pmcfs_strerror(rc));
	if (mp->nsigs && !mp->force)
		die(EXIT_OPER, "refusing to overwrite %s: it holds an existing %s %s; use -f to overwrite it",
		    mp->device, mp->sigs[0].type, usage_text(mp->sigs[0].usage));
	mp->old_pmcfs = has_pmcfs(mp);
	if (mp->old_pmcfs && !mp->force)
		die(EXIT_OPER, "refusing to overwrite %s: it holds an existing pmcfs filesystem; use -f to overwrite it",
		    mp->device);
}

/* ---- bad blocks ----------------------------------------------------------- */

static uint64_t count_blocks(const struct pmcfs_badrange *v, size_t n)
{
	uint64_t sum = 0;

	while (n--)
		sum += v[n].len;
	return sum;
}

/*
 * The namespace's own list (sysfs) plus the -l file, in blocks. Entries
 * past the end of the filesystem are an error in a file the user gave,
 * and simply not ours when the device list has them (-s on a device).
 */
void load_badblocks(struct mkfs_params *mp, const char *file)
{
	uint64_t nblocks = mp->geo.nblocks;
	struct pmcfs_badrange *v = NULL;
	size_t n = 0, i, o;
	int rc;

	if (mp->exists && mp->kind != PMCFS_PROBE_IMAGE) {
		rc = pmcfs_probe_badblocks(mp->device, &v, &n);
		if (rc)
			die(EXIT_OPER, "cannot read the bad-block list of %s: %s", mp->device,
			    pmcfs_strerror(rc));
		for (i = o = 0; i < n; i++) {
			if (v[i].start >= nblocks)
				continue;
			if (v[i].len > nblocks - v[i].start)
				v[i].len = nblocks - v[i].start;
			v[o++] = v[i];
		}
		n = o;
		mp->bad_sysfs = count_blocks(v, n);
	}
	if (file) {
		char *text = xreadfile(file, 64u << 20);
		size_t first = n, m;
		unsigned line = 0;

		rc = pmcfs_badblocks_parse(text, &v, &n, &line);
		free(text);
		if (rc == -EINVAL)
			die(EXIT_OPER, "invalid bad-block list %s: line %u: expected \"SECTOR [COUNT]\" in 512-byte sectors",
			    file, line);
		if (rc)
			die(EXIT_OPER, "cannot read bad-block list %s: %s", file, pmcfs_strerror(rc));
		for (i = first; i < n; i++) {
			if (v[i].start + v[i].len > nblocks)
				die(EXIT_OPER, "invalid bad-block list %s: block %llu (sector %llu) is past the end of the filesystem (%llu blocks)",
				    file, (unsigned long long)v[i].start,
				    (unsigned long long)v[i].start * 8, (unsigned long long)nblocks);
		}
		m = n - first;
		pmcfs_badranges_normalize(v + first, &m);
		n = first + m;
		mp->bad_file = count_blocks(v + first, m);
	}
	pmcfs_badranges_normalize(v, &n);
	mp->bad = v;
	mp->nbad = n;
}

/* The superblock and the commit slots cannot move: a bad one is fatal. */
void check_badblocks(const struct mkfs_params *mp)
{
	static const char *const what[] = {
		"the superblock", "commit slot A", "commit slot B",
		"the superblock replica", "the commit slot A replica", "the commit slot B replica",
	};
	uint64_t fixed[6] = { PMCFS_SB_BLOCK, PMCFS_SLOT_A_BLOCK, PMCFS_SLOT_B_BLOCK };
	size_t i, j;

	for (j = 0; j < 3; j++)
		fixed[3 + j] = mp->geo.replica_blkno + j;
	for (i = 0; i < mp->nbad; i++)
		for (j = 0; j < 6; j++)
			if (fixed[j] >= mp->bad[i].start &&
			    fixed[j] - mp->bad[i].start < mp->bad[i].len)
				die(EXIT_OPER, "cannot format %s: block %llu, which holds %s, is bad",
				    mp->device, (unsigned long long)fixed[j], what[j]);
}

/* ---- writing ---------------------------------------------------------------- */

/* Create or extend the image to -s bytes: ftruncate, so it stays sparse. */
void prepare_image(const struct mkfs_params *mp)
{
	struct stat st;
	int fd;

	if (mp->kind != PMCFS_PROBE_IMAGE || !mp->size_opt)
		return;
	fd = open(mp->device, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0)
		die(EXIT_OPER, "cannot create %s: %s", mp->device, strerror(errno));
	if (fstat(fd, &st) < 0)
		die(EXIT_OPER, "cannot stat %s: %s", mp->device, strerror(errno));
	if ((uint64_t)st.st_size < mp->size_opt && ftruncate(fd, (off_t)mp->size_opt) < 0) {
		int e = errno;

		if (!mp->exists)
			unlink(mp->device);	/* leave nothing behind that we made */
		die(EXIT_OPER, "cannot extend %s to %llu bytes: %s", mp->device,
		    (unsigned long long)mp->size_opt, strerror(e));
	}
	close(fd);
}

struct pmcfs_dev *open_target(const struct mkfs_params *mp)
{
	struct pmcfs_dev *dev;
	int rc = pmcfs_dev_open(mp->device, PMCFS_DEV_EXCL, &dev);

	if (rc == -EBUSY)
		die(EXIT_OPER, "cannot open %s exclusively: device is busy (mounted, or held by another program)",
		    mp->device);
	if (rc)
		die(EXIT_OPER, "cannot open %s: %s", mp->device, pmcfs_strerror(rc));
	return dev;
}

/*
 * Zero [off, off+len) through the device layer (so devdax works too),
 * writing only 4 KiB pieces that are not zero already: a fresh sparse
 * image then stays sparse.
 */
static void zero_range(const struct mkfs_params *mp, struct pmcfs_dev *dev,
		       uint64_t off, uint64_t len)
{
	static const uint8_t zero[PMCFS_BLOCK_SIZE];
	static uint8_t buf[64 << 10];	/* read in large pieces: fewer syscalls */
	size_t i, piece;
	int rc;

	while (len) {
		size_t n = len < sizeof(buf) ? len : sizeof(buf);

		rc = pmcfs_dev_read(dev, buf, n, off);
		for (i = 0; rc == 0 && i < n; i += piece) {
			piece = n - i < sizeof(zero) ? n - i : sizeof(zero);
			if (memcmp(buf + i, zero, piece))
				rc = pmcfs_dev_write(dev, zero, piece, off + i);
		}
		if (rc)
			die(EXIT_OPER, "cannot wipe %s at offset %llu: %s", mp->device,
			    (unsigned long long)off, pmcfs_strerror(rc));
		off += n;
		len -= n;
	}
}

/*
 * Stale signatures outside what mkfs writes would make blkid, mount or
 * udev see the old filesystem: zero the head and tail of the device (as
 * mkfs.xfs does) and the magic of every signature libblkid listed.
 */
void wipe_signatures(const struct mkfs_params *mp, struct pmcfs_dev *dev)
{
	uint64_t size = dev->size, span = size < WIPE_SPAN ? size : WIPE_SPAN;
	size_t i;

	zero_range(mp, dev, 0, span);
	zero_range(mp, dev, size - span, span);
	for (i = 0; i < mp->nsigs; i++) {
		const struct pmcfs_signature *s = &mp->sigs[i];

		if (s->len && s->offset < size && s->len <= size - s->offset)
			zero_range(mp, dev, s->offset, s->len);
	}
}

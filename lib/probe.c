// SPDX-License-Identifier: MIT
/*
 * Device probing for mkfs and fsck (see pmcfs_probe.h): sysfs and
 * libblkid; the namespace lookups through libndctl and libdaxctl are in
 * probe_ndctl.c. Read-only throughout: nothing here opens a device for
 * writing or with O_EXCL.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <blkid/blkid.h>
#include "pmcfs_probe.h"
#include "probe_priv.h"

void pmcfs_probe_copy_str(char *dst, size_t sz, const char *src)
{
	if (sz)
		snprintf(dst, sz, "%s", src ? src : "");
}

int pmcfs_probe_kind(const char *path, enum pmcfs_probe_kind *ret_kind)
{
	struct stat st;

	if (stat(path, &st) < 0)
		return -errno;
	if (S_ISREG(st.st_mode))
		*ret_kind = PMCFS_PROBE_IMAGE;
	else if (S_ISBLK(st.st_mode))
		*ret_kind = PMCFS_PROBE_BLOCK;
	else if (S_ISCHR(st.st_mode) && strncmp(path, "/dev/dax", 8) == 0)
		*ret_kind = PMCFS_PROBE_DAX;
	else if (S_ISCHR(st.st_mode)) {
		/* A dax device under another name: sysfs knows its subsystem. */
		char link[PATH_MAX], sub[PATH_MAX];
		ssize_t n;

		snprintf(link, sizeof(link), "/sys/dev/char/%u:%u/subsystem",
			 major(st.st_rdev), minor(st.st_rdev));
		n = readlink(link, sub, sizeof(sub) - 1);
		sub[n > 0 ? n : 0] = '\0';
		*ret_kind = strstr(sub, "/dax") ? PMCFS_PROBE_DAX : PMCFS_PROBE_OTHER;
	} else
		*ret_kind = PMCFS_PROBE_OTHER;
	return 0;
}

/* The sysfs directory of a device node, and its kernel name (basename). */
int pmcfs_probe_sysfs_dir(const char *path, char *dir, size_t dirsz, const char **ret_name,
			  dev_t *ret_rdev)
{
	char link[64], *real;
	struct stat st;

	if (stat(path, &st) < 0)
		return -errno;
	if (!S_ISBLK(st.st_mode) && !S_ISCHR(st.st_mode))
		return -ENODEV;
	snprintf(link, sizeof(link), "/sys/dev/%s/%u:%u",
		 S_ISBLK(st.st_mode) ? "block" : "char",
		 major(st.st_rdev), minor(st.st_rdev));
	real = realpath(link, NULL);
	if (!real)
		return -errno;
	pmcfs_probe_copy_str(dir, dirsz, real);
	free(real);
	if (ret_name)
		*ret_name = strrchr(dir, '/') + 1;
	if (ret_rdev)
		*ret_rdev = st.st_rdev;
	return 0;
}

/* Read a small sysfs attribute; -errno if it is missing. */
int pmcfs_probe_sysfs_read(const char *dir, const char *attr, char *buf, size_t sz)
{
	char p[PATH_MAX];
	ssize_t n;
	int fd;

	snprintf(p, sizeof(p), "%s/%s", dir, attr);
	fd = open(p, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	/* Whole file: a badblocks list has one range per line. */
	size_t len = 0;
	while (len < sz - 1 && (n = read(fd, buf + len, sz - 1 - len)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int err = -errno;
			close(fd);
			return err;
		}
		len += n;
	}
	close(fd);
	while (len && buf[len - 1] == '\n')
		len--;
	buf[len] = '\0';
	return 0;
}

uint64_t pmcfs_probe_sysfs_u64(const char *dir, const char *attr)
{
	char buf[64];

	return pmcfs_probe_sysfs_read(dir, attr, buf, sizeof(buf)) ? 0 : strtoull(buf, NULL, 0);
}

/* ---- bad-block lists ---------------------------------------------------- */

static int range_push(struct pmcfs_badrange **v, size_t *n, uint64_t start, uint64_t len)
{
	struct pmcfs_badrange *nv;

	/* Grow at powers of two; realloc only when n hits one. */
	if ((*n & (*n - 1)) == 0) {
		size_t cap = *n ? *n * 2 : 8;

		if (cap > SIZE_MAX / sizeof(**v))
			return -ENOMEM;
		nv = realloc(*v, cap * sizeof(**v));
		if (!nv)
			return -ENOMEM;
		*v = nv;
	}
	(*v)[*n].start = start;
	(*v)[*n].len = len;
	(*n)++;
	return 0;
}

/* Sectors [s, s+len) to the 4 KiB blocks touching them (rounded outward). */
static int push_sectors(struct pmcfs_badrange **v, size_t *n, uint64_t s, uint64_t len)
{
	const unsigned per = PMCFS_BLOCK_SIZE >> SECTOR_SHIFT;
	uint64_t first, last;

	if (len == 0)
		return 0;
	if (s > UINT64_MAX - len)
		return -ERANGE;
	first = s / per;
	last = (s + len - 1) / per;
	return range_push(v, n, first, last - first + 1);
}

static int cmp_range(const void *a, const void *b)
{
	const struct pmcfs_badrange *x = a, *y = b;

	return x->start < y->start ? -1 : x->start > y->start;
}

void pmcfs_badranges_normalize(struct pmcfs_badrange *v, size_t *n)
{
	size_t i, o = 0;

	if (*n == 0)
		return;
	qsort(v, *n, sizeof(*v), cmp_range);
	for (i = 1; i < *n; i++) {
		uint64_t end = v[o].start + v[o].len;

		if (v[i].start <= end) {
			uint64_t iend = v[i].start + v[i].len;

			if (iend > end)
				v[o].len = iend - v[o].start;
		} else
			v[++o] = v[i];
	}
	*n = o + 1;
}

int pmcfs_probe_parse_sectors(const char *text, sector_fn fn, void *ctx, unsigned *ret_line)
{
	unsigned line = 0;
	const char *p = text;

	while (*p) {
		const char *eol = strchrnul(p, '\n');
		char buf[128], *s, *end;
		unsigned long long a, b = 1;
		int rc;

		line++;
		if (ret_line)
			*ret_line = line;
		if ((size_t)(eol - p) >= sizeof(buf))
			return -EINVAL;
		memcpy(buf, p, eol - p);
		buf[eol - p] = '\0';
		p = *eol ? eol + 1 : eol;
		buf[strcspn(buf, "#")] = '\0';
		s = buf + strspn(buf, " \t\r");
		if (!*s)
			continue;
		if (*s < '0' || *s > '9')
			return -EINVAL;
		errno = 0;
		a = strtoull(s, &end, 10);
		if (errno)
			return -EINVAL;
		s = end + strspn(end, " \t\r");
		if (*s) {
			if (*s < '0' || *s > '9')
				return -EINVAL;
			b = strtoull(s, &end, 10);
			if (errno || b == 0)
				return -EINVAL;
			s = end + strspn(end, " \t\r");
			if (*s)
				return -EINVAL;
		}
		rc = fn(ctx, a, b);
		if (rc)
			return rc;
	}
	return 0;
}

int pmcfs_probe_bb_add(void *ctx, uint64_t s, uint64_t len)
{
	struct pmcfs_bb_ctx *c = ctx;

	if (c->nsect) {
		uint64_t lo = c->base, hi = c->base + c->nsect;

		if (s >= hi || s + len <= lo)
			return 0;
		if (s < lo) {
			len -= lo - s;
			s = lo;
		}
		if (s + len > hi)
			len = hi - s;
		s -= lo;
	}
	return push_sectors(c->v, c->n, s, len);
}

int pmcfs_badblocks_parse(const char *text, struct pmcfs_badrange **v, size_t *n,
			  unsigned *ret_line)
{
	struct pmcfs_bb_ctx c = { .v = v, .n = n };

	return pmcfs_probe_parse_sectors(text, pmcfs_probe_bb_add, &c, ret_line);
}

/* ---- foreign signatures: libblkid --------------------------------------- */

/*
 * devdax has no read(2), so libblkid cannot probe it directly: copy its
 * head and tail (where every signature libblkid knows lives) into a
 * sparse memfd of the same size and probe that.
 */
#define DAX_PROBE_SPAN	(1u << 20)

static int dax_shadow(const char *path, int *ret_fd)
{
	struct pmcfs_dev *dev;
	uint64_t size, off[2];
	void *buf;
	int fd, rc, i;

	rc = pmcfs_dev_open(path, PMCFS_DEV_RDONLY, &dev);
	if (rc)
		return rc;
	size = dev->size;
	fd = memfd_create("pmcfs-probe", MFD_CLOEXEC);
	buf = malloc(DAX_PROBE_SPAN);
	if (fd < 0 || !buf || ftruncate(fd, size) < 0) {
		rc = -errno ? -errno : -ENOMEM;
		goto out;
	}
	off[0] = 0;
	off[1] = size > DAX_PROBE_SPAN ? size - DAX_PROBE_SPAN : 0;
	for (i = 0; i < 2; i++) {
		size_t len = size - off[i] < DAX_PROBE_SPAN ? size - off[i] : DAX_PROBE_SPAN;

		rc = pmcfs_dev_read(dev, buf, len, off[i]);
		if (rc)
			goto out;
		if (pwrite(fd, buf, len, off[i]) != (ssize_t)len) {
			rc = -EIO;
			goto out;
		}
	}
out:
	free(buf);
	pmcfs_dev_close(dev);
	if (rc && fd >= 0)
		close(fd);
	else
		*ret_fd = fd;
	return rc;
}

static void sig_value(blkid_probe pr, const char *name, char *dst, size_t sz)
{
	const char *v = NULL;

	if (blkid_probe_lookup_value(pr, name, &v, NULL) == 0)
		pmcfs_probe_copy_str(dst, sz, v);
}

int pmcfs_probe_signatures(const char *path, struct pmcfs_signature **ret, size_t *ret_n)
{
	enum pmcfs_probe_kind kind;
	struct pmcfs_signature *v = NULL, *nv;
	blkid_probe pr;
	size_t n = 0;
	int rc, fd = -1;

	*ret = NULL;
	*ret_n = 0;
	rc = pmcfs_probe_kind(path, &kind);
	if (rc)
		return rc;
	if (kind == PMCFS_PROBE_DAX) {
		rc = dax_shadow(path, &fd);
		if (rc)
			return rc;
		pr = blkid_new_probe();
		if (pr && blkid_probe_set_device(pr, fd, 0, 0) < 0) {
			blkid_free_probe(pr);
			pr = NULL;
		}
	} else
		pr = blkid_new_probe_from_filename(path);	/* O_RDONLY, no O_EXCL */
	if (!pr) {
		rc = errno ? -errno : -EIO;
		goto out;
	}
	blkid_probe_enable_superblocks(pr, 1);
	blkid_probe_set_superblocks_flags(pr, BLKID_SUBLKS_TYPE | BLKID_SUBLKS_USAGE |
					  BLKID_SUBLKS_MAGIC);
	blkid_probe_enable_partitions(pr, 1);
	blkid_probe_set_partitions_flags(pr, BLKID_PARTS_MAGIC);
	/* As wipefs(8) lists them: each do_probe moves to the next signature. */
	while (blkid_do_probe(pr) == 0) {
		struct pmcfs_signature s = { 0 };
		char off[32] = "", *end;
		const char *magic;
		size_t mlen = 0;

		if (blkid_probe_lookup_value(pr, "TYPE", NULL, NULL) == 0) {
			sig_value(pr, "TYPE", s.type, sizeof(s.type));
			sig_value(pr, "USAGE", s.usage, sizeof(s.usage));
			sig_value(pr, "SBMAGIC_OFFSET", off, sizeof(off));
			if (blkid_probe_lookup_value(pr, "SBMAGIC", &magic, &mlen))
				mlen = 0;
		} else if (blkid_probe_lookup_value(pr, "PTTYPE", NULL, NULL) == 0) {
			sig_value(pr, "PTTYPE", s.type, sizeof(s.type));
			pmcfs_probe_copy_str(s.usage, sizeof(s.usage), "partition table");
			sig_value(pr, "PTMAGIC_OFFSET", off, sizeof(off));
			if (blkid_probe_lookup_value(pr, "PTMAGIC", &magic, &mlen))
				mlen = 0;
		} else
			continue;
		s.offset = strtoull(off, &end, 10);
		s.len = mlen;
		if (n % 8 == 0) {
			nv = realloc(v, (n + 8) * sizeof(*v));
			if (!nv) {
				rc = -ENOMEM;
				break;
			}
			v = nv;
		}
		v[n++] = s;
	}
	blkid_free_probe(pr);
	if (rc == 0) {
		*ret = v;
		*ret_n = n;
		v = NULL;
	}
out:
	free(v);
	if (fd >= 0)
		close(fd);
	return rc;
}

int pmcfs_probe_signature(const char *path, char *type, size_t typesz, bool *found)
{
	struct pmcfs_signature *v;
	size_t n;
	int rc;

	*found = false;
	rc = pmcfs_probe_signatures(path, &v, &n);
	if (rc)
		return rc;
	if (n) {
		*found = true;
		pmcfs_probe_copy_str(type, typesz, v[0].type);
	}
	free(v);
	return 0;
}

/* ---- mounted, swap, held, loop-backed ------------------------------------ */

/* Undo mountinfo's octal escapes (\040 for a space) in place. */
static void unescape(char *s)
{
	char *o = s;

	for (; *s; s++) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] && s[3]) {
			*o++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
			s += 3;
		} else
			*o++ = *s;
	}
	*o = '\0';
}

/* Is block device d the device dev, or a partition of it? */
static bool same_or_part(dev_t d, dev_t dev)
{
	char link[64], p[PATH_MAX], buf[32];
	unsigned ma, mi;

	if (d == dev)
		return true;
	snprintf(link, sizeof(link), "/sys/dev/block/%u:%u", major(d), minor(d));
	if (!realpath(link, p) || access(strcat(p, "/partition"), F_OK))
		return false;
	*strrchr(p, '/') = '\0';
	*strrchr(p, '/') = '\0';
	if (pmcfs_probe_sysfs_read(p, "dev", buf, sizeof(buf)) || sscanf(buf, "%u:%u", &ma, &mi) != 2)
		return false;
	return makedev(ma, mi) == dev;
}

/*
 * Is block device d (or the disk it is a partition of) a loop device
 * backed by the file img? Its kernel name goes to name.
 */
static bool loop_backs(dev_t d, const struct stat *img, char *name, size_t sz)
{
	char link[64], p[PATH_MAX], back[PATH_MAX], *del;
	struct stat bs;

	snprintf(link, sizeof(link), "/sys/dev/block/%u:%u", major(d), minor(d));
	if (!realpath(link, p) || strlen(p) > sizeof(p) - 32)
		return false;
	if (access(strcat(p, "/partition"), F_OK) == 0)
		*strrchr(p, '/') = '\0';
	*strrchr(p, '/') = '\0';
	if (pmcfs_probe_sysfs_read(p, "loop/backing_file", back, sizeof(back)))
		return false;
	del = strstr(back, " (deleted)");
	if (del)
		*del = '\0';
	if (stat(back, &bs) || bs.st_dev != img->st_dev || bs.st_ino != img->st_ino)
		return false;
	pmcfs_probe_copy_str(name, sz, strrchr(p, '/') + 1);
	return true;
}

/*
 * First mount of block device dev (or a partition of it), of source
 * path realsrc, or (img set) of a loop device backed by the file img.
 * Only block-backed mounts are looked at, so this costs a few sysfs
 * reads per real mount, not one per loop device on the system.
 */
static int find_mount(dev_t dev, const char *realsrc, const struct stat *img,
		      char *mnt, size_t sz, bool *found)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	char *line = NULL;
	size_t cap = 0;

	*found = false;
	if (!f)
		return -errno;
	while (!*found && getline(&line, &cap, f) > 0) {
		char point[PATH_MAX], src[PATH_MAX], *sep, loop[64];
		unsigned ma, mi;

		if (sscanf(line, "%*u %*u %u:%u %*s %4095s", &ma, &mi, point) != 3)
			continue;
		sep = strstr(line, " - ");
		if (!sep || sscanf(sep, " - %*s %4095s", src) != 1)
			continue;
		unescape(point);
		unescape(src);
		if (img) {
			if (ma && loop_backs(makedev(ma, mi), img, loop, sizeof(loop))) {
				*found = true;
				snprintf(mnt, sz, "%s (via /dev/%s)", point, loop);
			}
		} else if ((dev && ma && same_or_part(makedev(ma, mi), dev)) ||
			   (realsrc && src[0] == '/' && !strcmp(src, realsrc))) {
			*found = true;
			pmcfs_probe_copy_str(mnt, sz, point);
		}
	}
	free(line);
	fclose(f);
	return 0;
}

static bool in_swaps(const struct stat *st)
{
	FILE *f = fopen("/proc/swaps", "re");
	char name[PATH_MAX];
	bool hit = false;
	struct stat s;

	if (!f)
		return false;
	if (fscanf(f, "%*[^\n]") == EOF) {	/* header line */
		fclose(f);
		return false;
	}
	while (!hit && fscanf(f, " %4095s %*[^\n]", name) == 1) {
		unescape(name);
		if (stat(name, &s) == 0)
			hit = S_ISBLK(st->st_mode) ? s.st_rdev == st->st_rdev :
			      s.st_dev == st->st_dev && s.st_ino == st->st_ino;
	}
	fclose(f);
	return hit;
}

int pmcfs_probe_mounted(const char *path, char *mntpoint, size_t sz, bool *mounted)
{
	struct stat st;
	char *real;
	int rc;

	*mounted = false;
	if (stat(path, &st) < 0)
		return -errno;
	if (in_swaps(&st)) {
		*mounted = true;
		pmcfs_probe_copy_str(mntpoint, sz, "[swap]");
		return 0;
	}
	if (S_ISREG(st.st_mode))	/* through a loop device it backs? */
		return find_mount(0, NULL, &st, mntpoint, sz, mounted);
	if (!S_ISBLK(st.st_mode))
		return 0;
	real = realpath(path, NULL);
	rc = find_mount(st.st_rdev, real, NULL, mntpoint, sz, mounted);
	free(real);
	return rc;
}

int pmcfs_probe_holder(const char *path, char *holder, size_t sz, bool *held)
{
	char dir[PATH_MAX];
	struct stat st;
	struct dirent *de;
	DIR *d;
	int rc;

	*held = false;
	if (stat(path, &st) < 0)
		return -errno;
	if (!S_ISBLK(st.st_mode))
		return 0;
	rc = pmcfs_probe_sysfs_dir(path, dir, sizeof(dir) - 16, NULL, NULL);
	if (rc)
		return rc;
	d = opendir(strcat(dir, "/holders"));
	if (!d)
		return 0;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		*held = true;
		pmcfs_probe_copy_str(holder, sz, de->d_name);
		break;
	}
	closedir(d);
	return 0;
}

int pmcfs_probe_dax(const char *path, bool *dax)
{
	enum pmcfs_probe_kind kind;
	blkid_probe pr;
	blkid_topology tp;
	int rc;

	*dax = false;
	rc = pmcfs_probe_kind(path, &kind);
	if (rc)
		return rc;
	if (kind == PMCFS_PROBE_DAX) {
		*dax = true;
		return 0;
	}
	if (kind != PMCFS_PROBE_BLOCK)
		return 0;
	pr = blkid_new_probe_from_filename(path);
	if (!pr)
		return errno ? -errno : -EIO;
	tp = blkid_probe_get_topology(pr);
	if (tp)
		*dax = blkid_topology_get_dax(tp) != 0;
	blkid_free_probe(pr);
	return 0;
}

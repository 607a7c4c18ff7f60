// SPDX-License-Identifier: MIT
/*
 * The kernel backend: the generic remap ioctls (FICLONE, FICLONERANGE,
 * FIDEDUPERANGE) and FS_IOC_FIEMAP on a mounted filesystem. Any
 * filesystem implementing ->remap_file_range works: XFS with reflink,
 * btrfs, and the pmcfs module.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/vfs.h>
#include <unistd.h>
#include <linux/fiemap.h>
#include <linux/fs.h>

#include "reflink_priv.h"

/*
 * "/dev/fd/N" names a descriptor the caller opened, used as is (its
 * access mode and O_APPEND included), so a script can hand us one.
 */
static int inherited_fd(const char *path)
{
	const char *p = NULL;
	char *end;
	long n;

	if (!strncmp(path, "/dev/fd/", 8))
		p = path + 8;
	else if (!strncmp(path, "/proc/self/fd/", 14))
		p = path + 14;
	if (!p || !*p)
		return -1;
	n = strtol(p, &end, 10);
	if (*end || n < 0 || n > 1 << 20)
		return -1;
	return (int)n;
}

#ifndef __NR_cachestat
#define __NR_cachestat 451	/* Linux 6.5; one number on every architecture */
#endif
struct rl_cachestat_range { uint64_t off, len; };
struct rl_cachestat {
	uint64_t nr_cache, nr_dirty, nr_writeback, nr_evicted, nr_recently_evicted;
};

/* Is half the file or more in the page cache? No where cachestat(2) is missing. */
static bool mostly_cached(int fd, uint64_t size)
{
	struct rl_cachestat_range r = { 0, size };
	struct rl_cachestat cs;
	long page = sysconf(_SC_PAGESIZE);

	if (!size || page <= 0 || syscall(__NR_cachestat, fd, &r, &cs, 0) < 0)
		return false;
	return cs.nr_cache * (uint64_t)page * 2 >= size;
}

static int kopen(const char *path, int how, struct rl_file **ret)
{
	int flags, fd, inh = inherited_fd(path);
	struct rl_file *f;
	int mode;

	switch (how & RL_OPEN_HOW_MASK) {
	case RL_OPEN_WRITE: flags = O_WRONLY; break;
	case RL_OPEN_CREATE: flags = O_WRONLY | O_CREAT; break;
	default: flags = O_RDONLY; break;
	}
	if (how & RL_OPEN_NOFOLLOW)
		flags |= O_NOFOLLOW;
	if (inh >= 0) {
		fd = fcntl(inh, F_DUPFD_CLOEXEC, 3);
	} else {
		/* Reading must not dirty atime on every scanned file. */
		fd = -1;
		if (flags == O_RDONLY || flags == (O_RDONLY | O_NOFOLLOW))
			fd = open(path, flags | O_CLOEXEC | O_NOATIME);
		if (fd < 0)
			fd = open(path, flags | O_CLOEXEC, 0666);
	}
	if (fd < 0)
		return -errno;
	f = xcalloc(1, sizeof(*f));
	f->fd = fd;
	f->path = xstrdup(path);
	if (fstat(fd, &f->st) < 0) {
		int err = -errno;

		close(fd);
		free(f->path);
		free(f);
		return err;
	}
	mode = fcntl(fd, F_GETFL);
	f->writable = mode >= 0 && (mode & O_ACCMODE) != O_RDONLY;
	/*
	 * Set on the open file rather than passed to open(): the kernel
	 * makes the same check either way (EINVAL where the filesystem has
	 * no O_DIRECT), and the open above stays as it is. Never on an
	 * inherited descriptor, whose flags its owner shares, and not for a
	 * file already in the page cache, which O_DIRECT would read again.
	 */
	if ((how & RL_OPEN_DIRECT) && inh < 0 && mode >= 0 && !f->writable &&
	    !mostly_cached(fd, (uint64_t)f->st.st_size)) {
		if (fcntl(fd, F_SETFL, mode | O_DIRECT) == 0)
			f->direct = true;
		else
			f->direct_err = -errno;
	}
	*ret = f;
	return 0;
}

/* The filesystem refused an O_DIRECT read: the page cache from now on. */
static int drop_direct(struct rl_file *f, int why)
{
	int mode = fcntl(f->fd, F_GETFL);

	if (mode < 0 || fcntl(f->fd, F_SETFL, mode & ~O_DIRECT) < 0)
		return -errno;
	f->direct = false;
	f->direct_err = why;
	return 0;
}

static int kreopen_rw(struct rl_file *f)
{
	char proc[64];
	int fd;

	/* Through /proc so a renamed file is still the same inode. */
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", f->fd);
	fd = open(proc, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	close(f->fd);
	f->fd = fd;
	f->writable = true;
	return 0;
}

static void kclose(struct rl_file *f)
{
	if (!f)
		return;
	close(f->fd);
	free(f->path);
	free(f);
}

static int kpread(struct rl_file *f, void *buf, size_t len, uint64_t off, size_t *ret_len)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = pread(f->fd, (char *)buf + done, len - done, off + done);

		if (n < 0) {
			int err = -errno;

			if (err == -EINTR)
				continue;
			if (err == -EINVAL && f->direct) {
				err = drop_direct(f, err);
				if (!err)
					continue;	/* the same request, buffered */
			}
			return err;
		}
		if (n == 0)
			break;
		done += n;
		/* Short at an unaligned offset: that is EOF. Asking again
		 * from there, a filesystem that checks alignment before EOF
		 * would refuse the read (XFS returns 0). */
		if (f->direct && done < len && (off + done) % RL_DIRECT_ALIGN)
			break;
	}
	*ret_len = done;
	return 0;
}

/*
 * POSIX_FADV_WILLNEED reads at most the device's readahead size per call
 * (read_ahead_kb: 2.5 MiB on a loop device) and ignores the rest, so ask
 * in pieces. It only starts the reads; a filesystem that ignores it loses
 * the head start, nothing else.
 */
#define READAHEAD_PIECE (2ULL << 20)
static void kreadahead(struct rl_file *f, uint64_t off, uint64_t len)
{
	uint64_t end = off + len, p;

	for (p = off; p < end; p += READAHEAD_PIECE)
		(void)posix_fadvise(f->fd, (off_t)p, (off_t)(end - p < READAHEAD_PIECE ?
							  end - p : READAHEAD_PIECE),
				    POSIX_FADV_WILLNEED);
}

static int kclone_file(struct rl_file *src, struct rl_file *dst)
{
	return ioctl(dst->fd, FICLONE, src->fd) < 0 ? -errno : 0;
}

static int kclone_range(struct rl_file *src, uint64_t soff, struct rl_file *dst,
			uint64_t doff, uint64_t len)
{
	struct file_clone_range r = {
		.src_fd = src->fd, .src_offset = soff, .src_length = len,
		.dest_offset = doff,
	};

	return ioctl(dst->fd, FICLONERANGE, &r) < 0 ? -errno : 0;
}

static int kdedupe_range(struct rl_file *src, uint64_t soff, uint64_t len,
			 struct rl_dedupe_dest *dests, unsigned int n)
{
	struct file_dedupe_range *r;
	unsigned int i;
	int err = 0;

	r = xcalloc(1, sizeof(*r) + n * sizeof(r->info[0]));
	r->src_offset = soff;
	r->src_length = len;
	r->dest_count = n;
	for (i = 0; i < n; i++) {
		r->info[i].dest_fd = dests[i].file->fd;
		r->info[i].dest_offset = dests[i].offset;
	}
	if (ioctl(src->fd, FIDEDUPERANGE, r) < 0) {
		err = -errno;
	} else {
		for (i = 0; i < n; i++) {
			dests[i].deduped = r->info[i].bytes_deduped;
			dests[i].status = r->info[i].status == FILE_DEDUPE_RANGE_DIFFERS ?
				RL_DEDUPE_DIFFERS : r->info[i].status;
		}
	}
	free(r);
	return err;
}

#define FIEMAP_BATCH 256

static int kfiemap(struct rl_file *f, uint64_t start, uint64_t len,
		   struct rl_extent **ret, size_t *ret_n)
{
	struct fiemap *fm;
	struct rl_extent *ext = NULL;
	size_t n = 0, cap = 0;
	uint64_t end = len > UINT64_MAX - start ? UINT64_MAX : start + len;
	uint64_t pos = start;
	bool last = false;
	unsigned int i;
	int err = 0;

	fm = xcalloc(1, sizeof(*fm) + FIEMAP_BATCH * sizeof(fm->fm_extents[0]));
	while (!last && pos < end) {
		memset(fm, 0, sizeof(*fm));
		fm->fm_start = pos;
		fm->fm_length = end - pos;
		/* SYNC: delayed allocations get real addresses first. */
		fm->fm_flags = FIEMAP_FLAG_SYNC;
		fm->fm_extent_count = FIEMAP_BATCH;
		if (ioctl(f->fd, FS_IOC_FIEMAP, fm) < 0) {
			err = -errno;
			break;
		}
		if (fm->fm_mapped_extents == 0)
			break;
		for (i = 0; i < fm->fm_mapped_extents; i++) {
			struct fiemap_extent *fe = &fm->fm_extents[i];

			if (n == cap) {
				cap = cap ? 2 * cap : 64;
				ext = xreallocarray(ext, cap, sizeof(*ext));
			}
			ext[n].logical = fe->fe_logical;
			ext[n].physical = fe->fe_physical;
			ext[n].length = fe->fe_length;
			ext[n].flags = fe->fe_flags;
			n++;
			if (fe->fe_flags & FIEMAP_EXTENT_LAST)
				last = true;
			pos = fe->fe_logical + fe->fe_length;
		}
	}
	free(fm);
	if (err) {
		free(ext);
		return err;
	}
	*ret = ext;
	*ret_n = n;
	return 0;
}

static const struct {
	unsigned long magic;
	const char *name;
	int reflink;
} fstypes[] = {
	{ 0x9123683e, "btrfs", 1 },
	{ 0x58465342, "xfs", -1 },	/* only with -m reflink=1 */
	{ 0xef53, "ext4", 0 },
	{ 0x01021994, "tmpfs", 0 },
	{ 0x858458f6, "ramfs", 0 },
	{ 0x4d44, "vfat", 0 },
	{ 0x2011bab0, "exfat", 0 },
	{ 0xf2f52010, "f2fs", 0 },
	{ 0x5346544e, "ntfs", 0 },
	{ 0x6969, "nfs", -1 },
	{ 0x794c7630, "overlay", -1 },
};

static int kreflink_supported(struct rl_file *f, const char **ret_fsname)
{
	struct statfs sf;
	size_t i;

	if (fstatfs(f->fd, &sf) < 0)
		return -1;
	for (i = 0; i < sizeof(fstypes) / sizeof(fstypes[0]); i++) {
		if ((unsigned long)sf.f_type == fstypes[i].magic) {
			*ret_fsname = fstypes[i].name;
			return fstypes[i].reflink;
		}
	}
	return -1;
}

static int kstat(const char *path, struct stat *st)
{
	return stat(path, st) < 0 ? -errno : 0;
}

static int klstat(const char *path, struct stat *st)
{
	return lstat(path, st) < 0 ? -errno : 0;
}

static int klist_dir(const char *path, char ***ret, size_t *ret_n)
{
	struct dirent **ents = NULL;
	char **names;
	int i, n = scandir(path, &ents, NULL, alphasort);
	size_t k = 0;

	if (n < 0)
		return -errno;
	names = xcalloc(n ? n : 1, sizeof(*names));
	for (i = 0; i < n; i++) {
		if (strcmp(ents[i]->d_name, ".") && strcmp(ents[i]->d_name, ".."))
			names[k++] = xstrdup(ents[i]->d_name);
		free(ents[i]);
	}
	free(ents);
	*ret = names;
	*ret_n = k;
	return 0;
}

static int kunlink(const char *path)
{
	return unlink(path) < 0 ? -errno : 0;
}

static int ktruncate(struct rl_file *f, uint64_t size)
{
	if (ftruncate(f->fd, (off_t)size) < 0)
		return -errno;
	return fstat(f->fd, &f->st) < 0 ? -errno : 0;
}

const struct rl_backend_ops rl_kernel_ops = {
	.name = "kernel",
	.open = kopen,
	.reopen_rw = kreopen_rw,
	.close = kclose,
	.pread = kpread,
	.readahead = kreadahead,
	.clone_file = kclone_file,
	.clone_range = kclone_range,
	.dedupe_range = kdedupe_range,
	.fiemap = kfiemap,
	.reflink_supported = kreflink_supported,
	.stat = kstat,
	.lstat = klstat,
	.list_dir = klist_dir,
	.unlink = kunlink,
	.truncate = ktruncate,
	/* btrfs caps one dedupe call at 16 MiB; XFS accepts more, but a
	 * bounded call keeps the inode lock hold time short on both. */
	.max_dedupe_len = 16ULL << 20,
	/* The ioctl argument must fit in one page: (4096 - 24) / 32. */
	.max_dedupe_dests = 127,
};

const struct rl_backend_ops *rl_ops = &rl_kernel_ops;

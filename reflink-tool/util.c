// SPDX-License-Identifier: MIT
/* Messages, allocation wrappers, size parsing and errno hints. */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "pmcfs.h"
#include "reflink_priv.h"

static void vreport(const char *prefix, const char *fmt, va_list ap)
{
	char buf[4096];

	vsnprintf(buf, sizeof(buf), fmt, ap);
	fprintf(stderr, "%s: %s%s\n", PROG, prefix, buf);
}

int error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vreport("", fmt, ap);
	va_end(ap);
	return -1;
}

void warning(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vreport("warning: ", fmt, ap);
	va_end(ap);
}

void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vreport("", fmt, ap);
	va_end(ap);
	exit(RL_EXIT_FAIL);
}

void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (!p)
		die("out of memory: %zu bytes", n);
	return p;
}

void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);

	if (!p)
		die("out of memory: %zu x %zu bytes", n, size);
	return p;
}

void *xreallocarray(void *p, size_t n, size_t size)
{
	void *q = reallocarray(p, n ? n : 1, size ? size : 1);

	if (!q)
		die("out of memory: %zu x %zu bytes", n, size);
	return q;
}

char *xstrdup(const char *s)
{
	char *p = strdup(s);

	if (!p)
		die("out of memory");
	return p;
}

char *xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *p;
	int r;

	va_start(ap, fmt);
	r = vasprintf(&p, fmt, ap);
	va_end(ap);
	if (r < 0)
		die("out of memory");
	return p;
}

int parse_size(const char *s, uint64_t *ret)
{
	unsigned long long v;
	unsigned int shift = 0;
	char *end;

	if (!s || !*s || *s == '-' || *s == '+')
		return -EINVAL;
	errno = 0;
	/* Base 10 unless 0x: a leading zero must not mean octal. */
	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
		v = strtoull(s, &end, 16);
	else
		v = strtoull(s, &end, 10);
	if (errno || end == s)
		return errno == ERANGE ? -ERANGE : -EINVAL;
	switch (*end) {
	case 'k': case 'K': shift = 10; end++; break;
	case 'm': case 'M': shift = 20; end++; break;
	case 'g': case 'G': shift = 30; end++; break;
	case 't': case 'T': shift = 40; end++; break;
	}
	if (shift && (!strcmp(end, "iB") || !strcmp(end, "B")))
		end += strlen(end);
	if (*end)
		return -EINVAL;
	if (shift && v > (UINT64_MAX >> shift))
		return -ERANGE;
	*ret = (uint64_t)v << shift;
	return 0;
}

static const struct {
	int err;
	const char *name;
	const char *hint;	/* for the remap ioctls */
} errhints[] = {
	{ EINVAL, "EINVAL", "misaligned or past EOF" },
	{ EXDEV, "EXDEV", "source and destination are on different filesystems or mounts" },
	{ EOPNOTSUPP, "EOPNOTSUPP", "the filesystem does not support reflink" },
	{ ETXTBSY, "ETXTBSY", "the destination is a running executable or an active swap file" },
	{ EPERM, "EPERM", "the destination is immutable or append-only, or not yours to change" },
	{ EISDIR, "EISDIR", "source and destination must be regular files" },
	{ EBADF, "EBADF", "the source must be open for reading and the destination for writing, without O_APPEND" },
	{ EACCES, "EACCES", NULL },
	{ ENOENT, "ENOENT", NULL },
	{ ENOSPC, "ENOSPC", NULL },
	{ EFBIG, "EFBIG", "the range goes past the maximum file size" },
	{ EROFS, "EROFS", "snapshots in an image are read-only" },
	{ ENOMEM, "ENOMEM", NULL },
	{ EIO, "EIO", NULL },
	{ ENOTDIR, "ENOTDIR", NULL },
	{ EEXIST, "EEXIST", NULL },
	{ ELOOP, "ELOOP", "a symbolic link, not followed" },
	{ ENOTTY, "ENOTTY", "the filesystem does not support this ioctl" },
	{ EAGAIN, "EAGAIN", NULL },
	{ EINTR, "EINTR", NULL },
};

/* Codes libpmcfs adds above errno for a damaged image (image mode). */
static const struct {
	int err;
	const char *name;
} pmcfs_names[] = {
	{ PMCFS_ECORRUPT, "ECORRUPT" },
	{ PMCFS_EBADCRC, "EBADCRC" },
	{ PMCFS_ENOFS, "ENOFS" },
	{ PMCFS_EFEATURE, "EFEATURE" },
	{ PMCFS_ESTALE, "ESTALE" },
	{ PMCFS_EMISDIRECT, "EMISDIRECT" },
	{ PMCFS_EDIFFERS, "EDIFFERS" },
};

const char *rl_errname(int err)
{
	size_t i;

	if (err < 0)
		err = -err;
	for (i = 0; i < sizeof(pmcfs_names) / sizeof(pmcfs_names[0]); i++)
		if (pmcfs_names[i].err == err)
			return pmcfs_names[i].name;
	for (i = 0; i < sizeof(errhints) / sizeof(errhints[0]); i++)
		if (errhints[i].err == err)
			return errhints[i].name;
	return "EUNKNOWN";
}

const char *rl_errmsg(int err, const char *op, char *buf, size_t len)
{
	const char *hint = NULL;
	size_t i;

	if (err < 0)
		err = -err;
	if (err > PMCFS_EBASE) {
		if (err == PMCFS_EDIFFERS)
			snprintf(buf, len, "%s", pmcfs_strerror(err));
		else
			snprintf(buf, len, "%s (the image is damaged: check it with fsck.pmcfs)",
				 pmcfs_strerror(err));
		return buf;
	}
	for (i = 0; i < sizeof(errhints) / sizeof(errhints[0]); i++)
		if (errhints[i].err == err)
			hint = errhints[i].hint;
	/* Opening a missing file is not a remap problem: no hint. */
	if (!op)
		hint = NULL;
	if (op && err == EINVAL && !strcmp(op, "dedupe"))
		hint = "misaligned, past EOF, or the filesystem does not support dedupe";
	if (hint)
		snprintf(buf, len, "%s (%s)", strerror(err), hint);
	else
		snprintf(buf, len, "%s", strerror(err));
	return buf;
}

int rl_report_range(const char *op, struct rl_file *src, struct rl_file *dst,
		    uint64_t start, uint64_t end, int err)
{
	char msg[256];
	const char *fsname = NULL;

	/* EINVAL and EOPNOTSUPP often just mean "no reflink here": say so. */
	if ((err == -EINVAL || err == -EOPNOTSUPP) && rl_ops->reflink_supported &&
	    rl_ops->reflink_supported(dst ? dst : src, &fsname) == 0) {
		snprintf(msg, sizeof(msg), "%s (the %s filesystem does not support reflink)",
			 strerror(-err), fsname ? fsname : "");
	} else {
		rl_errmsg(err, op, msg, sizeof(msg));
	}
	if (start == RL_NO_RANGE && dst)
		error("%s %s -> %s: %s", op, src->path, dst->path, msg);
	else if (start == RL_NO_RANGE)
		error("%s %s: %s", op, src->path, msg);
	else if (dst)
		error("%s %s -> %s [%llu, %llu): %s", op, src->path, dst->path,
		      (unsigned long long)start, (unsigned long long)end, msg);
	else
		error("%s %s [%llu, %llu): %s", op, src->path,
		      (unsigned long long)start, (unsigned long long)end, msg);
	return -1;
}

const char *human_size(uint64_t bytes, char *buf, size_t len)
{
	static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB" };
	double v = bytes;
	int u = 0;

	while (v >= 1024 && u < 5) {
		v /= 1024;
		u++;
	}
	if (u == 0)
		snprintf(buf, len, "%llu B", (unsigned long long)bytes);
	else
		snprintf(buf, len, "%.2f %s", v, units[u]);
	return buf;
}

double now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

bool is_tty_stderr(void)
{
	return isatty(STDERR_FILENO);
}

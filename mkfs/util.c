// SPDX-License-Identifier: MIT
/* Messages ("mkfs.pmcfs: what failed: detail"), x*() helpers, sizes. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "mkfs.h"

static void vmsg(const char *prefix, const char *fmt, va_list ap)
{
	fflush(stdout);		/* keep stdout and stderr in order on a tty */
	fprintf(stderr, "%s: %s", PROG, prefix);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

void warnmsg(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmsg("warning: ", fmt, ap);
	va_end(ap);
}

int error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmsg("", fmt, ap);
	va_end(ap);
	return -1;
}

void die(int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmsg("", fmt, ap);
	va_end(ap);
	exit(code);
}

void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);

	if (!p)
		die(EXIT_OPER, "out of memory: %zu x %zu bytes", n, size);
	return p;
}

/* A whole small text file, NUL-terminated; dies on error or if over max. */
char *xreadfile(const char *path, size_t max)
{
	size_t len = 0, cap = 4096;
	char *buf = xcalloc(1, cap + 1);
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		die(EXIT_OPER, "cannot read %s: %s", path, strerror(errno));
	while ((n = read(fd, buf + len, cap - len)) > 0) {
		len += n;
		if (len > max)
			die(EXIT_OPER, "cannot read %s: larger than %zu bytes", path, max);
		if (len == cap) {
			cap *= 2;
			buf = realloc(buf, cap + 1);
			if (!buf)
				die(EXIT_OPER, "out of memory: %zu bytes", cap);
		}
	}
	if (n < 0)
		die(EXIT_OPER, "cannot read %s: %s", path, strerror(errno));
	close(fd);
	buf[len] = '\0';
	if (memchr(buf, '\0', len))
		die(EXIT_OPER, "cannot read %s: binary data in a text list", path);
	return buf;
}

/*
 * Decimal bytes with an optional binary suffix K, M, G, T or P (or KiB,
 * MiB, ...; either case). 0 or -EINVAL / -ERANGE; zero is -EINVAL.
 */
int parse_size(const char *s, uint64_t *ret)
{
	static const char units[] = "KMGTP";
	unsigned long long v;
	const char *u;
	char *end;
	int shift = 0;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno == ERANGE)
		return -ERANGE;
	if (*end) {
		u = strchr(units, end[0] >= 'a' ? end[0] - 32 : end[0]);
		if (!u || !end[0])
			return -EINVAL;
		shift = 10 * (int)(u - units + 1);
		end++;
		if (*end && strcmp(end, "iB") && strcmp(end, "ib"))
			return -EINVAL;
	}
	if (v == 0)
		return -EINVAL;
	if (v > (UINT64_MAX >> shift))
		return -ERANGE;
	*ret = (uint64_t)v << shift;
	return 0;
}

/* "64 GiB", "6 MiB", "1.5 TiB": for parentheses after exact numbers. */
const char *human_size(uint64_t bytes, char *buf, size_t sz)
{
	static const char *const unit[] = { "bytes", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB" };
	double v = (double)bytes;
	int i = 0;

	while (v >= 1024 && i < 6) {
		v /= 1024;
		i++;
	}
	if (i == 0)
		snprintf(buf, sz, "%llu bytes", (unsigned long long)bytes);
	else if (v == (double)(uint64_t)v)
		snprintf(buf, sz, "%llu %s", (unsigned long long)v, unit[i]);
	else	/* truncate, so 63.99 GiB never reads as 64.0 */
		snprintf(buf, sz, "%.1f %s", (double)(uint64_t)(v * 10) / 10, unit[i]);
	return buf;
}

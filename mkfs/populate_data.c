// SPDX-License-Identifier: MIT
/*
 * File data for --populate. Only the data ranges of a sparse source
 * (SEEK_DATA/SEEK_HOLE) are read and written, so holes stay holes; data
 * moves in POP_CHUNK pieces, so the allocator sees large writes and can
 * place 2 MiB-aligned extents. A file whose size changes while it is
 * copied is reported, never silently truncated: what was read is kept.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "mkfs.h"
#include "populate.h"

static void put(struct pop *p, uint64_t ino, uint64_t off, const uint8_t *buf, size_t len)
{
	int rc;

	if (p->dd) {
		dd_write(p, ino, off, buf, len);
		return;
	}
	rc = pmcfs_ns_write(p->tx, p->t, ino, off, buf, len);
	if (rc)
		pop_fatal(p, "cannot write", rc);
}

/*
 * The next data range at or after off, clipped to size: 1 and [*start,
 * *end), 0 if only a hole remains, -1 on error (errno). A filesystem
 * without SEEK_DATA support reports all of it as data.
 */
static int next_data(int fd, uint64_t off, uint64_t size, uint64_t *start, uint64_t *end)
{
	off_t d = lseek(fd, (off_t)off, SEEK_DATA), h;

	if (d < 0 && errno == ENXIO)
		return 0;
	if (d < 0 && errno == EINVAL) {
		*start = off;
		*end = size;
		return 1;
	}
	if (d < 0)
		return -1;
	if ((uint64_t)d >= size)
		return 0;
	h = lseek(fd, d, SEEK_HOLE);
	if (h < 0)
		return -1;
	*start = (uint64_t)d;
	*end = (uint64_t)h < size ? (uint64_t)h : size;
	return 1;
}

int pop_copy_data(struct pop *p, int fd, uint64_t ino, const struct statx *stx)
{
	uint64_t size = stx->stx_size, off = 0, end;
	bool sparse = stx->stx_blocks * 512 < size, eof = false;
	struct pmcfs_stat st;
	struct stat after;
	ssize_t n;
	int rc;

	while (off < size && !eof) {
		if (sparse) {
			rc = next_data(fd, off, size, &off, &end);
			if (rc < 0)
				goto read_error;
			if (rc == 0)
				break;
		} else
			end = size;
		while (off < end) {
			size_t want = end - off < POP_CHUNK ? (size_t)(end - off) : POP_CHUNK;

			n = pread(fd, p->buf, want, (off_t)off);
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0)
				goto read_error;
			if (n == 0) {		/* shorter than when it was opened */
				eof = true;
				break;
			}
			put(p, ino, off, p->buf, (size_t)n);
			off += (uint64_t)n;
			p->bytes += (uint64_t)n;
			pop_account(p, 0, (uint64_t)n);
		}
	}
	/* A hole at the end (or shared blocks there): the size still covers it. */
	if (!eof && (sparse || p->dd)) {
		rc = pmcfs_ns_stat(p->fs, p->t, ino, &st);
		if (!rc && st.size < size)
			rc = pmcfs_ns_truncate(p->tx, p->t, ino, size);
		if (rc)
			pop_fatal(p, "cannot set the size of", rc);
	}
	if (fstat(fd, &after) < 0)
		goto read_error;
	if (eof || (uint64_t)after.st_size != size)
		pop_error(p, "%s changed size while being copied: %llu bytes when opened, %llu bytes now; copied %llu bytes%s",
			  p->path, (unsigned long long)size, (unsigned long long)after.st_size,
			  (unsigned long long)(eof ? off : size),
			  eof ? ", up to where reading ended" : ", up to the size when opened");
	return 0;

read_error:
	pop_error(p, "cannot read %s: %s", p->path, strerror(errno));
	return -1;
}

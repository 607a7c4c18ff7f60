// SPDX-License-Identifier: MIT
/*
 * Messages ("fsck.pmcfs: what failed: detail" on stderr), die-on-error
 * allocation, the compact reference array, progress reporting (a percent
 * on a terminal, e2fsck's "pass current max device" lines on -C FD), and
 * the repair transaction helpers.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "fsck.h"

static void vmsg(const char *prefix, const char *fmt, va_list ap)
{
	fflush(stdout);
	fprintf(stderr, "%s: %s", PROG, prefix);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

int error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmsg("", fmt, ap);
	va_end(ap);
	return -1;
}

void warnmsg(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmsg("warning: ", fmt, ap);
	va_end(ap);
}

/* Human output goes to stdout, except under --json. */
void out(const struct fsck_ctx *ctx, const char *fmt, ...)
{
	va_list ap;

	if (ctx->json)
		return;
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
}

void verbose(const struct fsck_ctx *ctx, const char *fmt, ...)
{
	va_list ap;

	if (!ctx->verbose || ctx->json)
		return;
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
}

static __attribute__((noreturn)) void oom(size_t n)
{
	error("out of memory: %zu bytes", n);
	exit(FSCK_ERROR);
}

void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (!p)
		oom(n);
	return p;
}

void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);

	if (!p)
		oom(n * size);
	return p;
}

/* Make room for n elements, doubling. */
void *xgrow(void *p, size_t *cap, size_t n, size_t size)
{
	size_t c = *cap;

	if (n <= c)
		return p;
	while (c < n)
		c = c ? c * 2 : 64;
	if (c > SIZE_MAX / size)
		oom(SIZE_MAX);
	p = realloc(p, c * size);
	if (!p)
		oom(c * size);
	*cap = c;
	return p;
}

char *xstrdup(const char *s)
{
	char *d = strdup(s);

	if (!d)
		oom(strlen(s));
	return d;
}

/* Long ranges are split so every length fits 30 bits (bit 31 tags, see pass 3). */
void refs_add(struct fsck_refs *r, uint64_t start, uint64_t len)
{
	while (len) {
		uint32_t l = len > (1u << 30) ? 1u << 30 : (uint32_t)len;
		r->v = xgrow(r->v, &r->cap, r->n + 1, sizeof(*r->v));
		r->v[r->n].start = start;
		r->v[r->n].len = l;
		r->n++;
		start += l;
		len -= l;
	}
}

void refs_free(struct fsck_refs *r)
{
	free(r->v);
	memset(r, 0, sizeof(*r));
}

/* ---- progress ---------------------------------------------------------- */

static int last_pct = -1;
static const char *cur_name;

void progress_start(struct fsck_ctx *ctx, int pass, const char *name)
{
	last_pct = -1;
	cur_name = name;
	if (ctx->tty_progress) {
		fprintf(stderr, "\rPass %d: %s   ", pass, name);
		fflush(stderr);
	}
}

void progress(struct fsck_ctx *ctx, int pass, uint64_t cur, uint64_t max)
{
	int pct;

	if (!ctx->tty_progress && ctx->progress_fd <= 0)
		return;
	if (max == 0)
		max = 1;
	if (cur > max)
		cur = max;
	pct = (int)(cur * 1000 / max);
	if (pct == last_pct)
		return;
	last_pct = pct;
	if (ctx->tty_progress) {
		fprintf(stderr, "\rPass %d: %s %3d.%d%%", pass, cur_name, pct / 10, pct % 10);
		fflush(stderr);
	}
	if (ctx->progress_fd > 0)
		dprintf(ctx->progress_fd, "%d %llu %llu %s\n", pass, (unsigned long long)cur,
			(unsigned long long)max, ctx->device);
}

void progress_end(struct fsck_ctx *ctx)
{
	if (ctx->tty_progress) {
		fprintf(stderr, "\r\033[K");
		fflush(stderr);
	}
}

/* ---- repairs ------------------------------------------------------------- */

int repair_begin(struct fsck_ctx *ctx, struct pmcfs_trans **tx)
{
	int rc;

	/*
	 * Before the first repair writes anything, the free blocks on the
	 * bad-block list are recorded bad (P6.002, as pass 6 would), so that
	 * no repair allocates one: a write to a bad pmem block fails where
	 * the poison cannot be cleared, and is unwise where it can.
	 */
	if (!ctx->bad_recorded && ctx->have_badlist && !ctx->sm_damaged && !ctx->space_risky) {
		ctx->bad_recorded = true;	/* before: the records are repairs too */
		record_free_bad(ctx, false);
	}
	rc = pmcfs_trans_begin(ctx->fs, tx);

	if (rc)
		error("cannot start a repair transaction on %s: %s", ctx->device, pmcfs_strerror(rc));
	return rc;
}

int repair_commit(struct fsck_ctx *ctx, struct pmcfs_trans *tx, const char *what)
{
	int rc = fsck_cancelled ? -EINTR : 0;

	if (rc)
		pmcfs_trans_abort(tx);
	else
		rc = pmcfs_trans_commit(tx);
	if (rc) {
		error("cannot %s on %s: %s", what, ctx->device, pmcfs_strerror(rc));
		/* Every later repair would fail the same way: stop, as e2fsck does. */
		if (pmcfs_fs_broken(ctx->fs)) {
			error("%s: a write failed during a commit: stopping. The device holds the last "
			      "commit that completed; run fsck.pmcfs again", ctx->device);
			ctx->fatal = true;
		}
	} else {
		ctx->modified = true;
		ctx->commit = *pmcfs_fs_commit(ctx->fs);	/* a restart walks the new roots */
	}
	return rc;
}

bool in_bad_media(const struct fsck_ctx *ctx, uint64_t start, uint64_t len)
{
	size_t lo = 0, hi = ctx->nbadv;

	/* First bad range ending after start. */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (ctx->badv[mid].start + ctx->badv[mid].len <= start)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < ctx->nbadv && ctx->badv[lo].start < start + len;
}

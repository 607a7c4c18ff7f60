// SPDX-License-Identifier: MIT
/*
 * The problem table and fix_problem(), the one place that applies -n, -p,
 * -y and interactive answers (e2fsprogs' problem.c pattern), so no pass
 * prints its own "would ..." text.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "fsck.h"

const struct fsck_problem fsck_problem_table[] = {
#define X(code, name, sev, flags, msg, fix) { code, #name, sev, flags, msg, fix },
	FSCK_PROBLEMS(X)
#undef X
};
const unsigned fsck_problem_count = sizeof(fsck_problem_table) / sizeof(fsck_problem_table[0]);

#define SHOW_MAX 100	/* lines per problem code unless -v */

const struct fsck_problem *fsck_problem_find(uint32_t code)
{
	for (unsigned i = 0; i < fsck_problem_count; i++)
		if (fsck_problem_table[i].code == code)
			return &fsck_problem_table[i];
	return NULL;
}

const char *fsck_problem_id(uint32_t code, char buf[8])
{
	snprintf(buf, 8, "P%x.%03x", (code >> 12) & 0xf, code & 0xfff);
	return buf;
}

static bool ask(const struct fsck_problem *p)
{
	char line[64];
	bool def = !(p->flags & NO_DEFAULT);

	for (;;) {
		printf("%c%s? [%s] ", toupper((unsigned char)p->fix[0]), p->fix + 1, def ? "Y/n" : "y/N");
		fflush(stdout);
		if (!fgets(line, sizeof(line), stdin))
			return false;
		if (line[0] == '\n')
			return def;
		if (line[0] == 'y' || line[0] == 'Y')
			return true;
		if (line[0] == 'n' || line[0] == 'N')
			return false;
	}
}

static void record(struct fsck_ctx *ctx, uint32_t code, const char *detail, const char *answer)
{
	if (!ctx->json || ctx->nfindings >= 100000)
		return;
	ctx->findings = xgrow(ctx->findings, &ctx->findings_cap, ctx->nfindings + 1,
			      sizeof(*ctx->findings));
	ctx->findings[ctx->nfindings++] = (struct fsck_finding){ code, xstrdup(detail), answer };
}

bool fix_problem(struct fsck_ctx *ctx, uint32_t code, const char *fmt, ...)
{
	va_list ap;
	bool fix;

	va_start(ap, fmt);
	fix = vfix_problem(ctx, code, fmt, ap);
	va_end(ap);
	return fix;
}

bool vfix_problem(struct fsck_ctx *ctx, uint32_t code, const char *fmt, va_list ap)
{
	const struct fsck_problem *p = fsck_problem_find(code);
	unsigned idx = (unsigned)(p - fsck_problem_table);
	bool show = ctx->verbose || ++ctx->shown[idx] <= SHOW_MAX;
	const char *answer = "";
	char detail[512], id[8];
	bool fix = false;

	vsnprintf(detail, sizeof(detail), fmt, ap);
	fsck_problem_id(code, id);
	if (show)
		out(ctx, "%s %s: %s: %s", id, p->severity == SEV_WARNING ? "warning" : "error",
		    p->msg, detail);
	/* A warning with a fix (a state a crash leaves behind, such as an
	 * interrupted deletion) leaves the exit status alone under -n and is
	 * repaired like any problem under -y and -p. */
	if (p->severity == SEV_WARNING && (!p->fix[0] || ctx->mode == MODE_NO)) {
		ctx->warnings++;
		if (show)
			out(ctx, "\n");
		record(ctx, code, detail, answer);
		return false;
	}
	if (p->flags & FATAL)
		ctx->fatal = true;
	if (!p->fix[0] || (p->flags & FATAL) || ctx->no_fix || ctx->fatal) {
		/* An error nothing here can fix needs a human as much as one -p may not fix. */
		if (ctx->mode == MODE_PREEN && !(p->flags & FATAL))
			ctx->preen_unexpected = true;
		if (show)
			out(ctx, "\n");
	} else {
		switch (ctx->mode) {
		case MODE_YES: fix = true; break;
		case MODE_NO: fix = false; break;
		case MODE_PREEN:
			fix = p->flags & PREEN_OK;
			if (!fix)
				ctx->preen_unexpected = true;
			break;
		case MODE_ASK:
			if (!show)
				out(ctx, "%s %s: %s: %s", id, "error", p->msg, detail);
			out(ctx, ". ");
			fix = ask(p);
			show = false;
			break;
		}
		answer = fix ? "yes" : "no";
		if (show)
			out(ctx, ". %c%s? %s\n", toupper((unsigned char)p->fix[0]), p->fix + 1, answer);
	}
	if (fix)
		ctx->errors_fixed++;
	else if (!(p->flags & FATAL))	/* fatal: exit 8 says it all */
		ctx->errors_left++;
	record(ctx, code, detail, answer);
	return fix;
}

void fix_failed(struct fsck_ctx *ctx, unsigned n)
{
	if (n > ctx->errors_fixed)
		n = ctx->errors_fixed;
	ctx->errors_fixed -= n;
	ctx->errors_left += n;
}

/* After a pass: say how many lines each code left out. */
void problems_flush(struct fsck_ctx *ctx)
{
	for (unsigned i = 0; i < fsck_problem_count; i++) {
		char id[8];
		if (ctx->shown[i] > SHOW_MAX)
			out(ctx, "%s: %u more not shown (use -v)\n",
			    fsck_problem_id(fsck_problem_table[i].code, id), ctx->shown[i] - SHOW_MAX);
		ctx->shown[i] = 0;
	}
}

void findings_free(struct fsck_ctx *ctx)
{
	for (size_t i = 0; i < ctx->nfindings; i++)
		free(ctx->findings[i].detail);
	free(ctx->findings);
	ctx->findings = NULL;
	ctx->nfindings = ctx->findings_cap = 0;
}

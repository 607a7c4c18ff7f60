/*
 * The fsck problem table (fsck/problem.h): codes unique, sorted and
 * prefixed by a pass number, names unique, every repairable row has a fix
 * verb, flags consistent; and fix_problem() applies -n, -y and -p.
 * fsck/problem.c is compiled in; the helpers it needs are stubbed here.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include "tcheck.h"
#include "../../fsck/problem.c"

static char outbuf[4096];

void out(const struct fsck_ctx *ctx, const char *fmt, ...)
{
	va_list ap;
	size_t n = strlen(outbuf);

	(void)ctx;
	va_start(ap, fmt);
	vsnprintf(outbuf + n, sizeof(outbuf) - n, fmt, ap);
	va_end(ap);
}

void *xgrow(void *p, size_t *cap, size_t n, size_t size)
{
	if (n > *cap) {
		*cap = n * 2;
		p = realloc(p, *cap * size);
	}
	return p;
}

char *xstrdup(const char *s) { return strdup(s); }

static void table(void)
{
	for (unsigned i = 0; i < fsck_problem_count; i++) {
		const struct fsck_problem *p = &fsck_problem_table[i];
		unsigned pass = p->code >> 12, num = p->code & 0xfff;
		CHECK(pass >= 1 && pass <= 6);
		/* Decimal digits in hex, so P3.010 prints as it is written. */
		CHECK((num & 0xf) <= 9 && ((num >> 4) & 0xf) <= 9 && (num >> 8) <= 9 && num);
		if (i)
			CHECK(fsck_problem_table[i - 1].code < p->code);
		for (unsigned j = 0; j < i; j++)
			CHECK(strcmp(fsck_problem_table[j].name, p->name) != 0);
		CHECK(p->msg[0] && p->msg[0] != toupper((unsigned char)p->msg[0]) &&
		      p->msg[strlen(p->msg) - 1] != '.');
		CHECK(!((p->flags & FATAL) && p->fix[0]));
		CHECK(!((p->flags & PREEN_OK) && !p->fix[0]));
		CHECK(!((p->flags & PREEN_OK) && (p->flags & NO_DEFAULT)));
		CHECK(fsck_problem_find(p->code) == p);
	}
	CHECK(fsck_problem_find(0x9999) == NULL);
}

static void answers(void)
{
	struct fsck_ctx ctx;
	char id[8];

	memset(&ctx, 0, sizeof(ctx));
	ctx.shown = calloc(fsck_problem_count, sizeof(*ctx.shown));
	CHECK(!strcmp(fsck_problem_id(0x3010, id), "P3.010"));

	ctx.mode = MODE_NO;
	outbuf[0] = 0;
	CHECK(!fix_problem(&ctx, PR_LEAKED, "blocks %d-%d", 5, 6));
	CHECK(!strcmp(outbuf, "P3.001 error: leaked blocks: counted in the space map, referenced by "
			      "nothing: blocks 5-6. Rebuild the space map? no\n"));
	CHECK(ctx.errors_left == 1 && ctx.errors_fixed == 0);

	ctx.mode = MODE_YES;
	CHECK(fix_problem(&ctx, PR_NAME_DUP, "x"));
	CHECK(ctx.errors_fixed == 1);

	ctx.mode = MODE_PREEN;
	CHECK(fix_problem(&ctx, PR_LEAKED, "x"));
	CHECK(!fix_problem(&ctx, PR_NAME_DUP, "x"));
	CHECK(ctx.preen_unexpected);

	outbuf[0] = 0;
	CHECK(!fix_problem(&ctx, PR_UNDERFULL, "block 9"));
	CHECK(!strcmp(outbuf, "P2.010 warning: tree node less than a quarter full: block 9\n"));
	CHECK(ctx.warnings == 1);

	CHECK(!fix_problem(&ctx, PR_NO_COMMIT, "x"));
	CHECK(ctx.fatal);
	fix_failed(&ctx, 1);
	CHECK(ctx.errors_fixed == 1);
	free(ctx.shown);
}

int main(void)
{
	table();
	answers();
	return tcheck_done("test_fsck_problems");
}

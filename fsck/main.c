// SPDX-License-Identifier: MIT
/*
 * fsck.pmcfs: check and repair a pmcfs filesystem. The check is a table
 * of passes (style item 13); every finding is a row of problem.h and goes
 * through fix_problem(). Exit status is the fsck(8) bitmask.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "fsck.h"
#include "pmcfs_probe.h"

volatile sig_atomic_t fsck_cancelled;

static const struct fsck_pass passes[] = {
	{ 1, "superblocks", "superblock copies, commit slots, features", pass1_super },
	{ 2, "trees", "every tree block once: checksums, headers, keys, references", pass2_walk },
	{ 3, "reference counts", "exact counts against the space map", pass3_refcount },
	{ 4, "namespace", "inodes, names, links, connectivity, extent maps, orphans", pass4_namespace },
	{ 5, "snapshots", "root table, parents, names, read-only snapshots", pass5_snapshots },
	{ 6, "media errors", "references to bad blocks, unrecorded bad blocks", pass6_media },
};
#define NPASSES (sizeof(passes) / sizeof(passes[0]))

struct opt {
	int key;
	const char *name;
	const char *arg;
	const char *help;
};

static const struct opt opts[] = {
	{ 'n', "no", NULL, "check only: open read-only, answer no to every fix" },
	{ 'p', "preen", NULL, "fix what is safe without a human (-a is the same)" },
	{ 'y', "yes", NULL, "answer yes to every fix" },
	{ 'f', "force", NULL, "accepted for fsck(8); the check is always complete" },
	{ 'v', "verbose", NULL, "more detail: geometry, every subvolume, every finding" },
	{ 'C', "progress-fd", "FD", "write \"pass current max device\" progress lines to FD (0: terminal)" },
	{ 'j', "json", NULL, "print the findings and summary as JSON on stdout" },
	{ 'l', "badblocks", "FILE", "bad-block list: \"SECTOR [COUNT]\" per line, 512-byte sectors" },
	{ 'V', "version", NULL, "print the version and exit" },
	{ 'h', "help", NULL, "print this help and exit" },
};
#define NOPTS (sizeof(opts) / sizeof(opts[0]))

static void usage(FILE *f)
{
	fprintf(f, "usage: %s [-n|-p|-y] [-f] [-v] [--json] [--badblocks FILE] [-C FD] DEVICE\n\n", PROG);
	fprintf(f, "Check a pmcfs filesystem on DEVICE (pmem namespace, devdax device, block\n"
		   "device or image file) and optionally repair it.\n\n");
	for (size_t i = 0; i < NOPTS; i++) {
		char left[40];
		snprintf(left, sizeof(left), "-%c, --%s%s%s", opts[i].key, opts[i].name,
			 opts[i].arg ? " " : "", opts[i].arg ? opts[i].arg : "");
		fprintf(f, "  %-26s %s\n", left, opts[i].help);
	}
	fprintf(f, "  %-26s %s\n", "-a", "the same as -p (fsck(8) passes it)");
	fprintf(f, "  %-26s %s\n", "-r", "accepted and ignored (e2fsck compatibility)");
	fprintf(f, "\nExit status (fsck(8), ORed): 0 clean, 1 errors corrected, 4 errors left\n"
		   "uncorrected, 8 operational error, 16 usage error, 32 cancelled.\n");
}

static __attribute__((noreturn)) void bad_usage(const char *fmt, const char *arg)
{
	fprintf(stderr, "%s: ", PROG);
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\nTry '%s --help' for more information.\n", PROG);
	exit(FSCK_USAGE);
}

static void set_mode(struct fsck_ctx *ctx, enum fsck_mode m)
{
	if (ctx->mode != MODE_ASK && ctx->mode != m)
		bad_usage("only one of -n, -p/-a and -y may be given%s", "");
	ctx->mode = m;
}

static void parse_args(int argc, char **argv, struct fsck_ctx *ctx)
{
	struct option lopts[NOPTS + 1];
	char sopts[NOPTS * 2 + 8], *p = sopts;
	char *end;
	long fd;
	int c;

	*p++ = ':';
	for (size_t i = 0; i < NOPTS; i++) {
		lopts[i] = (struct option){ opts[i].name, opts[i].arg ? required_argument : no_argument,
					    NULL, opts[i].key };
		*p++ = (char)opts[i].key;
		if (opts[i].arg)
			*p++ = ':';
	}
	strcpy(p, "ar");
	memset(&lopts[NOPTS], 0, sizeof(lopts[NOPTS]));
	opterr = 0;
	ctx->progress_fd = -1;
	while ((c = getopt_long(argc, argv, sopts, lopts, NULL)) != -1) {
		switch (c) {
		case 'n': set_mode(ctx, MODE_NO); break;
		case 'p': case 'a': set_mode(ctx, MODE_PREEN); break;
		case 'y': set_mode(ctx, MODE_YES); break;
		case 'f': ctx->force = true; break;
		case 'v': ctx->verbose = true; break;
		case 'r': break;
		case 'j': ctx->json = true; break;
		case 'l': ctx->badblocks_file = optarg; break;
		case 'C':
			errno = 0;
			fd = strtol(optarg, &end, 10);
			if (errno || *end || fd < 0 || fd > 1 << 20)
				bad_usage("invalid progress file descriptor '%s'", optarg);
			ctx->progress_fd = (int)fd;
			break;
		case 'V':
			printf("%s %s\n", PROG, PMCFS_VERSION);
			exit(FSCK_OK);
		case 'h':
			usage(stdout);
			exit(FSCK_OK);
		case ':':
			bad_usage("option requires an argument: %s", argv[optind - 1]);
		default:
			if (optopt) {
				char o[3] = { '-', (char)optopt, 0 };
				bad_usage("unknown option: %s", o);
			}
			bad_usage("unknown option: %s", argv[optind - 1]);
		}
	}
	if (optind >= argc)
		bad_usage("missing DEVICE%s", "");
	if (optind + 1 < argc)
		bad_usage("too many arguments: %s", argv[optind + 1]);
	ctx->device = argv[optind];
}

static void on_signal(int sig)
{
	(void)sig;
	fsck_cancelled = 1;
}

static void load_badblocks(struct fsck_ctx *ctx)
{
	struct pmcfs_ns_info ns;
	FILE *f;
	char *text = NULL;
	size_t cap = 0, len = 0, got;
	unsigned line = 0;
	int rc;

	if (!ctx->badblocks_file) {
		if (pmcfs_probe_namespace(ctx->device, &ns) || !ns.found)
			return;
		rc = pmcfs_probe_badblocks(ctx->device, &ctx->badv, &ctx->nbadv);
		if (rc) {
			warnmsg("cannot read the bad-block list of %s: %s", ctx->device, pmcfs_strerror(rc));
			return;
		}
		ctx->have_badlist = true;
		return;
	}
	if (!(f = fopen(ctx->badblocks_file, "r"))) {
		error("cannot read %s: %s", ctx->badblocks_file, strerror(errno));
		exit(FSCK_ERROR);
	}
	do {
		text = xgrow(text, &cap, len + 4097, 1);
		got = fread(text + len, 1, 4096, f);
		len += got;
	} while (got);
	fclose(f);
	text[len] = 0;
	rc = pmcfs_badblocks_parse(text, &ctx->badv, &ctx->nbadv, &line);
	free(text);
	if (rc) {
		error("cannot read %s: line %u: expected \"SECTOR [COUNT]\"", ctx->badblocks_file, line);
		exit(FSCK_ERROR);
	}
	pmcfs_badranges_normalize(ctx->badv, &ctx->nbadv);
	ctx->have_badlist = true;
}

static void open_device(struct fsck_ctx *ctx)
{
	char mnt[512];
	bool mounted = false;
	int rc = pmcfs_probe_mounted(ctx->device, mnt, sizeof(mnt), &mounted);

	if (rc && rc != -ENOENT)
		warnmsg("cannot tell whether %s is mounted: %s", ctx->device, pmcfs_strerror(rc));
	if (mounted && ctx->mode != MODE_NO) {
		error("%s is mounted on %s: refusing to repair a mounted filesystem (use -n to check only)",
		      ctx->device, mnt);
		exit(FSCK_ERROR);
	}
	if (mounted)
		warnmsg("%s is mounted on %s: checking what is on the media, which may lag the kernel",
			ctx->device, mnt);
	rc = pmcfs_dev_open(ctx->device, ctx->mode == MODE_NO ? PMCFS_DEV_RDONLY : PMCFS_DEV_EXCL,
			    &ctx->dev);
	if (rc) {
		error("cannot open %s: %s", ctx->device, pmcfs_strerror(rc));
		exit(FSCK_ERROR);
	}
}

static void json_str(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c < 0x20)
			printf("\\u%04x", c);
		else
			putchar(c);
	}
	putchar('"');
}

static void print_json(const struct fsck_ctx *ctx, int status)
{
	const struct fsck_stats *st = &ctx->st;

	printf("{\"device\":");
	json_str(ctx->device);
	printf(",\"findings\":[");
	for (size_t i = 0; i < ctx->nfindings; i++) {
		const struct fsck_problem *p = fsck_problem_find(ctx->findings[i].code);
		char id[8];
		printf("%s{\"code\":\"%s\",\"name\":\"%s\",\"severity\":\"%s\",\"message\":", i ? "," : "",
		       fsck_problem_id(p->code, id), p->name,
		       p->severity == SEV_WARNING ? "warning" : "error");
		json_str(p->msg);
		printf(",\"detail\":");
		json_str(ctx->findings[i].detail);
		printf(",\"fix\":");
		json_str(p->fix);
		printf(",\"answer\":\"%s\"}", ctx->findings[i].answer);
	}
	printf("],\"summary\":{\"subvolumes\":%llu,\"snapshots\":%llu,\"files\":%llu,\"directories\":%llu,"
	       "\"blocks\":%llu,\"blocks_used\":%llu,\"tree_blocks\":%llu,\"extents\":%llu,"
	       "\"blocks_shared\":%llu,\"extra_references\":%llu,\"bytes_saved_min\":%llu},",
	       (unsigned long long)st->subvols, (unsigned long long)st->snapshots,
	       (unsigned long long)st->files, (unsigned long long)st->dirs,
	       (unsigned long long)ctx->nblocks, (unsigned long long)st->used,
	       (unsigned long long)st->tree_blocks, (unsigned long long)st->extents,
	       (unsigned long long)st->shared, (unsigned long long)st->extra_refs,
	       (unsigned long long)st->extra_refs * PMCFS_BLOCK_SIZE);
	printf("\"errors_fixed\":%u,\"errors_left\":%u,\"warnings\":%u,\"modified\":%s,"
	       "\"namespace_checked\":%s,\"exit\":%d}\n", ctx->errors_fixed, ctx->errors_left,
	       ctx->warnings, ctx->modified ? "true" : "false", st->ns_checked ? "true" : "false", status);
}

static void print_summary(const struct fsck_ctx *ctx)
{
	const struct fsck_stats *st = &ctx->st;
	const char *d = ctx->device;

	out(ctx, "%s: %llu subvolumes (%llu snapshots), %llu/%llu blocks used, %llu tree blocks, %llu extents\n",
	    d, (unsigned long long)st->subvols, (unsigned long long)st->snapshots,
	    (unsigned long long)st->used, (unsigned long long)ctx->nblocks,
	    (unsigned long long)st->tree_blocks, (unsigned long long)st->extents);
	out(ctx, "%s: %llu blocks shared, %llu extra references: at least %llu bytes saved by sharing\n",
	    d, (unsigned long long)st->shared, (unsigned long long)st->extra_refs,
	    (unsigned long long)st->extra_refs * PMCFS_BLOCK_SIZE);
	out(ctx, "%s: %llu files, %llu directories (in %llu subvolumes, each snapshot counted)\n", d,
	    (unsigned long long)st->files, (unsigned long long)st->dirs,
	    (unsigned long long)st->subvols);
	if (ctx->errors_fixed || ctx->errors_left || ctx->warnings)
		out(ctx, "%s: %u errors fixed, %u left uncorrected, %u warnings\n", d,
		    ctx->errors_fixed, ctx->errors_left, ctx->warnings);
	if (ctx->modified)
		out(ctx, "\n%s: ***** FILESYSTEM WAS MODIFIED *****\n", d);
}

static int run_pass(struct fsck_ctx *ctx, const struct fsck_pass *p)
{
	int rc;

	if (ctx->mode != MODE_PREEN)
		out(ctx, "Pass %d: %s\n", p->num, p->name);
	progress_start(ctx, p->num, p->name);
	rc = p->run(ctx);
	progress_end(ctx);
	problems_flush(ctx);
	return rc;
}

int main(int argc, char **argv)
{
	struct fsck_ctx ctx;
	int status = 0, rc = 0;
	unsigned left_after_pass1;

	memset(&ctx, 0, sizeof(ctx));
	parse_args(argc, argv, &ctx);
	if (ctx.mode == MODE_ASK && !(isatty(0) && isatty(1))) {
		error("need -n, -p or -y when not run from a terminal");
		return FSCK_ERROR;
	}
	ctx.tty_progress = !ctx.json && (ctx.progress_fd == 0 || (ctx.progress_fd < 0 && isatty(2)));
	if (ctx.progress_fd == 0)
		ctx.progress_fd = -1;
	ctx.shown = xcalloc(fsck_problem_count, sizeof(*ctx.shown));
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	open_device(&ctx);
	load_badblocks(&ctx);

	rc = run_pass(&ctx, &passes[0]);
	left_after_pass1 = ctx.errors_left;
	while (!rc && !ctx.fatal && !fsck_cancelled) {
		for (size_t i = 1; i < NPASSES && !rc && !ctx.fatal && !fsck_cancelled &&
				   !ctx.restart_now; i++)
			rc = run_pass(&ctx, &passes[i]);
		if (!ctx.restart || rc || ctx.fatal || fsck_cancelled || ++ctx.restarts > 3)
			break;
		ctx.restart = ctx.restart_now = false;
		/* Passes 2-6 run again and find again whatever is still wrong. */
		ctx.errors_left = left_after_pass1;
		pass2_release(&ctx);
		if (ctx.reopen) {	/* another commit is current: all of it is new */
			out(&ctx, "Restarting from pass 1 on the commit rolled back to\n");
			ctx.reopen = false;
			ctx.bad_recorded = false;	/* the older commit's map may not record them */
			pmcfs_fs_close(ctx.fs);
			ctx.fs = NULL;
			rc = run_pass(&ctx, &passes[0]);
			left_after_pass1 = ctx.errors_left;
		} else {
			out(&ctx, "Restarting from pass 2 to recount after the repairs above\n");
		}
	}
	if (!ctx.json && ctx.preen_unexpected)
		printf("%s: UNEXPECTED INCONSISTENCY; RUN fsck.pmcfs MANUALLY (without -a or -p)\n",
		       ctx.device);
	if (ctx.errors_fixed)
		status |= FSCK_NONDESTRUCT;
	if (ctx.errors_left)
		status |= FSCK_UNCORRECTED;
	if (rc || ctx.fatal)
		status |= FSCK_ERROR;
	if (fsck_cancelled) {
		status |= FSCK_CANCELED;
		error("%s: check cancelled by a signal", ctx.device);
	}
	if (!rc && !ctx.fatal && !fsck_cancelled)
		print_summary(&ctx);
	if (ctx.json)
		print_json(&ctx, status);
	pass2_release(&ctx);
	findings_free(&ctx);
	pmcfs_fs_close(ctx.fs);
	if (ctx.dev)
		pmcfs_dev_close(ctx.dev);
	free(ctx.badv);
	refs_free(&ctx.move);
	free(ctx.tmove);
	free(ctx.shown);
	free(ctx.lost);
	free(ctx.lost_said);
	return status;
}

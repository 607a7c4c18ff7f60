// SPDX-License-Identifier: MIT
/*
 * Command line: each option is declared once, in opts[], which drives
 * both getopt_long and --help (so the two cannot drift apart).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "mkfs.h"

/* Options without a short form take a key above any letter. */
enum { OPT_DEDUPE = 256 };

struct opt {
	int key;		/* short option letter, or OPT_* */
	const char *name;	/* long option */
	const char *arg;	/* argument name, NULL for a flag */
	const char *help;
};

static const struct opt opts[] = {
	{ 'L', "label", "LABEL", "filesystem label, up to 64 bytes" },
	{ 'U', "uuid", "UUID", "filesystem UUID, or \"random\" (the default) or \"time\"" },
	{ 's', "size", "SIZE", "filesystem size; creates or extends an image file (K/M/G/T/P suffixes)" },
	{ 'a', "align", "ALIGN", "DAX alignment override: power of two, 4K to 1G (default: namespace, 2M)" },
	{ 'l', "badblocks", "FILE", "bad-block list: \"SECTOR [COUNT]\" per line, 512-byte sectors" },
	{ 'd', "populate", "DIR", "copy the tree under DIR into the new filesystem" },
	{ OPT_DEDUPE, "dedupe", NULL, "with --populate: share identical 4 KiB blocks" },
	{ 'f', "force", NULL, "overwrite an existing filesystem or partition table" },
	{ 'n', "dry-run", NULL, "print the geometry and exit without writing" },
	{ 'q', "quiet", NULL, "print nothing but errors and warnings" },
	{ 'V', "version", NULL, "print the version and exit" },
	{ 'h', "help", NULL, "print this help and exit" },
};
#define NOPTS (sizeof(opts) / sizeof(opts[0]))

static void usage(FILE *f)
{
	size_t i;

	fprintf(f, "usage: %s [options] DEVICE\n\n", PROG);
	fprintf(f, "Format DEVICE (a pmem namespace /dev/pmemN, a devdax device /dev/daxN.M,\n"
		   "a block device or an image file) as a pmcfs filesystem.\n\n");
	for (i = 0; i < NOPTS; i++) {
		char left[40];

		if (opts[i].key > 255)
			snprintf(left, sizeof(left), "    --%s%s%s", opts[i].name,
				 opts[i].arg ? " " : "", opts[i].arg ? opts[i].arg : "");
		else
			snprintf(left, sizeof(left), "-%c, --%s%s%s", opts[i].key, opts[i].name,
				 opts[i].arg ? " " : "", opts[i].arg ? opts[i].arg : "");
		fprintf(f, "  %-26s %s\n", left, opts[i].help);
	}
	fprintf(f, "\nExit status: 0 success, 1 operational error, 2 usage error.\n");
}

static __attribute__((noreturn)) void bad_usage(const char *fmt, const char *arg)
{
	fprintf(stderr, "%s: ", PROG);
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\nTry '%s --help' for more information.\n", PROG);
	exit(EXIT_USAGE);
}

/* The option getopt just rejected: "-x" from a bundle, or "--long". */
static const char *optname(const char *arg)
{
	static char shortopt[3] = "-?";

	if (optopt && strncmp(arg, "--", 2)) {
		shortopt[1] = (char)optopt;
		return shortopt;
	}
	return arg;
}

void parse_args(int argc, char **argv, struct cli_params *cli)
{
	struct option lopts[NOPTS + 1];
	char sopts[NOPTS * 2 + 2], *p = sopts;
	size_t i;
	int c;

	*p++ = ':';	/* report a missing argument as ':' */
	for (i = 0; i < NOPTS; i++) {
		lopts[i] = (struct option){ opts[i].name,
			opts[i].arg ? required_argument : no_argument, NULL, opts[i].key };
		if (opts[i].key > 255)
			continue;
		*p++ = (char)opts[i].key;
		if (opts[i].arg)
			*p++ = ':';
	}
	*p = '\0';
	memset(&lopts[NOPTS], 0, sizeof(lopts[NOPTS]));

	opterr = 0;
	memset(cli, 0, sizeof(*cli));
	while ((c = getopt_long(argc, argv, sopts, lopts, NULL)) != -1) {
		switch (c) {
		case 'L': cli->label = optarg; break;
		case 'U': cli->uuid = optarg; break;
		case 's': cli->size = optarg; break;
		case 'a': cli->align = optarg; break;
		case 'l': cli->badblocks = optarg; break;
		case 'd': cli->populate = optarg; break;
		case OPT_DEDUPE: cli->dedupe = true; break;
		case 'f': cli->force = true; break;
		case 'n': cli->dry_run = true; break;
		case 'q': cli->quiet = true; break;
		case 'V':
			printf("%s %s\n", PROG, PMCFS_VERSION);
			exit(EXIT_OK);
		case 'h':
			usage(stdout);
			exit(EXIT_OK);
		case ':':
			bad_usage("option requires an argument: %s", optname(argv[optind - 1]));
		default:
			bad_usage("unknown option: %s", optname(argv[optind - 1]));
		}
	}
	if (optind >= argc)
		bad_usage("missing DEVICE%s", "");
	if (optind + 1 < argc)
		bad_usage("too many arguments: %s", argv[optind + 1]);
	cli->device = argv[optind];
}

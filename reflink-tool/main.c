// SPDX-License-Identifier: MIT
/*
 * pmcfs-reflink: clone, dedupe and extent inspection through the remap
 * ioctls, and a dedupe scanner. Subcommands come from one const table
 * (as btrfs-progs' cmds/); each has an option table that drives both
 * getopt_long and its --help.
 */
#include <getopt.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "reflink_priv.h"

#ifndef PMCFS_VERSION
#define PMCFS_VERSION "0.1"
#endif

static const struct rl_cmd commands[] = {
	{ "clone", cmd_clone, cmd_clone_usage, cmd_clone_options },
	{ "clone-range", cmd_clone_range, cmd_clone_range_usage, cmd_clone_range_options },
	{ "dedupe", cmd_dedupe, cmd_dedupe_usage, cmd_dedupe_options },
	{ "extents", cmd_extents, cmd_extents_usage, cmd_extents_options },
	{ "scan", cmd_scan, cmd_scan_usage, cmd_scan_options },
	{ "snapshot", cmd_snapshot, cmd_snapshot_usage, cmd_snapshot_options },
};
#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

#define MAX_OPTIONS 32

void rl_usage(const struct rl_cmd *cmd, FILE *f)
{
	const struct rl_option *o;
	const char *const *u;
	bool synopsis = true;

	for (u = cmd->usage; *u; u++) {
		if (!**u)
			synopsis = false;
		fprintf(f, "%s%s\n", synopsis ? "usage: " PROG " " : "", *u);
	}
	if (!cmd->options || !cmd->options->long_name)
		return;
	fprintf(f, "\noptions:\n");
	for (o = cmd->options; o->long_name; o++) {
		char left[64], sh[8] = "    ";

		if (o->val < 256)
			snprintf(sh, sizeof(sh), "-%c, ", o->val);
		snprintf(left, sizeof(left), "%s--%s%s%s", sh, o->long_name,
			 o->has_arg ? " " : "", o->has_arg ? o->argname : "");
		fprintf(f, "  %-26s %s\n", left, o->help);
	}
}

void rl_usage_error(const struct rl_cmd *cmd, const char *fmt, ...)
{
	char buf[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	fprintf(stderr, "%s: %s\n", PROG, buf);
	rl_usage(cmd, stderr);
	exit(RL_EXIT_USAGE);
}

int rl_getopt(const struct rl_cmd *cmd, int argc, char **argv)
{
	static const struct rl_cmd *built;
	static struct option longopts[MAX_OPTIONS + 1];
	static char shortopts[2 * MAX_OPTIONS + 2];
	const struct rl_option *o;
	int c, n = 0;
	size_t s = 0;

	if (built != cmd) {
		built = cmd;
		/* ':' first: a missing argument is told apart from an
		 * unknown option. Operands may come before options (GNU). */
		shortopts[s++] = ':';
		for (o = cmd->options; o && o->long_name && n < MAX_OPTIONS; o++, n++) {
			longopts[n] = (struct option){ o->long_name, o->has_arg, NULL, o->val };
			if (o->val < 256) {
				shortopts[s++] = (char)o->val;
				if (o->has_arg)
					shortopts[s++] = ':';
			}
		}
		longopts[n] = (struct option){ 0 };
		shortopts[s] = 0;
		optind = 1;
	}
	opterr = 0;
	c = getopt_long(argc, argv, shortopts, longopts, NULL);
	if (c == OPT_HELP) {
		rl_usage(cmd, stdout);
		exit(RL_EXIT_OK);
	}
	if (c == '?')
		rl_usage_error(cmd, "%s: unknown option '%s'", cmd->name, argv[optind - 1]);
	if (c == ':')
		rl_usage_error(cmd, "%s: option '%s' needs an argument", cmd->name,
			       argv[optind - 1]);
	return c;
}

static void main_usage(FILE *f)
{
	size_t i;

	fprintf(f, "usage: %s [--image IMG] COMMAND [OPTIONS] ARGS...\n\ncommands:\n", PROG);
	for (i = 0; i < NCOMMANDS; i++)
		fprintf(f, "  %s %s\n", PROG, commands[i].usage[0]);
	fprintf(f, "\n--image IMG works on the unmounted pmcfs image (or device) IMG through\n"
		"libpmcfs instead of the kernel; paths are then inside the image, from\n"
		"the root of its live filesystem, and NAME@/PATH is PATH in snapshot NAME.\n"
		"\n%s COMMAND --help shows the options of a command.\n"
		"%s --version prints the version.\n", PROG, PROG);
}

int main(int argc, char **argv)
{
	size_t i;

	/* The one global option: --image IMG (or --image=IMG) first. */
	while (argc >= 2 && !strncmp(argv[1], "--image", 7) &&
	       (argv[1][7] == 0 || argv[1][7] == '=')) {
		const char *prev = rl_image_path;

		if (argv[1][7] == '=') {
			rl_image_path = argv[1] + 8;
			argc--, argv++;
		} else if (argc >= 3) {
			rl_image_path = argv[2];
			argc -= 2, argv += 2;
		} else {
			fprintf(stderr, "%s: --image needs an argument\n", PROG);
			return RL_EXIT_USAGE;
		}
		if (!*rl_image_path) {
			fprintf(stderr, "%s: --image needs an argument\n", PROG);
			return RL_EXIT_USAGE;
		}
		/* Each image is a filesystem of its own: no reflink crosses
		 * two (what EXDEV means for mounts). */
		if (prev && strcmp(prev, rl_image_path)) {
			fprintf(stderr, "%s: --image given twice: one image per run; data "
				"cannot be shared across images (each is its own filesystem)\n", PROG);
			return RL_EXIT_USAGE;
		}
		rl_ops = &rl_image_ops;
	}
	if (argc < 2) {
		main_usage(stderr);
		return RL_EXIT_USAGE;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
		main_usage(stdout);
		return RL_EXIT_OK;
	}
	if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-V")) {
		printf("%s %s\n", PROG, PMCFS_VERSION);
		return RL_EXIT_OK;
	}
	for (i = 0; i < NCOMMANDS; i++)
		if (!strcmp(argv[1], commands[i].name))
			return rl_backend_end(commands[i].fn(&commands[i], argc - 1, argv + 1));
	fprintf(stderr, "%s: unknown command '%s'\n", PROG, argv[1]);
	main_usage(stderr);
	return RL_EXIT_USAGE;
}

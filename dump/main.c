// SPDX-License-Identifier: MIT
/*
 * pmcfs-dump: print (and, for tests, poke) the on-media structures of a
 * pmcfs filesystem.
 *
 *   pmcfs-dump [OPTIONS] SUBCOMMAND [ARGS...] DEVICE
 *
 * The device is always last; options may come anywhere before a "--".
 * Subcommands are rows of commands[]; options are rows of opts[], which
 * drive getopt_long and --help alike (git's parse-options model). An
 * image is untrusted input: every read is bounds-checked, anything that
 * fails a check is reported and the run exits 1; usage errors exit 2.
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "dump.h"

struct dump_opts opt = { .slot = -1 };
int exit_status = EXIT_OK;

static const struct command commands[] = {
	{ "super", cmd_super, cmd_super_usage, 0, 0 },
	{ "tree", cmd_tree, cmd_tree_usage, 1, 1 },
	{ "alloc", cmd_alloc, cmd_alloc_usage, 0, 0 },
	{ "block", cmd_block, cmd_block_usage, 1, 1 },
	{ "set", cmd_set, cmd_set_usage, 2, 2 },
	{ "ls", cmd_ls, cmd_ls_usage, 1, 1 },
	{ "stat", cmd_stat, cmd_stat_usage, 1, 1 },
	{ "extents", cmd_extents, cmd_extents_usage, 1, 1 },
	{ "cat", cmd_cat, cmd_cat_usage, 1, 1 },
	{ "snapshots", cmd_snapshots, cmd_snapshots_usage, 0, 0 },
	{ "owners", cmd_owners, cmd_owners_usage, 1, 1 },
	{ "extract", cmd_extract, cmd_extract_usage, 2, 2 },
};
#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

enum { OPT_NO_CRC = 256, OPT_SNAPSHOT };

struct opt_def {
	int key;		/* short letter, or >= 256 for a long-only option */
	const char *name;	/* long option */
	const char *arg;	/* argument name, NULL for a flag */
	const char *cmd;	/* the subcommands that take it (space-separated), NULL for all */
	const char *help;
};

static const struct opt_def opts[] = {
	{ 'j', "json", NULL, NULL, "print one JSON document instead of text" },
	{ 's', "slot", "SLOT", "set tree alloc ls stat extents cat snapshots owners extract",
	  "read the commit in SLOT (A or B), not the newest; set: a commit slot field" },
	{ 'r', "replica", NULL, "set", "set: the replica copy (of the superblock, or of --slot)" },
	{ 'b', "block", "BLKNO", "set", "set: a header field of the tree block BLKNO" },
	{ OPT_NO_CRC, "no-crc", NULL, "set", "set: leave the checksum as it is (craft a bad crc)" },
	{ 'l', "long", NULL, "ls", "ls: mode, links, owner, size, mtime, symlink target" },
	{ 'R', "recursive", NULL, "ls", "ls: list subdirectories recursively" },
	{ OPT_SNAPSHOT, "snapshot", "NAME", "ls stat extents cat extract",
	  "resolve PATH in the snapshot (subvolume) NAME" },
	{ 'f', "force", NULL, "extract", "extract: replace files that exist in DESTDIR" },
	{ 'V', "version", NULL, NULL, "print the version and exit" },
	{ 'h', "help", NULL, NULL, "print this help (or the subcommand's) and exit" },
};
#define NOPTS (sizeof(opts) / sizeof(opts[0]))

static void vmsg(const char *fmt, va_list ap)
{
	fflush(stdout);		/* keep stdout and stderr in order on a tty */
	fprintf(stderr, "%s: ", PROG);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

int error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmsg(fmt, ap);
	va_end(ap);
	return -1;
}

void corrupt(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmsg(fmt, ap);
	va_end(ap);
	exit_status = EXIT_CORRUPT;
}

void die(int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmsg(fmt, ap);
	va_end(ap);
	exit(code);
}

void usage_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmsg(fmt, ap);
	va_end(ap);
	fprintf(stderr, "Try '%s --help' for more information.\n", PROG);
	exit(EXIT_USAGE);
}

void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);

	if (!p)
		die(EXIT_CORRUPT, "out of memory: %zu x %zu bytes", n, size);
	return p;
}

int parse_u64(const char *s, uint64_t *ret)
{
	char *end;

	errno = 0;
	if (!s[0] || s[0] == '-' || s[0] == ' ')
		return -EINVAL;
	*ret = strtoull(s, &end, 0);
	return *end || errno ? -EINVAL : 0;
}

struct pmcfs_dev *open_device(unsigned flags)
{
	struct pmcfs_dev *dev;
	int err = pmcfs_dev_open(opt.device, flags, &dev);

	if (err)
		die(EXIT_CORRUPT, "cannot open %s: %s", opt.device, pmcfs_strerror(err));
	return dev;
}

/* --slot: that slot's record, or its replica's if the primary is not valid. */
static struct pmcfs_fs *open_slot(struct pmcfs_dev *dev)
{
	static const char *const names[] = { "A", "B" };
	unsigned flags = PMCFS_OPEN_RDONLY | PMCFS_OPEN_NOSPACE;
	struct pmcfs_fs *fs;
	int err = pmcfs_fs_open_slot(dev, flags, opt.slot, &fs);

	if (err && err != -EINVAL && !pmcfs_fs_open_slot(dev, flags, opt.slot + 2, &fs))
		return fs;
	if (err == -ENODATA)
		die(EXIT_CORRUPT, "commit slot %s of %s holds no commit record (see '%s super %s')",
		    names[opt.slot], opt.device, PROG, opt.device);
	if (err)
		die(EXIT_CORRUPT, "cannot open the commit in slot %s of %s: %s (see '%s super %s')",
		    names[opt.slot], opt.device, pmcfs_strerror(err), PROG, opt.device);
	return fs;
}

struct pmcfs_fs *open_fs(struct pmcfs_dev *dev)
{
	struct pmcfs_fs *fs;
	int err;

	if (opt.slot >= 0)
		return open_slot(dev);
	err = pmcfs_fs_open(dev, PMCFS_OPEN_RDONLY | PMCFS_OPEN_NOSPACE, &fs);
	if (err)
		die(EXIT_CORRUPT, "cannot open the filesystem on %s: %s (see '%s super %s')",
		    opt.device, pmcfs_strerror(err), PROG, opt.device);
	return fs;
}

static bool hex_check(const char *check)
{
	return !strcmp(check, "crc") || !strcmp(check, "magic");
}

/* "crc: expected 0x1234, found 0x5678 (bad checksum)" */
const char *verify_text(const struct pmcfs_verify_err *why, char *buf, size_t sz)
{
	int n = 0;

	if (why->item >= 0)
		n = snprintf(buf, sz, "item %d: ", why->item);
	if (n < 0 || (size_t)n >= sz)
		return buf;
	if (!why->check)
		snprintf(buf + n, sz - n, "%s", pmcfs_strerror(why->code));
	else if (why->expected == 0 && why->found == 0)
		snprintf(buf + n, sz - n, "%s (%s)", why->check, pmcfs_strerror(why->code));
	else
		snprintf(buf + n, sz - n, hex_check(why->check) ? "%s: expected 0x%llx, found 0x%llx (%s)" :
			 "%s: expected %llu, found %llu (%s)", why->check,
			 (unsigned long long)why->expected, (unsigned long long)why->found,
			 pmcfs_strerror(why->code));
	return buf;
}

void json_verify_err(const char *key, const struct pmcfs_verify_err *why)
{
	char buf[256];

	json_obj_begin(key);
	json_str("check", why->check);
	json_str("error", pmcfs_strerror(why->code));
	json_u64("expected", why->expected);
	json_u64("found", why->found);
	if (why->item >= 0)
		json_u64("item", why->item);
	else
		json_null("item");
	json_str("message", verify_text(why, buf, sizeof(buf)));
	json_obj_end();
}

const char *key_type_name(unsigned type)
{
	switch (type) {
	case PMCFS_KEY_INODE: return "INODE";
	case PMCFS_KEY_INODE_REF: return "INODE_REF";
	case PMCFS_KEY_DIR_ENTRY: return "DIR_ENTRY";
	case PMCFS_KEY_DIR_INDEX: return "DIR_INDEX";
	case PMCFS_KEY_EXTENT: return "EXTENT";
	case PMCFS_KEY_XATTR: return "XATTR";
	case PMCFS_KEY_SYMLINK: return "SYMLINK";
	case PMCFS_KEY_ORPHAN: return "ORPHAN";
	case PMCFS_KEY_ROOT: return "ROOT";
	case PMCFS_KEY_NEXT_SUBVOL: return "NEXT_SUBVOL";
	case PMCFS_KEY_SPACE_RUN: return "SPACE_RUN";
	}
	return "UNKNOWN";
}

const char *owner_name(uint32_t owner, uint32_t refcount)
{
	switch (owner) {
	case PMCFS_OWNER_FS: return refcount ? "fs" : "free";
	case PMCFS_OWNER_BADBLOCK: return "bad";
	case PMCFS_OWNER_SUPER: return "super";
	}
	return "unknown";
}

/* Does the space-separated list hold word? */
static bool takes(const char *list, const char *word)
{
	size_t n = strlen(word);

	for (const char *p = list; (p = strstr(p, word)); p += n)
		if ((p == list || p[-1] == ' ') && (p[n] == ' ' || !p[n]))
			return true;
	return false;
}

static void usage(FILE *f, const struct command *only)
{
	char left[48];
	size_t i;

	if (only) {
		fprintf(f, "usage: %s [options] %s DEVICE\n\n", PROG, only->usage[0]);
		for (i = 1; only->usage[i]; i++)
			fprintf(f, "%s\n", only->usage[i]);
	} else {
		fprintf(f, "usage: %s [options] SUBCOMMAND [ARGS...] DEVICE\n\n", PROG);
		fprintf(f, "Print the superblock, commit slots, trees, space map, files and\n"
			   "snapshots of the pmcfs filesystem on DEVICE (a pmem namespace, devdax\n"
			   "device, block device or image file), or extract files from it. Only\n"
			   "'set' writes to DEVICE.\n\nSubcommands:\n");
		for (i = 0; i < NCOMMANDS; i++)
			fprintf(f, "  %-40s %s\n", commands[i].usage[0], commands[i].usage[1]);
	}
	fprintf(f, "\nOptions:\n");
	for (i = 0; i < NOPTS; i++) {
		if (only && opts[i].cmd && !takes(opts[i].cmd, only->name))
			continue;
		if (opts[i].key < 256)
			snprintf(left, sizeof(left), "-%c, --%s%s%s", opts[i].key, opts[i].name,
				 opts[i].arg ? " " : "", opts[i].arg ? opts[i].arg : "");
		else
			snprintf(left, sizeof(left), "    --%s%s%s", opts[i].name,
				 opts[i].arg ? " " : "", opts[i].arg ? opts[i].arg : "");
		fprintf(f, "  %-26s %s\n", left, opts[i].help);
	}
	fprintf(f, "\nExit status: 0 success, 1 something unreadable or corrupt (or an\n"
		   "operational error), 2 usage error.\n");
}

/* The option getopt just rejected: "-x" from a bundle, or "--long". */
static const char *optname(const char *arg)
{
	static char shortopt[3] = "-?";

	if (optopt && optopt < 256 && strncmp(arg, "--", 2)) {
		shortopt[1] = (char)optopt;
		return shortopt;
	}
	return arg;
}

static const struct command *find_command(const char *name)
{
	for (size_t i = 0; i < NCOMMANDS; i++)
		if (!strcmp(commands[i].name, name))
			return &commands[i];
	return NULL;
}

static int parse_slot(const char *s)
{
	if (!strcasecmp(s, "A"))
		return PMCFS_SLOT_A;
	if (!strcasecmp(s, "B"))
		return PMCFS_SLOT_B;
	usage_error("invalid slot '%s': expected A or B", s);
}

int main(int argc, char **argv)
{
	struct option lopts[NOPTS + 1];
	char sopts[NOPTS * 2 + 2], *p = sopts;
	const char *given[NOPTS];
	const struct command *cmd = NULL;
	bool help = false;
	int c, nargs, ret;
	size_t i;

	*p++ = ':';	/* report a missing argument as ':' */
	for (i = 0; i < NOPTS; i++) {
		lopts[i] = (struct option){ opts[i].name,
			opts[i].arg ? required_argument : no_argument, NULL, opts[i].key };
		if (opts[i].key < 256) {
			*p++ = (char)opts[i].key;
			if (opts[i].arg)
				*p++ = ':';
		}
		given[i] = NULL;
	}
	*p = '\0';
	memset(&lopts[NOPTS], 0, sizeof(lopts[NOPTS]));

	opterr = 0;
	while ((c = getopt_long(argc, argv, sopts, lopts, NULL)) != -1) {
		for (i = 0; i < NOPTS; i++)
			if (opts[i].key == c)
				given[i] = opts[i].name;
		switch (c) {
		case 'j': opt.json = true; break;
		case 's': opt.slot = parse_slot(optarg); break;
		case 'r': opt.replica = true; break;
		case 'b':
			if (parse_u64(optarg, &opt.block))
				usage_error("invalid block number '%s'", optarg);
			opt.have_block = true;
			break;
		case OPT_NO_CRC: opt.no_crc = true; break;
		case 'l': opt.long_list = true; break;
		case 'R': opt.recursive = true; break;
		case 'f': opt.force = true; break;
		case OPT_SNAPSHOT: opt.snapshot = optarg; break;
		case 'V':
			printf("%s %s\n", PROG, PMCFS_VERSION);
			return EXIT_OK;
		case 'h': help = true; break;
		case ':':
			usage_error("option requires an argument: %s", optname(argv[optind - 1]));
		default:
			usage_error("unknown option: %s", optname(argv[optind - 1]));
		}
	}
	if (optind < argc && !(cmd = find_command(argv[optind])) && !help)
		usage_error("unknown subcommand: %s", argv[optind]);
	if (help) {
		usage(stdout, cmd);
		return EXIT_OK;
	}
	if (!cmd)
		usage_error("missing SUBCOMMAND");
	for (i = 0; i < NOPTS; i++)
		if (given[i] && opts[i].cmd && !takes(opts[i].cmd, cmd->name))
			usage_error("%s: option --%s is only for %s", cmd->name, given[i], opts[i].cmd);
	nargs = argc - optind - 1;	/* ARGS and DEVICE */
	if (nargs < cmd->min_args + 1)
		usage_error("%s: missing %s", cmd->name, nargs == 0 ? "DEVICE" : "arguments or DEVICE");
	if (nargs > cmd->max_args + 1)
		usage_error("%s: too many arguments: %s", cmd->name, argv[optind + 1 + cmd->max_args + 1]);
	opt.device = argv[argc - 1];
	ret = cmd->fn(nargs - 1, argv + optind + 1);
	if (fflush(stdout) || ferror(stdout))
		die(EXIT_CORRUPT, "cannot write the output: %s", strerror(errno));
	return ret ? ret : exit_status;
}

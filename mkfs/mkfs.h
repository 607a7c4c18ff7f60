/* SPDX-License-Identifier: MIT */
/*
 * mkfs.pmcfs internals. The flow is staged as in xfsprogs' mkfs:
 * parse the command line into cli_params, merge defaults, validate and
 * compute one mkfs_params, print the geometry (and stop there on -n),
 * and only then write.
 */
#ifndef MKFS_H
#define MKFS_H

#include <stdbool.h>
#include <stdint.h>
#include "pmcfs.h"
#include "pmcfs_probe.h"

#define PROG "mkfs.pmcfs"

enum { EXIT_OK = 0, EXIT_OPER = 1, EXIT_USAGE = 2 };

/* Exactly what the user typed; nothing interpreted yet. */
struct cli_params {
	const char *device;
	const char *label;
	const char *uuid;
	const char *size;
	const char *align;
	const char *badblocks;
	const char *populate;		/* -d DIR */
	bool dedupe;
	bool force;
	bool dry_run;
	bool quiet;
};

/* Everything mkfs will do, validated. */
struct mkfs_params {
	const char *device;
	enum pmcfs_probe_kind kind;
	bool exists;			/* false: image file created by -s */
	uint64_t size_opt;		/* -s in bytes, 0 if absent */
	uint64_t dev_size;		/* device bytes (image: after -s) */
	bool force, dry_run, quiet;
	const char *populate;		/* checked readable before writing */
	bool dedupe;
	bool dax;			/* libblkid topology / devdax */
	struct pmcfs_ns_info ns;
	struct pmcfs_signature *sigs;	/* foreign signatures to wipe */
	size_t nsigs;
	bool old_pmcfs;			/* a pmcfs superblock is present */
	struct pmcfs_badrange *bad;	/* merged, in blocks */
	size_t nbad;
	uint64_t bad_sysfs, bad_file;	/* blocks from each source */
	struct pmcfs_mkfs_params lib;
	struct pmcfs_geometry geo;
};

/* util.c: messages (git style) and die-on-error helpers. */
void warnmsg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
__attribute__((noreturn, format(printf, 2, 3)))
void die(int code, const char *fmt, ...);
void *xcalloc(size_t n, size_t size);
char *xreadfile(const char *path, size_t max);
int parse_size(const char *s, uint64_t *ret);
const char *human_size(uint64_t bytes, char *buf, size_t sz);

/* options.c */
void parse_args(int argc, char **argv, struct cli_params *cli);

/* device.c: probing and the device-side steps of writing. */
void probe_target(struct mkfs_params *mp);
const char *usage_text(const char *usage);
void load_badblocks(struct mkfs_params *mp, const char *file);
void check_badblocks(const struct mkfs_params *mp);
void prepare_image(const struct mkfs_params *mp);
struct pmcfs_dev *open_target(const struct mkfs_params *mp);
void wipe_signatures(const struct mkfs_params *mp, struct pmcfs_dev *dev);

/* populate.c: --populate DIR (and --dedupe). */
void populate_check(const char *dir);
int populate_fs(struct pmcfs_dev *dev, const char *device, const char *dir, bool dedupe,
		bool quiet);

#endif

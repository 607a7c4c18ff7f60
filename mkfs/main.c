// SPDX-License-Identifier: MIT
/*
 * mkfs.pmcfs: format a pmem namespace, devdax device, block device or
 * image file. Stages (as xfsprogs' mkfs): parse -> defaults -> validate
 * and compute -> print (and stop on --dry-run) -> write. Nothing touches
 * the device before the last stage.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <uuid/uuid.h>
#include "mkfs.h"

/* Stage 2: what an absent option means. */
static void merge_defaults(struct cli_params *cli)
{
	if (!cli->uuid)
		cli->uuid = "random";
	if (!cli->label)
		cli->label = "";
}

static void parse_uuid(const char *s, uint8_t out[16])
{
	if (!strcmp(s, "random")) {
		uuid_generate_random(out);
		return;
	}
	if (!strcmp(s, "time")) {
		uuid_generate_time(out);
		return;
	}
	if (uuid_parse(s, out) < 0)
		die(EXIT_USAGE, "invalid uuid '%s': expected 8-4-4-4-12 hex digits, \"random\" or \"time\"", s);
	if (uuid_is_null(out))
		die(EXIT_USAGE, "invalid uuid '%s': the nil uuid cannot identify a filesystem", s);
}

static uint32_t parse_align(const char *s)
{
	uint64_t v;

	if (parse_size(s, &v))
		die(EXIT_USAGE, "invalid alignment '%s': expected a power of two from 4K to 1G", s);
	if ((v & (v - 1)) || v < PMCFS_BLOCK_SIZE || v > (1u << 30))
		die(EXIT_USAGE, "invalid alignment '%s': expected a power of two from 4K to 1G", s);
	return (uint32_t)v;
}

static void geometry(struct mkfs_params *mp)
{
	uint64_t min = PMCFS_MIN_BLOCKS * (uint64_t)PMCFS_BLOCK_SIZE;
	uint64_t use = mp->lib.size ? mp->lib.size : mp->dev_size;
	char h[32];
	int rc;

	if (use > mp->dev_size)
		die(EXIT_OPER, "size too large: %llu bytes requested, %s has %llu bytes",
		    (unsigned long long)use, mp->device, (unsigned long long)mp->dev_size);
	/* The usable area is the size rounded down to 2 MiB. */
	if ((use & ~(uint64_t)(PMCFS_HUGE_SIZE - 1)) < min)
		die(EXIT_OPER, "device too small: %s has %llu bytes (%s), the minimum is %llu bytes (6 MiB)",
		    mp->device, (unsigned long long)use, human_size(use, h, sizeof(h)),
		    (unsigned long long)min);
	rc = pmcfs_mkfs_geometry(&mp->lib, mp->dev_size, &mp->geo);
	if (rc == -ENOSPC)
		die(EXIT_OPER, "device too small: %s leaves no data area after %llu bad blocks; the minimum is %llu bytes (6 MiB)",
		    mp->device, (unsigned long long)(mp->bad_sysfs + mp->bad_file),
		    (unsigned long long)min);
	if (rc)
		die(EXIT_OPER, "cannot compute the geometry of %s: %s", mp->device, pmcfs_strerror(rc));
}

/* Stage 3: validate every option and the device; compute the geometry. */
static void validate(const struct cli_params *cli, struct mkfs_params *mp)
{
	size_t len = strlen(cli->label);
	int rc;

	memset(mp, 0, sizeof(*mp));
	mp->device = cli->device;
	mp->force = cli->force;
	mp->dry_run = cli->dry_run;
	mp->quiet = cli->quiet;
	mp->populate = cli->populate;
	mp->dedupe = cli->dedupe;
	if (cli->dedupe && !cli->populate)
		die(EXIT_USAGE, "--dedupe needs --populate DIR: it shares blocks while populating");
	if (len > PMCFS_LABEL_MAX)
		die(EXIT_USAGE, "label too long: %zu bytes, the maximum is %d", len, PMCFS_LABEL_MAX);
	memcpy(mp->lib.label, cli->label, len + 1);
	parse_uuid(cli->uuid, mp->lib.uuid);
	if (cli->size) {
		rc = parse_size(cli->size, &mp->size_opt);
		if (rc)
			die(EXIT_USAGE, "invalid size '%s': %s", cli->size, rc == -ERANGE ?
			    "too large for 64 bits" :
			    "expected a positive number of bytes with an optional K, M, G, T or P suffix");
		mp->lib.size = mp->size_opt;
	}
	if (cli->align)
		mp->lib.dax_align = parse_align(cli->align);
	mp->lib.mkfs_time = (uint64_t)time(NULL);

	probe_target(mp);
	if (!cli->align && mp->ns.align >= PMCFS_BLOCK_SIZE && mp->ns.align <= (1u << 30) &&
	    !(mp->ns.align & (mp->ns.align - 1)))
		mp->lib.dax_align = (uint32_t)mp->ns.align;

	if (mp->populate)
		populate_check(mp->populate);	/* refuse an unreadable source before writing */
	geometry(mp);		/* first without bad blocks: where things are */
	load_badblocks(mp, cli->badblocks);
	check_badblocks(mp);
	mp->lib.bad = mp->bad;
	mp->lib.nbad = mp->nbad;
	geometry(mp);
}

static const char *kind_text(const struct mkfs_params *mp, char *buf, size_t sz)
{
	switch (mp->kind) {
	case PMCFS_PROBE_IMAGE:
		return mp->exists ? "image file, no DAX" : "new image file, no DAX";
	case PMCFS_PROBE_DAX:
		return "devdax character device, DAX";
	default:
		if (mp->ns.found)
			snprintf(buf, sz, "pmem %s namespace, %s", mp->ns.mode,
				 mp->dax ? "DAX" : "no DAX");
		else
			snprintf(buf, sz, "block device, %s", mp->dax ? "DAX" : "no DAX");
		return buf;
	}
}

static void print_geometry(const struct mkfs_params *mp)
{
	const struct pmcfs_geometry *g = &mp->geo;
	uint64_t bs = PMCFS_BLOCK_SIZE;
	char h[32], k[96], u[37];

	if (mp->quiet)
		return;
	printf("device:        %s (%s)\n", mp->device, kind_text(mp, k, sizeof(k)));
	if (mp->ns.found)
		printf("namespace:     %s, mode %s, %s, size %llu bytes, alignment %llu bytes\n",
		       mp->ns.name, mp->ns.mode, mp->ns.region, (unsigned long long)mp->ns.size,
		       (unsigned long long)mp->ns.align);
	printf("size:          %llu bytes (%s), %llu blocks of %llu bytes\n",
	       (unsigned long long)(g->nblocks * bs), human_size(g->nblocks * bs, h, sizeof(h)),
	       (unsigned long long)g->nblocks, (unsigned long long)bs);
	printf("DAX alignment: %u bytes (%s)\n", g->dax_align, human_size(g->dax_align, h, sizeof(h)));
	printf("data area:     blocks %llu-%llu (%llu blocks, %s)\n",
	       (unsigned long long)g->data_start, (unsigned long long)g->data_end - 1,
	       (unsigned long long)(g->data_end - g->data_start),
	       human_size((g->data_end - g->data_start) * bs, h, sizeof(h)));
	printf("label:         \"%s\"\n", mp->lib.label);
	uuid_unparse_lower(mp->lib.uuid, u);
	printf("uuid:          %s\n", u);
	printf("bad blocks:    %llu (%llu from the device, %llu from the list)\n",
	       (unsigned long long)g->bad_blocks, (unsigned long long)mp->bad_sysfs,
	       (unsigned long long)mp->bad_file);
}

/* Stage 5: the only stage that writes; then --populate. */
static int write_fs(struct mkfs_params *mp)
{
	struct pmcfs_dev *dev;
	size_t i;
	int rc;

	prepare_image(mp);
	dev = open_target(mp);
	/* Before the wipe, whose writes reach the old commit slots unordered. */
	if (mp->old_pmcfs && (rc = pmcfs_mkfs_retire_old(dev)))
		die(EXIT_OPER, "cannot retire the old filesystem on %s: %s", mp->device,
		    pmcfs_strerror(rc));
	wipe_signatures(mp, dev);
	if (!mp->old_pmcfs)
		mp->lib.flags |= PMCFS_MKFS_NO_OLD_FS;
	rc = pmcfs_mkfs(dev, &mp->lib, &mp->geo);	/* ends with a barrier */
	if (rc)
		die(EXIT_OPER, "cannot write the filesystem to %s: %s", mp->device, pmcfs_strerror(rc));
	for (i = 0; !mp->quiet && i < mp->nsigs; i++)
		printf("wiped:         %s %s at offset %llu\n", mp->sigs[i].type,
		       usage_text(mp->sigs[i].usage), (unsigned long long)mp->sigs[i].offset);
	if (!mp->quiet && mp->old_pmcfs)
		printf("wiped:         old pmcfs filesystem\n");
	if (!mp->quiet)
		printf("metadata:      %llu blocks written, %llu blocks free\n",
		       (unsigned long long)mp->geo.meta_blocks, (unsigned long long)mp->geo.free_blocks);
	rc = mp->populate ? populate_fs(dev, mp->device, mp->populate, mp->dedupe, mp->quiet) : EXIT_OK;
	pmcfs_dev_close(dev);
	return rc;
}

int main(int argc, char **argv)
{
	struct cli_params cli;
	struct mkfs_params mp;
	int rc = EXIT_OK;

	parse_args(argc, argv, &cli);
	merge_defaults(&cli);
	validate(&cli, &mp);
	print_geometry(&mp);
	if (mp.dry_run) {
		if (!mp.quiet)
			printf("dry run:       nothing written\n");
	} else
		rc = write_fs(&mp);
	free(mp.sigs);
	free(mp.bad);
	return rc;
}

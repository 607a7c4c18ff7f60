// SPDX-License-Identifier: MIT
/*
 * Which pmem namespace or dax device is behind a path (pmcfs_probe.h):
 * libndctl walks the NVDIMM buses, libdaxctl finds dax devices that no
 * namespace backs (hmem, CXL). Both are loaded at run time, and only for
 * a device that sysfs places on an NVDIMM bus or that is a dax device, so
 * probing an image file or an ordinary disk loads neither (pmemlibs_priv.h).
 */
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "pmcfs_probe.h"
#include "probe_priv.h"
#include "pmemlibs_priv.h"

/*
 * The headers' *_foreach macros and the code below call the libraries by
 * name; route each name through the loaded table L in scope.
 */
#define ndctl_new(c)				(L->ndctl_new(c))
#define ndctl_unref(c)				(L->ndctl_unref(c))
#define ndctl_bus_get_first(c)			(L->ndctl_bus_get_first(c))
#define ndctl_bus_get_next(b)			(L->ndctl_bus_get_next(b))
#define ndctl_region_get_first(b)		(L->ndctl_region_get_first(b))
#define ndctl_region_get_next(r)		(L->ndctl_region_get_next(r))
#define ndctl_region_get_devname(r)		(L->ndctl_region_get_devname(r))
#define ndctl_region_get_resource(r)		(L->ndctl_region_get_resource(r))
#define ndctl_region_get_first_badblock(r)	(L->ndctl_region_get_first_badblock(r))
#define ndctl_region_get_next_badblock(r)	(L->ndctl_region_get_next_badblock(r))
#define ndctl_namespace_get_first(r)		(L->ndctl_namespace_get_first(r))
#define ndctl_namespace_get_next(n)		(L->ndctl_namespace_get_next(n))
#define ndctl_namespace_get_btt(n)		(L->ndctl_namespace_get_btt(n))
#define ndctl_namespace_get_pfn(n)		(L->ndctl_namespace_get_pfn(n))
#define ndctl_namespace_get_dax(n)		(L->ndctl_namespace_get_dax(n))
#define ndctl_namespace_get_block_device(n)	(L->ndctl_namespace_get_block_device(n))
#define ndctl_namespace_get_mode(n)		(L->ndctl_namespace_get_mode(n))
#define ndctl_namespace_get_devname(n)		(L->ndctl_namespace_get_devname(n))
#define ndctl_btt_get_block_device(b)		(L->ndctl_btt_get_block_device(b))
#define ndctl_pfn_get_block_device(p)		(L->ndctl_pfn_get_block_device(p))
#define ndctl_pfn_get_align(p)			(L->ndctl_pfn_get_align(p))
#define ndctl_dax_get_daxctl_region(d)		(L->ndctl_dax_get_daxctl_region(d))
#define ndctl_dax_get_align(d)			(L->ndctl_dax_get_align(d))
#define daxctl_new(c)				(L->daxctl_new(c))
#define daxctl_unref(c)				(L->daxctl_unref(c))
#define daxctl_region_get_first(c)		(L->daxctl_region_get_first(c))
#define daxctl_region_get_next(r)		(L->daxctl_region_get_next(r))
#define daxctl_region_get_devname(r)		(L->daxctl_region_get_devname(r))
#define daxctl_dev_get_first(r)			(L->daxctl_dev_get_first(r))
#define daxctl_dev_get_next(d)			(L->daxctl_dev_get_next(d))
#define daxctl_dev_get_devname(d)		(L->daxctl_dev_get_devname(d))
#define daxctl_dev_get_size(d)			(L->daxctl_dev_get_size(d))
#define daxctl_dev_get_align(d)			(L->daxctl_dev_get_align(d))
#define daxctl_dev_get_resource(d)		(L->daxctl_dev_get_resource(d))

static const char *mode_name(enum ndctl_namespace_mode m)
{
	switch (m) {
	case NDCTL_NS_MODE_FSDAX:	return "fsdax";
	case NDCTL_NS_MODE_SECTOR:	return "sector";
	case NDCTL_NS_MODE_RAW:		return "raw";
	case NDCTL_NS_MODE_DEVDAX:	return "devdax";
	default:			return "unknown";
	}
}

/*
 * Walk buses, regions and namespaces for the one whose block device (raw,
 * btt or pfn personality) or dax device is devname. With bad set, also
 * collect the region's bad blocks for a devdax device (it has no block
 * device and so no badblocks attribute of its own).
 */
static int ndctl_lookup(const struct pmcfs_pmemlibs *L, const char *devname,
			struct pmcfs_ns_info *ret, struct pmcfs_badrange **bad, size_t *nbad)
{
	struct ndctl_ctx *ctx;
	struct ndctl_bus *bus;
	struct ndctl_region *region;
	struct ndctl_namespace *ndns;
	int rc = 0;

	if (ndctl_new(&ctx) < 0)
		return 0;	/* no libnvdimm here: nothing to find */
	ndctl_bus_foreach(ctx, bus) ndctl_region_foreach(bus, region)
	ndctl_namespace_foreach(region, ndns) {
		struct ndctl_btt *btt = ndctl_namespace_get_btt(ndns);
		struct ndctl_pfn *pfn = ndctl_namespace_get_pfn(ndns);
		struct ndctl_dax *dax = ndctl_namespace_get_dax(ndns);
		const char *bdev = NULL;

		ret->align = 0;
		if (btt) {
			bdev = ndctl_btt_get_block_device(btt);
			pmcfs_probe_copy_str(ret->mode, sizeof(ret->mode), "sector");
		} else if (pfn) {
			bdev = ndctl_pfn_get_block_device(pfn);
			pmcfs_probe_copy_str(ret->mode, sizeof(ret->mode), "fsdax");
			ret->align = ndctl_pfn_get_align(pfn);
		} else if (dax) {
			struct daxctl_region *dr = ndctl_dax_get_daxctl_region(dax);
			struct daxctl_dev *dd;

			daxctl_dev_foreach(dr, dd) {
				if (strcmp(daxctl_dev_get_devname(dd), devname))
					continue;
				pmcfs_probe_copy_str(ret->mode, sizeof(ret->mode), "devdax");
				ret->size = daxctl_dev_get_size(dd);
				ret->align = daxctl_dev_get_align(dd);
				if (!ret->align)
					ret->align = ndctl_dax_get_align(dax);
				bdev = devname;
				if (bad) {
					/* Region sectors -> device-relative sectors. */
					struct pmcfs_bb_ctx c = { .v = bad, .n = nbad };
					struct badblock *bb;
					uint64_t res = daxctl_dev_get_resource(dd);
					uint64_t rres = ndctl_region_get_resource(region);

					c.base = (res - rres) >> SECTOR_SHIFT;
					c.nsect = ret->size >> SECTOR_SHIFT;
					ndctl_region_badblock_foreach(region, bb) {
						rc = pmcfs_probe_bb_add(&c, bb->offset, bb->len);
						if (rc)
							goto out;
					}
				}
				break;
			}
		} else {
			bdev = ndctl_namespace_get_block_device(ndns);
			/* A legacy e820 namespace is fsdax without a pfn device. */
			pmcfs_probe_copy_str(ret->mode, sizeof(ret->mode),
				 mode_name(ndctl_namespace_get_mode(ndns)));
		}
		if (!bdev || strcmp(bdev, devname))
			continue;
		ret->found = true;
		ret->dax = !strcmp(ret->mode, "fsdax") || !strcmp(ret->mode, "devdax");
		pmcfs_probe_copy_str(ret->name, sizeof(ret->name), ndctl_namespace_get_devname(ndns));
		pmcfs_probe_copy_str(ret->devname, sizeof(ret->devname), devname);
		pmcfs_probe_copy_str(ret->region, sizeof(ret->region), ndctl_region_get_devname(region));
		goto out;
	}
	memset(ret, 0, sizeof(*ret));
out:
	ndctl_unref(ctx);
	return rc;
}

/* A dax device not backed by an NVDIMM namespace (hmem, CXL). */
static void daxctl_lookup(const struct pmcfs_pmemlibs *L, const char *devname,
			  struct pmcfs_ns_info *ret)
{
	struct daxctl_ctx *ctx;
	struct daxctl_region *r;
	struct daxctl_dev *d;

	if (daxctl_new(&ctx) < 0)
		return;
	daxctl_region_foreach(ctx, r) daxctl_dev_foreach(r, d) {
		if (strcmp(daxctl_dev_get_devname(d), devname))
			continue;
		ret->found = true;
		ret->dax = true;
		pmcfs_probe_copy_str(ret->name, sizeof(ret->name), devname);
		pmcfs_probe_copy_str(ret->mode, sizeof(ret->mode), "devdax");
		pmcfs_probe_copy_str(ret->devname, sizeof(ret->devname), devname);
		pmcfs_probe_copy_str(ret->region, sizeof(ret->region), daxctl_region_get_devname(r));
		ret->size = daxctl_dev_get_size(d);
		ret->align = daxctl_dev_get_align(d);
		goto out;
	}
out:
	daxctl_unref(ctx);
}

/* Resolve a partition to its whole disk: dir and name, plus its start. */
static void whole_disk(char *dir, const char **name, uint64_t *start, uint64_t *nsect)
{
	*start = 0;
	*nsect = pmcfs_probe_sysfs_u64(dir, "size");
	if (access(strcat(dir, "/partition"), F_OK) == 0) {
		*strrchr(dir, '/') = '\0';
		*start = pmcfs_probe_sysfs_u64(dir, "start");
		*strrchr(dir, '/') = '\0';
		*name = strrchr(dir, '/') + 1;
	} else
		*strrchr(dir, '/') = '\0';
}

/*
 * Is this sysfs device directory below an NVDIMM bus (ndbusN), so that
 * libndctl can know it? Everything else, from a loop device to an hmem
 * dax device, is decided without loading libndctl.
 */
static bool on_nd_bus(const char *dir)
{
	return strstr(dir, "/ndbus") != NULL;
}

/* The libraries that identifying (and for devdax, writing) path needs. */
static unsigned libs_for(enum pmcfs_probe_kind kind, const char *dir)
{
	unsigned nd = on_nd_bus(dir) ? PMCFS_LIB_NDCTL | PMCFS_LIB_DAXCTL : 0;

	return kind == PMCFS_PROBE_DAX ? nd | PMCFS_LIB_DAXCTL : nd;
}

static int probe_ns(const char *path, struct pmcfs_ns_info *ret,
		    struct pmcfs_badrange **bad, size_t *nbad)
{
	struct pmcfs_pmemlibs libs, *L = &libs;
	enum pmcfs_probe_kind kind;
	char dir[PATH_MAX];
	const char *name;
	uint64_t start, nsect;
	int rc;

	memset(ret, 0, sizeof(*ret));
	rc = pmcfs_probe_kind(path, &kind);
	if (rc || kind == PMCFS_PROBE_IMAGE || kind == PMCFS_PROBE_OTHER)
		return rc;
	rc = pmcfs_probe_sysfs_dir(path, dir, sizeof(dir), &name, NULL);
	if (rc)
		return rc;
	if (kind == PMCFS_PROBE_BLOCK) {
		whole_disk(dir, &name, &start, &nsect);
		if (bad) {
			/* The disk's list, clipped and rebased to a partition. */
			char text[65536];
			struct pmcfs_bb_ctx c = { .v = bad, .n = nbad, .base = start,
						  .nsect = nsect };

			if (pmcfs_probe_sysfs_read(dir, "badblocks", text, sizeof(text)) == 0)
				rc = pmcfs_probe_parse_sectors(text, pmcfs_probe_bb_add, &c, NULL);
			return rc;
		}
	}
	if (!libs_for(kind, dir))
		return 0;	/* not pmem: nothing to find */
	rc = pmcfs_pmemlibs_open(L, libs_for(kind, dir));
	if (rc)
		return rc;
	if (L->ndctl)
		rc = ndctl_lookup(L, name, ret, bad, nbad);
	if (kind == PMCFS_PROBE_DAX && !rc && !ret->found)
		daxctl_lookup(L, name, ret);
	else if (kind == PMCFS_PROBE_BLOCK && !rc && ret->found)
		ret->size = pmcfs_probe_sysfs_u64(dir, "size") << SECTOR_SHIFT;
	pmcfs_pmemlibs_close(L);
	return rc;
}

int pmcfs_probe_namespace(const char *path, struct pmcfs_ns_info *ret)
{
	return probe_ns(path, ret, NULL, NULL);
}

int pmcfs_probe_badblocks(const char *path, struct pmcfs_badrange **ret, size_t *ret_n)
{
	struct pmcfs_ns_info ns;
	int rc;

	*ret = NULL;
	*ret_n = 0;
	rc = probe_ns(path, &ns, ret, ret_n);
	if (rc) {
		free(*ret);
		*ret = NULL;
		*ret_n = 0;
		return rc;
	}
	pmcfs_badranges_normalize(*ret, ret_n);
	return 0;
}


const char *pmcfs_probe_missing_lib(const char *path)
{
	struct pmcfs_pmemlibs libs;
	enum pmcfs_probe_kind kind;
	char dir[PATH_MAX];
	unsigned mask;

	if (pmcfs_probe_kind(path, &kind) ||
	    (kind != PMCFS_PROBE_BLOCK && kind != PMCFS_PROBE_DAX) ||
	    pmcfs_probe_sysfs_dir(path, dir, sizeof(dir), NULL, NULL))
		return NULL;
	mask = libs_for(kind, dir) | (kind == PMCFS_PROBE_DAX ? PMCFS_LIB_PMEM : 0);
	if (!mask)
		return NULL;
	if (pmcfs_pmemlibs_open(&libs, mask))
		return libs.missing;	/* a string literal: outlives libs */
	pmcfs_pmemlibs_close(&libs);
	return NULL;
}

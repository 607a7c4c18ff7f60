/* SPDX-License-Identifier: MIT */
/*
 * libndctl, libdaxctl and libpmem, loaded with dlopen only when a device
 * needs them (a pmem namespace, a devdax device). Linking them made every
 * run pay for loading them and their dependencies (libkmod, libudev,
 * libcrypto, ...) and for libpmem's constructor, which scans sysfs: about
 * a third of formatting an image file, which needs none of them.
 *
 * The library keeps no global state, so the handles and function pointers
 * live in a struct pmcfs_pmemlibs owned by the caller for the length of
 * one use; dlopen is reference-counted, so opening it again is cheap.
 * The headers are still included for the types, the *_foreach macros
 * and, through __typeof__, the compile-time signature of every pointer.
 */
#ifndef PMCFS_PMEMLIBS_PRIV_H
#define PMCFS_PMEMLIBS_PRIV_H

#include <ndctl/libndctl.h>
#include <daxctl/libdaxctl.h>
#include <libpmem.h>

/* Which libraries a use needs (pmcfs_pmemlibs_open's mask). */
enum {
	PMCFS_LIB_NDCTL  = 1u << 0,
	PMCFS_LIB_DAXCTL = 1u << 1,
	PMCFS_LIB_PMEM   = 1u << 2,
};

/* Every function used, per library: one list for the struct and dlsym. */
#define PMCFS_NDCTL_SYMS(X)						\
	X(ndctl_new) X(ndctl_unref)					\
	X(ndctl_bus_get_first) X(ndctl_bus_get_next)			\
	X(ndctl_region_get_first) X(ndctl_region_get_next)		\
	X(ndctl_region_get_devname) X(ndctl_region_get_resource)	\
	X(ndctl_region_get_first_badblock) X(ndctl_region_get_next_badblock) \
	X(ndctl_namespace_get_first) X(ndctl_namespace_get_next)	\
	X(ndctl_namespace_get_btt) X(ndctl_namespace_get_pfn)		\
	X(ndctl_namespace_get_dax) X(ndctl_namespace_get_block_device)	\
	X(ndctl_namespace_get_mode) X(ndctl_namespace_get_devname)	\
	X(ndctl_btt_get_block_device)					\
	X(ndctl_pfn_get_block_device) X(ndctl_pfn_get_align)		\
	X(ndctl_dax_get_daxctl_region) X(ndctl_dax_get_align)

#define PMCFS_DAXCTL_SYMS(X)						\
	X(daxctl_new) X(daxctl_unref)					\
	X(daxctl_region_get_first) X(daxctl_region_get_next)		\
	X(daxctl_region_get_devname)					\
	X(daxctl_dev_get_first) X(daxctl_dev_get_next)			\
	X(daxctl_dev_get_devname) X(daxctl_dev_get_size)		\
	X(daxctl_dev_get_align) X(daxctl_dev_get_resource)

#define PMCFS_PMEM_SYMS(X)						\
	X(pmem_memcpy_nodrain) X(pmem_drain)

#define PMCFS_PMEMLIBS_MEMBER(f) __typeof__(&f) f;

/* Zero-initialise; members of libraries not asked for stay NULL. */
struct pmcfs_pmemlibs {
	void *ndctl, *daxctl, *pmem;	/* dlopen handles */
	const char *missing;		/* after a failed open: "libndctl", ... */
	PMCFS_NDCTL_SYMS(PMCFS_PMEMLIBS_MEMBER)
	PMCFS_DAXCTL_SYMS(PMCFS_PMEMLIBS_MEMBER)
	PMCFS_PMEM_SYMS(PMCFS_PMEMLIBS_MEMBER)
};

/*
 * Load the libraries in mask (PMCFS_LIB_*) into *L (which need not be
 * initialised; anything it held is forgotten, not closed). 0 on success; -ELIBACC when a library cannot be
 * loaded (not installed) and -ELIBBAD when it lacks a function (too old),
 * with L->missing naming the library and nothing left open.
 */
int pmcfs_pmemlibs_open(struct pmcfs_pmemlibs *L, unsigned mask);
/* dlclose what open loaded and zero *L; harmless on a zeroed struct. */
void pmcfs_pmemlibs_close(struct pmcfs_pmemlibs *L);

#endif /* PMCFS_PMEMLIBS_PRIV_H */

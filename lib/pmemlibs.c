// SPDX-License-Identifier: MIT
/*
 * Run-time loading of libndctl, libdaxctl and libpmem (see
 * pmemlibs_priv.h for why they are not linked).
 */
#include <dlfcn.h>
#include <errno.h>
#include <stddef.h>
#include <string.h>
#include "pmemlibs_priv.h"

struct pmemlib {
	unsigned mask;
	const char *soname;	/* the ABI the headers describe */
	const char *name;	/* for messages */
	size_t handle;		/* offset of the handle in the struct */
};

static const struct pmemlib libs[] = {
	{ PMCFS_LIB_NDCTL,  "libndctl.so.6",  "libndctl",
	  offsetof(struct pmcfs_pmemlibs, ndctl) },
	{ PMCFS_LIB_DAXCTL, "libdaxctl.so.1", "libdaxctl",
	  offsetof(struct pmcfs_pmemlibs, daxctl) },
	{ PMCFS_LIB_PMEM,   "libpmem.so.1",   "libpmem",
	  offsetof(struct pmcfs_pmemlibs, pmem) },
};

struct pmemsym {
	unsigned mask;
	const char *name;
	size_t off;		/* of the function pointer in the struct */
};

#define SYM(lib, f) { lib, #f, offsetof(struct pmcfs_pmemlibs, f) },
#define NDCTL_SYM(f)  SYM(PMCFS_LIB_NDCTL, f)
#define DAXCTL_SYM(f) SYM(PMCFS_LIB_DAXCTL, f)
#define PMEM_SYM(f)   SYM(PMCFS_LIB_PMEM, f)

static const struct pmemsym syms[] = {
	PMCFS_NDCTL_SYMS(NDCTL_SYM)
	PMCFS_DAXCTL_SYMS(DAXCTL_SYM)
	PMCFS_PMEM_SYMS(PMEM_SYM)
};

_Static_assert(sizeof(void *) == sizeof(void (*)(void)),
	       "dlsym results are copied into function pointers");

static void **handle_of(struct pmcfs_pmemlibs *L, const struct pmemlib *lib)
{
	return (void **)((char *)L + lib->handle);
}

int pmcfs_pmemlibs_open(struct pmcfs_pmemlibs *L, unsigned mask)
{
	size_t i;

	memset(L, 0, sizeof(*L));
	for (i = 0; i < sizeof(libs) / sizeof(libs[0]); i++) {
		void **h = handle_of(L, &libs[i]);

		if (!(mask & libs[i].mask))
			continue;
		/* RTLD_LOCAL: nothing of theirs leaks into later lookups. */
		*h = dlopen(libs[i].soname, RTLD_NOW | RTLD_LOCAL);
		if (!*h) {
			pmcfs_pmemlibs_close(L);
			L->missing = libs[i].name;
			return -ELIBACC;
		}
	}
	for (i = 0; i < sizeof(syms) / sizeof(syms[0]); i++) {
		const struct pmemlib *lib = NULL;
		void *f;
		size_t j;

		if (!(mask & syms[i].mask))
			continue;
		for (j = 0; j < sizeof(libs) / sizeof(libs[0]); j++)
			if (libs[j].mask == syms[i].mask)
				lib = &libs[j];
		f = dlsym(*handle_of(L, lib), syms[i].name);
		if (!f) {
			pmcfs_pmemlibs_close(L);
			L->missing = lib->name;
			return -ELIBBAD;
		}
		/* POSIX guarantees a dlsym result converts to a function pointer. */
		memcpy((char *)L + syms[i].off, &f, sizeof(f));
	}
	return 0;
}

void pmcfs_pmemlibs_close(struct pmcfs_pmemlibs *L)
{
	size_t i;

	for (i = 0; i < sizeof(libs) / sizeof(libs[0]); i++) {
		void **h = handle_of(L, &libs[i]);

		if (*h)
			dlclose(*h);
	}
	memset(L, 0, sizeof(*L));
}

/*
 * Independent audit of an open filesystem for unit tests: walks every
 * tree from every root, checks node structure, key ranges, generations
 * and fill, counts every reference and compares with the space map.
 * Deliberately written apart from the library's own code paths.
 */
#ifndef PMCFS_FSAUDIT_H
#define PMCFS_FSAUDIT_H
#include "pmcfs.h"

struct fsaudit {
	uint64_t nblocks;
	uint32_t *refs;		/* counted references per block */
	uint8_t *reachable;	/* 1 if reachable from the commit */
	uint64_t nodes, items, free_blocks;
	int errors;
	char first_error[256];
};

/* Audit the state of the last commit (the filesystem must not be mid-transaction). */
int fsaudit_run(struct pmcfs_fs *fs, struct fsaudit *a);
void fsaudit_free(struct fsaudit *a);
/* Audit, say on stderr what was wrong (tagged with `when`); the error count. */
int fsaudit_errors(struct pmcfs_fs *fs, const char *when);

#endif

/* SPDX-License-Identifier: MIT */
/*
 * mkfs.pmcfs --populate: copy a directory tree into the new filesystem
 * through the namespace API (populate.c: the walk and the metadata;
 * populate_util.c: messages, progress, transactions, hard links;
 * populate_data.c: file data, holes and size changes; populate_dedupe.c:
 * --dedupe block sharing).
 */
#ifndef MKFS_POPULATE_H
#define MKFS_POPULATE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <time.h>
#include "pmcfs.h"
#include "pmcfs_ns.h"

/* Transactions stay bounded: commit after this many entries or bytes. */
#define POP_TX_ENTRIES	8192
#define POP_TX_BYTES	(64ULL << 20)
/* File data is read and written in chunks of this size. */
#define POP_CHUNK	(4U << 20)

struct dd_table;

struct pop {
	struct pmcfs_fs *fs;
	struct pmcfs_tree *t;
	struct pmcfs_trans *tx;
	const char *device;
	uint64_t dev_dev, dev_ino;	/* the image being written, if inside DIR */
	bool dedupe, progress, quiet;

	unsigned tx_entries;
	uint64_t tx_bytes;
	uint8_t *buf;			/* POP_CHUNK bytes */
	uint8_t *cmp;			/* one block, for --dedupe read-back */

	char *path;			/* source path of the current entry */
	size_t pathlen, pathcap;

	struct hl_entry *hl;		/* (st_dev, st_ino) -> pmcfs inode */
	size_t hl_cap, hl_used;
	struct dd_table *dd;

	uint64_t files, dirs, symlinks, hardlinks, special, bytes, shared, errors;
	struct timespec start, last;
	int progress_len;		/* width of the progress line shown */
};

/* populate_util.c */
void pop_account(struct pop *p, unsigned entries, uint64_t bytes);
__attribute__((noreturn))
void pop_fatal(struct pop *p, const char *what, int rc);
void pop_error(struct pop *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void pop_progress(struct pop *p, bool force);
double pop_elapsed(const struct pop *p, const struct timespec *now);
void pop_tx_begin(struct pop *p);
void pop_tx_commit(struct pop *p);
size_t pop_path_push(struct pop *p, const char *name);
void pop_path_pop(struct pop *p, size_t old);
uint64_t pop_hl_find(struct pop *p, uint64_t dev, uint64_t ino);
void pop_hl_add(struct pop *p, uint64_t dev, uint64_t ino, uint64_t pino);

/* populate_data.c: 0, or -1 if the file could not be read (reported). */
int pop_copy_data(struct pop *p, int fd, uint64_t ino, const struct statx *stx);

/* populate_dedupe.c */
struct dd_table *dd_new(void);
void dd_free(struct dd_table *dd);
/* Write buf at off, sharing every 4 KiB block already written in this run. */
void dd_write(struct pop *p, uint64_t ino, uint64_t off, const uint8_t *buf, size_t len);
/* Forget the blocks of an inode that was removed again. */
void dd_forget(struct dd_table *dd, uint64_t ino);

#endif

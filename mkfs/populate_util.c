// SPDX-License-Identifier: MIT
/*
 * --populate helpers: messages and the progress line, bounded
 * transactions, the source path shown in messages, and the hard-link
 * table ((st_dev, st_ino) of a source with several links -> the inode
 * created for its first name).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "mkfs.h"
#include "populate.h"

struct hl_entry {
	uint64_t dev, ino;		/* source identity */
	uint64_t pino;			/* pmcfs inode, 0 = free slot */
};

/* ---- messages, progress, transactions ------------------------------------------ */

void pop_error(struct pop *p, const char *fmt, ...)
{
	va_list ap;

	if (p->progress_len) {
		fprintf(stderr, "\r\033[K");
		p->progress_len = 0;
	}
	fflush(stdout);
	fprintf(stderr, "%s: ", PROG);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	p->errors++;
}

void pop_fatal(struct pop *p, const char *what, int rc)
{
	if (p->progress_len)
		fprintf(stderr, "\r\033[K");
	die(EXIT_OPER, "cannot populate %s: %s %s: %s", p->device, what, p->path,
	    pmcfs_strerror(rc));
}

double pop_elapsed(const struct pop *p, const struct timespec *now)
{
	return (double)(now->tv_sec - p->start.tv_sec) +
	       (double)(now->tv_nsec - p->start.tv_nsec) / 1e9;
}

void pop_progress(struct pop *p, bool force)
{
	struct timespec now;
	double s;
	char h[32];

	if (!p->progress)
		return;
	clock_gettime(CLOCK_MONOTONIC, &now);
	if (!force && (now.tv_sec - p->last.tv_sec) * 1000000000L +
		      (now.tv_nsec - p->last.tv_nsec) < 200000000L)
		return;
	p->last = now;
	s = pop_elapsed(p, &now);
	if (s <= 0)
		s = 1e-9;
	p->progress_len = fprintf(stderr, "\rpopulating: %llu files, %llu directories, %s, %.0f files/s, %.1f MiB/s\033[K",
				  (unsigned long long)(p->files + p->symlinks + p->special + p->hardlinks),
				  (unsigned long long)p->dirs, human_size(p->bytes, h, sizeof(h)),
				  (double)(p->files + p->symlinks + p->special + p->hardlinks + p->dirs) / s,
				  (double)p->bytes / s / 1048576.0);
}

void pop_tx_begin(struct pop *p)
{
	int rc = pmcfs_trans_begin(p->fs, &p->tx);

	if (rc)
		die(EXIT_OPER, "cannot populate %s: cannot begin a transaction: %s", p->device,
		    pmcfs_strerror(rc));
}

void pop_tx_commit(struct pop *p)
{
	int rc = pmcfs_trans_commit(p->tx);

	p->tx = NULL;
	if (rc)
		die(EXIT_OPER, "cannot populate %s: cannot commit: %s", p->device, pmcfs_strerror(rc));
	p->tx_entries = 0;
	p->tx_bytes = 0;
}

/* Count work done in this transaction; commit when it gets large. */
void pop_account(struct pop *p, unsigned entries, uint64_t bytes)
{
	p->tx_entries += entries;
	p->tx_bytes += bytes;
	if (p->tx_entries >= POP_TX_ENTRIES || p->tx_bytes >= POP_TX_BYTES) {
		pop_tx_commit(p);
		pop_tx_begin(p);
	}
	pop_progress(p, false);
}

/* ---- source paths (for messages only) --------------------------------------------- */

size_t pop_path_push(struct pop *p, const char *name)
{
	size_t old = p->pathlen, n = strlen(name);

	if (old + n + 2 > p->pathcap) {
		p->pathcap = (old + n + 2) * 2;
		p->path = realloc(p->path, p->pathcap);
		if (!p->path)
			die(EXIT_OPER, "out of memory: %zu bytes", p->pathcap);
	}
	if (old && p->path[old - 1] != '/')
		p->path[p->pathlen++] = '/';
	memcpy(p->path + p->pathlen, name, n + 1);
	p->pathlen += n;
	return old;
}

void pop_path_pop(struct pop *p, size_t old)
{
	p->pathlen = old;
	p->path[old] = '\0';
}

/* ---- hard links: (st_dev, st_ino) -> inode created ------------------------------- */

static struct hl_entry *hl_slot(struct pop *p, uint64_t dev, uint64_t ino)
{
	size_t i = (size_t)((ino * 0x9e3779b97f4a7c15ULL) ^ dev) & (p->hl_cap - 1);

	while (p->hl[i].pino && (p->hl[i].dev != dev || p->hl[i].ino != ino))
		i = (i + 1) & (p->hl_cap - 1);
	return &p->hl[i];
}

uint64_t pop_hl_find(struct pop *p, uint64_t dev, uint64_t ino)
{
	return p->hl_cap ? hl_slot(p, dev, ino)->pino : 0;
}

void pop_hl_add(struct pop *p, uint64_t dev, uint64_t ino, uint64_t pino)
{
	struct hl_entry *old = p->hl, *e;
	size_t i, oldcap = p->hl_cap;

	if ((p->hl_used + 1) * 4 > p->hl_cap * 3) {
		p->hl_cap = oldcap ? oldcap * 2 : 1024;
		p->hl = xcalloc(p->hl_cap, sizeof(*p->hl));
		for (i = 0; i < oldcap; i++)
			if (old[i].pino)
				*hl_slot(p, old[i].dev, old[i].ino) = old[i];
		free(old);
	}
	e = hl_slot(p, dev, ino);
	if (!e->pino)
		p->hl_used++;
	*e = (struct hl_entry){ dev, ino, pino };
}

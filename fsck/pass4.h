/* SPDX-License-Identifier: MIT */
/*
 * Pass 4 internals, shared by pass4-namespace.c (driver: subvolumes,
 * verdict reuse, phases), pass4-scan.c (the walk: per-leaf checks and
 * the compact records), pass4-links.c (cross-leaf checks on the records)
 * and pass4-repair.c (the repairs, each in its own transaction).
 */
#ifndef FSCK_PASS4_H
#define FSCK_PASS4_H

#include "fsck.h"

/* Phases, in repair order: a repair in one phase rescans, and the rescan
 * reports only the later phases (the earlier ones were reported already). */
enum p4_phase { PH_ITEMS, PH_NAMES, PH_CONNECT, PH_COUNTS, PH_DONE };

/* One inode item, compact (sorted by ino: the scan emits them in key order). */
struct p4_inode {
	uint64_t ino;
	uint32_t nlink;
	uint8_t ftype;			/* enum pmcfs_ftype; 0 = item undecodable */
	uint8_t orphan;			/* an ORPHAN item names it */
	uint8_t reach;			/* reachable from the root (links.c) */
	uint8_t pad;
	uint32_t links;			/* entries naming it (links.c) */
	uint32_t subdirs;		/* directories: entries naming directories */
};

/* A name in a directory (DIR_ENTRY and/or DIR_INDEX), sorted by (parent, index). */
struct p4_link {
	uint64_t parent, child, index;
	uint32_t nhash;			/* low 32 bits of the name hash */
	uint8_t type;
	uint8_t bad;			/* name invalid (reported in phase 1) */
	uint8_t pad[2];
};

/* An INODE_REF element: child has a name in parent at index. */
struct p4_ref {
	uint64_t child, parent, index;
	uint32_t nhash;
	uint32_t pad;
};

/* A finding of the scan kept for its phase (reported after the scan). */
struct p4_find {
	uint32_t code;
	enum p4_phase phase;
	uint64_t ino;			/* inode the fix works on */
	struct pmcfs_ckey key;		/* item the fix works on */
	uint64_t arg, arg2;		/* fix-specific value */
	char *detail;
};

struct p4_sv {
	struct fsck_ctx *ctx;
	struct fsck_subvol *sv;
	struct pmcfs_tree *t;
	bool rdonly;
	/* Scan results. */
	struct p4_inode *inodes;
	size_t ninodes, inodes_cap;
	struct p4_link *links;
	size_t nlinks, links_cap;
	struct p4_ref *refs;
	size_t nrefs, refs_cap;
	struct p4_find *finds;
	size_t nfinds, finds_cap;
	uint64_t norphans;
	uint64_t files, dirs;
	bool root_seen;
	bool scan_failed;
};

/* Per pass run: leaf memo (one bit per block: leaf checked and clean). */
struct p4_run {
	struct fsck_ctx *ctx;
	uint8_t *clean;
	uint64_t leaves_checked, leaves_memo;
};

/* pass4-scan.c */
int p4_scan(struct p4_run *run, struct p4_sv *s);
void p4_sv_free(struct p4_sv *s);
void p4_add_find(struct p4_sv *s, uint32_t code, enum p4_phase ph, uint64_t ino,
		 const struct pmcfs_ckey *key, uint64_t arg, uint64_t arg2, const char *fmt, ...)
	__attribute__((format(printf, 8, 9)));
struct p4_inode *p4_find_inode(struct p4_sv *s, uint64_t ino);

/* pass4-links.c: the cross-leaf checks, adding findings of phases 2-4. */
void p4_links(struct p4_sv *s);

/* pass4-repair.c: apply one finding's fix; 0 or a negative code. */
int p4_repair(struct p4_sv *s, const struct p4_find *f);
/* "lost data: subvolume N: PATH (inode I)": the line scripts grep for. */
void p4_lost_data(struct p4_sv *s, uint64_t ino);
/* "/a/b" for ino in subvolume id, from INODE_REF back-references. */
void p4_path(struct fsck_ctx *ctx, uint64_t subvol, uint64_t ino, char *buf, size_t size);

#endif

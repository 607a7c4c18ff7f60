/* SPDX-License-Identifier: MIT */
/*
 * Pass 4 internals, shared by pass4-namespace.c (driver: subvolumes,
 * verdict reuse, phases), pass4-scan.c (the walk: per-leaf checks and
 * the compact records), pass4-links.c (cross-leaf checks on the records),
 * pass4-repair.c (the repairs, each in its own transaction) with
 * pass4-names.c (those of directory names), and
 * pass4-delta.c with pass4-memo.c (the delta check of a snapshot against
 * the summaries of blocks already found clean).
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

/* Helpers of the repairs (pass4-repair.c, pass4-names.c), on s's tree. */
static inline struct pmcfs_ckey p4_key(uint64_t o, uint8_t t, uint64_t off)
{
	struct pmcfs_ckey k = { o, t, off };
	return k;
}

static inline int p4_get_inode(const struct p4_sv *s, uint64_t ino, struct pmcfs_inode *d)
{
	struct pmcfs_ckey k = p4_key(ino, PMCFS_KEY_INODE, 0);
	uint32_t size;
	int rc = pmcfs_tree_lookup(s->ctx->fs, s->t, &k, d, sizeof(*d), &size);

	return rc ? rc : size == sizeof(*d) ? 0 : -PMCFS_ECORRUPT;
}

static inline int p4_put_inode(const struct p4_sv *s, struct pmcfs_trans *tx, uint64_t ino,
			       const struct pmcfs_inode *d)
{
	struct pmcfs_ckey k = p4_key(ino, PMCFS_KEY_INODE, 0);
	return pmcfs_tree_update(tx, s->t, &k, d, sizeof(*d));
}

/*
 * A subtree's namespace summary (pass4-memo.c): additive multiset hashes
 * of its items, so a tree's total is the sum of its pieces, and what
 * joining it to its neighbours in key order needs.
 */
#define P4_NOLABEL UINT32_MAX
enum { P4_H_REFS, P4_H_NLINK, P4_H_DIRNAME, P4_H_DEPTH, P4_NH };
struct p4_sum {
	uint64_t h[P4_NH];
	uint64_t files, dirs;
	uint64_t lo, hi;		/* objectids of its first and last items */
	uint32_t lo_label, hi_label;	/* depth label used for lo's / hi's items here */
	bool conflict;			/* one directory carries two depth labels */
};

/* A subtree found clean in a clean subvolume of this run, by block. */
struct p4_memo_ent {
	uint64_t blk;			/* 0: empty slot (block 0 is the superblock) */
	struct p4_sum sum;
	uint64_t next;			/* its next sibling there, 0 if last */
	uint32_t tid;			/* which subvolume of the run summarized it */
	bool first_closed, last_closed;	/* the inode of its first / last item had no
					 * item before / after it outside the subtree */
};

struct p4_memo {
	struct p4_memo_ent *v;
	size_t n, cap;			/* cap: a power of two */
	uint64_t seed;			/* per-run hash key */
};

/* Per pass run: leaf memo (one bit per block: leaf checked and clean). */
struct p4_run {
	struct fsck_ctx *ctx;
	uint8_t *clean;
	uint64_t leaves_checked, leaves_memo;
	struct p4_memo memo;		/* subtree summaries (pass4-delta.c) */
	bool full_only;			/* PMCFS_FSCK_FULL_NAMESPACE: no delta check */
	bool more;			/* a subvolume is still to be checked after this one */
	uint32_t ntid;			/* subvolumes summarized so far */
	uint64_t delta_ok, delta_fallback, delta_leaves, delta_range_leaves, delta_lookups;
	uint64_t memo_leaves;		/* read again to summarize a fully checked subvolume */
};

/* Objectid ranges [lo, hi] for p4_scan_ranges, sorted and disjoint. */
struct p4_range {
	uint64_t lo, hi;
};

/* pass4-items.c: an extent item the namespace can use (else P4.009's). */
bool p4_extent_usable(const struct pmcfs_ckey *k, const void *body, uint32_t size);

/* pass4-scan.c */
int p4_scan(struct p4_run *run, struct p4_sv *s);
void p4_sv_free(struct p4_sv *s);
void p4_add_find(struct p4_sv *s, uint32_t code, enum p4_phase ph, uint64_t ino,
		 const struct pmcfs_ckey *key, uint64_t arg, uint64_t arg2, const char *fmt, ...)
	__attribute__((format(printf, 8, 9)));
struct p4_inode *p4_find_inode(struct p4_sv *s, uint64_t ino);

/* Only the inodes in r (all of their items): the per-inode checks, no
 * per-leaf ones, no memo. */
int p4_scan_ranges(struct p4_run *run, struct p4_sv *s, const struct p4_range *r, size_t nr);
/* The per-leaf checks of one leaf (memoized); true if it is clean. */
bool p4_leaf_local(struct p4_run *run, struct fsck_subvol *sv, const uint8_t *buf, uint64_t blk);

/* pass4-memo.c: the summary table and the multiset hashes. */
void p4_memo_init(struct p4_memo *m);
void p4_memo_free(struct p4_memo *m);
void p4_memo_clear(struct p4_memo *m);
const struct p4_memo_ent *p4_memo_get(const struct p4_memo *m, uint64_t blk);
void p4_memo_put(struct p4_memo *m, const struct p4_memo_ent *e);
uint64_t p4_h(const struct p4_memo *m, unsigned tag, uint64_t a, uint64_t b, uint64_t c, uint64_t d);
/* Directory depth, for the labels of p4_leaf_sum; 0 or -1 (unknown). */
typedef int (*p4_depth_fn)(void *arg, uint64_t dir, uint32_t *depth);
/* A clean leaf's summary; -1 if it cannot have one (orphan items, an
 * inode without links, an item that does not decode, no depth). */
int p4_leaf_sum(const struct p4_memo *m, const uint8_t *buf, p4_depth_fn depth, void *arg,
		struct p4_sum *out);
void p4_sum_zero(struct p4_sum *s);
/* a followed by b in key order (a may be the zero summary: nothing yet). */
void p4_sum_join(struct p4_sum *a, const struct p4_sum *b, bool a_empty);
/* Does a whole subvolume's summary prove its cross-inode invariants? */
bool p4_sum_clean(const struct p4_memo *m, const struct p4_sum *s);

/* pass4-delta.c */
/* Prove a subvolume clean from the memo and its changed blocks; false:
 * not proven (nothing reported), run the full check. */
bool p4_delta(struct p4_run *run, struct fsck_subvol *sv, uint64_t *files, uint64_t *dirs);
/* After a full check found s clean: remember its subtrees. */
void p4_memo_record(struct p4_run *run, struct p4_sv *s);

/* pass4-links.c: the cross-leaf checks, adding findings of phases 2-4. */
void p4_links(struct p4_sv *s);

/* pass4-repair.c: apply one finding's fix; 0 or a negative code. */
int p4_repair(struct p4_sv *s, const struct p4_find *f);
/* "lost data: subvolume N: PATH (inode I)": the line scripts grep for. */
void p4_lost_data(struct p4_sv *s, uint64_t ino);
/* "/a/b" for ino in subvolume id, from INODE_REF back-references. */
void p4_path(struct fsck_ctx *ctx, uint64_t subvol, uint64_t ino, char *buf, size_t size);
/* True the first time a file's loss is to be said (then remembered in ctx). */
bool p4_first_say(struct fsck_ctx *ctx, uint64_t tree, uint64_t ino);

/* pass4-names.c: the repairs of names, in p4_repair's transaction tx; 0 or a negative code. */
/* Does finding f still hold? An earlier P4.022 repair may have rewritten its name. */
bool p4_still_holds(struct p4_sv *s, const struct p4_find *f);
/* Remove the element with this index from the packed item at k, if both are there. */
int p4_packed_remove(struct p4_sv *s, struct pmcfs_trans *tx, const struct pmcfs_ckey *k, uint64_t index);
/* Remove the name at index in dir: whichever of its three items exist. */
int p4_remove_name(struct p4_sv *s, struct pmcfs_trans *tx, uint64_t dir, uint64_t index);
/* Rebuild the missing twin of finding f's name from the one that survives. */
int p4_twin(struct p4_sv *s, struct pmcfs_trans *tx, const struct p4_find *f);
/* Set the type of finding f's name, in both twins, to the inode's. */
int p4_set_type(struct p4_sv *s, struct pmcfs_trans *tx, const struct p4_find *f);
/* P4.022: keep the twin a back-reference confirms, else remove the name. */
int p4_settle_twins(struct p4_sv *s, struct pmcfs_trans *tx, uint64_t dir, uint64_t index);
/* Give finding f's unattached inode a name in /lost+found. */
int p4_reconnect(struct p4_sv *s, struct pmcfs_trans *tx, const struct p4_find *f);
/* "DIRPATH/NAME" for the name at index in dir. */
void p4_name_path(struct p4_sv *s, uint64_t dir, uint64_t index, char *buf, size_t bufsize);
/* Say the file named at index in dir lost, its inode child being gone. */
void p4_lost_name(struct p4_sv *s, uint64_t dir, uint64_t index, uint64_t child);

#endif

/* SPDX-License-Identifier: MIT */
/*
 * fsck.pmcfs internals: one context shared by the passes (fsck/passN-*.c),
 * the problem table (problem.h) and the driver (main.c).
 */
#ifndef FSCK_H
#define FSCK_H

#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include "pmcfs.h"
#include "problem.h"

#define PROG "fsck.pmcfs"

/* fsck(8) exit bits. */
enum {
	FSCK_OK = 0, FSCK_NONDESTRUCT = 1, FSCK_UNCORRECTED = 4, FSCK_ERROR = 8,
	FSCK_USAGE = 16, FSCK_CANCELED = 32, FSCK_LIBRARY = 128,
};

enum fsck_mode { MODE_ASK, MODE_NO, MODE_YES, MODE_PREEN };

/* One reference: [start, start+len). Packed: 12 bytes, no node per block. */
struct fsck_ref {
	uint64_t start;
	uint32_t len;
} __attribute__((packed));

struct fsck_refs {
	struct fsck_ref *v;
	size_t n, cap;
};

/* A root table entry, decoded as far as it goes. */
struct fsck_subvol {
	uint64_t id;
	struct pmcfs_ckey key;
	uint32_t item_size;
	bool usable;			/* the fixed part decodes: walk it */
	bool name_ok;
	struct pmcfs_root_ref root;
	uint64_t flags, parent, create_gen, next_ino;
	struct pmcfs_ckey drop_progress;
	uint8_t drop_level;
	char *name;
	/* From the walk. */
	bool root_bad;			/* its root block is unusable */
	bool damaged;			/* some block of its tree is unusable */
	uint64_t newer_blkno, newer_gen;	/* RDONLY: first block newer than create_gen */
	bool rdonly_kept_said;		/* prune.c said it stays read-only */
	bool ns_unchecked;		/* the library could not open it (its root item):
					 * pass 4 or prune.c skipped it */
};

/* A damaged tree block pass 2 was told to cut out, a sound one with a
 * wrong owner to rewrite, or (level -1) an unusable extent item to
 * delete (prune.c). */
struct fsck_damage {
	uint64_t tree, blkno;
	int level;
	struct pmcfs_ckey key;		/* its parent pointer's key: the descent to it */
	struct pmcfs_ckey hi;		/* the next pointer's key, if has_hi */
	bool has_hi;
	bool salvage;			/* a sound leaf with keys out of place: keep those in range */
	bool rewrite;			/* sound but a wrong owner: copy it, do not cut it */
};

/* Keys [lo, hi) of a tree that a cut took away (hi unbounded if !has_hi). */
struct fsck_lost {
	uint64_t tree;
	struct pmcfs_ckey lo, hi;
	bool has_hi;
	bool reported;			/* pass 4 named the files it touched */
};

/* A referenced range that lies on bad media (pass 6 reports these). */
struct fsck_media_hit {
	uint64_t start, len;
	uint64_t tree;			/* tree id holding the reference */
	bool data;			/* extent (true) or tree block */
	struct pmcfs_ckey key;		/* extent key, or the descent key to the tree block */
	int level;			/* the tree block's level */
};

struct fsck_stats {
	uint64_t tree_blocks, tree_refs, extents, subvols, snapshots;
	uint64_t used, shared, extra_refs, data_blocks;
	uint64_t files, dirs, ns_checked;	/* pass 4 */
};

struct fsck_ctx {
	/* Options. */
	const char *device;
	enum fsck_mode mode;
	bool verbose, json, force;
	const char *badblocks_file;
	int progress_fd;		/* -C FD, -1 if none; 0 = bar on the terminal */
	bool tty_progress;

	/* The filesystem. */
	struct pmcfs_dev *dev;
	struct pmcfs_fs *fs;
	struct pmcfs_sb_info sb;
	struct pmcfs_commit_info commit;
	uint64_t nblocks;

	/* Pass 2 results. */
	uint8_t *seen;			/* 1 bit per block: visited */
	uint8_t *bad;			/* 1 bit per block: visited and unusable */
	struct fsck_refs refs;		/* every reference except space map nodes */
	struct fsck_refs smrefs;	/* space map nodes (old map, to release) */
	struct fsck_refs datarefs;	/* extents only: for the cross-link check */
	struct fsck_refs smbad;		/* BADBLOCK records seen in space map leaves */
	bool walk_incomplete;		/* a subtree outside the space map was unreadable */
	struct fsck_damage *damage;	/* blocks to cut out, if the space map allows */
	size_t ndamage, damage_cap;
	bool sm_damaged;		/* the space map tree itself is damaged */
	bool roottab_damaged;		/* some block of the root table is unusable */
	struct fsck_subvol *subvols;
	size_t nsubvols;
	struct fsck_media_hit *hits;
	size_t nhits, hits_cap;
	struct fsck_stats st;

	/* Pass 3 result: the computed partition, for the rebuild. */
	struct pmcfs_space_info *runs;
	size_t nruns, runs_cap;
	unsigned rebuild_yes, rebuild_no;

	/* Bad media: --badblocks or the namespace's list, in blocks. */
	struct pmcfs_badrange *badv;
	size_t nbadv;
	bool have_badlist;
	struct fsck_refs move;		/* bad blocks whose data is to move (P3.005, P6.001) */
	unsigned move_yes;		/* findings that move fixes */
	struct fsck_damage *tmove;	/* tree blocks on bad media to rewrite (P6.001) */
	size_t ntmove, tmove_cap;

	/* What cuts took away: kept across restarts, for pass 4's lost-data report. */
	struct fsck_lost *lost;
	size_t nlost, lost_cap;
	struct { uint64_t tree, ino; } *lost_said;	/* "lost data" lines printed */
	size_t nlost_said, lost_said_cap;
	bool no_fix;			/* report findings without offering their fix */
	bool restart_now;		/* skip the later passes: the trees changed under them */

	/* Outcome. */
	unsigned errors_fixed, errors_left, warnings;
	bool fatal, modified, restart, preen_unexpected;
	bool reopen;			/* rolled back: restart from pass 1 */
	bool space_risky;		/* the space map under-counts and was not rebuilt */
	bool bad_recorded;		/* repair_begin recorded the free bad blocks first */
	int restarts;
	unsigned *shown;		/* per problem row: lines printed */
	struct fsck_finding *findings;	/* for --json */
	size_t nfindings, findings_cap;
};

struct fsck_finding {
	uint32_t code;
	char *detail;
	const char *answer;		/* "yes", "no", "" (no fix) */
};

extern volatile sig_atomic_t fsck_cancelled;

/* The pass table (main.c drives it). */
struct fsck_pass {
	int num;
	const char *name;
	const char *desc;
	int (*run)(struct fsck_ctx *ctx);	/* 0, or an FSCK_* exit bit to stop */
};
int pass1_super(struct fsck_ctx *ctx);
int pass2_walk(struct fsck_ctx *ctx);
int pass3_refcount(struct fsck_ctx *ctx);
int pass4_namespace(struct fsck_ctx *ctx);
int pass5_snapshots(struct fsck_ctx *ctx);
int pass6_media(struct fsck_ctx *ctx);
void pass2_release(struct fsck_ctx *ctx);
/* rollback.c: after pass 2, offer to go back to an intact older commit
 * if damage costs whole subvolumes (P2.016). */
void offer_rollback(struct fsck_ctx *ctx);
extern const char *const fsck_slot_name[PMCFS_NSLOTS];
/* roottab-rebuild.c: after pass 3, if the root table is damaged, find the
 * subvolume roots it no longer lists and offer a new table (P2.017); true
 * if it was rebuilt (the check restarts). */
bool offer_roottab_rebuild(struct fsck_ctx *ctx);
/* prune.c: after pass 3, cut the damaged blocks out of (and rewrite the
 * misowned ones in) every tree reaching them. */
void prune_damaged(struct fsck_ctx *ctx);
/* prune.c: rewrite v[0..n) (sound blocks) in every tree reaching them, in
 * tx, root table and higher levels first; *done counts the copies made. */
int rewrite_blocks(struct fsck_ctx *ctx, struct pmcfs_trans *tx, const struct fsck_damage *v,
		   size_t n, size_t *done);
/* pass4-repair.c: an empty root directory, as mkfs makes it. */
int make_root_dir(struct pmcfs_trans *tx, struct pmcfs_tree *t);
/* Did a cut not yet reported by pass 4 take some item of inode ino from tree? */
bool lost_inode(const struct fsck_ctx *ctx, uint64_t tree, uint64_t ino);
void lost_reported(struct fsck_ctx *ctx, uint64_t tree);
/* badmove.c: in pass 6, move the data off ctx->move's blocks and the tree
 * blocks of ctx->tmove, and record them bad. */
void move_off_bad(struct fsck_ctx *ctx);
/* pass6-media.c: record the free blocks of the bad-block list that the
 * space map does not record as bad (P6.002). */
void record_free_bad(struct fsck_ctx *ctx, bool show_progress);

/* problem.c: report a finding; true if it is to be fixed now. */
bool fix_problem(struct fsck_ctx *ctx, uint32_t code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
bool vfix_problem(struct fsck_ctx *ctx, uint32_t code, const char *fmt, va_list ap);
/* A fix promised earlier failed: count n findings as left uncorrected. */
void fix_failed(struct fsck_ctx *ctx, unsigned n);
void problems_flush(struct fsck_ctx *ctx);
void findings_free(struct fsck_ctx *ctx);

/* util.c */
int error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void warnmsg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void verbose(const struct fsck_ctx *ctx, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void out(const struct fsck_ctx *ctx, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xgrow(void *p, size_t *cap, size_t n, size_t size);
char *xstrdup(const char *s);
void refs_add(struct fsck_refs *r, uint64_t start, uint64_t len);
void refs_free(struct fsck_refs *r);
static inline bool bit_test(const uint8_t *bm, uint64_t b) { return bm[b >> 3] & (1u << (b & 7)); }
static inline void bit_set(uint8_t *bm, uint64_t b) { bm[b >> 3] |= (uint8_t)(1u << (b & 7)); }
void progress_start(struct fsck_ctx *ctx, int pass, const char *name);
void progress(struct fsck_ctx *ctx, int pass, uint64_t cur, uint64_t max);
void progress_end(struct fsck_ctx *ctx);
/* Transactions for repairs; both print the failure and return its code. */
int repair_begin(struct fsck_ctx *ctx, struct pmcfs_trans **tx);
int repair_commit(struct fsck_ctx *ctx, struct pmcfs_trans *tx, const char *what);
bool in_bad_media(const struct fsck_ctx *ctx, uint64_t start, uint64_t len);

#endif

/*
 * Crash-consistency harness (format-notes §10), shared by
 * tests/unit/test_crash.c and any later test that wants crash states.
 *
 *   crash_img.c    a crash image: the image before an epoch plus chosen
 *                  8-byte units, served as a pmcfs_dev without copying
 *   crash_epoch.c  one flush epoch split into units; subsets and dedupe keys
 *   crash_check.c  the oracles: open, audit, dump, a transaction after recovery
 *   crash_run.c    running a workload on a recording device, the write
 *                  guard, exploring every epoch, reproducer specs
 *   crash_ops.c    the op table and the pre-populated base image
 *   crash_nsops.c  the namespace ops (rows of the op table)
 *   crash_nspop.c  the "ns" setup: a populated namespace, no raw items
 *   crash_dump.c   the logical dump oracle: items and the namespace
 *   crash_fsck.c   fsck.pmcfs -n as an oracle, fsck.pmcfs -y as an op
 *
 * Why the pieces are separate: the op table grows with the library (the
 * namespace operations will be new rows), the rest should not have to.
 */
#ifndef PMCFS_CRASH_H
#define PMCFS_CRASH_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "pmcfs.h"

/* Every workload runs on a device of this size (16 MiB: 3 MiB of it reserved). */
#define CRASH_DEV_SIZE		(16ULL << 20)
/* Exhaustive subsets when at most this many relevant units are in flight. */
#define CRASH_EXHAUSTIVE_MAX	16
#define CRASH_MAX_OPS		4096
#define CRASH_MAX_STATES	16	/* logical states one op may legally leave */
#define CRASH_SPEC_MAX		256

uint64_t crash_hash64(const void *buf, size_t len, uint64_t seed);
uint64_t crash_mix(uint64_t a, uint64_t b);

/* ---- the op table -------------------------------------------------------- */

/* What an op's apply() asks the harness to do with its transaction. */
enum { CRASH_COMMIT = 0, CRASH_ABORT = 1, CRASH_MORE = 2 };

struct crash_opctx {
	struct pmcfs_fs *fs;	/* the live filesystem (NULL for raw-device ops) */
	struct pmcfs_dev *dev;	/* the recording device */
	uint64_t rng;		/* parameters come from here only: replays repeat them */
	unsigned step;		/* transactions this op has committed so far */
	uint64_t state;		/* kept across the steps of one op (e.g. its target) */
	/* apply_dev ops that commit: call after each barrier (a new legal state). */
	void (*committed)(struct crash_opctx *c);
	void *priv;
};
uint64_t crash_rand(struct crash_opctx *c);

enum crash_op_flags {
	CRASH_OP_SHORT	  = 1U << 0,	/* in the exhaustive set of the short run */
	CRASH_OP_NORANDOM = 1U << 1,	/* not drawn by random workloads */
	CRASH_OP_RAW	  = 1U << 2,	/* leaves raw test items: fsck would flag them */
	CRASH_OP_KEEPFS	  = 1U << 3,	/* apply_dev op on an existing fs (fsck -y) */
	CRASH_OP_NS	  = 1U << 4,	/* in the namespace family only (runs from "ns") */
};

struct crash_op {
	const char *name;
	/*
	 * Apply the op inside tx, opened by the harness. Return CRASH_COMMIT,
	 * CRASH_ABORT, CRASH_MORE (commit and call again with step + 1, for
	 * ops that take several transactions, e.g. an incremental drop) or a
	 * negative code (a failure of the op itself).
	 */
	int (*apply)(struct pmcfs_trans *tx, struct crash_opctx *c);
	/* Alternatively, an op on the raw device with no fs open (mkfs). */
	int (*apply_dev)(struct crash_opctx *c);
	unsigned flags;
	const char *doc;
};
extern const struct crash_op crash_ops[];
extern const size_t crash_nops;
const struct crash_op *crash_op_find(const char *name);
/* Subvolume ids (not DROPPING); with writable_only, those without RDONLY. */
size_t crash_list_subvols(struct pmcfs_fs *fs, uint64_t *ids, size_t max, bool writable_only,
			  bool skip_root);

/* The namespace ops (crash_nsops.c), rows of crash_ops[]. */
#define CRASH_NSOP(n) int crash_op_##n(struct pmcfs_trans *tx, struct crash_opctx *c);
CRASH_NSOP(create) CRASH_NSOP(mkdir) CRASH_NSOP(symlink) CRASH_NSOP(write)
CRASH_NSOP(write_multi) CRASH_NSOP(write_dax) CRASH_NSOP(overwrite_shared)
CRASH_NSOP(trunc_down) CRASH_NSOP(trunc_up) CRASH_NSOP(punch) CRASH_NSOP(unlink)
CRASH_NSOP(unlink_open) CRASH_NSOP(rename) CRASH_NSOP(rename_dir) CRASH_NSOP(rename_over)
CRASH_NSOP(link) CRASH_NSOP(clone) CRASH_NSOP(dedupe) CRASH_NSOP(dedupe_diff) CRASH_NSOP(xattr)
#undef CRASH_NSOP
/* fsck.pmcfs -y on the device image, its writes replayed in order (crash_fsck.c). */
int crash_op_fsck_y(struct crash_opctx *c);
int crash_ns_populate(struct pmcfs_fs *fs);

/* The pre-populated base image (built once): its non-zero blocks. */
struct crash_base {
	uint64_t *blkno;
	uint8_t *data;
	size_t n;
};
/* ns: the populated namespace of crash_nspop.c, else the raw-item base. */
int crash_base_get(bool ns, const struct crash_base **ret);

/* ---- crash images ----------------------------------------------------------- */

struct crash_img {
	const uint8_t *base;	/* the durable image before the epoch (not owned) */
	uint64_t size, nblocks;
	int32_t *map;		/* block -> index of its private copy, or -1 */
	uint8_t *copies;
	size_t ncopies, cap;
	uint64_t *touched;	/* blocks with a copy, to reset cheaply */
	uint8_t *readmap;	/* blocks read while track is set */
	bool track;
};
int crash_img_init(struct crash_img *im, const uint8_t *base, uint64_t size);
void crash_img_reset(struct crash_img *im);
void crash_img_patch(struct crash_img *im, uint64_t off, const void *buf, size_t len);
/* A device on the image; pmcfs_dev_close() leaves the image intact. */
int crash_img_dev(struct crash_img *im, bool writable, struct pmcfs_dev **ret);
void crash_img_release(struct crash_img *im);

/* ---- epochs and subsets ------------------------------------------------------- */

struct crash_unit {
	uint64_t pos;		/* 8-aligned device offset */
	uint32_t id;		/* index of pos among the epoch's distinct positions */
	uint8_t lo, hi;		/* bytes [lo, hi) of the window are written */
	uint8_t val[8];
};

struct crash_epoch {
	const uint8_t *base;
	uint64_t size;
	struct crash_unit *u;	/* program order */
	size_t n;
	uint64_t *pos;		/* distinct positions */
	uint32_t npos;
	size_t *rel;		/* units that can matter (pruning), program order */
	size_t nrel;
	/* scratch for keys */
	uint8_t (*cur)[8];
	uint32_t *stamp, curstamp;
	uint32_t *touched;
};
int crash_epoch_build(struct crash_epoch *ep, struct pmcfs_dev *rec, uint32_t epoch,
		      const uint8_t *base, uint64_t size);
void crash_epoch_free(struct crash_epoch *ep);
/* Keep the units whose block is marked in relevant (and that change anything). */
void crash_epoch_prune(struct crash_epoch *ep, const uint8_t *relevant, bool prune);
/* Key of base + units[idx[0..n)] applied in order: equal images, equal keys. */
uint64_t crash_epoch_key(struct crash_epoch *ep, const size_t *idx, size_t n);
/* Whether every relevant unit lies in a commit record; then a cheaper key. */
bool crash_epoch_slots_only(const struct crash_epoch *ep, const struct pmcfs_sb_info *sb);
uint64_t crash_epoch_slot_key(struct crash_epoch *ep, const struct pmcfs_sb_info *sb,
			      const size_t *idx, size_t n);
struct crash_keyset {
	uint64_t *keys;
	uint8_t *used;
	size_t cap, n;
};
void crash_keyset_clear(struct crash_keyset *s);
bool crash_keyset_add(struct crash_keyset *s, uint64_t key);	/* true if new */

void crash_epoch_apply(const struct crash_epoch *ep, struct crash_img *im,
		       const size_t *idx, size_t n);

/*
 * Subset specs: "none", "full" (every unit, pruned ones too), "all" (every
 * relevant unit), "prefix:K", "omit:K", "rand:K", "mask:HEX". Returns the
 * number of unit indices written to idx (sized ep->n), or -1 if the spec
 * does not apply to this epoch.
 */
long crash_subset(const struct crash_epoch *ep, const char *spec, uint64_t rseed, size_t *idx);

/* ---- oracles ------------------------------------------------------------------- */

struct crash_dump {
	uint64_t hash;		/* 0 = no filesystem */
	unsigned nsubvols;
	uint64_t nitems;
	uint64_t nfiles;	/* paths walked, snapshots counted */
	char text[160];		/* short human summary */
};
/* Logical content: every subvolume (id, name, flags, ...) and its items. */
int crash_dump_fs(struct pmcfs_fs *fs, struct crash_dump *d);

struct crash_expect {
	uint64_t hash[CRASH_MAX_STATES];
	struct crash_dump dump[CRASH_MAX_STATES];
	int n;
	bool nofs_ok;		/* "no filesystem" is a legal state */
	bool fsck;		/* no raw test items: fsck.pmcfs -n must pass too */
};

/* Faults injected between the library and the recording device (self-test). */
enum crash_fault {
	CRASH_FAULT_NONE,
	CRASH_FAULT_NO_BARRIER,	/* drop the barrier before each commit record */
	CRASH_FAULT_LOST_WRITE,	/* silently drop the third block write */
	CRASH_FAULT_BOTH_SLOTS,	/* also write each commit record over the other slot */
};
int crash_fault_open(struct pmcfs_dev *inner, enum crash_fault fault, struct pmcfs_dev **ret);

struct crash_cfg {
	uint64_t seed;
	unsigned nrandom;	/* random subsets per epoch */
	bool no_prune;		/* vary every unit (checks the pruning) */
	bool recover_tx;	/* run a transaction on every recovered image */
	bool strict;		/* known library bugs count as failures */
	enum crash_fault fault;
	int verbose;
};

/* fsck.pmcfs (crash_fsck.c): tooldir NULL disables the oracle and the op. */
int crash_fsck_init(const char *tooldir);
const char *crash_fsck_path(void);
/* Whether this committed state (a key over what fsck reads) is new to the run. */
bool crash_fsck_new_state(uint64_t key);
int crash_fsck_check(struct crash_img *im, char *why, size_t whylen);
extern uint64_t crash_fsck_runs, crash_fsck_dedup;

/* Check one image; 0 if it passes, else -1 with why filled. */
int crash_check_image(struct crash_img *im, const struct crash_expect *ex,
		      const struct crash_cfg *cfg, char *why, size_t whylen);
/*
 * Mark blocks reachable from any commit record that open could choose in
 * some crash image of the epoch (inflight marks the blocks it writes).
 */
void crash_reach(struct crash_img *im, uint8_t *mark, const uint8_t *inflight);

/* ---- workloads ------------------------------------------------------------------ */

struct crash_stats {
	uint64_t workloads, ops, epochs, units, relevant;
	uint64_t epochs_same;		/* identical to one explored before: skipped */
	uint64_t generated, checked, failures, known;
	uint64_t disputed;		/* fsck findings on legitimate states (crash_spec.c) */
	uint64_t guard_checks;
};

struct crash_workload {
	bool zero;			/* start from a zeroed device, not the base */
	bool ns;			/* start from the namespace setup ("ns:") */
	size_t nops;
	const struct crash_op *ops[CRASH_MAX_OPS];
	char name[CRASH_SPEC_MAX];	/* "base:ins+snap" or "base:rand1000" */
};

/* Only this crash image (replay): op index, epoch, subset spec. */
struct crash_target {
	long op;
	long epoch;
	char subset[64];
};

int crash_workload_parse(const char *name, uint64_t seed, struct crash_workload *w);
int crash_run(const struct crash_cfg *cfg, const struct crash_workload *w,
	      const struct crash_target *only, struct crash_stats *st);
/* "SEED/WORKLOAD/OP/EPOCH/SUBSET" */
int crash_spec_parse(const char *spec, uint64_t *seed, struct crash_workload *w,
		     struct crash_target *t);

/* Known library bugs: a failure they explain is counted apart (see --strict). */
const char *crash_known_bug(const struct crash_workload *w, size_t op, const char *why);
/* fsck findings on legitimate crash states (not library bugs): why, or NULL. */
const char *crash_fsck_dispute(const char *why);

#endif

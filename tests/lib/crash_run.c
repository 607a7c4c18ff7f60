/*
 * Running one workload and exploring its crash states.
 *
 * The workload runs through the library on an in-memory device wrapped
 * by the recording backend, one op at a time. After each op its write
 * log is replayed epoch by epoch onto a shadow of the durable image;
 * every epoch yields crash images (none, full, all relevant, prefixes,
 * single omissions, random subsets, every subset when small), which are
 * deduplicated and checked against the states the op may legally leave.
 * A write guard on the recording device meanwhile vetoes any write into
 * a block the last durable commit can reach.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "crash.h"
#include "fsaudit.h"

#define MAX_REPORTS 5	/* printed failures per workload; the rest are counted */

struct guard {
	uint8_t *forbid;	/* per block: reachable from the durable commit */
	uint64_t allowed[2];	/* the inactive slot and its replica */
	uint64_t nblocks;
	bool armed;
	uint64_t *calls;
	char msg[160];
};

struct run {
	const struct crash_cfg *cfg;
	const struct crash_workload *w;
	const struct crash_target *only;
	struct crash_stats *st;
	struct pmcfs_dev *mem, *rec;
	struct pmcfs_dev *fsdev;	/* what the library writes to: rec, or a fault in front */
	struct pmcfs_fs *fs;
	uint8_t *shadow, *relevant, *inflight;
	uint64_t nblocks;
	struct guard g;
	struct crash_expect ex;
	struct crash_img im;
	struct crash_keyset seen;
	size_t *idx;
	uint64_t img_hash;	/* of the shadow: sum of per-block hashes */
	size_t opi;
	unsigned reports;
	bool stop;
	bool raw;		/* the durable state holds raw test items (no fsck) */
};

/* ---- reporting ---------------------------------------------------------------- */

static void report(struct run *r, long epoch, const char *subset, const char *why)
{
	const char *known = crash_known_bug(r->w, r->opi, why), *disputed = crash_fsck_dispute(why);
	char ep[24] = "-";

	if (epoch >= 0)
		snprintf(ep, sizeof(ep), "%ld", epoch);
	if (disputed && !r->cfg->strict) {
		static bool told;
		r->st->disputed++;
		if (told && r->cfg->verbose < 1)
			return;
		told = true;
		printf("FSCK-DISPUTED (counted apart, once): workload %s, op %zu (%s), epoch %s, subset %s: %s\n"
		       "  why it is a legitimate state: %s\n", r->w->name, r->opi, r->w->ops[r->opi]->name,
		       ep, subset, why, disputed);
		return;
	}
	if (known && !r->cfg->strict) {
		r->st->known++;
		if (r->cfg->verbose < 1 && r->st->known > 1)
			return;
	} else {
		r->st->failures++;
	}
	if (r->cfg->verbose < 0 || (r->reports++ >= MAX_REPORTS && !r->cfg->verbose))
		return;
	printf("%s: workload %s, op %zu (%s), epoch %s, subset %s: %s\n",
	       known ? "KNOWN BUG" : "FAIL", r->w->name, r->opi, r->w->ops[r->opi]->name, ep,
	       subset, why);
	if (known)
		printf("  known bug: %s\n", known);
	printf("  replay: test_crash --replay '%lu/%s/%zu/%s/%s'\n", (unsigned long)r->cfg->seed,
	       r->w->name, r->opi, ep, subset);
}

/* ---- the write guard (oracle 4) --------------------------------------------------- */

static int guard_fn(void *ctx, uint64_t off, uint64_t len)
{
	struct guard *g = ctx;
	uint64_t first = off / PMCFS_BLOCK_SIZE, last = (off + len - 1) / PMCFS_BLOCK_SIZE;

	(*g->calls)++;
	for (uint64_t b = first; g->armed && b <= last && b < g->nblocks; b++) {
		if (b == g->allowed[0] || b == g->allowed[1] || !g->forbid[b])
			continue;
		snprintf(g->msg, sizeof(g->msg), "write guard: write of [%lu, +%lu) hits block %lu, "
			 "reachable from the durable commit", (unsigned long)off, (unsigned long)len,
			 (unsigned long)b);
		return -EPERM;
	}
	return 0;
}

/* Audit the live filesystem after a commit and forbid what it reaches. */
static int arm_guard(struct run *r)
{
	const struct pmcfs_commit_info *ci = pmcfs_fs_commit(r->fs);
	const struct pmcfs_sb_info *sb = pmcfs_fs_sb(r->fs);
	uint64_t next = ci->generation + 1;
	struct fsaudit a;
	char why[400];
	int ret = 0;

	if (fsaudit_run(r->fs, &a)) {
		snprintf(why, sizeof(why), "live audit after commit %lu: %d errors, first: %s",
			 (unsigned long)ci->generation, a.errors, a.first_error);
		report(r, -1, "-", why);
		ret = -1;
	}
	for (uint64_t b = 0; b < r->nblocks; b++)
		r->g.forbid[b] = (a.refs && (a.refs[b] || a.reachable[b])) || b < PMCFS_RESERVED_BLOCKS ||
				 b >= r->nblocks - PMCFS_RESERVED_BLOCKS;
	fsaudit_free(&a);
	r->g.allowed[0] = sb->slot_blkno[next & 1];
	r->g.allowed[1] = sb->replica_blkno + 1 + (next & 1);
	r->g.armed = true;
	return ret;
}

/* ---- exploring one epoch -------------------------------------------------------------- */

/*
 * Epochs already explored, by (durable image, the epoch's writes, legal
 * states). ACE sequences share prefixes (every base:ins+X+Y starts with
 * the same ins), so most epochs recur; exploring one again would check
 * the very same images against the very same states.
 */
static struct crash_keyset explored;

static uint64_t block_hash(const uint8_t *data, uint64_t b)
{
	static const uint8_t zero[PMCFS_BLOCK_SIZE];

	return memcmp(data, zero, PMCFS_BLOCK_SIZE) ? crash_hash64(data, PMCFS_BLOCK_SIZE, b) : 0;
}

static uint64_t epoch_id(struct run *r, const struct crash_epoch *ep)
{
	uint64_t h = crash_mix(r->img_hash, crash_hash64(ep->u, ep->n * sizeof(*ep->u), ep->n));

	for (int i = 0; i < r->ex.n; i++)
		h = crash_mix(h, r->ex.hash[i]);
	return crash_mix(crash_mix(h, r->ex.nofs_ok), r->ex.fsck);
}

static int check_subset(struct run *r, struct crash_epoch *ep, long epoch, const char *spec,
			long n, bool track)
{
	char why[600];
	int ret;

	crash_img_reset(&r->im);
	crash_epoch_apply(ep, &r->im, r->idx, (size_t)n);
	if (track) {
		/* Before the check: its transaction after recovery changes the image. */
		crash_reach(&r->im, r->relevant, r->inflight);
		memset(r->im.readmap, 0, r->nblocks);
	}
	ret = crash_check_image(&r->im, &r->ex, r->cfg, why, sizeof(why));
	r->st->checked++;
	if (r->cfg->verbose > 1 || (r->only && r->cfg->verbose))
		printf("  image %s: %ld units: %s\n", spec, n, ret ? why : "ok");
	if (ret)
		report(r, epoch, spec, why);
	if (track) {
		for (uint64_t b = 0; b < r->nblocks; b++) {
			r->relevant[b] |= r->im.readmap[b];
		}
	}
	return ret;
}

/* The n-th spec of the standard enumeration, or false after the last. */
static bool spec_at(const struct crash_epoch *ep, const struct crash_cfg *cfg, size_t i,
		    char *spec, size_t len)
{
	size_t nrel = ep->nrel;

	if (i == 0)
		return snprintf(spec, len, "all") > 0;
	i--;
	if (i + 1 < nrel)
		return snprintf(spec, len, "prefix:%zu", i + 1) > 0;
	i -= nrel ? nrel - 1 : 0;
	if (i < nrel)
		return snprintf(spec, len, "omit:%zu", i) > 0;
	i -= nrel;
	if (i < cfg->nrandom)
		return snprintf(spec, len, "rand:%zu", i) > 0;
	i -= cfg->nrandom;
	if (nrel <= CRASH_EXHAUSTIVE_MAX && i < (1UL << nrel))
		return snprintf(spec, len, "mask:%zx", i) > 0;
	return false;
}

static void explore_epoch(struct run *r, uint32_t e)
{
	struct crash_epoch ep;
	struct pmcfs_sb_info sb;
	bool target = r->only && r->only->op == (long)r->opi && r->only->epoch == (long)e;
	bool slots;
	char spec[64];
	long n;

	if (crash_epoch_build(&ep, r->rec, e, r->shadow, CRASH_DEV_SIZE))
		abort();
	memset(r->inflight, 0, r->nblocks);
	for (size_t i = 0; i < ep.n; i++)
		r->inflight[ep.u[i].pos / PMCFS_BLOCK_SIZE] = 1;
	if (!ep.n || (r->only && !target))
		goto apply;
	if (!r->only && !crash_keyset_add(&explored, epoch_id(r, &ep))) {
		r->st->epochs_same++;
		goto apply;
	}
	r->st->epochs++;
	r->st->units += ep.n;
	free(r->idx);
	r->idx = malloc((ep.n ? ep.n : 1) * sizeof(*r->idx));
	if (!r->idx)
		abort();
	/* None and full first: what they read, and what any record reaches, is what can matter. */
	memset(r->relevant, 0, r->nblocks);
	crash_keyset_clear(&r->seen);
	slots = !pmcfs_super_from_disk(r->shadow, &sb, NULL);
	for (int i = 0; i < 2; i++) {
		const char *s = i ? "full" : "none";
		if (target && !i && r->cfg->verbose)
			printf("epoch %u: %zu units in flight\n", e, ep.n);
		n = crash_subset(&ep, s, 0, r->idx);
		r->st->generated++;
		check_subset(r, &ep, e, s, n, true);
	}
	crash_epoch_prune(&ep, r->relevant, !r->cfg->no_prune);
	r->st->relevant += ep.nrel;
	if (r->cfg->verbose > 1) {
		printf("op %zu epoch %u: %zu units, %zu relevant in blocks", r->opi, e, ep.n, ep.nrel);
		for (size_t i = 0; i < ep.nrel; i++) {
			uint64_t b = ep.u[ep.rel[i]].pos / PMCFS_BLOCK_SIZE;
			if (!i || b != ep.u[ep.rel[i - 1]].pos / PMCFS_BLOCK_SIZE)
				printf(" %lu", (unsigned long)b);
		}
		printf("\n");
	}
	slots = slots && crash_epoch_slots_only(&ep, &sb);
	for (int i = 0; i < 2; i++) {
		n = crash_subset(&ep, i ? "full" : "none", 0, r->idx);
		crash_keyset_add(&r->seen, slots ? crash_epoch_slot_key(&ep, &sb, r->idx, (size_t)n) :
			   crash_epoch_key(&ep, r->idx, (size_t)n));
	}
	if (target) {
		if (!strcmp(r->only->subset, "none") || !strcmp(r->only->subset, "full"))
			goto apply;
		n = crash_subset(&ep, r->only->subset, crash_mix(r->cfg->seed, crash_mix(r->opi, e)), r->idx);
		if (r->cfg->verbose)
			printf("epoch %u: %zu relevant units (%s), subset %s: %ld units\n", e, ep.nrel,
			       slots ? "commit records only" : "blocks", r->only->subset, n);
		if (n < 0)
			printf("subset %s does not apply to this epoch\n", r->only->subset);
		else
			check_subset(r, &ep, e, r->only->subset, n, false);
		goto apply;
	}
	for (size_t i = 0; spec_at(&ep, r->cfg, i, spec, sizeof(spec)); i++) {
		uint64_t key;
		n = crash_subset(&ep, spec, crash_mix(r->cfg->seed, crash_mix(r->opi, e)), r->idx);
		if (n < 0)
			continue;
		r->st->generated++;
		key = slots ? crash_epoch_slot_key(&ep, &sb, r->idx, (size_t)n) :
		      crash_epoch_key(&ep, r->idx, (size_t)n);
		if (crash_keyset_add(&r->seen, key))
			check_subset(r, &ep, e, spec, n, false);
	}
apply:
	/* The epoch is durable from here on. */
	for (uint64_t b = 0; ep.n && b < r->nblocks; b++)
		if (r->inflight[b])
			r->img_hash -= block_hash(r->shadow + b * PMCFS_BLOCK_SIZE, b);
	for (size_t i = 0; i < ep.n; i++) {
		const struct crash_unit *u = &ep.u[i];
		memcpy(r->shadow + u->pos + u->lo, u->val + u->lo, u->hi - u->lo);
	}
	for (uint64_t b = 0; ep.n && b < r->nblocks; b++)
		if (r->inflight[b])
			r->img_hash += block_hash(r->shadow + b * PMCFS_BLOCK_SIZE, b);
	crash_img_reset(&r->im);
	crash_epoch_free(&ep);
}

/* ---- running ops ------------------------------------------------------------------------- */

static void add_state(struct run *r, struct pmcfs_fs *fs)
{
	struct crash_dump d;
	int err = crash_dump_fs(fs, &d);

	if (err) {
		char why[120];
		snprintf(why, sizeof(why), "dump of the live filesystem: %s", pmcfs_strerror(err));
		report(r, -1, "-", why);
		r->stop = true;
		return;
	}
	for (int i = 0; i < r->ex.n; i++)
		if (r->ex.hash[i] == d.hash)
			return;	/* e.g. every step of an incremental drop */
	if (r->ex.n == CRASH_MAX_STATES)
		r->ex.n--;	/* keep the latest; a longer op needs a larger table */
	r->ex.dump[r->ex.n] = d;
	r->ex.hash[r->ex.n++] = d.hash;
}

static void fail_op(struct run *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fail_op(struct run *r, const char *fmt, ...)
{
	char why[400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	report(r, -1, "-", why);
	r->stop = true;
}

static void run_tx_op(struct run *r, const struct crash_op *op, struct crash_opctx *c)
{
	for (c->step = 0;; c->step++) {
		struct pmcfs_trans *tx;
		int ret, err;

		r->g.msg[0] = 0;
		if ((err = pmcfs_trans_begin(r->fs, &tx))) {
			fail_op(r, "begin: %s", pmcfs_strerror(err));
			return;
		}
		ret = op->apply(tx, c);
		if (ret < 0 || ret == CRASH_ABORT) {
			pmcfs_trans_abort(tx);
			if (ret < 0)
				fail_op(r, "op failed: %s %s", pmcfs_strerror(ret), r->g.msg);
			return;
		}
		if ((err = pmcfs_trans_commit(tx))) {
			fail_op(r, "commit: %s %s", pmcfs_strerror(err), r->g.msg);
			return;
		}
		if (arm_guard(r))
			r->stop = true;
		add_state(r, r->fs);
		if (ret != CRASH_MORE || r->stop)
			return;
	}
}

/* A state an external writer (fsck -y) committed: read it from the device as it stands. */
static void dev_committed(struct crash_opctx *c)
{
	struct run *r = c->priv;
	struct pmcfs_fs *fs;

	if (pmcfs_fs_open(r->mem, PMCFS_OPEN_RDONLY | PMCFS_OPEN_NOSPACE, &fs) == 0) {
		add_state(r, fs);
		pmcfs_fs_close(fs);
	}
}

static void run_dev_op(struct run *r, const struct crash_op *op, struct crash_opctx *c)
{
	int err;

	/*
	 * Formatting destroys the old state: there is no durable commit to
	 * guard. fsck -y commits through its own library instance, with
	 * several commits per run: the guard would have to follow them, so it
	 * is off and the op's crash images carry the check.
	 */
	pmcfs_fs_close(r->fs);
	r->fs = NULL;
	r->g.armed = false;
	c->fs = NULL;
	c->committed = dev_committed;
	c->priv = r;
	/* fsck -y would delete the raw test items: only on namespace-only states. */
	if (!((op->flags & CRASH_OP_KEEPFS) && r->raw) && (err = op->apply_dev(c))) {
		fail_op(r, "%s: %s", op->name, pmcfs_strerror(err));
		return;
	}
	if ((err = pmcfs_fs_open(r->fsdev, 0, &r->fs))) {
		fail_op(r, "open after %s: %s", op->name, pmcfs_strerror(err));
		return;
	}
	if (!arm_guard(r))
		add_state(r, r->fs);
	if (!(op->flags & CRASH_OP_KEEPFS))
		r->ex.nofs_ok = true;	/* a crash mid-format may leave no filesystem */
}

static int setup(struct run *r)
{
	const struct crash_base *base;
	int err;

	r->nblocks = CRASH_DEV_SIZE / PMCFS_BLOCK_SIZE;
	r->shadow = calloc(1, CRASH_DEV_SIZE);
	r->relevant = calloc(r->nblocks, 1);
	r->inflight = calloc(r->nblocks, 1);
	r->g.forbid = calloc(r->nblocks, 1);
	r->g.nblocks = r->nblocks;
	r->g.calls = &r->st->guard_checks;
	if (!r->shadow || !r->relevant || !r->inflight || !r->g.forbid)
		return -ENOMEM;
	if ((err = crash_img_init(&r->im, r->shadow, CRASH_DEV_SIZE)) ||
	    (err = pmcfs_dev_mem_open(CRASH_DEV_SIZE, &r->mem)))
		return err;
	if (!r->w->zero) {
		if ((err = crash_base_get(r->w->ns, &base)))
			return err;
		for (size_t i = 0; i < base->n; i++) {
			const uint8_t *blk = base->data + i * PMCFS_BLOCK_SIZE;
			memcpy(r->shadow + base->blkno[i] * PMCFS_BLOCK_SIZE, blk, PMCFS_BLOCK_SIZE);
			r->img_hash += block_hash(blk, base->blkno[i]);
			if ((err = pmcfs_dev_write(r->mem, blk, PMCFS_BLOCK_SIZE,
						   base->blkno[i] * PMCFS_BLOCK_SIZE)))
				return err;
		}
	}
	if ((err = pmcfs_dev_record_open(r->mem, &r->rec)))
		return err;
	r->fsdev = r->rec;
	if (r->cfg->fault && (err = crash_fault_open(r->rec, r->cfg->fault, &r->fsdev)))
		return err;
	if (!r->w->zero) {
		if ((err = pmcfs_fs_open(r->fsdev, 0, &r->fs)))
			return err;
		if (arm_guard(r))
			return -PMCFS_ECORRUPT;
		add_state(r, r->fs);
	}
	pmcfs_dev_record_set_guard(r->rec, guard_fn, &r->g);
	return 0;
}

/* The shadow, rebuilt from the logs alone, must be the device: else the harness lies. */
static void check_shadow(struct run *r)
{
	uint8_t buf[PMCFS_BLOCK_SIZE];

	for (uint64_t b = 0; b < r->nblocks; b++) {
		if (pmcfs_dev_read(r->mem, buf, sizeof(buf), b * PMCFS_BLOCK_SIZE) ||
		    memcmp(buf, r->shadow + b * PMCFS_BLOCK_SIZE, sizeof(buf))) {
			fail_op(r, "harness: replayed log differs from the device at block %lu",
				(unsigned long)b);
			return;
		}
	}
}

int crash_run(const struct crash_cfg *cfg, const struct crash_workload *w,
	      const struct crash_target *only, struct crash_stats *st)
{
	struct run r = { .cfg = cfg, .w = w, .only = only, .st = st, .raw = !w->zero && !w->ns };
	int err = setup(&r);

	st->workloads++;
	if (err) {
		printf("FAIL: workload %s: setup: %s\n", w->name, pmcfs_strerror(err));
		st->failures++;
	}
	for (r.opi = 0; !err && !r.stop && r.opi < w->nops; r.opi++) {
		const struct crash_op *op = w->ops[r.opi];
		struct crash_opctx c = { .fs = r.fs, .dev = r.fsdev,
					 .rng = crash_mix(cfg->seed, r.opi + 1) };
		if (r.ex.n) {
			r.ex.dump[0] = r.ex.dump[r.ex.n - 1];
			r.ex.hash[0] = r.ex.hash[r.ex.n - 1];
			r.ex.n = 1;
		}
		r.ex.nofs_ok = !r.fs;
		/* fsck judges a crash image only if no legal state holds raw test items. */
		r.ex.fsck = !r.raw && !(op->flags & CRASH_OP_RAW);
		pmcfs_dev_record_clear(r.rec);
		if (op->apply_dev)
			run_dev_op(&r, op, &c);
		else if (!r.fs)
			fail_op(&r, "%s needs a filesystem", op->name);
		else
			run_tx_op(&r, op, &c);
		/* Formatting clears the raw items; a raw op adds them. */
		r.raw = (r.raw && !(op->apply_dev && !(op->flags & CRASH_OP_KEEPFS))) ||
			(op->flags & CRASH_OP_RAW);
		st->ops++;
		for (uint32_t e = 0; e <= pmcfs_dev_record_epoch(r.rec); e++)
			explore_epoch(&r, e);
		if (only && (long)r.opi == only->op)
			break;
	}
	if (!err && !r.stop && !only)
		check_shadow(&r);
	pmcfs_fs_close(r.fs);
	if (r.fsdev && r.fsdev != r.rec)
		pmcfs_dev_close(r.fsdev);
	if (r.rec)
		pmcfs_dev_close(r.rec);
	else
		pmcfs_dev_close(r.mem);
	crash_img_release(&r.im);
	free(r.shadow);
	free(r.relevant);
	free(r.inflight);
	free(r.g.forbid);
	free(r.idx);
	free(r.seen.keys);
	free(r.seen.used);
	return err;
}

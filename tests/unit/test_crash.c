/*
 * Crash-consistency test (format-notes §10, issue 6): every crash state
 * of every workload opens, audits clean, holds the state before or after
 * the op in flight, and accepts one more transaction; no write ever hits
 * a block the durable commit reaches. See tests/README.md.
 *
 *   test_crash                 short run (make check): every sequence of up
 *                              to 3 ops from each family's short set, a few
 *                              random workloads
 *   test_crash --long          every sequence of up to 3 ops from each whole
 *                              family, random workloads of 1000 ops
 *
 * Two families of ops: the raw tree ops (items of a test type, from the
 * "base" setup) and the namespace ops (from the "ns" setup); the generic
 * ones (snapshots, commit, abort, mkfs) belong to both. Only namespace
 * states are judged by fsck.pmcfs -n too (raw items are not a valid
 * namespace); it is found in $TOP or beside the test's build directory.
 *   test_crash --replay SPEC   rerun one crash image, verbosely
 *   test_crash --workload W    run one workload, e.g. base:snap+ins
 *   test_crash --selftest      only check that injected faults are caught
 *   options: --shard K/N (run shard K of N; scripts/crash-long.sh runs one
 *            per CPU)  --fault N (inject fault N of enum crash_fault)
 *            --seed N  --random N  --ops N  --subsets N  --no-prune
 *            --no-recover  --no-fsck  --family raw|ns  --strict  -v  --list
 */
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "crash.h"

static struct crash_stats stats;
static struct crash_workload wl;	/* large: keep it off the stack */

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* The long run says how far it is: a first pass only counts the workloads. */
static bool counting;
static unsigned long planned, finished, progress_every;
static double started;

static void run_named(const struct crash_cfg *cfg, const char *name)
{
	if (counting) {
		planned++;
		return;
	}
	if (progress_every && finished && finished % progress_every == 0)
		printf("progress: %lu of %lu workloads done (the random ones, last, take longest), %.0fs\n",
		       finished, planned, now() - started);
	finished++;
	if (crash_workload_parse(name, cfg->seed, &wl)) {
		printf("FAIL: bad workload %s\n", name);
		stats.failures++;
		return;
	}
	if (cfg->verbose)
		printf("workload %s\n", name);
	crash_run(cfg, &wl, NULL, &stats);
}

/* --shard K/N: this process runs the workloads of shard K of N. ACE
 * sequences go by their first op, so sequences sharing a prefix (and
 * the epochs the harness skips as already explored) stay together. */
static unsigned shard_k, shard_n = 1;

/*
 * Workloads that once failed in a long run, kept in the short one with
 * the long run's subset count: a reformat over a filesystem whose commit
 * slots were all zeroed in one epoch could reopen an older generation;
 * a read-only snapshot taken of a tree with an orphan kept the orphan,
 * which fsck -y then offered to free and could not.
 */
static const char *const regressions[] = {
	"base:mkfs", "base:snap+mkfs", "base:snap+mkfs-same+upd", "base:subvol+mkfs+ins",
	"ns:unlink-open+snap+fsck-y",
	/* Not failures: fsck's rollback, kept out of the exhaustive set for time. */
	"ns:create+rollback+create", "ns:overwrite-shared+rollback+fsck-y",
	"ns:snapdel-part+rollback+snapdel-part", "ns:create+rollback+rollback",
};

static void run_regressions(const struct crash_cfg *cfg)
{
	struct crash_cfg c = *cfg;

	if (c.nrandom < 64)
		c.nrandom = 64;
	for (size_t i = 0; i < sizeof(regressions) / sizeof(regressions[0]); i++)
		run_named(&c, regressions[i]);
}

/*
 * Every sequence of 1..maxlen ops of one family (ns: the namespace family
 * from the "ns" setup, else the raw family from "base") with the flags
 * asked for; sequences that start by formatting also from a zeroed device.
 */
static void run_ace(const struct crash_cfg *cfg, bool ns, unsigned need_flags, unsigned maxlen,
		    bool dev_ops_first)
{
	const struct crash_op *set[64];
	size_t n = 0, idx[3];
	unsigned skip_flag = ns ? CRASH_OP_RAW : CRASH_OP_NS;

	for (size_t i = 0; i < crash_nops && n < 64; i++)
		if ((crash_ops[i].flags & need_flags) == need_flags && !(crash_ops[i].flags & skip_flag))
			set[n++] = &crash_ops[i];
	for (unsigned len = 1; len <= maxlen; len++) {
		size_t total = 1;
		for (unsigned j = 0; j < len; j++)
			total *= n;
		for (size_t c = 0; c < total; c++) {
			char name[CRASH_SPEC_MAX];
			size_t v = c, off;
			bool skip = false;
			for (unsigned j = 0; j < len; j++, v /= n) {
				idx[j] = v % n;
				skip |= j && dev_ops_first && set[idx[j]]->apply_dev &&
					!(set[idx[j]]->flags & CRASH_OP_KEEPFS);
			}
			if (skip || idx[0] % shard_n != shard_k)
				continue;
			for (int zero = 0; zero < 2; zero++) {
				bool formats = set[idx[0]]->apply_dev && !(set[idx[0]]->flags & CRASH_OP_KEEPFS);
				if (zero && !formats)
					continue;
				off = (size_t)snprintf(name, sizeof(name), "%s:",
						       zero ? "zero" : ns ? "ns" : "base");
				for (unsigned j = 0; j < len; j++)
					off += (size_t)snprintf(name + off, sizeof(name) - off, "%s%s",
								j ? "+" : "", set[idx[j]]->name);
				run_named(cfg, name);
			}
		}
	}
}

static void run_random(const struct crash_cfg *cfg, const char *setup, unsigned count, unsigned nops)
{
	for (unsigned i = 0; i < count; i++) {
		struct crash_cfg c = *cfg;
		char name[64];
		if (i % shard_n != shard_k)
			continue;
		c.seed = cfg->seed + i;
		snprintf(name, sizeof(name), "%s:rand%u", setup, nops);
		run_named(&c, name);
	}
}

static void run_sets(const struct crash_cfg *cfg, const char *family, bool lng, unsigned nrand,
		     unsigned nops)
{
	/* The short run formats only first: a reformat explores thousands of images. */
	if (!family || !strcmp(family, "raw")) {
		run_ace(cfg, false, lng ? 0 : CRASH_OP_SHORT, 3, !lng);
		run_random(cfg, "base", nrand, nops);
		if (!lng && shard_k == 0)
			run_regressions(cfg);
	}
	if (!family || !strcmp(family, "ns")) {
		run_ace(cfg, true, lng ? 0 : CRASH_OP_SHORT | CRASH_OP_NS, 3, !lng);
		run_random(cfg, "ns", nrand, nops);
	}
}

/* A bug the guard must stop: a live tree block rewritten in place. */
static int op_inplace(struct pmcfs_trans *tx, struct crash_opctx *c)
{
	struct pmcfs_subvol_info si;
	uint64_t junk = ~0ULL;
	int err = pmcfs_subvol_info(c->fs, PMCFS_FIRST_SUBVOL, &si);

	return err ? err : pmcfs_dev_write(c->dev, &junk, sizeof(junk),
					   si.root.blkno * PMCFS_BLOCK_SIZE + 2048);
}

/*
 * The harness must see each injected bug; a harness whose oracles never
 * fire would pass every library. Returns the number of faults missed.
 */
static int selftest(const struct crash_cfg *cfg)
{
	static const struct crash_op inplace = { "inplace", op_inplace, NULL, 0, "" };
	static const struct {
		const char *what, *workload;
		enum crash_fault fault;
	} cases[] = {
		{ "no barrier before the commit record", "base:ins", CRASH_FAULT_NO_BARRIER },
		{ "a block write lost", "base:ins-split", CRASH_FAULT_LOST_WRITE },
		{ "a commit record over the durable slot", "base:ins", CRASH_FAULT_BOTH_SLOTS },
		{ "a live block written in place", NULL, CRASH_FAULT_NONE },
	};
	int missed = 0;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct crash_cfg c = *cfg;
		struct crash_stats st = { 0 };
		c.fault = cases[i].fault;
		c.verbose = -1;
		if (cases[i].workload) {
			crash_workload_parse(cases[i].workload, c.seed, &wl);
		} else {
			crash_workload_parse("base:ins", c.seed, &wl);
			wl.ops[0] = &inplace;
			snprintf(wl.name, sizeof(wl.name), "base:inplace");
		}
		crash_run(&c, &wl, NULL, &st);
		printf("selftest: %s: %s (%lu failing images or ops)\n", cases[i].what,
		       st.failures ? "detected" : "NOT DETECTED", (unsigned long)st.failures);
		missed += !st.failures;
	}
	return missed;
}

static void usage(void)
{
	printf("usage: test_crash [--long] [--seed N] [--random N] [--ops N] [--subsets N] [--shard K/N]\n"
	       "                  [--no-prune] [--no-recover] [--no-fsck] [--family raw|ns]\n"
	       "                  [--strict] [-v]\n"
	       "       test_crash --replay SEED/WORKLOAD/OP/EPOCH/SUBSET [-v]\n"
	       "       test_crash --workload SETUP:OP+OP...   (SETUP base or zero)\n"
	       "       test_crash --selftest | --list\n");
}

int main(int argc, char **argv)
{
	struct crash_cfg cfg = { .seed = 1, .nrandom = 8, .recover_tx = true };
	const char *replay = NULL, *workload = NULL;
	bool lng = false, subsets_set = false, only_selftest = false, no_fsck = false;
	const char *family = NULL, *top = getenv("TOP");
	char tooldir[PATH_MAX];
	int missed = 0;
	unsigned nrand = 2, nops = 40;
	double t0 = now();

	setvbuf(stdout, NULL, _IOLBF, 0);
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(a, "--long")) {
			lng = true;
			nrand = 5;
			nops = 1000;
		} else if (!strcmp(a, "--seed") && v) {
			cfg.seed = strtoull(argv[++i], NULL, 0);
		} else if (!strcmp(a, "--random") && v) {
			nrand = (unsigned)strtoul(argv[++i], NULL, 0);
		} else if (!strcmp(a, "--ops") && v) {
			nops = (unsigned)strtoul(argv[++i], NULL, 0);
		} else if (!strcmp(a, "--subsets") && v) {
			cfg.nrandom = (unsigned)strtoul(argv[++i], NULL, 0);
			subsets_set = true;
		} else if (!strcmp(a, "--replay") && v) {
			replay = argv[++i];
		} else if (!strcmp(a, "--workload") && v) {
			workload = argv[++i];
		} else if (!strcmp(a, "--fault") && v) {
			cfg.fault = (enum crash_fault)strtoul(argv[++i], NULL, 0);
		} else if (!strcmp(a, "--selftest")) {
			only_selftest = true;
		} else if (!strcmp(a, "--no-prune")) {
			cfg.no_prune = true;
		} else if (!strcmp(a, "--no-recover")) {
			cfg.recover_tx = false;
		} else if (!strcmp(a, "--no-fsck")) {
			no_fsck = true;
		} else if (!strcmp(a, "--shard") && v) {
			if (sscanf(argv[++i], "%u/%u", &shard_k, &shard_n) != 2 || !shard_n ||
			    shard_k >= shard_n) {
				usage();
				return 2;
			}
		} else if (!strcmp(a, "--family") && v) {
			family = argv[++i];
		} else if (!strcmp(a, "--strict")) {
			cfg.strict = true;
		} else if (!strcmp(a, "-v")) {
			cfg.verbose++;
		} else if (!strcmp(a, "--list")) {
			for (size_t j = 0; j < crash_nops; j++)
				printf("%-10s %s%s\n", crash_ops[j].name, crash_ops[j].doc,
				       crash_ops[j].flags & CRASH_OP_SHORT ? " [short]" : "");
			return 0;
		} else {
			usage();
			return 2;
		}
	}
	if (lng && !subsets_set)
		cfg.nrandom = 64;
	/* The tools: $TOP, else the parent of this program's directory ($BUILD/tests/..). */
	if (!top && realpath(argv[0], tooldir)) {
		dirname(tooldir);
		top = dirname(tooldir);
	}
	if (!no_fsck && crash_fsck_init(top)) {
		printf("FAIL: no fsck.pmcfs in %s (set TOP, or --no-fsck)\n", top ? top : "?");
		return 1;
	}
	if (no_fsck)
		crash_fsck_init(NULL);

	if (replay) {
		struct crash_target t;
		if (crash_spec_parse(replay, &cfg.seed, &wl, &t)) {
			printf("bad spec %s\n", replay);
			return 2;
		}
		if (!cfg.verbose)
			cfg.verbose = 1;
		crash_run(&cfg, &wl, &t, &stats);
	} else if (workload) {
		run_named(&cfg, workload);
	} else {
		missed = selftest(&cfg);
		if (only_selftest)
			return missed ? 1 : 0;
		if (lng) {
			counting = true;
			run_sets(&cfg, family, lng, nrand, nops);
			counting = false;
			progress_every = 500;
			started = now();
		}
		run_sets(&cfg, family, lng, nrand, nops);
	}
	printf("test_crash: %lu workloads, %lu ops, %lu epochs (+%lu identical skipped), %lu units in flight (%lu relevant), "
	       "%lu crash images generated, %lu checked, %lu failures, %lu known-bug failures, %lu fsck-disputed, "
	       "%lu guarded writes, %lu fsck runs (%lu images with a committed state already judged), %.1fs\n",
	       (unsigned long)stats.workloads, (unsigned long)stats.ops, (unsigned long)stats.epochs,
	       (unsigned long)stats.epochs_same,
	       (unsigned long)stats.units, (unsigned long)stats.relevant,
	       (unsigned long)stats.generated, (unsigned long)stats.checked,
	       (unsigned long)stats.failures, (unsigned long)stats.known, (unsigned long)stats.disputed,
	       (unsigned long)stats.guard_checks, (unsigned long)crash_fsck_runs,
	       (unsigned long)crash_fsck_dedup, now() - t0);
	if (missed)
		printf("test_crash: the self-test missed %d injected faults\n", missed);
	return stats.failures || missed ? 1 : 0;
}

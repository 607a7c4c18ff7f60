/*
 * Naming workloads and crash images, so that a failure prints one line
 * that reruns exactly that image:
 *
 *   workload  SETUP:OP+OP+...   SETUP is "base" (the pre-populated image
 *             SETUP:randN       of raw items), "ns" (a populated namespace)
 *                               or "zero" (a zeroed device); randN draws
 *                               N ops from the seed (from "ns": no raw ops)
 *   spec      SEED/WORKLOAD/OP/EPOCH/SUBSET
 *             OP is the op index, EPOCH the flush epoch within it ("-"
 *             for a failure of the op itself), SUBSET as crash_subset().
 *
 * Also the table of known library bugs, reported but not failed on
 * unless --strict, so that make check stays usable while they are fixed.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "crash.h"

int crash_workload_parse(const char *name, uint64_t seed, struct crash_workload *w)
{
	char buf[CRASH_SPEC_MAX], *ops, *tok, *save = NULL;
	unsigned long nrand;

	memset(w, 0, sizeof(*w));
	if (strlen(name) >= sizeof(buf))
		return -ENAMETOOLONG;
	strcpy(buf, name);
	strcpy(w->name, name);
	ops = strchr(buf, ':');
	if (!ops)
		return -EINVAL;
	*ops++ = 0;
	if (!strcmp(buf, "zero"))
		w->zero = true;
	else if (!strcmp(buf, "ns"))
		w->ns = true;
	else if (strcmp(buf, "base"))
		return -EINVAL;
	if (sscanf(ops, "rand%lu", &nrand) == 1) {
		const struct crash_op *eligible[64];
		size_t ne = 0;
		if (w->zero || nrand > CRASH_MAX_OPS)
			return -EINVAL;
		for (size_t i = 0; i < crash_nops && ne < 64; i++)
			if (!(crash_ops[i].flags & CRASH_OP_NORANDOM) &&
			    !(w->ns && (crash_ops[i].flags & CRASH_OP_RAW)))
				eligible[ne++] = &crash_ops[i];
		for (size_t j = 0; j < nrand; j++)
			w->ops[w->nops++] = eligible[crash_mix(seed ^ 0xace, j) % ne];
		return 0;
	}
	for (tok = strtok_r(ops, "+", &save); tok; tok = strtok_r(NULL, "+", &save)) {
		const struct crash_op *op = crash_op_find(tok);
		if (!op || w->nops == CRASH_MAX_OPS)
			return -EINVAL;
		w->ops[w->nops++] = op;
	}
	/* A zeroed device holds nothing to operate on until something formats it. */
	if (!w->nops || (w->zero && !w->ops[0]->apply_dev))
		return -EINVAL;
	return 0;
}

int crash_spec_parse(const char *spec, uint64_t *seed, struct crash_workload *w,
		     struct crash_target *t)
{
	char buf[CRASH_SPEC_MAX + 128], *f[5], *save = NULL;
	int n = 0;

	if (strlen(spec) >= sizeof(buf))
		return -ENAMETOOLONG;
	strcpy(buf, spec);
	for (char *p = strtok_r(buf, "/", &save); p && n < 5; p = strtok_r(NULL, "/", &save))
		f[n++] = p;
	if (n != 5)
		return -EINVAL;
	*seed = strtoull(f[0], NULL, 0);
	memset(t, 0, sizeof(*t));
	t->op = strtol(f[2], NULL, 10);
	t->epoch = strcmp(f[3], "-") ? strtol(f[3], NULL, 10) : -1;
	if (strlen(f[4]) >= sizeof(t->subset))
		return -EINVAL;
	strcpy(t->subset, f[4]);
	return crash_workload_parse(f[1], *seed, w);
}

/*
 * Failures the library is known to produce, matched on the op and the
 * text of the failure. Each entry names the bug; remove it once fixed.
 */
struct known_bug {
	const char *op;		/* op in flight */
	const char *why;	/* substring of the failure */
	const char *bug;
};

static const struct known_bug known_bugs[] = {
	{ NULL, NULL, NULL },
};

const char *crash_known_bug(const struct crash_workload *w, size_t op, const char *why)
{
	for (const struct known_bug *k = known_bugs; k->op; k++)
		if (op < w->nops && !strcmp(w->ops[op]->name, k->op) && strstr(why, k->why))
			return k->bug;
	return NULL;
}

/*
 * fsck.pmcfs -n findings on crash images that hold a legitimate state:
 * a disagreement between the harness's model and fsck, not a library
 * bug. Reported as FSCK-DISPUTED and counted apart (failures with
 * --strict) until fsck or the model changes; remove the entry then.
 */
static const struct {
	const char *why, *reason;
} fsck_disputes[] = {
	/* None now: orphans are a warning that -y frees (P4.046), and the
	 * qsort(NULL, 0) fsck bug is fixed. */
	{ NULL, NULL },
};

const char *crash_fsck_dispute(const char *why)
{
	for (size_t i = 0; fsck_disputes[i].why; i++)
		if (strstr(why, "fsck -n") && strstr(why, fsck_disputes[i].why))
			return fsck_disputes[i].reason;
	return NULL;
}

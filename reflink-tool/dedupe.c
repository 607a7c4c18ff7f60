// SPDX-License-Identifier: MIT
/*
 * The dedupe driver shared by `dedupe` and `scan`: splits a range into
 * calls the backend accepts, sends many destinations per call, and
 * finishes short dedupes one destination at a time. The kernel compares
 * the bytes under its locks, so a range that changed since it was hashed
 * comes back as "differs" and is left alone.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "reflink_priv.h"

static void note_error(struct rl_dedupe_result *r, int err, uint64_t off)
{
	if (!r->error) {
		r->error = err;
		r->error_off = off;
	}
}

static void note_differs(struct rl_dedupe_result *r, uint64_t off)
{
	if (!r->differs) {
		r->differs = true;
		r->differs_at = off;
	}
}

/*
 * One destination over [pos, end) of the current chunk (offsets relative
 * to the start of the whole range). Returns false when the destination
 * must be dropped (an error).
 */
static bool dedupe_one(struct rl_file *src, uint64_t soff, struct rl_file *dst,
		       uint64_t doff, uint64_t pos, uint64_t end,
		       struct rl_dedupe_result *res)
{
	bool reopened = false;

	while (pos < end) {
		struct rl_dedupe_dest d = { .file = dst, .offset = doff + pos };
		int err;

		err = rl_ops->dedupe_range(src, soff + pos, end - pos, &d, 1);
		if (!err)
			err = d.status < 0 ? d.status : 0;
		/*
		 * The kernel lets us dedupe into a read-only descriptor when we
		 * own the file or have CAP_SYS_ADMIN; otherwise it wants write
		 * access, so reopen once and retry.
		 */
		if ((err == -EPERM || err == -EBADF) && !dst->writable && !reopened) {
			reopened = true;
			if (rl_ops->reopen_rw(dst) == 0)
				continue;
		}
		if (err) {
			note_error(res, err, doff + pos);
			return false;
		}
		if (d.status == RL_DEDUPE_DIFFERS) {
			note_differs(res, doff + pos);
			return true;
		}
		if (d.deduped == 0)	/* no progress and no reason: stop */
			return true;
		res->deduped += d.deduped;
		pos += d.deduped;
	}
	return true;
}

/*
 * The kernel compares both sides of a chunk through the page cache and
 * reads what is missing there one page at a time. scan hashes with
 * O_DIRECT, so nothing is there: on the bench its dedupe phase took 1 to
 * 4 s that way and 0.4 to 0.7 s with this. Ask for the chunk at c (the
 * source, then destinations while RL_READAHEAD_BYTES lasts) in large
 * reads, before it is needed.
 */
static void read_ahead(struct rl_file *src, uint64_t soff, struct rl_file **dsts,
		       const uint64_t *offsets, const bool *dropped, unsigned int n,
		       uint64_t c, uint64_t clen)
{
	uint64_t budget = RL_READAHEAD_BYTES;
	unsigned int i;

	if (!rl_ops->readahead)
		return;
	rl_ops->readahead(src, soff + c, clen);
	for (i = 0; i < n && budget > clen; i++) {
		if (dropped[i])
			continue;
		rl_ops->readahead(dsts[i], offsets[i] + c, clen);
		budget -= clen;
	}
}

void rl_dedupe(struct rl_file *src, uint64_t soff, uint64_t len,
	       struct rl_file **dsts, const uint64_t *offsets, unsigned int n,
	       struct rl_dedupe_result *results)
{
	uint64_t maxlen = rl_ops->max_dedupe_len ? rl_ops->max_dedupe_len : len;
	unsigned int maxd = rl_ops->max_dedupe_dests ? rl_ops->max_dedupe_dests : 1;
	struct rl_dedupe_dest *batch = xcalloc(maxd, sizeof(*batch));
	unsigned int *idx = xcalloc(maxd, sizeof(*idx));
	bool *dropped = xcalloc(n ? n : 1, sizeof(*dropped));
	uint64_t c;
	unsigned int i, next, nb;

	memset(results, 0, n * sizeof(*results));
	for (c = 0; c < len; c += maxlen) {
		uint64_t clen = len - c < maxlen ? len - c : maxlen;

		if (c == 0)
			read_ahead(src, soff, dsts, offsets, dropped, n, c, clen);
		if (len - c > maxlen)	/* read while this one is compared */
			read_ahead(src, soff, dsts, offsets, dropped, n, c + maxlen,
				   len - c - maxlen < maxlen ? len - c - maxlen : maxlen);

		for (next = 0; next < n; ) {
			int err;

			for (nb = 0; next < n && nb < maxd; next++) {
				if (dropped[next])
					continue;
				batch[nb].file = dsts[next];
				batch[nb].offset = offsets[next] + c;
				batch[nb].deduped = 0;
				batch[nb].status = 0;
				idx[nb++] = next;
			}
			if (!nb)
				break;
			err = rl_ops->dedupe_range(src, soff + c, clen, batch, nb);
			for (i = 0; i < nb; i++) {
				struct rl_dedupe_result *r = &results[idx[i]];
				struct rl_dedupe_dest *d = &batch[i];

				if (err) {
					/* A whole-call failure is about the source
					 * or the range: the same for every dest. */
					note_error(r, err, offsets[idx[i]] + c);
					dropped[idx[i]] = true;
				} else if (d->status == RL_DEDUPE_DIFFERS) {
					note_differs(r, d->offset);
				} else if (d->status == 0 && d->deduped >= clen) {
					r->deduped += d->deduped;
				} else {
					/* Short, or an error we may cure by
					 * reopening: continue this one alone. */
					uint64_t done = d->status == 0 ? d->deduped : 0;

					r->deduped += done;
					if (!dedupe_one(src, soff, dsts[idx[i]], offsets[idx[i]],
							c + done, c + clen, r))
						dropped[idx[i]] = true;
				}
			}
		}
	}
	free(batch);
	free(idx);
	free(dropped);
}

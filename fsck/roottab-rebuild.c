// SPDX-License-Identifier: MIT
/*
 * Rebuilding the root table (P2.017).
 *
 * A damaged block of the root table costs every subvolume whose entry it
 * holds (its root, all of them), yet their trees are usually intact: they
 * are simply no longer listed. When the older commit cannot be rolled back
 * to, their roots are found instead. Every block the space map counts in
 * use that no tree pass 2 walked reached is read once; a sound fs-tree
 * block that begins a tree (its first key is the root directory's inode,
 * or below it for a node) and that no other sound block points at is a
 * subvolume root, listed by as many entries as the space map counts
 * references to it (snapshots share their root until one of them is
 * written). Each gets its old entry back where one survives - in a block
 * of the root table that the damage cut off, or in the older commit's
 * root table (matched by root block and generation, else by the block's
 * owner for the newest root of that owner) - or else a new one: named
 * "recovered-ID", read-only unless it is the default subvolume. A new
 * root table of the kept and the found entries replaces the old one
 * (pmcfs_roottab_rebuild); the check restarts at pass 2, which finds the
 * old table's blocks leaked and rebuilds the space map.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "fsck.h"
#include "pmcfs_endian.h"
#include "pmcfs_repair.h"

enum { HINT_ORPHAN, HINT_OLDER };	/* where an old entry was read */

/* New entries for one root block, and in all. */
#define MAX_SHARING	1024
#define MAX_ENTRIES	16384

static const char *const hint_source[] = {
	[HINT_ORPHAN] = "its entry, from a root table block the damage cut off",
	[HINT_OLDER] = "its entry in the older commit",
};

struct hint {
	struct pmcfs_subvol_info si;
	int source;
	bool used;
};

/* A block no sound block points at that may be a subvolume root. */
struct found_root {
	struct pmcfs_root_ref root;
	uint64_t owner;
	uint32_t refs;			/* references the space map counts */
	bool shared_with_kept;		/* a kept entry's root: refs are the surplus */
};

struct rebuild {
	struct fsck_ctx *ctx;
	uint8_t *pointed, *skip, *older_seen;
	uint8_t *buf;
	struct found_root *cand;
	size_t ncand, cand_cap;
	struct hint *hints;
	size_t nhints, hints_cap;
	struct pmcfs_subvol_info *out;	/* the new table */
	const char **why;		/* per entry of out: where it came from, NULL if kept */
	size_t nout, out_cap, why_cap;
	uint64_t max_id;		/* the largest id ever seen, for new ids */
	uint64_t blocks_read;
};

static void add_hint(struct rebuild *r, const struct pmcfs_ckey *k, const uint8_t *body,
		     uint32_t size, int source)
{
	struct pmcfs_subvol_info si;

	if (k->type == PMCFS_KEY_NEXT_SUBVOL && size == 8) {
		uint64_t next;
		memcpy(&next, body, sizeof(next));
		next = le64toh(next);
		if (next > r->max_id + 1 && next <= PMCFS_LAST_SUBVOL + 1)
			r->max_id = next - 1;
		return;
	}
	if (k->type != PMCFS_KEY_ROOT || k->offset || k->objectid < PMCFS_FIRST_SUBVOL ||
	    k->objectid > PMCFS_LAST_SUBVOL || pmcfs_root_item_decode(k->objectid, body, size, &si) ||
	    strlen(si.name) != size - sizeof(struct pmcfs_root_item))
		return;		/* malformed, or a NUL in the name */
	r->hints = xgrow(r->hints, &r->hints_cap, r->nhints + 1, sizeof(*r->hints));
	r->hints[r->nhints] = (struct hint){ si, source, false };
	r->nhints++;
	if (si.id > r->max_id)
		r->max_id = si.id;
}

static void leaf_hints(struct rebuild *r, const uint8_t *buf, int source)
{
	for (unsigned i = 0; i < pmcfs_node_nritems(buf); i++) {
		struct pmcfs_ckey k;
		uint32_t size;
		const uint8_t *body = pmcfs_leaf_body(buf, i, &size);
		pmcfs_node_key(buf, i, &k);
		add_hint(r, &k, body, size, source);
	}
}

/* The older commit's root table, as far as it reads: entries to reuse. */
static void older_hints(struct rebuild *r, uint64_t blk, uint64_t gen, int level)
{
	struct pmcfs_verify_err why;
	uint8_t *buf;

	if (blk < r->ctx->sb.data_start || blk >= r->ctx->sb.data_end || bit_test(r->older_seen, blk))
		return;
	bit_set(r->older_seen, blk);	/* each block once, however many point at it */
	buf = xmalloc(PMCFS_BLOCK_SIZE);
	if (!pmcfs_block_read(r->ctx->fs, blk, buf) &&
	    !pmcfs_node_verify(r->ctx->fs, buf, blk, PMCFS_ROOTTAB_MAGIC, level, &why) &&
	    pmcfs_header_generation((const struct pmcfs_header *)buf) == gen) {
		if (level == 0)
			leaf_hints(r, buf, HINT_OLDER);
		for (unsigned i = 0; level > 0 && i < pmcfs_node_nritems(buf); i++) {
			uint64_t cblk, cgen;
			pmcfs_node_child(buf, i, &cblk, &cgen);
			older_hints(r, cblk, cgen, level - 1);
		}
	}
	free(buf);
}

static void add_candidate(struct rebuild *r, uint64_t blk, const uint8_t *buf, uint32_t refs)
{
	const struct pmcfs_header *h = (const struct pmcfs_header *)buf;

	r->cand = xgrow(r->cand, &r->cand_cap, r->ncand + 1, sizeof(*r->cand));
	r->cand[r->ncand++] = (struct found_root){
		{ blk, pmcfs_header_generation(h), (uint8_t)pmcfs_node_level(buf) },
		pmcfs_header_owner(h), refs, false };
}

/* Does this fs-tree block begin a tree? Only a leftmost path does. */
static bool begins_tree(const uint8_t *buf)
{
	struct pmcfs_ckey k, first = { PMCFS_ROOT_INO, PMCFS_KEY_INODE, 0 };

	if (!pmcfs_node_nritems(buf))
		return pmcfs_node_level(buf) == 0;
	pmcfs_node_key(buf, 0, &k);
	return pmcfs_node_level(buf) ? pmcfs_key_cmp(&k, &first) <= 0 : !pmcfs_key_cmp(&k, &first);
}

static void scan_block(struct rebuild *r, uint64_t blk, uint32_t refs)
{
	const struct fsck_ctx *ctx = r->ctx;
	struct pmcfs_verify_err why;
	uint32_t magic;

	r->blocks_read++;
	if (pmcfs_block_read(r->ctx->fs, blk, r->buf) ||
	    pmcfs_node_verify(ctx->fs, r->buf, blk, 0, -1, &why) ||
	    pmcfs_header_generation((const struct pmcfs_header *)r->buf) > ctx->commit.generation)
		return;		/* data, or not sound: nothing to learn from it */
	magic = pmcfs_header_magic((const struct pmcfs_header *)r->buf);
	if (magic != PMCFS_FS_MAGIC && magic != PMCFS_ROOTTAB_MAGIC)
		return;
	for (unsigned i = 0; pmcfs_node_level(r->buf) && i < pmcfs_node_nritems(r->buf); i++) {
		uint64_t cblk, cgen;
		pmcfs_node_child(r->buf, i, &cblk, &cgen);
		if (cblk < ctx->nblocks)
			bit_set(r->pointed, cblk);
	}
	/* Every owner is an id that was given out: new ids go above them. */
	if (magic == PMCFS_FS_MAGIC) {
		uint64_t owner = pmcfs_header_owner((const struct pmcfs_header *)r->buf);
		if (owner > r->max_id && owner <= PMCFS_LAST_SUBVOL)
			r->max_id = owner;
	}
	if (magic == PMCFS_ROOTTAB_MAGIC && pmcfs_node_level(r->buf) == 0)
		leaf_hints(r, r->buf, HINT_ORPHAN);
	else if (magic == PMCFS_FS_MAGIC && begins_tree(r->buf))
		add_candidate(r, blk, r->buf, refs);
}

/* Every block in use that no walked tree reached, once. */
static int scan(struct rebuild *r)
{
	struct fsck_ctx *ctx = r->ctx;
	struct pmcfs_ckey first = { 0, PMCFS_KEY_SPACE_RUN, 0 }, k;
	struct pmcfs_iter *it;
	const void *body;
	uint32_t size;
	int rc;

	for (size_t i = 0; i < ctx->datarefs.n; i++) {	/* data of the walked trees */
		uint64_t b = ctx->datarefs.v[i].start, e = b + ctx->datarefs.v[i].len;
		for (; b < e && b < ctx->nblocks; b++)
			bit_set(r->skip, b);
	}
	if ((rc = pmcfs_iter_start(ctx->fs, pmcfs_fs_spacemap(ctx->fs), &first, &it)))
		return rc;
	while (!fsck_cancelled && (rc = pmcfs_iter_next(it, &k, &body, &size)) > 0) {
		struct pmcfs_space_run sr;
		uint64_t s, e;
		if (k.type != PMCFS_KEY_SPACE_RUN || size != sizeof(sr))
			continue;
		memcpy(&sr, body, sizeof(sr));
		if (pmcfs_space_run_owner(&sr) != PMCFS_OWNER_FS || !pmcfs_space_run_refcount(&sr))
			continue;
		s = k.objectid > ctx->sb.data_start ? k.objectid : ctx->sb.data_start;
		e = k.objectid + pmcfs_space_run_len(&sr);
		if (e > ctx->sb.data_end)
			e = ctx->sb.data_end;
		for (uint64_t b = s; b < e && !fsck_cancelled; b++)
			if (!bit_test(ctx->seen, b) && !bit_test(r->skip, b) &&
			    !(ctx->nbadv && in_bad_media(ctx, b, 1)))	/* poison: never read */
				scan_block(r, b, pmcfs_space_run_refcount(&sr));
		progress(ctx, 3, e, ctx->nblocks);
	}
	pmcfs_iter_free(it);
	return rc < 0 ? rc : 0;
}

static bool id_taken(const struct rebuild *r, uint64_t id)
{
	for (size_t i = 0; i < r->nout; i++)
		if (r->out[i].id == id)
			return true;
	return false;
}

/* Does an entry before the last one have this name? */
static bool name_taken_before(const struct rebuild *r, const char *name)
{
	for (size_t i = 0; i + 1 < r->nout; i++)
		if (!strcmp(r->out[i].name, name))
			return true;
	return false;
}

/* "recovered-ID", or "recovered-ID.N" if an entry has that name already. */
static void unique_name(struct rebuild *r, struct pmcfs_subvol_info *e)
{
	snprintf(e->name, sizeof(e->name), "recovered-%llu", (unsigned long long)e->id);
	for (unsigned n = 1; name_taken_before(r, e->name); n++)
		snprintf(e->name, sizeof(e->name), "recovered-%llu.%u", (unsigned long long)e->id, n);
}

static struct pmcfs_subvol_info *add_entry(struct rebuild *r, const char *why)
{
	r->out = xgrow(r->out, &r->out_cap, r->nout + 1, sizeof(*r->out));
	r->why = xgrow(r->why, &r->why_cap, r->nout + 1, sizeof(*r->why));
	r->why[r->nout] = why;
	memset(&r->out[r->nout], 0, sizeof(r->out[0]));
	return &r->out[r->nout++];
}

static uint64_t next_ino_of(struct rebuild *r, const struct pmcfs_root_ref *root, uint64_t hint)
{
	uint64_t ino;

	/* A rightmost path that does not read leaves no clue: stay far above. */
	if (pmcfs_tree_next_ino(r->ctx->fs, root, &ino))
		ino = 1ULL << 48;
	return ino > hint ? ino : hint;
}

/*
 * An old entry for root f, if one survives: one naming this very root
 * block, or (by_owner) one of the subvolume that wrote the block, whose
 * root has moved on since.
 */
static bool old_entry(struct rebuild *r, const struct found_root *f, bool by_owner)
{
	for (size_t i = 0; i < r->nhints; i++) {
		struct hint *h = &r->hints[i];
		struct pmcfs_subvol_info *e;
		bool same_root = h->si.root.blkno == f->root.blkno && h->si.root.gen == f->root.gen;
		if (h->used || id_taken(r, h->si.id) || (by_owner ? h->si.id != f->owner : !same_root))
			continue;
		h->used = true;
		e = add_entry(r, hint_source[h->source]);
		*e = h->si;
		if (!same_root) {	/* only the root and the inode numbers moved on */
			e->root = f->root;
			e->next_ino = next_ino_of(r, &f->root, h->si.next_ino);
		}
		if (e->name[0] && name_taken_before(r, e->name))
			unique_name(r, e);
		return true;
	}
	return false;
}

static void new_entry(struct rebuild *r, const struct found_root *f, uint64_t id)
{
	struct pmcfs_subvol_info *e = add_entry(r, "a new entry");
	struct timespec now;

	e->id = id;
	if (e->id > r->max_id)
		r->max_id = e->id;
	e->root = f->root;
	/* Read-only keeps a snapshot a snapshot; the operator can open it up. */
	e->flags = e->id == r->ctx->sb.root_subvol ? 0 : PMCFS_ROOT_RDONLY;
	e->create_gen = f->root.gen;	/* no block of the tree is newer */
	clock_gettime(CLOCK_REALTIME, &now);
	e->ctime_sec = (uint64_t)now.tv_sec;
	e->ctime_nsec = (uint32_t)now.tv_nsec;
	e->next_ino = next_ino_of(r, &f->root, PMCFS_FIRST_INO);
	if (e->id != r->ctx->sb.root_subvol)
		unique_name(r, e);
}

static int cmp_newest(const void *a, const void *b)
{
	uint64_t x = ((const struct found_root *)a)->root.gen, y = ((const struct found_root *)b)->root.gen;
	return x > y ? -1 : x < y;
}

/* The entries that survived, as they are. */
static void keep_survivors(struct rebuild *r)
{
	struct fsck_ctx *ctx = r->ctx;

	for (size_t i = 0; i < ctx->nsubvols; i++) {
		const struct fsck_subvol *sv = &ctx->subvols[i];
		struct pmcfs_subvol_info *e;
		if (!sv->usable || id_taken(r, sv->id))
			continue;
		e = add_entry(r, NULL);
		if (pmcfs_subvol_info(ctx->fs, sv->id, e) || !sv->name_ok) {
			memset(e, 0, sizeof(*e));
			e->id = sv->id;
			e->root = sv->root;
			e->flags = sv->flags;
			e->parent = sv->parent;
			e->create_gen = sv->create_gen;
			e->next_ino = next_ino_of(r, &sv->root, PMCFS_FIRST_INO);
			if (sv->name_ok)
				snprintf(e->name, sizeof(e->name), "%s", sv->name);
			else
				unique_name(r, e);
		}
		if (sv->id > r->max_id)
			r->max_id = sv->id;
	}
}

/* Lost entries that shared a kept entry's root: the space map counts them. */
static void kept_roots_shared(struct rebuild *r)
{
	struct fsck_ctx *ctx = r->ctx;
	size_t nkept = r->nout;

	for (size_t i = 0; i < nkept; i++) {
		struct pmcfs_space_info sp;
		uint32_t sharing = 0;
		bool first = true;
		for (size_t j = 0; j < nkept; j++) {
			sharing += r->out[j].root.blkno == r->out[i].root.blkno;
			first &= j >= i || r->out[j].root.blkno != r->out[i].root.blkno;
		}
		if (!first || pmcfs_space_lookup(ctx->fs, r->out[i].root.blkno, &sp) ||
		    sp.refcount <= sharing || pmcfs_block_read(ctx->fs, r->out[i].root.blkno, r->buf))
			continue;
		r->cand = xgrow(r->cand, &r->cand_cap, r->ncand + 1, sizeof(*r->cand));
		r->cand[r->ncand++] = (struct found_root){
			r->out[i].root, pmcfs_header_owner((const struct pmcfs_header *)r->buf),
			sp.refcount - sharing, true };
	}
}

/* The subvolume roots among the candidates, and their entries. */
static void assign(struct rebuild *r)
{
	size_t n = 0;

	for (size_t i = 0; i < r->ncand; i++)
		if (r->cand[i].shared_with_kept || !bit_test(r->pointed, r->cand[i].root.blkno))
			r->cand[n++] = r->cand[i];
	r->ncand = n;
	/* The newest root of an owner is that owner's own tree, as last written. */
	if (r->ncand > 1)
		qsort(r->cand, r->ncand, sizeof(*r->cand), cmp_newest);
	for (size_t i = 0; i < r->ncand; i++)
		while (r->cand[i].refs && old_entry(r, &r->cand[i], false))
			r->cand[i].refs--;
	for (size_t i = 0; i < r->ncand; i++)
		if (r->cand[i].refs && old_entry(r, &r->cand[i], true))
			r->cand[i].refs--;
	/*
	 * The default subvolume wrote its newest root itself: that root gets
	 * its id back, so the filesystem mounts as before. Any other id could
	 * be one given out and deleted since, and ids are not reused: the
	 * rest get new ones, in the order their roots were written.
	 */
	for (size_t i = 0; i < r->ncand && !id_taken(r, r->ctx->sb.root_subvol); i++)
		if (r->cand[i].refs && r->cand[i].owner == r->ctx->sb.root_subvol) {
			new_entry(r, &r->cand[i], r->ctx->sb.root_subvol);
			r->cand[i].refs--;
		}
	/*
	 * A count on a root is only a claim of the space map: bounded, so a
	 * damaged count cannot make the table huge. References left over are
	 * an over-count the recount after the rebuild reports and fixes.
	 */
	for (size_t i = r->ncand; i-- > 0;)
		for (uint32_t k = 0; r->cand[i].refs && k < MAX_SHARING && r->nout < MAX_ENTRIES; k++) {
			new_entry(r, &r->cand[i], r->max_id + 1);
			r->cand[i].refs--;
		}
}

static void report(const struct rebuild *r, size_t nkept, bool done)
{
	for (size_t i = nkept; i < r->nout; i++) {
		const struct pmcfs_subvol_info *e = &r->out[i];
		out(r->ctx, "%s subvolume %llu \"%s\"%s: root block %llu (generation %llu), %s\n",
		    done ? "recovered" : "found", (unsigned long long)e->id, e->name,
		    e->flags & PMCFS_ROOT_RDONLY ? " (read-only)" : "",
		    (unsigned long long)e->root.blkno, (unsigned long long)e->root.gen, r->why[i]);
	}
}

static void write_table(struct fsck_ctx *ctx, const struct rebuild *r)
{
	struct pmcfs_trans *tx;
	int rc = repair_begin(ctx, &tx);

	if (!rc) {
		rc = pmcfs_roottab_rebuild(tx, r->out, r->nout, r->max_id + 1);
		if (rc) {
			error("cannot rebuild the root table of %s: %s", ctx->device, pmcfs_strerror(rc));
			pmcfs_trans_abort(tx);
		} else {
			rc = repair_commit(ctx, tx, "commit the rebuilt root table");
		}
	}
	if (rc) {
		fix_failed(ctx, 1);
		return;
	}
	ctx->commit = *pmcfs_fs_commit(ctx->fs);
	out(ctx, "root table rebuilt: %zu subvolumes\n", r->nout);
	ctx->restart = ctx->restart_now = true;
}

bool offer_roottab_rebuild(struct fsck_ctx *ctx)
{
	struct rebuild r = { .ctx = ctx };
	struct pmcfs_super_scan sc;
	size_t nkept;
	bool fix = false;
	int rc;

	if (!ctx->roottab_damaged || fsck_cancelled)
		return false;
	if (ctx->sm_damaged || ctx->space_risky) {
		verbose(ctx, "the root table is damaged, and the space map cannot be trusted to "
			     "find the subvolumes it listed\n");
		return false;
	}
	r.pointed = xcalloc((ctx->nblocks + 7) / 8, 1);
	r.skip = xcalloc((ctx->nblocks + 7) / 8, 1);
	r.older_seen = xcalloc((ctx->nblocks + 7) / 8, 1);
	r.buf = xmalloc(PMCFS_BLOCK_SIZE);
	keep_survivors(&r);
	nkept = r.nout;
	kept_roots_shared(&r);
	rc = scan(&r);
	if (!rc && !pmcfs_super_scan(ctx->dev, &sc)) {
		int older = -1;
		for (int s = 0; s < PMCFS_NSLOTS; s++)
			if (!sc.slot[s].err && sc.slot[s].ci.generation < ctx->commit.generation &&
			    (older < 0 || sc.slot[s].ci.generation > sc.slot[older].ci.generation))
				older = s;
		if (older >= 0)
			older_hints(&r, sc.slot[older].ci.roottab.blkno, sc.slot[older].ci.roottab.gen,
				    sc.slot[older].ci.roottab.level);
	}
	if (rc)
		verbose(ctx, "the root table is damaged, and the space map cannot be read to find "
			     "the subvolumes it listed: %s\n", pmcfs_strerror(rc));
	else
		assign(&r);
	verbose(ctx, "root table damaged: %llu blocks no tree reached were read, %zu subvolume roots "
		     "found\n", (unsigned long long)r.blocks_read, r.nout - nkept);
	if (!rc && !fsck_cancelled && r.nout > nkept) {
		fix = fix_problem(ctx, PR_ROOTTAB_LOST, "%zu entries kept, %zu found", nkept,
				  r.nout - nkept);
		report(&r, nkept, fix);
		if (fix)
			write_table(ctx, &r);
	}
	free(r.pointed);
	free(r.skip);
	free(r.older_seen);
	free(r.buf);
	free(r.cand);
	free(r.hints);
	free(r.out);
	free(r.why);
	return fix && ctx->restart_now;
}

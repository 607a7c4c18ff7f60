// SPDX-License-Identifier: MIT
/*
 * Finding and remapping the extent items of a bad-media move (steps 2
 * and 4 of relocate.c). Without back-references (format notes §6)
 * finding the items means walking every subvolume's tree; each block is
 * read once, however many snapshots share it (walk_node).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "relocate_priv.h"
#include "pmcfs_repair.h"

static bool extent_decode(const struct pmcfs_fs *fs, const struct pmcfs_ckey *k, const void *body,
			  uint32_t size, struct pmcfs_extent *d, uint64_t *phys, uint64_t *n)
{
	if (k->type != PMCFS_KEY_EXTENT || size != sizeof(*d))
		return false;
	memcpy(d, body, sizeof(*d));
	*phys = pmcfs_extent_phys(d);
	*n = pmcfs_extent_nblocks(d);
	/* Malformed items are fsck's to report; they are not moved. */
	return *n && *phys >= fs->sb.data_start && *phys < fs->sb.data_end &&
	       *n <= fs->sb.data_end - *phys;
}

int reloc_for_each_subvol(struct reloc *r, reloc_subvol_fn fn)
{
	struct pmcfs_ckey k = { PMCFS_FIRST_SUBVOL, 0, 0 };
	struct pmcfs_iter *it;
	uint64_t *ids = NULL;
	size_t n = 0, cap = 0;
	const void *body;
	uint32_t size;
	int err;

	/* List first: changing a subvolume changes the root table. */
	if ((err = pmcfs_iter_start(r->fs, &r->fs->roottab, &k, &it)))
		return err;
	while ((err = pmcfs_iter_next(it, &k, &body, &size)) > 0) {
		if (k.type != PMCFS_KEY_ROOT)
			continue;
		if (n == cap) {
			uint64_t *v = realloc(ids, (cap = cap ? cap * 2 : 16) * sizeof(*v));
			if (!v) {
				err = -ENOMEM;
				break;
			}
			ids = v;
		}
		ids[n++] = k.objectid;
	}
	pmcfs_iter_free(it);
	for (size_t i = 0; err >= 0 && i < n; i++) {
		struct pmcfs_tree *t;
		if (!(err = pmcfs_subvol_open(r->fs, ids[i], &t)))
			err = fn(r, ids[i], t);
	}
	free(ids);
	return err < 0 ? err : 0;
}

static const struct unit *unit_of(const struct reloc *r, uint64_t phys, uint64_t n)
{
	size_t lo = 0, hi = r->nu;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (r->u[mid].old + r->u[mid].len <= phys)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < r->nu && r->u[lo].old <= phys && phys + n <= r->u[lo].old + r->u[lo].len)
		return &r->u[lo];
	return NULL;
}

/* The zeroed blocks of [phys, phys+n), as a count and a file byte span. */
static void lost_span(const struct reloc *r, struct pmcfs_relocate_info *in)
{
	uint64_t end = in->old_phys + in->nblocks, first = end, last = 0;

	in->lost_blocks = in->lost_lo = in->lost_hi = 0;
	if (in->flags & PMCFS_EXTENT_UNWRITTEN)
		return;		/* reads as zeros whatever the blocks hold */
	for (size_t i = reloc_ranges_find(&r->zeroed, in->old_phys);
	     i < r->zeroed.n && r->zeroed.v[i].start < end; i++) {
		uint64_t lo = r->zeroed.v[i].start > in->old_phys ? r->zeroed.v[i].start : in->old_phys;
		uint64_t hi = r->zeroed.v[i].start + r->zeroed.v[i].len;
		if (hi > end)
			hi = end;
		in->lost_blocks += hi - lo;
		first = lo < first ? lo : first;
		last = hi > last ? hi : last;
	}
	if (in->lost_blocks) {
		in->lost_lo = in->offset + (first - in->old_phys) * BS;
		in->lost_hi = in->offset + (last - in->old_phys) * BS;
	}
}

struct item {
	struct pmcfs_ckey k;
	struct pmcfs_extent d;
};

/*
 * One item onto its unit's copy: one item per piece it spans (the first
 * keeps its key), each counted on its new blocks, the old ones released.
 */
static int remap_item(struct reloc *r, uint64_t id, struct pmcfs_tree *t, const struct pmcfs_ckey *k,
		      const struct pmcfs_extent *d, bool ro)
{
	uint64_t old = pmcfs_extent_phys(d), n = pmcfs_extent_nblocks(d), run;
	const struct unit *u = unit_of(r, old, n);
	int err;

	for (uint64_t done = 0; done < n; done += run) {
		struct pmcfs_relocate_info in = { .subvol = id, .ino = k->objectid,
						  .offset = k->offset + done * BS, .rdonly = ro,
						  .old_phys = old + done, .flags = pmcfs_extent_flags(d) };
		struct pmcfs_ckey pk = { k->objectid, k->type, in.offset };
		struct pmcfs_extent pd = *d;
		in.new_phys = reloc_unit_new(u, old + done, &run);
		run = run < n - done ? run : n - done;
		in.nblocks = run;
		pmcfs_set_extent_phys(&pd, in.new_phys);
		pmcfs_set_extent_nblocks(&pd, (uint32_t)run);
		lost_span(r, &in);
		err = done ? pmcfs_tree_insert(r->tx, t, &pk, &pd, sizeof(pd))
			   : pmcfs_tree_update(r->tx, t, &pk, &pd, sizeof(pd));
		if (err || (err = pmcfs_space_inc(r->tx, in.new_phys, run)))
			return err;
		r->res->items++;
		if (r->fn && (err = r->fn(r->ctx, &in)))
			return err;
	}
	return pmcfs_space_dec(r->tx, old, n);
}

/*
 * The walks of steps 2 and 4 read each tree block once across all trees,
 * however many snapshots share it: r->skip has a bit per block not to
 * descend into again. Step 2 skips every block it has read (its items
 * are gathered). Step 4 skips only blocks whose subtree holds no item
 * inside a unit: a tree sharing one that does must still update its
 * own path to it. So a repair costs the unique blocks plus, per tree,
 * the paths to what moves - not every tree's every item.
 */
struct walk {
	struct reloc *r;
	struct pmcfs_tree *t;
	bool gather;			/* step 4: the items inside units, into v */
	struct item *v;
	size_t n, cap;
};

static bool skip_test(const struct reloc *r, uint64_t b)
{
	return b < r->fs->sb.nblocks && (r->skip[b / 8] >> (b % 8) & 1);
}

static void skip_set(struct reloc *r, uint64_t b)
{
	if (b < r->fs->sb.nblocks)
		r->skip[b / 8] |= (uint8_t)(1u << (b % 8));
}

static int leaf_items(struct walk *w, const uint8_t *leaf, bool *ret_any)
{
	struct reloc *r = w->r;
	int err = 0;

	for (unsigned i = 0; !err && i < pmcfs_node_nritems(leaf); i++) {
		struct pmcfs_extent d;
		struct pmcfs_ckey k;
		uint64_t phys, n;
		const void *body;
		uint32_t size;
		pmcfs_node_key(leaf, i, &k);
		body = pmcfs_leaf_body(leaf, i, &size);
		if (!extent_decode(r->fs, &k, body, size, &d, &phys, &n))
			continue;
		if (!w->gather) {
			if (reloc_ranges_overlap(&r->bad, phys, n))
				err = reloc_ranges_add(&r->cand, phys, n);
			continue;
		}
		if (!unit_of(r, phys, n))
			continue;
		*ret_any = true;
		if (w->n == w->cap) {
			struct item *nv = realloc(w->v, (w->cap = w->cap ? w->cap * 2 : 16) * sizeof(*nv));
			if (!nv)
				return -ENOMEM;
			w->v = nv;
		}
		w->v[w->n++] = (struct item){ k, d };
	}
	return err;
}

static int walk_node(struct walk *w, uint64_t blk, uint64_t gen, int level, bool *ret_any)
{
	struct { uint64_t blk, gen; } child[PMCFS_NODE_MAX_PTRS];
	struct pmcfs_fs *fs = w->r->fs;
	struct pmcfs_buf *b;
	unsigned n;
	int err;

	*ret_any = false;
	if (skip_test(w->r, blk))
		return 0;
	pmcfs_cache_trim(&fs->cache);	/* nothing above holds a buffer: children are copied */
	if ((err = pmcfs_read_node(fs, blk, w->t->magic, level, gen, &b)))
		return err;
	if (level == 0) {
		err = leaf_items(w, b->data, ret_any);
	} else {
		n = pmcfs_node_nritems(b->data);
		for (unsigned i = 0; i < n; i++)
			pmcfs_node_child(b->data, i, &child[i].blk, &child[i].gen);
		for (unsigned i = 0; !err && i < n; i++) {
			bool any;
			err = walk_node(w, child[i].blk, child[i].gen, level - 1, &any);
			*ret_any |= any;
		}
	}
	if (!err && (!w->gather || !*ret_any))
		skip_set(w->r, blk);
	return err;
}

static int walk_tree(struct walk *w)
{
	bool any;

	if (w->t->gone || !w->t->root.blkno)
		return -ENOENT;
	return walk_node(w, w->t->root.blkno, w->t->root.gen, w->t->root.level, &any);
}

/* Step 2: physical ranges of the items touching a bad block. */
int reloc_collect(struct reloc *r, uint64_t id, struct pmcfs_tree *t)
{
	struct walk w = { .r = r, .t = t };

	(void)id;
	return walk_tree(&w);
}

/* Step 4, per tree: every item lying inside a unit points at its copy. */
int reloc_remap(struct reloc *r, uint64_t id, struct pmcfs_tree *t)
{
	struct walk w = { .r = r, .t = t, .gather = true };
	struct item *v;
	size_t n;
	bool ro = t->rdonly;
	int err;

	/* Gather first: the updates shadow the nodes the walk reads. */
	err = walk_tree(&w);
	v = w.v;
	n = w.n;
	/* A repair, not an item change: only where the data lives moves. */
	t->rdonly = false;
	for (size_t i = 0; err >= 0 && i < n; i++)
		err = remap_item(r, id, t, &v[i].k, &v[i].d, ro);
	t->rdonly = ro;
	if (err >= 0 && n && ro)
		err = pmcfs_subvol_advance_create_gen(r->tx, id);
	free(v);
	return err < 0 ? err : 0;
}

// SPDX-License-Identifier: MIT
/*
 * Pass 4, the scan of one subvolume: a walk of its fs tree in key order.
 *
 * Per leaf (memoized: a leaf found clean is not checked again, whichever
 *   subvolume or snapshot reaches it next): every item decodes, has a
 *   known type for its inode, inode items have a valid file type, known
 *   flags, rdev only for devices and nanoseconds below 1e9; directory
 *   items (DIR_ENTRY, DIR_INDEX, INODE_REF) decode, names are valid and
 *   a DIR_ENTRY lies under its name's hash; xattr items decode under
 *   their names' hashes; extent items have a block-aligned offset, at
 *   least one block and known flags; symlink chunks are 1..512 bytes at
 *   multiples of 512.
 * Per inode (its items are adjacent in key order, so one group at a
 *   time, never the whole tree): items without an inode item, extents
 *   that overlap or lie past the end of the file, nblocks against the
 *   extents, symlink chunks against the size, a directory's DIR_ENTRY
 *   and DIR_INDEX items paired by index, its size against its names and
 *   its next_index above them.
 * Collects, compact and sorted by construction: one p4_inode per inode,
 *   one p4_link per name, one p4_ref per back-reference (pass4-links.c
 *   joins them), and the findings, each tagged with its phase.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "pass4-scan.h"
#include "pmcfs_endian.h"
#include "pmcfs_ns.h"

void p4_add_find(struct p4_sv *s, uint32_t code, enum p4_phase ph, uint64_t ino,
		 const struct pmcfs_ckey *key, uint64_t arg, uint64_t arg2, const char *fmt, ...)
{
	struct p4_find *f;
	char detail[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	s->finds = xgrow(s->finds, &s->finds_cap, s->nfinds + 1, sizeof(*s->finds));
	f = &s->finds[s->nfinds++];
	memset(f, 0, sizeof(*f));
	f->code = code;
	f->phase = ph;
	f->ino = ino;
	if (key)
		f->key = *key;
	f->arg = arg;
	f->arg2 = arg2;
	f->detail = xstrdup(detail);
}

struct p4_inode *p4_find_inode(struct p4_sv *s, uint64_t ino)
{
	size_t lo = 0, hi = s->ninodes;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (s->inodes[mid].ino < ino)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < s->ninodes && s->inodes[lo].ino == ino ? &s->inodes[lo] : NULL;
}

void p4_sv_free(struct p4_sv *s)
{
	for (size_t i = 0; i < s->nfinds; i++)
		free(s->finds[i].detail);
	free(s->finds);
	free(s->inodes);
	free(s->links);
	free(s->refs);
	s->finds = NULL;
	s->inodes = NULL;
	s->links = NULL;
	s->refs = NULL;
	s->nfinds = s->finds_cap = s->ninodes = s->inodes_cap = 0;
	s->nlinks = s->links_cap = s->nrefs = s->refs_cap = 0;
	s->norphans = s->files = s->dirs = 0;
	s->root_seen = s->scan_failed = false;
}

static int cmp_dname(const void *a, const void *b)
{
	const struct dname *x = a, *y = b;
	return x->index < y->index ? -1 : x->index > y->index;
}

static void add_link(struct p4_sv *s, uint64_t dir, const struct dname *d)
{
	s->links = xgrow(s->links, &s->links_cap, s->nlinks + 1, sizeof(*s->links));
	s->links[s->nlinks++] = (struct p4_link){ dir, d->child, d->index, d->nhash, d->type, d->bad, { 0 } };
}

/* Pair a directory's DIR_ENTRY and DIR_INDEX names by index. */
static void dir_names(struct scan *sc, uint64_t dir, uint64_t *count, uint64_t *max_index)
{
	struct grp *g = &sc->g;
	struct p4_sv *s = sc->s;
	unsigned long long sid = s->sv->id;
	size_t i = 0, j = 0;

	/* qsort of an empty array may get NULL, which qsort may not (UBSan). */
	if (g->ne)
		qsort(g->e, g->ne, sizeof(*g->e), cmp_dname);
	if (g->ni)
		qsort(g->ix, g->ni, sizeof(*g->ix), cmp_dname);
	while (i < g->ne || j < g->ni) {
		const struct dname *a = i < g->ne ? &g->e[i] : NULL, *b = j < g->ni ? &g->ix[j] : NULL;
		if (a && (!b || a->index < b->index)) {
			p4_add_find(s, PR_NS_ENTRY_NO_INDEX, PH_NAMES, dir, NULL, a->index, a->nhash,
				    "subvolume %llu: directory %llu: entry index %llu (inode %llu)", sid,
				    (unsigned long long)dir, (unsigned long long)a->index,
				    (unsigned long long)a->child);
			add_link(s, dir, a);
			i++;
		} else if (!a || b->index < a->index) {
			p4_add_find(s, PR_NS_INDEX_NO_ENTRY, PH_NAMES, dir, NULL, b->index, 0,
				    "subvolume %llu: directory %llu: index %llu (inode %llu)", sid,
				    (unsigned long long)dir, (unsigned long long)b->index,
				    (unsigned long long)b->child);
			add_link(s, dir, b);
			j++;
		} else {
			if (a->child != b->child || a->nhash != b->nhash || a->type != b->type)
				p4_add_find(s, PR_NS_ENTRY_INDEX_DIFFER, PH_NAMES, dir, NULL, a->index, 0,
					    "subvolume %llu: directory %llu index %llu: entry names inode %llu type %u, index item inode %llu type %u",
					    sid, (unsigned long long)dir, (unsigned long long)a->index,
					    (unsigned long long)a->child, a->type, (unsigned long long)b->child,
					    b->type);
			add_link(s, dir, a);
			i++;
			j++;
		}
		*max_index = s->links[s->nlinks - 1].index;
		(*count)++;
	}
	g->ne = g->ni = 0;
}

/* The end of one inode's items: the checks that span them. */
static void grp_end(struct scan *sc)
{
	struct grp *g = &sc->g;
	struct p4_sv *s = sc->s;
	unsigned long long sid = s->sv->id, ino = g->ino;
	uint64_t count = 0, max_index = 0;

	if (!g->any)
		return;
	if (g->ino == PMCFS_ROOT_INO)
		sc->root_items = true;
	if (!g->have_inode) {
		if (g->ino == PMCFS_ROOT_INO)
			p4_add_find(s, PR_NS_ROOT_MISSING, PH_ITEMS, g->ino, NULL, 0, 0,
				    "subvolume %llu: inode %llu has items but no inode item", sid, ino);
		else
			p4_add_find(s, PR_NS_ITEM_NO_INODE, PH_ITEMS, g->ino, NULL, 0, 0,
				    "subvolume %llu: inode %llu", sid, ino);
		dir_names(sc, g->ino, &count, &max_index);
		goto out;
	}
	s->inodes = xgrow(s->inodes, &s->inodes_cap, s->ninodes + 1, sizeof(*s->inodes));
	s->inodes[s->ninodes++] = (struct p4_inode){ g->ino, g->nlink, g->inode_bad ? 0 : g->ftype,
						     0, 0, 0, 0, 0 };
	if (g->ino == PMCFS_ROOT_INO)
		s->root_seen = true;
	if (g->inode_bad) {
		dir_names(sc, g->ino, &count, &max_index);
		goto out;
	}
	if (g->ftype == PMCFS_FT_DIR)
		s->dirs++;
	else
		s->files++;
	if (g->ftype == PMCFS_FT_DIR) {
		dir_names(sc, g->ino, &count, &max_index);
		if (count != g->size)
			p4_add_find(s, PR_NS_DIR_SIZE, PH_COUNTS, g->ino, NULL, count, 0,
				    "subvolume %llu: directory %llu: size %llu, %llu entries", sid, ino,
				    (unsigned long long)g->size, (unsigned long long)count);
		if (count && g->next_index <= max_index)
			p4_add_find(s, PR_NS_NEXT_INDEX, PH_COUNTS, g->ino, NULL, max_index + 1, 0,
				    "subvolume %llu: directory %llu: next index %llu, highest index %llu", sid,
				    ino, (unsigned long long)g->next_index, (unsigned long long)max_index);
	}
	if (g->ftype == PMCFS_FT_LNK && (g->sym_bad || g->sym_next != g->size || !g->size || g->size >= 4096))
		p4_add_find(s, PR_NS_SYMLINK_BAD, PH_ITEMS, g->ino, NULL, 0, 0,
			    "subvolume %llu: symlink %llu: size %llu, chunks cover %llu bytes%s", sid, ino,
			    (unsigned long long)g->size, (unsigned long long)g->sym_next,
			    g->sym_bad ? " with a gap or a bad chunk" : "");
	if (g->ext_blocks != g->nblocks)
		p4_add_find(s, PR_NS_NBLOCKS, PH_COUNTS, g->ino, NULL, g->ext_blocks, 0,
			    "subvolume %llu: inode %llu: nblocks %llu, extents map %llu", sid, ino,
			    (unsigned long long)g->nblocks, (unsigned long long)g->ext_blocks);
	if (g->ftype == PMCFS_FT_REG && g->written_end > (g->size + BS - 1) / BS)
		p4_add_find(s, PR_NS_EXTENT_PAST_EOF, PH_COUNTS, g->ino, NULL, g->written_end * BS, 0,
			    "subvolume %llu: inode %llu: size %llu, data mapped up to %llu", sid, ino,
			    (unsigned long long)g->size, (unsigned long long)g->written_end * BS);
out:
	{
		struct dname *e = g->e, *ix = g->ix;
		size_t ec = g->ne_cap, ic = g->ni_cap;
		memset(g, 0, sizeof(*g));
		g->e = e;
		g->ix = ix;
		g->ne_cap = ec;
		g->ni_cap = ic;
	}
}

static void orphan_item(struct scan *sc, const struct pmcfs_ckey *k, uint32_t size)
{
	struct p4_inode *in;

	if (k->type != PMCFS_KEY_ORPHAN || size) {
		p4_item_stray(sc, k, "not an orphan item");
		return;
	}
	sc->s->norphans++;
	if ((in = p4_find_inode(sc->s, k->offset)))
		in->orphan = 1;
}

/* Does [lo, hi] meet one of the ranges (all of them if none were given)? */
static bool in_ranges(const struct scan *sc, uint64_t lo, uint64_t hi)
{
	size_t a = 0, b = sc->nr;

	if (!sc->r)
		return true;
	while (a < b) {		/* first range ending at or after lo */
		size_t mid = a + (b - a) / 2;
		if (sc->r[mid].hi < lo)
			a = mid + 1;
		else
			b = mid;
	}
	return a < sc->nr && sc->r[a].lo <= hi;
}

static void leaf(struct scan *sc, const uint8_t *buf, uint64_t blk)
{
	unsigned n = pmcfs_node_nritems(buf);
	struct p4_run *run = sc->run;

	/* A ranged scan sees part of a leaf: its per-leaf checks are not its to run. */
	sc->check = !sc->r && !bit_test(run->clean, blk);
	sc->dirty = false;
	if (sc->r)
		run->delta_range_leaves++;
	else if (sc->check)
		run->leaves_checked++;
	else
		run->leaves_memo++;
	for (unsigned i = 0; i < n; i++) {
		struct pmcfs_ckey k;
		uint32_t size;
		const uint8_t *body = pmcfs_leaf_body(buf, i, &size);

		pmcfs_node_key(buf, i, &k);
		if (sc->r && !in_ranges(sc, k.objectid, k.objectid))
			continue;
		if (k.objectid == PMCFS_ORPHAN_OBJECTID) {
			grp_end(sc);
			orphan_item(sc, &k, size);
			continue;
		}
		if (k.objectid != sc->g.ino || !sc->g.any) {
			grp_end(sc);
			sc->g.ino = k.objectid;
		}
		sc->g.any = true;
		if (k.objectid < PMCFS_ROOT_INO || k.objectid >= PMCFS_ORPHAN_OBJECTID) {
			p4_item_stray(sc, &k, "inode number out of range");
			continue;
		}
		switch (k.type) {
		case PMCFS_KEY_INODE:
			if (k.offset)
				p4_item_stray(sc, &k, "inode item with a nonzero offset");
			else
				p4_inode_item(sc, &k, body, size);
			break;
		case PMCFS_KEY_INODE_REF:
		case PMCFS_KEY_DIR_ENTRY:
		case PMCFS_KEY_DIR_INDEX:
			p4_dir_item(sc, &k, body, size);
			break;
		case PMCFS_KEY_EXTENT:
			p4_extent_item(sc, &k, body, size);
			break;
		case PMCFS_KEY_XATTR:
			p4_xattr_item(sc, &k, body, size);
			break;
		case PMCFS_KEY_SYMLINK:
			p4_symlink_item(sc, &k, size);
			break;
		default:
			p4_item_stray(sc, &k, "unknown item type");
		}
	}
	if (sc->check && !sc->dirty)
		bit_set(run->clean, blk);
}

static int visit(struct scan *sc, uint64_t blk, int level)
{
	struct fsck_ctx *ctx = sc->run->ctx;
	struct pmcfs_verify_err why;
	uint8_t *buf = sc->buf[level];

	if (level >= MAX_LEVEL || blk >= ctx->nblocks || pmcfs_block_read(ctx->fs, blk, buf))
		return -1;
	/* Pass 2 verified what it saw; blocks written by a repair since are checked here. */
	if (!bit_test(ctx->seen, blk) && pmcfs_node_verify(ctx->fs, buf, blk, 0, level, &why))
		return -1;
	if (level == 0) {
		leaf(sc, buf, blk);
		return 0;
	}
	for (unsigned i = 0, n = pmcfs_node_nritems(buf); i < n && !fsck_cancelled; i++) {
		struct pmcfs_ckey lo, hi = { UINT64_MAX, 0, 0 };
		uint64_t c, g;
		pmcfs_node_key(buf, i, &lo);
		if (i + 1 < n)
			pmcfs_node_key(buf, i + 1, &hi);
		/* Pass 2 checked the child's keys lie in [key i, key i+1). */
		if (!in_ranges(sc, i ? lo.objectid : 0, hi.objectid))
			continue;
		pmcfs_node_child(buf, i, &c, &g);
		if (visit(sc, c, level - 1))
			return -1;
	}
	return 0;
}

int p4_scan_ranges(struct p4_run *run, struct p4_sv *s, const struct p4_range *r, size_t nr)
{
	struct pmcfs_subvol_info si;
	struct scan sc;
	int rc;

	p4_sv_free(s);
	memset(&sc, 0, sizeof(sc));
	sc.run = run;
	sc.s = s;
	sc.r = r;
	sc.nr = nr;
	if (!nr)
		return 0;
	if ((rc = pmcfs_subvol_info(run->ctx->fs, s->sv->id, &si)))
		return rc;
	for (int l = 0; l < MAX_LEVEL; l++)
		sc.buf[l] = xmalloc(PMCFS_BLOCK_SIZE);
	rc = visit(&sc, si.root.blkno, si.root.level);
	grp_end(&sc);
	for (int l = 0; l < MAX_LEVEL; l++)
		free(sc.buf[l]);
	free(sc.g.e);
	free(sc.g.ix);
	return rc ? -PMCFS_ECORRUPT : 0;
}

bool p4_leaf_local(struct p4_run *run, struct fsck_subvol *sv, const uint8_t *buf, uint64_t blk)
{
	struct p4_sv s;
	struct scan sc;

	if (bit_test(run->clean, blk))
		return true;
	memset(&s, 0, sizeof(s));
	s.ctx = run->ctx;
	s.sv = sv;
	memset(&sc, 0, sizeof(sc));
	sc.run = run;
	sc.s = &s;
	/* Its inodes' other leaves are not here: what spans them is not looked at. */
	leaf(&sc, buf, blk);
	free(sc.g.e);
	free(sc.g.ix);
	p4_sv_free(&s);
	return bit_test(run->clean, blk);
}

int p4_scan(struct p4_run *run, struct p4_sv *s)
{
	struct pmcfs_subvol_info si;
	struct scan sc;
	int rc;

	p4_sv_free(s);
	memset(&sc, 0, sizeof(sc));
	sc.run = run;
	sc.s = s;
	if ((rc = pmcfs_subvol_info(run->ctx->fs, s->sv->id, &si)))
		return rc;
	for (int l = 0; l < MAX_LEVEL; l++)
		sc.buf[l] = xmalloc(PMCFS_BLOCK_SIZE);
	rc = visit(&sc, si.root.blkno, si.root.level);
	grp_end(&sc);
	/* No item of the root at all (grp_end saw none): missing all the same. */
	if (!rc && !s->root_seen && !sc.root_items)
		p4_add_find(s, PR_NS_ROOT_MISSING, PH_ITEMS, PMCFS_ROOT_INO, NULL, 0, 0,
			    "subvolume %llu: none of its items is left",
			    (unsigned long long)s->sv->id);
	for (int l = 0; l < MAX_LEVEL; l++)
		free(sc.buf[l]);
	free(sc.g.e);
	free(sc.g.ix);
	if (rc)
		s->scan_failed = true;
	return rc ? -PMCFS_ECORRUPT : 0;
}


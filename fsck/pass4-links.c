// SPDX-License-Identifier: MIT
/*
 * Pass 4, the checks across inodes of one subvolume, on the scan's
 * compact arrays (no tree access): names against back-references,
 * names pointing at missing inodes or at an inode of another type,
 * directories with more than one name, connectivity from the root
 * directory (unattached inodes and directory cycles), link counts, and
 * orphans.
 *
 * Consumes: p4_sv's inodes (sorted by number), links (sorted by parent
 *   and index, as the scan meets them) and refs.
 * Memory: one 32-bit index per link (the by-child order) and a BFS
 *   queue of directory slots; freed before returning.
 */
#include <stdlib.h>
#include <string.h>
#include "pass4.h"

struct lctx {
	struct p4_sv *s;
	uint32_t *bychild;		/* link indexes sorted by (child, parent, index) */
	uint32_t *via;			/* per inode slot: link that names a directory (+1), 0 none */
	uint8_t *unatt;			/* per inode slot: reported unattached */
	uint32_t *stamp;		/* per inode slot: climb that passed it (+1) */
	size_t *queue;
};

static struct p4_link *g_links;	/* for qsort */

static int cmp_child(const void *a, const void *b)
{
	const struct p4_link *x = &g_links[*(const uint32_t *)a], *y = &g_links[*(const uint32_t *)b];

	if (x->child != y->child)
		return x->child < y->child ? -1 : 1;
	if (x->parent != y->parent)
		return x->parent < y->parent ? -1 : 1;
	return x->index < y->index ? -1 : x->index > y->index;
}

static int cmp_ref(const void *a, const void *b)
{
	const struct p4_ref *x = a, *y = b;

	if (x->child != y->child)
		return x->child < y->child ? -1 : 1;
	if (x->parent != y->parent)
		return x->parent < y->parent ? -1 : 1;
	return x->index < y->index ? -1 : x->index > y->index;
}

static unsigned long long sid(const struct p4_sv *s)
{
	return (unsigned long long)s->sv->id;
}

/* Names against back-references, joined in (child, parent, index) order. */
static void join_refs(struct lctx *lc)
{
	struct p4_sv *s = lc->s;
	size_t i = 0, j = 0;

	if (s->nrefs)
		qsort(s->refs, s->nrefs, sizeof(*s->refs), cmp_ref);
	while (i < s->nlinks || j < s->nrefs) {
		const struct p4_link *l = i < s->nlinks ? &s->links[lc->bychild[i]] : NULL;
		const struct p4_ref *r = j < s->nrefs ? &s->refs[j] : NULL;
		int c = !l ? 1 : !r ? -1 : l->child != r->child ? (l->child < r->child ? -1 : 1) :
			l->parent != r->parent ? (l->parent < r->parent ? -1 : 1) :
			l->index != r->index ? (l->index < r->index ? -1 : 1) : 0;

		if (c == 0 && l->nhash == r->nhash) {
			i++;
			j++;
			continue;
		}
		if (c >= 0) {
			struct pmcfs_ckey k = { r->child, PMCFS_KEY_INODE_REF, r->parent };
			p4_add_find(s, PR_NS_REF_NO_ENTRY, PH_NAMES, r->child, &k, r->index, 0,
				    "subvolume %llu: inode %llu names index %llu of directory %llu", sid(s),
				    (unsigned long long)r->child, (unsigned long long)r->index,
				    (unsigned long long)r->parent);
			j++;
		}
		if (c <= 0) {
			const struct p4_inode *in = p4_find_inode(s, l->child);
			if (in && !l->bad)
				p4_add_find(s, PR_NS_ENTRY_NO_REF, PH_NAMES, l->parent, NULL, l->index, l->child,
					    "subvolume %llu: directory %llu index %llu (inode %llu)", sid(s),
					    (unsigned long long)l->parent, (unsigned long long)l->index,
					    (unsigned long long)l->child);
			i++;
		}
	}
}

/* Each name: its inode exists, has the entry's type; count links and subdirectories. */
static void check_names(struct lctx *lc)
{
	struct p4_sv *s = lc->s;

	for (size_t i = 0; i < s->nlinks; i++) {
		const struct p4_link *l = &s->links[i];
		struct p4_inode *in = p4_find_inode(s, l->child), *dir = p4_find_inode(s, l->parent);
		bool isdir;

		if (l->bad)
			continue;	/* reported in phase 1, removed with its name */
		if (!in) {
			p4_add_find(s, PR_NS_ENTRY_DANGLING, PH_NAMES, l->parent, NULL, l->index, l->child,
				    "subvolume %llu: directory %llu index %llu names inode %llu", sid(s),
				    (unsigned long long)l->parent, (unsigned long long)l->index,
				    (unsigned long long)l->child);
			if (dir && l->type == PMCFS_FT_DIR)
				dir->subdirs++;
			continue;
		}
		in->links++;
		isdir = in->ftype ? in->ftype == PMCFS_FT_DIR : l->type == PMCFS_FT_DIR;
		if (dir && isdir)
			dir->subdirs++;
		if (in->ftype && l->type != in->ftype)
			p4_add_find(s, PR_NS_ENTRY_TYPE, PH_NAMES, l->parent, NULL, l->index, in->ftype,
				    "subvolume %llu: directory %llu index %llu: type %u, inode %llu has type %u",
				    sid(s), (unsigned long long)l->parent, (unsigned long long)l->index,
				    l->type, (unsigned long long)l->child, in->ftype);
		if (in->ftype == PMCFS_FT_DIR && !lc->via[in - s->inodes] && l->child != PMCFS_ROOT_INO)
			lc->via[in - s->inodes] = (uint32_t)i + 1;
	}
}

/* Breadth-first from one directory; marks what it reaches. */
static void reach_from(struct lctx *lc, size_t start)
{
	struct p4_sv *s = lc->s;
	size_t head = 0, tail = 0;

	if (s->inodes[start].reach)
		return;
	s->inodes[start].reach = 1;
	lc->queue[tail++] = start;
	while (head < tail) {
		struct p4_inode *d = &s->inodes[lc->queue[head++]];
		size_t lo = 0, hi = s->nlinks;
		if (d->ftype != PMCFS_FT_DIR)
			continue;
		while (lo < hi) {	/* first link of d */
			size_t mid = lo + (hi - lo) / 2;
			if (s->links[mid].parent < d->ino)
				lo = mid + 1;
			else
				hi = mid;
		}
		for (; lo < s->nlinks && s->links[lo].parent == d->ino; lo++) {
			const struct p4_link *l = &s->links[lo];
			struct p4_inode *c = l->bad ? NULL : p4_find_inode(s, l->child);
			if (!c || c->reach)
				continue;
			/* A directory is entered only through the name that counts as its parent. */
			if (c->ftype == PMCFS_FT_DIR && lc->via[c - s->inodes] != lo + 1)
				continue;
			c->reach = 1;
			lc->queue[tail++] = (size_t)(c - s->inodes);
		}
	}
}

static void unattached(struct lctx *lc, size_t slot, const struct p4_link *via)
{
	struct p4_sv *s = lc->s;
	struct p4_inode *in = &s->inodes[slot];

	lc->unatt[slot] = 1;
	if (via) {
		struct pmcfs_ckey k = { via->parent, PMCFS_KEY_DIR_INDEX, via->index };
		p4_add_find(s, PR_NS_UNATTACHED, PH_CONNECT, in->ino, &k, 1, in->ftype,
			    "subvolume %llu: directory %llu is in a cycle (named at index %llu of directory %llu)",
			    sid(s), (unsigned long long)in->ino, (unsigned long long)via->index,
			    (unsigned long long)via->parent);
	} else {
		p4_add_find(s, PR_NS_UNATTACHED, PH_CONNECT, in->ino, NULL, 0, in->ftype,
			    "subvolume %llu: %s %llu has no name", sid(s),
			    in->ftype == PMCFS_FT_DIR ? "directory" : "inode", (unsigned long long)in->ino);
	}
	reach_from(lc, slot);
}

static void connectivity(struct lctx *lc)
{
	struct p4_sv *s = lc->s;
	struct p4_inode *root = p4_find_inode(s, PMCFS_ROOT_INO);

	if (!root || root->ftype != PMCFS_FT_DIR)
		return;		/* reported (root missing); nothing is reachable */
	/* Extra names of a directory: every one but the one that counts. */
	for (size_t i = 0; i < s->nlinks; i++) {
		const struct p4_link *l = &s->links[i];
		struct p4_inode *c = l->bad ? NULL : p4_find_inode(s, l->child);
		if (c && c->ftype == PMCFS_FT_DIR && lc->via[c - s->inodes] != i + 1)
			p4_add_find(s, PR_NS_DIR_MULTI_PARENT, PH_NAMES, l->parent, NULL, l->index, l->child,
				    "subvolume %llu: directory %llu is also named at index %llu of directory %llu",
				    sid(s), (unsigned long long)l->child, (unsigned long long)l->index,
				    (unsigned long long)l->parent);
	}
	reach_from(lc, (size_t)(root - s->inodes));
	/* No name at all (orphans awaiting their end excepted). */
	for (size_t i = 0; i < s->ninodes; i++) {
		struct p4_inode *in = &s->inodes[i];
		if (in->reach || in->links || (in->orphan && !in->nlink))
			continue;
		unattached(lc, i, NULL);
	}
	/* Named, yet not reached: a directory cycle, or under one. Climb to the cycle. */
	for (size_t i = 0; i < s->ninodes; i++) {
		size_t cur = i;
		if (s->inodes[i].reach || s->inodes[i].ftype != PMCFS_FT_DIR || !lc->via[i])
			continue;
		for (;;) {
			const struct p4_link *l = &s->links[lc->via[cur] - 1];
			struct p4_inode *p = p4_find_inode(s, l->parent);
			if (lc->stamp[cur] == i + 1)
				break;		/* came round: cur is in the cycle */
			lc->stamp[cur] = (uint32_t)i + 1;
			if (!p || p->ftype != PMCFS_FT_DIR || !lc->via[p - s->inodes] || p->reach)
				break;		/* cur hangs under a missing or non-directory parent */
			cur = (size_t)(p - s->inodes);
		}
		unattached(lc, cur, &s->links[lc->via[cur] - 1]);
	}
	for (size_t i = 0; i < s->ninodes; i++)
		if (!s->inodes[i].reach && !(s->inodes[i].orphan && !s->inodes[i].nlink))
			unattached(lc, i, NULL);	/* named only under non-directories */
}

static void counts(struct lctx *lc)
{
	struct p4_sv *s = lc->s;
	uint64_t finish, linked = 0;

	for (size_t i = 0; i < s->ninodes; i++) {
		const struct p4_inode *in = &s->inodes[i];
		uint64_t want;
		if (!in->ftype || lc->unatt[i])
			continue;
		want = in->ftype == PMCFS_FT_DIR ? 2 + (uint64_t)in->subdirs : in->links;
		if (in->orphan && (in->nlink || in->links)) {
			struct pmcfs_ckey k = { PMCFS_ORPHAN_OBJECTID, PMCFS_KEY_ORPHAN, in->ino };
			linked++;
			p4_add_find(s, PR_NS_ORPHAN_LINKED, PH_COUNTS, in->ino, &k, 0, 0,
				    "subvolume %llu: inode %llu has link count %u and %u names", sid(s),
				    (unsigned long long)in->ino, in->nlink, in->links);
		} else if (in->orphan) {
			continue;	/* nlink 0, no names: to be freed */
		}
		if (in->nlink != want)
			p4_add_find(s, PR_NS_NLINK, PH_COUNTS, in->ino, NULL, want, 0,
				    "subvolume %llu: inode %llu: link count %u, should be %llu", sid(s),
				    (unsigned long long)in->ino, in->nlink, (unsigned long long)want);
	}
	/*
	 * Orphan items of inodes already gone count too: finishing drops them.
	 * A read-only snapshot that holds orphans (taken by a writer that did
	 * not finish them in the copy) keeps them: they are unreachable, cost
	 * only space, and go with the snapshot; freeing them would change it.
	 */
	finish = s->norphans - linked;
	if (finish && !s->rdonly)
		p4_add_find(s, PR_NS_ORPHANS, PH_COUNTS, 0, NULL, finish, 0,
			    "subvolume %llu: %llu inodes unlinked while open", sid(s),
			    (unsigned long long)finish);
}

void p4_links(struct p4_sv *s)
{
	struct lctx lc = { s, NULL, NULL, NULL, NULL, NULL };

	lc.bychild = xmalloc(s->nlinks * sizeof(*lc.bychild) + 1);
	for (size_t i = 0; i < s->nlinks; i++)
		lc.bychild[i] = (uint32_t)i;
	g_links = s->links;
	if (s->nlinks)
		qsort(lc.bychild, s->nlinks, sizeof(*lc.bychild), cmp_child);
	lc.via = xcalloc(s->ninodes + 1, sizeof(*lc.via));
	lc.unatt = xcalloc(s->ninodes + 1, 1);
	lc.stamp = xcalloc(s->ninodes + 1, sizeof(*lc.stamp));
	lc.queue = xmalloc((s->ninodes + 1) * sizeof(*lc.queue));
	join_refs(&lc);
	check_names(&lc);
	connectivity(&lc);
	counts(&lc);
	free(lc.bychild);
	free(lc.via);
	free(lc.unatt);
	free(lc.stamp);
	free(lc.queue);
}

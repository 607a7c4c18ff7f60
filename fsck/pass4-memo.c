// SPDX-License-Identifier: MIT
/*
 * Pass 4, the summaries behind the delta check (pass4-delta.c): per tree
 * block, additive multiset hashes of what its items say across inodes
 * (format-notes §9 P3), kept in one open-addressing table keyed by block
 * number (no heap node per block).
 *
 * The hashes, each a sum mod 2^64 of a keyed 64-bit hash (XXH3, a random
 * key per run) of one element; in a clean subvolume every sum is zero:
 *   REFS    +(child, parent, index, name hash) per DIR_INDEX item,
 *           -the same per INODE_REF element: names and back-references
 *           in bijection.
 *   NLINK   +nlink x (ino, type) per inode item, -(ino, dir) more for a
 *           directory; per DIR_INDEX item -(child, its type), and for a
 *           directory child also -(parent, dir); -(root, dir) once. So a
 *           file's nlink equals its names, a directory's nlink is
 *           1 + its names + its subdirectories (2 + subdirectories once
 *           DIRNAME holds), the root's 2 + subdirectories, every name's
 *           type is its inode's, and a subdirectory's parent is a
 *           directory: the counts pass4-links.c checks. The root's own
 *           terms leave +(root, dir): the sum must equal that.
 *   DIRNAME +(dir) per directory inode but the root, -(child) per name
 *           of a directory: one name each, none for the root.
 *   DEPTH   +(dir, d) per directory inode but the root, -(child, d' + 1)
 *           per name of a directory in a directory of label d', where d
 *           is the label (the depth the directory had where the block
 *           was summarized). With one label per directory (the join
 *           checks it), a zero sum makes labels grow by one down every
 *           name of a directory: no cycle, and every chain of parents
 *           ends at the root, the one directory without a name.
 * Elements of different sums never meet (a tag is hashed in), so two
 * multisets differ yet hash alike with probability about 2^-64 for a key
 * the image cannot know.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>
#include "pass4.h"
#include "pmcfs_endian.h"
#include "pmcfs_ns.h"

enum { T_REF = 1, T_NLINK, T_DIRNAME, T_DEPTH };

void p4_memo_init(struct p4_memo *m)
{
	memset(m, 0, sizeof(*m));
	/* Without an unpredictable key a crafted image could balance the sums. */
	if (getrandom(&m->seed, sizeof(m->seed), 0) != sizeof(m->seed))
		m->seed = (uint64_t)time(NULL) * 0x9e3779b97f4a7c15ull ^ (uint64_t)getpid() ^
			  (uint64_t)(uintptr_t)m;
}

void p4_memo_free(struct p4_memo *m)
{
	free(m->v);
	m->v = NULL;
	m->n = m->cap = 0;
}

void p4_memo_clear(struct p4_memo *m)
{
	if (m->v)
		memset(m->v, 0, m->cap * sizeof(*m->v));
	m->n = 0;
}

static size_t slot(uint64_t blk, size_t cap)
{
	return (size_t)((blk * 0x9e3779b97f4a7c15ull) >> 20) & (cap - 1);
}

const struct p4_memo_ent *p4_memo_get(const struct p4_memo *m, uint64_t blk)
{
	if (!m->cap)
		return NULL;
	for (size_t i = slot(blk, m->cap);; i = (i + 1) & (m->cap - 1)) {
		if (m->v[i].blk == blk)
			return &m->v[i];
		if (!m->v[i].blk)
			return NULL;
	}
}

void p4_memo_put(struct p4_memo *m, const struct p4_memo_ent *e)
{
	size_t i;

	if (!e->blk || p4_memo_get(m, e->blk))
		return;		/* the first summary stays: its edges belong together */
	if (2 * (m->n + 1) > m->cap) {
		struct p4_memo old = *m;
		m->cap = old.cap ? 2 * old.cap : 1024;
		m->v = xcalloc(m->cap, sizeof(*m->v));
		m->n = 0;
		for (size_t j = 0; j < old.cap; j++)
			if (old.v[j].blk)
				p4_memo_put(m, &old.v[j]);
		free(old.v);
	}
	for (i = slot(e->blk, m->cap); m->v[i].blk; i = (i + 1) & (m->cap - 1))
		;
	m->v[i] = *e;
	m->n++;
}

uint64_t p4_h(const struct p4_memo *m, unsigned tag, uint64_t a, uint64_t b, uint64_t c, uint64_t d)
{
	uint64_t w[5] = { tag, a, b, c, d };

	return XXH3_64bits_withSeed(w, sizeof(w), m->seed);
}

void p4_sum_zero(struct p4_sum *s)
{
	memset(s, 0, sizeof(*s));
	s->lo_label = s->hi_label = P4_NOLABEL;
}

void p4_sum_join(struct p4_sum *a, const struct p4_sum *b, bool a_empty)
{
	uint32_t jl;

	if (a_empty) {
		*a = *b;
		return;
	}
	for (int i = 0; i < P4_NH; i++)
		a->h[i] += b->h[i];
	a->files += b->files;
	a->dirs += b->dirs;
	a->conflict |= b->conflict;
	if (a->hi != b->lo) {
		a->hi = b->hi;
		a->hi_label = b->hi_label;
		return;
	}
	/* One inode continues across the join: one label for it. */
	if (a->hi_label != P4_NOLABEL && b->lo_label != P4_NOLABEL && a->hi_label != b->lo_label)
		a->conflict = true;
	jl = a->hi_label != P4_NOLABEL ? a->hi_label : b->lo_label;
	if (a->lo == a->hi)
		a->lo_label = jl;
	a->hi_label = b->lo == b->hi ? jl : b->hi_label;
	a->hi = b->hi;
}

bool p4_sum_clean(const struct p4_memo *m, const struct p4_sum *s)
{
	return !s->conflict && !s->h[P4_H_REFS] && !s->h[P4_H_DIRNAME] && !s->h[P4_H_DEPTH] &&
	       s->h[P4_H_NLINK] == p4_h(m, T_NLINK, PMCFS_ROOT_INO, PMCFS_FT_DIR, 0, 0);
}

/* Packed dirent at *pos; false if it does not decode. */
static bool dent(const uint8_t *body, uint32_t size, uint32_t *pos, uint64_t *ino, uint64_t *index,
		 unsigned *type, uint32_t *nhash)
{
	struct pmcfs_dirent d;
	size_t len, esz;

	if (*pos + sizeof(d) > size)
		return false;
	memcpy(&d, body + *pos, sizeof(d));
	len = pmcfs_dirent_name_len(&d);
	esz = (sizeof(d) + len + 7) & ~(size_t)7;
	if (!len || *pos + esz > size)
		return false;
	*ino = pmcfs_dirent_ino(&d);
	*index = pmcfs_dirent_index(&d);
	*type = pmcfs_dirent_type(&d);
	*nhash = pmcfs_crc32c(0, body + *pos + sizeof(d), len);	/* as pass4-items.c */
	*pos += (uint32_t)esz;
	return true;
}

/* The label of dir for this leaf, noted as the label of the run of its items. */
static int label(p4_depth_fn depth, void *arg, uint64_t dir, uint32_t *d, uint32_t *run_label)
{
	if (dir == PMCFS_ROOT_INO)
		*d = 0;
	else if (depth(arg, dir, d) || *d >= P4_NOLABEL - 1)
		return -1;
	*run_label = *d;
	return 0;
}

int p4_leaf_sum(const struct p4_memo *m, const uint8_t *buf, p4_depth_fn depth, void *arg,
		struct p4_sum *out)
{
	unsigned n = pmcfs_node_nritems(buf);
	uint32_t run_label = P4_NOLABEL, d;
	uint64_t *h = out->h;

	p4_sum_zero(out);
	if (!n)
		return -1;
	for (unsigned i = 0; i < n; i++) {
		struct pmcfs_ckey k;
		uint32_t size, pos = 0, nh;
		const uint8_t *body = pmcfs_leaf_body(buf, i, &size);
		uint64_t ino, index;
		unsigned type;

		pmcfs_node_key(buf, i, &k);
		if (k.objectid == PMCFS_ORPHAN_OBJECTID)
			return -1;	/* orphans: only the full check knows their rules */
		if (i == 0)
			out->lo = k.objectid;
		else if (k.objectid != out->hi) {
			if (out->hi == out->lo)
				out->lo_label = run_label;
			run_label = P4_NOLABEL;
		}
		out->hi = k.objectid;
		switch (k.type) {
		case PMCFS_KEY_INODE: {
			struct pmcfs_inode in;
			uint32_t nlink;
			if (size != sizeof(in))
				return -1;
			memcpy(&in, body, sizeof(in));
			type = pmcfs_ftype(pmcfs_inode_mode(&in));
			nlink = pmcfs_inode_nlink(&in);
			if (!type || !nlink)
				return -1;	/* no name: unattached unless an orphan */
			h[P4_H_NLINK] += nlink * p4_h(m, T_NLINK, k.objectid, type, 0, 0);
			if (type != PMCFS_FT_DIR) {
				out->files++;
				break;
			}
			out->dirs++;
			h[P4_H_NLINK] -= p4_h(m, T_NLINK, k.objectid, PMCFS_FT_DIR, 0, 0);
			if (k.objectid == PMCFS_ROOT_INO)
				break;
			if (label(depth, arg, k.objectid, &d, &run_label))
				return -1;
			h[P4_H_DIRNAME] += p4_h(m, T_DIRNAME, k.objectid, 0, 0, 0);
			h[P4_H_DEPTH] += p4_h(m, T_DEPTH, k.objectid, d, 0, 0);
			break;
		}
		case PMCFS_KEY_INODE_REF:
			while (pos < size) {
				if (!dent(body, size, &pos, &ino, &index, &type, &nh))
					return -1;
				h[P4_H_REFS] -= p4_h(m, T_REF, k.objectid, k.offset, index, nh);
			}
			break;
		case PMCFS_KEY_DIR_INDEX:
			if (!dent(body, size, &pos, &ino, &index, &type, &nh))
				return -1;
			h[P4_H_REFS] += p4_h(m, T_REF, ino, k.objectid, k.offset, nh);
			h[P4_H_NLINK] -= p4_h(m, T_NLINK, ino, type, 0, 0);
			if (type != PMCFS_FT_DIR)
				break;
			if (label(depth, arg, k.objectid, &d, &run_label))
				return -1;
			h[P4_H_NLINK] -= p4_h(m, T_NLINK, k.objectid, PMCFS_FT_DIR, 0, 0);
			h[P4_H_DIRNAME] -= p4_h(m, T_DIRNAME, ino, 0, 0, 0);
			h[P4_H_DEPTH] -= p4_h(m, T_DEPTH, ino, d + 1, 0, 0);
			break;
		default:
			break;
		}
	}
	if (out->hi == out->lo)
		out->lo_label = run_label;
	out->hi_label = run_label;
	return 0;
}

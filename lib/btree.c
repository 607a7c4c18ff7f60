// SPDX-License-Identifier: MIT
/*
 * Reference-counted copy-on-write B+trees (Rodeh, "B-trees, shadowing,
 * and clones"). A block reachable from the durable commit is never
 * written: the first change in a transaction shadows it. Shadowing a
 * block shared by several parents (refcount > 1) gives the copy count 1,
 * drops the original by one and adds one to every child of the copy; a
 * private block (count 1) is simply moved. A shadow of a shadow is a
 * no-op: a block allocated in this transaction with count 1 is edited
 * in place.
 *
 * Inserts split full nodes on the way down, so a split never has to
 * climb back up; deletes merge or rebalance underfull nodes on the way
 * back up. Leaves are at least a quarter full and interior nodes hold at
 * least a quarter of their pointers, except for the root.
 */
#include <errno.h>
#include <stdlib.h>
#include "btree_priv.h"

#define HDR(b) ((struct pmcfs_header *)((b)->data))
#define ITEM_OVERHEAD	((uint32_t)sizeof(struct pmcfs_item))
#define MIN_PTRS	(PMCFS_NODE_MAX_PTRS / 4)
#define MIN_LEAF_USED	(PMCFS_NODE_SPACE / 4)


enum search_mode {
	SEARCH_READ,
	SEARCH_INSERT,		/* insert or replace */
	SEARCH_INSERT_NEW,	/* insert; an existing key is an error */
	SEARCH_DELETE,
};

void pmcfs_tree_init(struct pmcfs_tree *t, struct pmcfs_fs *fs, uint64_t id,
		     const struct pmcfs_root_ref *root)
{
	memset(t, 0, sizeof(*t));
	t->fs = fs;
	t->id = id;
	t->magic = pmcfs_tree_magic(id);
	t->root = *root;
}

uint64_t pmcfs_tree_id(const struct pmcfs_tree *t) { return t->id; }
void pmcfs_tree_root(const struct pmcfs_tree *t, struct pmcfs_root_ref *ret) { *ret = t->root; }

static void set_nritems(struct pmcfs_buf *b, unsigned n) { pmcfs_set_header_nritems(HDR(b), n); }

static void ptr_key(struct pmcfs_buf *b, unsigned i, struct pmcfs_ckey *k)
{
	pmcfs_key_from_disk(&pmcfs_node_ptr_at(b->data, i)->key, k);
}

static void item_key(struct pmcfs_buf *b, unsigned i, struct pmcfs_ckey *k)
{
	pmcfs_key_from_disk(&pmcfs_leaf_item(b->data, i)->key, k);
}

static void set_ptr(struct pmcfs_buf *b, unsigned i, uint64_t blkno, uint64_t gen)
{
	struct pmcfs_node_ptr *p = pmcfs_node_ptr_at(b->data, i);

	pmcfs_set_node_ptr_blkno(p, blkno);
	pmcfs_set_node_ptr_generation(p, gen);
}

/* Leaf: first slot whose key >= k; *found if equal. */
unsigned btree_leaf_search(struct pmcfs_buf *b, const struct pmcfs_ckey *k, bool *found)
{
	unsigned lo = 0, hi = nritems(b);
	struct pmcfs_ckey cur;

	*found = false;
	while (lo < hi) {
		unsigned mid = lo + (hi - lo) / 2;
		int c;
		item_key(b, mid, &cur);
		c = pmcfs_key_cmp(&cur, k);
		if (c == 0) {
			*found = true;
			return mid;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Interior: last slot whose key <= k, or 0. */
unsigned btree_node_search(struct pmcfs_buf *b, const struct pmcfs_ckey *k)
{
	unsigned lo = 0, hi = nritems(b);
	struct pmcfs_ckey cur;

	while (lo < hi) {
		unsigned mid = lo + (hi - lo) / 2;
		ptr_key(b, mid, &cur);
		if (pmcfs_key_cmp(&cur, k) <= 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo ? lo - 1 : 0;
}

/* ---- reference walking ------------------------------------------------ */

int pmcfs_node_for_each_ref(struct pmcfs_trans *tx, const struct pmcfs_tree *t,
			    const uint8_t *buf, pmcfs_ref_fn fn)
{
	unsigned n = pmcfs_node_nritems(buf);
	int err;

	if (pmcfs_node_level(buf)) {
		for (unsigned i = 0; i < n; i++) {
			uint64_t blk, gen;
			pmcfs_node_child(buf, i, &blk, &gen);
			if ((err = fn(tx, blk, 1)))
				return err;
		}
		return 0;
	}
	if (t->id == PMCFS_SPACEMAP_TREE)
		return 0;
	for (unsigned i = 0; i < n; i++) {
		struct pmcfs_ckey k;
		uint32_t size;
		const void *body = pmcfs_leaf_body(buf, i, &size);

		pmcfs_node_key(buf, i, &k);
		if (t->id == PMCFS_ROOTTAB_TREE && k.type == PMCFS_KEY_ROOT) {
			struct pmcfs_root_item ri;
			if (size < sizeof(ri))
				return -PMCFS_ECORRUPT;
			memcpy(&ri, body, sizeof(ri));
			err = fn(tx, pmcfs_root_item_blkno(&ri), 1);
		} else if (t->id >= PMCFS_FIRST_SUBVOL && k.type == PMCFS_KEY_EXTENT) {
			struct pmcfs_extent e;
			if (size < sizeof(e))
				return -PMCFS_ECORRUPT;
			memcpy(&e, body, sizeof(e));
			err = pmcfs_extent_nblocks(&e) ?
			      fn(tx, pmcfs_extent_phys(&e), pmcfs_extent_nblocks(&e)) : 0;
		} else {
			err = 0;
		}
		if (err)
			return err;
	}
	return 0;
}

/* ---- block allocation and shadowing ----------------------------------- */

static int node_alloc(struct pmcfs_trans *tx, struct pmcfs_tree *t, struct pmcfs_buf **ret)
{
	uint64_t blk, len;
	int err = pmcfs_alloc(tx, 1, 1, PMCFS_ALLOC_META, &blk, &len);

	if (err)
		return err;
	pmcfs_cache_forget(&t->fs->cache, blk);	/* stale copy of a freed block */
	err = pmcfs_cache_add(&t->fs->cache, blk, ret);
	if (err)
		return err;
	(*ret)->fresh = true;
	pmcfs_cache_mark_dirty(&t->fs->cache, *ret);
	return 0;
}

int btree_node_count(struct pmcfs_tree *t, uint64_t blkno, uint32_t *rc)
{
	/* The root table and the space map are never shared: no lookup, and
	 * none may happen while the space map itself is being rewritten. */
	if (!pmcfs_tree_shareable(t)) {
		*rc = 1;
		return 0;
	}
	return pmcfs_space_get_count(t->fs, blkno, rc);
}

/* Drop the reference to a block whose own references have moved elsewhere. */
int btree_node_release(struct pmcfs_trans *tx, struct pmcfs_tree *t, uint64_t blkno)
{
	int err;

	if (pmcfs_tree_shareable(t))
		err = pmcfs_space_dec(tx, blkno, 1);
	else
		err = pmcfs_space_set_known(t->fs, blkno, 1, 1, 0, PMCFS_OWNER_FS);
	if (!err) {
		uint32_t rc = 0;
		if (!pmcfs_tree_shareable(t) || (!btree_node_count(t, blkno, &rc) && rc == 0))
			pmcfs_cache_forget(&t->fs->cache, blkno);
	}
	return err;
}

static int inc_ref(struct pmcfs_trans *tx, uint64_t start, uint64_t len)
{
	return pmcfs_space_inc(tx, start, len);
}

static int shadow(struct pmcfs_trans *tx, struct pmcfs_tree *t, struct pmcfs_buf *b,
		  struct pmcfs_buf **ret)
{
	struct pmcfs_buf *nb;
	uint32_t rc;
	int err = btree_node_count(t, b->blkno, &rc);

	if (err)
		return err;
	if (rc == 0)
		return -PMCFS_ECORRUPT;	/* a reachable block the map calls free */
	if (b->fresh && rc == 1) {
		*ret = b;
		return 0;
	}
	err = node_alloc(tx, t, &nb);
	if (err)
		return err;
	memcpy(nb->data, b->data, PMCFS_BLOCK_SIZE);
	pmcfs_set_header_blkno(HDR(nb), nb->blkno);
	pmcfs_set_header_generation(HDR(nb), tx->gen);
	pmcfs_set_header_owner(HDR(nb), t->id);
	if (rc > 1) {
		err = pmcfs_space_dec(tx, b->blkno, 1);
		if (!err)
			err = pmcfs_node_for_each_ref(tx, t, nb->data, inc_ref);
	} else {
		err = btree_node_release(tx, t, b->blkno);
	}
	if (err)
		return err;
	*ret = nb;
	return 0;
}

/* Shadow path->b[level] and point its parent (or the tree root) at the copy. */
int btree_cow_at(struct pmcfs_trans *tx, struct pmcfs_tree *t, struct path *p, int level)
{
	struct pmcfs_buf *nb;
	int err = shadow(tx, t, p->b[level], &nb);

	if (err)
		return err;
	if (nb == p->b[level])
		return 0;
	p->b[level] = nb;
	if (level == p->top) {
		t->root.blkno = nb->blkno;
		t->root.gen = tx->gen;
		t->dirty = true;
	} else {
		set_ptr(p->b[level + 1], p->slot[level + 1], nb->blkno, tx->gen);
	}
	return 0;
}

/* ---- leaf item editing -------------------------------------------------- */

static void leaf_insert_at(struct pmcfs_buf *b, unsigned slot, const struct pmcfs_ckey *k,
			   const void *body, uint32_t size)
{
	uint8_t *d = b->data;
	unsigned n = nritems(b);
	uint32_t a = PMCFS_BODY_ALIGN(size);
	uint32_t end = slot ? pmcfs_item_offset(pmcfs_leaf_item(d, slot - 1)) : PMCFS_BLOCK_SIZE;
	uint32_t start = n ? pmcfs_item_offset(pmcfs_leaf_item(d, n - 1)) : PMCFS_BLOCK_SIZE;
	struct pmcfs_item *it;

	memmove(d + start - a, d + start, end - start);
	for (unsigned i = slot; i < n; i++) {
		it = pmcfs_leaf_item(d, i);
		pmcfs_set_item_offset(it, pmcfs_item_offset(it) - a);
	}
	memmove(pmcfs_leaf_item(d, slot + 1), pmcfs_leaf_item(d, slot), (n - slot) * ITEM_OVERHEAD);
	it = pmcfs_leaf_item(d, slot);
	pmcfs_key_to_disk(k, &it->key);
	pmcfs_set_item_offset(it, end - a);
	pmcfs_set_item_size(it, size);
	memset(d + end - a, 0, a);
	if (size)
		memcpy(d + end - a, body, size);
	set_nritems(b, n + 1);
}

static void leaf_delete_at(struct pmcfs_buf *b, unsigned slot)
{
	uint8_t *d = b->data;
	unsigned n = nritems(b);
	struct pmcfs_item *it = pmcfs_leaf_item(d, slot);
	uint32_t off = pmcfs_item_offset(it), a = PMCFS_BODY_ALIGN(pmcfs_item_size(it));
	uint32_t start = pmcfs_item_offset(pmcfs_leaf_item(d, n - 1));

	memmove(d + start + a, d + start, off - start);
	for (unsigned i = slot + 1; i < n; i++) {
		it = pmcfs_leaf_item(d, i);
		pmcfs_set_item_offset(it, pmcfs_item_offset(it) + a);
	}
	memmove(pmcfs_leaf_item(d, slot), pmcfs_leaf_item(d, slot + 1), (n - slot - 1) * ITEM_OVERHEAD);
	memset(pmcfs_leaf_item(d, n - 1), 0, ITEM_OVERHEAD);
	memset(d + start, 0, a);
	set_nritems(b, n - 1);
}

static uint32_t item_used(struct pmcfs_buf *b, unsigned i)
{
	return ITEM_OVERHEAD + PMCFS_BODY_ALIGN(pmcfs_item_size(pmcfs_leaf_item(b->data, i)));
}

/* Rebuild two adjacent leaves so that the first holds the first `split` of their items. */
static int leaf_redistribute(struct pmcfs_buf *l, struct pmcfs_buf *r, unsigned split)
{
	uint8_t *tmp = malloc(2 * PMCFS_BLOCK_SIZE);
	unsigned nl = nritems(l), nr = nritems(r);

	if (!tmp)
		return -ENOMEM;
	memcpy(tmp, l->data, PMCFS_BLOCK_SIZE);
	memcpy(tmp + PMCFS_BLOCK_SIZE, r->data, PMCFS_BLOCK_SIZE);
	set_nritems(l, 0);
	set_nritems(r, 0);
	memset(l->data + sizeof(struct pmcfs_header), 0, PMCFS_NODE_SPACE);
	memset(r->data + sizeof(struct pmcfs_header), 0, PMCFS_NODE_SPACE);
	for (unsigned i = 0; i < nl + nr; i++) {
		uint8_t *src = i < nl ? tmp : tmp + PMCFS_BLOCK_SIZE;
		unsigned si = i < nl ? i : i - nl;
		struct pmcfs_ckey k;
		uint32_t size;
		const void *body = pmcfs_leaf_body(src, si, &size);
		struct pmcfs_buf *dst = i < split ? l : r;

		pmcfs_node_key(src, si, &k);
		leaf_insert_at(dst, nritems(dst), &k, body, size);
	}
	free(tmp);
	return 0;
}

static void node_redistribute(struct pmcfs_buf *l, struct pmcfs_buf *r, unsigned split)
{
	unsigned nl = nritems(l), nr = nritems(r), sz = sizeof(struct pmcfs_node_ptr);
	struct pmcfs_node_ptr all[2 * PMCFS_NODE_MAX_PTRS];

	memcpy(all, pmcfs_node_ptr_at(l->data, 0), nl * sz);
	memcpy(all + nl, pmcfs_node_ptr_at(r->data, 0), nr * sz);
	memset(l->data + sizeof(struct pmcfs_header), 0, PMCFS_NODE_SPACE);
	memset(r->data + sizeof(struct pmcfs_header), 0, PMCFS_NODE_SPACE);
	memcpy(pmcfs_node_ptr_at(l->data, 0), all, split * sz);
	memcpy(pmcfs_node_ptr_at(r->data, 0), all + split, (nl + nr - split) * sz);
	set_nritems(l, split);
	set_nritems(r, nl + nr - split);
}

static void first_key(struct pmcfs_buf *b, struct pmcfs_ckey *k)
{
	if (pmcfs_node_level(b->data))
		ptr_key(b, 0, k);
	else
		item_key(b, 0, k);
}

static void node_insert_ptr(struct pmcfs_buf *b, unsigned slot, const struct pmcfs_ckey *k,
			    uint64_t blkno, uint64_t gen)
{
	unsigned n = nritems(b);

	memmove(pmcfs_node_ptr_at(b->data, slot + 1), pmcfs_node_ptr_at(b->data, slot),
		(n - slot) * sizeof(struct pmcfs_node_ptr));
	pmcfs_key_to_disk(k, &pmcfs_node_ptr_at(b->data, slot)->key);
	set_ptr(b, slot, blkno, gen);
	set_nritems(b, n + 1);
}

void btree_node_delete_ptr(struct pmcfs_buf *b, unsigned slot)
{
	unsigned n = nritems(b);

	memmove(pmcfs_node_ptr_at(b->data, slot), pmcfs_node_ptr_at(b->data, slot + 1),
		(n - slot - 1) * sizeof(struct pmcfs_node_ptr));
	memset(pmcfs_node_ptr_at(b->data, n - 1), 0, sizeof(struct pmcfs_node_ptr));
	set_nritems(b, n - 1);
}

/* ---- splits -------------------------------------------------------------- */

/* Put a new root above the current one; path->b[top] becomes its only child. */
static int grow_root(struct pmcfs_trans *tx, struct pmcfs_tree *t, struct path *p)
{
	struct pmcfs_buf *nr, *old = p->b[p->top];
	struct pmcfs_ckey k;
	int err;

	if (p->top + 1 >= PMCFS_MAX_LEVEL)
		return -EFBIG;
	err = node_alloc(tx, t, &nr);
	if (err)
		return err;
	pmcfs_node_init(t->fs, nr->data, nr->blkno, t->magic, t->id, p->top + 1, tx->gen);
	if (nritems(old))
		first_key(old, &k);
	else
		memset(&k, 0, sizeof(k));
	node_insert_ptr(nr, 0, &k, old->blkno, tx->gen);
	p->top++;
	p->b[p->top] = nr;
	p->slot[p->top] = 0;
	t->root.blkno = nr->blkno;
	t->root.gen = tx->gen;
	t->root.level = p->top;
	t->dirty = true;
	return 0;
}

/* Split the (shadowed) child at `level` of path into two; the parent has room. */
static int split_child(struct pmcfs_trans *tx, struct pmcfs_tree *t, struct path *p,
		       int level, unsigned split)
{
	struct pmcfs_buf *l = p->b[level], *r, *parent;
	struct pmcfs_ckey k;
	int err;

	if (level == p->top && (err = grow_root(tx, t, p)))
		return err;
	parent = p->b[level + 1];
	err = node_alloc(tx, t, &r);
	if (err)
		return err;
	pmcfs_node_init(t->fs, r->data, r->blkno, t->magic, t->id, level, tx->gen);
	if (level)
		node_redistribute(l, r, split);
	else if ((err = leaf_redistribute(l, r, split)))
		return err;
	first_key(r, &k);
	node_insert_ptr(parent, p->slot[level + 1] + 1, &k, r->blkno, tx->gen);
	return 0;
}

/*
 * Choose where to split a full leaf so the new item fits on its side.
 * An insert goes left of the split when slot <= s; a replacement takes
 * the old item's place, which is left only when slot < s.
 */
static int leaf_split_point(struct pmcfs_buf *b, unsigned slot, uint32_t need, bool replace,
			    unsigned *ret)
{
	unsigned n = nritems(b), best = 0;
	int64_t total = 0, left = 0, best_max = INT64_MAX;
	int64_t delta = replace ? (int64_t)need - item_used(b, slot) : need;

	for (unsigned i = 0; i < n; i++)
		total += item_used(b, i);
	for (unsigned s = 1; s < n; s++) {
		bool goes_left = replace ? slot < s : slot <= s;
		int64_t l, r;
		left += item_used(b, s - 1);
		l = left + (goes_left ? delta : 0);
		r = total - left + (goes_left ? 0 : delta);
		if (l <= PMCFS_NODE_SPACE && r <= PMCFS_NODE_SPACE && (l > r ? l : r) < best_max) {
			best_max = l > r ? l : r;
			best = s;
		}
	}
	if (!best)
		return -PMCFS_ECORRUPT;
	*ret = best;
	return 0;
}

/* ---- search ---------------------------------------------------------------- */

int btree_read_root(struct pmcfs_tree *t, struct pmcfs_buf **ret)
{
	if (t->gone || !t->root.blkno)
		return -ENOENT;
	return pmcfs_read_node(t->fs, t->root.blkno, t->magic, t->root.level, t->root.gen, ret);
}

/*
 * Find key, filling path to the leaf. With a transaction, shadow every
 * node on the way; for inserts, split nodes that could overflow so the
 * leaf has room for `need` more bytes.
 */
static int search(struct pmcfs_trans *tx, struct pmcfs_tree *t, const struct pmcfs_ckey *key,
		  enum search_mode mode, uint32_t need, struct path *p, bool *found)
{
	bool mode_fail_if_found = mode == SEARCH_INSERT_NEW;

	if (mode == SEARCH_INSERT_NEW)
		mode = SEARCH_INSERT;

	int err, level;

again:
	memset(p, 0, sizeof(*p));
	p->top = t->root.level;
	if ((err = btree_read_root(t, &p->b[p->top])))
		return err;
	if (tx && (err = btree_cow_at(tx, t, p, p->top)))
		return err;
	if (mode == SEARCH_INSERT && p->top > 0 && nritems(p->b[p->top]) >= PMCFS_NODE_MAX_PTRS - 1) {
		if ((err = split_child(tx, t, p, p->top, nritems(p->b[p->top]) / 2)))
			return err;
		goto again;
	}
	for (level = p->top; level > 0; level--) {
		struct pmcfs_buf *b = p->b[level];
		unsigned slot = btree_node_search(b, key);
		struct pmcfs_ckey pk;
		uint64_t blk, gen;

		p->slot[level] = slot;
		pmcfs_node_child(b->data, slot, &blk, &gen);
		if ((err = pmcfs_read_node(t->fs, blk, t->magic, level - 1, gen, &p->b[level - 1])))
			return err;
		if (!tx)
			continue;
		if ((err = btree_cow_at(tx, t, p, level - 1)))
			return err;
		ptr_key(b, slot, &pk);
		if (mode == SEARCH_INSERT && pmcfs_key_cmp(key, &pk) < 0)
			pmcfs_key_to_disk(key, &pmcfs_node_ptr_at(b->data, slot)->key);
		if (mode == SEARCH_INSERT && level - 1 > 0 &&
		    nritems(p->b[level - 1]) >= PMCFS_NODE_MAX_PTRS - 1) {
			if ((err = split_child(tx, t, p, level - 1, nritems(p->b[level - 1]) / 2)))
				return err;
			goto again;
		}
	}
	p->slot[0] = btree_leaf_search(p->b[0], key, found);
	/* An insert that will fail with EEXIST must not split for room it never uses. */
	if (mode == SEARCH_INSERT && pmcfs_leaf_free(p->b[0]->data) < need &&
	    !(*found && mode_fail_if_found)) {
		unsigned split;
		if ((err = leaf_split_point(p->b[0], p->slot[0], need, *found, &split)))
			return err;
		if ((err = split_child(tx, t, p, 0, split)))
			return err;
		goto again;
	}
	return 0;
}

/* ---- public operations ------------------------------------------------------- */

/* May tx change t? Item changes are refused on read-only snapshots;
 * dropping one (deletion) is not an item change. */
int btree_check_tx_drop(struct pmcfs_trans *tx, struct pmcfs_tree *t)
{
	if (!tx || tx->fs != t->fs || !t->fs->in_trans || &t->fs->tx != tx)
		return -EINVAL;
	if (t->fs->broken)
		return -EIO;
	return t->gone ? -ENOENT : 0;
}

static int check_tx(struct pmcfs_trans *tx, struct pmcfs_tree *t)
{
	if (!tx || tx->fs != t->fs || !t->fs->in_trans || &t->fs->tx != tx)
		return -EINVAL;
	if (t->fs->broken)
		return -EIO;
	if (t->gone)
		return -ENOENT;
	if (t->rdonly)
		return -EROFS;
	return 0;
}

int pmcfs_tree_lookup(struct pmcfs_fs *fs, struct pmcfs_tree *t, const struct pmcfs_ckey *key,
		      void *buf, uint32_t bufsize, uint32_t *ret_size)
{
	struct path p;
	bool found;
	uint32_t size;
	const void *body;
	int err;

	pmcfs_cache_trim(&fs->cache);
	if ((err = search(NULL, t, key, SEARCH_READ, 0, &p, &found)))
		return err;
	if (!found)
		return -ENOENT;
	body = pmcfs_leaf_body(p.b[0]->data, p.slot[0], &size);
	if (buf)
		memcpy(buf, body, size < bufsize ? size : bufsize);
	if (ret_size)
		*ret_size = size;
	return 0;
}

/*
 * The item with the greatest key <= key (the space map run containing a
 * block). A parent's key is only a lower bound of its child, so the
 * answer may sit at the end of the previous leaf.
 */
int pmcfs_tree_lookup_le(struct pmcfs_fs *fs, struct pmcfs_tree *t, const struct pmcfs_ckey *key,
			 struct pmcfs_ckey *ret_key, void *buf, uint32_t bufsize, uint32_t *ret_size)
{
	struct path p;
	struct pmcfs_buf *b;
	bool found;
	int err, level;
	unsigned slot;
	uint32_t size;
	const void *body;

	if ((err = search(NULL, t, key, SEARCH_READ, 0, &p, &found)))
		return err;
	b = p.b[0];
	slot = p.slot[0];
	if (!found && slot == 0) {
		for (level = 1; level <= p.top && p.slot[level] == 0; level++)
			;
		if (level > p.top)
			return -ENOENT;
		b = p.b[level];
		slot = p.slot[level] - 1;
		for (; level > 0; level--) {
			uint64_t blk, gen;
			pmcfs_node_child(b->data, slot, &blk, &gen);
			if ((err = pmcfs_read_node(fs, blk, t->magic, level - 1, gen, &b)))
				return err;
			slot = nritems(b);
			if (!slot)
				return -PMCFS_ECORRUPT;
			if (level > 1)
				slot--;
		}
	}
	if (!found) {
		if (!slot)
			return -ENOENT;
		slot--;
	}
	item_key(b, slot, ret_key);
	body = pmcfs_leaf_body(b->data, slot, &size);
	if (buf)
		memcpy(buf, body, size < bufsize ? size : bufsize);
	if (ret_size)
		*ret_size = size;
	return 0;
}

static int rebalance(struct pmcfs_trans *tx, struct pmcfs_tree *t, struct path *p);

static int tree_put(struct pmcfs_trans *tx, struct pmcfs_tree *t, const struct pmcfs_ckey *key,
		    const void *body, uint32_t size, bool replace)
{
	struct path p;
	bool found;
	int err;

	if ((err = check_tx(tx, t)))
		return err;
	pmcfs_cache_trim(&t->fs->cache);
	if (size > PMCFS_MAX_ITEM_BODY)
		return -E2BIG;
	err = search(tx, t, key, replace ? SEARCH_INSERT : SEARCH_INSERT_NEW,
		     ITEM_OVERHEAD + PMCFS_BODY_ALIGN(size), &p, &found);
	if (err)
		return err;
	if (found) {
		if (!replace)
			return -EEXIST;
		leaf_delete_at(p.b[0], p.slot[0]);
	}
	leaf_insert_at(p.b[0], p.slot[0], key, body, size);
	/* A smaller replacement can leave the leaf underfull. */
	return found ? rebalance(tx, t, &p) : 0;
}

int pmcfs_tree_insert(struct pmcfs_trans *tx, struct pmcfs_tree *t, const struct pmcfs_ckey *key,
		      const void *body, uint32_t size)
{
	return tree_put(tx, t, key, body, size, false);
}

int pmcfs_tree_update(struct pmcfs_trans *tx, struct pmcfs_tree *t, const struct pmcfs_ckey *key,
		      const void *body, uint32_t size)
{
	return tree_put(tx, t, key, body, size, true);
}

static bool underfull(struct pmcfs_buf *b)
{
	if (pmcfs_node_level(b->data))
		return nritems(b) < MIN_PTRS;
	return pmcfs_leaf_used(b->data) < MIN_LEAF_USED;
}

static uint32_t node_used(struct pmcfs_buf *b)
{
	if (pmcfs_node_level(b->data))
		return nritems(b) * sizeof(struct pmcfs_node_ptr);
	return pmcfs_leaf_used(b->data);
}

/* Even split point of l+r by bytes (leaves) or pointers (interior). */
static unsigned balance_point(struct pmcfs_buf *l, struct pmcfs_buf *r)
{
	unsigned nl = nritems(l), nr = nritems(r), i;
	uint32_t total = node_used(l) + node_used(r), acc = 0;

	if (pmcfs_node_level(l->data))
		return (nl + nr) / 2;
	for (i = 0; i < nl + nr - 1; i++) {
		uint32_t u = i < nl ? item_used(l, i) : item_used(r, i - nl);
		if (acc + u > total / 2 && i > 0)
			break;
		acc += u;
	}
	return i ? i : 1;
}

/* Merge or rebalance path->b[level] with a sibling; the parent is shadowed. */
static int fix_underflow(struct pmcfs_trans *tx, struct pmcfs_tree *t, struct path *p, int level)
{
	struct pmcfs_buf *parent = p->b[level + 1], *sib, *l, *r;
	unsigned ps = p->slot[level + 1], ls;
	struct pmcfs_ckey k;
	uint64_t blk, gen;
	int err;

	if (nritems(parent) < 2)
		return 0;		/* an only child: the parent's own fix handles it */
	ls = ps > 0 ? ps - 1 : ps;	/* left of the pair */
	pmcfs_node_child(parent->data, ls == ps ? ps + 1 : ls, &blk, &gen);
	if ((err = pmcfs_read_node(t->fs, blk, t->magic, level, gen, &sib)))
		return err;
	{
		/* Shadow the sibling through a one-level path view. */
		struct path sp = *p;
		sp.b[level] = sib;
		sp.slot[level + 1] = ls == ps ? ps + 1 : ls;
		if ((err = btree_cow_at(tx, t, &sp, level)))
			return err;
		sib = sp.b[level];
	}
	l = ls == ps ? p->b[level] : sib;
	r = ls == ps ? sib : p->b[level];
	if (node_used(l) + node_used(r) <= PMCFS_NODE_SPACE) {
		if (pmcfs_node_level(l->data))
			node_redistribute(l, r, nritems(l) + nritems(r));
		else if ((err = leaf_redistribute(l, r, nritems(l) + nritems(r))))
			return err;
		btree_node_delete_ptr(parent, ls + 1);
		/* r's children now hang off l: release r alone. */
		return btree_node_release(tx, t, r->blkno);
	}
	if (pmcfs_node_level(l->data))
		node_redistribute(l, r, balance_point(l, r));
	else if ((err = leaf_redistribute(l, r, balance_point(l, r))))
		return err;
	first_key(r, &k);
	pmcfs_key_to_disk(&k, &pmcfs_node_ptr_at(parent->data, ls + 1)->key);
	return 0;
}

int pmcfs_tree_delete(struct pmcfs_trans *tx, struct pmcfs_tree *t, const struct pmcfs_ckey *key)
{
	struct path p;
	bool found;
	int err;

	if ((err = check_tx(tx, t)))
		return err;
	pmcfs_cache_trim(&t->fs->cache);
	if ((err = search(tx, t, key, SEARCH_DELETE, 0, &p, &found)))
		return err;
	if (!found)
		return -ENOENT;
	leaf_delete_at(p.b[0], p.slot[0]);
	return rebalance(tx, t, &p);
}

/* After a leaf shrank: merge or rebalance up the path, then shrink the root. */
static int rebalance(struct pmcfs_trans *tx, struct pmcfs_tree *t, struct path *p)
{
	int err;

	for (int level = 0; level < p->top; level++) {
		if (!underfull(p->b[level]))
			break;
		if ((err = fix_underflow(tx, t, p, level)))
			return err;
	}
	return btree_shrink_root(tx, t);
}

/* A root with a single child hands its role to the child. */
int btree_shrink_root(struct pmcfs_trans *tx, struct pmcfs_tree *t)
{
	int err;

	while (t->root.level > 0) {
		struct pmcfs_buf *root;
		uint64_t blk, gen;
		if ((err = btree_read_root(t, &root)))
			return err;
		if (nritems(root) != 1)
			break;
		pmcfs_node_child(root->data, 0, &blk, &gen);
		if ((err = btree_node_release(tx, t, root->blkno)))
			return err;
		t->root.blkno = blk;
		t->root.gen = gen;
		t->root.level--;
		t->dirty = true;
	}
	return 0;
}

/*
 * For pmcfs_tree_prune: if path->b[level] is underfull and the sibling
 * fix_underflow would pair it with reads cleanly, merge or rebalance;
 * an unreadable sibling leaves the node underfull (legal, if slower).
 */
int btree_fix_underflow_if_readable(struct pmcfs_trans *tx, struct pmcfs_tree *t, struct path *p,
				    int level)
{
	struct pmcfs_buf *parent = p->b[level + 1], *sib;
	unsigned ps = p->slot[level + 1];
	uint64_t blk, gen;

	if (!underfull(p->b[level]) || nritems(parent) < 2)
		return 0;
	pmcfs_node_child(parent->data, ps > 0 ? ps - 1 : ps + 1, &blk, &gen);
	if (pmcfs_read_node(t->fs, blk, t->magic, level, gen, &sib))
		return 0;
	return fix_underflow(tx, t, p, level);
}

int pmcfs_tree_new_root(struct pmcfs_trans *tx, struct pmcfs_tree *t)
{
	struct pmcfs_buf *b;
	int err = node_alloc(tx, t, &b);

	if (err)
		return err;
	pmcfs_node_init(t->fs, b->data, b->blkno, t->magic, t->id, 0, tx->gen);
	t->root.blkno = b->blkno;
	t->root.gen = tx->gen;
	t->root.level = 0;
	t->dirty = true;
	return 0;
}


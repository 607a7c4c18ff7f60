#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "fsaudit.h"
#include "pmcfs_endian.h"

static void bad(struct fsaudit *a, const char *fmt, ...)
{
	va_list ap;

	if (!a->errors++) {
		va_start(ap, fmt);
		vsnprintf(a->first_error, sizeof(a->first_error), fmt, ap);
		va_end(ap);
	}
}

static void add_ref(struct fsaudit *a, uint64_t start, uint64_t len)
{
	if (start + len > a->nblocks || start + len < start) {
		bad(a, "reference [%lu,+%lu) past the device", start, len);
		return;
	}
	for (uint64_t b = start; b < start + len; b++)
		a->refs[b]++;
}

struct bound {
	bool has_lo, has_hi;
	struct pmcfs_ckey lo, hi;	/* lo <= keys < hi */
};

static void walk(struct pmcfs_fs *fs, struct fsaudit *a, uint64_t tree, uint64_t blk,
		 uint64_t gen, int level, const struct bound *bd, bool is_root, uint64_t max_gen,
		 bool dropping)
{
	uint8_t buf[PMCFS_BLOCK_SIZE] __attribute__((aligned(64)));
	struct pmcfs_verify_err why;
	const struct pmcfs_header *h = (const void *)buf;
	unsigned n;

	add_ref(a, blk, 1);
	if (blk >= a->nblocks || a->reachable[blk])
		return;		/* shared: checked once */
	a->reachable[blk] = 1;
	a->nodes++;
	if (pmcfs_block_read(fs, blk, buf)) {
		bad(a, "block %lu unreadable", blk);
		return;
	}
	if (pmcfs_node_verify(fs, buf, blk, pmcfs_tree_magic(tree), level, &why)) {
		bad(a, "block %lu: %s", blk, why.check);
		return;
	}
	if (pmcfs_header_generation(h) != gen || gen > max_gen)
		bad(a, "block %lu: generation %lu, pointer says %lu", blk, pmcfs_header_generation(h), gen);
	n = pmcfs_node_nritems(buf);
	/* A tree being dropped loses subtrees from the left: no fill rule. */
	if (!is_root && !dropping) {
		if (level && n < PMCFS_NODE_MAX_PTRS / 4)
			bad(a, "interior block %lu of tree %lu underfull: %u pointers", blk, tree, n);
		if (!level) {
			uint32_t used = n * sizeof(struct pmcfs_item);
			for (unsigned i = 0; i < n; i++) {
				uint32_t sz;
				pmcfs_leaf_body(buf, i, &sz);
				used += (sz + 7) & ~7u;
			}
			if (used < PMCFS_NODE_SPACE / 4)
				bad(a, "leaf %lu of tree %lu underfull: %u bytes", blk, tree, used);
		}
	}
	for (unsigned i = 0; i < n; i++) {
		struct pmcfs_ckey k;
		pmcfs_node_key(buf, i, &k);
		if ((bd->has_lo && pmcfs_key_cmp(&k, &bd->lo) < 0) ||
		    (bd->has_hi && pmcfs_key_cmp(&k, &bd->hi) >= 0))
			bad(a, "block %lu item %u: key outside the parent's range", blk, i);
	}
	if (level) {
		for (unsigned i = 0; i < n; i++) {
			struct bound cb = *bd;
			uint64_t cblk, cgen;
			pmcfs_node_key(buf, i, &cb.lo);
			cb.has_lo = true;
			if (i + 1 < n) {
				pmcfs_node_key(buf, i + 1, &cb.hi);
				cb.has_hi = true;
			}
			pmcfs_node_child(buf, i, &cblk, &cgen);
			walk(fs, a, tree, cblk, cgen, level - 1, &cb, false, gen, dropping);
		}
		return;
	}
	a->items += n;
	for (unsigned i = 0; i < n; i++) {
		struct pmcfs_ckey k;
		uint32_t sz;
		const void *body = pmcfs_leaf_body(buf, i, &sz);
		pmcfs_node_key(buf, i, &k);
		if (tree == PMCFS_ROOTTAB_TREE && k.type == PMCFS_KEY_ROOT) {
			struct pmcfs_root_item ri;
			struct bound none = { 0 };
			memcpy(&ri, body, sizeof(ri));
			walk(fs, a, k.objectid, pmcfs_root_item_blkno(&ri),
			     pmcfs_root_item_generation(&ri), pmcfs_root_item_level(&ri), &none, true,
			     UINT64_MAX, pmcfs_root_item_flags(&ri) & PMCFS_ROOT_DROPPING);
		} else if (tree >= PMCFS_FIRST_SUBVOL && k.type == PMCFS_KEY_EXTENT) {
			struct pmcfs_extent e;
			memcpy(&e, body, sizeof(e));
			if (pmcfs_extent_nblocks(&e))
				add_ref(a, pmcfs_extent_phys(&e), pmcfs_extent_nblocks(&e));
		}
	}
}

static void check_spacemap(struct pmcfs_fs *fs, struct fsaudit *a)
{
	const struct pmcfs_sb_info *sb = pmcfs_fs_sb(fs);
	struct pmcfs_ckey k;
	struct pmcfs_iter *it;
	const void *body;
	uint32_t size;
	uint64_t next = 0, prev_count = UINT64_MAX, prev_owner = UINT64_MAX;

	if (pmcfs_iter_start(fs, pmcfs_fs_spacemap(fs), NULL, &it)) {
		bad(a, "space map unreadable");
		return;
	}
	while (pmcfs_iter_next(it, &k, &body, &size) > 0) {
		struct pmcfs_space_run sr;
		uint64_t len;
		uint32_t count, owner;
		memcpy(&sr, body, sizeof(sr));
		len = pmcfs_space_run_len(&sr);
		count = pmcfs_space_run_refcount(&sr);
		owner = pmcfs_space_run_owner(&sr);
		if (k.objectid != next)
			bad(a, "space map run at %lu, expected %lu", k.objectid, next);
		if (count == prev_count && owner == prev_owner)
			bad(a, "space map runs at %lu not merged", k.objectid);
		if (!len || k.objectid + len > a->nblocks)
			bad(a, "space map run at %lu bad length %lu", k.objectid, len);
		for (uint64_t b = k.objectid; b < k.objectid + len && b < a->nblocks; b++) {
			uint32_t expect = a->refs[b] + (owner != PMCFS_OWNER_FS);
			if (owner == PMCFS_OWNER_SUPER && (b >= sb->data_start && b < sb->data_end))
				bad(a, "reserved run inside the data area at %lu", b);
			if (count != expect) {
				bad(a, "block %lu: space map says %u references, found %u", b, count, a->refs[b]);
				break;
			}
		}
		if (count == 0)
			a->free_blocks += len;
		next = k.objectid + len;
		prev_count = count;
		prev_owner = owner;
	}
	pmcfs_iter_free(it);
	if (next != a->nblocks)
		bad(a, "space map ends at %lu, device has %lu blocks", next, a->nblocks);
	if (a->free_blocks != pmcfs_fs_commit(fs)->free_blocks)
		bad(a, "free blocks: map has %lu, commit says %lu", a->free_blocks,
		    pmcfs_fs_commit(fs)->free_blocks);
}

int fsaudit_run(struct pmcfs_fs *fs, struct fsaudit *a)
{
	const struct pmcfs_commit_info *ci = pmcfs_fs_commit(fs);
	struct bound none = { 0 };

	memset(a, 0, sizeof(*a));
	a->nblocks = pmcfs_fs_sb(fs)->nblocks;
	a->refs = calloc(a->nblocks, sizeof(*a->refs));
	a->reachable = calloc(a->nblocks, 1);
	if (!a->refs || !a->reachable)
		return -1;
	walk(fs, a, PMCFS_ROOTTAB_TREE, ci->roottab.blkno, ci->roottab.gen, ci->roottab.level,
	     &none, true, ci->generation, false);
	walk(fs, a, PMCFS_SPACEMAP_TREE, ci->spacemap.blkno, ci->spacemap.gen, ci->spacemap.level,
	     &none, true, ci->generation, false);
	check_spacemap(fs, a);
	return a->errors ? -1 : 0;
}

void fsaudit_free(struct fsaudit *a)
{
	free(a->refs);
	free(a->reachable);
	a->refs = NULL;
	a->reachable = NULL;
}

int fsaudit_errors(struct pmcfs_fs *fs, const char *when)
{
	struct fsaudit a;
	int errors;

	if (fsaudit_run(fs, &a) && !a.errors) {
		fprintf(stderr, "%s: audit could not run\n", when);
		return 1;
	}
	if (a.errors)
		fprintf(stderr, "%s: %d audit errors, first: %s\n", when, a.errors, a.first_error);
	errors = a.errors;
	fsaudit_free(&a);
	return errors;
}

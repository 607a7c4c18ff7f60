// SPDX-License-Identifier: MIT
/*
 * alloc: the space map's runs (start, length, refcount, owner) and a
 * summary. The runs must partition [0, nblocks) exactly, in order, with
 * adjacent runs differing; the free count must equal the commit record's.
 * Anything else is reported and the run exits 1.
 */
#include <stdio.h>
#include <string.h>
#include "pmcfs_endian.h"
#include "dump.h"

const char *const cmd_alloc_usage[] = {
	"alloc",
	"space-map runs with refcounts and owners, and a summary",
	"Owners: free, fs (tree blocks and file data), bad (media errors), super",
	"(the reserved areas at both ends). Shared blocks have refcount > 1.",
	NULL
};

struct alloc_ctx {
	uint64_t nblocks;
	uint64_t next;			/* where the next run must start */
	uint32_t prev_ref, prev_owner;
	bool have_prev;
	uint64_t runs, free, used, bad, reserved, shared;
};

static void run_item(void *vctx, const struct pmcfs_ckey *k, const uint8_t *body, uint32_t size)
{
	struct alloc_ctx *c = vctx;
	struct pmcfs_space_run sr;
	uint64_t len;
	uint32_t ref, owner;

	if (k->type != PMCFS_KEY_SPACE_RUN || size != sizeof(sr)) {
		corrupt("space map: item (%llu %s %llu) of %u bytes is not a space run",
			(unsigned long long)k->objectid, key_type_name(k->type),
			(unsigned long long)k->offset, size);
		return;
	}
	memcpy(&sr, body, sizeof(sr));
	len = pmcfs_space_run_len(&sr);
	ref = pmcfs_space_run_refcount(&sr);
	owner = pmcfs_space_run_owner(&sr);
	if (k->objectid != c->next)
		corrupt("space map: run at block %llu: expected a run starting at %llu (%s)",
			(unsigned long long)k->objectid, (unsigned long long)c->next,
			k->objectid > c->next ? "a gap" : "an overlap");
	if (len == 0 || len > c->nblocks || k->objectid > c->nblocks - len)
		corrupt("space map: run at block %llu: length %llu goes past the end of the filesystem (%llu blocks)",
			(unsigned long long)k->objectid, (unsigned long long)len,
			(unsigned long long)c->nblocks);
	else if (c->have_prev && k->objectid == c->next && ref == c->prev_ref && owner == c->prev_owner)
		corrupt("space map: run at block %llu: same refcount and owner as the run before it",
			(unsigned long long)k->objectid);
	if (owner > PMCFS_OWNER_SUPER)
		corrupt("space map: run at block %llu: unknown owner %u", (unsigned long long)k->objectid, owner);
	c->next = k->objectid + len;
	c->prev_ref = ref;
	c->prev_owner = owner;
	c->have_prev = true;
	c->runs++;
	if (ref == 0)
		c->free += len;
	else if (owner == PMCFS_OWNER_BADBLOCK)
		c->bad += len;
	else if (owner == PMCFS_OWNER_SUPER)
		c->reserved += len;
	else
		c->used += len;
	if (ref > 1)
		c->shared += len;
	if (opt.json) {
		json_obj_begin(NULL);
		json_u64("start", k->objectid);
		json_u64("len", len);
		json_u64("refcount", ref);
		json_u64("owner", owner);
		json_str("owner_name", owner_name(owner, ref));
		json_obj_end();
	} else {
		printf("%-14llu %-14llu %-9u %s\n", (unsigned long long)k->objectid,
		       (unsigned long long)len, ref, owner_name(owner, ref));
	}
}

int cmd_alloc(int argc, char **argv)
{
	static const struct walk_ops ops = { run_item, NULL };
	struct pmcfs_dev *dev = open_device(PMCFS_DEV_RDONLY);
	struct pmcfs_fs *fs = open_fs(dev);
	const struct pmcfs_commit_info *ci = pmcfs_fs_commit(fs);
	struct alloc_ctx c;
	int bad;

	memset(&c, 0, sizeof(c));
	c.nblocks = pmcfs_fs_sb(fs)->nblocks;
	if (opt.json) {
		json_obj_begin(NULL);
		json_u64("nblocks", c.nblocks);
		json_arr_begin("runs");
	} else {
		printf("%-14s %-14s %-9s %s\n", "start", "length", "refcount", "owner");
	}
	bad = walk_tree(fs, PMCFS_SPACEMAP_TREE, &ci->spacemap, false, &ops, &c);
	if (!bad && c.next != c.nblocks)
		corrupt("space map: runs end at block %llu, the filesystem has %llu blocks",
			(unsigned long long)c.next, (unsigned long long)c.nblocks);
	if (!bad && c.free != ci->free_blocks)
		corrupt("space map: %llu free blocks, the commit record says %llu",
			(unsigned long long)c.free, (unsigned long long)ci->free_blocks);
	if (opt.json) {
		json_arr_end();
		json_obj_begin("summary");
		json_u64("runs", c.runs);
		json_u64("blocks", c.free + c.used + c.bad + c.reserved);
		json_u64("free", c.free);
		json_u64("used", c.used);
		json_u64("bad", c.bad);
		json_u64("reserved", c.reserved);
		json_u64("shared", c.shared);
		json_u64("commit_free_blocks", ci->free_blocks);
		json_obj_end();
		json_u64("unreadable_blocks", bad);
		json_obj_end();
		json_done();
	} else {
		printf("summary: %llu runs, %llu blocks: %llu free, %llu used, %llu bad, %llu reserved, %llu shared\n",
		       (unsigned long long)c.runs,
		       (unsigned long long)(c.free + c.used + c.bad + c.reserved),
		       (unsigned long long)c.free, (unsigned long long)c.used, (unsigned long long)c.bad,
		       (unsigned long long)c.reserved, (unsigned long long)c.shared);
	}
	pmcfs_fs_close(fs);
	pmcfs_dev_close(dev);
	return 0;
}

// SPDX-License-Identifier: MIT
/*
 * Printing one tree block, and a depth-first walk of one tree that reads
 * every block itself (not through the library's cached read path), so a
 * block that fails verification is reported with the failed check and
 * skipped while the walk goes on elsewhere. A corrupt image may point a
 * node at an ancestor or at a block already seen: a visited set stops
 * that, and the depth is bounded as well as the level.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "pmcfs_endian.h"
#include "dump.h"

#define WALK_MAX_DEPTH 16	/* levels are below 8; anything deeper is a loop */

static const char *magic_kind(uint32_t magic)
{
	switch (magic) {
	case PMCFS_FS_MAGIC: return "fs tree";
	case PMCFS_ROOTTAB_MAGIC: return "roottab";
	case PMCFS_SPACEMAP_MAGIC: return "spacemap";
	}
	return "unknown";
}

static void key_print(const char *key, const struct pmcfs_ckey *k)
{
	if (opt.json) {
		json_obj_begin(key);
		json_u64("objectid", k->objectid);
		json_u64("type", k->type);
		json_str("type_name", key_type_name(k->type));
		json_u64("offset", k->offset);
		json_obj_end();
	} else {
		printf("(%llu %s %llu)", (unsigned long long)k->objectid,
		       k->type == 0 || !strcmp(key_type_name(k->type), "UNKNOWN") ? "?" : key_type_name(k->type),
		       (unsigned long long)k->offset);
	}
}

/* Header and, if the block verified and items is set, its pointers or items. */
void block_print(struct pmcfs_fs *fs, const uint8_t *buf, uint64_t blkno, int depth,
		 const struct pmcfs_verify_err *why, int err, bool items)
{
	const struct pmcfs_header *h = (const void *)buf;
	bool crc_ok = pmcfs_cksum_verify(buf, PMCFS_BLOCK_SIZE, offsetof(struct pmcfs_header, crc));
	unsigned level = pmcfs_header_level(h), n = pmcfs_header_nritems(h);
	char msg[256];

	if (opt.json) {
		json_obj_begin(NULL);
		json_u64("block", blkno);
		if (depth >= 0)
			json_u64("depth", depth);
		json_str("kind", magic_kind(pmcfs_header_magic(h)));
		json_bool("valid", !err);
		json_bool("crc_ok", crc_ok);
		if (err && why)
			json_verify_err("error", why);
		else if (err)
			json_str("error", pmcfs_strerror(err));
		else
			json_null("error");
		json_obj_begin("header");
		fields_print(header_fields, buf, NULL, false);
		json_obj_end();
	} else {
		printf("block %llu (%s %s", (unsigned long long)blkno, magic_kind(pmcfs_header_magic(h)),
		       level ? "node" : "leaf");
		if (depth >= 0)
			printf(", depth %d", depth);
		printf(", crc %s): %s%s\n", crc_ok ? "ok" : "bad", err ? "invalid: " : "ok",
		       !err ? "" : why ? verify_text(why, msg, sizeof(msg)) : pmcfs_strerror(err));
		printf("  header: ");
		fields_print(header_fields, buf, NULL, true);
	}
	if (err || !items) {
		if (opt.json)
			json_obj_end();
		return;
	}
	if (opt.json)
		json_arr_begin(level ? "ptrs" : "items");
	for (unsigned i = 0; i < n; i++) {
		struct pmcfs_ckey k;

		pmcfs_node_key(buf, i, &k);
		if (level) {
			uint64_t child, gen;

			pmcfs_node_child(buf, i, &child, &gen);
			if (opt.json) {
				json_obj_begin(NULL);
				key_print("key", &k);
				json_u64("blkno", child);
				json_u64("generation", gen);
				json_obj_end();
			} else {
				printf("  ptr %u: key ", i);
				key_print(NULL, &k);
				printf(" -> block %llu generation %llu\n", (unsigned long long)child,
				       (unsigned long long)gen);
			}
		} else {
			uint32_t size;
			const uint8_t *body = pmcfs_leaf_body(buf, i, &size);

			if (opt.json) {
				json_obj_begin(NULL);
				key_print("key", &k);
			} else {
				printf("  item %u: key ", i);
				key_print(NULL, &k);
			}
			item_print(&k, body, size, blkno, i);
			if (opt.json)
				json_obj_end();
		}
	}
	if (opt.json) {
		json_arr_end();
		json_obj_end();
	}
}

/* Open addressing over block numbers; trees are small next to the device. */
struct visited {
	uint64_t *slots;	/* blkno + 1; 0 = empty */
	size_t cap, n;
};

static bool visit(struct visited *v, uint64_t blkno)
{
	size_t i;

	if (2 * (v->n + 1) > v->cap) {
		struct visited nv = { xcalloc(v->cap ? v->cap * 2 : 1024, sizeof(uint64_t)),
				      v->cap ? v->cap * 2 : 1024, 0 };
		for (i = 0; i < v->cap; i++)
			if (v->slots[i])
				visit(&nv, v->slots[i] - 1);
		free(v->slots);
		*v = nv;
	}
	for (i = (blkno * 0x9e3779b97f4a7c15ULL) & (v->cap - 1); v->slots[i]; i = (i + 1) & (v->cap - 1))
		if (v->slots[i] == blkno + 1)
			return false;
	v->slots[i] = blkno + 1;
	v->n++;
	return true;
}

struct walker {
	struct pmcfs_fs *fs;
	uint64_t tree_id;
	uint32_t magic;
	bool print;
	const struct walk_ops *ops;
	void *ctx;
	struct visited seen;
	uint8_t *buf[WALK_MAX_DEPTH];
	unsigned bad;
};

static int fail(struct pmcfs_verify_err *why, int code, const char *check, uint64_t e, uint64_t f)
{
	*why = (struct pmcfs_verify_err){ code, check, e, f, -1 };
	return code;
}

/* Beyond pmcfs_node_verify: the pointer's generation and the owner. */
static int verify_more(struct walker *w, const uint8_t *buf, uint64_t gen, struct pmcfs_verify_err *why)
{
	const struct pmcfs_header *h = (const void *)buf;
	uint64_t owner = pmcfs_header_owner(h);

	if (gen && pmcfs_header_generation(h) != gen)
		return fail(why, -PMCFS_ESTALE, "generation", gen, pmcfs_header_generation(h));
	if (w->tree_id < PMCFS_FIRST_SUBVOL ? owner != w->tree_id :
	    owner < PMCFS_FIRST_SUBVOL || owner > PMCFS_LAST_SUBVOL)
		return fail(why, -PMCFS_ECORRUPT, "owner", w->tree_id, owner);
	return 0;
}

static void walk_node(struct walker *w, uint64_t blkno, uint64_t gen, int level, int depth)
{
	struct pmcfs_verify_err why = { 0, NULL, 0, 0, -1 };
	uint8_t *buf = w->buf[depth];
	char msg[256];
	int err;

	if (!visit(&w->seen, blkno)) {
		w->bad++;
		corrupt("tree %llu: block %llu: reached twice (a loop, or a block shared inside one tree); not descended",
			(unsigned long long)w->tree_id, (unsigned long long)blkno);
		return;
	}
	err = pmcfs_block_read(w->fs, blkno, buf);
	if (err) {
		w->bad++;
		corrupt("tree %llu: block %llu: unreadable: %s", (unsigned long long)w->tree_id,
			(unsigned long long)blkno, pmcfs_strerror(err));
		if (opt.json && w->print) {
			json_obj_begin(NULL);
			json_u64("block", blkno);
			json_u64("depth", depth);
			json_bool("valid", false);
			json_str("error", pmcfs_strerror(err));
			json_obj_end();
		} else if (w->print) {
			printf("block %llu (depth %d): unreadable: %s\n", (unsigned long long)blkno, depth,
			       pmcfs_strerror(err));
		}
		return;
	}
	err = pmcfs_node_verify(w->fs, buf, blkno, w->magic, level, &why);
	if (!err)
		err = verify_more(w, buf, gen, &why);
	if (w->print)
		block_print(w->fs, buf, blkno, depth, &why, err, true);
	if (err) {
		w->bad++;
		corrupt("tree %llu: block %llu: %s; not descended", (unsigned long long)w->tree_id,
			(unsigned long long)blkno, verify_text(&why, msg, sizeof(msg)));
		return;
	}
	level = pmcfs_node_level(buf);
	if (w->ops && w->ops->node)
		w->ops->node(w->ctx, blkno, (unsigned)level);
	for (unsigned i = 0; i < pmcfs_node_nritems(buf); i++) {
		if (level) {
			uint64_t child, cgen;

			if (depth + 1 >= WALK_MAX_DEPTH) {
				w->bad++;
				corrupt("tree %llu: block %llu: deeper than %d levels; not descended",
					(unsigned long long)w->tree_id, (unsigned long long)blkno, WALK_MAX_DEPTH);
				return;
			}
			pmcfs_node_child(buf, i, &child, &cgen);
			walk_node(w, child, cgen, level - 1, depth + 1);
		} else if (w->ops && w->ops->item) {
			struct pmcfs_ckey k;
			uint32_t size;
			const uint8_t *body = pmcfs_leaf_body(buf, i, &size);

			pmcfs_node_key(buf, i, &k);
			w->ops->item(w->ctx, &k, body, size);
		}
	}
}

/* Returns the number of blocks that could not be read or verified. */
int walk_tree(struct pmcfs_fs *fs, uint64_t tree_id, const struct pmcfs_root_ref *root,
	      bool print, const struct walk_ops *ops, void *ctx)
{
	struct walker w = { fs, tree_id, pmcfs_tree_magic(tree_id), print, ops, ctx, { NULL, 0, 0 }, { NULL }, 0 };

	for (int i = 0; i < WALK_MAX_DEPTH; i++)
		w.buf[i] = xcalloc(1, PMCFS_BLOCK_SIZE);
	walk_node(&w, root->blkno, root->gen, root->level, 0);
	for (int i = 0; i < WALK_MAX_DEPTH; i++)
		free(w.buf[i]);
	free(w.seen.slots);
	return (int)w.bad;
}

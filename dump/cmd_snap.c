// SPDX-License-Identifier: MIT
/*
 * snapshots: every entry of the root table.
 * owners BLOCK[+LEN]: who uses a range of blocks: every file extent (with
 * its paths, subvolume and file offset) and every tree block inside it.
 *
 * owners walks every subvolume's tree in full, one after another, rather
 * than each shared subtree once overall: a leaf shared by a snapshot and
 * its source is then read once for each, and each subvolume that sees an
 * extent is named with the path the file has there. The cost is the sum
 * of the trees' sizes instead of the size of their union, which is fine
 * for an offline tool, and the attribution is exact without tracking
 * which subvolumes reach each shared node. Paths come from the INODE_REF
 * back-references (inode -> parent chain), so no directory is read.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "pmcfs_endian.h"
#include "pmcfs_ns.h"
#include "dump.h"

#define PATHS_MAX 16	/* hard links shown per extent */

const char *const cmd_snapshots_usage[] = {
	"snapshots",
	"every subvolume and snapshot in the root table",
	"id, parent (\"gone\" once deleted), flags (ro, dropping), creation",
	"generation, ctime, root block and level, and name. The default",
	"subvolume (the live filesystem) is marked with '*'.",
	NULL
};

const char *const cmd_owners_usage[] = {
	"owners BLOCK[+LEN]",
	"who uses blocks BLOCK..BLOCK+LEN-1: file extents and tree blocks",
	"Lists the space-map runs of the range, every file extent that covers",
	"part of it in every subvolume and snapshot (path, inode, file offset,",
	"blocks), and every tree block inside it (tree, level). Each subvolume's",
	"tree is walked in full, so a shared leaf is reported once per",
	"subvolume that reaches it.",
	NULL
};

struct subvol {
	uint64_t id, parent;
	struct pmcfs_root_item item;
	char name[PMCFS_NAME_MAX + 1];
};

/* Every ROOT item of the root table; corrupt ones reported and skipped. */
static size_t read_roottab(struct pmcfs_fs *fs, struct subvol **ret)
{
	struct pmcfs_ckey start = { 0, 0, 0 }, k;
	struct subvol *v = NULL;
	size_t n = 0, base = sizeof(struct pmcfs_root_item);
	struct pmcfs_iter *it;
	const void *body;
	uint32_t size;
	int err = pmcfs_iter_start(fs, pmcfs_fs_roottab(fs), &start, &it);

	if (err)
		die(EXIT_CORRUPT, "cannot read the root table: %s", pmcfs_strerror(err));
	while ((err = pmcfs_iter_next(it, &k, &body, &size)) > 0) {
		if (k.type != PMCFS_KEY_ROOT)
			continue;
		if (size < base || size - base != pmcfs_root_item_name_len(body)) {
			corrupt("root table: subvolume %llu: ROOT item of %u bytes does not match its name_len",
				(unsigned long long)k.objectid, size);
			continue;
		}
		v = realloc(v, (n + 1) * sizeof(*v));
		if (!v)
			die(EXIT_CORRUPT, "out of memory reading the root table");
		v[n].id = k.objectid;
		memcpy(&v[n].item, body, base);
		v[n].parent = pmcfs_root_item_parent(&v[n].item);
		memcpy(v[n].name, (const char *)body + base, size - base);
		v[n].name[size - base] = '\0';
		n++;
	}
	pmcfs_iter_free(it);
	if (err < 0)
		corrupt("cannot read the root table: %s; %zu entries read", pmcfs_strerror(err), n);
	*ret = v;
	return n;
}

static bool parent_gone(const struct subvol *v, size_t n, const struct subvol *s)
{
	if (!s->parent)
		return false;
	if (pmcfs_root_item_flags(&s->item) & PMCFS_ROOT_PARENT_GONE)
		return true;
	for (size_t i = 0; i < n; i++)
		if (v[i].id == s->parent)
			return false;
	return true;
}

int cmd_snapshots(int argc, char **argv)
{
	struct pmcfs_dev *dev = open_device(PMCFS_DEV_RDONLY);
	struct pmcfs_fs *fs = open_fs(dev);
	uint64_t def = pmcfs_fs_sb(fs)->root_subvol;
	struct subvol *v;
	size_t n = read_roottab(fs, &v);

	(void)argc, (void)argv;
	if (opt.json) {
		json_obj_begin(NULL);
		json_arr_begin("subvolumes");
	} else {
		printf("%-8s %-14s %-12s %10s %-35s %10s %5s  %s\n", "id", "parent", "flags",
		       "create_gen", "ctime", "root", "level", "name");
	}
	for (size_t i = 0; i < n; i++) {
		const struct pmcfs_root_item *ri = &v[i].item;
		uint64_t fl = pmcfs_root_item_flags(ri);
		bool gone = parent_gone(v, n, &v[i]);
		char t[64], flags[32], parent[32], id[32];

		time_string((int64_t)pmcfs_root_item_ctime_sec(ri), pmcfs_root_item_ctime_nsec(ri), t, sizeof(t));
		if (opt.json) {
			json_obj_begin(NULL);
			json_u64("id", v[i].id);
			json_str("name", v[i].name);
			json_bool("default", v[i].id == def);
			json_u64("parent", v[i].parent);
			json_bool("parent_gone", gone);
			json_hex("flags", fl);
			json_bool("readonly", fl & PMCFS_ROOT_RDONLY);
			json_bool("dropping", fl & PMCFS_ROOT_DROPPING);
			json_u64("create_gen", pmcfs_root_item_create_gen(ri));
			json_time("ctime", (int64_t)pmcfs_root_item_ctime_sec(ri), pmcfs_root_item_ctime_nsec(ri));
			json_obj_begin("item");
			fields_print(root_item_fields, ri, NULL, false);
			json_obj_end();
			json_obj_end();
			continue;
		}
		snprintf(flags, sizeof(flags), "%s%s%s", fl & PMCFS_ROOT_RDONLY ? "ro" : "",
			 (fl & PMCFS_ROOT_RDONLY) && (fl & PMCFS_ROOT_DROPPING) ? "," : "",
			 fl & PMCFS_ROOT_DROPPING ? "dropping" : "");
		if (!v[i].parent)
			snprintf(parent, sizeof(parent), "-");
		else
			snprintf(parent, sizeof(parent), "%llu%s", (unsigned long long)v[i].parent,
				 gone ? " (gone)" : "");
		snprintf(id, sizeof(id), "%llu%s", (unsigned long long)v[i].id, v[i].id == def ? "*" : "");
		printf("%-8s %-14s %-12s %10llu %-35s %10llu %5u  %s\n", id, parent, flags[0] ? flags : "-",
		       (unsigned long long)pmcfs_root_item_create_gen(ri), t,
		       (unsigned long long)pmcfs_root_item_blkno(ri), ri->level,
		       esc(v[i].name));
	}
	if (opt.json) {
		json_arr_end();
		json_obj_end();
		json_done();
	}
	free(v);
	pmcfs_fs_close(fs);
	pmcfs_dev_close(dev);
	return 0;
}

/* ---- owners ---------------------------------------------------------------------------- */

struct hit_ext { uint64_t subvol, ino, file_off, phys, n; uint32_t flags; };
struct hit_node { uint64_t tree, blkno; unsigned level; };

struct owners {
	uint64_t start, len, tree;
	struct hit_ext *ext;
	struct hit_node *node;
	size_t next, nnode;
};

static void *grow(void *p, size_t n, size_t size)
{
	if (n & (n - 1))
		return p;		/* capacity is the next power of two */
	p = realloc(p, (n ? 2 * n : 1) * size);
	if (!p)
		die(EXIT_CORRUPT, "out of memory");
	return p;
}

static void owners_node(void *ctx, uint64_t blkno, unsigned level)
{
	struct owners *o = ctx;

	if (blkno < o->start || blkno - o->start >= o->len)
		return;
	o->node = grow(o->node, o->nnode, sizeof(*o->node));
	o->node[o->nnode++] = (struct hit_node){ o->tree, blkno, level };
}

static void owners_item(void *ctx, const struct pmcfs_ckey *k, const uint8_t *body, uint32_t size)
{
	struct owners *o = ctx;
	struct pmcfs_extent e;
	uint64_t phys, n, lo, hi;

	if (k->type != PMCFS_KEY_EXTENT || size != sizeof(e))
		return;
	memcpy(&e, body, sizeof(e));
	phys = pmcfs_extent_phys(&e);
	n = pmcfs_extent_nblocks(&e);
	lo = phys > o->start ? phys : o->start;
	hi = phys + n < o->start + o->len ? phys + n : o->start + o->len;
	if (phys + n < phys || lo >= hi)
		return;
	o->ext = grow(o->ext, o->next, sizeof(*o->ext));
	o->ext[o->next++] = (struct hit_ext){ o->tree, k->objectid,
		k->offset + (lo - phys) * PMCFS_BLOCK_SIZE, lo, hi - lo, pmcfs_extent_flags(&e) };
}

static void parse_range(const char *arg, uint64_t nblocks, uint64_t *start, uint64_t *len)
{
	char buf[64];
	const char *plus = strchr(arg, '+');

	*len = 1;
	snprintf(buf, sizeof(buf), "%.*s", plus ? (int)(plus - arg) : (int)strlen(arg), arg);
	if (parse_u64(buf, start) || (plus && (parse_u64(plus + 1, len) || !*len)))
		usage_error("owners: invalid range '%s': expected BLOCK or BLOCK+LEN", arg);
	if (*start >= nblocks || *len > nblocks - *start)
		die(EXIT_CORRUPT, "blocks %llu+%llu are beyond the end of the filesystem (%llu blocks)",
		    (unsigned long long)*start, (unsigned long long)*len, (unsigned long long)nblocks);
}

static void show_space(struct pmcfs_fs *fs, uint64_t start, uint64_t len)
{
	uint64_t b = start, end = start + len;

	if (opt.json)
		json_arr_begin("space");
	while (b < end) {
		struct pmcfs_space_info si;
		int err = pmcfs_space_lookup(fs, b, &si);

		if (err || si.start > b || si.start + si.len <= b) {
			corrupt("no space-map run for block %llu: %s", (unsigned long long)b,
				pmcfs_strerror(err ? err : -PMCFS_ECORRUPT));
			break;
		}
		uint64_t stop = si.start + si.len < end ? si.start + si.len : end;
		if (opt.json) {
			json_obj_begin(NULL);
			json_u64("start", b);
			json_u64("blocks", stop - b);
			json_u64("refcount", si.refcount);
			json_str("owner", owner_name(si.owner, si.refcount));
			json_obj_end();
		} else {
			printf("space: blocks %llu+%llu, refcount %u, %s\n", (unsigned long long)b,
			       (unsigned long long)(stop - b), si.refcount, owner_name(si.owner, si.refcount));
		}
		b = stop;
	}
	if (opt.json)
		json_arr_end();
}

static const char *tree_name(const struct subvol *v, size_t n, uint64_t id)
{
	if (id == PMCFS_ROOTTAB_TREE)
		return "roottab";
	if (id == PMCFS_SPACEMAP_TREE)
		return "spacemap";
	for (size_t i = 0; i < n; i++)
		if (v[i].id == id)
			return v[i].name;
	return "?";
}

static void show_ext(struct pmcfs_fs *fs, const struct subvol *v, size_t nv, const struct hit_ext *h)
{
	struct ns_ctx c = { .fs = fs, .subvol = h->subvol };
	char *paths[PATHS_MAX];
	size_t np = 0, i;
	int err = pmcfs_subvol_open(fs, h->subvol, &c.t);

	if (err)
		corrupt("cannot open subvolume %llu: %s", (unsigned long long)h->subvol, pmcfs_strerror(err));
	else
		np = ino_paths(&c, h->ino, paths, PATHS_MAX);
	if (opt.json) {
		json_obj_begin(NULL);
		json_u64("subvolume", h->subvol);
		json_str("subvolume_name", tree_name(v, nv, h->subvol));
		json_u64("ino", h->ino);
		json_arr_begin("paths");
		for (i = 0; i < np; i++)
			json_str(NULL, paths[i]);
		json_arr_end();
		json_u64("file_offset", h->file_off);
		json_u64("phys", h->phys);
		json_u64("blocks", h->n);
		json_hex("flags", h->flags);
		json_obj_end();
	} else {
		for (i = 0; i < (np ? np : 1); i++)
			printf("file: %s (subvolume %llu \"%s\", inode %llu, file offset %llu, blocks %llu+%llu%s)\n",
			       np ? esc(paths[i]) : "?", (unsigned long long)h->subvol,
			       esc(tree_name(v, nv, h->subvol)), (unsigned long long)h->ino,
			       (unsigned long long)h->file_off, (unsigned long long)h->phys,
			       (unsigned long long)h->n, h->flags & PMCFS_EXTENT_UNWRITTEN ? ", unwritten" : "");
	}
	for (i = 0; i < np; i++)
		free(paths[i]);
}

int cmd_owners(int argc, char **argv)
{
	static const struct walk_ops ops = { owners_item, owners_node };
	struct pmcfs_dev *dev = open_device(PMCFS_DEV_RDONLY);
	struct pmcfs_fs *fs = open_fs(dev);
	const struct pmcfs_commit_info *ci = pmcfs_fs_commit(fs);
	struct owners o = { 0 };
	struct subvol *v;
	size_t nv = read_roottab(fs, &v), i;
	struct pmcfs_root_ref root;

	(void)argc;
	parse_range(argv[0], pmcfs_fs_sb(fs)->nblocks, &o.start, &o.len);
	o.tree = PMCFS_ROOTTAB_TREE;
	walk_tree(fs, o.tree, &ci->roottab, false, &ops, &o);
	o.tree = PMCFS_SPACEMAP_TREE;
	walk_tree(fs, o.tree, &ci->spacemap, false, &ops, &o);
	for (i = 0; i < nv; i++) {
		root = (struct pmcfs_root_ref){ pmcfs_root_item_blkno(&v[i].item),
			pmcfs_root_item_generation(&v[i].item), v[i].item.level };
		o.tree = v[i].id;
		walk_tree(fs, o.tree, &root, false, &ops, &o);
	}
	if (opt.json) {
		json_obj_begin(NULL);
		json_obj_begin("range");
		json_u64("start", o.start);
		json_u64("blocks", o.len);
		json_obj_end();
	} else {
		printf("blocks %llu+%llu:\n", (unsigned long long)o.start, (unsigned long long)o.len);
	}
	show_space(fs, o.start, o.len);
	if (opt.json)
		json_arr_begin("files");
	for (i = 0; i < o.next; i++)
		show_ext(fs, v, nv, &o.ext[i]);
	if (opt.json) {
		json_arr_end();
		json_arr_begin("nodes");
	}
	for (i = 0; i < o.nnode; i++) {
		const struct hit_node *h = &o.node[i];

		if (opt.json) {
			json_obj_begin(NULL);
			json_u64("tree", h->tree);
			json_str("tree_name", tree_name(v, nv, h->tree));
			json_u64("blkno", h->blkno);
			json_u64("level", h->level);
			json_obj_end();
		} else {
			printf("tree block: %llu (tree %llu \"%s\", level %u)\n", (unsigned long long)h->blkno,
			       (unsigned long long)h->tree, esc(tree_name(v, nv, h->tree)), h->level);
		}
	}
	if (opt.json) {
		json_arr_end();
		json_obj_end();
		json_done();
	} else if (!o.next && !o.nnode) {
		printf("no file extent or tree block uses these blocks\n");
	}
	free(o.ext);
	free(o.node);
	free(v);
	pmcfs_fs_close(fs);
	pmcfs_dev_close(dev);
	return 0;
}

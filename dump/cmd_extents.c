// SPDX-License-Identifier: MIT
/*
 * extents PATH: the extent map of a file with the reference count of
 * every physical range (a row per run of equal count: the space map's
 * run may change inside one extent), whether it is shared, and whether
 * it can be mapped with 2 MiB (PMD) pages.
 * cat PATH: the file's bytes on stdout; holes and unwritten extents as
 * zeros.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "pmcfs_ns.h"
#include "dump.h"

#define CAT_CHUNK (3U << 20)	/* a multiple of 3 (base64) and of the block size */

const char *const cmd_extents_usage[] = {
	"extents PATH",
	"a file's extents with refcounts, sharing and 2 MiB-page mappability",
	"One row per extent, split where the reference count of the physical",
	"range changes. refs is the data's count in the space map; tree is the",
	"highest count of the tree blocks leading to the extent's item (above 1",
	"when a snapshot shares it); shared is yes if either is above 1. pmd is yes when the extent can be mapped with 2 MiB pages:",
	"the filesystem's dax_align is at least 2 MiB, the file offset and the",
	"physical address are congruent modulo 2 MiB, and the extent covers at",
	"least one whole aligned 2 MiB unit of the file; the summary counts the",
	"bytes inside such units.",
	NULL
};

const char *const cmd_cat_usage[] = {
	"cat PATH",
	"write a file's contents to stdout (holes as zeros)",
	"With --json, one object with the size and the bytes as base64. A range",
	"that cannot be read is reported, written as zeros, and the exit status is 1.",
	"Into a file or /dev/null, holes are seeked over, so the copy stays sparse.",
	NULL
};

struct ext_run {
	struct ns_ctx c;
	const char *path;
	uint64_t ino, dax_align;
	struct pmcfs_root_ref root;
	uint8_t *blk;
	uint64_t n, rows, mapped, shared, pmd;
};

/* Bytes of e inside whole 2 MiB units that a PMD can map. */
static uint64_t pmd_bytes(const struct ext_run *r, const struct pmcfs_extent_info *e)
{
	const uint64_t H = PMCFS_HUGE_SIZE;
	uint64_t len = e->nblocks * PMCFS_BLOCK_SIZE, phys = e->phys * PMCFS_BLOCK_SIZE;
	uint64_t start = (e->file_off + H - 1) / H * H, end = (e->file_off + len) / H * H;

	if (r->dax_align < H || (e->file_off - phys) % H)
		return 0;
	return end > start ? end - start : 0;
}

/*
 * The highest reference count of the tree blocks from the subvolume's
 * root down to the leaf holding key: above 1, a snapshot shares the
 * extent item (and so the data) without the data's own count changing.
 * -1 if the path cannot be read.
 */
static int64_t tree_refs(struct ext_run *r, const struct pmcfs_ckey *key)
{
	uint64_t blkno = r->root.blkno;
	int64_t max = 0;
	int level = r->root.level;

	for (int depth = 0; depth < 16; depth++) {
		struct pmcfs_verify_err why;
		struct pmcfs_space_info si;
		unsigned i, n;

		if (pmcfs_space_lookup(r->c.fs, blkno, &si) || pmcfs_block_read(r->c.fs, blkno, r->blk) ||
		    pmcfs_node_verify(r->c.fs, r->blk, blkno, 0, level, &why))
			return -1;
		if (si.refcount > max)
			max = si.refcount;
		if (level == 0)
			return max;
		n = pmcfs_node_nritems(r->blk);
		for (i = 1; i < n; i++) {
			struct pmcfs_ckey k;

			pmcfs_node_key(r->blk, i, &k);
			if (pmcfs_key_cmp(&k, key) > 0)
				break;
		}
		if (!n)
			return -1;
		pmcfs_node_child(r->blk, i - 1, &blkno, &(uint64_t){ 0 });
		level--;
	}
	return -1;
}

static void row(struct ext_run *r, const struct pmcfs_extent_info *e, uint64_t blk, uint64_t n,
		int64_t refs, int64_t trefs, bool pmd)
{
	uint64_t off = e->file_off + (blk - e->phys) * PMCFS_BLOCK_SIZE;
	bool unwritten = e->flags & PMCFS_EXTENT_UNWRITTEN, shared = refs > 1 || trefs > 1;

	r->rows++;
	if (shared)
		r->shared += n * PMCFS_BLOCK_SIZE;
	if (opt.json) {
		json_obj_begin(NULL);
		json_u64("file_offset", off);
		json_u64("phys", blk);
		json_u64("blocks", n);
		json_u64("length", n * PMCFS_BLOCK_SIZE);
		json_hex("flags", e->flags);
		json_bool("unwritten", unwritten);
		if (refs < 0)
			json_null("refcount");
		else
			json_u64("refcount", (uint64_t)refs);
		if (trefs < 0)
			json_null("tree_refcount");
		else
			json_u64("tree_refcount", (uint64_t)trefs);
		json_bool("shared", shared);
		json_bool("pmd_mappable", pmd);
		json_obj_end();
		return;
	}
	printf("%14llu %12llu %10llu ", (unsigned long long)off, (unsigned long long)blk,
	       (unsigned long long)n);
	if (refs < 0)
		printf("%6s", "?");
	else
		printf("%6lld", (long long)refs);
	if (trefs < 0)
		printf(" %5s", "?");
	else
		printf(" %5lld", (long long)trefs);
	printf(" %-6s %-3s %s\n", shared ? "yes" : "no", pmd ? "yes" : "no", unwritten ? "unwritten" : "-");
}

static int extent_cb(void *ctx, const struct pmcfs_extent_info *e)
{
	struct ext_run *r = ctx;
	uint64_t blk = e->phys, end = e->phys + e->nblocks, pb = pmd_bytes(r, e);
	struct pmcfs_ckey key = { r->ino, PMCFS_KEY_EXTENT, e->file_off };
	int64_t trefs = tree_refs(r, &key);

	r->n++;
	r->mapped += e->nblocks * PMCFS_BLOCK_SIZE;
	r->pmd += pb;
	if (trefs < 0)
		corrupt("%s: extent at file offset %llu: cannot read the tree path to its item",
			esc(r->path), (unsigned long long)e->file_off);
	while (blk < end) {
		struct pmcfs_space_info si;
		int err = pmcfs_space_lookup(r->c.fs, blk, &si);

		if (err || si.start > blk || si.start + si.len <= blk) {
			corrupt("%s: extent at file offset %llu: no space-map run for block %llu: %s",
				esc(r->path), (unsigned long long)e->file_off, (unsigned long long)blk,
				pmcfs_strerror(err ? err : -PMCFS_ECORRUPT));
			row(r, e, blk, end - blk, -1, trefs, pb > 0);
			break;
		}
		uint64_t stop = si.start + si.len < end ? si.start + si.len : end;
		if (si.refcount == 0 || si.owner != PMCFS_OWNER_FS)
			corrupt("%s: blocks %llu+%llu are mapped but %s in the space map", esc(r->path),
				(unsigned long long)blk, (unsigned long long)(stop - blk),
				si.refcount ? "not owned by the filesystem" : "free");
		row(r, e, blk, stop - blk, si.refcount, trefs, pb > 0);
		blk = stop;
	}
	return 0;
}

int cmd_extents(int argc, char **argv)
{
	struct ext_run r = { .path = argv[0] };
	struct pmcfs_stat st;
	uint64_t ino;
	int err;

	(void)argc;
	ns_open(&r.c);
	r.dax_align = pmcfs_fs_sb(r.c.fs)->dax_align;
	ino = r.ino = ns_resolve(&r.c, argv[0]);
	pmcfs_tree_root(r.c.t, &r.root);
	r.blk = xcalloc(1, PMCFS_BLOCK_SIZE);
	if ((err = pmcfs_ns_stat(r.c.fs, r.c.t, ino, &st)))
		die(EXIT_CORRUPT, "cannot stat %s: %s", esc(argv[0]), pmcfs_strerror(err));
	if (opt.json) {
		json_obj_begin(NULL);
		json_str("path", argv[0]);
		json_obj_begin("subvolume");
		json_u64("id", r.c.subvol);
		json_str("name", r.c.subvol_name);
		json_obj_end();
		json_u64("ino", ino);
		json_u64("size", st.size);
		json_u64("dax_align", r.dax_align);
		json_arr_begin("extents");
	} else {
		printf("%s: inode %llu, size %llu, subvolume %llu (%s), dax_align %llu\n", esc(argv[0]),
		       (unsigned long long)ino, (unsigned long long)st.size, (unsigned long long)r.c.subvol,
		       esc(r.c.subvol_name), (unsigned long long)r.dax_align);
		printf("%14s %12s %10s %6s %5s %-6s %-3s %s\n", "file_offset", "phys_block", "blocks",
		       "refs", "tree", "shared", "pmd", "flags");
	}
	err = pmcfs_ns_extents(r.c.fs, r.c.t, ino, extent_cb, &r);
	if (err)
		corrupt("cannot read the extents of %s: %s", esc(argv[0]), pmcfs_strerror(err));
	if (opt.json) {
		json_arr_end();
		json_obj_begin("summary");
		json_u64("extents", r.n);
		json_u64("rows", r.rows);
		json_u64("bytes_mapped", r.mapped);
		json_u64("bytes_shared", r.shared);
		json_u64("bytes_pmd_mappable", r.pmd);
		json_obj_end();
		json_obj_end();
		json_done();
	} else {
		printf("summary: %llu extents, %llu bytes mapped, %llu bytes shared, %llu bytes PMD-mappable\n",
		       (unsigned long long)r.n, (unsigned long long)r.mapped,
		       (unsigned long long)r.shared, (unsigned long long)r.pmd);
	}
	free(r.blk);
	ns_close(&r.c);
	return 0;
}

/* Plain output to a file or /dev/null (not appending): holes are seeked over, not written. */
static bool output_sparse(void)
{
	struct stat sb;
	int fl = fcntl(STDOUT_FILENO, F_GETFL);

	if (opt.json || fl < 0 || (fl & O_APPEND) || fstat(STDOUT_FILENO, &sb) ||
	    !(S_ISREG(sb.st_mode) || S_ISCHR(sb.st_mode)))
		return false;
	return lseek(STDOUT_FILENO, 0, SEEK_CUR) >= 0;	/* a tty is a character device too */
}

static void cat_out(const void *buf, size_t len)
{
	if (opt.json)
		json_base64_chunk(buf, len);
	else if (fwrite(buf, 1, len, stdout) != len)
		die(EXIT_CORRUPT, "cannot write the output: %s", strerror(errno));
}

/* [off, end) of a hole or an unwritten extent: zeros, or a seek. */
static void cat_hole(uint64_t off, uint64_t end, bool sparse, uint8_t *buf)
{
	if (sparse && end > off) {
		errno = 0;
		if (fflush(stdout) || end - off > INT64_MAX ||
		    lseek(STDOUT_FILENO, (off_t)(end - off), SEEK_CUR) < 0)
			die(EXIT_CORRUPT, "cannot write the output: %s", strerror(errno ? errno : EFBIG));
		return;
	}
	memset(buf, 0, CAT_CHUNK);
	for (; off < end; off += CAT_CHUNK)
		cat_out(buf, end - off < CAT_CHUNK ? (size_t)(end - off) : CAT_CHUNK);
}

/* [off, end) of file data, chunk by chunk; unreadable blocks become zeros. */
static void cat_data(struct ns_ctx *c, uint64_t ino, const char *path, uint64_t off, uint64_t end,
		     uint8_t *buf)
{
	for (; off < end; off += CAT_CHUNK) {
		size_t want = end - off < CAT_CHUNK ? (size_t)(end - off) : CAT_CHUNK, got = 0;
		int err = pmcfs_ns_read(c->fs, c->t, ino, off, buf, want, &got);

		/* Read a failed chunk again block by block: one bad block (a
		 * media error) then costs 4 KiB of zeros, not the whole chunk. */
		for (size_t b = 0; (err || got != want) && b < want; b += PMCFS_BLOCK_SIZE) {
			size_t n = want - b < PMCFS_BLOCK_SIZE ? want - b : PMCFS_BLOCK_SIZE, g = 0;
			int e = pmcfs_ns_read(c->fs, c->t, ino, off + b, buf + b, n, &g);
			if (e || g != n) {
				corrupt("cannot read %s at %llu+%zu: %s; written as zeros", esc(path),
					(unsigned long long)(off + b), n, pmcfs_strerror(e ? e : -EIO));
				memset(buf + b, 0, n);
			}
		}
		cat_out(buf, want);
	}
}

/* Walks the extent list, so a sparse file costs its data, not its size. */
int cmd_cat(int argc, char **argv)
{
	struct pmcfs_stat st;
	struct ext_list l = { NULL, 0 };
	struct ns_ctx c;
	uint64_t ino, off = 0;
	uint8_t *buf;
	bool sparse;
	int err;

	(void)argc;
	ns_open(&c);
	ino = ns_resolve(&c, argv[0]);
	if ((err = pmcfs_ns_stat(c.fs, c.t, ino, &st)))
		die(EXIT_CORRUPT, "cannot stat %s: %s", esc(argv[0]), pmcfs_strerror(err));
	if (!S_ISREG(st.mode))
		die(EXIT_CORRUPT, "cannot cat %s: not a regular file (a %s)", esc(argv[0]), ftype_name(st.mode));
	/* A damaged extent map still yields the extents before the damage. */
	if ((err = ext_list_read(&c, ino, &l)))
		corrupt("cannot read the extents of %s: %s; the rest is written as zeros",
			esc(argv[0]), pmcfs_strerror(err));
	buf = xcalloc(1, CAT_CHUNK);
	sparse = output_sparse();
	if (opt.json) {
		json_obj_begin(NULL);
		json_str("path", argv[0]);
		json_u64("size", st.size);
		json_base64_begin("data_base64");
	}
	for (size_t i = 0; i <= l.n && off < st.size; i++) {
		uint64_t start = st.size, end = st.size;

		if (i < l.n) {
			if (l.e[i].flags & PMCFS_EXTENT_UNWRITTEN)
				continue;
			start = l.e[i].file_off;
			end = l.e[i].nblocks > (UINT64_MAX - start) / PMCFS_BLOCK_SIZE ? UINT64_MAX :
			      start + l.e[i].nblocks * PMCFS_BLOCK_SIZE;
		}
		start = start < off ? off : start > st.size ? st.size : start;
		end = end > st.size ? st.size : end;
		cat_hole(off, start, sparse, buf);
		off = start;
		if (end > off) {
			cat_data(&c, ino, argv[0], off, end, buf);
			off = end;
		}
	}
	if (opt.json) {
		json_base64_end();
		json_obj_end();
		json_done();
	}
	/* A file that ends in a hole: the seek alone does not set the size. */
	if (sparse && !fflush(stdout)) {
		struct stat sb;
		off_t pos = lseek(STDOUT_FILENO, 0, SEEK_CUR);
		if (!fstat(STDOUT_FILENO, &sb) && S_ISREG(sb.st_mode) && pos > sb.st_size &&
		    ftruncate(STDOUT_FILENO, pos) < 0)
			die(EXIT_CORRUPT, "cannot write the output: %s", strerror(errno));
	}
	free(buf);
	free(l.e);
	ns_close(&c);
	return 0;
}

// SPDX-License-Identifier: MIT
/*
 * extents: each file's extent map (FS_IOC_FIEMAP) with its shared
 * extents, and with --owners the shared physical ranges found across all
 * given files, each with the files and offsets that map it.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <linux/fiemap.h>

#include "reflink_priv.h"

const char *const cmd_extents_usage[] = {
	"extents [options] PATH...",
	"",
	"Print each file's extents (logical and physical offset, length,",
	"flags) as FS_IOC_FIEMAP reports them, marking shared ones, with the",
	"shared bytes per file and in total. Directories need -r; symbolic",
	"links inside them are not followed.",
	NULL
};

const struct rl_option cmd_extents_options[] = {
	{ "recursive", 'r', 0, NULL, "descend into directories" },
	{ "owners", OPT_OWNERS, 0, NULL, "group shared extents by physical range, with their files" },
	RL_OPT_JSON_ENTRY,
	RL_OPT_HELP_ENTRY,
	RL_OPT_END
};

static const struct {
	uint32_t flag;
	const char *name;
} flag_names[] = {
	{ FIEMAP_EXTENT_SHARED, "shared" },
	{ FIEMAP_EXTENT_UNWRITTEN, "unwritten" },
	{ FIEMAP_EXTENT_DELALLOC, "delalloc" },
	{ FIEMAP_EXTENT_UNKNOWN, "unknown" },
	{ FIEMAP_EXTENT_ENCODED, "encoded" },
	{ FIEMAP_EXTENT_DATA_ENCRYPTED, "encrypted" },
	{ FIEMAP_EXTENT_NOT_ALIGNED, "not_aligned" },
	{ FIEMAP_EXTENT_DATA_INLINE, "inline" },
	{ FIEMAP_EXTENT_DATA_TAIL, "tail" },
	{ FIEMAP_EXTENT_MERGED, "merged" },
	{ FIEMAP_EXTENT_LAST, "last" },
};
#define NFLAGS (sizeof(flag_names) / sizeof(flag_names[0]))

struct owned {			/* one shared extent of one file */
	uint64_t physical, length, logical;
	size_t file;
};

struct ext_ctx {
	struct rl_json *js;
	bool owners;
	char **paths;		/* files in visit order, for --owners */
	size_t npaths, cappaths;
	struct owned *own;
	size_t nown, capown;
	uint64_t files, extents, shared, failed;
};

static void flags_text(uint32_t flags, char *buf, size_t len)
{
	size_t i, o = 0;

	buf[0] = 0;
	for (i = 0; i < NFLAGS; i++)
		if ((flags & flag_names[i].flag) && o < len)
			o += snprintf(buf + o, len - o, "%s%s", o ? "," : "", flag_names[i].name);
	if (!o)
		snprintf(buf, len, "-");
}

static int one_file(const char *path, const struct stat *st, void *arg)
{
	struct ext_ctx *x = arg;
	struct rl_extent *ext = NULL;
	struct rl_file *f = NULL;
	uint64_t shared = 0;
	size_t n = 0, i, j;
	char msg[256];
	int err;

	err = rl_ops->open(path, RL_OPEN_READ, &f);
	if (!err)
		err = rl_ops->fiemap(f, 0, UINT64_MAX, &ext, &n);
	rl_ops->close(f);
	if (err) {
		error("extents %s: %s", path, rl_errmsg(err, err == -EOPNOTSUPP ? "fiemap" : NULL,
							  msg, sizeof(msg)));
		x->failed++;
		return -1;
	}
	if (x->npaths == x->cappaths) {
		x->cappaths = x->cappaths ? 2 * x->cappaths : 16;
		x->paths = xreallocarray(x->paths, x->cappaths, sizeof(*x->paths));
	}
	x->paths[x->npaths++] = xstrdup(path);
	for (i = 0; i < n; i++) {
		if (!(ext[i].flags & FIEMAP_EXTENT_SHARED))
			continue;
		shared += ext[i].length;
		if (x->nown == x->capown) {
			x->capown = x->capown ? 2 * x->capown : 64;
			x->own = xreallocarray(x->own, x->capown, sizeof(*x->own));
		}
		x->own[x->nown++] = (struct owned){ ext[i].physical, ext[i].length,
						    ext[i].logical, x->npaths - 1 };
	}
	x->files++;
	x->extents += n;
	x->shared += shared;
	if (x->js) {
		rl_json_obj_begin(x->js, NULL);
		rl_json_str(x->js, "path", path);
		rl_json_u64(x->js, "size", st->st_size);
		rl_json_u64(x->js, "shared_bytes", shared);
		rl_json_arr_begin(x->js, "extents");
		for (i = 0; i < n; i++) {
			rl_json_obj_begin(x->js, NULL);
			rl_json_u64(x->js, "logical", ext[i].logical);
			rl_json_u64(x->js, "physical", ext[i].physical);
			rl_json_u64(x->js, "length", ext[i].length);
			rl_json_bool(x->js, "shared", ext[i].flags & FIEMAP_EXTENT_SHARED);
			if (rl_image_mode())
				rl_json_u64(x->js, "refcount", ext[i].refcount);
			rl_json_arr_begin(x->js, "flags");
			for (j = 0; j < NFLAGS; j++)
				if (ext[i].flags & flag_names[j].flag)
					rl_json_str(x->js, NULL, flag_names[j].name);
			rl_json_arr_end(x->js);
			rl_json_obj_end(x->js);
		}
		rl_json_arr_end(x->js);
		rl_json_obj_end(x->js);
	} else {
		printf("%s: %zu extents, %llu bytes, %llu bytes shared\n", path, n,
		       (unsigned long long)st->st_size, (unsigned long long)shared);
		/* Image mode knows each range's reference count: a column more. */
		if (n && rl_image_mode())
			printf("  %12s %14s %12s %6s  %s\n", "logical", "physical", "length",
			       "refs", "flags");
		else if (n)
			printf("  %12s %14s %12s  %s\n", "logical", "physical", "length", "flags");
		for (i = 0; i < n; i++) {
			char fl[128], refs[16] = "";

			flags_text(ext[i].flags, fl, sizeof(fl));
			if (rl_image_mode())
				snprintf(refs, sizeof(refs), " %6u", ext[i].refcount);
			printf("  %12llu %14llu %12llu%s  %s\n", (unsigned long long)ext[i].logical,
			       (unsigned long long)ext[i].physical,
			       (unsigned long long)ext[i].length, refs, fl);
		}
	}
	free(ext);
	return 0;
}

static int by_physical(const void *a, const void *b)
{
	const struct owned *x = a, *y = b;

	if (x->physical != y->physical)
		return x->physical < y->physical ? -1 : 1;
	if (x->file != y->file)
		return x->file < y->file ? -1 : 1;
	return x->logical < y->logical ? -1 : x->logical > y->logical;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static void emit_group(struct ext_ctx *x, uint64_t start, uint64_t end,
		       const struct owned *o, size_t n)
{
	size_t i;

	if (x->js) {
		rl_json_obj_begin(x->js, NULL);
		rl_json_u64(x->js, "physical", start);
		rl_json_u64(x->js, "length", end - start);
		rl_json_arr_begin(x->js, "owners");
		for (i = 0; i < n; i++) {
			rl_json_obj_begin(x->js, NULL);
			rl_json_str(x->js, "path", x->paths[o[i].file]);
			rl_json_u64(x->js, "offset", o[i].logical);
			rl_json_obj_end(x->js);
		}
		rl_json_arr_end(x->js);
		rl_json_obj_end(x->js);
		return;
	}
	printf("physical [%llu, %llu), %llu bytes, %zu owner%s%s\n",
	       (unsigned long long)start, (unsigned long long)end,
	       (unsigned long long)(end - start), n, n == 1 ? "" : "s",
	       n == 1 ? " here (the others are outside the given paths)" : "");
	for (i = 0; i < n; i++)
		printf("  %s at %llu\n", x->paths[o[i].file], (unsigned long long)o[i].logical);
}

/*
 * Cut the shared extents at every boundary any of them has, so each
 * piece has one set of owners; then join neighbouring pieces whose
 * owners continue contiguously.
 */
static void print_owners(struct ext_ctx *x)
{
	struct owned *cur = xcalloc(x->nown ? x->nown : 1, sizeof(*cur));
	struct owned *piece = xcalloc(x->nown ? x->nown : 1, sizeof(*piece));
	uint64_t *b = xcalloc(2 * x->nown + 1, sizeof(*b));
	uint64_t gstart = 0, gend = 0;
	size_t i = 0, j, k, nb, ncur = 0, np;

	if (x->nown > 1)
		qsort(x->own, x->nown, sizeof(*x->own), by_physical);
	while (i < x->nown) {
		uint64_t cend = x->own[i].physical + x->own[i].length;

		for (j = i + 1; j < x->nown && x->own[j].physical < cend; j++)
			if (x->own[j].physical + x->own[j].length > cend)
				cend = x->own[j].physical + x->own[j].length;
		for (nb = 0, k = i; k < j; k++) {
			b[nb++] = x->own[k].physical;
			b[nb++] = x->own[k].physical + x->own[k].length;
		}
		qsort(b, nb, sizeof(*b), cmp_u64);
		for (k = 0; k + 1 < nb; k++) {
			size_t m;
			bool join;

			if (b[k] == b[k + 1])
				continue;
			for (np = 0, m = i; m < j; m++)
				if (x->own[m].physical <= b[k] &&
				    b[k] < x->own[m].physical + x->own[m].length) {
					piece[np] = x->own[m];
					piece[np].logical += b[k] - x->own[m].physical;
					np++;
				}
			join = ncur && np == ncur && gend == b[k];
			for (m = 0; join && m < np; m++)
				join = piece[m].file == cur[m].file &&
				       piece[m].logical == cur[m].logical + (gend - gstart);
			if (join) {
				gend = b[k + 1];
				continue;
			}
			if (ncur)
				emit_group(x, gstart, gend, cur, ncur);
			memcpy(cur, piece, np * sizeof(*cur));
			ncur = np;
			gstart = b[k];
			gend = b[k + 1];
		}
		i = j;
	}
	if (ncur)
		emit_group(x, gstart, gend, cur, ncur);
	free(cur);
	free(piece);
	free(b);
}

int cmd_extents(const struct rl_cmd *cmd, int argc, char **argv)
{
	struct ext_ctx x = { 0 };
	struct rl_walk w = { .op = "extents", .follow_args = true, .fn = one_file, .arg = &x };
	size_t i;
	int c;

	while ((c = rl_getopt(cmd, argc, argv)) != -1) {
		switch (c) {
		case 'r': w.recursive = true; break;
		case OPT_OWNERS: x.owners = true; break;
		case OPT_JSON: if (!x.js) x.js = rl_json_new(stdout); break;
		}
	}
	if (optind >= argc)
		rl_usage_error(cmd, "extents: need at least one PATH");
	if (rl_backend_begin(false)) {
		free(x.js);
		return RL_EXIT_FAIL;
	}
	if (x.js) {
		rl_json_obj_begin(x.js, NULL);
		rl_json_str(x.js, "command", "extents");
		rl_json_arr_begin(x.js, "files");
	}
	rl_walk(&w, argv + optind, argc - optind);
	if (x.js) {
		rl_json_arr_end(x.js);
		rl_json_u64(x.js, "total_files", x.files);
		rl_json_u64(x.js, "total_extents", x.extents);
		rl_json_u64(x.js, "total_shared_bytes", x.shared);
		rl_json_u64(x.js, "errors", w.errors + x.failed);
		if (x.owners) {
			rl_json_arr_begin(x.js, "owners");
			print_owners(&x);
			rl_json_arr_end(x.js);
		}
		rl_json_obj_end(x.js);
		rl_json_free(x.js);
	} else {
		printf("total: %llu files, %llu extents, %llu bytes shared\n",
		       (unsigned long long)x.files, (unsigned long long)x.extents,
		       (unsigned long long)x.shared);
		if (x.owners) {
			printf("\nshared extents by physical range:\n");
			print_owners(&x);
		}
	}
	for (i = 0; i < x.npaths; i++)
		free(x.paths[i]);
	free(x.paths);
	free(x.own);
	return w.errors || x.failed ? RL_EXIT_FAIL : RL_EXIT_OK;
}

// SPDX-License-Identifier: MIT
/* scan: find duplicate data across files and, with -d, dedupe it. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "scan_priv.h"

const char *const cmd_scan_usage[] = {
	"scan [options] PATH...",
	"",
	"Find data that is duplicated across (or within) the regular files",
	"under PATH: hash aligned blocks with XXH3, group equal hashes, skip",
	"blocks that already share one physical extent, and coalesce",
	"neighbouring blocks into long ranges. Without -d only report what",
	"deduping would save; with -d share the ranges through FIDEDUPERANGE,",
	"which compares the bytes first, so data never changes. Symbolic links",
	"are not followed unless --follow, and never out of the given paths.",
	NULL
};

const struct rl_option cmd_scan_options[] = {
	{ "recursive", 'r', 0, NULL, "descend into directories" },
	{ "dedupe", 'd', 0, NULL, "dedupe what was found (default: only report)" },
	{ "dry-run", 'n', 0, NULL, "only report, even with -d" },
	{ "min-size", OPT_MIN_SIZE, 1, "N", "skip files smaller than N bytes (default 4K)" },
	{ "block-size", OPT_BLOCK_SIZE, 1, "N", "hash and dedupe in N-byte blocks (default 128K)" },
	{ "hashfile", OPT_HASHFILE, 1, "FILE", "keep block hashes in FILE between runs" },
	{ "threads", OPT_THREADS, 1, "N", "hash with N threads (default: CPUs, 2 to 16)" },
	{ "follow", OPT_FOLLOW, 0, NULL, "follow symbolic links that stay inside the given paths" },
	{ "verbose", 'v', 0, NULL, "name the files read through the page cache because O_DIRECT was refused" },
	RL_OPT_JSON_ENTRY,
	RL_OPT_HELP_ENTRY,
	RL_OPT_END
};

static int add_file(const char *path, const struct stat *st, void *arg)
{
	struct scan *s = arg;
	struct scan_file *f;

	if ((uint64_t)st->st_size < s->min_size || st->st_size == 0) {
		s->skipped_small++;
		return 0;
	}
	if (s->nfiles == s->capfiles) {
		s->capfiles = s->capfiles ? 2 * s->capfiles : 256;
		s->files = xreallocarray(s->files, s->capfiles, sizeof(*s->files));
	}
	f = &s->files[s->nfiles++];
	*f = (struct scan_file){
		.path = xstrdup(path), .dev = st->st_dev, .ino = st->st_ino,
		.size = st->st_size, .mtime = st->st_mtim,
		.nblocks = (uint32_t)((st->st_size + s->block_size - 1) / s->block_size),
	};
	return 0;
}

struct ident {
	dev_t dev;
	ino_t ino;
	size_t idx;
};

static int cmp_ident(const void *a, const void *b)
{
	const struct ident *x = a, *y = b;

	if (x->dev != y->dev)
		return x->dev < y->dev ? -1 : 1;
	if (x->ino != y->ino)
		return x->ino < y->ino ? -1 : 1;
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

/* Hard links and paths given twice: one inode is scanned once. */
static void drop_same_inode(struct scan *s)
{
	struct ident *id = xcalloc(s->nfiles, sizeof(*id));
	bool *dup = xcalloc(s->nfiles, sizeof(*dup));
	size_t i, n = 0;

	for (i = 0; i < s->nfiles; i++)
		id[i] = (struct ident){ s->files[i].dev, s->files[i].ino, i };
	qsort(id, s->nfiles, sizeof(*id), cmp_ident);
	for (i = 1; i < s->nfiles; i++)
		if (id[i].dev == id[i - 1].dev && id[i].ino == id[i - 1].ino)
			dup[id[i].idx] = true;
	for (i = 0; i < s->nfiles; i++) {
		if (dup[i]) {
			free(s->files[i].path);
			continue;
		}
		s->files[n++] = s->files[i];
	}
	s->nfiles = n;
	for (i = 0; i < n; i++)
		s->bytes_scanned += s->files[i].size;
	free(id);
	free(dup);
}

static void report(struct scan *s, struct rl_walk *w, double secs)
{
	char a[32];

	if (s->js) {
		struct rl_json *js = s->js;

		rl_json_obj_begin(js, NULL);
		rl_json_str(js, "command", "scan");
		rl_json_bool(js, "dedupe", s->dedupe);
		rl_json_u64(js, "block_size", s->block_size);
		rl_json_u64(js, "files", s->nfiles);
		rl_json_u64(js, "bytes_scanned", s->bytes_scanned);
		rl_json_u64(js, "bytes_read", atomic_load(&s->bytes_read));
		rl_json_u64(js, "bytes_read_direct", atomic_load(&s->bytes_read_direct));
		rl_json_u64(js, "files_from_hashfile", s->files_cached);
		rl_json_u64(js, "duplicate_bytes", s->dup_bytes);
		rl_json_u64(js, "already_shared_bytes", s->shared_bytes);
		rl_json_u64(js, "ranges", s->ranges);
		rl_json_u64(js, "bytes_deduped", s->deduped);
		rl_json_u64(js, "differs", s->differs);
		rl_json_u64(js, "changed", s->changed);
		rl_json_u64(js, "errors", s->errors + w->errors);
		rl_json_u64(js, "skipped_symlinks", w->skipped_links);
		rl_json_u64(js, "skipped_other", w->skipped_other);
		rl_json_u64(js, "skipped_small", s->skipped_small);
		rl_json_double(js, "seconds", secs);
		rl_json_double(js, "hash_seconds", s->hash_secs);
		rl_json_double(js, "dedupe_seconds", s->dedupe_secs);
		rl_json_obj_end(js);
		return;
	}
	printf("bytes scanned:   %llu (%s) in %zu files, %llu from the hashfile\n",
	       (unsigned long long)s->bytes_scanned, human_size(s->bytes_scanned, a, sizeof(a)),
	       s->nfiles, (unsigned long long)s->files_cached);
	printf("duplicate bytes: %llu (%s) in %llu ranges\n", (unsigned long long)s->dup_bytes,
	       human_size(s->dup_bytes, a, sizeof(a)), (unsigned long long)s->ranges);
	printf("already shared:  %llu (%s)\n", (unsigned long long)s->shared_bytes,
	       human_size(s->shared_bytes, a, sizeof(a)));
	if (s->dedupe)
		printf("bytes deduped:   %llu (%s)\n", (unsigned long long)s->deduped,
		       human_size(s->deduped, a, sizeof(a)));
	else
		printf("bytes deduped:   0 (report only; -d dedupes)\n");
	if (s->differs || s->changed || s->errors || w->errors)
		printf("not deduped:     %llu ranges differ, %llu files changed, %llu errors\n",
		       (unsigned long long)s->differs, (unsigned long long)s->changed,
		       (unsigned long long)(s->errors + w->errors));
	if (w->skipped_links || w->skipped_other)
		printf("skipped:         %lu symbolic links, %lu special files\n",
		       w->skipped_links, w->skipped_other);
	printf("time:            %.3f s\n", secs);
}

static uint64_t size_opt(const struct rl_cmd *cmd, const char *name, const char *arg)
{
	uint64_t v;

	if (parse_size(arg, &v))
		rl_usage_error(cmd, "scan: bad --%s '%s'", name, arg);
	return v;
}

int cmd_scan(const struct rl_cmd *cmd, int argc, char **argv)
{
	struct scan s = { .block_size = 128 << 10, .min_size = 4096 };
	struct rl_walk w = { .op = "scan", .fn = add_file, .arg = &s };
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	uint64_t v;
	double t0 = now_seconds(), t1, t2;
	const char *env;
	bool dry_run = false;
	size_t i;
	int c, ret;

	/* At least 2 even on one CPU: with O_DIRECT nothing reads ahead, so
	 * a second request in flight is what keeps the device busy. */
	s.threads = cpus < 2 ? 2 : cpus > 16 ? 16 : (unsigned int)cpus;
	/* Documented in pmcfs-reflink(8): the page cache for every file. */
	env = getenv("PMCFS_REFLINK_NO_DIRECT");
	s.direct = !env || !*env || !strcmp(env, "0");
	while ((c = rl_getopt(cmd, argc, argv)) != -1) {
		switch (c) {
		case 'r': s.recursive = true; break;
		case 'd': s.dedupe = true; break;
		case 'n': dry_run = true; break;
		case OPT_MIN_SIZE: s.min_size = size_opt(cmd, "min-size", optarg); break;
		case OPT_BLOCK_SIZE:
			s.block_size = size_opt(cmd, "block-size", optarg);
			/* Whole filesystem blocks, or the kernel refuses the range. */
			if (s.block_size < 4096 || (s.block_size & (s.block_size - 1)) ||
			    s.block_size > (1ULL << 30))
				rl_usage_error(cmd, "scan: --block-size must be a power of two from 4K to 1G");
			break;
		case OPT_HASHFILE: s.hashfile = optarg; break;
		case OPT_THREADS:
			v = size_opt(cmd, "threads", optarg);
			if (v < 1 || v > 256)
				rl_usage_error(cmd, "scan: --threads must be 1 to 256");
			s.threads = (unsigned int)v;
			break;
		case OPT_FOLLOW: s.follow = true; break;
		case 'v': s.verbose = true; break;
		case OPT_JSON: if (!s.js) s.js = rl_json_new(stdout); break;
		}
	}
	if (optind >= argc)
		rl_usage_error(cmd, "scan: need at least one PATH");
	if (dry_run)
		s.dedupe = false;
	if (rl_image_mode() && s.follow)
		rl_usage_error(cmd, "scan: --follow: symbolic links inside an image are never followed");
	for (i = optind; rl_image_mode() && s.dedupe && i < (size_t)argc; i++)
		if (rl_image_path_readonly(argv[i]))
			rl_usage_error(cmd, "scan -d: %s is in a snapshot, which is read-only "
				       "(scan it without -d)", argv[i]);
	if (rl_backend_begin(s.dedupe)) {
		free(s.js);
		return RL_EXIT_FAIL;
	}
	w.recursive = s.recursive;
	w.follow = w.follow_args = s.follow;
	s.progress = !s.js && is_tty_stderr();

	rl_walk(&w, argv + optind, argc - optind);
	drop_same_inode(&s);
	t1 = now_seconds();
	scan_hash_all(&s);
	if (s.hashfile && hashfile_save(s.hashfile, &s))
		s.errors++;
	t2 = now_seconds();
	s.hash_secs = t2 - t1;
	scan_plan_and_dedupe(&s);
	s.dedupe_secs = now_seconds() - t2;
	report(&s, &w, now_seconds() - t0);

	ret = s.errors || w.errors || s.differs || s.changed ? RL_EXIT_FAIL : RL_EXIT_OK;
	for (i = 0; i < s.nfiles; i++) {
		free(s.files[i].path);
		free(s.files[i].hash);
		free(s.files[i].phys);
	}
	free(s.files);
	rl_json_free(s.js);
	return ret;
}

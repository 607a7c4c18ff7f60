/* SPDX-License-Identifier: MIT */
/*
 * pmcfs-reflink internals: the command table, option tables, the backend
 * ops (kernel ioctls today, an image backend through libpmcfs later), the
 * shared dedupe driver, a JSON writer and small utilities.
 */
#ifndef REFLINK_PRIV_H
#define REFLINK_PRIV_H

#include <getopt.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/stat.h>

#define PROG "pmcfs-reflink"

struct rl_json;

/* Exit codes (documented in pmcfs-reflink(8)). */
enum {
	RL_EXIT_OK = 0,
	RL_EXIT_FAIL = 1,	/* some range failed or differed */
	RL_EXIT_USAGE = 2,
};

/* ---- options: one table per command drives getopt_long and --help ---- */

struct rl_option {
	const char *long_name;
	int val;		/* short option letter, or an id >= 256 */
	int has_arg;		/* no_argument / required_argument */
	const char *argname;	/* shown in --help, e.g. "N" */
	const char *help;
};
#define RL_OPT_END { NULL, 0, 0, NULL, NULL }
/* Ids for long-only options. */
enum {
	OPT_JSON = 256, OPT_OWNERS, OPT_MIN_SIZE, OPT_HASHFILE, OPT_THREADS,
	OPT_BLOCK_SIZE, OPT_FOLLOW, OPT_HELP, OPT_DRY_RUN,
};
#define RL_OPT_JSON_ENTRY { "json", OPT_JSON, 0, NULL, "machine-readable output on stdout" }
#define RL_OPT_HELP_ENTRY { "help", OPT_HELP, 0, NULL, "show this help and exit" }

struct rl_cmd {
	const char *name;
	int (*fn)(const struct rl_cmd *cmd, int argc, char **argv);
	const char *const *usage;	/* synopsis lines, "", description lines */
	const struct rl_option *options;
};

/*
 * Parse the options of cmd; returns the option's val, -1 when done.
 * --help prints the usage and exits 0; a bad option prints the usage to
 * stderr and exits 2.
 */
int rl_getopt(const struct rl_cmd *cmd, int argc, char **argv);
void rl_usage(const struct rl_cmd *cmd, FILE *f);
void __attribute__((noreturn)) rl_usage_error(const struct rl_cmd *cmd, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

int cmd_clone(const struct rl_cmd *cmd, int argc, char **argv);
int cmd_clone_range(const struct rl_cmd *cmd, int argc, char **argv);
int cmd_dedupe(const struct rl_cmd *cmd, int argc, char **argv);
int cmd_extents(const struct rl_cmd *cmd, int argc, char **argv);
int cmd_scan(const struct rl_cmd *cmd, int argc, char **argv);
int cmd_snapshot(const struct rl_cmd *cmd, int argc, char **argv);
extern const char *const cmd_clone_usage[], *const cmd_clone_range_usage[],
	*const cmd_dedupe_usage[], *const cmd_extents_usage[], *const cmd_scan_usage[],
	*const cmd_snapshot_usage[];
extern const struct rl_option cmd_clone_options[], cmd_clone_range_options[],
	cmd_dedupe_options[], cmd_extents_options[], cmd_scan_options[],
	cmd_snapshot_options[];

/* Clone a tree as cp -a --reflink=always (cmd_clone_tree.c). */
int rl_clone_tree(const char *src, const char *dst, struct rl_json *js);

/* ---- backend ops ---------------------------------------------------------- */

enum rl_open_how {
	RL_OPEN_READ,		/* source, or a file we only inspect */
	RL_OPEN_WRITE,		/* clone destination: must be writable */
	RL_OPEN_CREATE,		/* clone destination, created if missing */
	RL_OPEN_DEDUPE_DST,	/* read-only first; the driver reopens rw on EPERM */
	RL_OPEN_HOW_MASK = 0xff,
	RL_OPEN_NOFOLLOW = 0x100,	/* or'ed in: refuse a symlink */
	RL_OPEN_DIRECT = 0x200,		/* or'ed in with RL_OPEN_READ: see rl_file.direct */
};

/*
 * Reads of a file opened RL_OPEN_DIRECT: the buffer aligned to a page,
 * offsets and lengths to the largest logical block size Linux allows.
 */
#define RL_DIRECT_MEM_ALIGN 4096
#define RL_DIRECT_ALIGN 65536

struct rl_file {
	char *path;		/* for messages */
	int fd;			/* kernel backend */
	bool writable;
	/*
	 * RL_OPEN_DIRECT: reads bypass the page cache (O_DIRECT). The buffer
	 * must then be RL_DIRECT_MEM_ALIGN-aligned and each read's offset
	 * and length multiples of RL_DIRECT_ALIGN; a read may run past EOF
	 * and comes back short there. When the filesystem refuses O_DIRECT
	 * (at open or at a read), direct is cleared, direct_err says why, and
	 * reads use the page cache.
	 */
	bool direct;
	int direct_err;
	struct stat st;
	void *priv;		/* other backends */
};

struct rl_extent {
	uint64_t logical, physical, length;
	uint32_t flags;		/* FIEMAP_EXTENT_* */
	uint32_t refcount;	/* image backend: space-map references; 0 unknown */
};

/* One dedupe destination; status is 0, RL_DEDUPE_DIFFERS or -errno. */
#define RL_DEDUPE_DIFFERS 1
struct rl_dedupe_dest {
	struct rl_file *file;
	uint64_t offset;
	uint64_t deduped;	/* out, per call */
	int status;		/* out, per call */
};

/*
 * Everything a subcommand needs from the filesystem. All return 0 or
 * -errno (the image backend also -PMCFS_E* for a damaged image). The
 * kernel backend works on mounted filesystems; the image backend
 * (backend_image.c) does the same through libpmcfs on an unmounted image.
 */
struct rl_backend_ops {
	const char *name;
	int (*open)(const char *path, int how, struct rl_file **ret);
	int (*reopen_rw)(struct rl_file *f);
	void (*close)(struct rl_file *f);
	int (*pread)(struct rl_file *f, void *buf, size_t len, uint64_t off, size_t *ret_len);
	/* Optional hint: start reading [off, off+len) into the cache, no wait. */
	void (*readahead)(struct rl_file *f, uint64_t off, uint64_t len);
	int (*clone_file)(struct rl_file *src, struct rl_file *dst);
	int (*clone_range)(struct rl_file *src, uint64_t soff, struct rl_file *dst,
			   uint64_t doff, uint64_t len);
	/* One call: len <= max_dedupe_len, n <= max_dedupe_dests. */
	int (*dedupe_range)(struct rl_file *src, uint64_t soff, uint64_t len,
			    struct rl_dedupe_dest *dests, unsigned int n);
	/* Extents overlapping [start, start+len); *ret is malloc'ed. */
	int (*fiemap)(struct rl_file *f, uint64_t start, uint64_t len,
		      struct rl_extent **ret, size_t *ret_n);
	/* Does the filesystem of f support reflink? 1 yes, 0 no, -1 unknown. */
	int (*reflink_supported)(struct rl_file *f, const char **ret_fsname);
	/* Namespace: stat follows a final symlink where the backend can. */
	int (*stat)(const char *path, struct stat *st);
	int (*lstat)(const char *path, struct stat *st);
	/* The names in a directory (no "." and ".."), sorted; *ret malloc'ed. */
	int (*list_dir)(const char *path, char ***ret, size_t *ret_n);
	int (*unlink)(const char *path);
	int (*truncate)(struct rl_file *f, uint64_t size);
	uint64_t max_dedupe_len;
	unsigned int max_dedupe_dests;
	/* Nothing else changes the files while a command runs (an image
	 * held exclusively), so "changed since hashed" checks are moot. */
	bool exclusive;
};

extern const struct rl_backend_ops rl_kernel_ops, rl_image_ops;
extern const struct rl_backend_ops *rl_ops;

/* ---- image mode (image.c) ------------------------------------------------ */

/* The IMG of --image, or NULL in kernel mode. */
extern const char *rl_image_path;
static inline bool rl_image_mode(void) { return rl_image_path != NULL; }
/*
 * Open the image for a command (kernel mode: nothing to do). write opens
 * it read-write with one transaction for the whole command; otherwise
 * read-only. Reports and returns -1 on failure (the command exits 1).
 */
int rl_backend_begin(bool write);
/*
 * End the command: commit its transaction when it succeeded (or when the
 * only failures were ranges that differ, which change nothing), else
 * abort so the image is unchanged, and say so. Returns the exit code.
 */
int rl_backend_end(int ret);
/* Is path of the NAME@/PATH form (a file in a read-only snapshot)? */
bool rl_image_path_readonly(const char *path);
/* Count an error that must keep the transaction from committing. */
void rl_image_note_error(int err);
/* Copy a tree inside the image (clone -r in image mode). */
int rl_image_clone_tree(const char *src, const char *dst, struct rl_json *js);

/* ---- the dedupe driver (dedupe.c), shared by dedupe and scan ----------- */

struct rl_dedupe_result {
	uint64_t deduped;	/* bytes shared in total */
	uint64_t differs_at;	/* first differing offset (dest) if differs */
	bool differs;
	int error;		/* first -errno, 0 if none */
	uint64_t error_off;	/* dest offset where it happened */
};

/*
 * Dedupe [soff, soff+len) of src into every dests[i] at offsets[i],
 * splitting into chunks the backend accepts, batching destinations and
 * continuing after short dedupes. results[i] is filled per destination.
 * Each chunk, and the next one while it is compared, is asked for with
 * the backend's readahead, at most RL_READAHEAD_BYTES a chunk.
 */
#define RL_READAHEAD_BYTES (64ULL << 20)
void rl_dedupe(struct rl_file *src, uint64_t soff, uint64_t len,
	       struct rl_file **dsts, const uint64_t *offsets, unsigned int n,
	       struct rl_dedupe_result *results);

/* ---- tree walking (walk.c) ------------------------------------------------ */

struct rl_walk_dir {
	dev_t dev;
	ino_t ino;
};

struct rl_walk {
	const char *op;			/* for messages */
	bool recursive;
	bool follow;			/* symlinks inside the roots */
	bool follow_args;		/* symlinks given as arguments */
	/* Called for every regular file; < 0 counts as a failure. */
	int (*fn)(const char *path, const struct stat *st, void *arg);
	void *arg;
	unsigned long errors, skipped_links, skipped_other;
	/* private */
	char **roots;
	size_t nroots;
	struct rl_walk_dir *dirs;
	size_t ndirs, capdirs;
};

/* Visit the regular files under paths; -1 if anything failed. */
int rl_walk(struct rl_walk *w, char **paths, int npaths);

/* ---- JSON writer (json.c) -------------------------------------------------- */

struct rl_json {
	FILE *f;
	int depth;
	bool need_comma[64];
};

struct rl_json *rl_json_new(FILE *f);
void rl_json_free(struct rl_json *js);	/* finishes the line */
void rl_json_obj_begin(struct rl_json *js, const char *key);
void rl_json_obj_end(struct rl_json *js);
void rl_json_arr_begin(struct rl_json *js, const char *key);
void rl_json_arr_end(struct rl_json *js);
void rl_json_str(struct rl_json *js, const char *key, const char *val);
void rl_json_u64(struct rl_json *js, const char *key, uint64_t val);
void rl_json_i64(struct rl_json *js, const char *key, int64_t val);
void rl_json_bool(struct rl_json *js, const char *key, bool val);
void rl_json_double(struct rl_json *js, const char *key, double val);
void rl_json_null(struct rl_json *js, const char *key);
/* Error fields for a failed operation: "error" text and "errno" name. */
void rl_json_error(struct rl_json *js, int err);

/* ---- utilities (util.c) ---------------------------------------------------- */

int error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void warning(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void __attribute__((noreturn)) die(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xreallocarray(void *p, size_t n, size_t size);
char *xstrdup(const char *s);
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* "4096", "128K", "1M", "2G", "0x1000": 0 or -EINVAL/-ERANGE. */
int parse_size(const char *s, uint64_t *ret);
/* strerror(-err) plus a hint for the remap ioctls, e.g. "Invalid argument
 * (misaligned or past EOF)". op is "clone", "clone-range" or "dedupe". */
const char *rl_errmsg(int err, const char *op, char *buf, size_t len);
const char *rl_errname(int err);	/* "EINVAL" */
/* Report a failed remap on a range: prog: op a -> b [s, e): text;
 * start == RL_NO_RANGE leaves out the range (whole-file clone). */
#define RL_NO_RANGE UINT64_MAX
int rl_report_range(const char *op, struct rl_file *src, struct rl_file *dst,
		    uint64_t start, uint64_t end, int err);
const char *human_size(uint64_t bytes, char *buf, size_t len);
double now_seconds(void);
bool is_tty_stderr(void);

#endif

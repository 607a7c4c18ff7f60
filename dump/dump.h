/* SPDX-License-Identifier: MIT */
/*
 * pmcfs-dump internals.
 *
 * Command line: pmcfs-dump [OPTIONS] SUBCOMMAND [ARGS...] DEVICE. The
 * device is always the last argument; options may appear anywhere. Each
 * subcommand is a row of commands[] (main.c); each option is a row of
 * opts[] (main.c), which drives getopt_long and --help. On-media structs
 * are printed, as text or JSON, and edited by `set` through the field
 * tables in fields.c, never by hand-written printf per field.
 */
#ifndef DUMP_H
#define DUMP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "pmcfs.h"

#define PROG "pmcfs-dump"

enum { EXIT_OK = 0, EXIT_CORRUPT = 1, EXIT_USAGE = 2 };

/* Parsed command line, and what the run found. */
struct dump_opts {
	bool json;
	bool no_crc;
	bool replica;		/* set: the replica copy */
	int slot;		/* --slot: PMCFS_SLOT_A/B, -1 if absent (set: the
				 * record to change; others: the commit to read) */
	bool have_block;	/* set --block */
	uint64_t block;
	bool long_list;		/* ls -l */
	bool recursive;		/* ls -R */
	bool force;		/* extract --force: replace what is in the way */
	const char *snapshot;	/* --snapshot NAME: resolve paths in that subvolume */
	const char *device;
};
extern struct dump_opts opt;
extern int exit_status;		/* EXIT_CORRUPT once anything was unreadable */

struct command {
	const char *name;
	int (*fn)(int argc, char **argv);	/* argv: the subcommand's ARGS */
	const char *const *usage;		/* [0] synopsis, then lines of help */
	int min_args, max_args;			/* ARGS, not counting DEVICE */
};

/* main.c: messages (git style) and helpers. */
int error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void corrupt(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
__attribute__((noreturn, format(printf, 2, 3))) void die(int code, const char *fmt, ...);
__attribute__((noreturn, format(printf, 1, 2))) void usage_error(const char *fmt, ...);
void *xcalloc(size_t n, size_t size);
int parse_u64(const char *s, uint64_t *ret);
struct pmcfs_dev *open_device(unsigned flags);
struct pmcfs_fs *open_fs(struct pmcfs_dev *dev);
const char *verify_text(const struct pmcfs_verify_err *why, char *buf, size_t sz);
void json_verify_err(const char *key, const struct pmcfs_verify_err *why);
const char *key_type_name(unsigned type);
const char *owner_name(uint32_t owner, uint32_t refcount);

/* json.c: a streaming JSON writer to stdout. A NULL key inside an array. */
void json_obj_begin(const char *key);
void json_obj_end(void);
void json_arr_begin(const char *key);
void json_arr_end(void);
void json_u64(const char *key, uint64_t v);
void json_i64(const char *key, int64_t v);
void json_bool(const char *key, bool v);
void json_null(const char *key);
void json_str(const char *key, const char *s);
void json_strn(const char *key, const void *s, size_t len);
void json_base64(const char *key, const void *data, size_t len);	/* exact bytes */
void json_base64_begin(const char *key);
void json_base64_chunk(const void *data, size_t len);	/* len % 3 == 0 but the last */
void json_base64_end(void);
void json_hex(const char *key, uint64_t v);	/* "0x..." string: exact in any reader */
void json_done(void);				/* final newline */
/* Length of a valid UTF-8 sequence at s (at most n bytes), or 0. */
size_t utf8_len(const unsigned char *s, size_t n);

/* fields.c: per-struct field tables. */
enum field_type {
	F_U8, F_U16, F_U32, F_U64,	/* decimal */
	F_X32, F_X64,			/* 0x hex: checksums, magics, flags */
	F_O32,				/* octal: modes */
	F_UUID, F_STR,			/* 16 bytes; NUL-padded text */
};
struct field {
	const char *name;
	enum field_type type;
	size_t off, len;
	const char *const *names;	/* enum value names (or bit names for F_X*) */
	size_t nnames;
};
extern const struct field super_fields[], commit_fields[], header_fields[],
	space_run_fields[], root_item_fields[], inode_fields[], dirent_fields[],
	extent_fields[], xattr_fields[];
/* The size of the struct a table describes. */
size_t fields_size(const struct field *t);
const struct field *field_find(const struct field *t, const char *name);
uint64_t field_get(const struct field *f, const void *raw);
void field_put(const struct field *f, void *raw, uint64_t v);
/* Text on one line ("a=1 b=2") or one field per line under indent; or JSON members. */
void fields_print(const struct field *t, const void *raw, const char *indent, bool oneline);
/* Parse value into raw; 0, or -1 after a message. */
int field_set(const struct field *f, void *raw, const char *value);
void field_format(const struct field *f, const void *raw, char *buf, size_t sz);
void fields_list(const struct field *t, char *buf, size_t sz);
/* Bytes as printable text with \xNN escapes, for text output. */
void print_bytes(const void *p, size_t len, size_t max);

/* items.c: leaf items decoded by key type. */
void item_print(const struct pmcfs_ckey *key, const uint8_t *body, uint32_t size,
		uint64_t blkno, unsigned idx);

/* walk.c: depth-first walk of one tree, every block verified. */
struct walk_ops {
	/* A verified leaf item. */
	void (*item)(void *ctx, const struct pmcfs_ckey *key, const uint8_t *body, uint32_t size);
	/* A verified block (node or leaf), before its children or items; may be NULL. */
	void (*node)(void *ctx, uint64_t blkno, unsigned level);
};
int walk_tree(struct pmcfs_fs *fs, uint64_t tree_id, const struct pmcfs_root_ref *root,
	      bool print, const struct walk_ops *ops, void *ctx);
void block_print(struct pmcfs_fs *fs, const uint8_t *buf, uint64_t blkno, int depth,
		 const struct pmcfs_verify_err *why, int err, bool items);

/* cmd_super.c: a superblock or commit record with its verdict. */
void show_struct(const char *key, const char *title, uint64_t blkno, int read_err, int err,
		 const struct pmcfs_verify_err *why, const struct field *tbl, const void *raw);

/*
 * ns.c: the namespace seen through the library, for ls, stat, extents,
 * cat, extract and owners. Everything read from the image is untrusted:
 * names are checked here, not assumed valid.
 */
struct ns_ctx {
	struct pmcfs_dev *dev;
	struct pmcfs_fs *fs;
	struct pmcfs_tree *t;
	uint64_t subvol;
	char subvol_name[PMCFS_NAME_MAX + 1];
};
/* Open DEVICE read-only and the subvolume (--snapshot NAME, else the default); dies on failure. */
void ns_open(struct ns_ctx *c);
void ns_close(struct ns_ctx *c);
/* PATH to an inode number; dies (exit 1) if it does not resolve. */
uint64_t ns_resolve(struct ns_ctx *c, const char *path);
/* A subvolume id by its root-table name: 0, -ENOENT or an error. */
int subvol_by_name(struct pmcfs_fs *fs, const char *name, uint64_t *ret_id);
/* A file's extents in file-offset order (cat and extract skip holes with it). */
struct ext_list {
	struct pmcfs_extent_info *e;
	size_t n;
};
/* Fill l (zeroed by the caller; free l->e after): 0 or a negative error. */
int ext_list_read(struct ns_ctx *c, uint64_t ino, struct ext_list *l);
struct ns_dent {
	uint64_t ino, index;
	unsigned type;		/* enum pmcfs_ftype */
	size_t len;
	bool bad_name;		/* empty, ".", "..", or holds '/' or NUL: never a path component */
	char name[PMCFS_NAME_MAX + 1];	/* NUL-terminated copy (cut at an embedded NUL) */
};
/*
 * Every DIR_INDEX entry of dir, read raw (a malformed body is reported
 * and skipped, the rest still listed), sorted by name when sort is set.
 * Entries with bad names are reported (corrupt) and returned flagged.
 * 0, or a negative code after a message naming path.
 */
int ns_dir_list(struct ns_ctx *c, uint64_t dir, const char *path, bool sort,
		struct ns_dent **ret, size_t *ret_n);
/* dir/name in a new buffer (free it). */
char *path_join(const char *dir, const char *name);
/* Text with control bytes, backslashes and invalid UTF-8 as \xNN, to f. */
void put_escaped(FILE *f, const char *s, size_t len);
/* Same, into a static ring of buffers (for messages; at most 4 alive). */
const char *esc(const char *s);
const char *escn(const char *s, size_t len);
/* "drwxr-xr-x" */
void mode_string(uint32_t mode, char buf[11]);
/* "2024-05-01 12:00:00.123456789 +0000" (local time) */
void time_string(int64_t sec, uint32_t nsec, char *buf, size_t sz);
void json_time(const char *key, int64_t sec, uint32_t nsec);
const char *ftype_name(uint32_t mode);
/* A set of u64 (inode numbers). */
struct u64set { uint64_t *slots; size_t cap, n; };
bool u64set_add(struct u64set *s, uint64_t v);	/* false if already there */
void u64set_free(struct u64set *s);
/*
 * Every path of ino from INODE_REF back-references (one per link, each
 * parent walked up to the root); up to max paths into ret (free each).
 */
size_t ino_paths(struct ns_ctx *c, uint64_t ino, char **ret, size_t max);

/* Subcommands. */
int cmd_super(int argc, char **argv);
int cmd_tree(int argc, char **argv);
int cmd_alloc(int argc, char **argv);
int cmd_block(int argc, char **argv);
int cmd_set(int argc, char **argv);
int cmd_ls(int argc, char **argv);
int cmd_stat(int argc, char **argv);
int cmd_extents(int argc, char **argv);
int cmd_cat(int argc, char **argv);
int cmd_snapshots(int argc, char **argv);
int cmd_owners(int argc, char **argv);
int cmd_extract(int argc, char **argv);
extern const char *const cmd_super_usage[], *const cmd_tree_usage[],
	*const cmd_alloc_usage[], *const cmd_block_usage[], *const cmd_set_usage[],
	*const cmd_ls_usage[], *const cmd_stat_usage[], *const cmd_extents_usage[],
	*const cmd_cat_usage[], *const cmd_snapshots_usage[], *const cmd_owners_usage[],
	*const cmd_extract_usage[];

#endif

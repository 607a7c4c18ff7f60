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
#include "pmcfs.h"

#define PROG "pmcfs-dump"

enum { EXIT_OK = 0, EXIT_CORRUPT = 1, EXIT_USAGE = 2 };

/* Parsed command line, and what the run found. */
struct dump_opts {
	bool json;
	bool no_crc;
	bool replica;		/* set: the replica copy */
	int slot;		/* set --slot: PMCFS_SLOT_A/B, -1 if absent */
	bool have_block;	/* set --block */
	uint64_t block;
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
void json_hex(const char *key, uint64_t v);	/* "0x..." string: exact in any reader */
void json_done(void);				/* final newline */

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
};
int walk_tree(struct pmcfs_fs *fs, uint64_t tree_id, const struct pmcfs_root_ref *root,
	      bool print, const struct walk_ops *ops, void *ctx);
void block_print(struct pmcfs_fs *fs, const uint8_t *buf, uint64_t blkno, int depth,
		 const struct pmcfs_verify_err *why, int err, bool items);

/* cmd_super.c: a superblock or commit record with its verdict. */
void show_struct(const char *key, const char *title, uint64_t blkno, int read_err, int err,
		 const struct pmcfs_verify_err *why, const struct field *tbl, const void *raw);

/* Subcommands. */
int cmd_super(int argc, char **argv);
int cmd_tree(int argc, char **argv);
int cmd_alloc(int argc, char **argv);
int cmd_block(int argc, char **argv);
int cmd_set(int argc, char **argv);
extern const char *const cmd_super_usage[], *const cmd_tree_usage[],
	*const cmd_alloc_usage[], *const cmd_block_usage[], *const cmd_set_usage[];

#endif

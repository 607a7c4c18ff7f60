// SPDX-License-Identifier: MIT
/*
 * Field tables, one per on-media struct (xfs_db's sb_flds model): name,
 * type, offset and size. The same rows drive text output, JSON output
 * and `set FIELD VALUE`, so the three cannot drift apart. Values are
 * decoded here with the little-endian helpers from <endian.h>, by offset,
 * which is what the table is for; nothing else in dump/ reads raw fields.
 */
#include <endian.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uuid/uuid.h>
#include "pmcfs_format.h"
#include "dump.h"

#define NAMES(a) a, sizeof(a) / sizeof(a[0])
#define FLD(s, f, t) { #f, t, offsetof(struct pmcfs_##s, f), sizeof(((struct pmcfs_##s *)0)->f), NULL, 0 }
#define FLDN(s, name, f, t) { name, t, offsetof(struct pmcfs_##s, f), sizeof(((struct pmcfs_##s *)0)->f), NULL, 0 }
#define FLDE(s, f, t, n) { #f, t, offsetof(struct pmcfs_##s, f), sizeof(((struct pmcfs_##s *)0)->f), NAMES(n) }
/* The end row records the struct's size: padding and reserved bytes included. */
#define FLD_END(s) { NULL, F_U8, sizeof(struct pmcfs_##s), 0, NULL, 0 }

static const char *const commit_flag_names[] = { "clean" };
static const char *const root_flag_names[] = { "rdonly", "dropping", "parent_gone" };
static const char *const inode_flag_names[] = { "huge", "immutable", "append", "nodump" };
static const char *const extent_flag_names[] = { "unwritten" };
static const char *const owner_names[] = { "fs", "badblock", "super" };
static const char *const ftype_names[] = { "unknown", "reg", "dir", "chr", "blk", "fifo", "sock", "lnk" };

const struct field super_fields[] = {
	FLD(super, crc, F_X32),
	FLD(super, version, F_U32),
	FLD(super, magic, F_X64),
	FLD(super, uuid, F_UUID),
	FLD(super, feature_compat, F_X64),
	FLD(super, feature_ro_compat, F_X64),
	FLD(super, feature_incompat, F_X64),
	FLD(super, block_size, F_U32),
	FLD(super, dax_align, F_U32),
	FLD(super, nblocks, F_U64),
	FLD(super, data_start, F_U64),
	FLD(super, data_end, F_U64),
	FLDN(super, "slot_a_blkno", slot_blkno[0], F_U64),
	FLDN(super, "slot_b_blkno", slot_blkno[1], F_U64),
	FLD(super, replica_blkno, F_U64),
	FLD(super, mkfs_time, F_U64),
	FLD(super, root_subvol, F_U64),
	FLD(super, label, F_STR),
	FLD_END(super)
};

const struct field commit_fields[] = {
	FLD(commit, magic, F_X64),
	FLD(commit, uuid, F_UUID),
	FLD(commit, generation, F_U64),
	FLD(commit, roottab_blkno, F_U64),
	FLD(commit, roottab_gen, F_U64),
	FLD(commit, roottab_level, F_U8),
	FLD(commit, spacemap_blkno, F_U64),
	FLD(commit, spacemap_gen, F_U64),
	FLD(commit, spacemap_level, F_U8),
	FLD(commit, log_root, F_U64),
	FLD(commit, rmap_root, F_U64),
	FLD(commit, free_blocks, F_U64),
	FLD(commit, feature_incompat, F_X64),
	FLDE(commit, flags, F_X64, commit_flag_names),
	FLD(commit, crc, F_X32),
	FLD_END(commit)
};

const struct field header_fields[] = {
	FLD(header, crc, F_X32),
	FLD(header, magic, F_X32),
	FLD(header, uuid, F_UUID),
	FLD(header, blkno, F_U64),
	FLD(header, generation, F_U64),
	FLD(header, owner, F_U64),
	FLD(header, level, F_U16),
	FLD(header, nritems, F_U16),
	FLD(header, flags, F_X32),
	FLD(header, reserved, F_X64),
	FLD_END(header)
};

const struct field space_run_fields[] = {
	FLD(space_run, len, F_U64),
	FLD(space_run, refcount, F_U32),
	FLDE(space_run, owner, F_U32, owner_names),
	FLD_END(space_run)
};

const struct field root_item_fields[] = {
	FLD(root_item, blkno, F_U64),
	FLD(root_item, generation, F_U64),
	FLDE(root_item, flags, F_X64, root_flag_names),
	FLD(root_item, parent, F_U64),
	FLD(root_item, parent_gen, F_U64),
	FLD(root_item, create_gen, F_U64),
	FLD(root_item, ctime_sec, F_U64),
	FLD(root_item, ctime_nsec, F_U32),
	FLD(root_item, level, F_U8),
	FLD(root_item, drop_level, F_U8),
	FLD(root_item, name_len, F_U16),
	FLD(root_item, next_ino, F_U64),
	FLDN(root_item, "drop_objectid", drop_progress.objectid, F_U64),
	FLDN(root_item, "drop_type", drop_progress.type, F_U8),
	FLDN(root_item, "drop_offset", drop_progress.offset, F_U64),
	FLD_END(root_item)
};

const struct field inode_fields[] = {
	FLD(inode, mode, F_O32),
	FLD(inode, uid, F_U32),
	FLD(inode, gid, F_U32),
	FLD(inode, nlink, F_U32),
	FLD(inode, size, F_U64),
	FLD(inode, nblocks, F_U64),
	FLDE(inode, flags, F_X64, inode_flag_names),
	FLD(inode, generation, F_U64),
	FLD(inode, rdev, F_U64),
	FLD(inode, next_index, F_U64),
	FLD(inode, extsize, F_U32),
	FLD(inode, cowextsize, F_U32),
	FLDN(inode, "atime_sec", atime.sec, F_U64),
	FLDN(inode, "atime_nsec", atime.nsec, F_U32),
	FLDN(inode, "mtime_sec", mtime.sec, F_U64),
	FLDN(inode, "mtime_nsec", mtime.nsec, F_U32),
	FLDN(inode, "ctime_sec", ctime.sec, F_U64),
	FLDN(inode, "ctime_nsec", ctime.nsec, F_U32),
	FLDN(inode, "crtime_sec", crtime.sec, F_U64),
	FLDN(inode, "crtime_nsec", crtime.nsec, F_U32),
	FLD_END(inode)
};

const struct field dirent_fields[] = {
	FLD(dirent, ino, F_U64),
	FLD(dirent, index, F_U64),
	FLD(dirent, name_len, F_U16),
	FLDE(dirent, type, F_U8, ftype_names),
	FLD_END(dirent)
};

const struct field extent_fields[] = {
	FLD(extent, phys, F_U64),
	FLD(extent, nblocks, F_U32),
	FLDE(extent, flags, F_X32, extent_flag_names),
	FLD_END(extent)
};

const struct field xattr_fields[] = {
	FLD(xattr, value_len, F_U32),
	FLD(xattr, name_len, F_U16),
	FLD(xattr, nchunks, F_U16),
	FLD_END(xattr)
};

size_t fields_size(const struct field *t)
{
	while (t->name)
		t++;
	return t->off;
}

const struct field *field_find(const struct field *t, const char *name)
{
	for (; t->name; t++)
		if (!strcmp(t->name, name))
			return t;
	return NULL;
}

void fields_list(const struct field *t, char *buf, size_t sz)
{
	size_t n = 0;

	buf[0] = 0;
	for (; t->name && n < sz; t++)
		n += snprintf(buf + n, sz - n, "%s%s", n ? ", " : "", t->name);
}

uint64_t field_get(const struct field *f, const void *raw)
{
	const uint8_t *p = (const uint8_t *)raw + f->off;
	uint16_t v16;
	uint32_t v32;
	uint64_t v64;

	switch (f->len) {
	case 1:
		return *p;
	case 2:
		memcpy(&v16, p, 2);
		return le16toh(v16);
	case 4:
		memcpy(&v32, p, 4);
		return le32toh(v32);
	case 8:
		memcpy(&v64, p, 8);
		return le64toh(v64);
	}
	return 0;
}

void field_put(const struct field *f, void *raw, uint64_t v)
{
	uint8_t *p = (uint8_t *)raw + f->off;
	uint16_t v16 = htole16((uint16_t)v);
	uint32_t v32 = htole32((uint32_t)v);
	uint64_t v64 = htole64(v);

	switch (f->len) {
	case 1: *p = (uint8_t)v; break;
	case 2: memcpy(p, &v16, 2); break;
	case 4: memcpy(p, &v32, 4); break;
	case 8: memcpy(p, &v64, 8); break;
	}
}

static bool is_numeric(const struct field *f)
{
	return f->type != F_UUID && f->type != F_STR;
}

/* "0x3 (clean|rdonly)" for flags, "1 (badblock)" for enums. */
static void names_suffix(const struct field *f, uint64_t v, char *buf, size_t sz)
{
	size_t n = 0;

	buf[0] = 0;
	if (!f->names)
		return;
	if (f->type == F_X32 || f->type == F_X64) {
		for (size_t b = 0; b < 64 && n < sz; b++) {
			if (!(v & (1ULL << b)))
				continue;
			if (b < f->nnames)
				n += snprintf(buf + n, sz - n, "%s%s", n ? "|" : " (", f->names[b]);
			else
				n += snprintf(buf + n, sz - n, "%sbit%zu", n ? "|" : " (", b);
		}
		if (n && n < sz)
			snprintf(buf + n, sz - n, ")");
	} else if (v < f->nnames) {
		snprintf(buf, sz, " (%s)", f->names[v]);
	} else {
		snprintf(buf, sz, " (unknown)");
	}
}

void field_format(const struct field *f, const void *raw, char *buf, size_t sz)
{
	const uint8_t *p = (const uint8_t *)raw + f->off;
	uint64_t v = is_numeric(f) ? field_get(f, raw) : 0;
	char names[128];

	names_suffix(f, v, names, sizeof(names));
	switch (f->type) {
	case F_X32: case F_X64:
		snprintf(buf, sz, "0x%llx%s", (unsigned long long)v, names);
		break;
	case F_O32:
		snprintf(buf, sz, "0%llo", (unsigned long long)v);
		break;
	case F_UUID: {
		char u[37];
		uuid_unparse_lower(p, u);
		snprintf(buf, sz, "%s", u);
		break;
	}
	case F_STR: {
		size_t n = 0, len = strnlen((const char *)p, f->len);
		n += snprintf(buf, sz, "\"");
		for (size_t i = 0; i < len && n + 5 < sz; i++)
			n += snprintf(buf + n, sz - n, p[i] >= 0x20 && p[i] < 0x7f && p[i] != '"' &&
				      p[i] != '\\' ? "%c" : "\\x%02x", p[i]);
		snprintf(buf + n, sz - n, "\"");
		break;
	}
	default:
		snprintf(buf, sz, "%llu%s", (unsigned long long)v, names);
	}
}

static void field_json(const struct field *f, const void *raw)
{
	const uint8_t *p = (const uint8_t *)raw + f->off;
	char u[37];

	switch (f->type) {
	case F_X32: case F_X64:
		json_hex(f->name, field_get(f, raw));
		break;
	case F_UUID:
		uuid_unparse_lower(p, u);
		json_str(f->name, u);
		break;
	case F_STR:
		json_strn(f->name, p, strnlen((const char *)p, f->len));
		break;
	default:	/* octal modes too: a number is what scripts want */
		json_u64(f->name, field_get(f, raw));
	}
}

void fields_print(const struct field *t, const void *raw, const char *indent, bool oneline)
{
	char buf[256];
	bool first = true;

	for (; t->name; t++) {
		if (opt.json) {
			field_json(t, raw);
			continue;
		}
		field_format(t, raw, buf, sizeof(buf));
		if (oneline)
			printf("%s%s=%s", first ? "" : " ", t->name, buf);
		else
			printf("%s%-18s %s\n", indent, t->name, buf);
		first = false;
	}
	if (oneline && !opt.json)
		putchar('\n');
}

int field_set(const struct field *f, void *raw, const char *value)
{
	uint8_t *p = (uint8_t *)raw + f->off;
	uint64_t v, max = f->len >= 8 ? UINT64_MAX : (1ULL << (8 * f->len)) - 1;
	char *end;

	switch (f->type) {
	case F_UUID:
		if (uuid_parse(value, p) < 0)
			return error("invalid value '%s' for %s: expected a uuid", value, f->name);
		return 0;
	case F_STR:
		if (strlen(value) > f->len)
			return error("invalid value '%s' for %s: longer than %zu bytes", value, f->name, f->len);
		memset(p, 0, f->len);
		memcpy(p, value, strlen(value));
		return 0;
	default:
		break;
	}
	errno = 0;
	if (f->type == F_O32 && value[0] != '0')
		v = strtoull(value, &end, 8);
	else
		v = strtoull(value, &end, 0);
	if (!value[0] || *end || errno || value[0] == '-' || v > max)
		return error("invalid value '%s' for %s: expected a number from 0 to %llu", value,
			     f->name, (unsigned long long)max);
	field_put(f, raw, v);
	return 0;
}

void print_bytes(const void *vp, size_t len, size_t max)
{
	const uint8_t *p = vp;

	for (size_t i = 0; i < len && i < max; i++)
		printf(p[i] >= 0x20 && p[i] < 0x7f && p[i] != '\\' ? "%c" : "\\x%02x", p[i]);
	if (len > max)
		printf("...");
}

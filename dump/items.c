// SPDX-License-Identifier: MIT
/*
 * Leaf item bodies, decoded by key type through the field tables. Every
 * length inside a body (names, packed entries, values) is checked against
 * the item size before it is used; a body that does not fit its type is
 * reported, shown as hex, and the run will exit 1.
 */
#include <stdio.h>
#include <string.h>
#include "pmcfs_endian.h"
#include "dump.h"

#define PAD8(n) (((n) + 7u) & ~(size_t)7u)

struct item_ctx {
	uint64_t blkno;
	unsigned idx;
	const struct pmcfs_ckey *key;
};

static void hex(const char *key, const uint8_t *p, size_t len)
{
	if (opt.json) {
		char buf[2 * PMCFS_BLOCK_SIZE + 1];
		size_t n = len > PMCFS_BLOCK_SIZE ? PMCFS_BLOCK_SIZE : len;

		for (size_t i = 0; i < n; i++)
			snprintf(buf + 2 * i, 3, "%02x", p[i]);
		buf[2 * n] = 0;
		json_str(key, buf);
		return;
	}
	for (size_t i = 0; i < len; i++)
		printf("%s%02x%s", i % 32 == 0 ? "    " : "", p[i], i % 32 == 31 || i + 1 == len ? "\n" : "");
}

static void bad_body(const struct item_ctx *c, const char *what, size_t expected, size_t found)
{
	corrupt("block %llu: item %u (%s): %s: expected %zu, found %zu", (unsigned long long)c->blkno,
		c->idx, key_type_name(c->key->type), what, expected, found);
	if (opt.json) {
		json_str("error", what);
	} else {
		printf("    invalid: %s: expected %zu, found %zu\n", what, expected, found);
	}
}

static void text_bytes(const char *name, const uint8_t *p, size_t len)
{
	if (opt.json) {
		json_strn(name, p, len);
		return;
	}
	printf("    %s \"", name);
	print_bytes(p, len, 512);
	printf("\"\n");
}

/* A fixed struct; returns false if the body is too short (already reported). */
static bool fixed(const struct item_ctx *c, const struct field *tbl, const uint8_t *body,
		  uint32_t size, bool exact)
{
	size_t need = fields_size(tbl);

	if (size < need || (exact && size != need)) {
		bad_body(c, "body size", need, size);
		hex("hex", body, size);
		return false;
	}
	if (!opt.json)
		printf("    ");
	fields_print(tbl, body, NULL, true);
	return true;
}

/* dirents packed into one body: DIR_ENTRY, INODE_REF, and DIR_INDEX (one). */
static void dirents(const struct item_ctx *c, const uint8_t *body, uint32_t size)
{
	const size_t hdr = sizeof(struct pmcfs_dirent);
	size_t pos = 0;

	if (opt.json)
		json_arr_begin("entries");
	while (pos < size) {
		struct pmcfs_dirent d;
		size_t len;

		if (size - pos < hdr) {
			bad_body(c, "dirent header at the end of the body", hdr, size - pos);
			break;
		}
		memcpy(&d, body + pos, hdr);
		len = pmcfs_dirent_name_len(&d);
		if (len > size - pos - hdr) {
			bad_body(c, "dirent name_len", size - pos - hdr, len);
			break;
		}
		if (opt.json)
			json_obj_begin(NULL);
		else
			printf("    ");
		fields_print(dirent_fields, body + pos, NULL, true);
		text_bytes("name", body + pos + hdr, len);
		if (opt.json)
			json_obj_end();
		pos += PAD8(hdr + len);
	}
	if (opt.json)
		json_arr_end();
}

static void xattrs(const struct item_ctx *c, const uint8_t *body, uint32_t size)
{
	const size_t hdr = sizeof(struct pmcfs_xattr);
	size_t pos = 0;

	if (opt.json)
		json_arr_begin("entries");
	while (pos < size) {
		struct pmcfs_xattr x;
		size_t nlen, vlen, room;

		if (size - pos < hdr) {
			bad_body(c, "xattr header at the end of the body", hdr, size - pos);
			break;
		}
		memcpy(&x, body + pos, hdr);
		nlen = pmcfs_xattr_name_len(&x);
		room = size - pos - hdr;
		if (nlen > room) {
			bad_body(c, "xattr name_len", room, nlen);
			break;
		}
		/* Chunked values: this item holds what fits, the rest is in later items. */
		vlen = pmcfs_xattr_nchunks(&x) ? room - nlen : pmcfs_xattr_value_len(&x);
		if (vlen > room - nlen) {
			bad_body(c, "xattr value_len", room - nlen, vlen);
			break;
		}
		if (opt.json)
			json_obj_begin(NULL);
		else
			printf("    ");
		fields_print(xattr_fields, body + pos, NULL, true);
		text_bytes("name", body + pos + hdr, nlen);
		text_bytes("value", body + pos + hdr + nlen, vlen);
		if (opt.json)
			json_obj_end();
		pos += PAD8(hdr + nlen + vlen);
	}
	if (opt.json)
		json_arr_end();
}

static void root_item(const struct item_ctx *c, const uint8_t *body, uint32_t size)
{
	size_t base = sizeof(struct pmcfs_root_item), len;

	if (!fixed(c, root_item_fields, body, size, false))
		return;
	len = field_get(field_find(root_item_fields, "name_len"), body);
	if (len != size - base || len > PMCFS_NAME_MAX) {
		bad_body(c, "root item name_len", size - base, len);
		len = size - base;
	}
	text_bytes("name", body + base, len);
}

void item_print(const struct pmcfs_ckey *key, const uint8_t *body, uint32_t size,
		uint64_t blkno, unsigned idx)
{
	struct item_ctx c = { blkno, idx, key };

	if (opt.json) {
		json_u64("size", size);
		json_obj_begin("body");
	} else {
		printf(" size %u\n", size);
	}
	switch (key->type) {
	case PMCFS_KEY_SPACE_RUN:
		if (fixed(&c, space_run_fields, body, size, true) && opt.json) {
			json_u64("start", key->objectid);
			json_str("owner_name", owner_name(field_get(&space_run_fields[2], body),
							  field_get(&space_run_fields[1], body)));
		}
		break;
	case PMCFS_KEY_ROOT:
		root_item(&c, body, size);
		break;
	case PMCFS_KEY_NEXT_SUBVOL:
		if (size != 8) {
			corrupt("block %llu item %u: NEXT_SUBVOL body of %u bytes, expected 8",
				(unsigned long long)blkno, idx, size);
		} else {
			uint64_t next;
			memcpy(&next, body, 8);
			if (opt.json)
				json_u64("next_subvol", le64toh(next));
			else
				printf("    next_subvol=%llu\n", (unsigned long long)le64toh(next));
		}
		break;
	case PMCFS_KEY_INODE:
		fixed(&c, inode_fields, body, size, true);
		break;
	case PMCFS_KEY_INODE_REF:
	case PMCFS_KEY_DIR_ENTRY:
	case PMCFS_KEY_DIR_INDEX:
		dirents(&c, body, size);
		break;
	case PMCFS_KEY_EXTENT:
		fixed(&c, extent_fields, body, size, true);
		break;
	case PMCFS_KEY_XATTR:
		xattrs(&c, body, size);
		break;
	case PMCFS_KEY_SYMLINK:
		text_bytes("target", body, size);
		break;
	case PMCFS_KEY_ORPHAN:
		if (opt.json)
			json_u64("ino", key->offset);
		else
			printf("    orphan inode %llu\n", (unsigned long long)key->offset);
		if (size)
			bad_body(&c, "orphan item size", 0, size);
		break;
	default:
		hex("hex", body, size);
	}
	if (opt.json)
		json_obj_end();
}

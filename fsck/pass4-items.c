// SPDX-License-Identifier: MIT
/*
 * Pass 4, the per-item checks of the scan (pass4-scan.c walks the tree
 * and calls these for every item of a leaf): what one item alone says,
 * so a clean leaf need not be checked twice, plus the running state of
 * the inode group the item belongs to (extent overlap, symlink chunks,
 * a directory's names).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "pass4-scan.h"
#include "pmcfs_endian.h"
#include "pmcfs_ns.h"

static uint32_t nhash(const char *name, size_t len)
{
	return pmcfs_crc32c(0, name, len);
}

/* Next packed dirent at *pos; false on a bad layout. */
static bool dent_next(const uint8_t *body, uint32_t size, uint32_t *pos, struct dent *e)
{
	struct pmcfs_dirent d;
	uint32_t esz;

	if (*pos + sizeof(d) > size)
		return false;
	memcpy(&d, body + *pos, sizeof(d));
	e->ino = pmcfs_dirent_ino(&d);
	e->index = pmcfs_dirent_index(&d);
	e->type = pmcfs_dirent_type(&d);
	e->len = pmcfs_dirent_name_len(&d);
	e->name = (const char *)body + *pos + sizeof(d);
	esz = (uint32_t)((sizeof(d) + e->len + 7) & ~(size_t)7);
	if (e->len == 0 || e->len > PMCFS_NAME_MAX || *pos + esz > size)
		return false;
	*pos += esz;
	return true;
}

/* A local finding: the leaf is not memoized as clean. */
#define LOCAL(sc, ...) do { (sc)->dirty = true; p4_add_find((sc)->s, __VA_ARGS__); } while (0)

void p4_item_stray(struct scan *sc, const struct pmcfs_ckey *k, const char *why)
{
	LOCAL(sc, PR_NS_ITEM_STRAY, PH_ITEMS, k->objectid, k, 0, 0,
	      "subvolume %llu: item (%llu,%u,%llu): %s", (unsigned long long)sc->s->sv->id,
	      (unsigned long long)k->objectid, k->type, (unsigned long long)k->offset, why);
}

void p4_inode_item(struct scan *sc, const struct pmcfs_ckey *k, const uint8_t *body, uint32_t size)
{
	struct grp *g = &sc->g;
	struct pmcfs_inode in;
	const struct pmcfs_timespec *ts[4] = { &in.atime, &in.mtime, &in.ctime, &in.crtime };
	char why[160] = "";
	uint64_t flags;

	g->have_inode = true;
	if (size != sizeof(in) || !pmcfs_ftype(pmcfs_inode_mode((const void *)body))) {
		g->inode_bad = true;
		LOCAL(sc, PR_NS_INODE_BAD, PH_ITEMS, k->objectid, k, 0, 0,
		      "subvolume %llu: inode %llu: %u bytes, mode 0%o", (unsigned long long)sc->s->sv->id,
		      (unsigned long long)k->objectid, size,
		      size >= 4 ? pmcfs_inode_mode((const void *)body) : 0);
		return;
	}
	memcpy(&in, body, sizeof(in));
	g->mode = pmcfs_inode_mode(&in);
	g->ftype = (uint8_t)pmcfs_ftype(g->mode);
	g->nlink = pmcfs_inode_nlink(&in);
	g->size = pmcfs_inode_size(&in);
	g->nblocks = pmcfs_inode_nblocks(&in);
	g->next_index = pmcfs_inode_next_index(&in);
	if (!sc->check)
		return;
	flags = pmcfs_inode_flags(&in);
	if (flags & ~(uint64_t)KNOWN_IFLAGS)
		snprintf(why + strlen(why), sizeof(why) - strlen(why), ", unknown flags 0x%llx",
			 (unsigned long long)(flags & ~(uint64_t)KNOWN_IFLAGS));
	if (pmcfs_inode_rdev(&in) && g->ftype != PMCFS_FT_CHR && g->ftype != PMCFS_FT_BLK)
		snprintf(why + strlen(why), sizeof(why) - strlen(why), ", rdev 0x%llx on a non-device",
			 (unsigned long long)pmcfs_inode_rdev(&in));
	for (int i = 0; i < 4; i++)
		if (pmcfs_timespec_nsec(ts[i]) >= 1000000000u) {
			snprintf(why + strlen(why), sizeof(why) - strlen(why), ", %s nanoseconds %u",
				 (const char *[]){ "atime", "mtime", "ctime", "crtime" }[i],
				 pmcfs_timespec_nsec(ts[i]));
			break;
		}
	if (why[0])
		LOCAL(sc, PR_NS_INODE_FIELDS, PH_ITEMS, k->objectid, k, 0, 0, "subvolume %llu: inode %llu%s",
		      (unsigned long long)sc->s->sv->id, (unsigned long long)k->objectid, why);
}

static void name_check(struct scan *sc, const struct pmcfs_ckey *k, const struct dent *e, uint8_t *bad)
{
	char shown[64];
	size_t n = e->len < 40 ? e->len : 40;

	if (!sc->check || pmcfs_name_valid(e->name, e->len))
		return;
	for (size_t i = 0; i < n; i++)
		shown[i] = e->name[i] >= 0x20 && e->name[i] < 0x7f ? e->name[i] : '?';
	shown[n] = 0;
	*bad = 1;
	LOCAL(sc, PR_NS_NAME_BAD, PH_ITEMS, k->objectid, k, e->index,
	      k->type == PMCFS_KEY_INODE_REF ? e->ino : k->objectid,
	      "subvolume %llu: %s (%llu,%u,%llu) index %llu: \"%s\" (%zu bytes)",
	      (unsigned long long)sc->s->sv->id,
	      k->type == PMCFS_KEY_INODE_REF ? "back-reference" : "entry",
	      (unsigned long long)k->objectid, k->type, (unsigned long long)k->offset,
	      (unsigned long long)e->index, shown, e->len);
}

static void dirent_bad(struct scan *sc, const struct pmcfs_ckey *k, const char *why)
{
	LOCAL(sc, PR_NS_DIRENT_BAD, PH_ITEMS, k->objectid, k, 0, 0,
	      "subvolume %llu: item (%llu,%u,%llu): %s", (unsigned long long)sc->s->sv->id,
	      (unsigned long long)k->objectid, k->type, (unsigned long long)k->offset, why);
}

void p4_dir_item(struct scan *sc, const struct pmcfs_ckey *k, const uint8_t *body, uint32_t size)
{
	struct grp *g = &sc->g;
	struct p4_sv *s = sc->s;
	uint32_t pos = 0;
	struct dent e;

	if (k->type != PMCFS_KEY_INODE_REF && g->have_inode && !g->inode_bad && g->ftype != PMCFS_FT_DIR) {
		p4_item_stray(sc, k, "directory item of a non-directory");
		return;
	}
	if (k->type == PMCFS_KEY_DIR_INDEX) {
		if (!dent_next(body, size, &pos, &e) || pos != size || e.index != k->offset) {
			dirent_bad(sc, k, "index item does not decode to one entry of its index");
			return;
		}
	} else if (!size) {
		dirent_bad(sc, k, "empty");
		return;
	}
	pos = 0;
	while (pos < size) {
		uint8_t bad = 0;
		if (!dent_next(body, size, &pos, &e)) {
			dirent_bad(sc, k, "packed entries do not decode");
			return;
		}
		/* The directory's next index must lie above every index. */
		if (e.index == UINT64_MAX) {
			dirent_bad(sc, k, "index 18446744073709551615 leaves no next index");
			return;
		}
		name_check(sc, k, &e, &bad);
		if (k->type == PMCFS_KEY_DIR_ENTRY && !bad && sc->check &&
		    pmcfs_name_hash(e.name, e.len) != k->offset) {
			dirent_bad(sc, k, "entry stored under another name's hash");
			return;
		}
		if (k->type == PMCFS_KEY_INODE_REF) {
			s->refs = xgrow(s->refs, &s->refs_cap, s->nrefs + 1, sizeof(*s->refs));
			s->refs[s->nrefs++] = (struct p4_ref){ k->objectid, k->offset, e.index,
							       nhash(e.name, e.len), 0 };
			if (e.ino != k->offset)
				dirent_bad(sc, k, "back-reference names another parent");
			continue;
		}
		if (k->type == PMCFS_KEY_DIR_ENTRY) {
			g->e = xgrow(g->e, &g->ne_cap, g->ne + 1, sizeof(*g->e));
			g->e[g->ne++] = (struct dname){ e.index, e.ino, nhash(e.name, e.len), (uint8_t)e.type, bad };
		} else {
			g->ix = xgrow(g->ix, &g->ni_cap, g->ni + 1, sizeof(*g->ix));
			g->ix[g->ni++] = (struct dname){ e.index, e.ino, nhash(e.name, e.len), (uint8_t)e.type, bad };
		}
	}
}

void p4_xattr_item(struct scan *sc, const struct pmcfs_ckey *k, const uint8_t *body, uint32_t size)
{
	uint32_t pos = 0;

	if (!sc->check)
		return;
	if (!size)
		goto bad;
	while (pos < size) {
		struct pmcfs_xattr x;
		uint32_t nl, vl, esz;
		if (pos + sizeof(x) > size)
			goto bad;
		memcpy(&x, body + pos, sizeof(x));
		nl = le16toh(x.name_len);
		vl = le32toh(x.value_len);
		if (!nl || nl > PMCFS_XATTR_NAME_MAX || vl > PMCFS_MAX_ITEM_BODY || le16toh(x.nchunks))
			goto bad;
		esz = (uint32_t)((sizeof(x) + nl + vl + 7) & ~(size_t)7);
		if (pos + esz > size || memchr(body + pos + sizeof(x), 0, nl) ||
		    pmcfs_name_hash((const char *)body + pos + sizeof(x), nl) != k->offset)
			goto bad;
		pos += esz;
	}
	return;
bad:
	LOCAL(sc, PR_NS_XATTR_BAD, PH_ITEMS, k->objectid, k, 0, 0,
	      "subvolume %llu: inode %llu: xattr item (hash 0x%llx) of %u bytes does not decode",
	      (unsigned long long)sc->s->sv->id, (unsigned long long)k->objectid,
	      (unsigned long long)k->offset, size);
}

bool p4_extent_usable(const struct pmcfs_ckey *k, const void *body, uint32_t size)
{
	struct pmcfs_extent d;
	uint64_t n;

	if (size != sizeof(d))
		return false;
	memcpy(&d, body, sizeof(d));
	n = pmcfs_extent_nblocks(&d);
	return !(k->offset % BS) && n && k->offset / BS + n >= k->offset / BS &&
	       !(pmcfs_extent_flags(&d) & ~(uint64_t)KNOWN_EFLAGS);
}

void p4_extent_item(struct scan *sc, const struct pmcfs_ckey *k, const uint8_t *body, uint32_t size)
{
	struct grp *g = &sc->g;
	struct pmcfs_extent d;
	uint64_t fblk, n, flags, counted = 0;
	const uint64_t area_s = sc->run->ctx->sb.data_start, area_e = sc->run->ctx->sb.data_end;

	memset(&d, 0, sizeof(d));
	if (g->have_inode && !g->inode_bad && g->ftype != PMCFS_FT_REG) {
		p4_item_stray(sc, k, "extent of a file that is not regular");
		return;
	}
	if (size == sizeof(d)) {
		memcpy(&d, body, sizeof(d));
		n = pmcfs_extent_nblocks(&d);
		flags = pmcfs_extent_flags(&d);
		/* What pass 2 counted as references, to release with the item. */
		if (n && pmcfs_extent_phys(&d) >= area_s && pmcfs_extent_phys(&d) < area_e &&
		    n <= area_e - pmcfs_extent_phys(&d))
			counted = n;
	} else {
		n = flags = 0;
	}
	if (!p4_extent_usable(k, body, size)) {
		LOCAL(sc, PR_NS_EXTENT_BAD, PH_ITEMS, k->objectid, k, counted ? pmcfs_extent_phys(&d) : 0,
		      counted, "subvolume %llu: inode %llu offset %llu: %u bytes, %llu blocks, flags 0x%llx",
		      (unsigned long long)sc->s->sv->id, (unsigned long long)k->objectid,
		      (unsigned long long)k->offset, size, (unsigned long long)n,
		      (unsigned long long)flags);
		return;
	}
	fblk = k->offset / BS;
	if (g->has_ext && fblk < g->last_end)
		p4_add_find(sc->s, PR_NS_EXTENT_OVERLAP, PH_ITEMS, k->objectid, k, 0, 0,
			    "subvolume %llu: inode %llu: extent at offset %llu starts inside the previous one (ends at %llu)",
			    (unsigned long long)sc->s->sv->id, (unsigned long long)k->objectid,
			    (unsigned long long)k->offset, (unsigned long long)g->last_end * BS);
	g->has_ext = true;
	if (fblk + n > g->last_end)
		g->last_end = fblk + n;
	g->ext_blocks += n;
	if (!(flags & PMCFS_EXTENT_UNWRITTEN) && fblk + n > g->written_end)
		g->written_end = fblk + n;
}

void p4_symlink_item(struct scan *sc, const struct pmcfs_ckey *k, uint32_t size)
{
	struct grp *g = &sc->g;

	if (g->have_inode && !g->inode_bad && g->ftype != PMCFS_FT_LNK) {
		p4_item_stray(sc, k, "symlink chunk of a file that is not a symlink");
		return;
	}
	g->has_sym = true;
	if (k->offset != g->sym_next || !size || size > PMCFS_SYMLINK_CHUNK ||
	    (size < PMCFS_SYMLINK_CHUNK && k->offset + size != g->size))
		g->sym_bad = true;
	g->sym_next = k->offset + size;
}


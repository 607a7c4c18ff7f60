/*
 * Namespace rows of the crash harness's op table (tests/lib/crash_ops.c):
 * files, directories, symlinks, data, links, renames, reflink, dedupe and
 * xattrs through lib/pmcfs_ns.h, each in the one transaction the harness
 * opens. Targets come from a walk of the live namespace with the op's
 * private rng, so any sequence is meaningful and replays are exact; an op
 * that finds nothing to work on commits an empty transaction.
 *
 * Also the "ns" setup: a populated namespace (no raw test items, so
 * fsck.pmcfs -n can judge every crash image of it).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "crash.h"
#include "pmcfs_ns.h"

#define BS		PMCFS_BLOCK_SIZE
#define MAX_ENTS	512

struct ent {
	uint64_t dir, ino;
	unsigned type;
	size_t len;
	char name[PMCFS_NAME_MAX + 1];
};

struct walk {
	struct ent *e;
	size_t n;
	uint64_t queue[MAX_ENTS];
	size_t nq;
	uint64_t dir;
};

static int walk_fn(void *ctx, const char *name, size_t len, uint64_t ino, unsigned type,
		   uint64_t index)
{
	struct walk *w = ctx;
	struct ent *e;

	(void)index;
	if (w->n == MAX_ENTS)
		return 1;
	e = &w->e[w->n++];
	e->dir = w->dir;
	e->ino = ino;
	e->type = type;
	e->len = len;
	memcpy(e->name, name, len);
	e->name[len] = 0;
	if (type == PMCFS_FT_DIR && w->nq < MAX_ENTS)
		w->queue[w->nq++] = ino;
	return 0;
}

/* Every entry below the root, breadth first (the root itself as entry 0). */
static size_t ns_walk(struct pmcfs_fs *fs, struct pmcfs_tree *t, struct ent *e)
{
	struct walk w = { .e = e, .n = 1 };

	memset(&e[0], 0, sizeof(e[0]));
	e[0].ino = PMCFS_ROOT_INO;
	e[0].type = PMCFS_FT_DIR;
	w.queue[w.nq++] = PMCFS_ROOT_INO;
	for (size_t q = 0; q < w.nq && w.n < MAX_ENTS; q++) {
		w.dir = w.queue[q];
		if (pmcfs_ns_readdir(fs, t, w.dir, walk_fn, &w) < 0)
			break;
	}
	return w.n;
}

struct ctx {
	struct crash_opctx *c;
	struct pmcfs_trans *tx;
	struct pmcfs_tree *t;
	struct ent *e;
	size_t n;
};

/* Mostly the live subvolume, sometimes another writable one with a namespace. */
static int ctx_open(struct ctx *x, struct pmcfs_trans *tx, struct crash_opctx *c)
{
	uint64_t ids[64], id = pmcfs_fs_sb(c->fs)->root_subvol;
	size_t n = crash_list_subvols(c->fs, ids, 64, true, true);
	struct pmcfs_stat st;
	int err;

	x->c = c;
	x->tx = tx;
	x->n = 0;
	x->e = calloc(MAX_ENTS, sizeof(*x->e));
	if (!x->e)
		return -ENOMEM;
	if (n && crash_rand(c) % 4 == 0)
		id = ids[crash_rand(c) % n];
	if ((err = pmcfs_subvol_open(c->fs, id, &x->t)))
		return err;
	if (pmcfs_ns_stat(c->fs, x->t, PMCFS_ROOT_INO, &st) == 0)
		x->n = ns_walk(c->fs, x->t, x->e);
	return 0;
}

/* A random entry of this type (0: any but the root), or NULL. */
static struct ent *pick(struct ctx *x, unsigned type)
{
	size_t cand[MAX_ENTS], n = 0;

	for (size_t i = 1; i < x->n; i++)
		if (!type || x->e[i].type == type)
			cand[n++] = i;
	return n ? &x->e[cand[crash_rand(x->c) % n]] : NULL;
}

static uint64_t pick_dir(struct ctx *x)
{
	struct ent *d = crash_rand(x->c) % 3 ? pick(x, PMCFS_FT_DIR) : NULL;

	return d ? d->ino : PMCFS_ROOT_INO;
}

static size_t new_name(struct ctx *x, char *buf, const char *prefix)
{
	return (size_t)snprintf(buf, 64, "%s%04x", prefix, (unsigned)(crash_rand(x->c) & 0xffff));
}

static uint64_t fsize(struct ctx *x, uint64_t ino)
{
	struct pmcfs_stat st;

	return pmcfs_ns_stat(x->c->fs, x->t, ino, &st) ? 0 : st.size;
}

static int finish(struct ctx *x, int err)
{
	free(x->e);
	/* A name taken or gone by chance is not a failure of the op. */
	return err == -EEXIST || err == -ENOENT ? 0 : err;
}

static void fill(uint8_t *buf, size_t len, uint64_t seed)
{
	for (size_t i = 0; i < len; i++)
		buf[i] = (uint8_t)crash_mix(seed, i / 16) ^ (uint8_t)i;
}

static int write_at(struct ctx *x, uint64_t ino, uint64_t off, size_t len)
{
	uint8_t *buf = malloc(len ? len : 1);
	int err;

	if (!buf)
		return -ENOMEM;
	fill(buf, len, crash_rand(x->c));
	err = pmcfs_ns_write(x->tx, x->t, ino, off, buf, len);
	free(buf);
	return err;
}

/* ---- the ops -------------------------------------------------------------------- */

static int do_create(struct pmcfs_trans *tx, struct crash_opctx *c, uint32_t type)
{
	struct pmcfs_create_args a = { type | 0644, 1000 + (uint32_t)(crash_rand(c) % 3), 100, 0, 0 };
	struct ctx x;
	char name[64], target[700];
	uint64_t ino;
	size_t len, tlen;
	int err = ctx_open(&x, tx, c);

	if (err || !x.n)
		return finish(&x, err);
	len = new_name(&x, name, type == S_IFDIR ? "d" : type == S_IFLNK ? "l" : "f");
	if (type == S_IFLNK) {
		/* Short targets inline, long ones over several items. */
		tlen = crash_rand(c) % 2 ? 1 + crash_rand(c) % 40 : 300 + crash_rand(c) % 380;
		for (size_t i = 0; i < tlen; i++)
			target[i] = (char)('a' + (crash_mix(c->rng, i) % 26));
		err = pmcfs_ns_symlink(tx, x.t, pick_dir(&x), name, len, target, tlen, a.uid, a.gid, &ino);
	} else {
		if (type == S_IFDIR)
			a.mode = S_IFDIR | 0755;
		err = pmcfs_ns_create(tx, x.t, pick_dir(&x), name, len, &a, &ino);
	}
	return finish(&x, err);
}

int crash_op_create(struct pmcfs_trans *tx, struct crash_opctx *c) { return do_create(tx, c, S_IFREG); }
int crash_op_mkdir(struct pmcfs_trans *tx, struct crash_opctx *c) { return do_create(tx, c, S_IFDIR); }
int crash_op_symlink(struct pmcfs_trans *tx, struct crash_opctx *c) { return do_create(tx, c, S_IFLNK); }

/* kind 0: within one block; 1: several blocks, unaligned; 2: a DAX-aligned extent. */
static int do_write(struct pmcfs_trans *tx, struct crash_opctx *c, int kind)
{
	struct ctx x;
	struct ent *f;
	uint64_t size, off, ino;
	size_t len;
	int err = ctx_open(&x, tx, c);

	if (err || !(f = pick(&x, PMCFS_FT_REG)))
		return finish(&x, err);
	ino = f->ino;
	size = fsize(&x, ino);
	if (kind == 0) {
		off = crash_rand(c) % (size + BS);
		len = 1 + crash_rand(c) % (BS - off % BS);
	} else if (kind == 1) {
		off = crash_rand(c) % (size + 2 * BS);
		len = 2 * BS + crash_rand(c) % (3 * BS);
	} else {
		/* A new huge-page file: its data starts on a dax_align boundary. */
		struct pmcfs_create_args a = { S_IFREG | 0600, 0, 0, 0, PMCFS_INODE_HUGE };
		char name[64];
		size_t nlen = new_name(&x, name, "h");
		if ((err = pmcfs_ns_create(tx, x.t, PMCFS_ROOT_INO, name, nlen, &a, &ino)))
			return finish(&x, err);
		off = 0;
		len = 64 * BS + crash_rand(c) % BS;
	}
	return finish(&x, write_at(&x, ino, off, len));
}

int crash_op_write(struct pmcfs_trans *tx, struct crash_opctx *c) { return do_write(tx, c, 0); }
int crash_op_write_multi(struct pmcfs_trans *tx, struct crash_opctx *c) { return do_write(tx, c, 1); }
int crash_op_write_dax(struct pmcfs_trans *tx, struct crash_opctx *c) { return do_write(tx, c, 2); }

struct shared_find {
	struct pmcfs_fs *fs;
	uint64_t off, len;
};

static int shared_fn(void *ctx, const struct pmcfs_extent_info *e)
{
	struct shared_find *s = ctx;
	struct pmcfs_space_info si;

	if (!e->phys || pmcfs_space_lookup(s->fs, e->phys, &si) || si.refcount < 2)
		return 0;
	s->off = e->file_off;
	s->len = e->nblocks * BS;
	return 1;
}

/* Overwrite part of a range a clone shares (refcount > 1): CoW of shared data. */
int crash_op_overwrite_shared(struct pmcfs_trans *tx, struct crash_opctx *c)
{
	size_t cand[MAX_ENTS], n = 0;
	struct shared_find s = { c->fs, 0, 0 };
	struct ctx x;
	int err = ctx_open(&x, tx, c);

	if (err)
		return finish(&x, err);
	for (size_t i = 1; i < x.n; i++)
		if (x.e[i].type == PMCFS_FT_REG)
			cand[n++] = i;
	for (size_t k = 0, start = n ? crash_rand(c) % n : 0; k < n; k++) {
		struct ent *f = &x.e[cand[(start + k) % n]];
		s.len = 0;
		pmcfs_ns_extents(c->fs, x.t, f->ino, shared_fn, &s);
		if (!s.len)
			continue;
		/* Part of the extent, unaligned at both ends. */
		uint64_t off = s.off + crash_rand(c) % s.len;
		size_t len = 1 + crash_rand(c) % (s.off + s.len - off + BS);
		return finish(&x, write_at(&x, f->ino, off, len));
	}
	return finish(&x, 0);
}

static int do_truncate(struct pmcfs_trans *tx, struct crash_opctx *c, bool up)
{
	struct ctx x;
	struct ent *f;
	uint64_t size, to;
	int err = ctx_open(&x, tx, c);

	if (err || !(f = pick(&x, PMCFS_FT_REG)))
		return finish(&x, err);
	size = fsize(&x, f->ino);
	if (up)
		to = size + 1 + crash_rand(c) % (4 * BS);
	else	/* into a block: its tail past the new size reads as zeros */
		to = size ? crash_rand(c) % size : 0;
	if (!up && to % BS == 0 && to)
		to--;
	return finish(&x, pmcfs_ns_truncate(tx, x.t, f->ino, to));
}

int crash_op_trunc_down(struct pmcfs_trans *tx, struct crash_opctx *c) { return do_truncate(tx, c, false); }
int crash_op_trunc_up(struct pmcfs_trans *tx, struct crash_opctx *c) { return do_truncate(tx, c, true); }

int crash_op_punch(struct pmcfs_trans *tx, struct crash_opctx *c)
{
	struct ctx x;
	struct ent *f;
	uint64_t size, off;
	int err = ctx_open(&x, tx, c);

	if (err || !(f = pick(&x, PMCFS_FT_REG)) || !(size = fsize(&x, f->ino)))
		return finish(&x, err);
	off = crash_rand(c) % size;
	return finish(&x, pmcfs_ns_punch(tx, x.t, f->ino, off, 1 + crash_rand(c) % (3 * BS)));
}

static int do_unlink(struct pmcfs_trans *tx, struct crash_opctx *c, unsigned flags)
{
	struct ctx x;
	struct ent *f;
	int err = ctx_open(&x, tx, c);

	/* Files and symlinks; a file "still open" becomes an orphan. */
	if (err || !(f = pick(&x, flags ? PMCFS_FT_REG : 0)) || f->type == PMCFS_FT_DIR)
		return finish(&x, err);
	return finish(&x, pmcfs_ns_unlink(tx, x.t, f->dir, f->name, f->len, flags));
}

int crash_op_unlink(struct pmcfs_trans *tx, struct crash_opctx *c) { return do_unlink(tx, c, 0); }
int crash_op_unlink_open(struct pmcfs_trans *tx, struct crash_opctx *c)
{
	return do_unlink(tx, c, PMCFS_UNLINK_OPEN);
}

/* mode 0: same directory; 1: another directory; 2: over an existing file. */
static int do_rename(struct pmcfs_trans *tx, struct crash_opctx *c, int mode)
{
	struct ctx x;
	struct ent *f, *d;
	char name[64];
	size_t len;
	uint64_t ddir;
	int err = ctx_open(&x, tx, c);

	if (err || !(f = pick(&x, mode == 2 ? PMCFS_FT_REG : 0)))
		return finish(&x, err);
	if (mode == 2) {
		if (!(d = pick(&x, PMCFS_FT_REG)) || d->ino == f->ino)
			return finish(&x, 0);
		return finish(&x, pmcfs_ns_rename(tx, x.t, f->dir, f->name, f->len, d->dir, d->name,
						  d->len, 0));
	}
	len = new_name(&x, name, "r");
	ddir = mode ? pick_dir(&x) : f->dir;
	err = pmcfs_ns_rename(tx, x.t, f->dir, f->name, f->len, ddir, name, len, PMCFS_RENAME_NOREPLACE);
	/* A directory into its own subtree. */
	return finish(&x, err == -EINVAL && f->type == PMCFS_FT_DIR ? 0 : err);
}

int crash_op_rename(struct pmcfs_trans *tx, struct crash_opctx *c) { return do_rename(tx, c, 0); }
int crash_op_rename_dir(struct pmcfs_trans *tx, struct crash_opctx *c) { return do_rename(tx, c, 1); }
int crash_op_rename_over(struct pmcfs_trans *tx, struct crash_opctx *c) { return do_rename(tx, c, 2); }

int crash_op_link(struct pmcfs_trans *tx, struct crash_opctx *c)
{
	struct ctx x;
	struct ent *f;
	char name[64];
	size_t len;
	int err = ctx_open(&x, tx, c);

	if (err || !(f = pick(&x, PMCFS_FT_REG)))
		return finish(&x, err);
	len = new_name(&x, name, "k");
	return finish(&x, pmcfs_ns_link(tx, x.t, f->ino, pick_dir(&x), name, len));
}

/* Whole file or a block-aligned range, into a new file or over part of another. */
int crash_op_clone(struct pmcfs_trans *tx, struct crash_opctx *c)
{
	struct pmcfs_create_args a = { S_IFREG | 0644, 0, 0, 0, 0 };
	struct ctx x;
	struct ent *s, *d;
	char name[64];
	uint64_t size, soff = 0, len = 0, doff = 0, dst;
	int err = ctx_open(&x, tx, c);

	if (err || !(s = pick(&x, PMCFS_FT_REG)) || !(size = fsize(&x, s->ino)))
		return finish(&x, err);
	if (crash_rand(c) % 2 && (d = pick(&x, PMCFS_FT_REG)) && d->ino != s->ino) {
		dst = d->ino;
		soff = crash_rand(c) % (size / BS + 1) * BS;
		if (soff >= size)
			soff = 0;
		len = (crash_rand(c) % ((size - soff) / BS + 1)) * BS;	/* 0: to the end */
		doff = crash_rand(c) % (fsize(&x, dst) / BS + 2) * BS;
		/* A partial EOF block may only land at or past the
		 * destination's end (EINVAL otherwise, as on Linux): clone
		 * whole blocks, or place the range at the end. */
		if (size % BS && (len == 0 || soff + len == size) &&
		    doff + (size - soff) < fsize(&x, dst)) {
			len = (size - soff) / BS * BS;
			if (!len)
				doff = (fsize(&x, dst) + BS - 1) / BS * BS;
		}
	} else {
		size_t nlen = new_name(&x, name, "c");
		if ((err = pmcfs_ns_create(tx, x.t, s->dir, name, nlen, &a, &dst)))
			return finish(&x, err);
	}
	err = pmcfs_ns_clone_range(tx, x.t, s->ino, soff, x.t, dst, doff, len);
	return finish(&x, err);
}

static bool same_bytes(struct ctx *x, uint64_t a, uint64_t b, uint64_t off, uint64_t len)
{
	uint8_t *p = malloc(2 * len);
	size_t ra = 0, rb = 0;
	bool same;

	if (!p)
		return false;
	same = !pmcfs_ns_read(x->c->fs, x->t, a, off, p, len, &ra) &&
	       !pmcfs_ns_read(x->c->fs, x->t, b, off, p + len, len, &rb) && ra == len && rb == len &&
	       !memcmp(p, p + len, len);
	free(p);
	return same;
}

/*
 * Dedupe the first blocks of two files: equal bytes must end up shared,
 * differing bytes must give -PMCFS_EDIFFERS and change nothing (the
 * harness then commits: the state must equal the one before).
 */
static int do_dedupe(struct pmcfs_trans *tx, struct crash_opctx *c, bool equal)
{
	size_t cand[MAX_ENTS], n = 0;
	struct ctx x;
	int err = ctx_open(&x, tx, c);

	if (err)
		return finish(&x, err);
	for (size_t i = 1; i < x.n; i++)
		if (x.e[i].type == PMCFS_FT_REG && fsize(&x, x.e[i].ino) >= BS)
			cand[n++] = i;
	for (size_t k = 0, i0 = n ? crash_rand(c) % n : 0; n > 1 && k < n * n; k++) {
		const struct ent *s = &x.e[cand[(i0 + k / n) % n]], *d = &x.e[cand[(i0 + k) % n]];
		uint64_t len = BS * (1 + crash_rand(c) % 2);
		if (s->ino == d->ino || fsize(&x, s->ino) < len || fsize(&x, d->ino) < len ||
		    same_bytes(&x, s->ino, d->ino, 0, len) != equal)
			continue;
		err = pmcfs_ns_dedupe_range(tx, x.t, s->ino, 0, x.t, d->ino, 0, len);
		if (!equal && err == -PMCFS_EDIFFERS)
			err = 0;
		else if (!equal && !err)
			err = -EPROTO;	/* shared differing bytes */
		return finish(&x, err);
	}
	return finish(&x, 0);
}

int crash_op_dedupe(struct pmcfs_trans *tx, struct crash_opctx *c) { return do_dedupe(tx, c, true); }
int crash_op_dedupe_diff(struct pmcfs_trans *tx, struct crash_opctx *c) { return do_dedupe(tx, c, false); }

int crash_op_xattr(struct pmcfs_trans *tx, struct crash_opctx *c)
{
	static const char *names[] = { "user.a", "user.comment", "security.selinux", "trusted.x" };
	uint8_t val[900];	/* name and value fit one item (PMCFS_MAX_ITEM_BODY) */
	struct ctx x;
	struct ent *f;
	size_t len;
	int err = ctx_open(&x, tx, c);

	if (err || !x.n)
		return finish(&x, err);
	f = crash_rand(c) % 5 ? pick(&x, 0) : &x.e[0];
	if (!f)
		f = &x.e[0];
	len = crash_rand(c) % 2 ? crash_rand(c) % 64 : crash_rand(c) % sizeof(val);
	fill(val, len, crash_rand(c));
	err = pmcfs_ns_setxattr(tx, x.t, f->ino, names[crash_rand(c) % 4], val, len, 0);
	return finish(&x, err == -ENOSPC || err == -E2BIG || err == -ERANGE ? 0 : err);
}

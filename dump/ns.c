// SPDX-License-Identifier: MIT
/*
 * The namespace of one subvolume, for ls, stat, extents, cat, extract and
 * owners. Directories are read raw from their DIR_INDEX items rather than
 * through pmcfs_ns_readdir, so one malformed entry is reported and skipped
 * instead of ending the listing, and every name is checked here: the
 * image is untrusted and a name is never used as a path component unless
 * it is 1..255 bytes without '/' or NUL and is not "." or "..".
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include "pmcfs_endian.h"
#include "pmcfs_ns.h"
#include "dump.h"

#define PATH_DEPTH_MAX 65536	/* parent chains longer than this are loops */

int subvol_by_name(struct pmcfs_fs *fs, const char *name, uint64_t *ret_id)
{
	struct pmcfs_ckey start = { 0, 0, 0 }, k;
	struct pmcfs_iter *it;
	const void *body;
	uint32_t size;
	size_t len = strlen(name), base = sizeof(struct pmcfs_root_item);
	int err = pmcfs_iter_start(fs, pmcfs_fs_roottab(fs), &start, &it);

	if (err)
		return err;
	while ((err = pmcfs_iter_next(it, &k, &body, &size)) > 0) {
		if (k.type == PMCFS_KEY_ROOT && size == base + len &&
		    !memcmp((const char *)body + base, name, len)) {
			*ret_id = k.objectid;
			break;
		}
	}
	pmcfs_iter_free(it);
	return err > 0 ? 0 : err == 0 ? -ENOENT : err;
}

void ns_open(struct ns_ctx *c)
{
	struct pmcfs_subvol_info si;
	int err;

	memset(c, 0, sizeof(*c));
	c->dev = open_device(PMCFS_DEV_RDONLY);
	c->fs = open_fs(c->dev);
	c->subvol = pmcfs_fs_sb(c->fs)->root_subvol;
	if (!c->subvol)
		c->subvol = PMCFS_FIRST_SUBVOL;
	if (opt.snapshot) {
		err = subvol_by_name(c->fs, opt.snapshot, &c->subvol);
		if (err == -ENOENT)
			die(EXIT_CORRUPT, "no such snapshot: %s (see '%s snapshots %s')", esc(opt.snapshot),
			    PROG, opt.device);
		if (err)
			die(EXIT_CORRUPT, "cannot search the root table for %s: %s", esc(opt.snapshot),
			    pmcfs_strerror(err));
	}
	if ((err = pmcfs_subvol_info(c->fs, c->subvol, &si)))
		die(EXIT_CORRUPT, "cannot read subvolume %llu: %s", (unsigned long long)c->subvol,
		    pmcfs_strerror(err));
	snprintf(c->subvol_name, sizeof(c->subvol_name), "%s", si.name);
	if ((err = pmcfs_subvol_open(c->fs, c->subvol, &c->t)))
		die(EXIT_CORRUPT, "cannot open subvolume %llu: %s", (unsigned long long)c->subvol,
		    pmcfs_strerror(err));
}

void ns_close(struct ns_ctx *c)
{
	pmcfs_fs_close(c->fs);
	pmcfs_dev_close(c->dev);
}

uint64_t ns_resolve(struct ns_ctx *c, const char *path)
{
	uint64_t ino;
	int err = pmcfs_ns_resolve(c->fs, c->t, path, &ino);

	if (err)
		die(EXIT_CORRUPT, "cannot resolve %s: %s", esc(path), pmcfs_strerror(err));
	return ino;
}

static bool name_bad(const char *name, size_t len)
{
	return len == 0 || (len == 1 && name[0] == '.') || (len == 2 && name[0] == '.' && name[1] == '.') ||
	       memchr(name, '/', len) || memchr(name, '\0', len);
}

/* One struct pmcfs_dirent + name at body[*pos]; false if it does not fit. */
static bool dent_parse(const uint8_t *body, uint32_t size, uint32_t *pos, struct ns_dent *e)
{
	struct pmcfs_dirent d;

	if (*pos > size || size - *pos < sizeof(d))
		return false;
	memcpy(&d, body + *pos, sizeof(d));
	e->ino = pmcfs_dirent_ino(&d);
	e->index = pmcfs_dirent_index(&d);
	e->type = d.type;
	e->len = pmcfs_dirent_name_len(&d);
	if (e->len > PMCFS_NAME_MAX || size - *pos - sizeof(d) < e->len)
		return false;
	memcpy(e->name, body + *pos + sizeof(d), e->len);
	e->name[e->len] = '\0';
	e->bad_name = name_bad(e->name, e->len);
	*pos += (sizeof(d) + e->len + 7) & ~7u;
	return true;
}

static int dent_cmp(const void *a, const void *b)
{
	const struct ns_dent *x = a, *y = b;
	int r = memcmp(x->name, y->name, x->len < y->len ? x->len : y->len);

	return r ? r : (x->len > y->len) - (x->len < y->len);
}

int ns_dir_list(struct ns_ctx *c, uint64_t dir, const char *path, bool sort,
		struct ns_dent **ret, size_t *ret_n)
{
	struct pmcfs_ckey start = { dir, PMCFS_KEY_DIR_INDEX, 0 }, k;
	struct ns_dent *v = NULL;
	size_t n = 0, cap = 0;
	struct pmcfs_iter *it;
	const void *body;
	uint32_t size;
	int err = pmcfs_iter_start(c->fs, c->t, &start, &it);

	if (err) {
		corrupt("cannot read directory %s: %s", esc(path), pmcfs_strerror(err));
		return err;
	}
	while ((err = pmcfs_iter_next(it, &k, &body, &size)) > 0) {
		uint32_t pos = 0;

		if (k.objectid != dir || k.type != PMCFS_KEY_DIR_INDEX)
			break;
		if (n == cap) {
			struct ns_dent *nv = realloc(v, (cap = cap ? cap * 2 : 64) * sizeof(*v));
			if (!nv)
				die(EXIT_CORRUPT, "out of memory listing %s", esc(path));
			v = nv;
		}
		if (!dent_parse(body, size, &pos, &v[n])) {
			corrupt("directory %s: entry %llu: malformed DIR_INDEX item of %u bytes (corrupt image); skipped",
				esc(path), (unsigned long long)k.offset, size);
			continue;
		}
		if (v[n].bad_name)
			corrupt("directory %s: entry %llu: invalid name \"%s\" (corrupt image); skipped",
				esc(path), (unsigned long long)k.offset, escn(v[n].name, v[n].len));
		n++;
	}
	pmcfs_iter_free(it);
	if (err < 0) {
		corrupt("cannot read directory %s: %s; %zu entries read", esc(path), pmcfs_strerror(err), n);
		err = 0;
	}
	if (sort && n)
		qsort(v, n, sizeof(*v), dent_cmp);
	*ret = v;
	*ret_n = n;
	return 0;
}

char *path_join(const char *dir, const char *name)
{
	size_t a = strlen(dir), b = strlen(name);
	char *p = xcalloc(1, a + b + 2);

	memcpy(p, dir, a);
	if (a && dir[a - 1] != '/')
		p[a++] = '/';
	memcpy(p + a, name, b);
	return p;
}

void put_escaped(FILE *f, const char *str, size_t len)
{
	const unsigned char *s = (const unsigned char *)str, *end = s + len;
	size_t n;

	while (s < end) {
		if (*s >= 0x20 && *s < 0x7f && *s != '\\')
			fputc(*s++, f);
		else if (*s >= 0x80 && (n = utf8_len(s, end - s)))
			fwrite(s, 1, n, f), s += n;
		else
			fprintf(f, "\\x%02x", *s++);
	}
}

const char *esc(const char *s)
{
	return escn(s, strlen(s));
}

const char *escn(const char *s, size_t len)
{
	static char *ring[4];
	static unsigned next;
	char *buf = NULL;
	size_t sz = 0;
	FILE *f = open_memstream(&buf, &sz);

	if (!f)
		return "?";
	put_escaped(f, s, len);
	fclose(f);
	free(ring[next % 4]);
	ring[next++ % 4] = buf;
	return buf;
}

void mode_string(uint32_t mode, char b[11])
{
	static const char types[] = "?pc?d?b?-?l?s???";
	static const char rwx[] = "rwxrwxrwx";

	b[0] = types[(mode >> 12) & 15];
	for (int i = 0; i < 9; i++)
		b[1 + i] = mode & (0400 >> i) ? rwx[i] : '-';
	if (mode & S_ISUID)
		b[3] = b[3] == 'x' ? 's' : 'S';
	if (mode & S_ISGID)
		b[6] = b[6] == 'x' ? 's' : 'S';
	if (mode & S_ISVTX)
		b[9] = b[9] == 'x' ? 't' : 'T';
	b[10] = '\0';
}

void time_string(int64_t sec, uint32_t nsec, char *buf, size_t sz)
{
	time_t t = (time_t)sec;
	struct tm tm;
	char a[64], z[16];

	if (!localtime_r(&t, &tm)) {
		snprintf(buf, sz, "@%lld.%09u", (long long)sec, nsec);
		return;
	}
	strftime(a, sizeof(a), "%Y-%m-%d %H:%M:%S", &tm);
	strftime(z, sizeof(z), "%z", &tm);
	snprintf(buf, sz, "%s.%09u %s", a, nsec, z);
}

void json_time(const char *key, int64_t sec, uint32_t nsec)
{
	json_obj_begin(key);
	json_i64("sec", sec);
	json_u64("nsec", nsec);
	json_obj_end();
}

const char *ftype_name(uint32_t mode)
{
	switch (mode & S_IFMT) {
	case S_IFREG: return "file";
	case S_IFDIR: return "directory";
	case S_IFLNK: return "symlink";
	case S_IFCHR: return "chardev";
	case S_IFBLK: return "blockdev";
	case S_IFIFO: return "fifo";
	case S_IFSOCK: return "socket";
	}
	return "unknown";
}

bool u64set_add(struct u64set *s, uint64_t v)
{
	size_t i;

	if (2 * (s->n + 1) > s->cap) {
		struct u64set ns = { xcalloc(s->cap ? s->cap * 2 : 256, sizeof(uint64_t)),
				     s->cap ? s->cap * 2 : 256, 0 };
		for (i = 0; i < s->cap; i++)
			if (s->slots[i])
				u64set_add(&ns, s->slots[i] - 1);
		free(s->slots);
		*s = ns;
	}
	for (i = ((v + 1) * 0x9e3779b97f4a7c15ULL) & (s->cap - 1); s->slots[i]; i = (i + 1) & (s->cap - 1))
		if (s->slots[i] == v + 1)
			return false;
	s->slots[i] = v + 1;
	s->n++;
	return true;
}

void u64set_free(struct u64set *s)
{
	free(s->slots);
	memset(s, 0, sizeof(*s));
}

/* The first INODE_REF name of ino and its parent; false if there is none. */
static bool first_ref(struct ns_ctx *c, uint64_t ino, struct ns_dent *e, uint64_t *parent)
{
	struct pmcfs_ckey start = { ino, PMCFS_KEY_INODE_REF, 0 }, k;
	struct pmcfs_iter *it;
	const void *body;
	uint32_t size, pos = 0;
	bool ok = false;

	if (pmcfs_iter_start(c->fs, c->t, &start, &it))
		return false;
	if (pmcfs_iter_next(it, &k, &body, &size) > 0 && k.objectid == ino &&
	    k.type == PMCFS_KEY_INODE_REF && dent_parse(body, size, &pos, e)) {
		*parent = k.offset;
		ok = true;
	}
	pmcfs_iter_free(it);
	return ok;
}

/* "/a/b" for a directory, walking its first back-reference up to the root. */
static char *dir_path(struct ns_ctx *c, uint64_t dir)
{
	char *path = xcalloc(1, 2), *p;
	struct ns_dent e;
	uint64_t parent;

	for (unsigned depth = 0; dir != PMCFS_ROOT_INO; depth++) {
		if (depth > PATH_DEPTH_MAX || !first_ref(c, dir, &e, &parent)) {
			p = path_join("?", path);	/* no way up: say so */
			free(path);
			path = p;
			break;
		}
		p = path_join(e.name, path);
		free(path);
		path = p;
		dir = parent;
	}
	p = path[0] == '?' ? path : path_join("/", path);
	if (p != path)
		free(path);
	if (strlen(p) > 1 && p[strlen(p) - 1] == '/')
		p[strlen(p) - 1] = '\0';
	return p;
}

size_t ino_paths(struct ns_ctx *c, uint64_t ino, char **ret, size_t max)
{
	struct pmcfs_ckey start = { ino, PMCFS_KEY_INODE_REF, 0 }, k;
	struct pmcfs_iter *it;
	const void *body;
	uint32_t size;
	size_t n = 0, i;
	struct {
		uint64_t parent;
		char name[PMCFS_NAME_MAX + 1];
	} *refs = xcalloc(max, sizeof(*refs));

	if (ino == PMCFS_ROOT_INO && max) {
		ret[0] = xcalloc(1, 2);
		ret[0][0] = '/';
		free(refs);
		return 1;
	}
	/* Collect first, then walk parents: walking restarts iterators. */
	if (!pmcfs_iter_start(c->fs, c->t, &start, &it)) {
		while (n < max && pmcfs_iter_next(it, &k, &body, &size) > 0 && k.objectid == ino &&
		       k.type == PMCFS_KEY_INODE_REF) {
			uint32_t pos = 0;
			struct ns_dent e;

			while (n < max && pos < size && dent_parse(body, size, &pos, &e)) {
				refs[n].parent = k.offset;
				memcpy(refs[n++].name, e.name, e.len + 1);
			}
		}
		pmcfs_iter_free(it);
	}
	for (i = 0; i < n; i++) {
		char *d = dir_path(c, refs[i].parent);

		ret[i] = path_join(d, refs[i].name);
		free(d);
	}
	free(refs);
	return n;
}

static int ext_list_add(void *ctx, const struct pmcfs_extent_info *e)
{
	struct ext_list *l = ctx;

	if (!(l->n & (l->n + 1)) || !l->n) {
		void *p = realloc(l->e, (l->n + 1) * 2 * sizeof(*l->e));
		if (!p)
			return -ENOMEM;
		l->e = p;
	}
	l->e[l->n++] = *e;
	return 0;
}

int ext_list_read(struct ns_ctx *c, uint64_t ino, struct ext_list *l)
{
	return pmcfs_ns_extents(c->fs, c->t, ino, ext_list_add, l);
}

// SPDX-License-Identifier: MIT
/*
 * ls [-l] [-R] PATH: names, or with -l mode, links, owner, size, mtime
 * with nanoseconds and symlink targets; -R descends (each directory once:
 * a corrupt image may make one reachable twice).
 * stat PATH: every field of the inode item, through inode_fields, with
 * the four times decoded and the xattrs listed.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include "pmcfs_endian.h"
#include "pmcfs_ns.h"
#include "dump.h"

#define XATTR_SHOW_MAX 64	/* value bytes shown in text */

const char *const cmd_ls_usage[] = {
	"ls [-l] [-R] PATH",
	"list a directory (or one file) of the live filesystem or --snapshot NAME",
	"Names are sorted bytewise; bytes that are not printable UTF-8 are shown",
	"as \\xNN. -l adds the mode, link count, uid, gid, size (major, minor for",
	"devices), mtime with nanoseconds and symlink targets. An entry whose name",
	"is invalid (empty, \".\", \"..\", or with '/' or NUL) is reported as",
	"corruption, listed escaped, and never descended into.",
	NULL
};

const char *const cmd_stat_usage[] = {
	"stat PATH",
	"every field of an inode, its four times, symlink target and xattrs",
	NULL
};

struct ls_run {
	struct ns_ctx c;
	struct u64set seen;
};

static void target_of(struct ns_ctx *c, uint64_t ino, const char *path, char *buf, size_t sz,
		      size_t *len)
{
	int err = pmcfs_ns_readlink(c->fs, c->t, ino, buf, sz, len);

	if (err) {
		corrupt("cannot read the symlink %s: %s", esc(path), pmcfs_strerror(err));
		*len = 0;
	}
}

static void print_entry(struct ls_run *r, const char *path, const char *name, size_t nlen,
			uint64_t ino, bool bad_name)
{
	struct pmcfs_stat st;
	char mode[11], t[64], target[PATH_MAX];
	size_t tlen = 0;
	int err = pmcfs_ns_stat(r->c.fs, r->c.t, ino, &st);

	if (err)
		corrupt("cannot stat %s (inode %llu): %s", esc(path), (unsigned long long)ino,
			pmcfs_strerror(err));
	else if (S_ISLNK(st.mode))
		target_of(&r->c, ino, path, target, sizeof(target), &tlen);
	if (opt.json) {
		json_obj_begin(NULL);
		json_str("path", path);
		json_strn("name", name, nlen);
		json_u64("ino", ino);
		if (bad_name)
			json_bool("invalid_name", true);
		if (err) {
			json_str("error", pmcfs_strerror(err));
			json_obj_end();
			return;
		}
		mode_string(st.mode, mode);
		json_str("type", ftype_name(st.mode));
		json_u64("mode", st.mode);
		json_str("mode_string", mode);
		json_u64("nlink", st.nlink);
		json_u64("uid", st.uid);
		json_u64("gid", st.gid);
		json_u64("size", st.size);
		json_u64("rdev", st.rdev);
		json_time("mtime", st.mtime.tv_sec, (uint32_t)st.mtime.tv_nsec);
		if (S_ISLNK(st.mode))
			json_strn("target", target, tlen);
		json_obj_end();
		return;
	}
	if (opt.long_list) {
		if (err) {
			printf("?????????? ? ? ? ? ? ");
		} else {
			mode_string(st.mode, mode);
			time_string(st.mtime.tv_sec, (uint32_t)st.mtime.tv_nsec, t, sizeof(t));
			printf("%s %u %u %u ", mode, st.nlink, st.uid, st.gid);
			if (S_ISCHR(st.mode) || S_ISBLK(st.mode))
				printf("%u, %u ", major(st.rdev), minor(st.rdev));
			else
				printf("%llu ", (unsigned long long)st.size);
			printf("%s ", t);
		}
	}
	put_escaped(stdout, name, nlen);
	if (opt.long_list && !err && S_ISLNK(st.mode)) {
		fputs(" -> ", stdout);
		put_escaped(stdout, target, tlen);
	}
	if (bad_name)
		fputs(" (invalid name)", stdout);
	putchar('\n');
}

static void list_dir(struct ls_run *r, uint64_t dir, const char *path)
{
	struct ns_dent *v;
	size_t n, i;

	if (!u64set_add(&r->seen, dir)) {
		corrupt("directory %s (inode %llu) reached twice (a directory cycle in a corrupt image); not listed again",
			esc(path), (unsigned long long)dir);
		return;
	}
	if (opt.recursive && !opt.json) {
		put_escaped(stdout, path, strlen(path));
		fputs(":\n", stdout);
	}
	if (ns_dir_list(&r->c, dir, path, true, &v, &n))
		return;
	for (i = 0; i < n; i++) {
		char *p = path_join(path, v[i].name);

		print_entry(r, p, v[i].name, v[i].len, v[i].ino, v[i].bad_name);
		free(p);
	}
	if (opt.recursive) {
		for (i = 0; i < n; i++) {
			struct pmcfs_stat st;
			char *p;

			if (v[i].bad_name || pmcfs_ns_stat(r->c.fs, r->c.t, v[i].ino, &st) ||
			    !S_ISDIR(st.mode))
				continue;
			if (!opt.json)
				putchar('\n');
			p = path_join(path, v[i].name);
			list_dir(r, v[i].ino, p);
			free(p);
		}
	}
	free(v);
}

int cmd_ls(int argc, char **argv)
{
	struct ls_run r = { 0 };
	struct pmcfs_stat st;
	uint64_t ino;
	int err;

	(void)argc;
	ns_open(&r.c);
	ino = ns_resolve(&r.c, argv[0]);
	if (opt.json) {
		json_obj_begin(NULL);
		json_obj_begin("subvolume");
		json_u64("id", r.c.subvol);
		json_str("name", r.c.subvol_name);
		json_obj_end();
		json_str("path", argv[0]);
		json_arr_begin("entries");
	}
	err = pmcfs_ns_stat(r.c.fs, r.c.t, ino, &st);
	if (err)
		corrupt("cannot stat %s: %s", esc(argv[0]), pmcfs_strerror(err));
	else if (S_ISDIR(st.mode))
		list_dir(&r, ino, argv[0]);
	else
		print_entry(&r, argv[0], argv[0], strlen(argv[0]), ino, false);
	if (opt.json) {
		json_arr_end();
		json_obj_end();
		json_done();
	}
	u64set_free(&r.seen);
	ns_close(&r.c);
	return 0;
}

/* ---- stat -------------------------------------------------------------------- */

static int xattr_cb(void *ctx, const char *name, const void *value, size_t size)
{
	(void)ctx;
	if (opt.json) {
		json_obj_begin(NULL);
		json_str("name", name);
		json_u64("size", size);
		json_strn("value", value, size);
		json_base64("value_base64", value, size);
		json_obj_end();
	} else {
		printf("  %s (%zu bytes) = \"", esc(name), size);
		put_escaped(stdout, value, size < XATTR_SHOW_MAX ? size : XATTR_SHOW_MAX);
		printf("\"%s\n", size > XATTR_SHOW_MAX ? "..." : "");
	}
	return 0;
}

static void show_time(const char *name, const struct pmcfs_timespec *ts)
{
	int64_t sec = (int64_t)pmcfs_timespec_sec(ts);
	uint32_t nsec = pmcfs_timespec_nsec(ts);
	char t[64];

	if (opt.json) {
		json_time(name, sec, nsec);
		return;
	}
	time_string(sec, nsec, t, sizeof(t));
	printf("%-7s %s\n", name, t);
}

int cmd_stat(int argc, char **argv)
{
	struct pmcfs_ckey k = { 0, PMCFS_KEY_INODE, 0 };
	struct pmcfs_inode raw;
	struct ns_ctx c;
	uint32_t size = 0, mode;
	char ms[11], target[PATH_MAX];
	size_t tlen = 0;
	int err;

	(void)argc;
	ns_open(&c);
	k.objectid = ns_resolve(&c, argv[0]);
	memset(&raw, 0, sizeof(raw));
	err = pmcfs_tree_lookup(c.fs, c.t, &k, &raw, sizeof(raw), &size);
	if (!err && size != sizeof(raw))
		err = -PMCFS_ECORRUPT;
	if (err)
		die(EXIT_CORRUPT, "cannot read the inode of %s (inode %llu): %s", esc(argv[0]),
		    (unsigned long long)k.objectid, pmcfs_strerror(err));
	mode = pmcfs_inode_mode(&raw);
	mode_string(mode, ms);
	if (S_ISLNK(mode))
		target_of(&c, k.objectid, argv[0], target, sizeof(target), &tlen);
	if (opt.json) {
		json_obj_begin(NULL);
		json_str("path", argv[0]);
		json_obj_begin("subvolume");
		json_u64("id", c.subvol);
		json_str("name", c.subvol_name);
		json_obj_end();
		json_u64("ino", k.objectid);
		json_str("type", ftype_name(mode));
		json_str("mode_string", ms);
		json_obj_begin("inode");
		fields_print(inode_fields, &raw, NULL, false);
		json_obj_end();
	} else {
		printf("path:   %s\nsubvol: %llu (%s)\nino:    %llu\ntype:   %s\nmode:   %s\n",
		       esc(argv[0]), (unsigned long long)c.subvol, esc(c.subvol_name),
		       (unsigned long long)k.objectid, ftype_name(mode), ms);
		if (S_ISCHR(mode) || S_ISBLK(mode))
			printf("device: %u, %u\n", major(pmcfs_inode_rdev(&raw)), minor(pmcfs_inode_rdev(&raw)));
	}
	show_time("atime", &raw.atime);
	show_time("mtime", &raw.mtime);
	show_time("ctime", &raw.ctime);
	show_time("crtime", &raw.crtime);
	if (S_ISLNK(mode)) {
		if (opt.json) {
			json_strn("target", target, tlen);
		} else {
			fputs("target: ", stdout);
			put_escaped(stdout, target, tlen);
			putchar('\n');
		}
	}
	if (!opt.json)
		printf("inode item:\n");
	if (!opt.json)
		fields_print(inode_fields, &raw, "  ", false);
	if (opt.json)
		json_arr_begin("xattrs");
	else
		printf("xattrs:\n");
	err = pmcfs_ns_listxattr(c.fs, c.t, k.objectid, xattr_cb, NULL);
	if (err)
		corrupt("cannot list the xattrs of %s: %s", esc(argv[0]), pmcfs_strerror(err));
	if (opt.json) {
		json_arr_end();
		json_obj_end();
		json_done();
	}
	ns_close(&c);
	return 0;
}

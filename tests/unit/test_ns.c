/*
 * Directed namespace tests: every operation once, the error each misuse
 * must give, and a clean audit (structure and exact refcounts) after
 * every commit, including across reopen.
 */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include "fsaudit.h"
#include "pmcfs_ns.h"
#include "tcheck.h"

static struct pmcfs_dev *dev;
static struct pmcfs_fs *fs;
static struct pmcfs_trans *tx;
static struct pmcfs_tree *t;

static void begin(void)
{
	CHECK_OK(pmcfs_trans_begin(fs, &tx));
	CHECK_OK(pmcfs_subvol_open(fs, PMCFS_FIRST_SUBVOL, &t));
}

static void commit_and_audit(void)
{
	struct fsaudit a;

	CHECK_OK(pmcfs_trans_commit(tx));
	CHECK(fsaudit_run(fs, &a) == 0);
	if (a.errors)
		fprintf(stderr, "audit: %s\n", a.first_error);
	fsaudit_free(&a);
}

static uint64_t mk(uint64_t dir, const char *name, uint32_t mode)
{
	struct pmcfs_create_args a = { mode, 1000, 1000, 0, 0 };
	uint64_t ino = 0;

	CHECK_OK(pmcfs_ns_create(tx, t, dir, name, strlen(name), &a, &ino));
	return ino;
}

static int nlink_of(uint64_t ino)
{
	struct pmcfs_stat st;

	CHECK_OK(pmcfs_ns_stat(fs, t, ino, &st));
	return st.nlink;
}

static int count_fn(void *ctx, const char *name, size_t len, uint64_t ino, unsigned type, uint64_t idx)
{
	(*(int *)ctx)++;
	return 0;
}

static int first_extent(void *ctx, const struct pmcfs_extent_info *e)
{
	struct pmcfs_extent_info *seen = ctx;

	if (!seen->nblocks)
		*seen = *e;
	return 0;
}

static uint64_t shared_blocks(uint64_t ino)
{
	struct pmcfs_stat st;
	CHECK_OK(pmcfs_ns_stat(fs, t, ino, &st));
	return st.nblocks;
}

int main(void)
{
	struct pmcfs_mkfs_params p = { .mkfs_time = 1700000000 };
	static uint8_t buf[1 << 20], back[1 << 20];
	uint64_t d1, d2, f, g, ino, l;
	size_t got, n;
	char target[4096];
	int count;

	memset(p.uuid, 0x22, 16);
	CHECK_OK(pmcfs_dev_mem_open(256ULL << 20, &dev));
	CHECK_OK(pmcfs_mkfs(dev, &p, NULL));
	CHECK_OK(pmcfs_fs_open(dev, 0, &fs));

	/* Directories and files, nlink convention, lookups and errors. */
	begin();
	d1 = mk(PMCFS_ROOT_INO, "d1", S_IFDIR | 0755);
	d2 = mk(d1, "d2", S_IFDIR | 0700);
	f = mk(d2, "file", S_IFREG | 0644);
	CHECK(nlink_of(PMCFS_ROOT_INO) == 3 && nlink_of(d1) == 3 && nlink_of(d2) == 2);
	CHECK_OK(pmcfs_ns_resolve(fs, t, "/d1/d2/file", &ino));
	CHECK(ino == f);
	CHECK_OK(pmcfs_ns_resolve(fs, t, "d1/./d2/../d2//file", &ino));
	CHECK(ino == f);
	CHECK(pmcfs_ns_resolve(fs, t, "/d1/nope", &ino) == -ENOENT);
	CHECK(pmcfs_ns_resolve(fs, t, "/d1/d2/file/x", &ino) == -ENOTDIR);
	{
		struct pmcfs_create_args a = { S_IFREG | 0644, 0, 0, 0, 0 };
		CHECK(pmcfs_ns_create(tx, t, d2, "file", 4, &a, &ino) == -EEXIST);
		CHECK(pmcfs_ns_create(tx, t, d2, "a/b", 3, &a, &ino) == -EINVAL);
		CHECK(pmcfs_ns_create(tx, t, d2, "..", 2, &a, &ino) == -EINVAL);
		CHECK(pmcfs_ns_create(tx, t, f, "x", 1, &a, &ino) == -ENOTDIR);
		memset(target, 'n', 256);
		CHECK(pmcfs_ns_create(tx, t, d2, target, 256, &a, &ino) == -ENAMETOOLONG);
		CHECK_OK(pmcfs_ns_create(tx, t, d2, target, 255, &a, &ino));
	}
	commit_and_audit();

	/* Data: write, read back, holes, overwrite (copy-on-write), truncate, punch. */
	begin();
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)(i * 7 + 3);
	CHECK_OK(pmcfs_ns_write(tx, t, f, 10, buf, 100000));
	CHECK_OK(pmcfs_ns_write(tx, t, f, 5 << 20, buf, 4096));
	CHECK_OK(pmcfs_ns_read(fs, t, f, 10, back, 100000, &got));
	CHECK(got == 100000 && !memcmp(back, buf, 100000));
	CHECK_OK(pmcfs_ns_read(fs, t, f, 1 << 20, back, 4096, &got));
	CHECK(got == 4096 && back[0] == 0 && back[4095] == 0);	/* hole */
	commit_and_audit();
	begin();
	CHECK_OK(pmcfs_ns_write(tx, t, f, 50, "XYZ", 3));	/* inside a committed block */
	CHECK_OK(pmcfs_ns_read(fs, t, f, 40, back, 20, &got));
	CHECK(!memcmp(back, buf + 30, 10) && !memcmp(back + 10, "XYZ", 3) && !memcmp(back + 13, buf + 43, 7));
	CHECK_OK(pmcfs_ns_truncate(tx, t, f, 5000));
	CHECK_OK(pmcfs_ns_truncate(tx, t, f, 9000));
	CHECK_OK(pmcfs_ns_read(fs, t, f, 4990, back, 4010, &got));
	CHECK(got == 4010 && back[0] == buf[4980] && back[10] == 0 && back[4009] == 0);
	CHECK_OK(pmcfs_ns_punch(tx, t, f, 100, 4000));
	CHECK_OK(pmcfs_ns_read(fs, t, f, 0, back, 5000, &got));
	CHECK(back[99] == buf[89] && back[100] == 0 && back[4099] == 0 && back[4100] == buf[4090]);
	commit_and_audit();

	/* A 4 MiB write at a 2 MiB offset lands on the DAX alignment. */
	begin();
	g = mk(d1, "big", S_IFREG | 0600);
	for (int i = 0; i < 4; i++)
		CHECK_OK(pmcfs_ns_write(tx, t, g, (2 << 20) + i * (1 << 20), buf, 1 << 20));
	commit_and_audit();
	{
		struct pmcfs_extent_info seen = { 0 };
		CHECK_OK(pmcfs_ns_extents(fs, t, g, first_extent, &seen));
		CHECK(seen.file_off == 2 << 20 && seen.phys % 512 == 0 && seen.nblocks >= 512);
	}

	/* Hard links, symlinks, rename, unlink, rmdir. */
	begin();
	CHECK_OK(pmcfs_ns_link(tx, t, f, d1, "hard", 4));
	CHECK(nlink_of(f) == 2);
	CHECK(pmcfs_ns_link(tx, t, d2, d1, "dirlink", 7) == -EPERM);
	memset(target, 'x', 4095);
	CHECK_OK(pmcfs_ns_symlink(tx, t, d1, "sym", 3, target, 4095, 0, 0, &l));
	CHECK_OK(pmcfs_ns_readlink(fs, t, l, (char *)back, sizeof(back), &n));
	CHECK(n == 4095 && !memcmp(back, target, n));
	CHECK(pmcfs_ns_symlink(tx, t, d1, "s2", 2, target, 4096, 0, 0, &ino) == -ENAMETOOLONG);
	CHECK_OK(pmcfs_ns_rename(tx, t, d1, "hard", 4, PMCFS_ROOT_INO, "moved", 5, 0));
	CHECK_OK(pmcfs_ns_resolve(fs, t, "/moved", &ino));
	CHECK(ino == f);
	CHECK(pmcfs_ns_rename(tx, t, PMCFS_ROOT_INO, "d1", 2, d2, "inside", 6, 0) == -EINVAL);
	CHECK_OK(pmcfs_ns_rename(tx, t, d1, "d2", 2, PMCFS_ROOT_INO, "d2top", 5, 0));
	CHECK(nlink_of(d1) == 2 && nlink_of(PMCFS_ROOT_INO) == 4);
	CHECK(pmcfs_ns_unlink(tx, t, PMCFS_ROOT_INO, "d2top", 5, 0) == -EISDIR);
	CHECK(pmcfs_ns_unlink(tx, t, PMCFS_ROOT_INO, "d2top", 5, PMCFS_UNLINK_DIR) == -ENOTEMPTY);
	CHECK_OK(pmcfs_ns_unlink(tx, t, PMCFS_ROOT_INO, "moved", 5, 0));
	CHECK(nlink_of(f) == 1);
	count = 0;
	CHECK_OK(pmcfs_ns_readdir(fs, t, d2, count_fn, &count));
	CHECK(count == 2);
	commit_and_audit();

	/* Unlinked while open: kept on the orphan list until finished. */
	begin();
	CHECK_OK(pmcfs_ns_unlink(tx, t, d2, "file", 4, PMCFS_UNLINK_OPEN));
	CHECK(nlink_of(f) == 0);
	commit_and_audit();
	{
		/* A snapshot is taken without the orphans: only the source holds the file open. */
		struct pmcfs_stat st;
		struct pmcfs_tree *ot;
		uint64_t osnap;
		begin();
		CHECK_OK(pmcfs_subvol_snapshot(tx, PMCFS_FIRST_SUBVOL, "with-orphan",
					       PMCFS_SNAP_RDONLY, &osnap));
		commit_and_audit();
		CHECK_OK(pmcfs_subvol_open(fs, osnap, &ot));
		CHECK(pmcfs_ns_stat(fs, ot, f, &st) == -ENOENT);
		CHECK_OK(pmcfs_ns_stat(fs, t, f, &st));
		begin();
		CHECK_OK(pmcfs_subvol_delete(tx, osnap));
		commit_and_audit();
	}
	begin();
	CHECK_OK(pmcfs_ns_orphans_finish(tx, t, &n));
	CHECK(n == 1);
	{
		struct pmcfs_stat st;
		CHECK(pmcfs_ns_stat(fs, t, f, &st) == -ENOENT);
	}
	commit_and_audit();

	/* Xattrs of several namespaces, create/replace semantics, size limit. */
	begin();
	CHECK_OK(pmcfs_ns_setxattr(tx, t, d1, "user.a", "1", 1, 0));
	CHECK_OK(pmcfs_ns_setxattr(tx, t, d1, "trusted.b", "", 0, 0));
	CHECK_OK(pmcfs_ns_setxattr(tx, t, d1, "system.posix_acl_access", buf, 44, 0));
	CHECK(pmcfs_ns_setxattr(tx, t, d1, "user.a", "2", 1, PMCFS_XATTR_CREATE) == -EEXIST);
	CHECK(pmcfs_ns_setxattr(tx, t, d1, "user.z", "2", 1, PMCFS_XATTR_REPLACE) == -ENODATA);
	CHECK_OK(pmcfs_ns_setxattr(tx, t, d1, "user.a", "22", 2, PMCFS_XATTR_REPLACE));
	CHECK(pmcfs_ns_setxattr(tx, t, d1, "user.big", buf, 4000, 0) == -E2BIG);
	CHECK_OK(pmcfs_ns_getxattr(fs, t, d1, "user.a", back, sizeof(back), &n));
	CHECK(n == 2 && !memcmp(back, "22", 2));
	CHECK(pmcfs_ns_getxattr(fs, t, d1, "user.a", back, 1, &n) == -ERANGE);
	CHECK_OK(pmcfs_ns_removexattr(tx, t, d1, "trusted.b"));
	CHECK(pmcfs_ns_getxattr(fs, t, d1, "trusted.b", back, 10, &n) == -ENODATA);
	commit_and_audit();

	/* Reflink and dedupe across files, exact refcounts (the audit), errors. */
	begin();
	uint64_t a = mk(PMCFS_ROOT_INO, "a", S_IFREG | 0644), b = mk(PMCFS_ROOT_INO, "b", S_IFREG | 0644);
	CHECK_OK(pmcfs_ns_write(tx, t, a, 0, buf, 64 * 1024));
	CHECK_OK(pmcfs_ns_clone_range(tx, t, a, 0, t, b, 0, 0));
	CHECK(shared_blocks(b) == 16);
	CHECK_OK(pmcfs_ns_write(tx, t, b, 4096 + 10, "Q", 1));	/* CoW of one shared block */
	CHECK_OK(pmcfs_ns_read(fs, t, a, 4096 + 10, back, 1, &got));
	CHECK(back[0] == buf[4096 + 10]);
	CHECK(pmcfs_ns_dedupe_range(tx, t, a, 0, t, b, 0, 8192) == -PMCFS_EDIFFERS);
	CHECK_OK(pmcfs_ns_write(tx, t, b, 4096 + 10, buf + 4096 + 10, 1));
	CHECK_OK(pmcfs_ns_dedupe_range(tx, t, a, 0, t, b, 0, 8192));
	CHECK(pmcfs_ns_clone_range(tx, t, a, 1, t, b, 0, 4096) == -EINVAL);
	CHECK(pmcfs_ns_clone_range(tx, t, a, 0, t, a, 4096, 8192) == -EINVAL);
	CHECK(pmcfs_ns_clone_range(tx, t, a, 0, t, d1, 0, 4096) == -EISDIR);
	commit_and_audit();

	/* Snapshot isolation: writes after a snapshot never change it. */
	{
		uint64_t snap;
		struct pmcfs_tree *st;
		begin();
		CHECK_OK(pmcfs_subvol_snapshot(tx, PMCFS_FIRST_SUBVOL, "s1", PMCFS_SNAP_RDONLY, &snap));
		CHECK_OK(pmcfs_ns_write(tx, t, a, 0, "changed", 7));
		CHECK_OK(pmcfs_ns_unlink(tx, t, PMCFS_ROOT_INO, "b", 1, 0));
		commit_and_audit();
		CHECK_OK(pmcfs_subvol_open(fs, snap, &st));
		CHECK_OK(pmcfs_ns_read(fs, st, a, 0, back, 64 * 1024, &got));
		CHECK(got == 64 * 1024 && !memcmp(back, buf, got));
		CHECK_OK(pmcfs_ns_resolve(fs, st, "/b", &ino));
		CHECK_OK(pmcfs_ns_read(fs, t, a, 0, back, 7, &got));
		CHECK(!memcmp(back, "changed", 7));
		begin();
		/* A read-only snapshot refuses changes; deleting it is allowed. */
		CHECK(pmcfs_ns_write(tx, st, a, 0, "x", 1) == -EROFS);
		CHECK(pmcfs_ns_unlink(tx, st, PMCFS_ROOT_INO, "a", 1, 0) == -EROFS);
		CHECK_OK(pmcfs_subvol_delete(tx, snap));
		commit_and_audit();
		/* Ids are never reused, so a stale parent id cannot name a stranger. */
		begin();
		uint64_t snap2;
		CHECK_OK(pmcfs_subvol_snapshot(tx, PMCFS_FIRST_SUBVOL, "s2", 0, &snap2));
		CHECK(snap2 > snap);
		CHECK(pmcfs_subvol_delete(tx, PMCFS_FIRST_SUBVOL) == -EBUSY);
		commit_and_audit();
	}

	pmcfs_fs_close(fs);
	CHECK_OK(pmcfs_fs_open(dev, 0, &fs));
	CHECK_OK(pmcfs_subvol_open(fs, PMCFS_FIRST_SUBVOL, &t));
	CHECK_OK(pmcfs_ns_resolve(fs, t, "/d1/sym", &ino));
	CHECK(ino == l);
	pmcfs_fs_close(fs);
	pmcfs_dev_close(dev);
	return tcheck_done("test_ns");
}

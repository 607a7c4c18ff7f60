// SPDX-License-Identifier: MIT
/*
 * AFL++ fuzz harness: runs the real fsck.pmcfs or pmcfs-dump code on an
 * image given in the compact PMCFZ format (see tests/fuzz/README.md):
 *
 *   bytes 0..7   "PMCFZ1\n\0" (not checked: a mutated magic still runs)
 *   bytes 8..11  nblocks, le32, clamped to PMCFZ_MAX_BLOCKS
 *   bytes 12..15 zero
 *   then records: le32 block number, 4096 bytes of block (the last one
 *   may be short); blocks not listed are zero, records beyond nblocks
 *   are ignored.
 *
 * The image is expanded into a memfd and the tool sees it as
 * /proc/self/fd/N. scripts/fuzz-build.sh links this file with the tool's
 * objects from build-fuzz/, the tool's main() renamed to pmcfs_tool_main
 * by objcopy, so the tools are not changed and each exec runs in AFL's
 * fork server; every tool run that must be repeated (several
 * subcommands, fsck -y then -n) runs in a fork of its own, because the
 * tools exit() and keep global state.
 *
 *   fuzz-fsck check  INPUT   fsck.pmcfs -n -f: every pass
 *   fuzz-fsck repair INPUT   fsck.pmcfs -y, then fsck.pmcfs -n -f must exit 0,
 *                            unless -y exited 4 or 8 with a message
 *   fuzz-dump dump   INPUT   every pmcfs-dump read-only subcommand
 *
 * A tool killed by a signal (sanitizer reports abort under AFL), an exit
 * status >= 128, a usage error, or a broken -y/-n property abort()s the
 * harness, which AFL counts as a crash. PMCFS_FUZZ_VERBOSE=1 shows the
 * tools' output and why the harness aborted (for reproducing).
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define BLK		4096u
#define PMCFZ_HDR	16u
#define PMCFZ_REC	(4u + BLK)
#define PMCFZ_MAX_BLOCKS 8192u		/* 32 MiB */

#define FS_MAGIC	0x31534650u
#define RT_MAGIC	0x31545250u
#define SM_MAGIC	0x314d5350u

int pmcfs_tool_main(int argc, char **argv);

static int verbose;
static char img_path[64];
static char tool_name[32];
static long first_tree_block = -1;

static uint32_t get_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void fail(const char *fmt, const char *what, int st)
{
	if (verbose) {
		fprintf(stderr, "fuzz-harness: FAIL: ");
		fprintf(stderr, fmt, what, st);
		fputc('\n', stderr);
	}
	abort();
}

static uint8_t *read_all(const char *path, size_t *len)
{
	size_t cap = 1 << 20, n = 0;
	uint8_t *buf = malloc(cap);
	int fd = path ? open(path, O_RDONLY) : 0;
	ssize_t r;

	if (!buf || fd < 0) {
		perror(path ? path : "stdin");
		exit(99);
	}
	while ((r = read(fd, buf + n, cap - n)) > 0) {
		n += (size_t)r;
		if (n == cap && !(buf = realloc(buf, cap *= 2))) {
			perror("realloc");
			exit(99);
		}
	}
	if (fd)
		close(fd);
	*len = n;
	return buf;
}

/* Expand a PMCFZ input into a memfd; sets img_path. */
static void load_image(const uint8_t *in, size_t len)
{
	uint32_t nblocks = len >= 12 ? get_le32(in + 8) : 0;
	size_t off;
	int fd;

	if (nblocks > PMCFZ_MAX_BLOCKS)
		nblocks = PMCFZ_MAX_BLOCKS;
	fd = memfd_create("pmcfs-fuzz", 0);
	if (fd < 0 || ftruncate(fd, (off_t)nblocks * BLK) < 0) {
		perror("memfd");
		exit(99);
	}
	for (off = PMCFZ_HDR; off + 4 < len; off += PMCFZ_REC) {
		uint32_t blk = get_le32(in + off);
		size_t n = len - off - 4 < BLK ? len - off - 4 : BLK;

		if (blk >= nblocks)
			continue;
		if (pwrite(fd, in + off + 4, n, (off_t)blk * BLK) != (ssize_t)n) {
			perror("pwrite");
			exit(99);
		}
		if (first_tree_block < 0 && n >= 8) {
			uint32_t m = get_le32(in + off + 8);

			if (m == FS_MAGIC || m == RT_MAGIC || m == SM_MAGIC)
				first_tree_block = blk;
		}
	}
	snprintf(img_path, sizeof(img_path), "/proc/self/fd/%d", fd);
}

/*
 * Run the tool with ARGS (NULL-terminated, without argv[0] and DEVICE,
 * which is appended) in a child; its stdout and stderr go to OUTFD (or
 * /dev/null, or stay when verbose). Returns the wait status.
 */
static int run_tool(const char *const *args, int outfd)
{
	char *argv[32];
	int argc = 0, st;
	pid_t pid;

	argv[argc++] = tool_name;
	while (*args && argc < 30)
		argv[argc++] = (char *)*args++;
	argv[argc++] = img_path;
	argv[argc] = NULL;
	if (verbose) {
		fprintf(stderr, "fuzz-harness: run");
		for (int i = 0; i < argc; i++)
			fprintf(stderr, " %s", argv[i]);
		fputc('\n', stderr);
	}
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		perror("fork");
		exit(99);
	}
	if (pid == 0) {
		if (outfd < 0 && !verbose)
			outfd = open("/dev/null", O_WRONLY);
		if (outfd >= 0) {
			dup2(outfd, 1);
			dup2(outfd, 2);
		}
		exit(pmcfs_tool_main(argc, argv));
	}
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR) {
			perror("waitpid");
			exit(99);
		}
	if (verbose)
		fprintf(stderr, "fuzz-harness: -> %s %d\n", WIFSIGNALED(st) ? "signal" : "exit",
			WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
	return st;
}

/* Crashes and exit statuses >= 128 always fail; returns the exit status. */
static int check_crash(const char *what, int st)
{
	if (WIFSIGNALED(st))
		fail("%s: killed by signal %d", what, WTERMSIG(st));
	if (WEXITSTATUS(st) >= 128)
		fail("%s: exit status %d", what, WEXITSTATUS(st));
	return WEXITSTATUS(st);
}

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb; (void)flag;
	if (ftw->level > 0)
		remove(path);
	return 0;
}

static void target_dump(void)
{
	static const char *const cmds[][8] = {
		{ "super" }, { "--json", "super" },
		{ "tree", "roottab" }, { "tree", "spacemap" }, { "tree", "256" }, { "tree", "257" },
		{ "--json", "tree", "256" }, { "--json", "tree", "roottab" },
		{ "alloc" }, { "--json", "alloc" },
		{ "block", "0" }, { "block", "1" }, { "block", "2" },
		{ "ls", "-l", "-R", "/" }, { "--json", "ls", "-l", "-R", "/" },
		{ "--snapshot", "ro1", "ls", "-l", "-R", "/" },
		{ "stat", "/" }, { "stat", "/a" }, { "stat", "/longsym" }, { "--json", "stat", "/b" },
		{ "extents", "/b" }, { "extents", "/sparse" }, { "--json", "extents", "/b-clone" },
		{ "cat", "/a" }, { "cat", "/b" }, { "cat", "/sparse" },
		{ "snapshots" }, { "--json", "snapshots" },
		{ "owners", "512+64" }, { "--json", "owners", "0+2048" },
	};
	char dest[] = "/tmp/pmcfs-fuzz-extract.XXXXXX", blk[24];
	int st;

	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		st = check_crash(cmds[i][0], run_tool(cmds[i], -1));
		if (st == 2)
			fail("%s: usage error (exit %d)", cmds[i][0], st);
	}
	if (first_tree_block >= 0) {
		const char *args[] = { "block", blk, NULL };

		snprintf(blk, sizeof(blk), "%ld", first_tree_block);
		check_crash("block", run_tool(args, -1));
	}
	if (mkdtemp(dest)) {
		const char *args[] = { "extract", "/", dest, NULL };
		const char *args2[] = { "extract", "--snapshot", "rw1", "--force", "/d", dest, NULL };
		int st2 = 0;

		st = run_tool(args, -1);
		if (!WIFSIGNALED(st) && WEXITSTATUS(st) < 128)
			st2 = run_tool(args2, -1);
		nftw(dest, rm_one, 16, FTW_DEPTH | FTW_PHYS);
		rmdir(dest);
		if (check_crash("extract", st) == 2 || check_crash("extract --snapshot", st2) == 2)
			fail("%s: usage error (exit %d)", "extract", 2);
	}
}

static void target_check(void)
{
	static const char *const args[] = { "-n", "-f", NULL };
	int st = check_crash("fsck -n -f", run_tool(args, -1));

	if (st & 16)
		fail("%s: usage error (exit %d)", "fsck -n -f", st);
}

static void target_repair(void)
{
	static const char *const yes[] = { "-y", NULL }, *const no[] = { "-n", "-f", NULL };
	int outfd = verbose ? -1 : memfd_create("fsck-out", 0), st1, st2;
	off_t outlen;

	st1 = check_crash("fsck -y", run_tool(yes, outfd));
	if (st1 & 16)
		fail("%s: usage error (exit %d)", "fsck -y", st1);
	st2 = check_crash("fsck -n after -y", run_tool(no, -1));
	if (st1 & (4 | 8)) {
		/* Refused or left errors: fine, if it said something. */
		outlen = outfd >= 0 ? lseek(outfd, 0, SEEK_END) : 1;
		if (outlen == 0)
			fail("%s: exit %d without a message", "fsck -y", st1);
		return;
	}
	if (st2 != 0)
		fail("%s: fsck -y exited 0 or 1 but fsck -n then exited %d", "repair", st2);
}

int main(int argc, char **argv)
{
	const char *target = argc > 1 ? argv[1] : "";
	uint8_t *in;
	size_t len;

	verbose = getenv("PMCFS_FUZZ_VERBOSE") && *getenv("PMCFS_FUZZ_VERBOSE") == '1';
	if (argc < 2 || argc > 3) {
		fprintf(stderr, "usage: %s check|repair|dump [INPUT]\n", argv[0]);
		return 99;
	}
	in = read_all(argc > 2 ? argv[2] : NULL, &len);
	load_image(in, len);
	free(in);
	if (!strcmp(target, "dump")) {
		snprintf(tool_name, sizeof(tool_name), "pmcfs-dump");
		target_dump();
	} else if (!strcmp(target, "check")) {
		snprintf(tool_name, sizeof(tool_name), "fsck.pmcfs");
		target_check();
	} else if (!strcmp(target, "repair")) {
		snprintf(tool_name, sizeof(tool_name), "fsck.pmcfs");
		target_repair();
	} else {
		fprintf(stderr, "%s: unknown target %s\n", argv[0], target);
		return 99;
	}
	return 0;
}

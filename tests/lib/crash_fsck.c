/*
 * fsck.pmcfs in the crash harness, as an oracle and as an op.
 *
 * Oracle: a crash image is written to a memfd and `fsck.pmcfs -n` runs on
 * /proc/self/fd/N; any "error:" line or an exit status other than 0 fails
 * the image (warnings - a torn non-current commit slot, an interrupted
 * subvolume deletion - are legitimate crash states). An exec costs far
 * more than the in-process oracles, so fsck runs once per distinct
 * committed state (crash_check.c computes the key), not per image.
 *
 * Op "fsck-y": there is no library-level fsck (lib/pmcfs_repair.h has only
 * repair primitives; the passes live in fsck/, which test programs do not
 * link), so the op runs the real tool on the device image. To get its
 * crash states, not just its outcome, it runs under strace, which logs
 * every pwrite64 with its bytes and every fdatasync; the op then replays
 * them in order through the recording device, so the harness explores
 * fsck's own epochs exactly as it does the library's. Without strace the
 * op is skipped (and says so once).
 */
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include "crash.h"

extern char **environ;

static char fsck_path[4096];
static int memfd = -1;
static struct crash_keyset seen_states;
uint64_t crash_fsck_runs, crash_fsck_dedup;

int crash_fsck_init(const char *tooldir)
{
	if (!tooldir) {
		fsck_path[0] = 0;
		return 0;
	}
	snprintf(fsck_path, sizeof(fsck_path), "%s/fsck.pmcfs", tooldir);
	if (access(fsck_path, X_OK)) {
		fsck_path[0] = 0;
		return -errno;
	}
	return 0;
}

const char *crash_fsck_path(void)
{
	return fsck_path[0] ? fsck_path : NULL;
}

bool crash_fsck_new_state(uint64_t key)
{
	if (crash_keyset_add(&seen_states, key))
		return true;
	crash_fsck_dedup++;
	return false;
}

static int image_fd(void)
{
	/* Inherited by the child (no CLOEXEC): it opens /proc/self/fd/N. */
	if (memfd < 0)
		memfd = memfd_create("crash-image", 0);
	return memfd < 0 ? -errno : memfd;
}

static int pwrite_all(int fd, const void *buf, size_t len, uint64_t off)
{
	const uint8_t *p = buf;

	while (len) {
		ssize_t n = pwrite(fd, p, len, (off_t)off);
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		p += n, off += (uint64_t)n, len -= (size_t)n;
	}
	return 0;
}

/*
 * What the memfd holds (mirror_valid), so that each fsck -n run writes
 * only the blocks in which the image differs from the last one: a crash
 * image differs from the one before in a few blocks, and copying the
 * whole 16 MiB every time was a fifth of a long run. fsck -y writes the
 * memfd itself: its op clears mirror_valid.
 */
static uint8_t *mirror;
static uint64_t mirror_size;
static bool mirror_valid;

static int write_image(int fd, const struct crash_img *im)
{
	int err;

	if (mirror_size != im->size) {
		free(mirror);
		mirror_valid = false;
		mirror_size = 0;
		if (!(mirror = malloc(im->size)))
			return -ENOMEM;
		mirror_size = im->size;
	}
	if (!mirror_valid) {
		if (ftruncate(fd, (off_t)im->size) || (err = pwrite_all(fd, im->base, im->size, 0)))
			return -EIO;
		memcpy(mirror, im->base, im->size);
		mirror_valid = true;
	}
	for (uint64_t b = 0; b < im->nblocks; b++) {
		const uint8_t *want = im->map[b] >= 0 ? im->copies + (size_t)im->map[b] * PMCFS_BLOCK_SIZE
						      : im->base + b * PMCFS_BLOCK_SIZE;
		uint8_t *have = mirror + b * PMCFS_BLOCK_SIZE;
		if (!memcmp(have, want, PMCFS_BLOCK_SIZE))
			continue;
		if ((err = pwrite_all(fd, want, PMCFS_BLOCK_SIZE, b * PMCFS_BLOCK_SIZE))) {
			mirror_valid = false;
			return err;
		}
		memcpy(have, want, PMCFS_BLOCK_SIZE);
	}
	return 0;
}

/* Run argv with stdout and stderr into out (NUL-terminated); the exit status, or -1. */
/*
 * posix_spawn, not fork: glibc spawns with CLONE_VM|CLONE_VFORK, so the
 * harness's tens of MiB are not copied into page tables for the child,
 * nor write-protected, to fault page by page on the harness's next
 * writes (with fork, most of a long run's time went to the kernel).
 */
static int run(char *const argv[], char *out, size_t outlen)
{
	posix_spawn_file_actions_t fa;
	int pfd[2], status, err;
	size_t used = 0;
	pid_t pid;

	if (pipe2(pfd, O_CLOEXEC))
		return -1;
	if (posix_spawn_file_actions_init(&fa)) {
		close(pfd[0]);
		close(pfd[1]);
		return -1;
	}
	posix_spawn_file_actions_adddup2(&fa, pfd[1], 1);
	posix_spawn_file_actions_adddup2(&fa, pfd[1], 2);
	err = posix_spawn(&pid, argv[0], &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	close(pfd[1]);
	if (err) {
		close(pfd[0]);
		return 127;	/* as a failed exec in the child was */
	}
	for (;;) {
		char junk[4096];
		ssize_t n = used + 1 < outlen ? read(pfd[0], out + used, outlen - used - 1)
					      : read(pfd[0], junk, sizeof(junk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (used + 1 < outlen)
			used += (size_t)n;
	}
	out[used] = 0;
	close(pfd[0]);
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -1;
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return WEXITSTATUS(status);
}

/* The first line of out containing what, or NULL. */
static const char *line_with(const char *out, const char *what, char *buf, size_t len)
{
	const char *p = strstr(out, what), *s, *e;

	if (!p)
		return NULL;
	for (s = p; s > out && s[-1] != '\n'; s--)
		;
	e = strchr(p, '\n');
	snprintf(buf, len, "%.*s", (int)(e ? e - s : (long)strlen(s)), s);
	return buf;
}

int crash_fsck_check(struct crash_img *im, char *why, size_t whylen)
{
	static char out[1 << 16];
	char dev[64], line[300];
	int fd = image_fd(), rc;

	if (fd < 0)
		return snprintf(why, whylen, "fsck -n: memfd: %s", strerror(-fd)), -1;
	if (write_image(fd, im))
		return snprintf(why, whylen, "fsck -n: writing the image failed"), -1;
	snprintf(dev, sizeof(dev), "/proc/self/fd/%d", fd);
	char *argv[] = { fsck_path, (char *)"-n", dev, NULL };
	rc = run(argv, out, sizeof(out));
	crash_fsck_runs++;
	/* An undisputed error line first: a disputed one must not hide it. */
	const char *disputed = NULL;
	for (const char *p = out; line_with(p, "error:", line, sizeof(line)); p = strstr(p, "error:") + 6) {
		char w[sizeof(line) + 32];
		snprintf(w, sizeof(w), "fsck -n: %s", line);
		if (!crash_fsck_dispute(w))
			return snprintf(why, whylen, "fsck -n (exit %d): %s", rc, line), -1;
		disputed = p;
	}
	if (disputed && line_with(disputed, "error:", line, sizeof(line)))
		return snprintf(why, whylen, "fsck -n (exit %d): %s", rc, line), -1;
	if (rc)
		return snprintf(why, whylen, "fsck -n: exit %d: %.200s", rc, out), -1;
	return 0;
}

/* ---- the fsck -y op ------------------------------------------------------------------ */

static int hexval(int ch)
{
	return ch >= '0' && ch <= '9' ? ch - '0' : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 : -1;
}

/* Replay one strace line: pwrite64(FD, "\xNN...", LEN, OFF) = LEN, or fdatasync(FD) = 0. */
static int replay_line(struct crash_opctx *c, const char *l, uint8_t *buf, size_t bufsize)
{
	const char *p;
	size_t n = 0;
	unsigned long long len, off;

	if (strstr(l, "fdatasync(") || strstr(l, "fsync(")) {
		int err = pmcfs_dev_flush(c->dev);
		if (!err && c->committed)
			c->committed(c);
		return err;
	}
	if (!(p = strstr(l, "pwrite64(")) || !(p = strchr(p, '"')))
		return strstr(l, "write") && !strstr(l, "+++") ? -EPROTO : 0;
	for (p++; *p == '\\' && p[1] == 'x' && n < bufsize; p += 4) {
		int hi = hexval(p[2]), lo = hexval(p[3]);
		if (hi < 0 || lo < 0)
			return -EPROTO;
		buf[n++] = (uint8_t)(hi << 4 | lo);
	}
	if (*p != '"' || sscanf(p + 1, ", %llu, %llu) = %llu", &len, &off, &len) != 3 || len != n)
		return -EPROTO;	/* truncated by -s, or a short write */
	return pmcfs_dev_write(c->dev, buf, n, off);
}

int crash_op_fsck_y(struct crash_opctx *c)
{
	static bool warned;
	static const char *strace = "/usr/bin/strace";
	static char out[1 << 16];
	char dev[64], logname[] = "/tmp/crash-fsck-y.XXXXXX", line[300];
	/* Kept for the process: fresh 16 MiB each time is page faults, not work. */
	static uint8_t *img, *buf;
	static char *l;
	int fd = image_fd(), rc, err = 0, logfd = mkstemp(logname);
	FILE *log = NULL;

	if (!img) {
		img = malloc(CRASH_DEV_SIZE);
		buf = malloc(1 << 20);
		l = malloc(4 << 20);
	}
	if (!img || !buf || !l || fd < 0 || logfd < 0) {
		err = -ENOMEM;
		goto out;
	}
	if (!fsck_path[0] || access(strace, X_OK)) {
		if (!warned)
			printf("fsck-y: skipped (needs %s and fsck.pmcfs)\n", strace);
		warned = true;
		goto out;
	}
	mirror_valid = false;	/* fsck -y is about to change the memfd */
	if ((err = pmcfs_dev_read(c->dev, img, CRASH_DEV_SIZE, 0)) ||
	    ftruncate(fd, CRASH_DEV_SIZE) || (err = pwrite_all(fd, img, CRASH_DEV_SIZE, 0)))
		goto out;
	snprintf(dev, sizeof(dev), "/proc/self/fd/%d", fd);
	char *argv[] = { (char *)strace, (char *)"-qq", (char *)"-xx", (char *)"-s", (char *)"1048576",
			 (char *)"-e", (char *)"trace=pwrite64,pwritev,pwritev2,fdatasync,fsync",
			 (char *)"-o", logname, fsck_path, (char *)"-y", dev, NULL };
	rc = run(argv, out, sizeof(out));
	crash_fsck_runs++;
	/* 0 clean, 1 corrected: anything else on a state the library committed is a failure. */
	if (rc != 0 && rc != 1) {
		char keep[] = "/tmp/crash-fsck-y-input.XXXXXX";
		int kfd = mkstemp(keep);

		printf("fsck-y: exit %d: %s\n", rc, line_with(out, "error", line, sizeof(line)) ?
		       line : out);
		/* Keep fsck's input so the failure can be rerun outside the harness. */
		if (kfd >= 0 && !pwrite_all(kfd, img, CRASH_DEV_SIZE, 0))
			printf("fsck-y: its input image is kept at %s\n", keep);
		if (kfd >= 0)
			close(kfd);
		err = -PMCFS_ECORRUPT;
		goto out;
	}
	if (!(log = fdopen(logfd, "r"))) {
		err = -errno;
		goto out;
	}
	logfd = -1;
	while (!err && fgets(l, 4 << 20, log))
		err = replay_line(c, l, buf, 1 << 20);
	if (err == -EPROTO)
		printf("fsck-y: cannot parse the strace log %s\n", logname);
out:
	if (log)
		fclose(log);
	if (logfd >= 0)
		close(logfd);
	if (err != -EPROTO)
		unlink(logname);
	return err;
}

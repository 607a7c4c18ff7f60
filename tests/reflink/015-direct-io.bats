#!/usr/bin/env bats
# scan reads with O_DIRECT: files whose sizes end in partial sectors and
# partial read requests, 16 KiB sectors, files already in the page cache,
# the same report through the page cache, and the fallback when a
# filesystem refuses O_DIRECT at open or at a read (an LD_PRELOAD shim
# fails those calls with EINVAL, as such a filesystem does: the ones here
# without O_DIRECT, ramfs and tmpfs before 6.6, keep every file in the
# page cache, which scan reads from without trying O_DIRECT).
load ../helpers
load common

setup_file() {
	XFS=$(fs_make xfs xfs)
	export XFS
	# The shim fails with EINVAL, as a filesystem without O_DIRECT does:
	# fcntl(F_SETFL, O_DIRECT) for files whose name has "noopen"; pread
	# on an O_DIRECT descriptor for "nodirect" (from the first byte) and
	# "late" (from 2 MiB on: the second read).
	SHIM=
	if command -v cc >/dev/null; then
		cat >"$BATS_FILE_TMPDIR/nodirect.c" <<'EOF'
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static int (*real_fcntl)(int, int, ...);

static const char *name_of(int fd, char *path, size_t len)
{
	char link[64];
	ssize_t n;

	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, path, len - 1);
	if (n < 0)
		return "";
	path[n] = 0;
	return strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
}

int fcntl(int fd, int cmd, ...)
{
	char path[4096];
	va_list ap;
	long arg;

	va_start(ap, cmd);
	arg = va_arg(ap, long);
	va_end(ap);
	if (!real_fcntl)
		real_fcntl = (int (*)(int, int, ...))dlsym(RTLD_NEXT, "fcntl");
	if (cmd == F_SETFL && (arg & O_DIRECT) && strstr(name_of(fd, path, sizeof(path)), "noopen")) {
		errno = EINVAL;
		return -1;
	}
	return real_fcntl(fd, cmd, arg);
}

static int refused(int fd, off_t off)
{
	char path[4096];
	const char *name;
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0 || !(fl & O_DIRECT))
		return 0;
	name = name_of(fd, path, sizeof(path));
	return strstr(name, "nodirect") || (strstr(name, "late") && off >= (2 << 20));
}

#define WRAP(name)								\
ssize_t name(int fd, void *buf, size_t len, off_t off)				\
{										\
	static ssize_t (*real)(int, void *, size_t, off_t);			\
										\
	if (!real)								\
		real = (ssize_t (*)(int, void *, size_t, off_t))dlsym(RTLD_NEXT, #name); \
	if (refused(fd, off)) {							\
		errno = EINVAL;							\
		return -1;							\
	}									\
	return real(fd, buf, len, off);						\
}
WRAP(pread)
WRAP(pread64)
EOF
		cc -shared -fPIC -o "$BATS_FILE_TMPDIR/nodirect.so" "$BATS_FILE_TMPDIR/nodirect.c" -ldl &&
			SHIM=$BATS_FILE_TMPDIR/nodirect.so
	fi
	export SHIM
}
teardown_file() { fs_cleanup; }

# Read size of the scan (scan_hash.c READ_CHUNK), so sizes straddle it.
RS=2097152

# Sizes that end in a partial 4 KiB block, partial 128 KiB block or
# partial read: 1 byte, around 4 KiB, a block, the read size, several reads.
SIZES="1 4095 4096 4097 131071 131073 $((RS - 1)) $RS $((RS + 1)) $((2 * RS + 12345))"

# make_tails DIR: a file s<i> of each size and its copy t<9-i> (so the
# file read before a copy is never the copy of the file read before its
# original: what stays in the buffer past EOF differs), two empty files,
# and near/near.copy that differ only in their last byte. Prints the
# duplicate bytes.
make_tails() {
	local d=$1 sz i=0 sum=0
	mkdir -p "$d"
	for sz in $SIZES; do
		rand "$d/s$i" "$sz"
		cp --reflink=never "$d/s$i" "$d/t$((9 - i))"
		sum=$((sum + sz))
		i=$((i + 1))
	done
	: >"$d/empty1"
	: >"$d/empty2"
	rand "$d/near" $((RS + 1))
	{ head -c "$RS" "$d/near"; printf 'x'; } >"$d/near.copy"
	[ "$(tail -c 1 "$d/near")" != x ] || printf 'y' | dd of="$d/near" bs=1 seek="$RS" conv=notrunc status=none
	sync
	echo $((sum + RS))
}

# Bytes in 4 KiB blocks that deduping make_tails' tree frees on XFS.
tails_freed() {
	local sz sum=0
	for sz in $SIZES; do
		sum=$((sum + (sz + 4095) / 4096 * 4096))
	done
	echo $((sum + RS))
}

sums() { (cd "$1" && find . -type f -print0 | sort -z | xargs -0 sha256sum); }
# Drop the (clean) pages of every file under DIR from the page cache:
# scan reads a file that is mostly there through the page cache.
evict() { find "$1" -type f -exec dd if={} iflag=nocache count=0 status=none \;; }
used() { df -B1 --output=used "$1" | tail -1; }
# The JSON report without what may differ between two runs of one tree.
report() { jq -c 'del(.seconds, .hash_seconds, .dedupe_seconds, .bytes_read_direct)' <<<"$1"; }

@test "scan -d reads with O_DIRECT, frees the expected space and keeps every byte of odd-sized files (xfs)" {
	d=$XFS/tails
	expect=$(make_tails "$d")
	before=$(sums "$d")
	evict "$d"
	u0=$(used "$XFS")
	# One thread, so the order of reads (and what a read leaves in the
	# buffer past EOF) is fixed.
	run_ok $INSTRUMENT "$REFLINK" scan -r -d --threads 1 --min-size 1 --json \
		--hashfile "$BATS_TEST_TMPDIR/h" "$d"
	echo "$output"		# shown only if a check below fails
	json_ok "$output"
	[ "$(jq .files <<<"$output")" -eq 22 ]
	[ "$(jq .skipped_small <<<"$output")" -eq 2 ]
	[ "$(jq .bytes_read <<<"$output")" -eq "$(jq .bytes_scanned <<<"$output")" ]
	# Every byte came through O_DIRECT, tails included.
	[ "$(jq .bytes_read_direct <<<"$output")" -eq "$(jq .bytes_read <<<"$output")" ]
	[ "$(jq .duplicate_bytes <<<"$output")" -eq "$expect" ]
	[ "$(jq .bytes_deduped <<<"$output")" -eq "$expect" ]
	[ "$(jq .errors <<<"$output")" -eq 0 ]
	sync
	freed=$((u0 - $(used "$XFS")))
	want=$(tails_freed)
	[ "$freed" -ge $((want - 16384)) ]
	[ "$freed" -le $((want + 65536)) ]
	[ "$(sums "$d")" = "$before" ]
	for i in 0 1 2 3 4 5 6 7 8 9; do cmp "$d/s$i" "$d/t$((9 - i))"; done
	# The differing last byte was not shared: only the first read's worth.
	[ "$(filefrag_shared "$d/near.copy")" -eq "$RS" ]
	! cmp -s "$d/near" "$d/near.copy"
	# With the hashfile a second run reads nothing and finds nothing.
	run_ok $INSTRUMENT "$REFLINK" scan -r -d --min-size 1 --json --hashfile "$BATS_TEST_TMPDIR/h" "$d"
	[ "$(jq .bytes_read <<<"$output")" -eq 0 ]
	[ "$(jq .bytes_read_direct <<<"$output")" -eq 0 ]
	[ "$(jq .duplicate_bytes <<<"$output")" -eq 0 ]
	[ "$(jq .already_shared_bytes <<<"$output")" -eq "$expect" ]
	# A file already in the page cache is read from there.
	evict "$d"
	cat "$d/s9" >/dev/null
	run_ok $INSTRUMENT "$REFLINK" scan -r --min-size 1 --json "$d"
	[ "$(jq .bytes_read <<<"$output")" -eq "$(jq .bytes_scanned <<<"$output")" ]
	[ "$(jq .bytes_read_direct <<<"$output")" -eq $(($(jq .bytes_read <<<"$output") - $(stat -c %s "$d/s9"))) ]
}

@test "PMCFS_REFLINK_NO_DIRECT=1 reads through the page cache and gives the same report" {
	make_tails "$XFS/p1" >/dev/null
	cp -a --reflink=never "$XFS/p1" "$XFS/p2"
	sync
	before=$(sums "$XFS/p1")
	[ "$(sums "$XFS/p2")" = "$before" ]
	# Report only: the text reports are the same but for the time. (One
	# thread: the order of reads, and so what the page-cache reads leave
	# in the buffer past EOF, is fixed; a direct read leaves zeros.)
	evict "$XFS/p1"
	run_ok $INSTRUMENT "$REFLINK" scan -r --threads 1 --min-size 1 "$XFS/p1"
	direct=$(grep -v '^time:' <<<"$output")
	evict "$XFS/p2"
	run_ok env PMCFS_REFLINK_NO_DIRECT=1 $INSTRUMENT "$REFLINK" scan -r --threads 1 --min-size 1 "$XFS/p2"
	[ "$(grep -v '^time:' <<<"$output")" = "$direct" ]
	# Deduping: the same JSON report, the same space freed.
	u0=$(used "$XFS")
	evict "$XFS/p1"
	run_ok $INSTRUMENT "$REFLINK" scan -r -d --min-size 1 --json "$XFS/p1"
	a=$output
	sync
	u1=$(used "$XFS")
	evict "$XFS/p2"
	run_ok --separate-stderr env PMCFS_REFLINK_NO_DIRECT=1 $INSTRUMENT "$REFLINK" scan -r -d -v --min-size 1 --json "$XFS/p2"
	b=$output
	sync
	u2=$(used "$XFS")
	# Not a refusal: -v has nothing to say.
	[ -z "$stderr" ]
	[ "$(jq .bytes_read_direct <<<"$a")" -eq "$(jq .bytes_read <<<"$a")" ]
	[ "$(jq .bytes_read <<<"$a")" -gt 0 ]
	[ "$(jq .bytes_read_direct <<<"$b")" -eq 0 ]
	[ "$(report "$a")" = "$(report "$b")" ]
	[ "$(jq .bytes_deduped <<<"$b")" -gt 0 ]
	[ $((u0 - u1)) -eq $((u1 - u2)) ]
	[ "$(sums "$XFS/p1")" = "$before" ]
	[ "$(sums "$XFS/p2")" = "$before" ]
}

@test "O_DIRECT refused at open or at a read: that file goes through the page cache, silently unless -v" {
	[ -n "$SHIM" ] || skip "no C compiler for the LD_PRELOAD shim"
	d=$XFS/shim
	mkdir -p "$d"
	rand "$d/ok" 3M
	cp --reflink=never "$d/ok" "$d/ok.copy"
	rand "$d/noopen" 3M
	cp --reflink=never "$d/noopen" "$d/noopen.copy"
	rand "$d/nodirect" 3M
	cp --reflink=never "$d/nodirect" "$d/nodirect.copy"
	rand "$d/late" 5M
	cp --reflink=never "$d/late" "$d/late.copy"
	cp -a --reflink=never "$d" "$d.ref"
	sync
	before=$(sums "$d")
	run_ok $INSTRUMENT "$REFLINK" scan -r -d --json "$d.ref"
	ref=$output
	# ASan wants to be first in the library list; the shim is a test tool.
	export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0
	evict "$d"
	run_ok --separate-stderr env LD_PRELOAD="$SHIM" $INSTRUMENT "$REFLINK" scan -r --json "$d"
	[ -z "$stderr" ]
	# ok and ok.copy whole, late and late.copy up to their second read.
	[ "$(jq .bytes_read_direct <<<"$output")" -eq $((2 * 3145728 + 2 * RS)) ]
	[ "$(jq .bytes_read <<<"$output")" -eq $((3 * 2 * 3145728 + 2 * 5242880)) ]
	evict "$d"
	run_ok --separate-stderr env LD_PRELOAD="$SHIM" $INSTRUMENT "$REFLINK" scan -r -d -v --json "$d"
	[ "$(report "$output")" = "$(report "$ref")" ]
	[ "$(jq .bytes_deduped <<<"$output")" -eq $((3145728 * 3 + 5242880)) ]
	[ "$(sort <<<"$stderr")" = "$(printf 'pmcfs-reflink: scan %s: O_DIRECT refused (Invalid argument), read through the page cache\n' \
		"$d/late" "$d/late.copy" "$d/nodirect" "$d/nodirect.copy" "$d/noopen" "$d/noopen.copy" | sort)" ]
	[ "$(sums "$d")" = "$before" ]
}

@test "16 KiB logical sectors: O_DIRECT reads of odd tails still work, and need no write access" {
	local img=$BATS_FILE_TMPDIR/lbs.img dev mnt
	mnt=$(cat "$BATS_FILE_TMPDIR/mntroot")/lbs
	truncate -s 512M "$img"
	dev=$(losetup --find --show -b 16384 "$img" 2>/dev/null) ||
		skip "this kernel makes no loop device with 16 KiB sectors"
	echo "$dev" >>"$BATS_FILE_TMPDIR/loops"
	[ "$(cat "/sys/block/${dev#/dev/}/queue/logical_block_size")" -eq 16384 ]
	mkfs.xfs -q -f -m reflink=1 -b size=16384 -s size=16384 "$dev"
	mkdir -p "$mnt"
	mount "$dev" "$mnt" 2>/dev/null || skip "this kernel mounts no XFS with 16 KiB blocks"
	echo "$mnt" >>"$BATS_FILE_TMPDIR/mounts"
	expect=$(make_tails "$mnt/t")
	before=$(sums "$mnt/t")
	evict "$mnt/t"
	run_ok $INSTRUMENT "$REFLINK" scan -r -d --min-size 1 --json "$mnt/t"
	[ "$(jq .bytes_read_direct <<<"$output")" -eq "$(jq .bytes_read <<<"$output")" ]
	[ "$(jq .bytes_deduped <<<"$output")" -eq "$expect" ]
	[ "$(jq .errors <<<"$output")" -eq 0 ]
	[ "$(sums "$mnt/t")" = "$before" ]
	# Read-only: the hash phase opens nothing for writing.
	mount -o remount,ro "$mnt"
	evict "$mnt/t"
	run_ok $INSTRUMENT "$REFLINK" scan -r --min-size 1 --json "$mnt/t"
	[ "$(jq .bytes_read_direct <<<"$output")" -eq "$(jq .bytes_read <<<"$output")" ]
	[ "$(jq .already_shared_bytes <<<"$output")" -eq "$expect" ]
	[ "$(jq .duplicate_bytes <<<"$output")" -eq 0 ]
}

#!/usr/bin/env bats
# Image mode errors: the kernel mode's messages and exit codes (1 for a
# failed range, 2 for a usage error), plus the image's own: damaged,
# not pmcfs, mounted, locked. A failed command aborts its transaction:
# the image file is byte-for-byte unchanged.
load ../helpers
load common
load image

setup() {
	SRC=$BATS_TEST_TMPDIR/src
	mkdir -p "$SRC/dir"
	rand "$SRC/a" 1M
	rand "$SRC/f" 64K
	rand "$SRC/e" 64K
	cp "$SRC/e" "$SRC/e2"
	ln -s a "$SRC/link"
	IMG=$(img_make "$SRC")
	SUM0=$(sha256sum <"$IMG")
}
teardown() {
	[ -z "${BGPID:-}" ] || kill "$BGPID" 2>/dev/null || true
	[ -z "${MNT:-}" ] || umount "$MNT" 2>/dev/null || true
	cleanup_loops
}

unchanged() {
	[ "$(sha256sum <"$IMG")" = "$SUM0" ]
	img_check "$IMG"
}

aborted_line() { echo "pmcfs-reflink: $IMG: aborted after the errors above: nothing was written, the image is unchanged"; }

@test "image EINVAL: a misaligned range; the new destination is rolled back" {
	run -1 rl "$IMG" clone-range /a 0 /b 0 1000
	[ "${lines[0]}" = "pmcfs-reflink: clone-range /a -> /b [0, 1000): Invalid argument (misaligned or past EOF)" ]
	[ "${lines[1]}" = "$(aborted_line)" ]
	run -1 rl "$IMG" clone-range /a 1 /b 0 4096
	[ "${lines[0]}" = "pmcfs-reflink: clone-range /a -> /b [1, 4097): Invalid argument (misaligned or past EOF)" ]
	run -1 icat "$IMG" /b
	unchanged
}

@test "image EINVAL: a dedupe range past the end of the source" {
	run -1 rl "$IMG" dedupe /e 128K 64K /e2 0
	[[ "${lines[0]}" == "pmcfs-reflink: dedupe /e -> /e2 [0, 65536): Invalid argument (misaligned, past EOF"* ]]
	unchanged
}

@test "image EXDEV has no place in one image: two images are a usage error" {
	other=$BATS_TEST_TMPDIR/other.img
	cp "$IMG" "$other"
	run -2 $INSTRUMENT "$REFLINK" --image "$IMG" --image "$other" clone /a /x
	[ "$output" = "pmcfs-reflink: --image given twice: one image per run; data cannot be shared across images (each is its own filesystem)" ]
	unchanged
}

@test "image EISDIR: a directory as source or destination" {
	run -1 rl "$IMG" clone /dir /f2
	[ "${lines[0]}" = "pmcfs-reflink: clone /dir -> /f2: Is a directory (source and destination must be regular files)" ]
	run -1 rl "$IMG" clone-range /f 0 /dir 0 64K
	[ "${lines[0]}" = "pmcfs-reflink: clone-range /f -> /dir: open /dir: Is a directory (source and destination must be regular files)" ]
	unchanged
}

@test "image ENOENT names the path inside the image, without a remap hint" {
	run -1 rl "$IMG" clone /nonexistent /z
	[ "${lines[0]}" = "pmcfs-reflink: clone /nonexistent -> /z: open /nonexistent: No such file or directory" ]
	[ "${lines[1]}" = "$(aborted_line)" ]
	run -1 rl "$IMG" clone /a /nodir/z
	[ "${lines[0]}" = "pmcfs-reflink: clone /a -> /nodir/z: open /nodir/z: No such file or directory" ]
	run -1 rl "$IMG" extents /a /gone
	[ "${lines[0]}" = "pmcfs-reflink: extents /gone: stat: No such file or directory" ]
	unchanged
}

@test "image: symbolic links are never followed (ELOOP)" {
	run -1 rl "$IMG" clone /link /l2
	[[ "${lines[0]}" == "pmcfs-reflink: clone /link -> /l2: open /link: Too many levels of symbolic links"* ]]
	unchanged
}

@test "image: snapshot files are read-only (EROFS)" {
	run_ok rl "$IMG" snapshot create snap
	SUM0=$(sha256sum <"$IMG")
	run -1 rl "$IMG" clone /a snap@/a
	[ "${lines[0]}" = "pmcfs-reflink: clone /a -> snap@/a: open snap@/a: Read-only file system (snapshots in an image are read-only)" ]
	run -1 rl "$IMG" dedupe /e 0 64K snap@/e2 0
	[ "${lines[0]}" = "pmcfs-reflink: dedupe /e -> snap@/e2 [0, 65536): Read-only file system (snapshots in an image are read-only)" ]
	run -1 rl "$IMG" clone nosnap@/a /x
	[[ "$output" == *"no snapshot named 'nosnap'"* ]]
	unchanged
}

@test "image: not a pmcfs image, and a damaged one, exit 1 with the library's reason" {
	rand "$BATS_TEST_TMPDIR/junk" 16M
	run -1 rl "$BATS_TEST_TMPDIR/junk" extents /a
	[ "$output" = "pmcfs-reflink: $BATS_TEST_TMPDIR/junk: not a usable pmcfs image: no pmcfs filesystem found" ]
	# Break the live tree's root block (its crc still matches: a verifier catch).
	root=$("$DUMP" tree 256 "$IMG" | sed -n '1s/.*root block \([0-9]*\).*/\1/p')
	[ -n "$root" ]
	run_ok "$DUMP" -b "$root" set magic 0x12345678 "$IMG"
	run -1 --separate-stderr rl "$IMG" extents /a
	[ "$stderr" = "pmcfs-reflink: extents /a: stat: metadata corrupted (the image is damaged: check it with fsck.pmcfs)" ]
	sum=$(sha256sum <"$IMG")
	run -1 rl "$IMG" clone /a /b
	[[ "${lines[0]}" == "pmcfs-reflink: clone /a -> /b: open /a: metadata corrupted"* ]]
	[ "${lines[-1]}" = "$(aborted_line)" ]
	[ "$(sha256sum <"$IMG")" = "$sum" ]
}

@test "image: a mounted image is refused" {
	xfs=$BATS_TEST_TMPDIR/xfs.img
	truncate -s 512M "$xfs"
	mkfs.xfs -q -f "$xfs"
	dev=$(make_loop "$xfs")
	MNT=$BATS_TEST_TMPDIR/mnt
	mkdir -p "$MNT"
	mount "$dev" "$MNT"
	run -1 rl "$xfs" extents /a
	[ "$output" = "pmcfs-reflink: $xfs: mounted on $MNT (via $dev): use pmcfs-reflink on the mounted filesystem (without --image)" ]
}

@test "image: an image locked by another run is refused" {
	flock "$IMG" sleep 30 &
	BGPID=$!
	sleep 0.3
	run -1 rl "$IMG" clone /a /b
	[ "$output" = "pmcfs-reflink: $IMG: in use by another program (locked)" ]
	kill "$BGPID"
	BGPID=
	unchanged
}

@test "image usage errors exit 2" {
	run -2 $INSTRUMENT "$REFLINK" --image
	[ "$output" = "pmcfs-reflink: --image needs an argument" ]
	run -2 rl "$IMG" clone-range /a 1Q /b 0 4096
	[ "${lines[0]}" = "pmcfs-reflink: clone-range: bad SRC_OFF '1Q'" ]
	run -2 rl "$IMG" scan --follow -r /
	[ "${lines[0]}" = "pmcfs-reflink: scan: --follow: symbolic links inside an image are never followed" ]
	run -2 rl "$IMG" scan -d -r snap@/
	[[ "${lines[0]}" == "pmcfs-reflink: scan -d: snap@/ is in a snapshot, which is read-only"* ]]
	run -2 rl "$IMG" snapshot create a/b
	run -2 rl "$IMG" snapshot frob
	run -2 $INSTRUMENT "$REFLINK" snapshot list
	[ "$output" = "pmcfs-reflink: snapshot: works on an unmounted image only (--image IMG); snapshots of a mounted pmcfs are taken through the kernel module's own interface, not through this tool" ]
	unchanged
}

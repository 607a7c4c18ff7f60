#!/usr/bin/env bats
# mkfs.pmcfs on block devices (loop devices over image files): mounted,
# loop-mounted images, O_EXCL-held devices, sizes. Needs root and loop.

load ../helpers

SBINFO=${SBINFO:-$TOP/tests/pmcfs-sbinfo}

setup() {
	[ "$(id -u)" = 0 ] || skip "needs root for loop devices"
	losetup --find >/dev/null 2>&1 || skip "no free loop device"
	IMG=$BATS_TEST_TMPDIR/fs.img
	MNT=$BATS_TEST_TMPDIR/mnt
	mkdir -p "$MNT"
	HOLDER=
}

teardown() {
	[ -z "$HOLDER" ] || kill "$HOLDER" 2>/dev/null || true
	[ -z "$HOLDER" ] || wait "$HOLDER" 2>/dev/null || true
	umount "$MNT" 2>/dev/null || true
	cleanup_loops
}

@test "a mounted block device is refused, even with -f" {
	command -v mkfs.xfs || skip "mkfs.xfs not installed"
	truncate -s 300M "$IMG"
	mkfs.xfs -q -f "$IMG"
	local dev; dev=$(make_loop "$IMG")
	mount "$dev" "$MNT" || skip "cannot mount xfs here"
	run -1 $INSTRUMENT "$MKFS" "$dev"
	[ "$output" = "mkfs.pmcfs: refusing to format $dev: it is mounted on $MNT" ]
	run -1 $INSTRUMENT "$MKFS" -f "$dev"
	[ "$output" = "mkfs.pmcfs: refusing to format $dev: it is mounted on $MNT" ]
	run -1 $INSTRUMENT "$MKFS" -n -f "$dev"
	# The image behind the mounted loop device is refused as well.
	run -1 $INSTRUMENT "$MKFS" -f "$IMG"
	[ "$output" = "mkfs.pmcfs: refusing to format $IMG: it is mounted on $MNT (via $dev)" ]
	umount "$MNT"
	[ "$(blkid -p -o value -s TYPE "$dev")" = xfs ]
}

@test "an unmounted block device with xfs is refused without -f, formatted with -f" {
	command -v mkfs.xfs || skip "mkfs.xfs not installed"
	truncate -s 300M "$IMG"
	mkfs.xfs -q -f "$IMG"
	local dev; dev=$(make_loop "$IMG")
	run -1 $INSTRUMENT "$MKFS" "$dev"
	[[ $output == *"refusing to overwrite $dev: it holds an existing xfs filesystem; use -f to overwrite it"* ]]
	run -0 $INSTRUMENT "$MKFS" -f -L blk "$dev"
	[[ $output == *"device:        $dev (block device, "* ]]
	[[ $output == *"wiped:         xfs filesystem at offset 0"* ]]
	[ -z "$(blkid -p -o value -s TYPE "$dev")" ]
	"$SBINFO" "$dev" | grep -qx 'label=blk'
	"$SBINFO" "$IMG" | grep -qx 'nblocks=76800'
}

@test "a block device held open with O_EXCL is refused as busy" {
	command -v python3 || skip "python3 not installed"
	truncate -s 64M "$IMG"
	local dev; dev=$(make_loop "$IMG")
	python3 -c 'import os, sys, time
fd = os.open(sys.argv[1], os.O_RDONLY | os.O_EXCL)
print("held", flush=True)
time.sleep(60)' "$dev" > "$BATS_TEST_TMPDIR/held" &
	HOLDER=$!
	for _ in $(seq 50); do grep -q held "$BATS_TEST_TMPDIR/held" && break; sleep 0.1; done
	grep -q held "$BATS_TEST_TMPDIR/held"
	run -1 $INSTRUMENT "$MKFS" -f "$dev"
	[ "$output" = "mkfs.pmcfs: cannot open $dev exclusively: device is busy (mounted, or held by another program)" ]
	kill "$HOLDER"; wait "$HOLDER" || true; HOLDER=
	run -0 $INSTRUMENT "$MKFS" -q "$dev"
}

@test "-s on a block device: smaller is used, larger is refused" {
	truncate -s 64M "$IMG"
	local dev; dev=$(make_loop "$IMG")
	run -1 $INSTRUMENT "$MKFS" -s 128M "$dev"
	[ "$output" = "mkfs.pmcfs: size too large: 134217728 bytes requested, $dev has 67108864 bytes" ]
	run -0 $INSTRUMENT "$MKFS" -s 32M "$dev"
	"$SBINFO" "$dev" | grep -qx 'nblocks=8192'
	[ "$(stat -c %s "$IMG")" -eq $((64 << 20)) ]
}

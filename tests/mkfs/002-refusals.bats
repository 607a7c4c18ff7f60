#!/usr/bin/env bats
# mkfs.pmcfs refusals on image files: foreign signatures (real mkfs.xfs,
# mkfs.ext4, an MBR partition table), an existing pmcfs, too small,
# missing files, things that are not devices.

load ../helpers

SBINFO=${SBINFO:-$TOP/tests/pmcfs-sbinfo}

setup() {
	IMG=$BATS_TEST_TMPDIR/fs.img
}

# blkid_type IMAGE: what libblkid sees now ("" if nothing).
blkid_type() {
	blkid -p -o export "$1" 2>/dev/null | sed -n 's/^\(PT\)\{0,1\}TYPE=//p' | head -n 1
}

# A foreign signature is refused without -f, named, and the image is
# untouched; with -f it is formatted and the old signature is gone.
refuse_then_force() {	# IMAGE TYPE
	local before
	before=$(sha256sum <"$1")
	run -1 $INSTRUMENT "$MKFS" "$1"
	[[ $output == "mkfs.pmcfs: refusing to overwrite $1: it holds an existing $2 "*"; use -f to overwrite it" ]] ||
		{ echo "$output"; return 1; }
	[ "$(sha256sum <"$1")" = "$before" ]
	run -1 $INSTRUMENT "$MKFS" -n "$1"
	run -0 $INSTRUMENT "$MKFS" -f "$1"
	[[ $output == *"wiped:         $2 "* ]] || { echo "$output"; return 1; }
	[ -z "$(blkid_type "$1")" ]
	"$SBINFO" "$1"
}

@test "an xfs filesystem is refused without -f and replaced with -f" {
	command -v mkfs.xfs || skip "mkfs.xfs not installed"
	truncate -s 300M "$IMG"
	mkfs.xfs -q -f "$IMG"
	[ "$(blkid_type "$IMG")" = xfs ]
	refuse_then_force "$IMG" xfs
}

@test "an ext4 filesystem is refused without -f and replaced with -f" {
	command -v mkfs.ext4 || skip "mkfs.ext4 not installed"
	truncate -s 300M "$IMG"
	mkfs.ext4 -F -q "$IMG"
	[ "$(blkid_type "$IMG")" = ext4 ]
	refuse_then_force "$IMG" ext4
}

@test "a partition table is refused without -f and replaced with -f" {
	truncate -s 300M "$IMG"
	if command -v sfdisk >/dev/null; then
		echo 'start=2048, type=83' | sfdisk -q "$IMG"
	else
		# One MBR entry: type 0x83, LBA 2048, 612352 sectors; then 0x55aa.
		printf '\x00\x00\x00\x00\x83\x00\x00\x00\x00\x08\x00\x00\x00\x58\x09\x00' |
			dd of="$IMG" bs=1 seek=446 conv=notrunc status=none
		printf '\x55\xaa' | dd of="$IMG" bs=1 seek=510 conv=notrunc status=none
	fi
	[ "$(blkid_type "$IMG")" = dos ]
	refuse_then_force "$IMG" dos
}

@test "an existing pmcfs filesystem is refused without -f" {
	run -0 $INSTRUMENT "$MKFS" -q -s 16M "$IMG"
	run -1 $INSTRUMENT "$MKFS" "$IMG"
	[ "$output" = "mkfs.pmcfs: refusing to overwrite $IMG: it holds an existing pmcfs filesystem; use -f to overwrite it" ]
	run -0 $INSTRUMENT "$MKFS" -f "$IMG"
	[[ $output == *"wiped:         old pmcfs filesystem"* ]]
}

@test "too small: 5 MiB refused with the minimum stated; 6 MiB works" {
	truncate -s 5M "$IMG"
	run -1 $INSTRUMENT "$MKFS" "$IMG"
	[ "$output" = "mkfs.pmcfs: device too small: $IMG has 5242880 bytes (5 MiB), the minimum is 6291456 bytes (6 MiB)" ]
	run -1 $INSTRUMENT "$MKFS" -s 5M "$BATS_TEST_TMPDIR/new.img"
	[[ $output == *"the minimum is 6291456 bytes (6 MiB)" ]]
	[ ! -e "$BATS_TEST_TMPDIR/new.img" ]
	# 8 MiB - 1 rounds down to 6 MiB of 2 MiB units: still enough.
	run -0 $INSTRUMENT "$MKFS" -s 6M "$IMG"
	[ "$("$SBINFO" "$IMG" | sed -n 's/^nblocks=//p')" -eq 1536 ]
}

@test "a missing image without -s is refused and says to use -s" {
	run -1 $INSTRUMENT "$MKFS" "$BATS_TEST_TMPDIR/nope.img"
	[ "$output" = "mkfs.pmcfs: cannot open $BATS_TEST_TMPDIR/nope.img: no such file (use -s SIZE to create an image file)" ]
	[ ! -e "$BATS_TEST_TMPDIR/nope.img" ]
	run -1 $INSTRUMENT "$MKFS" -s 16M "$BATS_TEST_TMPDIR/no/such/dir.img"
	[[ $output == *"mkfs.pmcfs: cannot create $BATS_TEST_TMPDIR/no/such/dir.img: "* ]]
}

@test "not a file, block device or devdax device: refused" {
	run -1 $INSTRUMENT "$MKFS" /dev/null
	[ "$output" = "mkfs.pmcfs: cannot format /dev/null: not a regular file, block device or devdax device" ]
	run -1 $INSTRUMENT "$MKFS" "$BATS_TEST_TMPDIR"
	[[ $output == "mkfs.pmcfs: cannot format $BATS_TEST_TMPDIR: "* ]]
}

#!/usr/bin/env bats
# mkfs.pmcfs --populate --dedupe: identical 4 KiB-aligned blocks are
# shared (hash, byte compare, clone), exactly as many as the tree holds,
# in runs rather than block by block, and the content stays the same.

load ../helpers
load populate

setup() {
	SRC=$BATS_TEST_TMPDIR/src
	OUT=$BATS_TEST_TMPDIR/out
	mkdir "$SRC"
	# Known duplicates, in 4 KiB blocks, shared whatever order the walk
	# takes (no file repeats its own blocks, which are written, not
	# shared, when they are in the same 4 MiB chunk):
	#   a, b, c  b = a; c = a[512K, 1M) + 100K new + a[0, 512K): of the
	#            768 blocks of a's content, 512 are shared
	#   z, z2    3 MiB of zeros each: one written, the other shared (768)
	#   big1, 2  6 MiB each, equal: 1536 shared, across 4 MiB chunks
	#   unal     5000 bytes + a: a is not block-aligned there (0 shared)
	#   uniq     new data (0 shared)
	head -c 1M /dev/urandom >"$SRC/a"
	cp "$SRC/a" "$SRC/b"
	{ tail -c 512K "$SRC/a"; head -c 100K /dev/urandom; head -c 512K "$SRC/a"; } >"$SRC/c"
	head -c 3M /dev/zero >"$SRC/z"
	cp "$SRC/z" "$SRC/z2"
	head -c 6M /dev/urandom >"$SRC/big1"
	cp "$SRC/big1" "$SRC/big2"
	{ head -c 5000 /dev/urandom; cat "$SRC/a"; } >"$SRC/unal"
	head -c 3M /dev/urandom >"$SRC/uniq"
	SHARED=$(( (512 + 768 + 1536) * 4096 ))
}

@test "--dedupe shares exactly the duplicate blocks and reports the bytes" {
	run -0 $INSTRUMENT "$MKFS" -s 256M -d "$SRC" "$BATS_TEST_TMPDIR/plain.img"
	[[ $output == *"populated:     9 files, 1 directories, 0 symlinks, 0 hard links, 0 special files, 26321800 bytes (25.1 MiB), in "* ]] ||
		{ echo "$output"; return 1; }
	run -0 $INSTRUMENT "$MKFS" --dedupe -s 256M -d "$SRC" "$BATS_TEST_TMPDIR/dd.img"
	[[ $output == *"populated:     9 files, 1 directories, 0 symlinks, 0 hard links, 0 special files, 26321800 bytes (25.1 MiB), $SHARED bytes shared, in "* ]] ||
		{ echo "$output"; return 1; }
	# The free-block difference is the shared blocks, give or take the few
	# tree blocks that the extra extent items of shared ranges take.
	local saved
	saved=$(( $(free_blocks "$BATS_TEST_TMPDIR/dd.img") - $(free_blocks "$BATS_TEST_TMPDIR/plain.img") ))
	[ "$saved" -ge $(( SHARED / 4096 - 8 )) ] && [ "$saved" -le $(( SHARED / 4096 )) ] ||
		{ echo "$saved blocks saved, $(( SHARED / 4096 )) shared"; return 1; }
	# fsck counts the same references from the space map and the extents.
	fsck_clean "$BATS_TEST_TMPDIR/dd.img"
	[[ $output == *"$(( SHARED / 4096 )) extra references: at least $SHARED bytes saved by sharing"* ]] ||
		{ echo "$output"; return 1; }
}

@test "--dedupe keeps every byte, hole and attribute" {
	truncate -s 10M "$SRC/sparse"
	cat "$SRC/a" >>"$SRC/sparse"
	setfattr -n user.x -v y "$SRC/b" 2>/dev/null || true
	run -0 $INSTRUMENT "$MKFS" -q --dedupe -s 256M -d "$SRC" "$BATS_TEST_TMPDIR/dd.img"
	extract "$BATS_TEST_TMPDIR/dd.img" "$OUT"
	same_tree "$SRC" "$OUT"
}

@test "--dedupe shares in runs: a duplicated file is one extent, also across chunks; zeros stay one extent" {
	[ -x "$DUMP" ] || skip "no pmcfs-dump"
	run -0 $INSTRUMENT "$MKFS" -q --dedupe -s 256M -d "$SRC" "$BATS_TEST_TMPDIR/dd.img"
	run -0 "$DUMP" extents /b "$BATS_TEST_TMPDIR/dd.img"
	[[ $output == *"summary: 1 extents, 1048576 bytes mapped, 1048576 bytes shared"* ]] || { echo "$output"; return 1; }
	run -0 "$DUMP" extents /z "$BATS_TEST_TMPDIR/dd.img"
	[[ $output == *"summary: 1 extents, 3145728 bytes mapped, 3145728 bytes shared"* ]] || { echo "$output"; return 1; }
	run -0 "$DUMP" extents /z2 "$BATS_TEST_TMPDIR/dd.img"
	[[ $output == *"summary: 1 extents, 3145728 bytes mapped, 3145728 bytes shared"* ]] || { echo "$output"; return 1; }
	run -0 "$DUMP" extents /big2 "$BATS_TEST_TMPDIR/dd.img"
	[[ $output == *"summary: 1 extents, 6291456 bytes mapped, 6291456 bytes shared"* ]] || { echo "$output"; return 1; }
	run -0 "$DUMP" extents /uniq "$BATS_TEST_TMPDIR/dd.img"
	[[ $output == *"bytes mapped, 0 bytes shared"* ]] || { echo "$output"; return 1; }
}

@test "--dedupe compares bytes: blocks with equal hashes but different bytes are not shared" {
	# Without a real XXH3 collision at hand, check the other direction:
	# blocks that differ in one byte only are never shared.
	python3 -c '
import os, sys
base = bytearray(os.urandom(4096 * 64))
open(sys.argv[1] + "/p", "wb").write(base)
for i in range(64):
    base[i * 4096 + 4095] ^= 1
open(sys.argv[1] + "/q", "wb").write(base)
' "$BATS_TEST_TMPDIR"
	mkdir "$BATS_TEST_TMPDIR/src2"
	mv "$BATS_TEST_TMPDIR/p" "$BATS_TEST_TMPDIR/q" "$BATS_TEST_TMPDIR/src2/"
	run -0 $INSTRUMENT "$MKFS" --dedupe -s 64M -d "$BATS_TEST_TMPDIR/src2" "$BATS_TEST_TMPDIR/dd.img"
	[[ $output == *", 0 bytes shared, in "* ]] || { echo "$output"; return 1; }
	extract "$BATS_TEST_TMPDIR/dd.img" "$OUT"
	cmp "$BATS_TEST_TMPDIR/src2/q" "$OUT/q"
}

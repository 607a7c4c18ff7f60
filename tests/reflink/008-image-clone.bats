#!/usr/bin/env bats
# Image mode: clone and clone-range through libpmcfs on an unmounted image.
load ../helpers
load common
load image

setup() {
	SRC=$BATS_TEST_TMPDIR/src
	mkdir -p "$SRC/dir"
	rand "$SRC/a" 3M
	rand "$SRC/short" 1M
	rand "$SRC/long" 3M
	rand "$SRC/s" 2M
	rand "$SRC/d" 2M
	rand "$SRC/j" 64K
	IMG=$(img_make "$SRC")
}

@test "image clone shares every block (refcount 2) and keeps content" {
	free0=$(free_blocks "$IMG")
	run_ok rl "$IMG" clone /a /b
	[ -z "$output" ]
	cmp "$SRC/a" <(icat "$IMG" /b)
	[ "$(ishared "$IMG" /a)" -eq $((3 << 20)) ]
	[ "$(ishared "$IMG" /b)" -eq $((3 << 20)) ]
	[ "$(irefs "$IMG" /b)" = "[2]" ]
	# No data block was allocated: at most a few metadata blocks.
	[ $((free0 - $(free_blocks "$IMG"))) -lt 16 ]
	img_check "$IMG"
}

@test "image clone onto a longer file cuts it to the source size" {
	run_ok rl "$IMG" clone /short /long
	cmp "$SRC/short" <(icat "$IMG" /long)
	[ "$(rl "$IMG" extents --json /long | jq '.files[0].size')" -eq $((1 << 20)) ]
	img_check "$IMG"
}

@test "image clone into a directory names the clone after the source" {
	run_ok rl "$IMG" clone /j /dir
	cmp "$SRC/j" <(icat "$IMG" /dir/j)
	img_check "$IMG"
}

@test "image clone-range with K/M suffixes shares exactly the range" {
	run_ok rl "$IMG" clone-range /s 1M /d 256K 512K
	icat "$IMG" /d >"$BATS_TEST_TMPDIR/d.out"
	cmp <(tail -c +$((1048576 + 1)) "$SRC/s" | head -c 524288) \
	    <(tail -c +$((262144 + 1)) "$BATS_TEST_TMPDIR/d.out" | head -c 524288)
	cmp -n 262144 "$BATS_TEST_TMPDIR/d.out" "$SRC/d"
	cmp -i 786432:786432 "$BATS_TEST_TMPDIR/d.out" "$SRC/d"
	[ "$(ishared "$IMG" /d)" -eq 524288 ]
	# d: own blocks, the shared range (2 references), own blocks again.
	[ "$(irefs "$IMG" /d)" = "[1,2,1]" ]
	img_check "$IMG"
}

@test "image clone-range LEN 0 clones up to the source's end of file, into a new file" {
	run_ok rl "$IMG" clone-range /a 0 /new 0 0
	cmp "$SRC/a" <(icat "$IMG" /new)
	[ "$(ishared "$IMG" /new)" -eq $((3 << 20)) ]
	img_check "$IMG"
}

@test "image clone and clone-range --json" {
	run_ok rl "$IMG" clone --json /j /j2
	json_ok "$output"
	[ "$(jq -r .status <<<"$output")" = ok ]
	[ "$(jq -r .bytes <<<"$output")" -eq 65536 ]
	run_ok rl "$IMG" clone-range --json /j 0 /j3 0 64K
	json_ok "$output"
	[ "$(jq -r .length <<<"$output")" -eq 65536 ]
	[ "$(jq -r .status <<<"$output")" = ok ]
	[ "$(irefs "$IMG" /j)" = "[3]" ]
	img_check "$IMG"
}

@test "image mode through a loop device (a block device) works the same" {
	dev=$(make_loop "$IMG")
	run_ok rl "$dev" clone /a /viadev
	cleanup_loops
	[ "$(ishared "$IMG" /viadev)" -eq $((3 << 20)) ]
	img_check "$IMG"
}

teardown() { cleanup_loops; }

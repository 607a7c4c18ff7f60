#!/usr/bin/env bats
# Image mode: dedupe shares equal ranges (the library compares the
# bytes) and leaves different ones alone.
load ../helpers
load common
load image

setup() {
	SRC=$BATS_TEST_TMPDIR/src
	mkdir -p "$SRC"
	rand "$SRC/a" 2M
	cp "$SRC/a" "$SRC/b"
	rand "$SRC/x" 1M
	rand "$SRC/y" 1M
	rand "$SRC/src" 1M
	for i in 1 2 3; do cp "$SRC/src" "$SRC/dst$i"; done
	rand "$SRC/other" 1M
	rand "$SRC/p" 32M
	cp "$SRC/p" "$SRC/q"
	printf 'X' | dd of="$SRC/q" bs=1 seek=$((20 << 20)) conv=notrunc status=none
	IMG=$(img_make "$SRC")
}

@test "image dedupe of equal ranges shares them and frees the copy" {
	[ "$(ishared "$IMG" /b)" -eq 0 ]
	free0=$(free_blocks "$IMG")
	run_ok rl "$IMG" dedupe /a 0 2M /b 0
	[ "$output" = "/a [0, 2097152) -> /b [0, 2097152): 2097152 bytes deduped" ]
	[ "$(ishared "$IMG" /b)" -eq $((2 << 20)) ]
	[ "$(irefs "$IMG" /b)" = "[2]" ]
	cmp "$SRC/b" <(icat "$IMG" /b)
	# b's 512 blocks are free again (give or take tree blocks).
	freed=$(($(free_blocks "$IMG") - free0))
	[ "$freed" -ge 500 ] && [ "$freed" -le 512 ]
	img_check "$IMG"
}

@test "image dedupe of different ranges reports differs, exits 1 and changes nothing" {
	before=$(isums "$IMG")
	run -1 rl "$IMG" dedupe /x 0 1M /y 0
	[ "$output" = "/x [0, 1048576) -> /y [0, 1048576): differs" ]
	[ "$(isums "$IMG")" = "$before" ]
	[ "$(ishared "$IMG" /y)" -eq 0 ]
	img_check "$IMG"
}

@test "image dedupe into many destinations in one call reports each" {
	run -1 rl "$IMG" dedupe --json /src 0 1M /dst1 0 /dst2 0 /other 0 /dst3 0
	json_ok "$output"
	[ "$(jq -r '[.destinations[].status] | join(",")' <<<"$output")" = deduped,deduped,differs,deduped ]
	[ "$(jq -r '.destinations[3].bytes_deduped' <<<"$output")" -eq 1048576 ]
	for i in 1 2 3; do [ "$(ishared "$IMG" /dst$i)" -eq 1048576 ]; done
	[ "$(irefs "$IMG" /src)" = "[4]" ]
	[ "$(ishared "$IMG" /other)" -eq 0 ]
	# Differing ranges change nothing, so the rest was committed.
	cmp "$SRC/other" <(icat "$IMG" /other)
	img_check "$IMG"
}

@test "image dedupe partly differing: shares the equal 16 MiB chunk only" {
	run -1 rl "$IMG" dedupe /p 0 32M /q 0
	[[ "$output" == *"differs at 16777216, 16777216 bytes deduped"* ]]
	[ "$(ishared "$IMG" /q)" -eq $((16 << 20)) ]
	cmp "$SRC/q" <(icat "$IMG" /q)
	img_check "$IMG"
}

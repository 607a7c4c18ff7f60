#!/usr/bin/env bats
# Image mode scan: a generated tree with known duplicates, walked,
# hashed and deduped inside the image.
load ../helpers
load common
load image

# make_tree DIR: known duplicate bytes, printed (as in 004-scan.bats):
#   a -> sub/a.copy        4 MiB whole file
#   b[0,1M) -> c[1M,2M)    1 MiB at 128 KiB-aligned offsets
#   s -> sub/s.copy        300000 bytes (two blocks and a tail)
# plus unique data, a hard link (counted once), a symlink (not followed)
# and an empty file (too small).
make_tree() {
	local d=$1
	mkdir -p "$d/sub"
	rand "$d/a" 4M
	cp "$d/a" "$d/sub/a.copy"
	rand "$d/b" 2M
	{ head -c 1M /dev/urandom; head -c 1M "$d/b"; head -c 256K /dev/urandom; } >"$d/c"
	rand "$d/s" 300000
	cp "$d/s" "$d/sub/s.copy"
	rand "$d/u" 3M
	ln "$d/u" "$d/sub/u.link"
	ln -s ../a "$d/sub/link"
	: >"$d/empty"
	echo $((4194304 + 1048576 + 300000))
}
# The same in 4 KiB blocks: 1024 + 256 + 74 (300000 bytes round up).
EXPECT_BLOCKS=1354

setup() {
	expect=$(make_tree "$BATS_TEST_TMPDIR/t")
	IMG=$(img_make "$BATS_TEST_TMPDIR/t")
}

@test "image scan without -d (or with --dry-run) reports the duplicates and writes nothing" {
	sum=$(sha256sum <"$IMG")
	run_ok rl "$IMG" scan -r /
	[[ "$output" == *"duplicate bytes: $expect "* ]]
	[[ "$output" == *"bytes deduped:   0 (report only"* ]]
	run_ok rl "$IMG" scan -r -d --dry-run --json /
	[ "$(jq .duplicate_bytes <<<"$output")" -eq "$expect" ]
	[ "$(jq .bytes_deduped <<<"$output")" -eq 0 ]
	[ "$(sha256sum <"$IMG")" = "$sum" ]
	img_check "$IMG"
}

@test "image scan -d frees the expected blocks, keeps every byte, a second run does nothing" {
	before=$(isums "$IMG")
	free0=$(free_blocks "$IMG")
	run_ok rl "$IMG" scan -r -d --json /
	json_ok "$output"
	[ "$(jq .duplicate_bytes <<<"$output")" -eq "$expect" ]
	[ "$(jq .bytes_deduped <<<"$output")" -eq "$expect" ]
	[ "$(jq .files <<<"$output")" -eq 7 ]
	[ "$(jq .skipped_symlinks <<<"$output")" -eq 1 ]
	[ "$(jq .skipped_small <<<"$output")" -eq 1 ]
	[ "$(jq .ranges <<<"$output")" -eq 3 ]
	freed=$(($(free_blocks "$IMG") - free0))
	echo "freed $freed blocks, expected $EXPECT_BLOCKS" >&2
	# Tree blocks copied on write may cost or return a few blocks.
	[ "$freed" -ge $((EXPECT_BLOCKS - 8)) ] && [ "$freed" -le $((EXPECT_BLOCKS + 8)) ]
	[ "$(isums "$IMG")" = "$before" ]
	[ "$(irefs "$IMG" /sub/a.copy)" = "[2]" ]
	[ "$(ishared "$IMG" /c)" -eq 1048576 ]
	img_check "$IMG"
	sum=$(sha256sum <"$IMG")
	run_ok rl "$IMG" scan -r -d --json /
	[ "$(jq .duplicate_bytes <<<"$output")" -eq 0 ]
	[ "$(jq .bytes_deduped <<<"$output")" -eq 0 ]
	[ "$(jq .ranges <<<"$output")" -eq 0 ]
	# Every duplicate is seen as physically shared already (the 300000-byte
	# tail counts whole, as in kernel mode).
	[ "$(jq .already_shared_bytes <<<"$output")" -eq "$expect" ]
	img_check "$IMG"
}

@test "image scan -d on a subtree and with several threads" {
	run_ok rl "$IMG" scan -r -d --threads 4 --json /sub /a
	[ "$(jq .bytes_deduped <<<"$output")" -eq 4194304 ]
	[ "$(jq .files <<<"$output")" -eq 4 ]
	img_check "$IMG"
}

@test "image scan: the hashfile spares a second read" {
	hf=$BATS_TEST_TMPDIR/hashes
	run_ok rl "$IMG" scan -r --hashfile "$hf" --json /
	[ "$(jq .bytes_read <<<"$output")" -eq "$(jq .bytes_scanned <<<"$output")" ]
	run_ok rl "$IMG" scan -r -d --hashfile "$hf" --json /
	[ "$(jq .bytes_read <<<"$output")" -eq 0 ]
	[ "$(jq .files_from_hashfile <<<"$output")" -eq 7 ]
	[ "$(jq .bytes_deduped <<<"$output")" -eq "$expect" ]
	img_check "$IMG"
}

@test "image scan of a snapshot reports its duplicates (read-only)" {
	run_ok rl "$IMG" snapshot create -r before
	run_ok rl "$IMG" scan -r -d /
	run_ok rl "$IMG" scan -r --json before@/
	[ "$(jq .duplicate_bytes <<<"$output")" -eq "$expect" ]
	run_ok rl "$IMG" scan -r --json /
	[ "$(jq .duplicate_bytes <<<"$output")" -eq 0 ]
	img_check "$IMG"
}

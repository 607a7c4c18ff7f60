#!/usr/bin/env bats
# scan: a generated tree with known duplicates.
load ../helpers
load common

setup_file() {
	XFS=$(fs_make xfs xfs) && BTRFS=$(fs_make btrfs btrfs)
	export XFS BTRFS
}
teardown_file() { fs_cleanup; }

# make_tree DIR: known duplicate bytes, printed:
#   a -> a.copy            4 MiB whole file
#   b[0,1M) -> c[1M,2M)    1 MiB at 128 KiB-aligned offsets
#   s -> s.copy            300000 bytes (two blocks and a tail)
# plus unique data, a hard link (counted once), a symlink out of the tree
# to a copy of a (not followed) and a fifo (skipped).
make_tree() {
	local d=$1
	mkdir -p "$d/sub" "$d.outside"
	rand "$d/a" 4M
	cp --reflink=never "$d/a" "$d/sub/a.copy"
	rand "$d/b" 2M
	{ head -c 1M /dev/urandom; head -c 1M "$d/b"; head -c 256K /dev/urandom; } >"$d/c"
	rand "$d/s" 300000
	cp --reflink=never "$d/s" "$d/sub/s.copy"
	rand "$d/u" 3M
	ln "$d/u" "$d/sub/u.link"
	cp --reflink=never "$d/a" "$d.outside/a.out"
	ln -s "$d.outside/a.out" "$d/sub/link-out"
	mkfifo "$d/fifo"
	sync
	echo $((4194304 + 1048576 + 300000))
}

sums() { (cd "$1" && find . "$1.outside" -type f -print0 | sort -z | xargs -0 sha256sum); }

@test "scan without -d reports the duplicates and modifies nothing" {
	expect=$(make_tree "$XFS/t1")
	before=$(sums "$XFS/t1")
	ext_before=$("$REFLINK" extents -r --json "$XFS/t1" | jq -c '[.files[].extents]')
	run_ok $INSTRUMENT "$REFLINK" scan -r "$XFS/t1"
	[[ "$output" == *"duplicate bytes: $expect "* ]]
	[[ "$output" == *"bytes deduped:   0 (report only"* ]]
	[ "$(sums "$XFS/t1")" = "$before" ]
	[ "$("$REFLINK" extents -r --json "$XFS/t1" | jq -c '[.files[].extents]')" = "$ext_before" ]
	[ "$(tool_shared -r "$XFS/t1")" -eq 0 ]
}

@test "scan -d frees the expected space, keeps every byte, a second run does nothing (xfs)" {
	expect=$(make_tree "$XFS/t2")
	before=$(sums "$XFS/t2")
	used0=$(df -B1 --output=used "$XFS" | tail -1)
	run_ok $INSTRUMENT "$REFLINK" scan -r -d --json "$XFS/t2"
	json_ok "$output"
	[ "$(jq .duplicate_bytes <<<"$output")" -eq "$expect" ]
	[ "$(jq .bytes_deduped <<<"$output")" -eq "$expect" ]
	[ "$(jq .files <<<"$output")" -eq 7 ]
	[ "$(jq .skipped_symlinks <<<"$output")" -eq 1 ]
	[ "$(jq .skipped_other <<<"$output")" -eq 1 ]
	# Coalesced: one range per duplicate run, not one per block.
	[ "$(jq .ranges <<<"$output")" -eq 3 ]
	sync
	used1=$(df -B1 --output=used "$XFS" | tail -1)
	freed=$((used0 - used1))
	# Freed space is the duplicates rounded to 4 KiB blocks.
	[ "$freed" -ge $((expect - 4096)) ]
	[ "$freed" -le $((expect + 65536)) ]
	[ "$(sums "$XFS/t2")" = "$before" ]
	[ "$(filefrag_shared "$XFS/t2/sub/a.copy")" -eq 4194304 ]
	# The symlinked file outside the tree was not touched.
	[ "$(filefrag_shared "$XFS/t2.outside/a.out")" -eq 0 ]
	run_ok $INSTRUMENT "$REFLINK" scan -r -d --json "$XFS/t2"
	[ "$(jq .duplicate_bytes <<<"$output")" -eq 0 ]
	[ "$(jq .bytes_deduped <<<"$output")" -eq 0 ]
	[ "$(jq .ranges <<<"$output")" -eq 0 ]
	[ "$(jq .already_shared_bytes <<<"$output")" -eq "$expect" ]
}

@test "scan -d on btrfs dedupes the same bytes and keeps every byte" {
	expect=$(make_tree "$BTRFS/t3")
	before=$(sums "$BTRFS/t3")
	run_ok $INSTRUMENT "$REFLINK" scan -r -d --threads 3 --json "$BTRFS/t3"
	[ "$(jq .bytes_deduped <<<"$output")" -eq "$expect" ]
	[ "$(sums "$BTRFS/t3")" = "$before" ]
	[ "$(filefrag_shared "$BTRFS/t3/c")" -ge 1048576 ]
	run_ok $INSTRUMENT "$REFLINK" scan -r -d --json "$BTRFS/t3"
	[ "$(jq .bytes_deduped <<<"$output")" -eq 0 ]
}

@test "the hashfile spares unchanged files a second read and notices changed ones" {
	expect=$(make_tree "$XFS/t4")
	hf=$BATS_TEST_TMPDIR/hashes
	run_ok $INSTRUMENT "$REFLINK" scan -r --hashfile "$hf" --json "$XFS/t4"
	[ "$(jq .bytes_read <<<"$output")" -eq "$(jq .bytes_scanned <<<"$output")" ]
	[ "$(head -1 "$hf")" = "pmcfs-reflink-hashfile 1" ]
	[ "$(sed -n 2p "$hf")" = "block-size 131072" ]
	[ "$(grep -c '^f ' "$hf")" -eq 7 ]
	run_ok $INSTRUMENT "$REFLINK" scan -r -d --hashfile "$hf" --json "$XFS/t4"
	[ "$(jq .bytes_read <<<"$output")" -eq 0 ]
	[ "$(jq .files_from_hashfile <<<"$output")" -eq 7 ]
	[ "$(jq .bytes_deduped <<<"$output")" -eq "$expect" ]
	# Rewrite one file: only it is read again.
	rand "$XFS/t4/b" 2M
	run_ok $INSTRUMENT "$REFLINK" scan -r --hashfile "$hf" --json "$XFS/t4"
	[ "$(jq .bytes_read <<<"$output")" -eq 2097152 ]
	[ "$(jq .files_from_hashfile <<<"$output")" -eq 6 ]
	# A damaged hashfile is ignored with a warning, never trusted.
	echo garbage >"$hf"
	run_ok $INSTRUMENT "$REFLINK" scan -r --hashfile "$hf" "$XFS/t4"
	[[ "$output" == *"not a version 1 hashfile"* ]]
}

@test "--follow follows symlinks inside the tree only" {
	d=$XFS/t5
	mkdir -p "$d/in" "$d.out"
	rand "$d/in/x" 1M
	cp --reflink=never "$d/in/x" "$d.out/x"
	ln -s "$d.out/x" "$d/in/out-link"
	ln -s "$d.out" "$d/in/out-dir"
	rand "$d/y" 1M
	cp --reflink=never "$d/y" "$d/y2"
	ln -s ../y2 "$d/in/in-link"
	run_ok $INSTRUMENT "$REFLINK" scan -r --follow --json "$d/in"
	# in-link resolves inside $d but outside the root $d/in: not followed.
	[ "$(jq .files <<<"$output")" -eq 1 ]
	run_ok $INSTRUMENT "$REFLINK" scan -r --follow --json "$d"
	[ "$(jq .files <<<"$output")" -eq 3 ]
	[ "$(jq .duplicate_bytes <<<"$output")" -eq 1048576 ]
	[ "$(jq .skipped_symlinks <<<"$output")" -eq 2 ]
}

@test "--block-size and --min-size change what is found" {
	d=$XFS/t6
	mkdir -p "$d"
	rand "$d/p" 64K
	# p at a 4 KiB offset (through a pipe: cat alone may reflink)
	{ head -c 4K /dev/urandom; cat "$d/p"; } | cat >"$d/q"
	run_ok $INSTRUMENT "$REFLINK" scan -r --json "$d"
	[ "$(jq .duplicate_bytes <<<"$output")" -eq 0 ]
	run_ok $INSTRUMENT "$REFLINK" scan -r --block-size 4K --json "$d"
	[ "$(jq .duplicate_bytes <<<"$output")" -eq 65536 ]
	run_ok $INSTRUMENT "$REFLINK" scan -r --block-size 4K --min-size 1M --json "$d"
	[ "$(jq .files <<<"$output")" -eq 0 ]
	[ "$(jq .skipped_small <<<"$output")" -eq 2 ]
}

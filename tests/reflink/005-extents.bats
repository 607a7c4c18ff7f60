#!/usr/bin/env bats
# extents: FIEMAP maps, shared bytes, and --owners grouping.
load ../helpers
load common

setup_file() {
	XFS=$(fs_make xfs xfs)
	export XFS
}
teardown_file() { fs_cleanup; }

@test "extents shows shared extents and per-file and total shared bytes" {
	rand "$XFS/a" 1M
	rand "$XFS/b" 1M
	run_ok $INSTRUMENT "$REFLINK" extents "$XFS/a"
	[[ "${lines[0]}" == "$XFS/a: 1 extents, 1048576 bytes, 0 bytes shared" ]]
	run_ok "$REFLINK" clone-range "$XFS/a" 256K "$XFS/b" 0 256K
	run_ok $INSTRUMENT "$REFLINK" extents "$XFS/a" "$XFS/b"
	[[ "$output" == *"$XFS/a: 3 extents, 1048576 bytes, 262144 bytes shared"* ]]
	[[ "$output" == *"$XFS/b: 2 extents, 1048576 bytes, 262144 bytes shared"* ]]
	[[ "${lines[-1]}" == "total: 2 files, 5 extents, 524288 bytes shared" ]]
	[[ "$output" == *"262144  shared"* ]]
}

@test "--owners groups shared extents by physical range across files" {
	rand "$XFS/o1" 512K
	run_ok "$REFLINK" clone "$XFS/o1" "$XFS/o2"
	run_ok "$REFLINK" clone-range "$XFS/o1" 128K "$XFS/o3" 64K 128K
	run_ok $INSTRUMENT "$REFLINK" extents --owners --json "$XFS/o1" "$XFS/o2" "$XFS/o3"
	json_ok "$output"
	# Three physical ranges: [0,128K) with 2 owners, [128K,256K) with 3,
	# [256K,512K) with 2; o3's piece sits at offset 64K.
	[ "$(jq '.owners | length' <<<"$output")" -eq 3 ]
	[ "$(jq -c '[.owners[] | .owners | length]' <<<"$output")" = "[2,3,2]" ]
	[ "$(jq -c '[.owners[] | .length]' <<<"$output")" = "[131072,131072,262144]" ]
	[ "$(jq -r '.owners[1].owners[] | select(.path | endswith("o3")) | .offset' <<<"$output")" -eq 65536 ]
	[ "$(jq -r '.owners[1].owners[] | select(.path | endswith("o2")) | .offset' <<<"$output")" -eq 131072 ]
	run_ok $INSTRUMENT "$REFLINK" extents --owners "$XFS/o1" "$XFS/o2" "$XFS/o3"
	[[ "$output" == *"131072 bytes, 3 owners"* ]]
	[[ "$output" == *"  $XFS/o3 at 65536"* ]]
}

@test "extents -r walks a tree; a directory without -r is an error" {
	mkdir -p "$XFS/tree/sub"
	rand "$XFS/tree/f1" 64K
	rand "$XFS/tree/sub/f2" 64K
	ln -s /etc/passwd "$XFS/tree/sub/link"
	run_ok $INSTRUMENT "$REFLINK" extents -r --json "$XFS/tree"
	[ "$(jq .total_files <<<"$output")" -eq 2 ]
	[ "$(jq -r '.files[].path' <<<"$output" | sort | tr '\n' ' ')" = "$XFS/tree/f1 $XFS/tree/sub/f2 " ]
	run -1 $INSTRUMENT "$REFLINK" extents "$XFS/tree"
	[[ "$output" == *"pmcfs-reflink: extents $XFS/tree: is a directory (use -r)"* ]]
}

@test "--json escapes awkward file names" {
	name=$'we"ird\\na\tme\001'
	rand "$XFS/$name" 4K
	run_ok $INSTRUMENT "$REFLINK" extents --json "$XFS/$name"
	json_ok "$output"
	[ "$(jq -r '.files[0].path' <<<"$output")" = "$XFS/$name" ]
}

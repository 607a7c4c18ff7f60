#!/usr/bin/env bats
# Image mode extents: the extent map with each range's real reference
# count from the space map, and --owners across files.
load ../helpers
load common
load image

setup() {
	SRC=$BATS_TEST_TMPDIR/src
	mkdir -p "$SRC/tree/sub"
	rand "$SRC/a" 1M
	rand "$SRC/b" 1M
	rand "$SRC/o1" 512K
	rand "$SRC/tree/f1" 64K
	rand "$SRC/tree/sub/f2" 64K
	ln -s /etc/passwd "$SRC/tree/sub/link"
	IMG=$(img_make "$SRC")
}

@test "image extents: shared ranges with their reference counts, per file and in total" {
	run_ok rl "$IMG" extents /a
	[[ "${lines[0]}" == "/a: "*" extents, 1048576 bytes, 0 bytes shared" ]]
	[[ "${lines[1]}" == *"logical"*"physical"*"length"*"refs"*"flags" ]]
	run_ok rl "$IMG" clone-range /a 256K /b 0 256K
	run_ok rl "$IMG" extents /a /b
	[[ "$output" == *"/a: 3 extents, 1048576 bytes, 262144 bytes shared"* ]]
	[[ "$output" == *"/b: 2 extents, 1048576 bytes, 262144 bytes shared"* ]]
	[[ "${lines[-1]}" == "total: 2 files, 5 extents, 524288 bytes shared" ]]
	[[ "$output" == *"262144      2  shared"* ]]
	run_ok rl "$IMG" extents --json /a
	[ "$(jq -c '[.files[0].extents[] | [.length, .refcount, .shared]]' <<<"$output")" = \
	  "[[262144,1,false],[262144,2,true],[524288,1,false]]" ]
	img_check "$IMG"
}

@test "image extents --owners groups shared ranges across files, refcounts count every owner" {
	run_ok rl "$IMG" clone /o1 /o2
	run_ok rl "$IMG" clone-range /o1 128K /o3 64K 128K
	run_ok rl "$IMG" extents --owners --json /o1 /o2 /o3
	json_ok "$output"
	# mkfs may place a file in more than one run: compare the owner
	# counts along o1 with neighbouring equal counts merged.
	[ "$(jq -c '[.owners[] | .owners | length] |
		reduce .[] as $x ([]; if length > 0 and .[-1] == $x then . else . + [$x] end)' \
		<<<"$output")" = "[2,3,2]" ]
	[ "$(jq -c '[.owners[] | select(.owners | length == 3) | .length] | add' <<<"$output")" -eq 131072 ]
	[ "$(jq -c '[.owners[] | select(.owners | length == 2) | .length] | add' <<<"$output")" -eq 393216 ]
	[ "$(jq -r '.owners[] | select(.owners | length == 3) | .owners[] | select(.path == "/o3") | .offset' <<<"$output")" -eq 65536 ]
	[ "$(irefs "$IMG" /o1)" = "[2,3,2]" ]
	run_ok rl "$IMG" extents --owners /o1 /o2 /o3
	[[ "$output" == *"131072 bytes, 3 owners"* ]]
	[[ "$output" == *"  /o3 at 65536"* ]]
	img_check "$IMG"
}

@test "image extents -r walks a tree; a directory without -r is an error" {
	run_ok rl "$IMG" extents -r --json /tree
	[ "$(jq .total_files <<<"$output")" -eq 2 ]
	[ "$(jq -r '.files[].path' <<<"$output" | tr '\n' ' ')" = "/tree/f1 /tree/sub/f2 " ]
	run_ok rl "$IMG" extents -r --json /
	[ "$(jq .total_files <<<"$output")" -eq 5 ]
	run -1 rl "$IMG" extents /tree
	[[ "$output" == *"pmcfs-reflink: extents /tree: is a directory (use -r)"* ]]
}

@test "image extents opens the image read-only: the file is untouched" {
	sum=$(sha256sum <"$IMG")
	chmod 0444 "$IMG"
	run_ok rl "$IMG" extents -r /
	chmod 0644 "$IMG"
	[ "$(sha256sum <"$IMG")" = "$sum" ]
}

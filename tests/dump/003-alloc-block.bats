#!/usr/bin/env bats
# pmcfs-dump alloc (space-map runs and summary) and block (any one block).

load common

setup() { mkimg && roots; }

@test "alloc on a fresh image: runs cover the device, free count equals the commit record's" {
	run -0 --separate-stderr dump alloc "$IMG"
	[ -z "$stderr" ]
	[[ ${lines[0]} == "start"*"length"*"refcount"*"owner" ]]
	[[ $output == *"0              512            1         super"* ]]
	[[ $output == *"517            15355          0         free"* ]]
	[[ $output == *"summary: 5 runs, 16384 blocks: 15357 free, 3 used, 0 bad, 1024 reserved, 0 shared"* ]]
	# the lengths add up to the device size
	local sum
	sum=$(awk '$1 ~ /^[0-9]+$/ { s += $2 } END { print s }' <<<"$output")
	[ "$sum" -eq $((64 << 20 >> 12)) ]
}

@test "alloc --json: runs sum to the device size and free equals super's free_blocks" {
	run -0 dump --json alloc "$IMG"
	json_ok "$output"
	[ "$(jqv "$output" '[.runs[].len]|add')" = 16384 ]
	[ "$(jqv "$output" .summary.blocks)" = 16384 ]
	[ "$(jqv "$output" '[.runs[]|select(.refcount==0).len]|add')" = "$(jqv "$output" .summary.free)" ]
	local sfree
	sfree=$(dump --json super "$IMG" | jq '.slots[0].free_blocks')
	[ "$(jqv "$output" .summary.free)" = "$sfree" ]
	[ "$(jqv "$output" '.runs[0].owner_name')" = super ]
	[ "$(jqv "$output" '.runs[2].owner_name')" = fs ]
	[ "$(jqv "$output" .summary.shared)" = 0 ]
}

@test "alloc with bad blocks: owner bad, counted in the summary" {
	mkimg_deep
	run -0 dump alloc "$IMG"
	[[ $output == *"1000           1              1         bad"* ]]
	[[ $output == *" 300 bad, "* ]]
	run -0 dump --json alloc "$IMG"
	[ "$(jqv "$output" '[.runs[].len]|add')" = 16384 ]
	[ "$(jqv "$output" '[.runs[]|select(.owner_name=="bad").len]|add')" = 300 ]
}

@test "alloc: a commit record whose free count disagrees is reported" {
	run -0 dump set --slot A free_blocks 5 "$IMG"
	run -0 dump set --slot A --replica free_blocks 5 "$IMG"
	run -1 --separate-stderr dump alloc "$IMG"
	[[ $stderr == "pmcfs-dump: space map: 15357 free blocks, the commit record says 5" ]]
}

@test "block on the superblock, a commit slot, a reserved block, a tree block, a free block" {
	run -0 dump block 0 "$IMG"
	[[ $output == *"superblock (block 0): valid"* ]]
	run -0 dump block 15872 "$IMG"
	[[ $output == *"superblock replica (block 15872): valid"* ]]
	run -0 dump block 1 "$IMG"
	[[ $output == *"commit slot (block 1): valid"* ]]
	[[ $output == *"generation         2"* ]]
	run -0 dump block 100 "$IMG"
	[[ $output == "block 100: reserved area outside the data area, not a metadata block; in space-map run 0+512, refcount 1, owner super" ]]
	run -0 dump block 16000 "$IMG"
	[[ $output == *"reserved area"*"owner super" ]]
	run -0 dump block "$RT" "$IMG"
	[[ $output == *"block $RT (roottab leaf, crc ok): ok"* ]]
	[[ $output == *"item 1: key (256 ROOT 0)"* ]]
	run -0 dump block 600 "$IMG"
	[[ $output == "block 600: no tree magic: a data block or unused; in space-map run 517+15355, refcount 0, owner free" ]]
}

@test "block --json on every kind of block" {
	local b
	for b in 0 1 100 "$RT" "$FS" "$SM" 600; do
		run -0 dump --json block "$b" "$IMG"
		json_ok "$output" || { echo "block $b: $output"; return 1; }
	done
	run -0 dump --json block 100 "$IMG"
	[ "$(jqv "$output" .space_run.owner_name)" = super ]
	run -0 dump --json block "$FS" "$IMG"
	[ "$(jqv "$output" .kind)" = "fs tree" ]
	[ "$(jqv "$output" '.items[0].key.type_name')" = INODE ]
	run -0 dump --json block 1 "$IMG"
	[ "$(jqv "$output" .generation)" = 2 ]
}

@test "block on a corrupt tree block exits 1 with the check; past the end exits 1" {
	poke "$IMG" $((SM * 4096 + 300)) 01
	run -1 --separate-stderr dump block "$SM" "$IMG"
	[[ $output == *"block $SM (spacemap leaf, crc bad): invalid: crc: expected 0x"* ]]
	[[ $stderr == "pmcfs-dump: block $SM: crc: expected 0x"* ]]
	run -1 dump block 16384 "$IMG"
	[[ $output == "pmcfs-dump: block 16384 is beyond the end of the filesystem (16384 blocks)" ]]
}

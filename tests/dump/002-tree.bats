#!/usr/bin/env bats
# pmcfs-dump tree: every block of a tree, depth first; corrupt blocks are
# reported with the failed check and skipped, never crashed on.

load common

setup() { mkimg && roots; }

@test "tree roottab on a fresh image: one leaf with the ROOT item of subvolume 256" {
	run -0 --separate-stderr dump tree roottab "$IMG"
	[ -z "$stderr" ]
	[[ ${lines[0]} == "tree 1 (roottab): root block $RT, level 0, generation 2" ]]
	[[ $output == *"block $RT (roottab leaf, depth 0, crc ok): ok"* ]]
	[[ $output == *"owner=1 level=0 nritems=2"* ]]
	[[ $output == *"item 0: key (0 NEXT_SUBVOL 0) size 8"* ]]
	[[ $output == *"item 1: key (256 ROOT 0) size 128"* ]]
	[[ $output == *"blkno=$FS generation=2 flags=0x0"* ]]
	run -0 dump tree 1 "$IMG"
}

@test "tree spacemap on a fresh image: five runs" {
	run -0 dump tree spacemap "$IMG"
	[[ ${lines[0]} == "tree 2 (spacemap): root block $SM, level 0, generation 2" ]]
	[[ $output == *"item 0: key (0 SPACE_RUN 0) size 16"* ]]
	[[ $output == *"len=512 refcount=1 owner=2 (super)"* ]]
	[[ $output == *"item 3: key (517 SPACE_RUN 0) size 16"* ]]
	[[ $output == *"len=15355 refcount=0 owner=0 (fs)"* ]]
	run -0 dump tree 2 "$IMG"
}

@test "tree 256 on a fresh image: the root directory inode" {
	run -0 dump tree 256 "$IMG"
	[[ ${lines[0]} == "tree 256: root block $FS, level 0, generation 2" ]]
	[[ $output == *"item 0: key (256 INODE 0) size 160"* ]]
	[[ $output == *"mode=040755 uid=0 gid=0 nlink=2 size=0"* ]]
}

@test "tree --json: roottab, spacemap and 256 parse and carry the values" {
	run -0 dump --json tree roottab "$IMG"
	json_ok "$output"
	[ "$(jqv "$output" .tree.id)" = 1 ]
	[ "$(jqv "$output" .tree.root.blkno)" = "$RT" ]
	[ "$(jqv "$output" '.nodes[0].valid')" = true ]
	[ "$(jqv "$output" '.nodes[0].header.magic')" = 0x31545250 ]
	[ "$(jqv "$output" '.nodes[0].items[1].key.type_name')" = ROOT ]
	[ "$(jqv "$output" '.nodes[0].items[1].body.blkno')" = "$FS" ]
	run -0 dump tree spacemap --json "$IMG"
	json_ok "$output"
	[ "$(jqv "$output" '[.nodes[0].items[].body.len]|add')" = 16384 ]
	[ "$(jqv "$output" '.nodes[0].items[3].body.owner_name')" = free ]
	run -0 dump --json tree 256 "$IMG"
	json_ok "$output"
	[ "$(jqv "$output" '.nodes[0].items[0].body.mode')" = $((0040755)) ]
	[ "$(jqv "$output" '.nodes[0].items[0].body.nlink')" = 2 ]
}

@test "a two-level space map: node pointers with generations, every leaf visited" {
	mkimg_deep
	run -0 dump tree spacemap "$IMG"
	[[ $output == *"spacemap node, depth 0, crc ok): ok"* ]]
	[[ $output == *"ptr 1: key (1190 SPACE_RUN 0) -> block "*" generation 2"* ]]
	[[ $output == *"spacemap leaf, depth 1, crc ok): ok"* ]]
	run -0 dump --json tree spacemap "$IMG"
	[ "$(jqv "$output" '.nodes[0].header.level')" = 1 ]
	[ "$(jqv "$output" '.nodes|length')" = $(($(jqv "$output" '.nodes[0].ptrs|length') + 1)) ]
	[ "$(jqv "$output" '[.nodes[].items // [] | .[].body.len]|add')" = 16384 ]
}

@test "a flipped byte in a leaf is reported with the failed check (exit 1), the walk goes on" {
	mkimg_deep
	local leaf
	leaf=$(dump --json tree spacemap "$IMG" | jq '.nodes[0].ptrs[2].blkno')
	poke "$IMG" $((leaf * 4096 + 200)) ff
	run -1 --separate-stderr dump tree spacemap "$IMG"
	[[ $output == *"block $leaf (spacemap leaf, depth 1, crc bad): invalid: crc: expected 0x"* ]]
	[[ $stderr == *"pmcfs-dump: tree 2: block $leaf: crc: expected 0x"*"; not descended"* ]]
	# the leaves after it are still shown
	[[ $output == *"ptr 3: key"* ]]
	[ "$(grep -c 'spacemap leaf, depth 1, crc ok): ok' <<<"$output")" -ge 5 ]
	run -1 --separate-stderr dump --json tree spacemap "$IMG"
	json_ok "$output"
	[ "$(jqv "$output" .unreadable_blocks)" = 1 ]
	[ "$(jqv "$output" '[.nodes[]|select(.valid==false)][0].error.check')" = crc ]
	# alloc walks the same tree: it reports, and still prints the other runs
	run -1 dump alloc "$IMG"
	[[ $output == *"summary: "* ]]
}

@test "a root with a flipped byte: tree roottab exits 1 with the check, not a crash" {
	poke "$IMG" $((RT * 4096 + 4000)) 5a
	run -1 --separate-stderr dump tree roottab "$IMG"
	[[ $output == *"block $RT (roottab leaf, depth 0, crc bad): invalid: crc"* ]]
}

@test "a wrong header field with a good crc names that check (set --block)" {
	run -0 dump set --block "$SM" owner 7 "$IMG"
	run -1 dump tree spacemap "$IMG"
	[[ $output == *"block $SM (spacemap leaf, depth 0, crc ok): invalid: owner: expected 2, found 7"* ]]
	run -0 dump set --block "$SM" owner 2 "$IMG"
	run -0 dump set --block "$SM" level 3 "$IMG"
	run -1 dump tree spacemap "$IMG"
	[[ $output == *"invalid: level: expected 0, found 3"* ]]
	run -0 dump set --block "$SM" level 0 "$IMG"
	run -0 dump set --block "$SM" generation 1 "$IMG"
	run -1 dump tree spacemap "$IMG"
	[[ $output == *"invalid: generation: expected 2, found 1"* ]]
}

@test "a pointer to a block already visited (a loop) is reported, not followed" {
	mkimg_deep
	local root
	root=$(dump --json tree spacemap "$IMG" | jq '.tree.root.blkno')
	# ptr 1 -> the leaf ptr 0 points at: bytes 64 + 40*1 + 24 of the node
	local leaf0
	leaf0=$(dump --json tree spacemap "$IMG" | jq '.nodes[0].ptrs[0].blkno')
	printf "$(printf '\\x%02x\\x%02x' $((leaf0 & 255)) $((leaf0 >> 8)))" |
		dd of="$IMG" bs=1 seek=$((root * 4096 + 64 + 40 + 24)) conv=notrunc status=none
	run -0 dump set --block "$root" flags 0 "$IMG"	# recompute the crc
	run -1 --separate-stderr dump tree spacemap "$IMG"
	[[ $stderr == *"block $leaf0: reached twice (a loop, or a block shared inside one tree); not descended"* ]]
	# a pointer at the node itself: a loop to an ancestor
	printf "$(printf '\\x%02x\\x%02x' $((root & 255)) $((root >> 8)))" |
		dd of="$IMG" bs=1 seek=$((root * 4096 + 64 + 80 + 24)) conv=notrunc status=none
	run -0 dump set --block "$root" flags 0 "$IMG"
	run -1 --separate-stderr dump tree spacemap "$IMG"
	[[ $stderr == *"block $root: reached twice"* ]]
}

@test "unknown trees are refused with a clear message" {
	run -1 dump tree 257 "$IMG"
	[[ $output == "pmcfs-dump: no such tree: subvolume 257 is not in the root table" ]]
	run -1 dump tree nosuchname "$IMG"
	[[ $output == "pmcfs-dump: no such tree: nosuchname: not roottab, spacemap, a subvolume id or name" ]]
	run -1 dump tree 3 "$IMG"
	[[ $output == "pmcfs-dump: no such tree: 3: "* ]]
}

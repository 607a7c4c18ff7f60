#!/usr/bin/env bats
# pmcfs-dump extents, owners and snapshots on images with clones
# (pmcfs-reflink --image clone-range) and snapshots.

load common
load ns

setup() {
	SRC=$BATS_TEST_TMPDIR/src
	IMG=$BATS_TEST_TMPDIR/x.img
	mkdir -p "$SRC"
	head -c 1M /dev/urandom >"$SRC/a"
	head -c 1M /dev/urandom >"$SRC/b"
	head -c 6M /dev/urandom >"$SRC/big"
	"$MKFS" -q -s 256M --populate "$SRC" "$IMG"
}

rl() { "$REFLINK" --image "$IMG" "$@" >/dev/null; }

@test "extents: rows, summary, PMD mappability; --json parses" {
	run -0 --separate-stderr dump extents /big "$IMG"
	[ -z "$stderr" ]
	[[ ${lines[0]} == "/big: inode "*", size 6291456, subvolume 256"*"dax_align 2097152" ]]
	[[ ${lines[-1]} == "summary: "*" extents, 6291456 bytes mapped, 0 bytes shared, "*" bytes PMD-mappable" ]]
	run -0 dump --json extents /big "$IMG"
	json_ok "$output"
	[ "$(jqv "$output" '[.extents[].length] | add')" = 6291456 ]
	[ "$(jqv "$output" '.summary.bytes_pmd_mappable')" -ge 4194304 ]
	[ "$(jqv "$output" '.extents[0].file_offset')" = 0 ]
	[ "$(jqv "$output" '[.extents[] | select(.pmd_mappable) | ((.phys * 4096 - .file_offset) % 2097152)] | add // 0')" = 0 ]
}

@test "extents after clone-range: the shared range splits the rows, refcount 2, shared" {
	rl clone-range /a 256K /b 0 256K
	run -0 dump --json extents /a "$IMG"
	json_ok "$output"
	[ "$(printf '%s' "$output" | jq -c '[.extents[] | [.file_offset, .length, .refcount, .shared]]')" = \
	  "[[0,262144,1,false],[262144,262144,2,true],[524288,524288,1,false]]" ]
	[ "$(jqv "$output" .summary.bytes_shared)" = 262144 ]
	run -0 dump extents /b "$IMG"
	[[ ${lines[2]} =~ ^\ +0\ +[0-9]+\ +64\ +2\ +1\ yes\ +no\ +-$ ]]
}

@test "extents after a snapshot: data refcount 1, tree refcount 2, shared" {
	rl snapshot create s1
	run -0 dump --json extents /a "$IMG"
	[ "$(jqv "$output" '[.extents[] | .shared] | all')" = true ]
	[ "$(jqv "$output" '[.extents[] | .tree_refcount] | min')" = 2 ]
	[ "$(jqv "$output" '.summary.bytes_shared')" = 1048576 ]
	run -0 dump --snapshot s1 --json extents /a "$IMG"
	[ "$(jqv "$output" '[.extents[] | .shared] | all')" = true ]
}

@test "owners: both files of a clone and the snapshot's copies, with offsets" {
	rl clone-range /a 256K /b 0 256K
	rl snapshot create s1
	local blk
	blk=$(dump --json extents /b "$IMG" | jq '.extents[0].phys')
	run -0 --separate-stderr dump owners "$blk+2" "$IMG"
	[ -z "$stderr" ]
	[[ $output == *"space: blocks $blk+2, refcount 2, fs"* ]]
	[[ $output == *"file: /a (subvolume 256 \"\", inode "*", file offset 262144, blocks $blk+2)"* ]]
	[[ $output == *"file: /b (subvolume 256 \"\", inode "*", file offset 0, blocks $blk+2)"* ]]
	[[ $output == *"file: /a (subvolume 257 \"s1\""*"file offset 262144"* ]]
	[[ $output == *"file: /b (subvolume 257 \"s1\""*"file offset 0"* ]]
	run -0 dump --json owners "$blk" "$IMG"
	json_ok "$output"
	[ "$(jqv "$output" '.files | length')" = 4 ]
	[ "$(jqv "$output" '[.files[].paths[0]] | sort | unique | join(",")')" = /a,/b ]
	[ "$(jqv "$output" '[.files[].subvolume] | sort | unique | join(",")')" = 256,257 ]
}

@test "owners: a tree block is named with its tree and level; a free block has no owner" {
	local root
	root=$(dump --json snapshots "$IMG" | jq '.subvolumes[0].item.blkno')
	run -0 dump owners "$root" "$IMG"
	[[ $output == *"tree block: $root (tree 256 \"\", level 0)"* ]]
	run -0 dump owners 60000+10 "$IMG"
	[[ $output == *"refcount 0, free"* ]]
	[[ $output == *"no file extent or tree block uses these blocks"* ]]
	run -2 dump owners 12+0 "$IMG"
	run -2 dump owners x "$IMG"
	run -1 dump owners 99999999 "$IMG"
	[[ $output == *"beyond the end of the filesystem"* ]]
}

@test "snapshots: id, parent, flags (ro), generation, ctime, root; --json" {
	rl snapshot create s1
	rl snapshot create --readonly s2
	run -0 --separate-stderr dump snapshots "$IMG"
	[ -z "$stderr" ]
	[[ ${lines[0]} == "id "*"parent"*"flags"*"create_gen"*"ctime"*"root"*"level"*"name" ]]
	[[ ${lines[1]} == "256* "* ]]
	[[ ${lines[2]} =~ ^257\ +256\ +-\ +[0-9]+\ 20[0-9-]+\ [0-9:.]+\ \+0000\ +[0-9]+\ +[0-9]\ +s1$ ]]
	run -0 dump --json snapshots "$IMG"
	json_ok "$output"
	[ "$(jqv "$output" '.subvolumes | length')" = 3 ]
	[ "$(jqv "$output" '.subvolumes[1].name')" = s1 ]
	[ "$(jqv "$output" '.subvolumes[1].parent')" = 256 ]
	[ "$(jqv "$output" '.subvolumes[1].parent_gone')" = false ]
	[ "$(jqv "$output" '.subvolumes[0].default')" = true ]
	[ "$(jqv "$output" '.subvolumes[1].ctime.nsec')" -ge 0 ]
	[ "$(jqv "$output" '.subvolumes[2].readonly')" = true ]
	[ "$(jqv "$output" '.subvolumes[2].flags')" = 0x1 ]
	run -0 dump snapshots "$IMG"
	[[ ${lines[3]} =~ ^258\ +256\ +ro\ + ]]
}

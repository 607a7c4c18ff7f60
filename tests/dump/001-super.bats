#!/usr/bin/env bats
# pmcfs-dump super: both superblocks, all four commit slots, the current one.

load common

setup() { mkimg -L dumptest && commit2; }

@test "super: both superblocks and all slots valid, A is current; mkfs leaves B empty" {
	run -0 --separate-stderr dump super "$IMG"
	[ -z "$stderr" ]
	[[ $output == *"superblock (block 0): valid"* ]]
	[[ $output == *"superblock replica (block 15872): valid"* ]]
	[[ $output == *"commit slot A (block 1): valid"* ]]
	[[ $output == *"commit slot B (block 2): valid"* ]]
	[[ $output == *"commit slot A replica (block 15873): valid"* ]]
	[[ $output == *"commit slot B replica (block 15874): valid"* ]]
	[[ $output == *"current: slot A (block 1), generation 4"* ]]
	[[ $output == *'label              "dumptest"'* ]]
	[[ $output == *"nblocks            16384"* ]]
	[[ $output == *"flags              0x1 (clean)"* ]]
}

@test "super --json: every copy, the generations and the current slot" {
	run -0 dump --json super "$IMG"
	json_ok "$output"
	[ "$(jqv "$output" .superblock.valid)" = true ]
	[ "$(jqv "$output" .superblock.label)" = dumptest ]
	[ "$(jqv "$output" .superblock.magic)" = 0x3142535346434d50 ]
	[ "$(jqv "$output" .superblock_replica.valid)" = true ]
	[ "$(jqv "$output" '.slots|length')" = 4 ]
	[ "$(jqv "$output" '[.slots[].valid]|all')" = true ]
	[ "$(jqv "$output" '.slots[0].generation')" = 4 ]
	[ "$(jqv "$output" '.slots[1].generation')" = 3 ]
	[ "$(jqv "$output" '.current.slot')" = A ]
	[ "$(jqv "$output" '.current.generation')" = 4 ]
	# the free count agrees with the library's view (tests/tools/pmcfs-sbinfo)
	local sbinfo=${SBINFO:-$TOP/tests/pmcfs-sbinfo}
	[ ! -x "$sbinfo" ] ||
		[ "$(jqv "$output" '.slots[0].free_blocks')" = "$("$sbinfo" "$IMG" | sed -n 's/^free_blocks=//p')" ]
}

@test "a torn slot A is shown invalid with the failed check, and its replica becomes current" {
	run -0 dump set --slot A --no-crc generation 9 "$IMG"
	run -1 --separate-stderr dump super "$IMG"
	[[ $output == *"commit slot A (block 1): invalid: crc: expected 0x"*", found 0x"*"(metadata checksum mismatch)"* ]]
	[[ $stderr == "pmcfs-dump: commit slot A (block 1): crc: expected 0x"* ]]
	[[ $output == *"commit slot A replica (block 15873): valid"* ]]
	[[ $output == *"current: slot A replica (block 15873), generation 4"* ]]
	# the torn value is still shown, for forensics
	[[ $output == *"generation         9"* ]]
	run -1 --separate-stderr dump --json super "$IMG"
	json_ok "$output"
	[ "$(jqv "$output" '.slots[0].valid')" = false ]
	[ "$(jqv "$output" '.slots[0].error.check')" = crc ]
	# the filesystem still opens: the other subcommands work
	run -0 dump tree roottab "$IMG"
	run -0 dump alloc "$IMG"
}

@test "a damaged slot B is shown invalid: bad magic; an all-zero slot is empty, not damaged" {
	poke "$IMG" $((2 * 4096)) ff
	run -1 dump super "$IMG"
	[[ $output == *"commit slot B (block 2): invalid: magic: expected 0x314d4f4346434d50, found 0x"* ]]
	[[ $output == *"current: slot A (block 1), generation 4"* ]]
	dd if=/dev/zero of="$IMG" bs=4096 seek=2 count=1 conv=notrunc status=none
	run -0 dump super "$IMG"
	[[ $output == *"commit slot B (block 2): empty (never written)"* ]]
	mkimg
	run -0 dump --json super "$IMG"
	[ "$(jqv "$output" '.slots[1].empty')" = true ]
	[ "$(jqv "$output" '.slots[3].empty')" = true ]
}

@test "super works where open fails: primary superblock and every slot zeroed, then the replica too" {
	dd if=/dev/zero of="$IMG" bs=4096 count=3 conv=notrunc status=none
	run -1 dump super "$IMG"
	[[ $output == *"superblock (block 0): invalid: magic"* ]]
	[[ $output == *"using the replica superblock"* ]]
	[[ $output == *"current: slot A replica (block 15873)"* ]]
	dd if=/dev/zero of="$IMG" bs=4096 seek=15872 count=3 conv=notrunc status=none
	run -1 --separate-stderr dump super "$IMG"
	[[ $output == *"superblock replica (block 15872): invalid: magic"* ]]
	[[ $output == *"commit slot B replica (block 15874): empty (never written)"* ]]
	[[ $output == *"current: none (no valid commit slot)"* ]]
	[[ $stderr == *"pmcfs-dump: no valid commit slot: the filesystem cannot be opened"* ]]
	run -1 --separate-stderr dump --json super "$IMG"
	json_ok "$output"
	[ "$(jqv "$output" .current)" = null ]
	run -1 --separate-stderr dump tree roottab "$IMG"
	[[ $stderr == "pmcfs-dump: cannot open the filesystem on $IMG: "* ]]
}

@test "a superblock with a bad field names the check" {
	run -0 dump set block_size 8192 "$IMG"
	run -1 dump super "$IMG"
	[[ $output == *"superblock (block 0): invalid: block_size: expected 4096, found 8192"* ]]
	[[ $output == *"superblock replica (block 15872): valid"* ]]
}

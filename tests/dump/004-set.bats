#!/usr/bin/env bats
# pmcfs-dump set: the only writer, through the same field tables.

load common

setup() { mkimg && commit2 && roots; }

@test "set round trip: superblock label and commit slot generation, crc recomputed" {
	run -0 dump set label hello "$IMG"
	[[ ${lines[0]} == 'superblock (block 0): label: "" -> "hello"' ]]
	[[ ${lines[1]} == "superblock (block 0): crc: 0x"*" -> 0x"* ]]
	run -0 dump super "$IMG"
	[[ $output == *'label              "hello"'* ]]
	run -0 dump set label "" "$IMG"
	run -0 dump set --slot B generation 2 "$IMG"
	run -0 dump --json super "$IMG"
	[ "$(jqv "$output" '.slots[1].generation')" = 2 ]
	run -0 dump set --slot A generation 5 "$IMG"
	run -0 dump set --slot a --replica generation 5 "$IMG"
	run -0 dump --json super "$IMG"
	[ "$(jqv "$output" .current.generation)" = 5 ]
	[ "$(jqv "$output" '.slots[2].generation')" = 5 ]
	run -0 dump set --slot A generation 4 "$IMG"
	run -0 dump set --slot A --replica generation 4 "$IMG"
	run -0 --separate-stderr dump super "$IMG"
	[ -z "$stderr" ]
	[[ $output == *"current: slot A (block 1), generation 4"* ]]
}

@test "set --no-crc leaves the checksum stale; set crc writes it verbatim" {
	local good
	good=$(dump --json super "$IMG" | jq -r .superblock.crc)
	run -0 dump set --no-crc mkfs_time 1 "$IMG"
	[ "${#lines[@]}" -eq 1 ]
	run -1 dump super "$IMG"
	[[ $output == *"superblock (block 0): invalid: crc"* ]]
	run -0 dump set mkfs_time 1 "$IMG"
	run -0 dump super "$IMG"
	run -0 dump set --slot B crc 0x1234 "$IMG"
	run -1 dump super "$IMG"
	[[ $output == *"commit slot B (block 2): invalid: crc: expected 0x"*", found 0x1234"* ]]
	[ -n "$good" ]
}

@test "set --block on a tree header, and --json output" {
	run -0 dump --json set --block "$RT" nritems 0 "$IMG"
	json_ok "$output"
	[ "$(jqv "$output" .target)" = "block $RT header" ]
	[ "$(jqv "$output" .old)" = 2 ]
	[ "$(jqv "$output" .new)" = 0 ]
	run -0 dump tree roottab "$IMG"
	[[ $output == *"nritems=0"* ]]
	run -0 dump set --block "$RT" nritems 2 "$IMG"
	run -0 dump tree roottab "$IMG"
	[[ $output == *"item 1: key (256 ROOT 0)"* ]]
}

@test "set refuses unknown fields, bad values and mixed targets (exit 2) and changes nothing" {
	local before
	before=$(sha256sum <"$IMG")
	run -2 dump set nosuch 1 "$IMG"
	[[ $output == "pmcfs-dump: set: unknown superblock field 'nosuch': expected one of crc, version, magic,"* ]]
	run -2 dump set --slot A nosuch 1 "$IMG"
	[[ $output == *"unknown commit slot field 'nosuch'"* ]]
	run -2 dump set --slot A roottab_level 256 "$IMG"
	[[ $output == *"invalid value '256' for roottab_level: expected a number from 0 to 255"* ]]
	run -2 dump set version abc "$IMG"
	run -2 dump set uuid not-a-uuid "$IMG"
	[[ $output == *"expected a uuid"* ]]
	run -2 dump set label "$(printf 'x%.0s' {1..65})" "$IMG"
	[[ $output == *"longer than 64 bytes"* ]]
	run -2 dump set --slot C generation 1 "$IMG"
	[[ $output == *"invalid slot 'C': expected A or B"* ]]
	run -2 dump set --block "$RT" --slot A level 1 "$IMG"
	[[ $output == *"--block cannot be combined"* ]]
	run -2 dump super --slot A "$IMG"
	[[ $output == *"super: option --slot is only for set"* ]]
	[ "$(sha256sum <"$IMG")" = "$before" ]
}

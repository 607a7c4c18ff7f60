#!/usr/bin/env bats
# pmcfs-dump: help, version, usage errors (exit 2), argument order.

load common

@test "--help lists every subcommand and option and exits 0; SUBCOMMAND --help" {
	run -0 dump --help
	[[ ${lines[0]} == "usage: pmcfs-dump [options] SUBCOMMAND [ARGS...] DEVICE" ]]
	local w
	for w in super "tree ID|NAME" alloc "block BLKNO" "set FIELD VALUE" --json --slot --replica --block --no-crc --version --help; do
		[[ $output == *"$w"* ]] || { echo "missing $w"; return 1; }
	done
	run -0 dump -h
	[[ $output == usage:* ]]
	run -0 dump tree --help
	[[ ${lines[0]} == "usage: pmcfs-dump [options] tree ID|NAME DEVICE" ]]
	[[ $output == *"--slot"* && $output != *"--no-crc"* ]]
	run -0 dump block --help
	[[ $output != *"--slot"* ]]
	run -0 dump set -h
	[[ $output == *"--no-crc"* ]]
}

@test "-V and --version print the version" {
	run -0 dump -V
	[[ $output == "pmcfs-dump "* ]]
	run -0 dump --version
	[[ $output == "pmcfs-dump "* ]]
}

@test "usage errors exit 2 with a message" {
	mkimg
	run -2 dump
	[[ ${lines[0]} == "pmcfs-dump: missing SUBCOMMAND" ]]
	run -2 dump frobnicate "$IMG"
	[[ ${lines[0]} == "pmcfs-dump: unknown subcommand: frobnicate" ]]
	run -2 dump super
	[[ ${lines[0]} == "pmcfs-dump: super: missing DEVICE" ]]
	run -2 dump tree "$IMG"
	[[ ${lines[0]} == "pmcfs-dump: tree: missing arguments or DEVICE" ]]
	run -2 dump super "$IMG" extra
	[[ ${lines[0]} == "pmcfs-dump: super: too many arguments: extra" ]]
	run -2 dump --bogus super "$IMG"
	[[ ${lines[0]} == "pmcfs-dump: unknown option: --bogus" ]]
	run -2 dump -x super "$IMG"
	[[ ${lines[0]} == "pmcfs-dump: unknown option: -x" ]]
	run -2 dump set "$IMG" --block
	[[ ${lines[0]} == "pmcfs-dump: option requires an argument: --block" ]]
	run -2 dump block abc "$IMG"
	[[ ${lines[0]} == "pmcfs-dump: block: invalid block number 'abc'" ]]
	[[ ${lines[1]} == "Try 'pmcfs-dump --help' for more information." ]]
}

@test "the device is last and options go anywhere" {
	mkimg
	run -0 dump super "$IMG"
	run -0 dump --json tree roottab "$IMG"
	json_ok "$output"
	run -0 dump tree roottab "$IMG" --json
	json_ok "$output"
	run -0 dump tree --json 256 "$IMG"
	json_ok "$output"
	run -2 dump "$IMG" super
	[[ ${lines[0]} == "pmcfs-dump: unknown subcommand: $IMG" ]]
	run -1 dump super /nonexistent/image
	[[ $output == "pmcfs-dump: cannot open /nonexistent/image: "* ]]
}

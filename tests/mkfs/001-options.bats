#!/usr/bin/env bats
# mkfs.pmcfs: every option, on image files.

load ../helpers

SBINFO=${SBINFO:-$TOP/tests/pmcfs-sbinfo}

setup() {
	IMG=$BATS_TEST_TMPDIR/fs.img
}

# sbinfo IMAGE KEY: one value from the superblock, read through the library.
sbinfo() {
	"$SBINFO" "$1" | sed -n "s/^$2=//p"
}

allocated() {	# host bytes allocated to a file
	echo $(( $(stat -c %b "$1") * $(stat -c %B "$1") ))
}

@test "--help lists every option and exits 0" {
	run -0 $INSTRUMENT "$MKFS" --help
	for o in --label --uuid --size --align --badblocks --populate --dedupe --force --dry-run --quiet --version --help; do
		[[ $output == *"$o"* ]] || { echo "missing $o"; return 1; }
	done
	run -0 $INSTRUMENT "$MKFS" -h
	[[ $output == usage:* ]]
}

@test "-V and --version print the version" {
	run -0 $INSTRUMENT "$MKFS" -V
	[[ $output == "mkfs.pmcfs "* ]]
	run -0 $INSTRUMENT "$MKFS" --version
	[[ $output == "mkfs.pmcfs "* ]]
}

@test "usage errors exit 2" {
	run -2 $INSTRUMENT "$MKFS"
	[[ $output == *"mkfs.pmcfs: missing DEVICE"* ]]
	run -2 $INSTRUMENT "$MKFS" --bogus "$IMG"
	[[ $output == *"unknown option: --bogus"* ]]
	run -2 $INSTRUMENT "$MKFS" -x "$IMG"
	[[ $output == *"unknown option: -x"* ]]
	run -2 $INSTRUMENT "$MKFS" "$IMG" -L
	[[ $output == *"option requires an argument: -L"* ]]
	run -2 $INSTRUMENT "$MKFS" "$IMG" other.img
	[[ $output == *"too many arguments: other.img"* ]]
}

@test "-s creates a sparse image; -s with every suffix (dry run writes nothing)" {
	run -0 $INSTRUMENT "$MKFS" -s 64M "$IMG"
	[ "$(stat -c %s "$IMG")" -eq $((64 << 20)) ]
	[ "$(allocated "$IMG")" -lt $((1 << 20)) ]
	[ "$(sbinfo "$IMG" nblocks)" -eq $((64 << 8)) ]

	local new=$BATS_TEST_TMPDIR/new.img s
	for s in 8388608:8388608 8192K:8388608 8M:8388608 8m:8388608 8MiB:8388608 \
		 1G:1073741824 1T:1099511627776 1P:1125899906842624 1k:0; do
		local arg=${s%%:*} want=${s#*:}
		if [ "$want" = 0 ]; then
			run -1 $INSTRUMENT "$MKFS" -n -s "$arg" "$new"
			[[ $output == *"device too small"* ]]
		else
			run -0 $INSTRUMENT "$MKFS" -n -s "$arg" "$new"
			[[ $output == *"size:          $want bytes"* ]] || { echo "$arg: $output"; return 1; }
		fi
		[ ! -e "$new" ]
	done
}

@test "-s refuses garbage, zero and overflow with a clear message" {
	local s
	for s in abc 12X 1.5G -5 0 0M "" " 8M" 8MB 8Mi 18446744073709551616 16777216P 99999999999999999999K; do
		run -2 $INSTRUMENT "$MKFS" -s "$s" "$IMG"
		[[ $output == "mkfs.pmcfs: invalid size '$s': "* ]] || { echo "[$s]: $output"; return 1; }
		[ ! -e "$IMG" ]
	done
	run -2 $INSTRUMENT "$MKFS" -s 16777216P "$IMG"
	[[ $output == *"too large for 64 bits"* ]]
}

@test "-s extends a smaller image and keeps a larger one" {
	truncate -s 8M "$IMG"
	run -0 $INSTRUMENT "$MKFS" -s 32M "$IMG"
	[ "$(stat -c %s "$IMG")" -eq $((32 << 20)) ]
	[ "$(sbinfo "$IMG" nblocks)" -eq 8192 ]
	run -0 $INSTRUMENT "$MKFS" -f -s 16M "$IMG"
	[ "$(stat -c %s "$IMG")" -eq $((32 << 20)) ]
	[ "$(sbinfo "$IMG" nblocks)" -eq 4096 ]
}

@test "a huge sparse image formats with under 1 MiB allocated" {
	run -0 $INSTRUMENT "$MKFS" -q -s 1T "$IMG"
	[ "$(allocated "$IMG")" -lt $((1 << 20)) ]
	[ "$(sbinfo "$IMG" nblocks)" -eq $((1 << 28)) ]
}

@test "-L records the label; 64 bytes is the limit" {
	run -0 $INSTRUMENT "$MKFS" -L "my label" -s 16M "$IMG"
	[[ $output == *'label:         "my label"'* ]]
	[ "$(sbinfo "$IMG" label)" = "my label" ]
	local l64 l65
	l64=$(printf 'x%.0s' {1..64}); l65=${l64}y
	run -0 $INSTRUMENT "$MKFS" -f -L "$l64" "$IMG"
	[ "$(sbinfo "$IMG" label)" = "$l64" ]
	run -2 $INSTRUMENT "$MKFS" -f -L "$l65" "$IMG"
	[ "$output" = "mkfs.pmcfs: label too long: 65 bytes, the maximum is 64" ]
	[ "$(sbinfo "$IMG" label)" = "$l64" ]
}

@test "-U records the uuid; random by default; bad and nil uuids refused" {
	local u=6f1c6c1e-2b7a-4bd0-9d0b-6f1d2a9e7c11
	run -0 $INSTRUMENT "$MKFS" -U "$u" -s 16M "$IMG"
	[[ $output == *"uuid:          $u"* ]]
	[ "$(sbinfo "$IMG" uuid)" = "$u" ]
	run -0 $INSTRUMENT "$MKFS" -f -U "${u^^}" "$IMG"
	[ "$(sbinfo "$IMG" uuid)" = "$u" ]
	run -0 $INSTRUMENT "$MKFS" -f "$IMG"
	local a; a=$(sbinfo "$IMG" uuid)
	run -0 $INSTRUMENT "$MKFS" -f -U random "$IMG"
	[ "$(sbinfo "$IMG" uuid)" != "$a" ]
	[ "$(sbinfo "$IMG" uuid)" != "$u" ]
	run -0 $INSTRUMENT "$MKFS" -f -U time "$IMG"
	for bad in xyz 6f1c6c1e-2b7a-4bd0-9d0b-6f1d2a9e7c1 6f1c6c1e2b7a4bd09d0b6f1d2a9e7c11 ""; do
		run -2 $INSTRUMENT "$MKFS" -f -U "$bad" "$IMG"
		[[ $output == "mkfs.pmcfs: invalid uuid '$bad': "* ]] || { echo "$output"; return 1; }
	done
	run -2 $INSTRUMENT "$MKFS" -f -U 00000000-0000-0000-0000-000000000000 "$IMG"
	[[ $output == *"nil uuid"* ]]
}

@test "-a sets the DAX alignment; bad alignments refused" {
	run -0 $INSTRUMENT "$MKFS" -s 64M "$IMG"
	[ "$(sbinfo "$IMG" dax_align)" -eq $((2 << 20)) ]
	[ $(( $(sbinfo "$IMG" data_start) % 512 )) -eq 0 ]
	run -0 $INSTRUMENT "$MKFS" -f -a 4K "$IMG"
	[ "$(sbinfo "$IMG" dax_align)" -eq 4096 ]
	run -0 $INSTRUMENT "$MKFS" -f -s 4G -a 1G "$IMG"
	[[ $output == *"DAX alignment: 1073741824 bytes (1 GiB)"* ]]
	[ "$(sbinfo "$IMG" dax_align)" -eq $((1 << 30)) ]
	[ $(( $(sbinfo "$IMG" data_start) % (1 << 18) )) -eq 0 ]
	for a in 3M 2K 2G 0 abc 4097; do
		run -2 $INSTRUMENT "$MKFS" -f -a "$a" "$IMG"
		[[ $output == "mkfs.pmcfs: invalid alignment '$a': expected a power of two from 4K to 1G" ]] ||
			{ echo "$output"; return 1; }
	done
}

@test "-q prints nothing" {
	run -0 $INSTRUMENT "$MKFS" -q -s 16M "$IMG"
	[ -z "$output" ]
	run -0 $INSTRUMENT "$MKFS" --quiet -f -n "$IMG"
	[ -z "$output" ]
}

@test "output names device, kind, size, alignment, data area, label, uuid, bad blocks" {
	run -0 $INSTRUMENT "$MKFS" -s 64M -L demo "$IMG"
	for k in "device:        $IMG (new image file, no DAX)" "size:          67108864 bytes (64 MiB), 16384 blocks" \
		 "DAX alignment: 2097152 bytes" "data area:     blocks 512-" "label:" "uuid:" "bad blocks:    0" \
		 "metadata:      "; do
		[[ $output == *"$k"* ]] || { echo "missing: $k"; echo "$output"; return 1; }
	done
}

@test "-n writes nothing and creates nothing" {
	run -0 $INSTRUMENT "$MKFS" -n -s 64M "$IMG"
	[[ $output == *"dry run:       nothing written"* ]]
	[ ! -e "$IMG" ]
	truncate -s 64M "$IMG"
	local before; before=$(sha256sum <"$IMG")
	run -0 $INSTRUMENT "$MKFS" --dry-run "$IMG"
	[ "$(sha256sum <"$IMG")" = "$before" ]
	run -0 $INSTRUMENT "$MKFS" -q "$IMG"
	before=$(sha256sum <"$IMG")
	run -0 $INSTRUMENT "$MKFS" -n -f -L other -s 128M "$IMG"
	[ "$(sha256sum <"$IMG")" = "$before" ]
	[ "$(stat -c %s "$IMG")" -eq $((64 << 20)) ]
}

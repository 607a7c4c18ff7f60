#!/usr/bin/env bats
# mkfs.pmcfs -l: bad-block lists (512-byte sectors, as sysfs badblocks).

load ../helpers

SBINFO=${SBINFO:-$TOP/tests/pmcfs-sbinfo}

setup() {
	IMG=$BATS_TEST_TMPDIR/fs.img
	BAD=$BATS_TEST_TMPDIR/bad.txt
	truncate -s 1G "$IMG"		# 262144 blocks
}

free_blocks() {
	"$SBINFO" "$1" | sed -n 's/^free_blocks=//p'
}

@test "-l records bad blocks: free count drops by the blocks covered" {
	run -0 $INSTRUMENT "$MKFS" -q "$IMG"
	local base; base=$(free_blocks "$IMG")
	# 8192+8 is block 1024; 1000000 is in block 125000; 16385..16392 straddles
	# blocks 2048 and 2049 (rounded outward); 8196 overlaps the first entry.
	printf '# bad sectors\n8192 8\n\n1000000\n16385 8   # straddles\n8196 1\n' > "$BAD"
	run -0 $INSTRUMENT "$MKFS" -f -l "$BAD" "$IMG"
	[[ $output == *"bad blocks:    4 (0 from the device, 4 from the list)"* ]] || { echo "$output"; return 1; }
	[ "$(free_blocks "$IMG")" -eq $((base - 4)) ]
	run -0 $INSTRUMENT "$MKFS" -f --badblocks /dev/null "$IMG"
	[ "$(free_blocks "$IMG")" -eq "$base" ]
}

@test "-l with -n prints the count and writes nothing" {
	echo '8192 4096' > "$BAD"
	run -0 $INSTRUMENT "$MKFS" -n -l "$BAD" "$IMG"
	[[ $output == *"bad blocks:    512 "* ]]
	[ "$(stat -c %b "$IMG")" -eq 0 ]
}

@test "-l refuses a malformed list, naming the line" {
	local l
	for l in 'abc' '12 x' '12 0' '-5' '1 2 3' '99999999999999999999'; do
		printf '8192\n%s\n' "$l" > "$BAD"
		run -1 $INSTRUMENT "$MKFS" -n -l "$BAD" "$IMG"
		[ "$output" = "mkfs.pmcfs: invalid bad-block list $BAD: line 2: expected \"SECTOR [COUNT]\" in 512-byte sectors" ] ||
			{ echo "[$l] $output"; return 1; }
	done
	run -1 $INSTRUMENT "$MKFS" -n -l "$BATS_TEST_TMPDIR/none" "$IMG"
	[[ $output == "mkfs.pmcfs: cannot read $BATS_TEST_TMPDIR/none: "* ]]
}

@test "-l refuses bad blocks past the end of the filesystem" {
	echo $((262144 * 8)) > "$BAD"
	run -1 $INSTRUMENT "$MKFS" -n -l "$BAD" "$IMG"
	[[ $output == *"block 262144 (sector 2097152) is past the end of the filesystem (262144 blocks)"* ]]
}

@test "a bad block under the superblock or a commit slot is refused, named" {
	local rep=$((262144 - 512))
	for c in "0:0:the superblock" "9 1:1:commit slot A" "23:2:commit slot B" \
		 "$((rep * 8)):$rep:the superblock replica" \
		 "$((rep * 8 + 8)) 16:$((rep + 1)):the commit slot A replica"; do
		local sect=${c%%:*} rest=${c#*:}
		echo "$sect" > "$BAD"
		run -1 $INSTRUMENT "$MKFS" -f -l "$BAD" "$IMG"
		[ "$output" = "mkfs.pmcfs: cannot format $IMG: block ${rest%%:*}, which holds ${rest#*:}, is bad" ] ||
			{ echo "$c: $output"; return 1; }
	done
	# Elsewhere in the reserved first 2 MiB is harmless.
	echo 100 > "$BAD"
	run -0 $INSTRUMENT "$MKFS" -q -f -l "$BAD" "$IMG"
}

# Shared setup for the pmcfs-dump tests.
load ../helpers

# mkimg [MKFS ARGS...]: a fresh 64 MiB image in $IMG.
mkimg() {
	IMG=$BATS_TEST_TMPDIR/fs.img
	rm -f "$IMG"
	"$MKFS" -q -s 64M "$@" "$IMG"
}

# dump ARGS...: pmcfs-dump, with any crash failing the test.
dump() {
	$INSTRUMENT "$DUMP" "$@"
}

# A 64 MiB image whose space map has two levels: 300 isolated bad blocks
# (blocks 1000, 1010, ...) make 600 more runs than fit in one leaf.
mkimg_deep() {
	local i list=$BATS_TEST_TMPDIR/bad.txt
	for ((i = 0; i < 300; i++)); do echo "$(((1000 + i * 10) * 8)) 8"; done >"$list"
	mkimg -l "$list"
}

# poke FILE OFFSET HEXBYTE: overwrite one byte.
poke() {
	printf "\\x$3" | dd of="$1" bs=1 seek="$2" conv=notrunc status=none
}

# jqv JSON FILTER: one value.
jqv() {
	printf '%s' "$1" | jq -r "$2"
}

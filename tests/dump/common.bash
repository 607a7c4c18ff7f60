# Shared setup for the pmcfs-dump tests.
load ../helpers

# commit2: two empty commits, so slot A holds generation 4 and slot B 3
# (mkfs's first commit is generation 2, in slot A; slot B is empty).
commit2() {
	"$TOP/tests/dump-commit" "$IMG" 2
}

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

# Block numbers read off the image, not assumed: the current commit's
# root-table and space-map roots, and subvolume 256's root.
roots() {
	local sup rt
	sup=$("$DUMP" --json super "$IMG")
	RT=$(jqv "$sup" '[.slots[] | select(.valid)] | max_by(.generation) | .roottab_blkno')
	SM=$(jqv "$sup" '[.slots[] | select(.valid)] | max_by(.generation) | .spacemap_blkno')
	rt=$("$DUMP" --json tree roottab "$IMG")
	FS=$(jqv "$rt" '.nodes[0].items[] | select(.key.type_name == "ROOT") | .body.blkno')
}

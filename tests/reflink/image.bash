# Helpers for the image-mode reflink tests: images are sparse files made
# by mkfs.pmcfs --populate from a directory of generated files; every
# test that changes an image ends with img_check.

SBINFO=${SBINFO:-$TOP/tests/pmcfs-sbinfo}
AUDIT=${AUDIT:-$TOP/tests/reflink-audit}
ICAT=${ICAT:-$TOP/tests/reflink-cat}

# img_make DIR: a 128 MiB image holding a copy of DIR, printed.
img_make() {
	local img=$BATS_TEST_TMPDIR/$(basename "$1").img
	"$MKFS" -q -s 128M -d "$1" "$img" >/dev/null || return 1
	echo "$img"
}

# rl IMG ARGS...: the tool in image mode.
rl() {
	local img=$1
	shift
	$INSTRUMENT "$REFLINK" --image "$img" "$@"
}

free_blocks() {
	"$SBINFO" "$1" | sed -n 's/^free_blocks=//p'
}

# icat IMG PATH: a file's bytes, read by pmcfs-dump cat (a reader apart
# from the tool under test); NAME@/PATH reads from snapshot NAME.
# Falls back to tests/tools/reflink-cat where pmcfs-dump has no cat.
icat() {
	local img=$1 path=$2 snap=
	if ! "$DUMP" cat --help >/dev/null 2>&1; then
		"$ICAT" "$img" "$path"
		return
	fi
	if [[ "$path" == [!/]*@/* ]]; then
		snap=${path%%@/*}
		path=/${path#*@/}
		"$DUMP" --snapshot "$snap" cat "$path" "$img"
	else
		"$DUMP" cat "$path" "$img"
	fi
}

# Every file's content digest, size and path (the library read path).
isums() {
	"$ICAT" -s "$@"
}

# Shared bytes of one file, and the refcounts along it (neighbouring
# extents with the same count shown once: how the image's allocator
# split the file does not matter), per the tool.
ishared() {
	rl "$1" extents --json "$2" | jq .total_shared_bytes
}
irefs() {
	rl "$1" extents --json "$2" | jq -c '[.files[0].extents[].refcount] |
		reduce .[] as $x ([]; if length > 0 and .[-1] == $x then . else . + [$x] end)'
}

# After every change: the independent library audit always, and
# fsck.pmcfs -n as well once it is built (said so in the TAP output
# when it is not, so a run without it is never mistaken for one with it).
img_check() {
	run "$AUDIT" "$1"
	if [ "$status" -ne 0 ]; then
		echo "reflink-audit $1 failed: $output" >&2
		return 1
	fi
	if [ -x "$FSCK" ]; then
		run "$FSCK" -n "$1"
		if [ "$status" -ne 0 ]; then
			echo "fsck.pmcfs -n $1 exited $status: $output" >&2
			return 1
		fi
	elif [ ! -e "$BATS_FILE_TMPDIR/fsck-note" ]; then
		: >"$BATS_FILE_TMPDIR/fsck-note"
		echo "# $(basename "$BATS_TEST_FILENAME"): $FSCK not built: images checked by the library audit (tests/tools/reflink-audit) only" >&3
	fi
}

#!/usr/bin/env bats
# Every fuzz regression input (tests/fuzz/regress/*.patch, each applied to
# an image made by tests/fuzz/age.sh) through every fuzz target with the
# tools in $TOP: fsck -n -f, fsck -y then fsck -n -f, every read-only
# pmcfs-dump subcommand (tests/fuzz/run-targets.sh). A crash or sanitizer
# report always fails; a patch marked "# known-bug: ..." whose oracle
# (not a crash) still fails is skipped, and fails once the bug is fixed
# (remove the line then). The unpatched seeds must pass too.

load ../helpers

setup_file() {
	local v d=$BATS_FILE_TMPDIR
	for v in empty files snap deep; do
		TOP=$TOP MKFS=$MKFS REFLINK=$REFLINK "$BATS_TEST_DIRNAME/age.sh" "$v" "$d/$v.aged.img"
		"$DUMP" --json alloc "$d/$v.aged.img" >"$d/$v.alloc.json"
		# as the fuzzer sees it: freed blocks dropped (tests/fuzz/pmcfz.py)
		python3 "$BATS_TEST_DIRNAME/pmcfz.py" pack "$d/$v.aged.img" "$d/$v.pmcfz" "$d/$v.alloc.json"
		python3 "$BATS_TEST_DIRNAME/pmcfz.py" unpack "$d/$v.pmcfz" "$d/$v.img"
	done
}

# regress PATCH: apply it to its base image, run every target
regress() {
	local patch=$BATS_TEST_DIRNAME/regress/$1 base known img=$BATS_TEST_TMPDIR/fuzz.img
	base=$(awk '$1 == "base" {print $2}' "$patch")
	known=$(sed -n 's/^# known-bug: //p' "$patch")
	python3 "$BATS_TEST_DIRNAME/pmcfz.py" apply "$BATS_FILE_TMPDIR/$base.img" "$patch" "$img"
	run env TOP="$TOP" FSCK="$FSCK" DUMP="$DUMP" "$BATS_TEST_DIRNAME/run-targets.sh" "$img"
	echo "$output"
	[ "$status" -ne 2 ] || return 1		# a crash is never expected
	if [ -n "$known" ]; then
		[ "$status" -eq 1 ] || { echo "known bug fixed? remove '# known-bug:' from $1"; return 1; }
		skip "known bug: $known"
	fi
	[ "$status" -eq 0 ]
}

@test "fuzz seeds: every target passes on every unpatched base image" {
	local v
	for v in empty files snap deep; do
		TOP="$TOP" FSCK="$FSCK" DUMP="$DUMP" "$BATS_TEST_DIRNAME/run-targets.sh" "$BATS_FILE_TMPDIR/$v.img" || return 1
	done
}

@test "every regression patch has a test here" {
	local p
	for p in "$BATS_TEST_DIRNAME"/regress/*.patch; do
		grep -qF "regress $(basename "$p")" "$BATS_TEST_FILENAME" ||
			{ echo "no @test for $(basename "$p")"; return 1; }
	done
}

# One test per regression patch (add one with each new patch).
@test "fuzz regression 001: commit generation wraps after fsck -y" {
	regress 001-commit-gen-wrap.patch
}

@test "fuzz regression 002: replica rewritten from a label with bytes after a NUL" {
	regress 002-label-after-nul.patch
}

@test "fuzz regression 003: primary rewritten from a replica label with bytes after a NUL" {
	regress 003-label-after-nul-primary.patch
}

@test "fuzz regression 004: a directory index of 2^64-1 leaves no next index" {
	regress 004-dir-index-max.patch
}

@test "fuzz regression 005: cat of a file whose size is 2^63 ends" {
	regress 005-cat-huge-sparse.patch
}

@test "fuzz regression 006: a cleared root directory inode is recreated in the same -y run" {
	regress 006-root-inode-cleared.patch
}

@test "fuzz regression 007: a root inode item retyped as a symlink chunk: both repairs in one -y run" {
	regress 007-root-inode-retyped.patch
}

@test "fuzz regression 008: a root directory with mode 0 is cleared and recreated in one -y run" {
	regress 008-root-mode-zero.patch
}

@test "fuzz regression 009: a cut in a tree whose root item the library cannot open waits for pass 5's repair of the item" {
	regress 009-root-item-name-len.patch
}

@test "fuzz regression 010: a subvolume whose root item pass 5 repairs gets its namespace checked in the same -y run" {
	regress 010-root-item-ns-unchecked.patch
}

@test "fuzz regression 011: a damaged root table and no subvolume root to find: the rebuild sorts nothing" {
	regress 011-roottab-no-root-found.patch
}

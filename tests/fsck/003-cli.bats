#!/usr/bin/env bats
# fsck.pmcfs command line: exit codes, JSON, progress lines, the man page.

load common

setup() { cd "$BATS_TEST_TMPDIR"; }

@test "usage errors exit 16" {
	run -16 "$FSCK"
	run -16 "$FSCK" -n -y x.img
	run -16 "$FSCK" --bogus x.img
	run -16 "$FSCK" -C x x.img
	run -0 "$FSCK" --help
	[[ $output == *"--badblocks"* ]]
}

@test "a clean image exits 0 with -n, -p, -a, -y; -f and -r are accepted" {
	fresh
	run -0 "$FSCK" -n test.img
	run -0 "$FSCK" -p test.img
	run -0 "$FSCK" -a -f test.img
	run -0 "$FSCK" -fy -r test.img
	[[ $output == *"0 files, 1 directories"* ]]
}

@test "a read-only snapshot keeps the orphans it holds: not reported, not changed" {
	aged
	local sub
	sub=$("$DUMP" snapshots test.img | awk '$2 == 256 && $3 == "-" { print $1; exit }')
	[[ -n $sub ]]
	"$NS" test.img unlink-open "$sub" /d00/n0-0
	"$NS" test.img rdonly "$sub" 1
	# As a writer that snapshots without finishing orphans leaves it: taken now.
	local b o
	read -r b o < <(rootitem "$sub")
	"$POKE" test.img w64 "$b" $((o + 40)) "$("$POKE" test.img r64 "$b" $((o + 8)))"
	run -0 "$FSCK" -n test.img
	[[ $output != *P4.046* ]]
	local before
	before=$(md5sum <test.img)
	run -0 "$FSCK" -y test.img
	[[ $(md5sum <test.img) == "$before" ]]
	# Writable again, the same orphan is finished as usual.
	"$NS" test.img rdonly "$sub" 0
	run -0 "$FSCK" -n test.img
	[[ $output == *"P4.046 warning"*"subvolume $sub: 1 inodes"* ]]
	run -1 "$FSCK" -y test.img
}

@test "operational errors exit 8" {
	run -8 "$FSCK" -n missing.img
	[[ $output == "fsck.pmcfs: cannot open missing.img: "* ]]
	truncate -s 64M zero.img
	run -8 "$FSCK" -n zero.img
	run -8 "$FSCK" -n --badblocks missing.txt zero.img
}

@test "-p fixes PREEN_OK problems only" {
	aged
	local b o; read -r b o < <(rootitem 258)
	"$POKE" test.img w8 "$b" $((o + 133)) 48		# a duplicate name: not PREEN_OK
	"$POKE" test.img raw8 $REPLICA 200 1		# a bad replica: PREEN_OK
	run -5 "$FSCK" -p test.img
	[[ $output == *"P1.002"*"? yes"* ]]
	[[ $output == *"P5.004"*"? no"* ]]
	[[ $output == *"UNEXPECTED INCONSISTENCY"* ]]
	run -4 "$FSCK" -n test.img
	[[ $output != *"P1.002"* ]]
}

@test "--json: findings and summary as one object" {
	aged
	"$POKE" test.img raw8 "$(first_leaf spacemap)" 300 1
	run -4 "$FSCK" -n --json test.img
	json_ok "$output"
	[ "$(jq -r '.findings[0].code' <<<"$output")" = P2.015 ]
	[ "$(jq -r '.exit' <<<"$output")" = 4 ]
	[ "$(jq -r '.summary.subvolumes' <<<"$output")" = 4 ]
	[ "$(jq -r '.summary.files' <<<"$output")" -gt 1000 ]
	[ "$(jq -r '.namespace_checked' <<<"$output")" = true ]
}

@test "-C FD writes 'pass current max device' lines" {
	aged
	run -0 "$FSCK" -n -C 3 test.img 3>progress.txt
	grep -Eq '^2 [0-9]+ [0-9]+ test.img$' progress.txt
	grep -Eq '^3 [0-9]+ [0-9]+ test.img$' progress.txt
	! grep -Ev '^[1-6] [0-9]+ [0-9]+ test.img$' progress.txt
}

@test "every problem code is in the man page, and every code has a corpus case" {
	local code missing=()
	local page=$BATS_TEST_DIRNAME/../../man/fsck.pmcfs.8
	for code in $(sed -n 's/^X(0x\([0-9]\)\([0-9]\{3\}\), .*/P\1.\2/p' "$BATS_TEST_DIRNAME/../../fsck/problem.h"); do
		grep -q "^\.B $code " "$page" || missing+=("man:$code")
		grep -qw -- "$code" "$BATS_TEST_DIRNAME"/[0-9]*/script || missing+=("corpus:$code")
	done
	# No image file can make P2.011: it needs a read the device fails. The
	# pmem tier makes one for real (tests/vm/guest-tests.sh,
	# t_fsck_unreadable_block: the pmem driver's bad-block list).
	[ "${missing[*]}" = "corpus:P2.011" ] || { echo "missing: ${missing[*]}"; return 1; }
	grep -Fq 'P2\.011 error' "$BATS_TEST_DIRNAME/../vm/guest-tests.sh"
}

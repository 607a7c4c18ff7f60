# Shared bats helpers. Binaries come from $TOP (a build directory), else $PATH.
bats_require_minimum_version 1.5.0

TOP=${TOP:-$BATS_TEST_DIRNAME/../../build}
MKFS=${MKFS:-$TOP/mkfs.pmcfs}
FSCK=${FSCK:-$TOP/fsck.pmcfs}
DUMP=${DUMP:-$TOP/pmcfs-dump}
REFLINK=${REFLINK:-$TOP/pmcfs-reflink}
# INSTRUMENT=valgrind runs every tool under that command.
INSTRUMENT=${INSTRUMENT:-}

# A crash (exit >= 128: a signal or a sanitizer abort) never counts as
# an expected failure.
run_mustfail() {
	run "$@"
	if [ "$status" -eq 0 ]; then
		echo "expected failure, got exit 0: $*" >&2; echo "$output" >&2; return 1
	fi
	if [ "$status" -ge 128 ]; then
		echo "crashed (exit $status): $*" >&2; echo "$output" >&2; return 1
	fi
}

run_ok() {
	run "$@"
	if [ "$status" -ne 0 ]; then
		echo "exit $status: $*" >&2; echo "$output" >&2; return 1
	fi
}

# Loop devices made by a test are detached in teardown through a list in
# a file: make_loop runs in a $(...) subshell, where a shell array would
# be lost (every device used to stay attached to its deleted image).
make_loop() {	# make_loop FILE -> prints /dev/loopN
	local dev
	dev=$(losetup --find --show "$1") || return 1
	echo "$dev" >>"$BATS_TEST_TMPDIR/.loops"
	echo "$dev"
}
cleanup_loops() {
	local d
	[ -f "$BATS_TEST_TMPDIR/.loops" ] || return 0
	while read -r d; do
		umount "$d" 2>/dev/null || true
		losetup -d "$d" 2>/dev/null || true
	done <"$BATS_TEST_TMPDIR/.loops"
	rm -f "$BATS_TEST_TMPDIR/.loops"
}

json_ok() {	# json_ok STRING: valid JSON?
	printf '%s' "$1" | jq -e . >/dev/null
}

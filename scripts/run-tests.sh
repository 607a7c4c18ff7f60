#!/usr/bin/env bash
# Run every C unit test and every bats file against one or more build
# directories (each given as an argument), then print "N passed, N failed".
# A test that crashes (signal, sanitizer report) counts as failed.
set -u
cd "$(dirname "$0")/.."
pass=0 fail=0 skip=0
failed=()
logdir=$(mktemp -d /tmp/pmcfs-tests.XXXXXX)

run_unit() {
	local build=$1 t name log
	for t in "$build"/tests/test_*; do
		[ -x "$t" ] || continue
		name="$build/$(basename "$t")"
		log="$logdir/$(basename "$build")-$(basename "$t").log"
		if "$t" >"$log" 2>&1; then
			pass=$((pass + 1)); echo "ok - unit $name"
		else
			fail=$((fail + 1)); failed+=("unit $name")
			echo "not ok - unit $name (exit $?)"; tail -n 20 "$log" | sed 's/^/#   /'
		fi
	done
}

run_bats() {
	local build=$1 out line
	local files
	mapfile -t files < <(find tests -name '*.bats' -not -path 'tests/vm/*' | sort)
	[ ${#files[@]} -gt 0 ] || return 0
	out="$logdir/$(basename "$build")-bats.tap"
	TOP="$PWD/$build" bats --tap "${files[@]}" >"$out" 2>&1
	while IFS= read -r line; do
		case "$line" in
		"ok "*"# skip"*) skip=$((skip + 1)); echo "$line [$build]" ;;
		"ok "*) pass=$((pass + 1)); echo "$line [$build]" ;;
		"not ok "*) fail=$((fail + 1)); failed+=("bats $build: ${line#not ok }"); echo "$line [$build]" ;;
		"#"*) echo "$line" ;;
		esac
	done <"$out"
}

for build in "$@"; do
	run_unit "$build"
	run_bats "$build"
done

if [ ${#failed[@]} -gt 0 ]; then
	echo "failed:"; printf '  %s\n' "${failed[@]}"
	echo "logs: $logdir"
else
	rm -rf "$logdir"
fi
if [ "$skip" -gt 0 ]; then
	echo "$pass passed, $fail failed, $skip skipped"
else
	echo "$pass passed, $fail failed"
fi
[ "$fail" -eq 0 ] && [ "$pass" -gt 0 ]

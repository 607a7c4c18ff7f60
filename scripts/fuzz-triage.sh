#!/usr/bin/env bash
# Turn a fuzz finding into a minimal regression patch for tests/fuzz/regress/:
# expand the PMCFZ input, diff it against the closest seed (block changes
# as "set/zero/copy/crc" lines), then drop every line the failure does not
# need, checking with tests/fuzz/run-targets.sh and the tools in $TOP
# (default build/; use build-san for sanitizer findings).
#
#   scripts/fuzz-triage.sh INPUT TARGET [FUZZ_OUT]   -> patch on stdout
#
# FUZZ_OUT is the scripts/fuzz.sh output directory holding seeds/ (default
# build-fuzz/out). Add a "# description" first line and a @test in
# tests/fuzz/regress.bats, and check the patch reproduces with the
# regenerated base images (bats tests/fuzz/regress.bats).
set -euo pipefail
cd "$(dirname "$0")/.."
in=$1 target=$2 out=${3:-build-fuzz/out}
export TOP=${TOP:-$PWD/build}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/pmcfs-triage.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
python3 tests/fuzz/pmcfz.py unpack "$in" "$tmp/crash.img"
if tests/fuzz/run-targets.sh "$tmp/crash.img" "$target" >"$tmp/log" 2>&1; then
	echo "fuzz-triage: $in does not fail $target with $TOP" >&2; exit 1
fi
best= bestn=
for s in "$out"/seeds/*.pmcfz; do
	v=$(basename "$s" .pmcfz)
	python3 tests/fuzz/pmcfz.py unpack "$s" "$tmp/$v.img"
	python3 tests/fuzz/pmcfz.py diff "$tmp/$v.img" "$tmp/crash.img" "$v" >"$tmp/$v.patch"
	n=$(wc -l <"$tmp/$v.patch")
	if [ -z "$bestn" ] || [ "$n" -lt "$bestn" ]; then best=$v bestn=$n; fi
done
python3 tests/fuzz/pmcfz.py minimize "$tmp/$best.img" "$tmp/$best.patch" "$tmp/min.patch" \
	tests/fuzz/run-targets.sh {} "$target"
echo "# $(basename "$in"): $target: $(grep -m1 '^FAIL' "$tmp/log")"
cat "$tmp/min.patch"

#!/usr/bin/env bash
# The long crash-consistency run (issue 6, tests/README.md): every sequence
# of up to 3 ops from the whole op table, then seeded random workloads of
# 1000 ops, 64 random subsets per epoch. Builds first. Extra arguments go
# to test_crash (e.g. --seed 7, --random 10, --strict, --no-prune).
#   scripts/crash-long.sh [BUILD] [test_crash options...]
set -eu
cd "$(dirname "$0")/.."
build=build
if [ $# -gt 0 ] && [ "${1#-}" = "$1" ]; then
	build=$1
	shift
fi
san=
[ "$build" = build-san ] && san=SAN=1
make --no-print-directory $san BUILD="$build" "$build/tests/test_crash"
log=${CRASH_LOG:-$build/crash-long.log}
echo "crash-long: logging to $log"
start=$(date +%s)
set +e
"$build/tests/test_crash" --long "$@" | tee "$log" | grep -E '^(FAIL|selftest|test_crash)'
rc=${PIPESTATUS[0]}
set -e
echo "crash-long: $(( $(date +%s) - start ))s, exit $rc (failures: see $log)"
exit "$rc"

#!/usr/bin/env bash
# The long crash-consistency run (issue 6, tests/README.md): every sequence
# of up to 3 ops from the whole op table, then seeded random workloads of
# 1000 ops, 64 random subsets per epoch. Builds first, then runs
# CRASH_JOBS (default: the number of CPUs) shards of the run in parallel
# and adds up their counts. Extra arguments go to test_crash (e.g.
# --seed 7, --random 10, --strict, --no-prune, --family ns).
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
make --no-print-directory $san BUILD="$build" "$build/tests/test_crash" "$build/fsck.pmcfs"
log=${CRASH_LOG:-$build/crash-long.log}
jobs=${CRASH_JOBS:-$(nproc)}
echo "crash-long: $jobs shards, logging to $log.K"
start=$(date +%s)
pids=()
for ((k = 0; k < jobs; k++)); do
	"$build/tests/test_crash" --long --shard "$k/$jobs" "$@" >"$log.$k" 2>&1 &
	pids+=($!)
done
rc=0
for pid in "${pids[@]}"; do
	wait "$pid" || rc=1
done
cat "$log".* >"$log"
grep -E '^(FAIL|KNOWN|FSCK-DISPUTED)' "$log" | head -50 || true
grep -E '^selftest' "$log.0" || true
# Sum every count of the shards' summary lines (the seconds are wall time: max).
grep -h '^test_crash: [0-9]' "$log".* | awk '
	{ n = split($0, w, /[ ,()+]+/); for (i = 1; i <= n; i++) if (w[i] ~ /^[0-9]+$/) sum[i] += w[i]
	  t = $NF; sub(/s$/, "", t); if (t + 0 > max) max = t + 0; line = $0 }
	END { n = split(line, w, /[ ,()+]+/); out = ""
	      for (i = 1; i <= n; i++) out = out (w[i] ~ /^[0-9]+$/ ? sum[i] : w[i]) " "
	      sub(/[0-9.]+s $/, sprintf("%.0fs wall", max), out); print out }'
echo "crash-long: $(( $(date +%s) - start ))s, exit $rc (failures: see $log)"
exit "$rc"

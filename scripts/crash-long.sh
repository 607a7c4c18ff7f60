#!/usr/bin/env bash
# The long crash-consistency run (issue 6, tests/README.md): every sequence
# of up to 3 ops from the whole op table, then seeded random workloads of
# 1000 ops, 64 random subsets per epoch. Builds first, then runs the run
# as CRASH_SHARDS shards (default: CRASH_JOBS), CRASH_JOBS (default: the
# number of CPUs) at a time, and adds up their counts. Extra arguments go
# to test_crash (e.g. --seed 7, --random 10, --strict, --family ns).
#   scripts/crash-long.sh [BUILD] [test_crash options...]
#
# The run resumes: started again with the same CRASH_LOG at the same
# commit with the same options, it keeps the shards that finished (their
# logs end with a summary line) and runs the rest, so a run longer than
# one sitting can be finished in several. Any other commit or options
# start afresh.
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
shards=${CRASH_SHARDS:-$jobs}
rev=$(git rev-parse HEAD 2>/dev/null || echo unknown)
git diff --quiet HEAD 2>/dev/null || rev="$rev+changes"
meta="rev $rev shards $shards build $build args $*"

summary() { grep -q '^test_crash: [0-9]' "$1" 2>/dev/null; }

if [ -f "$log.meta" ] && [ "$(cat "$log.meta")" = "$meta" ] && [ "${rev%+changes}" = "$rev" ]; then
	echo "crash-long: resuming $log ($meta)"
else
	rm -f "$log" "$log".*
	echo "$meta" >"$log.meta"
fi
echo "crash-long: $shards shards, $jobs at a time, logging to $log.K"
start=$(date +%s)
running=0
for ((k = 0; k < shards; k++)); do
	if summary "$log.$k"; then
		echo "crash-long: shard $k/$shards finished before, kept"
		continue
	fi
	if ((running >= jobs)); then
		wait -n || true
		running=$((running - 1))
	fi
	"$build/tests/test_crash" --long --shard "$k/$shards" "$@" >"$log.$k" 2>&1 &
	running=$((running + 1))
done
while ((running > 0)); do
	wait -n || true
	running=$((running - 1))
done

# The verdict comes from the logs, so it covers the shards of earlier sittings.
rc=0
logs=()
for ((k = 0; k < shards; k++)); do
	logs+=("$log.$k")
	summary "$log.$k" || { echo "crash-long: shard $k/$shards has no summary (it died)"; rc=1; }
done
cat "${logs[@]}" >"$log"
grep -E '^(FAIL|KNOWN|FSCK-DISPUTED)' "$log" | head -50 || true
grep -qE '^FAIL|missed [0-9]+ injected' "$log" && rc=1
grep -E '^selftest' "$log.0" || true
# Sum every count of the shards' summary lines; the seconds are summed too
# (shard time, not wall time: shards queue and may span several sittings).
grep -h '^test_crash: [0-9]' "${logs[@]}" | awk '
	{ n = split($0, w, /[ ,()+]+/); for (i = 1; i <= n; i++) if (w[i] ~ /^[0-9]+$/) sum[i] += w[i]
	  t = $NF; sub(/s$/, "", t); secs += t; line = $0 }
	END { n = split(line, w, /[ ,()+]+/); out = ""
	      for (i = 1; i <= n; i++) out = out (w[i] ~ /^[0-9]+$/ ? sum[i] : w[i]) " "
	      sub(/[0-9.]+s $/, sprintf("%.0fs summed over the shards", secs), out); print out }'
echo "crash-long: $meta"
echo "crash-long: this sitting $(( $(date +%s) - start ))s, exit $rc (failures: see $log)"
exit "$rc"

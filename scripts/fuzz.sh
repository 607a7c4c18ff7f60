#!/usr/bin/env bash
# Fuzz every target with AFL++ for FUZZ_SECONDS (default 60) each, all
# targets at once, then print per target: executions, corpus size,
# crashes, hangs, and leaks (queue entries replayed with LeakSanitizer on,
# which is off while fuzzing for speed). Exit 1 if anything was found.
#
#   scripts/fuzz.sh [TARGET...]        TARGET: check repair dump (default: all)
#   FUZZ_SECONDS=600 FUZZ_OUT=/tmp/f scripts/fuzz.sh
#
# Targets (tests/fuzz/harness.c): check = fsck.pmcfs -n -f; repair =
# fsck.pmcfs -y then -n -f must be clean (or -y refused with exit 4/8 and a
# message); dump = every read-only pmcfs-dump subcommand. Findings stay in
# $FUZZ_OUT/afl/TARGET/default/{crashes,hangs}; reproduce one with
#   PMCFS_FUZZ_VERBOSE=1 build-fuzz/fuzz-fsck check FILE
# and turn it into a regression patch with tests/fuzz/pmcfz.py unpack/diff/
# minimize (tests/README.md, Fuzzing).
set -euo pipefail
cd "$(dirname "$0")/.."
B=${FUZZ_BUILD:-build-fuzz}
SECS=${FUZZ_SECONDS:-60}
OUT=${FUZZ_OUT:-$B/out}
LEAK_MAX=${FUZZ_LEAK_MAX:-200}
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(check repair dump)

command -v afl-fuzz >/dev/null || { echo "fuzz: afl-fuzz not found (apt-get install afl++)" >&2; exit 1; }
[ "${FUZZ_NO_BUILD:-0}" = 1 ] || scripts/fuzz-build.sh
rm -rf "$OUT"
mkdir -p "$OUT/afl"
scripts/fuzz-seeds.sh "$OUT" >/dev/null

binary() { case $1 in dump) echo "$B/fuzz-dump" ;; *) echo "$B/fuzz-fsck" ;; esac; }
timeout_ms() { case $1 in check) echo 3000 ;; repair) echo 5000 ;; *) echo 15000 ;; esac; }

export AFL_SKIP_CPUFREQ=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 AFL_NO_UI=1 \
	AFL_NO_AFFINITY=1 AFL_DISABLE_TRIM=1 AFL_SKIP_CRASHES=1 \
	AFL_CUSTOM_MUTATOR_LIBRARY=$PWD/$B/fuzz-mutator.so
export ASAN_OPTIONS=abort_on_error=1:detect_leaks=0:symbolize=0:allocator_may_return_null=1
export UBSAN_OPTIONS=halt_on_error=1:abort_on_error=1:symbolize=0
export TMPDIR=${TMPDIR:-/tmp}

pids=()
for t in "${targets[@]}"; do
	echo "  FUZZ     $t for ${SECS}s"
	afl-fuzz -i "$OUT/seeds" -o "$OUT/afl/$t" -m none -t "$(timeout_ms "$t")" -V "$SECS" \
		-- "$(binary "$t")" "$t" @@ >"$OUT/afl/$t.log" 2>&1 &
	pids+=($!)
done
rc=0
for p in "${pids[@]}"; do wait "$p" || rc=1; done
[ $rc = 0 ] || echo "fuzz: an afl-fuzz run failed, see $OUT/afl/*.log" >&2

# Leaks: replay the queue (at most LEAK_MAX entries per target) with LSan on.
export ASAN_OPTIONS=abort_on_error=1:detect_leaks=1:symbolize=1
found=0
printf '%-8s %12s %8s %8s %8s %8s\n' target execs corpus crashes hangs leaks
for t in "${targets[@]}"; do
	d=$OUT/afl/$t/default
	execs=$(awk '/^execs_done/ {print $3}' "$d/fuzzer_stats" 2>/dev/null || echo 0)
	corpus=$(awk '/^corpus_count/ {print $3}' "$d/fuzzer_stats" 2>/dev/null || echo 0)
	crashes=$(find "$d/crashes" -name 'id:*' 2>/dev/null | wc -l)
	hangs=$(find "$d/hangs" -name 'id:*' 2>/dev/null | wc -l)
	leaks=0
	mkdir -p "$OUT/leaks/$t"
	while read -r f; do
		if ! timeout 60 "$(binary "$t")" "$t" "$f" >/dev/null 2>"$OUT/leaks/$t/log"; then
			leaks=$((leaks + 1)); cp "$f" "$OUT/leaks/$t/"
			cp "$OUT/leaks/$t/log" "$OUT/leaks/$t/$(basename "$f").log"
		fi
	done < <(find "$d/queue" -maxdepth 1 -name 'id:*' 2>/dev/null | sort | head -n "$LEAK_MAX")
	printf '%-8s %12s %8s %8s %8s %8s\n' "$t" "$execs" "$corpus" "$crashes" "$hangs" "$leaks"
	found=$((found + crashes + hangs + leaks))
done
echo "findings in $OUT/afl/*/default/{crashes,hangs} and $OUT/leaks"
[ "$found" -eq 0 ] && [ $rc = 0 ]

#!/usr/bin/env bash
# Benchmark (not a test): pmcfs-reflink scan -d against duperemove on an
# XFS (reflink=1) loop mount, on a generated dataset with a known amount
# of reclaimable data.
#
#   bench/dedupe.sh [BUILD_DIR]        as root; env: SIZE_MB (2048), RUNS (3),
#                                      WORK (/var/tmp/pmcfs-bench-dedupe),
#                                      BEFORE (another pmcfs-reflink to compare)
#
# Dataset: files of 64 MiB made of 128 KiB blocks; DUP_PCT % of the blocks
# are drawn from a pool of 1024 blocks (block-level duplicates at aligned
# offsets, inside large extents), the rest are unique; plus whole-file
# copies of two files. The generator counts distinct block contents, so
# reclaimable = total - distinct blocks, exactly.
#
# Each tool runs RUNS times, each time on a fresh filesystem holding a
# plain (unshared) copy of the dataset, with cold caches: a first run that
# also writes its hashfile, then a second run with the hashfile. Freed
# space is measured with df. Times are medians; peak RSS is from
# /usr/bin/time -v. The tools take turns within each run, so a change
# of load hits them alike; a last table pairs their first runs.
# BEFORE=/path/to/pmcfs-reflink adds that binary as pmcfs-reflink-before
# (say, a build of the previous commit).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
REFLINK=$PWD/$BUILD/pmcfs-reflink
SIZE_MB=${SIZE_MB:-2048}
RUNS=${RUNS:-3}
DUP_PCT=${DUP_PCT:-25}
WORK=${WORK:-/var/tmp/pmcfs-bench-dedupe}

[ "$(id -u)" = 0 ] || { echo "dedupe.sh: run as root" >&2; exit 2; }
[ -x "$REFLINK" ] || { echo "dedupe.sh: no $REFLINK (run make)" >&2; exit 2; }
need=""
command -v duperemove >/dev/null || need="$need duperemove"
[ -x /usr/bin/time ] || need="$need time"
command -v mkfs.xfs >/dev/null || need="$need xfsprogs"
if [ -n "$need" ]; then
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq && apt-get install -y -qq --no-install-recommends $need >&2
fi

mkdir -p "$WORK"
MNT=$WORK/mnt
IMG=$WORK/xfs.img
DATA=$WORK/data			# pristine dataset, on the host filesystem
LOOP=""
cleanup() {
	umount "$MNT" 2>/dev/null || true
	[ -z "$LOOP" ] || losetup -d "$LOOP" 2>/dev/null || true
}
trap cleanup EXIT

if [ ! -f "$DATA/.reclaimable" ] || [ "$(cat "$DATA/.size_mb")" != "$SIZE_MB" ]; then
	rm -rf "$DATA"
	mkdir -p "$DATA"
	echo "generating ${SIZE_MB} MiB dataset in $DATA" >&2
	python3 - "$DATA" "$SIZE_MB" "$DUP_PCT" <<'EOF'
import os, random, shutil, sys
out, size_mb, pct = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
B, FILE = 128 << 10, 64 << 20
rng = random.Random(42)
pool = [os.urandom(B) for _ in range(1024)]
ncopies = 2
nfiles = max(1, size_mb * (1 << 20) // FILE - ncopies)
total = distinct = 0
used = set()
for i in range(nfiles):
    with open(f"{out}/f{i:04d}", "wb") as f:
        for _ in range(FILE // B):
            if rng.randrange(100) < pct:
                k = rng.randrange(len(pool))
                f.write(pool[k])
                if k not in used:
                    used.add(k)
                    distinct += 1
            else:
                f.write(os.urandom(B))
                distinct += 1
            total += 1
os.makedirs(f"{out}/copies", exist_ok=True)
for i in range(ncopies):
    shutil.copyfile(f"{out}/f{i:04d}", f"{out}/copies/f{i:04d}")
    total += FILE // B
open(f"{out}/.reclaimable", "w").write(str((total - distinct) * B))
open(f"{out}/.total", "w").write(str(total * B))
EOF
	echo "$SIZE_MB" >"$DATA/.size_mb"
fi
RECLAIM=$(cat "$DATA/.reclaimable")
TOTAL=$(cat "$DATA/.total")

fresh_fs() {
	cleanup
	rm -f "$IMG"
	truncate -s $(( (SIZE_MB * 2 + 1024) << 20 )) "$IMG"
	mkfs.xfs -q -f -m reflink=1 "$IMG"
	LOOP=$(losetup --find --show "$IMG")
	mkdir -p "$MNT"
	mount "$LOOP" "$MNT"
	mkdir "$MNT/d"
	# --reflink=never: the copy must start with nothing shared.
	cp -a --reflink=never "$DATA"/. "$MNT/d/"
	rm -f "$MNT/d/.reclaimable" "$MNT/d/.total" "$MNT/d/.size_mb"
	sync
	echo 3 >/proc/sys/vm/drop_caches
}

used() { df -B1 --output=used "$MNT" | tail -1; }

# measure NAME CMD...: appends "secs rss_kb" to $WORK/NAME.times
measure() {
	local name=$1 log=$WORK/time.log
	shift
	echo 3 >/proc/sys/vm/drop_caches
	/usr/bin/time -v -o "$log" "$@" >"$WORK/$name.out" 2>"$WORK/$name.err" || true
	local wall rss
	wall=$(awk -F': ' '/Elapsed \(wall clock\)/ { n = split($2, t, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + t[i]; print s }' "$log")
	rss=$(awk -F': ' '/Maximum resident set size/ { print $2 }' "$log")
	echo "$wall $rss" >>"$WORK/$name.times"
}

declare -A CMD1 CMD2
HF=$WORK/hashes
CMD1[pmcfs-reflink]="$REFLINK scan -r -d --hashfile $HF.pmcfs $MNT/d"
CMD2[pmcfs-reflink]="$REFLINK scan -r -d --hashfile $HF.pmcfs $MNT/d"
CMD1[duperemove]="duperemove -dr -q --hashfile=$HF.dr $MNT/d"
CMD2[duperemove]="duperemove -dr -q --hashfile=$HF.dr $MNT/d"
CMD1[duperemove-block]="duperemove -dr -q --lookup-extents=no --hashfile=$HF.drb $MNT/d"
CMD2[duperemove-block]="duperemove -dr -q --lookup-extents=no --hashfile=$HF.drb $MNT/d"
TOOLS="pmcfs-reflink duperemove duperemove-block"
if [ -n "${BEFORE:-}" ]; then
	[ -x "$BEFORE" ] || { echo "dedupe.sh: BEFORE=$BEFORE is not executable" >&2; exit 2; }
	CMD1[pmcfs-reflink-before]="$BEFORE scan -r -d --hashfile $HF.before $MNT/d"
	CMD2[pmcfs-reflink-before]="$BEFORE scan -r -d --hashfile $HF.before $MNT/d"
	TOOLS="pmcfs-reflink-before $TOOLS"
fi

rm -f "$WORK"/*.times "$WORK"/*.freed
for run in $(seq "$RUNS"); do
	for t in $TOOLS; do
		fresh_fs
		rm -f "$HF".*
		u0=$(used)
		# shellcheck disable=SC2086
		measure "$t.1" ${CMD1[$t]}
		sync
		u1=$(used)
		echo $((u0 - u1)) >>"$WORK/$t.freed"
		# shellcheck disable=SC2086
		measure "$t.2" ${CMD2[$t]}
		echo "run $run $t: $(tail -1 "$WORK/$t.1.times") / $(tail -1 "$WORK/$t.2.times"), freed $((u0 - u1))" >&2
	done
done

median() { sort -g | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }

printf '\ndataset: %d MiB, reclaimable %d MiB (%d%% block duplicates + 2 copied files), %d runs, cold cache\n' \
	$((TOTAL >> 20)) $((RECLAIM >> 20)) "$DUP_PCT" "$RUNS"
printf '%s %s; load average now %s (other work on the machine skews times)\n' \
	"$(uname -r)" "$(duperemove --version 2>&1 | head -1)" "$(cut -d' ' -f1-3 /proc/loadavg)"
printf '| tool | 1st run s | GB/s | 2nd run s (hashfile) | freed MiB | freed / reclaimable | peak RSS MiB |\n'
printf '| --- | ---: | ---: | ---: | ---: | ---: | ---: |\n'
for t in $TOOLS; do
	s1=$(cut -d' ' -f1 "$WORK/$t.1.times" | median)
	s2=$(cut -d' ' -f1 "$WORK/$t.2.times" | median)
	rss=$(cut -d' ' -f2 "$WORK/$t.1.times" "$WORK/$t.2.times" | sort -n | tail -1)
	freed=$(median <"$WORK/$t.freed")
	awk -v t="$t" -v s1="$s1" -v s2="$s2" -v f="$freed" -v r="$RECLAIM" -v tot="$TOTAL" -v rss="$rss" 'BEGIN {
		printf "| %s | %.2f | %.2f | %.2f | %.0f | %.1f%% | %.0f |\n", t, s1, tot / 1e9 / s1, s2, f / 1048576, 100 * f / r, rss / 1024 }'
done

# The first runs side by side: each row had the same load.
printf '\n| run |'
for t in $TOOLS; do printf ' %s |' "$t"; done
printf '\n| ---: |'
for t in $TOOLS; do printf ' ---: |'; done
printf '\n'
for run in $(seq "$RUNS"); do
	printf '| %d |' "$run"
	for t in $TOOLS; do printf ' %.2f |' "$(sed -n "${run}p" "$WORK/$t.1.times" | cut -d' ' -f1)"; done
	printf '\n'
done

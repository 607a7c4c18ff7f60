#!/usr/bin/env bash
# bench/populate.sh [BUILD] [SRC]: copy one real tree (default /usr/share)
# into a fresh image with mkfs.pmcfs -d, mkfs.pmcfs -d --dedupe and, in
# the same run, mkfs.ext4 -d and mkfs.btrfs --rootdir, on sparse image
# files of the same size (twice the tree plus 512 MiB). RUNS (3) runs per
# tool; prints the median wall time, the median peak RSS (/usr/bin/time
# %M), entries per second (entries = find SRC | wc -l) and the ratio of
# each tool's time to pmcfs's. A benchmark, not a test: not in make check.
#
# The tree is read once before the first run, so every tool sees a warm
# page cache (the first cold read of a tree is dominated by the source
# disk, whoever reads it). Each tool's own syncs are part of its time;
# the script syncs and waits SETTLE (1 s) between runs so writeback of
# the previous image is not charged to the next one. Needs root (the tree
# may hold files only root can read, and owners must be kept).
set -u
cd "$(dirname "$0")/.."
BUILD=${1:-build}
SRC=${2:-/usr/share}
MKFS_PMCFS=$PWD/$BUILD/mkfs.pmcfs
RUNS=${RUNS:-3}
TOOLS=${TOOLS:-"pmcfs pmcfs-dedupe ext4 btrfs"}
WORK=${WORK:-/var/tmp/pmcfs-bench-populate}

[ "$(id -u)" = 0 ] || { echo "populate.sh: needs root" >&2; exit 1; }
[ -x "$MKFS_PMCFS" ] || { echo "populate.sh: $MKFS_PMCFS not built (run make)" >&2; exit 1; }
[ -d "$SRC" ] || { echo "populate.sh: $SRC is not a directory" >&2; exit 1; }
if [ ! -x /usr/bin/time ]; then
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq time >/dev/null ||
		{ echo "populate.sh: cannot install package time" >&2; exit 1; }
fi

mkdir -p "$WORK"
trap 'rm -rf "$WORK"' EXIT
IMG=$WORK/bench.img

ENTRIES=$(find "$SRC" | wc -l)
BYTES=$(du -sb "$SRC" | cut -f1)
SIZE=$(( (BYTES * 2 + (512 << 20)) / (1 << 20) * (1 << 20) ))
echo "source: $SRC, $ENTRIES entries, $BYTES bytes; images of $SIZE bytes; $RUNS runs"
tar -C "$SRC" -cf - . | cat >/dev/null	# warm the page cache

# run_once TOOL -> prints "us rss_kib" or "FAIL: reason"
run_once() {
	local t0 t1 rc cmd
	rm -f "$IMG"
	truncate -s "$SIZE" "$IMG" || { echo "FAIL: truncate"; return; }
	case $1 in
	pmcfs)        cmd=("$MKFS_PMCFS" -q -f -d "$SRC" "$IMG") ;;
	pmcfs-dedupe) cmd=("$MKFS_PMCFS" -q -f -d "$SRC" --dedupe "$IMG") ;;
	ext4)         cmd=(mkfs.ext4 -q -F -d "$SRC" "$IMG") ;;
	btrfs)        cmd=(mkfs.btrfs -q -f --rootdir "$SRC" "$IMG") ;;
	esac
	sync
	sleep "${SETTLE:-1}"
	t0=$(date +%s%N)
	/usr/bin/time -f %M -o "$WORK/rss" "${cmd[@]}" >"$WORK/out" 2>&1
	rc=$?
	t1=$(date +%s%N)
	if [ $rc -ne 0 ]; then
		echo "FAIL: exit $rc: $(grep -v 'Command exited' "$WORK/out" | head -n 1)"
		return
	fi
	echo "$(( (t1 - t0) / 1000 )) $(tail -n 1 "$WORK/rss")"
}

median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

declare -A MED RSS
for tool in $TOOLS; do
	: >"$WORK/res"
	for _ in $(seq "$RUNS"); do
		r=$(run_once "$tool")
		case $r in FAIL*) echo "$tool: $r"; continue 2 ;; esac
		echo "$r" >>"$WORK/res"
		echo "  $tool: $(( ${r%% *} / 1000 )) ms, peak RSS ${r##* } KiB" >&2
	done
	MED[$tool]=$(cut -d' ' -f1 "$WORK/res" | median)
	RSS[$tool]=$(cut -d' ' -f2 "$WORK/res" | median)
done

base=${MED[pmcfs]:-}
printf '%-13s %12s %14s %12s %12s\n' tool "median s" "peak RSS KiB" "entries/s" "x pmcfs"
for tool in $TOOLS; do
	[ -n "${MED[$tool]:-}" ] || continue
	us=${MED[$tool]}
	printf '%-13s %12s %14s %12s %12s\n' "$tool" \
		"$(awk -v u="$us" 'BEGIN { printf "%.2f", u / 1e6 }')" "${RSS[$tool]}" \
		"$(awk -v u="$us" -v n="$ENTRIES" 'BEGIN { printf "%.0f", n / (u / 1e6) }')" \
		"$( [ -n "$base" ] && awk -v u="$us" -v b="$base" 'BEGIN { printf "%.2f", u / b }')"
done

#!/usr/bin/env bash
# bench/mkfs.sh [BUILD]: format sparse image files of 64 GiB, 1 TiB and
# 16 TiB with mkfs.pmcfs and, in the same run, mkfs.xfs -m reflink=1,
# mkfs.btrfs and mkfs.ext4. Each tool gets a fresh sparse file per run,
# 5 runs; prints the median wall time, the peak RSS (/usr/bin/time %M)
# and the bytes the image took on the host (stat %b * %B), and the ratio
# pmcfs/xfs. A benchmark, not a test: it is not part of make check.
#
# Images live on a scratch XFS mounted from a sparse loop file, because
# ext4 (a common host filesystem) cannot hold a 16 TiB file. Needs root.
set -u
cd "$(dirname "$0")/.."
BUILD=${1:-build}
MKFS_PMCFS=$PWD/$BUILD/mkfs.pmcfs
RUNS=${RUNS:-5}
SIZES=${SIZES:-"64G 1T 16T"}
WORK=${WORK:-/var/tmp/pmcfs-bench}

[ "$(id -u)" = 0 ] || { echo "mkfs.sh: needs root (loop mount for the scratch XFS)" >&2; exit 1; }
[ -x "$MKFS_PMCFS" ] || { echo "mkfs.sh: $MKFS_PMCFS not built (run make)" >&2; exit 1; }
if [ ! -x /usr/bin/time ]; then
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq time >/dev/null ||
		{ echo "mkfs.sh: cannot install package time" >&2; exit 1; }
fi

mkdir -p "$WORK/mnt"
truncate -s 256G "$WORK/scratch.img"
mkfs.xfs -q -f "$WORK/scratch.img"
LOOP=$(losetup --find --show "$WORK/scratch.img")
cleanup() {
	umount "$WORK/mnt" 2>/dev/null
	losetup -d "$LOOP" 2>/dev/null
	rm -rf "$WORK"
}
trap cleanup EXIT
mount "$LOOP" "$WORK/mnt"
IMG=$WORK/mnt/bench.img

# run_tool NAME -> prints "ms rss_kib alloc_bytes" or "FAIL: reason"
run_once() {
	local name=$1 size=$2 t0 t1 rc
	rm -f "$IMG"
	truncate -s "$size" "$IMG" || { echo "FAIL: truncate"; return; }
	local cmd
	case $name in
	pmcfs) cmd=("$MKFS_PMCFS" -q "$IMG") ;;
	xfs)   cmd=(mkfs.xfs -q -f -m reflink=1 "$IMG") ;;
	btrfs) cmd=(mkfs.btrfs -q -f "$IMG") ;;
	ext4)  cmd=(mkfs.ext4 -q -F "$IMG") ;;
	esac
	# Settle: the previous image's blocks are freed in the background
	# (XFS inode GC); let that finish so it is not charged to this run.
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
	echo "$(( (t1 - t0) / 1000 )) $(tail -n 1 "$WORK/rss") $(( $(stat -c '%b * %B' "$IMG") ))"
}

median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

printf '%-6s %-6s %12s %12s %16s\n' size tool "median ms" "peak RSS KiB" "host bytes"
declare -A MED
for size in $SIZES; do
	for tool in pmcfs xfs btrfs ext4; do
		: >"$WORK/res"
		fail=
		for _ in $(seq "$RUNS"); do
			r=$(run_once "$tool" "$size")
			case $r in FAIL*) fail=$r; break ;; esac
			echo "$r" >>"$WORK/res"
		done
		if [ -n "$fail" ]; then
			printf '%-6s %-6s %s\n' "$size" "$tool" "$fail"
			continue
		fi
		us=$(cut -d' ' -f1 "$WORK/res" | median)
		rss=$(cut -d' ' -f2 "$WORK/res" | median)
		alloc=$(cut -d' ' -f3 "$WORK/res" | median)
		MED[$size.$tool]=$us
		printf '%-6s %-6s %12.1f %12s %16s\n' "$size" "$tool" "$(awk -v u="$us" 'BEGIN { print u / 1000 }')" "$rss" "$alloc"
	done
	if [ -n "${MED[$size.pmcfs]:-}" ] && [ -n "${MED[$size.xfs]:-}" ]; then
		printf '%-6s pmcfs/xfs wall time ratio: %.3f\n' "$size" \
			"$(awk -v p="${MED[$size.pmcfs]}" -v x="${MED[$size.xfs]}" 'BEGIN { print p / x }')"
	fi
done
rm -f "$IMG"

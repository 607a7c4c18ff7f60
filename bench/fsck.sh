#!/usr/bin/env bash
# bench/fsck.sh [BUILD]: time fsck.pmcfs -n against xfs_repair -n and
# btrfs check --readonly on the same content, in the same run. A
# benchmark, not a test: not in make check. Needs root (loop mounts).
#
# Content: FILES (100000) regular files and symlinks of /usr (tar of the
# first FILES names find lists, so a real tree with its real sizes), as
# /t0, then three reflinked copies /t1-/t3, then SNAPS (0 10 100)
# snapshots. pmcfs: mkfs.pmcfs --populate, pmcfs-reflink --image clone -r
# and snapshot create -r. btrfs: cp -a --reflink=always and btrfs
# subvolume snapshot -r of the top subvolume (the tree lives in a
# subvolume). XFS has no snapshots: the closest equivalent is one more
# reflinked copy of /t0 per snapshot, which is not the same thing (each
# copy has its own inodes and directories, so xfs_repair has more to
# check by construction); XFS_COPIES_MAX (10) caps those copies, since
# 100 copies of a 100k-file tree take about an hour to make.
#
# DIVERGE=K (default 0) makes the snapshots differ from each other and
# from the live tree: after each snapshot, K files of /t0 get new data
# (a reflink of a file of /t1 over them: pmcfs-reflink --image clone,
# cp --reflink=always on btrfs and XFS), as hourly snapshots of a live
# filesystem do; pass 4 must then stay flat without sharing a root.
#
# Each checker runs RUNS (3) times on a warm page cache; the median wall
# time and the median peak RSS (/usr/bin/time %M) are printed, with the
# ratio of each tool's time to fsck.pmcfs's.
set -u
cd "$(dirname "$0")/.."
BUILD=${1:-build}
FILES=${FILES:-100000}
RUNS=${RUNS:-3}
SNAPS=${SNAPS:-"0 10 100"}
DIVERGE=${DIVERGE:-0}
XFS_COPIES_MAX=${XFS_COPIES_MAX:-10}
WORK=${WORK:-/var/tmp/pmcfs-bench-fsck}
MKFS=$PWD/$BUILD/mkfs.pmcfs
FSCK=$PWD/$BUILD/fsck.pmcfs
REFLINK=$PWD/$BUILD/pmcfs-reflink

[ "$(id -u)" = 0 ] || { echo "fsck.sh: needs root" >&2; exit 1; }
for t in "$MKFS" "$FSCK" "$REFLINK"; do
	[ -x "$t" ] || { echo "fsck.sh: $t not built (run make)" >&2; exit 1; }
done
if [ ! -x /usr/bin/time ]; then
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq time >/dev/null ||
		{ echo "fsck.sh: cannot install package time" >&2; exit 1; }
fi
MNT=$WORK/mnt
mkdir -p "$WORK/src" "$MNT"
cleanup() { umount "$MNT" 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT

# ---- the tree ------------------------------------------------------------
find /usr -xdev \( -type f -o -type l \) 2>/dev/null | head -n "$FILES" >"$WORK/list"
tar -cf - --no-recursion -T "$WORK/list" 2>/dev/null | tar -xf - -C "$WORK/src" 2>/dev/null
mv "$WORK/src/usr" "$WORK/src/t0"
NF=$(find "$WORK/src/t0" \( -type f -o -type l \) | wc -l)
ND=$(find "$WORK/src/t0" -type d | wc -l)
BYTES=$(du -sb "$WORK/src/t0" | cut -f1)
SIZE=$(( (BYTES * 3 / 2 + (3 << 30)) / (1 << 20) * (1 << 20) ))
echo "tree: $NF files and symlinks, $ND directories, $BYTES bytes; 4 copies (3 reflinked); images of $SIZE bytes; $RUNS runs"
[ "$NF" -ge "$FILES" ] || echo "note: only $NF files found under /usr"

measure() {	# measure NAME CMD...: median seconds and KiB over RUNS
	local i t=() m=() out name=$1
	shift
	for ((i = 0; i < RUNS; i++)); do
		sync; echo 1 >/proc/sys/vm/drop_caches 2>/dev/null; "$@" >/dev/null 2>&1	# warm
		/usr/bin/time -o "$WORK/tm" -f '%e %M' "$@" >/dev/null 2>&1
		out=$(tail -1 "$WORK/tm")
		t+=("${out% *}"); m+=("${out#* }")
	done
	printf '%s\n' "${t[@]}" | sort -n | sed -n "$(( (RUNS + 1) / 2 ))p" >"$WORK/t"
	printf '%s\n' "${m[@]}" | sort -n | sed -n "$(( (RUNS + 1) / 2 ))p" >"$WORK/m"
	echo "$name $(cat "$WORK/t") $(cat "$WORK/m")"
}

# ---- pmcfs -------------------------------------------------------------------
P=$WORK/pmcfs.img
rm -f "$P"; truncate -s "$SIZE" "$P"
"$MKFS" -q -f --populate "$WORK/src" "$P" || { echo "fsck.sh: mkfs.pmcfs --populate failed" >&2; exit 1; }
for c in 1 2 3; do "$REFLINK" --image "$P" clone -r /t0 /t$c >/dev/null || exit 1; done
"$FSCK" -n "$P" | tail -3
# ---- btrfs -------------------------------------------------------------------
B=$WORK/btrfs.img
rm -f "$B"; truncate -s "$SIZE" "$B"
mkfs.btrfs -q -f "$B" >/dev/null 2>&1 && mount -o loop "$B" "$MNT" && btrfs -q subvolume create "$MNT/data" >/dev/null &&
	cp -a "$WORK/src/t0" "$MNT/data/t0" &&
	for c in 1 2 3; do cp -a --reflink=always "$MNT/data/t0" "$MNT/data/t$c"; done
umount "$MNT"
# ---- XFS ---------------------------------------------------------------------
X=$WORK/xfs.img
rm -f "$X"; truncate -s "$SIZE" "$X"
mkfs.xfs -q -f -m reflink=1 "$X" && mount -o loop "$X" "$MNT" && cp -a "$WORK/src/t0" "$MNT/t0" &&
	for c in 1 2 3; do cp -a --reflink=always "$MNT/t0" "$MNT/t$c"; done
umount "$MNT"

# Let the writeback of three freshly written 10 GiB images finish before timing.
sync; sleep "${SETTLE:-20}"
made_p=0 made_b=0 made_x=0
# diverge S: the /t0-relative names of the K files changed after snapshot S
mapfile -t regular < <(cd "$WORK/src/t0" && find . -type f -size +0 | sed 's|^\./||' | head -n 10000)
diverge() {
	local k i=$(( $1 * DIVERGE ))
	for ((k = 0; k < DIVERGE; k++)); do
		echo "${regular[(i + k) % ${#regular[@]}]}|${regular[(i + k + 1) % ${#regular[@]}]}"
	done
}
printf '\n%-6s %-8s %10s %10s %10s %10s %10s %10s %8s %8s\n' snaps xfs_cp pmcfs_s btrfs_s xfs_s \
	pmcfs_KiB btrfs_KiB xfs_KiB btrfs/p xfs/p
for n in $SNAPS; do
	for ((s = made_p; s < n; s++)); do
		"$REFLINK" --image "$P" snapshot create -r "s$s" >/dev/null || exit 1
		while IFS='|' read -r src dst; do
			"$REFLINK" --image "$P" clone "/t1/$src" "/t0/$dst" >/dev/null || exit 1
		done < <(diverge "$s")
	done
	made_p=$n
	mount -o loop "$B" "$MNT"
	for ((s = made_b; s < n; s++)); do
		btrfs -q subvolume snapshot -r "$MNT/data" "$MNT/s$s" >/dev/null
		while IFS='|' read -r src dst; do
			cp --reflink=always "$MNT/data/t1/$src" "$MNT/data/t0/$dst"
		done < <(diverge "$s")
	done
	made_b=$n; umount "$MNT"
	nx=$(( n < XFS_COPIES_MAX ? n : XFS_COPIES_MAX ))
	mount -o loop "$X" "$MNT"
	for ((s = made_x; s < nx; s++)); do
		cp -a --reflink=always "$MNT/t0" "$MNT/s$s"
		while IFS='|' read -r src dst; do
			cp --reflink=always "$MNT/t1/$src" "$MNT/t0/$dst"
		done < <(diverge "$s")
	done
	made_x=$nx; umount "$MNT"
	read -r _ pt pm < <(measure pmcfs "$FSCK" -n "$P")
	read -r _ bt bm < <(measure btrfs btrfs check --readonly "$B")
	read -r _ xt xm < <(measure xfs xfs_repair -n "$X")
	printf '%-6s %-8s %10s %10s %10s %10s %10s %10s %8.1f %8.1f\n' "$n" "$nx" "$pt" "$bt" "$xt" \
		"$pm" "$bm" "$xm" "$(echo "$bt / ($pt + ($pt == 0) * 0.01)" | bc -l)" "$(echo "$xt / ($pt + ($pt == 0) * 0.01)" | bc -l)"
done
"$FSCK" -n -v "$P" | grep -E 'namespace:|files,' 

#!/usr/bin/env bash
# bench/pmem.sh [BUILD] -- the pmcfs tools on real (emulated) pmem namespaces
# against the same operations on an image file, to show the device paths
# (fsdax block device, devdax mmap + libpmem) add no overhead of their own.
#
# Run from the host, it boots a pmemvm guest (tests/vm/pmemvm) with a 1 GiB
# fsdax and a 1 GiB devdax namespace and runs itself there; inside a guest
# it runs directly.  Not part of make check.  Prints a markdown table of
# median wall times over RUNS runs (default 5) for each tool that is built:
# mkfs.pmcfs, fsck.pmcfs -n and pmcfs-dump super on the fresh filesystem;
# then mkfs --populate of a ~70 MiB tree (documentation plus four 16 MiB
# files), and fsck -n, dump alloc, dump ls -R and dump extract of the
# populated filesystem.
#
# Emulated pmem is guest RAM behind QEMU TCG: its speed is not real pmem
# speed, and TCG runs code 5-20x slower than native.  Only the ratios
# between the columns of one run mean anything.
set -euo pipefail

BUILD=${1:-build}
RUNS=${RUNS:-5}
if [[ -z ${PMEMVM:-} ]]; then
	cd "$(dirname "$0")/.."
	exec tests/vm/pmemvm -s 2G -m fsdax:1G,devdax -t 900 -e "RUNS=$RUNS" -f bench/pmem.sh "$(realpath "$BUILD")"
fi
BUILD=$(realpath "$BUILD")
FSDAX=${PMEMVM_FSDAX:?} DEVDAX=${PMEMVM_DEVDAX:?}
IMG=/tmp/pmem-bench.img # guest tmpfs: RAM, like the emulated NVDIMM
bytes=$(blockdev --getsize64 "$FSDAX")
truncate -s "$bytes" "$IMG"

median() { sort -n | awk '{ v[NR] = $1 } END { printf "%.3f", NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
# time_runs PREP CMD...: median seconds of CMD over RUNS runs, PREP before each
time_runs() {
	local prep=$1 i t0 times=''
	shift
	for ((i = 0; i < RUNS; i++)); do
		eval "$prep"
		t0=$EPOCHREALTIME
		"$@" >/dev/null 2>&1 || { echo "bench: failed: $*" >&2; return 1; }
		times+=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { print b - a }')$'\n'
	done
	printf %s "$times" | median
}
row() { # LABEL CMD-WITH-@DEV@ [PREP-WITH-@DEV@]
	local label=$1 cmd=$2 prep=${3:-:} d out=()
	for d in "$FSDAX" "$DEVDAX" "$IMG"; do
		# shellcheck disable=SC2086 # cmd is a word list by design
		out+=("$(time_runs "${prep//@DEV@/$d}" ${cmd//@DEV@/$d} || echo failed)")
	done
	printf '| %s | %s | %s | %s | %s |\n' "$label" "${out[@]}" \
		"$(awk -v a="${out[0]}" -v c="${out[2]}" 'BEGIN { if (c > 0) printf "%.2f", a / c; else print "-" }')"
}

echo "kernel $(uname -r), QEMU TCG; fsdax $FSDAX and devdax $DEVDAX ($((bytes >> 20)) MiB each), image $IMG on tmpfs; median of $RUNS runs, seconds"
echo
echo "| operation | fsdax | devdax | image (tmpfs) | fsdax/image |"
echo "| --- | --- | --- | --- | --- |"
if [[ -x $BUILD/mkfs.pmcfs ]]; then
	row "mkfs.pmcfs -f" "$BUILD/mkfs.pmcfs -q -f @DEV@"
	# the same probing (libblkid, libndctl/libdaxctl, sysfs), nothing written
	row "mkfs.pmcfs -f -n (probe only)" "$BUILD/mkfs.pmcfs -q -f -n @DEV@"
	"$BUILD/mkfs.pmcfs" -q -f "$FSDAX"
	"$BUILD/mkfs.pmcfs" -q -f "$DEVDAX"
	"$BUILD/mkfs.pmcfs" -q -f "$IMG"
	[[ -x $BUILD/fsck.pmcfs ]] && row "fsck.pmcfs -n (empty fs)" "$BUILD/fsck.pmcfs -n @DEV@"
	[[ -x $BUILD/pmcfs-dump ]] && row "pmcfs-dump super" "$BUILD/pmcfs-dump super @DEV@"
	if "$BUILD/mkfs.pmcfs" --help 2>&1 | grep -q -- --populate; then
		# small files (documentation) and large ones (2 MiB extents):
		# populate throughput is src bytes / time
		src=/tmp/src
		rm -rf "$src" && mkdir -p "$src/big"
		cp -a /usr/share/doc/bash /usr/share/doc/coreutils /usr/share/doc/python3* "$src/" 2>/dev/null || true
		for i in 1 2 3 4; do head -c $((16 << 20)) /dev/urandom >"$src/big/f$i"; done
		srcb=$(du -sb "$src" | cut -f1)
		srcn=$(find "$src" | wc -l)
		echo
		echo "populate source: $srcn entries, $((srcb >> 20)) MiB (64 MiB of it in four 16 MiB files)"
		echo
		echo "| operation | fsdax | devdax | image (tmpfs) | fsdax/image |"
		echo "| --- | --- | --- | --- | --- |"
		row "mkfs.pmcfs --populate" "$BUILD/mkfs.pmcfs -q -f --populate $src @DEV@"
		# leave each device populated for the readers below
		for d in "$FSDAX" "$DEVDAX" "$IMG"; do "$BUILD/mkfs.pmcfs" -q -f --populate "$src" "$d"; done
		if [[ -x $BUILD/fsck.pmcfs ]]; then
			row "fsck.pmcfs -n (populated)" "$BUILD/fsck.pmcfs -n @DEV@"
			# an empty list instead of the namespace's sysfs one: no libndctl walk
			: >/tmp/nobad
			row "fsck.pmcfs -n --badblocks EMPTY (populated)" "$BUILD/fsck.pmcfs -n --badblocks /tmp/nobad @DEV@"
		fi
		if [[ -x $BUILD/pmcfs-dump ]]; then
			row "pmcfs-dump alloc (populated)" "$BUILD/pmcfs-dump alloc @DEV@"
			row "pmcfs-dump ls -l -R / (populated)" "$BUILD/pmcfs-dump ls -l -R / @DEV@"
			row "pmcfs-dump extract / (populated)" "$BUILD/pmcfs-dump extract / /tmp/dst @DEV@" "rm -rf /tmp/dst; mkdir /tmp/dst"
		fi
	fi
else
	echo "| mkfs.pmcfs not built | | | | |"
fi

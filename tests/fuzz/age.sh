#!/usr/bin/env bash
# Build one small aged pmcfs image for fuzzing: files (small, sparse,
# multi-extent), directories, hard links, symlinks (short and long),
# device nodes, xattrs (small and chunked), reflinked ranges and clones,
# a read-only and a writable snapshot, changes after the snapshots and a
# deleted snapshot. Deterministic layout: a fixed UUID and a sorted tree,
# so a block number means the same thing in every generated copy (only
# the times, and so the checksums, differ between runs).
#
#   tests/fuzz/age.sh VARIANT IMG      (needs $MKFS and $REFLINK, or $TOP)
#
# VARIANT: files | snap | deep | empty. Used by scripts/fuzz-seeds.sh and
# tests/fuzz/regress.bats (the regression patches apply to these images).
set -eu
variant=$1 img=$2
TOP=${TOP:-$(cd "$(dirname "$0")/../.." && pwd)/build}
MKFS=${MKFS:-$TOP/mkfs.pmcfs}
REFLINK=${REFLINK:-$TOP/pmcfs-reflink}
src=$(mktemp -d "${TMPDIR:-/tmp}/pmcfs-age.XXXXXX")
trap 'rm -rf "$src"' EXIT
rl() { "$REFLINK" --image "$img" "$@" >/dev/null; }

populate_files() {	# a little of everything, content kept tiny
	mkdir -p "$src/d/e/f" "$src/empty"
	printf 'hello pmcfs\n' >"$src/a"
	head -c 9000 /dev/zero | tr '\0' 'b' >"$src/b"		# 3 blocks
	printf 'x' | dd of="$src/sparse" bs=1 seek=40000 conv=notrunc status=none
	printf 'deep\n' >"$src/d/e/f/g"
	ln "$src/a" "$src/d/hardlink"
	ln -s a "$src/sym"
	ln -s "$(printf 'L%.0s' $(seq 1 700))" "$src/longsym"	# two SYMLINK chunks
	mkfifo "$src/d/fifo"
	: >"$src/d/zero-length"
	if setfattr -n user.k -v v "$src/a" 2>/dev/null; then
		setfattr -n user.big -v "$(head -c 700 /dev/zero | tr '\0' 'x')" "$src/b" 2>/dev/null || true
		setfattr -n trusted.t -v 1 "$src/d" 2>/dev/null || true
	fi
	chmod 4755 "$src/d/e/f/g"
	touch -h -d @1000000000 "$src" "$src"/* "$src"/d/* 2>/dev/null || true
}

case $variant in
empty)
	"$MKFS" -q -f -U 8e3c6a52-3f43-4a8b-9b0c-000000000001 -s 8M "$img" ;;
files)
	populate_files
	"$MKFS" -q -f -U 8e3c6a52-3f43-4a8b-9b0c-000000000002 -s 8M -d "$src" "$img"
	rl clone /b /b-clone
	rl clone-range /b 4096 /a 0 4096 ;;
snap)
	populate_files
	"$MKFS" -q -f -U 8e3c6a52-3f43-4a8b-9b0c-000000000003 -s 8M -d "$src" "$img"
	rl clone /b /b-clone
	rl snapshot create -r ro1
	rl clone-range /b 0 /b-clone 4096 4096
	rl snapshot create rw1
	rl clone /sparse /sparse2
	rl snapshot create gone
	rl snapshot delete gone ;;
deep)	# enough items for fs trees of height 2 in the live tree and a snapshot
	mkdir -p "$src/many"
	for i in $(seq 1 70); do : >"$src/many/file-with-a-longer-name-$i"; done
	printf one >"$src/many/file-with-a-longer-name-1"
	for i in $(seq 1 15); do ln -s "target-$i" "$src/many/s$i"; done
	"$MKFS" -q -f -U 8e3c6a52-3f43-4a8b-9b0c-000000000004 -s 8M -d "$src" "$img"
	rl snapshot create s1
	rl clone /many/file-with-a-longer-name-1 /many/clone ;;
*)
	echo "age.sh: unknown variant $variant" >&2; exit 2 ;;
esac

#!/usr/bin/env bash
# make demo: the main job on the embedded default - a sparse image file is
# formatted and populated, a file is reflinked and the tree snapshotted,
# the superblock, trees and shared extents are dumped, and it is checked.
# Each step prints the command an operator would type, then a few lines.
set -euo pipefail
build=${1:-build}
img=${PMCFS_DEMO_IMAGE:-demo.img}
size=${PMCFS_DEMO_SIZE:-1G}
src=$(mktemp -d /tmp/pmcfs-demo.XXXXXX)
trap 'rm -rf "$src"' EXIT

step() { printf '\n== %s\n' "$*"; }

# A small tree to put in: a few text files, a 4 MiB file (large enough
# for a 2 MiB-aligned extent), a hard link, a symlink.
mkdir -p "$src/docs"
for f in /etc/os-release /etc/hostname /etc/passwd; do
	[ -r "$f" ] && cp "$f" "$src/docs/" || true
done
head -c $((4 << 20)) /dev/urandom >"$src/big.bin"
ln "$src/big.bin" "$src/big.link"
ln -s docs "$src/docs.link"

step "format a sparse $size image and copy a tree in: mkfs.pmcfs -f -s $size -L demo --populate SRC $img"
rm -f "$img"
"$build/mkfs.pmcfs" -f -s "$size" -L demo --populate "$src" "$img"
printf 'host space used by the image: %s\n' "$(du -h "$img" | cut -f1)"

step "share big.bin's blocks with a copy and take a snapshot: pmcfs-reflink --image $img clone /big.bin /big.copy; ... snapshot create before"
"$build/pmcfs-reflink" --image "$img" clone /big.bin /big.copy
"$build/pmcfs-reflink" --image "$img" snapshot create before

step "superblock copies and commit slots: pmcfs-dump super $img"
"$build/pmcfs-dump" super "$img" | grep -E '^(superblock|commit slot|current)'

step "what is in it: pmcfs-dump ls -l / $img; pmcfs-dump snapshots $img"
"$build/pmcfs-dump" ls -l / "$img"
"$build/pmcfs-dump" snapshots "$img"

step "the copy's extents, shared with big.bin, 2 MiB-mappable: pmcfs-dump extents /big.copy $img"
"$build/pmcfs-dump" extents /big.copy "$img"

step "the space map: pmcfs-dump alloc $img"
"$build/pmcfs-dump" alloc "$img" | tail -n 1

step "check it: fsck.pmcfs -n $img"
"$build/fsck.pmcfs" -n "$img" | grep -v '^Pass '
step "done: $img is a formatted, populated pmcfs image with one reflinked file and one snapshot"

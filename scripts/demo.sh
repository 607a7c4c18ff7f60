#!/usr/bin/env bash
# make demo: the main job on the embedded default - a sparse image file,
# formatted, its superblock and trees dumped, then checked.
set -euo pipefail
build=${1:-build}
img=${PMCFS_DEMO_IMAGE:-demo.img}
size=${PMCFS_DEMO_SIZE:-1G}

step() { printf '\n== %s\n' "$*"; }

step "create a sparse $size image and format it: mkfs.pmcfs -f -s $size -L demo $img"
rm -f "$img"
"$build/mkfs.pmcfs" -f -s "$size" -L demo "$img"
printf 'host space used by the image: %s\n' "$(du -h "$img" | cut -f1)"

if [ -x "$build/pmcfs-dump" ]; then
	step "the superblock and commit slots: pmcfs-dump super $img"
	"$build/pmcfs-dump" super "$img"
	step "the root table: pmcfs-dump tree roottab $img"
	"$build/pmcfs-dump" tree roottab "$img"
	step "the space map: pmcfs-dump alloc $img"
	"$build/pmcfs-dump" alloc "$img"
fi
if [ -x "$build/fsck.pmcfs" ]; then
	step "check it: fsck.pmcfs -n $img"
	"$build/fsck.pmcfs" -n "$img"
fi
step "done: $img is a formatted pmcfs image"

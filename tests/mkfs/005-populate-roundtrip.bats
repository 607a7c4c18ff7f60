#!/usr/bin/env bats
# mkfs.pmcfs --populate round trip on a real tree of this machine
# (/usr/share, at least 20,000 entries): populate, extract again, and
# compare content (diff -r) and metadata (compare-tree.py). Under
# ASan+UBSan the full tree took 35 s on an idle machine (populate 8 s,
# extract 18 s) but 107 s on a loaded one, over the 60 s budget, so the
# sanitizer build copies a subtree of 1,000-10,000 entries instead.

load ../helpers
load populate

setup() {
	IMG=$BATS_TEST_TMPDIR/fs.img
	OUT=$BATS_TEST_TMPDIR/out
}

# A subdirectory of DIR with 1,000 to 10,000 entries (ASan builds).
subtree() {
	local d n
	for d in "$1"/*/; do
		n=$(find "$d" | wc -l)
		if [ "$n" -ge 1000 ] && [ "$n" -le 10000 ]; then
			echo "${d%/}"
			return 0
		fi
	done
	return 1
}

sanitized() {
	[[ $(basename "$TOP") == *san* ]]
}

@test "round trip of a real tree of at least 20,000 entries (a 1,000-10,000 entry subtree under ASan)" {
	need_root
	local src n bytes
	read -r src n < <(real_tree) || skip "no tree of 20,000 entries under /usr"
	[ "$n" -ge 20000 ]
	if sanitized; then
		src=$(subtree "$src") || skip "no subtree of 1,000-10,000 entries in $src"
	fi
	bytes=$(du -sb "$src" | cut -f1)
	run -0 $INSTRUMENT "$MKFS" -s $(( bytes * 2 + (512 << 20) )) -d "$src" "$IMG"
	[[ $output == *"populated:     "* ]] || { echo "$output"; return 1; }
	fsck_clean "$IMG"
	extract "$IMG" "$OUT"
	same_tree "$src" "$OUT"
}

@test "round trip with --dedupe gives the same tree (a 1,000-10,000 entry subtree under ASan)" {
	need_root
	local src n bytes
	read -r src n < <(real_tree) || skip "no tree of 20,000 entries under /usr"
	if sanitized; then
		src=$(subtree "$src") || skip "no subtree of 1,000-10,000 entries in $src"
	fi
	bytes=$(du -sb "$src" | cut -f1)
	run -0 $INSTRUMENT "$MKFS" -q --dedupe -s $(( bytes * 2 + (512 << 20) )) -d "$src" "$IMG"
	[ -z "$output" ]
	fsck_clean "$IMG"
	extract "$IMG" "$OUT"
	same_tree "$src" "$OUT"
}

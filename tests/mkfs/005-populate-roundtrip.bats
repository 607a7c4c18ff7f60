#!/usr/bin/env bats
# mkfs.pmcfs --populate round trip on a real tree of this machine
# (/usr/share, at least 20,000 entries): populate, extract again, and
# compare content (diff -r) and metadata (compare-tree.py). The full
# tree runs in both builds: under ASan+UBSan it takes about 35 s here
# (populate 8 s, extract 18 s), under the 60 s budget. The --dedupe round
# trip takes a subtree of 1,000-10,000 entries under ASan+UBSan.

load ../helpers
load populate

setup() {
	IMG=$BATS_TEST_TMPDIR/fs.img
	OUT=$BATS_TEST_TMPDIR/out
}

@test "round trip of a real tree of at least 20,000 entries (full size in every build)" {
	need_root
	local src n bytes
	read -r src n < <(real_tree) || skip "no tree of 20,000 entries under /usr"
	[ "$n" -ge 20000 ]
	bytes=$(du -sb "$src" | cut -f1)
	run -0 $INSTRUMENT "$MKFS" -s $(( bytes * 2 + (512 << 20) )) -d "$src" "$IMG"
	[[ $output == *"populated:     "* ]] || { echo "$output"; return 1; }
	extract "$IMG" "$OUT"
	same_tree "$src" "$OUT"
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

@test "round trip with --dedupe gives the same tree (a 1,000-10,000 entry subtree under ASan)" {
	need_root
	local src n bytes
	read -r src n < <(real_tree) || skip "no tree of 20,000 entries under /usr"
	if [[ $(basename "$TOP") == *san* ]]; then
		src=$(subtree "$src") || skip "no subtree of 1,000-10,000 entries in $src"
	fi
	bytes=$(du -sb "$src" | cut -f1)
	run -0 $INSTRUMENT "$MKFS" -q --dedupe -s $(( bytes * 2 + (512 << 20) )) -d "$src" "$IMG"
	[ -z "$output" ]
	extract "$IMG" "$OUT"
	same_tree "$src" "$OUT"
}

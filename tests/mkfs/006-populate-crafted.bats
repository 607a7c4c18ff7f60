#!/usr/bin/env bats
# mkfs.pmcfs --populate on a crafted tree (make-tree.py): every file
# type, names with every byte but '/' and NUL, 255-byte names, 200
# levels (a 20 KiB path), 10,000 entries in one directory, a 1 GiB
# sparse file, holes, xattrs and ACLs, odd modes, owners and times.
# The tree is built once per file; each test populates its own image.

load ../helpers
load populate

setup_file() {
	[ "$(id -u)" -eq 0 ] || return 0
	python3 "$BATS_TEST_DIRNAME/make-tree.py" "$BATS_FILE_TMPDIR/src"
}

setup() {
	need_root
	SRC=$BATS_FILE_TMPDIR/src
	IMG=$BATS_TEST_TMPDIR/fs.img
	OUT=$BATS_TEST_TMPDIR/out
}

@test "crafted tree: the summary counts every kind of entry" {
	run -0 $INSTRUMENT "$MKFS" -s 2G -d "$SRC" "$IMG"
	[[ $output == *"populated:     10522 files, 207 directories, 3 symlinks, 4 hard links, 5 special files, 5273231 bytes (5.0 MiB), in "*" s" ]] ||
		{ echo "$output"; return 1; }
}

@test "crafted tree: extracted again, content and metadata are the same" {
	run -0 $INSTRUMENT "$MKFS" -q -s 2G -d "$SRC" "$IMG"
	fsck_clean "$IMG"
	extract "$IMG" "$OUT"
	# diff -r cannot walk a 20 KiB path: compare-tree.py compares the bytes too.
	same_tree "$SRC" "$OUT" --content
	# Spot checks that do not depend on the comparison script.
	[ "$(readlink "$OUT/longtarget")" = "$(printf 'x%.0s' {1..4095})" ]
	[ "$(stat -c '%h %i' "$OUT/file")" = "3 $(stat -c %i "$OUT/sub/hl2")" ]
	[ "$(stat -c '%F %t %T' "$OUT/bigdev")" = "character special file fff fffff" ]
	[ "$(stat -c '%F' "$OUT/socket")" = socket ]
	[ "$(stat -c '%a %u %g' "$OUT/setuid" "$OUT/owned")" = "$(printf '4755 0 0\n644 1234 5678')" ]
	[ "$(stat -c %y "$OUT/empty")" = "$(stat -c %y "$SRC/empty")" ]
	[ "$(find "$OUT/bytes" -mindepth 1 -printf x | wc -c)" -eq 509 ]
	[ "$(find "$OUT/many" -mindepth 1 -printf x | wc -c)" -eq 10000 ]
	getfacl -p "$OUT/file" | grep -qx 'user:1234:rwx'
	getfacl -p -d "$OUT/sub" | grep -qx 'user:1234:r-x'
	[ "$(getfattr --only-values -n trusted.t "$OUT/file")" = "trusted value" ]
}

@test "crafted tree: the 1 GiB sparse file populates fast and the image stays small" {
	local start end kib
	start=$(date +%s%N)
	run -0 $INSTRUMENT "$MKFS" -q -s 2G -d "$SRC" "$IMG"
	end=$(date +%s%N)
	# Reading 1 GiB of holes would take seconds and fill the image.
	[ $(( (end - start) / 1000000 )) -lt 20000 ]
	kib=$(du -k "$IMG" | cut -f1)
	[ "$kib" -lt $(( 64 * 1024 )) ] || { echo "image uses $kib KiB"; return 1; }
	extract "$IMG" "$OUT"
	[ "$(stat -c %s "$OUT/sparse-1g")" -eq $(( 1 << 30 )) ]
	[ "$(du -k "$OUT/sparse-1g" | cut -f1)" -lt 8192 ]
	cmp -n 1M "$SRC/sparse-1g" "$OUT/sparse-1g"
	cmp -i 1023M "$SRC/sparse-1g" "$OUT/sparse-1g"
}

@test "crafted tree: with --dedupe the round trip is the same" {
	run -0 $INSTRUMENT "$MKFS" -q --dedupe -s 2G -d "$SRC" "$IMG"
	fsck_clean "$IMG"
	extract "$IMG" "$OUT"
	same_tree "$SRC" "$OUT" --content
}

@test "crafted tree: pmcfs-dump extract gives the same tree as well" {
	[ -x "$DUMP" ] && "$DUMP" --help 2>&1 | grep -q '^  extract' || skip "no pmcfs-dump extract"
	run -0 $INSTRUMENT "$MKFS" -q -s 2G -d "$SRC" "$IMG"
	EXTRACT=dump extract "$IMG" "$OUT"
	EXTRACT=dump same_tree "$SRC" "$OUT" --content
}

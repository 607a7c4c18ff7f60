#!/usr/bin/env bats
# pmcfs-dump ls, stat and cat on a populated image, as text and JSON.

load common
load ns

setup() { mkns; }

@test "ls: sorted names; -l mode, links, owner, size, ns mtime, targets; -R descends" {
	run -0 --separate-stderr dump ls / "$IMG"
	[ -z "$stderr" ]
	[ "${lines[0]}" = a ]
	[[ $output == *$'\n'"name with spaces"$'\n'* ]]
	[[ $output == *'ctl\x01\x7fé'* ]]
	run -0 dump ls -l /sub "$IMG"
	[[ $output == *"-rw-r--r-- 2 0 0 300000 "*" a-link"* ]]
	[[ $output == *" 1234 5678 6 2001-02-03 04:05:06.123456789 +0000 h"* ]]
	[[ $output == *"lrwxrwxrwx 1 0 0 4 "*" sym -> ../a"* ]]
	[[ $output == *"drwsr-xr-x "*" deep"* ]]
	run -0 dump ls -l / "$IMG"
	[[ $output == *"crw-r--r-- 1 0 0 1, 3 "*" chr"* ]]
	[[ $output == *"brw-r--r-- 1 0 0 7, 200 "*" blk"* ]]
	[[ $output == *"prw-r--r-- "*" fifo"* ]]
	[[ $output == *"srwxr-xr-x "*" sock"* || $output == *"srw"*" sock"* ]]
	run -0 dump ls -R / "$IMG"
	[[ $output == *$'/sub/deep:\ner\n'* ]]
	[[ $output == *"/sub/deep/er:"* ]]
	run -0 dump ls -l /sub/h "$IMG"
	[ "${#lines[@]}" -eq 1 ]
	[[ $output == *" /sub/h" ]]
}

@test "ls --json: every entry with its fields, recursive paths" {
	run -0 dump --json ls -R / "$IMG"
	json_ok "$output"
	[ "$(jqv "$output" '.entries[] | select(.path == "/sub/h") | .uid')" = 1234 ]
	[ "$(jqv "$output" '.entries[] | select(.path == "/sub/h") | .mtime.nsec')" = 123456789 ]
	[ "$(jqv "$output" '.entries[] | select(.path == "/sub/sym") | .target')" = ../a ]
	[ "$(jqv "$output" '.entries[] | select(.path == "/chr") | .type')" = chardev ]
	[ "$(jqv "$output" '[.entries[] | select(.path == "/sub/deep/er")] | length')" = 1 ]
	[ "$(jqv "$output" '.entries | length')" = "$(cd "$SRC" && find . -mindepth 1 | wc -l)" ]
}

@test "stat: every inode field, four ns times, flags, xattrs (text and JSON)" {
	run -0 --separate-stderr dump stat /sub/h "$IMG"
	[ -z "$stderr" ]
	[[ $output == *"mode:   -rw-rw-r--"* || $output == *"mode:   -rw-r--r--"* ]]
	[[ $output == *"mtime   2001-02-03 04:05:06.123456789 +0000"* ]]
	for f in atime ctime crtime; do [[ $output == *"$f "* ]]; done
	for f in mode uid gid nlink size nblocks flags generation rdev next_index extsize \
		 cowextsize atime_nsec mtime_sec crtime_sec; do
		[[ $output == *"  $f "* ]] || { echo "missing $f"; return 1; }
	done
	[[ $output == *'trusted.t (3 bytes) = "\x00\xff\x00"'* ]]
	run -0 dump --json stat /a "$IMG"
	json_ok "$output"
	[ "$(jqv "$output" .inode.nlink)" = 2 ]
	[ "$(jqv "$output" .inode.size)" = 300000 ]
	[ "$(jqv "$output" '"\(.mtime.sec).\(.mtime.nsec)"')" = "$(stat -c %.9Y "$SRC/a" | sed 's/\.0*/./')" ]
	[ "$(jqv "$output" '.xattrs[0].name')" = user.color ]
	[ "$(jqv "$output" '.xattrs[0].value_base64' | base64 -d)" = blue ]
	run -0 dump stat /sub/sym "$IMG"
	[[ $output == *"target: ../a"* ]]
	run -0 dump stat /chr "$IMG"
	[[ $output == *"device: 1, 3"* ]]
}

@test "cat: bytes identical, holes as zeros; --json base64" {
	local f
	for f in a sub/h sparse big "name with spaces"; do
		dump cat "/$f" "$IMG" | cmp - "$SRC/$f"
	done
	run -0 dump --json cat /sparse "$IMG"
	json_ok "$output"
	jqv "$output" .data_base64 | base64 -d | cmp - "$SRC/sparse"
	run -1 dump cat /sub "$IMG"
	[[ $output == *"cannot cat /sub: not a regular file (a directory)"* ]]
}

@test "cat into a file keeps the holes; into a pipe writes them as zeros" {
	local out=$BATS_TEST_TMPDIR/out
	dump cat /sparse "$IMG" >"$out"
	cmp "$out" "$SRC/sparse"
	# on disk: only the data blocks (the source file is sparse the same way)
	[ "$(stat -c %b "$out")" -le "$(stat -c %b "$SRC/sparse")" ]
	dump cat /sparse "$IMG" | cat >"$out.piped"
	cmp "$out.piped" "$SRC/sparse"
	[ "$(stat -c %b "$out.piped")" -gt "$(stat -c %b "$out")" ]
	# a file that ends in a hole gets its full size
	mkdir "$BATS_TEST_TMPDIR/t"
	printf 'head' >"$BATS_TEST_TMPDIR/t/tailhole"
	truncate -s 5M "$BATS_TEST_TMPDIR/t/tailhole"
	"$MKFS" -q -s 64M --populate "$BATS_TEST_TMPDIR/t" "$BATS_TEST_TMPDIR/t.img"
	dump cat /tailhole "$BATS_TEST_TMPDIR/t.img" >"$out"
	cmp "$out" "$BATS_TEST_TMPDIR/t/tailhole"
	[ "$(stat -c %b "$out")" -lt 100 ]
	# /dev/null is seekable too: a file of 2^40 bytes of holes takes no time
	truncate -s 1T "$BATS_TEST_TMPDIR/t/tailhole"
	"$MKFS" -q -f -s 64M --populate "$BATS_TEST_TMPDIR/t" "$BATS_TEST_TMPDIR/t.img"
	timeout 20 "$DUMP" cat /tailhole "$BATS_TEST_TMPDIR/t.img" >/dev/null
	run -1 dump cat /nope "$IMG"
	[[ $output == "pmcfs-dump: cannot resolve /nope: "* ]]
}

@test "--snapshot NAME: paths resolve in the snapshot; unknown names fail" {
	"$REFLINK" --image "$IMG" snapshot create before >/dev/null
	"$REFLINK" --image "$IMG" clone /a /newfile >/dev/null
	run -0 dump ls / "$IMG"
	[[ $output == *newfile* ]]
	run -0 dump --snapshot before ls / "$IMG"
	[[ $output != *newfile* ]]
	dump --snapshot before cat /a "$IMG" | cmp - "$SRC/a"
	run -0 dump --snapshot before --json stat /a "$IMG"
	[ "$(jqv "$output" .subvolume.name)" = before ]
	run -1 dump --snapshot nosuch ls / "$IMG"
	[[ $output == "pmcfs-dump: no such snapshot: nosuch"* ]]
	run -2 dump --snapshot before snapshots "$IMG"
	[[ $output == *"option --snapshot is only for"* ]]
}

#!/usr/bin/env bats
# Image mode clone -r: a tree copied inside the image as cp -a
# --reflink=always would, data shared, metadata kept.
load ../helpers
load common
load image

make_src() {
	local s=$1
	mkdir -p "$s/d1/d2"
	rand "$s/f" 1M
	rand "$s/d1/g" 300000
	: >"$s/empty"
	ln "$s/f" "$s/d1/hardlink"
	ln -s ../f "$s/d1/sym"
	ln -s /nonexistent "$s/dangling"
	mkfifo "$s/fifo"
	mknod "$s/null" c 1 3
	setfattr -n user.color -v blue "$s/f"
	setfattr -n trusted.t -v 1 "$s/d1"
	setfacl -m u:99:r "$s/d1/g"
	chown 1234:5678 "$s/d1/d2" "$s/d1/g"
	chmod 4755 "$s/f"
	chmod 0701 "$s/d1/d2"
	touch -d '2001-02-03 04:05:06.123456789' "$s/f" "$s/d1/d2" "$s/d1"
	touch -h -d '2002-01-01 00:00:00.5' "$s/d1/sym"
}

setup() {
	TOPDIR=$BATS_TEST_TMPDIR/top
	make_src "$TOPDIR/src"
	IMG=$(img_make "$TOPDIR")
}

@test "image clone -r keeps metadata and shares all data" {
	free0=$(free_blocks "$IMG")
	run_ok rl "$IMG" clone -r /src /dst
	[ -z "$output" ]
	src_meta=$("$ICAT" -l "$IMG" /src)
	# The populated tree carries what the test set (so the comparison means something).
	[[ "$src_meta" == *"f 104755 0:0 2 1048576 981173106.123456789 0 user.color=626c7565"* ]]
	[[ "$src_meta" == *"d1/g 100644 1234:5678 1 300000 "*"system.posix_acl_access="* ]]
	[[ "$src_meta" == *"null 20644 0:0 1 0 "*" 259"* ]]	# makedev(1, 3)
	[ "$src_meta" = "$("$ICAT" -l "$IMG" /dst)" ]
	[ "$(isums "$IMG" /src | sed 's| /src/| /|')" = "$(isums "$IMG" /dst | sed 's| /dst/| /|')" ]
	[ "$(ishared "$IMG" /dst/f)" -eq 1048576 ]
	[ "$(irefs "$IMG" /dst/d1/g)" = "[2]" ]
	# Data is shared, not copied: only inodes and tree blocks were added.
	[ $((free0 - $(free_blocks "$IMG"))) -lt 32 ]
	img_check "$IMG"
}

@test "image clone -r into an existing directory puts the tree inside, --json" {
	run_ok rl "$IMG" clone -r --json /src /src/d1
	json_ok "$output"
	[ "$(jq -r .dst <<<"$output")" = "/src/d1/src" ]
	[ "$(jq .files <<<"$output")" -eq 3 ]
	[ "$(jq .hardlinks <<<"$output")" -eq 1 ]
	[ "$(jq .symlinks <<<"$output")" -eq 2 ]
	[ "$(jq .other <<<"$output")" -eq 2 ]
	[ "$(jq .bytes <<<"$output")" -eq $((1048576 + 300000)) ]
	# The copy inside the source was not copied into itself.
	run -1 icat "$IMG" /src/d1/src/d1/src/f
	cmp "$TOPDIR/src/f" <(icat "$IMG" /src/d1/src/f)
	img_check "$IMG"
}

@test "image clone -r from a read-only snapshot restores a tree" {
	run_ok rl "$IMG" snapshot create -r snap
	run_ok rl "$IMG" clone -r snap@/src /restored
	[ "$("$ICAT" -l "$IMG" snap@/src)" = "$("$ICAT" -l "$IMG" /restored)" ]
	[ "$(ishared "$IMG" /restored/f)" -eq 1048576 ]
	img_check "$IMG"
}

@test "image clone -r that fails midway leaves no half tree" {
	sum=$(sha256sum <"$IMG")
	run -1 rl "$IMG" clone -r /src snap@/x
	run -1 rl "$IMG" clone -r /nosuch /x
	[ "${lines[0]}" = "pmcfs-reflink: clone /nosuch -> /x: stat: No such file or directory" ]
	[ "$(sha256sum <"$IMG")" = "$sum" ]
}

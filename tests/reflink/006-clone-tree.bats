#!/usr/bin/env bats
# clone -r: a tree copied as cp -a --reflink=always would.
load ../helpers
load common

setup_file() {
	XFS=$(fs_make xfs xfs) && BTRFS=$(fs_make btrfs btrfs)
	export XFS BTRFS
}
teardown_file() { fs_cleanup; }

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

# Everything cp -a keeps, with nanosecond mtimes.
meta() {
	(cd "$1" && find . -printf '%P %y %M %U:%G %n %s %T@ %l\n' | sort &&
		getfattr -h -d -m - -R . 2>/dev/null | grep -v '^$')
}

@test "clone -r keeps metadata and shares all data (xfs, btrfs)" {
	for m in "$XFS" "$BTRFS"; do
		make_src "$m/src"
		run_ok $INSTRUMENT "$REFLINK" clone -r "$m/src" "$m/dst"
		[ -z "$output" ]
		[ "$(meta "$m/src")" = "$(meta "$m/dst")" ]
		cmp "$m/src/f" "$m/dst/f"
		cmp "$m/src/d1/g" "$m/dst/d1/g"
		[ "$(filefrag_shared "$m/dst/f")" -eq 1048576 ]
		[ "$(stat -c %i "$m/dst/f")" = "$(stat -c %i "$m/dst/d1/hardlink")" ]
		[ "$(stat -c %t:%T "$m/dst/null")" = "1:3" ]
		[ "$(getfacl -p "$m/dst/d1/g" | grep user:99)" = "user:99:r--" ]
	done
}

@test "clone -r into an existing directory puts the tree inside, --json" {
	make_src "$XFS/src2"
	mkdir "$XFS/into"
	run_ok $INSTRUMENT "$REFLINK" clone -r --json "$XFS/src2" "$XFS/into"
	json_ok "$output"
	[ "$(jq -r .dst <<<"$output")" = "$XFS/into/src2" ]
	[ "$(jq .files <<<"$output")" -eq 3 ]
	[ "$(jq .hardlinks <<<"$output")" -eq 1 ]
	[ "$(jq .symlinks <<<"$output")" -eq 2 ]
	[ "$(jq .other <<<"$output")" -eq 2 ]
	[ "$(jq .bytes <<<"$output")" -eq $((1048576 + 300000)) ]
	cmp "$XFS/src2/f" "$XFS/into/src2/f"
}

@test "clone -r across filesystems reports each file and exits 1" {
	mkdir -p "$XFS/src3"
	rand "$XFS/src3/a" 64K
	run -1 $INSTRUMENT "$REFLINK" clone -r "$XFS/src3" "$BTRFS/dst3"
	[[ "$output" == *"pmcfs-reflink: clone $XFS/src3/a -> $BTRFS/dst3/a: Invalid cross-device link"* ]]
}

#!/usr/bin/env bats
# clone and clone-range on real XFS (reflink=1) and btrfs loop mounts.
load ../helpers
load common

setup_file() {
	XFS=$(fs_make xfs xfs) && BTRFS=$(fs_make btrfs btrfs)
	export XFS BTRFS
}
teardown_file() { fs_cleanup; }

@test "clone shares every extent and keeps content (xfs, btrfs)" {
	for m in "$XFS" "$BTRFS"; do
		rand "$m/a" 3M
		run_ok $INSTRUMENT "$REFLINK" clone "$m/a" "$m/b"
		[ -z "$output" ]
		cmp "$m/a" "$m/b"
		[ "$(filefrag_shared "$m/a")" -eq $((3 << 20)) ]
		[ "$(filefrag_shared "$m/b")" -eq $((3 << 20)) ]
	done
}

@test "clone onto a longer file cuts it to the source size" {
	rand "$XFS/short" 1M
	rand "$XFS/long" 3M
	run_ok $INSTRUMENT "$REFLINK" clone "$XFS/short" "$XFS/long"
	[ "$(stat -c %s "$XFS/long")" -eq $((1 << 20)) ]
	cmp "$XFS/short" "$XFS/long"
}

@test "clone into a directory names the clone after the source" {
	rand "$BTRFS/src" 256K
	mkdir -p "$BTRFS/dir"
	run_ok $INSTRUMENT "$REFLINK" clone "$BTRFS/src" "$BTRFS/dir"
	cmp "$BTRFS/src" "$BTRFS/dir/src"
}

@test "clone-range with K/M suffixes shares exactly the range (xfs, btrfs)" {
	for m in "$XFS" "$BTRFS"; do
		rand "$m/s" 2M
		rand "$m/d" 2M
		cp --reflink=never "$m/d" "$m/d.orig"
		run_ok $INSTRUMENT "$REFLINK" clone-range "$m/s" 1M "$m/d" 256K 512K
		# The range now holds the source's bytes, the rest is unchanged.
		cmp <(tail -c +$((1048576 + 1)) "$m/s" | head -c 524288) \
		    <(tail -c +$((262144 + 1)) "$m/d" | head -c 524288)
		cmp -n 262144 "$m/d" "$m/d.orig"
		cmp -i $((786432)):$((786432)) "$m/d" "$m/d.orig"
		[ "$(filefrag_shared "$m/d")" -eq 524288 ]
	done
}

@test "clone-range LEN 0 clones up to the source's end of file" {
	rand "$XFS/s0" 1M
	run_ok $INSTRUMENT "$REFLINK" clone-range "$XFS/s0" 0 "$XFS/d0" 0 0
	cmp "$XFS/s0" "$XFS/d0"
	[ "$(filefrag_shared "$XFS/d0")" -eq $((1 << 20)) ]
}

@test "clone and clone-range --json" {
	rand "$XFS/j" 64K
	run_ok $INSTRUMENT "$REFLINK" clone --json "$XFS/j" "$XFS/j2"
	json_ok "$output"
	[ "$(jq -r .status <<<"$output")" = ok ]
	[ "$(jq -r .bytes <<<"$output")" -eq 65536 ]
	run_ok $INSTRUMENT "$REFLINK" clone-range --json "$XFS/j" 0 "$XFS/j3" 0 64K
	json_ok "$output"
	[ "$(jq -r .length <<<"$output")" -eq 65536 ]
	[ "$(jq -r .status <<<"$output")" = ok ]
}

#!/usr/bin/env bats
# dedupe: equal ranges become shared, different ones are left alone.
load ../helpers
load common

setup_file() {
	XFS=$(fs_make xfs xfs) && BTRFS=$(fs_make btrfs btrfs)
	export XFS BTRFS
}
teardown_file() { fs_cleanup; }

@test "dedupe of equal ranges shares them (xfs, btrfs)" {
	for m in "$XFS" "$BTRFS"; do
		rand "$m/a" 2M
		cp --reflink=never "$m/a" "$m/b"
		[ "$(filefrag_shared "$m/b")" -eq 0 ]
		sum=$(sha256sum <"$m/b")
		run_ok $INSTRUMENT "$REFLINK" dedupe "$m/a" 0 2M "$m/b" 0
		[[ "$output" == *"-> $m/b [0, 2097152): 2097152 bytes deduped"* ]]
		[ "$(filefrag_shared "$m/b")" -eq $((2 << 20)) ]
		[ "$(sha256sum <"$m/b")" = "$sum" ]
	done
}

@test "dedupe of different ranges reports differs, exits 1 and changes nothing (xfs, btrfs)" {
	for m in "$XFS" "$BTRFS"; do
		rand "$m/x" 1M
		rand "$m/y" 1M
		before=$(sha256sum "$m/x" "$m/y")
		run -1 $INSTRUMENT "$REFLINK" dedupe "$m/x" 0 1M "$m/y" 0
		[[ "$output" == *"-> $m/y [0, 1048576): differs"* ]]
		[ "$(sha256sum "$m/x" "$m/y")" = "$before" ]
		[ "$(filefrag_shared "$m/y")" -eq 0 ]
	done
}

@test "dedupe into many destinations in one call reports each" {
	rand "$XFS/src" 1M
	for i in 1 2 3; do cp --reflink=never "$XFS/src" "$XFS/dst$i"; done
	rand "$XFS/other" 1M
	run -1 $INSTRUMENT "$REFLINK" dedupe --json "$XFS/src" 0 1M \
		"$XFS/dst1" 0 "$XFS/dst2" 0 "$XFS/other" 0 "$XFS/dst3" 0
	json_ok "$output"
	[ "$(jq -r '[.destinations[].status] | join(",")' <<<"$output")" = deduped,deduped,differs,deduped ]
	[ "$(jq -r '.destinations[3].bytes_deduped' <<<"$output")" -eq 1048576 ]
	for i in 1 2 3; do [ "$(filefrag_shared "$XFS/dst$i")" -eq 1048576 ]; done
	[ "$(filefrag_shared "$XFS/other")" -eq 0 ]
}

@test "a range longer than the per-call limit (16 MiB) is done in chunks (btrfs)" {
	rand "$BTRFS/big" 20M
	cp --reflink=never "$BTRFS/big" "$BTRFS/big2"
	run_ok $INSTRUMENT "$REFLINK" dedupe --json "$BTRFS/big" 0 20M "$BTRFS/big2" 0
	[ "$(jq -r '.destinations[0].bytes_deduped' <<<"$output")" -eq $((20 << 20)) ]
	[ "$(filefrag_shared "$BTRFS/big2")" -eq $((20 << 20)) ]
	cmp "$BTRFS/big" "$BTRFS/big2"
}

@test "dedupe at offsets inside files, partly differing: shares the equal chunk only" {
	# 32 MiB: two chunks; the second differs in one byte.
	rand "$XFS/p" 32M
	cp --reflink=never "$XFS/p" "$XFS/q"
	printf 'X' | dd of="$XFS/q" bs=1 seek=$((20 << 20)) conv=notrunc status=none
	sum=$(sha256sum <"$XFS/q")
	run -1 $INSTRUMENT "$REFLINK" dedupe "$XFS/p" 0 32M "$XFS/q" 0
	[[ "$output" == *"differs at 16777216, 16777216 bytes deduped"* ]]
	[ "$(filefrag_shared "$XFS/q")" -eq $((16 << 20)) ]
	[ "$(sha256sum <"$XFS/q")" = "$sum" ]
}

@test "dedupe into a read-only file the user owns works (read-only open)" {
	# As nobody, a 0444 file of one's own cannot be opened for writing,
	# so this only works because the destination is opened read-only.
	mkdir -m 0777 "$XFS/u"
	as_nobody sh -c "head -c 128K /dev/urandom >'$XFS/u/ro' && cp --reflink=never '$XFS/u/ro' '$XFS/u/ro2' && chmod 0444 '$XFS/u/ro2'"
	run_ok as_nobody $INSTRUMENT "$REFLINK" dedupe "$XFS/u/ro" 0 128K "$XFS/u/ro2" 0
	[ "$(filefrag_shared "$XFS/u/ro2")" -eq 131072 ]
}

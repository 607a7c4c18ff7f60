#!/usr/bin/env bats
# Every kernel error the tool explains, produced for real, with its
# message and exit code (1 for a failed range, 2 for a usage error).
load ../helpers
load common

setup_file() {
	XFS=$(fs_make xfs xfs) && BTRFS=$(fs_make btrfs btrfs) && EXT4=$(fs_make ext4 ext4)
	export XFS BTRFS EXT4
}
teardown_file() { fs_cleanup; }

teardown() {
	[ -z "${BGPID:-}" ] || kill "$BGPID" 2>/dev/null || true
}

@test "EINVAL: a misaligned range" {
	rand "$XFS/a" 1M
	run -1 $INSTRUMENT "$REFLINK" clone-range "$XFS/a" 0 "$XFS/b" 0 1000
	[ "$output" = "pmcfs-reflink: clone-range $XFS/a -> $XFS/b [0, 1000): Invalid argument (misaligned or past EOF)" ]
	run -1 $INSTRUMENT "$REFLINK" clone-range "$XFS/a" 1 "$XFS/b" 0 4096
	[ "$output" = "pmcfs-reflink: clone-range $XFS/a -> $XFS/b [1, 4097): Invalid argument (misaligned or past EOF)" ]
	# A failed clone leaves no empty destination behind.
	[ ! -e "$XFS/b" ]
}

@test "EINVAL: a dedupe range past the end of the source" {
	rand "$BTRFS/a" 64K
	cp --reflink=never "$BTRFS/a" "$BTRFS/b"
	run -1 $INSTRUMENT "$REFLINK" dedupe "$BTRFS/a" 128K 64K "$BTRFS/b" 0
	[[ "$output" == "pmcfs-reflink: dedupe $BTRFS/a -> $BTRFS/b [0, 65536): Invalid argument (misaligned, past EOF"* ]]
}

@test "EXDEV: source and destination on two mounts" {
	rand "$XFS/x" 64K
	run -1 $INSTRUMENT "$REFLINK" clone "$XFS/x" "$BTRFS/x"
	[ "$output" = "pmcfs-reflink: clone $XFS/x -> $BTRFS/x: Invalid cross-device link (source and destination are on different filesystems or mounts)" ]
	run -1 --separate-stderr $INSTRUMENT "$REFLINK" clone-range --json "$XFS/x" 0 "$BTRFS/x" 0 64K
	json_ok "$output"
	[ "$(jq -r .errno <<<"$output")" = EXDEV ]
	[ "$(jq -r .status <<<"$output")" = error ]
}

@test "EOPNOTSUPP: ext4 has no reflink, and the tool says so" {
	rand "$EXT4/a" 64K
	cp "$EXT4/a" "$EXT4/b"
	run -1 $INSTRUMENT "$REFLINK" clone "$EXT4/a" "$EXT4/c"
	[ "$output" = "pmcfs-reflink: clone $EXT4/a -> $EXT4/c: Operation not supported (the ext4 filesystem does not support reflink)" ]
	run -1 $INSTRUMENT "$REFLINK" clone-range "$EXT4/a" 0 "$EXT4/b" 0 64K
	[[ "$output" == *"the ext4 filesystem does not support reflink"* ]]
	run -1 $INSTRUMENT "$REFLINK" dedupe "$EXT4/a" 0 64K "$EXT4/b" 0
	[[ "$output" == "pmcfs-reflink: dedupe $EXT4/a -> $EXT4/b [0, 65536): "*"(the ext4 filesystem does not support reflink)" ]]
	cmp "$EXT4/a" "$EXT4/b"
}

@test "EISDIR: a directory as source or destination" {
	mkdir -p "$XFS/dir"
	rand "$XFS/f" 64K
	run -1 $INSTRUMENT "$REFLINK" clone "$XFS/dir" "$XFS/f2"
	[ "$output" = "pmcfs-reflink: clone $XFS/dir -> $XFS/f2: Is a directory (source and destination must be regular files)" ]
	run -1 $INSTRUMENT "$REFLINK" clone-range "$XFS/f" 0 "$XFS/dir" 0 64K
	[ "$output" = "pmcfs-reflink: clone-range $XFS/f -> $XFS/dir: open $XFS/dir: Is a directory (source and destination must be regular files)" ]
}

@test "ETXTBSY: cloning onto a running executable" {
	cp /bin/sleep "$XFS/sleep"
	"$XFS/sleep" 30 &
	BGPID=$!
	sleep 0.2
	rand "$XFS/data" 64K
	before=$(sha256sum <"$XFS/sleep")
	run -1 $INSTRUMENT "$REFLINK" clone "$XFS/data" "$XFS/sleep"
	[ "$output" = "pmcfs-reflink: clone $XFS/data -> $XFS/sleep: open $XFS/sleep: Text file busy (the destination is a running executable or an active swap file)" ]
	[ "$(sha256sum <"$XFS/sleep")" = "$before" ]
}

@test "ETXTBSY: cloning and deduping onto an active swap file" {
	xfs_io -f -c "falloc 0 8m" "$XFS/swap"
	chmod 600 "$XFS/swap"
	mkswap -q "$XFS/swap"
	swapon "$XFS/swap"
	rand "$XFS/d" 64K
	run -1 $INSTRUMENT "$REFLINK" clone-range "$XFS/d" 0 "$XFS/swap" 0 64K
	out1=$output
	run -1 $INSTRUMENT "$REFLINK" dedupe "$XFS/d" 0 64K "$XFS/swap" 0
	swapoff "$XFS/swap"
	[ "$out1" = "pmcfs-reflink: clone-range $XFS/d -> $XFS/swap [0, 65536): Text file busy (the destination is a running executable or an active swap file)" ]
	[ "$output" = "pmcfs-reflink: dedupe $XFS/d -> $XFS/swap [0, 65536): Text file busy (the destination is a running executable or an active swap file)" ]
}

@test "EPERM: an immutable destination" {
	rand "$XFS/s" 128K
	cp --reflink=never "$XFS/s" "$XFS/imm"
	chattr +i "$XFS/imm"
	run -1 $INSTRUMENT "$REFLINK" dedupe "$XFS/s" 0 128K "$XFS/imm" 0
	chattr -i "$XFS/imm"
	[ "$output" = "pmcfs-reflink: dedupe $XFS/s -> $XFS/imm [0, 131072): Operation not permitted (the destination is immutable or append-only, or not yours to change)" ]
	[ "$(filefrag_shared "$XFS/imm")" -eq 0 ]
}

@test "EPERM: an unprivileged user deduping into another user's file" {
	mkdir -m 0777 "$BTRFS/p"
	as_nobody sh -c "head -c 128K /dev/urandom >'$BTRFS/p/mine'"
	cp --reflink=never "$BTRFS/p/mine" "$BTRFS/p/roots"
	chmod 0644 "$BTRFS/p/roots"
	run -1 as_nobody $INSTRUMENT "$REFLINK" dedupe "$BTRFS/p/mine" 0 128K "$BTRFS/p/roots" 0
	[ "$output" = "pmcfs-reflink: dedupe $BTRFS/p/mine -> $BTRFS/p/roots [0, 131072): Operation not permitted (the destination is immutable or append-only, or not yours to change)" ]
}

@test "EBADF: a destination descriptor not open for writing" {
	rand "$XFS/e" 64K
	rand "$XFS/ro" 64K
	run -1 $INSTRUMENT "$REFLINK" clone "$XFS/e" /dev/fd/3 3<"$XFS/ro"
	[ "$output" = "pmcfs-reflink: clone $XFS/e -> /dev/fd/3: Bad file descriptor (the source must be open for reading and the destination for writing, without O_APPEND)" ]
	# An O_APPEND descriptor is refused the same way.
	run -1 $INSTRUMENT "$REFLINK" clone-range "$XFS/e" 0 /dev/fd/3 0 64K 3>>"$XFS/ro"
	[[ "$output" == *"Bad file descriptor"* ]]
}

@test "a missing file is reported without a remap hint" {
	run -1 $INSTRUMENT "$REFLINK" clone "$XFS/nonexistent" "$XFS/z"
	[ "$output" = "pmcfs-reflink: clone $XFS/nonexistent -> $XFS/z: open $XFS/nonexistent: No such file or directory" ]
}

@test "usage errors exit 2" {
	run -2 $INSTRUMENT "$REFLINK" clone-range a 1Q b 0 4096
	[[ "${lines[0]}" == "pmcfs-reflink: clone-range: bad SRC_OFF '1Q'" ]]
	run -2 $INSTRUMENT "$REFLINK" dedupe a 0 4096 b
	run -2 $INSTRUMENT "$REFLINK" clone a
	run -2 $INSTRUMENT "$REFLINK" scan --bogus x
	[[ "${lines[0]}" == "pmcfs-reflink: scan: unknown option '--bogus'" ]]
	run -2 $INSTRUMENT "$REFLINK" scan --block-size 1000 x
	run -2 $INSTRUMENT "$REFLINK" frobnicate
	run -2 $INSTRUMENT "$REFLINK"
}

#!/usr/bin/env bats
# mkfs.pmcfs --populate refusals and reports: a missing, non-directory
# or unreadable DIR is refused before anything is written; unreadable
# entries, read errors, files that change size and xattrs too large for
# the format are reported by path, the rest is populated, and mkfs
# exits 1. Unreadable sources need a user without CAP_DAC_OVERRIDE:
# those tests run mkfs as nobody (setpriv) in a world-searchable dir.

load ../helpers
load populate

setup() {
	IMG=$BATS_TEST_TMPDIR/fs.img
	OUT=$BATS_TEST_TMPDIR/out
}

teardown() {
	if [ -n "${WRITER:-}" ]; then
		kill "$WRITER" 2>/dev/null || true
		wait "$WRITER" 2>/dev/null || true
	fi
	if [ -n "${PUB:-}" ]; then
		chmod -R u+rwx "$PUB" 2>/dev/null || true
		rm -rf "$PUB"
	fi
}

# A directory nobody can use (bats' own temp dirs are 0700).
public_dir() {
	PUB=$(mktemp -d /tmp/pmcfs-populate.XXXXXX)
	chmod 755 "$PUB"
}

as_nobody() {
	setpriv --reuid=nobody --regid="$(id -g nobody)" --clear-groups --inh-caps=-all "$@"
}

@test "a DIR that does not exist is refused before anything is written" {
	run -1 $INSTRUMENT "$MKFS" -s 64M -d "$BATS_TEST_TMPDIR/none" "$IMG"
	[ "$output" = "mkfs.pmcfs: cannot read $BATS_TEST_TMPDIR/none: No such file or directory" ]
	[ ! -e "$IMG" ]
	run -1 $INSTRUMENT "$MKFS" -n -s 64M -d "$BATS_TEST_TMPDIR/none" "$IMG"
	[ ! -e "$IMG" ]
}

@test "a DIR that is not a directory is refused before anything is written" {
	touch "$BATS_TEST_TMPDIR/file"
	run -1 $INSTRUMENT "$MKFS" -s 64M -d "$BATS_TEST_TMPDIR/file" "$IMG"
	[ "$output" = "mkfs.pmcfs: cannot populate from $BATS_TEST_TMPDIR/file: not a directory" ]
	[ ! -e "$IMG" ]
}

@test "--dedupe without --populate is a usage error" {
	run -2 $INSTRUMENT "$MKFS" --dedupe -s 64M "$IMG"
	[[ $output == "mkfs.pmcfs: --dedupe needs --populate DIR"* ]]
	[ ! -e "$IMG" ]
}

@test "an unreadable DIR is refused before the existing filesystem is touched (as nobody)" {
	need_root
	public_dir
	mkdir "$PUB/src" && echo data >"$PUB/src/f"
	"$MKFS" -q -s 64M "$PUB/img"
	chown nobody "$PUB/img"
	local before
	before=$(sha256sum <"$PUB/img")
	chmod 000 "$PUB/src"
	run -1 as_nobody $INSTRUMENT "$MKFS" -f -d "$PUB/src" "$PUB/img"
	[ "$output" = "mkfs.pmcfs: cannot read $PUB/src: Permission denied" ] || { echo "$output"; return 1; }
	[ "$(sha256sum <"$PUB/img")" = "$before" ]
	# Listable but not searchable (r--): still refused up front.
	chmod 444 "$PUB/src"
	run -1 as_nobody $INSTRUMENT "$MKFS" -f -d "$PUB/src" "$PUB/img"
	[ "$output" = "mkfs.pmcfs: cannot read $PUB/src: Permission denied" ] || { echo "$output"; return 1; }
	[ "$(sha256sum <"$PUB/img")" = "$before" ]
}

@test "unreadable entries inside DIR are named, skipped, and mkfs exits 1 (as nobody)" {
	need_root
	public_dir
	mkdir -p "$PUB/src/closed" "$PUB/src/listonly" "$PUB/src/ok"
	echo fine >"$PUB/src/ok/f"
	echo secret >"$PUB/src/secret"
	echo inside >"$PUB/src/closed/x"
	echo inside >"$PUB/src/listonly/y"
	chmod 000 "$PUB/src/secret" "$PUB/src/closed"
	chmod 444 "$PUB/src/listonly"
	truncate -s 64M "$PUB/img"
	chown nobody "$PUB/img"
	run -1 as_nobody $INSTRUMENT "$MKFS" -q -d "$PUB/src" "$PUB/img"
	[[ $output == *"mkfs.pmcfs: cannot read $PUB/src/secret: Permission denied"* ]] || { echo "$output"; return 1; }
	[[ $output == *"mkfs.pmcfs: cannot read $PUB/src/closed: Permission denied"* ]] || { echo "$output"; return 1; }
	[[ $output == *"mkfs.pmcfs: cannot read $PUB/src/listonly/y: Permission denied"* ]] || { echo "$output"; return 1; }
	[[ $output == *"mkfs.pmcfs: populating from $PUB/src is incomplete: 3 errors, reported above" ]] || { echo "$output"; return 1; }
	# What could be read is there; what could not is absent, not empty.
	extract "$PUB/img" "$OUT"
	[ "$(cat "$OUT/ok/f")" = fine ]
	[ ! -e "$OUT/secret" ] && [ ! -e "$OUT/closed" ]
	[ -d "$OUT/listonly" ] && [ ! -e "$OUT/listonly/y" ]
}

@test "a read error in the middle of a file is named and leaves no partial copy (sysfs)" {
	need_root
	local src=/sys/class/net/lo
	[ -r "$src/speed" ] || skip "no $src/speed"
	! cat "$src/speed" >/dev/null 2>&1 || skip "$src/speed is readable here"
	run -1 $INSTRUMENT "$MKFS" -q -s 64M -d "$src" "$IMG"
	[[ $output == *"mkfs.pmcfs: cannot read $src/speed: Invalid argument"* ]] || { echo "$output"; return 1; }
	extract "$IMG" "$OUT"
	[ ! -e "$OUT/speed" ]
	[ "$(cat "$OUT/mtu")" = "$(cat "$src/mtu")" ]
}

@test "a file whose size differs from what can be read is reported, not padded (sysfs)" {
	need_root
	local src=/sys/class/net/lo
	[ -r "$src/address" ] || skip "no $src/address"
	[ "$(stat -c %s "$src/address")" -eq 4096 ] || skip "sysfs reports real sizes here"
	run -1 $INSTRUMENT "$MKFS" -q -s 64M -d "$src" "$IMG"
	[[ $output == *"mkfs.pmcfs: $src/address changed size while being copied: 4096 bytes when opened, 4096 bytes now; copied 18 bytes, up to where reading ended"* ]] ||
		{ echo "$output"; return 1; }
	extract "$IMG" "$OUT"
	[ "$(stat -c %s "$OUT/address")" -eq 18 ]
	[ "$(cat "$OUT/address")" = "$(cat "$src/address")" ]
}

@test "a file that grows while it is copied is reported; the copy holds the size at open" {
	local src=$BATS_TEST_TMPDIR/src size=$(( 256 << 20 ))
	mkdir "$src"
	head -c $size /dev/urandom >"$src/growing"
	echo small >"$src/other"
	# Append 64 KiB every millisecond or so until killed (or 60 s pass).
	python3 -c '
import os, sys, time
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_APPEND)
end = time.time() + 60
while time.time() < end:
    os.write(fd, b"g" * 65536)
    time.sleep(0.001)
' "$src/growing" &
	WRITER=$!
	while [ "$(stat -c %s "$src/growing")" -eq $size ]; do sleep 0.01; done
	run -1 $INSTRUMENT "$MKFS" -q -s 1G -d "$src" "$IMG"
	[[ $output == *"mkfs.pmcfs: $src/growing changed size while being copied: "*" bytes when opened, "*" bytes now; copied "*" bytes, up to the size when opened"* ]] ||
		{ echo "$output"; return 1; }
	[[ $output == *"populating from $src is incomplete: 1 error, reported above" ]]
	kill "$WRITER"; wait "$WRITER" 2>/dev/null || true; WRITER=
	extract "$IMG" "$OUT"
	local copied
	copied=$(stat -c %s "$OUT/growing")
	[ "$copied" -ge $size ]
	cmp -n "$copied" "$src/growing" "$OUT/growing"
	[ "$(cat "$OUT/other")" = small ]
}

@test "an xattr too large for the format is named with its path; the rest is copied" {
	need_root
	local src=$BATS_TEST_TMPDIR/src
	mkdir "$src"
	echo data >"$src/f"
	setfattr -n user.small -v ok "$src/f"
	setfattr -n user.big -v "$(head -c 3000 /dev/zero | tr '\0' v)" "$src/f"
	run -1 $INSTRUMENT "$MKFS" -q -s 64M -d "$src" "$IMG"
	[[ $output == "mkfs.pmcfs: cannot copy xattr user.big of $src/f (3000 bytes): too large for the format"* ]] || { echo "$output"; return 1; }
	extract "$IMG" "$OUT"
	[ "$(cat "$OUT/f")" = data ]
	[ "$(getfattr --only-values -n user.small "$OUT/f")" = ok ]
}

@test "a filesystem too small for DIR: the failing path is named, exit 1, the image stays consistent" {
	local src=$BATS_TEST_TMPDIR/src
	mkdir "$src"
	head -c 20M /dev/urandom >"$src/big"
	run -1 $INSTRUMENT "$MKFS" -q -s 8M -d "$src" "$IMG"
	[ "$output" = "mkfs.pmcfs: cannot populate $IMG: cannot write $src/big: No space left on device" ] ||
		{ echo "$output"; return 1; }
	fsck_clean "$IMG"
}

@test "the image file inside DIR is not copied into itself" {
	local src=$BATS_TEST_TMPDIR/src
	mkdir "$src"
	echo a >"$src/a"
	run -0 $INSTRUMENT "$MKFS" -q -s 64M -d "$src" "$src/img"
	[ "$output" = "mkfs.pmcfs: warning: not copying $src/img: it is the device being formatted" ]
	extract "$src/img" "$OUT"
	[ -f "$OUT/a" ] && [ ! -e "$OUT/img" ]
}

@test "progress is shown on a terminal, and nothing on a pipe or with -q" {
	command -v script >/dev/null || skip "no script(1)"
	local src=$BATS_TEST_TMPDIR/src
	mkdir "$src"
	head -c 64M /dev/urandom >"$src/big"
	run -0 script -qec "$INSTRUMENT $MKFS -s 256M -d $src $IMG" /dev/null
	[[ $output == *"populating: "*" files/s, "*" MiB/s"* ]] || { echo "$output"; return 1; }
	[[ $output == *"populated:     1 files, 1 directories, 0 symlinks, 0 hard links, 0 special files, 67108864 bytes (64 MiB), in "* ]]
	run -0 --separate-stderr $INSTRUMENT "$MKFS" -f -s 256M -d "$src" "$IMG"
	[ -z "$stderr" ]
	run -0 script -qec "$INSTRUMENT $MKFS -q -f -s 256M -d $src $IMG" /dev/null
	[ -z "$output" ]
}

#!/usr/bin/env bats
# pmcfs-dump extract: a byte- and metadata-identical round trip, and an
# image as untrusted input: crafted names, a symlink out of DESTDIR with
# a directory "under" it, a directory cycle, a damaged leaf, existing
# files and --force.

load common
load ns

hex() { printf '%s' "$1" | od -An -tx1 | tr -d ' \n'; }

# nothing_outside: the only things in $BATS_TEST_TMPDIR/outside are what the test put there.
nothing_outside() {
	[ -z "$(ls -A "$OUTSIDE")" ] || { ls -laR "$OUTSIDE"; return 1; }
	[ ! -e "$BATS_TEST_TMPDIR/pwned" ] && [ ! -e "$BATS_TEST_TMPDIR/sub/pwned" ]
}

setup() {
	OUTSIDE=$BATS_TEST_TMPDIR/outside
	OUT=$BATS_TEST_TMPDIR/out
	mkdir -p "$OUTSIDE"
}

@test "round trip: contents, holes, hard links, symlinks, nodes, owners, modes, ns times, xattrs" {
	mkns
	run -0 --separate-stderr dump extract / "$OUT" "$IMG"
	[ -z "$stderr" ]
	[[ $output == "extracted "*" files, "*" directories, 2 symlinks, 1 hard links, 4 special files into $OUT" ]]
	same_tree "$SRC" "$OUT"
	[ "$(stat -c %i "$OUT/a")" = "$(stat -c %i "$OUT/sub/a-link")" ]
	[ "$(stat -c %b "$OUT/sparse")" -lt 100 ]	# holes stay holes
	[ "$(stat -c %y "$OUT/sub/h")" = "2001-02-03 04:05:06.123456789 +0000" ]
	[ "$(readlink "$OUT/dangling")" = /nonexistent/target ]
	[ "$(getfattr -h --only-values -n user.color "$OUT/a")" = blue ]
	[ "$(stat -c %a "$OUT/sub/deep")" = 4755 ]
}

@test "extract --json, one file, a subtree, and --snapshot" {
	mkns
	run -0 dump --json extract /sub "$OUT" "$IMG"
	json_ok "$output"
	[ "$(jqv "$output" .extracted.hardlinks)" = 0 ]
	[ "$(jqv "$output" '.errors | length')" = 0 ]
	cmp "$OUT/h" "$SRC/sub/h"
	run -0 dump extract /sub/h "$BATS_TEST_TMPDIR/one" "$IMG"
	cmp "$BATS_TEST_TMPDIR/one/h" "$SRC/sub/h"
	"$REFLINK" --image "$IMG" snapshot create old >/dev/null
	"$REFLINK" --image "$IMG" clone /big /a >/dev/null
	run -0 dump --snapshot old extract /a "$BATS_TEST_TMPDIR/snap" "$IMG"
	cmp "$BATS_TEST_TMPDIR/snap/a" "$SRC/a"
	run -0 dump extract /a "$BATS_TEST_TMPDIR/live" "$IMG"
	cmp "$BATS_TEST_TMPDIR/live/a" "$SRC/big"
}

@test "existing files are not replaced without --force; --force replaces them, never following symlinks" {
	mkns
	mkdir -p "$OUT/sub"
	echo mine >"$OUT/a"
	ln -s "$OUTSIDE/victim" "$OUT/big"
	run -1 --separate-stderr dump extract / "$OUT" "$IMG"
	[[ $stderr == *"pmcfs-dump: cannot extract /a: it exists in DESTDIR; not replaced without --force"* ]]
	[[ $stderr == *"cannot extract /big: it exists"* ]]
	[[ $stderr == *"cannot extract /sub: it exists"* ]]
	[ "$(cat "$OUT/a")" = mine ]
	[ -L "$OUT/big" ]
	cmp "$OUT/sparse" "$SRC/sparse"	# the rest is extracted
	nothing_outside
	run -0 dump extract --force / "$OUT" "$IMG"
	for f in a big sparse sub/h; do cmp "$SRC/$f" "$OUT/$f"; done
	[ ! -L "$OUT/big" ]
	nothing_outside
}

@test "crafted names '..', 'sub/pwned', '' and one with a NUL are reported and skipped, exit 1" {
	local s=$BATS_TEST_TMPDIR/c img=$BATS_TEST_TMPDIR/c.img n
	mkdir -p "$s/sub"
	for n in v1 v2 v3 v4; do echo pwned >"$s/$n"; done
	echo fine >"$s/keep"
	"$MKFS" -q -s 256M --populate "$s" "$img"
	"$CRAFT" "$img" rename / v1 "$(hex ..)"
	"$CRAFT" "$img" rename / v2 "$(hex sub/pwned)"
	"$CRAFT" "$img" rename / v3 ""
	"$CRAFT" "$img" rename / v4 "$(hex ../pwned)00"
	mkdir -p "$OUT"
	run -1 --separate-stderr dump extract / "$OUT/x" "$img"
	[[ $stderr == *'directory /: entry '*': invalid name ".." (corrupt image); skipped'* ]]
	[[ $stderr == *'invalid name "sub/pwned" (corrupt image); skipped'* ]]
	[[ $stderr == *'invalid name "" (corrupt image); skipped'* ]]
	[[ $stderr == *'invalid name "../pwned\x00" (corrupt image); skipped'* ]]
	[ "$(cat "$OUT/x/keep")" = fine ]
	[ -z "$(ls -A "$OUT/x/sub")" ]
	[ "$(ls -A "$OUT/x" | sort | tr '\n' ' ')" = "keep sub " ]
	[ "$(ls -A "$OUT")" = x ]
	nothing_outside
	run -1 --separate-stderr dump --json extract / "$OUT/y" "$img"
	json_ok "$output"
	[ "$(jqv "$output" '.errors | length')" = 4 ]
	run -1 --separate-stderr dump ls / "$img"
	[[ $output == *'.. (invalid name)'* ]]
	run -1 --separate-stderr dump --json ls / "$img"
	json_ok "$output"
	[ "$(jqv "$output" '[.entries[] | select(.invalid_name)] | length')" = 4 ]
}

@test "a symlink out of DESTDIR, then a directory of the same name: never followed" {
	local s=$BATS_TEST_TMPDIR/c img=$BATS_TEST_TMPDIR/c.img
	mkdir -p "$s/zdir"
	echo pwned >"$s/zdir/pwned"
	ln -s "$OUTSIDE" "$s/esc"
	ln -s "$OUTSIDE" "$s/esc2"
	"$MKFS" -q -s 256M --populate "$s" "$img"
	# esc2 becomes a second "esc", and the later of the two in index order
	# (populate copies in the host's inode order, which a busy machine may
	# reverse: both are the same symlink, so it does not matter) names
	# zdir's directory; zdir's own entry is made invalid so that the
	# directory is first reached through it
	"$CRAFT" "$img" rename / esc2 "$(hex esc)"
	"$CRAFT" "$img" retarget / esc /zdir
	"$CRAFT" "$img" rename / zdir "$(hex ..)"
	run -1 --separate-stderr dump --json ls / "$img"
	[ "$(jqv "$output" '[.entries[] | select(.name == "esc") | .type] | sort | join(",")')" = directory,symlink ]
	run -1 --separate-stderr dump extract / "$OUT" "$img"
	[[ $stderr == *"cannot extract /esc: it exists in DESTDIR"* ]]
	[ -L "$OUT/esc" ]
	[ "$(readlink "$OUT/esc")" = "$OUTSIDE" ]
	nothing_outside
	run -1 --separate-stderr dump extract --force / "$BATS_TEST_TMPDIR/f" "$img"
	nothing_outside
	[ ! -L "$BATS_TEST_TMPDIR/f/esc" ]
	[ "$(cat "$BATS_TEST_TMPDIR/f/esc/pwned")" = pwned ]
}

@test "a directory cycle is extracted once and reported" {
	mkns
	"$CRAFT" "$IMG" retarget /sub/deep er /sub
	run -1 --separate-stderr timeout 60 "$DUMP" extract / "$OUT" "$IMG"
	[[ $stderr == *"cannot extract /sub/deep/er: directory reached twice (a directory cycle in a corrupt image); skipped"* ]]
	[ ! -e "$OUT/sub/deep/er" ]
	cmp "$OUT/sub/h" "$SRC/sub/h"
	nothing_outside
	run -1 timeout 60 "$DUMP" ls -R / "$IMG"
	[[ $output == *"reached twice"* ]]
}

@test "a damaged extent leaf: the rest is extracted, the losses named, exit 1" {
	local s=$BATS_TEST_TMPDIR/c img=$BATS_TEST_TMPDIR/c.img i ino blk
	mkdir -p "$s"
	for ((i = 0; i < 400; i++)); do head -c $((4096 * (i % 3 + 1))) /dev/urandom >"$s/f$i"; done
	"$MKFS" -q -s 256M --populate "$s" "$img"
	ino=$(dump --json stat /f200 "$img" | jq .ino)
	blk=$(dump --json tree 256 "$img" | jq --argjson ino "$ino" \
		'[.nodes[] | select(.items) | select(any(.items[]; .key.objectid == $ino and .key.type_name == "EXTENT"))][0].block')
	[ "$(dump --json tree 256 "$img" | jq '[.nodes[] | select(.items)] | length')" -gt 2 ]
	poke "$img" $((blk * 4096 + 2000)) ff
	poke "$img" $((blk * 4096 + 2001)) 00
	run -1 --separate-stderr dump extract / "$OUT" "$img"
	[[ $stderr == *"pmcfs-dump: cannot "*" /f"* ]]
	local good=0 bad=0
	for ((i = 0; i < 400; i++)); do
		if [[ $stderr == *" /f$i:"* ]]; then
			bad=$((bad + 1))
		else
			cmp "$OUT/f$i" "$s/f$i"
			good=$((good + 1))
		fi
	done
	[[ $stderr == *" /f200:"* ]]
	[ "$good" -gt 200 ]
	[ "$bad" -gt 0 ]
}

#!/usr/bin/env bats
# The fsck corruption corpus: one directory per problem code, each with a
# script that builds and corrupts an image, and the golden output of
# "fsck -fy" (expect.1) and of the "fsck -fn" after it (expect.2). Each
# case also runs "fsck -p" on a copy of the corrupted image: with only
# PREEN_OK findings it must fix them all (a clean -n after), otherwise it
# must stop for a human (exit 4, UNEXPECTED INCONSISTENCY) and leave every
# finding -p may not fix for -y (check_preen in common.bash).
# PMCFS_UPDATE_GOLDEN=1 rewrites the golden files (then review the diff).

load common

# same_but_zeros SNAP PATH OFF LEN...: PATH (in snapshot SNAP, "" for the
# live tree) reads after the repair as before it (pre.img), except each
# byte range [OFF, OFF+LEN), which now reads as zeros (moved off bad media).
same_but_zeros() {
	local opt=()
	[ -z "$1" ] || opt=(--snapshot "$1")
	"$DUMP" "${opt[@]}" cat "$2" pre.img >before.bin
	"$DUMP" "${opt[@]}" cat "$2" test.img >after.bin
	cp before.bin expect.bin
	shift 2
	while [ $# -ge 2 ]; do
		dd if=/dev/zero of=expect.bin bs=1 seek="$1" count="$2" conv=notrunc status=none
		shift 2
	done
	cmp expect.bin after.bin
	! cmp -s before.bin after.bin	# the bad blocks did hold data
}

@test "001-sb-primary: The primary superblock fails its crc: rewritten from the replica." {
	run_case 001-sb-primary
}

@test "002-sb-replica: The superblock replica fails its crc: rewritten from the primary." {
	run_case 002-sb-replica
}

@test "003-sb-differ: Both copies valid, the replica's label differs." {
	run_case 003-sb-differ
}

@test "004-slot-torn: Commit slot A's record is torn (crc): rewritten from the current commit." {
	run_case 004-slot-torn
}

@test "005-no-super: Neither superblock copy is valid: nothing to check." {
	run_case 005-no-super
}

@test "006-no-commit: All four commit slots are torn." {
	run_case 006-no-commit
}

@test "007-incompat: An incompatible feature this fsck does not know: refused, exit 8." {
	run_case 007-incompat
}

@test "008-ro-compat: An unknown read-only-compatible feature: -n checks, repairs are refused." {
	run_case 008-ro-compat
}

@test "009-device-short: The image is shorter than the filesystem." {
	run_case 009-device-short
}

@test "010-block-crc: A leaf of subvolume 256 fails its crc: cut out, space map rebuilt, namespace mended." {
	run_case 010-block-crc
}

@test "011-block-magic: A leaf of subvolume 256 carries the root table's magic." {
	run_case 011-block-magic
}

@test "012-block-misdirected: A leaf of subvolume 256 names another block as its own." {
	run_case 012-block-misdirected
}

@test "013-block-level: A leaf of subvolume 256 claims level 1." {
	run_case 013-block-level
}

@test "014-block-structure: A leaf of subvolume 256 has nonzero reserved header flags." {
	run_case 014-block-structure
}

@test "015-block-stale: A leaf's generation differs from its parent pointer's (a lost write)." {
	run_case 015-block-stale
}

@test "016-block-future: A leaf and its parent pointer agree on a generation newer than the parent." {
	run_case 016-block-future
}

@test "017-block-owner: A leaf of subvolume 256 says the space map owns it: rewritten as a fresh" {
	run_case 017-block-owner
}

@test "018-key-range: The last key of the first leaf lies beyond the next leaf's first key." {
	run_case 018-key-range
}

@test "019-underfull: The first leaf keeps only its first item: a warning, not an error" {
	run_case 019-underfull
}

@test "020-extent-outside: An extent points into the reserved area at the start of the device." {
	run_case 020-extent-outside
}

@test "021-crosslink: An extent of one block points at the root table's root block." {
	run_case 021-crosslink
}

@test "022-spacemap-block: A space map block fails its crc: the map is rebuilt from the walk." {
	run_case 022-spacemap-block
}

@test "023-cut-shared: A leaf shared by the live tree and all three snapshots (one read-only)" {
	run_case 023-cut-shared
}

@test "024-owner-shared: A leaf shared by the live tree and all three snapshots (one read-only)" {
	run_case 024-owner-shared
	cd "$BATS_TEST_TMPDIR"
	"$DUMP" snapshots pre.img | grep -Eq '^257 +256 +ro .*snap-0$'
	"$DUMP" snapshots test.img | grep -Eq '^257 +256 +ro .*snap-0$'
}

@test "025-owner-node: Interior nodes and roots with implausible owners: the root (level 2) of" {
	run_case 025-owner-node
}

@test "026-extent-bad: An extent item cut to 10 bytes: deleted from every tree." {
	run_case 026-extent-bad
}

@test "030-leaked: An extent becomes a hole (0 blocks): its data blocks are counted but" {
	run_case 030-leaked
}

@test "031-overcount: The run holding the root table's root counts one reference too many." {
	run_case 031-overcount
}

@test "032-undercount: A reflinked extent's run (2 references) records only 1." {
	run_case 032-undercount
}

@test "033-ref-to-free: The run holding the root table's root is recorded free." {
	run_case 033-ref-to-free
}

@test "034-ref-to-bad: A run of referenced blocks (24 files) is recorded as bad media: believed, the data moves off, the run stays bad." {
	run_case 034-ref-to-bad
}

@test "035-record-bad: A space map record names an owner that does not exist." {
	run_case 035-record-bad
}

@test "036-partition: A record is one block too long: it overlaps the next." {
	run_case 036-partition
}

@test "037-not-merged: The free run after the last allocation is given the owner and count of" {
	run_case 037-not-merged
}

@test "038-reserved-wrong: The reserved area at the start is recorded as ordinary space." {
	run_case 038-reserved-wrong
}

@test "039-badrun-count: The reserved area at the start counts 2 references." {
	run_case 039-badrun-count
}

@test "040-free-count: Both primary commit slots carry a wrong free block count." {
	run_case 040-free-count
}

@test "041-leaked-bad-listed: Leaked blocks and free blocks on the bad-block list: the rebuild records them bad." {
	run_case 041-leaked-bad-listed
	cd "$BATS_TEST_TMPDIR"
	! grep -q '^P6.002' fsck.y.out
	grep -q '^2 free blocks on the bad-block list recorded as bad$' fsck.y.out
}

@test "050-root-item-bad: Snapshot 257's root item has a nonzero key offset: unusable. The entry" {
	run_case 050-root-item-bad
}

@test "051-snap-root-bad: The root block of snapshot 257 fails its crc: the snapshot entry is" {
	run_case 051-snap-root-bad
}

@test "052-parent-missing: Snapshot 258 names parent 999, which does not exist." {
	run_case 052-parent-missing
}

@test "053-name-dup: Snapshot "snap-1" is renamed "snap-0", the name of another." {
	run_case 053-name-dup
}

@test "054-rdonly-newer: Subvolume 256, written since its creation, is flagged read-only." {
	run_case 054-rdonly-newer
}

@test "055-dropping: Snapshot 259's deletion was interrupted before anything was dropped." {
	run_case 055-dropping
}

@test "056-root-subvol-gone: The superblock names a default subvolume the root table does not have:" {
	run_case 056-root-subvol-gone
}

@test "057-root-item-flags: Snapshot 258 carries an unknown flag." {
	run_case 057-root-item-flags
}

@test "058-root-name-bad: Snapshot 258's name length disagrees with its item size." {
	run_case 058-root-name-bad
}

@test "059-default-created: The default subvolume is missing and the only subvolume, 256, is" {
	run_case 059-default-created
}

@test "060-data-on-bad: The bad-block list covers an extent's first block: moved in all four trees, that block reads as zeros." {
	run_case 060-data-on-bad
	cd "$BATS_TEST_TMPDIR"
	for snap in "" snap-0 snap-1 snap-2; do same_but_zeros "$snap" /d00/d05/f305 0 4096; done
	"$DUMP" snapshots test.img | grep -Eq '^257 +256 +ro .*snap-0$'
}

@test "061-bad-not-recorded: The bad-block list names free blocks the space map does not record." {
	run_case 061-bad-not-recorded
}

@test "062-bad-reflinked: A bad block under an extent the file shares at 1 MiB in four trees: one copy, still shared by all eight items." {
	run_case 062-bad-reflinked
	cd "$BATS_TEST_TMPDIR"
	"$DUMP" extents /d03/f303 test.img >ext.out
	[ "$(awk '$1 == 0 || $1 == 1048576 { print $2, $4 }' ext.out | sort -u)" = "$(awk '$1 == 0 { print $2, 8 }' ext.out)" ]
	same_but_zeros "" /d03/f303 8192 4096 1056768 4096
	same_but_zeros snap-0 /d03/f303 8192 4096 1056768 4096
}

@test "063-bad-rdonly-snapshot: A bad block held only by the read-only snapshot: moved, and the snapshot stays read-only." {
	run_case 063-bad-rdonly-snapshot
	cd "$BATS_TEST_TMPDIR"
	same_but_zeros snap-0 /d00/n0-0 0 100
	"$DUMP" cat /d00/n0-0 pre.img | cmp - <("$DUMP" cat /d00/n0-0 test.img)
}

@test "064-bad-tree-blocks: Tree blocks on the bad-block list that still read: copied in every tree, then recorded bad." {
	run_case 064-bad-tree-blocks
	cd "$BATS_TEST_TMPDIR"
	"$DUMP" snapshots test.img | grep -Eq '^257 +256 +ro .*snap-0$'
	for b in $(awk '{ print $1 / 8 }' bad.txt); do
		"$DUMP" owners "$b" test.img | grep -q "refcount 1, bad"
		"$DUMP" owners "$b" test.img | grep -q "no file extent or tree block uses these blocks"
	done
	for id in 257 258 259; do
		"$NS" pre.img sums "$id" | cmp - <("$NS" test.img sums "$id")
	done
}

@test "065-roottab-leaf: A root table leaf fails its crc in both commits: its subvolumes are found by a scan, the rest kept." {
	run_case 065-roottab-leaf
	cd "$BATS_TEST_TMPDIR"
	"$NS" before.img sums 256 | cmp - <("$NS" test.img sums 256)
	for id in $(seq 257 266); do
		"$NS" before.img sums "$id" | cmp - <("$NS" test.img sums $((id + 30)))
	done
	for id in $(seq 267 286); do
		"$NS" before.img sums "$id" | cmp - <("$NS" test.img sums "$id")
	done
	[ "$("$DUMP" snapshots test.img | grep -Ec "^(28[7-9]|29[0-6]) +- +ro .* recovered-[0-9]+\$")" = 10 ]
}

@test "066-default-root-bad: The default subvolume's root block fails its crc: an empty root directory, snapshots kept." {
	run_case 066-default-root-bad
	cd "$BATS_TEST_TMPDIR"
	[ -z "$("$DUMP" ls / test.img)" ]
	[ "$("$DUMP" super test.img | grep -Ec '^ *root_subvol +256$')" = 2 ]
	for id in 257 258 259; do
		"$NS" pre.img sums "$id" | cmp - <("$NS" test.img sums "$id")
	done
}

@test "067-roottab-rollback: The root table's root block fails its crc: rolled back to the intact older commit." {
	run_case 067-roottab-rollback
	cd "$BATS_TEST_TMPDIR"
	# The state before the last transaction, to the byte: its mtime is back.
	"$DUMP" stat / before.img | cmp - <("$DUMP" stat / test.img)
	for id in 257 258 259; do
		"$NS" before.img sums "$id" | cmp - <("$NS" test.img sums "$id")
	done
	# The rollback outranks the damaged commit, which stays in the other slot.
	local gen
	gen=$("$DUMP" super before.img | sed -n 's/^current: .*generation //p')
	"$DUMP" super test.img | grep -qx "current: slot [AB] (block [0-9]*), generation $((gen + 2))"
}

@test "068-roottab-rebuild: The root table's root and the older commit fail their crc: entries rebuilt from the older commit's table." {
	run_case 068-roottab-rebuild
	cd "$BATS_TEST_TMPDIR"
	# The same table as before the damage, ctimes included; nothing lost.
	"$DUMP" snapshots before.img | cmp - <("$DUMP" snapshots test.img)
	"$DUMP" stat / before.img | cmp - <("$DUMP" stat / test.img)
	for id in 256 257 258 259; do
		"$NS" before.img sums "$id" | cmp - <("$NS" test.img sums "$id")
	done
}

@test "069-roottab-scan: The root table's root fails its crc in both commits: the subvolumes are found by a scan." {
	run_case 069-roottab-scan
	cd "$BATS_TEST_TMPDIR"
	# 256 keeps its id; the snapshots get the next ones in the order they
	# were taken, so here (no id was given out after them) their own.
	for id in 256 257 258 259; do
		"$NS" before.img sums "$id" | cmp - <("$NS" test.img sums "$id")
	done
	[ "$("$DUMP" snapshots test.img | grep -Ec '^25[789] +- +ro .* recovered-25[789]$')" = 3 ]
	"$DUMP" super test.img | grep -Eq '^ *root_subvol +256$'
}

@test "069-roottab-scan, bounded: a space map count of 3000 on the default root makes 1024 more entries, not 3000" {
	cd "$BATS_TEST_TMPDIR"
	local start len count owner leaf off st=0
	aged
	read -r start len count owner leaf off < <("$POKE" test.img run "$(tree_root 256)")
	"$POKE" test.img w32 "$leaf" $((off + 8)) 3000
	"$POKE" test.img raw8 "$(tree_root roottab)" 300 1
	"$POKE" test.img raw8 "$(older_roottab)" 300 1
	"$FSCK" -fy test.img >y.out 2>&1 || st=$?
	[ "$st" = 1 ] || { cat y.out; return 1; }
	grep -q "^P2.017 error: .*: 0 entries kept, 1028 found" y.out
	[ "$(grep -c '^recovered subvolume' y.out)" = 1028 ]
	grep -q '^P3.002 error: space map count above the references found' y.out
	"$FSCK" -fn test.img >n.out 2>&1 || { cat n.out; return 1; }
}

@test "070-ns-item-stray: An item of a type no inode has (9) under inode /d00/n0-0." {
	run_case 070-ns-item-stray
}

@test "071-ns-item-no-inode: A symlink chunk for inode 5000, which has no inode item: deleted." {
	run_case 071-ns-item-no-inode
}

@test "072-ns-root-missing: The root directory's inode item is deleted: recreated, then its counts set." {
	run_case 072-ns-root-missing
}

@test "073-ns-inode-bad: Inode /d00/n0-0 (data, an xattr) gets mode 0: cleared, its names removed." {
	run_case 073-ns-inode-bad
}

@test "074-ns-inode-fields: Inode /d00/n0-0 carries an unknown flag and mtime nanoseconds of 2e9." {
	run_case 074-ns-inode-fields
}

@test "075-ns-dirent-bad: The index item of /d00 (index 2 of the root) is cut to 10 bytes: deleted, then" {
	run_case 075-ns-dirent-bad
}

@test "076-ns-name-bad: The name of /d00/n0-0 becomes 'a/b' in its entry, index and back-reference:" {
	run_case 076-ns-name-bad
}

@test "077-ns-xattr-bad: The xattr item of /d00/n0-0 is cut to 5 bytes: deleted." {
	run_case 077-ns-xattr-bad
}

@test "078-ns-extent-bad: The extent of inode 305 gets an unknown flag: deleted (its data reported lost)," {
	run_case 078-ns-extent-bad
}

@test "079-ns-extent-overlap: Inode 301's reflinked extent moves from 1 MiB to 4 KiB, over its first extent." {
	run_case 079-ns-extent-overlap
}

@test "080-ns-symlink-bad: The second 512-byte chunk of a 700-byte symlink target is deleted: cleared." {
	run_case 080-ns-symlink-bad
}

@test "081-ns-entry-no-index: The index item of /d01 is deleted: recreated from its entry." {
	run_case 081-ns-entry-no-index
}

@test "082-ns-index-no-entry: The entry item of /d01 is deleted: recreated from its index item." {
	run_case 082-ns-index-no-entry
}

@test "083-ns-entry-differ: Three names whose entry and index item disagree, settled by the child's" {
	run_case 083-ns-entry-differ
}

@test "084-ns-entry-no-ref: The back-reference of /d00/n0-0 is deleted: recreated." {
	run_case 084-ns-entry-no-ref
}

@test "085-ns-ref-no-entry: /d00/n0-0 gets a back-reference to directory 999, which names nothing: deleted." {
	run_case 085-ns-ref-no-entry
}

@test "086-ns-entry-dangling: The fifo /d00/d05/d27/n0-10 loses its inode item and back-reference: the" {
	run_case 086-ns-entry-dangling
}

@test "087-ns-entry-type: The entry and index item of the fifo /d00/d05/d27/n0-10 say regular file." {
	run_case 087-ns-entry-type
}

@test "088-ns-dir-multi-parent: Directory /d01 gets a second name, /d02/again: the extra name is removed." {
	run_case 088-ns-dir-multi-parent
}

@test "089-ns-unattached: The only name of /d00/n0-0 is removed (all three items): the file goes to" {
	run_case 089-ns-unattached
}

@test "090-ns-dir-cycle: /d00/d04 is unlinked and relinked inside its own child /d00/d04/d20: a cycle," {
	run_case 090-ns-dir-cycle
}

@test "091-ns-nlink: Inode /d00/n0-0 claims 5 links, it has 1." {
	run_case 091-ns-nlink
}

@test "092-ns-dir-size: Directory /d00 claims size 100." {
	run_case 092-ns-dir-size
}

@test "093-ns-next-index: Directory /d00's next index is 1, below its entries." {
	run_case 093-ns-next-index
}

@test "094-ns-nblocks: Inode 300 claims 99 blocks." {
	run_case 094-ns-nblocks
}

@test "095-ns-past-eof: Inode 305 (6 blocks written) claims size 10: extended to its data." {
	run_case 095-ns-past-eof
}

@test "096-ns-orphan-linked: An orphan item names /d00/n0-0, which is linked: the item is deleted." {
	run_case 096-ns-orphan-linked
}

@test "097-ns-orphans: /d00/n0-0 was unlinked while open (an orphan item): freed." {
	run_case 097-ns-orphans
}

@test "099-ns-extent-double: An overlapping extent is trimmed to the key a malformed extent item holds." {
	run_case 099-ns-extent-double
	cd "$BATS_TEST_TMPDIR"
	# the trimmed extent maps 8 KiB on: its old second block, one block long
	"$DUMP" --json extents /s1/moved test.img >ext.json
	python3 - <<'PY'
import json
d = json.load(open("ext.json"))
at = {e["file_offset"]: e for e in d["extents"]}
assert at[8192]["blocks"] == 1 and at[8192]["phys"] == at[0]["phys"] + 1, at
assert d["summary"]["bytes_mapped"] == 12288, d["summary"]
PY
}

@test "098-foreign-fs: mkfs.xfs over a pmcfs image: fsck leaves the XFS alone, exit 8." {
	run_case 098-foreign-fs
	# Nothing was written, even by -y: the image is still byte-identical XFS.
	cd "$BATS_TEST_TMPDIR"
	cmp test.img xfs.orig
	[ "$(blkid -p -o value -s TYPE test.img)" = xfs ]
}

@test "100-next-ino-low: Snapshot 258's next inode number is set back to 257: raised above its inodes." {
	run_case 100-next-ino-low
	cd "$BATS_TEST_TMPDIR"
	"$NS" pre.img sums 258 | cmp - <("$NS" test.img sums 258)
	# Above every inode the snapshot holds.
	local b o next max
	read -r b o < <(rootitem 258)
	next=$("$POKE" test.img r64 "$b" $((o + 64)))
	max=$("$NS" test.img sums 258 | grep -v '^#' | awk '{ print $1 }' | sort -n | tail -1)
	[ "$next" -gt "$max" ] && [ "$max" -gt 257 ]
}

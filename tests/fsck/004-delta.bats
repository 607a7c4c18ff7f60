#!/usr/bin/env bats
# Pass 4's delta check (fsck/pass4-delta.c): a snapshot that diverged
# from the trees already found clean is proven clean from its changed
# blocks, or the full check runs. It must take that path on clean images,
# read far fewer leaves than the full check, and never change a verdict:
# with a corruption in a snapshot-only leaf, fsck -n prints exactly what
# the full check (PMCFS_FSCK_FULL_NAMESPACE=1) prints.

load common

# aged (snapshots 257-259, 257 read-only) and N more, each followed by
# new files in the live tree, so every snapshot has its own leaves.
diverged() {
	local n=$1 k
	aged
	for ((k = 1; k <= n; k++)); do
		"$REFLINK" --image test.img snapshot create "s$k" >/dev/null &&
			"$REFLINK" --image test.img clone /d00/d04/d20/f320 "/d00/c$k" >/dev/null ||
			return 1
	done
}

# counter NAME FILE: a number from the -v summary lines of pass 4.
counter() {
	case $1 in
	clean) sed -n 's/^namespace: delta check: \([0-9]*\) subvolumes clean.*/\1/p' "$2" ;;
	fallback) sed -n 's/^namespace: delta check: .*, \([0-9]*\) fell back.*/\1/p' "$2" ;;
	reads)	# leaves and blocks pass 4 read (a changed leaf is "checked" too)
		awk '/^namespace: [0-9]+ leaves checked/ { n += $2 + $5 }
		     /^namespace: delta check:/ { n += $(NF - 7) + $(NF - 3) }
		     /^namespace: [0-9]+ leaves read again/ { n += $2 }
		     END { print n + 0 }' "$2" ;;
	esac
}

# same_verdict WHY [EXIT]: both ways, -n prints the same and exits EXIT
# (4); the delta check gave up on 258 for the reason matching WHY (which
# of its mechanisms caught it) and still passed 259.
same_verdict() {
	local a b
	a=$(run_fsck -n test.img)
	b=$(PMCFS_FSCK_FULL_NAMESPACE=1 run_fsck -n test.img)
	diff -u <(echo "$b") <(echo "$a") || return 1
	grep -q "^Exit status is ${2:-4}\$" <<<"$a" || { echo "$a"; return 1; }
	$INSTRUMENT "$FSCK" -nv test.img >v.out 2>&1 || true
	grep -qE "^subvolume 258: delta check gave up \($1\)" v.out || { cat v.out; return 1; }
	grep -q '^subvolume 259: namespace clean by the delta check' v.out || { cat v.out; return 1; }
}
SUMS='the cross-inode sums do not balance'
INODE='an inode it changed has findings'
LEAF='a changed leaf has findings or cannot be summarized'


ino258() { "$NS" test.img ino 258 "$1"; }

@test "clean image with diverged snapshots: delta path taken, far fewer reads" {
	local n=10 delta full
	cd "$BATS_TEST_TMPDIR"
	diverged $n
	run_ok "$FSCK" -nv test.img
	echo "$output" >delta.out
	PMCFS_FSCK_FULL_NAMESPACE=1 run_ok "$FSCK" -nv test.img
	echo "$output" >full.out
	# Every snapshot (3 of aged, n more) was proven clean without the full check.
	[ "$(counter clean delta.out)" -eq $((3 + n)) ] || { cat delta.out; return 1; }
	[ "$(counter fallback delta.out)" -eq 0 ]
	[ "$(counter clean full.out)" -eq 0 ]
	# The same summary (files, directories) either way.
	diff <(grep '^test.img:' full.out) <(grep '^test.img:' delta.out)
	delta=$(counter reads delta.out)
	full=$(counter reads full.out)
	echo "# leaves and blocks read in pass 4: delta $delta, full $full" >&3
	[ "$delta" -gt 0 ] && [ $((delta * 2)) -lt "$full" ]
}

@test "delta check: a wrong link count in a snapshot-only leaf" {
	cd "$BATS_TEST_TMPDIR"
	aged && "$NS" test.img inode 258 "$(ino258 /d00/n0-0)" nlink 5
	same_verdict "$SUMS"
}

@test "delta check: an entry naming a missing inode" {
	local i
	cd "$BATS_TEST_TMPDIR"
	aged && i=$(ino258 /d00/d05/d27/n0-10) && "$NS" test.img del 258 "$i" 1 0 &&
		"$NS" test.img del 258 "$i" 2 "$(ino258 /d00/d05/d27)"
	same_verdict "$SUMS"
}

@test "delta check: a back-reference without an entry" {
	local i d
	cd "$BATS_TEST_TMPDIR"
	aged && i=$(ino258 /d00/n0-0) && d=$(ino258 /d00) &&
		"$NS" test.img copy 258 "$i" 2 "$d" 999 &&
		"$NS" test.img dirent 258 "$i" 2 999 "$("$NS" test.img index 258 "$d" n0-0)" ino 999
	same_verdict "$SUMS"
}

@test "delta check: a directory cycle" {
	local i
	cd "$BATS_TEST_TMPDIR"
	aged && i=$(ino258 /d00/d04) && "$NS" test.img link-raw 258 /d00/d04/d20 loop "$i" 2 &&
		"$NS" test.img unlink-raw 258 /d00 d04
	same_verdict "$LEAF"	# the climb from d04 comes round
}

@test "delta check: overlapping extents" {
	local b o s p
	cd "$BATS_TEST_TMPDIR"
	aged && read -r b o s < <(item 258 301 5 0) && p=$("$POKE" test.img r64 "$b" "$o") &&
		"$NS" test.img del 258 301 5 1048576 && "$NS" test.img newextent 258 301 4096 "$p" 2 0
	same_verdict "$INODE"
}

@test "delta check: nblocks, a name without its inode's type, an unattached file" {
	local d
	cd "$BATS_TEST_TMPDIR"
	aged && cp test.img aged.img
	"$NS" test.img inode 258 300 nblocks 99
	same_verdict "$INODE"
	cp aged.img test.img && d=$(ino258 /d00) &&
		"$NS" test.img dirent 258 "$d" 3 hash:n0-0 "$("$NS" test.img index 258 "$d" n0-0)" type 7 &&
		"$NS" test.img dirent 258 "$d" 4 "$("$NS" test.img index 258 "$d" n0-0)" \
			"$("$NS" test.img index 258 "$d" n0-0)" type 7
	same_verdict "$SUMS"
	cp aged.img test.img && "$NS" test.img unlink-raw 258 /d00 n0-0
	same_verdict "$SUMS|$INODE"
}

@test "delta check: a directory with a second name" {
	cd "$BATS_TEST_TMPDIR"
	aged && "$NS" test.img link-raw 258 /d00/d05 again "$(ino258 /d00/d04)" 2
	same_verdict "$SUMS"
}

@test "delta check: a directory moved in a snapshot is clean either way" {
	cd "$BATS_TEST_TMPDIR"
	# A consistent rename: d04 (and the directories under it) get one level deeper.
	aged && "$NS" test.img link-raw 258 /d00/d05 moved "$(ino258 /d00/d04)" 2 &&
		"$NS" test.img unlink-raw 258 /d00 d04
	same_verdict "$SUMS" 0	# the depth labels of the leaves below it are stale
}

# Random consistent-checksum corruptions of snapshot 258 (fsck-ns edits
# through the library, so only the namespace breaks): whatever the
# verdict, the delta path prints what the full check prints.
# FSCK_DELTA_COPIES sets the count (default 24), FSCK_RANDOM_SEED the seed.
@test "delta check: random namespace edits in a snapshot, same output as the full check" {
	local n=${FSCK_DELTA_COPIES:-24} i op ino dir files dirs a b bad=0 caught=0
	cd "$BATS_TEST_TMPDIR"
	aged && cp test.img aged.img
	mapfile -t files < <("$NS" test.img sums 258 | awk '!/^#/ { print $1 }')
	dirs=(/d00 /d00/d04 /d00/d05 /d00/d04/d20 /d03)
	RANDOM=${FSCK_RANDOM_SEED:-4243}
	for ((i = 0; i < n; i++)); do
		cp aged.img test.img
		ino=${files[RANDOM % ${#files[@]}]}
		dir=${dirs[RANDOM % ${#dirs[@]}]}
		case $((RANDOM % 8)) in
		0) op="inode 258 $ino nlink $((RANDOM % 3))" ;;
		1) op="inode 258 $ino size $((RANDOM % 3 * 4096))" ;;
		2) op="inode 258 $ino nblocks $((RANDOM % 4))" ;;
		3) op="inode 258 $(ino258 "$dir") next_index $((RANDOM % 40))" ;;
		4) op="inode 258 $(ino258 "$dir") nlink $((RANDOM % 6))" ;;
		5) op="del 258 $ino 1 0" ;;
		6) op="link-raw 258 $dir extra$i $((ino + RANDOM % 2 * 100000)) 1" ;;
		7) op="unlink-raw 258 /d00 $(shuf -n1 -e n0-0 d04 d05 --random-source=<(yes $i))" ;;
		esac
		# shellcheck disable=SC2086
		"$NS" test.img $op >/dev/null 2>&1 || continue
		a=$(run_fsck -n test.img)
		b=$(PMCFS_FSCK_FULL_NAMESPACE=1 run_fsck -n test.img)
		[ "$a" = "$b" ] || { echo "copy $i: $op"; diff -u <(echo "$b") <(echo "$a"); return 1; }
		grep -q '^Exit status is 0$' <<<"$a" || bad=$((bad + 1))
		$INSTRUMENT "$FSCK" -nv test.img 2>&1 | grep -q '^subvolume 258: delta check gave up' &&
			caught=$((caught + 1))
	done
	echo "# $n edits: $bad found corrupt, delta gave up on 258 in $caught" >&3
	[ "$bad" -gt 0 ]	# the edits did exercise corruptions
}

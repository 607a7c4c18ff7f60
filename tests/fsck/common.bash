# Shared by the fsck tests: build images, corrupt them, run fsck, compare
# with golden output (e2fsprogs tests/f_* style: expect.1 is the output
# and exit status of "fsck -fy", expect.2 of the "fsck -fn" after it).
load ../helpers

TOOLS=${TOOLS:-$TOP/tests}
POKE=$TOOLS/fsck-poke
POP=$TOOLS/fsck-populate
NS=$TOOLS/fsck-ns
UUID=6f0b9a7e-2c1d-4e5f-8a9b-0c1d2e3f4a5b
FILTER=$BATS_TEST_DIRNAME/filter.sed
TOP_SRC=$BATS_TEST_DIRNAME/../..
REPLICA=15872		# superblock replica of a 64 MiB image

fresh() {	# a 64 MiB image with a fixed uuid
	"$MKFS" -q -f -U "$UUID" -s 64M test.img
}
aged() {	# fresh + 3000 items, 30 extents (5 reflinked), 3 snapshots (1 read-only)
	fresh && "$POP" test.img 3000 30 3 1 5 && "$NS" test.img sums 256 >sums.aged
}
young() {	# fresh + items and extents, no snapshots: nothing shared
	fresh && "$POP" test.img 3000 30 0 0 5
}
last_leaf() { "$POKE" test.img blocks "$1" | awk '$2 == 0 { b = $1 } END { print b }'; }
first_leaf() {	# first leaf of TREE, in key order
	"$POKE" test.img blocks "$1" | awk '$2 == 0 { print $1; exit }'
}
tree_root() { "$POKE" test.img blocks "$1" | awk 'NR == 1 { print $1 }'; }
older_roottab() {	# the root table's root block in the older commit
	"$DUMP" super test.img | awk '/^commit slot/ { s = $3 } /^ *roottab_blkno/ { r[s] = $2 }
		/^current: slot/ { c = $3 } END { for (k in r) if (k != c) print r[k] }'
}
item() {	# item TREE OBJ TYPE OFF -> "BLK BODYOFF SIZE"
	"$POKE" test.img item "$@"
}
rootitem() {	# rootitem ID -> "BLK BODYOFF"
	"$POKE" test.img item roottab "$1" 16 0 | cut -d' ' -f1,2
}
extent_phys() {	# extent_phys INO -> physical start of its first extent
	local b o s
	read -r b o s < <(item 256 "$1" 5 0)
	"$POKE" test.img r64 "$b" "$o"
}

run_fsck() {	# run_fsck ARGS...: output filtered, plus the exit status
	local st=0
	$INSTRUMENT "$FSCK" "$@" >fsck.out 2>&1 || st=$?
	sed -f "$FILTER" fsck.out
	echo "Exit status is $st"
	if [ "$st" -ge 128 ]; then
		echo "crashed (exit $st): $*" >&2
		return 1
	fi
}

# Files whose data survived read back identical after the repair: every
# regular file of subvolume 256 before the corruption (sums.aged, written
# by aged) that the repair did not report as lost has the same size and
# crc now, wherever it is linked (lost+found included). SUMS_SKIP lists
# inodes the corruption itself changed or removed ("all": no comparison).
check_sums() {
	local lost
	[ -f sums.aged ] && [ "${SUMS_SKIP:-}" != all ] || return 0
	"$NS" test.img sums 256 | grep -v '^#' | sort >sums.after
	lost=$(sed -n 's/^lost data: .*(inode \([0-9]*\))$/\1/p' fsck.y.out | sort -u)
	grep -v '^#' sums.aged | sort | while read -r ino rest; do
		grep -qx "$ino" <<<"$lost" && continue
		[[ " ${SUMS_SKIP:-} " != *" $ino "* ]] || continue
		grep -qx "$ino $rest" sums.after || { echo "inode $ino differs after repair: $rest"; return 1; }
	done
}

# Is every error code in the -n output $1 one that -p may fix?
preen_ok_only() {
	local code hex
	for code in $(grep -oE '^P[0-9]\.[0-9]{3} error' <<<"$1" | cut -d' ' -f1 | sort -u); do
		hex="0x${code:1:1}${code:3:3}"
		grep -qE "^X\($hex, +[A-Z_]+, +SEV_[A-Z]+, +[A-Z_ |]*PREEN_OK" "$TOP_SRC/fsck/problem.h" || return 1
	done
}

# -p on the corrupted image (pre.img): with only PREEN_OK errors it fixes
# them all (exit 0 or 1) and a second -n is clean; otherwise it stops for
# a human (exit 4, "UNEXPECTED INCONSISTENCY") and, having fixed at most
# the PREEN_OK ones, leaves every other finding for -y (still reported).
check_preen() {
	local n_out=$1 st=0 st2=0 code
	$INSTRUMENT "$FSCK" -p pre.img >p.out 2>&1 || st=$?
	[ "$st" -lt 128 ] || { echo "-p crashed (exit $st)"; cat p.out; return 1; }
	if preen_ok_only "$n_out"; then
		[ "$st" -le 1 ] || { echo "-p: exit $st with only PREEN_OK findings"; cat p.out; return 1; }
		$INSTRUMENT "$FSCK" -fn pre.img >p2.out 2>&1 || st2=$?
		[ "$st2" -eq 0 ] || { echo "-n after -p: exit $st2"; cat p.out p2.out; return 1; }
	else
		[ $((st & 4)) -ne 0 ] && grep -q "UNEXPECTED INCONSISTENCY" p.out ||
			{ echo "-p: exit $st, no stop for a human"; cat p.out; return 1; }
		$INSTRUMENT "$FSCK" -fn pre.img >p2.out 2>&1 || st2=$?
		for code in $(grep -oE '^P[0-9]\.[0-9]{3} error' <<<"$n_out" | cut -d' ' -f1 | sort -u); do
			preen_ok_only "$code error" || grep -q "^$code " p2.out ||
				{ echo "-p fixed $code, which needs a human"; cat p.out p2.out; return 1; }
		done
	fi
}

# run_case DIR: build the image with DIR/script, then check the three runs.
run_case() {
	local dir=$BATS_TEST_DIRNAME/$1 code exit_n=4 out
	cd "$BATS_TEST_TMPDIR"
	# shellcheck disable=SC1090
	source "$dir/script"
	build
	[ -n "$CODE" ]
	[ -z "${EXIT_N:-}" ] || exit_n=$EXIT_N
	[ -n "${SUMS_SKIP+x}" ] || SUMS_SKIP=
	out=$(run_fsck -n ${FSCK_ARGS:-} test.img)
	grep -q "^Exit status is $exit_n\$" <<<"$out" || { echo "-n: $out"; return 1; }
	cp test.img pre.img
	run_fsck -fy ${FSCK_ARGS:-} test.img >out.1
	cp fsck.out fsck.y.out
	# Reported by -n (or, for refusals that only -y meets, by -y).
	for code in $CODE; do
		grep -q "^$code " <<<"$out" || grep -q "^$code " out.1 ||
			{ echo "$code not reported: $out"; return 1; }
	done
	run_fsck -fn ${FSCK_ARGS:-} test.img >out.2
	[[ "$CODE" != P[246].* && "$CODE" != P3.005 ]] || check_sums
	if [ -n "${PMCFS_UPDATE_GOLDEN:-}" ]; then
		cp out.1 "$dir/expect.1"
		cp out.2 "$dir/expect.2"
	fi
	diff -u "$dir/expect.1" out.1
	diff -u "$dir/expect.2" out.2
	[ "$exit_n" -ne 4 ] || [ -n "${FSCK_ARGS:-}" ] || check_preen "$out"
}
ino() { "$NS" test.img ino 256 "$1"; }	# ino PATH -> inode number in subvolume 256
index() { "$NS" test.img index 256 "$1" "$2"; }	# index DIR NAME -> NAME's DIR_INDEX offset

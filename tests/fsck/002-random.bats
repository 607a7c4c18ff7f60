#!/usr/bin/env bats
# Random corruption: bytes flipped in metadata blocks (superblocks, commit
# records, nodes of every tree) of an aged image, many copies. fsck must
# never crash or hang, never call a corrupted image clean, and after -y a
# second -n is clean unless -y itself said errors were left (4) or it
# could not go on (8), which only damage to a root block may cause (any
# other tree block is cut out). FSCK_RANDOM_COPIES sets the count (default
# 60), FSCK_RANDOM_SEED the seed; the outcome counts go to the TAP output.

load common

@test "random byte flips in metadata blocks" {
	local n=${FSCK_RANDOM_COPIES:-60} i blk off val st sty blocks seed=${FSCK_RANDOM_SEED:-4242}
	local clean=0 fixed=0 left=0 roots
	cd "$BATS_TEST_TMPDIR"
	aged
	cp test.img aged.img
	mapfile -t blocks < <({ echo 0; echo 1; echo 2; echo $REPLICA; echo $((REPLICA + 1))
		for t in roottab spacemap 256 257 258 259; do "$POKE" test.img blocks $t | cut -d' ' -f1; done; } | sort -un)
	# Only a root block is beyond repair (a non-root one is cut out).
	roots=" $(for t in roottab 256 257 258 259; do tree_root $t; done | tr '\n' ' ')"
	RANDOM=$seed
	for ((i = 0; i < n; i++)); do
		cp aged.img test.img
		blk=${blocks[RANDOM % ${#blocks[@]}]}
		# commit records: only their 124 checked bytes
		if [ "$blk" -eq 1 ] || [ "$blk" -eq 2 ] || [ "$blk" -eq $((REPLICA + 1)) ]; then
			off=$((RANDOM % 124))
		else
			off=$((RANDOM % 4096))
		fi
		val=$(( $(od -An -tu1 -j $((blk * 4096 + off)) -N1 test.img) ^ (1 + RANDOM % 255) ))
		"$POKE" test.img raw8 "$blk" "$off" "$val"
		st=0; timeout 60 $INSTRUMENT "$FSCK" -n test.img >n1.out 2>&1 || st=$?
		[ "$st" -lt 124 ] || { echo "copy $i: block $blk byte $off: -n exit $st"; cat n1.out; return 1; }
		# Damage to a non-current commit slot is a warning (exit 0), still a finding.
		[ "$st" -ne 0 ] || grep -qE '^P[0-9]\.[0-9]{3} (error|warning):' n1.out ||
			{ echo "copy $i: block $blk byte $off: corruption called clean"; cat n1.out; return 1; }
		sty=0; timeout 60 $INSTRUMENT "$FSCK" -y test.img >y.out 2>&1 || sty=$?
		[ "$sty" -lt 124 ] || { echo "copy $i: block $blk byte $off: -y exit $sty"; cat y.out; return 1; }
		st=0; timeout 60 $INSTRUMENT "$FSCK" -n test.img >n2.out 2>&1 || st=$?
		[ "$st" -lt 124 ] || { echo "copy $i: second -n exit $st"; cat n2.out; return 1; }
		if [ $((sty & 12)) -eq 0 ] && [ "$st" -ne 0 ]; then
			echo "copy $i: block $blk byte $off: -y exit $sty, then -n exit $st"; cat y.out n2.out; return 1
		fi
		if [ $((sty & 12)) -ne 0 ] && [ "$st" -eq 0 ]; then
			echo "copy $i: block $blk byte $off: -y left errors (exit $sty), then -n clean"; cat y.out n2.out; return 1
		fi
		case $sty in 0) clean=$((clean + 1)) ;; 1) fixed=$((fixed + 1)) ;; *) left=$((left + 1))
			echo "# copy $i: block $blk byte $off: -y exit $sty: $(grep -m1 -E '^P[0-9.]+ error' y.out)" >&3
			[[ "$roots" == *" $blk "* ]] || [ "$blk" -le 2 ] || [ "$blk" -ge "$REPLICA" ] ||
				{ echo "copy $i: block $blk (not a root) byte $off: -y left errors"; cat y.out; return 1; } ;;
		esac
	done
	echo "# $n copies: $fixed repaired, $clean called clean by -y (warnings), $left left with errors" >&3
}

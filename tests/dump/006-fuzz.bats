#!/usr/bin/env bats
# Must not crash: 200 random byte changes in the metadata of a small image
# (the superblock, the commit slots, their replicas, and every tree block
# alloc lists), each followed by every read-only subcommand. Any exit
# status is fine except a crash (>= 128: a signal or a sanitizer abort);
# run with TOP=build-san to have ASan and UBSan watch. --json output,
# when there is any, must parse whatever the image holds.

load common

@test "200 random byte flips in the metadata: no subcommand crashes" {
	local img=$BATS_TEST_TMPDIR/small.img work=$BATS_TEST_TMPDIR/work.img
	local -a blocks=(0 1 2) cmds
	local start len b i blk off byte st cmd nb

	"$MKFS" -q -s 8M "$img"
	nb=$(( (8 << 20) / 4096 ))
	blocks+=($((nb - 512)) $((nb - 511)) $((nb - 510)))
	while read -r start len; do
		for ((b = start; b < start + len; b++)); do blocks+=("$b"); done
	done < <("$DUMP" --json alloc "$img" | jq -r '.runs[]|select(.owner_name=="fs")|"\(.start) \(.len)"')
	[ "${#blocks[@]}" -ge 8 ]
	cmds=("super" "tree roottab" "tree spacemap" "tree 256" "alloc" "--json super" "--json tree roottab"
	      "--json tree spacemap" "--json tree 256" "--json alloc" "--slot A tree 256" "--slot B alloc")
	RANDOM=4242	# reproducible
	for ((i = 0; i < 200; i++)); do
		cp --sparse=always "$img" "$work"
		blk=${blocks[RANDOM % ${#blocks[@]}]}
		# mostly the header and the first items, where the structure is
		off=$(( RANDOM % 4 ? RANDOM % 512 : RANDOM % 4096 ))
		byte=$(printf '%02x' $((RANDOM % 256)))
		poke "$work" $((blk * 4096 + off)) "$byte"
		for cmd in "${cmds[@]}" "block $blk" "--json block $blk"; do
			st=0
			$INSTRUMENT "$DUMP" $cmd "$work" >"$BATS_TEST_TMPDIR/out" 2>"$BATS_TEST_TMPDIR/err" || st=$?
			if [ "$st" -ge 128 ] || [ "$st" -eq 2 ] || grep -q 'Sanitizer\|runtime error' "$BATS_TEST_TMPDIR/err" ||
			   { [[ $cmd == --json* ]] && [ -s "$BATS_TEST_TMPDIR/out" ] && ! jq -e . "$BATS_TEST_TMPDIR/out" >/dev/null; }; then
				echo "flip $i: byte $off of block $blk = 0x$byte: pmcfs-dump $cmd: exit $st"
				cat "$BATS_TEST_TMPDIR/err"
				return 1
			fi
		done
	done
}

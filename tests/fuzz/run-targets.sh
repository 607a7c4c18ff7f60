#!/usr/bin/env bash
# Run the fuzz targets' checks on one image with the plain tools from $TOP
# (build/, build-san/, or any build; no AFL needed) - the same oracles as
# tests/fuzz/harness.c:
#   check   fsck.pmcfs -n -f: exit < 128, not a usage error (16)
#   repair  on a copy: fsck.pmcfs -y exit < 128, then fsck.pmcfs -n -f
#           must exit 0, unless -y exited 4 or 8 with a message
#   dump    every read-only pmcfs-dump subcommand: exit < 128 and not 2
# and any sanitizer report in the output fails, whatever the exit status.
# Prints what failed; exit 2 if a tool crashed (signal, exit >= 124, a
# sanitizer report), else 1 if an oracle failed, else 0.
#
#   tests/fuzz/run-targets.sh IMG [check|repair|dump ...]
set -u
img=$1; shift
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(check repair dump)
TOP=${TOP:-$(cd "$(dirname "$0")/../.." && pwd)/build}
FSCK=${FSCK:-$TOP/fsck.pmcfs}
DUMP=${DUMP:-$TOP/pmcfs-dump}
INSTRUMENT=${INSTRUMENT:-}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/pmcfs-fuzz-run.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
bad=0 crashed=0

# run NAME CMD...: sets st; fails on a crash or a sanitizer report
run() {
	local name=$1; shift
	st=0
	timeout 60 $INSTRUMENT "$@" >"$tmp/out" 2>&1 || st=$?
	if [ "$st" -ge 124 ] || grep -q 'Sanitizer\|runtime error:' "$tmp/out"; then
		echo "FAIL $name: crashed: exit $st: $*"; tail -n 30 "$tmp/out"; crashed=1; return 1
	fi
	return 0
}

for t in "${targets[@]}"; do
	case $t in
	check)
		run check "$FSCK" -n -f "$img" || continue
		[ $((st & 16)) = 0 ] || { echo "FAIL check: usage error $st"; bad=1; } ;;
	repair)
		cp --sparse=always "$img" "$tmp/r.img"
		run "repair -y" "$FSCK" -y "$tmp/r.img" || continue
		st1=$st; cp "$tmp/out" "$tmp/out1"
		run "repair -n after -y" "$FSCK" -n -f "$tmp/r.img" || continue
		if [ $((st1 & 12)) != 0 ]; then
			[ -s "$tmp/out1" ] || { echo "FAIL repair: -y exit $st1 without a message"; bad=1; }
		elif [ $((st1 & 16)) != 0 ] || [ "$st" != 0 ]; then
			echo "FAIL repair: fsck -y exit $st1, then fsck -n -f exit $st"
			sed 's/^/  -y: /' "$tmp/out1" | tail -n 20; sed 's/^/  -n: /' "$tmp/out" | tail -n 20
			bad=1
		fi ;;
	dump)
		mkdir -p "$tmp/x"
		while read -r -a cmd; do
			[ ${#cmd[@]} -gt 0 ] || continue
			run "dump ${cmd[*]}" "$DUMP" "${cmd[@]}" "$img" || continue
			[ "$st" != 2 ] || { echo "FAIL dump ${cmd[*]}: usage error"; bad=1; }
		done <<-EOC
			super
			--json super
			tree roottab
			tree spacemap
			tree 256
			tree 257
			--json tree 256
			--json tree roottab
			alloc
			--json alloc
			block 0
			block 1
			block 2
			block 512
			block 513
			block 514
			ls -l -R /
			--json ls -l -R /
			--snapshot ro1 ls -l -R /
			stat /
			stat /a
			stat /longsym
			--json stat /b
			extents /b
			extents /sparse
			--json extents /b-clone
			cat /a
			cat /b
			cat /sparse
			snapshots
			--json snapshots
			owners 512+64
			--json owners 0+2048
			extract / $tmp/x
			extract --snapshot rw1 --force /d $tmp/x
		EOC
		;;
	*) echo "run-targets: unknown target $t" >&2; exit 2 ;;
	esac
done
[ $crashed = 0 ] || exit 2
exit $bad

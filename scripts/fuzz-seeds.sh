#!/usr/bin/env bash
# Generate the fuzz seed corpus: one aged 8 MiB image per tests/fuzz/age.sh
# variant, packed into the PMCFZ input format in OUTDIR/seeds/
# (tests/fuzz/pmcfz.py: only the reserved areas and in-use blocks,
# 37-135 KiB each, under AFL++'s 1 MiB input limit). The base images stay
# in OUTDIR/base/ for turning findings into regression patches
# (pmcfz.py diff).
#
#   scripts/fuzz-seeds.sh OUTDIR       (tools from $TOP, default build/)
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:?usage: fuzz-seeds.sh OUTDIR}
export TOP=${TOP:-$PWD/build}
mkdir -p "$out/base" "$out/seeds"
for v in empty files snap deep; do
	img=$out/base/$v.img
	tests/fuzz/age.sh "$v" "$img"
	"$TOP/pmcfs-dump" --json alloc "$img" >"$out/base/$v.alloc.json"
	python3 tests/fuzz/pmcfz.py pack "$img" "$out/seeds/$v.pmcfz" "$out/base/$v.alloc.json"
	# the packed seed must expand to an image fsck finds clean
	python3 tests/fuzz/pmcfz.py unpack "$out/seeds/$v.pmcfz" "$out/base/$v.check.img"
	"$TOP/fsck.pmcfs" -n "$out/base/$v.check.img" >/dev/null || {
		echo "fuzz-seeds: seed $v is not clean" >&2; exit 1; }
	rm -f "$out/base/$v.check.img"
done
ls -l "$out"/seeds/*.pmcfz | awk '{print "  SEED     " $NF " (" $5 " bytes)"}'

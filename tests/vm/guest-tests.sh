#!/usr/bin/env bash
# guest-tests.sh BUILD -- the pmem tier, run INSIDE a pmemvm guest that has
# an fsdax, a devdax and a raw namespace ($PMEMVM_FSDAX, $PMEMVM_DEVDAX,
# $PMEMVM_RAW; see tests/vm/run-pmem-tests.sh).  Prints one line per test:
#   ok - NAME | not ok - NAME (followed by "#   " lines with the log tail)
#   not run: NAME: TOOL not built
# and ends with "# guest: N ok, N not ok, N not run".  Exit 1 if any test failed.
#
# Every test runs in its own subshell under set -e; its commands and their
# output go to a log.  Tests that need a tool run only when BUILD has it.
# Order matters: bad blocks injected through sysfs cannot be cleared on the
# emulated NVDIMM (clearing poison needs a DSM QEMU lacks), so those come last.
set -euo pipefail

BUILD=$(realpath "${1:?usage: guest-tests.sh BUILD}")
HERE=$(dirname "$(realpath "$0")")
MKFS=$BUILD/mkfs.pmcfs FSCK=$BUILD/fsck.pmcfs DUMP=$BUILD/pmcfs-dump REFLINK=$BUILD/pmcfs-reflink
FSDAX=${PMEMVM_FSDAX:?not in a pmemvm guest with an fsdax namespace}
DEVDAX=${PMEMVM_DEVDAX:?no devdax namespace}
RAW=${PMEMVM_RAW:?no raw namespace}
WORK=$(mktemp -d /tmp/pmem-tests.XXXXXX)
MNT=$WORK/mnt
mkdir -p "$MNT"
SB_MAGIC=0x3142534643504d50 # PMCFS_SB_MAGIC
ONLY=${PMEM_TESTS_ONLY:-}   # a regex: run only the tests whose names match

# ---------------------------------------------------------------- helpers
fail() {
	echo "FAILED: $*"
	exit 1
}
# Bad blocks behind a test's assertions: TOOL not built -> "not run".
need() {
	local t
	for t in "$@"; do
		[[ -x $BUILD/$t ]] || { echo "$t not built" >"$WORK/reason"; exit 77; }
	done
}
# ok CMD...: must exit 0.  Its output (stdout+stderr) is left in $out.
ok() {
	local st=0
	echo "\$ $*"
	out=$("$@" 2>&1) || st=$?
	[[ -z $out ]] || printf '%s\n' "$out"
	((st == 0)) || fail "exit $st, expected 0: $*"
}
# refused CMD...: must fail cleanly (1..127: not a crash or a signal).
refused() {
	local st=0
	echo "\$ $*"
	out=$("$@" 2>&1) || st=$?
	[[ -z $out ]] || printf '%s\n' "$out"
	((st != 0)) || fail "exit 0, expected a refusal: $*"
	((st < 128)) || fail "crashed (exit $st): $*"
}
# has REGEX: $out must match (extended regex, case-insensitive).
has() { grep -Eiq -- "$1" <<<"$out" || fail "output does not match /$1/"; }
hasnt() { ! grep -Eiq -- "$1" <<<"$out" || fail "output matches /$1/"; }
# sb DEV: decode the superblock from raw bytes into sb_* variables.
sb() {
	local k v
	sb_magic='' sb_dax_align='' sb_nblocks='' sb_data_start='' sb_data_end='' sb_uuid=''
	while IFS='=' read -r k v; do printf -v "sb_$k" %s "$v"; done < <(python3 "$HERE/devpeek.py" "$1")
	echo "superblock of $1: magic=$sb_magic dax_align=$sb_dax_align nblocks=$sb_nblocks data=[$sb_data_start,$sb_data_end) uuid=$sb_uuid"
}
expect_pmcfs() { # DEV ALIGN
	sb "$1"
	[[ $sb_magic == "$SB_MAGIC" ]] || fail "$1: no pmcfs superblock magic (found $sb_magic)"
	((sb_dax_align == $2)) || fail "$1: dax_align $sb_dax_align, expected $2"
	((sb_data_start * 4096 % $2 == 0)) || fail "$1: data area starts at block $sb_data_start, not on the $2-byte alignment"
	((sb_data_end * 4096 % $2 == 0)) || fail "$1: data area ends at block $sb_data_end, not on the $2-byte alignment"
	((sb_nblocks * 4096 <= $(devsize "$1"))) || fail "$1: $sb_nblocks blocks do not fit the device"
}
expect_blank() { # DEV: no superblock written
	sb "$1"
	[[ $sb_magic == 0x0000000000000000 ]] || fail "$1: something was written (magic $sb_magic)"
}
devsize() {
	if [[ -c $1 ]]; then cat "/sys/bus/dax/devices/${1#/dev/}/size"; else blockdev --getsize64 "$1"; fi
}
# zap DEV: zero the first and last 4 MiB, so every test starts from a blank device.
zap() {
	echo "zap $1"
	python3 "$HERE/devpeek.py" "$1" zero 0 $((4 << 20))
	python3 "$HERE/devpeek.py" "$1" zero $((-4 << 20)) $((4 << 20))
}
ns_of() { # DEV -> "name mode size align" from ndctl (what mkfs must print)
	local j
	j=$(ndctl list -N)
	python3 -c '
import json, sys
dev = sys.argv[1].removeprefix("/dev/")
for ns in json.loads(sys.stdin.read()):
    devs = [ns.get("blockdev"), ns.get("chardev")] + [d.get("chardev") for d in ns.get("daxregion", {}).get("devices", [])]
    if dev in devs:
        print(ns["dev"], ns["mode"], ns["size"], ns.get("align") or ns.get("daxregion", {}).get("align", 0))
' "$1" <<<"$j"
}
unmount_all() { umount "$MNT" 2>/dev/null || true; }
xfs_dax_mount() { # mkfs.xfs with reflink on the fsdax namespace, mounted -o dax=always
	ok mkfs.xfs -q -f -m reflink=1 "$FSDAX"
	ok mount -o dax=always "$FSDAX" "$MNT"
	grep -q " $MNT xfs .*dax=always" /proc/mounts || fail "$MNT not mounted with dax=always: $(grep " $MNT " /proc/mounts)"
}
# dump_run SUB DEV [ARGS...]: pmcfs-dump SUB ARGS... DEV (the device is
# always last, see pmcfs-dump(8)).  $out holds the output; the status must be 0.
dump_run() {
	local sub=$1 dev=$2 st=0
	shift 2
	echo "\$ $DUMP $sub $* $dev"
	out=$("$DUMP" "$sub" "$@" "$dev" 2>&1) || st=$?
	printf '%s\n' "$out"
	((st == 0)) || fail "pmcfs-dump $sub on $dev: exit $st"
}
shared() { filefrag -v "$1" | grep -q shared; } # FIEMAP says an extent is shared
sha() { sha256sum "$1" | cut -d' ' -f1; }

# ---------------------------------------------------------------- tests
t_namespaces() {
	ok ndctl list -N
	has '"mode":"fsdax"'
	has '"mode":"devdax"'
	has '"mode":"raw"'
	[[ -b $FSDAX && -b $RAW && -c $DEVDAX ]] || fail "device nodes: $FSDAX $RAW $DEVDAX"
	ok daxctl list -d "${DEVDAX#/dev/}"
	has '"mode":"devdax"'
	# the kernel can DAX-map fsdax and devdax, not raw
	[[ $(<"/sys/block/${FSDAX#/dev/}/queue/dax") == 1 ]] || fail "$FSDAX: queue/dax is not 1"
	[[ $(<"/sys/block/${RAW#/dev/}/queue/dax") == 0 ]] || fail "$RAW: queue/dax is not 0"
}

# The kernel's fsdax CoW path (the fsdax reflink patches): XFS reflink on DAX.
t_xfs_dax_reflink() {
	local a
	xfs_dax_mount
	ok dd if=/dev/urandom of="$MNT/a" bs=1M count=4 status=none
	a=$(sha "$MNT/a")
	ok cp --reflink=always "$MNT/a" "$MNT/b"
	ok cp --reflink=never "$MNT/a" "$MNT/c"
	shared "$MNT/b" || fail "the reflink copy shares no extent"
	shared "$MNT/c" && fail "the plain copy shares an extent"
	ok xfs_io -c "dedupe $MNT/a 0 0 4m" "$MNT/c"
	has 'deduped 4194304/4194304'
	shared "$MNT/c" || fail "dedupe shared nothing"
	# write through the DAX mapping of a shared extent: CoW, the source stays
	ok xfs_io -c "mmap -w 0 4k" -c "mwrite -S 0x5a 0 4k" -c "msync 0 4k" "$MNT/b"
	ok dd if=/dev/zero of="$MNT/c" bs=4k seek=1 count=1 conv=notrunc,fsync status=none
	[[ $(sha "$MNT/a") == "$a" ]] || fail "the source changed after writes to its clones"
	[[ $(sha "$MNT/b") != "$a" && $(sha "$MNT/c") != "$a" ]] || fail "writes to the clones were lost"
	ok umount "$MNT"
	ok xfs_repair -n "$FSDAX"
}

t_mkfs_fsdax() {
	need mkfs.pmcfs
	local name mode size align
	read -r name mode size align < <(ns_of "$FSDAX")
	echo "ndctl: $name $mode $size $align"
	zap "$FSDAX"
	ok "$MKFS" -L fsdax "$FSDAX"
	has "namespace: +$name, mode fsdax\b"
	has "size $size bytes"
	has "alignment $align bytes"
	has "fsdax namespace, DAX"
	expect_pmcfs "$FSDAX" "$align"
}

t_mkfs_devdax() {
	need mkfs.pmcfs
	local name mode size align
	read -r name mode size align < <(ns_of "$DEVDAX")
	echo "ndctl: $name $mode $size $align"
	zap "$DEVDAX"
	ok "$MKFS" -L devdax "$DEVDAX"
	has "devdax"
	has "($name|${DEVDAX#/dev/}).*mode devdax"
	has "size $size bytes"
	has "alignment $align bytes"
	expect_pmcfs "$DEVDAX" "$align"
	# an existing filesystem is not overwritten without -f, even on devdax
	refused "$MKFS" "$DEVDAX"
	has 'pmcfs'
	ok "$MKFS" -f -q "$DEVDAX"
}

t_mkfs_raw() {
	need mkfs.pmcfs
	zap "$RAW"
	refused "$MKFS" "$RAW"
	has 'raw'
	has 'DAX impossible'
	has 'cannot map'
	expect_blank "$RAW"
	ok "$MKFS" -f "$RAW"
	has 'warn.*DAX impossible|DAX impossible.*'
	expect_pmcfs "$RAW" $((2 << 20))
}

t_mkfs_mounted() {
	need mkfs.pmcfs
	xfs_dax_mount
	refused "$MKFS" "$FSDAX"
	has "mounted on $MNT"
	refused "$MKFS" -f "$FSDAX"
	has "mounted on $MNT"
	ok umount "$MNT"
	ok xfs_repair -n "$FSDAX"
}

t_fsck_mounted() {
	need mkfs.pmcfs fsck.pmcfs
	zap "$FSDAX"
	ok "$MKFS" -q "$FSDAX"
	# a mounted pmcfs is impossible here (no kernel module); any mounted fs is refused
	xfs_dax_mount
	refused "$FSCK" -y "$FSDAX"
	has 'mounted'
	ok umount "$MNT"
}

# devdax has no read/write path: the readers must go through mmap too
t_dump_fsdax() { readback dump "$FSDAX"; }
t_dump_devdax() { readback dump "$DEVDAX"; }
t_fsck_fsdax() { readback fsck "$FSDAX"; }
t_fsck_devdax() { readback fsck "$DEVDAX"; }
readback() { # dump|fsck DEV
	need mkfs.pmcfs "$([[ $1 == dump ]] && echo pmcfs-dump || echo fsck.pmcfs)"
	local uuid
	zap "$2"
	ok "$MKFS" -L readback "$2"
	uuid=$(sed -n 's/^uuid: *//p' <<<"$out")
	[[ -n $uuid ]] || fail "mkfs printed no uuid"
	if [[ $1 == dump ]]; then
		dump_run super "$2"
		has "$uuid"
		has 'readback'
	else
		ok "$FSCK" -n "$2"
		ok "$FSCK" -f -n "$2"
	fi
}

# Bad blocks from a -l list (ndctl inject-error is not supported by QEMU's
# NVDIMM): on devdax, where no sysfs list of the device itself exists.
t_badblocks_list() {
	need mkfs.pmcfs
	zap "$DEVDAX"
	# sectors 8192..8207 = blocks 1024..1025, inside the data area
	printf '# test list\n8192 16\n' >"$WORK/bad.txt"
	ok "$MKFS" -f -l "$WORK/bad.txt" "$DEVDAX"
	has 'bad blocks: +2 \(0 from the device, 2 from the list\)'
	expect_pmcfs "$DEVDAX" $((2 << 20))
	# a list that puts a bad block under the superblock cannot be honoured
	printf '0 1\n' >"$WORK/bad0.txt"
	refused "$MKFS" -f -l "$WORK/bad0.txt" "$DEVDAX"
	has 'superblock'
}

# ---- sysfs bad blocks: permanent for this boot, so these run last.
# The kernel's own list (/sys/block/pmemX/badblocks, which libndctl and
# mkfs read) is fed the way a machine-check would feed it; reads and writes
# of those sectors then fail with EIO for real, so mkfs must avoid them.
t_badblocks_sysfs() {
	need mkfs.pmcfs
	local bb=/sys/block/${FSDAX#/dev/}/badblocks
	zap "$FSDAX"
	echo "ndctl inject-error: $(ndctl inject-error --block=0 --count=1 "$(ns_of "$FSDAX" | cut -d' ' -f1)" 2>&1 || true)"
	echo "8192 8" >"$bb" # block 1024: in the data area, where metadata is packed
	echo "12288 16" >"$bb"
	echo "sysfs badblocks: $(tr '\n' ' ' <"$bb")"
	if dd if="$FSDAX" of=/dev/null bs=4k skip=1024 count=1 status=none 2>/dev/null; then
		fail "reading an injected bad block succeeded"
	fi
	ok "$MKFS" "$FSDAX"
	has 'bad blocks: +3 \(3 from the device, 0 from the list\)'
	expect_pmcfs "$FSDAX" $((2 << 20))
	[[ -x $DUMP ]] || return 0
	dump_run alloc "$FSDAX"
	has 'bad'
}

t_badblocks_sysfs_super() {
	need mkfs.pmcfs
	echo "0 8" >"/sys/block/${RAW#/dev/}/badblocks" # block 0: the superblock
	refused "$MKFS" -f "$RAW"
	has 'block 0.*superblock.*bad'
}

t_reflink_xfs_dax() {
	need pmcfs-reflink
	local a
	xfs_dax_mount
	mkdir "$MNT/d"
	ok dd if=/dev/urandom of="$MNT/d/a" bs=1M count=4 status=none
	a=$(sha "$MNT/d/a")
	ok cp --reflink=never "$MNT/d/a" "$MNT/d/dup1"
	ok cp --reflink=never "$MNT/d/a" "$MNT/d/dup2"
	ok "$REFLINK" clone "$MNT/d/a" "$MNT/clone"
	shared "$MNT/clone" || fail "clone: no shared extent"
	ok "$REFLINK" dedupe "$MNT/d/a" 0 4M "$MNT/d/dup1" 0
	shared "$MNT/d/dup1" || fail "dedupe: no shared extent"
	ok "$REFLINK" extents "$MNT/clone"
	has 'shared'
	shared "$MNT/d/dup2" && fail "dup2 shared before the scan"
	ok "$REFLINK" scan -r -d "$MNT/d"
	shared "$MNT/d/dup2" || fail "scan -d left dup2 unshared"
	for f in d/a d/dup1 d/dup2 clone; do
		[[ $(sha "$MNT/$f") == "$a" ]] || fail "$f changed"
	done
	ok umount "$MNT"
	ok xfs_repair -n "$FSDAX"
}

# The device layer's own unit test on the real namespaces (it skips them
# outside a pmemvm guest).
t_unit_test_dev() {
	need tests/test_dev
	zap "$FSDAX" # it expects fresh namespaces (zeros at the start)
	zap "$DEVDAX"
	modprobe loop 2>/dev/null || true
	ok "$BUILD/tests/test_dev"
	hasnt 'fsdax: SKIP'
	hasnt 'devdax: SKIP'
}

# populate, then extract, through the namespace device: byte-identical
t_populate_extract() {
	need mkfs.pmcfs pmcfs-dump
	"$MKFS" --help | grep -q -- --populate || { echo "mkfs.pmcfs --populate not built" >"$WORK/reason"; exit 77; }
	"$DUMP" --help 2>&1 | grep -q extract || { echo "pmcfs-dump extract not built" >"$WORK/reason"; exit 77; }
	local src=$WORK/src dst=$WORK/dst
	mkdir -p "$src/sub/deeper" "$dst"
	head -c $((5 << 20)) /dev/urandom >"$src/big"    # spans 2 MiB extents
	echo hello >"$src/sub/small"
	ln "$src/sub/small" "$src/sub/hardlink"
	ln -s ../big "$src/sub/deeper/symlink"
	truncate -s 3M "$src/sparse" && echo tail >>"$src/sparse"
	chmod 640 "$src/sub/small"
	zap "$FSDAX"
	ok "$MKFS" --populate "$src" "$FSDAX"
	dump_run extract "$FSDAX" / "$dst"
	ok diff -r --no-dereference "$src" "$dst"
	[[ $(stat -c %i "$dst/sub/small") == $(stat -c %i "$dst/sub/hardlink") ]] || fail "hard link extracted as a copy"
	[[ $(stat -c %a "$dst/sub/small") == 640 ]] || fail "mode not kept"
	[[ -x $FSCK ]] && ok "$FSCK" -n "$FSDAX"
	true
}

TESTS=(namespaces xfs_dax_reflink mkfs_fsdax dump_fsdax fsck_fsdax mkfs_devdax dump_devdax
	fsck_devdax mkfs_raw mkfs_mounted fsck_mounted unit_test_dev populate_extract
	reflink_xfs_dax badblocks_list badblocks_sysfs badblocks_sysfs_super)

# ---------------------------------------------------------------- run
# tests/vm/known-failures: "NAME reason" lines for bugs that are reported but
# not fixed yet.  Such a test still runs; failing, it prints
# "not ok - NAME # TODO known bug: reason" (not counted as failed), and
# passing, a note to drop it from the list.
declare -A KNOWN=()
if [[ -r $HERE/known-failures ]]; then
	while read -r k v; do [[ -z $k || $k == \#* ]] || KNOWN[$k]=$v; done <"$HERE/known-failures"
fi
npass=0 nfail=0 nskip=0 nknown=0
for t in "${TESTS[@]}"; do
	[[ -z $ONLY || $t =~ $ONLY ]] || continue
	log=$WORK/$t.log
	rm -f "$WORK/reason"
	t0=$EPOCHREALTIME
	set +e
	(
		set -e
		"t_$t"
	) </dev/null >"$log" 2>&1
	st=$?
	set -e
	unmount_all
	secs=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')
	name=${t//_/-}
	if ((st == 0)); then
		npass=$((npass + 1))
		echo "ok - $name (${secs}s)"
		[[ -z ${KNOWN[$name]:-} ]] || echo "# $name passes now: drop it from tests/vm/known-failures"
	elif ((st == 77)) && [[ -s $WORK/reason ]]; then
		nskip=$((nskip + 1))
		echo "not run: $name: $(<"$WORK/reason")"
	elif [[ -n ${KNOWN[$name]:-} ]]; then
		nknown=$((nknown + 1))
		echo "not ok - $name # TODO known bug: ${KNOWN[$name]}"
		tail -n 4 "$log" | sed 's/^/#   /'
	else
		nfail=$((nfail + 1))
		echo "not ok - $name (exit $st, ${secs}s)"
		tail -n 25 "$log" | sed 's/^/#   /'
	fi
done
echo "# guest: $npass ok, $nfail not ok, $nskip not run, $nknown known bugs"
((nfail == 0))

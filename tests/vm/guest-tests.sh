#!/usr/bin/env bash
# guest-tests.sh BUILD -- the pmem tier, run INSIDE a pmemvm guest that has
# an fsdax, a devdax and a raw namespace ($PMEMVM_FSDAX, $PMEMVM_DEVDAX,
# $PMEMVM_RAW; see tests/vm/run-pmem-tests.sh).  Prints one line per test:
#   ok - NAME (SECS) | not ok - NAME (followed by "#   " lines with the log tail)
# and ends with "# guest: N ok, N not ok, N known bugs".  Exit 1 if any test
# failed.  Every tool (mkfs.pmcfs, fsck.pmcfs, pmcfs-dump, pmcfs-reflink,
# tests/test_dev) must be built: a missing one fails the tests needing it.
#
# Every test runs in its own subshell under set -e; its commands and their
# output go to a log.  Order matters: bad blocks injected through sysfs
# cannot be cleared on the emulated NVDIMM (clearing poison needs a DSM
# QEMU lacks), so the tests that inject them come last, and the fsdax one
# that puts a bad block under a file runs before the one where mkfs has to
# step around every bad block injected so far.
set -euo pipefail

BUILD=$(realpath "${1:?usage: guest-tests.sh BUILD}")
HERE=$(dirname "$(realpath "$0")")
TOP=$(realpath "$HERE/../..")
MKFS=$BUILD/mkfs.pmcfs FSCK=$BUILD/fsck.pmcfs DUMP=$BUILD/pmcfs-dump REFLINK=$BUILD/pmcfs-reflink
COMPARE=$TOP/tests/mkfs/compare-tree.py
FSDAX=${PMEMVM_FSDAX:?not in a pmemvm guest with an fsdax namespace}
DEVDAX=${PMEMVM_DEVDAX:?no devdax namespace}
RAW=${PMEMVM_RAW:?no raw namespace}
WORK=$(mktemp -d /tmp/pmem-tests.XXXXXX)
# a real tmpfs, not the guest's overlay: trusted xattrs, nanosecond times
mount -t tmpfs -o size=256m,mode=0755 pmem-tests "$WORK"
MNT=$WORK/mnt
mkdir -p "$MNT"
# the on-media magic from the format header, not a copy that can go stale
SB_MAGIC=$(sed -n 's/^#define PMCFS_SB_MAGIC[[:space:]]*\(0x[0-9a-fA-F]*\).*/\1/p' "$TOP/lib/pmcfs_format.h")
[[ $SB_MAGIC =~ ^0x[0-9a-fA-F]{16}$ ]] || { echo "guest-tests: no PMCFS_SB_MAGIC in lib/pmcfs_format.h" >&2; exit 2; }
SB_MAGIC=$(printf '%#018x' "$SB_MAGIC")
ONLY=${PMEM_TESTS_ONLY:-} # a regex: run only the tests whose names match
# PMEM_TESTS_VERBOSE=1: print every test's whole log ("#   | " lines)

# ---------------------------------------------------------------- helpers
fail() {
	echo "FAILED: $*"
	exit 1
}
need() { # make check-pmem builds every tool: a missing one is a failure
	local t
	for t in "$@"; do
		[[ -x $BUILD/$t ]] || fail "$BUILD/$t not built"
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
	sb_magic='' sb_dax_align='' sb_nblocks='' sb_data_start='' sb_data_end='' sb_uuid='' sb_label=''
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
# always last, see pmcfs-dump(8); --json may be among ARGS).  $out holds the output; the status must be 0.
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
# exits ST CMD...: must exit with status ST exactly (fsck(8) codes).
exits() {
	local want=$1 st=0
	shift
	echo "\$ $*"
	out=$("$@" 2>&1) || st=$?
	[[ -z $out ]] || printf '%s\n' "$out"
	((st == want)) || fail "exit $st, expected $want: $*"
}
# make_src DIR [BIGMIB]: a small tree with every kind of entry populate
# copies (TCG is slow: a few MiB).  big spans whole 2 MiB pages.
make_src() {
	local d=$1
	mkdir -p "$d/sub/deeper" "$d/empty"
	head -c $((${2:-5} << 20)) /dev/urandom >"$d/big"
	echo hello >"$d/sub/small"
	ln "$d/sub/small" "$d/sub/hardlink"
	ln -s ../../big "$d/sub/deeper/symlink"
	head -c 8192 /dev/urandom >"$d/sparse" # data, a hole, data
	truncate -s 3M "$d/sparse" && echo tail >>"$d/sparse"
	mkfifo "$d/fifo"
	mknod "$d/null" c 1 3
	chmod 640 "$d/sub/small"
	chmod 1751 "$d/empty"
	chown 1234:5678 "$d/sub/small"
	python3 - "$d" <<'EOF'
import os, sys
d = sys.argv[1]
os.setxattr(f"{d}/sub/small", "trusted.bin", bytes(range(256)))
os.setxattr(f"{d}/sub", "trusted.dir", b"on a directory")
os.setxattr(f"{d}/fifo", "trusted.onfifo", b"")
os.utime(f"{d}/sub/small", ns=(1_000_000_001_123_456_789, 999_999_999_987_654_321))
os.utime(f"{d}/big", ns=(-86_400_123_456_789, 4_102_444_800_000_000_001))
EOF
}
# same_tree SRC DST: metadata (compare-tree.py, first: before anything
# moves atimes), then content (diff -r).  pmcfs-dump extract leaves DST's
# own attributes alone: not compared.
same_tree() {
	ok python3 "$COMPARE" --skip-top "$1" "$2"
	# diff cannot compare fifos and devices (compare-tree.py did)
	ok diff -r --no-dereference -x fifo -x null "$1" "$2"
}
# extents_ok DEV PATH ALIGN: the file's extents, read back by pmcfs-dump
# --json extents, start on ALIGN on the device and in physical memory (the
# namespace's resource), are PMD-mappable, and every whole ALIGN-sized
# piece of the file is mappable.  Prints the first extent's block in $phys.
extents_ok() {
	local base
	base=$(phys_base "$1")
	echo "\$ $DUMP --json extents $2 $1   (namespace data starts at physical $base)"
	out=$("$DUMP" --json extents "$2" "$1") || fail "pmcfs-dump extents $2 on $1 failed"
	printf '%s\n' "$out"
	phys=$(python3 -c '
import json, sys
d, align, base = json.loads(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3], 0)
bad, exts = [], d["extents"]
if not exts:
    bad.append("no extents")
for e in exts:
    where = "extent at file offset %d (block %d, %d blocks)" % (e["file_offset"], e["phys"], e["blocks"])
    if e["file_offset"] % align or e["length"] < align:
        continue        # a tail: not expected on a page boundary
    if e["phys"] * 4096 % align:
        bad.append(where + ": device offset %d not on %d" % (e["phys"] * 4096, align))
    if (base + e["phys"] * 4096) % align:
        bad.append(where + ": physical address %#x not on %d" % (base + e["phys"] * 4096, align))
    if e["pmd_mappable"] is not True:
        bad.append(where + ": PMD column says no")
want = d["size"] // align * align
if d["summary"]["bytes_pmd_mappable"] < want:
    bad.append("only %d of %d bytes PMD-mappable" % (d["summary"]["bytes_pmd_mappable"], want))
if d["dax_align"] != align:
    bad.append("dax_align %d, namespace alignment %d" % (d["dax_align"], align))
for b in bad:
    print("FAILED: " + b, file=sys.stderr)
print(exts[0]["phys"] if exts else -1)
sys.exit(1 if bad else 0)
' "$out" "$3" "$base") || fail "$2 on $1: extents not on the namespace alignment"
}
phys_base() { # DEV: physical address of the namespace's first data byte
	local r
	if [[ -c $1 ]]; then r=/sys/bus/dax/devices/${1#/dev/}/resource; else r=/sys/block/${1#/dev/}/device/resource; fi
	[[ -r $r ]] && cat "$r" || echo 0
}
# bad_blocks_of SYSFS_LIST: how many distinct 4 KiB blocks its sectors cover
bad_blocks_of() {
	awk '{ for (s = int($1 / 8); s <= int(($1 + $2 - 1) / 8); s++) b[s] = 1 } END { print length(b) }' "$1"
}

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
	for t in mkfs.pmcfs fsck.pmcfs pmcfs-dump pmcfs-reflink tests/test_dev; do need "$t"; done
	ok "$MKFS" --help
	has '--populate'
	ok "$FSCK" --help
	has '--badblocks'
	ok "$DUMP" --help
	has 'owners'
	has 'extract'
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

# mkfs on the fsdax namespace: identified through libndctl, formatted on its
# alignment, then read back by fsck.pmcfs and pmcfs-dump (super, trees, alloc).
t_mkfs_fsdax() {
	need mkfs.pmcfs fsck.pmcfs pmcfs-dump
	local name mode size align uuid
	read -r name mode size align < <(ns_of "$FSDAX")
	echo "ndctl: $name $mode $size $align"
	zap "$FSDAX"
	ok "$MKFS" -L fsdax "$FSDAX"
	has "namespace: +$name, mode fsdax\b"
	has "size $size bytes"
	has "alignment $align bytes"
	has "fsdax namespace, DAX"
	uuid=$(sed -n 's/^uuid: *//p' <<<"$out")
	expect_pmcfs "$FSDAX" "$align"
	readback "$FSDAX" "$uuid" fsdax "$align"
}

# readback DEV UUID LABEL ALIGN: fsck and every whole-filesystem dump view
readback() {
	exits 0 "$FSCK" -n "$1"
	has 'Pass 6'
	hasnt 'P[0-9]\.[0-9]{3} |warning|errors (fixed|left)'
	exits 0 "$FSCK" -f -n "$1"
	exits 0 "$FSCK" -y "$1" # clean: nothing to fix, nothing written
	hasnt 'MODIFIED'
	dump_run super "$1"
	has "uuid +$2"
	has "label +\"$3\""
	has "dax_align +$4"
	has 'superblock \(block 0\): valid'
	has 'superblock replica .*: valid'
	has 'current: slot'
	dump_run tree "$1" roottab
	has '256'
	dump_run tree "$1" spacemap
	dump_run tree "$1" 256
	dump_run alloc "$1"
	has 'summary: .* 0 bad'
	dump_run super "$1" --json
	python3 -c 'import json, sys; json.loads(sys.argv[1])' "$out" || fail "dump --json super: not JSON"
	dump_run snapshots "$1"
	dump_run ls "$1" -l /
}

# large files land on the namespace alignment: populate, then read the
# extents back through the device
t_fsdax_alignment() {
	need mkfs.pmcfs pmcfs-dump fsck.pmcfs
	local align
	align=$(ns_of "$FSDAX" | cut -d' ' -f4)
	mkdir -p "$WORK/al"
	head -c $((5 << 20)) /dev/urandom >"$WORK/al/five"
	head -c $((2 << 20)) /dev/urandom >"$WORK/al/two"
	head -c 12345 /dev/urandom >"$WORK/al/small"
	head -c $((3 << 20)) /dev/urandom >"$WORK/al/three"
	ok "$MKFS" -f -d "$WORK/al" "$FSDAX"
	expect_pmcfs "$FSDAX" "$align"
	extents_ok "$FSDAX" /five "$align"
	extents_ok "$FSDAX" /two "$align"
	extents_ok "$FSDAX" /three "$align"
	dump_run extents "$FSDAX" /five # the text form: the PMD column
	has '^ +0 +[0-9]+ +[0-9]+ +1 +1 +no +yes'
	exits 0 "$FSCK" -n "$FSDAX"
}

t_mkfs_devdax() {
	need mkfs.pmcfs fsck.pmcfs pmcfs-dump
	local name mode size align uuid
	read -r name mode size align < <(ns_of "$DEVDAX")
	echo "ndctl: $name $mode $size $align"
	zap "$DEVDAX"
	ok "$MKFS" -L devdax "$DEVDAX"
	has "devdax"
	has "($name|${DEVDAX#/dev/}).*mode devdax"
	has "size $size bytes"
	has "alignment $align bytes"
	uuid=$(sed -n 's/^uuid: *//p' <<<"$out")
	expect_pmcfs "$DEVDAX" "$align"
	# devdax has no read/write path: fsck and dump map it (libpmem/mmap)
	readback "$DEVDAX" "$uuid" devdax "$align"
	# an existing filesystem is not overwritten without -f, even on devdax
	refused "$MKFS" "$DEVDAX"
	has 'pmcfs'
	ok "$MKFS" -f -q "$DEVDAX"
}

t_mkfs_raw() {
	need mkfs.pmcfs fsck.pmcfs pmcfs-dump
	local uuid
	zap "$RAW"
	refused "$MKFS" "$RAW"
	has 'raw'
	has 'DAX impossible'
	has 'cannot map'
	expect_blank "$RAW"
	ok "$MKFS" -f -L raw "$RAW"
	has 'warn.*DAX impossible'
	has 'no DAX'
	uuid=$(sed -n 's/^uuid: *//p' <<<"$out")
	expect_pmcfs "$RAW" $((2 << 20))
	readback "$RAW" "$uuid" raw $((2 << 20))
}

# A mounted XFS on the fsdax namespace: mkfs refuses with and without -f,
# fsck refuses every repair mode; fsck -n is not refused (it warns and
# checks the media, which holds XFS here: no pmcfs primary superblock).
t_mounted_xfs() {
	need mkfs.pmcfs fsck.pmcfs
	xfs_dax_mount
	refused "$MKFS" "$FSDAX"
	has "mounted on $MNT"
	refused "$MKFS" -f "$FSDAX"
	has "mounted on $MNT"
	exits 8 "$FSCK" -y "$FSDAX"
	has "mounted on $MNT.*refusing"
	exits 8 "$FSCK" -p "$FSDAX"
	has "mounted on $MNT.*refusing"
	local st=0
	echo "\$ $FSCK -n $FSDAX"
	out=$("$FSCK" -n "$FSDAX" 2>&1) || st=$?
	printf '%s\n' "$out"
	hasnt 'refusing'
	has "warning: $FSDAX is mounted on $MNT: checking"
	((st == 4 || st == 8)) || fail "fsck -n on the XFS namespace: exit $st, expected 4 or 8 (no pmcfs)"
	ok umount "$MNT"
	ok xfs_repair -n "$FSDAX" # nothing above wrote to it
}

# A namespace that held pmcfs and was then formatted with XFS keeps the
# pmcfs superblock replica and commit-slot copies near its end (mkfs.xfs
# wipes only the signatures it knows).  fsck -y must not "repair" block 0
# from that replica: libblkid sees XFS there, and the XFS must survive.
t_fsck_foreign_fs() {
	need mkfs.pmcfs fsck.pmcfs
	zap "$FSDAX"
	ok "$MKFS" -q "$FSDAX"
	ok mkfs.xfs -q -f "$FSDAX"
	ok blkid -p "$FSDAX"
	has 'TYPE="xfs"'
	local st=0
	echo "\$ $FSCK -y $FSDAX"
	out=$("$FSCK" -y "$FSDAX" 2>&1) || st=$?
	printf '%s\n(exit %s)\n' "$out" "$st"
	ok xfs_repair -n "$FSDAX"
	hasnt 'MODIFIED'
	((st == 8)) || fail "fsck -y on an XFS namespace: exit $st, expected 8 (operational error: not pmcfs)"
}

# A pmcfs on the namespace that /proc/self/mountinfo names as mounted.  No
# kernel mounts pmcfs yet, so a tmpfs with the device as its source stands
# in for that mount: what the tools see (mountinfo) is the same, and the
# pmcfs underneath stays intact, so fsck -n can pass for real.
t_mounted_pmcfs() {
	need mkfs.pmcfs fsck.pmcfs
	zap "$FSDAX"
	ok "$MKFS" -q -L mounted "$FSDAX"
	ok mount -t tmpfs "$FSDAX" "$MNT"
	exits 8 "$FSCK" -y "$FSDAX"
	has "mounted on $MNT.*refusing"
	exits 8 "$FSCK" -p "$FSDAX"
	has "mounted on $MNT.*refusing"
	exits 0 "$FSCK" -n "$FSDAX"
	has "warning: $FSDAX is mounted on $MNT"
	refused "$MKFS" -f "$FSDAX"
	has "mounted on $MNT"
	ok umount "$MNT"
	sb "$FSDAX"
	[[ $sb_label == mounted ]] || fail "the refused mkfs changed the superblock"
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

# populate, then extract, through the namespace device: byte-identical and
# the same metadata
populate_extract() { # DEV
	need mkfs.pmcfs pmcfs-dump fsck.pmcfs
	local src=$WORK/src dst=$WORK/dst-${1##*/}
	[[ -d $src ]] || make_src "$src"
	mkdir -p "$dst"
	zap "$1"
	ok "$MKFS" --populate "$src" "$1"
	has 'populated: +3 files, 4 directories, 1 symlinks, 1 hard links, 2 special files'
	dump_run extract "$1" / "$dst"
	same_tree "$src" "$dst"
	[[ $(stat -c %i "$dst/sub/small") == $(stat -c %i "$dst/sub/hardlink") ]] || fail "hard link extracted as a copy"
	echo "\$ $DUMP cat /big $1 | cmp - $src/big"
	"$DUMP" cat /big "$1" | cmp - "$src/big" || fail "pmcfs-dump cat /big differs"
	dump_run stat "$1" /sub/small
	has 'trusted.bin'
	exits 0 "$FSCK" -n "$1"
	has '6 files, 4 directories'
}
t_populate_extract_fsdax() { populate_extract "$FSDAX"; }
t_populate_extract_devdax() { populate_extract "$DEVDAX"; }

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

# pmcfs-reflink --image writing a pmcfs on the devdax namespace (mmap and
# libpmem, no read/write path): clone, snapshot, dedupe, then fsck and dump.
t_reflink_image_devdax() {
	need mkfs.pmcfs pmcfs-reflink pmcfs-dump fsck.pmcfs
	mkdir -p "$WORK/ri"
	head -c $((4 << 20)) /dev/urandom >"$WORK/ri/a"
	cp "$WORK/ri/a" "$WORK/ri/dup"
	ok "$MKFS" -f -q -d "$WORK/ri" "$DEVDAX"
	ok "$REFLINK" --image "$DEVDAX" clone /a /clone
	ok "$REFLINK" --image "$DEVDAX" snapshot create snap1
	ok "$REFLINK" --image "$DEVDAX" dedupe /a 0 4M /dup 0
	ok "$REFLINK" --image "$DEVDAX" extents /clone /dup
	has 'shared'
	dump_run extents "$DEVDAX" /clone
	has 'yes +yes' # shared, and PMD-mappable
	dump_run snapshots "$DEVDAX"
	has 'snap1'
	for f in /a /clone /dup; do
		"$DUMP" cat "$f" "$DEVDAX" | cmp - "$WORK/ri/a" || fail "$f differs after the reflink operations"
	done
	"$DUMP" --snapshot snap1 cat /a "$DEVDAX" | cmp - "$WORK/ri/a" || fail "snap1@/a differs"
	exits 0 "$FSCK" -n "$DEVDAX"
	has '[1-9][0-9]* blocks shared'
}

# Bad blocks from a -l list (ndctl inject-error is not supported by QEMU's
# NVDIMM) on devdax: mkfs honours the list; fsck --badblocks and
# pmcfs-dump owners name the file on a listed block.
t_badblocks_list() {
	need mkfs.pmcfs fsck.pmcfs pmcfs-dump
	zap "$DEVDAX"
	# sectors 8192..8207 = blocks 1024..1025, inside the data area
	printf '# test list\n8192 16\n' >"$WORK/bad.txt"
	ok "$MKFS" -f -l "$WORK/bad.txt" "$DEVDAX"
	has 'bad blocks: +2 \(0 from the device, 2 from the list\)'
	expect_pmcfs "$DEVDAX" $((2 << 20))
	dump_run alloc "$DEVDAX"
	has 'summary: .* 2 bad'
	exits 0 "$FSCK" -n --badblocks "$WORK/bad.txt" "$DEVDAX"
	# a list that puts a bad block under the superblock cannot be honoured
	printf '0 1\n' >"$WORK/bad0.txt"
	refused "$MKFS" -f -l "$WORK/bad0.txt" "$DEVDAX"
	has 'superblock'
	# a file's block goes bad after populate: fsck and dump name the file
	mkdir -p "$WORK/bl"
	head -c $((3 << 20)) /dev/urandom >"$WORK/bl/victim"
	echo bystander >"$WORK/bl/other"
	ok "$MKFS" -f -d "$WORK/bl" "$DEVDAX"
	extents_ok "$DEVDAX" /victim $((2 << 20))
	echo "$(((phys + 100) * 8)) 8" >"$WORK/bad1.txt"
	exits 4 "$FSCK" -n --badblocks "$WORK/bad1.txt" "$DEVDAX"
	has 'P6.001 error: .*bad media.*: /victim\. Move the data off them\? no$'
	hasnt '/other'
	dump_run owners "$DEVDAX" $((phys + 100))
	has '^file: /victim '
	exits 0 "$FSCK" -n "$DEVDAX" # without the list nothing is bad
	# -y moves the data off: only the bad block reads as zeros afterwards
	exits 1 "$FSCK" -y --badblocks "$WORK/bad1.txt" "$DEVDAX"
	has 'bytes 409600-413695 now read as zeros'
	has '^lost data: subvolume 256: /victim \(inode'
	hasnt '/other'
	exits 0 "$FSCK" -n --badblocks "$WORK/bad1.txt" "$DEVDAX"
	exits 0 "$FSCK" -n "$DEVDAX" # the space map now records the block bad
	same_but_block "$DEVDAX" /victim "$WORK/bl/victim" 100
}

# same_but_block DEV PATH ORIG N: PATH read back from DEV equals ORIG
# except its 4 KiB block N, which reads as zeros.
same_but_block() {
	local got=$WORK/readback want=$WORK/expected
	echo "\$ $DUMP cat $2 $1 > $got"
	"$DUMP" cat "$2" "$1" >"$got" || fail "pmcfs-dump cat $2 on $1 failed"
	cp "$3" "$want"
	dd if=/dev/zero of="$want" bs=4096 seek="$4" count=1 conv=notrunc status=none
	cmp "$got" "$want" || fail "$2 differs from the original beyond block $4"
}

# ---- sysfs bad blocks: permanent for this boot, so these run last.
# The kernel's own list (/sys/block/pmemX/badblocks, which libndctl, mkfs
# and fsck read) is fed the way a machine check would feed it; reads of
# those sectors then fail with EIO for real.

# A populated file's block goes bad: fsck (from the sysfs list, no
# --badblocks) and pmcfs-dump owners name the file.
t_badblocks_sysfs_file() {
	need mkfs.pmcfs fsck.pmcfs pmcfs-dump
	local bb=/sys/block/${FSDAX#/dev/}/badblocks blk
	mkdir -p "$WORK/bs/dir"
	head -c $((3 << 20)) /dev/urandom >"$WORK/bs/dir/victim"
	echo bystander >"$WORK/bs/other"
	zap "$FSDAX"
	ok "$MKFS" -d "$WORK/bs" "$FSDAX"
	has 'bad blocks: +0 '
	extents_ok "$FSDAX" /dir/victim $((2 << 20))
	blk=$((phys + 300))
	echo "$((blk * 8)) 8" >"$bb"
	echo "sysfs badblocks: $(tr '\n' ' ' <"$bb")"
	if dd if="$FSDAX" of=/dev/null bs=4k skip=$blk count=1 status=none 2>/dev/null; then
		fail "reading an injected bad block succeeded"
	fi
	exits 4 "$FSCK" -n "$FSDAX"
	has "P6.001 error: .*bad media: blocks $phys-[0-9]+: .*: /dir/victim\\. Move the data off them\\? no$"
	hasnt '/other'
	exits 4 "$FSCK" -n --json "$FSDAX"
	has '/dir/victim'
	dump_run owners "$FSDAX" $blk
	has '^file: /dir/victim \(subvolume 256'
	dump_run owners "$FSDAX" --json $blk
	has '"paths":\["/dir/victim"\]'
	dump_run owners "$FSDAX" $((blk + 1)) # a good neighbour: same file, no error
	has '^file: /dir/victim'
	# reading the file through the device meets the bad block
	local st=0
	echo "\$ $DUMP cat /dir/victim $FSDAX"
	out=$("$DUMP" cat /dir/victim "$FSDAX" 2>&1 >/dev/null) || st=$?
	printf '%s\n(exit %s)\n' "$out" "$st"
	has 'Input/output error'
	# only the bad block is lost, not the whole read chunk around it
	has '[0-9]\+4096: Input/output error; written as zeros'
	dump_run cat "$FSDAX" /other
	has 'bystander'
	# fsck -y on real poison: the bad block is never read (a read of
	# poison can kill the reader on devdax), the rest of the file moves
	exits 1 "$FSCK" -y "$FSDAX"
	has "bytes $((300 * 4096))-$((301 * 4096 - 1)) now read as zeros"
	has '^lost data: subvolume 256: /dir/victim \(inode'
	exits 0 "$FSCK" -n "$FSDAX"
	same_but_block "$FSDAX" /dir/victim "$WORK/bs/dir/victim" 300
	dump_run owners "$FSDAX" $blk
	hasnt '^file: '
}

# mkfs honours every sysfs bad block of the namespace (the one above, and
# two more, one where metadata is packed); fsck then finds the filesystem
# clean (the blocks are recorded as bad, used by nothing).
t_badblocks_sysfs() {
	need mkfs.pmcfs fsck.pmcfs pmcfs-dump
	local bb=/sys/block/${FSDAX#/dev/}/badblocks n
	echo "ndctl inject-error: $(ndctl inject-error --block=0 --count=1 "$(ns_of "$FSDAX" | cut -d' ' -f1)" 2>&1 || true)"
	echo "8192 8" >"$bb" # block 1024: in the data area, where metadata is packed
	echo "12288 16" >"$bb"
	echo "sysfs badblocks: $(tr '\n' ' ' <"$bb")"
	n=$(bad_blocks_of "$bb")
	if dd if="$FSDAX" of=/dev/null bs=4k skip=1024 count=1 status=none 2>/dev/null; then
		fail "reading an injected bad block succeeded"
	fi
	# no zap: writing zeros over a bad sector fails; mkfs -f wipes what it must
	ok "$MKFS" -f "$FSDAX"
	has "bad blocks: +$n \\($n from the device, 0 from the list\\)"
	expect_pmcfs "$FSDAX" $((2 << 20))
	dump_run alloc "$FSDAX"
	has "summary: .* $n bad"
	exits 0 "$FSCK" -n "$FSDAX"
	# populate steps around them too: the data reads back whole
	mkdir -p "$WORK/bs2"
	head -c $((6 << 20)) /dev/urandom >"$WORK/bs2/f"
	ok "$MKFS" -f -d "$WORK/bs2" "$FSDAX"
	has "bad blocks: +$n "
	"$DUMP" cat /f "$FSDAX" | cmp - "$WORK/bs2/f" || fail "/f differs: populate wrote onto a bad block?"
	exits 0 "$FSCK" -n "$FSDAX"
}

# A tree block that cannot be read: the pmem driver fails reads of sectors
# on the namespace's bad-block list, so this is a real EIO from the device,
# the one way to P2.011 (BLOCK_UNREADABLE): an image file always reads.
# The free blocks where the repair would allocate are bad too, and the
# emulated NVDIMM cannot clear poison, so a write to one fails: fsck must
# record them bad (P6.002) before the cut writes anything. -y cuts the
# block out and names the files it held; a second -n is clean.
t_fsck_unreadable_block() {
	need mkfs.pmcfs fsck.pmcfs pmcfs-dump
	local bb=/sys/block/${RAW#/dev/}/badblocks blk free i
	zap "$RAW"
	mkdir -p "$WORK/ub"
	for i in $(seq 1 400); do echo "file $i" >"$WORK/ub/f$i"; done
	ok "$MKFS" -f -d "$WORK/ub" "$RAW"
	ok "$DUMP" tree 256 "$RAW"
	blk=$(awk '/fs tree leaf/ { b = $2 } END { print b }' <<<"$out") # the last leaf
	[[ $blk =~ ^[0-9]+$ ]] || fail "no leaf of subvolume 256 found"
	ok "$DUMP" alloc "$RAW"
	free=$(awk '$4 == "free" && $2 >= 256 { print $1; exit }' <<<"$out") # where new blocks go
	[[ $free =~ ^[0-9]+$ ]] || fail "no free run of 256 blocks"
	echo "$((blk * 8)) 8" >"$bb"
	echo "$((free * 8)) $((128 * 8))" >"$bb"
	if dd if="$RAW" of=/dev/null bs=4k skip="$blk" count=1 status=none 2>/dev/null; then
		fail "reading the injected bad block succeeded"
	fi
	exits 4 "$FSCK" -n "$RAW"
	has "^P2\.011 error: tree block cannot be read: block $blk in the subvolume 256"
	exits 1 "$FSCK" -y "$RAW"
	has "^P6\.002 error: bad blocks are not recorded in the space map: blocks $free-$((free + 127))\. Record them\? yes"
	has "^cut out of subvolume 256 \"\": block $blk and everything under it"
	has '^lost data: subvolume 256: /f[0-9]+ '
	hasnt 'Input/output error'
	exits 0 "$FSCK" -n "$RAW"
	ok "$DUMP" alloc "$RAW"
	has "^summary: .* 129 bad"
	"$DUMP" cat /f1 "$RAW" | cmp - "$WORK/ub/f1" || fail "/f1, in the first leaf, differs"
}

t_badblocks_sysfs_super() {
	need mkfs.pmcfs
	echo "0 8" >"/sys/block/${RAW#/dev/}/badblocks" # block 0: the superblock
	refused "$MKFS" -f "$RAW"
	has 'block 0.*superblock.*bad'
}

TESTS=(namespaces xfs_dax_reflink mkfs_fsdax fsdax_alignment mkfs_devdax mkfs_raw
	mounted_xfs mounted_pmcfs fsck_foreign_fs unit_test_dev populate_extract_fsdax populate_extract_devdax
	reflink_xfs_dax reflink_image_devdax badblocks_list badblocks_sysfs_file badblocks_sysfs
	fsck_unreadable_block badblocks_sysfs_super)

# ---------------------------------------------------------------- run
# tests/vm/known-failures: "NAME reason" lines for bugs that are reported but
# not fixed yet.  Such a test still runs; failing, it prints
# "not ok - NAME # TODO known bug: reason" (not counted as failed), and
# passing, a note to drop it from the list.
declare -A KNOWN=()
if [[ -r $HERE/known-failures ]]; then
	while read -r k v; do [[ -z $k || $k == \#* ]] || KNOWN[$k]=$v; done <"$HERE/known-failures"
fi
npass=0 nfail=0 nknown=0
for t in "${TESTS[@]}"; do
	[[ -z $ONLY || $t =~ $ONLY ]] || continue
	log=$WORK/$t.log
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
	[[ -z ${PMEM_TESTS_VERBOSE:-} ]] || sed 's/^/#   | /' "$log"
	name=${t//_/-}
	if ((st == 0)); then
		npass=$((npass + 1))
		echo "ok - $name (${secs}s)"
		[[ -z ${KNOWN[$name]:-} ]] || echo "# $name passes now: drop it from tests/vm/known-failures"
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
echo "# guest: $npass ok, $nfail not ok, $nknown known bugs"
((nfail == 0))

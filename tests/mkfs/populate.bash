# Shared by the mkfs --populate tests: extracting an image again and
# comparing the result with the source.

SBINFO=${SBINFO:-$TOP/tests/pmcfs-sbinfo}
NSEXTRACT=${NSEXTRACT:-$TOP/tests/ns-extract}
COMPARE=$BATS_TEST_DIRNAME/compare-tree.py

# extract IMAGE DESTDIR: recreate the image's tree. ns-extract (a test
# tool on the library API) by default; EXTRACT=dump uses pmcfs-dump.
extract() {
	mkdir -p "$2"
	if [ "${EXTRACT:-}" = dump ]; then
		$INSTRUMENT "$DUMP" extract / "$2" "$1"
	else
		$INSTRUMENT "$NSEXTRACT" "$1" "$2"
	fi
}

# same_tree SRC COPY [--content]: metadata first (before anything reads
# the trees and moves atimes), then diff -r unless --content did it.
# pmcfs-dump extract leaves DESTDIR's own attributes alone: not compared.
same_tree() {
	local top=
	[ "${EXTRACT:-}" = dump ] && top=--skip-top
	run "$COMPARE" ${3:-} $top "$1" "$2"
	[ "$status" -eq 0 ] || { echo "compare-tree: $output" | head -n 40; return 1; }
	if [ -z "${3:-}" ]; then
		run diff -r --no-dereference "$1" "$2"
		[ "$status" -eq 0 ] || { echo "diff: $output" | head -n 40; return 1; }
	fi
}

# fsck_clean IMAGE: fsck.pmcfs -n finds nothing (when fsck is built).
fsck_clean() {
	[ -x "$FSCK" ] || return 0
	run $INSTRUMENT "$FSCK" -n "$1"
	[ "$status" -eq 0 ] || { echo "fsck.pmcfs -n: exit $status: $output" | head -n 40; return 1; }
}

# free_blocks IMAGE
free_blocks() {
	"$SBINFO" "$1" | sed -n 's/^free_blocks=//p'
}

need_root() {
	[ "$(id -u)" -eq 0 ] || skip "needs root (devices, owners, trusted xattrs)"
}

# A large real tree of this machine: /usr/share, or /usr if /usr/share
# holds fewer than 20,000 entries. Prints "DIR COUNT".
real_tree() {
	local d n
	for d in /usr/share /usr; do
		n=$(find "$d" 2>/dev/null | wc -l)
		if [ "$n" -ge 20000 ]; then
			echo "$d $n"
			return 0
		fi
	done
	return 1
}

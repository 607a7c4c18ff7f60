# Helpers for the namespace subcommands (ls, stat, extents, cat, owners,
# extract): images populated from a generated tree with mkfs --populate.

CRAFT=${CRAFT:-$TOP/tests/dump-craft}
COMPARE=$BATS_TEST_DIRNAME/../mkfs/compare-tree.py
export TZ=UTC

# mktree DIR: every file type, a hard link, xattrs, a sparse file, odd names.
mktree() {
	local d=$1
	mkdir -p "$d/sub/deep/er"
	head -c 300000 /dev/urandom >"$d/a"
	printf 'hello\n' >"$d/sub/h"
	ln "$d/a" "$d/sub/a-link"
	ln -s ../a "$d/sub/sym"
	ln -s /nonexistent/target "$d/dangling"
	mkfifo "$d/fifo"
	mknod "$d/chr" c 1 3
	mknod "$d/blk" b 7 200
	python3 -c "import socket,sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])" "$d/sock"
	setfattr -n user.color -v blue "$d/a"
	setfattr -n trusted.t -v 0x00ff00 "$d/sub/h"
	setfacl -m u:1234:rw "$d/sub/h" 2>/dev/null || true
	truncate -s 8M "$d/sparse"
	printf 'tail' >>"$d/sparse"
	printf 'head' | dd of="$d/sparse" conv=notrunc status=none
	head -c 4M /dev/urandom >"$d/big"
	printf 'x' >"$d/name with spaces"
	printf 'y' >"$d/$(printf 'ctl\001\x7fé')"
	chown 1234:5678 "$d/sub/h"
	chmod 4755 "$d/sub/deep"
	chmod 1777 "$d/sub/deep/er"
	touch -d '2001-02-03 04:05:06.123456789' "$d/sub/h"
}

# mkns: $SRC (a generated tree) and $IMG (256 MiB, populated from it).
mkns() {
	SRC=$BATS_TEST_TMPDIR/src
	IMG=$BATS_TEST_TMPDIR/ns.img
	mkdir -p "$SRC"
	mktree "$SRC"
	"$MKFS" -q -s 256M --populate "$SRC" "$IMG"
}

# same_tree A B: content (diff) and metadata (compare-tree.py, when the
# mkfs tests provide it, else owner/mode/size/mtime/link/xattr listings).
same_tree() {
	if [ -f "$COMPARE" ]; then
		python3 "$COMPARE" --content "$1" "$2" || return 1
	else
		diff -r --no-dereference "$1" "$2" || return 1
		diff <(cd "$1" && find . -printf '%P %M %U %G %s %T@ %l %n\n' | sort) \
		     <(cd "$2" && find . -printf '%P %M %U %G %s %T@ %l %n\n' | sort) || return 1
		diff <(cd "$1" && getfattr -R -h -d -m - --absolute-names . 2>/dev/null) \
		     <(cd "$2" && getfattr -R -h -d -m - --absolute-names . 2>/dev/null) || return 1
	fi
}

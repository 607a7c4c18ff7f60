# Scratch filesystems for the reflink tests: sparse images, loop-mounted
# once per .bats file in setup_file, unmounted and detached in
# teardown_file (which bats runs even when tests fail).

# fs_make TYPE NAME: make and mount $BATS_FILE_TMPDIR/NAME, print the mountpoint.
fs_make() {
	local type=$1 name=$2 img dev mnt
	img=$BATS_FILE_TMPDIR/$name.img
	# Mounts live in a world-searchable directory so tests can also run
	# the tool as an unprivileged user (bats' own temp dirs are 0700).
	if [ ! -f "$BATS_FILE_TMPDIR/mntroot" ]; then
		mktemp -d /tmp/pmcfs-reflink.XXXXXX >"$BATS_FILE_TMPDIR/mntroot" || return 1
		chmod 755 "$(cat "$BATS_FILE_TMPDIR/mntroot")"
	fi
	mnt=$(cat "$BATS_FILE_TMPDIR/mntroot")/$name
	case $type in
	xfs)	truncate -s 512M "$img"	# mkfs.xfs wants at least 300 MB
		mkfs.xfs -q -f -m reflink=1 "$img" ;;
	btrfs)	truncate -s 256M "$img"
		mkfs.btrfs -q -f "$img" >/dev/null 2>&1 ;;
	ext4)	truncate -s 64M "$img"
		mkfs.ext4 -q -F "$img" ;;
	esac
	dev=$(losetup --find --show "$img") || return 1
	echo "$dev" >>"$BATS_FILE_TMPDIR/loops"
	mkdir -p "$mnt"
	mount "$dev" "$mnt" || return 1
	echo "$mnt" >>"$BATS_FILE_TMPDIR/mounts"
	echo "$mnt"
}

fs_cleanup() {
	local m d
	if [ -f "$BATS_FILE_TMPDIR/mounts" ]; then
		tac "$BATS_FILE_TMPDIR/mounts" | while read -r m; do
			# A swap file or a busy executable must not pin the mount.
			for d in "$m"/*; do swapoff "$d" 2>/dev/null; done
			umount "$m" 2>/dev/null || umount -l "$m"
		done
		rm -f "$BATS_FILE_TMPDIR/mounts"
	fi
	if [ -f "$BATS_FILE_TMPDIR/loops" ]; then
		while read -r d; do losetup -d "$d" 2>/dev/null; done <"$BATS_FILE_TMPDIR/loops"
		rm -f "$BATS_FILE_TMPDIR/loops"
	fi
	if [ -f "$BATS_FILE_TMPDIR/mntroot" ]; then
		rmdir "$(cat "$BATS_FILE_TMPDIR/mntroot")"/* "$(cat "$BATS_FILE_TMPDIR/mntroot")" 2>/dev/null
		rm -f "$BATS_FILE_TMPDIR/mntroot"
	fi
}

# Run a command as the unprivileged user nobody.
as_nobody() {
	setpriv --reuid=65534 --regid=65534 --clear-groups "$@"
}

# Bytes that filefrag (e2fsprogs, an oracle independent of the tool)
# reports in extents flagged "shared".
filefrag_shared() {
	filefrag -b1 -v "$1" | awk -F: '/^ *[0-9]+:.*shared/ { s += $4 } END { print s + 0 }'
}

# Total shared bytes per the tool.
tool_shared() {
	"$REFLINK" extents --json "$@" | jq .total_shared_bytes
}

rand() {	# rand FILE SIZE
	head -c "$2" /dev/urandom >"$1"
}

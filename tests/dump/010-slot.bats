#!/usr/bin/env bats
# pmcfs-dump --slot: read the older commit (what fsck.pmcfs would roll
# back to, P2.016) instead of the newest, and take a file out of it.

load common
load ns

@test "--slot reads the older commit: the last change is not there, the rest is" {
	mkns
	cd "$BATS_TEST_TMPDIR"
	cp "$IMG" before.img
	"$REFLINK" --image "$IMG" clone /a /copy
	local cur old
	cur=$(dump super "$IMG" | sed -n 's/^current: slot \([AB]\).*/\1/p')
	[ "$cur" = A ] && old=B || old=A
	# The newest commit has the clone, the older one does not.
	dump ls / "$IMG" | grep -qx copy
	run -0 dump --slot "$cur" ls / "$IMG"
	grep -qx copy <<<"$output"
	run -0 dump --slot "$old" ls / "$IMG"
	! grep -qx copy <<<"$output"
	[ "$output" = "$(dump ls / before.img)" ]
	run -1 --separate-stderr dump --slot "$old" cat /copy "$IMG"
	[[ $stderr == *"/copy: No such file or directory"* ]]
	# Everything else reads as in the commit the older slot holds.
	dump --slot "$old" extract / out "$IMG" >/dev/null
	same_tree "$SRC" out
	run -0 dump --json --slot "$old" snapshots "$IMG"
	[ "$(jqv "$output" '.subvolumes | length')" = 1 ]
}

@test "--slot on an empty or torn slot: which one, and exit 1; other subcommands refuse it" {
	mkimg
	# mkfs commits generation 2 in slot A: slot B holds nothing yet.
	run -1 --separate-stderr dump --slot B ls / "$IMG"
	[ "$stderr" = "pmcfs-dump: commit slot B of $IMG holds no commit record (see 'pmcfs-dump super $IMG')" ]
	commit2
	dump --slot B ls / "$IMG"
	# A torn primary: its replica is read instead; both torn: the crc error.
	poke "$IMG" $((2 * 4096 + 20)) ff
	dump super "$IMG" | grep -q '^commit slot B (block 2): invalid'
	dump --slot B ls / "$IMG"
	dump set --slot B --replica --no-crc generation 77 "$IMG"
	run -1 --separate-stderr dump --slot B ls / "$IMG"
	[[ $stderr == "pmcfs-dump: cannot open the commit in slot B of $IMG: "* ]]
	run -2 --separate-stderr dump --slot B block 5 "$IMG"
	[[ $stderr == *"option --slot is only for set tree alloc ls stat extents cat snapshots owners extract"* ]]
	run -2 --separate-stderr dump --slot C ls / "$IMG"
	[[ $stderr == *"invalid slot 'C': expected A or B"* ]]
}

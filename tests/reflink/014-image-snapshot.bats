#!/usr/bin/env bats
# Image mode snapshots: create, list, delete, read a snapshot's files.
load ../helpers
load common
load image

setup() {
	SRC=$BATS_TEST_TMPDIR/src
	mkdir -p "$SRC"
	rand "$SRC/a" 1M
	rand "$SRC/b" 1M
	IMG=$(img_make "$SRC")
}

@test "snapshot create, list and delete, in text and --json" {
	gen=$("$SBINFO" "$IMG" | sed -n 's/^generation=//p')
	run_ok rl "$IMG" snapshot create -r s1
	[[ "$output" == "created snapshot 's1' (id 257) of the live filesystem, read-only, generation $((gen + 1))" ]]
	run_ok rl "$IMG" snapshot create --json s2
	json_ok "$output"
	[ "$(jq -r '[.command, .name, .id, .parent, .readonly, .status] | join(",")' <<<"$output")" = \
	  "snapshot create,s2,258,256,false,ok" ]
	[ "$(jq .generation <<<"$output")" -eq $((gen + 2)) ]
	run_ok rl "$IMG" snapshot list
	[ "${lines[0]}" = "ID     NAME                     PARENT FLAGS    GENERATION CREATED" ]
	[[ "${lines[1]}" == "257    s1                       256    ro       $((gen + 1))"* ]]
	[[ "${lines[2]}" == "258    s2                       256    rw       $((gen + 2))"* ]]
	[[ "${lines[1]}" == *" $(date +%Y-%m-%d)T"* ]]
	run_ok rl "$IMG" snapshot list --json
	json_ok "$output"
	[ "$(jq -c '[.snapshots[] | [.id, .name, .parent, .readonly, .flags]]' <<<"$output")" = \
	  '[[257,"s1",256,true,["ro"]],[258,"s2",256,false,[]]]' ]
	now=$(date +%s)
	[ $((now - $(jq '.snapshots[0].ctime' <<<"$output"))) -lt 600 ]
	run_ok rl "$IMG" snapshot delete s1
	[ "$output" = "deleted snapshot 's1' (id 257)" ]
	run_ok rl "$IMG" snapshot delete --json s2
	[ "$(jq -r .status <<<"$output")" = ok ]
	run_ok rl "$IMG" snapshot list --json
	[ "$(jq '.snapshots | length' <<<"$output")" -eq 0 ]
	img_check "$IMG"
}

@test "a snapshot keeps the old data; its files read as NAME@/PATH; delete frees it" {
	free0=$(free_blocks "$IMG")
	run_ok rl "$IMG" snapshot create -r old
	img_check "$IMG"
	# Replace a's data in the live filesystem with b's.
	run_ok rl "$IMG" clone /b /a
	cmp "$SRC/b" <(icat "$IMG" /a)
	cmp "$SRC/a" <(icat "$IMG" old@/a)
	run_ok rl "$IMG" extents --json old@/a /a
	[ "$(jq -r '.files[0].path' <<<"$output")" = "old@/a" ]
	img_check "$IMG"
	# Deleting the snapshot frees a's old 1 MiB.
	mid=$(free_blocks "$IMG")
	run_ok rl "$IMG" snapshot delete old
	freed=$(($(free_blocks "$IMG") - mid))
	[ "$freed" -ge 256 ]
	run -1 icat "$IMG" old@/a
	img_check "$IMG"
}

@test "snapshot errors: duplicate name, unknown name, bad name, kernel mode" {
	run_ok rl "$IMG" snapshot create s
	sum=$(sha256sum <"$IMG")
	run -1 rl "$IMG" snapshot create s
	[ "${lines[0]}" = "pmcfs-reflink: snapshot create s: File exists (a snapshot of that name exists)" ]
	run -1 rl "$IMG" snapshot delete nosuch
	[ "${lines[0]}" = "pmcfs-reflink: snapshot delete nosuch: no snapshot of that name" ]
	run -1 --separate-stderr rl "$IMG" snapshot delete --json nosuch
	json_ok "$output"
	[ "$(jq -r .errno <<<"$output")" = ENOENT ]
	run -2 rl "$IMG" snapshot create 'a/b'
	[[ "${lines[0]}" == "pmcfs-reflink: snapshot create: bad NAME 'a/b'"* ]]
	run -2 rl "$IMG" snapshot list extra
	run -2 rl "$IMG" snapshot delete -r s
	[ "$(sha256sum <"$IMG")" = "$sum" ]
	run -2 $INSTRUMENT "$REFLINK" snapshot create x
	[[ "$output" == *"snapshots of a mounted pmcfs are taken through the kernel module's own interface"* ]]
	img_check "$IMG"
}

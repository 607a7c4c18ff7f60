#!/usr/bin/env bats
# --help of every command against the man page.
load ../helpers

MAN=$BATS_TEST_DIRNAME/../../man/pmcfs-reflink.8

@test "every --help option of every command appears in the man page" {
	page=$(sed 's/\\-/-/g' "$MAN")
	run_ok "$REFLINK" --help
	cmds=$(sed -n 's/^  pmcfs-reflink \([a-z-]*\) .*/\1/p' <<<"$output")
	[ "$(wc -w <<<"$cmds")" -eq 6 ]
	for c in $cmds; do
		grep -q "^\.BI\? \"\?$c" <<<"$page" || grep -q "^\.B pmcfs-reflink $c" <<<"$page"
		run_ok "$REFLINK" "$c" --help
		opts=$(grep -oE -- '--[a-z][a-z-]*' <<<"$output" | sort -u)
		[ -n "$opts" ]
		for o in $opts; do
			if ! grep -qF -- "$o" <<<"$page"; then
				echo "$c: $o is not in the man page" >&2
				return 1
			fi
		done
		# Short forms too.
		for s in $(grep -oE -- '^  -[a-zA-Z],' <<<"$output" | tr -d ' ,'); do
			grep -qF -- "$s" <<<"$page"
		done
	done
}

@test "the man page has the sections and a version placeholder" {
	for s in NAME SYNOPSIS DESCRIPTION COMMANDS OPTIONS "IMAGE MODE" SNAPSHOTS "EXIT STATUS" "HASHFILE FORMAT" EXAMPLES "SEE ALSO"; do
		grep -q "^\.SH \"\?$s\"\?$" "$MAN"
	done
	grep -q '^\.TH .*@VERSION@' "$MAN"
}

@test "the global --image option is in --help and the man page" {
	run_ok "$REFLINK" --help
	[[ "$output" == *"[--image IMG]"* ]]
	grep -q '^\.BI \\-\\-image " IMG"' "$MAN"
}

@test "--version and the command list" {
	run_ok "$REFLINK" --version
	[[ "$output" == "pmcfs-reflink "* ]]
	run -2 "$REFLINK" nosuchcommand
	[[ "${lines[0]}" == "pmcfs-reflink: unknown command 'nosuchcommand'" ]]
}

#!/usr/bin/env bats
# Every tool that is built has a man page, with the standard sections,
# and every long option its --help prints appears in that page.

load ../helpers

MANDIR=$BATS_TEST_DIRNAME/../../man
TOOLS=(mkfs.pmcfs fsck.pmcfs pmcfs-dump pmcfs-reflink)

# The page as plain text: roff escapes and font changes removed.
page_text() {
	sed -e 's/\\-/-/g' -e 's/\\f[BIRP]//g' -e 's/\\(em/-/g' "$1"
}

@test "each built tool has a page with the standard sections" {
	local t n=0 s
	for t in "${TOOLS[@]}"; do
		[ -x "$TOP/$t" ] || continue
		n=$((n + 1))
		[ -f "$MANDIR/$t.8" ] || { echo "no man/$t.8"; return 1; }
		grep -q "^\.TH ${t^^} 8 .*@VERSION@" "$MANDIR/$t.8" || { echo "$t: bad .TH"; return 1; }
		for s in NAME SYNOPSIS DESCRIPTION OPTIONS "EXIT STATUS" DIAGNOSTICS EXAMPLES "SEE ALSO"; do
			grep -q "^\.SH \"\{0,1\}$s\"\{0,1\}$" "$MANDIR/$t.8" || { echo "$t: no $s"; return 1; }
		done
		if command -v groff >/dev/null; then
			run -0 groff -ww -z -man "$MANDIR/$t.8"
			[ -z "$output" ] || { echo "$t: $output"; return 1; }
		fi
	done
	[ "$n" -gt 0 ] || skip "no tool built in $TOP"
}

@test "every --help long option is in the tool's man page" {
	local t o n=0 text missing=()
	for t in "${TOOLS[@]}"; do
		[ -x "$TOP/$t" ] || continue
		n=$((n + 1))
		run -0 "$TOP/$t" --help
		text=$(page_text "$MANDIR/$t.8")
		for o in $(grep -o -- '--[a-z][a-z0-9-]*' <<<"$output" | sort -u); do
			grep -q -- "$o\b" <<<"$text" || missing+=("$t $o")
		done
	done
	[ "$n" -gt 0 ] || skip "no tool built in $TOP"
	[ ${#missing[@]} -eq 0 ] || { printf 'not in the man page: %s\n' "${missing[@]}"; return 1; }
}

#!/usr/bin/env bats
# man/pmcfs.5 is the on-media format specification: cross-check it
# against the code. Every struct that tests/unit/test_layout prints has a
# table in the page, announced as "struct NAME (SIZE bytes)", with one row
# "OFFSET|SIZE|FIELD|..." per field (offset and size as test_layout
# prints them) and no other rows; every enum constant of
# lib/pmcfs_format.h appears in the page, every key type in the key-type
# table with its value; every magic number is given.

load ../helpers

PAGE=$BATS_TEST_DIRNAME/../../man/pmcfs.5
FORMAT_H=$BATS_TEST_DIRNAME/../../lib/pmcfs_format.h
LAYOUT=$TOP/tests/test_layout

# The page source with font changes and roff escapes removed; table rows
# (tab(|)) stay one per line.
page_text() {
	sed -e 's/\\f[BIRP]//g' -e 's/\\-/-/g' -e 's/\\(ha/^/g' -e 's/\\(em/-/g' "$PAGE"
}

# Rows of the first table after the line that announces "struct NAME (SIZE bytes)".
struct_table() {	# struct_table NAME SIZE
	page_text | awk -v pat="struct $1 ($2 bytes)" '
		!seen && index($0, pat) { seen = 1 }
		seen && /^\.TS/ { intable = 1; next }
		intable && /^\.TE/ { exit }
		intable { print }'
}

# "NAME VALUE" for every member of one enum in pmcfs_format.h.
enum_members() {	# enum_members ENUM_NAME
	sed -n "/^enum $1 {/,/^};/p" "$FORMAT_H" |
		grep -o 'PMCFS_[A-Z0-9_]*[[:space:]]*=[[:space:]]*[^,/]*' |
		sed -e 's/[[:space:]]*=[[:space:]]*/ /' -e 's/[[:space:]]*$//'
}

@test "pmcfs.5 has its header and sections and renders without warnings" {
	local s
	[ -f "$PAGE" ] || { echo "no man/pmcfs.5"; return 1; }
	grep -q '^\.TH PMCFS 5 "" "pmcfs @VERSION@"$' "$PAGE" || { echo "bad .TH"; return 1; }
	for s in NAME DESCRIPTION LAYOUT "BYTE ORDER AND CHECKSUMS" SUPERBLOCK \
		 "COMMIT RECORDS" "FEATURE FLAGS" "TREE BLOCKS" KEYS "ROOT TABLE" \
		 "SPACE MAP" "FILESYSTEM TREES" "COPY-ON-WRITE AND REFERENCE COUNTS" \
		 SNAPSHOTS "ALLOCATION POLICY" LIMITS "SEE ALSO"; do
		grep -q "^\.SH \"\{0,1\}$s\"\{0,1\}$" "$PAGE" || { echo "no section $s"; return 1; }
	done
	command -v groff >/dev/null || skip "groff not installed"
	run -0 groff -t -man -Tutf8 -ww -z "$PAGE"
	[ -z "$output" ] || { echo "$output"; return 1; }
}

@test "every on-media struct and field is in pmcfs.5 with its offset and size" {
	local line name size off fsize field rows nrows nfields=0 missing=()
	[ -x "$LAYOUT" ] || skip "test_layout not built in $TOP"
	run -0 "$LAYOUT"
	local layout=$output
	name=
	finish_struct() {
		[ -n "$name" ] || return 0
		nrows=$(grep -cE '^[0-9]+\|[0-9]+\|' <<<"$rows" || true)
		[ "$nrows" -eq "$nfields" ] ||
			missing+=("$name: the page's table has $nrows field rows, the struct has $nfields fields")
	}
	while IFS= read -r line; do
		if [[ $line =~ ^struct\ ([a-z_0-9]+):\ ([0-9]+)\ bytes$ ]]; then
			finish_struct
			name=${BASH_REMATCH[1]} size=${BASH_REMATCH[2]} nfields=0
			rows=$(struct_table "$name" "$size")
			[ -n "$rows" ] || missing+=("struct $name: no table announced as \"struct $name ($size bytes)\"")
		elif [[ -n $name && $line =~ ^\ +([0-9]+)\ +([0-9]+)\ +([a-z_0-9]+)$ ]]; then
			off=${BASH_REMATCH[1]} fsize=${BASH_REMATCH[2]} field=${BASH_REMATCH[3]}
			nfields=$((nfields + 1))
			grep -qE "^$off\|$fsize\|$field(\[[0-9]+\])?\|" <<<"$rows" ||
				missing+=("$name.$field: no row \"$off|$fsize|$field|\" in its table")
		fi
	done <<<"$layout"
	finish_struct
	[ -n "$name" ] || { echo "test_layout printed no struct"; return 1; }
	[ ${#missing[@]} -eq 0 ] || { printf '%s\n' "${missing[@]}"; return 1; }
}

@test "every key type is in pmcfs.5's key table with its value" {
	local name value n=0 missing=()
	while read -r name value; do
		n=$((n + 1))
		page_text | grep -qE "^$name\|$value\|" || missing+=("$name = $value")
	done < <(enum_members pmcfs_key_type)
	[ "$n" -ge 10 ] || { echo "found only $n key types in $FORMAT_H"; return 1; }
	[ ${#missing[@]} -eq 0 ] || { printf 'not in the key table: %s\n' "${missing[@]}"; return 1; }
}

@test "every enum constant and magic number of pmcfs_format.h is in pmcfs.5" {
	local text e name value magic n=0 missing=()
	text=$(page_text)
	for e in $(sed -n 's/^enum \([a-z_0-9]*\) {.*/\1/p' "$FORMAT_H"); do
		while read -r name value; do
			n=$((n + 1))
			grep -qw -- "$name" <<<"$text" || missing+=("$e: $name")
		done < <(enum_members "$e")
	done
	[ "$n" -ge 30 ] || { echo "found only $n enum constants in $FORMAT_H"; return 1; }
	while read -r name magic; do
		magic=${magic%%[uU]*}
		grep -qiw -- "$magic" <<<"$text" || missing+=("$name = $magic")
	done < <(sed -n 's/^#define \(PMCFS_[A-Z_]*MAGIC\)[[:space:]]*\(0x[0-9a-fA-F]*\).*/\1 \2/p' "$FORMAT_H")
	[ ${#missing[@]} -eq 0 ] || { printf 'not in pmcfs.5: %s\n' "${missing[@]}"; return 1; }
}

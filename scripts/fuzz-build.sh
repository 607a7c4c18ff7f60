#!/usr/bin/env bash
# Build the AFL++ fuzzing harness into build-fuzz/ (or $FUZZ_BUILD):
#   - the tools' objects with afl-clang-fast (or $FUZZ_CC), ASan and UBSan,
#     through the Makefile: make BUILD=build-fuzz SAN=1 CC=... CFLAGS=...
#     (SAN=1 adds the sanitizer flags; the BUILD given wins over its build-san);
#   - fuzz-fsck and fuzz-dump: tests/fuzz/harness.c linked with those objects,
#     the tool's main() renamed pmcfs_tool_main by objcopy (the tools are
#     not changed);
#   - fuzz-mutator.so: the structure-aware custom mutator (tests/fuzz/mutator.c
#     plus lib/crc32c.c, position independent, not instrumented);
#   - fuzz-mutate: the same mutator as a command, for tests and debugging.
# The plain build/ (mkfs, pmcfs-reflink, pmcfs-dump for the seeds) is made too.
set -euo pipefail
cd "$(dirname "$0")/.."
B=${FUZZ_BUILD:-build-fuzz}
CC_AFL=${FUZZ_CC:-afl-clang-fast}
JOBS=${JOBS:-$(nproc)}
SANFLAGS="-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer"
PKGS="blkid uuid libndctl libdaxctl libpmem libxxhash"

command -v "$CC_AFL" >/dev/null || {
	echo "fuzz-build: $CC_AFL not found (apt-get install afl++)" >&2; exit 1; }

make --no-print-directory -j"$JOBS" all >/dev/null
make --no-print-directory -j"$JOBS" BUILD="$B" SAN=1 CC="$CC_AFL" CFLAGS="-O1 -g" \
	"$B/fsck.pmcfs" "$B/pmcfs-dump"

mkdir -p "$B/fuzz"
# shellcheck disable=SC2046
LIBS="$(pkg-config --libs $PKGS) -lpthread -lm"
link_harness() {	# NAME TOOLDIR
	local name=$1 dir=$2 objs=() o
	objcopy --redefine-sym main=pmcfs_tool_main "$B/$dir/main.o" "$B/fuzz/$dir-main.o"
	for o in "$B/$dir"/*.o; do
		[ "$(basename "$o")" = main.o ] || objs+=("$o")
	done
	echo "  LINK     $B/$name"
	# shellcheck disable=SC2086
	"$CC_AFL" -std=gnu11 -Wall -Wextra -Werror -D_GNU_SOURCE -O1 -g $SANFLAGS \
		-o "$B/$name" tests/fuzz/harness.c "$B/fuzz/$dir-main.o" "${objs[@]}" \
		"$B/libpmcfs.a" $LIBS
}
link_harness fuzz-fsck fsck
link_harness fuzz-dump dump

echo "  LINK     $B/fuzz-mutator.so"
cc -std=gnu11 -Wall -Wextra -Werror -D_GNU_SOURCE -O2 -g -fPIC -shared -Ilib \
	-o "$B/fuzz-mutator.so" tests/fuzz/mutator.c lib/crc32c.c
cc -std=gnu11 -Wall -Wextra -Werror -D_GNU_SOURCE -O1 -g -Ilib $SANFLAGS -DPMCFZ_MUTATOR_MAIN \
	-o "$B/fuzz-mutate" tests/fuzz/mutator.c lib/crc32c.c

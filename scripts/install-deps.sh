#!/bin/sh
# Install every Debian package the build, the tests and the demo need.
# Idempotent: when everything is present it does nothing (no apt-get update).
set -eu

# Build: compiler and the libraries the Makefile asks pkg-config for.
BUILD="gcc make pkg-config libblkid-dev uuid-dev libndctl-dev libdaxctl-dev libpmem-dev libxxhash-dev"
# Run time: loaded with dlopen for pmem and devdax devices, so nothing
# links them and only being named here keeps them installed.
RUNTIME="libndctl6 libdaxctl1 libpmem1"
# Tests: bats, JSON checks, real foreign filesystems, loop devices, sanitizers.
TEST="bats jq python3 xfsprogs btrfs-progs e2fsprogs util-linux mount fdisk attr acl kmod groff-base man-db clang libclang-rt-14-dev xxd"

missing=""
for p in $BUILD $RUNTIME $TEST ${PMCFS_EXTRA_PKGS:-}; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed"; then
		missing="$missing $p"
	fi
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" != 0 ]; then
	echo "install-deps: missing packages:$missing (run as root, or install them)" >&2
	exit 1
fi
echo "install-deps: installing:$missing" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >&2
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >&2

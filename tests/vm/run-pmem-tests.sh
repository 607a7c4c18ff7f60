#!/usr/bin/env bash
# run-pmem-tests.sh BUILD -- the pmem tier (make check-pmem).
#
# Boots ONE pmemvm guest with an fsdax, a devdax and a raw namespace carved
# from one emulated NVDIMM region and runs tests/vm/guest-tests.sh there
# against the tools in BUILD; then checks the harness itself (a failing
# command's status, a boot failure, a timeout) with two very short boots.
# Prints "ok - NAME" / "not ok - NAME" per test and ends with "N passed,
# N failed"; every tool must be built (make check-pmem builds them).  Exit 1 on any failure or when the guest could not
# boot.  PMEM_TESTS_ONLY=REGEX runs only the guest tests whose name matches;
# PMEM_TESTS_VERBOSE=1 prints every guest test's whole log.
set -euo pipefail

BUILD=${1:?usage: run-pmem-tests.sh BUILD}
[[ -d $BUILD ]] || { echo "run-pmem-tests: no build directory: $BUILD" >&2; exit 2; }
BUILD=$(realpath "$BUILD")
cd "$(dirname "$0")/../.."
VM=tests/vm/pmemvm
# fsdax must hold an XFS (>= 300 MB); the rest stay small: TCG is slow.
# shellcheck disable=SC2054 # commas are pmemvm syntax
LAYOUT=(-s 640M -m fsdax:384M,devdax:128M,raw)
LOG=$(mktemp -d /tmp/pmem-tier.XXXXXX)
pass=0 fail=0 known=0
failed=()

ok() { pass=$((pass + 1)); echo "ok - $1"; }
not_ok() { fail=$((fail + 1)); failed+=("$1"); echo "not ok - $1"; }

# ---- the guest run: every namespace test in one boot
t0=$SECONDS
st=0
"$VM" "${LAYOUT[@]}" -t 360 ${PMEM_TESTS_ONLY:+-e "PMEM_TESTS_ONLY=$PMEM_TESTS_ONLY"} \
	${PMEM_TESTS_VERBOSE:+-e "PMEM_TESTS_VERBOSE=$PMEM_TESTS_VERBOSE"} \
	-f tests/vm/guest-tests.sh "$BUILD" 2>"$LOG/guest.err" | tee "$LOG/guest.out" || st=${PIPESTATUS[0]}
while IFS= read -r line; do
	case $line in
	"ok - "*) pass=$((pass + 1)) ;;
	"not ok - "*" # TODO known bug"*) known=$((known + 1)) ;;
	"not ok - "*) fail=$((fail + 1)); failed+=("${line#not ok - }") ;;
	"not run: "*) fail=$((fail + 1)); failed+=("${line#not run: }") ;; # nothing may be skipped
	esac
done <"$LOG/guest.out"
if ((st == 124 || st == 125)) || ! grep -q '^# guest: ' "$LOG/guest.out"; then
	not_ok "guest run (pmemvm exit $st after $((SECONDS - t0))s: the guest did not boot, timed out or died)"
	sed 's/^/#   /' "$LOG/guest.err" | tail -n 50
elif ((st != 0)) && ((fail == 0)); then
	not_ok "guest run (guest-tests.sh exit $st without a failed test)"
	sed 's/^/#   /' "$LOG/guest.err" | tail -n 20
fi
echo "# guest run: $((SECONDS - t0))s"

# ---- the harness itself (skipped with PMEM_TESTS_ONLY)
if [[ -z ${PMEM_TESTS_ONLY:-} ]]; then
	st=0
	# shellcheck disable=SC2016 # expanded in the guest
	"$VM" -s 64M -t 120 -c 'test -b "$PMEMVM_FSDAX" && exit 42' >"$LOG/h1" 2>&1 || st=$?
	if ((st == 42)); then ok "harness: the guest command's exit status comes back"; else
		not_ok "harness: the guest command's exit status comes back (got $st, expected 42)"; sed 's/^/#   /' "$LOG/h1" | tail -n 20; fi

	st=0
	PMEMVM_APPEND=rdinit=/no-such-init "$VM" -s 64M -t 120 -- true >"$LOG/h2" 2>&1 || st=$?
	if ((st == 125)) && grep -q 'did not boot' "$LOG/h2" && grep -q 'end of the guest console' "$LOG/h2"; then
		ok "harness: a guest that cannot boot fails with 125 and shows its console"
	else
		not_ok "harness: a guest that cannot boot fails with 125 and shows its console (got $st)"
		sed 's/^/#   /' "$LOG/h2" | tail -n 20
	fi

	st=0
	"$VM" -s 64M -t 8 -- sleep 600 >"$LOG/h3" 2>&1 || st=$?
	if ((st == 124)) && grep -q 'timed out' "$LOG/h3"; then ok "harness: a guest past its time limit gives 124"; else
		not_ok "harness: a guest past its time limit gives 124 (got $st)"; sed 's/^/#   /' "$LOG/h3" | tail -n 20; fi
fi

if ((${#failed[@]})); then
	echo "failed:"
	printf '  %s\n' "${failed[@]}"
	echo "logs: $LOG"
else
	rm -rf "$LOG"
fi
((known == 0)) || echo "$known known bugs (tests/vm/known-failures), not counted"
echo "$pass passed, $fail failed"
((fail == 0 && pass > 0))

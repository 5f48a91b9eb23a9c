#!/bin/bash
# check.sh - build kube-uproxy and run its whole test suite, as CI does.
#
# Usage: contrib/check.sh [--sanitizers | --valgrind] [-- CONFIGURE-ARGS...]
#
# On a fresh Debian 12 machine run it as root: the missing packages are
# installed first (contrib/lib-deps.sh).  As a normal user the packages must
# already be there.  The build is out of tree: ./build, or ./build-asan with
# --sanitizers (ASan + UBSan).  --valgrind runs every unit test and every
# daemon the scenarios start under valgrind (a leak or error fails the
# test; waits get longer).  `make check` runs the unit, integration and
# (as root) end-to-end tests; the logs of failing tests are shown, and the
# last line is always the summary "N passed, M failed" (", K skipped" when
# some were skipped), counted from automake's test-suite.log.  Exit status
# is 0 only when the build worked and nothing failed.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
builddir=build
configure_args=()
valgrind=()

usage() {
	echo "usage: $0 [--sanitizers | --valgrind] [-- configure-args...]" >&2
	exit 2
}

while (($#)); do
	case $1 in
	--sanitizers)
		builddir=build-asan
		configure_args+=(--enable-sanitizers)
		;;
	--valgrind)
		vg="valgrind -q --leak-check=full --error-exitcode=3"
		valgrind=(LOG_COMPILER="$vg" KUBE_UPROXY_WRAP="$vg")
		;;
	--)
		shift
		configure_args+=("$@")
		break
		;;
	-h | --help) usage ;;
	*) echo "$0: unknown option $1" >&2; usage ;;
	esac
	shift
done

# The summary line for a run that never got to the tests.
build_failed() {
	echo "check: $1" >&2
	echo "0 passed, 1 failed"
	exit 1
}

# shellcheck source=lib-deps.sh source-path=SCRIPTDIR
. "$top/contrib/lib-deps.sh"
if ! deps_install; then
	# As root a failed install is final; as a user, try anyway and let
	# configure name what is really missing.
	((EUID != 0)) || build_failed "installing packages failed"
fi

jobs=$(nproc 2>/dev/null || echo 2)
cd "$top"
echo "check: autoreconf in $top"
autoreconf -fi || build_failed "autoreconf failed"
mkdir -p "$builddir"
cd "$builddir"
echo "check: configure ${configure_args[*]} in $top/$builddir"
"$top/configure" -q "${configure_args[@]}" || build_failed "configure failed"
echo "check: make -j$jobs"
make -j"$jobs" || build_failed "build failed"

# make check fails when a test fails; that is a result, not an error here.
rm -f test-suite.log
check_status=0
env "${valgrind[@]}" make check -j"$jobs" || check_status=$?
[[ -f test-suite.log ]] ||
    build_failed "make check exited $check_status without test-suite.log (tests did not build?)"

# One log per test script or binary; its .trs says how it went as a whole.
failed_logs=()
while IFS= read -r trs; do
	failed_logs+=("${trs%.trs}.log")
done < <(find . -name '*.trs' -exec \
    grep -lE '^:global-test-result: (FAIL|ERROR|XPASS)' {} + 2>/dev/null | sort)
for log in "${failed_logs[@]}"; do
	echo
	echo "==== ${log#./} (last 40 lines) ===="
	tail -n 40 "$log" || true
done

# test-suite.log starts with "# TOTAL: n", "# PASS: n", ... (per TAP test
# case for the cmocka binaries, per script for the shell tests).
count() {
	local n
	n=$(sed -n "s/^# $1: *\([0-9][0-9]*\)\$/\1/p" test-suite.log | head -n 1)
	echo "${n:-0}"
}
passed=$(($(count PASS) + $(count XFAIL)))
failed=$(($(count FAIL) + $(count ERROR) + $(count XPASS)))
skipped=$(count SKIP)

# make check may fail for a reason no test recorded (e.g. a test binary
# did not link): still a failure.
if ((check_status != 0 && failed == 0)); then
	echo "check: make check exited $check_status with no failed test" >&2
	failed=1
fi

echo
if ((skipped > 0)); then
	echo "$passed passed, $failed failed, $skipped skipped"
else
	echo "$passed passed, $failed failed"
fi
((failed == 0))

#!/usr/bin/env bash
# The test suite, built with -fsanitize=address,undefined. Tests run side by side, as
# many at a time as the machine has cores (a test that needs more cores says so to ctest).
#
# Usage: scripts/test.sh [--quick | --tier TIER[,TIER...]] [CTEST ARGUMENTS...]
#   (nothing)  the whole suite: every tier below (what CI runs)
#   --quick    the unit tests, and the tests on the test guests' dumps when those are
#              already built and cached (tests/guests/build-guests.sh); about ten
#              minutes on two cores once built
#   --tier     only the tests of these tiers:
#                quick   unit tests, config search, bash completion: no guest
#                guests  building the test guests and the tools on their memory dumps
#                live    running guests: QEMU's QMP socket and libvirt domains
#                xen     a real Xen, nested under QEMU
#                host    the set-up and the .deb on a clean Debian root
#                lint    format, clang-tidy and the fuzz targets' smoke run
# Anything else goes to ctest (-R NAME, -V, ...). Guests are cached in
# ${VMI_GUEST_DIR:-~/.cache/vmitools/guests}; VMI_TEST_JOBS sets how many tests run at once.
set -euo pipefail
cd "$(dirname "$0")/.."

tiers=
quick=0
while [ $# -gt 0 ]; do
    case $1 in
        --quick) quick=1; shift ;;
        --tier) [ $# -ge 2 ] || { echo "test.sh: --tier wants a tier name" >&2; exit 2; }
                tiers=$2; shift 2 ;;
        --tier=*) tiers=${1#--tier=}; shift ;;
        -h|--help) sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) break ;;
    esac
done
for tier in ${tiers//,/ }; do
    case $tier in
        quick|guests|live|xen|host|lint) ;;
        *) echo "test.sh: unknown tier '$tier' (expected quick, guests, live, xen, host or lint)" >&2; exit 2 ;;
    esac
done

start=$SECONDS
scripts/install-deps.sh --test
. scripts/compiler-cache.sh
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DVMI_SANITIZE=ON "${compiler_cache_args[@]}" >/dev/null
cmake --build build-asan -j"$(nproc)"
echo "test.sh: built in $((SECONDS - start)) s"

selection=()
if [ $quick = 1 ]; then
    if tests/guests/build-guests.sh --check 2>/dev/null; then
        selection=(-L '^(quick|guests)$')
    else
        echo "test.sh: --quick: the test guests are not built (or out of date), so only the quick tier runs;" \
             "tests/guests/build-guests.sh builds them" >&2
        selection=(-L '^quick$')
    fi
elif [ -n "$tiers" ]; then
    selection=(-L "^(${tiers//,/|})\$")
fi

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
status=0
ctest --test-dir build-asan --output-on-failure -j"${VMI_TEST_JOBS:-$(nproc)}" "${selection[@]}" "$@" || status=$?
echo "test.sh: done in $((SECONDS - start)) s"
exit $status

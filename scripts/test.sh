#!/usr/bin/env bash
# The whole test suite: unit tests, then the tools against real Linux guests
# booted under QEMU (built once and cached in ${VMI_GUEST_DIR:-~/.cache/vmitools/guests}).
# Everything is built with -fsanitize=address,undefined.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh --test
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DVMI_SANITIZE=ON >/dev/null
cmake --build build-asan -j"$(nproc)"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
ctest --test-dir build-asan --output-on-failure "$@"

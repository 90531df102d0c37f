# Sourced by scripts/test.sh and tests/fuzz/run.sh: when ccache is installed, sets
# compiler_cache_args to the CMake option that compiles through it, and makes its keys
# independent of where the checkout is (paths under it hashed as relative ones, the
# working directory left out), so a CI clone in a new directory hits what the last one
# built. VMI_NO_CCACHE=1 (or no ccache) sets the launcher empty instead, which also clears
# one an earlier configure of the same build directory cached. ccache keeps
# its cache where it always does (~/.cache/ccache, 5 GiB at most unless configured).
# shellcheck shell=bash
compiler_cache_args=()
if [ "${VMI_NO_CCACHE:-0}" != 1 ] && command -v ccache >/dev/null; then
    CCACHE_BASEDIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
    export CCACHE_BASEDIR CCACHE_NOHASHDIR=1
    compiler_cache_args=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
else
    compiler_cache_args=(-DCMAKE_CXX_COMPILER_LAUNCHER=)
fi

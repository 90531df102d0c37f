#!/usr/bin/env bash
# clang-tidy with the project's .clang-tidy over every source file of lib/ and tools/,
# using the build's compile_commands.json. Fails on any finding, printing them.
# Usage: tests/style/check-tidy.sh BUILD_DIR [clang-tidy binary]
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${1:?usage: check-tidy.sh BUILD_DIR [clang-tidy]}
tidy=${2:-clang-tidy}
command -v "$tidy" >/dev/null || { echo "check-tidy: $tidy not found (apt-get install clang-tidy)" >&2; exit 2; }
[ -f "$build/compile_commands.json" ] || { echo "check-tidy: no $build/compile_commands.json (configure with CMake first)" >&2; exit 2; }
mapfile -t files < <(git ls-files 'lib/*.cpp' 'tools/*.cpp')
[ ${#files[@]} -gt 0 ] || { echo "check-tidy: no source files found (not a git checkout?)" >&2; exit 2; }
out=$(mktemp)
trap 'rm -f "$out"' EXIT
# Two files at a time per core; clang-tidy's own notes go to stderr, findings to stdout.
printf '%s\n' "${files[@]}" | xargs -n 4 -P "$(nproc)" "$tidy" -p "$build" --quiet >"$out" 2>/dev/null || true
findings=$(grep -c 'warning:\|error:' "$out" || true)
if [ "$findings" != 0 ]; then
    grep -A3 'warning:\|error:' "$out" | head -n 80 >&2
    echo "check-tidy: $findings findings in ${#files[@]} files" >&2
    exit 1
fi
echo "check-tidy: ${#files[@]} files, no findings"

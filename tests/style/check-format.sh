#!/usr/bin/env bash
# Every C++ file of the project against .clang-format (clang-format --dry-run --Werror):
# prints the first differences and fails when a file is not formatted.
# Usage: tests/style/check-format.sh [clang-format binary]
set -euo pipefail
cd "$(dirname "$0")/../.."
formatter=${1:-clang-format}
command -v "$formatter" >/dev/null || { echo "check-format: $formatter not found (apt-get install clang-format)" >&2; exit 2; }
mapfile -t files < <(git ls-files '*.cpp' '*.hpp' | grep -v '^tests/hiding/')
[ ${#files[@]} -gt 0 ] || { echo "check-format: no C++ files found (not a git checkout?)" >&2; exit 2; }
if ! "$formatter" --dry-run --Werror "${files[@]}" 2>/tmp/check-format.$$; then
    head -n 40 /tmp/check-format.$$ >&2
    echo "check-format: $(grep -c 'error:' /tmp/check-format.$$) places differ from .clang-format; run: clang-format -i FILE" >&2
    rm -f /tmp/check-format.$$
    exit 1
fi
rm -f /tmp/check-format.$$
echo "check-format: ${#files[@]} files match .clang-format"

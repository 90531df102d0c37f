#!/usr/bin/env bash
# The shipped systemd units (share/systemd/) as systemd reads them: systemd-analyze
# verify, offline, with the built tools first on PATH (it checks that ExecStart's
# programs exist). A template unit is checked as one instance of it. Any word from
# systemd-analyze (an unknown key, a bad value, a missing program) is a failure.
#
# Usage: tests/style/check-units.sh TOOLS_DIR   (the build's tools/ folder)
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
UNITS=$HERE/../../share/systemd
[ $# = 1 ] || { echo "usage: check-units.sh TOOLS_DIR" >&2; exit 2; }
command -v systemd-analyze >/dev/null || { echo "check-units: systemd-analyze missing (package systemd)" >&2; exit 1; }
tools=$(cd "$1" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for unit in "$UNITS"/*.service "$UNITS"/*.timer; do
    name=$(basename "$unit")
    cp "$unit" "$work/${name/@./@example.}"
done
export PATH=$tools/vmi-ps:$tools/vmi-lsmod:$tools/vmi-hooks:$PATH
out=$(cd "$work" && systemd-analyze verify --man=no ./*.service ./*.timer 2>&1) || true
if [ -n "$out" ]; then
    printf '%s\n' "$out" >&2
    echo "check-units: systemd-analyze verify has something to say about share/systemd/" >&2
    exit 1
fi
echo "check-units: $(ls "$work" | wc -l) unit files verified: $(ls "$work" | tr '\n' ' ')"

#!/usr/bin/env bash
# Builds a Release tree and runs the benchmarks on the cached test guests.
# Usage: bench/run.sh [GUEST...]   (default: amd64-4level amd64-5level-kaslr)
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -S . -B build-release -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build-release -j"$(nproc)" >/dev/null
guests=${VMI_GUEST_DIR:-$HOME/.cache/vmitools/guests}
[ $# -gt 0 ] || set -- amd64-4level amd64-5level-kaslr
tests/guests/build-guests.sh "$@"
for g in "$@"; do
    echo "== $g"
    build-release/bench/bench-core "$guests/$g"
    for kind in elf raw; do
        # Whole-process time of one tool run, best of 10 (page cache warm).
        best=$(for i in $(seq 10); do
            s=$(date +%s%N)
            build-release/tools/vmi-read/vmi-read --image "$guests/$g/memory.$kind" --sysmap "$guests/$g/kallsyms" \
                --ksym linux_banner --as string >/dev/null
            echo $(( ($(date +%s%N) - s) / 1000 ))
        done | sort -n | head -1)
        echo "whole process: vmi-read --ksym linux_banner ($kind) best of 10: $((best / 1000)).$(( (best % 1000) / 100 )) ms"
    done
done

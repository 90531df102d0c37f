#!/usr/bin/env bash
# Builds a Release tree and runs the benchmarks on the cached test guests.
# Usage: bench/run.sh [GUEST...]   (default: amd64-4level amd64-5level-kaslr amd64-2000procs)
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -S . -B build-release -DCMAKE_BUILD_TYPE=Release -DVMI_SANITIZE=OFF >/dev/null
cmake --build build-release -j"$(nproc)" >/dev/null
guests=${VMI_GUEST_DIR:-$HOME/.cache/vmitools/guests}
[ $# -gt 0 ] || set -- amd64-4level amd64-5level-kaslr amd64-2000procs
tests/guests/build-guests.sh "$@"
tools=build-release/tools

# Whole-process wall time of one command, best of 10 (page cache warm), in ms.
best_of_10() {
    local best
    best=$(for _ in $(seq 10); do
        s=$(date +%s%N)
        "$@" >/dev/null
        echo $(( ($(date +%s%N) - s) / 1000 ))
    done | sort -n | head -1)
    echo "$((best / 1000)).$(( (best % 1000) / 100 )) ms"
}

for g in "$@"; do
    dir=$guests/$g
    echo "== $g"
    build-release/bench/bench-core "$dir"
    for kind in elf raw; do
        common=(--image "$dir/memory.$kind" --sysmap "$dir/kallsyms")
        echo "whole process ($kind), best of 10:"
        echo "  vmi-read --ksym linux_banner: $(best_of_10 $tools/vmi-read/vmi-read "${common[@]}" --ksym linux_banner --as string)"
        if [ "$(sed -n 's/^GUEST_ARCH=//p' "$dir/guest.env")" = x86_64 ]; then
            build-release/bench/bench-linux "$dir" "$kind"
            echo "  vmi-ps: $(best_of_10 $tools/vmi-ps/vmi-ps "${common[@]}" --btf "$dir/vmlinuz")"
            echo "  vmi-ps --threads -o pid,tid,name,cmd: $(best_of_10 $tools/vmi-ps/vmi-ps "${common[@]}" --btf "$dir/vmlinuz" --threads -o pid,tid,name,cmd)"
            echo "  vmi-lsmod: $(best_of_10 $tools/vmi-lsmod/vmi-lsmod "${common[@]}" --btf "$dir/vmlinuz")"
        fi
    done
done

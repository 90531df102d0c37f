#!/usr/bin/env bash
# vmi-ps as a user runs it, whole process: zero configuration (symbols from
# the guest's kallsyms tables, BTF from its memory or a profile) with empty
# caches and with the kernel build cached, against --sysmap + --btf with an
# empty and with a warm BTF cache. Medians of wall
# time over N runs (page cache warm: one unmeasured run first) and the peak
# RSS of the median run's kind, from /usr/bin/time.
#
# Usage: bench/bench_zero_config.sh TOOLS_DIR [GUEST...]
#   TOOLS_DIR  a build's tools/ directory (build a Release tree for numbers)
#   GUEST      cached test guests (default: amd64-4level amd64-7.2-kaslr i386-pae amd64-2000procs)
# VMI_BENCH_RUNS (default 7) runs per case.
set -euo pipefail
tools=$(cd "$1" && pwd)
shift
[ $# -gt 0 ] || set -- amd64-4level amd64-7.2-kaslr i386-pae amd64-2000procs
guests=${VMI_GUEST_DIR:-$HOME/.cache/vmitools/guests}
runs=${VMI_BENCH_RUNS:-7}
repo=$(cd "$(dirname "$0")/.." && pwd)
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

# One case: "median ms, peak RSS MiB" of `runs` runs of the command, each with
# HOME and the caches in a fresh empty directory when $fresh is 1, else in a
# directory kept over the runs (caches warm after the unmeasured first run).
measure() {
    local fresh=$1
    shift
    local kept
    kept=$(mktemp -d "$scratch/kept.XXXXXX")
    local times=() rss=()
    for i in $(seq 0 "$runs"); do
        local home=$kept
        if [ "$fresh" = 1 ]; then
            home=$(mktemp -d "$scratch/fresh.XXXXXX")
        fi
        local s e
        s=$(date +%s%N)
        HOME=$home XDG_CONFIG_HOME=$home XDG_CACHE_HOME=$home/.cache VMI_CACHE_DIR= \
            /usr/bin/time -f %M -o "$scratch/rss" "$@" >/dev/null 2>"$scratch/err" ||
            {
                echo "failed: $* ($(head -c 300 "$scratch/err"))" >&2
                exit 1
            }
        e=$(date +%s%N)
        [ "$i" = 0 ] && continue # warms the page cache (and a kept cache)
        times+=($(((e - s) / 1000)))
        rss+=("$(cat "$scratch/rss")")
    done
    local t r
    t=$(printf '%s\n' "${times[@]}" | sort -n | sed -n "$(((runs + 1) / 2))p")
    r=$(printf '%s\n' "${rss[@]}" | sort -n | sed -n "$(((runs + 1) / 2))p")
    printf '%6d.%d ms  %4d MiB' $((t / 1000)) $(((t % 1000) / 100)) $((r / 1024))
}

echo "median of $runs whole-process runs (wall), peak RSS; $(nproc) CPUs, load $(cut -d' ' -f1 /proc/loadavg)"
for g in "$@"; do
    dir=$guests/$g
    arch=$(sed -n 's/^GUEST_ARCH=//p' "$dir/guest.env")
    release=$(sed -n 's/^GUEST_RELEASE=//p' "$dir/guest.env")
    for kind in elf raw; do
        image=(--image "$dir/memory.$kind")
        echo "== $g ($kind)"
        echo "  zero-config, empty caches:          $(measure 1 "$tools/vmi-ps/vmi-ps" "${image[@]}")"
        echo "  zero-config, kernel build cached:   $(measure 0 "$tools/vmi-ps/vmi-ps" "${image[@]}")"
        if [ "$arch" = x86_64 ]; then
            given=("${image[@]}" --sysmap "$dir/kallsyms" --btf "$dir/vmlinuz")
        else
            # No BTF in these kernels: the profile's System.map and offsets, as a config entry.
            xz -dc "$repo/share/profiles/$release/System.map.xz" >"$scratch/System.map-$release"
            {
                echo "guest {"
                echo "    sysmap = \"$scratch/System.map-$release\";"
                grep -v '^#' "$repo/share/profiles/$release/offsets.conf" | sed 's/^/    /'
                echo "}"
            } >"$scratch/$g.conf"
            given=(-c "$scratch/$g.conf" guest "${image[@]}")
        fi
        echo "  --sysmap/--btf given, empty caches: $(measure 1 "$tools/vmi-ps/vmi-ps" "${given[@]}")"
        echo "  --sysmap/--btf given, warm caches:  $(measure 0 "$tools/vmi-ps/vmi-ps" "${given[@]}")"
    done
done

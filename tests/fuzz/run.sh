#!/usr/bin/env bash
# Builds the libFuzzer targets with clang++ in a build directory of their own
# and runs each on its corpus, niced, one at a time unless --jobs says otherwise. Fails if any target
# crashes, leaks, times out on an input or runs out of memory.
#
# Usage: tests/fuzz/run.sh [--build-dir DIR] [--time SECONDS] [--runs N] [--jobs N] [--merge] [TARGET...]
#   --build-dir DIR  where to configure and build (default: build-fuzz in the source tree)
#   --time SECONDS   how long each target runs (default 60)
#   --jobs N         run up to N targets at the same time (default 1); each is one process
#   --runs N         stop a target after N executions, if that comes first (-runs=N)
#   --merge          afterwards, minimize the committed corpus plus what the run found
#                    (-merge=1) back into tests/fuzz/corpus/TARGET
#   TARGET           config elf_core symbol_table btf decompress qemu_monitor page_walker
#                    linux_lists (default: all)
# The committed corpora (and regressions/TARGET, inputs of bugs once found) are only read
# (unless --merge); new inputs go to DIR/corpus/TARGET, crashing inputs to DIR/artifacts/,
# each target's log to DIR/logs/TARGET.log.
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
fuzz_dir=$src/tests/fuzz

build=$src/build-fuzz
seconds=60
runs=
jobs=1
merge=0
targets=()
while [ $# -gt 0 ]; do
    case $1 in
        --build-dir) build=$2; shift 2 ;;
        --time) seconds=$2; shift 2 ;;
        --runs) runs=$2; shift 2 ;;
        --jobs) jobs=$2; shift 2 ;;
        --merge) merge=1; shift ;;
        -h|--help) sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        -*) echo "fuzz/run.sh: unknown option '$1'" >&2; exit 2 ;;
        *) targets+=("$1"); shift ;;
    esac
done
[[ $jobs =~ ^[1-9][0-9]*$ ]] || { echo "fuzz/run.sh: --jobs wants a positive number, not '$jobs'" >&2; exit 2; }
all=(config elf_core symbol_table btf decompress qemu_monitor page_walker linux_lists)
[ ${#targets[@]} -gt 0 ] || targets=("${all[@]}")

# Longest input each target takes: text and headers are small; guest RAM is up to 64 KiB.
max_len() {
    case $1 in
        page_walker) echo 65610 ;;
        linux_lists) echo 65536 ;;
        *) echo 8192 ;;
    esac
}

for tool in clang++ cmake; do
    command -v $tool >/dev/null || { echo "fuzz/run.sh: $tool not found (scripts/install-deps.sh --test)" >&2; exit 2; }
done
started=$SECONDS
echo "fuzz/run.sh: building the fuzz targets with clang++ in $build"
mkdir -p "$build"
# -O1 and line tables only, as fuzzing builds usually are (reports still name file and
# line; a tenth less compile time than -O2 -g); through ccache when it is installed.
. "$src/scripts/compiler-cache.sh"
if ! CXX=clang++ cmake -S "$src" -B "$build" -DVMI_FUZZ=ON -DVMI_BUILD_TESTS=OFF -DVMI_BUILD_BENCH=OFF \
        -DCMAKE_BUILD_TYPE=None -DCMAKE_CXX_FLAGS="-O1 -gline-tables-only" "${compiler_cache_args[@]}" \
        >"$build/configure.log" 2>&1; then
    tail -n 30 "$build/configure.log" >&2
    echo "fuzz/run.sh: configuring $build failed" >&2
    exit 1
fi
if ! nice -n 10 cmake --build "$build" --target fuzzers -j"$(nproc)" >"$build/build.log" 2>&1; then
    grep -E 'error|Error' -A3 "$build/build.log" | head -n 40 >&2
    echo "fuzz/run.sh: building the fuzz targets failed (log: $build/build.log)" >&2
    exit 1
fi
echo "fuzz/run.sh: built in $((SECONDS - started)) s"

# Leaks and undefined behaviour are failures too; a crash report names its input.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
# One target's run (and merge); its one-line summary goes to logs/TARGET.summary and a
# failure leaves logs/TARGET.failed.
run_target() {
    local target=$1 binary corpus artifacts log options inputs t0 status execs speed cov merged
    binary=$build/tests/fuzz/fuzz_$target
    corpus=$build/corpus/$target
    artifacts=$build/artifacts/$target
    log=$build/logs/$target.log
    mkdir -p "$corpus" "$artifacts" "$(dirname "$log")"
    options=(-max_len="$(max_len "$target")" -rss_limit_mb=2048 -timeout=30 -print_final_stats=1
             -artifact_prefix="$artifacts/")
    [ -f "$fuzz_dir/dict/$target.dict" ] && options+=(-dict="$fuzz_dir/dict/$target.dict")
    options+=(-max_total_time="$seconds")
    [ -n "$runs" ] && options+=(-runs="$runs")
    # New inputs go to the first directory; the committed corpus and the inputs
    # of bugs once found (regressions/, kept out of --merge) are only read.
    inputs=("$corpus" "$fuzz_dir/corpus/$target")
    [ -d "$fuzz_dir/regressions/$target" ] && inputs+=("$fuzz_dir/regressions/$target")
    t0=$SECONDS
    if nice -n 10 "$binary" "${options[@]}" "${inputs[@]}" >"$log" 2>&1; then
        status=ok
    else
        status=FAILED
    fi
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
    cov=$(grep -o 'cov: [0-9]* ft: [0-9]*' "$log" | tail -n 1)
    # The summary goes to a file, printed in target order once every run has ended.
    printf 'fuzz/run.sh: %-13s %-6s %5d s  %10s execs  %6s exec/s  %s\n' "$target" "$status" $((SECONDS - t0)) \
        "${execs:-?}" "${speed:-?}" "${cov:-}" >"$build/logs/$target.summary"
    if [ $status = FAILED ]; then
        touch "$build/logs/$target.failed"
        grep -E 'ERROR|SUMMARY|invariant violated|error message is not one line|Test unit written' "$log" | head -n 8 >&2
        echo "fuzz/run.sh: $target failed; log: $log; reproduce: $binary ARTIFACT" >&2
    fi
    if [ $merge = 1 ] && [ $status = ok ]; then
        merged=$build/merged/$target
        rm -rf "$merged" && mkdir -p "$merged"
        nice -n 10 "$binary" -merge=1 -max_len="$(max_len "$target")" -rss_limit_mb=2048 -timeout=30 \
            "$merged" "$fuzz_dir/corpus/$target" "$corpus" >"$build/logs/$target.merge.log" 2>&1
        rm -rf "$fuzz_dir/corpus/$target" && cp -r "$merged" "$fuzz_dir/corpus/$target"
        echo "fuzz/run.sh: $target corpus minimized: $(find "$merged" -type f | wc -l) files," \
            "$(du -sk "$merged" | cut -f1) KiB"
    fi
}

for target in "${targets[@]}"; do
    [ -x "$build/tests/fuzz/fuzz_$target" ] || { echo "fuzz/run.sh: no target '$target'" >&2; exit 2; }
    rm -f "$build/logs/$target.summary" "$build/logs/$target.failed"
done
running=0
for target in "${targets[@]}"; do
    # Up to --jobs targets at once: the next one starts when one ends.
    if [ $running -ge "$jobs" ]; then
        wait -n || true
        running=$((running - 1))
    fi
    run_target "$target" &
    running=$((running + 1))
done
wait
failed=()
for target in "${targets[@]}"; do
    if [ -f "$build/logs/$target.summary" ]; then
        cat "$build/logs/$target.summary"
    else
        echo "fuzz/run.sh: $target ended without a summary" >&2
        failed+=("$target")
    fi
    [ ! -f "$build/logs/$target.failed" ] || failed+=("$target")
done
echo "fuzz/run.sh: ${#targets[@]} targets in $((SECONDS - started)) s (build included)"
if [ ${#failed[@]} -gt 0 ]; then
    echo "fuzz/run.sh: failed: ${failed[*]}" >&2
    exit 1
fi

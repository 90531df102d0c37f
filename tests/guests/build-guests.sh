#!/usr/bin/env bash
# Build and cache real Linux test guests, boot each under QEMU (TCG), and record what the
# guest itself reported (/proc/version, ps, /proc/modules, /proc/kallsyms) next to a
# physical memory dump taken while it was paused. Tests compare the tools' view of the
# dump with the guest's own view.
#
# Usage: tests/guests/build-guests.sh [--dir DIR] [--force] [--procs N] [--jobs J] [--check] [GUEST...|all]
#   DIR    defaults to ${VMI_GUEST_DIR:-$HOME/.cache/vmitools/guests}
#   J      guests booted at the same time (default 1; each QEMU uses one core)
#   --check  builds nothing: exit 0 if every guest named is built and up to date, else 1
#   GUEST  amd64-4level amd64-5level-kaslr i386-pae i386-2level amd64-2000procs
#          amd64-busy-kpti amd64-6.12-kaslr amd64-7.2-kaslr (default: all of them;
#          `all` says the same)
#   N      extra sleep processes per guest (default 20; amd64-2000procs: 2000)
#   VMI_BOOT_TIMEOUT (env) overrides the 180 s boot limit for slow CI machines.
#
# Each guest ends up in DIR/<guest>/ with: vmlinuz initrd.gz kernel-release version.txt
# kallsyms ps.txt procs.txt threads.txt cmdline.txt modules.txt registers.txt memory.elf
# memory.raw guest.env console.log done. A guest whose `done` stamp matches the hash of
# this script, its stages and its inputs is skipped unless --force. Downloads are cached
# in DIR/_downloads.
#
# This file is the driver; each stage of a build is a file in stages/: guests.sh (the
# guest table), fetch.sh (host tools, kernel and busybox .debs), initramfs.sh and
# init.sh.in (the initramfs and the guest's /init), boot.sh (QEMU, QMP pause and dumps),
# record.sh (the guest's files, their checks, guest.env).
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SCRIPT_PATH="$SCRIPT_DIR/$(basename "${BASH_SOURCE[0]}")"
STAGES_DIR="$SCRIPT_DIR/stages"
STAGES=(guests fetch initramfs boot record)
READY_MARKER='@@VMI READY@@'   # /init prints it once everything is recorded
PROCS_OPTION=                  # --procs N: overrides every guest's own default

log() { printf 'build-guests: %s\n' "$*" >&2; }
die() { printf 'build-guests: error: %s\n' "$*" >&2; exit 1; }

usage() {
    sed -n '7,15p' "$SCRIPT_PATH" | sed 's/^# \{0,1\}//' >&2
    exit "${1:-2}"
}

for stage in "${STAGES[@]}"; do
    # shellcheck source=/dev/null
    . "$STAGES_DIR/$stage.sh"
done

# --- arguments ---------------------------------------------------------------------------
DIR=${VMI_GUEST_DIR:-$HOME/.cache/vmitools/guests}
FORCE=0
JOBS=1
CHECK_ONLY=0
GUESTS=()
while [ $# -gt 0 ]; do
    case $1 in
        --dir) [ $# -ge 2 ] || usage; DIR=$2; shift 2 ;;
        --dir=*) DIR=${1#--dir=}; shift ;;
        --force) FORCE=1; shift ;;
        --procs) [ $# -ge 2 ] || usage; PROCS_OPTION=$2; shift 2 ;;
        --procs=*) PROCS_OPTION=${1#--procs=}; shift ;;
        --jobs) [ $# -ge 2 ] || usage; JOBS=$2; shift 2 ;;
        --jobs=*) JOBS=${1#--jobs=}; shift ;;
        --check) CHECK_ONLY=1; shift ;;
        -h|--help) usage 0 ;;
        -*) log "unknown option: $1"; usage ;;
        all) GUESTS+=("${ALL_GUESTS[@]}"); shift ;;
        *) GUESTS+=("$1"); shift ;;
    esac
done
[ -z "$PROCS_OPTION" ] || [[ $PROCS_OPTION =~ ^[0-9]+$ ]] || die "--procs wants a number, got '$PROCS_OPTION'"
[[ $JOBS =~ ^[1-9][0-9]*$ ]] || die "--jobs wants a positive number, got '$JOBS'"
[ ${#GUESTS[@]} -gt 0 ] || GUESTS=("${ALL_GUESTS[@]}")
for g in "${GUESTS[@]}"; do guest_config "$g"; done   # reject typos before any work
mkdir -p "$DIR"
DIR=$(cd "$DIR" && pwd)          # QEMU gets absolute file names for its dumps
DOWNLOADS="$DIR/_downloads"

# --- cleanup: never leave QEMU or temp files behind -------------------------------------
TMP_DIRS=()
cleanup() {
    stop_qemu
    [ ${#TMP_DIRS[@]} -eq 0 ] || rm -rf "${TMP_DIRS[@]}"
    TMP_DIRS=()
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Guests built side by side share the downloads and the host's packages: one build at a
# time installs, updates apt's lists or downloads.
FETCH_FD=
fetch_lock()   { exec {FETCH_FD}>"$DOWNLOADS/.fetch.lock"; flock "$FETCH_FD"; }
fetch_unlock() { exec {FETCH_FD}>&-; }

# --- one guest -------------------------------------------------------------------------------
# Every file the build reads, so that a change to any of them rebuilds the guests.
inputs_hash() {
    local stage
    { cat "$SCRIPT_PATH"
      for stage in "${STAGES[@]}"; do cat "$STAGES_DIR/$stage.sh"; done
      cat "$INIT_TEMPLATE" "$QMP" "$SCRIPT_DIR/threads.c" "$SCRIPT_DIR/spin.c"
      echo "$GUEST $KERNEL_ABI $KERNEL_VERSION $PROCS $RAM_MB"; } | sha256sum | cut -d' ' -f1
}

# True if guest $1 is built from the inputs this script would build it from now.
up_to_date() {
    GUEST=$1
    guest_config "$GUEST"
    [ -f "$DIR/$GUEST/done" ] && [ "$(cat "$DIR/$GUEST/done")" = "$(inputs_hash)" ]
}

build_guest() {
    GUEST=$1
    guest_config "$GUEST"
    local final="$DIR/$GUEST" hash ktree vmlinuz
    BUILD_START=$SECONDS
    hash=$(inputs_hash)
    if [ $FORCE = 0 ] && [ -f "$final/done" ] && [ "$(cat "$final/done")" = "$hash" ]; then
        log "$GUEST: up to date, skipped"
        return 0
    fi
    mkdir -p "$DOWNLOADS"
    fetch_lock
    ensure_host_tools
    log "$GUEST: building ($ARCH, -cpu $QEMU_CPU, paging $PAGING, kaslr $KASLR)"
    OUT="$DIR/$GUEST.partial"
    rm -rf "$OUT"; mkdir -p "$OUT"

    # Fetch and unpack.
    resolve_kernel
    fetch_busybox
    fetch_unlock
    ktree=$(mktemp -d); TMP_DIRS+=("$ktree")
    vmlinuz=$(unpack_kernel "$ktree")
    cp "$vmlinuz" "$OUT/vmlinuz"
    echo "$KERNEL_RELEASE" > "$OUT/kernel-release"
    build_initrd "$OUT/initrd.gz" "$BUSYBOX_DEB" "$ktree"
    rm -rf "$ktree"

    # Boot and dump.
    KERNEL_CMDLINE="console=ttyS0 panic=-1"
    [ $KASLR = 1 ] || KERNEL_CMDLINE+=" nokaslr"
    [ -z "$APPEND" ] || KERNEL_CMDLINE+=" $APPEND"
    start_qemu
    run_and_dump
    cleanup

    # Record and check.
    extract_results
    check_and_write_env
    rm -rf "$final"
    mv "$OUT" "$final"
    OUT=$final
    echo "$hash" > "$final/done"
    log "$GUEST: done in $((SECONDS - BUILD_START)) s -> $final"
}

if [ $CHECK_ONLY = 1 ]; then
    stale=()
    for g in "${GUESTS[@]}"; do up_to_date "$g" || stale+=("$g"); done
    [ ${#stale[@]} -eq 0 ] || { log "not built or out of date: ${stale[*]}"; exit 1; }
    exit 0
fi

if [ "$JOBS" = 1 ]; then
    for g in "${GUESTS[@]}"; do
        build_guest "$g"
    done
    exit 0
fi

# Side by side: each guest in a subshell with its own QEMU, temp dirs and clean-up; the
# script fails if any build failed, after all of them ended. Ctrl-C ends them all.
trap 'kill $(jobs -p) 2>/dev/null; wait; exit 130' INT
trap 'kill $(jobs -p) 2>/dev/null; wait; exit 143' TERM
pids=()
for g in "${GUESTS[@]}"; do
    while [ "$(jobs -rp | wc -l)" -ge "$JOBS" ]; do wait -n || true; done
    ( trap cleanup EXIT; trap 'exit 130' INT; trap 'exit 143' TERM; build_guest "$g" ) &
    pids+=($!)
done
failed=()
for i in "${!pids[@]}"; do
    wait "${pids[$i]}" || failed+=("${GUESTS[$i]}")
done
[ ${#failed[@]} -eq 0 ] || die "failed to build: ${failed[*]}"

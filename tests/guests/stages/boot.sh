# Booting and dumping: run the guest under QEMU (TCG) until its /init says it is ready,
# pause it (registers.txt) and dump its memory over QMP (memory.elf, memory.raw).
# Sourced by build-guests.sh; every wait is bounded.

BOOT_TIMEOUT=${VMI_BOOT_TIMEOUT:-180}   # seconds for a guest to print its ready marker
QMP_TIMEOUT=300              # seconds for one QMP command (the memory dumps)
PAUSE_TRIES=20               # amd64-busy-kpti: pauses tried to catch the vCPU in user mode
QMP="$SCRIPT_DIR/qmp.py"
QEMU_PID=

# Boot $OUT/vmlinuz and $OUT/initrd.gz with kernel command line $KERNEL_CMDLINE. ttyS0
# (the console) goes to console.log, ttyS1 (kallsyms) to kallsyms.raw.
start_qemu() {
    # UNIX socket paths are limited to 108 bytes, so the socket lives in a short temp dir.
    local sockdir; sockdir=$(mktemp -d /tmp/vmiqmp.XXXXXX); TMP_DIRS+=("$sockdir")
    QMP_SOCK="$sockdir/qmp.sock"
    : > "$OUT/console.log"; : > "$OUT/kallsyms.raw"
    log "$GUEST: booting $KERNEL_RELEASE"
    "$QEMU" -accel tcg -cpu "$QEMU_CPU" -m "$RAM_MB" -smp 1 \
        -display none -no-reboot -nodefaults \
        -kernel "$OUT/vmlinuz" -initrd "$OUT/initrd.gz" -append "$KERNEL_CMDLINE" \
        -qmp "unix:$QMP_SOCK,server=on,wait=off" \
        -serial "file:$OUT/console.log" -serial "file:$OUT/kallsyms.raw" \
        </dev/null >"$OUT/qemu.log" 2>&1 &
    QEMU_PID=$!
}

# Kill our QEMU if it still runs (the EXIT trap calls this too).
stop_qemu() {
    if [ -n "$QEMU_PID" ] && kill -0 "$QEMU_PID" 2>/dev/null; then
        kill "$QEMU_PID" 2>/dev/null || true
        for _ in $(seq 50); do kill -0 "$QEMU_PID" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$QEMU_PID" 2>/dev/null || true
    fi
    QEMU_PID=
}

wait_for_marker() {    # file marker seconds what
    local file=$1 marker=$2 deadline=$((SECONDS + $3))
    while ! grep -qaF "$marker" "$file" 2>/dev/null; do
        if ! kill -0 "$QEMU_PID" 2>/dev/null; then
            tail -n 20 "$OUT/console.log" "$OUT/qemu.log" >&2 || true
            die "$GUEST: QEMU exited before $4 (console: $OUT/console.log)"
        fi
        if [ $SECONDS -ge $deadline ]; then
            tail -n 20 "$OUT/console.log" >&2 || true
            die "$GUEST: no $4 within $3 s; guest killed (console: $OUT/console.log)"
        fi
        sleep 0.5
    done
}

qmp() { python3 "$QMP" --timeout "$QMP_TIMEOUT" "$QMP_SOCK" "$@"; }

register() {  # name -> hex value (no 0x) from registers.txt
    grep -oE "(^| )$1=[0-9a-fA-F]+" "$OUT/registers.txt" | head -n1 | cut -d= -f2
}

# Pause the guest and record its registers in registers.txt; PAUSES counts the pauses.
# A guest that wants a user-mode CR3 (KPTI: bit 12 set, the user half of the PGD pair)
# is let run a little and paused again until it has one, with CPL 3: the kernel's entry
# and exit code also runs briefly on the user CR3. The spinners make that likely (about
# 9 pauses in 10), not certain; after PAUSE_TRIES the last state stays.
pause_guest() {
    local cr3 cpl
    PAUSES=0
    while :; do
        PAUSES=$((PAUSES + 1))
        qmp stop >/dev/null
        qmp human-monitor-command '{"command-line": "info registers"}' | tr -d '\r' > "$OUT/registers.txt"
        [ $WANT_USER_CR3 = 1 ] || return 0
        cr3=$(register CR3)
        cpl=$(grep -oE 'CPL=[0-3]' "$OUT/registers.txt" | head -n1 | cut -d= -f2)
        if (( 16#${cr3:-0} & 0x1000 )) && [ "$cpl" = 3 ]; then
            log "$GUEST: user-mode CR3 0x$cr3 at pause $PAUSES"
            return 0
        fi
        if [ $PAUSES -ge $PAUSE_TRIES ]; then
            log "$GUEST: WARNING: no user-mode CR3 in $PAUSES pauses; dumping with CR3 0x$cr3, CPL $cpl"
            return 0
        fi
        qmp cont >/dev/null
        # An irregular delay, so that the pauses do not fall into step with the guest's timer.
        sleep "0.$((RANDOM % 9 + 1))"
    done
}

# Wait for the ready marker, pause, dump memory.elf and memory.raw, and end QEMU.
run_and_dump() {
    wait_for_marker "$OUT/console.log" "$READY_MARKER" "$BOOT_TIMEOUT" "ready marker"
    # init closes ttyS1 (waiting for it to drain) before printing the ready marker, so
    # this is a formality, still bounded.
    wait_for_marker "$OUT/kallsyms.raw" "@@VMI END kallsyms@@" 30 "end of kallsyms"
    log "$GUEST: ready after $((SECONDS - BUILD_START)) s; pausing and dumping memory"

    pause_guest
    qmp dump-guest-memory "{\"paging\": false, \"protocol\": \"file:$OUT/memory.elf\"}" >/dev/null
    qmp pmemsave "{\"val\": 0, \"size\": $((RAM_MB * 1024 * 1024)), \"filename\": \"$OUT/memory.raw\"}" >/dev/null
    qmp quit >/dev/null || true
    for _ in $(seq 100); do kill -0 "$QEMU_PID" 2>/dev/null || break; sleep 0.1; done
    stop_qemu
    chmod 644 "$OUT/memory.elf" "$OUT/memory.raw"   # QEMU creates them 0600
}

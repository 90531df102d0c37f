# Recording and checking: cut what the guest printed out of its serial ports into the
# guest's files (version.txt, ps.txt, procs.txt, threads.txt, cmdline.txt, modules.txt,
# kallsyms), check it for consistency, and write guest.env from it and the registers.
# Sourced by build-guests.sh.

# Link-time address of _stext: anything else in the guest's kallsyms is a KASLR slide.
LINK_STEXT_x86_64=0xffffffff81000000
LINK_STEXT_i386=0xc1000000

# Print the lines between "@@VMI BEGIN $2@@" and "@@VMI END $2@@" in file $1, CRs removed.
section() {
    tr -d '\r' < "$1" | awk -v b="@@VMI BEGIN $2@@" -v e="@@VMI END $2@@" '
        $0 == e { inside = 0; done = 1 } inside { print } $0 == b && !done { inside = 1 }'
}

extract_results() {
    section "$OUT/console.log" version | head -n1 > "$OUT/version.txt"
    section "$OUT/console.log" ps > "$OUT/ps.txt"
    section "$OUT/console.log" modules > "$OUT/modules.txt"
    # The guest lists /proc in glob order (1, 10, 100, 11, ...); numeric order diffs better.
    section "$OUT/console.log" procs | LC_ALL=C sort -s -n -k1,1 > "$OUT/procs.txt"
    section "$OUT/console.log" threads | LC_ALL=C sort -s -n -k1,1 -k2,2 > "$OUT/threads.txt"
    section "$OUT/console.log" cmdline | LC_ALL=C sort -s -n -k1,1 > "$OUT/cmdline.txt"
    section "$OUT/kallsyms.raw" kallsyms > "$OUT/kallsyms"
    rm -f "$OUT/kallsyms.raw"
    [ -s "$OUT/qemu.log" ] || rm -f "$OUT/qemu.log"

    grep -q "^Linux version $KERNEL_RELEASE " "$OUT/version.txt" \
        || die "$GUEST: version.txt does not name $KERNEL_RELEASE: $(cat "$OUT/version.txt")"
    local n; n=$(wc -l < "$OUT/ps.txt")
    [ "$n" -gt "$PROCS" ] || die "$GUEST: ps.txt has only $n lines"
    [ "$(grep -c ' sleep$' "$OUT/ps.txt")" -ge "$PROCS" ] || die "$GUEST: fewer than $PROCS sleep processes in ps.txt"
    for m in $MODULES; do
        grep -q "^$m " "$OUT/modules.txt" || die "$GUEST: module $m missing from modules.txt"
    done
    # i386 Debian kernels list no data symbols, hence the lower bound there.
    local min=50000; [ "$ARCH" = x86_64 ] || min=20000
    n=$(wc -l < "$OUT/kallsyms")
    [ "$n" -gt $min ] || die "$GUEST: kallsyms has only $n lines (expected > $min)"
    grep -qE '^[0-9a-f]+ [A-Za-z] _stext$' "$OUT/kallsyms" || die "$GUEST: no _stext in kallsyms"
    # The memory dump must hold the banner the guest printed.
    grep -qaF "$(cat "$OUT/version.txt")" "$OUT/memory.raw" \
        || die "$GUEST: /proc/version string not found in memory.raw"
    check_process_lists
}

# The procfs listings: well formed, consistent with each other and with ps.txt.
check_process_lists() {
    local lister bad n
    lister=$(section "$OUT/console.log" lister)
    read -r LISTER_PID LAST_PID_BEFORE LAST_PID_AFTER <<< "$lister"
    [[ ${LISTER_PID:-} =~ ^[0-9]+$ && ${LAST_PID_AFTER:-} =~ ^[0-9]+$ ]] \
        || die "$GUEST: no lister section on the console"
    [ "$LAST_PID_BEFORE" = "$LAST_PID_AFTER" ] \
        || log "$GUEST: WARNING: pids $((LAST_PID_BEFORE + 1))..$LAST_PID_AFTER were created during the listing"
    bad=$(grep -cvE '^[0-9]+ [0-9]+ [0-9]+ [0-9]+ [A-Za-z] .' "$OUT/procs.txt" || true)
    [ "$bad" = 0 ] || die "$GUEST: $bad malformed lines in procs.txt"
    bad=$(grep -cvE '^[0-9]+ [0-9]+ .' "$OUT/threads.txt" || true)
    [ "$bad" = 0 ] || die "$GUEST: $bad malformed lines in threads.txt"
    grep -q '^1 0 0 0 [A-Z] init$' "$OUT/procs.txt" || die "$GUEST: procs.txt has no init as pid 1"
    [ "$(grep -c ' sleep$' "$OUT/procs.txt")" -ge "$PROCS" ] || die "$GUEST: fewer than $PROCS sleep processes in procs.txt"
    # Every process has its leader thread, and exactly one line in cmdline.txt.
    cmp -s <(cut -d' ' -f1 "$OUT/procs.txt") <(awk '$1 == $2 { print $1 }' "$OUT/threads.txt") \
        || die "$GUEST: the processes in procs.txt and their leader threads in threads.txt differ"
    cmp -s <(cut -d' ' -f1 "$OUT/procs.txt") <(cut -d' ' -f1 "$OUT/cmdline.txt") \
        || die "$GUEST: procs.txt and cmdline.txt list different pids"
    THREADED_PID=
    if [ $THREADED = 1 ]; then
        THREADED_PID=$(awk '$6 == "threaded" && NF == 6 { print $1 }' "$OUT/procs.txt")
        [[ $THREADED_PID =~ ^[0-9]+$ ]] || die "$GUEST: not exactly one 'threaded' process in procs.txt"
        n=$(awk -v p="$THREADED_PID" '$1 == p && $3 == "threaded"' "$OUT/threads.txt" | wc -l)
        [ "$n" = $((THREADS_PER_PROCESS + 1)) ] \
            || die "$GUEST: process 'threaded' has $n tasks, expected $((THREADS_PER_PROCESS + 1))"
        grep -qx "$THREADED_PID /bin/threads $THREADS_PER_PROCESS" "$OUT/cmdline.txt" \
            || die "$GUEST: cmdline.txt lacks '/bin/threads $THREADS_PER_PROCESS' for pid $THREADED_PID"
    fi
    n=$(grep -c ' spin$' "$OUT/procs.txt" || true)
    [ "$n" = "$SPIN" ] || die "$GUEST: $n spin processes in procs.txt, expected $SPIN"
    # ps ran a little earlier than the listing: it lists itself, shows a 15-character
    # comm, and a kernel worker may have come, gone or changed its description meanwhile.
    # So differences are reported, not fatal.
    python3 - "$OUT/ps.txt" "$OUT/procs.txt" <<'PY' | sed "s/^/build-guests: $GUEST: WARNING: /" >&2
import sys
def name(comm):  # a kernel worker's comm without the workqueue it last served
    return comm.split("-")[0] if comm.startswith("kworker/") else comm
ps, procs = {}, {}
for line in open(sys.argv[1]).read().splitlines()[1:]:
    f = line.split(None, 4)
    if f[4:] != ["ps"]:
        ps[int(f[0])] = (f[1], f[3][0], f[4] if len(f) > 4 else "")
for line in open(sys.argv[2]).read().splitlines():
    f = line.split(" ", 5)
    procs[int(f[0])] = (f[1], f[4], f[5])
for pid in sorted(set(ps) | set(procs)):
    a, b = ps.get(pid), procs.get(pid)
    if a is None or b is None:
        print("pid %d only in %s" % (pid, "procs.txt" if a is None else "ps.txt"))
    elif a[0] != b[0] or name(a[2]) != name(b[2][:15]):
        print("pid %d: ps.txt says %s, procs.txt %s" % (pid, a, b))
PY
}

# Derive the paging mode from the registers and insist it is the one this guest is for.
check_and_write_env() {
    local cr0 cr3 cr4 efer actual stext link slide kaslr_seen pti cr3_user cpl
    cr0=$((16#$(register CR0))); cr3=$(register CR3); cr4=$((16#$(register CR4)))
    efer=$(register EFER); efer=$((16#${efer:-0}))
    [ -n "$cr3" ] || die "$GUEST: no CR3 in registers.txt"
    if (( !(cr0 & 0x80000000) )); then actual=none
    elif (( efer & 0x400 )); then   # EFER.LMA: long mode, 4- or 5-level
        if (( cr4 & 0x1000 )); then actual=la57; else actual=ia32e; fi
    elif (( cr4 & 0x20 )); then actual=pae
    else actual=legacy
    fi
    [ "$actual" = "$PAGING" ] || die "$GUEST: registers say paging '$actual', expected '$PAGING' (CR4=$(printf %#x $cr4))"

    stext=$(awk '$3 == "_stext" { print $1; exit }' "$OUT/kallsyms")
    link=LINK_STEXT_$ARCH; link=${!link}
    # bash arithmetic is signed 64-bit; the difference of two kernel addresses still fits.
    slide=$(( 16#$stext - link ))
    kaslr_seen=0; [ $slide = 0 ] || kaslr_seen=1
    if [ $KASLR = 0 ] && [ $kaslr_seen = 1 ]; then
        die "$GUEST: booted with nokaslr but _stext is 0x$stext"
    elif [ $KASLR = 1 ] && [ $kaslr_seen = 0 ]; then
        log "$GUEST: WARNING: KASLR expected but _stext is at its link address"
    fi
    # PTI as the guest itself reports it; with PTI, CR3 bit 12 selects the user half of
    # the 8 KiB PGD pair (without it, bit 12 is just an address bit, so it counts as 0).
    pti=0
    section "$OUT/console.log" cpuflags | grep -qw pti && pti=1
    [[ " $KERNEL_CMDLINE " != *" pti=on "* ]] || [ $pti = 1 ] \
        || die "$GUEST: booted with pti=on but the guest's CPU flags lack pti"
    cr3_user=0
    if [ $pti = 1 ] && (( 16#$cr3 & 0x1000 )); then cr3_user=1; fi
    cpl=$(grep -oE 'CPL=[0-3]' "$OUT/registers.txt" | head -n1 | cut -d= -f2)
    [ -n "$cpl" ] || die "$GUEST: no CPL in registers.txt"
    {
        echo "# written by tests/guests/build-guests.sh"
        echo "GUEST_NAME=$GUEST"
        echo "GUEST_ARCH=$ARCH"
        echo "GUEST_PAGING=$PAGING"
        echo "GUEST_KASLR=$kaslr_seen"
        printf 'GUEST_KASLR_SLIDE=%#x\n' "$slide"
        echo "GUEST_STEXT=0x$stext"
        echo "GUEST_RELEASE=$KERNEL_RELEASE"
        echo "GUEST_CR3=0x$cr3"
        printf 'GUEST_CR4=%#x\n' "$cr4"
        printf 'GUEST_EFER=%#x\n' "$efer"
        echo "GUEST_RAM_BYTES=$((RAM_MB * 1024 * 1024))"
        echo "GUEST_PROCS=$PROCS"
        echo "GUEST_QEMU_CPU=$QEMU_CPU"
        echo "GUEST_PTI=$pti"
        echo "GUEST_CR3_USER=$cr3_user"
        echo "GUEST_CPL=$cpl"
        echo "GUEST_PAUSES=$PAUSES"
        echo "GUEST_LISTER_PID=$LISTER_PID"
        echo "GUEST_LAST_PID=$LAST_PID_AFTER"
        echo "GUEST_THREADED_PID=$THREADED_PID"
        echo "GUEST_THREADED_TASKS=$([ -z "$THREADED_PID" ] || echo $((THREADS_PER_PROCESS + 1)))"
        echo "GUEST_SPINNERS=$SPIN"
    } > "$OUT/guest.env"
}

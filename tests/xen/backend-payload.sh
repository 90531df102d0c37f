#!/bin/sh
# The payload of tests/xen/test_xen_backend.py: runs in dom0 of the nested Xen host
# (busybox sh, cwd /payload, see README.md "Writing a payload") and points our tools at
# the PV domU through the Xen backend. Each step's stdout, stderr and exit code land in
# $PAYLOAD_OUT/<step>.{out,err,rc}; the host compares them with the domU's own records.
# Always exits 0 when it got to the end: the checks are the host's.
O=$PAYLOAD_OUT
N=$DOMU_NAME
K=$DOMU_DIR/kallsyms
B=/domu/vmlinuz
C=$O/vmi.conf
FLAGS="--sysmap $K --btf $B"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
# The BTF unpacked from the vmlinuz once, kept for the other steps (man vmi.conf, btf).
export VMI_CACHE_DIR=/tmp/vmi-cache

# Time limits, seconds: a tool's step (STEP_LIMIT, bench-xen BENCH_LIMIT) and an xl call
# (XL_LIMIT, `xl create` XL_CREATE_LIMIT). Our tools must never hang: a step that runs
# out is killed (exit 137, its .seconds file says how long it ran) and the host reports
# it. xl can hang or die here (README): a limit keeps it from taking the payload along.
STEP_LIMIT=180 BENCH_LIMIT=300 XL_LIMIT=60 XL_CREATE_LIMIT=300

elapsed() { read -r up _ < /proc/uptime; echo "${up%.*}"; }
# What the payload is doing, in $O/current-step: the host names it when dom0 had to stop
# the payload at its time limit.
phase() { echo "$*" > "$O/current-step"; }
# step_limited SECONDS NAME COMMAND...: NAME's .out, .err, .rc and .seconds.
# A tool that dies of SIGSEGV, SIGBUS or SIGILL (exit 139, 135, 132, or exit 1 with
# ASan's report of such a signal) runs once more, like xl: dom0's processes die so here
# now and then (README). The first try's stderr stays in NAME.crash.err and the rerun is
# noted in $O/step-reruns.txt, which the host prints with the crash's first frames; a
# second death is the step's result. Not the time limit's SIGKILL (137).
step_limited() {
    step_limit=$1 step_name=$2
    shift 2
    phase "step $step_name"
    step_start=$(elapsed)
    step_try=1
    while :; do
        timeout -s KILL "$step_limit" "$@" > "$O/$step_name.out" 2> "$O/$step_name.err"
        step_rc=$?
        [ $step_try = 1 ] || break
        case $step_rc in
            132|135|139) ;;
            *) grep -q 'AddressSanitizer:DEADLYSIGNAL' "$O/$step_name.err" 2>/dev/null || break ;;
        esac
        mv "$O/$step_name.err" "$O/$step_name.crash.err"
        echo "$step_name: exit $step_rc after $(($(elapsed) - step_start)) s, run again" >> "$O/step-reruns.txt"
        step_try=2
    done
    echo $step_rc > "$O/$step_name.rc"
    echo "$(($(elapsed) - step_start))" > "$O/$step_name.seconds"
}
step() { step_limited "$STEP_LIMIT" "$@"; }
# xl, with its limit. `xl list`, `destroy` and `create` run again (up to 3 times) when
# xl died of a signal, as dom0 processes do here (README): 132, 135, 139 (not 137, the
# limit). A crashed `xl create` may have left half a domain: it is destroyed first. Not
# pause and unpause: Xen counts them. Each rerun is noted in $O/xl-reruns.txt.
xl() {
    case $1 in create) xl_limit=$XL_CREATE_LIMIT ;; *) xl_limit=$XL_LIMIT ;; esac
    xl_try=1
    while :; do
        timeout -s KILL "$xl_limit" xl "$@"
        xl_rc=$?
        case $xl_rc in 132|135|139) ;; *) return $xl_rc ;; esac
        case $1 in list|destroy|create) ;; *) return $xl_rc ;; esac
        [ $xl_try -lt 3 ] || return $xl_rc
        echo "xl $*: exit $xl_rc, run again" >> "$O/xl-reruns.txt"
        if [ "$1" = create ]; then
            timeout -s KILL "$XL_LIMIT" xl destroy "$(sed -n 's/^name = "\(.*\)"$/\1/p' "$2")" 2>/dev/null
        fi
        xl_try=$((xl_try + 1))
    done
}
state() { xl list "$1" 2>/dev/null | awk 'NR == 2 { print $5 }'; }

started=$(elapsed)
# When dom0 stops the payload (dom0-init.sh's watchdog, its limit in /etc/vmi-run.conf):
# a second boot of a PVH or HVM domU is tried only while RETRY_TOOLS seconds for its
# tools' steps are left after the boot's own limit.
PAYLOAD_TIMEOUT=1200
[ ! -f /etc/vmi-run.conf ] || . /etc/vmi-run.conf
deadline=$((started + PAYLOAD_TIMEOUT)) RETRY_TOOLS=200
xl list > "$O/xl-list-before.txt" 2>&1
state "$N" > "$O/state-before.txt"
printf '%s {\n    backend = "xen";\n    sysmap = "%s";\n    btf = "%s";\n}\n' "$N" "$K" "$B" > "$C"

# The lists: by name through a config entry with backend = "xen", by name with flags, by id.
step ps-config ./vmi-ps -c "$C" "$N" -o pid,ppid,uid,gid,state,name --no-headers -r -v
step ps-name ./vmi-ps --backend xen $FLAGS "$N" -o pid,ppid,uid,gid,state,name --no-headers -r
step ps-domid ./vmi-ps --domid "$DOMU_ID" $FLAGS -o pid,ppid,uid,gid,state,name --no-headers -r
step ps-threads ./vmi-ps -c "$C" "$N" --threads -o pid,tid,name --no-headers -r
step ps-cmd ./vmi-ps -c "$C" "$N" -o pid,name,cmd --no-headers -r
step ps-json ./vmi-ps -c "$C" "$N" --format json
step lsmod ./vmi-lsmod -c "$C" "$N" --format json
step lsmod-domid ./vmi-lsmod --domid "$DOMU_ID" $FLAGS
step banner ./vmi-read -c "$C" "$N" --ksym linux_banner --as string -v
step banner-domid ./vmi-read --domid "$DOMU_ID" $FLAGS --ksym linux_banner --as string
step ksym ./vmi-ksym -c "$C" "$N" init_task

# --all-domains in a dom0: every domain but dom0, found with no --backend (there is no
# libvirt here), named from xenstore, with the uuid `xl list -v` shows; its textfile.
step all-domains ./vmi-ps --check --all-domains $FLAGS --max-pause 0 --prometheus "$O/all-domains.prom" -v
xl list -v > "$O/xl-list-v.txt" 2>&1

# vmi-write: rename a sleep through its task_struct's comm, then a kernel string and back.
step ps-task ./vmi-ps -c "$C" "$N" -o pid,name,task --no-headers -r -v
comm=$(sed -n 's/.*comm at +\(0x[0-9a-f]*\).*/\1/p' "$O/ps-task.err" | head -n 1)
line=$(awk '$2 == "sleep" { print $1, $3; exit }' "$O/ps-task.out")
pid=${line%% *} task=${line#* }
if [ -n "$comm" ] && [ -n "$pid" ]; then
    address=0x$(printf '%x' $((0x${task#0x} + comm)))
    echo "$pid $address" > "$O/renamed.txt"
    step write-dry ./vmi-write -c "$C" "$N" --va "$address" --string xenwrite --nul --dry-run
    step ps-after-dry ./vmi-ps -c "$C" "$N" -o pid,name,task --no-headers -r
    step write-comm ./vmi-write -c "$C" "$N" --va "$address" --string xenwrite --nul --live-write -v
    step ps-after-write ./vmi-ps -c "$C" "$N" -o pid,name,task --no-headers -r
else
    echo "no sleep process or comm offset in vmi-ps's output" > "$O/renamed.txt"
fi
# (After "Linux version ": the tools find the kernel by that prefix.)
release=$(cut -d' ' -f3 "$DOMU_DIR/version.txt")
step write-banner ./vmi-write -c "$C" "$N" --live-write --force --ksym linux_banner+14 --string "$(echo "$release" | sed 's/[0-9]/9/g')"
step banner-written ./vmi-read -c "$C" "$N" --ksym linux_banner --as string
step write-banner-back ./vmi-write -c "$C" "$N" --live-write --force --ksym linux_banner+14 --string "$release"
step banner-back ./vmi-read -c "$C" "$N" --ksym linux_banner --as string

# A domain someone else paused stays paused.
phase "xl pause $N"
xl pause "$N"
state "$N" > "$O/state-paused-before.txt"
step ps-paused ./vmi-ps -c "$C" "$N" -o pid,name --no-headers -r -v
state "$N" > "$O/state-paused-after.txt"
xl unpause "$N"

# SIGKILL at the pause (a --check, the longest pause): the tool's guardian resumes the
# domain; with the guardian killed too (as systemd kills a unit's control group), the
# domain stays paused until --resume-abandoned (the units' ExecStopPost) resumes it.
# killed_at_pause NAME [both]: NAME.err (the tool's -v), NAME.pid, NAME.attempts,
# NAME.state-after (a second after the kill), NAME.lock (the pause lock's record, from
# the file -v names). The kill comes once -v says "guest paused"; a run whose walk was
# over before the kill came ("guest resumed") is run again, up to 5 times.
killed_at_pause() {
    phase "SIGKILL at the pause: $1"
    attempt=1
    while :; do
        ./vmi-ps -c "$C" "$N" --check --max-pause 0 -v > /dev/null 2> "$O/$1.err" &
        tool=$!
        tries=0
        while [ $tries -lt 2400 ] && ! grep -q "guest paused" "$O/$1.err"; do sleep 0.05; tries=$((tries + 1)); done
        guardian=$(sed -n 's/.*pause guardian started (pid \([0-9]*\)).*/\1/p' "$O/$1.err" | head -n 1)
        if [ "$2" = both ] && [ -n "$guardian" ]; then kill -9 "$guardian"; fi
        kill -9 "$tool"
        wait "$tool"
        if ! grep -q "guest resumed" "$O/$1.err" || [ $attempt -ge 5 ]; then break; fi
        attempt=$((attempt + 1))
    done
    echo "$tool" > "$O/$1.pid"
    echo "$attempt" > "$O/$1.attempts"
    sleep 1
    state "$N" > "$O/$1.state-after"
    lock=$(sed -n 's/.*pause lock \(.*\) taken after.*/\1/p' "$O/$1.err" | head -n 1)
    cat "$lock" > "$O/$1.lock" 2>&1
}
killed_at_pause killed
killed_at_pause killed-both both
step resume-abandoned ./vmi-ps -c "$C" "$N" --resume-abandoned
state "$N" > "$O/state-resumed-abandoned.txt"
xl unpause "$N" 2>/dev/null # whatever the tools did, the rest runs on a running domain

# Errors, one line each.
step err-name ./vmi-ps --backend xen $FLAGS no-such-domain
step err-domid ./vmi-ps --domid 4242 $FLAGS
grep -q '^nobody:' /etc/passwd 2>/dev/null || echo 'nobody:x:65534:65534:nobody:/:/bin/sh' >> /etc/passwd
grep -q '^nogroup:' /etc/group 2>/dev/null || echo 'nogroup:x:65534:' >> /etc/group
step err-unprivileged su -s /bin/sh nobody -c "ASAN_OPTIONS=$ASAN_OPTIONS ./vmi-ps --backend xen $FLAGS $N"

# Numbers, next to bench-live's for QEMU guests.
[ ! -x ./bench-xen ] || step_limited "$BENCH_LIMIT" bench ./bench-xen "$N" "$K" "$B"

state "$N" > "$O/state-after-tools.txt"
echo "$(($(elapsed) - started))" > "$O/tools-seconds.txt"

# The HVM family: Xen translates their frames (guest pfns, no p2m of their own) and their
# registers come from the HVM context. The same kernel and initramfs boot as
#  - a PVH domU (no device model, console hvc0), when the host asks for it (pvh.enabled):
#    the tools get --sysmap (its kallsyms, from its console) and --btf;
#  - an HVM domU (hvmloader, SeaBIOS and the qemu-xen device model, which the harness put
#    in dom0 for run --hvm; console on its emulated COM1) when asked (hvm.enabled): its
#    kallsyms would take far too long over that UART (vmi.nokallsyms), so the tools get
#    nothing but its name: symbols, types and their cache come from its memory. Each
#    byte on that UART is an exit to the device model in dom0: the kernel boots quiet.
# Each one runs alone (the one before is destroyed). tsc_mode native: see README.
# Its records come from its own console, like the PV domU's; its steps' files are named
# TYPE-*, its own files land in $O/TYPE/.

# hvm_family_domu TYPE LOG READY-LIMIT CONFIG-LINES: creates vmi-TYPE, waits up to
# READY-LIMIT seconds for its ready marker in LOG, then runs the tools on it: with
# --sysmap and --btf when its console gave its kallsyms, with nothing but its name when not.
hvm_family_domu() {
    type=$1 log=$2 ready_limit=$3 lines=$4 name=vmi-$1 dir=$O/$1 start=$(elapsed)
    mkdir -p "$dir"
    phase "$type domU: xl create, then its ready marker"
    printf 'name = "%s"\ntype = "%s"\nkernel = "/domu/vmlinuz"\nramdisk = "/domu/initrd.gz"\nmemory = 256\nvcpus = 1\non_crash = "preserve"\ntsc_mode = "native"\n%s\n' \
        "$name" "$type" "$lines" > "/tmp/$name.cfg"
    # A create that fails, or a domU that crashes before its ready marker (busybox dies
    # now and then in a nested domU as in dom0, README), is tried once more when what is
    # left of the payload's limit holds another boot and the tools' steps; each try's
    # exit code and seconds go to its log, a crashed try's console to console-try1.log.
    boot_try=1
    while :; do
        create_start=$(elapsed)
        xl create "/tmp/$name.cfg" >> "$dir/create.log" 2>&1
        create_rc=$?
        echo "xl create (try $boot_try): exit $create_rc after $(($(elapsed) - create_start)) s" >> "$dir/create.log"
        ready=0
        if [ $create_rc -eq 0 ]; then
            # xl (and busybox) crash now and then in dom0 while a domain boots (README): a
            # state is believed only when xl gave one, and 5 misses in a row mean gone.
            missing=0
            while :; do
                if grep -qF '@@VMI DOMU READY@@' "$log" 2>/dev/null; then ready=1; break; fi
                domu_state=$(state "$name")
                case $domu_state in
                    *s*|*c*) break ;;
                    '') missing=$((missing + 1)); [ $missing -lt 5 ] || break ;;
                    *) missing=0 ;;
                esac
                [ $(($(elapsed) - start)) -lt "$ready_limit" ] || break
                sleep 2
            done
        fi
        [ $ready = 0 ] && [ $boot_try = 1 ] && [ $((deadline - $(elapsed))) -gt $((ready_limit + RETRY_TOOLS)) ] || break
        echo "try $boot_try: $([ $create_rc -ne 0 ] && echo "xl create failed" || echo "no ready marker, state '$domu_state'") after $(($(elapsed) - start)) s; once more" >> "$dir/create.log"
        xl destroy "$name" >> "$dir/create.log" 2>&1
        tr -d '\r' < "$log" > "$dir/console-try1.log" 2>/dev/null
        rm -f "$log"
        boot_try=2 start=$(elapsed)
    done
    [ $create_rc -eq 0 ] || return 0
    echo "$(($(elapsed) - start))" > "$dir/ready-seconds.txt"
    tr -d '\r' < "$log" > "$dir/console.log" 2>/dev/null
    if grep -qF '@@VMI DOMU READY@@' "$dir/console.log"; then
        awk '$0 == "@@VMI END kallsyms@@" { exit } on { print } $0 == "@@VMI BEGIN kallsyms@@" { on = 1 }' \
            "$dir/console.log" > "/tmp/$name-kallsyms"
        [ -s "/tmp/$name-kallsyms" ] && A="--sysmap /tmp/$name-kallsyms --btf $B" || A=
        step $type-ps ./vmi-ps --backend xen $A $name -o pid,ppid,uid,gid,state,name --no-headers -r -v
        step $type-ps-again ./vmi-ps --backend xen $A $name -o pid,ppid,uid,gid,state,name --no-headers -r -v
        step $type-lsmod ./vmi-lsmod --backend xen $A $name --format json
        step $type-banner ./vmi-read --backend xen $A $name --ksym linux_banner --as string
        step $type-ps-task ./vmi-ps --backend xen $A $name -o pid,name,task --no-headers -r -v
        comm=$(sed -n 's/.*comm at +\(0x[0-9a-f]*\).*/\1/p' "$O/$type-ps-task.err" | head -n 1)
        line=$(awk '$2 == "sleep" { print $1, $3; exit }' "$O/$type-ps-task.out")
        pid=${line%% *} task=${line#* }
        if [ -n "$comm" ] && [ -n "$pid" ]; then
            echo "$pid" > "$dir/renamed.txt"
            step $type-write ./vmi-write --live-write --backend xen $A $name \
                --va "0x$(printf '%x' $((0x${task#0x} + comm)))" --string ${type}write --nul
            step $type-ps-after ./vmi-ps --backend xen $A $name -o pid,name,task --no-headers -r
        fi
        [ -z "$A" ] || [ ! -x ./bench-xen ] ||
            step_limited "$BENCH_LIMIT" $type-bench ./bench-xen $name "/tmp/$name-kallsyms" "$B"
    fi
    phase "$type domU: xl destroy"
    state "$name" > "$dir/state-final.txt"
    xl destroy "$name" >> "$dir/create.log" 2>&1
}

[ ! -f pvh.enabled ] || hvm_family_domu pvh /var/log/xen/console/guest-vmi-pvh.log 300 'extra = "console=hvc0 panic=-1"'
if [ -f hvm.enabled ]; then
    # The kernel cache of a zero-configuration run goes to $HOME/.cache: one that starts empty.
    export HOME=/tmp/hvm-home
    hvm_family_domu hvm /tmp/vmi-hvm-serial.log 450 'cmdline = "console=ttyS0 panic=-1 quiet vmi.nokallsyms"
device_model_version = "qemu-xen"
device_model_override = "/usr/libexec/xen-qemu-system-i386"
serial = "file:/tmp/vmi-hvm-serial.log"
vga = "none"
nographic = 1
vnc = 0
sdl = 0'
fi

# A domain that is not running: a second PV domain whose kernel finds no root file
# system, panics and reboots, which its config turns into a kept, shut-down domain.
cat > /tmp/vmi-stopped.cfg <<CFG
name = "vmi-stopped"
type = "pv"
kernel = "/domu/vmlinuz"
extra = "console=hvc0 panic=-1 root=/dev/nonexistent"
memory = 128
on_poweroff = "preserve"
on_reboot = "preserve"
on_crash = "preserve"
CFG
phase "vmi-stopped: xl create, then its shutdown"
if xl create /tmp/vmi-stopped.cfg > "$O/stopped-create.log" 2>&1; then
    waited=0
    while [ $waited -lt 180 ]; do
        case $(state vmi-stopped) in *s*|*c*) break ;; esac
        sleep 2
        waited=$((waited + 2))
    done
    state vmi-stopped > "$O/state-stopped.txt"
    step err-stopped ./vmi-ps --backend xen $FLAGS vmi-stopped
    xl destroy vmi-stopped >> "$O/stopped-create.log" 2>&1
fi

# The domU still runs after all of it.
phase "the end"
state "$N" > "$O/state-final.txt"
xl list > "$O/xl-list-after.txt" 2>&1
exit 0

#!/bin/sh
# /init of a hook test guest (tests/hiding/boot-hiding-guest.py prepends HIDDEN, STAGES and
# PROCS). Starts PROCS sleeps and the victim sleep, loads fuse/dummy/loop/nls_utf8, prints
# the kernel's version on ttyS0 and kallsyms on ttyS1, then runs one stage after another:
#   legit     the legitimate users of the hook points switched on: the function tracer,
#             a kprobe event, an enabled tracepoint event and our livepatch module
#             (vmilivepatch.ko); after the stage only the function tracer goes off again
#   MODE      insmod vmihide.ko mode=MODE pid=VICTIM hidden=HIDDEN (a hook mode f-j);
#             after the stage: unhide (hidden=1), rmmod, and the views once more
# For each stage it prints what the guest itself sees between @@VMI BEGIN STAGE-x@@ and
# @@VMI END STAGE-x@@ (shell builtins and cat only), then @@VMI STAGE STAGE@@; the host
# pauses and dumps the guest and sends one line on ttyS2 to let the next stage begin.
# At the end: the kernel log and @@VMI SURVIVED@@.
/bin/busybox mount -t proc proc /proc
/bin/busybox mount -t sysfs sysfs /sys
/bin/busybox mount -t devtmpfs devtmpfs /dev
/bin/busybox mount -t tracefs tracefs /sys/kernel/tracing
exec </dev/console >/dev/console 2>&1
/bin/busybox --install -s
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
echo "vmi-init: starting (hook guest, stages $STAGES, hidden=$HIDDEN)"
for m in /lib/modules/*.ko; do
    insmod "$m" || echo "vmi-init: insmod $m failed"
done
i=0
while [ $i -lt $PROCS ]; do
    /bin/sleep 100000 &
    i=$((i + 1))
done
/bin/sleep 100000 &
victim=$!
mkfifo /hold
echo 1 > /proc/sys/kernel/printk
T=/sys/kernel/tracing

echo "@@VMI BEGIN version@@"; cat /proc/version; echo "@@VMI END version@@"
echo "@@VMI BEGIN victim@@"; echo $victim; echo "@@VMI END victim@@"
stty -F /dev/ttyS1 raw -echo clocal 115200 || true
{ echo "@@VMI BEGIN kallsyms@@"; cat /proc/kallsyms; echo "@@VMI END kallsyms@@"; } > /dev/ttyS1
stty -F /dev/ttyS2 raw -echo clocal 115200 || true

# What the guest sees of the victim and of the fixture, as "name value" lines:
#   listed   the victim's pid in a readdir of /proc;  kill0  kill -0 VICTIM works;
#   lookup   /proc/VICTIM can be looked up;  lsmod / sysmod  vmihide in /proc/modules /
#   /sys/module;  kworker  pid of a task named kworker/1:2, or none.
views() {
    listed=no kworker=none lsmod=no sysmod=no lookup=no kill0=no
    for d in /proc/[0-9]*; do
        [ "${d#/proc/}" = $victim ] && listed=yes
        IFS= read -r comm 2>/dev/null < $d/comm && [ "$comm" = kworker/1:2 ] && kworker=${d#/proc/}
    done
    [ -e /proc/$victim/status ] && lookup=yes
    kill -0 $victim 2>/dev/null && kill0=yes
    while read -r name _; do [ "$name" = vmihide ] && lsmod=yes; done < /proc/modules
    [ -d /sys/module/vmihide ] && sysmod=yes
    echo "listed $listed"; echo "lookup $lookup"; echo "kill0 $kill0"
    echo "lsmod $lsmod"; echo "sysmod $sysmod"; echo "kworker $kworker"
}

section() { sect=$1; shift; echo "@@VMI BEGIN $sect@@"; "$@"; echo "@@VMI END $sect@@"; }

legit_on() {
    echo function > $T/current_tracer
    echo 'p:vmiprobe do_sys_openat2' >> $T/kprobe_events
    echo 1 > $T/events/kprobes/vmiprobe/enable
    echo 1 > $T/events/sched/sched_process_fork/enable
    insmod /lib/vmilivepatch.ko
    # The patch is in force once its transition has ended (up to 30 s).
    i=0
    while [ "$(cat /sys/kernel/livepatch/vmilivepatch/transition 2>/dev/null)" != 0 ] && [ $i -lt 300 ]; do
        sleep 0.1
        i=$((i + 1))
    done
}

legit_views() {
    echo "current_tracer $(cat $T/current_tracer)"
    echo "kprobe_events $(cat $T/kprobe_events)"
    echo "kprobe_enabled $(cat $T/events/kprobes/vmiprobe/enable)"
    echo "tracepoint_enabled $(cat $T/events/sched/sched_process_fork/enable)"
    echo "livepatch_enabled $(cat /sys/kernel/livepatch/vmilivepatch/enabled 2>/dev/null)"
    echo "livepatch_transition $(cat /sys/kernel/livepatch/vmilivepatch/transition 2>/dev/null)"
    echo "cmdline $(cat /proc/cmdline)"
}

for stage in $STAGES; do
    case $stage in
        legit)
            legit_on
            section legit-legit legit_views ;;
        *)
            insmod /lib/vmihide.ko mode=$stage pid=$victim hidden=$HIDDEN
            rc=$?
            echo "@@VMI BEGIN $stage-insmod@@"; echo "rc=$rc"; dmesg | grep vmihide | tail -3; echo "@@VMI END $stage-insmod@@" ;;
    esac
    section $stage-view views
    echo "@@VMI STAGE $stage@@"
    IFS= read -r cmd < /dev/ttyS2
    case $stage in
        legit)
            echo nop > $T/current_tracer ;;
        *)
            [ "$HIDDEN" = 1 ] && echo 1 > /sys/module/vmihide/parameters/unhide
            echo "@@VMI BEGIN $stage-rmmod@@"; rmmod vmihide 2>&1; rc=$?; echo "rc=$rc"; echo "@@VMI END $stage-rmmod@@"
            section $stage-after views ;;
    esac
done
echo 4 > /proc/sys/kernel/printk
sleep 1
echo "@@VMI BEGIN dmesg-all@@"; dmesg; echo "@@VMI END dmesg-all@@"
echo "@@VMI SURVIVED@@"
while :; do read -r _ < /hold; done

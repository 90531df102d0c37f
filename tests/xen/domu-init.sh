#!/bin/sh
# /init of the PV domU that tests/xen/xen-host.sh boots inside dom0.
#
# It loads a few modules, starts PROCS sleep processes and one process with THREADS extra
# threads, then prints on its console (hvc0, which xenconsoled writes to
# /var/log/xen/console/guest-NAME.log in dom0) between "@@VMI BEGIN x@@" / "@@VMI END x@@"
# markers: version, ps, modules, procs, threads, cmdline, lister and kallsyms, then
# "@@VMI DOMU READY@@", and stays idle so that its process list no longer changes.
#
# The listing part follows tests/guests/build-guests.sh's guest /init (deliberately
# duplicated, so this harness does not depend on that file's layout).
# Settings (PROCS, THREADS) come from /etc/vmi-domu.conf, written by xen-host.sh.
/bin/busybox mount -t proc proc /proc
/bin/busybox mount -t sysfs sysfs /sys
/bin/busybox mount -t devtmpfs devtmpfs /dev
exec </dev/console >/dev/console 2>&1
/bin/busybox --install -s
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
. /etc/vmi-domu.conf
echo "vmi-domu: starting"
for m in /lib/modules/*.ko; do
    insmod "$m" || echo "vmi-domu: insmod $m failed"
done
# Full paths: busybox sh would otherwise run the applet in a fork of itself (comm "init").
i=0 sleepers=
while [ $i -lt "$PROCS" ]; do
    /bin/sleep 100000 &
    sleepers="$sleepers $!"
    i=$((i + 1))
done
# Start `threads` and wait until all its threads exist (bounded: 10 s).
start_threaded() {
    /bin/threads "$THREADS" &
    threaded=$!
    tries=0
    while [ $tries -lt 100 ]; do
        n=0
        for t in /proc/$threaded/task/*; do n=$((n + 1)); done
        [ $n -le "$THREADS" ] || break
        sleep 0.1
        tries=$((tries + 1))
    done
}
start_threaded
mkfifo /hold
echo 1 > /proc/sys/kernel/printk       # keep kernel messages out of the sections
sleep 1
# Under this nesting a freshly started PV process now and then dies at once with SIGSEGV
# (exit 139; see tests/xen/README.md). Such a sleep (or `threaded`) is replaced, up to 5
# rounds, so that the domU still runs what it should; `sleepers` records each death (a
# builtin `wait` on a dead child returns its status at once) and its replacement.
replaced='' round=0
while [ $round -lt 5 ]; do
    alive='' dead=0
    for p in $sleepers; do
        if [ -d /proc/$p ]; then alive="$alive $p"; continue; fi
        wait $p; status=$? dead=$((dead + 1))
        /bin/sleep 100000 &
        replaced="$replaced $p:$status:$!" alive="$alive $!"
    done
    sleepers=$alive
    if [ ! -d /proc/$threaded ]; then
        wait $threaded; status=$? dead=$((dead + 1))
        old=$threaded
        start_threaded
        replaced="$replaced $old:$status:$threaded"
    fi
    [ $dead -gt 0 ] || break
    sleep 1
    round=$((round + 1))
done
echo "@@VMI BEGIN sleepers@@"
for p in $sleepers; do echo "$p running"; done
for r in $replaced; do
    p=${r%%:*} rest=${r#*:}
    status=${rest%%:*} new=${rest#*:}
    echo "$p exited $status replaced-by $new"
done
echo "@@VMI END sleepers@@"
echo "@@VMI BEGIN version@@"; cat /proc/version; echo "@@VMI END version@@"
echo "@@VMI BEGIN ps@@"; ps -o pid,ppid,user,stat,comm; echo "@@VMI END ps@@"
echo "@@VMI BEGIN modules@@"; cat /proc/modules; echo "@@VMI END modules@@"
# vmi.nokallsyms on the kernel command line leaves the 4 MB out: over an emulated UART
# (an HVM domU's ttyS0, tests/xen/backend-payload.sh) they would take far too long.
case " $(cat /proc/cmdline) " in
    *" vmi.nokallsyms "*) ;;
    *) echo "@@VMI BEGIN kallsyms@@"; cat /proc/kallsyms; echo "@@VMI END kallsyms@@" ;;
esac

# Every process from procfs, one line each: PID PPID UID GID STATE COMM (effective ids).
list_procs() {
    for d in /proc/[0-9]*; do
        pid=${d#/proc/} ppid= uid= gid= state=
        while read -r key a b _; do
            case $key in
                State:) state=$a ;;
                PPid:) ppid=$a ;;
                Uid:) uid=$b ;;
                Gid:) gid=$b; break ;;
            esac
        done 2>/dev/null < $d/status
        IFS= read -r comm 2>/dev/null < $d/comm || continue
        [ -z "$gid" ] || echo "$pid $ppid $uid $gid $state $comm"
    done
}

# Only shell builtins from here on: no process is created any more, so the lists stay
# true while dom0 inspects this domain. /proc/loadavg's last pid, before and after, shows it.
read -r _ _ _ _ lastpid_before < /proc/loadavg
echo "@@VMI BEGIN procs@@"
list_procs
echo "@@VMI END procs@@"
echo "@@VMI BEGIN threads@@"
for d in /proc/[0-9]*; do
    for t in $d/task/[0-9]*; do
        IFS= read -r comm 2>/dev/null < $t/comm && echo "${d#/proc/} ${t##*/} $comm"
    done
done
echo "@@VMI END threads@@"
echo "@@VMI BEGIN cmdline@@"
for d in /proc/[0-9]*; do
    [ -e $d/cmdline ] || continue
    line=${d#/proc/}
    while IFS= read -r -d '' arg || [ -n "$arg" ]; do
        line="$line $arg"
    done 2>/dev/null < $d/cmdline
    echo "$line"
done
echo "@@VMI END cmdline@@"
read -r _ _ _ _ lastpid_after < /proc/loadavg
echo "@@VMI BEGIN lister@@"; echo "$$ $lastpid_before $lastpid_after $threaded"; echo "@@VMI END lister@@"
echo "@@VMI DOMU READY@@"
# Idle for good, without spinning or creating processes: the builtin read blocks in the
# open of a FIFO nobody writes.
while :; do read -r _ < /hold; done

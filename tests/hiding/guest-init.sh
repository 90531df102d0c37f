#!/bin/sh
# /init of a hiding test guest (tests/hiding/boot-hiding-guest.py prepends MODE and PROCS).
# Starts PROCS sleeps and the victim sleep, loads fuse/dummy/loop/nls_utf8 and then the
# vmihide test fixture, starts qemu-ga if (only if) the guest has a virtio-serial device,
# and prints between @@VMI BEGIN x@@ / @@VMI END x@@ markers on
# ttyS0 what the guest itself now sees. kallsyms goes to ttyS1. After the ready marker
# the host pauses and dumps the guest, lets it run again and sends one command on ttyS2:
#   restore      rmmod vmihide (modes a-c put back what they hid), show the views again,
#                then kill the victim and reap it
#   exit-hidden  kill the victim while it is still hidden (its exit path runs on the
#                changed structures), reap it, then rmmod
# and the guest prints @@VMI SURVIVED@@ when it is done.
/bin/busybox mount -t proc proc /proc
/bin/busybox mount -t sysfs sysfs /sys
/bin/busybox mount -t devtmpfs devtmpfs /dev
exec </dev/console >/dev/console 2>&1
/bin/busybox --install -s
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
echo "vmi-init: starting (hiding guest, mode $MODE)"
for m in /lib/modules/*.ko; do
    insmod "$m" || echo "vmi-init: insmod $m failed"
done
# Full paths, so each is an execve'd process with comm "sleep" (see build-guests.sh).
i=0
while [ $i -lt $PROCS ]; do
    /bin/sleep 100000 &
    i=$((i + 1))
done
# The victim: an ordinary sleep like the others. (It looks up /proc/self/exe as it
# starts, so procfs may hold a dentry for it already: vmihide drops it in modes a, b.)
/bin/sleep 100000 &
victim=$!
insmod /lib/vmihide.ko mode=$MODE pid=$victim
insmod_rc=$?

# The guest agent, only when the guest has a virtio-serial PCI device (1af4:1003
# transitional, 1af4:1043 modern), as a libvirt domain with a QGA channel has: the virtio
# modules from /lib/agent (not /lib/modules), then Debian's qemu-ga on the port named
# org.qemu.guest_agent.0, in the background. After the victim, so that init, the sleeps
# and the victim keep their dump-boot pids. The test for the device uses shell builtins
# only: a boot without the device runs no process more than before.
agent_pci=
for d in /sys/bus/pci/devices/*; do
    [ -r $d/vendor ] && [ -r $d/device ] || continue
    read -r vendor < $d/vendor
    read -r device < $d/device
    case $vendor:$device in
        0x1af4:0x1003 | 0x1af4:0x1043) agent_pci=${d##*/} ;;
    esac
done
if [ -z "$agent_pci" ]; then
    echo "vmi-init: guest agent: not started (no virtio-serial device)"
else
    for m in /lib/agent/*.ko; do
        insmod "$m" || echo "vmi-init: insmod $m failed"
    done
    # The port gets its name from the host a moment after the driver binds; devtmpfs
    # makes its /dev/vportNpM node. Up to 10 s.
    agent_port=
    i=0
    while [ -z "$agent_port" ] && [ $i -lt 100 ]; do
        for n in /sys/class/virtio-ports/*/name; do
            [ -r $n ] && read -r name < $n || continue
            p=${n%/name}
            [ "$name" = org.qemu.guest_agent.0 ] && [ -c /dev/${p##*/} ] && agent_port=/dev/${p##*/}
        done
        [ -n "$agent_port" ] || sleep 0.1
        i=$((i + 1))
    done
    agent_rc=no
    if [ -n "$agent_port" ]; then
        mkdir -p /tmp/qga
        # In the foreground (no -d) it writes no pid file: $! is its pid. State (qga.state)
        # and log go to /tmp/qga.
        /usr/sbin/qemu-ga -m virtio-serial -p $agent_port -t /tmp/qga -l /tmp/qga/qemu-ga.log \
            </dev/null >>/tmp/qga/qemu-ga.log 2>&1 &
        agent_pid=$!
        # Up once it holds the port open. Up to 10 s.
        i=0
        while kill -0 $agent_pid 2>/dev/null && [ $i -lt 100 ]; do
            case $(ls -l /proc/$agent_pid/fd 2>/dev/null) in
                *"-> $agent_port"*) agent_rc=yes; break ;;
            esac
            sleep 0.1
            i=$((i + 1))
        done
    fi
    if [ $agent_rc = yes ]; then
        echo "vmi-init: guest agent: started (qemu-ga pid $agent_pid on $agent_port, PCI $agent_pci)"
    else
        echo "vmi-init: guest agent: NOT started (PCI $agent_pci, port '${agent_port:-none}'):"
        cat /tmp/qga/qemu-ga.log 2>/dev/null
    fi
fi
mkfifo /hold
# Keep kernel messages out of the recorded sections.
echo 1 > /proc/sys/kernel/printk
sleep 1

views() {
    echo "@@VMI BEGIN ps@@"; ps -o pid,ppid,user,stat,comm; echo "@@VMI END ps@@"
    echo "@@VMI BEGIN modules@@"; cat /proc/modules; echo "@@VMI END modules@@"
    echo "@@VMI BEGIN sysmodule@@"; ls -1 /sys/module; echo "@@VMI END sysmodule@@"
    # "ok" or "failed" first, then what the command said.
    echo "@@VMI BEGIN kill0@@"
    if out=$(kill -0 $victim 2>&1); then echo "ok $out"; else echo "failed $out"; fi
    echo "@@VMI END kill0@@"
    echo "@@VMI BEGIN lsproc@@"
    if out=$(ls -d /proc/$victim 2>&1); then echo "ok $out"; else echo "failed $out"; fi
    echo "@@VMI END lsproc@@"
}

echo "@@VMI BEGIN version@@"; cat /proc/version; echo "@@VMI END version@@"
echo "@@VMI BEGIN cpuflags@@"; grep -m1 '^flags' /proc/cpuinfo; echo "@@VMI END cpuflags@@"
echo "@@VMI BEGIN hide@@"; echo "$MODE $victim $insmod_rc"; echo "@@VMI END hide@@"
echo "@@VMI BEGIN dmesg@@"; dmesg | grep 'vmihide'; echo "@@VMI END dmesg@@"
views
stty -F /dev/ttyS1 raw -echo clocal 115200 || true
{ echo "@@VMI BEGIN kallsyms@@"; cat /proc/kallsyms; echo "@@VMI END kallsyms@@"; } > /dev/ttyS1

# Shell builtins only from here to the ready marker, as in tests/guests/build-guests.sh:
# no process is created, so the listing holds exactly the processes in the memory dump
# (those procfs still shows).
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
echo "@@VMI BEGIN lister@@"; echo "$$ $lastpid_before $lastpid_after"; echo "@@VMI END lister@@"
echo "@@VMI READY@@"

# The host has dumped the guest by the time a command arrives.
stty -F /dev/ttyS2 raw -echo clocal 115200 || true
IFS= read -r cmd < /dev/ttyS2
cmd=${cmd%$'\r'}
# Errors and worse straight to the console; all of the kernel log comes at the end.
echo 4 > /proc/sys/kernel/printk
echo "vmi-init: after the dump: $cmd"
reap_victim() {
    # In mode b `kill PID` cannot find the victim (ESRCH): signal every process instead,
    # which walks the task list. wait reaps it either way.
    kill -TERM $victim 2>/dev/null || kill -TERM -1
    wait $victim
    echo "victim reaped"
}
case $cmd in
    restore)
        echo "@@VMI BEGIN after-rmmod@@"; rmmod vmihide 2>&1; echo "rc=$?"; echo "@@VMI END after-rmmod@@"
        views | sed 's/^@@VMI \(BEGIN\|END\) /&after-/'
        reap_victim ;;
    exit-hidden)
        reap_victim
        echo "@@VMI BEGIN after-rmmod@@"; rmmod vmihide 2>&1; echo "rc=$?"; echo "@@VMI END after-rmmod@@" ;;
    *) echo "vmi-init: unknown command '$cmd'" ;;
esac
# Give the kernel a moment to finish what the exit started (RCU callbacks, free_pid).
sleep 2
# The recorded sections above ran with console messages off: a warning or oops from
# then shows here.
echo "@@VMI BEGIN dmesg-all@@"; dmesg; echo "@@VMI END dmesg-all@@"
echo "@@VMI SURVIVED@@"
while :; do read -r _ < /hold; done

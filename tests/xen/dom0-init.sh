#!/bin/sh
# /init of the dom0 that tests/xen/xen-host.sh boots under Xen (itself under QEMU/TCG).
#
# Starts the Xen tool stack (xenstored, xen-init-dom0, xenconsoled), creates the PV domU
# described by /etc/xen/vmi-domu.cfg, waits for the domU's ready marker on its console,
# cuts the domU's own records out of that console into /out/domu/, runs the host's payload
# (/payload/run.sh, from the per-run initramfs part) and writes everything in /out as a tar
# archive onto the raw virtio disk /dev/vda, which the host reads after QEMU is gone.
#
# Progress goes to this console (hvc0 -> Xen -> COM1 -> the host's console.log) as
# "@@VMI <what>@@" lines: DOM0 READY, DOMU CREATED <domid>, DOMU READY, the payload's
# output between BEGIN/END payload (while it runs, ALIVE <uptime> every minute),
# PAYLOAD DONE rc=<n>, ERROR <why>, and finally
# OUTBOX WRITTEN <bytes> <md5> (the host checks the disk against both).
#
# Settings: /etc/vmi-dom0.conf (cached base: DOMU_NAME) and /etc/vmi-run.conf (per run:
# DOMU_TIMEOUT, PAYLOAD_TIMEOUT).
/bin/busybox mount -t proc proc /proc
/bin/busybox mount -t sysfs sysfs /sys
/bin/busybox mount -t devtmpfs devtmpfs /dev
/bin/busybox mkdir -p /dev/pts
/bin/busybox mount -t devpts devpts /dev/pts
exec </dev/console >/dev/console 2>&1
/bin/busybox --install -s
export PATH=/bin:/sbin:/usr/bin:/usr/sbin:/usr/lib/xen-4.17/bin
DOMU_TIMEOUT=400 PAYLOAD_TIMEOUT=400
. /etc/vmi-dom0.conf
[ ! -f /etc/vmi-run.conf ] || . /etc/vmi-run.conf
OUT=/out
mkdir -p $OUT/domu $OUT/payload /tmp
mkfifo /hold

mark() { echo "@@VMI $*@@"; }
uptime_s() { read -r up _ < /proc/uptime; echo "${up%.*}"; }

# Lines between "@@VMI BEGIN $2@@" and "@@VMI END $2@@" of file $1, CRs removed.
section() {
    tr -d '\r' < "$1" | awk -v b="@@VMI BEGIN $2@@" -v e="@@VMI END $2@@" '
        $0 == e { inside = 0; done = 1 } inside { print } $0 == b && !done { inside = 1 }'
}

# Pack /out, write it onto /dev/vda, announce size and checksum, then stay idle (pid 1
# must not exit; the host ends QEMU).
finish() {
    echo "$1" > $OUT/status
    cp /var/log/xen/console/guest-$DOMU_NAME.log $OUT/domu/console.log 2>/dev/null
    xl list > $OUT/xl-list.txt 2>&1
    xl dmesg > $OUT/xen-dmesg.txt 2>&1
    dmesg > $OUT/dom0-dmesg.txt 2>&1
    cp /var/log/xen/*.log $OUT/ 2>/dev/null
    if [ -b /dev/vda ]; then
        tar -cf /tmp/outbox.tar -C $OUT . &&
        dd if=/tmp/outbox.tar of=/dev/vda bs=1M 2>/dev/null &&
        sync && blockdev --flushbufs /dev/vda
        size=$(wc -c < /tmp/outbox.tar)
        sum=$(md5sum < /tmp/outbox.tar)
        mark "OUTBOX WRITTEN $size ${sum%% *}"
    else
        mark "ERROR no outbox disk /dev/vda"
    fi
    while :; do read -r _ < /hold; done
}
fail() { mark "ERROR $*"; finish "error: $*"; }

echo "vmi-dom0: starting at $(uptime_s) s"
for m in xen-evtchn xen-privcmd xen-gntdev xen-gntalloc xenfs \
         virtio virtio_ring virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci virtio_blk; do
    insmod /lib/modules/$m.ko || fail "insmod $m"
done
mount -t xenfs xenfs /proc/xen || fail "mount xenfs"
mkdir -p /var/lib/xen /var/lib/xenstored /var/run/xen /var/run/xenstored /var/log/xen/console
xenstored --pid-file=/var/run/xenstored.pid || fail "xenstored"
xen-init-dom0 > $OUT/xen-init-dom0.log 2>&1 || fail "xen-init-dom0 (see xen-init-dom0.log)"
xenconsoled --log=guest --log-dir=/var/log/xen/console --pid-file=/var/run/xenconsoled.pid \
    || fail "xenconsoled"
# The outbox disk must be there before anything is worth doing.
tries=0
while [ ! -b /dev/vda ] && [ $tries -lt 50 ]; do sleep 0.2; tries=$((tries + 1)); done
[ -b /dev/vda ] || fail "no outbox disk /dev/vda (virtio-blk)"
mark "DOM0 READY $(uptime_s)"

xl create /etc/xen/vmi-domu.cfg > $OUT/xl-create.log 2>&1 || fail "xl create (see xl-create.log)"
# `xl list NAME` rather than `xl domid NAME`: the latter segfaulted now and then here.
tries=0 DOMU_ID=
while [ -z "$DOMU_ID" ] && [ $tries -lt 5 ]; do
    DOMU_ID=$(xl list "$DOMU_NAME" 2>/dev/null | awk 'NR == 2 { print $2 }')
    [ -n "$DOMU_ID" ] || sleep 1
    tries=$((tries + 1))
done
[ -n "$DOMU_ID" ] || fail "xl list does not show $DOMU_NAME after xl create"
mark "DOMU CREATED $DOMU_ID"
log=/var/log/xen/console/guest-$DOMU_NAME.log
start=$(uptime_s)
missing=0
while ! grep -qF '@@VMI DOMU READY@@' "$log" 2>/dev/null; do
    # The state column of `xl list`: s(hutdown) or c(rashed) ends the wait; a domain
    # missing 5 times in a row too (xl itself crashes now and then here, see README).
    if state=$(xl list "$DOMU_NAME" 2>/dev/null | awk 'NR == 2 { print $5 }') && [ -n "$state" ]; then
        missing=0
        case $state in *s*|*c*) fail "domU $DOMU_NAME shut down or crashed (state $state)";; esac
    else
        missing=$((missing + 1))
        [ $missing -lt 5 ] || fail "domU $DOMU_NAME is gone"
    fi
    [ $(($(uptime_s) - start)) -lt "$DOMU_TIMEOUT" ] || fail "no domU ready marker within $DOMU_TIMEOUT s"
    sleep 1
done
# For the payload. A process here may die now and then (see README), so each cut is
# checked and retried; the host cuts its own copies from the domU console afterwards.
for s in sleepers version ps modules procs threads cmdline lister kallsyms; do
    f=$OUT/domu/$s.txt
    [ $s != kallsyms ] || f=$OUT/domu/kallsyms
    tries=0
    while [ $tries -lt 3 ]; do
        section "$log" $s > $f && [ -s $f ] && break
        tries=$((tries + 1))
    done
    [ -s $f ] || fail "cannot cut section $s out of the domU console"
done
mark "DOMU READY $(uptime_s)"

# The payload's time limit is kept here, in this shell, by a watchdog that only uses
# builtins (and prints "@@VMI ALIVE <uptime>@@" every minute meanwhile): busybox
# `timeout` keeps it in a process of its own, and a dom0 process dies now and then here
# (README). The payload runs in a session of its own, so that the watchdog kills all of
# it (a hung xl too).
if [ -f /payload/run.sh ]; then
    cd /payload || fail "cd /payload"
    DOMU_NAME=$DOMU_NAME DOMU_ID=$DOMU_ID DOMU_DIR=$OUT/domu PAYLOAD_OUT=$OUT/payload \
        setsid sh /payload/run.sh > $OUT/payload.out 2>&1 < /dev/null &
    payload=$!
    (
        read -r up _ < /proc/uptime
        end=$((${up%.*} + PAYLOAD_TIMEOUT)) beat=${up%.*}
        while [ "${up%.*}" -lt $end ]; do
            # A heartbeat for the host, which gives up early on a dom0 that went silent.
            if [ $((${up%.*} - beat)) -ge 60 ]; then beat=${up%.*}; mark "ALIVE $beat"; fi
            read -r -t 1 _ <> /hold
            read -r up _ < /proc/uptime
        done
        echo "$PAYLOAD_TIMEOUT" > $OUT/payload.timed-out
        kill -KILL "-$payload" 2>/dev/null || kill -KILL "$payload"
    ) &
    watchdog=$!
    wait $payload
    rc=$?
    kill -KILL $watchdog 2>/dev/null
    cd /
    echo $rc > $OUT/payload.rc
    echo "@@VMI BEGIN payload@@"
    cat $OUT/payload.out
    echo "@@VMI END payload@@"
    mark "PAYLOAD DONE rc=$rc $(uptime_s)"
else
    mark "PAYLOAD DONE none $(uptime_s)"
fi
finish ok

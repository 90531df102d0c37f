#!/usr/bin/env bash
# Build and cache real Linux test guests, boot each under QEMU (TCG), and record what the
# guest itself reported (/proc/version, ps, /proc/modules, /proc/kallsyms) next to a
# physical memory dump taken while it was paused. Tests compare the tools' view of the
# dump with the guest's own view.
#
# Usage: tests/guests/build-guests.sh [--dir DIR] [--force] [--procs N] [GUEST...|all]
#   DIR    defaults to ${VMI_GUEST_DIR:-$HOME/.cache/vmitools/guests}
#   GUEST  amd64-4level amd64-5level-kaslr i386-pae i386-2level amd64-2000procs
#          amd64-busy-kpti (default: all of them; `all` says the same)
#   N      extra sleep processes per guest (default 20; amd64-2000procs: 2000)
#   VMI_BOOT_TIMEOUT (env) overrides the 180 s boot limit for slow CI machines.
#
# Each guest ends up in DIR/<guest>/ with: vmlinuz initrd.gz kernel-release version.txt
# kallsyms ps.txt procs.txt threads.txt cmdline.txt modules.txt registers.txt memory.elf
# memory.raw guest.env console.log done. A guest whose `done` stamp matches the hash of
# this script and its inputs is skipped unless --force. Downloads are cached in
# DIR/_downloads.
set -euo pipefail

# --- pinned inputs -----------------------------------------------------------------------
KERNEL_ABI=6.1.0-50          # Debian kernel ABI, same for every guest
KERNEL_VERSION=6.1.176-1     # its package version (bookworm main)
PROCS_OPTION=                # --procs N: overrides every guest's own default
BOOT_TIMEOUT=${VMI_BOOT_TIMEOUT:-180}   # seconds for a guest to print its ready marker
QMP_TIMEOUT=300              # seconds for one QMP command (the memory dumps)
READY_MARKER='@@VMI READY@@'
ALL_GUESTS=(amd64-4level amd64-5level-kaslr i386-pae i386-2level
            amd64-2000procs amd64-busy-kpti)
THREADS_PER_PROCESS=4        # threads started by the `threaded` process (amd64 guests)
SPINNERS=2                   # CPU-bound `spin` processes in amd64-busy-kpti
PAUSE_TRIES=20               # amd64-busy-kpti: pauses tried to catch the vCPU in user mode
# Link-time address of _stext: anything else in the guest's kallsyms is a KASLR slide.
LINK_STEXT_x86_64=0xffffffff81000000
LINK_STEXT_i386=0xc1000000

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SCRIPT_PATH="$SCRIPT_DIR/$(basename "${BASH_SOURCE[0]}")"
QMP="$SCRIPT_DIR/qmp.py"

log() { printf 'build-guests: %s\n' "$*" >&2; }
die() { printf 'build-guests: error: %s\n' "$*" >&2; exit 1; }

usage() {
    sed -n '7,12p' "$SCRIPT_PATH" | sed 's/^# \{0,1\}//' >&2
    exit "${1:-2}"
}

# --- arguments ---------------------------------------------------------------------------
DIR=${VMI_GUEST_DIR:-$HOME/.cache/vmitools/guests}
FORCE=0
GUESTS=()
while [ $# -gt 0 ]; do
    case $1 in
        --dir) [ $# -ge 2 ] || usage; DIR=$2; shift 2 ;;
        --dir=*) DIR=${1#--dir=}; shift ;;
        --force) FORCE=1; shift ;;
        --procs) [ $# -ge 2 ] || usage; PROCS_OPTION=$2; shift 2 ;;
        --procs=*) PROCS_OPTION=${1#--procs=}; shift ;;
        -h|--help) usage 0 ;;
        -*) log "unknown option: $1"; usage ;;
        all) GUESTS+=("${ALL_GUESTS[@]}"); shift ;;
        *) GUESTS+=("$1"); shift ;;
    esac
done
[ -z "$PROCS_OPTION" ] || [[ $PROCS_OPTION =~ ^[0-9]+$ ]] || die "--procs wants a number, got '$PROCS_OPTION'"
[ ${#GUESTS[@]} -gt 0 ] || GUESTS=("${ALL_GUESTS[@]}")
mkdir -p "$DIR"
DIR=$(cd "$DIR" && pwd)          # QEMU gets absolute file names for its dumps
DOWNLOADS="$DIR/_downloads"

# Per-guest facts. QEMU_CPU for i386: coreduo has PAE+NX (the 686-pae kernel refuses a
# CPU without PAE); pentium3 has no PAE at all, so the 686 guest can only use 2-level
# paging, as on real hardware of that era.
# Besides: RAM_MB, PROCS (sleep processes), APPEND (extra kernel arguments), THREADED
# (1: start `threads $THREADS_PER_PROCESS`, amd64 only: the host gcc cannot build i386
# without multilib packages), SPIN (number of `spin` processes) and WANT_USER_CR3 (1: pause
# again until CR3 is a KPTI user page table).
guest_config() {
    RAM_MB=512 PROCS=20 APPEND='' THREADED=0 SPIN=0 WANT_USER_CR3=0
    case $1 in
        amd64-4level)
            ARCH=x86_64 DEB_ARCH=amd64 FLAVOUR=amd64 QEMU=qemu-system-x86_64
            QEMU_CPU=qemu64 KASLR=0 PAGING=ia32e THREADED=1 ;;
        amd64-5level-kaslr)
            ARCH=x86_64 DEB_ARCH=amd64 FLAVOUR=amd64 QEMU=qemu-system-x86_64
            QEMU_CPU=max KASLR=1 PAGING=la57 THREADED=1 ;;
        amd64-2000procs)
            ARCH=x86_64 DEB_ARCH=amd64 FLAVOUR=amd64 QEMU=qemu-system-x86_64
            QEMU_CPU=qemu64 KASLR=0 PAGING=ia32e THREADED=1 PROCS=2000 ;;
        # qemu64 claims to be an AMD CPU, for which the kernel would leave PTI off:
        # pti=on forces it. The spinners keep the vCPU in user mode most of the time.
        amd64-busy-kpti)
            ARCH=x86_64 DEB_ARCH=amd64 FLAVOUR=amd64 QEMU=qemu-system-x86_64
            QEMU_CPU=qemu64 KASLR=1 PAGING=ia32e THREADED=1 APPEND=pti=on
            SPIN=$SPINNERS WANT_USER_CR3=1 ;;
        i386-pae)
            ARCH=i386 DEB_ARCH=i386 FLAVOUR=686-pae QEMU=qemu-system-i386
            QEMU_CPU=coreduo KASLR=1 PAGING=pae ;;
        i386-2level)
            ARCH=i386 DEB_ARCH=i386 FLAVOUR=686 QEMU=qemu-system-i386
            QEMU_CPU=pentium3 KASLR=1 PAGING=legacy ;;
        *) die "unknown guest '$1' (known: ${ALL_GUESTS[*]})" ;;
    esac
    [ -z "$PROCS_OPTION" ] || PROCS=$PROCS_OPTION
}
for g in "${GUESTS[@]}"; do guest_config "$g"; done   # reject typos before any work

# --- cleanup: never leave QEMU or temp files behind -------------------------------------
QEMU_PID=
TMP_DIRS=()
cleanup() {
    if [ -n "$QEMU_PID" ] && kill -0 "$QEMU_PID" 2>/dev/null; then
        kill "$QEMU_PID" 2>/dev/null || true
        for _ in $(seq 50); do kill -0 "$QEMU_PID" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$QEMU_PID" 2>/dev/null || true
    fi
    QEMU_PID=
    [ ${#TMP_DIRS[@]} -eq 0 ] || rm -rf "${TMP_DIRS[@]}"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- host tools --------------------------------------------------------------------------
APT_UPDATED=0
apt_update_once() {
    [ $APT_UPDATED = 1 ] && return 0
    log "apt-get update"
    # A partly failed update (mirror mid-sync) still leaves usable indexes; if they are
    # not, the install/download that follows fails with its own message.
    apt-get update -qq </dev/null >&2 || log "WARNING: apt-get update reported errors; going on"
    APT_UPDATED=1
}

ensure_host_tools() {
    local missing=() pair
    for pair in qemu-system-x86_64:qemu-system-x86 qemu-system-i386:qemu-system-x86 \
                cpio:cpio xz:xz-utils python3:python3 gzip:gzip dpkg-deb:dpkg; do
        command -v "${pair%%:*}" >/dev/null 2>&1 || missing+=("${pair#*:}")
    done
    # The guests' helper programs (threads.c, spin.c) are linked static for amd64.
    if [ $THREADED = 1 ] || [ "$SPIN" -gt 0 ]; then
        command -v gcc >/dev/null 2>&1 || missing+=(gcc)
        [ -e /usr/lib/x86_64-linux-gnu/libc.a ] || missing+=(libc6-dev)
    fi
    if [ ${#missing[@]} -gt 0 ]; then
        [ "$(id -u)" = 0 ] || die "missing packages (${missing[*]}); run as root or install them"
        log "installing ${missing[*]}"
        apt_update_once
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" </dev/null >&2 \
            || die "apt-get install ${missing[*]} failed"
    fi
    # i386 packages (kernel, busybox) are only downloaded, but apt must know the arch.
    if ! dpkg --print-foreign-architectures | grep -qx i386; then
        [ "$(id -u)" = 0 ] || die "dpkg lacks the i386 architecture; run as root"
        log "adding dpkg architecture i386"
        dpkg --add-architecture i386
        APT_UPDATED=0
        apt_update_once
    fi
}

# Print the path of a cached .deb, downloading it first if needed. $3 = exact version or
# empty for the candidate version. Returns 1 if apt cannot fetch it. Runs in a command
# substitution, so it leaves `apt-get update` to its callers (see fetch_deb_or_update).
fetch_deb() {
    local pkg=$1 arch=$2 version=$3 f
    mkdir -p "$DOWNLOADS"
    # apt-get download escapes ':' in epochs as %3a
    f=$(compgen -G "$DOWNLOADS/${pkg}_${version:+${version//:/%3a}}*_${arch}.deb" | sort | tail -n1 || true)
    if [ -z "$f" ]; then
        log "downloading $pkg:$arch${version:+=$version}"
        # Sandbox user root: _apt cannot write into a cache under /root.
        (cd "$DOWNLOADS" && apt-get download -q -o APT::Sandbox::User=root \
            "$pkg:$arch${version:+=$version}" </dev/null >&2) || return 1
        f=$(compgen -G "$DOWNLOADS/${pkg}_*_${arch}.deb" | sort | tail -n1 || true)
        [ -n "$f" ] || return 1
    fi
    printf '%s\n' "$f"
}

fetch_deb_or_update() {
    fetch_deb "$@" && return 0
    [ $APT_UPDATED = 1 ] && return 1
    apt_update_once
    fetch_deb "$@"
}

# Sets KERNEL_DEB and KERNEL_RELEASE for flavour $1 / arch $2: the pinned ABI if apt can
# fetch it, else whatever the linux-image-<flavour> metapackage currently depends on.
resolve_kernel() {
    local flavour=$1 arch=$2 pkg
    KERNEL_RELEASE="$KERNEL_ABI-$flavour"
    if KERNEL_DEB=$(fetch_deb "linux-image-$KERNEL_RELEASE" "$arch" "$KERNEL_VERSION"); then
        return 0
    fi
    if [ $APT_UPDATED = 0 ]; then
        apt_update_once
        KERNEL_DEB=$(fetch_deb "linux-image-$KERNEL_RELEASE" "$arch" "$KERNEL_VERSION") && return 0
    fi
    pkg=$(apt-cache depends "linux-image-$flavour:$arch" </dev/null 2>/dev/null \
          | awk '$1 == "Depends:" && $2 ~ /^linux-image-[0-9]/ { print $2; exit }')
    pkg=${pkg%%:*}
    [ -n "$pkg" ] || die "cannot download linux-image-$KERNEL_RELEASE:$arch and apt-cache names no fallback"
    log "WARNING: pinned kernel linux-image-$KERNEL_RELEASE:$arch=$KERNEL_VERSION unavailable; falling back to $pkg"
    KERNEL_RELEASE=${pkg#linux-image-}
    KERNEL_DEB=$(fetch_deb_or_update "$pkg" "$arch" "") || die "cannot download $pkg:$arch either"
}

# --- initramfs -----------------------------------------------------------------------------
# The guest's /init: this guest's settings, then a fixed body. Everything it records goes
# between markers so the host can cut it out of a console that also carries kernel
# messages.
write_init() {
    cat <<EOF
#!/bin/sh
# vmitools test guest init (generated by tests/guests/build-guests.sh)
PROCS=$PROCS THREADED=$THREADED THREADS=$THREADS_PER_PROCESS SPIN=$SPIN
READY_MARKER='$READY_MARKER'
EOF
    cat <<'EOF'
/bin/busybox mount -t proc proc /proc
/bin/busybox mount -t sysfs sysfs /sys
/bin/busybox mount -t devtmpfs devtmpfs /dev
# The kernel found no /dev/console in the initramfs, so fds 0-2 are closed until now.
exec </dev/console >/dev/console 2>&1
/bin/busybox --install -s
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
echo "vmi-init: starting"
for m in /lib/modules/*.ko; do
    insmod "$m" || echo "vmi-init: insmod $m failed"
done
# Full paths: busybox sh would otherwise run an applet in a fork of itself (comm "init");
# going through execve gives the processes the comm "sleep" that a real system shows.
i=0
while [ $i -lt $PROCS ]; do
    /bin/sleep 100000 &
    i=$((i + 1))
done
if [ $THREADED = 1 ]; then
    /bin/threads $THREADS &
    threaded=$!
fi
i=0
while [ $i -lt $SPIN ]; do
    /bin/spin &
    i=$((i + 1))
done
# All threads must exist before ps and the listing run (bounded: 10 s).
if [ $THREADED = 1 ]; then
    tries=0
    while [ $tries -lt 100 ]; do
        n=0
        for t in /proc/$threaded/task/*; do n=$((n + 1)); done
        [ $n -le $THREADS ] || break
        sleep 0.1
        tries=$((tries + 1))
    done
fi
mkfifo /hold
# Keep kernel messages (module loading, ...) out of the recorded sections.
echo 1 > /proc/sys/kernel/printk
sleep 1
echo "@@VMI BEGIN version@@"; cat /proc/version; echo "@@VMI END version@@"
# The "pti" flag says whether page-table isolation is on (sysfs' meltdown file only says
# whether the CPU model is affected, not what pti=on forced).
echo "@@VMI BEGIN cpuflags@@"; grep -m1 '^flags' /proc/cpuinfo; echo "@@VMI END cpuflags@@"
echo "@@VMI BEGIN ps@@"; ps -o pid,ppid,user,stat,comm; echo "@@VMI END ps@@"
echo "@@VMI BEGIN modules@@"; cat /proc/modules; echo "@@VMI END modules@@"
# raw: no CR/LF translation on the kallsyms port (later the host's command port).
# clocal: no modem lines, so a host that hangs up never hangs the port up.
stty -F /dev/ttyS1 raw -echo clocal 115200 || true
{ echo "@@VMI BEGIN kallsyms@@"; cat /proc/kallsyms; echo "@@VMI END kallsyms@@"; } > /dev/ttyS1

# Every process, straight from procfs, one line each: PID PPID UID GID STATE COMM.
list_procs() {
    for d in /proc/[0-9]*; do
        pid=${d#/proc/} ppid= uid= gid= state=
        # Uid:/Gid: hold the real, effective, saved and fs id: the second is the effective one.
        while read -r key a b _; do
            case $key in
                State:) state=$a ;;
                PPid:) ppid=$a ;;
                Uid:) uid=$b ;;
                Gid:) gid=$b; break ;;
            esac
        done 2>/dev/null < $d/status
        # comm last: it may contain spaces. A process gone meanwhile is left out.
        IFS= read -r comm 2>/dev/null < $d/comm || continue
        [ -z "$gid" ] || echo "$pid $ppid $uid $gid $state $comm"
    done
}

# Only shell builtins from here on: no process is created any more, so the listing holds
# exactly the processes in the memory dump (kernel threads the kernel starts on its own
# aside) and the lister is this shell, pid 1, which stays. The last pid the kernel handed
# out, before and after, shows it.
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
    # read -d '' stops at each NUL; an argument without a final NUL (a process that
    # rewrote its command line) still arrives in $arg. Kernel threads have none at all.
    while IFS= read -r -d '' arg || [ -n "$arg" ]; do
        line="$line $arg"
    done 2>/dev/null < $d/cmdline
    echo "$line"
done
echo "@@VMI END cmdline@@"
read -r _ _ _ _ lastpid_after < /proc/loadavg
echo "@@VMI BEGIN lister@@"; echo "$$ $lastpid_before $lastpid_after"; echo "@@VMI END lister@@"
echo "$READY_MARKER"

# Then answer the host's questions on ttyS1, still with builtins only, so that the process
# list stays as recorded: one command a line, each answer framed by "@@VMI BEGIN cmd@@"
# and "@@VMI END cmd@@", "@@VMI ERROR cmd@@" for a command not known. Behind a file
# chardev (the memory dumps) no byte ever arrives: the read blocks forever.
list_modules() { while IFS= read -r line; do echo "$line"; done 2>/dev/null < /proc/modules; }
show_hostname() { IFS= read -r line 2>/dev/null < /proc/sys/kernel/hostname && echo "$line"; }
serve() {
    # -n: a line longer than any command arrives in pieces, each an unknown command.
    while IFS= read -r -n 64 cmd <&3; do
        cmd=${cmd%$'\r'}
        case $cmd in
            '') continue ;;
            procs) answer=list_procs ;;
            modules) answer=list_modules ;;
            hostname) answer=show_hostname ;;
            *) echo "@@VMI ERROR $cmd@@" >&3; continue ;;
        esac
        { echo "@@VMI BEGIN $cmd@@"; $answer; echo "@@VMI END $cmd@@"; } >&3
    done
}
# A redirection that fails on a function call only fails the call (on `exec` it would
# end the shell, and pid 1 with it).
serve 3<>/dev/ttyS1
# The port failed or hung up: wait forever without spinning or creating processes, the
# builtin read blocking in the open of a FIFO nobody ever writes.
while :; do read -r _ < /hold; done
EOF
}

build_initrd() {
    local out=$1 busybox_deb=$2 kernel_tree=$3 work mod f
    work=$(mktemp -d); TMP_DIRS+=("$work")
    dpkg -x "$busybox_deb" "$work/bb"
    mkdir -p "$work/root"/{bin,sbin,usr/bin,usr/sbin,dev,proc,sys,lib/modules}
    cp "$work/bb/bin/busybox" "$work/root/bin/busybox"
    # Applet symlinks are made by `busybox --install -s` inside the guest: an i386
    # busybox cannot run on every amd64 host to list its applets.
    for a in sh sleep mkfifo; do ln -s busybox "$work/root/bin/$a"; done
    if [ $THREADED = 1 ]; then build_static_program threads "$work/root/bin/threads"; fi
    if [ "$SPIN" -gt 0 ]; then build_static_program spin "$work/root/bin/spin"; fi
    for mod in fuse dummy loop nls_utf8; do
        f=$(find "$kernel_tree/lib/modules" -name "$mod.ko*" | head -n1)
        [ -n "$f" ] || die "module $mod not in kernel package"
        # Only modules without dependencies, so plain insmod works without modprobe.
        if tr '\0' '\n' < <(decompress_module "$f") | grep -q '^depends=.\+'; then
            die "module $mod has dependencies; pick another"
        fi
        # busybox insmod cannot load compressed modules
        decompress_module "$f" > "$work/root/lib/modules/$mod.ko"
    done
    write_init > "$work/root/init"
    chmod 755 "$work/root/init"
    (cd "$work/root" && find . -mindepth 1 | LC_ALL=C sort \
        | cpio -o -H newc -R 0:0 --quiet | gzip -9n) > "$out"
}

# Compile tests/guests/$1.c for the guest: static, since the initramfs has no C library.
build_static_program() {
    [ "$ARCH" = x86_64 ] || die "$GUEST: $1.c is only built for x86_64 guests"
    gcc -static -pthread -O2 -Wall -o "$2" "$SCRIPT_DIR/$1.c" || die "cannot compile $1.c"
    strip "$2" 2>/dev/null || true
}

decompress_module() {
    case $1 in
        *.ko.xz) xz -dc "$1" ;;
        *.ko.gz) gzip -dc "$1" ;;
        *.ko.zst) zstd -dc "$1" ;;
        *) cat "$1" ;;
    esac
}

# --- helpers on guest output ---------------------------------------------------------------
# Print the lines between "@@VMI BEGIN $2@@" and "@@VMI END $2@@" in file $1, CRs removed.
section() {
    tr -d '\r' < "$1" | awk -v b="@@VMI BEGIN $2@@" -v e="@@VMI END $2@@" '
        $0 == e { inside = 0; done = 1 } inside { print } $0 == b && !done { inside = 1 }'
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

# --- one guest -------------------------------------------------------------------------------
inputs_hash() {
    { cat "$SCRIPT_PATH" "$QMP" "$SCRIPT_DIR/threads.c" "$SCRIPT_DIR/spin.c"
      echo "$GUEST $KERNEL_ABI $KERNEL_VERSION $PROCS $RAM_MB"; } | sha256sum | cut -d' ' -f1
}

build_guest() {
    GUEST=$1
    guest_config "$GUEST"
    local final="$DIR/$GUEST" hash start=$SECONDS
    hash=$(inputs_hash)
    if [ $FORCE = 0 ] && [ -f "$final/done" ] && [ "$(cat "$final/done")" = "$hash" ]; then
        log "$GUEST: up to date, skipped"
        return 0
    fi
    ensure_host_tools
    log "$GUEST: building ($ARCH, -cpu $QEMU_CPU, paging $PAGING, kaslr $KASLR)"
    OUT="$DIR/$GUEST.partial"
    rm -rf "$OUT"; mkdir -p "$OUT"

    resolve_kernel "$FLAVOUR" "$DEB_ARCH"
    local busybox_deb ktree
    busybox_deb=$(fetch_deb_or_update busybox-static "$DEB_ARCH" "") || die "cannot download busybox-static:$DEB_ARCH"
    ktree=$(mktemp -d); TMP_DIRS+=("$ktree")
    dpkg -x "$KERNEL_DEB" "$ktree"
    cp "$ktree/boot/vmlinuz-$KERNEL_RELEASE" "$OUT/vmlinuz"
    echo "$KERNEL_RELEASE" > "$OUT/kernel-release"
    build_initrd "$OUT/initrd.gz" "$busybox_deb" "$ktree"
    rm -rf "$ktree"

    local append="console=ttyS0 panic=-1"
    [ $KASLR = 1 ] || append+=" nokaslr"
    [ -z "$APPEND" ] || append+=" $APPEND"
    KERNEL_CMDLINE=$append
    # UNIX socket paths are limited to 108 bytes, so the socket lives in a short temp dir.
    local sockdir; sockdir=$(mktemp -d /tmp/vmiqmp.XXXXXX); TMP_DIRS+=("$sockdir")
    QMP_SOCK="$sockdir/qmp.sock"
    : > "$OUT/console.log"; : > "$OUT/kallsyms.raw"
    log "$GUEST: booting $KERNEL_RELEASE"
    "$QEMU" -accel tcg -cpu "$QEMU_CPU" -m "$RAM_MB" -smp 1 \
        -display none -no-reboot -nodefaults \
        -kernel "$OUT/vmlinuz" -initrd "$OUT/initrd.gz" -append "$append" \
        -qmp "unix:$QMP_SOCK,server=on,wait=off" \
        -serial "file:$OUT/console.log" -serial "file:$OUT/kallsyms.raw" \
        </dev/null >"$OUT/qemu.log" 2>&1 &
    QEMU_PID=$!

    wait_for_marker "$OUT/console.log" "$READY_MARKER" "$BOOT_TIMEOUT" "ready marker"
    # init closes ttyS1 (waiting for it to drain) before printing the ready marker, so
    # this is a formality, still bounded.
    wait_for_marker "$OUT/kallsyms.raw" "@@VMI END kallsyms@@" 30 "end of kallsyms"
    log "$GUEST: ready after $((SECONDS - start)) s; pausing and dumping memory"

    pause_guest
    qmp dump-guest-memory "{\"paging\": false, \"protocol\": \"file:$OUT/memory.elf\"}" >/dev/null
    qmp pmemsave "{\"val\": 0, \"size\": $((RAM_MB * 1024 * 1024)), \"filename\": \"$OUT/memory.raw\"}" >/dev/null
    qmp quit >/dev/null || true
    for _ in $(seq 100); do kill -0 "$QEMU_PID" 2>/dev/null || break; sleep 0.1; done
    cleanup
    chmod 644 "$OUT/memory.elf" "$OUT/memory.raw"   # QEMU creates them 0600

    extract_results
    check_and_write_env
    rm -rf "$final"
    mv "$OUT" "$final"
    OUT=$final
    echo "$hash" > "$final/done"
    log "$GUEST: done in $((SECONDS - start)) s -> $final"
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
    for m in fuse dummy loop nls_utf8; do
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

for g in "${GUESTS[@]}"; do
    build_guest "$g"
done

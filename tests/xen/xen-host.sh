#!/usr/bin/env bash
# A real Xen host for tests, nested under QEMU (TCG): Xen 4.17 from Debian, a Debian 6.1
# dom0 running from an initramfs, and a PV domU that records its own view of itself.
# dom0 then runs a payload from the host (a script plus binaries) against the domU and
# hands everything back through a raw virtio disk.
#
# Usage: tests/xen/xen-host.sh [--dir DIR] [--force] build
#        tests/xen/xen-host.sh [--dir DIR] [--force] run [--hvm] --payload PDIR --out ODIR
#   build   make (or check) the cached parts only: Xen, kernel, dom0 and domU initramfs
#   run     boot Xen, dom0 and the domU, run PDIR/run.sh in dom0, results in ODIR
#   --hvm   dom0 also gets what HVM domUs need: hvmloader, SeaBIOS, QEMU's option ROMs and
#           the qemu-xen device model (/usr/libexec/xen-qemu-system-i386) with its libraries
#   DIR     cache root, default ${VMI_GUEST_DIR:-$HOME/.cache/vmitools/guests}; the cache
#           is DIR/xen/ (DIR/_downloads holds the .debs, shared with tests/guests)
#   PDIR    payload: run.sh (run by dom0's busybox sh, cwd PDIR) and any files next to it;
#           every ELF file in it gets the shared libraries `ldd` names copied along
#   ODIR    created or emptied; see tests/xen/README.md for what lands there
#   Waits (env, seconds): VMI_XEN_BOOT_TIMEOUT (QEMU start to dom0 ready, 600),
#   VMI_XEN_DOMU_TIMEOUT (dom0 ready to domU ready, 600), VMI_XEN_PAYLOAD_TIMEOUT (600);
#   meanwhile the payload fails after 300 s without an ALIVE line from dom0.
# Exit: 0 all done and the payload exited 0; 1 the harness failed; 3 the payload failed;
#       4 dom0 stopped the payload at its time limit (ODIR/payload/current-step: in what).
set -euo pipefail

# --- pinned inputs -----------------------------------------------------------------------
KERNEL_ABI=6.1.0-50          # Debian kernel for dom0 and domU (the same image serves both)
KERNEL_VERSION=6.1.176-1
XEN_SERIES=4.17              # xen-hypervisor-$XEN_SERIES-amd64, same version as the host's xen-utils
DOMU_NAME=vmi-domu
DOMU_MEMORY_MB=256
DOMU_PROCS=20                # sleep processes in the domU
DOMU_THREADS=4               # extra threads of the domU's `threaded` process
# Plain `max` crashes dom0 at once (brief, section 3). VMI_XEN_QEMU_CPU and
# VMI_XEN_CMDLINE_EXTRA (appended to Xen's command line) are for experiments: both act
# at run time only, the cache does not depend on them.
QEMU_CPU=${VMI_XEN_QEMU_CPU:-max,-smap,-smep,-pku,-la57}
QEMU_RAM_MB=3072
XEN_CMDLINE="console=com1 com1=115200,8n1 dom0_mem=1536M,max:1536M noreboot${VMI_XEN_CMDLINE_EXTRA:+ $VMI_XEN_CMDLINE_EXTRA}"
DOM0_CMDLINE="console=hvc0 panic=-1"
DOMU_CMDLINE="console=hvc0 panic=-1"
# dom0's tool stack, from the host's xen-utils-$XEN_SERIES.
XEN_BIN=/usr/lib/xen-$XEN_SERIES/bin
XEN_TOOLS=(xl xenstored xenconsoled xen-init-dom0 libxl-save-helper xenctx)
# What an HVM domU needs in dom0 besides (run --hvm), each at its Debian path: xl's
# hvmloader, the device model, the BIOS it loads and the option ROMs of direct kernel boot.
HVM_DEVICE_MODEL=/usr/libexec/xen-qemu-system-i386
HVM_FILES=(/usr/lib/xen-$XEN_SERIES/boot/hvmloader /usr/share/seabios/bios-256k.bin
           /usr/share/qemu/linuxboot_dma.bin /usr/share/qemu/linuxboot.bin /usr/share/qemu/kvmvapic.bin)
DOM0_MODULES=(xen-evtchn xen-privcmd xen-gntdev xen-gntalloc xenfs          # this order: xenfs needs privcmd
              virtio virtio_ring virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci virtio_blk)
DOMU_MODULES=(fuse dummy loop nls_utf8)
OUTBOX_BYTES=$((1024 * 1024 * 1024))   # sparse
BOOT_TIMEOUT=${VMI_XEN_BOOT_TIMEOUT:-600}
DOMU_TIMEOUT=${VMI_XEN_DOMU_TIMEOUT:-600}
PAYLOAD_TIMEOUT=${VMI_XEN_PAYLOAD_TIMEOUT:-600}
OUTBOX_TIMEOUT=180           # after the payload (or an error): dom0 packs and writes /out
HEARTBEAT_TIMEOUT=300        # while the payload runs, dom0 prints ALIVE every 60 s

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SCRIPT_PATH="$SCRIPT_DIR/$(basename "${BASH_SOURCE[0]}")"

log() { printf 'xen-host: %s\n' "$*" >&2; }
die() { printf 'xen-host: error: %s\n' "$*" >&2; exit 1; }
usage() { sed -n '7,20p' "$SCRIPT_PATH" | sed 's/^# \{0,1\}//' >&2; exit "${1:-2}"; }

# --- arguments ---------------------------------------------------------------------------
DIR=${VMI_GUEST_DIR:-$HOME/.cache/vmitools/guests}
FORCE=0 ACTION='' PAYLOAD='' OUT='' HVM=0
while [ $# -gt 0 ]; do
    case $1 in
        --dir) [ $# -ge 2 ] || usage; DIR=$2; shift 2 ;;
        --force) FORCE=1; shift ;;
        --payload) [ $# -ge 2 ] || usage; PAYLOAD=$2; shift 2 ;;
        --out) [ $# -ge 2 ] || usage; OUT=$2; shift 2 ;;
        --hvm) HVM=1; shift ;;
        -h|--help) usage 0 ;;
        build|run) [ -z "$ACTION" ] || usage; ACTION=$1; shift ;;
        *) log "unknown argument: $1"; usage ;;
    esac
done
[ -n "$ACTION" ] || usage
if [ "$ACTION" = run ]; then
    [ -n "$PAYLOAD" ] && [ -n "$OUT" ] || usage
    [ -f "$PAYLOAD/run.sh" ] || die "payload $PAYLOAD has no run.sh"
fi
for t in "$BOOT_TIMEOUT" "$DOMU_TIMEOUT" "$PAYLOAD_TIMEOUT"; do
    [[ $t =~ ^[0-9]+$ ]] && [ "$t" -ge 60 ] || die "timeouts are whole seconds, at least 60 (got '$t')"
done
mkdir -p "$DIR"
DIR=$(cd "$DIR" && pwd)
CACHE="$DIR/xen"
DOWNLOADS="$DIR/_downloads"
# QEMU's multiboot -initrd takes "file args,file,...": no commas, and the first word of
# each module is its file name, so no spaces either.
[[ $CACHE != *[,\ ]* ]] || die "the cache path '$CACHE' must not contain a comma or a space"

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
    TMP_DIRS=()
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- host tools and downloads ------------------------------------------------------------
APT_UPDATED=0
apt_update_once() {
    [ $APT_UPDATED = 1 ] && return 0
    log "apt-get update"
    apt-get update -qq </dev/null >&2 || log "WARNING: apt-get update reported errors; going on"
    APT_UPDATED=1
}

ensure_host_tools() {
    local missing=() pair
    for pair in qemu-system-x86_64:qemu-system-x86 cpio:cpio gzip:gzip dpkg-deb:dpkg \
                gcc:gcc md5sum:coreutils tar:tar; do
        command -v "${pair%%:*}" >/dev/null 2>&1 || missing+=("${pair#*:}")
    done
    [ -e /usr/lib/x86_64-linux-gnu/libc.a ] || missing+=(libc6-dev)
    [ -x "$XEN_BIN/xl" ] || missing+=("xen-utils-$XEN_SERIES")
    [ -e /usr/include/xenctrl.h ] || missing+=(libxen-dev)
    # HVM domUs: their device model, run in dom0 (SeaBIOS and the ROMs come with it).
    [ $HVM = 0 ] || [ -x "$HVM_DEVICE_MODEL" ] || missing+=(qemu-system-xen)
    if [ ${#missing[@]} -gt 0 ]; then
        [ "$(id -u)" = 0 ] || die "missing packages (${missing[*]}); run as root or install them"
        log "installing ${missing[*]}"
        apt_update_once
        # xen-utils only provides files to copy into dom0: nothing of it runs on this host.
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -o DPkg::Lock::Timeout=600 "${missing[@]}" </dev/null >&2 \
            || die "apt-get install ${missing[*]} failed"
    fi
}

# Path of a cached .deb of $1 at exact version $2, downloaded first if needed.
fetch_deb() {
    local pkg=$1 version=$2 f
    mkdir -p "$DOWNLOADS"
    f="$DOWNLOADS/${pkg}_${version//:/%3a}_amd64.deb"
    if [ ! -f "$f" ]; then
        log "downloading $pkg=$version"
        if ! (cd "$DOWNLOADS" && apt-get download -q -o APT::Sandbox::User=root "$pkg=$version" </dev/null >&2); then
            apt_update_once
            (cd "$DOWNLOADS" && apt-get download -q -o APT::Sandbox::User=root "$pkg=$version" </dev/null >&2) \
                || die "cannot download $pkg=$version"
        fi
    fi
    [ -f "$f" ] || die "apt-get download left no $f"
    printf '%s\n' "$f"
}

# --- the cached parts --------------------------------------------------------------------
xen_version() { dpkg-query -W -f '${Version}' "xen-utils-$XEN_SERIES" 2>/dev/null; }

inputs_hash() {
    { cat "$SCRIPT_PATH" "$SCRIPT_DIR/dom0-init.sh" "$SCRIPT_DIR/domu-init.sh" "$SCRIPT_DIR/../guests/threads.c"
      echo "$KERNEL_ABI $KERNEL_VERSION $(xen_version)"
      dpkg-query -W 'libxen*' 2>/dev/null | sort
    } | sha256sum | cut -d' ' -f1
}

# Copy ELF file $2 (found at $1 on the host) into tree $3 and every library ldd names,
# each at the path ldd prints (the dom0 runs the same Debian 12 userland as the host).
copy_with_libraries() {
    local src=$1 dest=$2 root=$3 lib
    mkdir -p "$root$(dirname "$dest")"
    [ "$src" -ef "$root$dest" ] || cp -L "$src" "$root$dest"
    # ldd fails on a static or foreign (e.g. 32-bit) ELF file: such a file needs nothing.
    local libs; libs=$(ldd "$src" 2>/dev/null || true)
    ! grep -q 'not found' <<< "$libs" || die "ldd $src: a library is not found on this host"
    awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }' <<< "$libs" |
    while read -r lib; do
        [ -e "$root$lib" ] && continue
        mkdir -p "$root$(dirname "$lib")"
        cp -L "$lib" "$root$lib"
    done
}

is_elf() { [ "$(head -c4 "$1" 2>/dev/null | od -An -c | tr -d ' ')" = '177ELF' ]; }

make_cpio() {   # tree -> gzipped newc archive
    (cd "$1" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet | gzip -6n) > "$2"
}

build_cache() {
    local hash start=$SECONDS
    hash=$(inputs_hash)
    if [ $FORCE = 0 ] && [ -f "$CACHE/done" ] && [ "$(cat "$CACHE/done")" = "$hash" ]; then
        log "cache $CACHE up to date"
        return 0
    fi
    ensure_host_tools
    hash=$(inputs_hash)    # installing xen-utils changes the versions hashed
    local version release work kdeb xdeb bbdeb m f
    version=$(xen_version); [ -n "$version" ] || die "xen-utils-$XEN_SERIES is not installed"
    release="$KERNEL_ABI-amd64"
    log "building the Xen host cache (Xen $version, kernel $release) in $CACHE"
    xdeb=$(fetch_deb "xen-hypervisor-$XEN_SERIES-amd64" "$version")
    kdeb=$(fetch_deb "linux-image-$release" "$KERNEL_VERSION")
    bbdeb=$(compgen -G "$DOWNLOADS/busybox-static_*_amd64.deb" | sort | tail -n1 || true)
    if [ -z "$bbdeb" ]; then
        (cd "$DOWNLOADS" && apt-get download -q -o APT::Sandbox::User=root busybox-static </dev/null >&2) \
            || { apt_update_once; (cd "$DOWNLOADS" && apt-get download -q -o APT::Sandbox::User=root busybox-static </dev/null >&2); } \
            || die "cannot download busybox-static"
        bbdeb=$(compgen -G "$DOWNLOADS/busybox-static_*_amd64.deb" | sort | tail -n1)
    fi

    work=$(mktemp -d /tmp/vmixenbuild.XXXXXX); TMP_DIRS+=("$work")
    local new="$CACHE.partial"
    rm -rf "$new"; mkdir -p "$new"
    dpkg -x "$xdeb" "$work/xen"
    zcat "$work/xen/boot/xen-$XEN_SERIES-amd64.gz" > "$new/xen.bin"
    dpkg -x "$kdeb" "$work/k"
    cp "$work/k/boot/vmlinuz-$release" "$new/vmlinuz"
    dpkg -x "$bbdeb" "$work/bb"
    local kmod="$work/k/lib/modules/$release"

    # domU initramfs: busybox, threads, the four modules, /init.
    local du="$work/domu"
    mkdir -p "$du"/{bin,sbin,usr/bin,usr/sbin,dev,proc,sys,etc,lib/modules}
    cp "$work/bb/bin/busybox" "$du/bin/busybox"
    for a in sh sleep mkfifo; do ln -s busybox "$du/bin/$a"; done
    gcc -static -pthread -O2 -Wall -o "$du/bin/threads" "$SCRIPT_DIR/../guests/threads.c" || die "cannot compile threads.c"
    strip "$du/bin/threads"
    for m in "${DOMU_MODULES[@]}"; do
        f=$(find "$kmod" -name "$m.ko" | head -n1)
        [ -n "$f" ] || die "module $m.ko not in the kernel package"
        cp "$f" "$du/lib/modules/"
    done
    cp "$SCRIPT_DIR/domu-init.sh" "$du/init"; chmod 755 "$du/init"
    printf 'PROCS=%s\nTHREADS=%s\n' "$DOMU_PROCS" "$DOMU_THREADS" > "$du/etc/vmi-domu.conf"
    make_cpio "$du" "$new/domu-initrd.gz"

    # dom0 initramfs base: busybox, the tool stack with its libraries, modules, the domU.
    local d0="$work/dom0"
    mkdir -p "$d0"/{bin,sbin,usr/bin,usr/sbin,dev,proc,sys,tmp,lib/modules,etc/xen,domu}
    mkdir -p "$d0"/var/lib/xen "$d0"/var/lib/xenstored "$d0"/var/run/xen "$d0"/var/run/xenstored \
             "$d0"/var/log/xen/console
    cp "$work/bb/bin/busybox" "$d0/bin/busybox"
    ln -s busybox "$d0/bin/sh"
    for t in "${XEN_TOOLS[@]}"; do
        [ -x "$XEN_BIN/$t" ] || die "$XEN_BIN/$t missing (xen-utils-$XEN_SERIES)"
        copy_with_libraries "$XEN_BIN/$t" "$XEN_BIN/$t" "$d0"
    done
    # xl aborts without it ("libgcc_s.so.1 must be installed for pthread_cancel to work").
    f=$(ls /lib/x86_64-linux-gnu/libgcc_s.so.1 2>/dev/null) || die "libgcc_s.so.1 missing on this host"
    mkdir -p "$d0/lib/x86_64-linux-gnu"; cp -L "$f" "$d0/lib/x86_64-linux-gnu/"
    for m in "${DOM0_MODULES[@]}"; do
        f=$(find "$kmod" -name "$m.ko" | head -n1)
        [ -n "$f" ] || die "module $m.ko not in the kernel package"
        cp "$f" "$d0/lib/modules/"
    done
    cp /etc/xen/xl.conf "$d0/etc/xen/xl.conf"
    cp "$new/vmlinuz" "$d0/domu/vmlinuz"
    cp "$new/domu-initrd.gz" "$d0/domu/initrd.gz"
    cat > "$d0/etc/xen/vmi-domu.cfg" <<EOF
# PV domU of the vmitools Xen test host (tests/xen/xen-host.sh)
name = "$DOMU_NAME"
type = "pv"
kernel = "/domu/vmlinuz"
ramdisk = "/domu/initrd.gz"
extra = "$DOMU_CMDLINE"
memory = $DOMU_MEMORY_MB
vcpus = 1
# A panic (panic=-1 reboots) or a crash leaves the domain shut down, for dom0 to see.
on_reboot = "preserve"
on_crash = "preserve"
EOF
    printf 'DOMU_NAME=%s\n' "$DOMU_NAME" > "$d0/etc/vmi-dom0.conf"
    cp "$SCRIPT_DIR/dom0-init.sh" "$d0/init"; chmod 755 "$d0/init"
    make_cpio "$d0" "$new/dom0-base.cpio.gz"

    {
        echo "# written by tests/xen/xen-host.sh"
        echo "XEN_VERSION=$version"
        echo "KERNEL_RELEASE=$release"
        echo "KERNEL_VERSION=$KERNEL_VERSION"
        echo "DOMU_NAME=$DOMU_NAME"
        echo "DOMU_MEMORY_MB=$DOMU_MEMORY_MB"
        echo "DOMU_PROCS=$DOMU_PROCS"
        echo "DOMU_THREADS=$DOMU_THREADS"
    } > "$new/cache.env"
    rm -rf "${TMP_DIRS[@]}"; TMP_DIRS=()
    rm -rf "$CACHE"; mv "$new" "$CACHE"
    echo "$hash" > "$CACHE/done"
    log "cache built in $((SECONDS - start)) s"
}

# --- one run -----------------------------------------------------------------------------
# Lines between "@@VMI BEGIN $2@@" and "@@VMI END $2@@" of file $1, CRs removed.
section() {
    tr -d '\r' < "$1" | awk -v b="@@VMI BEGIN $2@@" -v e="@@VMI END $2@@" '
        $0 == e { inside = 0; done = 1 } inside { print } $0 == b && !done { inside = 1 }'
}

show_tails() {
    log "--- last lines of the console (Xen + dom0), $OUT/console.log:"
    tr -d '\r' < "$OUT/console.log" | tail -n 25 >&2 || true
    if [ -s "$OUT/domu/console.log" ]; then
        log "--- last lines of the domU console, $OUT/domu/console.log:"
        tr -d '\r' < "$OUT/domu/console.log" | tail -n 15 >&2 || true
        echo >&2    # the domU may be cut off mid-line
    fi
}

run_fail() { show_tails; die "$*"; }

# Wait until console.log has a line starting with "@@VMI $1" (or an ERROR line, unless
# $4 = noerror); sets MARK_LINE. $2: seconds, $3: what we wait for (for the message).
# $5 = heartbeat: also fail when dom0's ALIVE lines stop for HEARTBEAT_TIMEOUT seconds.
wait_mark() {
    local deadline=$((SECONDS + $2)) line pattern="^@@VMI ($1|ERROR)" beat last_beat= beat_at=$SECONDS
    [ "${4:-}" != noerror ] || pattern="^@@VMI $1"
    while :; do
        line=$(tr -d '\r' < "$OUT/console.log" | grep -aE "$pattern" | head -n1 || true)
        if [ -n "$line" ]; then MARK_LINE=$line; return 0; fi
        kill -0 "$QEMU_PID" 2>/dev/null || { tail -n 5 "$RUN/qemu.log" >&2 || true; run_fail "QEMU exited before $3"; }
        [ $SECONDS -lt $deadline ] || run_fail "no $3 within $2 s (QEMU killed)"
        if [ "${5:-}" = heartbeat ]; then
            beat=$(tr -d '\r' < "$OUT/console.log" | grep -a '^@@VMI ALIVE' | tail -n1 || true)
            [ "$beat" = "$last_beat" ] || { last_beat=$beat; beat_at=$SECONDS; }
            [ $((SECONDS - beat_at)) -lt $HEARTBEAT_TIMEOUT ] ||
                run_fail "dom0 went silent: no ALIVE line for $HEARTBEAT_TIMEOUT s" \
                    "while waiting for the $3 (QEMU killed)"
        fi
        sleep 0.5
    done
}

# Read the outbox after dom0 announced it: check size and md5, unpack into $OUT.
read_outbox() {
    local line size sum
    wait_mark "OUTBOX WRITTEN" "$OUTBOX_TIMEOUT" "outbox" noerror
    read -r _ _ _ size sum <<< "${MARK_LINE%@@}"
    [ "$(head -c "$size" "$RUN/outbox.img" | md5sum | cut -d' ' -f1)" = "$sum" ] \
        || run_fail "outbox disk does not match dom0's checksum"
    head -c "$size" "$RUN/outbox.img" | tar -x -C "$OUT" || run_fail "cannot unpack the outbox"
}

# The domU's records as the host keeps them (like tests/guests), with sanity checks.
# They are cut here again from the domU's whole console (dom0's copies were for the
# payload; a dom0 process can die now and then under this nesting, see README).
finish_domu_records() {
    local d="$OUT/domu" n log="$OUT/domu/console.log" s
    [ -s "$log" ] || run_fail "the outbox has no domU console"
    for s in sleepers ps modules lister; do section "$log" $s > "$d/$s.txt"; done
    section "$log" version | head -n1 > "$d/version.txt"
    section "$log" kallsyms > "$d/kallsyms"
    section "$log" procs | LC_ALL=C sort -s -n -k1,1 > "$d/procs.txt"
    section "$log" threads | LC_ALL=C sort -s -n -k1,1 -k2,2 > "$d/threads.txt"
    section "$log" cmdline | LC_ALL=C sort -s -n -k1,1 > "$d/cmdline.txt"
    grep -q "^Linux version $KERNEL_RELEASE " "$d/version.txt" || run_fail "domU version.txt: $(cat "$d/version.txt")"
    n=$(grep -c ' sleep$' "$d/procs.txt" || true)
    [ "$n" = "$DOMU_PROCS" ] || run_fail "domu/procs.txt has $n sleep processes, not $DOMU_PROCS (domu/sleepers.txt: $(grep -v running "$d/sleepers.txt" | tr '\n' ' '))"
    REPLACED=$(grep -c replaced-by "$d/sleepers.txt" || true)
    [ "$REPLACED" = 0 ] || log "note: the domU replaced $REPLACED sleep process(es) that died at start: $(grep replaced-by "$d/sleepers.txt" | tr '\n' ' ')"
    grep -q '^1 0 0 0 [A-Z] init$' "$d/procs.txt" || run_fail "domu/procs.txt has no init as pid 1"
    for m in fuse dummy loop nls_utf8; do
        grep -q "^$m " "$d/modules.txt" || run_fail "module $m missing from domu/modules.txt"
    done
    n=$(wc -l < "$d/kallsyms")
    [ "$n" -gt 50000 ] || run_fail "domu/kallsyms has only $n lines"
    read -r LISTER_PID LAST_BEFORE LAST_AFTER THREADED_PID < "$d/lister.txt" || true
    [ "${LAST_BEFORE:-x}" = "${LAST_AFTER:-y}" ] || log "WARNING: domU created pids during its listing"
    n=$(awk -v p="${THREADED_PID:-x}" '$1 == p && $3 == "threaded"' "$d/threads.txt" | wc -l)
    [ "$n" = $((DOMU_THREADS + 1)) ] || run_fail "domU 'threaded' has $n tasks, expected $((DOMU_THREADS + 1))"
}

# dom0 reported an error: it still sends its outbox (the domU console, logs); fetch it
# for the tails, then fail with dom0's message.
fail_after_error() {
    local error=$MARK_LINE
    read_outbox
    run_fail "dom0: $error"
}

run_host() {
    build_cache
    ensure_host_tools   # a cache built without --hvm did not ask for the device model
    # shellcheck disable=SC1091
    . "$CACHE/cache.env"
    mkdir -p "$OUT"
    OUT=$(cd "$OUT" && pwd)
    find "$OUT" -mindepth 1 -delete
    RUN=$(mktemp -d /tmp/vmixenrun.XXXXXX); TMP_DIRS+=("$RUN")

    # The per-run part of dom0's initramfs: the payload, its libraries, the wait limits.
    # The kernel unpacks concatenated archives in order, so this one adds to the base.
    local p="$RUN/payload-root" f rel
    mkdir -p "$p/payload" "$p/etc"
    cp -a "$PAYLOAD/." "$p/payload/"
    while IFS= read -r -d '' f; do
        is_elf "$f" || continue
        rel=${f#"$p"}
        copy_with_libraries "$f" "$rel" "$p"
    done < <(find "$p/payload" -type f -print0)
    if [ $HVM = 1 ]; then
        copy_with_libraries "$HVM_DEVICE_MODEL" "$HVM_DEVICE_MODEL" "$p"
        for f in "${HVM_FILES[@]}"; do
            [ -e "$f" ] || die "$f is missing: an HVM domU needs it (packages xen-utils-$XEN_SERIES, seabios, qemu-system-data)"
            mkdir -p "$p$(dirname "$f")"
            cp -L "$f" "$p$f"
        done
        cp -rL /usr/share/qemu/keymaps "$p/usr/share/qemu/"
    fi
    # dom0 gives up a little before the host does, so that it can still send its outbox.
    printf 'DOMU_TIMEOUT=%s\nPAYLOAD_TIMEOUT=%s\n' $((DOMU_TIMEOUT - 30)) $((PAYLOAD_TIMEOUT - 30)) > "$p/etc/vmi-run.conf"
    make_cpio "$p" "$RUN/payload.cpio.gz"
    cat "$CACHE/dom0-base.cpio.gz" "$RUN/payload.cpio.gz" > "$RUN/dom0-initrd.gz"
    truncate -s "$OUTBOX_BYTES" "$RUN/outbox.img"

    : > "$OUT/console.log"
    log "booting Xen $XEN_VERSION, dom0 and domU $KERNEL_RELEASE under QEMU (TCG, -cpu $QEMU_CPU)"
    local t0=$SECONDS
    qemu-system-x86_64 -accel tcg -cpu "$QEMU_CPU" -m "$QEMU_RAM_MB" -smp 1 \
        -display none -no-reboot -nodefaults \
        -kernel "$CACHE/xen.bin" -append "$XEN_CMDLINE" \
        -initrd "$CACHE/vmlinuz $DOM0_CMDLINE,$RUN/dom0-initrd.gz" \
        -serial "file:$OUT/console.log" \
        -drive "file=$RUN/outbox.img,format=raw,if=virtio" \
        </dev/null >"$RUN/qemu.log" 2>&1 &
    QEMU_PID=$!

    local t_dom0 t_domu t_payload domid rc status
    wait_mark "DOM0 READY" "$BOOT_TIMEOUT" "dom0 ready marker"
    case $MARK_LINE in "@@VMI ERROR"*) fail_after_error;; esac
    t_dom0=$((SECONDS - t0)); log "dom0 ready after $t_dom0 s"
    wait_mark "DOMU READY" "$DOMU_TIMEOUT" "domU ready marker"
    case $MARK_LINE in "@@VMI ERROR"*) fail_after_error;; esac
    t_domu=$((SECONDS - t0)); log "domU ready after $t_domu s"
    wait_mark "PAYLOAD DONE" "$PAYLOAD_TIMEOUT" "end of the payload" error heartbeat
    case $MARK_LINE in "@@VMI ERROR"*) fail_after_error;; esac
    t_payload=$((SECONDS - t0)); log "payload done after $t_payload s"
    read_outbox
    local t_outbox=$((SECONDS - t0))
    cleanup

    status=$(cat "$OUT/status" 2>/dev/null || echo missing)
    [ "$status" = ok ] || run_fail "dom0 status: $status"
    section "$OUT/console.log" payload > "$OUT/payload.console"
    finish_domu_records
    domid=$(tr -d '\r' < "$OUT/console.log" | sed -n 's/^@@VMI DOMU CREATED \([0-9]*\)@@$/\1/p' | head -n1)
    rc=$(cat "$OUT/payload.rc")
    {
        echo "# written by tests/xen/xen-host.sh"
        cat "$CACHE/cache.env" | grep -v '^#'
        echo "DOMU_ID=$domid"
        echo "DOMU_LISTER_PID=$LISTER_PID"
        echo "DOMU_LAST_PID=$LAST_AFTER"
        echo "DOMU_THREADED_PID=$THREADED_PID"
        echo "DOMU_THREADED_TASKS=$((DOMU_THREADS + 1))"
        echo "DOMU_SLEEPS_REPLACED=$REPLACED"
        echo "PAYLOAD_RC=$rc"
        echo "T_DOM0_READY=$t_dom0"
        echo "T_DOMU_READY=$t_domu"
        echo "T_PAYLOAD_DONE=$t_payload"
        echo "T_OUTBOX_READ=$t_outbox"
    } > "$OUT/xen.env"
    log "results in $OUT (seconds from QEMU start: dom0 $t_dom0, domU $t_domu, payload $t_payload, outbox $t_outbox)"
    if [ -f "$OUT/payload.timed-out" ]; then
        log "dom0 stopped the payload at its limit of $(cat "$OUT/payload.timed-out") s," \
            "in: $(cat "$OUT/payload/current-step" 2>/dev/null || echo 'no current-step file')"
        exit 4
    fi
    if [ "$rc" != 0 ]; then
        log "payload exited $rc; its output is in $OUT/payload.out"
        exit 3
    fi
}

case $ACTION in
    build) build_cache ;;
    run) run_host ;;
esac

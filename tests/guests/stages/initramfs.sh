# The guest's initramfs: busybox, the helper programs, the guest's modules and /init
# (made from init.sh.in). Sourced by build-guests.sh.

INIT_TEMPLATE="$STAGES_DIR/init.sh.in"

# The guest's /init: init.sh.in with this guest's settings filled in. Everything it
# records goes between markers so the host can cut it out of a console that also carries
# kernel messages.
write_init() {
    local init
    init=$(sed -e "s|@PROCS@|$PROCS|" -e "s|@THREADED@|$THREADED|" -e "s|@THREADS@|$THREADS_PER_PROCESS|" \
               -e "s|@SPIN@|$SPIN|" -e "s|@READY_MARKER@|$READY_MARKER|" "$INIT_TEMPLATE")
    ! grep -qE '@[A-Z_]+@' <<< "$init" || die "$INIT_TEMPLATE: a placeholder was left unfilled"
    printf '%s\n' "$init"
}

# Build initramfs $1 from busybox .deb $2 and the kernel unpacked in directory $3.
build_initrd() {
    local out=$1 busybox_deb=$2 kernel_tree=$3 work mod f dirs=() d
    work=$(mktemp -d); TMP_DIRS+=("$work")
    dpkg -x "$busybox_deb" "$work/bb"
    mkdir -p "$work/root"/{bin,sbin,usr/bin,usr/sbin,dev,proc,sys,lib/modules}
    cp "$work/bb/bin/busybox" "$work/root/bin/busybox"
    # Applet symlinks are made by `busybox --install -s` inside the guest: an i386
    # busybox cannot run on every amd64 host to list its applets.
    for a in sh sleep mkfifo; do ln -s busybox "$work/root/bin/$a"; done
    if [ $THREADED = 1 ]; then build_static_program threads "$work/root/bin/threads"; fi
    if [ "$SPIN" -gt 0 ]; then build_static_program spin "$work/root/bin/spin"; fi
    # Modules sit in /lib/modules up to Debian 12, in /usr/lib/modules from Debian 13 on.
    for d in "$kernel_tree/lib/modules" "$kernel_tree/usr/lib/modules"; do
        [ ! -d "$d" ] || dirs+=("$d")
    done
    [ ${#dirs[@]} -gt 0 ] || die "$GUEST: the kernel package has no modules directory"
    for mod in $MODULES; do
        f=$(find "${dirs[@]}" -name "$mod.ko*" | head -n1)
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

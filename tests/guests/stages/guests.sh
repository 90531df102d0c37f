# The guest table: which guests there are, the kernel each one boots and how it is run.
# Sourced by build-guests.sh; guest_config NAME sets the variables below for one guest.

ALL_GUESTS=(amd64-4level amd64-5level-kaslr i386-pae i386-2level
            amd64-2000procs amd64-busy-kpti amd64-6.12-kaslr amd64-7.2-kaslr)
THREADS_PER_PROCESS=4        # threads started by the `threaded` process (amd64 guests)
SPINNERS=2                   # CPU-bound `spin` processes in amd64-busy-kpti

# The pinned kernel of each Debian suite a guest can take its kernel from:
# KERNEL_ABI (the release without its flavour), KERNEL_VERSION (the package version) and
# KERNEL_SPLIT (1: Debian 14's split packages, linux-binary-<rel> with the vmlinuz and
# linux-modules-<rel> with the modules; 0: one linux-image-<rel>). The host's own release
# (here Debian 12, bookworm) comes through the host's apt sources, any other suite through
# a private apt state (fetch.sh). KERNEL_SERIES (major.minor) is the one the guests' names
# and the README promise: a fallback kernel of another series is logged.
kernel_pin() {
    case $1 in
        bookworm) KERNEL_ABI=6.1.0-50 KERNEL_VERSION=6.1.176-1 KERNEL_SERIES=6.1 KERNEL_SPLIT=0 ;;
        trixie) KERNEL_ABI=6.12.117+deb13 KERNEL_VERSION=6.12.117-1 KERNEL_SERIES=6.12 KERNEL_SPLIT=0 ;;
        sid) KERNEL_ABI=7.2.13+deb14 KERNEL_VERSION=7.2.13-1 KERNEL_SERIES=7.2 KERNEL_SPLIT=1 ;;
        *) die "no pinned kernel for suite '$1'" ;;
    esac
}

# Per-guest facts. QEMU_CPU for i386: coreduo has PAE+NX (the 686-pae kernel refuses a
# CPU without PAE); pentium3 has no PAE at all, so the 686 guest can only use 2-level
# paging, as on real hardware of that era.
# Besides: SUITE (where the kernel comes from, see kernel_pin), RAM_MB, PROCS (sleep
# processes), APPEND (extra kernel arguments), THREADED (1: start `threads
# $THREADS_PER_PROCESS`, amd64 only: the host gcc cannot build i386 without multilib
# packages), SPIN (number of `spin` processes), WANT_USER_CR3 (1: pause again until CR3 is
# a KPTI user page table) and MODULES (loaded with insmod: each must have no dependencies;
# the build checks). Debian 13 and 14 build fuse into the kernel, so their guests load
# cuse, fuse's character-device sibling, in its place.
guest_config() {
    RAM_MB=512 PROCS=20 APPEND='' THREADED=0 SPIN=0 WANT_USER_CR3=0 SUITE=bookworm
    MODULES='fuse dummy loop nls_utf8'
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
        # Debian 13's kernel: modules with mem[] regions (6.4+), threads on
        # signal->thread_head (6.7+).
        amd64-6.12-kaslr)
            ARCH=x86_64 DEB_ARCH=amd64 FLAVOUR=amd64 QEMU=qemu-system-x86_64 SUITE=trixie
            QEMU_CPU=max KASLR=1 PAGING=la57 THREADED=1 MODULES='cuse dummy loop nls_utf8' ;;
        # Debian unstable's kernel, in Debian 14's split packages.
        amd64-7.2-kaslr)
            ARCH=x86_64 DEB_ARCH=amd64 FLAVOUR=amd64 QEMU=qemu-system-x86_64 SUITE=sid
            QEMU_CPU=qemu64 KASLR=1 PAGING=ia32e THREADED=1 MODULES='cuse dummy loop nls_utf8' ;;
        *) die "unknown guest '$1' (known: ${ALL_GUESTS[*]})" ;;
    esac
    kernel_pin "$SUITE"
    [ -z "$PROCS_OPTION" ] || PROCS=$PROCS_OPTION
}

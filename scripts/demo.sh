#!/usr/bin/env bash
# Sets up vmitools on a fresh Debian machine and shows it working on the
# built-in demo guest: a real Debian Linux kernel booted under QEMU, paused
# and dumped; the tools then read that guest from outside.
set -euo pipefail
cd "$(dirname "$0")/.."

start=$SECONDS
stage() { printf '\ndemo: [%s/4] %s (at %d s)\n' "$1" "$2" $((SECONDS - start)) >&2; }

stage 1 "installing the packages the tools and QEMU need (scripts/install-deps.sh --demo)"
scripts/install-deps.sh --demo

# Only the tools: the unit tests and benchmarks are for scripts/test.sh.
stage 2 "building the tools (Release, into build/)"
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DVMI_SANITIZE=OFF -DVMI_BUILD_TESTS=OFF -DVMI_BUILD_BENCH=OFF >/dev/null
cmake --build build -j"$(nproc)" --target vmi-ps vmi-lsmod vmi-hooks vmi-read vmi-ksym vmi-write

stage 3 "booting the demo guest under QEMU and dumping its memory (cached after the first run)"
tests/guests/build-guests.sh amd64-4level
guest=${VMI_GUEST_DIR:-$HOME/.cache/vmitools/guests}/amd64-4level

stage 4 "reading the guest from outside"

# A config entry for the demo guest, in LibVMI's format.
cat > build/demo.conf <<CONF
demo {
    ostype = "Linux";
    image = "$guest/memory.elf";
    sysmap = "$guest/kallsyms";
    btf = "$guest/vmlinuz";
}
CONF

run() { printf '\n$ %s\n' "$*"; "$@"; }
run build/tools/vmi-ps/vmi-ps -c build/demo.conf demo
run build/tools/vmi-lsmod/vmi-lsmod -c build/demo.conf demo
run build/tools/vmi-hooks/vmi-hooks -c build/demo.conf demo --check && echo "(no findings: no kernel hook reaches a hidden module's code, or code of no module)"
run build/tools/vmi-read/vmi-read -c build/demo.conf demo --ksym linux_banner --as string
run build/tools/vmi-ksym/vmi-ksym -c build/demo.conf demo init_task linux_banner
run build/tools/vmi-ksym/vmi-ksym -c build/demo.conf demo --reverse "$(build/tools/vmi-ksym/vmi-ksym -c build/demo.conf demo schedule)"
run build/tools/vmi-read/vmi-read -c build/demo.conf demo --ksym init_task --count 64
printf '\nThe guest itself said:\n'
cat "$guest/version.txt"
cat "$guest/modules.txt"
printf '\nvmi-ps against the guest'"'"'s own process list (pid and name; only the listing\nprocesses and kworker descriptions may differ):\n'
build/tools/vmi-ps/vmi-ps -c build/demo.conf demo -o pid,name --no-headers -r > build/demo-host.txt
cut -d' ' -f1,6- "$guest/procs.txt" | diff build/demo-host.txt - && echo "identical"  || true

# A running guest, when libvirt is installed here: the same tools on a libvirt domain,
# live (the dump-file demo above needs nothing but QEMU). Says why when it cannot run.
live_part() {
    if ! command -v libvirtd >/dev/null 2>&1; then
        printf '\n(libvirt is not installed: install libvirt-daemon-driver-qemu to see a live guest too)\n'
        return 0
    fi
    # libvirt starts QEMU in a mount namespace of its own and first makes "/" a slave
    # mount there, which fails ("Failed disable mount propagation") when "/" is no mount
    # point: in a chroot into a plain directory.
    if ! mountpoint -q /; then
        printf '\n(no live part: "/" is not a mount point here (a chroot?), and libvirt cannot start QEMU\n'
        printf ' without one. Bind-mount the chroot directory onto itself first (mount --bind DIR DIR)\n'
        printf ' to see a live guest in a chroot.)\n'
        return 0
    fi
    if ! tests/live/libvirt-env.sh; then
        echo "demo: libvirtd did not start (libvirt-env.sh says why above): no live part" >&2
        return 1
    fi
    python3 scripts/demo_live.py "$guest" build/tools
}
status=0
live_part || status=1
printf '\ndemo: done in %d s\n' $((SECONDS - start)) >&2
exit "$status"

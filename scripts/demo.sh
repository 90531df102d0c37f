#!/usr/bin/env bash
# Sets up vmitools on a fresh Debian machine and shows it working on the
# built-in demo guest: a real Debian Linux kernel booted under QEMU, paused
# and dumped; the tools then read that guest from outside.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh --test
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DVMI_SANITIZE=OFF >/dev/null
cmake --build build -j"$(nproc)"
tests/guests/build-guests.sh amd64-4level
guest=${VMI_GUEST_DIR:-$HOME/.cache/vmitools/guests}/amd64-4level

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
run build/tools/vmi-read/vmi-read -c build/demo.conf demo --ksym linux_banner --as string
run build/tools/vmi-ksym/vmi-ksym -c build/demo.conf demo init_task linux_banner
run build/tools/vmi-ksym/vmi-ksym -c build/demo.conf demo --reverse "$(build/tools/vmi-ksym/vmi-ksym -c build/demo.conf demo schedule)"
run build/tools/vmi-read/vmi-read -c build/demo.conf demo --ksym init_task --count 64
printf '\nThe guest itself said:\n'
cat "$guest/version.txt"
cat "$guest/modules.txt"
printf '\nvmi-ps against the guest'"'"'s own process list (pid and name; only the listing\nprocesses and kworker descriptions may differ):\n'
build/tools/vmi-ps/vmi-ps -c build/demo.conf demo -o pid,name --no-headers > build/demo-host.txt
cut -d' ' -f1,6- "$guest/procs.txt" | diff build/demo-host.txt - && echo "identical"  || true

# A running guest, when libvirt is installed here: the same tools on a libvirt domain,
# live (the dump-file demo above needs nothing but QEMU).
if command -v libvirtd >/dev/null 2>&1 && tests/live/libvirt-env.sh; then
    python3 scripts/demo_live.py "$guest" build/tools
else
    printf '\n(libvirt is not installed: install libvirt-daemon-driver-qemu to see a live guest too)\n'
fi

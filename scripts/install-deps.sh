#!/usr/bin/env bash
# Installs the Debian packages vmitools needs, if missing.
#
# Usage: scripts/install-deps.sh [--build | --demo | --test]
#   --build  (default) what building the tools and their .deb (cpack -G DEB) needs
#   --demo   + QEMU, to boot the demo guest, and a libvirt daemon for its live part
#   --test   + everything the whole test suite uses (unit tests, fuzzing, the fresh-machine
#            test, format and tidy checks)
#
# Test guests download their own kernels and busybox (tests/guests/), so no package of a
# foreign architecture is installed here: busybox-static and busybox-static:i386 conflict.
set -euo pipefail

mode=${1:---build}
case $mode in
    --build|--demo|--test) ;;
    *) echo "install-deps: unknown option '$mode' (expected --build, --demo or --test)" >&2; exit 2 ;;
esac

# Building the tools.
packages=(cmake make g++ pkg-config libcli11-dev nlohmann-json3-dev libfmt-dev
          libbpf-dev zlib1g-dev libbz2-dev liblzma-dev liblzo2-dev liblz4-dev libzstd-dev
          libvirt-dev libxen-dev libzydis-dev libsystemd-dev)
# cpack -G DEB: dpkg-shlibdeps (dpkg-dev) writes the package's Depends, and CPack sorts
# the files it packages with `file`.
packages+=(dpkg-dev file)
if [ "$mode" != --build ]; then
    # Booting test guests under QEMU (tests/guests/build-guests.sh), and their helper
    # programs, linked static. The guests' /init is busybox, downloaded by the script.
    packages+=(python3 qemu-system-x86 cpio xz-utils gzip zstd gcc libc6-dev)
    # The live part of the demo and the live tests run guests under a real libvirtd.
    packages+=(libvirt-daemon libvirt-daemon-driver-qemu libvirt-clients)
fi
if [ "$mode" = --test ]; then
    packages+=(doctest-dev)
    # The kernel-image unit tests compress with every compressor the kernel's build knows.
    packages+=(bzip2 lzop lz4)
    # The end-to-end tests take structure offsets from the guest kernels' BTF through
    # pahole (tests/testlib.py, struct_facts), not from the tools they test.
    packages+=(dwarves)
    # The fresh-machine test (tests/fresh/) builds clean Debian roots.
    packages+=(debootstrap)
    # promtool (package prometheus) checks the --prometheus textfile (tests/real/test_check_metrics.py).
    packages+=(prometheus)
    # ... and Prometheus's Python client parses it (for Debian's python3).
    packages+=(python3-prometheus-client)
    # systemd-analyze verify checks the shipped units (tests/style/check-units.sh).
    packages+=(systemd)
    # Node.js and npm check the Kubernetes manifests (tests/manifests/check-manifests.sh).
    # A Node.js from NodeSource brings its own npm and conflicts with Debian's.
    packages+=(nodejs)
    command -v npm >/dev/null || packages+=(npm)
    # Fuzzing (libFuzzer) and the style checks run on every CI.
    packages+=(clang libclang-rt-14-dev clang-format clang-tidy)
    # The suite's two compiler builds (sanitizers, fuzzers) go through ccache
    # (scripts/compiler-cache.sh): a CI host builds only what changed since its last run.
    packages+=(ccache)
    # The Xen test's host side (tests/xen/xen-host.sh): Xen's tools and the HVM device
    # model, copied into the nested dom0; nothing of them runs on this host. Installed
    # here, before the tests run side by side, so that no test waits on dpkg's lock.
    packages+=(xen-utils-4.17 qemu-system-xen)
fi

as_root() {
    if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

# Packages are checked for the machine's own architecture: a foreign-architecture copy
# (busybox-static:i386, say) does not count as the package being installed.
native=$(dpkg --print-architecture)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p:$native" 2>/dev/null | grep -q "install ok installed" \
        || dpkg-query -W -f='${Status}' "$p:all" 2>/dev/null | grep -q "install ok installed" \
        || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "install-deps: installing ${#missing[@]} packages: ${missing[*]}" >&2
# A package index that fails to download (a mirror mid-sync) is not fatal: the indexes
# apt already has may hold everything needed. If they do not, apt's own error follows.
if ! as_root apt-get update -qq; then
    echo "install-deps: warning: apt-get update failed for some index; installing from the indexes apt has" >&2
fi
log=$(mktemp)
trap 'rm -f "$log"' EXIT
if ! as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
        -o DPkg::Lock::Timeout=300 "${missing[@]}" >"$log" 2>&1; then
    # apt's reason (a conflict, a package the indexes lack), not just "it failed".
    grep -E '^(E:|W:| )|Depends:|Conflicts:|Breaks:|Unable|not available|no installation candidate' "$log" \
        | head -n 30 >&2 || tail -n 30 "$log" >&2
    echo "install-deps: error: apt-get install failed (packages: ${missing[*]})" >&2
    exit 1
fi

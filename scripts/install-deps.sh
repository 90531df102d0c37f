#!/usr/bin/env bash
# Installs the Debian packages vmitools needs to build and test, if missing.
# Usage: scripts/install-deps.sh [--test]   (--test adds what the real-guest tests use)
set -euo pipefail

packages=(cmake make g++ pkg-config libcli11-dev nlohmann-json3-dev libfmt-dev doctest-dev
          libbpf-dev zlib1g-dev libbz2-dev liblzma-dev liblzo2-dev liblz4-dev libzstd-dev
          libvirt-dev)
if [ "${1:-}" = "--test" ]; then
    # QEMU boots the test guests; the i386 guests need i386 busybox.
    packages+=(python3 qemu-system-x86 busybox-static busybox-static:i386 cpio xz-utils)
    # The kernel-image unit tests compress with every compressor the kernel's build knows.
    packages+=(gzip bzip2 lzop lz4 zstd)
    # The live libvirt tests run their guests under a real libvirtd (tests/live/libvirt-env.sh).
    packages+=(libvirt-daemon libvirt-daemon-driver-qemu libvirt-clients)
fi

as_root() {
    if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "install-deps: installing ${missing[*]}" >&2
if printf '%s\n' "${missing[@]}" | grep -q ':i386$' && ! dpkg --print-foreign-architectures | grep -qx i386; then
    as_root dpkg --add-architecture i386
fi
as_root apt-get update -qq || echo "install-deps: warning: apt-get update failed; trying the install anyway" >&2
as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null

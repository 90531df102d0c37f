#!/usr/bin/env bash
# Make a libvirt daemon that runs QEMU guests available on this machine, as the live
# libvirt tests need: install the packages if missing, create the directories, group and
# user that the Debian packages for systemd machines would, start virtlogd and libvirtd
# (no systemd here) unless they run, and wait until qemu:///system answers.
# Idempotent: a second call only checks. Needs root.
#
# Usage: tests/live/libvirt-env.sh
#   VMI_LIBVIRT_TIMEOUT (env) overrides the 60 s limit for libvirtd to answer.
set -euo pipefail

PACKAGES=(libvirt-daemon libvirt-daemon-driver-qemu libvirt-clients libvirt-dev)
URI=qemu:///system
TIMEOUT=${VMI_LIBVIRT_TIMEOUT:-60}

log() { printf 'libvirt-env: %s\n' "$*" >&2; }
die() { printf 'libvirt-env: error: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "must run as root (installs packages, starts libvirtd)"

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }

missing=()
for p in "${PACKAGES[@]}"; do installed "$p" || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
    log "installing ${missing[*]}"
    # A partly failed update (mirror mid-sync) still leaves usable indexes; if they are
    # not, the install that follows fails with its own message.
    apt-get update -qq </dev/null >&2 || log "WARNING: apt-get update reported errors; going on"
    # Another session may hold the dpkg lock for a while: wait for it rather than fail.
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        -o DPkg::Lock::Timeout=300 "${missing[@]}" </dev/null >/dev/null \
        || die "apt-get install ${missing[*]} failed"
fi

# What libvirt-daemon-system and systemd's tmpfiles would have made. Debian's libvirtd
# runs QEMU as user libvirt-qemu, group libvirt-qemu, and refuses to start without both.
mkdir -p /var/log/libvirt/qemu /var/run/libvirt /var/lib/libvirt/qemu /var/cache/libvirt
getent group kvm >/dev/null || groupadd --system kvm
getent group libvirt-qemu >/dev/null || groupadd --system libvirt-qemu
getent passwd libvirt-qemu >/dev/null \
    || useradd --system --gid libvirt-qemu --groups kvm --home-dir /var/lib/libvirt \
               --no-create-home --shell /usr/sbin/nologin libvirt-qemu

# A daemon counts as running if the pid in its pid file is alive (a stale file from a
# killed daemon does not). The file has no final newline.
running() {
    local pid
    pid=$(cat "/run/$1.pid" 2>/dev/null) && [[ $pid =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null
}
# Tests that run side by side call this together: one starts the daemons.
exec 9>/run/vmi-libvirt-env.lock
flock 9
for daemon in virtlogd libvirtd; do
    running "$daemon" && continue
    log "starting $daemon"
    "$daemon" -d 9>&- || die "$daemon -d failed"  # the daemon must not keep the lock
done

deadline=$((SECONDS + TIMEOUT))
until version=$(virsh -c "$URI" version 2>&1); do
    if [ $SECONDS -ge $deadline ]; then
        running libvirtd || die "libvirtd is not running (it exited after starting?): $version"
        die "virsh -c $URI version still fails after $TIMEOUT s: $version"
    fi
    sleep 0.5
done
log "$URI ready: $(printf '%s\n' "$version" | grep -m1 'Running hypervisor' || printf '%s\n' "$version" | tail -n1)"

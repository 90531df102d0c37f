#!/usr/bin/env bash
# Build the test-fixture modules (vmihide.c, vmilivepatch.c) for the test guests' kernel and
# print the paths of the cached vmihide and vmilivepatch .ko files on stdout, one per line.
#
# Usage: tests/hiding/build-module.sh [--force]
#   Installs linux-headers-<KERNEL_RELEASE> (apt-get, root) if /usr/src lacks them, builds
#   with `make -C /usr/src/linux-headers-<rel> M=<build dir> modules` in a scratch copy of
#   the sources, and caches the result as
#   ${VMI_GUEST_DIR:-$HOME/.cache/vmitools/guests}/_hiding/{vmihide,vmilivepatch}-<hash>.ko, the hash
#   covering the sources, this script and the installed headers' version. --force rebuilds.
set -euo pipefail

# Same ABI as the test guests (tests/guests/build-guests.sh): the module's vermagic and
# symbol CRCs must match the guest kernel, linux-image-6.1.0-50-amd64 6.1.176-1.
KERNEL_RELEASE=6.1.0-50-amd64
HEADERS_VERSION=6.1.176-1

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
log() { printf 'build-module: %s\n' "$*" >&2; }
die() { printf 'build-module: error: %s\n' "$*" >&2; exit 1; }

FORCE=0
case ${1:-} in
    --force) FORCE=1 ;;
    '') ;;
    -h|--help) sed -n '2,10p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2; exit 0 ;;
    *) die "unknown argument '$1' (usage: build-module.sh [--force])" ;;
esac

HEADERS=/usr/src/linux-headers-$KERNEL_RELEASE
installed_version() { dpkg-query -W -f '${Version}' "linux-headers-$KERNEL_RELEASE" 2>/dev/null || true; }

install_headers() {
    [ "$(id -u)" = 0 ] || die "$HEADERS missing; run as root or apt-get install linux-headers-$KERNEL_RELEASE"
    local pkg=linux-headers-$KERNEL_RELEASE
    log "installing $pkg=$HEADERS_VERSION"
    if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$pkg=$HEADERS_VERSION" </dev/null >&2; then
        apt-get update -qq </dev/null >&2 || log "WARNING: apt-get update reported errors; going on"
        if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$pkg=$HEADERS_VERSION" </dev/null >&2; then
            # Same ABI name, other package version: Debian keeps the ABI stable within it.
            log "WARNING: $pkg=$HEADERS_VERSION unavailable; installing apt's candidate of $pkg"
            DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$pkg" </dev/null >&2 \
                || die "apt-get install $pkg failed"
        fi
    fi
}

[ -f "$HEADERS/Makefile" ] || install_headers
command -v make >/dev/null || die "make missing (apt-get install make)"
version=$(installed_version)
[ "$version" = "$HEADERS_VERSION" ] \
    || log "WARNING: building against linux-headers-$KERNEL_RELEASE $version, not $HEADERS_VERSION (same ABI)"

CACHE=${VMI_GUEST_DIR:-$HOME/.cache/vmitools/guests}/_hiding
MODULES=(vmihide vmilivepatch)
hash=$({ cat "$SCRIPT_DIR/vmihide.c" "$SCRIPT_DIR/vmilivepatch.c" "$SCRIPT_DIR/Kbuild" "${BASH_SOURCE[0]}"
         echo "$KERNEL_RELEASE $version"; } | sha256sum | cut -c1-16)
cached() { for m in "${MODULES[@]}"; do [ -s "$CACHE/$m-$hash.ko" ] || return 1; done; }
print_paths() { for m in "${MODULES[@]}"; do printf '%s\n' "$CACHE/$m-$hash.ko"; done; }
if [ $FORCE = 0 ] && cached; then
    print_paths
    exit 0
fi

# Kbuild writes its objects next to the sources: build in a scratch copy, not the tree.
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp "$SCRIPT_DIR/vmihide.c" "$SCRIPT_DIR/vmilivepatch.c" "$SCRIPT_DIR/Kbuild" "$work/"
log "building ${MODULES[*]} against $HEADERS ($version)"
(cd "$work" && make -C "$HEADERS" M="$PWD" modules) >"$work/build.log" 2>&1 \
    || { cat "$work/build.log" >&2; die "module build failed"; }
# Any compiler warning in a module that edits kernel lists is worth a look: fail on it.
if grep -q 'warning:' "$work/build.log"; then
    cat "$work/build.log" >&2
    die "the module build printed warnings"
fi
mkdir -p "$CACHE"
for m in "${MODULES[@]}"; do
    vermagic=$(strings "$work/$m.ko" | sed -n 's/^vermagic=//p')
    [[ $vermagic == "$KERNEL_RELEASE "* ]] || die "$m.ko has vermagic '$vermagic', not $KERNEL_RELEASE"
    ko=$CACHE/$m-$hash.ko
    cp "$work/$m.ko" "$ko.tmp"
    mv "$ko.tmp" "$ko"
    log "built $ko (vermagic: $vermagic)"
done
print_paths

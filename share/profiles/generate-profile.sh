#!/usr/bin/env bash
# Generate a kernel profile (real System.map, pahole struct layouts, offsets.conf) from
# Debian's linux-image-<RELEASE>-dbg package.
#
# Usage: share/profiles/generate-profile.sh RELEASE [OUTDIR]
#   RELEASE  a Debian kernel release, e.g. 6.1.0-50-686-pae
#   OUTDIR   defaults to share/profiles/RELEASE next to this script
#
# Needed because Debian's 32-bit kernels ship no BTF and list no data symbols in
# /proc/kallsyms, and the System.map in linux-image-* is a one-line stub. The -dbg package
# (~765 MB) is cached in ${VMI_GUEST_DIR:-$HOME/.cache/vmitools/guests}/_downloads; only
# System.map and vmlinux are extracted from it, into a temp dir removed on exit.
set -euo pipefail

STRUCTS=(task_struct mm_struct cred list_head module module_layout module_use signal_struct idr xarray xa_node
         rq cfs_rq sched_entity rt_rq rt_prio_array sched_rt_entity kset kobject module_kobject mod_tree_root
         latch_tree_root mod_tree_node
         pid upid nsproxy pid_namespace kernel_symbol kthread worker)
# Symbols every profile must have: the tools find the kernel and its page tables by them.
REQUIRED_SYMBOLS=(linux_banner init_task swapper_pg_dir _stext)

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
log() { printf 'generate-profile: %s\n' "$*" >&2; }
die() { printf 'generate-profile: error: %s\n' "$*" >&2; exit 1; }

[ $# -ge 1 ] && [ $# -le 2 ] && [[ $1 != -* ]] || {
    sed -n '5,7p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2; exit 2; }
RELEASE=$1
OUTDIR=${2:-$SCRIPT_DIR/$RELEASE}
DOWNLOADS=${VMI_GUEST_DIR:-$HOME/.cache/vmitools/guests}/_downloads

case $RELEASE in
    *-686|*-686-pae) ARCH=i386 ;;
    *-amd64) ARCH=amd64 ;;
    *-arm64) ARCH=arm64 ;;
    *) die "cannot tell the Debian architecture of release '$RELEASE'" ;;
esac
PKG="linux-image-$RELEASE-dbg"

for pair in pahole:dwarves xz:xz-utils python3:python3; do
    if ! command -v "${pair%%:*}" >/dev/null 2>&1; then
        log "installing ${pair#*:}"
        apt-get update -qq </dev/null >&2
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${pair#*:}" </dev/null >&2 \
            || die "cannot install ${pair#*:}"
    fi
done

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

# --- the -dbg package, cached ------------------------------------------------------------
mkdir -p "$DOWNLOADS"
DEB=$(compgen -G "$DOWNLOADS/${PKG}_*_${ARCH}.deb" | sort | tail -n1 || true)
if [ -z "$DEB" ]; then
    if [ "$ARCH" != amd64 ] && ! dpkg --print-foreign-architectures | grep -qx "$ARCH"; then
        log "adding dpkg architecture $ARCH"
        dpkg --add-architecture "$ARCH"
        apt-get update -qq </dev/null >&2
    fi
    log "downloading $PKG:$ARCH (large)"
    # Sandbox user root: _apt cannot write into a cache under /root.
    (cd "$DOWNLOADS" && apt-get download -q -o APT::Sandbox::User=root "$PKG:$ARCH" </dev/null >&2) \
        || die "apt-get download $PKG:$ARCH failed"
    DEB=$(compgen -G "$DOWNLOADS/${PKG}_*_${ARCH}.deb" | sort | tail -n1 || true)
    [ -n "$DEB" ] || die "download of $PKG left no .deb in $DOWNLOADS"
fi
VERSION=$(dpkg-deb -f "$DEB" Version)
log "using $(basename "$DEB")"

# --- extract only what is needed (the full package is ~5 GB unpacked) ---------------------
log "extracting System.map and vmlinux"
dpkg-deb --fsys-tarfile "$DEB" | tar -x -C "$WORK" --wildcards \
    "./usr/lib/debug/boot/System.map-$RELEASE" "./usr/lib/debug/boot/vmlinux-$RELEASE"
MAP="$WORK/usr/lib/debug/boot/System.map-$RELEASE"
VMLINUX="$WORK/usr/lib/debug/boot/vmlinux-$RELEASE"
[ -s "$MAP" ] && [ -s "$VMLINUX" ] || die "System.map or vmlinux missing from $DEB"

for sym in "${REQUIRED_SYMBOLS[@]}"; do
    grep -qE "^[0-9a-f]+ [A-Za-z] $sym\$" "$MAP" || die "System.map lacks $sym"
done

# --- struct layouts ------------------------------------------------------------------------
: > "$WORK/structs.txt"
for s in "${STRUCTS[@]}"; do
    # pahole prints nothing (and still exits 0) for an unknown type.
    if ! pahole -C "$s" "$VMLINUX" >> "$WORK/structs.txt" 2>/dev/null \
       || ! grep -q "^struct $s {" "$WORK/structs.txt"; then
        log "note: struct $s not found, skipped"
    fi
done

mkdir -p "$OUTDIR"
python3 "$SCRIPT_DIR/pahole_offsets.py" "$WORK/structs.txt" \
    --comment "generated from $PKG $VERSION ($ARCH) by share/profiles/generate-profile.sh" \
    --comment "pahole $(pahole --version) on usr/lib/debug/boot/vmlinux-$RELEASE; offsets are absolute within the first struct named" \
    > "$WORK/offsets.conf" || die "pahole_offsets.py could not resolve every key (see above)"

xz -9 -c "$MAP" > "$OUTDIR/System.map.xz"
xz -9 -c "$WORK/structs.txt" > "$OUTDIR/structs.txt.xz"
mv "$WORK/offsets.conf" "$OUTDIR/offsets.conf"
log "wrote $OUTDIR/{System.map.xz,structs.txt.xz,offsets.conf}"

# Fetching: the host tools a build needs (apt-get install) and the .debs a guest boots
# (kernel, busybox), downloaded once into $DOWNLOADS and unpacked from there.
# Sourced by build-guests.sh.
#
# A kernel from the host's own Debian release comes through the host's apt sources. One
# from another suite (trixie, sid) comes through a private apt state in
# $DOWNLOADS/apt-<suite>/ (its own sources.list, lists and cache), so the machine's own
# sources and package lists stay as they are.

DEBIAN_KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg
declare -A APT_UPDATED=()    # apt state (host or suite name) -> 1 once updated in this run
APT_STATE=host               # the apt state use_suite chose, and its options:
APT_OPTS=()

host_codename() { (. /etc/os-release 2>/dev/null && echo "${VERSION_CODENAME:-}"); }

# The host's Debian mirror (not its security mirror), for the private apt states.
debian_mirror() {
    local m
    m=$(awk '$1 == "URIs:" && $2 !~ /security/ { print $2; exit }' \
            /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
    [ -n "$m" ] || m=$(awk '$1 == "deb" && !/security/ {
                                for (i = 2; i <= NF; i++) if ($i ~ /^(https?|file):/) { print $i; exit } }' \
                            /etc/apt/sources.list 2>/dev/null || true)
    printf '%s\n' "${m:-http://deb.debian.org/debian}"
}

# Point apt-get and apt-cache (through APT_OPTS) at Debian suite $1 for architecture $2.
use_suite() {
    local suite=$1 arch=$2 state
    APT_OPTS=()
    if [ "$suite" = host ] || [ "$suite" = "$(host_codename)" ]; then
        APT_STATE=host
        return 0
    fi
    APT_STATE=$suite
    state="$DOWNLOADS/apt-$suite"
    mkdir -p "$state/lists/partial" "$state/cache/archives/partial"
    printf 'deb [signed-by=%s] %s %s main\n' "$DEBIAN_KEYRING" "$(debian_mirror)" "$suite" > "$state/sources.list"
    APT_OPTS=(-o "Dir::Etc::sourcelist=$state/sources.list" -o Dir::Etc::sourceparts=-
              -o "Dir::State::lists=$state/lists" -o "Dir::Cache=$state/cache"
              -o "APT::Architectures=$arch")
}

apt_updated() { [ "${APT_UPDATED[$APT_STATE]:-0}" = 1 ]; }

apt_update_once() {
    local sandbox=()
    apt_updated && return 0
    log "apt-get update${APT_OPTS[*]:+ ($APT_STATE, private state in $DOWNLOADS/apt-$APT_STATE)}"
    # Sandbox user root: _apt cannot write into a private state under /root.
    [ ${#APT_OPTS[@]} -eq 0 ] || sandbox=(-o APT::Sandbox::User=root)
    # A partly failed update (mirror mid-sync) still leaves usable indexes; if they are
    # not, the install/download that follows fails with its own message.
    apt-get "${APT_OPTS[@]}" "${sandbox[@]}" update -qq </dev/null >&2 \
        || log "WARNING: apt-get update reported errors; going on"
    APT_UPDATED[$APT_STATE]=1
}

ensure_host_tools() {
    local missing=() pair
    for pair in qemu-system-x86_64:qemu-system-x86 qemu-system-i386:qemu-system-x86 \
                cpio:cpio xz:xz-utils python3:python3 gzip:gzip dpkg-deb:dpkg; do
        command -v "${pair%%:*}" >/dev/null 2>&1 || missing+=("${pair#*:}")
    done
    # The guests' helper programs (threads.c, spin.c) are linked static for amd64.
    if [ $THREADED = 1 ] || [ "$SPIN" -gt 0 ]; then
        command -v gcc >/dev/null 2>&1 || missing+=(gcc)
        [ -e /usr/lib/x86_64-linux-gnu/libc.a ] || missing+=(libc6-dev)
    fi
    # The private apt states of other suites check signatures with Debian's keyring.
    [ "$(host_codename)" = "$SUITE" ] || [ -e "$DEBIAN_KEYRING" ] || missing+=(debian-archive-keyring)
    use_suite host "$DEB_ARCH"
    if [ ${#missing[@]} -gt 0 ]; then
        [ "$(id -u)" = 0 ] || die "missing packages (${missing[*]}); run as root or install them"
        log "installing ${missing[*]}"
        apt_update_once
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" </dev/null >&2 \
            || die "apt-get install ${missing[*]} failed"
    fi
    # i386 packages (kernel, busybox) are only downloaded, but apt must know the arch.
    if ! dpkg --print-foreign-architectures | grep -qx i386; then
        [ "$(id -u)" = 0 ] || die "dpkg lacks the i386 architecture; run as root"
        log "adding dpkg architecture i386"
        dpkg --add-architecture i386
        APT_UPDATED[host]=0
        apt_update_once
    fi
}

# Print the path of a cached .deb, downloading it first (from the suite use_suite chose)
# if needed. $3 = exact version or empty for the candidate version. Returns 1 if apt
# cannot fetch it. Runs in a command substitution, so it leaves `apt-get update` to its
# callers (see fetch_deb_or_update).
fetch_deb() {
    local pkg=$1 arch=$2 version=$3 f
    mkdir -p "$DOWNLOADS"
    # apt-get download escapes ':' in epochs as %3a
    f=$(compgen -G "$DOWNLOADS/${pkg}_${version:+${version//:/%3a}}*_${arch}.deb" | sort | tail -n1 || true)
    if [ -z "$f" ]; then
        log "downloading $pkg:$arch${version:+=$version}${APT_OPTS[*]:+ ($APT_STATE)}"
        # Sandbox user root: _apt cannot write into a cache under /root.
        (cd "$DOWNLOADS" && apt-get "${APT_OPTS[@]}" download -q -o APT::Sandbox::User=root \
            "$pkg:$arch${version:+=$version}" </dev/null >&2) || return 1
        f=$(compgen -G "$DOWNLOADS/${pkg}_*_${arch}.deb" | sort | tail -n1 || true)
        [ -n "$f" ] || return 1
    fi
    printf '%s\n' "$f"
}

fetch_deb_or_update() {
    fetch_deb "$@" && return 0
    apt_updated && return 1
    apt_update_once
    fetch_deb "$@"
}

# The packages that hold kernel $KERNEL_RELEASE: Debian 14 splits it in two.
kernel_packages() {
    if [ "$KERNEL_SPLIT" = 1 ]; then
        echo "linux-binary-$KERNEL_RELEASE linux-modules-$KERNEL_RELEASE"
    else
        echo "linux-image-$KERNEL_RELEASE"
    fi
}

# Sets KERNEL_DEBS to the cached .debs of kernel $KERNEL_RELEASE at version $1 (empty:
# the candidate), downloading what is missing; returns 1 if apt cannot fetch one.
fetch_kernel() {
    local pkg deb
    KERNEL_DEBS=()
    for pkg in $(kernel_packages); do
        deb=$(fetch_deb "$pkg" "$DEB_ARCH" "$1") || return 1
        KERNEL_DEBS+=("$deb")
    done
}

# Sets KERNEL_DEBS and KERNEL_RELEASE for this guest's suite and flavour: the pinned
# kernel (guests.sh) if apt can fetch it, else whatever the suite's linux-image-<flavour>
# metapackage currently depends on, with a warning.
resolve_kernel() {
    local pkg pinned
    use_suite "$SUITE" "$DEB_ARCH"
    KERNEL_RELEASE="$KERNEL_ABI-$FLAVOUR"
    pinned=$(for pkg in $(kernel_packages); do printf '%s:%s=%s ' "$pkg" "$DEB_ARCH" "$KERNEL_VERSION"; done)
    pinned=${pinned% }
    # A new private state has no package lists yet: fill them before the first download.
    if [ ${#APT_OPTS[@]} -gt 0 ] && ! compgen -G "$DOWNLOADS/apt-$APT_STATE/lists/*_Packages*" >/dev/null; then
        apt_update_once
    fi
    fetch_kernel "$KERNEL_VERSION" && return 0
    if ! apt_updated; then
        apt_update_once
        fetch_kernel "$KERNEL_VERSION" && return 0
    fi
    pkg=$(apt-cache "${APT_OPTS[@]}" depends "linux-image-$FLAVOUR:$DEB_ARCH" </dev/null 2>/dev/null \
          | awk '$1 == "Depends:" && $2 ~ /^linux-image-[0-9]/ { print $2; exit }')
    pkg=${pkg%%:*}
    [ -n "$pkg" ] || die "cannot download the pinned kernel $pinned and apt-cache names no fallback"
    KERNEL_RELEASE=${pkg#linux-image-}
    log "WARNING: pinned kernel $pinned unavailable; falling back to $(kernel_packages)"
    fetch_kernel "" || die "cannot download $(kernel_packages) ($APT_STATE) either"
    [[ $KERNEL_RELEASE == "$KERNEL_SERIES".* ]] \
        || log "WARNING: $GUEST is meant to run Linux $KERNEL_SERIES, but its fallback kernel is $KERNEL_RELEASE"
}

# Sets BUSYBOX_DEB: busybox-static for the guest's architecture, from the host's sources.
fetch_busybox() {
    use_suite host "$DEB_ARCH"
    BUSYBOX_DEB=$(fetch_deb_or_update busybox-static "$DEB_ARCH" "") || die "cannot download busybox-static:$DEB_ARCH"
}

# Unpack the kernel .debs into directory $1; print the path of the vmlinuz in it (under
# /boot up to Debian 13, in /usr/lib/modules/<release>/ in Debian 14).
unpack_kernel() {
    local deb f
    for deb in "${KERNEL_DEBS[@]}"; do dpkg -x "$deb" "$1"; done
    for f in "$1/boot/vmlinuz-$KERNEL_RELEASE" "$1/usr/lib/modules/$KERNEL_RELEASE/vmlinuz"; do
        [ -f "$f" ] && { printf '%s\n' "$f"; return 0; }
    done
    die "$GUEST: no vmlinuz for $KERNEL_RELEASE in ${KERNEL_DEBS[*]}"
}

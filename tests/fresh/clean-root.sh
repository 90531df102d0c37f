#!/usr/bin/env bash
# A clean Debian 12 root (debootstrap --variant=minbase), cached, and throw-away copies of
# it to run things in with chroot: what a freshly installed machine has, without the
# packages that earlier work left on this one.
#
# Sourced by test_fresh_machine.sh for its functions; run on its own it does one job:
#
#   tests/fresh/clean-root.sh run 'COMMAND'   a fresh copy with this source tree in
#                                             /root/src, COMMAND run there by bash, the copy
#                                             removed afterwards (e.g. 'scripts/demo.sh')
#   tests/fresh/clean-root.sh tarball         print the cached root's tarball (made if needed)
#
# The root is cached as a tarball in ${VMI_CACHE_DIR:-~/.cache/vmitools}/fresh-root/, one per
# suite, mirror and architecture, and never modified: each use unpacks a new copy. A
# tarball that fails its checksum or is older than VMI_FRESH_ROOT_MAX_DAYS (default 30,
# so the root follows Debian's point releases) is built again. The mirror is the
# machine's own, from its apt sources. Needs root (debootstrap, mount, chroot).

FRESH_SUITE=bookworm
FRESH_CACHE=${VMI_CACHE_DIR:-$HOME/.cache/vmitools}/fresh-root
FRESH_MAX_DAYS=${VMI_FRESH_ROOT_MAX_DAYS:-30}
# Throw-away copies live here, one directory each, named so that a later run can find
# and remove the ones a killed run left behind.
FRESH_WORK_PARENT=${VMI_FRESH_WORK_DIR:-/var/tmp}
FRESH_WORK_PATTERN=vmi-fresh.

fresh_log() { printf '# %s\n' "$*" >&2; }

# SECONDS, or less if FRESH_DEADLINE (a value of $SECONDS) comes sooner: a caller that
# is itself under a time limit (CTest's, which ends with SIGKILL) sets it to finish, and
# clean up, first.
fresh_cap() {
    local seconds=$1 left
    if [ -n "${FRESH_DEADLINE:-}" ]; then
        left=$((FRESH_DEADLINE - SECONDS))
        [ "$left" -lt "$seconds" ] && seconds=$((left > 1 ? left : 1))
    fi
    echo "$seconds"
}

# --- the mirror --------------------------------------------------------------------------

# The first Debian archive URI in this machine's apt sources that serves a plain suite
# (not -security, whose archive has no bookworm): deb822 files first, then the one-line
# format. Prints nothing if there is none.
fresh_mirror() {
    local uri
    uri=$(awk '
        function flush() {
            if (types ~ /(^|[ \t])deb([ \t]|$)/ && enabled !~ /^[ \t]*no/ && suites ~ /(^|[ \t])[a-z]+([ \t]|$)/ && uris != "") {
                split(uris, u, /[ \t]+/); print u[1]; found = 1; exit
            }
            types = uris = suites = enabled = ""
        }
        FNR == 1 { flush() }
        /^[ \t]*$/ { flush(); next }
        tolower($1) == "types:"   { sub(/^[^:]*:/, ""); types = $0 }
        tolower($1) == "uris:"    { sub(/^[^:]*:[ \t]*/, ""); uris = $0 }
        tolower($1) == "suites:"  { sub(/^[^:]*:/, ""); suites = $0 }
        tolower($1) == "enabled:" { sub(/^[^:]*:/, ""); enabled = $0 }
        END { if (!found) flush() }
    ' /etc/apt/sources.list.d/*.sources 2>/dev/null)
    if [ -z "$uri" ]; then
        # deb [options] URI SUITE COMPONENT...
        uri=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null | awk '
            $1 == "deb" { i = 2; if ($i ~ /^\[/) { while ($i !~ /\]$/) i++; i++ }
                          if ($(i + 1) !~ /-security$|\/updates$/) { print $i; exit } }')
    fi
    printf '%s\n' "${uri%/}"
}

# --- the cached root ---------------------------------------------------------------------

fresh_arch() { dpkg --print-architecture; }

# Cache file name without extension: suite, arch and a hash of everything that makes a
# different root (the mirror too: another mirror may serve other package versions).
fresh_cache_base() {
    local mirror=$1 key
    key=$(printf '%s minbase %s %s' "$FRESH_SUITE" "$(fresh_arch)" "$mirror" | sha256sum | cut -c1-16)
    printf '%s/%s-%s-minbase-%s' "$FRESH_CACHE" "$FRESH_SUITE" "$(fresh_arch)" "$key"
}

# True if BASE.tar.gz is complete (its checksum is the one written after it was made)
# and young enough.
fresh_cache_valid() {
    local base=$1
    [ -f "$base.tar.gz" ] && [ -f "$base.sha256" ] || return 1
    if [ -n "$(find "$base.sha256" -mtime "+$FRESH_MAX_DAYS" 2>/dev/null)" ]; then
        fresh_log "cached root is older than $FRESH_MAX_DAYS days: building it again"
        return 1
    fi
    (cd "$(dirname "$base")" && sha256sum --quiet --check "$(basename "$base").sha256" >/dev/null 2>&1) && return 0
    fresh_log "cached root $base.tar.gz fails its checksum: building it again"
    return 1
}

# Prints the path of the cached root's tarball, building it first if it is missing,
# stale or broken. Concurrent callers (other worktrees' test runs) wait on a lock rather
# than build it twice.
fresh_root_tarball() {
    local mirror base
    mirror=$(fresh_mirror)
    if [ -z "$mirror" ]; then
        fresh_log "no Debian mirror in /etc/apt/sources.list{,.d/}: cannot debootstrap"
        return 1
    fi
    base=$(fresh_cache_base "$mirror")
    mkdir -p "$FRESH_CACHE"
    (
        flock -w 1800 9 || { fresh_log "timed out waiting for another run building the root"; exit 1; }
        fresh_cache_valid "$base" && exit 0
        fresh_build_tarball "$mirror" "$base"
    ) 9>"$FRESH_CACHE/.lock" || return 1
    printf '%s.tar.gz\n' "$base"
}

# debootstrap into a scratch directory, then tar it into BASE.tar.gz and write the
# checksum last: a run killed half-way leaves no tarball that passes the check.
fresh_build_tarball() {
    local mirror=$1 base=$2 dir ok=0
    dir=$(fresh_new_workdir) || return 1
    fresh_log "debootstrap --variant=minbase $FRESH_SUITE from $mirror (about a minute and a half)"
    if timeout --kill-after=30 "$(fresh_cap 1200)" debootstrap --variant=minbase "$FRESH_SUITE" "$dir/root" "$mirror" \
            >"$dir/debootstrap.out" 2>&1; then
        rm -f "$base.tar.gz" "$base.sha256"
        tar -C "$dir/root" --numeric-owner -cf - . | gzip -1 >"$base.tar.gz.part" \
            && mv "$base.tar.gz.part" "$base.tar.gz" \
            && (cd "$(dirname "$base")" && sha256sum "$(basename "$base").tar.gz" >"$(basename "$base").sha256") \
            && ok=1
    else
        fresh_log "debootstrap failed; its last words:"
        tail -n 15 "$dir/root/debootstrap/debootstrap.log" "$dir/debootstrap.out" 2>/dev/null | sed 's/^/#   /' >&2
    fi
    rm -f "$base.tar.gz.part"
    fresh_remove_workdir "$dir"
    [ "$ok" = 1 ]
}

# --- throw-away copies -------------------------------------------------------------------

# A new work directory that records its owner's pid, for fresh_sweep_stale.
fresh_new_workdir() {
    local dir
    dir=$(mktemp -d "$FRESH_WORK_PARENT/${FRESH_WORK_PATTERN}XXXXXX") || return 1
    echo $$ >"$dir/owner.pid"
    printf '%s\n' "$dir"
}

# Unpacks the cached root into DIR (which must not exist) and prepares it to run apt
# and builds: the host's DNS settings, and no service started by a package's postinst
# (nothing would stop it; on a real machine the init system owns them).
fresh_unpack_root() {
    local tarball=$1 dir=$2
    mkdir "$dir" && tar -C "$dir" --numeric-owner -xzf "$tarball" || return 1
    cp -L /etc/resolv.conf "$dir/etc/resolv.conf"
    printf '#!/bin/sh\n# vmitools clean-root test: no services in a chroot\nexit 101\n' >"$dir/usr/sbin/policy-rc.d"
    chmod 755 "$dir/usr/sbin/policy-rc.d"
}

# The root directory bound onto itself, so that "/" in the chroot is a mount point as on
# a booted machine (libvirt's QEMU driver needs that to give QEMU a mount namespace); then
# the kernel file systems a running Debian has and apt, compilers and QEMU use: /proc,
# /sys, /dev (the host's, bound), /dev/pts, and a private /dev/shm (the bound /dev's shm
# directory is the host's).
fresh_mount_root() {
    local dir=$1
    mount --bind "$dir" "$dir" \
        && mount -t proc proc "$dir/proc" \
        && mount -t sysfs -o ro sysfs "$dir/sys" \
        && mount --bind /dev "$dir/dev" \
        && mount --bind /dev/pts "$dir/dev/pts" \
        && mount -t tmpfs -o mode=1777,size=256m tmpfs "$dir/dev/shm"
}

# Binds host directory SRC read-only at DIR/TARGET (a guest's 512 MiB dump is not copied).
fresh_bind_ro() {
    local src=$1 dir=$2 target=$3
    mkdir -p "$dir/$target" && mount --bind -o ro "$src" "$dir/$target"
}

# Runs a command inside the root with a clean environment, as root on a fresh machine
# would, for at most SECONDS (see fresh_cap); its whole process group is killed on
# time-out. It runs in the background so that a signal to this shell is handled at once
# (bash runs traps only after a foreground command ends). A proxy the host's downloads
# go through is passed on.
fresh_chroot() {
    local dir=$1 seconds=$2 name
    local -a environment=(HOME=/root LANG=C.UTF-8 TERM=dumb PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin)
    shift 2
    for name in http_proxy https_proxy no_proxy; do
        [ -n "${!name:-}" ] && environment+=("$name=${!name}")
    done
    timeout --kill-after=30 "$(fresh_cap "$seconds")" chroot "$dir" /usr/bin/env -i "${environment[@]}" "$@" &
    wait $!
}

# Copies the source tree at REPO into DIR/root/src as checked out: HEAD plus uncommitted
# changes to tracked files (git stash create makes a commit of them without touching the
# work tree or the stash list). Untracked files are not copied: git add them to include
# them. Says on stderr what was copied.
fresh_copy_source() {
    local repo=$1 dir=$2 rev
    local -a git=(git -c safe.directory='*' -C "$repo")
    rev=$("${git[@]}" stash create 2>/dev/null) || return 1
    if [ -n "$rev" ]; then
        fresh_log "source: HEAD $("${git[@]}" rev-parse --short HEAD) with its uncommitted changes (untracked files left out)"
    else
        rev=HEAD
        fresh_log "source: HEAD $("${git[@]}" rev-parse --short HEAD), no uncommitted changes"
    fi
    mkdir -p "$dir/root/src" && "${git[@]}" archive "$rev" | tar -x -C "$dir/root/src"
}

# Mount points at or below DIR, deepest first (the order to unmount them in).
fresh_mounts_under() {
    local dir=$1
    awk -v d="$dir" '$5 == d || index($5, d "/") == 1 { print $5 }' /proc/self/mountinfo | tac
}

# Ends every process whose root directory is inside DIR: the daemons a test or the demo
# started in the chroot (libvirtd, virtlogd, QEMU) and anything a time-out left. These
# are processes this run started; nothing else has its root there.
fresh_kill_processes_in() {
    local dir=$1 signal pid root found
    for signal in TERM KILL; do
        found=0
        for pid in /proc/[0-9]*; do
            root=$(readlink "$pid/root" 2>/dev/null) || continue
            pid=${pid#/proc/}
            if [ "$root" = "$dir" ] || [[ $root == "$dir"/* ]]; then
                kill -s "$signal" "$pid" 2>/dev/null && found=1
            fi
        done
        [ "$found" = 0 ] && return 0
        [ "$signal" = TERM ] && sleep 3
    done
}

# Unmounts everything below work directory DIR and removes it. If a mount cannot be
# undone it is left in place and the directory kept: rm -rf through a bind mount of /dev
# or of the guest files would delete the host's.
fresh_remove_workdir() {
    local dir=$1 mount_point
    [ -d "$dir" ] || return 0
    fresh_kill_processes_in "$dir"
    for mount_point in $(fresh_mounts_under "$dir"); do
        umount "$mount_point" 2>/dev/null || umount --lazy "$mount_point" \
            || fresh_log "cannot unmount $mount_point"
    done
    if [ -n "$(fresh_mounts_under "$dir")" ]; then
        fresh_log "mounts remain under $dir; not removing it"
        return 1
    fi
    rm -rf --one-file-system "$dir"
}

# Removes the work directories of runs that died without cleaning up (killed by a
# time-out's SIGKILL, say): their owner pid is gone.
fresh_sweep_stale() {
    local dir pid
    for dir in "$FRESH_WORK_PARENT/$FRESH_WORK_PATTERN"*; do
        [ -d "$dir" ] || continue
        pid=$(cat "$dir/owner.pid" 2>/dev/null) || pid=
        if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then continue; fi
        # No pid yet: a run that has just made it (mktemp, then the pid file).
        if [ -z "$pid" ] && [ -n "$(find "$dir" -maxdepth 0 -mmin -10)" ]; then continue; fi
        fresh_log "removing $dir, left by a run that ended without cleaning up"
        fresh_remove_workdir "$dir"
    done
}

# --- on its own --------------------------------------------------------------------------

fresh_main() {
    local repo work tarball status
    repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
    [ "$(id -u)" = 0 ] || { echo "clean-root: must run as root (debootstrap, mount, chroot)" >&2; exit 2; }
    case ${1:-} in
        tarball)
            [ $# -eq 1 ] || { echo "clean-root: tarball takes no argument" >&2; exit 2; }
            fresh_root_tarball ;;
        run)
            [ $# -eq 2 ] || { echo "clean-root: usage: clean-root.sh run 'COMMAND'" >&2; exit 2; }
            fresh_sweep_stale
            tarball=$(fresh_root_tarball) || exit 1
            work=$(fresh_new_workdir) || exit 1
            # shellcheck disable=SC2064 # the path is fixed now
            trap "fresh_remove_workdir '$work'" EXIT
            trap 'exit 130' INT
            trap 'exit 143' TERM
            fresh_unpack_root "$tarball" "$work/root" && fresh_mount_root "$work/root" || exit 1
            fresh_copy_source "$repo" "$work/root" || exit 1
            status=0
            fresh_chroot "$work/root" "${VMI_FRESH_TIMEOUT:-7200}" bash -c "cd /root/src && $2" || status=$?
            fresh_log "exit status $status"
            exit "$status" ;;
        *)
            echo "clean-root: usage: clean-root.sh run 'COMMAND' | tarball" >&2
            exit 2 ;;
    esac
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
    set -uo pipefail
    fresh_main "$@"
fi

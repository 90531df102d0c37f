#!/usr/bin/env bash
# The set-up and the package on a fresh Debian 12 machine, proven in clean roots
# (debootstrap --variant=minbase, cached; see clean-root.sh):
#
#   1. build root: the README's set-up (scripts/install-deps.sh), a Release build of the
#      tools and `cpack -G DEB`, from this source tree as checked out;
#   2. install root, a second untouched copy: `apt-get install ./vmitools_*.deb` resolves
#      the package's Depends on a system that has none of the build's packages; then
#      man pages, the installed vmi-ps on the amd64-4level test guest's dump (against the
#      guest's own process list), libvirt staying optional, and the bash completion;
#   3. scripts/demo.sh, the README's first command, its live libvirt part included: in
#      the build root after the package is made (its packages and build are there, so
#      this costs the QEMU and libvirt packages, the guest and the live part: 2-4 min);
#      with --demo-own-root in a third fresh copy instead, as a first run on a fresh
#      machine (5-10 min more).
#
# Prints one line per check (ok - / FAIL - ) and each stage's time; exits 1 if any
# check failed, 77 (skipped, with the reason) when not run as root.
#
# Usage: tests/fresh/test_fresh_machine.sh [--demo-own-root] [--guests DIR]
#   DIR: the test guests (default ${VMI_GUEST_DIR:-~/.cache/vmitools/guests}); amd64-4level
#   must be built (tests/guests/build-guests.sh).
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
# shellcheck source=clean-root.sh
source "$HERE/clean-root.sh"

GUESTS=${VMI_GUEST_DIR:-$HOME/.cache/vmitools/guests}
# Every step ends by then (CTest's TIMEOUT is 2400 s and kills without a chance to
# unmount): VMI_FRESH_BUDGET seconds from the start.
# shellcheck disable=SC2034 # read by clean-root.sh
FRESH_DEADLINE=$((SECONDS + ${VMI_FRESH_BUDGET:-2300}))
DEMO_OWN_ROOT=0
JOBS=${VMI_FRESH_JOBS:-2}
while [ $# -gt 0 ]; do
    case $1 in
        --demo-own-root) DEMO_OWN_ROOT=1; shift ;;
        --guests) [ $# -ge 2 ] || { echo "test_fresh_machine: --guests wants a directory" >&2; exit 2; }
                  GUESTS=$2; shift 2 ;;
        *) echo "test_fresh_machine: unknown argument '$1' (expected --demo-own-root or --guests DIR)" >&2; exit 2 ;;
    esac
done
GUEST=$GUESTS/amd64-4level

passed=0 failed=0
ok()   { passed=$((passed + 1)); echo "ok - $*"; }
fail() { failed=$((failed + 1)); echo "FAIL - $*"; }
# Shows the end of a log under a FAIL line.
show() { tail -n "${2:-25}" "$1" 2>/dev/null | sed 's/^/    /'; }

# check DESCRIPTION COMMAND...: runs COMMAND with its output in $WORK/last.log. A step
# that takes a while says how long.
check() {
    local description=$1 start=$SECONDS status=0
    shift
    "$@" >"$WORK/last.log" 2>&1 || status=$?
    if [ "$status" = 0 ]; then ok "$description$(took "$start")"; return 0; fi
    # 124: timeout(1) ended it (137 when it had to use SIGKILL).
    if [ "$status" = 124 ] || [ "$status" = 137 ]; then
        fail "$description: timed out after $((SECONDS - start)) s (the step's limit, or VMI_FRESH_BUDGET)"
    else
        fail "$description$(took "$start")"
    fi
    show "$WORK/last.log"
    return 1
}

took() { local seconds=$((SECONDS - $1)); [ "$seconds" -lt 5 ] || printf ' (%d s)' "$seconds"; }

TIMES=()
# stage NAME DESCRIPTION: a stage begins; stage_done says how long it took.
stage() { STAGE_NAME=$1; STAGE_START=$SECONDS; echo "# --- $1: $2"; }
stage_done() {
    TIMES+=("$STAGE_NAME $((SECONDS - STAGE_START)) s")
    echo "# $STAGE_NAME took $((SECONDS - STAGE_START)) s"
}

finish() {
    local joined=''
    [ ${#TIMES[@]} -eq 0 ] || joined=$(printf '%s, ' "${TIMES[@]}")
    echo "# times: ${joined}total $((SECONDS - TOTAL_START)) s"
    echo "$passed passed, $failed failed"
    [ "$failed" -eq 0 ] && exit 0 || exit 1
}

# --- stages ------------------------------------------------------------------------------

# Runs a shell command line in the root at /root/src, for at most SECONDS.
in_src() {
    local root=$1 seconds=$2
    fresh_chroot "$root" "$seconds" bash -c "set -euo pipefail; cd /root/src; $3"
}

# A fresh copy of the cached root at DIR, mounted.
new_root() {
    local dir=$1
    fresh_unpack_root "$TARBALL" "$dir" && fresh_mount_root "$dir"
}

stage_build_root() {
    local root=$WORK/build
    check "build root: a fresh copy of the clean root, mounted" new_root "$root" || return 1
    check "build root: the source tree copied in" fresh_copy_source "$REPO" "$root" || return 1
    grep '^# source: ' "$WORK/last.log"
    check "build root: scripts/install-deps.sh (the README's set-up)" \
        in_src "$root" 1800 "scripts/install-deps.sh" || return 1
    check "build root: cmake configures a Release build without tests and benchmarks" \
        in_src "$root" 300 "cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DVMI_BUILD_TESTS=OFF -DVMI_BUILD_BENCH=OFF" \
        || return 1
    check "build root: the tools build (-j$JOBS)" in_src "$root" 2400 "cmake --build build -j$JOBS" || return 1
    check "build root: cpack -G DEB makes a .deb" in_src "$root" 600 "cd build && cpack -G DEB" || return 1
    DEB=$(cd "$root/root/src/build" && ls vmitools_*.deb 2>/dev/null | head -n1)
    [ -n "$DEB" ] || { fail "build root: cpack wrote no vmitools_*.deb"; return 1; }
    cp "$root/root/src/build/$DEB" "$WORK/$DEB"
    echo "# package: $DEB ($(du -k "$WORK/$DEB" | cut -f1) KiB)"
}

# Ends, unmounts and deletes one root inside $WORK (the work directory itself stays).
remove_root() { fresh_remove_workdir "$1"; }

control_field() { dpkg-deb -f "$WORK/$DEB" "$1"; }

check_control_fields() {
    local version depends recommends
    version=$(sed -n 's/^project(vmitools VERSION \([0-9.]*\).*/\1/p' "$REPO/CMakeLists.txt")
    depends=$(control_field Depends)
    recommends=$(control_field Recommends)
    echo "# Depends: $depends"
    [ "$(control_field Version)" = "$version" ] && ok "package: version $version, the project's" \
        || fail "package: version '$(control_field Version)', the project's is '$version'"
    # dpkg-shlibdeps names the library packages; without it CPack would leave Depends empty.
    [[ $depends == *libc6* && $depends == *libbpf1* && $depends == *libstdc++6* ]] \
        && ok "package: Depends from the binaries' shared libraries (libc6, libbpf1, libstdc++6, ...)" \
        || fail "package: Depends lacks the binaries' libraries: '$depends'"
    [[ $depends != *libvirt* && $recommends == *libvirt0* ]] \
        && ok "package: libvirt0 recommended, not a dependency" \
        || fail "package: libvirt0 should be in Recommends only (Depends: '$depends'; Recommends: '$recommends')"
    [ -n "$(control_field Maintainer)" ] && [ -n "$(control_field Section)" ] \
        && ok "package: Maintainer and Section set" || fail "package: Maintainer or Section missing"
}

# Fails with the list of FILES missing under the root.
files_present() {
    local root=$1 file missing=()
    shift
    for file in "$@"; do [ -e "$root$file" ] || [ -L "$root$file" ] || missing+=("$file"); done
    [ ${#missing[@]} -eq 0 ] || { echo "missing: ${missing[*]}"; return 1; }
}

# Every file the package must install: the five tools and a completion for each, every
# man page and every profile of the source tree.
expected_files() {
    local tool page profile
    for tool in vmi-ps vmi-lsmod vmi-read vmi-write vmi-ksym; do
        echo "/usr/bin/$tool /usr/share/bash-completion/completions/$tool"
    done
    for page in "$REPO"/man/*.[1-8]; do
        echo "/usr/share/man/man${page##*.}/$(basename "$page")"
    done
    for profile in "$REPO"/share/profiles/*/offsets.conf; do
        profile=/usr/share/vmitools/profiles/$(basename "$(dirname "$profile")")
        echo "$profile/offsets.conf $profile/System.map.xz $profile/structs.txt.xz"
    done
}

# What a completion offers for LINE (cursor at the end), in a bash inside the root.
completion_in_root() {
    local root=$1 file=$2 line=$3
    fresh_chroot "$root" 60 bash -c '
        source "$1" || exit 1
        COMP_LINE=$2; COMP_POINT=${#COMP_LINE}
        read -ra COMP_WORDS <<<"$COMP_LINE"; COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
        function=$(complete -p "${COMP_WORDS[0]}" | sed -n "s/.*-F \([^ ]*\).*/\1/p")
        "$function" "${COMP_WORDS[0]}" "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
        echo "${COMPREPLY[*]}"' completion "$file" "$line"
}

stage_install_root() {
    local root=$WORK/install out tool
    check "install root: a fresh copy of the clean root, mounted" new_root "$root" || return 1
    cp "$WORK/$DEB" "$root/root/"
    check "install root: the test guest's files bound read-only at /guest" fresh_bind_ro "$GUEST" "$root" guest || return 1
    # apt resolves the package's Depends here, on a system that has none of the build's
    # packages. No recommends: the tools must work without libvirt.
    check "install root: apt-get install ./$DEB (and man-db) resolves the Depends" fresh_chroot "$root" 900 bash -c "
        apt-get update -qq && cd /root &&
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends ./$DEB man-db" || return 1
    check "install root: libvirt0 is not installed (only recommended)" \
        fresh_chroot "$root" 60 bash -c "! dpkg-query -W -f='\${Status}\n' libvirt0 2>/dev/null | grep -q 'ok installed'"
    check "install root: the tools do not link libvirt (they load it with dlopen for libvirt guests)" \
        fresh_chroot "$root" 60 bash -c "! ldd /usr/bin/vmi-* | grep -i libvirt"
    # shellcheck disable=SC2046 # one word per file
    check "install root: tools, man pages, profiles and completions in place" files_present "$root" \
        $(expected_files)
    for tool in vmi-ps vmi-lsmod vmi-read vmi-write vmi-ksym; do
        check "install root: $tool finds every shared library and runs (--version)" fresh_chroot "$root" 60 bash -c "
            ! ldd /usr/bin/$tool | grep 'not found' && /usr/bin/$tool --version"
    done
    check "install root: man vmi-ps renders (NAME, SYNOPSIS)" fresh_chroot "$root" 60 bash -c "
        MANWIDTH=80 man -P cat vmi-ps >/tmp/man.txt && grep -q '^NAME' /tmp/man.txt &&
        grep -q '^SYNOPSIS' /tmp/man.txt && grep -q 'vmi-ps' /tmp/man.txt"
    check "install root: man 5 vmi.conf renders" fresh_chroot "$root" 60 bash -c "
        MANWIDTH=80 man -P cat 5 vmi.conf | grep -q '^NAME'"

    out=$WORK/vmi-ps.txt
    if fresh_chroot "$root" 300 /usr/bin/vmi-ps --image /guest/memory.elf --sysmap /guest/kallsyms \
            --btf /guest/vmlinuz -o pid,name --no-headers >"$out" 2>"$WORK/vmi-ps.err"; then
        check "install root: /usr/bin/vmi-ps on the amd64-4level dump lists the guest's own processes" \
            python3 "$HERE/same_processes.py" "$out" "$GUEST/procs.txt"
        sed 's/^/# /' "$WORK/last.log"
    else
        fail "install root: /usr/bin/vmi-ps on the amd64-4level dump (exit $?)"
        show "$WORK/vmi-ps.err"
    fi
    # A name that is no config entry is a libvirt domain: without libvirt0, one line
    # saying what to install, and exit 2.
    local status=0
    fresh_chroot "$root" 60 /usr/bin/vmi-ps some-domain >/dev/null 2>"$WORK/nolibvirt.err" || status=$?
    [ "$status" = 2 ] && [ "$(wc -l <"$WORK/nolibvirt.err")" = 1 ] && grep -q 'install libvirt0' "$WORK/nolibvirt.err" \
        && ok "install root: a libvirt domain without libvirt0: exit 2, one line naming libvirt0" \
        || { fail "install root: a libvirt domain without libvirt0 (exit $status)"; show "$WORK/nolibvirt.err"; }

    # The completion as bash-completion's loader would source it, by each tool's name.
    local reply
    reply=$(completion_in_root "$root" /usr/share/bash-completion/completions/vmi-ps "vmi-ps --for" 2>&1)
    [ "$reply" = "--format" ] && ok "install root: completion: vmi-ps --for<TAB> gives --format" \
        || fail "install root: completion: vmi-ps --for<TAB> gave '$reply'"
    reply=$(completion_in_root "$root" /usr/share/bash-completion/completions/vmi-ksym "vmi-ksym --format j" 2>&1)
    [ "$reply" = "json jsonl" ] && ok "install root: completion (linked file): vmi-ksym --format j<TAB> gives json jsonl" \
        || fail "install root: completion: vmi-ksym --format j<TAB> gave '$reply'"
}

# The README's first command in ROOT (NAME in the output): packages, build, a QEMU guest
# booted and dumped, the tools on the dump, then (libvirt being installed by it) the same
# guest as a libvirt domain read live. The root is a mount point (clean-root.sh), so
# libvirt can start QEMU in the chroot.
stage_demo() {
    local root=$1 name=$2 start=$SECONDS guest=$1/root/.cache/vmitools/guests/amd64-4level
    if in_src "$root" 3600 "scripts/demo.sh" >"$WORK/demo.log" 2>&1; then
        ok "$name: scripts/demo.sh runs to the end$(took "$start")"
    else
        fail "$name: scripts/demo.sh (exit status $?)$(took "$start")"
        show "$WORK/demo.log" 40
    fi
    grep '^demo: \[' "$WORK/demo.log" | sed 's/^/# /'
    # The demo shows a plain diff; kworker descriptions may change between the guest's
    # look and the dump, which same_processes.py allows.
    check "$name: the demo's vmi-ps on its dump lists the guest's own processes" \
        python3 "$HERE/same_processes.py" "$root/root/src/build/demo-host.txt" "$guest/procs.txt"
    grep -q '^the domain is running (it was paused only during each walk)' "$WORK/demo.log" \
        && ok "$name: the live part read the libvirt domain and left it running" \
        || { fail "$name: the live part did not end with the domain running"; show "$WORK/demo.log" 15; }
}

# --- main --------------------------------------------------------------------------------

TOTAL_START=$SECONDS
if [ "$(id -u)" != 0 ]; then
    echo "skip - the fresh-machine test needs root (debootstrap, mount, chroot); run the suite as root"
    exit 77
fi
for command in debootstrap chroot mount git dpkg-deb python3; do
    command -v "$command" >/dev/null 2>&1 || { fail "$command is installed (scripts/install-deps.sh --test)"; finish; }
done
[ -f "$GUEST/done" ] || { fail "test guest $GUEST is built (tests/guests/build-guests.sh amd64-4level)"; finish; }

fresh_sweep_stale
WORK=$(fresh_new_workdir) || { fail "a work directory under $FRESH_WORK_PARENT"; finish; }
# Every exit path unmounts the roots' proc, sys, dev and guest mounts and removes them.
cleanup() {
    local start=$SECONDS
    fresh_remove_workdir "$WORK"
    echo "# cleanup (processes, mounts, roots) took $((SECONDS - start)) s"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

stage "clean root" "debootstrap, cached in $FRESH_CACHE"
if ! TARBALL=$(fresh_root_tarball); then
    fail "a clean Debian 12 root (debootstrap from this machine's mirror)"
    finish
fi
ok "a clean Debian 12 root: $(basename "$TARBALL")"
stage_done

stage "build root" "install-deps, Release build, cpack"
stage_build_root
built=$?
stage_done
if [ "$built" = 0 ]; then
    check_control_fields
    stage "install root" "apt-get install ./$DEB on an untouched copy, then use it"
    stage_install_root
    stage_done
    remove_root "$WORK/install"
fi
if [ "$DEMO_OWN_ROOT" = 1 ]; then
    # The build root is over a gigabyte and not needed any more.
    remove_root "$WORK/build"
    stage "demo root" "scripts/demo.sh in a fresh copy, as a first run on a fresh machine"
    if check "demo root: a fresh copy of the clean root, mounted" new_root "$WORK/demo" &&
       check "demo root: the source tree copied in" fresh_copy_source "$REPO" "$WORK/demo"; then
        stage_demo "$WORK/demo" "demo root"
    fi
    stage_done
elif [ "$built" = 0 ]; then
    stage "demo" "scripts/demo.sh in the build root (packages and tools already there)"
    stage_demo "$WORK/build" "build root, demo"
    stage_done
fi
finish

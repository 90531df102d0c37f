#!/usr/bin/env bash
# Tests the bash completion (share/bash-completion/vmitools) the way bash drives it:
# COMP_LINE/COMP_POINT set, the function that `complete -p` names called, COMPREPLY read.
#
# A fake tool prints --help in the tools' format (CLI11 options, then the lsblk-style
# "Available output columns:" section) and counts its runs; a fake virsh answers domain
# names and records the URI it was asked. With --bin, the real tools' --help is used too.
#
# Usage: tests/completion/test_completion.sh [--bin BUILD/tools]
set -uo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
COMPLETION=$REPO/share/bash-completion/vmitools
BIN=
case ${1:-} in
    --bin) [ $# -eq 2 ] || { echo "test_completion: --bin wants a directory" >&2; exit 2; }; BIN=$2 ;;
    "") ;;
    *) echo "test_completion: unknown argument '$1' (expected --bin DIR)" >&2; exit 2 ;;
esac

passed=0 failed=0
check() {  # check DESCRIPTION EXPECTED ACTUAL
    if [ "$2" = "$3" ]; then
        passed=$((passed + 1)); echo "ok - $1"
    else
        failed=$((failed + 1)); echo "FAIL - $1"
        echo "    expected: '$2'"; echo "    got:      '$3'"
    fi
}

SCRATCH=$(mktemp -d)
trap 'rm -rf "$SCRATCH"' EXIT
mkdir -p "$SCRATCH/bin" "$SCRATCH/dumps"
touch "$SCRATCH/dumps/memory.elf" "$SCRATCH/dumps/memory.raw" "$SCRATCH/dumps/kallsyms"

# The fake tool: options as CLI11 prints them (a type after the name for options with a
# value, "Excludes:"/"Needs:" notes, long names moving the description to the next line),
# then the column section, then the footer that must not be read as columns.
FAKE=$SCRATCH/bin/vmi-fake
cat >"$FAKE" <<FAKE
#!/bin/sh
echo run >>"$SCRATCH/fake-runs"
cat <<'HELP'
List a guest's processes from outside the guest.
Usage: vmi-fake [OPTIONS] [VM]

Positionals:
  VM TEXT                     The guest: a config entry's name, or a running libvirt domain's

Options:
  -h,--help                   Print this help message and exit
  -c,--config TEXT            Config file
  --image TEXT                Memory dump to read (ELF core or raw)
  --uri TEXT                  libvirt connection URI for --backend kvm (default qemu:///system)
  --backend TEXT              Guest source: kvm, qmp or file
  --access TEXT               How to reach a live guest's RAM
  --format TEXT=text          Output format: text, json or jsonl
  -v,--verbose                Say on stderr what was found and how
  -o,--output,--columns TEXT  Columns, comma-separated (default pid,name; see below)
  --pid INT ...               Only this process (repeatable)
  --pa TEXT Excludes: --va
                              Guest-physical address
  --va TEXT Excludes: --pa
                              Kernel virtual address
  --nul Needs: --string       Also write a terminating NUL byte
  --raw                       ELF or raw bytes: a flag whose help starts in capitals

Available output columns:
  pid       process id (thread-group id), as ps shows it
  ppid      parent's process id
  uid       effective user id
  name      process name (comm, or the kworker's description)
  cmd       command line

Exit status: 0 success, 1 found something (check modes), 2 error.
  notacolumn  an indented footer line after the section
HELP
FAKE
chmod +x "$FAKE"

# virsh that lists two domains (and one whose name is shell code, which must stay text)
# and records the URI; the variants hang or are absent.
fake_virsh() {
    cat >"$SCRATCH/bin/virsh" <<VIRSH
#!/bin/sh
while [ \$# -gt 0 ]; do [ "\$1" = -c ] && echo "\$2" >"$SCRATCH/virsh-uri"; shift; done
$1
VIRSH
    chmod +x "$SCRATCH/bin/virsh"
}
fake_virsh "printf '%s\n' web01 db02 '\$(touch $SCRATCH/pwned)'"
export PATH=$SCRATCH/bin:$PATH

# shellcheck source=../../share/bash-completion/vmitools
source "$COMPLETION"

# Completes LINE (cursor at its end) as bash would; prints the candidates, space-joined.
complete_line() {
    local line=$1 spec function
    local -a words
    read -ra words <<<"$line"
    spec=$(complete -p "${words[0]##*/}" 2>/dev/null) || { echo "<no completion for ${words[0]##*/}>"; return; }
    function=$(sed -n 's/.*-F \([^ ]*\).*/\1/p' <<<"$spec")
    COMP_LINE=$line COMP_POINT=${#line} COMPREPLY=()
    "$function" "${words[0]}" "" ""
    echo "${COMPREPLY[*]}"
}

check "every tool has a completion" "vmi-ps vmi-lsmod vmi-hooks vmi-read vmi-write vmi-ksym" \
    "$(for t in vmi-ps vmi-lsmod vmi-hooks vmi-read vmi-write vmi-ksym; do complete -p $t >/dev/null && printf '%s ' $t; done | sed 's/ $//')"
# The fake is completed by its path; bash would look it up by name, so register it too.
complete -F _vmitools_complete vmi-fake

F=vmi-fake
check "options: --for completes to --format" "--format" "$(complete_line "$F --for")"
check "options: both names of a pair, flags and valued ones" \
    "-h --help -c --config --image --uri --backend --access --format -v --verbose -o --output --columns --pid --pa --va --nul --raw" \
    "$(complete_line "$F -")"
check "--format values" "text json jsonl" "$(complete_line "$F --format ")"
check "--format=js (bash splits at =)" "json jsonl" "$(complete_line "$F --format=js")"
check "--backend values" "kvm qmp file xen" "$(complete_line "$F --backend ")"
check "--access m" "memfd monitor" "$(complete_line "$F --access m")"
check "-o: the columns from --help, not the footer" "pid ppid uid name cmd" "$(complete_line "$F -o ")"
check "-o pid,p: the part after the last comma, listed columns left out" "pid,ppid" "$(complete_line "$F -o pid,p")"
check "--output p: the same columns under lsblk's name" "pid ppid" "$(complete_line "$F --output p")"
check "--columns name,uid,: every column not yet listed" \
    "name,uid,pid name,uid,ppid name,uid,cmd" "$(complete_line "$F --columns name,uid,")"
check "--image: files" "$SCRATCH/dumps/memory.elf $SCRATCH/dumps/memory.raw" \
    "$(complete_line "$F --image $SCRATCH/dumps/mem")"
check "-c: files" "$SCRATCH/dumps/kallsyms" "$(complete_line "$F -c $SCRATCH/dumps/k")"
check "--pid takes a value: nothing to offer" "" "$(complete_line "$F --pid ")"

check "VM: libvirt domains, names kept as text" "web01 db02 \$(touch $SCRATCH/pwned)" "$(complete_line "$F ")"
check "a domain's name is never run as shell code" "absent" "$([ -e "$SCRATCH/pwned" ] && echo present || echo absent)"
check "VM: virsh asked at qemu:///system by default" "qemu:///system" "$(cat "$SCRATCH/virsh-uri")"
check "VM after flags and valued options" "web01" "$(complete_line "$F -v --raw --nul --image x --pa 0x10 w")"
complete_line "$F --uri qemu+ssh://host/system --format json d" >/dev/null
check "VM: the --uri on the line is the one virsh is asked" "qemu+ssh://host/system" "$(cat "$SCRATCH/virsh-uri")"
complete_line "$F --uri=test:///default " >/dev/null
check "VM: --uri=URI is honoured too" "test:///default" "$(cat "$SCRATCH/virsh-uri")"
check "no second VM once one is given" "" "$(complete_line "$F web01 ")"

fake_virsh "sleep 30"
start=$SECONDS
reply=$(complete_line "$F ")
check "a virsh that does not answer: nothing, within a few seconds" "nothing, fast" \
    "$([ -z "$reply" ] && [ $((SECONDS - start)) -le 4 ] && echo "nothing, fast" || echo "'$reply' after $((SECONDS - start)) s")"
rm "$SCRATCH/bin/virsh"
if ! command -v virsh >/dev/null 2>&1; then
    check "no virsh: nothing, and nothing on stderr" "" "$(complete_line "$F " 2>&1)"
fi

# The checks above ran in $(...) subshells, which forget the cache; bash runs a
# completion in the shell itself. Three completions here, of a name not seen before.
ln -s vmi-fake "$SCRATCH/bin/vmi-fake2"
complete -F _vmitools_complete vmi-fake2
: >"$SCRATCH/fake-runs"
for _ in 1 2 3; do complete_line "vmi-fake2 --for" >/dev/null; done
check "--help is run once per shell, then cached" "1" "$(wc -l <"$SCRATCH/fake-runs")"

# The real tools, as built: each tool's own options come from its own --help.
if [ -n "$BIN" ]; then
    real() { complete_line "$BIN/$1/$1 $2"; }
    check "vmi-ps --thr" "--threads" "$(real vmi-ps --thr)"
    check "vmi-lsmod --no-h" "--no-headers" "$(real vmi-lsmod --no-h)"
    check "vmi-hooks --al" "--all --all-domains --allow" "$(real vmi-hooks --al)"
    check "vmi-hooks --allow takes a value: nothing to offer" "" "$(real vmi-hooks "--allow ")"
    check "vmi-read --ks" "--ksym" "$(real vmi-read --ks)"
    check "vmi-read --as u" "u8 u16 u32 u64" "$(real vmi-read "--as u")"
    check "vmi-write --dry" "--dry-run" "$(real vmi-write --dry)"
    check "vmi-ksym --rev" "--reverse" "$(real vmi-ksym --rev)"
    for t in vmi-ps vmi-lsmod vmi-hooks vmi-read vmi-ksym; do
        check "$t --for" "--format" "$(real $t --for)"
    done
    check "vmi-write --for" "--format --force" "$(real vmi-write --for)"
    check "vmi-write --live" "--live-write" "$(real vmi-write --live)"
    check "vmi-ps --max" "--max-pause" "$(real vmi-ps --max)"
    check "vmi-lsmod --lock" "--lock-wait" "$(real vmi-lsmod --lock)"
    # The column section is what -o completes from; the tools gain it with the column table.
    if "$BIN/vmi-ps/vmi-ps" --help | grep -qx 'Available output columns:'; then
        check "vmi-ps -o pid,pp" "pid,ppid" "$(real vmi-ps "-o pid,pp")"
        check "vmi-hooks -o target,owner_" "target,owner_hidden" "$(real vmi-hooks "-o target,owner_")"
        check "vmi-hooks -o flags,at" "flags,attached" "$(real vmi-hooks "-o flags,at")"
        check "vmi-hooks -o kind,p" "kind,pid" "$(real vmi-hooks "-o kind,p")"
        check "vmi-hooks -o ob" "object" "$(real vmi-hooks "-o ob")"
    else
        echo "skip - vmi-ps -o: this vmi-ps --help has no 'Available output columns:' section (the fake tool tests the parsing)"
    fi
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]

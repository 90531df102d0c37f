#!/usr/bin/env bash
# Proves the Xen test host's payload path and records what dom0 can learn about a PV
# domU: builds xenprobe (xenprobe.c, against the host's libxen-dev 4.17), runs xl list,
# xenctx, xl info and xenprobe in dom0 against the domU, and checks the answers against
# the domU's own records.
#
# Usage: tests/xen/run-probe.sh [--dir DIR] OUTDIR
#   DIR     cache root, as for xen-host.sh; OUTDIR receives xen-host.sh's results
# Exit 0 when every check passed. Prints one line per check and "N passed, N failed".
set -euo pipefail
SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
DIR_ARGS=()
if [ "${1:-}" = --dir ]; then DIR_ARGS=(--dir "$2"); shift 2; fi
[ $# = 1 ] || { echo "usage: $0 [--dir DIR] OUTDIR" >&2; exit 2; }
OUT=$1

PAYLOAD=$(mktemp -d /tmp/vmixenpayload.XXXXXX)
trap 'rm -rf "$PAYLOAD"' EXIT
[ -e /usr/include/xenctrl.h ] || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -o DPkg::Lock::Timeout=600 libxen-dev </dev/null >&2
gcc -O2 -Wall -Wextra -o "$PAYLOAD/xenprobe" "$SCRIPT_DIR/xenprobe.c" -lxenctrl -lxenforeignmemory -lxenguest
cat > "$PAYLOAD/run.sh" <<'EOF'
# Runs in dom0 (busybox sh), cwd = the payload directory. DOMU_NAME, DOMU_ID, DOMU_DIR
# (the domU's records) and PAYLOAD_OUT (files to send back) come from dom0's /init.
section() { echo "=== $*"; }
section xl list; xl list
section xl list -l; xl list -l "$DOMU_NAME"
section xenctx; xenctx -a -s "$DOMU_DIR/kallsyms" "$DOMU_ID" 0
section xl info; xl info
section xenprobe; ./xenprobe "$DOMU_ID" "$DOMU_DIR/kallsyms" "$DOMU_DIR/version.txt"
probe=$?
section xl list after; xl list
exit $probe
EOF

rc=0
"$SCRIPT_DIR/xen-host.sh" "${DIR_ARGS[@]}" run --payload "$PAYLOAD" --out "$OUT" || rc=$?
[ $rc = 0 ] || [ $rc = 3 ] || exit $rc     # 3: the payload failed; its checks say where

# --- the checks ------------------------------------------------------------------------
passed=0 failed=0
ok() { if eval "$2"; then echo "ok - $1"; passed=$((passed + 1)); else echo "FAIL - $1"; failed=$((failed + 1)); fi; }
part() { awk -v h="=== $1" '$0 == h { on = 1; next } /^=== / { on = 0 } on' "$OUT/payload.out"; }
. "$OUT/xen.env"
probe() { part xenprobe | sed -n "s/^$1=//p" | head -n1; }

ok "payload exited 0" '[ "$PAYLOAD_RC" = 0 ]'
ok "payload output also came over the console" 'cmp -s "$OUT/payload.out" "$OUT/payload.console"'
ok "xl list shows $DOMU_NAME with ${DOMU_MEMORY_MB} MiB" \
   'part "xl list" | awk -v n="$DOMU_NAME" -v m="$DOMU_MEMORY_MB" "\$1 == n && \$3 == m" | grep -q .'
ok "xenctx printed cr3" 'part xenctx | grep -qE "cr3: *[0-9a-f]+"'
ok "xl info: Xen 4.17" 'part "xl info" | grep -qE "^xen_version +: 4\.17\."'
ok "xl info: free memory left after dom0 (1536) and domU (${DOMU_MEMORY_MB})" \
   'part "xl info" | awk -F: "/^free_memory/ { exit !(\$2 + 0 > 0 && \$2 + 0 < 3072 - 1536 - $DOMU_MEMORY_MB + 1) }"'
ok "xenprobe: PV domain" '[ "$(probe hvm)" = 0 ]'
ok "xenprobe: guest width 8" '[ "$(probe guest_width | cut -d" " -f1)" = 8 ]'
ok "xenprobe: no failed check" '[ "$(probe failures)" = 0 ] && ! part xenprobe | grep -q "check FAILED"'
ok "xenprobe: banner == domU /proc/version" '[ "$(probe banner)" = "$(cat "$OUT/domu/version.txt")" ]'
ok "xenprobe: domU left running (not paused)" \
   'part "xl list after" | awk -v n="$DOMU_NAME" "\$1 == n && \$5 !~ /p/" | grep -q .'
echo "timings (s from QEMU start): dom0 $T_DOM0_READY, domU $T_DOMU_READY, payload $T_PAYLOAD_DONE, outbox $T_OUTBOX_READ"
echo "$passed passed, $failed failed"
[ $failed = 0 ]

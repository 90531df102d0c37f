#!/usr/bin/env python3
"""A fleet of eight guests of three kinds at once, checked by one
`vmi-ps --check --all-domains --prometheus FILE` run (no --backend).

Usage: bench/bench_fleet.py BUILD/tools [--runs N]

It boots, all at the same time, under software emulation:
- three libvirt domains (tests/live/libvirt-env.sh starts libvirtd):
  amd64-4level, amd64-hide-tasklist (its module unlinks a victim from the task
  list) and amd64-6.12-kaslr;
- three Proxmox VMs: amd64-4level QEMUs with Proxmox's files (VMID.qmp,
  VMID.pid, /etc/pve/qemu-server/VMID.conf) in a folder laid out as the node;
  each VMID.qmp is a proxy to the QEMU's socket that logs when each client
  connection opens and closes;
- two QEMUs no manager owns, amd64-4level: one with a QMP socket on its
  command line, one with none.
The run sees them through VMI_HOST_ROOT (a folder whose proc, tmp and
run/libvirt lead to the host's own), so it must be the only thing running
guests on the host: --all-domains without --backend pauses every VM it finds.
That is why this is a benchmark, not a test of the suite.

It asserts what the fleet check must do (exit 1, exactly the hiding domain's
victim found, every other VM exit 0, the textfile written with a series per
VM, every guest running afterwards) and prints, per run, the wall time, the
tool's peak RSS (wait4), and the longest time any Proxmox QMP socket was held
by one connection, with the median over the runs.
"""
import argparse
import contextlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TESTS = os.path.join(HERE, "..", "tests")
sys.path.insert(0, TESTS)
sys.path.insert(0, os.path.join(TESTS, "live"))
from libvirt_guest import LibvirtGuest  # noqa: E402
from live_guest import LiveGuest  # noqa: E402
from qmp_proxy import QmpProxy  # noqa: E402
from testlib import guest_dir_root, read_guest_env  # noqa: E402

CLEAN, HIDING, NEWER = "amd64-4level", "amd64-hide-tasklist", "amd64-6.12-kaslr"


def boot_qemu(guests, name, workdir, **kw):
    path = os.path.join(guests, name)
    return LiveGuest(path, read_guest_env(path), workdir, False, **kw)


def held_longest(proxy):
    """The longest time (s) one client connection to the proxy stayed open."""
    opened, longest = {}, 0.0
    for event, at in zip(list(proxy.events), list(proxy.times)):
        if event[0] == "open":
            opened[event[1]] = at
        elif event[0] == "close" and event[1] in opened:
            longest = max(longest, at - opened.pop(event[1]))
    return longest


def run_check(tools, root, prom):
    """One fleet check: (exit code, JSON lines, stderr, wall s, peak RSS MiB), the
    peak from /usr/bin/time (as bench_big_guest.py takes it)."""
    env = dict(os.environ, VMI_HOST_ROOT=root)
    env.pop("VMI_CONFIG", None)
    with tempfile.NamedTemporaryFile("r") as rss:
        start = time.monotonic()
        proc = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", rss.name, os.path.join(tools, "vmi-ps", "vmi-ps"),
                               "--check", "--all-domains", "--prometheus", prom], capture_output=True, text=True,
                              env=env, timeout=1800)
        wall = time.monotonic() - start
        peak_kib = int(rss.read().strip().splitlines()[-1])
    lines = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    return proc.returncode, lines, proc.stderr, wall, peak_kib / 1024


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("tools")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--guests", default=guest_dir_root())
    args = parser.parse_args()
    tools = os.path.abspath(args.tools)
    subprocess.run([os.path.join(TESTS, "live", "libvirt-env.sh")], check=True, stdin=subprocess.DEVNULL)

    root = tempfile.mkdtemp(prefix="vmifleet.", dir="/tmp")
    os.makedirs(os.path.join(root, "var/run/qemu-server"))
    os.makedirs(os.path.join(root, "etc/pve/qemu-server"))
    os.makedirs(os.path.join(root, "run"))
    for name, target in (("proc", "/proc"), ("tmp", "/tmp"), ("run/libvirt", "/run/libvirt")):
        os.symlink(target, os.path.join(root, name))
    prom = os.path.join(root, "vmi.prom")
    with contextlib.ExitStack() as stack:
        started = time.monotonic()
        hiding = stack.enter_context(LibvirtGuest(os.path.join(args.guests, HIDING), suffix="fleet"))
        stack.enter_context(LibvirtGuest(os.path.join(args.guests, CLEAN), suffix="fleet"))
        stack.enter_context(LibvirtGuest(os.path.join(args.guests, NEWER), suffix="fleet"))
        proxies, qemus = [], []
        for vmid in (201, 202, 203):
            work = tempfile.mkdtemp(prefix="vmipx.", dir="/tmp")
            guest = boot_qemu(args.guests, CLEAN, work, extra=["-name", f"pve{vmid}"])
            qemus.append(guest)
            stack.callback(guest.stop)
            with open(os.path.join(root, f"var/run/qemu-server/{vmid}.pid"), "w") as f:
                f.write(f"{guest.process.pid}\n")
            with open(os.path.join(root, f"etc/pve/qemu-server/{vmid}.conf"), "w") as f:
                f.write(f"name: pve{vmid}\nmemory: 512\n")
            proxies.append(stack.enter_context(QmpProxy(guest.sock, os.path.join(root, f"var/run/qemu-server/{vmid}.qmp"))))
        for name, qmp in (("bare-qmp", True), ("bare-noqmp", False)):
            guest = boot_qemu(args.guests, CLEAN, tempfile.mkdtemp(prefix="vmibq.", dir="/tmp"),
                              qmp=qmp, extra=["-name", name])
            qemus.append(guest)
            stack.callback(guest.stop)
        victim = hiding.victim_pid()
        print(f"# 8 guests booted in {time.monotonic() - started:.0f} s; the hiding domain's victim is pid {victim}")

        walls, peaks, holds = [], [], []
        for run in range(args.runs):
            rc, lines, err, wall, peak = run_check(tools, root, prom)
            hold = max(held_longest(p) for p in proxies)
            by_name = {line["domain"]: line for line in lines}
            found = {name: [t["pid"] for t in line.get("tasks", [])] for name, line in by_name.items()
                     if line.get("exit") == 1}
            others_clean = all(line.get("exit") == 0 for name, line in by_name.items() if name != hiding.name)
            with open(prom) as f:
                series = sum(1 for line in f if line.startswith("vmi_check_last_success_timestamp_seconds"))
            running = hiding.state() == "running" and all(q.running() for q in qemus)
            ok = (rc == 1 and len(lines) == 8 and found == {hiding.name: [victim]} and others_clean and series == 8
                  and running)
            print(f"run {run + 1}: exit {rc}, {len(lines)} VMs ({', '.join(sorted(l.get('manager', '?') for l in lines))}), "
                  f"found {found}, textfile series {series}, all running {running}: {'ok' if ok else 'WRONG'}; "
                  f"wall {wall:.2f} s, peak RSS {peak:.0f} MiB, longest QMP hold {hold * 1000:.0f} ms")
            if not ok:
                print(err[-3000:])
                print("\n".join(json.dumps(line)[:300] for line in lines))
                return 1
            walls.append(wall)
            peaks.append(peak)
            holds.append(hold)
        print(f"median of {args.runs}: wall {statistics.median(walls):.2f} s, peak RSS {statistics.median(peaks):.0f} "
              f"MiB, longest QMP hold {statistics.median(holds) * 1000:.0f} ms (max {max(holds) * 1000:.0f} ms)")
    shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

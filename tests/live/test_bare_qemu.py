#!/usr/bin/env python3
"""A QEMU with no QMP socket at all, read by `--qemu-pid PID` alone.

amd64-4level boots twice under QEMU (TCG) with no monitor of any kind: once
as machine pc with 5 GiB of anonymous RAM (3 GiB below 4 GiB, 2 GiB above),
once as q35 with 3 GiB in a shared memfd backend (2 GiB below, 1 GiB above).
The tools take the RAM layout from the QEMU's command line and the one mapping
of that size in /proc/PID/maps, find the kernel without registers, check the
layout against the guest's own e820 map, and pause the guest with SIGSTOP.
For each:
- vmi-ps and vmi-lsmod match the guest's own process list and /proc/modules
  (asked on its second serial port), and the guest was stopped for the walk
  and runs again; -v says the layout came from the command line and that the
  guest's e820 map confirmed it, also with nothing but --qemu-pid (symbols
  from the guest's own kallsyms);
- a QEMU someone else stopped (SIGSTOP) is read and left stopped.
Then a host root (VMI_HOST_ROOT) whose /proc shows the pc guest's QEMU with a
command line that says q35 (a layout that is wrong for it): one line saying
the layout does not match the guest's own, exit 2; and the guest runs.
"""
import os
import shutil
import signal
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
sys.path.insert(0, HERE)
from live_checks import check_lists  # noqa: E402
from live_guest import LiveGuest  # noqa: E402
from testlib import read_guest_env, run_per_guest  # noqa: E402

MACHINES = {
    "pc, 5 GiB anonymous": ["-machine", "pc", "-m", "5G"],
    "q35, 3 GiB memfd": ["-object", "memory-backend-memfd,id=mem,size=3G,share=on",
                         "-machine", "q35,memory-backend=mem", "-m", "3G"],
}


def check_guest(results, tools, name, guest_dir, scratch):
    common = ["--sysmap", os.path.join(guest_dir, "kallsyms"), "--btf", os.path.join(guest_dir, "vmlinuz")]
    for machine, memory in MACHINES.items():
        workdir = tempfile.mkdtemp(prefix="vmibare.", dir="/tmp")
        guest = LiveGuest(guest_dir, read_guest_env(guest_dir), workdir, False, qmp=False, memory=memory)
        try:
            check_one(results, tools, guest, common, f"{name} ({machine}, no QMP)", machine.startswith("pc"), workdir)
        finally:
            guest.stop()
            shutil.rmtree(workdir, ignore_errors=True)


def check_one(results, tools, guest, common, what, wrong_layout_too, workdir):
    pid = guest.process.pid
    err = check_lists(results, tools, guest, ["--qemu-pid", str(pid), *common], what)
    results.check("no QMP socket; RAM layout from its command line" in err and "RAM layout checked" in err
                  and "registers" not in err.split("RAM layout checked")[1].split("\n")[0],
                  f"{what}: -v says the layout came from the command line and the guest's e820 map confirmed it",
                  err[-2500:])

    rc, out, err = tools.run("vmi-ps", "--qemu-pid", pid, "-v")
    results.check(rc == 0 and out.count("\n") > 20 and "symbols: the kernel's own kallsyms" in err
                  and "RAM layout checked" in err,
                  f"{what}: with nothing but --qemu-pid (symbols from the guest's kallsyms), the layout checked too",
                  f"rc={rc}\n{err[-2500:]}")

    os.kill(pid, signal.SIGSTOP)
    try:
        rc, out, err = tools.run("vmi-ps", "--qemu-pid", pid, *common, "-v")
        stopped = not guest.running()
    finally:
        os.kill(pid, signal.SIGCONT)
    results.check(rc == 0 and out.count("\n") > 20 and "paused already" in err and stopped,
                  f"{what}: a QEMU someone else stopped is read and left stopped", f"rc={rc} stopped={stopped}\n{err}")

    if wrong_layout_too:
        root = os.path.join(workdir, "host")
        os.makedirs(os.path.join(root, "proc", str(pid)))
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            argv = f.read().split(b"\0")
        argv = [b"q35" if a == b"pc" else a for a in argv]   # -machine pc -> -machine q35: 2 GiB below, 3 above
        with open(os.path.join(root, "proc", str(pid), "cmdline"), "wb") as f:
            f.write(b"\0".join(argv))
        rc, out, err = tools.run("vmi-ps", "--qemu-pid", pid, *common, env={"VMI_HOST_ROOT": root})
        lines = err.strip().splitlines()
        results.check(rc == 2 and out == "" and len(lines) == 1 and "does not match the guest's own" in lines[0]
                      and guest.running(),
                      f"{what}: a command line that says q35 for it: one line saying the layout does not match the "
                      f"guest's own, exit 2 ({err.strip()[:160]})", f"rc={rc}\n{err}")


if __name__ == "__main__":
    sys.exit(run_per_guest(__doc__, ["amd64-4level"], check_guest))

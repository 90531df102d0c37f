#!/usr/bin/env python3
"""The tools on live guests: a real QEMU reached by its QMP socket (--qmp).

Boots the cached test guests' kernels and initramfs again, this time kept
running: amd64-4level with its RAM in a shared memfd (so every access path
can be tried), and amd64-5level-kaslr, amd64-6.12-kaslr and amd64-7.2-kaslr
with ordinary anonymous RAM (the memfd path must step aside). The guest's
second serial port is a unix socket, behind which its /init answers `procs`
and `modules` (tests/live/guest_port.py): the tools' lists are compared with
what the guest says right before and right after each walk. Checks:
- vmi-ps / vmi-lsmod over each path (memfd, process_vm_readv, monitor, auto)
  match what the guest says (pid, ppid, uid, gid, state, name; modules), and
  the guest runs afterwards;
- vmi-hooks --check on the running guest (paused once), its system calls as on the dump
- a guest paused beforehand stays paused;
- SIGINT, SIGTERM and SIGHUP in the middle of a walk leave the guest running;
- bad --qmp and --access values get one line and exit 2.
"""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
sys.path.insert(0, HERE)
from live_checks import check_access_paths, check_hooks, check_paused_stays_paused, check_signals  # noqa: E402
from live_guest import running_guest  # noqa: E402
from testlib import run_per_guest  # noqa: E402


def check_live_guest(results, tools, name, guest_dir, scratch):
    with running_guest(name, guest_dir) as (guest, base, memfd):
        check_access_paths(results, tools, guest, base, memfd, f"{name} live")
        check_paused_stays_paused(results, tools, guest, base, f"{name} live")
        check_signals(results, tools, guest, base, f"{name} live")
        check_hooks(results, tools, guest, base, f"{name} live", os.path.join(guest_dir, "memory.elf"))

        for args, expect in ((["--qmp", os.path.join(os.path.dirname(guest.sock), "nope.sock")], "cannot connect to QMP socket"),
                             ([*base, "--access", "telepathy"], "unknown memory access path 'telepathy'")):
            rc, out, err = tools.run("vmi-ps", *args)
            results.check(rc == 2 and expect in err and len(err.splitlines()) == 1,
                          f"{name} live: bad {args[-2]} gets one line and exit 2", err)


if __name__ == "__main__":
    sys.exit(run_per_guest(__doc__, ["amd64-4level", "amd64-5level-kaslr", "amd64-6.12-kaslr", "amd64-7.2-kaslr"], check_live_guest))

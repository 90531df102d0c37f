#!/usr/bin/env python3
"""How the tools pause a live guest, on amd64-4level run twice: a bare QEMU
reached by its QMP socket, then a libvirt domain (libvirtd started by
tests/live/libvirt-env.sh). After each check the guest must run (unless it
was paused beforehand on purpose). Checks:
- SIGKILL at the pause: the tool's guardian resumes the guest; with the
  guardian killed too, --resume-abandoned or the next run resumes it;
- every catchable signal sent while the guest is paused: SIGINT, SIGTERM,
  SIGHUP, SIGQUIT, SIGUSR1/2, SIGALRM, SIGXCPU end the tool after the resume;
  SIGPIPE is ignored; SIGTSTP stops it only after the resume; SIGSEGV, SIGBUS,
  SIGFPE, SIGILL and SIGABRT resume the guest before the process dies;
- vmi-ps and vmi-lsmod together on one guest, many times: their pauses never
  overlap and both lists are right every time (the per-guest pause lock);
  the lock held by another process: a bounded wait, then one line;
- --max-pause running out mid-walk: the guest is resumed, exit 2;
- a monitor that stops answering (a QMP proxy that swallows stop or cont, or
  answers cont with an error; QEMU itself stopped with SIGSTOP): bounded,
  exit 2, and the error line names the command that resumes the guest;
- JSON errors: an error object on stdout, no partial result.
"""
import os
import signal
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
sys.path.insert(0, os.path.join(HERE, "..", "guests"))
sys.path.insert(0, HERE)
from libvirt_guest import LibvirtError, LibvirtGuest, destroy_stale_domains  # noqa: E402
from pause_checks import (check_lock_held, check_max_pause, check_monitor_mischief, check_qemu_stopped,  # noqa: E402
                          check_sigkill_at_pause, check_signals_while_paused, check_two_tools)
from live_guest import running_guest  # noqa: E402
from testlib import run_per_guest  # noqa: E402
import json_error_checks  # noqa: E402

ENV_SCRIPT = os.path.join(HERE, "libvirt-env.sh")
ROUNDS = int(os.environ.get("VMI_PAUSE_ROUNDS", "100"))


def check_qmp(results, tools, name, guest_dir, scratch):
    with running_guest(name, guest_dir) as (guest, base, memfd):
        guest.kind = "qmp"
        guest.qemu_pid = lambda: guest.process.pid
        what = f"{name} QMP"
        check_sigkill_at_pause(results, tools, guest, base, what)
        check_signals_while_paused(results, tools, guest, base, what)
        check_max_pause(results, tools, guest, base, what)
        check_lock_held(results, tools, guest, base, what)
        check_monitor_mischief(results, tools, guest, base, os.path.dirname(guest.sock), what)
        check_qemu_stopped(results, tools, guest, base, what)
        json_error_checks.check(results, tools, guest, base, guest_dir, scratch, what)
        # QEMU serves one QMP client at a time: the second tool waits for the first to finish.
        check_two_tools(results, tools, guest, base, what, max(1, ROUNDS // 10))


def check_libvirt(results, tools, name, guest_dir):
    try:
        proc = subprocess.run([ENV_SCRIPT], capture_output=True, text=True, timeout=900, stdin=subprocess.DEVNULL)
        ok, detail = proc.returncode == 0, proc.stderr[-3000:]
    except subprocess.TimeoutExpired:
        ok, detail = False, f"{ENV_SCRIPT} did not finish"
    if not results.check(ok, "libvirtd runs (tests/live/libvirt-env.sh)", detail):
        return
    destroy_stale_domains()
    options = ["--backend", "kvm", "--sysmap", os.path.join(guest_dir, "kallsyms"),
               "--btf", os.path.join(guest_dir, "vmlinuz")]
    what = f"{name} libvirt"
    try:
        with LibvirtGuest(guest_dir, memfd=True, suffix="pause") as guest:
            guest.kind = "libvirt"
            base = [guest.name, *options]
            check_two_tools(results, tools, guest, base, what, ROUNDS)
            check_sigkill_at_pause(results, tools, guest, base, what)
            check_signals_while_paused(results, tools, guest, base, what)
            check_max_pause(results, tools, guest, base, what)
            check_lock_held(results, tools, guest, base, what)
            check_qemu_stopped(results, tools, guest, base, what)
            results.check(guest.state() == "running", f"{what}: virsh domstate says running at the end", guest.state())
    except LibvirtError as e:
        results.check(False, f"{what}: the domain runs and its guest answers", str(e))


def check_guest(results, tools, name, guest_dir, scratch):
    check_qmp(results, tools, name, guest_dir, scratch)
    check_libvirt(results, tools, name, guest_dir)


if __name__ == "__main__":
    # So that the guests are stopped when ctest or a user ends the test.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    sys.exit(run_per_guest(__doc__, ["amd64-4level"], check_guest))

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
import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
sys.path.insert(0, os.path.join(HERE, "..", "guests"))
sys.path.insert(0, HERE)
import guest_port  # noqa: E402
from live_checks import check_access_paths, check_hooks, check_paused_stays_paused, check_signals  # noqa: E402
from qmp import QmpConnection  # noqa: E402
from testlib import read_guest_env, run_per_guest  # noqa: E402

READY = "@@VMI READY@@"
BOOT_TIMEOUT = 600


class LiveGuest:
    """A test guest booted under QEMU (TCG) and kept running."""

    def __init__(self, guest_dir, env, workdir, memfd):
        self.dir = guest_dir
        self.sock = os.path.join(workdir, "qmp.sock")
        self.port = os.path.join(workdir, "port.sock")
        self.console = os.path.join(workdir, "console.log")
        cpu = env.get("GUEST_QEMU_CPU", "qemu64")
        ram_mb = int(env["GUEST_RAM_BYTES"]) >> 20
        append = "console=ttyS0 panic=-1" + ("" if env.get("GUEST_KASLR") == "1" else " nokaslr")
        memory = ["-m", str(ram_mb)]
        if memfd:
            memory += ["-object", f"memory-backend-memfd,id=ram0,size={ram_mb}M,share=on",
                       "-machine", "pc,memory-backend=ram0"]
        qemu = shutil.which("qemu-system-x86_64") or "qemu-system-x86_64"
        self.process = subprocess.Popen(
            [qemu, "-accel", "tcg", "-cpu", cpu, "-smp", "1", *memory, "-display", "none", "-no-reboot", "-nodefaults",
             "-kernel", os.path.join(guest_dir, "vmlinuz"), "-initrd", os.path.join(guest_dir, "initrd.gz"),
             "-append", append, "-qmp", f"unix:{self.sock},server=on,wait=off",
             "-serial", f"file:{self.console}", "-serial", f"unix:{self.port},server=on,wait=off"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        deadline = time.time() + BOOT_TIMEOUT
        while READY not in self.console_text():
            if self.process.poll() is not None:
                raise SystemExit(f"QEMU exited while booting: {self.process.stderr.read()}")
            if time.time() > deadline:
                self.stop()
                raise SystemExit(f"no {READY} within {BOOT_TIMEOUT} s")
            time.sleep(0.5)

    def console_text(self):
        try:
            with open(self.console, errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def ask(self, command):
        """The guest's answer to `command` on its second serial port, now."""
        return guest_port.ask(self.port, command, who=os.path.basename(self.dir))

    def own_procs(self):
        """Every process as the guest sees it now: PID PPID UID GID STATE COMM."""
        return self.ask("procs")

    def own_modules(self):
        return self.ask("modules")

    def qmp(self, command, arguments=None):
        conn = QmpConnection(self.sock, 30)
        try:
            conn.handshake()
            return conn.execute(command, arguments)
        finally:
            conn.sock.close()

    def running(self):
        return self.qmp("query-status")["running"]

    def suspend(self):
        self.qmp("stop")

    def resume(self):
        self.qmp("cont")

    def stop(self):
        try:
            self.qmp("quit")
        except Exception:  # noqa: BLE001 - it may be gone already
            pass
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@contextlib.contextmanager
def running_guest(name, guest_dir):
    """Boots a test guest and keeps it running for the block, stopped on any
    way out: amd64-4level with its RAM in a shared memfd, others anonymous.
    Yields (guest, the tool arguments that reach it, whether RAM is a memfd)."""
    memfd = name == "amd64-4level"
    workdir = tempfile.mkdtemp(prefix="vmilive.", dir="/tmp")  # socket paths are short
    guest = LiveGuest(guest_dir, read_guest_env(guest_dir), workdir, memfd)
    try:
        yield guest, ["--qmp", guest.sock, "--sysmap", os.path.join(guest_dir, "kallsyms"),
                      "--btf", os.path.join(guest_dir, "vmlinuz")], memfd
    finally:
        guest.stop()
        shutil.rmtree(workdir, ignore_errors=True)


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

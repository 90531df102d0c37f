#!/usr/bin/env python3
"""The tools on live guests: a real QEMU reached by its QMP socket (--qmp).

Boots the cached test guests' kernels and initramfs again, this time kept
running: amd64-4level with its RAM in a shared memfd (so every access path
can be tried), and amd64-5level-kaslr with ordinary anonymous RAM (the memfd
path must step aside). The guest prints its own process and module lists at
boot and then changes nothing but kworker descriptions, so the comparison is
made at a known moment. Checks:
- vmi-ps / vmi-lsmod over each path (memfd, process_vm_readv, monitor, auto)
  match what the guest printed, and the guest runs afterwards;
- a guest paused beforehand stays paused;
- SIGINT, SIGTERM and SIGHUP in the middle of a walk leave the guest running;
- bad --qmp and --access values get one line and exit 2.
"""
import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
sys.path.insert(0, os.path.join(HERE, "..", "guests"))
from qmp import QmpConnection  # noqa: E402
from testlib import guest_dir_root, read_guest_env, run_per_guest  # noqa: E402

READY = "@@VMI READY@@"
BOOT_TIMEOUT = 600


class LiveGuest:
    """A test guest booted under QEMU (TCG) and kept running."""

    def __init__(self, guest_dir, env, workdir, memfd):
        self.dir = guest_dir
        self.sock = os.path.join(workdir, "qmp.sock")
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
             "-serial", f"file:{self.console}", "-serial", f"file:{os.path.join(workdir, 'ttyS1.log')}"],
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

    def section(self, name):
        text = self.console_text().replace("\r", "")
        body = text.split(f"@@VMI BEGIN {name}@@\n", 1)[1].split(f"@@VMI END {name}@@", 1)[0]
        return [line for line in body.splitlines() if line.strip()]

    def qmp(self, command, arguments=None):
        conn = QmpConnection(self.sock, 30)
        try:
            conn.handshake()
            return conn.execute(command, arguments)
        finally:
            conn.sock.close()

    def running(self):
        return self.qmp("query-status")["running"]

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


def same_name(guest_name, our_name):
    base = lambda name: re.split(r"[-+]", name, maxsplit=1)[0]  # noqa: E731
    return guest_name == our_name or (our_name.startswith("kworker/") and base(guest_name) == base(our_name))


def check_lists(results, tools, guest, common, what):
    rc, out, ps_err = tools.run("vmi-ps", *common, "-o", "pid,name", "--no-headers", "-v")
    err = ps_err
    ours = dict(line.split(" ", 1) for line in out.splitlines())
    theirs = {}
    for line in guest.section("procs"):
        parts = line.split(None, 5)
        if len(parts) == 6:
            theirs[parts[0]] = parts[5]
    problems = [f"pid {pid}: vmi-ps {ours.get(pid)!r} guest {theirs.get(pid)!r}"
                for pid in sorted(set(ours) | set(theirs), key=int)
                if pid not in ours or pid not in theirs or not same_name(theirs[pid], ours[pid])]
    results.check(rc == 0 and not problems and len(ours) > 20,
                  f"{what}: vmi-ps matches the guest's own list ({len(ours)} processes)",
                  "\n".join(problems[:20]) + err[-1500:])
    results.check(guest.running() and "guest paused" in err and "guest resumed" in err,
                  f"{what}: the guest was paused for the walk and runs again", err[-1500:])

    rc, out, err = tools.run("vmi-lsmod", *common, "--format", "json")
    ours = {m["name"]: [m["size"], m["refcount"]] for m in json.loads(out)} if rc == 0 else {}
    theirs = {p[0]: [int(p[1]), int(p[2])] for p in (line.split() for line in guest.section("modules"))}
    results.check(rc == 0 and ours == theirs and theirs,
                  f"{what}: vmi-lsmod matches the guest's /proc/modules ({len(theirs)} modules)",
                  f"ours {ours} guest {theirs} {err}")
    return ps_err


def check_signals(results, tools, guest, common, what):
    """A signal mid-walk: the tool dies of it, after resuming the guest."""
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        outcomes = []
        for delay in (0.05, 0.15, 0.3):
            process = subprocess.Popen([tools.path("vmi-ps"), *common, "--access", "monitor", "-v"],
                                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            time.sleep(delay)
            process.send_signal(sig)
            _, err = process.communicate(timeout=120)
            outcomes.append((process.returncode, "guest paused" in err, guest.running()))
        results.check(all(running for _, _, running in outcomes) and
                      any(rc == -sig and paused for rc, paused, _ in outcomes),
                      f"{what}: {sig.name} during a walk kills the tool and leaves the guest running",
                      f"(exit status, had paused, guest running) per try: {outcomes}")


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
        paths = {"memfd": "mapped from QEMU pid", "process": "process_vm_readv on QEMU pid",
                 "monitor": "through the QEMU monitor"}
        for access, note in paths.items():
            if access == "memfd" and not memfd:
                rc, _, err = tools.run("vmi-ps", *base, "--access", "memfd")
                results.check(rc == 2 and "privately" in err and len(err.splitlines()) == 1 and guest.running(),
                              f"{name} live: --access memfd on anonymous guest RAM is refused in one line", err)
                continue
            err = check_lists(results, tools, guest, [*base, "--access", access], f"{name} live ({access})")
            results.check(note in err, f"{name} live ({access}): -v names the path", err[-1500:])
        err = check_lists(results, tools, guest, base, f"{name} live (auto)")
        expected = paths["memfd"] if memfd else paths["process"]
        results.check(expected in err, f"{name} live (auto): the fastest path that works is chosen: "
                      f"{'memfd' if memfd else 'process_vm_readv'}", err[-1500:])

        guest.qmp("stop")
        rc, _, err = tools.run("vmi-ps", *base, "-v")
        results.check(rc == 0 and not guest.running() and "stays paused" in err,
                      f"{name} live: a guest paused beforehand stays paused", err[-1500:])
        guest.qmp("cont")

        check_signals(results, tools, guest, base, f"{name} live")

        for args, expect in ((["--qmp", os.path.join(os.path.dirname(guest.sock), "nope.sock")], "cannot connect to QMP socket"),
                             ([*base, "--access", "telepathy"], "unknown memory access path 'telepathy'")):
            rc, out, err = tools.run("vmi-ps", *args)
            results.check(rc == 2 and expect in err and len(err.splitlines()) == 1,
                          f"{name} live: bad {args[-2]} gets one line and exit 2", err)


if __name__ == "__main__":
    sys.exit(run_per_guest(__doc__, ["amd64-4level", "amd64-5level-kaslr"], check_live_guest))

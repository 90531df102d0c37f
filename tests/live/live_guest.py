"""A test guest booted under QEMU (TCG) and kept running, for the live tests:
LiveGuest, and running_guest() that boots one for a block."""
import contextlib
import os
import re
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
from qmp import QmpConnection  # noqa: E402
from testlib import read_guest_env  # noqa: E402

READY = "@@VMI READY@@"
BOOT_TIMEOUT = 600


class LiveGuest:
    """A test guest booted under QEMU (TCG) and kept running."""

    def __init__(self, guest_dir, env, workdir, memfd, sock=None, extra=(), qmp=True, memory=None):
        """sock: the QMP socket's path (default: in workdir); extra: more QEMU arguments;
        qmp=False: no QMP socket at all (paused and resumed by signals, then); memory: the
        QEMU arguments for RAM instead of the guest's own size."""
        self.dir = guest_dir
        self.sock = (sock or os.path.join(workdir, "qmp.sock")) if qmp else None
        self.port = os.path.join(workdir, "port.sock")
        self.console = os.path.join(workdir, "console.log")
        cpu = env.get("GUEST_QEMU_CPU", "qemu64")
        ram_mb = int(env["GUEST_RAM_BYTES"]) >> 20
        append = "console=ttyS0 panic=-1" + ("" if env.get("GUEST_KASLR") == "1" else " nokaslr")
        if memory is None:
            memory = ["-m", str(ram_mb)]
            if memfd:
                memory += ["-object", f"memory-backend-memfd,id=ram0,size={ram_mb}M,share=on",
                           "-machine", "pc,memory-backend=ram0"]
        monitor = ["-qmp", f"unix:{self.sock},server=on,wait=off"] if qmp else []
        qemu = shutil.which("qemu-system-x86_64") or "qemu-system-x86_64"
        self.process = subprocess.Popen(
            [qemu, "-accel", "tcg", "-cpu", cpu, "-smp", "1", *memory, "-display", "none", "-no-reboot", "-nodefaults",
             "-kernel", os.path.join(guest_dir, "vmlinuz"), "-initrd", os.path.join(guest_dir, "initrd.gz"),
             "-append", append, *monitor,
             "-serial", f"file:{self.console}", "-serial", f"unix:{self.port},server=on,wait=off", *extra],
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

    def victim_pid(self):
        """A hiding guest's victim in this boot, as its /init printed it."""
        pid = victim_pid(self.console_text())
        if pid is None:
            raise SystemExit(f"{os.path.basename(self.dir)}: no hide section on its console")
        return pid

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
        if self.sock is None:   # no monitor: stopped means SIGSTOP (state T)
            with open(f"/proc/{self.process.pid}/stat") as f:
                return f.read().rsplit(")", 1)[1].split()[0] not in ("T", "t")
        return self.qmp("query-status")["running"]

    def suspend(self):
        self.qmp("stop")

    def resume(self):
        self.qmp("cont")

    def stop(self):
        if self.sock is None:
            self.process.kill()
        try:
            self.qmp("quit")
        except Exception:  # noqa: BLE001 - it may be gone already, or have no monitor
            pass
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def victim_pid(console):
    """The victim of a hiding guest (tests/hiding/guest-init.sh) in the boot whose console
    is `console` (None when it has none yet): the "hide" section, MODE VICTIM RC. Kernel
    threads started early in a boot may move the pids: the dump boot's GUEST_VICTIM_PID
    need not be this boot's."""
    m = re.search(r"@@VMI BEGIN hide@@\s*\n\S+ (\d+) \S+\s*\n@@VMI END hide@@", console)
    return int(m.group(1)) if m else None


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

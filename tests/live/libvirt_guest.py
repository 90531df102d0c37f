"""A cached test guest run as a transient libvirt domain (stdlib only).

    with LibvirtGuest(guest_dir, memfd=True) as guest:   # virsh create, wait for READY
        guest.ask("procs")       # the guest's own answer, from its responder on ttyS1
        guest.state()            # "running", "paused", ... (virsh domstate)
    # destroyed here, whatever happened

    with LibvirtGuest(hiding_guest_dir, agent=True) as guest:   # with a QGA channel
        guest.wait_agent()       # until guest-ping answers (virsh qemu-agent-command)
        guest.agent_command("guest-exec", path="/bin/sh", arg=["-c", "..."])

The guest is one that tests/guests/build-guests.sh or tests/hiding/boot-hiding-guest.py
built (vmlinuz, initrd.gz and guest.env in ~/.cache/vmitools/guests/<name>), booted
under software emulation (`<domain type='qemu'>`). Serial 0 is the console, a file
(through virtlogd, which rotates it at 2 MiB: console_text() joins the parts); serial
1 is a unix socket that libvirt binds, where a test guest's /init answers one-line
commands (procs, modules, hostname) between "@@VMI BEGIN cmd@@" and "@@VMI END cmd@@"
(a hiding guest's answers none: ask() is for test guests).
With agent=True the domain also has a guest agent channel (virtio, named
org.qemu.guest_agent.0; libvirt picks the host socket and adds the virtio-serial
controller): the hiding guests of tests/hiding/boot-hiding-guest.py start
Debian's qemu-ga on it, the test guests of build-guests.sh have no agent.
Every wait is bounded. Needs a running libvirtd (tests/live/libvirt-env.sh) and root.
"""
import glob
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from xml.sax.saxutils import escape

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import guest_port  # noqa: E402
from guest_port import ASK_TIMEOUT  # noqa: E402
from live_guest import victim_pid  # noqa: E402
from testlib import read_guest_env  # noqa: E402

URI = "qemu:///system"
READY = "@@VMI READY@@"
BOOT_TIMEOUT = int(os.environ.get("VMI_BOOT_TIMEOUT", "600"))  # seconds; TCG on a busy host is slow
AGENT_TIMEOUT = 120        # seconds from the ready marker until the guest agent answers
AGENT_CHANNEL = "org.qemu.guest_agent.0"
VIRSH_TIMEOUT = 120
NAME_PREFIX = "vmi-test-"


class LibvirtError(Exception):
    """virsh failed, or the guest did not behave."""


def virsh(*args, uri=URI, timeout=VIRSH_TIMEOUT):
    """Runs `virsh -c URI ARGS`; returns its stdout, raises LibvirtError on failure."""
    try:
        proc = subprocess.run(["virsh", "-c", uri, *map(str, args)], capture_output=True, text=True,
                              timeout=timeout, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired as e:
        raise LibvirtError(f"virsh {' '.join(map(str, args))}: no answer within {timeout} s") from e
    if proc.returncode != 0:
        raise LibvirtError(f"virsh {' '.join(map(str, args))}: {proc.stderr.strip() or proc.stdout.strip()}")
    return proc.stdout


def cpu_xml(qemu_cpu):
    """The <cpu> element that gives the guest the CPU it was built with. `max`
    is TCG's everything-it-can model (with LA57: 5-level paging)."""
    if qemu_cpu == "max":
        return "<cpu mode='maximum'/>"
    return f"<cpu mode='custom' match='exact'><model fallback='forbid'>{escape(qemu_cpu)}</model></cpu>"


def domain_xml(name, env, kernel, initrd, console, port, memfd, agent=False, metadata=""):
    cmdline = "console=ttyS0 panic=-1" + ("" if env.get("GUEST_KASLR") == "1" else " nokaslr")
    ram_kib = int(env["GUEST_RAM_BYTES"]) // 1024
    backing = ("<memoryBacking><source type='memfd'/><access mode='shared'/></memoryBacking>"
               if memfd else "")
    return f"""<domain type='qemu'>
  <name>{escape(name)}</name>
  {f"<metadata>{metadata}</metadata>" if metadata else ""}
  <memory unit='KiB'>{ram_kib}</memory>
  {backing}
  <vcpu>1</vcpu>
  {cpu_xml(env.get("GUEST_QEMU_CPU", "qemu64"))}
  <os>
    <type arch='x86_64' machine='pc'>hvm</type>
    <kernel>{escape(kernel)}</kernel>
    <initrd>{escape(initrd)}</initrd>
    <cmdline>{escape(cmdline)}</cmdline>
  </os>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>destroy</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    <serial type='file'><source path='{escape(console)}'/><target port='0'/></serial>
    <serial type='unix'><source mode='bind' path='{escape(port)}'/><target port='1'/></serial>
    {f"<channel type='unix'><target type='virtio' name='{AGENT_CHANNEL}'/></channel>" if agent else ""}
    <controller type='usb' model='none'/>
    <memballoon model='none'/>
  </devices>
</domain>
"""


def destroy_stale_domains(uri=URI):
    """Destroys test domains left by test processes that died without cleaning
    up (named NAME_PREFIX<guest>-<pid>, that pid gone): a TCG guest left
    behind keeps a host core busy."""
    for name in virsh("list", "--all", "--name", uri=uri).split():
        match = re.fullmatch(re.escape(NAME_PREFIX) + r".+-(\d+)(?:-[a-z]+)?", name)
        if match and not os.path.exists(f"/proc/{match.group(1)}"):
            for command in ("destroy", "undefine"):
                try:
                    virsh(command, name, uri=uri)
                except LibvirtError:
                    pass  # shut off already, or transient and gone


class LibvirtGuest:
    """A test guest as a libvirt domain. start() (or `with`) creates it,
    transient, and waits for its ready marker; destroy() ends it and removes
    its files. define_only=True instead defines it without starting it (a
    shut-off domain), undefined again by destroy()."""

    def __init__(self, guest_dir, memfd=False, uri=URI, suffix="", define_only=False, agent=False, metadata=""):
        self.dir = guest_dir
        self.env = read_guest_env(guest_dir)
        self.guest = os.path.basename(os.path.normpath(guest_dir))
        self.name = f"{NAME_PREFIX}{self.guest}-{os.getpid()}{'-' + suffix if suffix else ''}"
        self.memfd = memfd
        self.agent = agent
        self.metadata = metadata   # XML for the domain's <metadata> (e.g. OpenStack Nova's)
        self.uri = uri
        self.define_only = define_only
        self.created = False
        # Short: unix socket paths are limited to 108 bytes. Readable by all: QEMU runs
        # as libvirt-qemu, which cannot enter /root where the guests are cached.
        self.workdir = tempfile.mkdtemp(prefix="vmilibvirt.", dir="/tmp")
        os.chmod(self.workdir, 0o755)
        self.console = os.path.join(self.workdir, "console.log")
        self.port = os.path.join(self.workdir, "port.sock")

    # --- life cycle --------------------------------------------------------------------
    def start(self):
        try:
            files = {}
            for f in ("vmlinuz", "initrd.gz"):
                files[f] = os.path.join(self.workdir, f)
                shutil.copyfile(os.path.join(self.dir, f), files[f])
                os.chmod(files[f], 0o644)
            xml = os.path.join(self.workdir, "domain.xml")
            with open(xml, "w") as f:
                f.write(domain_xml(self.name, self.env, files["vmlinuz"], files["initrd.gz"],
                                   self.console, self.port, self.memfd, self.agent, self.metadata))
            virsh("define" if self.define_only else "create", xml, uri=self.uri)
            self.created = True
            if not self.define_only:
                self.wait_ready()
        except BaseException:
            self.destroy()
            raise
        return self

    def wait_ready(self, timeout=BOOT_TIMEOUT):
        deadline = time.time() + timeout
        while READY not in self.console_text():
            state = self.state()
            if state != "running":
                raise LibvirtError(f"{self.name} is {state!r} before its ready marker; console:\n"
                                   + self.console_text()[-2000:] + self.qemu_log()[-2000:])
            if time.time() > deadline:
                raise LibvirtError(f"{self.name}: no {READY} within {timeout} s; console:\n"
                                   + self.console_text()[-2000:])
            time.sleep(0.5)

    def destroy(self):
        """Ends the domain (a defined one is undefined) and removes its files.
        Safe to call twice, and on a domain that is gone already."""
        if self.created:
            commands = ("undefine",) if self.define_only else ("destroy",)
            for command in commands:
                try:
                    virsh(command, self.name, uri=self.uri)
                except LibvirtError:
                    pass  # gone already
            self.created = False
        shutil.rmtree(self.workdir, ignore_errors=True)
        try:
            os.unlink(self.qemu_log_path())  # one per domain name: they would pile up
        except OSError:
            pass

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.destroy()
        return False

    # --- what libvirt says ---------------------------------------------------------------
    def state(self):
        """`virsh domstate`: running, paused, shut off, ...; "gone" if no such domain."""
        try:
            return virsh("domstate", self.name, uri=self.uri).strip()
        except LibvirtError:
            return "gone"

    def running(self):
        return self.state() == "running"

    def suspend(self):
        virsh("suspend", self.name, uri=self.uri)

    def resume(self):
        virsh("resume", self.name, uri=self.uri)

    def qemu_log_path(self):
        return f"/var/log/libvirt/qemu/{self.name}.log"

    def qemu_log(self):
        """libvirt's log of the domain's QEMU: its command line and errors."""
        try:
            with open(self.qemu_log_path(), errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def qemu_pid(self):
        with open(f"/run/libvirt/qemu/{self.name}.pid") as f:
            return int(f.read().strip())

    def hmp(self, command):
        """A human monitor command through libvirt; its output, CRs removed."""
        return virsh("qemu-monitor-command", self.name, "--hmp", command, uri=self.uri).replace("\r", "")

    def register(self, name):
        """A vCPU register (CR3, CR4, EFER, ...) from `info registers`, or None."""
        match = re.search(rf"(?:^|\s){name}=([0-9a-fA-F]+)", self.hmp("info registers"))
        return int(match.group(1), 16) if match else None

    # --- the guest agent (agent=True) ----------------------------------------------------------
    def agent_command(self, command, timeout=10, **arguments):
        """One guest agent command through libvirt (virsh qemu-agent-command, at most
        `timeout` s for the agent's answer); its "return" value, parsed."""
        message = {"execute": command}
        if arguments:
            message["arguments"] = arguments
        out = virsh("qemu-agent-command", self.name, "--timeout", timeout, json.dumps(message),
                    uri=self.uri, timeout=timeout + VIRSH_TIMEOUT)
        try:
            return json.loads(out)["return"]
        except (ValueError, KeyError) as e:
            raise LibvirtError(f"{self.name}: {command}: no return in the agent's answer {out!r}") from e

    def wait_agent(self, timeout=AGENT_TIMEOUT):
        """Waits until the guest agent answers guest-ping; returns the seconds that took.
        Raises LibvirtError after `timeout` s, or if the domain stops running."""
        if not self.agent:
            raise LibvirtError(f"{self.name} has no guest agent channel (agent=False)")
        start = time.time()
        last = ""
        while True:
            try:
                self.agent_command("guest-ping", timeout=5)
                return time.time() - start
            except LibvirtError as e:
                last = str(e)
            state = self.state()
            if state != "running":
                raise LibvirtError(f"{self.name} is {state!r} while waiting for its guest agent; console:\n"
                                   + self.console_text()[-2000:])
            if time.time() - start > timeout:
                raise LibvirtError(f"{self.name}: the guest agent did not answer guest-ping within {timeout} s "
                                   f"(last: {last}); console:\n" + self.console_text()[-2000:])
            time.sleep(1)

    # --- what the guest says ---------------------------------------------------------------
    def victim_pid(self):
        """A hiding guest's victim in this boot, as its /init printed it (live_guest.victim_pid)."""
        pid = victim_pid(self.console_text())
        if pid is None:
            raise LibvirtError(f"{self.name}: no hide section on its console")
        return pid

    def console_text(self):
        """The whole console: virtlogd's rotated parts (console.log.N, the oldest
        with the highest N) and then the current file."""
        parts = sorted(glob.glob(glob.escape(self.console) + ".[0-9]*"),
                       key=lambda p: int(p.rsplit(".", 1)[1]), reverse=True)
        text = []
        for path in [*parts, self.console]:
            try:
                with open(path, errors="replace") as f:
                    text.append(f.read())
            except FileNotFoundError:
                pass
        return "".join(text).replace("\r", "")

    def own_procs(self):
        """The guest's process list as it sees it now: PID PPID UID GID STATE COMM."""
        return self.ask("procs")

    def own_modules(self):
        """The guest's /proc/modules now."""
        return self.ask("modules")

    def ask(self, command, timeout=ASK_TIMEOUT):
        """Sends one command to the guest's responder on serial port 1 and
        returns the lines of its answer (guest_port.ask)."""
        try:
            return guest_port.ask(self.port, command, who=self.name, timeout=timeout)
        except guest_port.GuestPortError as e:
            raise LibvirtError(str(e)) from e

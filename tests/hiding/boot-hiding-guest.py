#!/usr/bin/env python3
"""Boot test guests in which the vmihide test fixture hides a process or itself, record
what each guest itself sees, and dump its memory while it is paused.

Usage: tests/hiding/boot-hiding-guest.py [--dir DIR] [--force] [--after CMD] [GUEST...|all]

  GUEST  amd64-hide-MODE or amd64-hide-MODE-5level-kaslr, MODE one of procfs pidtable
         tasklist modlist modsysfs (vmihide.c modes a-e). Default (and `all`): the five
         amd64-hide-MODE guests (-cpu qemu64, nokaslr) and amd64-hide-procfs-5level-kaslr
         (-cpu max: 5-level paging, KASLR on).
  DIR    ${VMI_GUEST_DIR:-~/.cache/vmitools/guests}; each guest goes to DIR/GUEST/, laid
         out like the test guests of tests/guests/build-guests.sh plus hidden.txt,
         hidden-mode, sysmodule.txt, guest-view.txt, after.txt and vmihide.ko.
  CMD    what the guest does after the dump: `restore` (default: rmmod vmihide, which
         puts back what modes a-c hid, then kill the victim) or `exit-hidden` (kill the
         victim while still hidden, then rmmod). Either way the guest must survive.

The initramfs also holds Debian's qemu-ga (package qemu-guest-agent, unpacked, with the
host's copies of the libraries ldd names for it) and the virtio-serial modules, used
only when the guest is booted with a virtio-serial device (a libvirt domain with a guest
agent channel: tests/live/libvirt_guest.py, agent=True); the boot here has none.

A guest whose `done` stamp matches the hash of its inputs (the agent's libraries
included) is skipped unless --force.
VMI_BOOT_TIMEOUT (env) overrides the 180 s boot limit. QEMU is killed on any exit.
"""

import argparse
import atexit
import glob
import hashlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

KERNEL_RELEASE = "6.1.0-50-amd64"   # the test guests' kernel (build-guests.sh)
KERNEL_VERSION = "6.1.176-1"
MODES = ["procfs", "pidtable", "tasklist", "modlist", "modsysfs"]   # vmihide modes a-e
HOOK_MODES = ["getdents", "dispatch", "systable", "kprobe", "kworker"]   # vmihide modes f-j
# The hook guests: one boot each, one dump per stage (hook-guest-init.sh).
HOOK_GUESTS = {
    "amd64-hooks": dict(hidden=False, stages=["legit"] + HOOK_MODES),
    "amd64-hooks-hidden": dict(hidden=True, stages=HOOK_MODES),
}
DEFAULT_GUESTS = (["amd64-hide-" + m for m in MODES] + ["amd64-hide-procfs-5level-kaslr"]
                  + list(HOOK_GUESTS))
HOOK_RAM_MB = 256          # a hook guest keeps one ELF dump per stage
PROCS = 20                 # sleeps besides the victim
RAM_MB = 512
BOOT_TIMEOUT = int(os.environ.get("VMI_BOOT_TIMEOUT", "180"))
QMP_TIMEOUT = 300          # one QMP command (the dumps)
AFTER_TIMEOUT = 60         # the guest's work after the dump
LINK_STEXT = 0xFFFFFFFF81000000
EXTRA_MODULES = ["fuse", "dummy", "loop", "nls_utf8"]   # no dependencies: plain insmod
# For the guest agent, loaded by /init in this order (each needs only earlier ones) and
# only when the guest has a virtio-serial device: they go to /lib/agent, not /lib/modules.
AGENT_MODULES = ["virtio", "virtio_ring", "virtio_pci_legacy_dev", "virtio_pci_modern_dev",
                 "virtio_pci", "virtio_console"]
AGENT_PACKAGE = "qemu-guest-agent"   # its qemu-ga, unpacked, never installed on the host
AGENT_BINARY = "usr/sbin/qemu-ga"
# Anything like this on the console means the fixture broke the kernel.
KERNEL_TROUBLE = re.compile(
    r"Oops|BUG:|Kernel panic|general protection fault|list_(add|del) corruption"
    r"|WARNING: CPU|Call Trace|RCU stall|soft lockup")

HERE = os.path.dirname(os.path.abspath(__file__))


def log(msg):
    print("boot-hiding-guest: " + msg, file=sys.stderr, flush=True)


class Failure(Exception):
    pass


# What the guest itself should see in each mode (True: the victim or the module shows).
#   ps/procs: busybox ps and the procfs listing; kill0: kill -0 victim succeeds;
#   lsproc: /proc/victim can be looked up; lsmod: vmihide in /proc/modules;
#   sysmod: /sys/module/vmihide exists.
EXPECTED_VIEW = {
    "procfs":   dict(ps=False, procs=False, kill0=True, lsproc=False, lsmod=True, sysmod=True),
    "pidtable": dict(ps=False, procs=False, kill0=False, lsproc=False, lsmod=True, sysmod=True),
    "tasklist": dict(ps=True, procs=True, kill0=True, lsproc=True, lsmod=True, sysmod=True),
    "modlist":  dict(ps=True, procs=True, kill0=True, lsproc=True, lsmod=False, sysmod=True),
    "modsysfs": dict(ps=True, procs=True, kill0=True, lsproc=True, lsmod=False, sysmod=False),
}


def guest_config(name):
    if name in HOOK_GUESTS:
        return dict(name=name, mode="hooks", cpu="qemu64", kaslr=False, paging="ia32e",
                    **HOOK_GUESTS[name])
    m = re.fullmatch(r"amd64-hide-([a-z]+)(-5level-kaslr)?", name)
    if not m or m.group(1) not in MODES:
        raise Failure("unknown guest '%s' (amd64-hide-MODE[-5level-kaslr], MODE: %s; or %s)"
                      % (name, " ".join(MODES), " ".join(HOOK_GUESTS)))
    if m.group(2):
        return dict(name=name, mode=m.group(1), cpu="max", kaslr=True, paging="la57")
    return dict(name=name, mode=m.group(1), cpu="qemu64", kaslr=False, paging="ia32e")


# --- host side: packages and downloads -------------------------------------------------

def run(cmd, **kw):
    return subprocess.run(cmd, check=True, **kw)


APT_UPDATED = False


def apt_update_once():
    global APT_UPDATED
    if not APT_UPDATED:
        log("apt-get update")
        subprocess.run(["apt-get", "update", "-qq"], stdin=subprocess.DEVNULL,
                       stdout=sys.stderr)
        APT_UPDATED = True


def ensure_host_tools():
    missing = sorted({pkg for tool, pkg in [("qemu-system-x86_64", "qemu-system-x86"),
                                            ("cpio", "cpio"), ("xz", "xz-utils"),
                                            ("gzip", "gzip"), ("dpkg-deb", "dpkg"),
                                            ("make", "make")]
                      if shutil.which(tool) is None})
    if missing:
        if os.geteuid() != 0:
            raise Failure("missing packages %s; run as root or install them" % " ".join(missing))
        apt_update_once()
        log("installing " + " ".join(missing))
        run(["apt-get", "install", "-y", "-qq"] + missing, stdin=subprocess.DEVNULL,
            stdout=sys.stderr, env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"))


def fetch_deb(downloads, pkg, version):
    """Path of DIR/_downloads/<pkg>_<version>_amd64.deb (any version if None), downloaded
    with apt-get if absent (the test guests share this cache)."""
    pattern = "%s_%s_amd64.deb" % (pkg, version.replace(":", "%3a") if version else "*")
    for attempt in range(2):
        found = sorted(glob.glob(os.path.join(downloads, pattern)))
        if found:
            return found[-1]
        if attempt:
            break
        os.makedirs(downloads, exist_ok=True)
        spec = "%s:amd64%s" % (pkg, "=" + version if version else "")
        log("downloading " + spec)
        cmd = ["apt-get", "download", "-q", "-o", "APT::Sandbox::User=root", spec]
        if subprocess.run(cmd, cwd=downloads, stdin=subprocess.DEVNULL,
                          stdout=sys.stderr).returncode != 0:
            apt_update_once()
            subprocess.run(cmd, cwd=downloads, stdin=subprocess.DEVNULL, stdout=sys.stderr)
    raise Failure("cannot download %s%s" % (pkg, "=" + version if version else ""))


UNPACKED = {}


def unpacked_kernel(kernel_deb):
    """Directory holding the kernel package's vmlinuz and EXTRA_MODULES, unpacked once per
    run (unpacking the whole 70 MB package takes about 7 s)."""
    if kernel_deb not in UNPACKED:
        d = tempfile.mkdtemp(prefix="vmihide-kernel.")
        atexit.register(shutil.rmtree, d, True)
        patterns = ["./boot/vmlinuz-*"] + ["*/%s.ko*" % m for m in EXTRA_MODULES + AGENT_MODULES]
        run("dpkg-deb --fsys-tarfile '%s' | tar -x -C '%s' --wildcards %s"
            % (kernel_deb, d, " ".join("'%s'" % p for p in patterns)), shell=True)
        UNPACKED[kernel_deb] = d
    return UNPACKED[kernel_deb]


def agent_libraries(qemu_ga):
    """[(path in the guest, path on the host)] for every shared library `ldd` names for
    qemu-ga, the dynamic loader included. The host runs the guests' Debian 12 userland;
    the guest gets each file (symlinks followed) under the name ldd gives."""
    out = subprocess.run(["ldd", qemu_ga], check=True, stdout=subprocess.PIPE, text=True).stdout
    libs = []
    for line in out.splitlines():
        m = re.match(r"\s*(\S+) => (/\S+) \(0x", line) or re.match(r"\s*(/\S+) \(0x", line)
        if m:
            libs.append(m.group(m.lastindex))
        elif "not found" in line:
            raise Failure("ldd %s: %s" % (qemu_ga, line.strip()))
    if not any("ld-linux" in lib for lib in libs) or not any("libglib" in lib for lib in libs):
        raise Failure("ldd %s names no loader or no glib:\n%s" % (qemu_ga, out))
    return [(lib, os.path.realpath(lib)) for lib in libs]


def unpacked_agent(agent_deb):
    """(qemu-ga path, [(guest path, host path)] of its libraries), unpacked once per run."""
    if agent_deb not in UNPACKED:
        d = tempfile.mkdtemp(prefix="vmihide-agent.")
        atexit.register(shutil.rmtree, d, True)
        run(["dpkg", "-x", agent_deb, d])
        qemu_ga = os.path.join(d, AGENT_BINARY)
        UNPACKED[agent_deb] = (qemu_ga, agent_libraries(qemu_ga))
    return UNPACKED[agent_deb]


def build_modules(top):
    """Paths of the cached vmihide.ko and vmilivepatch.ko."""
    # Their cache, DIR/_hiding, goes next to the guests.
    out = subprocess.run([os.path.join(HERE, "build-module.sh")], check=True, stdout=subprocess.PIPE,
                         text=True, env=dict(os.environ, VMI_GUEST_DIR=top)).stdout.split()
    if len(out) != 2 or not all(os.path.isfile(p) for p in out):
        raise Failure("build-module.sh did not print the paths of two modules: %r" % out)
    return out


# --- initramfs -----------------------------------------------------------------------------

def decompress(path):
    if path.endswith(".xz"):
        return subprocess.run(["xz", "-dc", path], check=True, stdout=subprocess.PIPE).stdout
    if path.endswith(".gz"):
        return subprocess.run(["gzip", "-dc", path], check=True, stdout=subprocess.PIPE).stdout
    with open(path, "rb") as f:
        return f.read()


def kernel_module(kernel_tree, mod):
    found = glob.glob(os.path.join(kernel_tree, "lib/modules/*/kernel/**/%s.ko*" % mod),
                      recursive=True)
    if not found:
        raise Failure("module %s not in the kernel package" % mod)
    return decompress(found[0])


def module_depends(data):
    m = re.search(rb"\0depends=([^\0]*)", data)
    return [d for d in m.group(1).decode().split(",") if d] if m else []


def build_initrd(out, work, kernel_tree, busybox_deb, lib_files, init_script, init_vars, agent):
    """The initramfs: busybox, EXTRA_MODULES in /lib/modules, lib_files (the fixtures) in
    /lib, the guest agent unless agent is None, and init_script as /init with init_vars
    (name: value) set at its top."""
    run(["dpkg", "-x", busybox_deb, os.path.join(work, "bb")])
    root = os.path.join(work, "root")
    for d in ["bin", "sbin", "usr/bin", "usr/sbin", "dev", "proc", "sys", "lib/modules"]:
        os.makedirs(os.path.join(root, d))
    shutil.copy(os.path.join(work, "bb/bin/busybox"), os.path.join(root, "bin/busybox"))
    for applet in ["sh", "sleep", "mkfifo"]:   # the rest: busybox --install -s in the guest
        os.symlink("busybox", os.path.join(root, "bin", applet))
    for mod in EXTRA_MODULES:
        data = kernel_module(kernel_tree, mod)
        if module_depends(data):
            raise Failure("module %s has dependencies; insmod cannot load it" % mod)
        with open(os.path.join(root, "lib/modules", mod + ".ko"), "wb") as f:
            f.write(data)
    if agent is not None:
        add_agent(root, kernel_tree, agent)
    # Outside lib/modules, which /init loads in a loop: the fixtures go in by themselves.
    for path in lib_files:
        name = re.sub(r"-[0-9a-f]{16}\.ko$", ".ko", os.path.basename(path))
        shutil.copy(path, os.path.join(root, "lib", name))
    with open(os.path.join(HERE, init_script)) as f:
        body = f.read().split("\n", 1)[1]
    with open(os.path.join(root, "init"), "w") as f:
        f.write("#!/bin/sh\n# generated by tests/hiding/boot-hiding-guest.py\n%s\n%s"
                % (" ".join("%s='%s'" % kv for kv in init_vars.items()), body))
    os.chmod(os.path.join(root, "init"), 0o755)
    run("find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet | gzip -9n > '%s'"
        % out, shell=True, cwd=root)


def add_agent(root, kernel_tree, agent):
    # The guest agent and what it needs, used only in a boot with a virtio-serial device
    # (guest-init.sh): the modules in /lib/agent, numbered in load order; qemu-ga with its
    # libraries at the paths ldd named on the host.
    qemu_ga, libs = agent
    os.makedirs(os.path.join(root, "lib/agent"))
    for i, mod in enumerate(AGENT_MODULES):
        data = kernel_module(kernel_tree, mod)
        later = [d for d in module_depends(data) if d not in AGENT_MODULES[:i]]
        if later:
            raise Failure("module %s needs %s, not loaded before it" % (mod, ",".join(later)))
        with open(os.path.join(root, "lib/agent", "%d-%s.ko" % (i, mod)), "wb") as f:
            f.write(data)
    shutil.copy(qemu_ga, os.path.join(root, "usr/sbin/qemu-ga"))
    for guest_path, host_path in libs:
        dest = os.path.join(root, guest_path.lstrip("/"))
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        shutil.copy(host_path, dest)


# --- QEMU and QMP --------------------------------------------------------------------------

class Qmp:
    """Just enough QMP: one connection, commands answered in order, events skipped."""

    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(QMP_TIMEOUT)
        self.sock.connect(path)
        self.buf = b""
        self._message()                       # greeting
        self.execute("qmp_capabilities")

    def _message(self):
        while b"\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise Failure("QEMU closed the QMP socket")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return json.loads(line) if line.strip() else self._message()

    def execute(self, command, **arguments):
        msg = {"execute": command}
        if arguments:
            msg["arguments"] = arguments
        self.sock.sendall(json.dumps(msg).encode() + b"\n")
        while True:
            reply = self._message()
            if "return" in reply:
                return reply["return"]
            if "error" in reply:
                raise Failure("QMP %s: %s" % (command, reply["error"].get("desc", reply["error"])))

    def hmp(self, line):
        return self.execute("human-monitor-command", **{"command-line": line})

    def close(self):
        self.sock.close()


class Qemu:
    def __init__(self, cmd, log_path):
        with open(log_path, "wb") as logf:
            self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=logf,
                                         stderr=subprocess.STDOUT)

    def alive(self):
        return self.proc.poll() is None

    def kill(self):
        if self.alive():
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def read_text(path):
    try:
        with open(path, "rb") as f:
            return f.read().decode("utf-8", "replace").replace("\r", "")
    except FileNotFoundError:
        return ""


def check_console(out):
    text = read_text(os.path.join(out, "console.log"))
    m = KERNEL_TROUBLE.search(text)
    if m:
        start = text.rfind("\n", 0, max(m.start() - 2000, 0)) + 1
        raise Failure("kernel trouble on the console (%r):\n%s" % (m.group(0), text[start:m.start() + 3000]))
    return text


def wait_for(qemu, out, path, marker, seconds, what):
    deadline = time.monotonic() + seconds
    while marker not in read_text(path):
        check_console(out)
        if not qemu.alive():
            raise Failure("QEMU exited before %s; see %s/console.log" % (what, out))
        if time.monotonic() > deadline:
            raise Failure("no %s within %d s; see %s/console.log" % (what, seconds, out))
        time.sleep(0.5)


def section(text, name):
    """Lines between @@VMI BEGIN name@@ and @@VMI END name@@ (the first such section)."""
    m = re.search(r"^@@VMI BEGIN %s@@\n(.*?)^@@VMI END %s@@$" % (re.escape(name), re.escape(name)),
                  text, re.S | re.M)
    if m is None:
        raise Failure("no section '%s' on the console" % name)
    return m.group(1)


# --- one guest -----------------------------------------------------------------------------

def inputs_hash(cfg, debs, ko, after, agent_libs):
    h = hashlib.sha256()
    for name in ["boot-hiding-guest.py", "guest-init.sh", "hook-guest-init.sh", "vmihide.c",
                 "vmilivepatch.c", "Kbuild", "build-module.sh"]:
        with open(os.path.join(HERE, name), "rb") as f:
            h.update(f.read())
    for guest_path, host_path in agent_libs:   # from this host, not from a package: contents
        h.update(guest_path.encode() + b"\0")
        with open(host_path, "rb") as f:
            h.update(hashlib.sha256(f.read()).digest())
    h.update(repr((cfg, [os.path.basename(d) for d in debs], os.path.basename(ko),
                   after, PROCS, RAM_MB)).encode())
    return h.hexdigest()


def build_guest(cfg, top, force, after):
    start = time.monotonic()
    final = os.path.join(top, cfg["name"])
    downloads = os.path.join(top, "_downloads")
    ensure_host_tools()
    ko, livepatch_ko = build_modules(top)
    kernel_deb = fetch_deb(downloads, "linux-image-" + KERNEL_RELEASE, KERNEL_VERSION)
    busybox_deb = fetch_deb(downloads, "busybox-static", None)
    agent_deb = fetch_deb(downloads, AGENT_PACKAGE, None)
    agent = unpacked_agent(agent_deb)
    digest = inputs_hash(cfg, [kernel_deb, busybox_deb, agent_deb], ko, after, agent[1])
    if not force and read_text(os.path.join(final, "done")).strip() == digest:
        log("%s: up to date, skipped" % cfg["name"])
        return
    if cfg["mode"] == "hooks":
        build_hook_guest(cfg, final, digest, kernel_deb, busybox_deb, [ko, livepatch_ko])
        log("%s: done in %.0f s -> %s" % (cfg["name"], time.monotonic() - start, final))
        return
    log("%s: building (mode %s, -cpu %s, kaslr %d)" % (cfg["name"], cfg["mode"], cfg["cpu"], cfg["kaslr"]))
    out = final + ".partial"
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out)
    tmp = tempfile.mkdtemp(prefix="vmihide.")   # short path: UNIX sockets live here too
    qemu = None
    try:
        kernel_tree = unpacked_kernel(kernel_deb)
        shutil.copy(os.path.join(kernel_tree, "boot/vmlinuz-" + KERNEL_RELEASE),
                    os.path.join(out, "vmlinuz"))
        with open(os.path.join(out, "kernel-release"), "w") as f:
            f.write(KERNEL_RELEASE + "\n")
        shutil.copy(ko, os.path.join(out, "vmihide.ko"))
        build_initrd(os.path.join(out, "initrd.gz"), tmp, kernel_tree, busybox_deb, [ko],
                     "guest-init.sh", dict(MODE=cfg["mode"], PROCS=PROCS), agent)

        append = "console=ttyS0 panic=-1" + ("" if cfg["kaslr"] else " nokaslr")
        qmp_sock, ctl_sock = os.path.join(tmp, "qmp.sock"), os.path.join(tmp, "ctl.sock")
        console, kallsyms_raw = os.path.join(out, "console.log"), os.path.join(out, "kallsyms.raw")
        cmd = ["qemu-system-x86_64", "-accel", "tcg", "-cpu", cfg["cpu"], "-m", str(RAM_MB),
               "-smp", "1", "-display", "none", "-no-reboot", "-nodefaults",
               "-kernel", os.path.join(out, "vmlinuz"), "-initrd", os.path.join(out, "initrd.gz"),
               "-append", append,
               "-qmp", "unix:%s,server=on,wait=off" % qmp_sock,
               "-serial", "file:" + console,                    # ttyS0: console, views
               "-serial", "file:" + kallsyms_raw,               # ttyS1: /proc/kallsyms
               "-serial", "unix:%s,server=on,wait=off" % ctl_sock]  # ttyS2: command after the dump
        log("%s: booting %s (%s)" % (cfg["name"], KERNEL_RELEASE, append))
        booted = time.monotonic()
        qemu = Qemu(cmd, os.path.join(out, "qemu.log"))
        wait_for(qemu, out, console, "@@VMI READY@@", BOOT_TIMEOUT, "ready marker")
        wait_for(qemu, out, kallsyms_raw, "@@VMI END kallsyms@@", 30, "end of kallsyms")
        ready = time.monotonic()

        qmp = Qmp(qmp_sock)
        qmp.execute("stop")
        registers = qmp.hmp("info registers").replace("\r", "")
        with open(os.path.join(out, "registers.txt"), "w") as f:
            f.write(registers)
        qmp.execute("dump-guest-memory", paging=False, protocol="file:" + os.path.join(out, "memory.elf"))
        qmp.execute("pmemsave", val=0, size=RAM_MB << 20, filename=os.path.join(out, "memory.raw"))
        dumped = time.monotonic()
        # Let it run again and exercise the way back (or the exit path while hidden).
        qmp.execute("cont")
        ctl = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        ctl.connect(ctl_sock)
        ctl.sendall(after.encode() + b"\n")
        wait_for(qemu, out, console, "@@VMI SURVIVED@@", AFTER_TIMEOUT, "survival marker after '%s'" % after)
        ctl.close()
        try:
            qmp.execute("quit")
        except (Failure, OSError):
            pass
        qmp.close()
        qemu.proc.wait(10)
        log("%s: boot to ready %.0f s, dumps %.0f s, after-dump check %.0f s"
            % (cfg["name"], ready - booted, dumped - ready, time.monotonic() - dumped))
    finally:
        if qemu is not None:
            qemu.kill()
        shutil.rmtree(tmp, ignore_errors=True)
    for f in ["memory.elf", "memory.raw"]:
        os.chmod(os.path.join(out, f), 0o644)   # QEMU creates them 0600

    extract_and_check(cfg, out, after)
    shutil.rmtree(final, ignore_errors=True)
    os.rename(out, final)
    with open(os.path.join(final, "done"), "w") as f:
        f.write(digest + "\n")
    log("%s: done in %.0f s -> %s" % (cfg["name"], time.monotonic() - start, final))


def write(out, name, text):
    with open(os.path.join(out, name), "w") as f:
        f.write(text)


def numeric_sort(text, keys=1):
    lines = [l for l in text.splitlines() if l]
    return "".join(l + "\n" for l in sorted(lines, key=lambda l: [int(x) for x in l.split()[:keys]]))


def console_and_kallsyms(out):
    """The console's text (checked for kernel trouble); kallsyms.raw cut to its section
    as kallsyms, and an empty qemu.log dropped."""
    console = check_console(out)
    kallsyms_raw = read_text(os.path.join(out, "kallsyms.raw"))
    write(out, "kallsyms", section(kallsyms_raw, "kallsyms"))
    os.remove(os.path.join(out, "kallsyms.raw"))
    if os.path.getsize(os.path.join(out, "qemu.log")) == 0:
        os.remove(os.path.join(out, "qemu.log"))
    return console


def extract_and_check(cfg, out, after):
    mode, name = cfg["mode"], cfg["name"]
    console = console_and_kallsyms(out)

    version = section(console, "version").splitlines()[0]
    write(out, "version.txt", version + "\n")
    for f, s in [("ps.txt", "ps"), ("modules.txt", "modules"), ("sysmodule.txt", "sysmodule")]:
        write(out, f, section(console, s))
    write(out, "procs.txt", numeric_sort(section(console, "procs")))
    write(out, "threads.txt", numeric_sort(section(console, "threads"), 2))
    write(out, "cmdline.txt", numeric_sort(section(console, "cmdline")))
    got_mode, victim, insmod_rc = section(console, "hide").split()
    kill0 = section(console, "kill0").strip()
    lsproc = section(console, "lsproc").strip()
    write(out, "guest-view.txt", "kill -0 %s: %s\nls -d /proc/%s: %s\n" % (victim, kill0, victim, lsproc))

    def fail(msg):
        raise Failure("%s: %s (kept in %s)" % (name, msg, out))

    if got_mode != mode or insmod_rc != "0":
        fail("insmod vmihide.ko mode=%s failed (rc %s); see console.log" % (mode, insmod_rc))
    if "test fixture: mode %s hides" % mode not in section(console, "dmesg"):
        fail("vmihide did not report hiding in mode %s" % mode)
    if not version.startswith("Linux version %s " % KERNEL_RELEASE):
        fail("version.txt does not name %s: %s" % (KERNEL_RELEASE, version))
    procs = {int(l.split()[0]): l for l in read_text(os.path.join(out, "procs.txt")).splitlines()}
    ps_pids = {int(l.split()[0]) for l in section(console, "ps").splitlines()[1:] if l.strip()}
    modules = {l.split()[0] for l in section(console, "modules").splitlines() if l.strip()}
    sysmod = set(section(console, "sysmodule").split())
    for m in EXTRA_MODULES:
        if m not in modules:
            fail("module %s missing from modules.txt" % m)
    sleeps = sum(1 for l in procs.values() if l.endswith(" sleep"))
    if sleeps < PROCS:
        fail("only %d sleep processes in procs.txt" % sleeps)
    if 1 not in procs or not procs[1].endswith(" init"):
        fail("procs.txt has no init as pid 1")
    seen = dict(ps=int(victim) in ps_pids, procs=int(victim) in procs, kill0=kill0.startswith("ok"),
                lsproc=lsproc.startswith("ok"), lsmod="vmihide" in modules, sysmod="vmihide" in sysmod)
    wrong = {k: v for k, v in seen.items() if v != EXPECTED_VIEW[mode][k]}
    if wrong:
        fail("the guest's own view is not what mode %s should give: %s (expected %s)"
             % (mode, seen, EXPECTED_VIEW[mode]))
    write(out, "after.txt", check_after(console, mode, victim, after, fail))

    ksyms = read_text(os.path.join(out, "kallsyms")).splitlines()
    if len(ksyms) < 50000:
        fail("kallsyms has only %d lines" % len(ksyms))
    stext = next((int(l.split()[0], 16) for l in ksyms if l.endswith(" _stext")), None)
    if stext is None:
        fail("no _stext in kallsyms")
    slide = stext - LINK_STEXT
    if not cfg["kaslr"] and slide:
        fail("booted with nokaslr but _stext is %#x" % stext)
    if cfg["kaslr"] and not slide:
        log("%s: WARNING: KASLR expected but _stext is at its link address" % name)
    with open(os.path.join(out, "memory.raw"), "rb") as f:
        if version.encode() not in f.read():
            fail("/proc/version string not found in memory.raw")

    regs = read_text(os.path.join(out, "registers.txt"))

    def reg(r):
        m = re.search(r"(?:^|\s)%s=([0-9a-fA-F]+)" % r, regs)
        if m is None:
            fail("no %s in registers.txt" % r)
        return int(m.group(1), 16)
    cr3, cr4, efer = reg("CR3"), reg("CR4"), reg("EFER")
    paging = "la57" if cr4 & 0x1000 else "ia32e"
    if not efer & 0x400 or paging != cfg["paging"]:
        fail("registers say paging %s (EFER %#x CR4 %#x), expected %s" % (paging, efer, cr4, cfg["paging"]))
    cpl = re.search(r"CPL=([0-3])", regs)
    pti = int(bool(re.search(r"\bpti\b", section(console, "cpuflags"))))
    lister = section(console, "lister").split()

    hidden = ("process %s sleep\n" % victim if mode in ("procfs", "pidtable", "tasklist")
              else "module vmihide\n")
    write(out, "hidden.txt", hidden)
    write(out, "hidden-mode", mode + "\n")
    env = [
        "# written by tests/hiding/boot-hiding-guest.py",
        "GUEST_NAME=" + name,
        "GUEST_ARCH=x86_64",
        "GUEST_PAGING=" + cfg["paging"],
        "GUEST_KASLR=%d" % bool(slide),
        "GUEST_KASLR_SLIDE=%#x" % slide,
        "GUEST_STEXT=%#x" % stext,
        "GUEST_RELEASE=" + KERNEL_RELEASE,
        "GUEST_CR3=%#018x" % cr3,
        "GUEST_CR4=%#x" % cr4,
        "GUEST_EFER=%#x" % efer,
        "GUEST_RAM_BYTES=%d" % (RAM_MB << 20),
        "GUEST_PROCS=%d" % PROCS,
        "GUEST_QEMU_CPU=" + cfg["cpu"],
        "GUEST_PTI=%d" % pti,
        "GUEST_CR3_USER=0",
        "GUEST_CPL=" + (cpl.group(1) if cpl else ""),
        "GUEST_PAUSES=1",
        "GUEST_LISTER_PID=" + lister[0],
        "GUEST_LAST_PID=" + lister[2],
        "GUEST_THREADED_PID=",
        "GUEST_THREADED_TASKS=",
        "GUEST_SPINNERS=0",
        "GUEST_HIDE_MODE=" + mode,
        "GUEST_HIDE_LETTER=" + "abcde"[MODES.index(mode)],
        "GUEST_VICTIM_PID=" + victim,
        "GUEST_HIDDEN_PID=" + (victim if hidden.startswith("process") else ""),
        "GUEST_HIDDEN_MODULE=" + ("vmihide" if hidden.startswith("module") else ""),
        "GUEST_AFTER_DUMP=" + after,
    ]
    write(out, "guest.env", "\n".join(env) + "\n")


def check_after(console, mode, victim, after, fail):
    """The guest's work after the dump (for after.txt); fails unless it went as it should."""
    tail = console[console.index("vmi-init: after the dump:"):]
    rmmod = section(tail, "after-rmmod")
    unloadable = mode in ("procfs", "pidtable", "tasklist")
    if ("rc=0" in rmmod) != unloadable:
        fail("rmmod vmihide after the dump: %r (expected %s)" % (rmmod, "success" if unloadable else "failure"))
    if "victim reaped" not in tail:
        fail("the victim was not reaped after the dump")
    lines = ["command: " + after, "rmmod vmihide: " + " ".join(rmmod.split())]
    if after == "restore":
        ps_pids = {l.split()[0] for l in section(tail, "after-ps").splitlines()[1:] if l.strip()}
        kill0 = section(tail, "after-kill0").strip()
        lsproc = section(tail, "after-lsproc").strip()
        modules = section(tail, "after-modules")
        lines += ["victim in ps: %s" % (victim in ps_pids), "kill -0: " + kill0, "ls -d /proc/PID: " + lsproc,
                  "vmihide in /proc/modules: %s" % ("vmihide" in modules)]
        if not (victim in ps_pids and kill0.startswith("ok") and lsproc.startswith("ok")):
            fail("after rmmod the victim is not fully visible again: " + "; ".join(lines))
    lines.append("victim reaped, guest survived")
    return "".join(l + "\n" for l in lines)


# --- hook guests ----------------------------------------------------------------------------

# What the guest itself sees in each stage of a hook guest (hook-guest-init.sh views()):
# the victim in a readdir of /proc, /proc/VICTIM looked up, kill -0 VICTIM; the fake
# kworker's presence. lsmod and sysmod follow from the stage and hidden=.
EXPECTED_HOOK_VIEW = {
    "legit":    dict(listed="yes", lookup="yes", kill0="yes", kworker=False),
    "getdents": dict(listed="no", lookup="yes", kill0="yes", kworker=False),
    "dispatch": dict(listed="yes", lookup="yes", kill0="no", kworker=False),
    "systable": dict(listed="yes", lookup="yes", kill0="yes", kworker=False),
    "kprobe":   dict(listed="yes", lookup="yes", kill0="yes", kworker=False),
    "kworker":  dict(listed="yes", lookup="yes", kill0="yes", kworker=True),
}
LEGIT_VIEW = {"current_tracer": "function", "kprobe_enabled": "1", "tracepoint_enabled": "1",
              "livepatch_enabled": "1", "livepatch_transition": "0"}


def view_dict(text):
    return dict((l.split(" ", 1) + [""])[:2] for l in text.splitlines() if l.strip())


def build_hook_guest(cfg, final, digest, kernel_deb, busybox_deb, fixtures):
    """One boot through cfg["stages"], a pause and an ELF dump after each (STAGE/memory.elf)."""
    name = cfg["name"]
    out = final + ".partial"
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out)
    tmp = tempfile.mkdtemp(prefix="vmihook.")
    qemu = None
    log("%s: building (stages %s, hidden=%d)" % (name, " ".join(cfg["stages"]), cfg["hidden"]))
    try:
        kernel_tree = unpacked_kernel(kernel_deb)
        shutil.copy(os.path.join(kernel_tree, "boot/vmlinuz-" + KERNEL_RELEASE),
                    os.path.join(out, "vmlinuz"))
        for ko in fixtures:
            shutil.copy(ko, os.path.join(out, re.sub(r"-[0-9a-f]{16}\.ko$", ".ko", os.path.basename(ko))))
        build_initrd(os.path.join(out, "initrd.gz"), tmp, kernel_tree, busybox_deb, fixtures,
                     "hook-guest-init.sh",
                     dict(HIDDEN=int(cfg["hidden"]), STAGES=" ".join(cfg["stages"]), PROCS=PROCS), None)
        qmp_sock, ctl_sock = os.path.join(tmp, "qmp.sock"), os.path.join(tmp, "ctl.sock")
        console, kallsyms_raw = os.path.join(out, "console.log"), os.path.join(out, "kallsyms.raw")
        cmd = ["qemu-system-x86_64", "-accel", "tcg", "-cpu", cfg["cpu"], "-m", str(HOOK_RAM_MB),
               "-smp", "1", "-display", "none", "-no-reboot", "-nodefaults",
               "-kernel", os.path.join(out, "vmlinuz"), "-initrd", os.path.join(out, "initrd.gz"),
               "-append", "console=ttyS0 panic=-1 nokaslr",
               "-qmp", "unix:%s,server=on,wait=off" % qmp_sock,
               "-serial", "file:" + console,                    # ttyS0: console, views
               "-serial", "file:" + kallsyms_raw,               # ttyS1: /proc/kallsyms
               "-serial", "unix:%s,server=on,wait=off" % ctl_sock]  # ttyS2: next stage
        booted = time.monotonic()
        qemu = Qemu(cmd, os.path.join(out, "qemu.log"))
        qmp = ctl = None
        for stage in cfg["stages"]:
            wait_for(qemu, out, console, "@@VMI STAGE %s@@" % stage, BOOT_TIMEOUT, "stage %s" % stage)
            if qmp is None:
                wait_for(qemu, out, kallsyms_raw, "@@VMI END kallsyms@@", 30, "end of kallsyms")
                qmp = Qmp(qmp_sock)
                ctl = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                ctl.connect(ctl_sock)
            os.makedirs(os.path.join(out, stage))
            qmp.execute("stop")
            qmp.execute("dump-guest-memory", paging=False,
                        protocol="file:" + os.path.join(out, stage, "memory.elf"))
            os.chmod(os.path.join(out, stage, "memory.elf"), 0o644)   # QEMU creates it 0600
            qmp.execute("cont")
            ctl.sendall(b"next\n")
        wait_for(qemu, out, console, "@@VMI SURVIVED@@", AFTER_TIMEOUT, "survival marker")
        try:
            qmp.execute("quit")
        except (Failure, OSError):
            pass
        qmp.close()
        ctl.close()
        qemu.proc.wait(10)
        log("%s: %d stages in %.0f s" % (name, len(cfg["stages"]), time.monotonic() - booted))
    finally:
        if qemu is not None:
            qemu.kill()
        shutil.rmtree(tmp, ignore_errors=True)
    extract_and_check_hooks(cfg, out)
    shutil.rmtree(final, ignore_errors=True)
    os.rename(out, final)
    with open(os.path.join(final, "done"), "w") as f:
        f.write(digest + "\n")


def extract_and_check_hooks(cfg, out):
    name = cfg["name"]

    def fail(msg):
        raise Failure("%s: %s (kept in %s)" % (name, msg, out))

    console = console_and_kallsyms(out)
    version = section(console, "version").splitlines()[0]
    if not version.startswith("Linux version %s " % KERNEL_RELEASE):
        fail("the guest does not run %s: %s" % (KERNEL_RELEASE, version))
    write(out, "version.txt", version + "\n")
    victim = section(console, "victim").strip()
    for stage in cfg["stages"]:
        view = view_dict(section(console, stage + "-view"))
        expected = dict(EXPECTED_HOOK_VIEW[stage])
        fake_worker = expected.pop("kworker")
        expected["lsmod"] = "yes" if stage != "legit" and not cfg["hidden"] else "no"
        expected["sysmod"] = "no" if stage == "legit" else "yes"
        wrong = {k: view.get(k) for k, v in expected.items() if view.get(k) != v}
        if (view.get("kworker") != "none") != fake_worker:
            wrong["kworker"] = view.get("kworker")
        if wrong:
            fail("stage %s: the guest's own view %s is not the expected %s (kworker: %s)"
                 % (stage, view, expected, fake_worker))
        text = section(console, stage + "-view")
        if stage == "legit":
            legit = view_dict(section(console, "legit-legit"))
            bad = {k: legit.get(k) for k, v in LEGIT_VIEW.items() if legit.get(k) != v}
            if bad or "vmiprobe" not in legit.get("kprobe_events", "") \
                    or "livepatched" not in legit.get("cmdline", ""):
                fail("stage legit: the tracers and the livepatch are not all on: %s" % legit)
            text += section(console, "legit-legit")
        else:
            insmod = section(console, stage + "-insmod")
            if "rc=0" not in insmod or "test fixture: mode %s hooks" % stage not in insmod:
                fail("stage %s: insmod vmihide failed: %s" % (stage, insmod))
            text += insmod
            rmmod = section(console, stage + "-rmmod")
            after = view_dict(section(console, stage + "-after"))
            if "rc=0" not in rmmod or after.get("lsmod") != "no" or after.get("kill0") != "yes" \
                    or after.get("listed") != "yes":
                fail("stage %s: rmmod did not undo the hook: %s %s" % (stage, rmmod, after))
        write(os.path.join(out, stage), "view.txt", text)
    env = [
        "# written by tests/hiding/boot-hiding-guest.py",
        "GUEST_NAME=" + name,
        "GUEST_ARCH=x86_64",
        "GUEST_PAGING=ia32e",
        "GUEST_RELEASE=" + KERNEL_RELEASE,
        "GUEST_RAM_BYTES=%d" % (HOOK_RAM_MB << 20),
        "GUEST_VICTIM_PID=" + victim,
        "GUEST_HOOK_STAGES=" + " ".join(cfg["stages"]),
        "GUEST_HOOK_HIDDEN=%d" % cfg["hidden"],
    ]
    write(out, "guest.env", "\n".join(env) + "\n")


def main():
    ap = argparse.ArgumentParser(usage=__doc__.split("\n\n")[1].replace("Usage: ", ""),
                                 description=__doc__.split("\n\n")[0])
    ap.add_argument("--dir", default=os.environ.get("VMI_GUEST_DIR",
                                                     os.path.expanduser("~/.cache/vmitools/guests")))
    ap.add_argument("--force", action="store_true")
    ap.add_argument("--after", choices=["restore", "exit-hidden"], default="restore")
    ap.add_argument("guests", nargs="*")
    args = ap.parse_args()
    names = [g for n in args.guests for g in (DEFAULT_GUESTS if n == "all" else [n])] or DEFAULT_GUESTS
    # SIGTERM and SIGHUP unwind like an exception, so the finally blocks kill QEMU.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    signal.signal(signal.SIGHUP, lambda *_: sys.exit(129))
    try:
        configs = [guest_config(n) for n in names]
        top = os.path.abspath(args.dir)
        os.makedirs(top, exist_ok=True)
        for cfg in configs:
            build_guest(cfg, top, args.force, args.after)
    except (Failure, subprocess.CalledProcessError) as e:
        print("boot-hiding-guest: error: %s" % e, file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())

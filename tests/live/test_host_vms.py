#!/usr/bin/env python3
"""The VMs of a host found the ways fleets run them, in folders laid out as the
host (VMI_HOST_ROOT) around one real QEMU guest: a Proxmox VE node, and a QEMU
that no manager owns.

amd64-4level runs under QEMU (RAM in a shared memfd). The folder gets what a
Proxmox node has for it: /etc/pve/qemu-server/101.conf ("name: web01", and a
snapshot section naming another name, which must not count), and in
/var/run/qemu-server 101.pid (QEMU's pid) and 101.qmp, a QMP proxy to the
guest's real socket that logs every client connection and its commands
(tests/live/qmp_proxy.py). Then, with VMI_HOST_ROOT set to the folder:
- `vmi-ps web01` and `vmi-ps 101` match the guest's own process list, and
  vmi-lsmod its /proc/modules (live_checks.check_lists); no libvirt is asked;
- the QMP socket is held only briefly: every connection is closed when the
  tool ends; the connection that stops the guest carries nothing but the
  pause (query-status, stop, the registers, cont); the layout was asked for on
  an earlier connection, closed before the pause's opened;
- a socket another client holds (QEMU serves one at a time): the tool waits a
  few seconds, then fails in one line saying the socket is busy; free again,
  it works;
- `vmi-ps --check --all-domains --backend proxmox` (not the other tests'
  QEMUs) has a line for web01 with manager proxmox,
  vmid 101 and exit 0; a .qmp left by a QEMU that is gone (its .pid names no
  process) gets no line;
- two running VMs named web01: by name is one line naming both vmids, exit 2;
  by vmid it works;
- an unknown VM with --backend proxmox, and a VMI_HOST_ROOT that is no
  folder: one line, exit 2.
Then a host root whose /proc holds the guest's QEMU (its real command line,
with -qmp unix:PATH; PATH under the root leads to the real socket), a QEMU
whose command line names no QMP socket, and one of libvirt's (a
/var/lib/libvirt/qemu/ path on its command line):
- `vmi-ps --qemu-pid PID` matches the guest's own list, and vmi-lsmod too;
- `--check --all-domains --backend qemu`: the guest's line (manager qemu, its
  pid, exit 0), the line of the QMP-less QEMU (which exists only in the folder's
  /proc: its RAM cannot be found) with an error naming its maps (exit 2), no
  line for libvirt's (tests/live/test_bare_qemu.py reads real QMP-less QEMUs);
- --qemu-pid of a process that is no QEMU, and of libvirt's QEMU: one line,
  exit 2.
"""
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
sys.path.insert(0, HERE)
from live_checks import check_lists  # noqa: E402
from live_guest import running_guest  # noqa: E402
from qmp_proxy import QmpProxy  # noqa: E402
from testlib import run_per_guest  # noqa: E402

CONF = """boot: order=scsi0
cores: 1
memory: 512
name: web01
ostype: l26

[before-upgrade]
name: old-web01
snaptime: 1700000000
"""


def connections(events):
    """{n: {"open": index, "close": index or None, "commands": [...]}} from the proxy's log."""
    conns = {}
    for index, event in enumerate(events):
        if event[0] == "open":
            conns[event[1]] = {"open": index, "close": None, "commands": []}
        elif event[0] == "command" and event[1] in conns:
            conns[event[1]]["commands"].append(event[2])
        elif event[0] == "close" and event[1] in conns:
            conns[event[1]]["close"] = index
    return conns


def check_brief_holds(results, proxy, what):
    """Over the runs so far (vmi-ps, then vmi-lsmod): each pause on a connection of
    its own that carried only the pause, every layout connection opened before it
    closed before it opened, and none left open."""
    conns = connections(list(proxy.events))
    still_open = [n for n, c in conns.items() if c["close"] is None]
    pauses = [c for c in conns.values() if "stop" in c["commands"]]
    layouts = [c for c in conns.values() if "hmp info mtree" in c["commands"]]
    allowed = {"qmp_capabilities", "query-status", "stop", "cont", "hmp info registers"}
    ok = (not still_open and len(pauses) >= 2 and len(layouts) == len(pauses) and
          all(set(p["commands"]) <= allowed and "cont" in p["commands"] for p in pauses) and
          all(l["close"] < p["open"] for p in pauses for l in layouts if l["open"] < p["open"]))
    results.check(ok, f"{what}: the QMP socket was held briefly: the layout on connections of their own, each closed "
                  "before the next pause's, which carried only the pause; none left open",
                  "\n".join(f"{n}: {c}" for n, c in sorted(conns.items())))


def check_guest(results, tools, name, guest_dir, scratch):
    with running_guest(name, guest_dir) as (guest, _, _):
        root = tempfile.mkdtemp(prefix="vmipve.", dir="/tmp")   # socket paths are short
        try:
            run_dir = os.path.join(root, "var/run/qemu-server")
            conf_dir = os.path.join(root, "etc/pve/qemu-server")
            os.makedirs(run_dir)
            os.makedirs(conf_dir)
            with open(os.path.join(conf_dir, "101.conf"), "w") as f:
                f.write(CONF)
            with open(os.path.join(run_dir, "101.pid"), "w") as f:
                f.write(f"{guest.process.pid}\n")
            env = {"VMI_HOST_ROOT": root}
            common = ["--sysmap", os.path.join(guest_dir, "kallsyms"), "--btf", os.path.join(guest_dir, "vmlinuz")]
            with QmpProxy(guest.sock, os.path.join(run_dir, "101.qmp")) as proxy:
                check_node(results, tools, guest, env, common, proxy, root, name)
        finally:
            shutil.rmtree(root, ignore_errors=True)
        root = tempfile.mkdtemp(prefix="vmiqemu.", dir="/tmp")
        try:
            check_bare_qemu(results, tools, guest, common, root, name)
        finally:
            shutil.rmtree(root, ignore_errors=True)


class EnvTools:
    """tools.run with VMI_HOST_ROOT set."""

    def __init__(self, tools, env):
        self.tools, self.env = tools, env

    def run(self, tool, *args, **kw):
        return self.tools.run(tool, *args, env=self.env, **kw)


def check_node(results, tools, guest, env, common, proxy, root, name):
    what = f"{name} as Proxmox VM 101"
    node_tools = EnvTools(tools, env)
    ps_err = check_lists(results, node_tools, guest, ["web01", *common], f"{what} (by name)")
    results.check("Proxmox VM 101 ('web01')" in ps_err and "libvirt" not in ps_err,
                  f"{what}: -v names the Proxmox VM, and no libvirt was asked", ps_err[-1500:])
    check_brief_holds(results, proxy, what)
    check_lists(results, node_tools, guest, ["101", *common], f"{what} (by vmid)")

    # Busy: another client holds QEMU's socket; the proxy's connection waits behind it.
    holder = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    holder.connect(guest.sock)
    holder.recv(65536)   # QEMU's greeting: this client is QEMU's one now
    try:
        rc, out, err = node_tools.run("vmi-ps", "web01", *common, timeout=120)
    finally:
        holder.close()
    results.check(rc == 2 and out == "" and len(err.strip().splitlines()) == 1 and "busy" in err,
                  f"{what}: a QMP socket another client holds: one line saying it is busy, exit 2", f"rc={rc}\n{err}")
    rc, out, err = node_tools.run("vmi-ps", "web01", *common)
    results.check(rc == 0 and out.count("\n") > 20, f"{what}: the socket free again, vmi-ps works", err[-800:])

    # A socket left by a QEMU that is gone: its .pid names no process.
    run_dir = os.path.join(root, "var/run/qemu-server")
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(os.path.join(run_dir, "104.qmp"))
    stale.close()
    gone = subprocess.Popen(["true"])
    gone.wait()
    with open(os.path.join(run_dir, "104.pid"), "w") as f:
        f.write(f"{gone.pid}\n")
    rc, out, err = node_tools.run("vmi-ps", "--check", "--all-domains", "--backend", "proxmox", *common, timeout=600)
    lines = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    ours = [line for line in lines if line.get("manager") == "proxmox"]
    results.check(len(ours) == 1 and ours[0]["domain"] == "web01" and ours[0]["vmid"] == 101 and ours[0]["exit"] == 0
                  and ours[0]["tasks"] == [],
                  f"{what}: --check --all-domains has one Proxmox line, web01 (vmid 101), exit 0; the stale 104 none",
                  f"rc={rc}\n{out[-1500:]}\n{err[-1500:]}")

    # Two running VMs named web01 (103's socket leads to the same guest).
    os.symlink(os.path.join(run_dir, "101.qmp"), os.path.join(run_dir, "103.qmp"))
    with open(os.path.join(root, "etc/pve/qemu-server/103.conf"), "w") as f:
        f.write("name: web01\n")
    rc, out, err = node_tools.run("vmi-ps", "web01", *common)
    results.check(rc == 2 and out == "" and len(err.strip().splitlines()) == 1 and "101, 103" in err,
                  f"{what}: two VMs named web01: one line naming vmids 101 and 103, exit 2", f"rc={rc}\n{err}")
    rc, out, err = node_tools.run("vmi-ps", "103", *common)
    results.check(rc == 0 and out.count("\n") > 20, f"{what}: by vmid 103 it works", err[-800:])

    rc, out, err = node_tools.run("vmi-ps", "--backend", "proxmox", "nosuchvm", *common)
    results.check(rc == 2 and out == "" and len(err.strip().splitlines()) == 1 and "nosuchvm" in err,
                  f"{what}: --backend proxmox nosuchvm: one line, exit 2", f"rc={rc}\n{err}")
    rc, out, err = tools.run("vmi-ps", "web01", *common, env={"VMI_HOST_ROOT": os.path.join(root, "nope")})
    results.check(rc == 2 and out == "" and len(err.strip().splitlines()) == 1 and "VMI_HOST_ROOT" in err,
                  f"{what}: a VMI_HOST_ROOT that is no folder: one line, exit 2", f"rc={rc}\n{err}")


def fake_process(root, pid, argv):
    os.makedirs(os.path.join(root, "proc", str(pid)), exist_ok=True)
    with open(os.path.join(root, "proc", str(pid), "cmdline"), "wb") as f:
        f.write(b"".join(a.encode() + b"\0" for a in argv))


def check_bare_qemu(results, tools, guest, common, root, name):
    what = f"{name} as a QEMU no manager owns"
    pid = guest.process.pid
    with open(f"/proc/{pid}/cmdline", "rb") as f:
        argv = [a.decode() for a in f.read().split(b"\0") if a]
    fake_process(root, pid, argv)
    inside = os.path.join(root, guest.sock.lstrip("/"))
    os.makedirs(os.path.dirname(inside), exist_ok=True)
    os.symlink(guest.sock, inside)
    fake_process(root, 4000001, ["/usr/bin/qemu-system-x86_64", "-m", "512", "-nographic"])
    fake_process(root, 4000002, ["/usr/bin/qemu-system-x86_64", "-name", "guest=lv1,debug-threads=on", "-chardev",
                                 "socket,id=charmonitor,path=/var/lib/libvirt/qemu/domain-1-lv1/monitor.sock,server=on",
                                 "-mon", "chardev=charmonitor,id=monitor,mode=control"])
    fake_process(root, 4000003, ["/bin/sleep", "100"])
    # Xen's device model of an HVM domain, as libxl starts it: a QEMU with a QMP socket whose
    # guest RAM is the domain's, not its own.
    fake_process(root, 4000004, ["/usr/lib/xen-4.17/bin/qemu-system-i386", "-xen-domid", "3", "-no-shutdown",
                                 "-chardev", "socket,id=libxl-cmd,path=/var/run/xen/qmp-libxl-3,server=on,wait=off",
                                 "-mon", "chardev=libxl-cmd,mode=control", "-xen-attach", "-name", "winxp",
                                 "-machine", "xenfv,suppress-vmdesc=on", "-m", "1016"])
    env = {"VMI_HOST_ROOT": root}
    host_tools = EnvTools(tools, env)
    check_lists(results, host_tools, guest, ["--qemu-pid", str(pid), *common], f"{what} (--qemu-pid {pid})")
    rc, out, err = host_tools.run("vmi-ps", "--check", "--all-domains", "--backend", "qemu", *common, timeout=600)
    lines = {line.get("pid"): line for line in (json.loads(l) for l in out.splitlines() if l.startswith("{"))}
    ours, bare = lines.get(pid, {}), lines.get(4000001, {})
    results.check(set(lines) == {pid, 4000001} and ours.get("manager") == "qemu" and ours.get("exit") == 0 and
                  ours.get("domain") == f"qemu-{pid}" and bare.get("exit") == 2
                  and "/proc/4000001/maps" in bare.get("error", ""),
                  f"{what}: --all-domains --backend qemu: its line (exit 0), the error line of a QMP-less QEMU that "
                  "runs only in the host root's /proc (no maps to find its RAM in), none for libvirt's QEMU or for a "
                  "process that is no QEMU, nor for Xen's device model of an HVM domain",
                  f"rc={rc}\n{out[-2000:]}\n{err[-1500:]}")
    for bad, word, whose in (("4000003", "not QEMU", "a process that is no QEMU"),
                             ("4000002", "libvirt", "a libvirt QEMU"),
                             ("4000004", "device model of Xen domain 3", "Xen's device model")):
        rc, out, err = host_tools.run("vmi-ps", "--qemu-pid", bad, *common)
        results.check(rc == 2 and out == "" and len(err.strip().splitlines()) == 1 and word in err,
                      f"{what}: --qemu-pid of {whose}: one line, exit 2", f"rc={rc}\n{err}")


if __name__ == "__main__":
    sys.exit(run_per_guest(__doc__, ["amd64-4level"], check_guest))

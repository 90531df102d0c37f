#!/usr/bin/env python3
"""--agent on a Proxmox VE node: the guest's own process list from its
qemu-guest-agent, over the VM's raw .qga socket (no libvirt).

amd64-hide-procfs, whose module hides its victim from /proc only (every
kernel view still holds it), runs under QEMU with Proxmox's own options for
the VM's files: -chardev socket,id=qga0,path=.../105.qga with a
virtio-serial port named org.qemu.guest_agent.0, -pidfile .../105.pid, the
QMP socket .../105.qmp and -name. They sit in a folder laid out as a Proxmox
node (VMI_HOST_ROOT), with /etc/pve/qemu-server/105.conf ("name: files01",
"agent: 1"). Its /init starts Debian's qemu-ga on the port. Then:
- `vmi-ps files01 --check --agent`: exit 1 and exactly the victim, missed by
  the guest's own list only; -v names the Proxmox VM's agent. Meanwhile a
  second client pings the same .qga socket every 100 ms (as pvedaemon and
  pvestatd would), and another asks its QMP socket for the VM's status as
  often: every ping and every ask is answered (the longest waits are
  printed: these machines are shared, so they are no assertion);
- --check --agent --all-domains --backend proxmox: files01's line names
  the victim, exit 1;
- a Proxmox VM with no .qga socket (its agent not enabled): one line naming
  the missing socket, exit 2;
- the guest runs after all of it.
"""
import json
import os
import shutil
import socket
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
sys.path.insert(0, HERE)
from live_guest import LiveGuest  # noqa: E402
from second_client import Poller  # noqa: E402
from testlib import read_guest_env, run_per_guest  # noqa: E402

VMID = 105
CONF = """agent: 1
boot: order=scsi0
cores: 1
memory: 512
name: files01
ostype: l26
"""
AGENT_TIMEOUT = 180   # seconds from the ready marker until the agent answers (TCG on a busy host)


def qga(path, command, timeout=30):
    """One exchange on a raw guest-agent socket, the way QGA asks a client to:
    0xFF, guest-sync-delimited with a fresh id, skip to the sentinel and that id's
    answer, then the command. Returns its "return" value; raises on anything else."""
    sync_id = int(time.time() * 1000) % 1000000007
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(timeout)
        s.connect(path)
        s.sendall(b"\xff" + json.dumps({"execute": "guest-sync-delimited", "arguments": {"id": sync_id}}).encode()
                  + b"\n")
        buffer = b""
        while True:
            while b"\xff" not in buffer:
                buffer = s.recv(65536) or _closed()
            buffer = buffer[buffer.index(b"\xff") + 1:]
            while b"\n" not in buffer:
                buffer += s.recv(65536) or _closed()
            line, buffer = buffer.split(b"\n", 1)
            try:
                if json.loads(line).get("return") == sync_id:
                    break
            except ValueError:
                pass
        s.sendall(json.dumps({"execute": command}).encode() + b"\n")
        while b"\n" not in buffer:
            buffer += s.recv(65536) or _closed()
        answer = json.loads(buffer.split(b"\n", 1)[0])
        if "return" not in answer:
            raise RuntimeError(f"{command}: {answer}")
        return answer["return"]


def _closed():
    raise RuntimeError("QEMU closed the guest agent's socket")


def wait_agent(guest, path):
    start = time.monotonic()
    last = None
    while time.monotonic() - start < AGENT_TIMEOUT:
        if guest.process.poll() is not None:
            raise SystemExit("QEMU exited while waiting for the guest agent")
        try:
            qga(path, "guest-ping", timeout=5)
            return time.monotonic() - start
        except (OSError, RuntimeError, ValueError) as e:
            last = e
        time.sleep(1)
    raise SystemExit(f"the guest agent did not answer within {AGENT_TIMEOUT} s (last: {last}); console:\n"
                     + guest.console_text()[-2000:])


def check_guest(results, tools, name, guest_dir, scratch):
    root = tempfile.mkdtemp(prefix="vmipa.", dir="/tmp")   # socket paths are short
    run_dir = os.path.join(root, "var/run/qemu-server")
    conf_dir = os.path.join(root, "etc/pve/qemu-server")
    os.makedirs(run_dir)
    os.makedirs(conf_dir)
    with open(os.path.join(conf_dir, f"{VMID}.conf"), "w") as f:
        f.write(CONF)
    files = {kind: os.path.join(run_dir, f"{VMID}.{kind}") for kind in ("qmp", "qga", "pid")}
    proxmox = ["-name", "files01,debug-threads=on", "-pidfile", files["pid"],
               "-chardev", f"socket,id=qga0,path={files['qga']},server=on,wait=off",
               "-device", "virtio-serial,id=qga0,bus=pci.0,addr=0x8",
               "-device", "virtserialport,chardev=qga0,name=org.qemu.guest_agent.0"]
    guest = LiveGuest(guest_dir, read_guest_env(guest_dir), root, False, sock=files["qmp"], extra=proxmox)
    try:
        victim = guest.victim_pid()
        print(f"# {name}: victim pid {victim}; its guest agent answered after {wait_agent(guest, files['qga']):.1f} s")
        run_checks(results, tools, guest, guest_dir, root, victim)
        results.check(guest.running(), f"{name}: the guest runs after the checks")
    finally:
        guest.stop()
        shutil.rmtree(root, ignore_errors=True)


def run_checks(results, tools, guest, guest_dir, root, victim):
    env = {"VMI_HOST_ROOT": root}
    common = ["--sysmap", os.path.join(guest_dir, "kallsyms"), "--btf", os.path.join(guest_dir, "vmlinuz")]
    what = f"Proxmox VM {VMID} ('files01')"
    # Proxmox's daemons use the VM's sockets all day: a second client on each, every 100 ms.
    pinger = Poller(lambda: qga(os.path.join(root, f"var/run/qemu-server/{VMID}.qga"), "guest-ping"))
    qmp_poller = Poller(lambda: guest.qmp("query-status"))
    pinger.start()
    qmp_poller.start()
    try:
        rc, out, err = tools.run("vmi-ps", "files01", "--check", "--agent", "--format", "json", "-v", *common,
                                 env=env, timeout=600)
    finally:
        pinger.stop()
        qmp_poller.stop()
    rows = json.loads(out) if rc in (0, 1) and out.strip() else None
    results.check(rc == 1 and rows is not None and [r["pid"] for r in rows] == [victim]
                  and rows[0]["missed_by"] == ["guest"],
                  f"{what}: vmi-ps --check --agent over its .qga socket: exit 1, exactly the victim (pid {victim}), "
                  "missed by the guest's own list only", f"rc={rc} {out[:2000]} {err[-2000:]}")
    results.check(f"processes from the guest agent of {what}" in err and "libvirt domain" not in err,
                  f"{what}: -v says how many processes its guest agent listed, and no libvirt was asked", err[-1500:])
    print(f"# a second client's guest-ping every 100 ms during the check: {pinger.summary()}")
    print(f"# a second client's QMP query-status every 100 ms during the check: {qmp_poller.summary()}")
    results.check(len(pinger.waits) >= 3 and not pinger.failures,
                  f"{what}: a second client pinging the agent every 100 ms meanwhile was answered every time "
                  f"({len(pinger.waits)} pings)", f"failures: {pinger.failures[:5]}")
    results.check(len(qmp_poller.waits) >= 3 and not qmp_poller.failures,
                  f"{what}: a second client asking the QMP socket (QEMU serves one client at a time) for the VM's "
                  f"status every 100 ms meanwhile was answered every time ({len(qmp_poller.waits)} asks)",
                  f"failures: {qmp_poller.failures[:5]}")

    rc, out, err = tools.run("vmi-ps", "--check", "--agent", "--all-domains", "--backend", "proxmox", *common,
                             env=env, timeout=600)
    lines = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    ok = (rc == 1 and len(lines) == 1 and lines[0].get("vmid") == VMID and lines[0].get("exit") == 1
          and [t["pid"] for t in lines[0].get("tasks", [])] == [victim])
    results.check(ok, f"{what}: --check --agent --all-domains --backend proxmox: its line names the victim, exit 1",
                  f"rc={rc}\n{out[-2000:]}\n{err[-1500:]}")

    # A VM whose agent is not enabled: Proxmox makes no .qga socket for it.
    run_dir = os.path.join(root, "var/run/qemu-server")
    os.symlink(os.path.join(run_dir, f"{VMID}.qmp"), os.path.join(run_dir, "106.qmp"))
    shutil.copy(os.path.join(run_dir, f"{VMID}.pid"), os.path.join(run_dir, "106.pid"))
    with open(os.path.join(root, "etc/pve/qemu-server/106.conf"), "w") as f:
        f.write("name: noagent\n")
    rc, out, err = tools.run("vmi-ps", "noagent", "--check", "--agent", *common, env=env, timeout=600)
    lines = err.strip().splitlines()
    results.check(rc == 2 and out == "" and len(lines) == 1 and "no guest agent socket" in lines[0]
                  and "106.qga" in lines[0],
                  f"a Proxmox VM without an agent socket: one line naming it, exit 2 ({err.strip()[:200]})",
                  f"rc={rc} {out} {err}")


if __name__ == "__main__":
    sys.exit(run_per_guest(__doc__, ["amd64-hide-procfs"], check_guest))

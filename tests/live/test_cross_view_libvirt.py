#!/usr/bin/env python3
"""vmi-ps --check --all-domains on live libvirt domains.

Boots two cached guests as libvirt domains at once (tests/live/libvirt-env.sh
starts libvirtd if needed): amd64-4level, where nothing is hidden, and
amd64-hide-tasklist, whose /init loads tests/hiding's module and unlinks the
victim from the task list (its pid as this boot's /init printed it; without the
host's command on its third serial port the module stays, and so does the
victim's hiding). Both run Debian's 6.1.0-50-amd64 without KASLR: one kallsyms
and one BTF serve both. Then:
- `vmi-ps --check --all-domains --backend kvm` (libvirt's domains only: the
  other tests' QEMUs are not ours to pause) prints one JSON line per running domain
  (other domains on the host get theirs too, and are not judged here): the
  clean domain's has exit 0 and no task, the hiding domain's exit 1 and exactly
  the victim, missed by the task list; the whole run exits 1;
- both domains run afterwards (each was paused for its check only);
- an unreachable URI is one line on stderr and exit 2;
- with --prometheus, vmi-ps, vmi-lsmod and vmi-hooks --check --all-domains write
  one textfile (promtool accepts it): per domain and check its findings (the
  victim is the only one), no errors, and the series of a domain no longer
  running (one written there before) are gone; vmi-lsmod's and vmi-hooks' JSON
  lines say exit 0 for both domains;
- a KubeVirt node laid out in a folder (VMI_HOST_ROOT): a pod whose
  libvirt-runtime volume holds libvirt-sock (leading to this host's libvirtd),
  the clean domain named NAMESPACE_VM as KubeVirt names them: `vmi-ps --check
  NAMESPACE/VM` exits 0 through the pod's socket, its QEMU found by the
  domain's -uuid in the node's /proc (the pid file is the pod's) and its RAM
  read through that process; `--all-domains --backend kubevirt` has its line
  (manager kubevirt, the pod's uid, the domain's uuid, exit 0) and the hiding
  domain's (exit 1); SIGKILL of the tool at its pause: the guardian resumes
  the VM through the pod's socket;
- OpenStack: the clean domain carries Nova's metadata (<nova:instance> with
  its <nova:name>): `vmi-ps --check` by the instance's name and by its uuid
  reaches that domain (exit 0; -v says which); a name that is neither is one
  line, exit 2.
Then --agent: amd64-hide-procfs, whose module hides the victim from /proc only
(every kernel view still holds it), runs as a third domain with a guest-agent
channel, and its /init starts Debian's qemu-guest-agent on it:
- `vmi-ps --check --agent` asks that agent for the guest's own /proc listing:
  exit 1 and exactly the victim, missed by the guest's own list only; with
  --all every other process is in the guest's list (the agent's listing shell
  left out);
- --all-domains --agent: the procfs domain's line names the victim, the clean
  domain (no agent channel) has its error line with exit 2;
- --agent on a domain without an agent, or on a dump: one line, exit 2.
"""
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
sys.path.insert(0, HERE)
from libvirt_guest import LibvirtGuest  # noqa: E402
from pause_checks import SLOW, read_until, start, wait_for  # noqa: E402
from testlib import Results, Tools, guest_dir_root  # noqa: E402

ENV_SCRIPT = os.path.join(HERE, "libvirt-env.sh")
# What OpenStack Nova writes into its domains (nova/virt/libvirt/config.py), abridged.
NOVA_NAME = "web01.nova-test"
NOVA_METADATA = f"""<nova:instance xmlns:nova="http://openstack.org/xmlns/libvirt/nova/1.1">
  <nova:package version="27.1.0"/>
  <nova:name>{NOVA_NAME}</nova:name>
  <nova:creationTime>2026-12-07 10:00:00</nova:creationTime>
  <nova:flavor name="m1.small"><nova:memory>512</nova:memory><nova:vcpus>1</nova:vcpus></nova:flavor>
  <nova:owner><nova:user uuid="0b5d5e4a6f0a4f7e9d0e1a2b3c4d5e6f">admin</nova:user>
    <nova:project uuid="1c6e6f5b7a1b4a8f8e1f2b3c4d5e6f70">demo</nova:project></nova:owner>
</nova:instance>"""
CLEAN, HIDING, PROCFS = "amd64-4level", "amd64-hide-tasklist", "amd64-hide-procfs"


def main():
    import argparse
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bin", required=True)
    parser.add_argument("--guests", default=guest_dir_root())
    args = parser.parse_args()
    results, tools = Results(), Tools(args.bin)
    dirs = {name: os.path.join(args.guests, name) for name in (CLEAN, HIDING, PROCFS)}
    for name, path in dirs.items():
        if not os.path.exists(os.path.join(path, "done")):
            results.check(False, f"{name}: built", "tests/guests/build-guests.sh, tests/hiding/boot-hiding-guest.py")
            return results.finish()
    proc = subprocess.run([ENV_SCRIPT], capture_output=True, text=True, timeout=900, stdin=subprocess.DEVNULL)
    if not results.check(proc.returncode == 0, "libvirtd runs (tests/live/libvirt-env.sh)", proc.stderr[-2000:]):
        return results.finish()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    options = ["--sysmap", os.path.join(dirs[HIDING], "kallsyms"), "--btf", os.path.join(dirs[HIDING], "vmlinuz")]
    scratch = tempfile.TemporaryDirectory()
    prom = os.path.join(scratch.name, "vmi.prom")
    with open(prom, "w") as f:   # a domain that has gone since the last run
        f.write('vmi_check_findings{domain="gone-vm",check="processes"} 3\n'
                'vmi_check_last_success_timestamp_seconds{domain="gone-vm"} 1\n')
    with LibvirtGuest(dirs[CLEAN], suffix="kv_web", metadata=NOVA_METADATA) as clean, \
            LibvirtGuest(dirs[HIDING], suffix="xv") as hiding:
        victim = hiding.victim_pid()
        rc, out, err = tools.run("vmi-ps", "--check", "--all-domains", "--backend", "kvm", "--prometheus", prom,
                                 *options, timeout=600)
        lines = domain_lines(out, results)
        got = lines.get(clean.name)
        results.check(got is not None and got["exit"] == 0 and got["tasks"] == [] and not got["problems"],
                      f"{CLEAN} as domain {clean.name}: its line says exit 0, nothing hidden", f"{got} {err[-1500:]}")
        got = lines.get(hiding.name)
        ok = (got is not None and got["exit"] == 1 and [t["pid"] for t in got["tasks"]] == [victim]
              and got["tasks"][0]["missed_by"] == ["tasks"])
        results.check(ok, f"{HIDING} as domain {hiding.name}: its line says exit 1 and names pid {victim}, missed "
                      "by the task list", f"{got} {err[-1500:]}")
        results.check(rc == 1, "--all-domains exits 1: a domain has a finding", f"rc={rc} {err[-1500:]}")
        check_textfile(results, tools, options, prom, clean.name, hiding.name)
        check_kubevirt(results, tools, options, scratch.name, clean.name, hiding.name)
        check_nova(results, tools, options, clean)
        results.check(clean.state() == "running" and hiding.state() == "running",
                      "both domains run after the checks", f"{clean.state()} {hiding.state()}")
    scratch.cleanup()
    rc, out, err = tools.run("vmi-ps", "--check", "--all-domains", "--uri", "qemu:///nowhere", *options)
    results.check(rc == 2 and out == "" and len(err.strip().splitlines()) == 1,
                  "--all-domains with an unreachable URI: one line on stderr, exit 2", f"rc={rc} {out} {err}")
    check_agent(results, tools, dirs, options)
    return results.finish()


def domain_lines(out, results=None):
    """{domain: its JSON line} of --all-domains' output; other lines are left out, or,
    with `results`, each is a failed check."""
    lines = {}
    for line in out.splitlines():
        try:
            record = json.loads(line)
            lines[record["domain"]] = record
        except (ValueError, KeyError):
            if results is not None:
                results.check(False, "--all-domains prints JSON lines with a domain", line)
    return lines


def check_textfile(results, tools, options, prom, clean, hiding):
    """vmi-lsmod and vmi-hooks --check --all-domains into the textfile vmi-ps wrote."""
    for tool in ("vmi-lsmod", "vmi-hooks"):
        rc, out, err = tools.run(tool, "--check", "--all-domains", "--backend", "kvm", "--prometheus", prom, *options,
                                 timeout=600)
        lines = domain_lines(out)
        ok = all(lines.get(d, {}).get("exit") == 0 for d in (clean, hiding))
        results.check(ok, f"{tool} --check --all-domains: exit 0 in both domains' lines",
                      f"rc={rc}\n{out[-1500:]}\n{err[-1500:]}")
    proc = subprocess.run(["promtool", "check", "metrics"], stdin=open(prom, "rb"), capture_output=True)
    results.check(proc.returncode == 0, "promtool check metrics accepts the --all-domains textfile",
                  proc.stdout.decode() + proc.stderr.decode())
    got = {}
    with open(prom) as f:
        for line in f:
            m = re.match(r'^vmi_check_(findings|errors)\{domain="([^"]*)",check="(\w+)"\} (\S+)$', line)
            if m:
                got[(m.group(1), m.group(2), m.group(3))] = float(m.group(4))
    wanted = {("findings", d, c): float(d == hiding and c == "processes")
              for d in (clean, hiding) for c in ("processes", "modules", "hooks")}
    wanted.update({("errors", d, c): 0.0 for d in (clean, hiding) for c in ("processes", "modules", "hooks")})
    wrong = {k: (got.get(k), v) for k, v in wanted.items() if got.get(k) != v}
    text = open(prom).read()
    results.check(not wrong and "gone-vm" not in text,
                  "the textfile holds each domain's findings per check (the victim only), no errors, and not the "
                  "domain that is gone", f"{wrong}\n{text[-2000:]}")


def check_nova(results, tools, options, clean):
    uuid = subprocess.run(["virsh", "-c", "qemu:///system", "domuuid", clean.name], capture_output=True,
                          text=True).stdout.strip()
    for name in (NOVA_NAME, uuid):
        rc, out, err = tools.run("vmi-ps", "--check", name, "-v", *options, timeout=600)
        results.check(rc == 0 and f"Nova instance '{name}' is libvirt domain '{clean.name}'" in err,
                      f"OpenStack: vmi-ps --check by the Nova instance's {'name' if name == NOVA_NAME else 'uuid'}: "
                      "its domain, exit 0", f"rc={rc}\n{err[-1500:]}")
    rc, out, err = tools.run("vmi-ps", "--check", "no-such-instance", *options)
    results.check(rc == 2 and len(err.strip().splitlines()) == 1 and "Nova instance" in err,
                  "OpenStack: a name that is neither a domain nor an instance: one line, exit 2", f"rc={rc}\n{err}")


def check_kubevirt(results, tools, options, scratch, clean, hiding):
    uid = "6f1c2d3e-0000-4000-8000-00000000c0de"
    runtime = os.path.join(scratch, "node", "var/lib/kubelet/pods", uid, "volumes/kubernetes.io~empty-dir/libvirt-runtime")
    os.makedirs(runtime)
    os.symlink("/var/run/libvirt/libvirt-sock", os.path.join(runtime, "libvirt-sock"))
    env = {"VMI_HOST_ROOT": os.path.join(scratch, "node")}
    # The node sees the pods' QEMUs in /proc, not the daemons' pid files (they are in the
    # pods): the node folder's /proc holds each QEMU's real command line, with its -uuid.
    pids = {}
    for domain in (clean, hiding):
        with open(f"/run/libvirt/qemu/{domain}.pid") as f:
            pids[domain] = qemu_pid = int(f.read().strip())
        os.makedirs(os.path.join(scratch, "node", "proc", str(qemu_pid)))
        shutil.copyfile(f"/proc/{qemu_pid}/cmdline", os.path.join(scratch, "node", "proc", str(qemu_pid), "cmdline"))
    name = clean.replace("_", "/", 1)
    qemu_pid = pids[clean]
    rc, out, err = tools.run("vmi-ps", "--check", name, "-v", *options, env=env, timeout=600)
    results.check(rc == 0 and f"KubeVirt VM {name}: domain {clean} in pod {uid}" in err,
                  f"KubeVirt: vmi-ps --check {name} through the pod's libvirt socket: exit 0", f"rc={rc}\n{err[-1500:]}")
    results.check(f"QEMU pid {qemu_pid} found by its -uuid" in err
                  and re.search(rf"guest memory through .*QEMU pid {qemu_pid}\b", err) is not None,
                  f"KubeVirt: the pod's QEMU (pid {qemu_pid}) found by its -uuid, its RAM read through the process",
                  err[-2500:])
    check_kubevirt_guardian(results, tools, options, env, name, clean)
    rc, out, err = tools.run("vmi-ps", "--check", "--all-domains", "--backend", "kubevirt", *options, env=env,
                             timeout=600)
    lines = domain_lines(out)
    ours, theirs = lines.get(name, {}), lines.get(hiding, {})
    uuid = subprocess.run(["virsh", "-c", "qemu:///system", "domuuid", clean], capture_output=True, text=True,
                          timeout=60).stdout.strip()
    results.check(ours.get("manager") == "kubevirt" and ours.get("pod") == uid and ours.get("exit") == 0 and
                  ours.get("uuid") == uuid != "" and theirs.get("exit") == 1 and rc == 1,
                  "KubeVirt: --all-domains --backend kubevirt: the clean VM's line (its pod, its domain's uuid, exit "
                  "0), the hiding domain's exit 1", f"rc={rc} uuid {uuid}\n{out[-2000:]}\n{err[-1000:]}")


def check_kubevirt_guardian(results, tools, options, env, name, domain):
    """SIGKILL at the pause of a KubeVirt VM: the guardian resumes it with virsh, whose
    URI reaches the pod's long socket path through the tool's /proc/self/fd folder."""
    process = start(tools, "vmi-ps", name, *options, *SLOW, "-v", process_group=0, env={**os.environ, **env})
    err = read_until(process.stderr.fileno(), "guest paused", 120)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=60)
    err += read_until(process.stderr.fileno(), "\0", 60)
    process.stderr.close()
    process.stdout.close()

    def state():
        return subprocess.run(["virsh", "-c", "qemu:///system", "domstate", domain], capture_output=True,
                              text=True, timeout=60).stdout.strip()
    running = wait_for(lambda: state() == "running", 30, 0.2)
    results.check("guest paused" in err and "its guardian resumes the guest" in err and running,
                  f"KubeVirt: SIGKILL of the tool at {name}'s pause: its guardian resumes the VM through the pod's "
                  "socket", f"state {state()}\n{err[-1500:]}")
    if not running:
        subprocess.run(["virsh", "-c", "qemu:///system", "resume", domain], capture_output=True, timeout=60)


def one_line_error(rc, out, err, *words):
    lines = err.strip().splitlines()
    return rc == 2 and out == "" and len(lines) == 1 and all(w in lines[0] for w in words)


def check_agent(results, tools, dirs, options):
    """--agent: the guest's own /proc listing from its qemu-guest-agent."""
    with LibvirtGuest(dirs[CLEAN], suffix="na") as clean, \
            LibvirtGuest(dirs[PROCFS], suffix="ga", agent=True) as procfs:
        victim = procfs.victim_pid()
        waited = procfs.wait_agent()
        print(f"# {PROCFS}: its guest agent answered after {waited:.1f} s more")
        rc, out, err = tools.run("vmi-ps", "--check", "--agent", "--format", "json", "-v", *options, procfs.name,
                                 timeout=600)
        rows = json.loads(out) if rc in (0, 1) and out.strip() else None
        ok = (rc == 1 and rows is not None and [r["pid"] for r in rows] == [victim]
              and rows[0]["missed_by"] == ["guest"])
        results.check(ok, f"{PROCFS}: vmi-ps --check --agent: exit 1, exactly the victim (pid {victim}), missed by "
                      "the guest's own list only", f"rc={rc} {out[:2000]} {err[-2000:]}")
        results.check("processes from the guest agent of libvirt domain" in err,
                      "-v says how many processes the guest agent listed", err[-1500:])

        rc, out, err = tools.run("vmi-ps", "--check", "--agent", "--all", "--format", "json", *options, procfs.name,
                                 timeout=600)
        rows = json.loads(out) if rc == 1 and out.strip() else []
        leaders = [r for r in rows if r["pid"] == r["tid"] and r["pid"] > 0]
        not_listed = sorted(r["pid"] for r in leaders if r["guest"] is not True)
        sleeps = sum(1 for r in leaders if r["name"] == "sleep" and r["guest"] is True)
        agent = [r for r in leaders if r["name"] == "qemu-ga"]
        results.check(rc == 1 and not_listed == [victim] and sleeps >= 20 and len(agent) == 1 and agent[0]["guest"],
                      f"{PROCFS}: --check --agent --all: every process but the victim is in the guest's own list "
                      f"({len(leaders)} processes, {sleeps} sleeps, qemu-ga among them)",
                      f"rc={rc} not listed {not_listed} sleeps {sleeps} agent {agent} {err[-1500:]}")

        rc, out, err = tools.run("vmi-ps", "--check", "--agent", "--all-domains", "--backend", "kvm", *options,
                                 timeout=900)
        lines = domain_lines(out)
        got, other = lines.get(procfs.name), lines.get(clean.name)
        results.check(got is not None and got["exit"] == 1 and [t["pid"] for t in got["tasks"]] == [victim]
                      and other is not None and other["exit"] == 2 and "guest agent" in other.get("error", "")
                      and rc == 1,
                      "--check --agent --all-domains: the procfs domain's line names the victim; the domain "
                      "without an agent has its error line (exit 2); the run exits 1",
                      f"rc={rc} {got} {other} {err[-1500:]}")

        rc, out, err = tools.run("vmi-ps", "--check", "--agent", *options, clean.name, timeout=600)
        results.check(one_line_error(rc, out, err, clean.name, "guest agent"),
                      f"--agent on a domain without an agent channel: one line, exit 2 ({err.strip()[:200]})",
                      f"rc={rc} {out} {err}")
        results.check(clean.state() == "running" and procfs.state() == "running",
                      "both domains run after the agent checks", f"{clean.state()} {procfs.state()}")
    image = os.path.join(dirs[PROCFS], "memory.elf")
    rc, out, err = tools.run("vmi-ps", "--check", "--agent", "--image", image, *options)
    results.check(one_line_error(rc, out, err, "neither a libvirt domain nor a Proxmox VM"),
                  f"--agent on a dump: one line, exit 2 ({err.strip()[:200]})", f"rc={rc} {out} {err}")


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""vmi-ps --check --all-domains on live libvirt domains.

Boots two cached guests as libvirt domains at once (tests/live/libvirt-env.sh
starts libvirtd if needed): amd64-4level, where nothing is hidden, and
amd64-hide-tasklist, whose /init loads tests/hiding's module and unlinks the
victim from the task list (GUEST_VICTIM_PID in its guest.env; without the
host's command on its third serial port the module stays, and so does the
victim's hiding). Both run Debian's 6.1.0-50-amd64 without KASLR: one kallsyms
and one BTF serve both. Then:
- `vmi-ps --check --all-domains` prints one JSON line per running domain
  (other domains on the host get theirs too, and are not judged here): the
  clean domain's has exit 0 and no task, the hiding domain's exit 1 and exactly
  the victim, missed by the task list; the whole run exits 1;
- both domains run afterwards (each was paused for its check only);
- an unreachable URI is one line on stderr and exit 2.
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
import signal
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
sys.path.insert(0, HERE)
from libvirt_guest import LibvirtGuest  # noqa: E402
from testlib import Results, Tools, guest_dir_root, read_guest_env  # noqa: E402

ENV_SCRIPT = os.path.join(HERE, "libvirt-env.sh")
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
    victim = int(read_guest_env(dirs[HIDING])["GUEST_VICTIM_PID"])
    options = ["--sysmap", os.path.join(dirs[HIDING], "kallsyms"), "--btf", os.path.join(dirs[HIDING], "vmlinuz")]
    with LibvirtGuest(dirs[CLEAN], suffix="xv") as clean, LibvirtGuest(dirs[HIDING], suffix="xv") as hiding:
        rc, out, err = tools.run("vmi-ps", "--check", "--all-domains", *options, timeout=600)
        lines = {}
        for line in out.splitlines():
            try:
                record = json.loads(line)
                lines[record["domain"]] = record
            except (ValueError, KeyError):
                results.check(False, "--all-domains prints JSON lines with a domain", line)
        got = lines.get(clean.name)
        results.check(got is not None and got["exit"] == 0 and got["tasks"] == [] and not got["problems"],
                      f"{CLEAN} as domain {clean.name}: its line says exit 0, nothing hidden", f"{got} {err[-1500:]}")
        got = lines.get(hiding.name)
        ok = (got is not None and got["exit"] == 1 and [t["pid"] for t in got["tasks"]] == [victim]
              and got["tasks"][0]["missed_by"] == ["tasks"])
        results.check(ok, f"{HIDING} as domain {hiding.name}: its line says exit 1 and names pid {victim}, missed "
                      "by the task list", f"{got} {err[-1500:]}")
        results.check(rc == 1, "--all-domains exits 1: a domain has a finding", f"rc={rc} {err[-1500:]}")
        results.check(clean.state() == "running" and hiding.state() == "running",
                      "both domains run after the checks", f"{clean.state()} {hiding.state()}")
    rc, out, err = tools.run("vmi-ps", "--check", "--all-domains", "--uri", "qemu:///nowhere", *options)
    results.check(rc == 2 and out == "" and len(err.strip().splitlines()) == 1,
                  "--all-domains with an unreachable URI: one line on stderr, exit 2", f"rc={rc} {out} {err}")
    check_agent(results, tools, dirs, options)
    return results.finish()


def one_line_error(rc, out, err, *words):
    lines = err.strip().splitlines()
    return rc == 2 and out == "" and len(lines) == 1 and all(w in lines[0] for w in words)


def check_agent(results, tools, dirs, options):
    """--agent: the guest's own /proc listing from its qemu-guest-agent."""
    victim = int(read_guest_env(dirs[PROCFS])["GUEST_VICTIM_PID"])
    with LibvirtGuest(dirs[CLEAN], suffix="na") as clean, \
            LibvirtGuest(dirs[PROCFS], suffix="ga", agent=True) as procfs:
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

        rc, out, err = tools.run("vmi-ps", "--check", "--agent", "--all-domains", *options, timeout=900)
        lines = {}
        for line in out.splitlines():
            try:
                record = json.loads(line)
                lines[record["domain"]] = record
            except (ValueError, KeyError):
                pass
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
    results.check(one_line_error(rc, out, err, "not a libvirt domain"),
                  f"--agent on a dump: one line, exit 2 ({err.strip()[:200]})", f"rc={rc} {out} {err}")


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""The tools on live libvirt domains (--backend kvm): a real libvirtd runs the
cached test guests under software emulation.

First makes sure libvirtd runs (tests/live/libvirt-env.sh installs and starts
it); if it cannot, that is a failure, not a skip. Then boots amd64-4level as a
domain with its RAM in a shared memfd, and amd64-5level-kaslr (LA57: 5-level
paging), amd64-6.12-kaslr (LA57) and amd64-7.2-kaslr with ordinary RAM, and
compares with what each guest says about itself at that moment, through the
responder its /init runs on serial port 1:
- vmi-ps / vmi-lsmod over each --access path (memfd, process, monitor, auto)
  match the guest's `procs` (pid, ppid, uid, gid, state, name, as it answers
  right before and after the walk) and `modules`; memfd is refused on the domain
  without memfd backing; virsh domstate says running afterwards;
- a domain suspended beforehand stays paused;
- SIGINT, SIGTERM and SIGHUP in the middle of a walk leave it running;
- vmi-write renames a sleep process (its task_struct.comm) and changes the
  nodename in init_uts_ns, running and suspended: the guest's own `procs` and
  `hostname` show the new values;
- an unknown domain, a defined but shut-off domain and a bad --uri each get
  one line on stderr and exit 2.
"""
import os
import signal
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
sys.path.insert(0, HERE)
from libvirt_guest import LibvirtError, LibvirtGuest, destroy_stale_domains  # noqa: E402
from live_checks import (check_access_paths, check_lists, check_paused_stays_paused, check_signals,  # noqa: E402
                         proc_names, processes)
from testlib import read_guest_env, run_per_guest, struct_facts  # noqa: E402

ENV_SCRIPT = os.path.join(HERE, "libvirt-env.sh")
ENV_TIMEOUT = 900  # seconds: the first call installs packages
LA57 = 1 << 12     # CR4 bit: 5-level paging
UTS_NODENAME = 65  # struct uts_namespace starts with struct new_utsname: 65-byte fields, nodename 2nd


def libvirtd_runs(results):
    try:
        proc = subprocess.run([ENV_SCRIPT], capture_output=True, text=True, timeout=ENV_TIMEOUT,
                              stdin=subprocess.DEVNULL)
        ok, detail = proc.returncode == 0, proc.stderr[-3000:]
    except subprocess.TimeoutExpired:
        ok, detail = False, f"{ENV_SCRIPT} did not finish within {ENV_TIMEOUT} s"
    if not results.check(ok, "libvirtd runs and answers qemu:///system (tests/live/libvirt-env.sh)", detail):
        return False
    destroy_stale_domains()
    # So that `with LibvirtGuest` destroys the domain when ctest or a user ends the test.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    return True


def check_domain_boots(results, guest, env, what):
    results.check(guest.running(), f"{what}: domain {guest.name} boots to its ready marker")
    cr4 = guest.register("CR4") or 0
    want_la57 = env["GUEST_PAGING"] == "la57"
    results.check(bool(cr4 & LA57) == want_la57,
                  f"{what}: the vCPU {'has' if want_la57 else 'lacks'} LA57 (CR4 bit 12), as built "
                  f"with -cpu {env['GUEST_QEMU_CPU']}", f"CR4={cr4:#x}")
    procs = guest.ask("procs")
    sleepers = sum(1 for line in procs if line.endswith(" sleep"))
    results.check(proc_names(procs).get("1") == "init" and sleepers >= int(env["GUEST_PROCS"]),
                  f"{what}: the guest's responder answers procs ({len(procs)} processes, {sleepers} sleep)",
                  "\n".join(procs[:20]))
    try:
        guest.ask("telepathy")
        results.check(False, f"{what}: the responder refuses an unknown command")
    except LibvirtError as e:
        results.check("does not know" in str(e), f"{what}: the responder refuses an unknown command", str(e))


def check_writes(results, tools, guest, base, memfd, comm, what):
    """vmi-write on the running domain, checked by asking the guest itself.
    `comm`: task_struct.comm's offset, from the kernel's BTF (testlib.struct_facts)."""
    rows = processes(tools, base)
    sleepers = [row for row in rows if row[1] == "sleep"]
    for access, (pid, _, task) in zip(["memfd", "process"] if memfd else ["process"], sleepers):
        new_name = f"w-{access}"
        rc, out, err = tools.run("vmi-write", *base, "--live-write", "--access", access, "--va",
                                 f"{int(task, 16) + comm:#x}", "--string", new_name, "--nul")
        theirs = proc_names(guest.ask("procs"))
        results.check(rc == 0 and theirs.get(pid) == new_name and guest.running(),
                      f"{what} ({access}): vmi-write renames pid {pid} {new_name!r}; the guest's own list says so",
                      f"guest says {theirs.get(pid)!r}\n{out}{err[-1500:]}")

    before = guest.ask("hostname")
    target = [*base, "--live-write", "--ksym", f"init_uts_ns+{UTS_NODENAME}", "--nul", "--string"]
    rc, out, err = tools.run("vmi-write", *target, "vmi-written")
    after = guest.ask("hostname")
    results.check(rc == 0 and after == ["vmi-written"] and guest.running(),
                  f"{what}: vmi-write on init_uts_ns+{UTS_NODENAME} changes the guest's hostname",
                  f"before {before} after {after}\n{out}{err[-1500:]}")

    guest.suspend()
    try:
        rc, out, err = tools.run("vmi-write", *target, "vmi-paused", "-v")
        state = guest.state()
    finally:
        guest.resume()
    after = guest.ask("hostname")
    results.check(rc == 0 and state == "paused" and "stays paused" in err and after == ["vmi-paused"],
                  f"{what}: vmi-write on a suspended domain leaves it paused; the guest then has the new hostname",
                  f"state {state!r}, hostname {after}\n{out}{err[-1500:]}")


def check_errors(results, tools, guest_dir, options, what):
    """Domains the tools cannot read: one line on stderr, exit 2."""
    with LibvirtGuest(guest_dir, define_only=True, suffix="off") as off:
        cases = [([f"vmi-test-no-such-domain-{os.getpid()}", *options], "no libvirt domain", "an unknown domain"),
                 ([off.name, *options], "is not running", "a defined but shut-off domain"),
                 ([off.name, *options, "--uri", "qemu+unix:///system?socket=/nonexistent/libvirt-sock"],
                  "cannot reach libvirt", "a bad --uri")]
        for args, expect, case in cases:
            rc, out, err = tools.run("vmi-ps", *args)
            results.check(rc == 2 and out == "" and expect in err and len(err.splitlines()) == 1,
                          f"{what}: {case} gets one line and exit 2", f"exit {rc}: {err}")
        results.check(off.state() == "shut off", f"{what}: the shut-off domain stays shut off", off.state())


class BareTools:
    """The tools run with an empty HOME, XDG_CONFIG_HOME and XDG_CACHE_HOME: no
    config file, no cached kernel build, nothing but what is on the line."""

    def __init__(self, tools, home):
        self.tools = tools
        self.env = {"HOME": home, "XDG_CONFIG_HOME": home, "XDG_CACHE_HOME": os.path.join(home, "cache")}

    def run(self, tool, *args, **kwargs):
        return self.tools.run(tool, *args, env=self.env, **kwargs)


def check_by_name_only(results, tools, guest, scratch, what):
    """Issue 13's promise on a live domain: `vmi-ps NAME` with no flags and no
    config: symbols from the guest's own kallsyms tables, types from its BTF, in
    guest memory; the lists equal the guest's own, once with an empty kernel
    cache and once with the entry the first run wrote."""
    home = os.path.join(scratch, "bare-home")
    os.makedirs(home, exist_ok=True)
    bare = BareTools(tools, home)
    err = check_lists(results, bare, guest, [guest.name], f"{what} (nothing but its name, empty caches)")
    results.check("symbols: the kernel's own kallsyms at" in err and "BTF: from guest memory" in err,
                  f"{what} (nothing but its name): -v says symbols from kallsyms, BTF from guest memory", err[-3000:])
    check_lists(results, bare, guest, [guest.name], f"{what} (nothing but its name, kernel cache filled)")


def check_live_domain(results, tools, name, guest_dir, scratch):
    env = read_guest_env(guest_dir)
    memfd = name == "amd64-4level"
    what = f"{name} libvirt"
    options = ["--backend", "kvm", "--sysmap", os.path.join(guest_dir, "kallsyms"),
               "--btf", os.path.join(guest_dir, "vmlinuz")]
    comm = struct_facts(guest_dir, env, scratch)["task_struct.comm"]
    try:
        with LibvirtGuest(guest_dir, memfd=memfd) as guest:
            base = [guest.name, *options]
            check_domain_boots(results, guest, env, what)
            check_access_paths(results, tools, guest, base, memfd, what)
            check_by_name_only(results, tools, guest, scratch, what)
            results.check(guest.state() == "running", f"{what}: virsh domstate says running after the walks",
                          guest.state())
            check_paused_stays_paused(results, tools, guest, base, what)
            check_signals(results, tools, guest, base, what)
            check_writes(results, tools, guest, base, memfd, comm, what)
        check_errors(results, tools, guest_dir, options, what)
    except LibvirtError as e:
        results.check(False, f"{what}: the domain runs and its guest answers", str(e))


if __name__ == "__main__":
    sys.exit(run_per_guest(__doc__, ["amd64-4level", "amd64-5level-kaslr", "amd64-6.12-kaslr", "amd64-7.2-kaslr"], check_live_domain,
                           setup=libvirtd_runs))

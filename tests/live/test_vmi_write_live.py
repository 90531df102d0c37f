#!/usr/bin/env python3
"""vmi-write on live guests: a real QEMU reached by its QMP socket.

Boots the cached test guests again and keeps them running (amd64-4level with
RAM in a shared memfd; amd64-5level-kaslr, amd64-6.12-kaslr and amd64-7.2-kaslr
with anonymous RAM), then renames
sleeping processes through their task_struct's comm over every access path
that can write (memfd mapping, process_vm_writev):
- --dry-run changes nothing; the write does, and vmi-ps shows the new name
  for that pid and every other process as before; at the end the guest's own
  process list (its answer on the second serial port) shows every new name;
- without --live-write a running guest is not written (one line, exit 2);
- the page's rights are reported; a page the guest maps read-only
  (linux_banner) and a user page (a sleep process's own data, through its
  page tables) are refused without --force, and written with it;
- the monitor path, which cannot write, is refused in one line, exit 2;
- the guest runs afterwards, and a guest paused beforehand stays paused.
"""
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
sys.path.insert(0, HERE)
from live_checks import proc_names, processes, same_name  # noqa: E402
from live_guest import running_guest  # noqa: E402
from testlib import read_guest_env, run_per_guest, struct_facts  # noqa: E402


def unchanged_but(before, after, renames):
    """Problems: rows of `after` that are not `before` with `renames` applied, by
    pid. The kernel starts and ends workqueue workers on its own (a loaded host makes
    it start more), so a kworker may come or go, and a kworker's workqueue
    description may change meanwhile; every other process must stay, with its task
    and name."""
    def kworker(name):
        return name.startswith("kworker/")
    old = {pid: (name, task) for pid, name, task in before}
    new = {pid: (name, task) for pid, name, task in after}
    problems = []
    for pid in sorted(set(old) | set(new), key=int):
        if pid not in new:
            if not kworker(old[pid][0]):
                problems.append(f"pid {pid} {old[pid][0]!r} {old[pid][1]}: gone")
        elif pid not in old:
            if not kworker(new[pid][0]):
                problems.append(f"pid {pid} {new[pid][0]!r} {new[pid][1]}: new")
        else:
            (name, task), (name2, task2) = old[pid], new[pid]
            wanted = renames.get(pid, name)
            if task != task2 or not (name2 == wanted or (pid not in renames and same_name(name, name2))):
                problems.append(f"pid {pid} {wanted!r} {task}: now {name2!r} {task2}")
    return problems


def check_live_guest(results, tools, name, guest_dir, scratch):
    # task_struct.comm's offset from the kernel's BTF (pahole), not from the tools.
    comm = struct_facts(guest_dir, read_guest_env(guest_dir), scratch)["task_struct.comm"]
    with running_guest(name, guest_dir) as (guest, base, memfd):
        before = processes(tools, base)
        sleepers = [row for row in before if row[1] == "sleep"]
        renames = {}
        for access, (pid, _, task) in zip(["memfd", "process"] if memfd else ["process"], sleepers):
            what = f"{name} live ({access})"
            target = [*base, "--access", access, "--va", f"{int(task, 16) + comm:#x}"]
            new_name = f"w-{access}"
            rc, out, err = tools.run("vmi-write", *target, "--string", new_name, "--nul", "--dry-run")
            now = processes(tools, base)
            results.check(rc == 0 and out.startswith("would write") and not unchanged_but(before, now, renames),
                          f"{what}: --dry-run prints the change and changes nothing", out + err)
            rc, out, err = tools.run("vmi-write", *target, "--string", new_name, "--nul")
            now = processes(tools, base)
            results.check(rc == 2 and out == "" and len(err.splitlines()) == 1 and "give --live-write" in err
                          and not unchanged_but(before, now, renames) and guest.running(),
                          f"{what}: without --live-write the running guest is not written: one line, exit 2", err)
            rc, out, err = tools.run("vmi-write", *target, "--string", new_name, "--nul", "--live-write", "-v")
            renames[pid] = new_name
            now = processes(tools, base)
            problems = unchanged_but(before, now, renames)
            results.check(rc == 0 and out.startswith(f"wrote {len(new_name) + 1} bytes at")
                          and "page: kernel read-write no-exec)" in out and not problems and guest.running(),
                          f"{what}: pid {pid} renamed {new_name!r}; every other process as before; guest runs",
                          "\n".join(problems[:10]) + out + err[-1500:])

        pid, _, task = sleepers[-1]
        target = [*base, "--live-write", "--va", f"{int(task, 16) + comm:#x}", "--string", "w-paused", "--nul"]
        rc, out, err = tools.run("vmi-write", *target, "--access", "monitor")
        results.check(rc == 2 and out == "" and len(err.splitlines()) == 1 and "cannot write" in err
                      and guest.running(),
                      f"{name} live: the monitor path, which cannot write, is refused in one line", err)

        guest.qmp("stop")
        rc, out, err = tools.run("vmi-write", *target, "-v")
        results.check(rc == 0 and not guest.running() and "stays paused" in err,
                      f"{name} live: a guest paused beforehand is written and stays paused", err[-1500:])
        guest.qmp("cont")
        renames[pid] = "w-paused"
        now = processes(tools, base)
        results.check(not unchanged_but(before, now, renames) and guest.running(),
                      f"{name} live: all renames seen by vmi-ps after the guest ran on",
                      "\n".join(unchanged_but(before, now, renames)[:10]))
        theirs = proc_names(guest.own_procs())
        results.check(all(theirs.get(pid) == new for pid, new in renames.items()),
                      f"{name} live: the guest's own process list shows the {len(renames)} renamed processes",
                      f"renamed {renames}, guest says {({pid: theirs.get(pid) for pid in renames})}")
        check_page_rights(results, tools, guest, base, name)


def check_page_rights(results, tools, guest, base, name):
    """Read-only and user pages: refused without --force, reported in JSON."""
    what = f"{name} live"
    banner = [*base, "--live-write", "--ksym", "linux_banner", "--string", "Linux"]
    rc, out, err = tools.run("vmi-write", *banner)
    results.check(rc == 2 and out == "" and len(err.splitlines()) == 1 and "maps read-only" in err
                  and "give --force" in err and guest.running(),
                  f"{what}: linux_banner, on a page the kernel maps read-only, is refused without --force", err)
    rc, out, err = tools.run("vmi-write", *banner, "--force", "--format", "json")
    change = json.loads(out) if rc == 0 else {}
    pages = change.get("pages", [])
    results.check(rc == 0 and change.get("written") and pages and not pages[0]["writable"]
                  and not pages[0]["user"] and pages[0]["nx"] and not pages[0]["may_be_shared"] and guest.running(),
                  f"{what}: with --force it is written (the same bytes); JSON reports a kernel read-only no-exec page",
                  out + err)

    # A sleep process's own pages: busybox (static, not PIE): code at 0x401000-0x584fff (read-only), data from 0x5db708.
    rows, _ = processes_with_dtb(tools, base)
    dtb = next(row[2] for row in rows if row[1] == "sleep")
    text = [*base, "--live-write", "--dtb", dtb, "--va", "0x40e000", "--hex", "7f"]
    rc, out, err = tools.run("vmi-write", *text)
    results.check(rc == 2 and "maps read-only (user read-only, may be shared)" in err and len(err.splitlines()) == 1,
                  f"{what}: a process's read-only code page is refused", err)
    writable = None
    for va in range(0x5db000, 0x5f0000, 0x1000):
        rc, out, err = tools.run("vmi-write", *base, "--dtb", dtb, "--va", f"{va:#x}", "--hex", "00", "--dry-run",
                                 "--force", "--format", "json")
        pages = json.loads(out).get("pages", [{}]) if rc == 0 else [{}]
        if pages[0].get("writable") and pages[0].get("user"):
            writable = (va, json.loads(out)["old"])
            break
    if not results.check(writable is not None, f"{what}: a sleep process has a writable data page after 0x5db000"):
        return
    va, old = writable
    target = [*base, "--live-write", "--dtb", dtb, "--va", f"{va:#x}", "--hex", old]
    rc, out, err = tools.run("vmi-write", *target)
    results.check(rc == 2 and "is on a user page, which other processes may share" in err
                  and len(err.splitlines()) == 1 and guest.running(),
                  f"{what}: a writable user page ({va:#x}) is refused without --force", err)
    rc, out, err = tools.run("vmi-write", *target, "--force")
    results.check(rc == 0 and "page: user read-write" in out and "may be shared" in out and guest.running(),
                  f"{what}: with --force it is written (its own byte back) and reported as a user page", out + err)


def processes_with_dtb(tools, base):
    rc, out, err = tools.run("vmi-ps", *base, "-o", "pid,name,dtb", "--no-headers", "-r")
    if rc != 0:
        raise SystemExit(f"vmi-ps failed on the live guest: {err[-1500:]}")
    return [line.split(" ", 2) for line in out.splitlines()], None


if __name__ == "__main__":
    sys.exit(run_per_guest(__doc__, ["amd64-4level", "amd64-5level-kaslr", "amd64-6.12-kaslr", "amd64-7.2-kaslr"], check_live_guest))

#!/usr/bin/env python3
"""vmi-write on live guests: a real QEMU reached by its QMP socket.

Boots the cached test guests again and keeps them running (amd64-4level with
RAM in a shared memfd, amd64-5level-kaslr with anonymous RAM), then renames
sleeping processes through their task_struct's comm over every access path
that can write (memfd mapping, process_vm_writev):
- --dry-run changes nothing; the write does, and vmi-ps shows the new name
  for that pid and every other process as before;
- the monitor path, which cannot write, is refused in one line, exit 2;
- the guest runs afterwards, and a guest paused beforehand stays paused.
"""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
sys.path.insert(0, HERE)
from live_checks import processes, same_name  # noqa: E402
from test_live_qmp import running_guest  # noqa: E402
from testlib import run_per_guest  # noqa: E402


def unchanged_but(before, after, renames):
    """Problems: rows of `after` that are not `before` with `renames` applied
    (a kworker's workqueue description may change meanwhile)."""
    problems = [f"{len(before)} rows before, {len(after)} after"] if len(before) != len(after) else []
    for (pid, name, task), (pid2, name2, task2) in zip(before, after):
        wanted = renames.get(pid, name)
        if pid != pid2 or task != task2 or not (name2 == wanted or (pid not in renames and same_name(name, name2))):
            problems.append(f"pid {pid} {wanted!r} {task}: now pid {pid2} {name2!r} {task2}")
    return problems


def check_live_guest(results, tools, name, guest_dir, scratch):
    with running_guest(name, guest_dir) as (guest, base, memfd):
        before, comm = processes(tools, base)
        sleepers = [row for row in before if row[1] == "sleep"]
        renames = {}
        for access, (pid, _, task) in zip(["memfd", "process"] if memfd else ["process"], sleepers):
            what = f"{name} live ({access})"
            target = [*base, "--access", access, "--va", f"{int(task, 16) + comm:#x}"]
            new_name = f"w-{access}"
            rc, out, err = tools.run("vmi-write", *target, "--string", new_name, "--nul", "--dry-run")
            now, _ = processes(tools, base)
            results.check(rc == 0 and out.startswith("would write") and not unchanged_but(before, now, renames),
                          f"{what}: --dry-run prints the change and changes nothing", out + err)
            rc, out, err = tools.run("vmi-write", *target, "--string", new_name, "--nul", "-v")
            renames[pid] = new_name
            now, _ = processes(tools, base)
            problems = unchanged_but(before, now, renames)
            results.check(rc == 0 and out.startswith(f"wrote {len(new_name) + 1} bytes at") and not problems
                          and guest.running(),
                          f"{what}: pid {pid} renamed {new_name!r}; every other process as before; guest runs",
                          "\n".join(problems[:10]) + out + err[-1500:])

        pid, _, task = sleepers[-1]
        target = [*base, "--va", f"{int(task, 16) + comm:#x}", "--string", "w-paused", "--nul"]
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
        now, _ = processes(tools, base)
        results.check(not unchanged_but(before, now, renames) and guest.running(),
                      f"{name} live: all renames seen by vmi-ps after the guest ran on",
                      "\n".join(unchanged_but(before, now, renames)[:10]))


if __name__ == "__main__":
    sys.exit(run_per_guest(__doc__, ["amd64-4level", "amd64-5level-kaslr"], check_live_guest))

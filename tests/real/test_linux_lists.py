#!/usr/bin/env python3
"""vmi-ps and vmi-lsmod against real Linux guests (the paper's Tables 1 and 2).

Every guest built by tests/guests/build-guests.sh, ELF and raw dump alike:
the process list must be the one the guest read from its own /proc just
before it was paused (procs.txt, threads.txt, cmdline.txt), and the module
list its own /proc/modules. amd64 guests take structure offsets from BTF (the
guest's own vmlinuz); i386 guests, whose kernels have no BTF, from explicit
config keys (share/profiles/<release>/offsets.conf).

Known, documented differences that are not errors (tests/guests/README.md):
- pid 1, which wrote the lists, was running then (R) and sleeps in the dump (S);
- a regular kworker's "-description" (the workqueue it last ran, which procfs
  appends to its name as vmi-ps does) may have changed in between.
Nothing else is forgiven.
"""
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from testlib import run_per_guest, same_name, linux_guest_config, module_mismatches, read_guest_env  # noqa: E402

GUESTS = ["amd64-4level", "amd64-5level-kaslr", "i386-pae", "i386-2level", "amd64-2000procs", "amd64-busy-kpti",
          "amd64-6.12-kaslr", "amd64-7.2-kaslr"]


def read_columns(path, count):
    """Rows of a whitespace-separated file whose last column may hold spaces."""
    rows = []
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            parts = line.rstrip("\n").split(None, count - 1)
            if len(parts) == count:
                rows.append(parts)
            elif len(parts) == count - 1:
                rows.append(parts + [""])
    return rows


def lister_pid(guest_dir, env):
    """Pid of the process that wrote the guest's lists: GUEST_LISTER_PID, else the
    first word of the lister section (lister.txt or the console)."""
    if env.get("GUEST_LISTER_PID"):
        return env["GUEST_LISTER_PID"]
    path = os.path.join(guest_dir, "lister.txt")
    text = open(path).read() if os.path.exists(path) else ""
    if not text:
        console = open(os.path.join(guest_dir, "console.log"), errors="replace").read()
        if "@@VMI BEGIN lister@@" in console:
            text = console.split("@@VMI BEGIN lister@@", 1)[1].split("@@VMI END lister@@", 1)[0]
    words = text.split()
    return words[0] if words and words[0].isdigit() else None


def compare_processes(results, what, ours, guest, fields, lister=None, state_field=None, skip=()):
    """ours/guest: {pid: [field values..., name]}. Every pid in both, every field
    equal, the name by same_name(); two differences are allowed in field
    `state_field`, both a task that ran when the guest read /proc and slept by the
    time of the dump: the lister (pid `lister`), R in the guest's list and S in the
    dump, and a kernel thread (kthreadd's child) R in the guest's list and idle or
    asleep (I, S) in the dump: the kernel wakes those on its own (RCU grace periods,
    timers, work queues), so on a loaded host one is sometimes caught running. Pids in
    `skip` are not compared."""
    problems = []
    for pid in sorted(set(ours) | set(guest), key=int):
        if pid in skip:
            continue
        if pid not in ours:
            problems.append(f"pid {pid} ({guest[pid][-1]}) missing from vmi-ps")
        elif pid not in guest:
            problems.append(f"pid {pid} ({ours[pid][-1]}) not in the guest's list")
        else:
            a, b = list(ours[pid]), list(guest[pid])
            if state_field is not None and b[state_field] == "R":
                kernel_thread = "ppid" in fields and b[fields.index("ppid") - 1] == "2"
                if (pid == lister and a[state_field] == "S") or (kernel_thread and a[state_field] in ("I", "S")):
                    b[state_field] = a[state_field]
            if not same_name(b[-1], a[-1]) or a[:-1] != b[:-1]:
                problems.append(f"pid {pid}: vmi-ps {a} guest {b}")
    results.check(not problems and len(ours) > 20,
                  f"{what}: vmi-ps matches the guest's own list ({', '.join(fields)}) for {len(ours)} processes",
                  "\n".join(problems[:20]))


def multi_threaded(threads):
    """{pid: number of threads} of the processes with more than one, from {tid: [pid, name]}."""
    counts = {}
    for pid, _ in threads.values():
        counts[pid] = counts.get(pid, 0) + 1
    return {pid: n for pid, n in counts.items() if n > 1}


def link_time_map(guest_dir, env, scratch):
    """A System.map with link-time addresses: the kernel image's kallsyms
    entries moved back by the KASLR slide the guest reported (Debian ships no
    real System.map for amd64 outside its -dbg package)."""
    slide = int(env["GUEST_KASLR_SLIDE"], 16)
    path = os.path.join(scratch, f"System.map-link-{os.path.basename(guest_dir)}")
    with open(os.path.join(guest_dir, "kallsyms")) as src, open(path, "w") as dst:
        for line in src:
            parts = line.split()
            if len(parts) != 3:
                continue  # module symbols are not in a System.map
            address = int(parts[0], 16)
            if address >= 0xffffffff80000000:
                address -= slide
            dst.write(f"{address:016x} {parts[1]} {parts[2]}\n")
    return path


def check_link_time_map(results, tools, name, guest_dir, env, common, what, scratch):
    """A link-time System.map on a KASLR guest gives the same lists."""
    sysmap = link_time_map(guest_dir, env, scratch)
    for tool, args in (("vmi-ps", ["-o", "pid,ppid,name", "--no-headers", "-r"]), ("vmi-lsmod", [])):
        rc1, want, _ = tools.run(tool, *common, *args)
        rc2, got, err = tools.run(tool, *common, "--sysmap", sysmap, *args, "-v")
        slide = int(env["GUEST_KASLR_SLIDE"], 16)
        results.check(rc1 == 0 and rc2 == 0 and got == want and want and f"KASLR slide {slide:#x}" in err,
                      f"{what}: {tool} with a link-time System.map on a KASLR guest (slide "
                      f"{env['GUEST_KASLR_SLIDE']} found by the tool) gives the same list", err[-2000:])


def check_guest(results, tools, name, guest_dir, scratch):
    env = read_guest_env(guest_dir)
    config = linux_guest_config(name, guest_dir, env, scratch)
    lister = lister_pid(guest_dir, env)
    has_procs = os.path.exists(os.path.join(guest_dir, "procs.txt"))
    guest_names = {r[0]: r[5] for r in read_columns(os.path.join(guest_dir, "procs.txt"), 6)} if has_procs else {}
    for kind in ("elf", "raw"):
        what = f"{name} {kind}"
        common = ["-c", config, name, "--image", os.path.join(guest_dir, f"memory.{kind}")]
        # (i386 guests use a link-time System.map, their profile's, anyway.)
        if env.get("GUEST_KASLR") == "1" and env["GUEST_ARCH"] == "x86_64":
            check_link_time_map(results, tools, name, guest_dir, env, common, what, scratch)

        if has_procs:
            rc, out, err = tools.run("vmi-ps", *common, "-o", "pid,ppid,uid,gid,state,name", "--no-headers", "-r")
            ours = {r[0]: r[1:] for r in (line.split(" ", 5) for line in out.splitlines())}
            guest = {r[0]: r[1:] for r in read_columns(os.path.join(guest_dir, "procs.txt"), 6)}
            ok = results.check(rc == 0 and err == "", f"{what}: vmi-ps runs cleanly", f"rc={rc} {err}")
            if ok:
                compare_processes(results, what, ours, guest, ["pid", "ppid", "uid", "gid", "state", "name"],
                                  lister=lister, state_field=3)
        else:
            # An old guest without procs.txt: busybox ps.txt, which lists ps itself (the highest pid).
            rc, out, err = tools.run("vmi-ps", *common, "-o", "pid,name", "--no-headers", "-r")
            ours = {r[0]: r[1:] for r in (line.split(" ", 1) for line in out.splitlines())}
            rows = read_columns(os.path.join(guest_dir, "ps.txt"), 5)[1:]
            guest = {r[0]: [r[4]] for r in rows}
            compare_processes(results, what, ours, guest, ["pid", "name"], skip={max(guest, key=int)})

        threads_file = os.path.join(guest_dir, "threads.txt")
        if os.path.exists(threads_file):
            rc, out, err = tools.run("vmi-ps", *common, "--threads", "-o", "pid,tid,name", "--no-headers", "-r")
            ours = {r[1]: [r[0], r[2]] for r in (line.split(" ", 2) for line in out.splitlines())}
            guest = {r[1]: [r[0], r[2]] for r in read_columns(threads_file, 3)}
            compare_processes(results, f"{what} --threads", ours, guest, ["pid", "tid", "name"])
            # The processes with more than one thread, and how many: the guest's word
            # (threads.txt; on amd64 the `threaded` process guest.env names), not ours.
            want = multi_threaded(guest)
            if env["GUEST_ARCH"] == "x86_64":
                results.check(want.get(env["GUEST_THREADED_PID"]) == int(env["GUEST_THREADED_TASKS"]),
                              f"{name}: the guest lists its threaded process (pid {env['GUEST_THREADED_PID']}) with "
                              f"{env['GUEST_THREADED_TASKS']} threads", want)
            results.check(rc == 0 and multi_threaded(ours) == want,
                          f"{what}: --threads gives the multi-threaded processes the guest lists: "
                          f"{', '.join(f'pid {p} with {n}' for p, n in sorted(want.items())) or 'none'}",
                          f"rc={rc} vmi-ps {multi_threaded(ours)} guest {want} {err}")

        cmdline_file = os.path.join(guest_dir, "cmdline.txt")
        if os.path.exists(cmdline_file):
            rc, out, err = tools.run("vmi-ps", *common, "-o", "pid,cmd", "--no-headers", "-r")
            ours = dict(line.split(" ", 1) if " " in line else (line, "") for line in out.splitlines())
            theirs = dict(read_columns(cmdline_file, 2))
            problems = [f"pid {pid} missing from vmi-ps" for pid in theirs if pid not in ours]
            problems += [f"pid {pid} not in the guest's cmdline.txt" for pid in ours if pid not in theirs]
            for pid, args in theirs.items():
                if pid not in ours:
                    continue
                got = ours[pid]
                if args.strip():
                    ok = got == args.strip()
                    expected = args.strip()
                else:
                    # A kernel thread: ps shows [name], the name procfs gives (procs.txt).
                    expected = f"[{guest_names.get(pid, '?')}]"
                    ok = got.startswith("[") and got.endswith("]") and pid in guest_names \
                        and same_name(guest_names[pid], got[1:-1])
                if not ok:
                    problems.append(f"pid {pid}: vmi-ps '{got}' guest '{expected}'")
            results.check(rc == 0 and not problems and len(theirs) > 20,
                          f"{what}: vmi-ps cmd (read through each process's own page tables) matches "
                          f"/proc/PID/cmdline for the guest's {len(theirs)} processes",
                          "\n".join(problems[:20]) + err)

        rc, out, err = tools.run("vmi-ps", *common, "--format", "json")
        ok = rc == 0
        if ok:
            items = json.loads(out)
            keys = {"pid", "ppid", "uid", "gid", "state", "name", "task", "dtb", "kernel_thread"}
            ok = len(items) > 20 and all(keys <= set(i) for i in items) and \
                all((i["dtb"] is None) == i["kernel_thread"] for i in items if i["pid"] not in (1,))
        rc2, out2, _ = tools.run("vmi-ps", *common, "--format", "jsonl")
        ok = ok and rc2 == 0 and [json.loads(line) for line in out2.splitlines()] == items
        results.check(ok, f"{what}: vmi-ps --format json/jsonl carry every field; user processes have a dtb",
                      err)

        rc, out, err = tools.run("vmi-lsmod", *common, "--format", "json")
        ours, guest_modules, problems = module_mismatches(out if rc == 0 else None,
                                                          os.path.join(guest_dir, "modules.txt"))
        results.check(rc == 0 and not problems and len(ours) == len(guest_modules),
                      f"{what}: vmi-lsmod matches the guest's /proc/modules ({len(guest_modules)} modules: "
                      f"name, size, refcount, users, state, address)", "\n".join(problems) + err)


def main():
    return run_per_guest(__doc__, GUESTS, check_guest)


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""vmi-ps and vmi-lsmod against real Linux guests (the paper's Tables 1 and 2).

Every guest built by tests/guests/build-guests.sh, ELF and raw dump alike:
the process list must be the one the guest read from its own /proc just
before it was paused (procs.txt, threads.txt, cmdline.txt), and the module
list its own /proc/modules. amd64 guests take structure offsets from BTF (the
guest's own vmlinuz); i386 guests, whose kernels have no BTF, from explicit
config keys (share/profiles/<release>/offsets.conf).

Known, documented differences that are not errors:
- the processes that did the listing (recorded by the guest) may have exited
  or changed state by the time of the dump;
- a kworker's "-description" (the workqueue it last ran, which procfs
  appends to its name as vmi-ps does) may have changed in between.
"""
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from testlib import run_per_guest, same_name, linux_guest_config, read_guest_env  # noqa: E402

GUESTS = ["amd64-4level", "amd64-5level-kaslr", "i386-pae", "i386-2level", "amd64-2000procs", "amd64-busy-kpti"]


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


def lister_pids(guest_dir):
    """Pids of the guest's own listing processes (lister.txt or the console)."""
    pids = set()
    path = os.path.join(guest_dir, "lister.txt")
    text = open(path).read() if os.path.exists(path) else ""
    if not text:
        console = open(os.path.join(guest_dir, "console.log"), errors="replace").read()
        if "@@VMI BEGIN lister@@" in console:
            text = console.split("@@VMI BEGIN lister@@", 1)[1].split("@@VMI END lister@@", 1)[0]
    for word in text.split():
        if word.isdigit():
            pids.add(word)
    return pids


def compare_processes(results, what, ours, guest, lister, fields):
    """ours/guest: {pid: [field values..., name]}; lister pids may differ."""
    problems = []
    for pid in sorted(set(ours) | set(guest), key=int):
        if pid in lister:
            continue
        if pid not in ours:
            problems.append(f"pid {pid} ({guest[pid][-1]}) missing from vmi-ps")
        elif pid not in guest:
            problems.append(f"pid {pid} ({ours[pid][-1]}) not in the guest's list")
        else:
            a, b = ours[pid], guest[pid]
            if not same_name(b[-1], a[-1]) or a[:-1] != b[:-1]:
                problems.append(f"pid {pid}: vmi-ps {a} guest {b}")
    results.check(not problems and len(ours) > 20,
                  f"{what}: vmi-ps matches the guest's own list ({', '.join(fields)}) for {len(ours)} processes",
                  "\n".join(problems[:20]))


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
    for tool, args in (("vmi-ps", ["-o", "pid,ppid,name", "--no-headers"]), ("vmi-lsmod", [])):
        rc1, want, _ = tools.run(tool, *common, *args)
        rc2, got, err = tools.run(tool, *common, "--sysmap", sysmap, *args, "-v")
        slide = int(env["GUEST_KASLR_SLIDE"], 16)
        results.check(rc1 == 0 and rc2 == 0 and got == want and want and f"KASLR slide {slide:#x}" in err,
                      f"{what}: {tool} with a link-time System.map on a KASLR guest (slide "
                      f"{env['GUEST_KASLR_SLIDE']} found by the tool) gives the same list", err[-2000:])


def check_guest(results, tools, name, guest_dir, scratch):
    env = read_guest_env(guest_dir)
    config = linux_guest_config(name, guest_dir, env, scratch)
    lister = lister_pids(guest_dir)
    has_procs = os.path.exists(os.path.join(guest_dir, "procs.txt"))
    for kind in ("elf", "raw"):
        what = f"{name} {kind}"
        common = ["-c", config, name, "--image", os.path.join(guest_dir, f"memory.{kind}")]
        # (i386 guests use a link-time System.map, their profile's, anyway.)
        if env.get("GUEST_KASLR") == "1" and env["GUEST_ARCH"] == "x86_64":
            check_link_time_map(results, tools, name, guest_dir, env, common, what, scratch)

        if has_procs:
            rc, out, err = tools.run("vmi-ps", *common, "-o", "pid,ppid,uid,gid,state,name", "--no-headers")
            ours = {r[0]: r[1:] for r in (line.split(" ", 5) for line in out.splitlines())}
            guest = {r[0]: r[1:] for r in read_columns(os.path.join(guest_dir, "procs.txt"), 6)}
            ok = results.check(rc == 0 and err == "", f"{what}: vmi-ps runs cleanly", f"rc={rc} {err}")
            if ok:
                compare_processes(results, what, ours, guest, lister, ["pid", "ppid", "uid", "gid", "state", "name"])
        else:
            rc, out, err = tools.run("vmi-ps", *common, "-o", "pid,name", "--no-headers")
            ours = {r[0]: r[1:] for r in (line.split(" ", 1) for line in out.splitlines())}
            rows = read_columns(os.path.join(guest_dir, "ps.txt"), 5)[1:]
            guest = {r[0]: [r[4]] for r in rows}
            compare_processes(results, what, ours, guest, lister | {max(guest, key=int)}, ["pid", "name"])

        threads_file = os.path.join(guest_dir, "threads.txt")
        if os.path.exists(threads_file):
            rc, out, err = tools.run("vmi-ps", *common, "--threads", "-o", "pid,tid,name", "--no-headers")
            ours = {r[1]: [r[0], r[2]] for r in (line.split(" ", 2) for line in out.splitlines())}
            guest = {r[1]: [r[0], r[2]] for r in read_columns(threads_file, 3)}
            compare_processes(results, f"{what} --threads", ours, guest, lister, ["pid", "tid", "name"])
            multi = [pid for pid in {v[0] for v in ours.values()} if sum(1 for v in ours.values() if v[0] == pid) > 1]
            results.check(rc == 0 and (env["GUEST_ARCH"] != "x86_64" or multi),
                          f"{what}: --threads lists the threads of a multi-threaded process", f"rc={rc} {err}")

        cmdline_file = os.path.join(guest_dir, "cmdline.txt")
        if os.path.exists(cmdline_file):
            rc, out, err = tools.run("vmi-ps", *common, "-o", "pid,name,cmd", "--no-headers")
            ours = {r[0]: r for r in (line.split(" ", 2) for line in out.splitlines())}
            problems = []
            for pid, args in read_columns(cmdline_file, 2):
                if pid in lister or pid not in ours:
                    continue
                expected = args.strip() if args.strip() else f"[{ours[pid][1]}]"
                if ours[pid][2] != expected:
                    problems.append(f"pid {pid}: vmi-ps '{ours[pid][2]}' guest '{expected}'")
            results.check(rc == 0 and not problems,
                          f"{what}: vmi-ps cmd (read through each process's own page tables) matches "
                          f"/proc/PID/cmdline", "\n".join(problems[:20]) + err)

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
        ours = {m["name"]: m for m in json.loads(out)} if rc == 0 else {}
        problems = []
        with open(os.path.join(guest_dir, "modules.txt")) as f:
            guest_modules = [line.split() for line in f if line.strip()]
        for name_, size, refs, deps, state, address in guest_modules:
            m = ours.get(name_)
            got = m and [str(m["size"]), str(m["refcount"]), ",".join(m["used_by"]) + "," if m["used_by"] else "-",
                         m["state"], m["address"]]
            want = [size, refs, deps, state, hex(int(address, 16))]
            if got != want:
                problems.append(f"{name_}: vmi-lsmod {got} guest {want}")
        results.check(rc == 0 and not problems and len(ours) == len(guest_modules),
                      f"{what}: vmi-lsmod matches the guest's /proc/modules ({len(guest_modules)} modules: "
                      f"name, size, refcount, users, state, address)", "\n".join(problems) + err)


def main():
    return run_per_guest(__doc__, GUESTS, check_guest)


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""testlib's own page-table walker and structure offsets, against the guests' facts.

The other tests take physical addresses and structure offsets from testlib
(PageTables over the dump files, pahole on the kernel's BTF) instead of from
the tools they test. This checks that independent view against what each
guest said about itself, in every paging mode, raw dump and ELF core alike:
- linux_banner (the guest's kallsyms address; for i386 the profile's
  System.map plus the slide the guest's _stext showed) translates to where
  the guest's /proc/version text lies in physical memory;
- the kernel's direct map reaches the same physical byte (amd64: the
  page_offset_base variable read through the walker; i386: PAGE_OFFSET);
- init_task's pid and comm at pahole's offsets are 0 and "swapper/0", and
  the task list walked from it holds exactly the guest's processes
  (procs.txt); the module list holds exactly its /proc/modules;
- page 0 and a non-canonical address are not mapped; with page-table
  isolation the user half of the PGD pair (the CR3 the vCPU had) does not
  map the banner while the kernel half does;
- both 4 KiB pages and large pages were crossed on the way.
"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from testlib import (REGULAR_KWORKER, PageTables, guest_symbol, kernel_page_tables,  # noqa: E402
                     read_guest_env, run_per_guest, struct_facts, walk_module_list, walk_task_list)

GUESTS = ["amd64-4level", "amd64-5level-kaslr", "i386-pae", "i386-2level", "amd64-2000procs", "amd64-busy-kpti",
          "amd64-6.12-kaslr", "amd64-7.2-kaslr"]
I386_PAGE_OFFSET = 0xc0000000  # Debian's 686 kernels: CONFIG_VMSPLIT_3G


def procs(guest_dir):
    """{pid: comm as procfs showed it} from procs.txt."""
    found = {}
    with open(os.path.join(guest_dir, "procs.txt"), encoding="utf-8", errors="replace") as f:
        for line in f:
            parts = line.rstrip("\n").split(" ", 5)
            if len(parts) == 6:
                found[int(parts[0])] = parts[5]
    return found


def comm_of(procfs_name):
    """task_struct.comm for a name procfs shows: at most 15 bytes, and a regular
    kworker's "-workqueue" description is not part of it."""
    match = REGULAR_KWORKER.fullmatch(procfs_name)
    if match:
        return match.group(1)
    return procfs_name.encode()[:15].decode(errors="replace")


def check_guest(results, tools, name, guest_dir, scratch):
    env = read_guest_env(guest_dir)
    with open(os.path.join(guest_dir, "version.txt")) as f:
        version = f.read().rstrip("\n").encode()
    facts = struct_facts(guest_dir, env, scratch)
    banner = guest_symbol(guest_dir, env, scratch, "linux_banner")
    init_task = guest_symbol(guest_dir, env, scratch, "init_task")
    modules_head = guest_symbol(guest_dir, env, scratch, "modules")
    seen = {}
    for kind in ("raw", "elf"):
        what = f"{name} {kind}"
        tables = kernel_page_tables(guest_dir, env, kind)
        sizes = set()

        def translate(va):
            found = tables.translate(va)
            if found:
                sizes.add(found[1])
            return found

        found = translate(banner)
        at = found[0] if found else None
        text = tables.memory.read(at, len(version)) if found else b""
        results.check(text == version, f"{what}: linux_banner {banner:#x} translates to {at and hex(at)}, "
                      f"where the guest's /proc/version lies", f"{tables.last_problem} {text[:80]!r}")
        if not found:
            continue
        seen.setdefault("banner", set()).add(at)

        if env["GUEST_ARCH"] == "x86_64":
            base = tables.pointer(guest_symbol(guest_dir, env, scratch, "page_offset_base"))
        else:
            base = I386_PAGE_OFFSET
        direct = translate(base + at)
        results.check(direct is not None and direct[0] == at,
                      f"{what}: the direct map ({base:#x} + physical) reaches the same byte",
                      f"{direct} {tables.last_problem}")

        walked = walk_task_list(tables, facts, init_task)
        for task, _, _ in walked:
            translate(task)
        results.check(walked[0][1:] == (0, "swapper/0"),
                      f"{what}: init_task has pid 0 and comm 'swapper/0' at pahole's offsets "
                      f"(+{facts['task_struct.pid']:#x}, +{facts['task_struct.comm']:#x})", walked[0])
        guest = procs(guest_dir)
        ours = {pid: comm for _, pid, comm in walked[1:]}
        problems = [f"pid {pid}: walk {ours.get(pid)!r} guest {guest.get(pid)!r}"
                    for pid in sorted(set(guest) | set(ours))
                    if pid not in guest or pid not in ours or ours[pid] != comm_of(guest[pid])]
        results.check(not problems and len(ours) > 20,
                      f"{what}: the task list walked from init_task holds the guest's {len(guest)} processes",
                      "\n".join(problems[:20]))

        modules = walk_module_list(tables, facts, modules_head)
        for module, _ in modules:
            translate(module)
        with open(os.path.join(guest_dir, "modules.txt")) as f:
            theirs = sorted(line.split()[0] for line in f if line.strip())
        results.check(sorted(n for _, n in modules) == theirs,
                      f"{what}: the module list walked from `modules` holds the guest's {len(theirs)} modules",
                      f"walk {[n for _, n in modules]} guest {theirs}")

        results.check(tables.translate(0x10) is None, f"{what}: page 0 is not mapped", tables.translate(0x10))
        if env["GUEST_ARCH"] == "x86_64":
            results.check(tables.translate(1 << 56) is None and tables.last_problem == "non-canonical",
                          f"{what}: a non-canonical address is not mapped")
        if env.get("GUEST_CR3_USER") == "1":
            user = PageTables(tables.memory, env["GUEST_PAGING"], int(env["GUEST_CR3"], 16) & ~0xfff)
            results.check(user.translate(banner) is None and tables.root == user.root - 0x1000,
                          f"{what}: the user CR3 {env['GUEST_CR3']} (page-table isolation) does not map the banner; "
                          f"the kernel half {tables.root:#x} does", user.translate(banner))
        results.check(4096 in sizes and any(size > 4096 for size in sizes),
                      f"{what}: the walks crossed 4 KiB and large pages ({', '.join(hex(s) for s in sorted(sizes))})")
        seen.setdefault("tasks", set()).add(tuple(walked))
        tables.memory.close()
    results.check(all(len(v) == 1 for v in seen.values()) and len(seen) == 2,
                  f"{name}: the raw dump and the ELF core give the same translations and lists")


def main():
    return run_per_guest(__doc__, GUESTS, check_guest)


if __name__ == "__main__":
    sys.exit(main())

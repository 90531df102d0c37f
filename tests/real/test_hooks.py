#!/usr/bin/env python3
"""vmi-hooks on the test guests' dumps, with nothing but the dump.

Each clean guest gives no finding. Its hook rows are checked against sources
that are not the tool:
- the system-call table's slots against the host's <asm/unistd_64.h> (or
  unistd_32.h for i386 guests): slot N holds the function of the system call
  numbered N, or sys_ni_syscall;
- every named target against the address the guest's own /proc/kallsyms
  gave that name;
- the branches out of each dispatch function (x64_sys_call, ia32_sys_call,
  x32_sys_call) against objdump's disassembly of the same bytes, read through
  testlib's own page-table walker.

The hiding guests of tests/hiding: the one whose module hides a process with
two ftrace hooks (next_tgid, proc_pid_lookup) gives exactly those two
findings, owned by that module, unless --allow names it; the ones that hide
by changing kernel lists give none. On a copy of its dump, rewritten the ways
rootkits do (a table slot to the module's code, to the middle of kernel text
and to code of no module, a dispatch jump to the module's code), each change
is a finding of its own and nothing else is.

The hook guests of tests/hiding (one boot each, a dump per stage): in
amd64-hooks the legitimate users of the hook points (the function tracer, a
kprobe event, a tracepoint event, our own livepatch) give rows and no finding;
then, with those still on, and in amd64-hooks-hidden with the module off the
module list, each hook mode of vmihide.c (an ftrace hook on getdents64, a
patched call in x64_sys_call, a rewritten sys_call_table slot, a kprobe, a
fake kworker) gives exactly its own finding, named by kind, hooked function
and owner, with the hook function as vmihide.c names it. A listed module's
kprobe is a row, not a finding; --allow silences only a listed module.
"""
import json
import os
import re
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from testlib import REGULAR_KWORKER, kernel_page_tables, read_guest_env, read_kallsyms, run_per_guest  # noqa: E402

HIDING_GUESTS = ["amd64-hide-procfs", "amd64-hide-pidtable", "amd64-hide-tasklist", "amd64-hide-modlist",
                 "amd64-hide-modsysfs"]
# The ftrace hooks of tests/hiding/vmihide.c's procfs mode.
PROCFS_HOOKS = {"next_tgid", "proc_pid_lookup"}

HOOK_GUESTS = ["amd64-hooks", "amd64-hooks-hidden"]
# What each vmihide hook mode must give: (kind, hooked, function of vmihide.c), the
# dispatch site's offset from the module's own report (dmesg) and __NR_kill from the
# host's headers filled in below.
HOOK_MODES = {
    "getdents": [("ftrace", "__x64_sys_getdents64", "getdents_hook")],
    "dispatch": [("syscall_dispatch", "x64_sys_call+{site}", "hooked_kill")],
    "systable": [("syscall_table", "sys_call_table[{nr_kill}]", "hooked_kill")],
    "kprobe": [("kprobe", "__x64_sys_kill", "probe_pre"), ("kprobe", "__x64_sys_kill", "probe_post")],
    "kworker": [("kthread", "kworker/1:2", "fake_worker_fn")],
}

GUESTS = ["amd64-4level", "amd64-5level-kaslr", "amd64-6.12-kaslr", "amd64-7.2-kaslr", "amd64-busy-kpti",
          "amd64-2000procs", "i386-2level", "i386-pae"]
UNISTD = "/usr/include/x86_64-linux-gnu/asm/unistd_{}.h"
# System calls whose function is named otherwise (arch/x86/entry/syscalls/syscall_64.tbl
# and syscall_32.tbl): number name -> the function's name after the __x64_sys_ prefix.
OTHER_NAMES = {"stat": "newstat", "fstat": "newfstat", "lstat": "newlstat", "uname": "newuname",
               "umount2": "umount", "mmap": "old_mmap", "select": "old_select", "readdir": "old_readdir",
               "oldumount": "oldumount", "_llseek": "llseek", "_newselect": "select", "mmap2": "mmap_pgoff",
               "ugetrlimit": "getrlimit", "vm86old": "vm86old", "sigsuspend": "sigsuspend",
               "getpmsg": "ni_syscall", "putpmsg": "ni_syscall", "afs_syscall": "ni_syscall",
               "tuxcall": "ni_syscall", "security": "ni_syscall", "vserver": "ni_syscall"}


def syscall_numbers(bits):
    """{number: name} from the host's kernel headers."""
    numbers = {}
    with open(UNISTD.format(bits)) as f:
        for line in f:
            m = re.match(r"#define __NR_(\w+)\s+(\d+)$", line.strip())
            if m:
                numbers[int(m.group(2))] = m.group(1)
    return numbers


def slot_matches(name, symbol, prefix):
    """Whether `symbol` is a function the system call `name` may have in its slot."""
    stem = symbol[len(prefix):] if symbol.startswith(prefix) else symbol
    # The kernel's usual renamings: new* (the struct changed), *16 (16-bit
    # ids), *32 and *_time32 (32-bit time), old*/old_* (the old ABI's entry), and
    # the 32-bit ABI's *32, *64 and *_time64 numbers for the wide function.
    bare = name.removeprefix("old")
    wide = name.removesuffix("_time64").removesuffix("32").removesuffix("64")
    wanted = {name, "new" + name, name + "16", name + "32", name + "_time32", name + "64", "ia32_" + name,
              "old_" + name, "old" + name, bare, "old" + bare, wide, OTHER_NAMES.get(name, name)}
    return symbol in ("sys_ni_syscall", prefix + "ni_syscall") or stem in wanted


def objdump_branches(code, start, bits, scratch):
    """{(offset, target)} of the direct branches objdump decodes in `code` that
    leave [start, start + len(code))."""
    machine = "i386:x86-64" if bits == 64 else "i386"
    path = os.path.join(scratch, "code.bin")
    with open(path, "wb") as f:
        f.write(code)
    proc = subprocess.run(["objdump", "-D", "-b", "binary", "-m", machine, f"--adjust-vma={start:#x}", path],
                          capture_output=True, check=True)
    out = set()
    for line in proc.stdout.decode().splitlines():
        m = re.match(r"\s*([0-9a-f]+):\s+(?:[0-9a-f]{2} )+\s*(call|jmp|j[a-z]+|loop\w*)\s+0x([0-9a-f]+)\s*$", line)
        if not m:
            continue
        at, target = int(m.group(1), 16), int(m.group(3), 16)
        if not start <= target < start + len(code):
            out.add((at - start, target))
    return out


def findings(tools, dump, *args):
    """(exit code, {(kind, hooked, owner)} of vmi-hooks --check's rows, rows, stderr)."""
    rc, out, err = tools.run("vmi-hooks", "--image", dump, "--check", "--format", "json", *args)
    rows = json.loads(out) if rc in (0, 1) else []
    return rc, {(r["kind"], r["hooked"], r["owner"]) for r in rows}, rows, err


def ko_function(ko, offset):
    """The function of the .ko's .text at `offset`, as NAME or NAME+0xOFF, from
    objdump's symbol table: the module's code region starts with its .text."""
    proc = subprocess.run(["objdump", "-t", ko], capture_output=True, check=True)
    for line in proc.stdout.decode().splitlines():
        m = re.match(r"([0-9a-f]+) .*\sF \.text\s+([0-9a-f]+) (\S+)$", line)
        if m and int(m.group(1), 16) <= offset < int(m.group(1), 16) + int(m.group(2), 16):
            start = int(m.group(1), 16)
            return m.group(3) if offset == start else f"{m.group(3)}+{offset - start:#x}"
    return None


def module_base(guest_dir, module):
    """The module's address as the guest's own /proc/modules gave it."""
    with open(os.path.join(guest_dir, "modules.txt")) as f:
        for line in f:
            parts = line.split()
            if parts and parts[0] == module:
                return int(parts[5], 16)
    raise SystemExit(f"{module} is not in {guest_dir}/modules.txt")


def check_rewritten(results, tools, name, guest_dir, scratch, kallsyms):
    """The dump of the procfs hiding guest, rewritten as a rootkit would."""
    env = read_guest_env(guest_dir)
    base = module_base(guest_dir, "vmihide")
    copy = os.path.join(scratch, "rewritten.elf")
    shutil.copyfile(os.path.join(guest_dir, "memory.elf"), copy)
    table = min(kallsyms["sys_call_table"])
    read = min(kallsyms["__x64_sys_read"])
    writes = [(table + 62 * 8, base + 0x10), (table, read + 4), (table + 8, 0xffffffffdead0000)]
    start = min(kallsyms["x64_sys_call"])
    end = min(a for values in kallsyms.values() for a in values if a > start)
    tables = kernel_page_tables(guest_dir, env, "elf")
    first = min(o for o, _ in objdump_branches(tables.read(start, end - start), start, 64, scratch))
    opcode = tables.read(start + first, 1)[0]
    results.check(opcode == 0xe9, f"{name}: x64_sys_call's first branch out, at +{first:#x}, is a jmp rel32",
                  f"opcode {opcode:#x}")
    rel32 = (base + 0x20 - (start + first + 5)) & 0xffffffff
    for va, value in writes:
        rc, _, err = tools.run("vmi-write", "--image", copy, "--writable-image", "--va", f"{va:#x}", "--u64", f"{value:#x}")
        results.check(rc == 0, f"{name}: the copy's {va:#x} now holds {value:#x}", err)
    rc, _, err = tools.run("vmi-write", "--image", copy, "--writable-image", "--va", f"{start + first + 1:#x}", "--u32", f"{rel32:#x}")
    results.check(rc == 0, f"{name}: the copy's x64_sys_call+{first:#x} jumps to vmihide+0x20", err)
    rc, found, rows, err = findings(tools, copy)
    expected = {("ftrace", hook, "vmihide") for hook in PROCFS_HOOKS} | {
        ("syscall_table", "sys_call_table[62]", "vmihide"), ("syscall_table", "sys_call_table[0]", "core"),
        ("syscall_table", "sys_call_table[1]", None), ("syscall_dispatch", f"x64_sys_call+{first:#x}", "vmihide")}
    symbols = {r["hooked"]: r["target_symbol"] for r in rows}
    ko = os.path.join(guest_dir, "vmihide.ko")
    results.check(rc == 1 and found == expected and symbols.get("sys_call_table[62]") == ko_function(ko, 0x10) and
                  symbols.get("sys_call_table[0]") == "__x64_sys_read+0x4" and
                  symbols.get(f"x64_sys_call+{first:#x}") == ko_function(ko, 0x20),
                  f"{name} rewritten: each rewritten slot and jump is a finding, named by its owner, and nothing else",
                  f"rc={rc}\nonly vmi-hooks: {sorted(found - expected, key=str)}\n"
                  f"missing: {sorted(expected - found, key=str)}\n{symbols}\n{err[-800:]}")
    os.unlink(copy)


def check_hiding_guest(results, tools, name, guest_dir, scratch):
    dump = os.path.join(guest_dir, "memory.elf")
    rc, found, rows, err = findings(tools, dump)
    if name != "amd64-hide-procfs":
        results.check(rc == 0 and not found, f"{name}: a module that hides by changing kernel lists sets no hook",
                      f"rc={rc} {sorted(found, key=str)}\n{err[-800:]}")
        return
    expected = {("ftrace", hook, "vmihide") for hook in PROCFS_HOOKS}
    ok = rc == 1 and found == expected and all("IPMODIFY" in r["flags"] and not r["owner_hidden"] for r in rows)
    results.check(ok, f"{name}: its module's two ftrace hooks (IPMODIFY) are the findings, owned by vmihide",
                  f"rc={rc} {rows}\n{err[-800:]}")
    # Each callback named by the module's own symbols, as its .ko's symbol table has it.
    base, ko = module_base(guest_dir, "vmihide"), os.path.join(guest_dir, "vmihide.ko")
    names = {r["target_symbol"]: ko_function(ko, int(r["target"], 16) - base) for r in rows}
    results.check(names and all(ours == theirs and theirs for ours, theirs in names.items()),
                  f"{name}: the hook functions are named as vmihide.ko's symbol table names them "
                  f"({', '.join(sorted(names))})", str(names))
    rc, found, _, err = findings(tools, dump, "--allow", "vmihide")
    results.check(rc == 0 and not found, f"{name}: --allow vmihide silences the listed module's hooks",
                  f"rc={rc} {sorted(found, key=str)}\n{err[-800:]}")
    kallsyms = {}
    for address, _, symbol, module in read_kallsyms(os.path.join(guest_dir, "kallsyms")):
        if not module:
            kallsyms.setdefault(symbol, set()).add(address)
    check_rewritten(results, tools, name, guest_dir, scratch, kallsyms)


def check_legit_stage(results, tools, name, dump):
    """The tracers and the livepatch switched on: rows of core code, no finding."""
    rc, found, _, err = findings(tools, dump)
    results.check(rc == 0 and not found, f"{name} legit: the function tracer, a kprobe event, a tracepoint event "
                  "and a livepatch give no finding", f"rc={rc} {sorted(found, key=str)}\n{err[-800:]}")
    rc, out, err = tools.run("vmi-hooks", "--image", dump, "--format", "json")
    rows = json.loads(out) if rc == 0 else []
    seen = {(r["kind"], r["hooked"], r["target_symbol"], r["owner"]) for r in rows}
    wanted = {("ftrace", "cmdline_proc_show", "klp_ftrace_handler", "core"),     # the livepatch
              ("ftrace", "do_sys_openat2", "kprobe_ftrace_handler", "core"),     # the kprobe event, on ftrace
              ("kprobe", "do_sys_openat2", "kprobe_dispatcher", "core")}
    tracer = [r for r in rows if r["kind"] == "ftrace" and r["target_symbol"] == "function_trace_call"]
    livepatch = [r for r in rows if r["hooked"] == "cmdline_proc_show"]
    results.check(rc == 0 and wanted <= seen and tracer and livepatch and "IPMODIFY" in livepatch[0]["flags"],
                  f"{name} legit: the livepatch (IPMODIFY), the kprobe event and the function tracer are rows, "
                  "their callbacks core text", f"rc={rc}\nmissing: {sorted(wanted - seen)}\n"
                  f"tracer: {tracer}\nlivepatch: {livepatch}\n{err[-800:]}")


def check_hook_stage(results, tools, name, stage, stage_dir, hidden):
    """One hook mode of vmihide: exactly its findings, named, owned by vmihide."""
    dump = os.path.join(stage_dir, "memory.elf")
    with open(os.path.join(stage_dir, "view.txt")) as f:
        view = f.read()
    site = re.search(r"x64_sys_call\+(0x[0-9a-f]+) now branches to hooked_kill", view)
    nr_kill = {v: k for k, v in syscall_numbers(64).items()}["kill"]
    wanted = {(kind, hooked.format(site=site.group(1) if site else "?", nr_kill=nr_kill), function)
              for kind, hooked, function in HOOK_MODES[stage]}
    rc, out, err = tools.run("vmi-hooks", "--image", dump, "--format", "json")
    rows = json.loads(out) if rc in (0, 1) else []
    ours = [r for r in rows if r["owner"] == "vmihide"]
    got = {(r["kind"], r["hooked"], r["target_symbol"]) for r in ours}
    flagged = {(r["kind"], r["hooked"], r["target_symbol"]) for r in rows if r["finding"]}
    # A listed module's kprobe changes nothing by itself: a row, not a finding.
    should_flag = wanted if hidden or stage != "kprobe" else set()
    check_rc, found, _, check_err = findings(tools, dump)
    results.check(rc == 0 and got == wanted and flagged == should_flag and
                  all(r["owner_hidden"] == hidden for r in ours) and
                  check_rc == (1 if should_flag else 0) and found == {(k, h, "vmihide") for k, h, _ in should_flag},
                  f"{name} {stage}: vmi-hooks names {sorted(h for _, h, _ in wanted)} hooked by vmihide's "
                  f"{sorted(f for _, _, f in wanted)}" + (" (a hidden module)" if hidden else "") +
                  (", as findings" if should_flag else ", not a finding"),
                  f"rc={rc}\nvmihide's rows: {sorted(got)}\nwanted: {sorted(wanted)}\nfindings: {sorted(flagged)}\n"
                  f"owner_hidden: {[r['owner_hidden'] for r in ours]}\n--check: rc={check_rc} {sorted(found, key=str)}\n"
                  f"{err[-800:]}{check_err[-800:]}")
    if stage == "kworker":
        pid = re.search(r"^kworker (\d+)$", view, re.M)
        row = [r for r in ours if r["kind"] == "kthread"]
        results.check(pid and row and row[0]["pid"] == int(pid.group(1)),
                      f"{name} kworker: the fake kworker's pid is the one the guest's /proc gave "
                      f"({pid.group(1) if pid else '?'})", f"{row}")
    if should_flag:
        rc, found, _, err = findings(tools, dump, "--allow", "vmihide")
        results.check(rc == (1 if hidden else 0) and bool(found) == hidden,
                      f"{name} {stage}: --allow vmihide " + ("does not silence a hidden module" if hidden
                                                            else "silences the listed module"),
                      f"rc={rc} {sorted(found, key=str)}\n{err[-800:]}")


def check_hook_guest(results, tools, name, guest_dir):
    env = read_guest_env(guest_dir)
    hidden = env["GUEST_HOOK_HIDDEN"] == "1"
    for stage in env["GUEST_HOOK_STAGES"].split():
        stage_dir = os.path.join(guest_dir, stage)
        if stage == "legit":
            check_legit_stage(results, tools, name, os.path.join(stage_dir, "memory.elf"))
        else:
            check_hook_stage(results, tools, name, stage, stage_dir, hidden)


def check_guest(results, tools, name, guest_dir, scratch):
    if name in HOOK_GUESTS:
        check_hook_guest(results, tools, name, guest_dir)
        return
    if name in HIDING_GUESTS:
        check_hiding_guest(results, tools, name, guest_dir, scratch)
        return
    env = read_guest_env(guest_dir)
    bits = 64 if env["GUEST_ARCH"] == "x86_64" else 32
    dump = os.path.join(guest_dir, "memory.elf")
    home = os.path.join(scratch, "home")
    os.makedirs(home, exist_ok=True)
    fresh = {"HOME": home, "XDG_CACHE_HOME": os.path.join(home, "cache"), "XDG_CONFIG_HOME": home}

    rc, out, err = tools.run("vmi-hooks", "--image", dump, "--check", env=fresh)
    results.check(rc == 0 and out == "", f"{name}: vmi-hooks --check finds nothing on a clean guest",
                  f"rc={rc}\n{out[:1500]}\n{err[-1500:]}")

    rc, out, err = tools.run("vmi-hooks", "--image", dump, "--format", "json", "-v", env=fresh)
    rows = json.loads(out) if rc == 0 else []
    results.check(rc == 0 and rows and not any(r["finding"] for r in rows),
                  f"{name}: vmi-hooks lists {len(rows)} hook rows, none a finding", err[-1500:])
    if not rows:
        return

    # The table's slots against the system-call numbers of the host's headers.
    prefix = "__x64_sys_" if bits == 64 else "__ia32_sys_"
    numbers = syscall_numbers(64 if bits == 64 else 32)
    slots = {int(r["hooked"][len("sys_call_table["):-1]): r for r in rows
             if r["kind"] == "syscall_table" and r["hooked"].startswith("sys_call_table[")}
    wrong = [f"slot {n} ({numbers[n]}): {slots[n]['target_symbol']}" for n in sorted(numbers)
             if n in slots and not slot_matches(numbers[n], slots[n]["target_symbol"] or "", prefix)]
    covered = sum(1 for n in numbers if n in slots)
    results.check(covered >= 0.95 * len(numbers) and not wrong,
                  f"{name}: sys_call_table's {len(slots)} slots hold the functions <asm/unistd_{bits if bits == 32 else 64}"
                  f".h> numbers them for ({covered} of its {len(numbers)} system calls)", "\n".join(wrong[:20]))

    # Every named target where the guest's own kallsyms puts that name.
    kallsyms = {}
    for address, _, symbol, module in read_kallsyms(os.path.join(guest_dir, "kallsyms")):
        if not module:
            kallsyms.setdefault(symbol, set()).add(address)
    named = [r for r in rows if r["target_symbol"] and "+" not in r["target_symbol"]]
    misplaced = [f"{r['hooked']}: {r['target_symbol']} at {r['target']}, kallsyms {sorted(map(hex, kallsyms.get(r['target_symbol'], [])))}"
                 for r in named if int(r["target"], 16) not in kallsyms.get(r["target_symbol"], set())]
    results.check(named and not misplaced,
                  f"{name}: each of {len(named)} targets is where the guest's kallsyms puts its name",
                  "\n".join(misplaced[:20]))

    # The tracepoints walked are the guest's: one __tracepoint_NAME (global) each; no
    # probe, kprobe or ftrace_ops on a guest that traces nothing.
    if env["GUEST_ARCH"] == "x86_64":
        tracepoints = sum(1 for _, kind, symbol, module in read_kallsyms(os.path.join(guest_dir, "kallsyms"))
                          if not module and symbol.startswith("__tracepoint_") and kind.isupper())
        points = dict(re.findall(r"hook point (\S+): (\d+) entries", err))
        results.check(points.get("tracepoints") == str(tracepoints) and points.get("kprobe_table") == "0" and
                      points.get("ftrace_ops_list") == "0",
                      f"{name}: -v says {tracepoints} tracepoints (as many as its kallsyms has), no kprobe and no "
                      "ftrace_ops", str(points))

    # The kernel threads against the guest's own list: kthreadd (pid 2) and its children.
    kthreads = {r["pid"]: r for r in rows if r["kind"] == "kthread"}
    with open(os.path.join(guest_dir, "procs.txt")) as f:
        theirs = {int(p[0]): p[5] for p in (line.split(None, 5) for line in f) if len(p) == 6 and
                  (p[0] == "2" or p[1] == "2")}
    differ = [f"pid {pid} ({theirs.get(pid) or kthreads[pid]['hooked']}) in {'the guest' if pid in theirs else 'vmi-hooks'} only"
              for pid in sorted(set(theirs) ^ set(kthreads))
              if not REGULAR_KWORKER.fullmatch(theirs.get(pid) or kthreads[pid]["hooked"])]
    workers = [r for r in kthreads.values() if REGULAR_KWORKER.fullmatch(r["hooked"])]
    wrong = [f"{r['hooked']}: {r['target_symbol']}" for r in workers if r["target_symbol"] != "worker_thread"]
    if env["GUEST_ARCH"] == "x86_64":
        results.check(kthreads and not differ and workers and not wrong,
                      f"{name}: the {len(kthreads)} kernel threads are the guest's, each of its {len(workers)} "
                      "kworkers runs worker_thread", "\n".join(differ + wrong))
    else:
        results.check(not kthreads and "kernel threads not checked" in err,
                      f"{name}: without the kthread offsets (no BTF) the kernel threads are not checked, and -v says so",
                      err[-1500:])

    # The dispatch functions' branches against objdump's, over bytes read without our tools.
    addresses = sorted({a for values in kallsyms.values() for a in values})
    tables = kernel_page_tables(guest_dir, env, "elf")
    for function in ("x64_sys_call", "ia32_sys_call", "x32_sys_call"):
        if function not in kallsyms:
            continue
        start = min(kallsyms[function])
        end = next(a for a in addresses if a > start)
        theirs = objdump_branches(tables.read(start, end - start), start, bits, scratch)
        ours = {(int(r["hooked"].split("+")[1], 16), int(r["target"], 16)) for r in rows
                if r["kind"] == "syscall_dispatch" and r["hooked"].startswith(function + "+") and r["target"]}
        results.check(ours == theirs and theirs,
                      f"{name}: the {len(ours)} branches out of {function} are objdump's",
                      f"only vmi-hooks: {sorted(ours - theirs)[:10]}\nonly objdump: {sorted(theirs - ours)[:10]}")


def main():
    return run_per_guest(__doc__, GUESTS + HIDING_GUESTS + HOOK_GUESTS, check_guest)


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Zero configuration: vmi-ps, vmi-lsmod and vmi-read with nothing but --image.

For every guest built by tests/guests/build-guests.sh, ELF and raw dump alike,
with no --sysmap, no --btf and no config file (HOME and XDG_CONFIG_HOME point
at an empty directory, VMI_CONFIG and VMI_PROFILE_PATH are unset):
- vmi-ps gives the process list the guest read from its own /proc (procs.txt,
  threads.txt), vmi-lsmod its own /proc/modules, and `vmi-read --ksym
  linux_banner --as string` its /proc/version;
- -v says where the pieces came from: on amd64 the symbols from the kernel's
  own kallsyms tables and the structure layout from the .BTF section in guest
  memory; on i386 (tables of text symbols only, no BTF) the installed kernel
  profile for the release the banner names;
- the kernel's page tables are its own top-level table (init_top_pgt /
  swapper_pg_dir), at the physical address testlib's independent page-table
  walk finds for the guest's own kallsyms address of it: never a process's CR3;
- on amd64 the first vmi-ps run keeps the kernel build in the cache directory
  and the next runs use it (-v says so) with the same answers; a corrupt entry
  is ignored and replaced. The process list is checked with the cache off
  (VMI_KERNEL_CACHE=0) and on.

The expected values come from the guests' files only. The differences
test_linux_lists.py documents (the lister running in its list and sleeping in
the dump, a kworker's workqueue suffix) are forgiven here the same way.
"""
import atexit
import json
import os
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from testlib import (guest_symbol, kernel_page_tables, module_mismatches, read_guest_env, read_kallsyms,  # noqa: E402
                     run_per_guest)
from test_linux_lists import compare_processes, lister_pid, multi_threaded, read_columns  # noqa: E402

GUESTS = ["amd64-4level", "amd64-5level-kaslr", "i386-pae", "i386-2level", "amd64-2000procs", "amd64-busy-kpti",
          "amd64-6.12-kaslr", "amd64-7.2-kaslr"]

EMPTY_HOME = tempfile.mkdtemp(prefix="vmi-zero-config-")
atexit.register(shutil.rmtree, EMPTY_HOME, True)
BARE_ENV = {"HOME": EMPTY_HOME, "XDG_CONFIG_HOME": EMPTY_HOME, "XDG_CACHE_HOME": os.path.join(EMPTY_HOME, "cache")}


def run_bare(tools, tool, *args, cache=True):
    saved = {name: os.environ.pop(name) for name in ("VMI_PROFILE_PATH", "VMI_CACHE_DIR", "VMI_KERNEL_CACHE")
             if name in os.environ}
    try:
        env = dict(BARE_ENV, **({} if cache else {"VMI_KERNEL_CACHE": "0"}))
        return tools.run(tool, *args, env=env, timeout=300)
    finally:
        os.environ.update(saved)


def cache_entries():
    directory = os.path.join(BARE_ENV["XDG_CACHE_HOME"], "vmitools", "kernels")
    if not os.path.isdir(directory):
        return []
    return sorted(os.path.join(directory, name) for name in os.listdir(directory) if name.endswith(".kernel"))


def check_guest(results, tools, name, guest_dir, scratch):
    env = read_guest_env(guest_dir)
    amd64 = env["GUEST_ARCH"] == "x86_64"
    with open(os.path.join(guest_dir, "version.txt")) as f:
        version = f.read().rstrip("\n")
    lister = lister_pid(guest_dir, env)
    top_name = "init_top_pgt" if amd64 else "swapper_pg_dir"
    # Names vmi-ksym resolves: the first image symbol of each name in the
    # guest's kallsyms (on i386 text symbols: its tables hold no others).
    first = {}
    for address, kind_letter, symbol, module in read_kallsyms(os.path.join(guest_dir, "kallsyms")):
        if not module:
            first.setdefault(symbol, address)
    wanted = ["schedule", "do_exit", "start_kernel"] + (["init_task", "modules", "linux_banner"] if amd64 else [])
    for kind in ("elf", "raw"):
        what = f"{name} {kind}"
        image = ["--image", os.path.join(guest_dir, f"memory.{kind}")]
        shutil.rmtree(BARE_ENV["XDG_CACHE_HOME"], ignore_errors=True)

        rc, out, err = run_bare(tools, "vmi-read", *image, "--ksym", "linux_banner", "--as", "string")
        results.check(rc == 0 and out.rstrip("\n") == version and err == "",
                      f"{what}: vmi-read --ksym linux_banner --as string is the guest's /proc/version",
                      f"rc={rc}\nexpected: {version}\ngot: {out}\n{err}")

        if os.path.exists(os.path.join(guest_dir, "procs.txt")):
            for cache in (False, True):
                rc, out, err = run_bare(tools, "vmi-ps", *image, "-o", "pid,ppid,uid,gid,state,name", "--no-headers",
                                        "-r", cache=cache)
                ours = {r[0]: r[1:] for r in (line.split(" ", 5) for line in out.splitlines())}
                guest = {r[0]: r[1:] for r in read_columns(os.path.join(guest_dir, "procs.txt"), 6)}
                how = f"{what} (kernel cache {'on' if cache else 'off'})"
                if results.check(rc == 0 and err == "", f"{how}: vmi-ps runs cleanly", f"rc={rc} {err}"):
                    compare_processes(results, how, ours, guest, ["pid", "ppid", "uid", "gid", "state", "name"],
                                      lister=lister, state_field=3)
        else:
            rc, out, err = run_bare(tools, "vmi-ps", *image, "-o", "pid,name", "--no-headers", "-r")
            ours = {r[0]: r[1:] for r in (line.split(" ", 1) for line in out.splitlines())}
            rows = read_columns(os.path.join(guest_dir, "ps.txt"), 5)[1:]
            guest = {r[0]: [r[4]] for r in rows}
            results.check(rc == 0 and err == "", f"{what}: vmi-ps runs cleanly", f"rc={rc} {err}")
            compare_processes(results, what, ours, guest, ["pid", "name"], skip={max(guest, key=int)})

        threads_file = os.path.join(guest_dir, "threads.txt")
        if os.path.exists(threads_file):
            rc, out, err = run_bare(tools, "vmi-ps", *image, "--threads", "-o", "pid,tid,name", "--no-headers", "-r")
            ours = {r[1]: [r[0], r[2]] for r in (line.split(" ", 2) for line in out.splitlines())}
            guest = {r[1]: [r[0], r[2]] for r in read_columns(threads_file, 3)}
            compare_processes(results, f"{what} --threads", ours, guest, ["pid", "tid", "name"])
            results.check(rc == 0 and multi_threaded(ours) == multi_threaded(guest),
                          f"{what}: --threads gives the guest's multi-threaded processes", err)

        rc, out, err = run_bare(tools, "vmi-lsmod", *image, "--format", "json")
        ours, guest_modules, problems = module_mismatches(out if rc == 0 else None,
                                                          os.path.join(guest_dir, "modules.txt"))
        results.check(rc == 0 and err == "" and not problems and len(ours) == len(guest_modules),
                      f"{what}: vmi-lsmod matches the guest's /proc/modules ({len(guest_modules)} modules)",
                      "\n".join(problems) + err)

        rc, out, err = run_bare(tools, "vmi-ksym", *image, *wanted)
        expected = [f"{first[n]:#x}" for n in wanted]
        results.check(rc == 0 and out.split() == expected and err == "",
                      f"{what}: vmi-ksym gives the guest's kallsyms addresses for {', '.join(wanted)}",
                      f"rc={rc} got {out.split()} expected {expected}\n{err}")

        # Where each piece came from, and the kernel's own top-level table.
        rc, out, err = run_bare(tools, "vmi-ps", *image, "-v", cache=False)
        if amd64:
            results.check(rc == 0 and "symbols: the kernel's own kallsyms at" in err
                          and "BTF: from guest memory" in err,
                          f"{what}: -v says symbols from kallsyms in guest memory, BTF from guest memory", err[-3000:])
            entries = cache_entries()
            results.check(len(entries) == 1, f"{what}: the first vmi-ps run kept one kernel build entry", entries)
            rc2, out2, err2 = run_bare(tools, "vmi-ps", *image, "-v")
            results.check(rc2 == 0 and out2 == out and "(from the kernel build cache" in err2
                          and "structure offsets: from the kernel build cache" in err2 and "BTF:" not in err2,
                          f"{what}: a cached run says so, loads no BTF and lists the same", err2[-3000:])
            if entries:
                with open(entries[0], "r+b") as f:
                    f.truncate(100)
                rc3, out3, err3 = run_bare(tools, "vmi-ps", *image, "-v")
                with open(entries[0], "rb") as f:
                    replaced = f.read().endswith(b"\nend\n")
                results.check(rc3 == 0 and out3 == out and "BTF: from guest memory" in err3 and replaced,
                              f"{what}: a corrupt cache entry is ignored and replaced", err3[-3000:])
        else:
            results.check(rc == 0 and f"from the kernel profile {env['GUEST_RELEASE']} " in err,
                          f"{what}: -v says symbols and offsets from the kernel profile {env['GUEST_RELEASE']}",
                          err[-3000:])
        tables = kernel_page_tables(guest_dir, env, kind)
        found = tables.translate(guest_symbol(guest_dir, env, scratch, top_name))
        tables.memory.close()
        note = found and f"kernel page tables at {found[0]:#x} ("
        results.check(rc == 0 and found and note in err,
                      f"{what}: the kernel walks go through {top_name} itself "
                      f"({found[0] if found else 0:#x}, as testlib's walk finds it)", err[-3000:])


def main():
    return run_per_guest(__doc__, GUESTS, check_guest)


if __name__ == "__main__":
    sys.exit(main())

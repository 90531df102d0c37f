#!/usr/bin/env python3
"""The given-files cache: --sysmap and --btf parsed once, then kept (man vmi.conf).

For each guest, on its ELF or raw dump, with a cache directory of its own
(VMI_CACHE_DIR) and copies of its kallsyms and vmlinuz (so that the test can
change them):
- with the cache off (VMI_KERNEL_CACHE=0), and then twice with it on, vmi-ps
  gives the process list the guest read from its own /proc, vmi-lsmod its
  /proc/modules and vmi-ksym its kallsyms addresses;
- the first run with the cache on parses both files and keeps an entry (-v:
  "symbols: N from FILE", "BTF: from the file", "given files cached in"); the
  second parses neither (-v: "from the cache of given files" for the symbols
  and the offsets, no "BTF:" line);
- a name the entry lacks (vmi-read --ksym schedule) is looked up in the file,
  right (the bytes at the guest's own address of it), and the entry learns it:
  the next run answers it without parsing the file (vmi-ksym always parses it:
  it may list any name);
- a name the file lacks fails (exit 2, one line naming it) with and without
  the entry, which learns that too;
- a symbol file rewritten (same size, new content and time) is parsed again,
  and its new addresses are the ones used; a corrupt entry is ignored and
  replaced.
The expected values come from the guests' own files only.
"""
import os
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from testlib import module_mismatches, read_guest_env, read_kallsyms, run_per_guest  # noqa: E402
from test_linux_lists import compare_processes, lister_pid, read_columns  # noqa: E402

# Guests with BTF in their vmlinuz, a dump of each kind, KASLR among them.
GUESTS = [("amd64-4level", "elf"), ("amd64-7.2-kaslr", "raw"), ("amd64-5level-kaslr", "elf")]
WANTED = ["init_task", "modules", "linux_banner", "start_kernel"]


def entries(cache):
    directory = os.path.join(cache, "kernels")
    return sorted(os.path.join(directory, n) for n in os.listdir(directory) if n.endswith(".files")) \
        if os.path.isdir(directory) else []


def check_guest(results, tools, name, guest_dir, scratch):
    kind = dict(GUESTS)[name]
    env_file = read_guest_env(guest_dir)
    work = tempfile.mkdtemp(prefix="vmi-given-", dir=scratch)
    cache = os.path.join(work, "cache")
    sysmap, btf = os.path.join(work, "kallsyms"), os.path.join(work, "vmlinuz")
    shutil.copy(os.path.join(guest_dir, "kallsyms"), sysmap)
    shutil.copy(os.path.join(guest_dir, "vmlinuz"), btf)
    files = ["--image", os.path.join(guest_dir, f"memory.{kind}"), "--sysmap", sysmap, "--btf", btf]
    what = f"{name} {kind}"
    first = {}
    for address, _, symbol, module in read_kallsyms(sysmap):
        if not module:
            first.setdefault(symbol, address)
    guest_procs = {r[0]: r[1:] for r in read_columns(os.path.join(guest_dir, "procs.txt"), 6)}
    lister = lister_pid(guest_dir, env_file)

    def run(tool, *args, cache_on=True):
        env = {"VMI_CACHE_DIR": cache, "VMI_KERNEL_CACHE": "1" if cache_on else "0"}
        return tools.run(tool, *files, *args, env=env, timeout=300)

    def check_answers(how, cache_on=True):
        rc, out, err = run("vmi-ps", "-o", "pid,ppid,uid,gid,state,name", "--no-headers", "-r", cache_on=cache_on)
        if results.check(rc == 0 and err == "", f"{how}: vmi-ps runs cleanly", f"rc={rc} {err[-2000:]}"):
            ours = {r[0]: r[1:] for r in (line.split(" ", 5) for line in out.splitlines())}
            compare_processes(results, how, ours, guest_procs, ["pid", "ppid", "uid", "gid", "state", "name"],
                              lister=lister, state_field=3)
        rc, out, err = run("vmi-lsmod", "--format", "json", cache_on=cache_on)
        ours, guest_modules, problems = module_mismatches(out if rc == 0 else None,
                                                          os.path.join(guest_dir, "modules.txt"))
        results.check(rc == 0 and not problems and len(ours) == len(guest_modules),
                      f"{how}: vmi-lsmod matches the guest's /proc/modules", "\n".join(problems) + err[-1500:])
        rc, out, err = run("vmi-ksym", *WANTED, cache_on=cache_on)
        expected = [f"{first[n]:#x}" for n in WANTED]
        results.check(rc == 0 and out.split() == expected, f"{how}: vmi-ksym gives the guest's kallsyms addresses",
                      f"rc={rc} got {out.split()} expected {expected}\n{err[-1500:]}")

    check_answers(f"{what}, cache off", cache_on=False)
    results.check(entries(cache) == [], f"{what}: with the cache off nothing is kept", entries(cache))

    rc, out, err = run("vmi-ps", "-v")
    results.check(rc == 0 and f" from {sysmap}\n" in err and "BTF: from the file" in err
                  and "given files cached in" in err and len(entries(cache)) == 1,
                  f"{what}: the first run parses both files and keeps one entry", err[-2500:])
    rc, out2, err = run("vmi-ps", "-v")
    results.check(rc == 0 and f"from the cache of given files {entries(cache)[0] if entries(cache) else '?'}" in err
                  and "structure offsets: from the cache of given files" in err and "BTF:" not in err
                  and f" from {sysmap}\n" not in err and out2 == out,
                  f"{what}: the next run parses neither file, and lists the same", err[-2500:])
    check_answers(f"{what}, cache on")

    def read(*where):
        return run("vmi-read", *where, "--raw", "-n", "32", "-v")

    # A name the entry lacks (vmi-read looks names up one by one): from the file,
    # then from the entry; the bytes are those at the guest's own address of it.
    rc, at_address, _ = read("--va", f"{first['schedule']:#x}")
    for attempt in ("looked up in the file", "from the entry"):
        rc, out, err = read("--ksym", "schedule")
        from_file = f" from {sysmap}\n" in err
        results.check(rc == 0 and at_address and out == at_address and from_file == (attempt == "looked up in the file"),
                      f"{what}: vmi-read --ksym schedule, {attempt}: the bytes at the guest's address of it",
                      f"rc={rc} parsed the file: {from_file}\n{err[-2000:]}")
    for attempt in ("the file", "the entry"):
        rc, out, err = run("vmi-read", "--ksym", "no_such_symbol_vmi")
        results.check(rc == 2 and out == "" and len(err.strip().splitlines()) == 1 and "no_such_symbol_vmi" in err,
                      f"{what}: a name the file lacks, known from {attempt}: one line, exit 2", f"rc={rc} {err}")

    # The file rewritten (same size, a new time): parsed again, its new address used.
    with open(sysmap) as f:
        lines = f.read().splitlines(True)
    moved = [line.replace(f"{first['schedule']:016x}", f"{first['schedule'] + 0x10:016x}", 1)
             if line.split()[2:3] == ["schedule"] else line for line in lines]
    with open(sysmap, "w") as f:
        f.writelines(moved)
    os.utime(sysmap, ns=(os.stat(sysmap).st_atime_ns, os.stat(sysmap).st_mtime_ns + 10 ** 9))
    rc, at_moved, _ = read("--va", f"{first['schedule'] + 0x10:#x}")
    rc, out, err = read("--ksym", "schedule")
    results.check(rc == 0 and at_moved and out == at_moved and out != at_address and f" from {sysmap}\n" in err,
                  f"{what}: a rewritten symbol file is parsed again and its address used", err[-1500:])

    # A corrupt entry: ignored, replaced.
    for entry in entries(cache):
        with open(entry, "r+b") as f:
            f.truncate(60)
    rc, out, err = run("vmi-ps", "-v")
    written = [line.split("given files cached in ", 1)[1] for line in err.splitlines() if "given files cached in " in line]
    replaced = len(written) == 1 and written[0] in entries(cache) and open(written[0], "rb").read().endswith(b"\nend\n")
    results.check(rc == 0 and out == out2 and f" from {sysmap}\n" in err and replaced,
                  f"{what}: a corrupt entry is ignored and replaced", err[-2000:])


def main():
    return run_per_guest(__doc__, [g for g, _ in GUESTS], check_guest)


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""vmi-write against copies of real Linux guests' dumps, raw and ELF.

On a copy of each dump (the cached guests are never opened for writing):
a sleeping process is renamed through its task_struct's comm (kernel virtual
address, and another through the process's own page tables with --dtb) and
vmi-ps must show the new name for that pid and nothing else changed; part of
linux_banner is overwritten by symbol and read back with vmi-read; physical
writes (across a page boundary; --u32, --u64, --from FILE and --from -) are
read back. --dry-run and a missing --writable-image leave the file identical
(sha256), and so does every bad input, including a write that would cross
into an unmapped page or past the end of RAM. At the end the copy differs
from the original in exactly as many bytes as the writes changed.
"""
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from testlib import kernel_page_tables, linux_guest_config, read_guest_env, run_per_guest, struct_facts  # noqa: E402

GUESTS = ["amd64-4level", "i386-pae", "amd64-5level-kaslr", "amd64-6.12-kaslr", "amd64-7.2-kaslr"]
CHUNK = 1 << 20


def sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(CHUNK):
            digest.update(block)
    return digest.hexdigest()


def differing_bytes(path_a, path_b):
    """How many bytes two files of the same size differ in."""
    count = 0
    with open(path_a, "rb") as a, open(path_b, "rb") as b:
        while block_a := a.read(CHUNK):
            block_b = b.read(CHUNK)
            if block_a != block_b:
                count += sum(1 for x, y in zip(block_a, block_b) if x != y)
    return count


class Dump:
    """A scratch copy of one guest dump, and the tools run on it."""

    def __init__(self, tools, config, name, guest_dir, original, path):
        self.tools = tools
        self.guest_dir = guest_dir
        self.common = ["-c", config, name, "--image", path]
        self.original = original
        self.path = path
        shutil.copyfile(original, path)
        self.changed = 0  # bytes the successful writes changed, so far

    def run(self, tool, *args):
        return self.tools.run(tool, *self.common, *args, timeout=120)

    def write(self, *args):
        """A real write in JSON; returns the change it reports (None on failure)."""
        rc, out, err = self.run("vmi-write", "--writable-image", "--format", "json", *args)
        if rc != 0 or err:
            return None, f"rc={rc}\nstdout: {out}\nstderr: {err}"
        change = json.loads(out)
        old, new = bytes.fromhex(change["old"]), bytes.fromhex(change["new"])
        self.changed += sum(1 for x, y in zip(old, new) if x != y)
        return change, out

    def read_hex(self, *address, count):
        rc, out, err = self.run("vmi-read", *address, "--count", str(count), "--format", "json")
        return json.loads(out)["hex"] if rc == 0 else f"rc={rc} {err}"

    def processes(self):
        rc, out, err = self.run("vmi-ps", "-o", "pid,name,task,dtb", "--no-headers", "-r")
        if rc != 0:
            raise SystemExit(f"vmi-ps failed on {self.path}: {err}")
        return [line.split(" ") for line in out.splitlines()]


def check_refused(results, what, dump, description, args, needle, writable=True):
    """Bad input: exit 2, one line on stderr naming the problem, nothing on stdout."""
    rc, out, err = dump.run("vmi-write", *(["--writable-image"] if writable else []), *args)
    lines = err.splitlines()
    results.check(rc == 2 and out == "" and len(lines) == 1 and lines[0].startswith("vmi-write: ") and needle in lines[0],
                  f"{what}: {description}: exit 2, one line naming the problem",
                  f"rc={rc}\nexpected in stderr: {needle!r}\nstdout: {out!r}\nstderr: {err!r}")


def check_physical(results, what, dump):
    """--pa writes across a page boundary, in every data form; read back."""
    before = dump.read_hex("--pa", "0x1ff0", count=32)
    new = bytes(range(0xa0, 0xc0)).hex()
    rc, out, err = dump.run("vmi-write", "--pa", "0x1ff0", "--hex", new)
    results.check(rc == 2 and "--writable-image" in err and len(err.splitlines()) == 1 and out == ""
                  and sha256(dump.path) == dump.original_sha,
                  f"{what}: without --writable-image the write is refused (exit 2, one line naming "
                  f"--writable-image) and the file is identical", f"rc={rc} {out} {err}")

    for fmt in ("text", "json"):
        rc, out, err = dump.run("vmi-write", "--writable-image", "--dry-run", "--pa", "0x1ff0", "--hex", new,
                                "--format", fmt)
        if fmt == "text":
            ok = out == f"would write 32 bytes at 0x1ff0 (physical): {before} -> {new}\n"
        else:
            ok = json.loads(out) == {"address": "0x1ff0", "space": "physical", "physical": "0x1ff0", "size": 32,
                                     "old": before, "new": new, "written": False}
        results.check(rc == 0 and ok and sha256(dump.path) == dump.original_sha,
                      f"{what}: --dry-run ({fmt}) prints the old and new bytes and leaves the file identical",
                      f"rc={rc}\n{out}\n{err}")

    change, detail = dump.write("--pa", "0x1ff0", "--hex", " ".join(new[i:i + 2] for i in range(0, 64, 2)))
    results.check(change == {"address": "0x1ff0", "space": "physical", "physical": "0x1ff0", "size": 32,
                             "old": before, "new": new, "written": True}
                  and dump.read_hex("--pa", "0x1ff0", count=32) == new,
                  f"{what}: --pa write of 32 bytes across a page boundary reads back", detail)
    if dump.path.endswith(".raw"):
        with open(dump.path, "rb") as f:
            f.seek(0x1ff0)
            results.check(f.read(32).hex() == new, f"{what}: the raw image holds them at file offset 0x1ff0")

    from_file = os.path.join(os.path.dirname(dump.path), "data.bin")
    with open(from_file, "wb") as f:
        f.write(b"\x00from a file\xff")
    forms = [("--u32 0xdeadbeef", ["--pa", "0x3000", "--u32", "0xdeadbeef"], "efbeadde"),
             ("--u64 decimal", ["--pa", "0x3008", "--u64", "1234605616436508552"], "8877665544332211"),
             ("--from FILE", ["--pa", "0x3010", "--from", from_file], b"\x00from a file\xff".hex())]
    for description, args, expected in forms:
        change, detail = dump.write(*args)
        results.check(change is not None and change["new"] == expected
                      and dump.read_hex("--pa", args[1], count=len(expected) // 2) == expected,
                      f"{what}: {description} writes {expected} and it reads back", detail)
    proc = subprocess.run([dump.tools.path("vmi-write"), *dump.common, "--writable-image", "--pa", "0x3020",
                           "--from", "-"], input=b"stdin!", capture_output=True, timeout=60)
    ok = proc.returncode == 0 and dump.read_hex("--pa", "0x3020", count=6) == b"stdin!".hex()
    dump.changed += 6 if ok else 0
    results.check(ok, f"{what}: --from - writes standard input", proc.stderr.decode())


def check_banner(results, what, dump):
    """--ksym write into linux_banner (after "Linux version ", which finds the kernel)."""
    rc, banner, err = dump.run("vmi-read", "--ksym", "linux_banner", "--as", "string")
    with open(os.path.join(dump.guest_dir, "version.txt")) as f:
        version = f.read()  # the guest's /proc/version: the banner before any write
    replacement = "9.9.9-vmiwrite"
    change, detail = dump.write("--ksym", "linux_banner+14", "--string", replacement)
    rc2, after, err2 = dump.run("vmi-read", "--ksym", "linux_banner", "--as", "string")
    expected = banner[:14] + replacement + banner[14 + len(replacement):]
    results.check(rc == 0 and banner.rstrip("\n") == version.rstrip("\n") and change is not None
                  and change["space"] == "kernel" and "physical" in change
                  and change["old"] == banner[14:14 + len(replacement)].encode().hex()
                  and rc2 == 0 and after == expected and after != banner,
                  f"{what}: --ksym linux_banner+14 write reads back with vmi-read: {after.strip()[:40]}...",
                  f"{detail}\n{err}{err2}\nbefore: {banner}after: {after}")

    rc, out, err = dump.run("vmi-write", "--writable-image", "--ksym", "linux_banner+14", "--string", replacement)
    # linux_banner is const: the kernel maps its page read-only (.rodata), as the output says.
    results.check(rc == 0 and re.fullmatch(r"wrote 14 bytes at 0x[0-9a-f]+ \(kernel, physical 0x[0-9a-f]+, "
                                           r"page: kernel read-only( no-exec)?\): "
                                           f"{replacement.encode().hex()} -> {replacement.encode().hex()}\n", out),
                  f"{what}: text output names address, space, physical address, kind of page, old and new bytes",
                  out + err)


def check_comm(results, what, dump, comm_offset):
    """Rename two sleeping processes: one by kernel --va, one through its own page tables (--dtb)."""
    before = dump.processes()
    sleepers = [row for row in before if row[1] == "sleep"]
    if not results.check(len(sleepers) >= 2, f"{what}: the guest has sleep processes", before[:5]):
        return
    renames = {}
    for row, dtb, name in ((sleepers[0], None, "vmiwrite-va"), (sleepers[-1], sleepers[-1][3], "vmiwrite-dtb")):
        pid, _, task, _ = row
        args = ["--va", f"{int(task, 16) + comm_offset:#x}", "--string", name, "--nul"]
        change, detail = dump.write(*args, *(["--dtb", dtb] if dtb else []))
        space = f"dtb {int(dtb, 16):#x}" if dtb else "kernel"
        results.check(change is not None and change["space"] == space and change["new"] == name.encode().hex() + "00"
                      and change["old"].startswith(b"sleep\x00".hex()),
                      f"{what}: pid {pid}'s comm written at task+{comm_offset:#x} ({space})", detail)
        renames[pid] = name
    after = dump.processes()
    expected = [[pid, renames.get(pid, name), task, dtb] for pid, name, task, dtb in before]
    results.check(after == expected,
                  f"{what}: vmi-ps shows pids {', '.join(renames)} renamed and every other process unchanged",
                  "\n".join(" ".join(a) + "  /  " + " ".join(b) for a, b in zip(after, expected) if a != b)
                  or f"{len(after)} vs {len(expected)} rows")


def check_bad_input(results, what, dump, env):
    """Every refusal leaves the file as it was, even with --writable-image."""
    before = sha256(dump.path)
    pa = ["--pa", "0x5000"]
    check_refused(results, what, dump, "odd number of hex digits", [*pa, "--hex", "abc"], "odd number of hex digits")
    check_refused(results, what, dump, "non-hex --hex", [*pa, "--hex", "zz"], "'z' is not a hex digit")
    check_refused(results, what, dump, "--u32 out of range", [*pa, "--u32", "0x100000000"], "does not fit in 32 bits")
    check_refused(results, what, dump, "no data", pa, "no data given")
    check_refused(results, what, dump, "two data options", [*pa, "--hex", "00", "--string", "x"],
                  "--hex and --string were both given")
    check_refused(results, what, dump, "missing --from file", [*pa, "--from", "/nonexistent/data.bin"],
                  "cannot open --from file '/nonexistent/data.bin'")
    check_refused(results, what, dump, "empty --string", [*pa, "--string", ""], "nothing to write")
    check_refused(results, what, dump, "--nul without --string", [*pa, "--hex", "00", "--nul"], "requires --string")
    ram_end = int(env["GUEST_RAM_BYTES"])
    check_refused(results, what, dump, "--pa write running past the end of RAM",
                  ["--pa", f"{ram_end - 4:#x}", "--hex", "0102030405060708"], f"{ram_end:#x} is not in guest RAM")

    # A write that starts on a mapped page and runs into an unmapped one. Which page is
    # unmapped is testlib's page-table walk's word, not the tools': from a module's text
    # (its /proc/modules address, as the guest gave it) up to the first page not mapped.
    # (Since 6.4 a module's address + size is not the end of one mapping, and 7.2 packs
    # module text into a shared 2 MiB page: the bytes after it are mapped.)
    with open(os.path.join(dump.guest_dir, "modules.txt")) as f:
        module_name, *_, address = f.readline().split()
    tables = kernel_page_tables(dump.guest_dir, env, "raw")
    end = tables.first_unmapped_page(int(address, 16), 64 << 20)
    mapped_before = end is not None and tables.translate(end - 4) is not None
    tables.memory.close()
    if results.check(mapped_before, f"{what}: testlib's walker finds an unmapped page after {module_name}'s text "
                     f"({address}): {end and hex(end)}"):
        rc1, _, err1 = dump.run("vmi-read", "--va", f"{end - 4:#x}", "--count", "4")
        rc2, _, err2 = dump.run("vmi-read", "--va", f"{end:#x}", "--count", "1")
        if results.check(rc1 == 0 and rc2 == 2,
                         f"{what}: vmi-read agrees: {end - 4:#x} is mapped and {end:#x} is not", err1 + err2):
            check_refused(results, what, dump, "--va write crossing into an unmapped page",
                          ["--va", f"{end - 4:#x}", "--hex", "0102030405060708"], f"{end:#x} is not mapped")
    check_refused(results, what, dump, "unmapped --va", ["--va", "0x10", "--u32", "1"], "0x10 is not mapped")
    check_refused(results, what, dump, "unknown symbol", ["--ksym", "no_such_symbol", "--u32", "1"],
                  "symbol 'no_such_symbol' not found")
    results.check(sha256(dump.path) == before, f"{what}: after all the refused writes the file is identical")


def check_guest(results, tools, name, guest_dir, scratch):
    env = read_guest_env(guest_dir)
    config = linux_guest_config(name, guest_dir, env, scratch)
    # task_struct.comm's offset from the kernel's own type information (pahole on its
    # BTF; the i386 profile's pahole output), not from the tools.
    comm_offset = struct_facts(guest_dir, env, scratch)["task_struct.comm"]
    for kind in ("raw", "elf"):
        what = f"{name} {kind}"
        original = os.path.join(guest_dir, f"memory.{kind}")
        dump = Dump(tools, config, name, guest_dir, original, os.path.join(scratch, f"{name}.{kind}"))
        try:
            dump.original_sha = sha256(original)
            check_physical(results, what, dump)
            check_banner(results, what, dump)
            check_comm(results, what, dump, comm_offset)
            check_bad_input(results, what, dump, env)
            count = differing_bytes(original, dump.path)
            results.check(count == dump.changed and count > 0,
                          f"{what}: the copy differs from the original in exactly the {dump.changed} bytes written",
                          f"{count} bytes differ")
        finally:
            os.remove(dump.path)


def main():
    return run_per_guest(__doc__, GUESTS, check_guest)


if __name__ == "__main__":
    sys.exit(main())

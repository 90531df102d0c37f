"""Small shared helpers for the end-to-end tests: run a tool, record results.

Each test script prints one line per check and ends with 'N passed, N failed'
(', N skipped' when a check could not run here). A script exits 0 when every
check passed, 1 when one failed, and SKIPPED (77, ctest's SKIP_RETURN_CODE for
these scripts) when none failed but one was skipped: a skip is for a check the
environment makes impossible, and must say why; a missing test guest is a failure.
"""
import lzma
import os
import re
import subprocess
import sys


REPO = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))


SKIPPED = 77


class Results:
    def __init__(self):
        self.passed = 0
        self.failed = 0
        self.skipped = 0

    def check(self, ok, description, detail=""):
        if ok:
            self.passed += 1
            print(f"ok - {description}")
        else:
            self.failed += 1
            print(f"FAIL - {description}")
            if detail:
                for line in str(detail).rstrip().splitlines()[:20]:
                    print(f"    {line}")
        sys.stdout.flush()
        return ok

    def skip(self, description, reason):
        """A check this environment cannot run: printed with the reason, and the
        script ends with SKIPPED unless something failed."""
        self.skipped += 1
        print(f"SKIP - {description}: {reason}")
        sys.stdout.flush()

    def finish(self):
        print(f"{self.passed} passed, {self.failed} failed" + (f", {self.skipped} skipped" if self.skipped else ""))
        if self.failed:
            return 1
        return SKIPPED if self.skipped else 0


class Tools:
    def __init__(self, bin_dir):
        self.bin_dir = os.path.abspath(bin_dir)

    def path(self, tool):
        return os.path.join(self.bin_dir, tool, tool)

    def run(self, tool, *args, env=None, cwd=None, timeout=120, wrapper=None):
        """Runs a tool (behind the command prefix `wrapper`, if given); returns
        (exit code, stdout text, stderr text)."""
        full_env = dict(os.environ)
        full_env.pop("VMI_CONFIG", None)
        if env:
            full_env.update(env)
        proc = subprocess.run([*(wrapper or []), self.path(tool), *map(str, args)], capture_output=True,
                              env=full_env, cwd=cwd, timeout=timeout)
        return (proc.returncode, proc.stdout.decode("utf-8", "replace"),
                proc.stderr.decode("utf-8", "replace"))


def guest_dir_root():
    return os.environ.get("VMI_GUEST_DIR") or os.path.expanduser("~/.cache/vmitools/guests")


def read_guest_env(guest_dir):
    env = {}
    with open(os.path.join(guest_dir, "guest.env")) as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith("#") and "=" in line:
                key, value = line.split("=", 1)
                env[key] = value
    return env


def read_kallsyms(path):
    """[(address, type, name, module)] from a kallsyms/System.map file."""
    symbols = []
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            parts = line.replace("\r", "").split()
            if len(parts) < 3:
                continue
            module = parts[3].strip("[]") if len(parts) > 3 else ""
            symbols.append((int(parts[0], 16), parts[1], parts[2], module))
    return symbols


def guest_sysmap(guest_dir, env, scratch):
    """The guest's kallsyms where it has data symbols (amd64); else the real
    System.map from the kernel's profile (Debian's i386 kernels lack them)."""
    if env["GUEST_ARCH"] == "x86_64":
        return os.path.join(guest_dir, "kallsyms")
    profile = os.path.join(REPO, "share", "profiles", env["GUEST_RELEASE"], "System.map.xz")
    if not os.path.exists(profile):
        raise SystemExit(f"no profile for {env['GUEST_RELEASE']}: run share/profiles/generate-profile.sh "
                         f"{env['GUEST_RELEASE']}")
    out = os.path.join(scratch, f"System.map-{env['GUEST_RELEASE']}")
    if not os.path.exists(out):
        with lzma.open(profile) as src, open(out, "wb") as dst:
            dst.write(src.read())
    return out


def linux_guest_config(name, guest_dir, env, scratch):
    """A config entry for the guest: offsets from the guest's BTF (amd64) or
    from explicit keys of the kernel's profile (i386, no BTF)."""
    lines = [f"{name} {{", '    ostype = "Linux";', f'    sysmap = "{guest_sysmap(guest_dir, env, scratch)}";']
    if env["GUEST_ARCH"] == "x86_64":
        lines.append(f'    btf = "{guest_dir}/vmlinuz";')
    else:
        with open(os.path.join(REPO, "share", "profiles", env["GUEST_RELEASE"], "offsets.conf")) as f:
            lines += ["    " + line.strip() for line in f if line.strip() and not line.startswith("#")]
    lines.append("}")
    path = os.path.join(scratch, f"{name}.conf")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    return path


def run_per_guest(description, default_guests, check_guest, setup=None):
    """main() of a per-guest test script: check_guest(results, tools, name,
    guest_dir, scratch) for each guest named on the command line (default:
    default_guests); a guest that is not built is a failure. setup(results),
    if given, runs first: when it returns False no guest is checked."""
    import argparse
    import tempfile
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--bin", required=True, help="build/tools directory")
    parser.add_argument("--guests", default=guest_dir_root())
    parser.add_argument("names", nargs="*", default=default_guests)
    args = parser.parse_args()
    results = Results()
    tools = Tools(args.bin)
    if setup is not None and not setup(results):
        return results.finish()
    with tempfile.TemporaryDirectory() as scratch:
        for name in args.names:
            guest_dir = os.path.join(args.guests, name)
            if not os.path.exists(os.path.join(guest_dir, "done")):
                results.check(False, f"{name}: guest built", f"{guest_dir} missing: run tests/guests/build-guests.sh")
                continue
            check_guest(results, tools, name, guest_dir, scratch)
    return results.finish()


# A regular workqueue worker, as procfs names it: kworker/CPU:ID (H: high priority) or
# kworker/uPOOL:ID (unbound), then "-" or "+" and the workqueue it runs or last ran.
REGULAR_KWORKER = re.compile(r"(kworker/u?\d+:\d+H?)(?:[-+](.*))?")


def same_name(guest_name, our_name):
    """Process names equal, but for the one part that may change between two looks:
    the workqueue description of a regular kworker (kworker/0:1-events now,
    kworker/0:1+mm_percpu_wq or kworker/0:1 a moment later). Nothing else is
    forgiven: a workqueue rescuer (kworker/R-kvfree_rcu_reclaim) has a fixed name,
    and printing its 15-byte comm (kworker/R-kvfre) instead is a mismatch."""
    if guest_name == our_name:
        return True
    ours, theirs = REGULAR_KWORKER.fullmatch(our_name), REGULAR_KWORKER.fullmatch(guest_name)
    return bool(ours and theirs and ours.group(1) == theirs.group(1))


def module_mismatches(lsmod_json, modules_txt, who="guest"):
    """vmi-lsmod's --format json output (or None when it failed) against the guest's
    own /proc/modules (a file of its lines): ({name: vmi-lsmod's entry}, the guest's
    lines split, ["name: vmi-lsmod [...] guest [...]" for every module that differs
    in size, refcount, users, state or address])."""
    import json
    ours = {m["name"]: m for m in json.loads(lsmod_json)} if lsmod_json is not None else {}
    with open(modules_txt) as f:
        guest_modules = [line.split() for line in f if line.strip()]
    problems = []
    for name, size, refs, deps, state, address in guest_modules:
        m = ours.get(name)
        got = m and [str(m["size"]), str(m["refcount"]), ",".join(m["used_by"]) + "," if m["used_by"] else "-",
                     m["state"], m["address"]]
        want = [size, refs, deps, state, hex(int(address, 16))]
        if got != want:
            problems.append(f"{name}: vmi-lsmod {got} {who} {want}")
    return ours, guest_modules, problems


# --- Guest memory and page tables, read independently of the tools -------------------------
#
# The checks below must not take their expected values from the tools under test, so the
# tests read dumps and walk x86 page tables here, in a few lines of Python that share no
# code with lib/. tests/real/test_testlib_walker.py checks this walker against what the
# guests said about themselves.

class NotRam(Exception):
    """A physical address that the dump does not hold."""


class DumpMemory:
    """Guest-physical memory straight from a dump: memory.raw (file offset = physical
    address) or memory.elf (QEMU's dump-guest-memory: one LOAD segment per RAM range)."""

    def __init__(self, path):
        self.path = path
        self.file = open(path, "rb")
        self.ranges = self._elf_ranges() if path.endswith(".elf") else [(0, os.path.getsize(path), 0)]

    def _elf_ranges(self):
        """[(physical start, size, file offset)] of the LOAD segments."""
        import struct
        self.file.seek(0)
        ident = self.file.read(64)
        if ident[:4] != b"\x7fELF":
            raise ValueError(f"{self.path}: not an ELF file")
        is64 = ident[4] == 2
        if is64:
            phoff, = struct.unpack_from("<Q", ident, 0x20)
            phentsize, phnum = struct.unpack_from("<HH", ident, 0x36)
        else:
            phoff, = struct.unpack_from("<I", ident, 0x1c)
            phentsize, phnum = struct.unpack_from("<HH", ident, 0x2a)
        ranges = []
        for i in range(phnum):
            self.file.seek(phoff + i * phentsize)
            ph = self.file.read(phentsize)
            if is64:
                ptype, _, offset, _, paddr, filesz = struct.unpack_from("<IIQQQQ", ph)
            else:
                ptype, offset, _, paddr, filesz = struct.unpack_from("<IIIII", ph)
            if ptype == 1 and filesz:
                ranges.append((paddr, filesz, offset))
        return sorted(ranges)

    def close(self):
        self.file.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def file_offset(self, physical, size=1):
        """Where `size` bytes at `physical` lie in the file; NotRam if not all in one range."""
        for start, length, offset in self.ranges:
            if start <= physical and physical + size <= start + length:
                return offset + physical - start
        raise NotRam(f"physical {physical:#x}+{size} is not in {self.path}")

    def read(self, physical, size):
        self.file.seek(self.file_offset(physical, size))
        data = self.file.read(size)
        if len(data) != size:
            raise NotRam(f"physical {physical:#x}+{size}: {self.path} ends early")
        return data

    def u32(self, physical):
        return int.from_bytes(self.read(physical, 4), "little")

    def u64(self, physical):
        return int.from_bytes(self.read(physical, 8), "little")


ADDRESS_BITS = 0x000ffffffffff000  # bits 51:12 of a 64-bit (PAE, 4- and 5-level) entry
PRESENT, PAGE_SIZE_BIT = 0x1, 0x80


class PageTables:
    """One x86 address space: the page tables under `root`, in one of the four modes
    (legacy 2-level 32-bit with 4 MiB pages, PAE, 4-level "ia32e", 5-level "la57"), read
    from a DumpMemory. translate(va) -> (physical, page size), or None when not mapped."""

    def __init__(self, memory, mode, root):
        if mode not in ("legacy", "pae", "ia32e", "la57"):
            raise ValueError(f"unknown paging mode {mode!r}")
        self.memory, self.mode, self.root = memory, mode, root
        self.last_problem = ""

    def is_canonical(self, va):
        if self.mode in ("legacy", "pae"):
            return va < 1 << 32
        bits = 57 if self.mode == "la57" else 48
        top = va >> (bits - 1)
        return top == 0 or top == (1 << (65 - bits)) - 1

    def _missing(self, what):
        self.last_problem = what
        return None

    def translate(self, va):
        if not self.is_canonical(va):
            return self._missing("non-canonical")
        if self.mode == "legacy":
            pde = self.memory.u32((self.root & 0xfffff000) + (va >> 22) * 4)
            if not pde & PRESENT:
                return self._missing("PDE not present")
            if pde & PAGE_SIZE_BIT:  # 4 MiB page (PSE; PSE-36 puts physical bits 39:32 in 20:13)
                base = (pde & 0xffc00000) | (((pde >> 13) & 0xff) << 32)
                return base | (va & 0x3fffff), 1 << 22
            pte = self.memory.u32((pde & 0xfffff000) + ((va >> 12) & 0x3ff) * 4)
            if not pte & PRESENT:
                return self._missing("PTE not present")
            return (pte & 0xfffff000) | (va & 0xfff), 1 << 12
        if self.mode == "pae":
            pdpte = self.memory.u64((self.root & 0xffffffe0) + (va >> 30) * 8)
            if not pdpte & PRESENT:
                return self._missing("PDPTE not present")
            table, shifts = pdpte & ADDRESS_BITS, (21, 12)
        else:
            table = self.root & ADDRESS_BITS
            shifts = (48, 39, 30, 21, 12) if self.mode == "la57" else (39, 30, 21, 12)
        for shift in shifts:
            entry = self.memory.u64(table + ((va >> shift) & 0x1ff) * 8)
            if not entry & PRESENT:
                return self._missing(f"entry for bit {shift} not present")
            if shift == 12 or (shift in (30, 21) and entry & PAGE_SIZE_BIT):
                size = 1 << shift
                return (entry & ADDRESS_BITS & ~(size - 1)) | (va & (size - 1)), size
            table = entry & ADDRESS_BITS
        raise AssertionError("unreachable")

    def physical(self, va):
        """Physical address of `va`; SystemExit naming the address if it is not mapped."""
        found = self.translate(va)
        if found is None:
            raise SystemExit(f"{va:#x} is not mapped ({self.last_problem}; {self.mode} tables at {self.root:#x})")
        return found[0]

    def read(self, va, size):
        """Bytes at virtual `va`, across pages."""
        data = b""
        while len(data) < size:
            at = va + len(data)
            chunk = min(size - len(data), 4096 - (at & 0xfff))
            data += self.memory.read(self.physical(at), chunk)
        return data

    def pointer(self, va):
        width = 4 if self.mode in ("legacy", "pae") else 8
        return int.from_bytes(self.read(va, width), "little")

    def string(self, va, limit=256):
        data = self.read(va, limit)
        return data.split(b"\0", 1)[0].decode("utf-8", "replace")

    def first_unmapped_page(self, va, limit):
        """The first page at or after `va` (page-aligned) that is not mapped, looking at
        most `limit` bytes ahead; mapped large pages are skipped whole. None if none."""
        at = va & ~0xfff
        while at < va + limit:
            found = self.translate(at)
            if found is None:
                return at
            size = found[1]
            at = (at & ~(size - 1)) + size
        return None


def kernel_page_table_root(env):
    """The root of the kernel's page tables from the guest's CR3 (guest.env). With
    page-table isolation and a user CR3 (bit 12 set) the kernel's half of the PGD pair is
    the 4 KiB page below. In 32-bit modes CR3 is taken as the register holds it."""
    cr3 = int(env["GUEST_CR3"], 16)
    if env["GUEST_PAGING"] in ("ia32e", "la57"):
        cr3 &= ADDRESS_BITS
        if env.get("GUEST_CR3_USER") == "1":
            cr3 -= 0x1000
    return cr3


def kernel_page_tables(guest_dir, env, kind="raw"):
    """PageTables of the guest kernel over its memory.raw or memory.elf."""
    memory = DumpMemory(os.path.join(guest_dir, f"memory.{kind}"))
    return PageTables(memory, env["GUEST_PAGING"], kernel_page_table_root(env))


def guest_symbol(guest_dir, env, scratch, name):
    """Runtime address of a kernel symbol as the guest reported it: its kallsyms, or for
    the i386 kernels (no data symbols in kallsyms) the profile's System.map moved by the
    KASLR slide the guest's own _stext showed (GUEST_KASLR_SLIDE)."""
    for address, _, symbol, module in read_kallsyms(os.path.join(guest_dir, "kallsyms")):
        if symbol == name and not module:
            return address
    if env["GUEST_ARCH"] == "x86_64":
        raise SystemExit(f"{name} is not in {guest_dir}/kallsyms")
    slide = int(env.get("GUEST_KASLR_SLIDE") or "0", 16)
    for address, _, symbol, _ in read_kallsyms(guest_sysmap(guest_dir, env, scratch)):
        if symbol == name:
            return address + slide
    raise SystemExit(f"{name} is in neither the guest's kallsyms nor the profile of {env['GUEST_RELEASE']}")


# --- Structure offsets from the kernel's own type information ------------------------------

STRUCT_FACTS = ["task_struct.tasks", "task_struct.comm", "task_struct.pid", "task_struct.tgid", "module.list",
                "module.name"]


def _kernel_payload(vmlinuz):
    """The vmlinux inside a bzImage: the boot protocol's header gives where the
    compressed payload lies (setup_sects at 0x1f1, payload_offset/length at 0x248)."""
    with open(vmlinuz, "rb") as f:
        image = f.read()
    setup_sects = image[0x1f1] or 4
    start = (setup_sects + 1) * 512 + int.from_bytes(image[0x248:0x24c], "little")
    payload = image[start:start + int.from_bytes(image[0x24c:0x250], "little")]
    if payload.startswith(b"\xfd7zXZ\x00"):
        return lzma.LZMADecompressor().decompress(payload)
    if payload.startswith(b"\x28\xb5\x2f\xfd"):
        proc = subprocess.run(["zstd", "-dc"], input=payload, capture_output=True)
        if proc.returncode != 0 and not proc.stdout:
            raise SystemExit(f"{vmlinuz}: zstd failed: {proc.stderr.decode(errors='replace')}")
        return proc.stdout
    raise SystemExit(f"{vmlinuz}: payload compression not known to testlib ({payload[:6].hex()})")


def _pahole_text(guest_dir, env, scratch, structs):
    """pahole's view of `structs`: from the BTF of the guest's own vmlinuz (amd64), or
    for the i386 kernels (no BTF) the profile's structs.txt, pahole on the -dbg DWARF."""
    if env["GUEST_ARCH"] != "x86_64":
        with lzma.open(os.path.join(REPO, "share", "profiles", env["GUEST_RELEASE"], "structs.txt.xz"), "rt") as f:
            return f.read()
    vmlinux = os.path.join(scratch, f"vmlinux-{os.path.basename(os.path.normpath(guest_dir))}")
    with open(vmlinux, "wb") as f:
        f.write(_kernel_payload(os.path.join(guest_dir, "vmlinuz")))
    try:
        proc = subprocess.run(["pahole", "-F", "btf", "-C", ",".join(structs), vmlinux], capture_output=True,
                              text=True, timeout=600)
    except FileNotFoundError:
        raise SystemExit("pahole not found: scripts/install-deps.sh --test installs it (package dwarves)")
    finally:
        os.remove(vmlinux)
    if proc.returncode != 0 or not proc.stdout:
        raise SystemExit(f"pahole failed on {guest_dir}/vmlinuz: {proc.stderr}")
    return proc.stdout


def struct_facts(guest_dir, env, scratch):
    """{"task_struct.tasks": offset, ...} for STRUCT_FACTS, from the kernel's BTF through
    pahole (share/profiles/pahole_offsets.py parses its output). Cached in the guest's
    directory (btf-facts.json, next to the vmlinuz it describes), else in scratch."""
    import json
    vmlinuz = os.path.join(guest_dir, "vmlinuz")
    stamp = f"{os.path.getsize(vmlinuz)}:{int(os.path.getmtime(vmlinuz))}:{','.join(STRUCT_FACTS)}"
    name = os.path.basename(os.path.normpath(guest_dir))
    for cache in (os.path.join(guest_dir, "btf-facts.json"), os.path.join(scratch, f"btf-facts-{name}.json")):
        try:
            with open(cache) as f:
                cached = json.load(f)
            if cached.get("stamp") == stamp:
                return cached["offsets"]
        except (OSError, ValueError):
            pass
    sys.path.insert(0, os.path.join(REPO, "share", "profiles"))
    import pahole_offsets
    structs = sorted({path.split(".")[0] for path in STRUCT_FACTS})
    parsed = pahole_offsets.parse(_pahole_text(guest_dir, env, scratch, structs))
    offsets = {}
    for path in STRUCT_FACTS:
        offset = pahole_offsets.resolve(parsed, path)
        if offset is None:
            raise SystemExit(f"{name}: pahole does not show {path}")
        offsets[path] = offset
    for cache in (os.path.join(guest_dir, "btf-facts.json"), os.path.join(scratch, f"btf-facts-{name}.json")):
        try:
            with open(cache + ".tmp", "w") as f:
                json.dump({"stamp": stamp, "offsets": offsets}, f)
            os.replace(cache + ".tmp", cache)  # whole or not at all, for a test running alongside
            break
        except OSError:
            pass
    return offsets


def walk_task_list(tables, facts, init_task, limit=100000):
    """[(task address, pid, comm)] along init_task.tasks, in list order, read with
    PageTables and pahole's offsets only. SystemExit if it loops or runs away."""
    tasks_offset = facts["task_struct.tasks"]
    found, seen, task = [], set(), init_task
    while True:
        found.append((task, int.from_bytes(tables.read(task + facts["task_struct.pid"], 4), "little"),
                      tables.string(task + facts["task_struct.comm"], 16)))
        seen.add(task)
        task = tables.pointer(task + tasks_offset) - tasks_offset
        if task == init_task:
            return found
        if task in seen or len(found) > limit:
            raise SystemExit(f"task list loops or runs away at {task:#x}")


def walk_module_list(tables, facts, modules_head, limit=10000):
    """[(struct module address, name)] along the kernel's `modules` list head."""
    list_offset = facts["module.list"]
    found, at = [], tables.pointer(modules_head)
    while at != modules_head:
        module = at - list_offset
        found.append((module, tables.string(module + facts["module.name"], 64)))
        if len(found) > limit:
            raise SystemExit("module list runs away")
        at = tables.pointer(at)
    return found

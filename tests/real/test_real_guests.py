#!/usr/bin/env python3
"""vmi-read and vmi-ksym against real Linux guests booted under QEMU.

For every guest built by tests/guests/build-guests.sh (amd64 4-level, amd64
5-level with KASLR, i386 PAE, i386 2-level, and the amd64 guests with Linux
6.12 and 7.2) and both of its dumps (ELF core and raw image), the tools'
answers are compared with what the guest itself printed: its /proc/version
and its /proc/kallsyms.
"""
import json
import os
import random
import struct
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from testlib import (guest_symbol, guest_sysmap, kernel_page_tables, read_guest_env, read_kallsyms,  # noqa: E402
                     run_per_guest)

GUESTS = ["amd64-4level", "amd64-5level-kaslr", "i386-pae", "i386-2level", "amd64-6.12-kaslr", "amd64-7.2-kaslr"]


def elf_load_segments(path):
    """[(paddr, size)] of an ELF core's LOAD segments."""
    with open(path, "rb") as f:
        ident = f.read(64)
        is64 = ident[4] == 2
        if is64:
            phoff, = struct.unpack_from("<Q", ident, 0x20)
            phentsize, phnum = struct.unpack_from("<HH", ident, 0x36)
        else:
            phoff, = struct.unpack_from("<I", ident, 0x1c)
            phentsize, phnum = struct.unpack_from("<HH", ident, 0x2a)
        segments = []
        for i in range(phnum):
            f.seek(phoff + i * phentsize)
            ph = f.read(phentsize)
            if is64:
                ptype, _, _, _, paddr, filesz = struct.unpack_from("<IIQQQQ", ph)
            else:
                ptype, _, _, paddr, filesz = struct.unpack_from("<IIIII", ph)
            if ptype == 1 and filesz:
                segments.append((paddr, filesz))
    return sorted(segments)


def hole_addresses(image):
    """Physical addresses that are not RAM in this image: gaps between
    segments and the first byte past the end."""
    if image.endswith(".raw"):
        return [os.path.getsize(image)]
    segments = elf_load_segments(image)
    holes = [a + s for (a, s), (b, _) in zip(segments, segments[1:]) if a + s < b]
    return holes + [segments[-1][0] + segments[-1][1]]


def sample_text_symbols(kallsyms, count, seed):
    """Kernel-image text symbols with unique names, spread over the table."""
    names = {}
    for address, kind, name, module in kallsyms:
        if not module and kind in "Tt":
            names.setdefault(name, []).append(address)
    unique = sorted((n, a[0]) for n, a in names.items() if len(a) == 1)
    return random.Random(seed).sample(unique, min(count, len(unique)))


def check_guest(results, tools, name, guest_dir, scratch):
    env = read_guest_env(guest_dir)
    sysmap = guest_sysmap(guest_dir, env, scratch)
    with open(os.path.join(guest_dir, "version.txt")) as f:
        version = f.read().rstrip("\n")
    kallsyms = read_kallsyms(os.path.join(guest_dir, "kallsyms"))
    samples = sample_text_symbols(kallsyms, 40, seed=name)

    for kind in ("elf", "raw"):
        image = os.path.join(guest_dir, f"memory.{kind}")
        what = f"{name} {kind}"
        common = ["--image", image, "--sysmap", sysmap]

        rc, out, err = tools.run("vmi-read", *common, "--ksym", "linux_banner", "--as", "string")
        results.check(rc == 0 and out.rstrip("\n") == version,
                      f"{what}: vmi-read --ksym linux_banner --as string equals the guest's /proc/version",
                      f"rc={rc}\nexpected: {version}\ngot: {out}\n{err}")

        rc, out, err = tools.run("vmi-read", *common, "--ksym", "linux_banner", "--as", "string",
                                 "--format", "json")
        ok = rc == 0
        if ok:
            doc = json.loads(out)
            ok = doc["string"] == version + "\n" and doc["terminated"] and doc["space"] == "kernel"
        results.check(ok, f"{what}: vmi-read --format json gives the banner with its newline", out + err)

        rc, out, err = tools.run("vmi-ksym", *common, *[n for n, _ in samples])
        got = out.split()
        expected = [f"{a:#x}" for _, a in samples]
        results.check(rc == 0 and got == expected,
                      f"{what}: vmi-ksym gives the guest's kallsyms address for {len(samples)} text symbols",
                      f"rc={rc} {err}\n" + "\n".join(f"{n}: expected {e} got {g}" for (n, _), e, g
                                                      in zip(samples, expected, got) if e != g))

        rc, out, err = tools.run("vmi-ksym", *common, "linux_banner")
        banner = int(out, 16) if rc == 0 else 0
        results.check(rc == 0, f"{what}: vmi-ksym finds linux_banner", err)

        name0, address0 = samples[0]
        rc, out, err = tools.run("vmi-ksym", *common, "--reverse", f"{address0 + 1:#x}")
        results.check(rc == 0 and out.strip() == f"{name0}+0x1",
                      f"{what}: vmi-ksym --reverse maps an address inside {name0} back to {name0}+0x1", out + err)

        # The same bytes by symbol and by the virtual address the symbol has.
        _, by_symbol, _ = tools.run("vmi-read", *common, "--ksym", name0, "--raw", "--count", 64)
        rc, by_va, err = tools.run("vmi-read", *common, "--va", f"{address0:#x}", "--raw", "--count", 64)
        results.check(rc == 0 and by_symbol == by_va and len(by_va) > 0,
                      f"{what}: --va of {name0}'s kallsyms address reads the same bytes as --ksym", err)

        # Through the page tables of the process that was on the CPU (its CR3,
        # as the guest's registers gave it) instead of the kernel's own.
        rc, out, err = tools.run("vmi-read", *common, "--va", f"{banner:#x}", "--dtb", env["GUEST_CR3"],
                                 "--as", "string")
        results.check(rc == 0 and out.rstrip("\n") == version,
                      f"{what}: the banner through --dtb {env['GUEST_CR3']} (a process's page tables)", out + err)

        # Where the banner lies and in how large a page, as testlib's own page-table
        # walk finds them: vmi-read -v must say the same.
        tables = kernel_page_tables(guest_dir, env, kind)
        found = tables.translate(guest_symbol(guest_dir, env, scratch, "linux_banner"))
        tables.memory.close()
        rc, out, err = tools.run("vmi-read", *common, "--ksym", "linux_banner", "--count", "4", "-v")
        note = found and f"is physical {found[0]:#x} ({found[1] >> 10} KiB page)"
        results.check(rc == 0 and found and note in err,
                      f"{what}: vmi-read -v gives the banner's physical address and page size as testlib's "
                      f"page-table walk finds them ({note})", err[-1500:])

        for hole in hole_addresses(image):
            rc, out, err = tools.run("vmi-read", "--image", image, "--pa", f"{hole:#x}")
            results.check(rc == 2 and out == "" and f"{hole:#x}" in err and len(err.splitlines()) == 1,
                          f"{what}: a read at {hole:#x} (not RAM) fails with one line naming it",
                          f"rc={rc} stdout={out[:200]!r} stderr={err!r}")

    # The same guest through a config entry (paper Figure 10), with the paging
    # mode given for the raw image as a user without registers would: quoted, and
    # as a bare word, which for 4level/5level/2level starts with a digit.
    bare = {"ia32e": "4level", "la57": "5level", "legacy": "2level"}.get(env["GUEST_PAGING"], env["GUEST_PAGING"])
    for pagemode in (f'"{env["GUEST_PAGING"]}"', bare):
        config = os.path.join(scratch, f"{name}.conf")
        with open(config, "w") as f:
            f.write(f'# written by test_real_guests.py\n{name} {{\n    ostype = "Linux";\n'
                    f'    sysmap = "{sysmap}";\n    pagemode = {pagemode};\n'
                    f'    image = "{os.path.join(guest_dir, "memory.raw")}";\n}}\n')
        rc, out, err = tools.run("vmi-read", "-c", config, name, "--ksym", "linux_banner", "--as", "string")
        results.check(rc == 0 and out.rstrip("\n") == version and err == "",
                      f"{name}: vmi-read through a config entry (image, sysmap, pagemode = {pagemode})", out + err)


def main():
    return run_per_guest(__doc__, GUESTS, check_guest)


if __name__ == "__main__":
    sys.exit(main())

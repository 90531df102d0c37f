#!/usr/bin/env python3
"""Bad input gets one clear line on stderr, nothing on stdout, and exit 2.

Missing, empty, truncated and foreign image files; config files with every
kind of syntax error; unknown VM names; bad numbers and flags; addresses that
are not mapped; symbols that do not exist; writes vmi-write must refuse.
Uses the demo guest's dump where a real image is needed.
"""
import argparse
import os
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from testlib import Results, Tools, guest_dir_root  # noqa: E402


def expect_error(results, tools, description, tool, args, needle, cwd=None, env=None):
    rc, out, err = tools.run(tool, *args, cwd=cwd, env=env)
    lines = err.splitlines()
    ok = rc == 2 and out == "" and len(lines) == 1 and lines[0].startswith(f"{tool}: ") and needle in lines[0]
    results.check(ok, f"{description}: exit 2, one line naming the problem",
                  f"rc={rc}\nexpected in stderr: {needle!r}\nstdout: {out[:300]!r}\nstderr: {err!r}")


def write(path, data):
    mode = "wb" if isinstance(data, bytes) else "w"
    with open(path, mode) as f:
        f.write(data)
    return path


def image_cases(results, tools, scratch, elf, raw):
    expect_error(results, tools, "missing image", "vmi-read", ["--image", f"{scratch}/nope.elf", "--pa", "0"],
                 f"cannot open image '{scratch}/nope.elf': No such file or directory")
    expect_error(results, tools, "empty image", "vmi-read", ["--image", write(f"{scratch}/empty", b""), "--pa", "0"],
                 "is empty")
    expect_error(results, tools, "directory as image", "vmi-read", ["--image", scratch, "--pa", "0"],
                 "is not a regular file")
    expect_error(results, tools, "non-ELF, non-raw file", "vmi-read",
                 ["--image", write(f"{scratch}/notes.txt", "just some text\n" * 10), "--pa", "0"],
                 "neither an ELF core nor a raw memory image")
    expect_error(results, tools, "gzip-compressed image", "vmi-read",
                 ["--image", write(f"{scratch}/x.gz", b"\x1f\x8b" + bytes(4094)), "--pa", "0"], "is compressed")
    with open(elf, "rb") as f:
        head = f.read(1 << 20)
    expect_error(results, tools, "ELF cut inside its header", "vmi-read",
                 ["--image", write(f"{scratch}/cut40.elf", head[:40]), "--pa", "0"], "truncated")
    expect_error(results, tools, "ELF cut inside its program headers", "vmi-read",
                 ["--image", write(f"{scratch}/cut100.elf", head[:100]), "--pa", "0"], "truncated")
    expect_error(results, tools, "ELF cut inside its memory", "vmi-read",
                 ["--image", write(f"{scratch}/cut1m.elf", head), "--pa", "0"], "truncated")
    expect_error(results, tools, "ELF that is not a core", "vmi-read",
                 ["--image", sys.executable if os.path.exists(sys.executable) else "/bin/sh", "--pa", "0"],
                 "not a core dump")
    expect_error(results, tools, "physical address past the end", "vmi-read",
                 ["--image", raw, "--pa", f"{os.path.getsize(raw):#x}"], "not in guest RAM")


def config_cases(results, tools, scratch, raw, sysmap):
    def conf(name, text):
        return write(f"{scratch}/{name}.conf", text)

    good = conf("good", f'demo {{\n    image = "{raw}";\n    sysmap = "{sysmap}";\n}}\n')
    expect_error(results, tools, "unknown VM name", "vmi-read", ["-c", good, "nosuch", "--pa", "0"],
                 f"no entry for VM 'nosuch' in config file '{good}'")
    # "No config file anywhere" and the search order: tests/cli/test_config_search.py.
    expect_error(results, tools, "missing config file", "vmi-read", ["-c", f"{scratch}/none.conf", "demo", "--pa", "0"],
                 "cannot open config file")
    syntax = [
        ("missing ';'", "g {\n    linux_pid = 0x4e8\n}\n", "missing-semi.conf:3:1: expected ';' after value of 'linux_pid'"),
        ("missing '='", "g {\n    linux_pid 0x4e8;\n}\n", "missing-eq.conf:2:15: expected '=' after key 'linux_pid'"),
        ("missing '}'", "g {\n    linux_pid = 0x4e8;\n", "missing-brace.conf:3:1: unexpected end of file: entry 'g' opened at line 1"),
        ("missing '{'", "g\n    linux_pid = 0x4e8;\n}\n", "missing-open.conf:2:5: expected '{' after VM name 'g'"),
        ("unterminated string", 'g {\n    sysmap = "/boot/x;\n}\n', "unterminated.conf:2:14: unterminated string"),
        ("unexpected character", "g {\n    linux_pid = $4;\n}\n", "badchar.conf:2:17: unexpected character '$'"),
        ("leading zero", "g {\n    linux_pid = 0755;\n}\n", "octal.conf:2:17: bad number '0755' for 'linux_pid': leading zero"),
        ("text for a number", 'g {\n    linux_pid = "x";\n}\n', "textnum.conf:2:17: expected a number for 'linux_pid'"),
        ("bad pagemode", "g {\n    pagemode = flat;\n}\n", "pagemode.conf:2:16: unknown pagemode 'flat'"),
        ("missing value", "g {\n    linux_pid = ;\n}\n", "novalue.conf:2:17: expected a value for 'linux_pid'"),
    ]
    names = ["missing-semi", "missing-eq", "missing-brace", "missing-open", "unterminated", "badchar", "octal",
             "textnum", "pagemode", "novalue"]
    for (description, text, needle), name in zip(syntax, names):
        path = conf(name, text)
        expect_error(results, tools, f"config with {description}", "vmi-read", ["-c", path, "g", "--pa", "0"],
                     path[:-len(f"{name}.conf")] + needle)

    unknown = conf("unknown", f'demo {{\n    image = "{raw}";\n    colour = "blue";\n}}\n')
    rc, out, err = tools.run("vmi-read", "-c", unknown, "demo", "--pa", "0", "--count", "4")
    results.check(rc == 0 and f"{unknown}:3:5: unknown key 'colour' in entry 'demo'" in err,
                  "unknown config key: a warning naming it, and the tool still works", f"rc={rc} {err}")
    dup = conf("dup", f'demo {{ image = "/nope"; }}\ndemo {{\n    image = "{raw}";\n}}\n')
    rc, out, err = tools.run("vmi-read", "-c", dup, "demo", "--pa", "0", "--count", "4")
    results.check(rc == 0 and "entry 'demo' defined again; the last definition wins" in err,
                  "duplicate entry: the last wins, with a warning", f"rc={rc} {err}")


def address_and_symbol_cases(results, tools, scratch, raw, sysmap):
    common = ["--image", raw, "--sysmap", sysmap]
    expect_error(results, tools, "unmapped virtual address", "vmi-read", [*common, "--va", "0x10"],
                 "virtual address 0x10 is not mapped")
    expect_error(results, tools, "non-canonical virtual address", "vmi-read", [*common, "--va", "0x800000000000"],
                 "not canonical")
    expect_error(results, tools, "unknown symbol (vmi-read)", "vmi-read", [*common, "--ksym", "no_such_symbol"],
                 "symbol 'no_such_symbol' not found")
    expect_error(results, tools, "unknown symbol (vmi-ksym)", "vmi-ksym", [*common, "no_such_symbol"],
                 "symbol 'no_such_symbol' not found")
    expect_error(results, tools, "glob matching nothing", "vmi-ksym", ["--sysmap", sysmap, "--list", "zz_nothing*"],
                 "no symbol matches 'zz_nothing*'")
    expect_error(results, tools, "octal-looking address", "vmi-read", [*common, "--pa", "0755"], "leading zero")
    expect_error(results, tools, "hex address without 0x", "vmi-read", [*common, "--pa", "ffff"],
                 "hex needs a 0x prefix")
    expect_error(results, tools, "unknown --format", "vmi-read", [*common, "--pa", "0", "--format", "xml"],
                 "unknown format 'xml'")
    expect_error(results, tools, "unknown --as", "vmi-read", [*common, "--pa", "0", "--as", "float"],
                 "unknown type 'float'")
    expect_error(results, tools, "zero --count", "vmi-read", [*common, "--pa", "0", "--count", "0"],
                 "--count must be at least 1")
    expect_error(results, tools, "two addresses at once", "vmi-read", [*common, "--pa", "0", "--va", "0"], "excludes")
    expect_error(results, tools, "no address", "vmi-read", common, "no address given")
    expect_error(results, tools, "no guest", "vmi-read", ["--pa", "0"], "no guest given")
    expect_error(results, tools, "unknown option", "vmi-read", [*common, "--frobnicate"], "frobnicate")
    expect_error(results, tools, "bad --pagemode", "vmi-read", [*common, "--pagemode", "flat", "--va", "0x1000"],
                 "unknown paging mode 'flat'")
    expect_error(results, tools, "missing System.map", "vmi-ksym", ["--sysmap", f"{scratch}/none.map", "x"],
                 "cannot open symbol file")
    stub = write(f"{scratch}/System.map-stub",
                 "ffffffffffffffff B The real System.map is in the linux-image-<version>-dbg package\n")
    expect_error(results, tools, "Debian's placeholder System.map", "vmi-ksym", ["--sysmap", stub, "x"],
                 "is Debian's placeholder System.map; the real one is in the linux-image-<release>-dbg package")
    zeros = write(f"{scratch}/kallsyms-zero", "0000000000000000 T _stext\n0000000000000000 D linux_banner\n")
    expect_error(results, tools, "kallsyms read without privilege", "vmi-ksym", ["--sysmap", zeros, "_stext"],
                 "read without privilege")
    garbage = write(f"{scratch}/garbage.map", "ffffffff81000000 T _stext\nthis is not a symbol line\n")
    expect_error(results, tools, "garbage in a System.map", "vmi-ksym", ["--sysmap", garbage, "_stext"],
                 f"{garbage}:2: not a System.map or kallsyms line")
    expect_error(results, tools, "System.map of another kernel", "vmi-read",
                 ["--image", raw, "--sysmap", write(f"{scratch}/other.map",
                                                    "ffffffff81000000 T _stext\nffffffff80123450 D linux_banner\n"),
                  "--ksym", "linux_banner"],
                 "cannot find the kernel in guest memory")


def write_cases(results, tools, scratch, raw, sysmap):
    """vmi-write refusals. None passes --writable-image, so the cached dump is
    opened read-only whatever happens."""
    at = ["--image", raw, "--sysmap", sysmap, "--pa", "0x1000"]
    cases = [
        ("odd number of hex digits", ["--hex", "abc"], "--hex: 'abc' has an odd number of hex digits (3)"),
        ("non-hex --hex", ["--hex", "zz"], "--hex: 'z' is not a hex digit"),
        ("a number given to --hex", ["--hex", "0xdeadbeef"], "looks like a number"),
        ("--u32 out of range", ["--u32", "4294967296"], "--u32: 4294967296 does not fit in 32 bits"),
        ("--u64 not a number", ["--u64", "12ab"], "--u64: invalid number '12ab'"),
        ("no data", [], "no data given"),
        ("two data options", ["--u32", "1", "--u64", "1"], "--u32 and --u64 were both given"),
        ("empty --hex", ["--hex", " "], "nothing to write: --hex is empty"),
        ("missing --from file", ["--from", f"{scratch}/none.bin"], f"cannot open --from file '{scratch}/none.bin'"),
        ("--nul without --string", ["--u32", "1", "--nul"], "--nul requires --string"),
        ("dump not opened for writing", ["--u32", "1"], "give --writable-image to write to a dump file"),
    ]
    for description, args, needle in cases:
        expect_error(results, tools, f"vmi-write: {description}", "vmi-write", [*at, *args], needle)
    expect_error(results, tools, "vmi-write: unmapped --va (dry run)", "vmi-write",
                 ["--image", raw, "--sysmap", sysmap, "--va", "0x10", "--u32", "1", "--dry-run"],
                 "virtual address 0x10 is not mapped")


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--bin", required=True, help="build/tools directory")
    parser.add_argument("--guest", default=os.path.join(guest_dir_root(), "amd64-4level"))
    args = parser.parse_args()
    results = Results()
    tools = Tools(args.bin)
    elf = os.path.join(args.guest, "memory.elf")
    raw = os.path.join(args.guest, "memory.raw")
    sysmap = os.path.join(args.guest, "kallsyms")
    if not os.path.exists(os.path.join(args.guest, "done")):
        results.check(False, "demo guest built", f"{args.guest} missing: run tests/guests/build-guests.sh")
        return results.finish()
    with tempfile.TemporaryDirectory() as scratch:
        image_cases(results, tools, scratch, elf, raw)
        config_cases(results, tools, scratch, raw, sysmap)
        address_and_symbol_cases(results, tools, scratch, raw, sysmap)
        write_cases(results, tools, scratch, raw, sysmap)
    return results.finish()


if __name__ == "__main__":
    sys.exit(main())

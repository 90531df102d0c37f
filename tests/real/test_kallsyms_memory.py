#!/usr/bin/env python3
"""The guest kernel's own kallsyms tables, found and decoded in its memory dump
(tests/drivers/kallsyms_dump.cpp over vmi::find_kallsyms / decode_kallsyms /
kallsyms_lookup), against the /proc/kallsyms the guest printed itself.

For every guest built by tests/guests/build-guests.sh, ELF and raw dump alike:
- the decoded table is the guest's kallsyms without its module lines, line
  for line: same addresses (KASLR slide included), types, names and order;
- the cheap lookup of the names the tools need gives the same answers;
- the tables are found once, inside the kernel image, and the image's
  VA - PA found with them maps linux_banner onto "Linux version";
- the same kernel build has the same fingerprint whatever its KASLR slide.

What /proc/kallsyms shows beyond the image's tables, and so is left out of the
comparison: every module's symbols (lines ending in "[module]"; here fuse or
cuse, dummy, loop, nls_utf8), and, when there are any, BPF programs ("[bpf]"),
ftrace and kprobe trampolines ("[__builtin__ftrace]", "[__builtin__kprobes]").
Nothing else differs on these guests: no symbol is missing or extra. The
i386 kernels are built without KALLSYMS_ALL: their tables and their kallsyms
hold text symbols only, and are compared the same way.
"""
import argparse
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from testlib import Results, guest_dir_root, read_guest_env  # noqa: E402

GUESTS = ["amd64-4level", "amd64-5level-kaslr", "i386-pae", "i386-2level", "amd64-2000procs", "amd64-busy-kpti",
          "amd64-6.12-kaslr", "amd64-7.2-kaslr"]
# What the tools look up; the last one exists nowhere.
WANTED = ["init_task", "modules", "linux_banner", "init_top_pgt", "swapper_pg_dir", "__start_BTF", "__stop_BTF",
          "_text", "_stext", "_etext", "init_mm", "vmi_no_such_symbol"]


def run(driver, *args, timeout=600):
    proc = subprocess.run([driver, *map(str, args)], capture_output=True, timeout=timeout)
    return proc.returncode, proc.stdout.decode("utf-8", "replace"), proc.stderr.decode("utf-8", "replace")


def image_lines(path):
    """The guest's kallsyms lines of the kernel image (no "[module]" suffix), and the others counted."""
    image, others = [], {}
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            parts = line.replace("\r", "").split()
            if len(parts) == 3:
                image.append(" ".join(parts))
            elif len(parts) == 4:
                others[parts[3]] = others.get(parts[3], 0) + 1
    return image, others


def describe_difference(ours, guest):
    ours_set, guest_set = set(ours), set(guest)
    missing = [line for line in guest if line not in ours_set]
    extra = [line for line in ours if line not in guest_set]
    lines = [f"decoded {len(ours)} lines, guest {len(guest)}"]
    lines += [f"missing: {line}" for line in missing[:8]]
    lines += [f"extra:   {line}" for line in extra[:8]]
    if not missing and not extra:
        first = next((i for i, (a, b) in enumerate(zip(ours, guest)) if a != b), min(len(ours), len(guest)) - 1)
        lines.append(f"same lines, other order from line {first + 1}: {ours[first]} / {guest[first]}")
    return "\n".join(lines)


def parse_locations(text):
    locations = []
    for line in text.splitlines():
        locations.append(dict(field.split("=", 1) for field in line.split()))
    return locations


def check_dump(results, driver, name, guest_dir, env, kind, guest_image, fingerprints):
    dump = os.path.join(guest_dir, f"memory.{kind}")
    what = f"{name} ({kind})"
    width = 16 if env["GUEST_ARCH"] == "x86_64" else 8

    code, out, err = run(driver, "--locations", dump)
    if not results.check(code == 0 and out.strip(), f"{what}: kallsyms tables found", err):
        return
    locations = parse_locations(out)
    best = locations[0]
    results.check(len(locations) == 1, f"{what}: one set of tables in RAM", out)
    results.check(best["pointer_size"] == ("8" if width == 16 else "4"), f"{what}: {best['pointer_size']}-byte pointers")
    fingerprints.setdefault((env["GUEST_RELEASE"], env["GUEST_ARCH"]), {})[what] = best["fingerprint"]

    # The image's VA - PA, where found (linux_banner needs KALLSYMS_ALL: not on i386).
    if env["GUEST_ARCH"] == "x86_64":
        offset = best["image_va_minus_pa"]
        if results.check(offset != "-" and best["inside_image"] == "1",
                         f"{what}: kernel image placed (VA = PA + {offset}), tables inside it", out):
            code, out, err = run(driver, "--lookup", "linux_banner", dump)
            banner_va = int(out.split()[1], 16)
            banner_pa = (banner_va - int(offset, 16)) % (1 << 64)
            version = open(os.path.join(guest_dir, "version.txt")).read().strip()
            with open(os.path.join(guest_dir, "memory.raw"), "rb") as raw:
                raw.seek(banner_pa)
                text = raw.read(len(version)).decode("latin-1")
            results.check(text == version, f"{what}: linux_banner at PA {banner_pa:#x} holds the guest's /proc/version",
                          f"found {text!r}")

    code, out, err = run(driver, dump)
    if not results.check(code == 0, f"{what}: tables decoded", err):
        return
    ours = [line for line in out.splitlines() if line]
    results.check(ours == guest_image,
                  f"{what}: {len(ours)} decoded symbols are the guest's kallsyms image lines, in order",
                  describe_difference(ours, guest_image) if ours != guest_image else "")
    results.check(all(len(line.split()[0]) == width for line in ours[:100]), f"{what}: addresses {width} digits wide")

    # The cheap lookup answers as the guest's kallsyms (first line of a name).
    first = {}
    for line in guest_image:
        address, kind_letter, symbol = line.split()
        first.setdefault(symbol, (address, kind_letter))
    code, out, err = run(driver, *[arg for n in WANTED for arg in ("--lookup", n)], dump)
    answers = {}
    for line in out.splitlines():
        parts = line.split()
        answers[parts[0]] = None if parts[1] == "-" else (parts[1], parts[2])
    problems = [f"{n}: lookup {answers.get(n)} guest {first.get(n)}" for n in WANTED if answers.get(n) != first.get(n)]
    found = sum(1 for n in WANTED if first.get(n))
    results.check(code == 0 and not problems, f"{what}: lookup of {len(WANTED)} names ({found} exist) as kallsyms says",
                  "\n".join(problems) or err)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bin", required=True, help="build/tools directory (the driver is in build/tests)")
    parser.add_argument("--driver", help="kallsyms-dump (default: BIN/../tests/kallsyms-dump)")
    parser.add_argument("--guests", default=guest_dir_root())
    parser.add_argument("names", nargs="*", default=GUESTS)
    args = parser.parse_args()
    driver = args.driver or os.path.join(os.path.dirname(os.path.abspath(args.bin)), "tests", "kallsyms-dump")
    results = Results()
    if not results.check(os.access(driver, os.X_OK), f"driver {driver} built"):
        return results.finish()
    fingerprints = {}
    for name in args.names:
        guest_dir = os.path.join(args.guests, name)
        if not os.path.exists(os.path.join(guest_dir, "done")):
            results.check(False, f"{name}: guest built", f"{guest_dir} missing: run tests/guests/build-guests.sh")
            continue
        env = read_guest_env(guest_dir)
        guest_image, others = image_lines(os.path.join(guest_dir, "kallsyms"))
        print(f"# {name}: {len(guest_image)} image symbols; left out: "
              + (", ".join(f"{count} {module}" for module, count in sorted(others.items())) or "nothing"))
        for kind in ("elf", "raw"):
            check_dump(results, driver, name, guest_dir, env, kind, guest_image, fingerprints)
    # One kernel build, one fingerprint: KASLR and the dump format change nothing.
    for (release, arch), seen in sorted(fingerprints.items()):
        results.check(len(set(seen.values())) == 1,
                      f"{release} {arch}: one fingerprint over {len(seen)} dumps ({next(iter(seen.values()))})",
                      "\n".join(f"{what}: {value}" for what, value in seen.items()))
    return results.finish()


if __name__ == "__main__":
    sys.exit(main())

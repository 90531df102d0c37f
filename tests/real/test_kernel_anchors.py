#!/usr/bin/env python3
"""Finding the kernel does not hang on one string the guest can change.

A rootkit can overwrite linux_banner's "Linux version" to blind tools that
look for it. In copies of real guests' dumps every "Linux version <release>"
string is overwritten; the tools must still find the kernel (through its own
page tables, and on 32-bit kernels init_task's "swapper/0"), list the same
processes as on the intact dump, and say with -v that the banner anchor did
not hold while the others did.
"""
import os
import shutil
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from testlib import linux_guest_config, read_guest_env, run_per_guest  # noqa: E402

GUESTS = ["amd64-5level-kaslr", "amd64-7.2-kaslr", "i386-pae"]


def blinded_copy(source, destination, needle):
    """A copy of `source` with every occurrence of `needle` overwritten."""
    shutil.copyfile(source, destination)
    count = 0
    with open(destination, "r+b") as f:
        data = f.read()
        at = data.find(needle)
        while at >= 0:
            f.seek(at)
            f.write(b"XXXXX")
            count += 1
            at = data.find(needle, at + 1)
    return count


def check_guest(results, tools, name, guest_dir, scratch):
    env = read_guest_env(guest_dir)
    config = linux_guest_config(name, guest_dir, env, scratch)
    needle = f"Linux version {env['GUEST_RELEASE']}".encode()
    for kind in ("elf", "raw"):
        what = f"{name} {kind}"
        original = os.path.join(guest_dir, f"memory.{kind}")
        copy = os.path.join(scratch, f"{name}-blind.{kind}")
        count = blinded_copy(original, copy, needle)
        results.check(count > 0, f"{what}: the copy has {count} banner strings overwritten")
        args = ["-c", config, name, "-o", "pid,ppid,uid,state,name", "--no-headers", "-r"]
        rc1, intact, err1 = tools.run("vmi-ps", *args, "--image", original)
        rc2, blinded, err2 = tools.run("vmi-ps", *args, "--image", copy, "-v")
        # Zero configuration: symbols from the guest's kallsyms tables (amd64),
        # or the profile they match (i386): the banner is not needed either.
        empty = os.path.join(scratch, "empty-home")
        os.makedirs(empty, exist_ok=True)
        rc3, bare, err3 = tools.run("vmi-ps", *args[3:], "--image", copy, "-v",
                                    env={"HOME": empty, "XDG_CONFIG_HOME": empty, "XDG_CACHE_HOME": empty})
        os.unlink(copy)
        results.check(rc1 == 0 and rc3 == 0 and intact == bare,
                      f"{what}: zero-config vmi-ps (no --sysmap, --btf or config) lists the same processes with the "
                      "banner overwritten", f"rc={rc1}/{rc3}\n{err3[-2000:]}")
        results.check(rc1 == 0 and rc2 == 0 and intact == blinded and len(intact.splitlines()) > 20,
                      f"{what}: vmi-ps lists the same processes with the banner overwritten",
                      f"rc={rc1}/{rc2}\n{err1}\n{err2[-2000:]}")
        anchors = [line for line in err2.splitlines() if "anchor " in line]
        expected_held = ["page tables"] + (["init_task"] if env["GUEST_ARCH"] == "i386" else [])
        ok = any("anchor banner: did not hold" in a for a in anchors) and all(
            any(f"anchor {held}: held" in a for a in anchors) for held in expected_held)
        results.check(ok, f"{what}: -v says the banner did not hold and {', '.join(expected_held)} did",
                      "\n".join(anchors) or err2[-1000:])


def main():
    return run_per_guest(__doc__, GUESTS, check_guest)


if __name__ == "__main__":
    sys.exit(main())

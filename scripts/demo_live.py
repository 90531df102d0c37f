#!/usr/bin/env python3
"""The live half of the demo: the demo guest booted as a libvirt domain with
its RAM in a shared memfd, read from outside while it runs, then compared
with what the guest itself answers. The domain is destroyed at the end.

Usage: scripts/demo_live.py GUEST_DIR TOOLS_DIR
"""
import os
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "tests", "live"))
from libvirt_guest import LibvirtError, LibvirtGuest  # noqa: E402


def run(*command):
    print("\n$ " + " ".join(command), flush=True)
    return subprocess.run(command, check=False, stdout=subprocess.PIPE, text=True).stdout


def main():
    guest_dir, tools = sys.argv[1], sys.argv[2]
    print(f"booting {os.path.basename(guest_dir)} as a libvirt domain (software emulation, under a minute) ...",
          flush=True)
    with LibvirtGuest(guest_dir, memfd=True, suffix="demo") as guest:
        common = ["--sysmap", os.path.join(guest_dir, "kallsyms"), "--btf", os.path.join(guest_dir, "vmlinuz")]
        print(run(os.path.join(tools, "vmi-ps", "vmi-ps"), guest.name, *common, "-v"), end="")
        print(run(os.path.join(tools, "vmi-lsmod", "vmi-lsmod"), guest.name, *common), end="")
        ours = run(os.path.join(tools, "vmi-ps", "vmi-ps"), guest.name, *common, "-o", "pid,name", "--no-headers", "-r")
        theirs = "".join(f"{p[0]} {p[5]}\n" for p in (line.split(None, 5) for line in guest.ask("procs")) if len(p) == 6)
        print("\nvmi-ps against the process list the running guest gives itself (pid and name):")
        ours_lines, their_lines = ours.splitlines(), theirs.splitlines()
        differing = sorted(set(ours_lines) ^ set(their_lines))
        print("identical" if not differing else "differs in:\n  " + "\n  ".join(differing))
        print(f"\nthe domain is {guest.state()} (it was paused only during each walk)")


if __name__ == "__main__":
    try:
        sys.exit(main())
    except LibvirtError as error:
        # libvirt's own message, without a Python traceback around it.
        print(f"demo: the live part failed: {error}", file=sys.stderr)
        sys.exit(1)

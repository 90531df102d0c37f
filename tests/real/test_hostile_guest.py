#!/usr/bin/env python3
"""A hostile guest kernel must not hang or crash the tools.

Copies of a real guest's raw dump are corrupted the way a compromised kernel
could corrupt its own memory: a task's `next` pointer rewritten to form a
loop, one pointing where no RAM is mapped, a task name with no NUL, and a
module list that loops. Each time the tool must stop the walk with one
warning naming the bad entry, print what it read up to it, and exit 2.
"""
import argparse
import os
import re
import shutil
import struct
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from testlib import Results, Tools, guest_dir_root, linux_guest_config, read_guest_env  # noqa: E402


class Guest:
    def __init__(self, tools, guest_dir, name, scratch):
        self.tools = tools
        self.env = read_guest_env(guest_dir)
        self.config = linux_guest_config(name, guest_dir, self.env, scratch)
        self.name = name
        self.image = os.path.join(guest_dir, "memory.raw")
        self.pointer = 8 if self.env["GUEST_ARCH"] == "x86_64" else 4

    def run(self, tool, image, *args):
        return self.tools.run(tool, "-c", self.config, self.name, "--image", image, *args, timeout=60)

    def physical(self, va):
        """Physical address of a kernel virtual address, as vmi-read -v reports it."""
        rc, _, err = self.run("vmi-read", self.image, "--va", f"{va:#x}", "--count", "1", "-v")
        match = re.search(r"is physical (0x[0-9a-f]+)", err)
        if rc != 0 or not match:
            raise SystemExit(f"cannot translate {va:#x}: {err}")
        return int(match.group(1), 16)

    def layout_value(self, tool, pattern):
        rc, _, err = self.run(tool, self.image, "-v")
        match = re.search(pattern, err)
        if not match:
            raise SystemExit(f"{tool} -v did not say {pattern!r}: {err}")
        return int(match.group(1), 16)


def corrupted_copy(guest, scratch, name, patches):
    """A copy of the raw dump with (physical address, bytes) patches applied."""
    path = os.path.join(scratch, name)
    shutil.copyfile(guest.image, path)
    with open(path, "r+b") as f:
        for address, data in patches:
            f.seek(address)
            f.write(data)
    return path


def check_stopped(results, description, rc, out, err, expected_lines, needle):
    warnings = [line for line in err.splitlines() if "warning:" in line]
    body = [line for line in out.splitlines()]
    results.check(rc == 2 and len(warnings) == 1 and needle in warnings[0] and body == expected_lines,
                  description,
                  f"rc={rc}\nstderr: {err}\nstdout ({len(body)} lines, expected {len(expected_lines)}): "
                  f"{body[-3:]} vs {expected_lines[-3:]}")


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--bin", required=True, help="build/tools directory")
    parser.add_argument("--guest", default="amd64-4level")
    parser.add_argument("--guests", default=guest_dir_root())
    args = parser.parse_args()
    results = Results()
    tools = Tools(args.bin)
    guest_dir = os.path.join(args.guests, args.guest)
    if not os.path.exists(os.path.join(guest_dir, "done")):
        results.check(False, f"{args.guest}: guest built", f"{guest_dir} missing: run tests/guests/build-guests.sh")
        return results.finish()

    with tempfile.TemporaryDirectory() as scratch:
        guest = Guest(tools, guest_dir, args.guest, scratch)
        pack = (lambda v: struct.pack("<Q", v)) if guest.pointer == 8 else (lambda v: struct.pack("<I", v))

        # The walk order of the intact dump: (pid, task address) per process.
        rc, out, err = guest.run("vmi-ps", guest.image, "-o", "pid,task,name", "--no-headers")
        rows = [line.split(" ", 2) for line in out.splitlines()]
        tasks_offset = guest.layout_value("vmi-ps", r"tasks at \+(0x[0-9a-f]+)")
        rc2, walk, _ = guest.run("vmi-ps", guest.image, "-o", "pid,task", "--no-headers", "--format", "jsonl")
        # vmi-ps sorts by pid; the kernel's list is in creation order, which for
        # a freshly booted guest is pid order too.
        results.check(rc == 0 and rc2 == 0 and len(rows) > 10, f"{args.guest}: the intact dump lists cleanly", err)
        listed = [f"{pid} {name}" for pid, _, name in rows]
        victim = 5  # the sixth process in the list
        victim_task = int(rows[victim][1], 16)
        earlier_task = int(rows[1][1], 16)
        next_field = guest.physical(victim_task + tasks_offset)

        image = corrupted_copy(guest, scratch, "loop.raw", [(next_field, pack(earlier_task + tasks_offset))])
        rc, out, err = guest.run("vmi-ps", image, "-o", "pid,name", "--no-headers")
        check_stopped(results, "task list that loops back: stops at the loop, names the entry, exit 2",
                      rc, out, err, listed[:victim + 1], "loops")

        hole = 0xffff888000000000 + (1 << 40) if guest.pointer == 8 else 0xfffff000
        image = corrupted_copy(guest, scratch, "hole.raw", [(next_field, pack(hole))])
        rc, out, err = guest.run("vmi-ps", image, "-o", "pid,name", "--no-headers")
        check_stopped(results, "task list pointing where no RAM is mapped: stops there, exit 2",
                      rc, out, err, listed[:victim + 1], f"{hole - tasks_offset:#x}")

        name_offset = guest.layout_value("vmi-ps", r"comm at \+(0x[0-9a-f]+)")
        image = corrupted_copy(guest, scratch, "name.raw",
                               [(guest.physical(victim_task + name_offset), b"\x1b[31mGARBAGE!!!!!!")])
        rc, out, err = guest.run("vmi-ps", image, "-o", "pid,name", "--no-headers")
        check_stopped(results, "task with an unterminated name: stops before it, names it, exit 2",
                      rc, out, err, listed[:victim], f"{victim_task:#x}")
        results.check("\x1b" not in err, "the garbage name's escape code does not reach the terminal", repr(err))

        # The module list: the last module's next pointer back to the first.
        rc, out, err = guest.run("vmi-lsmod", guest.image, "--format", "jsonl", "-v")
        modules = [re.search(r'"module":"(0x[0-9a-f]+)"', line).group(1) for line in out.splitlines()]
        names = [re.search(r'"name":"([^"]+)"', line).group(1) for line in out.splitlines()]
        list_offset = guest.layout_value("vmi-lsmod", r"module list at \+(0x[0-9a-f]+)")
        last = int(modules[-1], 16)
        image = corrupted_copy(guest, scratch, "modloop.raw",
                               [(guest.physical(last + list_offset), pack(int(modules[0], 16) + list_offset))])
        rc, out, err = guest.run("vmi-lsmod", image, "--no-headers")
        got = [line.split(" ")[0] for line in out.splitlines()]
        warnings = [line for line in err.splitlines() if "warning:" in line]
        results.check(rc == 2 and got == names and len(warnings) == 1 and "loops" in warnings[0],
                      "module list that loops: every module once, one warning, exit 2", f"rc={rc} {got} {err}")
    return results.finish()


if __name__ == "__main__":
    sys.exit(main())

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
import shutil
import struct
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from testlib import (Results, Tools, guest_dir_root, guest_symbol, kernel_page_tables,  # noqa: E402
                     linux_guest_config, read_guest_env, struct_facts, walk_module_list, walk_task_list)


class Guest:
    """The guest's raw dump, its config entry for the tools, and an independent view of
    it: testlib's page-table walker and pahole's offsets from the kernel's BTF (or the
    i386 profile), so that what is corrupted where does not come from the tools."""

    def __init__(self, tools, guest_dir, name, scratch):
        self.tools = tools
        self.env = read_guest_env(guest_dir)
        self.config = linux_guest_config(name, guest_dir, self.env, scratch)
        self.name = name
        self.image = os.path.join(guest_dir, "memory.raw")
        self.pointer = 8 if self.env["GUEST_ARCH"] == "x86_64" else 4
        self.facts = struct_facts(guest_dir, self.env, scratch)
        self.tables = kernel_page_tables(guest_dir, self.env, "raw")
        self.init_task = guest_symbol(guest_dir, self.env, scratch, "init_task")
        self.modules_head = guest_symbol(guest_dir, self.env, scratch, "modules")

    def run(self, tool, image, *args):
        return self.tools.run(tool, "-c", self.config, self.name, "--image", image, *args, timeout=60)

    def physical(self, va):
        """Physical address (= offset in the raw dump) of a kernel virtual address."""
        return self.tables.physical(va)


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
        tasks_offset = guest.facts["task_struct.tasks"]
        name_offset = guest.facts["task_struct.comm"]

        # The intact dump: the kernel's task list in its own order, walked here, and
        # vmi-ps's lines (sorted by pid) for the same tasks.
        walk = walk_task_list(guest.tables, guest.facts, guest.init_task)[1:]  # init_task (pid 0) is not listed
        rc, out, err = guest.run("vmi-ps", guest.image, "-o", "pid,task,name", "--no-headers", "-r")
        rows = [line.split(" ", 2) for line in out.splitlines()]
        line_of = {int(pid): f"{pid} {name}" for pid, _, name in rows}
        results.check(rc == 0 and sorted((int(pid), int(task, 16)) for pid, task, _ in rows)
                      == sorted((pid, task) for task, pid, _ in walk) and len(rows) > 10,
                      f"{args.guest}: the intact dump lists cleanly: the tasks (pid, address) of the kernel's list",
                      f"rc={rc} {err}")

        def expected(count):
            """vmi-ps's lines for the first `count` tasks of the kernel's list."""
            return [line_of.get(pid, f"{pid} ?") for pid in sorted(pid for _, pid, _ in walk[:count])]

        victim = 5  # the sixth process in the list
        victim_task = walk[victim][0]
        earlier_task = walk[1][0]
        next_field = guest.physical(victim_task + tasks_offset)

        image = corrupted_copy(guest, scratch, "loop.raw", [(next_field, pack(earlier_task + tasks_offset))])
        rc, out, err = guest.run("vmi-ps", image, "-o", "pid,name", "--no-headers", "-r")
        check_stopped(results, "task list that loops back: stops at the loop, names the entry, exit 2",
                      rc, out, err, expected(victim + 1), "loops")

        hole = 0xffff888000000000 + (1 << 40) if guest.pointer == 8 else 0xfffff000
        if results.check(guest.tables.translate(hole) is None,
                         f"{hole:#x} is not mapped in the guest's kernel page tables (testlib's walker)"):
            image = corrupted_copy(guest, scratch, "hole.raw", [(next_field, pack(hole))])
            rc, out, err = guest.run("vmi-ps", image, "-o", "pid,name", "--no-headers", "-r")
            check_stopped(results, "task list pointing where no RAM is mapped: stops there, exit 2",
                          rc, out, err, expected(victim + 1), f"{hole - tasks_offset:#x}")

        image = corrupted_copy(guest, scratch, "name.raw",
                               [(guest.physical(victim_task + name_offset), b"\x1b[31mGARBAGE!!!!!!")])
        rc, out, err = guest.run("vmi-ps", image, "-o", "pid,name", "--no-headers", "-r")
        # A bad field of one task is marked ("?") and named; the walk goes on.
        victim_pid = walk[victim][1]
        marked = [f"{pid} ?" if pid == victim_pid else line_of.get(pid, f"{pid} ?")
                  for pid in sorted(pid for _, pid, _ in walk)]
        warnings = [line for line in err.splitlines() if "warning:" in line]
        results.check(rc == 2 and out.splitlines() == marked and warnings and
                      all(f"{victim_task:#x}" in w and "unterminated" in w for w in warnings),
                      "task with an unterminated name: marked '?', named in a warning, the rest listed, exit 2",
                      f"rc={rc}\nstderr: {err}\nstdout: {out.splitlines()[:8]}")
        results.check("\x1b" not in err, "the garbage name's escape code does not reach the terminal", repr(err))

        # The module list, walked here: the last module's next pointer back to the first.
        modules = walk_module_list(guest.tables, guest.facts, guest.modules_head)
        with open(os.path.join(guest_dir, "modules.txt")) as f:
            guest_says = sorted(line.split()[0] for line in f if line.strip())
        names = [name for _, name in modules]
        results.check(sorted(names) == guest_says and len(names) > 1,
                      f"{args.guest}: the module list walked here is the guest's /proc/modules",
                      f"{names} {guest_says}")
        list_offset = guest.facts["module.list"]
        image = corrupted_copy(guest, scratch, "modloop.raw",
                               [(guest.physical(modules[-1][0] + list_offset), pack(modules[0][0] + list_offset))])
        rc, out, err = guest.run("vmi-lsmod", image, "--no-headers", "-r")
        got = [line.split(" ")[0] for line in out.splitlines()]
        warnings = [line for line in err.splitlines() if "warning:" in line]
        results.check(rc == 2 and got == names and len(warnings) == 1
                      and "loops" in warnings[0],
                      "module list that loops: every module once, one warning, exit 2", f"rc={rc} {got} {err}")
        guest.tables.memory.close()
    return results.finish()


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""A LibVMI user's config entry works as it is.

LibVMI's process-list needs only `sysmap` and five offsets: linux_tasks,
linux_mm, linux_pid, linux_name and linux_pgd. With exactly such an entry,
vmi-ps must list every process the guest listed itself (pid and name), show
'-' in the columns no key fills, and say once which keys would fill them;
exit 0 (a kernel thread's name is then its 15-byte comm, as in LibVMI,
since the keys that lead to the full name are not there). The offsets come from the kernel's debug information (the profile
generated with pahole from the -dbg package's DWARF), never from vmi-ps.

Guests: both i386 guests (no BTF in Debian's 32-bit kernels) with the real
System.map of the -dbg package.
"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from testlib import REPO, guest_sysmap, read_guest_env, run_per_guest, same_name  # noqa: E402

GUESTS = ["i386-pae", "i386-2level"]
LIBVMI_KEYS = ["linux_tasks", "linux_mm", "linux_pid", "linux_name", "linux_pgd"]


def profile_offsets(release):
    """{key: value} from share/profiles/<release>/offsets.conf (pahole on DWARF)."""
    values = {}
    with open(os.path.join(REPO, "share", "profiles", release, "offsets.conf")) as f:
        for line in f:
            line = line.split("#", 1)[0].strip().rstrip(";")
            if "=" in line:
                key, value = (part.strip() for part in line.split("=", 1))
                values[key] = int(value, 0)
    return values


def guest_processes(guest_dir):
    """{pid: name} from the guest's own procs.txt (PID PPID UID GID STATE COMM)."""
    processes = {}
    with open(os.path.join(guest_dir, "procs.txt"), encoding="utf-8", errors="replace") as f:
        for line in f:
            parts = line.rstrip("\n").split(" ", 5)
            if len(parts) == 6:
                processes[parts[0]] = parts[5]
    return processes


def check_guest(results, tools, name, guest_dir, scratch):
    env = read_guest_env(guest_dir)
    offsets = profile_offsets(env["GUEST_RELEASE"])
    config = os.path.join(scratch, f"{name}-libvmi.conf")
    with open(config, "w") as f:
        f.write(f"{name} {{\n    ostype = \"Linux\";\n    sysmap = \"{guest_sysmap(guest_dir, env, scratch)}\";\n")
        for key in LIBVMI_KEYS:
            f.write(f"    {key} = {offsets[key]:#x};\n")
        f.write("}\n")
    theirs = guest_processes(guest_dir)
    lister = env.get("GUEST_LISTER_PID", "")
    for kind in ("elf", "raw"):
        what = f"{name} {kind}"
        image = os.path.join(guest_dir, f"memory.{kind}")
        rc, out, err = tools.run("vmi-ps", "-c", config, name, "--image", image, "-o", "pid,ppid,uid,state,name",
                                 "--no-headers", "-r")
        rows = [line.split(" ", 4) for line in out.splitlines()]
        ours = {row[0]: row[4] for row in rows if len(row) == 5}
        problems = [f"pid {pid} ({theirs[pid]}) missing" for pid in theirs if pid not in ours and pid != lister]
        problems += [f"pid {pid} ({ours[pid]}) not in the guest's list" for pid in ours if pid not in theirs]
        # Without the kthread keys a kernel thread's name is its comm, the first
        # 15 bytes of the name procfs shows (as LibVMI shows it too).
        problems += [f"pid {pid}: vmi-ps {ours[pid]!r} guest {theirs[pid]!r}" for pid in ours
                     if pid in theirs and not same_name(theirs[pid], ours[pid])
                     and not (len(theirs[pid]) > 15 and ours[pid] == theirs[pid][:15])]
        results.check(rc == 0 and len(ours) > 20 and not problems,
                      f"{what}: five LibVMI keys list every process the guest listed ({len(theirs)}), pid and name",
                      f"rc={rc}\n" + "\n".join(problems[:20]) + "\n" + err)
        unavailable = all(row[1:4] == ["-", "-", "-"] for row in rows if len(row) == 5)
        warnings = [line for line in err.splitlines() if "warning:" in line]
        results.check(unavailable and len(warnings) == 1 and all(k in warnings[0] for k in
                                                                 ("ppid", "uid", "state", "linux_parent", "linux_cred",
                                                                  "linux_state")),
                      f"{what}: ppid, uid and state show '-', and one warning names the keys that would fill them",
                      err)
        rc, out, err = tools.run("vmi-ps", "-c", config, name, "--image", image, "--format", "json", "-o",
                                 "pid,ppid,name")
        results.check(rc == 0 and '"ppid":null' in out and '"name":"init"' in out,
                      f"{what}: JSON shows the unavailable column as null", err)


def main():
    return run_per_guest(__doc__, GUESTS, check_guest)


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Compares `vmi-ps -o pid,name --no-headers` output with a test guest's own
procs.txt (PID PPID UID GID STATE COMM). Prints the differences; exit 0 when
every pid is in both lists with the same name (kworker descriptions may differ,
see testlib.same_name), 1 otherwise, 2 on unreadable input.

Usage: same_processes.py VMI_PS_OUTPUT PROCS_TXT
"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from testlib import same_name  # noqa: E402


def read_pairs(path, fields):
    """{pid: name} from lines of `fields` whitespace-separated fields, the last
    (the name) possibly holding spaces."""
    pairs = {}
    with open(path, encoding="utf-8", errors="replace") as f:
        for number, line in enumerate(f, 1):
            parts = line.rstrip("\n").split(None, fields - 1)
            if not line.strip():
                continue
            if len(parts) != fields or not parts[0].isdigit():
                raise ValueError(f"{path}:{number}: not {fields} fields starting with a pid: {line.rstrip()!r}")
            pairs[int(parts[0])] = parts[-1]
    return pairs


def main():
    if len(sys.argv) != 3:
        print("usage: same_processes.py VMI_PS_OUTPUT PROCS_TXT", file=sys.stderr)
        return 2
    try:
        ours = read_pairs(sys.argv[1], 2)
        theirs = read_pairs(sys.argv[2], 6)
    except (OSError, ValueError) as error:
        print(f"same_processes: {error}", file=sys.stderr)
        return 2
    differences = []
    for pid in sorted(set(ours) | set(theirs)):
        if pid not in ours:
            differences.append(f"pid {pid} ({theirs[pid]}): missing from vmi-ps")
        elif pid not in theirs:
            differences.append(f"pid {pid} ({ours[pid]}): not in the guest's own list")
        elif not same_name(theirs[pid], ours[pid]):
            differences.append(f"pid {pid}: vmi-ps says {ours[pid]!r}, the guest {theirs[pid]!r}")
    if not theirs:
        differences.append("the guest's list is empty")
    print("\n".join(differences) if differences else f"{len(ours)} processes, the same pids and names")
    return 1 if differences else 0


if __name__ == "__main__":
    sys.exit(main())

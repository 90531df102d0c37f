"""Checks shared by the live-guest tests, whatever runs the guest (QEMU over
QMP, libvirt). A guest object here has running() -> bool, suspend() and
resume(), own_procs() -> the guest's own "PID PPID UID GID STATE COMM" lines
and own_modules() -> its /proc/modules lines.
"""
import json
import os
import re
import select
import signal
import subprocess
import time

from testlib import same_name  # noqa: F401 - the live tests take it from here too

# What vmi-ps -v says for each --access path.
ACCESS_NOTES = {"memfd": "mapped from QEMU pid", "process": "process_vm_readv on QEMU pid",
                "monitor": "through the QEMU monitor"}


def proc_names(lines):
    """{pid: comm} from the guest's "PID PPID UID GID STATE COMM" lines."""
    return {parts[0]: parts[5] for parts in (line.split(None, 5) for line in lines) if len(parts) == 6}


def check_lists(results, tools, guest, common, what):
    """vmi-ps and vmi-lsmod with `common` arguments match the guest's own
    lists, and the guest was paused for the walk and runs again. Returns
    vmi-ps's -v output."""
    theirs = proc_names(guest.own_procs())
    rc, out, ps_err = tools.run("vmi-ps", *common, "-o", "pid,name", "--no-headers", "-v")
    ours = dict(line.split(" ", 1) for line in out.splitlines())
    problems = [f"pid {pid}: vmi-ps {ours.get(pid)!r} guest {theirs.get(pid)!r}"
                for pid in sorted(set(ours) | set(theirs), key=int)
                if pid not in ours or pid not in theirs or not same_name(theirs[pid], ours[pid])]
    results.check(rc == 0 and not problems and len(ours) > 20,
                  f"{what}: vmi-ps matches the guest's own list ({len(ours)} processes)",
                  "\n".join(problems[:20]) + ps_err[-1500:])
    results.check(guest.running() and "guest paused" in ps_err and "guest resumed" in ps_err,
                  f"{what}: the guest was paused for the walk and runs again", ps_err[-1500:])

    theirs = {p[0]: [int(p[1]), int(p[2])] for p in (line.split() for line in guest.own_modules())}
    rc, out, err = tools.run("vmi-lsmod", *common, "--format", "json")
    ours = {m["name"]: [m["size"], m["refcount"]] for m in json.loads(out)} if rc == 0 else {}
    results.check(rc == 0 and ours == theirs and theirs,
                  f"{what}: vmi-lsmod matches the guest's /proc/modules ({len(theirs)} modules)",
                  f"ours {ours} guest {theirs} {err}")
    return ps_err


def read_until(fd, text, timeout):
    """Bytes read straight from the pipe `fd` until they hold `text` (bounded),
    as text. Unbuffered, so select() sees every byte that has not been read."""
    data = b""
    deadline = time.time() + timeout
    while text.encode() not in data and time.time() < deadline:
        ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.time()))
        chunk = os.read(fd, 65536) if ready else b""
        if not chunk:
            break
        data += chunk
    return data.decode(errors="replace")


def check_signals(results, tools, guest, common, what, signals=(signal.SIGINT, signal.SIGTERM, signal.SIGHUP)):
    """A signal mid-walk (the slow monitor path), sent once -v says the guest
    is paused: the tool resumes the guest, then dies of the signal. A signal
    before the pause must leave the guest running too."""
    for sig in signals:
        outcomes = []
        for delay in (None, 0.0, 0.02, 0.05):
            process = subprocess.Popen([tools.path("vmi-ps"), *common, "--access", "monitor", "-v"],
                                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            early = ""
            if delay is not None:
                early = read_until(process.stderr.fileno(), "guest paused", 120)
                time.sleep(delay)
            process.send_signal(sig)
            _, rest = process.communicate(timeout=120)
            err = early + rest.decode(errors="replace")
            paused = "guest paused" in err
            outcomes.append((delay, process.returncode, paused, "guest resumed" in err, guest.running()))
        # A walk may end before a late signal (exit 0); every other try dies of it.
        ok = all(rc in (-sig, 0) and running for _, rc, _, _, running in outcomes) and \
            all(paused and resumed for delay, _, paused, resumed, _ in outcomes if delay is not None) and \
            any(delay is not None and rc == -sig for delay, rc, _, _, _ in outcomes) and outcomes[0][1] == -sig
        results.check(ok, f"{what}: {sig.name} during a walk kills the tool only after it resumed the guest, "
                      f"which runs", f"(delay after pause, exit status, paused, resumed, guest running) per try: "
                      f"{outcomes}")


def check_access_paths(results, tools, guest, base, memfd, what):
    """check_lists over every --access path and then auto, which must pick the
    fastest that works; memfd is refused in one line when guest RAM is
    anonymous (memfd False)."""
    for access, note in ACCESS_NOTES.items():
        if access == "memfd" and not memfd:
            rc, _, err = tools.run("vmi-ps", *base, "--access", "memfd")
            results.check(rc == 2 and "privately" in err and len(err.splitlines()) == 1 and guest.running(),
                          f"{what}: --access memfd on anonymous guest RAM is refused in one line", err)
            continue
        err = check_lists(results, tools, guest, [*base, "--access", access], f"{what} ({access})")
        results.check(note in err, f"{what} ({access}): -v names the path", err[-1500:])
    err = check_lists(results, tools, guest, base, f"{what} (auto)")
    expected = ACCESS_NOTES["memfd"] if memfd else ACCESS_NOTES["process"]
    results.check(expected in err, f"{what} (auto): the fastest path that works is chosen: "
                  f"{'memfd' if memfd else 'process_vm_readv'}", err[-1500:])


def check_paused_stays_paused(results, tools, guest, base, what):
    guest.suspend()
    try:
        rc, _, err = tools.run("vmi-ps", *base, "-v")
        results.check(rc == 0 and not guest.running() and "stays paused" in err,
                      f"{what}: a guest paused beforehand stays paused", err[-1500:])
    finally:
        guest.resume()


def processes(tools, base):
    """[[pid, name, task address]] from vmi-ps, and task_struct.comm's offset."""
    rc, out, err = tools.run("vmi-ps", *base, "-o", "pid,name,task", "--no-headers", "-v")
    match = re.search(r"comm at \+(0x[0-9a-f]+)", err)
    if rc != 0 or not match:
        raise SystemExit(f"vmi-ps failed on the live guest: {err[-1500:]}")
    return [line.split(" ", 2) for line in out.splitlines()], int(match.group(1), 16)

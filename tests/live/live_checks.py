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

from testlib import REGULAR_KWORKER, same_name  # noqa: F401 - the live tests take same_name from here too

# What vmi-ps -v says for each --access path.
ACCESS_NOTES = {"memfd": "mapped from QEMU pid", "process": "process_vm_readv on QEMU pid",
                "monitor": "through the QEMU monitor"}
# The guest's responder is its /init: pid 1, running (R) while it lists the processes,
# blocked reading its serial port (S) whenever the guest is paused between commands.
RESPONDER_PID = "1"
# The parent of every kernel thread, and how many sleeping ones a walk may find woken.
KTHREADD_PID = "2"
MAX_WOKEN_KTHREADS = 2
FIELDS = ("ppid", "uid", "gid", "state", "name")


def proc_names(lines):
    """{pid: comm} from the guest's "PID PPID UID GID STATE COMM" lines."""
    return {parts[0]: parts[5] for parts in (line.split(None, 5) for line in lines) if len(parts) == 6}


def proc_rows(lines):
    """{pid: [ppid, uid, gid, state, name]} from "PID PPID UID GID STATE COMM" lines
    (the guest's answer, or vmi-ps -o pid,ppid,uid,gid,state,name -r)."""
    return {parts[0]: parts[1:] for parts in (line.split(" ", 5) for line in lines) if len(parts) == 6}


def compare_live(ours, before, after):
    """vmi-ps's rows against the guest's own answers right before and right after
    the walk. Returns (problems, allowances). A row must equal the guest's in ppid,
    uid and gid, and in state and name as one of the two looks had them, except for
    exactly these, each explainable and listed in `allowances`:
    - the responder (pid 1) is R in its own answer, which it was running, and S in
      the walk, which found it blocked on its serial port;
    - a regular kworker's workqueue description and state (I, R, S, D) change as it
      picks up work, the tty work that delivers our commands among it; such a
      worker may also be started or retired by its pool between the looks, and
      then be in only one of them;
    - a kernel thread (ppid 2) that sleeps in both looks may be R in the walk: it
      was woken (a timer, as kdamond's) and runnable at the instant of the pause.
      At most MAX_WOKEN_KTHREADS of them: a walk that read states wrong would show
      many."""
    problems, allowances = [], []
    woken = []
    looks = (before, after)
    for pid in sorted(set(ours) | set(before) | set(after), key=int):
        seen = [look[pid] for look in looks if pid in look]
        name = (seen or [ours.get(pid)])[0][-1]
        kworker = REGULAR_KWORKER.fullmatch(name) is not None
        if pid not in ours:
            if len(seen) == 2:
                problems.append(f"pid {pid} ({name}) missing from vmi-ps")
            elif kworker:
                allowances.append(f"pid {pid} {name} in one look only, not in the walk")
            else:
                problems.append(f"pid {pid} ({name}) in one of the guest's looks only and not in vmi-ps")
            continue
        if not seen:
            problems.append(f"pid {pid} ({ours[pid][-1]}) not in the guest's list")
            continue
        if len(seen) == 1:
            if kworker:
                allowances.append(f"pid {pid} {name} in one look only, and in the walk")
            else:
                problems.append(f"pid {pid} ({name}) in one of the guest's looks only")
        mine = ours[pid]
        if any(mine[:3] != theirs[:3] for theirs in seen):
            problems.append(f"pid {pid}: vmi-ps {mine} guest {seen}")
            continue
        if not any(same_name(theirs[4], mine[4]) for theirs in seen):
            problems.append(f"pid {pid}: vmi-ps name {mine[4]!r}, guest {[t[4] for t in seen]}")
            continue
        states = {theirs[3] for theirs in seen}
        if mine[3] in states:
            continue
        if pid == RESPONDER_PID and states == {"R"} and mine[3] == "S":
            allowances.append("pid 1 (the responder) R in its answers, S in the walk")
        elif mine[3] == "R" and mine[0] == KTHREADD_PID and states <= set("ISD"):
            woken.append(f"pid {pid} {name}: {'/'.join(sorted(states))} in the guest's looks, R in the walk")
        elif kworker and states | {mine[3]} <= set("IRSD"):
            allowances.append(f"pid {pid} {name}: {'/'.join(sorted(states))} in the guest's looks, "
                              f"{mine[3]} in the walk")
        else:
            problems.append(f"pid {pid} ({name}): state {mine[3]} in vmi-ps, {'/'.join(sorted(states))} "
                            f"in the guest's looks")
    if len(woken) > MAX_WOKEN_KTHREADS:
        problems.append(f"{len(woken)} sleeping kernel threads are R in the walk: " + "; ".join(woken))
    else:
        allowances += woken
    return problems, allowances


def check_lists(results, tools, guest, common, what):
    """vmi-ps and vmi-lsmod with `common` arguments match what the guest says about
    itself right before and after (compare_live), and the guest was paused for the
    walk and runs again. Returns vmi-ps's -v output."""
    before = proc_rows(guest.own_procs())
    rc, out, ps_err = tools.run("vmi-ps", *common, "-o", "pid,ppid,uid,gid,state,name", "--no-headers", "-r", "-v")
    after = proc_rows(guest.own_procs())
    ours = proc_rows(out.splitlines())
    problems, allowances = compare_live(ours, before, after)
    results.check(rc == 0 and not problems and len(ours) > 20,
                  f"{what}: vmi-ps matches the guest's own list ({len(ours)} processes: pid, ppid, uid, gid, state, "
                  f"name){'; allowed: ' + '; '.join(allowances) if allowances else ''}",
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
    """[[pid, name, task address]] from vmi-ps."""
    rc, out, err = tools.run("vmi-ps", *base, "-o", "pid,name,task", "--no-headers", "-r")
    if rc != 0:
        raise SystemExit(f"vmi-ps failed on the live guest: {err[-1500:]}")
    return [line.split(" ", 2) for line in out.splitlines()]


def check_hooks(results, tools, guest, common, what, dump):
    """vmi-hooks --check on the running guest: nothing found, the guest paused
    once for the walk and running again; its system-call rows name the same
    functions as on the dump of the same guest (the addresses move with KASLR)."""
    rc, out, err = tools.run("vmi-hooks", *common, "--check", "-v")
    paused = re.findall(r"guest resumed after ([0-9.]+) ms paused", err)
    results.check(rc == 0 and out == "" and len(paused) == 1 and guest.running(),
                  f"{what}: vmi-hooks --check finds nothing, the guest paused once ({''.join(paused)} ms) and runs",
                  f"rc={rc}\n{out[:800]}\n{err[-1500:]}")

    def calls(args):
        rc, out, err = tools.run("vmi-hooks", *args, "--format", "json")
        rows = json.loads(out) if rc == 0 else []
        return {(r["hooked"], r["target_symbol"]) for r in rows if r["kind"].startswith("syscall_")}, err

    live, err = calls(common)
    dumped, _ = calls(["--image", dump])
    results.check(live and live == dumped,
                  f"{what}: vmi-hooks's {len(live)} system-call slots and branches reach the same functions as on the "
                  "guest's dump", f"only live: {sorted(live - dumped)[:5]}\nonly dump: {sorted(dumped - live)[:5]}\n"
                  f"{err[-800:]}")
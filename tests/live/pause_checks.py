"""Checks of how the tools pause a live guest, shared by the QMP and the
libvirt runs of tests/live/test_live_pause.py. A guest object here is what
live_checks.py describes, plus kind ("qmp" or "libvirt") and qemu_pid().

Every check ends with the guest running again (unless it was paused
beforehand on purpose), and says so.
"""
import json
import os
import re
import signal
import statistics
import subprocess
import tempfile
import time

from live_checks import proc_names, read_until, same_name

# Signals that end a tool (default action) and that it must hold back while
# the guest is paused: it resumes the guest, then dies of them.
ENDING = [signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2,
          signal.SIGALRM, signal.SIGXCPU]
# Faults: they cannot be held back; a handler resumes the guest first.
FAULTS = [signal.SIGSEGV, signal.SIGBUS, signal.SIGFPE, signal.SIGILL, signal.SIGABRT]
FAULT_NOTE = "crashing while the guest is paused: resuming it first"
# A slow walk (the monitor path), with no time limit to get in the way.
SLOW = ["--access", "monitor", "--max-pause", "0"]


def process_state(pid):
    """The state letter of /proc/PID/stat (R, S, T, ...), or None once it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return None


def wait_for(condition, timeout, step=0.02):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if condition():
            return True
        time.sleep(step)
    return condition()


def start(tools, tool, *args, **popen):
    return subprocess.Popen([tools.path(tool), *map(str, args)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            **popen)


def check_signals_while_paused(results, tools, guest, base, what):
    """Each signal, sent once -v says the guest is paused (mid-walk on the slow
    monitor path): the guest runs afterwards; an ending signal ends the tool
    only after the resume; SIGPIPE is ignored; SIGTSTP stops the tool only
    after the resume, and it finishes after SIGCONT; a fault resumes the
    guest before the process dies."""
    for sig in [*ENDING, signal.SIGPIPE, signal.SIGTSTP, *FAULTS]:
        # The kernel discards SIGTSTP sent to an orphaned process group (as ours may be under
        # ctest, started from a daemon or a script): the tool gets a group of its own, whose
        # parent (this script) is in the same session, so the stop is not discarded.
        process = start(tools, "vmi-ps", *base, *SLOW, "-v", process_group=0)
        err = read_until(process.stderr.fileno(), "guest paused", 120)
        process.send_signal(sig)
        detail = ""
        if sig == signal.SIGTSTP:
            stopped = wait_for(lambda: process_state(process.pid) == "T", 60)
            # Printed before the signals were let through, so before the stop.
            err += read_until(process.stderr.fileno(), "guest resumed", 10)
            # A bare QEMU serves one QMP client at a time, and the stopped tool is it.
            running_meanwhile = guest.running() if guest.kind == "libvirt" else "guest resumed" in err
            detail = f"stopped {stopped}, guest running while the tool was stopped {running_meanwhile}; "
            process.send_signal(signal.SIGCONT)
        out, rest = process.communicate(timeout=120)
        err += rest.decode(errors="replace")
        rc, running = process.returncode, guest.running()
        resumed = "guest resumed" in err
        if sig in ENDING:
            ok = rc == -sig and resumed
        elif sig == signal.SIGPIPE:
            ok = rc == 0 and resumed and out  # ignored: the walk went on
        elif sig == signal.SIGTSTP:
            ok = stopped and running_meanwhile and rc == 0 and resumed and out
        else:
            # Killed by the signal, or ended by the sanitizer's report of it.
            ok = rc != 0 and FAULT_NOTE in err
        results.check(ok and running and "guest paused" in err,
                      f"{what}: {sig.name} while the guest is paused: the guest runs again "
                      f"{'then the tool dies of it' if sig in ENDING else 'first'}",
                      f"{detail}exit {rc}, guest running {running}\n{err[-1500:]}")


def check_two_tools(results, tools, guest, base, what, rounds):
    """vmi-ps and vmi-lsmod started together on the guest, `rounds` times.
    Their stderr goes to one file, so its order is the order the lines were
    written: the two pauses must never overlap (each says "guest paused" and
    "guest resumed" with nothing of the other's between), neither finds the
    guest paused by the other, both lists match the guest's own, and the
    guest runs at the end. Prints the lock waits and paused windows seen."""
    theirs = proc_names(guest.own_procs())
    modules = {p[0]: [int(p[1]), int(p[2])] for p in (line.split() for line in guest.own_modules())}
    problems, waits, windows = [], [], []
    for round_number in range(rounds):
        with tempfile.TemporaryFile() as log:
            ps = subprocess.Popen([tools.path("vmi-ps"), *base, "-o", "pid,name", "--no-headers", "-r", "-v"],
                                  stdout=subprocess.PIPE, stderr=log)
            lsmod = subprocess.Popen([tools.path("vmi-lsmod"), *base, "--format", "json", "-v"],
                                     stdout=subprocess.PIPE, stderr=log)
            ps_out, _ = ps.communicate(timeout=300)
            lsmod_out, _ = lsmod.communicate(timeout=300)
            log.seek(0)
            err = log.read().decode(errors="replace")
        events = [(m.group(1), m.group(2)) for m in
                  re.finditer(r"^(vmi-ps|vmi-lsmod): (guest paused|guest resumed|the guest is paused already)",
                              err, re.M)]
        expected = [[(a, "guest paused"), (a, "guest resumed"), (b, "guest paused"), (b, "guest resumed")]
                    for a, b in (("vmi-ps", "vmi-lsmod"), ("vmi-lsmod", "vmi-ps"))]
        ours = dict(line.split(" ", 1) for line in ps_out.decode(errors="replace").splitlines())
        listed = ({m["name"]: [m["size"], m["refcount"]] for m in json.loads(lsmod_out)}
                  if lsmod.returncode == 0 else {})
        bad = [pid for pid in set(ours) | set(theirs)
               if pid not in ours or pid not in theirs or not same_name(theirs[pid], ours[pid])]
        if ps.returncode or lsmod.returncode or events not in expected or bad or listed != modules:
            problems.append(f"round {round_number}: exit {ps.returncode}/{lsmod.returncode}, order {events}, "
                            f"processes differing {sorted(bad)[:5]}, modules equal {listed == modules}\n{err[-800:]}")
        waits += [float(w) for w in re.findall(r"pause lock \S+ taken after ([0-9.]+) ms", err)]
        windows += [float(w) for w in re.findall(r"guest resumed after ([0-9.]+) ms paused", err)]
    running = guest.running()
    results.check(not problems and running,
                  f"{what}: vmi-ps and vmi-lsmod together, {rounds} times: one pause after the other, both lists "
                  f"right every time; the guest runs", f"guest running {running}\n" + "\n".join(problems[:5]))
    if waits and windows:
        print(f"    {what}: pause lock waits (ms): median {statistics.median(waits):.1f}, max {max(waits):.1f}; "
              f"paused windows (ms): median {statistics.median(windows):.1f}, max {max(windows):.1f} "
              f"over {len(windows)} pauses")


def lock_path(guest):
    """The pause lock file of a QEMU guest: /run/vmitools/qemu-PID-STARTTIME.lock."""
    pid = guest.qemu_pid()
    with open(f"/proc/{pid}/stat") as f:
        starttime = f.read().rsplit(")", 1)[1].split()[19]
    return f"/run/vmitools/qemu-{pid}-{starttime}.lock"


def check_lock_held(results, tools, guest, base, what):
    """Another holder of the guest's pause lock (here: this test, as a
    stand-in for a tool that has the guest paused): the tool waits
    --lock-wait, then fails in one line naming the holder, never pausing."""
    import fcntl
    path = lock_path(guest)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        started = time.time()
        rc, out, err = tools.run("vmi-ps", *base, "--lock-wait", "300")
        took = time.time() - started
        results.check(rc == 2 and out == "" and len(err.splitlines()) == 1 and guest.running()
                      and f"another vmitools process (pid {os.getpid()}) has held this guest's pause lock for more "
                          f"than 300 ms ({path})" in err,
                      f"{what}: while another process holds the guest's pause lock, the tool waits --lock-wait "
                      f"and fails in one line naming it ({took:.1f} s)", f"exit {rc}\n{err}")
        rc, _, err = tools.run("vmi-ps", *base, "--no-pause", "-v")
        results.check(rc == 0 and "guest paused" not in err,
                      f"{what}: --no-pause needs no lock", err[-1500:])
    finally:
        os.close(fd)
    rc, _, err = tools.run("vmi-ps", *base, "-v")
    results.check(rc == 0 and f"pause lock {path} taken" in err and guest.running(),
                  f"{what}: once the lock is free the tool takes it, pauses and resumes", err[-1500:])


def check_max_pause(results, tools, guest, base, what):
    """--max-pause runs out mid-walk: the guest is resumed then, the walk
    stops, one line, exit 2; a limit long enough changes nothing."""
    started = time.time()
    rc, out, err = tools.run("vmi-ps", *base, "--access", "monitor", "--max-pause", "20")
    results.check(rc == 2 and out == "" and len(err.splitlines()) == 1 and guest.running()
                  and "stayed paused longer than --max-pause (20 ms)" in err,
                  f"{what}: --max-pause 20 on a slow walk: resumed when it ran out, one line, exit 2 "
                  f"({time.time() - started:.1f} s)", f"exit {rc}\n{err}")
    rc, out, err = tools.run("vmi-ps", *base, "--access", "monitor", "--max-pause", "20", "-v", "--format", "json")
    window = re.search(r"guest resumed after ([0-9.]+) ms paused \(the time limit ran out\)", err)
    results.check(rc == 2 and window and json.loads(out).get("error", "").startswith("the guest stayed paused")
                  and guest.running(),
                  f"{what}: -v says the time limit resumed the guest"
                  + (f", after {float(window.group(1)):.1f} ms paused" if window else "")
                  + "; JSON gets the error object", f"exit {rc}\n{out}\n{err[-1500:]}")
    rc, out, err = tools.run("vmi-ps", *base, "--access", "monitor", "--max-pause", "60000", "-v")
    window = re.search(r"guest resumed after ([0-9.]+) ms paused", err)
    results.check(rc == 0 and window and guest.running(),
                  f"{what}: the same walk within --max-pause 60000 succeeds"
                  + (f" ({float(window.group(1)):.1f} ms paused on the monitor path)" if window else ""),
                  f"exit {rc}\n{err[-1500:]}")
    # The default limit must leave room for the slowest path, the monitor's page by page
    # (the one a user without rights on the QEMU process gets).
    rc, _, err = tools.run("vmi-ps", *base, "--access", "monitor", "-v")
    window = re.search(r"guest resumed after ([0-9.]+) ms paused", err)
    results.check(rc == 0 and window and float(window.group(1)) < 10000,
                  f"{what}: the default limit (10000 ms) leaves room for a walk on the monitor path"
                  + (f" ({float(window.group(1)):.1f} ms paused)" if window else ""), err[-1500:])


def resume_hint(err):
    match = re.search(r"resume it with (.+)$", err, re.M)
    return match.group(1) if match else None


def hint_names_guest(hint, guest, socket_path=None):
    """Whether the resume command of an error line is the one for `guest`."""
    if not hint:
        return False
    if guest.kind == "libvirt":
        return hint == f"virsh -c qemu:///system resume {guest.name}"
    return hint.startswith('{"execute":"cont"} on QMP socket ' + (socket_path or guest.sock))


def check_monitor_mischief(results, tools, guest, base, workdir, what):
    """A QMP monitor that does not answer stop, does not answer cont, or
    refuses cont (tests/live/qmp_proxy.py in front of the real socket): each
    bounded, exit 2, one line that says what to do; the guest runs at the end
    or, where our stop went through and our cont did not, the line names the
    command that resumes it."""
    from qmp_proxy import QmpProxy
    path = os.path.join(workdir, "proxy.sock")
    options = [path if word == guest.sock else word for word in base] + ["--access", "monitor", "--max-pause", "0"]
    with QmpProxy(guest.sock, path, hang={"stop"}) as proxy:
        started = time.time()
        rc, out, err = tools.run("vmi-ps", *options)
        took = time.time() - started
        results.check(rc == 2 and out == "" and len(err.splitlines()) == 1 and "could not pause the guest" in err
                      and "did not answer" in err and guest.running(),
                      f"{what}: a monitor that never answers stop: exit 2 after {took:.0f} s, one line, the guest runs "
                      f"(our cont undid a stop that may have arrived)", f"exit {rc}\n{err}")

        proxy.hang, proxy.fail = set(), {"cont"}
        rc, out, err = tools.run("vmi-ps", *options)
        paused = not guest.running()
        results.check(rc == 2 and out == "" and len(err.splitlines()) == 1 and paused
                      and hint_names_guest(resume_hint(err), guest, path) and "refused by the test proxy" in err,
                      f"{what}: a cont that fails: exit 2 (not 0), one line with the command that resumes the guest",
                      f"exit {rc}, guest paused {paused}\n{err}")
        guest.resume()

        proxy.hang, proxy.fail = {"cont"}, set()
        started = time.time()
        rc, out, err = tools.run("vmi-ps", *options, "--format", "json")
        took = time.time() - started
        paused = not guest.running()
        error = json.loads(out) if out.startswith("{") else {}
        results.check(rc == 2 and paused and hint_names_guest(resume_hint(err), guest, path)
                      and "did not answer" in err and error.get("error", "").startswith("could not resume the guest"),
                      f"{what}: a cont never answered: exit 2 after {took:.0f} s, the command that resumes the guest "
                      f"on stderr and in the JSON error object", f"exit {rc}, guest paused {paused}\n{out}\n{err}")
        guest.resume()
    results.check(guest.running(), f"{what}: the guest runs after the monitor checks")


def check_qemu_stopped(results, tools, guest, base, what):
    """The QEMU process stops answering mid-walk (SIGSTOP): every wait is
    bounded, the tool exits 2 saying the guest may still be paused and how to
    resume it; once QEMU runs again, that command resumes it."""
    process = start(tools, "vmi-ps", *base, *SLOW, "-v")
    err = read_until(process.stderr.fileno(), "guest paused", 120)
    qemu = guest.qemu_pid()
    os.kill(qemu, signal.SIGSTOP)
    started = time.time()
    try:
        _, rest = process.communicate(timeout=180)
    finally:
        os.kill(qemu, signal.SIGCONT)
    took = time.time() - started
    err += rest.decode(errors="replace")
    hint = resume_hint(err)
    paused = wait_for(lambda: not guest.running(), 30, 0.5)
    results.check(process.returncode == 2 and "could not resume the guest" in err and hint_names_guest(hint, guest)
                  and paused,
                  f"{what}: QEMU stopped mid-walk: the tool gives up in {took:.0f} s, exit 2, and names the "
                  f"command that resumes the guest", f"exit {process.returncode}, hint {hint!r}\n{err[-2000:]}")
    if hint and hint.startswith("virsh "):
        subprocess.run(hint, shell=True, timeout=120, capture_output=True)
    elif hint:
        guest.resume()  # '{"execute":"cont"}' on the socket the hint names
    results.check(wait_for(guest.running, 60, 0.5), f"{what}: the guest runs after that command ({hint})")


def lock_record(guest):
    """The pause lock's record: (pid, state) of its last holder, or (None, None)."""
    try:
        with open(lock_path(guest)) as f:
            words = f.read().split()
    except OSError:
        return None, None
    return (int(words[0]), words[1]) if len(words) >= 2 else (None, None)


def kill_with_guardian_at_pause(tools, base):
    """vmi-ps and its guardian, both killed once the guest is paused (as systemd
    kills a unit's control group). Returns (the process, whether -v named the
    guardian, stderr up to the pause)."""
    process = start(tools, "vmi-ps", *base, *SLOW, "-v", process_group=0)
    err = read_until(process.stderr.fileno(), "guest paused", 120)
    guardian = re.search(r"pause guardian started \(pid (\d+)\)", err)
    if guardian:
        os.kill(int(guardian.group(1)), signal.SIGKILL)
    process.kill()
    process.communicate(timeout=60)
    return process, bool(guardian), err


def check_sigkill_at_pause(results, tools, guest, base, what):
    """SIGKILL cannot be caught: the tool's guardian process (its own session,
    out of the tool's process group) resumes the guest when the tool dies at
    the pause, even by a kill of the tool's whole process group. When the
    guardian is killed too (systemd kills a unit's whole control group), the
    pause lock says "paused": --resume-abandoned (the units' ExecStopPost)
    resumes the guest and says so, and so does the next ordinary run."""
    process = start(tools, "vmi-ps", *base, *SLOW, "-v", process_group=0)
    err = read_until(process.stderr.fileno(), "guest paused", 120)
    guardian = re.search(r"pause guardian started \(pid (\d+)\)", err)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=60)
    # The guardian keeps stderr open until it has resumed the guest and gone.
    err += read_until(process.stderr.fileno(), "\0", 60)
    process.stderr.close()
    process.stdout.close()
    running = wait_for(guest.running, 30, 0.1)
    pid, state = lock_record(guest)
    results.check(bool(guardian) and "its guardian resumes the guest" in err and running
                  and (pid, state) == (process.pid, "resumed"),
                  f"{what}: SIGKILL of the tool's process group at the pause: its guardian resumes the guest",
                  f"running {running}, lock record {pid} {state}\n{err[-1500:]}")

    process, guardian, err = kill_with_guardian_at_pause(tools, base)
    paused = not guest.running()
    pid, state = lock_record(guest)
    results.check(guardian and paused and (pid, state) == (process.pid, "paused"),
                  f"{what}: the tool and its guardian both killed at the pause: the guest stays paused and the "
                  "pause lock names the dead tool", f"paused {paused}, lock record {pid} {state}\n{err[-1500:]}")
    rc, out, err = tools.run("vmi-ps", *base, "--resume-abandoned")
    running = guest.running()
    results.check(rc == 0 and out == "" and f"vmitools pid {process.pid} died with this guest paused" in err
                  and running and lock_record(guest)[1] == "resumed",
                  f"{what}: --resume-abandoned resumes the guest the dead tool left paused, and says so",
                  f"rc {rc}, running {running}\n{err[-1500:]}")
    rc, out, err = tools.run("vmi-ps", *base, "--resume-abandoned")
    results.check(rc == 0 and out == "" and err == "" and guest.running(),
                  f"{what}: --resume-abandoned on a guest nobody left paused does nothing", err)

    # The next ordinary run does the same.
    process, _, _ = kill_with_guardian_at_pause(tools, base)
    rc, out, err = tools.run("vmi-ps", *base)
    results.check(rc == 0 and f"vmitools pid {process.pid} died with this guest paused" in err
                  and len(out.splitlines()) > 10 and guest.running(),
                  f"{what}: the next run of a tool resumes a guest that a dead tool left paused, says so and "
                  "does its job", f"rc {rc}\n{err[-1500:]}")

#!/usr/bin/env python3
"""The Xen backend on a real Xen: Xen 4.17 nested under QEMU (tests/xen/xen-host.sh,
cached), a PV domU, and our tools run in dom0 against it (tests/xen/backend-payload.sh).

Checked here, on the host, against what the domU reported about itself:
- vmi-ps (by name through a config entry with backend = "xen", by name with --backend
  xen, by --domid): the domU's own process list (pid, ppid, uid, gid, state, name), its
  threads and command lines; JSON carries every field;
- vmi-lsmod: the domU's /proc/modules; vmi-read --ksym linux_banner: its /proc/version;
- vmi-write: a sleep process renamed through its task_struct's comm (a dry run first,
  which changes nothing), then linux_banner written and written back;
- vmi-ps --check --all-domains in dom0 with no --backend: every domain but dom0, by the
  domid, name and uuid `xl list -v` shows, nothing hidden, and its Prometheus textfile;
- a domain that someone else paused is left paused; the domU runs at the end;
- SIGKILL of a tool at the pause: its guardian unpauses the domain; with the
  guardian killed too, --resume-abandoned does;
- then, one after the other, the same kernel as a PVH domU (tools with --sysmap and
  --btf) and as an HVM domU (hvmloader, SeaBIOS, the qemu-xen device model; tools with
  nothing but its name): processes, modules, banner and a vmi-write on each;
- one-line errors: no such domain (name, id), not privileged, domain not running, and
  on this host (no Xen) "no Xen here".

Usage: test_xen_backend.py --bin TOOLS_DIR [--bench FILE] [--dir DIR] [--out DIR] [--no-pvh] [--no-hvm]
                            [--budget S] [--payload-timeout S]
The harness run is retried once when the harness itself fails (a nested PV crash in
dom0's tool stack, see tests/xen/README.md) or dom0 stopped the payload at its limit,
if the budget leaves room for it; our tools' failures are never retried. Every step of
the payload has a time limit of its own (backend-payload.sh): a tool that hangs is killed
and reported here, with how long it ran.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
from testlib import Results, Tools, module_mismatches, same_name  # noqa: E402

TOOLS = ["vmi-ps", "vmi-lsmod", "vmi-read", "vmi-write", "vmi-ksym"]


def read_rows(path, count):
    rows = []
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            parts = line.rstrip("\n").split(None, count - 1)
            if len(parts) == count:
                rows.append(parts)
            elif len(parts) == count - 1:
                rows.append(parts + [""])
    return rows


class Payload:
    """A step's outputs: PAYLOAD_OUT/<step>.{out,err,rc}."""

    def __init__(self, out_dir):
        self.dir = os.path.join(out_dir, "payload")

    def text(self, name):
        path = os.path.join(self.dir, name)
        return open(path, encoding="utf-8", errors="replace").read() if os.path.exists(path) else ""

    def step(self, name):
        rc = self.text(f"{name}.rc").strip()
        return (int(rc) if rc.lstrip("-").isdigit() else None), self.text(f"{name}.out"), self.text(f"{name}.err")


def check_killed_at_pause(results, p):
    """SIGKILL of vmi-ps --check at the pause (backend-payload.sh killed_at_pause)."""
    pid, attempts = p.text("killed.pid").strip(), p.text("killed.attempts").strip()
    after, err, lock = p.text("killed.state-after").strip(), p.text("killed.err"), p.text("killed.lock").split()
    results.check("guest resumed" not in err and "its guardian resumes the guest" in err and after
                  and "p" not in after and lock == [pid, "resumed"],
                  f"SIGKILL at the pause: the guardian unpauses the domain (state a second later {after!r}, lock "
                  f"{' '.join(lock)}; attempts {attempts})", err[-1500:])
    pid, attempts = p.text("killed-both.pid").strip(), p.text("killed-both.attempts").strip()
    after, err, lock = (p.text("killed-both.state-after").strip(), p.text("killed-both.err"),
                        p.text("killed-both.lock").split())
    results.check("guest resumed" not in err and "p" in after and lock == [pid, "paused"],
                  f"the tool and its guardian both killed at the pause: the domain stays paused and the pause "
                  f"lock names the dead tool (state {after!r}, lock {' '.join(lock)}; attempts {attempts})",
                  err[-1500:])
    rc, out, err = p.step("resume-abandoned")
    state = p.text("state-resumed-abandoned.txt").strip()
    results.check(rc == 0 and out == "" and f"vmitools pid {pid} died with this guest paused" in err
                  and state and "p" not in state,
                  f"--resume-abandoned unpauses the domain the dead tool left paused, and says so (state {state!r})",
                  f"rc={rc} {err[-800:]}")


def make_payload(args, payload_dir):
    # Without their debug sections: a sanitizer build's tools are 65 MiB each, and dom0's
    # initramfs lives in its 768 MiB of RAM (xenstored could not write its pid file).
    copies = [(os.path.join(args.bin, tool, tool), os.path.join(payload_dir, tool)) for tool in TOOLS]
    if args.bench and os.path.exists(args.bench):
        copies.append((args.bench, os.path.join(payload_dir, "bench-xen")))
    for source, target in copies:
        subprocess.run(["strip", "--strip-debug", "-o", target, source], check=True)
    shutil.copy2(os.path.join(HERE, "backend-payload.sh"), os.path.join(payload_dir, "run.sh"))
    for kind in [k for k, off in (("pvh", args.no_pvh), ("hvm", args.no_hvm)) if not off]:
        open(os.path.join(payload_dir, f"{kind}.enabled"), "w").close()


def payload_stopped(out_dir):
    """What dom0 wrote when it stopped the payload at its limit (xen-host.sh exit 4): the
    limit it kept (ODIR/payload.timed-out) and the payload's step at the time."""
    with open(os.path.join(out_dir, "payload.timed-out")) as f:
        limit = f.read().strip()
    step = Payload(out_dir).text("current-step").strip() or "(no current-step file)"
    return f"dom0 stopped the payload at its limit of {limit} s, in: {step}"


# xen-host.sh's waits for one run, seconds (README "Waits"): QEMU start to dom0 ready
# (11-37 s seen), dom0 ready to domU ready (90-230 s), and the outbox after the payload.
BOOT_TIMEOUT, DOMU_TIMEOUT, OUTBOX_TIMEOUT = 300, 400, 180
# The payload's limit (dom0 stops it 30 s before), and the least worth a second run. The
# first run may take all the budget leaves after the waits (2580 - 940 s): a slow host
# (an HVM domU took 359 s to boot in CI) finishes rather than stopping for a second run
# that would not fit anyway.
PAYLOAD_TIMEOUT, PAYLOAD_TIMEOUT_MIN = 1640, 600
# A run's time around those waits: building dom0's initramfs, QEMU's start and end.
RUN_OVERHEAD = 60


def run_harness(args, payload_dir, out_dir):
    """xen-host.sh run; once more if the harness failed (a nested PV crash in dom0's tool
    stack, tests/xen/README.md) or dom0 stopped the payload at its limit, as long as what
    is left of the test's budget holds a whole run. Returns xen-host.sh's exit code (0:
    all ran, 3: the payload failed, 4: dom0 stopped it; results in out_dir) or None."""
    command = [os.path.join(HERE, "xen-host.sh")] + (["--dir", args.dir] if args.dir else [])
    command += ["run"] + ([] if args.no_hvm else ["--hvm"]) + ["--payload", payload_dir, "--out", out_dir]
    started, rc = time.monotonic(), None
    for attempt in (1, 2):
        left = args.budget - (time.monotonic() - started)
        payload_timeout = min(args.payload_timeout,
                              int(left) - BOOT_TIMEOUT - DOMU_TIMEOUT - OUTBOX_TIMEOUT - RUN_OVERHEAD)
        if attempt == 2 and payload_timeout < min(PAYLOAD_TIMEOUT_MIN, args.payload_timeout):
            print(f"# no second run: {left:.0f} s are left of the test's budget of {args.budget} s")
            break
        env = dict(os.environ, VMI_XEN_BOOT_TIMEOUT=str(BOOT_TIMEOUT), VMI_XEN_DOMU_TIMEOUT=str(DOMU_TIMEOUT),
                   VMI_XEN_PAYLOAD_TIMEOUT=str(payload_timeout))
        start = time.monotonic()
        proc = subprocess.run(command, env=env, capture_output=True, text=True)
        rc = proc.returncode
        print(f"# xen-host.sh run (attempt {attempt}, payload limit {payload_timeout} s): exit {rc} "
              f"after {time.monotonic() - start:.0f} s")
        if rc in (0, 3):
            return rc
        if rc == 4:
            print(f"# {payload_stopped(out_dir)}")
        else:
            rc = None
            reason = [line for line in proc.stderr.splitlines() if "error" in line.lower()][-1:] or \
                proc.stderr.splitlines()[-1:]
            print(f"# the harness failed: {reason[0] if reason else 'no message'}")
            for line in proc.stderr.splitlines()[-40:]:
                print(f"#   {line}")
        if attempt == 1:
            print("# retrying the whole run once (nested PV crashes hit dom0's tool stack now and then)")
    return rc


def without_kworkers(text):
    """vmi-ps rows "PID NAME ..." without the kworkers: they come and go between two walks
    (an idle one exits after five minutes)."""
    return "\n".join(line for line in text.splitlines() if not (line.split(" ") + [""])[1].startswith("kworker/"))


def same_rows(a, b, name_column, kthread_state=None):
    """Two vmi-ps outputs agree: same rows, a kworker's description aside, and (when
    kthread_state names the state column, ppid being column 1) a kernel thread's state
    aside: such a thread runs and idles on its own between two walks."""
    rows_a, rows_b = [r.split(" ") for r in a.splitlines()], [r.split(" ") for r in b.splitlines()]

    def fixed(row):
        if kthread_state is not None and len(row) > kthread_state and row[1] == "2":
            return row[:kthread_state] + ["(kernel thread's state)"] + row[kthread_state + 1:]
        return row
    rows_a, rows_b = [fixed(r) for r in rows_a], [fixed(r) for r in rows_b]
    return len(rows_a) == len(rows_b) and all(
        x[:name_column] == y[:name_column] and x[name_column + 1:] == y[name_column + 1:]
        and same_name(x[name_column], y[name_column]) for x, y in zip(rows_a, rows_b))


def rename_problems(before, after, pid, name):
    """What is wrong in vmi-ps's rows [pid, name, task] after vmi-write renamed pid to name:
    the renamed task must show the new name at the same task address, and every other task
    seen both times its old name at its old address. A task that started or exited between
    the two walks cannot come from a write to one comm; such tasks (nested PV processes
    crash now and then, and the kernel starts helpers on its own) are returned as a remark
    for the result line, not as a problem."""
    rows_before, rows_after = ({r[0]: r[1:] for r in rows if len(r) == 3} for rows in (before, after))
    problems = []
    if pid not in rows_before or pid not in rows_after:
        problems.append(f"pid {pid} is missing from the walk {'before' if pid not in rows_before else 'after'} "
                        "the write")
    for p in sorted(set(rows_before) & set(rows_after), key=int):
        (old, old_task), (new, new_task) = rows_before[p], rows_after[p]
        want = name if p == pid else old
        if old_task != new_task or (new != want and (p == pid or not same_name(want, new))):
            problems.append(f"pid {p}: {new} at {new_task}, wanted {want} at {old_task}")
    gone = [f"{p} ({rows_before[p][0]})" for p in sorted(set(rows_before) - set(rows_after), key=int)]
    came = [f"{p} ({rows_after[p][0]})" for p in sorted(set(rows_after) - set(rows_before), key=int)]
    if len(gone) + len(came) > 3:
        problems.append(f"{len(gone) + len(came)} tasks came or went between the walks: gone {gone}, new {came}")
    remark = "".join(f"; {what} between the walks: {', '.join(tasks)}"
                     for what, tasks in (("exited", gone), ("started", came)) if tasks)
    return problems, remark


def check_processes(results, what, step, domu):
    rc, out, err = step
    ours = {r[0]: r[1:] for r in (line.split(" ", 5) for line in out.splitlines()) if len(r) == 6}
    guest = {r[0]: r[1:] for r in read_rows(os.path.join(domu, "procs.txt"), 6)}
    lister = set(open(os.path.join(domu, "lister.txt")).read().split()[:1])
    problems, allowances = [], []
    for pid in sorted(set(ours) | set(guest), key=int):
        if pid in lister:
            continue  # the domU's listing shell: its state changed after it listed
        if pid not in ours:
            problems.append(f"pid {pid} ({guest[pid][-1]}) missing from vmi-ps")
        elif pid not in guest:
            problems.append(f"pid {pid} ({ours[pid][-1]}) not in the domU's list")
        elif not same_name(guest[pid][-1], ours[pid][-1]) or ours[pid][:3] != guest[pid][:3]:
            problems.append(f"pid {pid}: vmi-ps {ours[pid]} domU {guest[pid]}")
        elif ours[pid][3] != guest[pid][3]:
            # The domU listed itself once, many seconds before the walk. A kernel thread
            # (kthreadd's child) runs, idles and sleeps on its own in between: rcu_preempt
            # was R in the domU's look and I in a walk. Processes the test started, and
            # every other user process, must have the state the domU printed.
            states = {ours[pid][3], guest[pid][3]}
            if guest[pid][0] == "2" and states <= set("IRSD"):
                allowances.append(f"pid {pid} {ours[pid][-1]}: {guest[pid][3]} in the domU's look, "
                                  f"{ours[pid][3]} in the walk")
            else:
                problems.append(f"pid {pid} ({ours[pid][-1]}): state {ours[pid][3]} in vmi-ps, "
                                f"{guest[pid][3]} in the domU's list")
    sleeps = sum(1 for v in ours.values() if v[-1] == "sleep")
    results.check(rc == 0 and not problems and len(ours) > 20 and sleeps == 20,
                  f"{what}: vmi-ps matches the domU's own list (pid, ppid, uid, gid, state, name) for "
                  f"{len(ours)} processes, {sleeps} sleep"
                  f"{'; allowed: ' + '; '.join(allowances) if allowances else ''}",
                  "\n".join(problems[:20]) + f"\nrc={rc} {err[-1500:]}")
    return ours


def section(text, name):
    """Lines between "@@VMI BEGIN name@@" and "@@VMI END name@@" of a console log."""
    lines, inside = [], False
    for line in text.replace("\r", "").splitlines():
        if line == f"@@VMI END {name}@@" and inside:
            return lines
        if inside:
            lines.append(line)
        if line == f"@@VMI BEGIN {name}@@":
            inside = True
    return lines


def check_hvm_family(results, p, scratch, kind, asked):
    """A PVH or HVM domU (kind "pvh" or "hvm"): its records from its console, our tools'
    view through the Xen backend. The PVH domU's tools had --sysmap and --btf; the HVM
    domU printed no kallsyms, so its tools had nothing but its name (zero configuration:
    symbols, types and the kernel cache from its memory)."""
    label = kind.upper()
    if not asked:
        print(f"# skip - {label}: not asked for (--no-{kind})")
        return
    if not os.path.exists(os.path.join(p.dir, kind)):
        results.check(False, f"{label} domU: the payload got to it")
        return
    console = p.text(f"{kind}/console.log")
    ready = "@@VMI DOMU READY@@" in console
    results.check(ready, f"{label} domU created and ready ({p.text(f'{kind}/ready-seconds.txt').strip()} s after "
                  "xl create)", p.text(f"{kind}/create.log")[-800:] + "\n".join(console.splitlines()[-15:]))
    if not ready:
        return
    domu = os.path.join(scratch, f"{kind}-records")
    os.makedirs(domu, exist_ok=True)
    for name in ("procs", "threads", "modules", "version", "lister"):
        with open(os.path.join(domu, f"{name}.txt"), "w") as f:
            f.write("".join(line + "\n" for line in section(console, name)))
    zero_config = not section(console, "kallsyms")
    how = "nothing but its name" if zero_config else "--sysmap and --btf"
    rc, out, err = p.step(f"{kind}-ps")
    check_processes(results, f"{label} domU by name, {how}", (rc, out, err), domu)
    results.check(f"{label} guest" in err and "Xen HVM context" in err,
                  f"{label}: vmi-ps -v says {label} guest, CR3 from its HVM context", err[-1500:])
    again = p.step(f"{kind}-ps-again")
    check_processes(results, f"{label} domU by name, {how}, a second time", again, domu)
    if zero_config:
        results.check("symbols: the kernel's own kallsyms" in err and "BTF: from guest memory" in err
                      and "from the kernel build cache" in again[2],
                      f"{label}: symbols and BTF from the domU's memory, then from the kernel build cache",
                      err[-1500:] + again[2][-1500:])
    rc, out, err = p.step(f"{kind}-lsmod")
    ours, guest_modules, problems = module_mismatches(out if rc == 0 else None, os.path.join(domu, "modules.txt"),
                                                      "domU")
    results.check(rc == 0 and not problems and len(ours) == len(guest_modules) == 4,
                  f"{label}: vmi-lsmod matches the domU's /proc/modules ({sorted(ours)}: size, refcount, users, "
                  "state, address)", "\n".join(problems) + err[-800:])
    version = "".join(section(console, "version")).strip()
    rc, out, err = p.step(f"{kind}-banner")
    results.check(rc == 0 and out.strip() == version, f"{label}: vmi-read linux_banner == the domU's /proc/version",
                  f"{out!r} {err[-800:]}")
    pid = p.text(f"{kind}/renamed.txt").strip()
    rc, out, err = p.step(f"{kind}-write")
    before, after = ([line.split(" ", 2) for line in without_kworkers(p.step(f"{kind}-{step}")[1]).splitlines()]
                     for step in ("ps-task", "ps-after"))
    problems, came_and_went = rename_problems(before, after, pid, f"{kind}write")
    results.check(rc == 0 and pid != "" and not problems,
                  f"{label}: vmi-write renamed pid {pid} to '{kind}write'; vmi-ps shows it, every other process as "
                  f"before{came_and_went}", "\n".join(problems[:10]) + out + err[-800:])
    state = p.text(f"{kind}/state-final.txt").strip()
    results.check(state != "" and not any(c in state for c in "psc"), f"{label}: the domU still runs (state {state!r})")
    bench = p.step(f"{kind}-bench")
    if bench[0] is not None:
        print(f"# bench-xen on the {label} domU: {bench[1].strip()} {bench[2].strip()[-300:]}")


def check_all_domains(results, p):
    """vmi-ps --check --all-domains in dom0 (no --backend): one line per domain but dom0, by
    the domid, name and uuid `xl list -v` gives; its textfile has the domU's series."""
    rows = [line.split() for line in p.text("xl-list-v.txt").splitlines()[1:]]
    # Name ID Mem VCPUs State Time(s) UUID ...; a domain shut down or crashed is no guest to check.
    domains = {r[0]: (int(r[1]), r[6]) for r in rows
               if len(r) >= 7 and r[1].isdigit() and r[1] != "0" and not any(c in r[4] for c in "scd")}
    rc, out, err = p.step("all-domains")
    lines = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    got = {line.get("domain"): (line.get("domid"), line.get("uuid"), line.get("manager"), line.get("exit"))
           for line in lines}
    want = {name: (domid, uuid, "xen", 0) for name, (domid, uuid) in domains.items()}
    prom = p.text("all-domains.prom")
    findings = [line for line in prom.splitlines() if line.startswith("vmi_check_findings{")]
    results.check(rc == 0 and "vmi-domu" in want and got == want and len(lines) == len(want) and
                  findings == ['vmi_check_findings{domain="vmi-domu",check="processes"} 0'],
                  f"vmi-ps --check --all-domains in dom0, no --backend: one line for each of the {len(want)} domains "
                  "but dom0 (manager xen, domid and uuid as xl list -v has them), nothing hidden, and its textfile",
                  f"rc={rc}\nwant {want}\ngot {got}\n{prom}\n{err[-1500:]}")
    print(f"# --all-domains in dom0 took {p.text('all-domains.seconds').strip()} s: {out.strip()}")


def check_payload(results, out_dir, tools, options):
    p = Payload(out_dir)
    domu = os.path.join(out_dir, "domu")
    results.check(p.text("state-before.txt").strip() not in ("",) and "p" not in p.text("state-before.txt"),
                  f"the domU runs before the tools (xl list state {p.text('state-before.txt').strip()!r})")

    rc, out, err = p.step("ps-config")
    check_processes(results, "by name, config backend = \"xen\"", (rc, out, err), domu)
    results.check("Xen domain 'vmi-domu'" in err and "PV guest" in err and "Xen PV context of vCPU 0" in err
                  and "guest paused" in err and "guest resumed" in err,
                  "vmi-ps -v: a PV guest through the Xen backend, CR3 from its vCPU context (machine frame "
                  "translated), paused for the walk and resumed", err[-2000:])
    by_name = p.step("ps-name")
    check_processes(results, "by name, --backend xen", by_name, domu)
    by_id = p.step("ps-domid")
    check_processes(results, "by --domid", by_id, domu)
    results.check(by_name[0] == 0 and same_rows(out, by_name[1], 5, 4) and same_rows(out, by_id[1], 5, 4),
                  "by config entry, by name and by --domid: the same list")

    rc, out, err = p.step("ps-threads")
    ours = {r[1]: [r[0], r[2]] for r in (line.split(" ", 2) for line in out.splitlines()) if len(r) == 3}
    guest = {r[1]: [r[0], r[2]] for r in read_rows(os.path.join(domu, "threads.txt"), 3)}
    lister = set(open(os.path.join(domu, "lister.txt")).read().split()[:1])
    problems = [f"tid {tid}: vmi-ps {ours.get(tid)} domU {guest.get(tid)}" for tid in sorted(set(ours) | set(guest),
                                                                                              key=int)
                if tid not in lister and (tid not in ours or tid not in guest or ours[tid][0] != guest[tid][0]
                                          or not same_name(guest[tid][1], ours[tid][1]))]
    threaded = [v for v in ours.values() if v[1] == "threaded"]
    results.check(rc == 0 and not problems and len(threaded) == 5,
                  f"--threads matches the domU's threads ({len(ours)}; 'threaded' has {len(threaded)} tasks)",
                  "\n".join(problems[:20]) + err[-1000:])

    rc, out, err = p.step("ps-cmd")
    ours = {r[0]: r for r in (line.split(" ", 2) for line in out.splitlines()) if len(r) == 3}
    problems = []
    for pid, args in read_rows(os.path.join(domu, "cmdline.txt"), 2):
        if pid in lister or pid not in ours:
            continue
        expected = args.strip() if args.strip() else f"[{ours[pid][1]}]"
        if ours[pid][2] != expected:
            problems.append(f"pid {pid}: vmi-ps '{ours[pid][2]}' domU '{expected}'")
    results.check(rc == 0 and not problems and len(ours) > 20,
                  "vmi-ps cmd (read through each process's own page tables, machine frames translated) matches "
                  "/proc/PID/cmdline", "\n".join(problems[:20]) + err[-1000:])

    rc, out, err = p.step("ps-json")
    ok = rc == 0
    if ok:
        items = json.loads(out)
        ok = len(items) > 20 and all(i["dtb"] is not None for i in items if not i["kernel_thread"])
    results.check(ok, "vmi-ps --format json: every user process has its page-table root", err[-1000:])

    rc, out, err = p.step("lsmod")
    ours, guest_modules, problems = module_mismatches(out if rc == 0 else None, os.path.join(domu, "modules.txt"),
                                                      "domU")
    results.check(rc == 0 and not problems and len(ours) == len(guest_modules) == 4,
                  f"vmi-lsmod matches the domU's /proc/modules ({len(guest_modules)} modules: name, size, refcount, "
                  "users, state, address)", "\n".join(problems) + err[-1000:])
    rc, out, err = p.step("lsmod-domid")
    results.check(rc == 0 and all(name in out for name in ours) and len(out.splitlines()) == len(ours) + 1,
                  "vmi-lsmod --domid lists the same modules", out + err[-1000:])

    version = open(os.path.join(domu, "version.txt")).read().strip()
    for step, what in (("banner", "by config entry"), ("banner-domid", "by --domid")):
        rc, out, err = p.step(step)
        results.check(rc == 0 and out.strip() == version,
                      f"vmi-read --ksym linux_banner --as string ({what}) == the domU's /proc/version",
                      f"rc={rc} {out!r} want {version!r} {err[-1500:]}")
    init_task = [line.split()[0] for line in open(os.path.join(domu, "kallsyms"))
                 if line.split()[2:3] == ["init_task"]]
    rc, out, err = p.step("ksym")
    results.check(rc == 0 and init_task and int(out.split()[0], 16) == int(init_task[0], 16),
                  f"vmi-ksym by name through the Xen backend: init_task at {out.strip()}", out + err)

    check_all_domains(results, p)

    # vmi-write. The kernel starts and ends workqueue workers on its own between two
    # walks (an idle kworker/uN:M exits): they are left out of the comparisons.
    renamed = p.text("renamed.txt").split()
    before = [line.split(" ", 2) for line in without_kworkers(p.step("ps-task")[1]).splitlines()]
    if len(renamed) == 2:
        pid = renamed[0]
        rc, out, err = p.step("write-dry")
        results.check(rc == 0 and out.startswith("would write")
                      and same_rows(without_kworkers(p.step("ps-task")[1]),
                                    without_kworkers(p.step("ps-after-dry")[1]), 1),
                      f"vmi-write --dry-run on the domU (pid {pid}'s comm) changes nothing", out + err[-1000:])
        rc, out, err = p.step("write-comm")
        after = [line.split(" ", 2) for line in without_kworkers(p.step("ps-after-write")[1]).splitlines()]
        problems, came_and_went = rename_problems(before, after, pid, "xenwrite")
        results.check(rc == 0 and not problems,
                      f"vmi-write renamed pid {pid} to 'xenwrite' through its task_struct's comm; vmi-ps shows it, "
                      f"every other process as before{came_and_went}", "\n".join(problems[:10]) + out + err[-1500:])
    else:
        results.check(False, "vmi-write: a sleep process to rename", p.text("renamed.txt"))
    rc1, out1, err1 = p.step("write-banner")
    rc2, out2, _ = p.step("banner-written")
    rc3, _, err3 = p.step("write-banner-back")
    rc4, out4, _ = p.step("banner-back")
    release = version.split()[2]
    changed = version[:14] + release.translate(str.maketrans("0123456789", "9" * 10)) + version[14 + len(release):]
    results.check(rc1 == rc2 == rc3 == rc4 == 0 and out2.strip() == changed and out4.strip() == version,
                  f"vmi-write on a kernel string (linux_banner+14: {release} -> {changed.split()[2]}): written, "
                  "read back, restored",
                  f"{out1}{err1[-800:]}{out2}{err3[-800:]}{out4}")

    before_state = p.text("state-paused-before.txt").strip()
    after_state = p.text("state-paused-after.txt").strip()
    rc, out, err = p.step("ps-paused")
    results.check(rc == 0 and "p" in before_state and "p" in after_state and "paused already" in err
                  and "guest resumed" not in err and len(out.splitlines()) > 20,
                  f"a domain paused by someone else (xl pause) is read and left paused (state {before_state!r} -> "
                  f"{after_state!r})", err[-1500:])

    check_killed_at_pause(results, p)

    for step, words, what in (("err-name", "no such Xen domain: 'no-such-domain'", "an unknown domain name"),
                              ("err-domid", "no such Xen domain: domid 4242", "an unknown --domid"),
                              ("err-unprivileged", "not privileged", "a user who is not root")):
        rc, out, err = p.step(step)
        lines = err.strip().splitlines()
        results.check(rc == 2 and len(lines) == 1 and words in lines[0] and out == "",
                      f"{what}: exit 2 and one line ({lines[0] if lines else ''})", f"rc={rc} {err[-800:]}")
    stopped = p.text("state-stopped.txt").strip()
    rc, out, err = p.step("err-stopped")
    if rc is None:
        print(f"# skip - a domain that is not running: xl create did not make one ({p.text('stopped-create.log')[-300:]})")
    else:
        lines = err.strip().splitlines()
        results.check(rc == 2 and len(lines) == 1 and "is not running" in lines[0] and ("s" in stopped or "c" in stopped),
                      f"a shut-down domain (state {stopped!r}): exit 2 and one line ({lines[0] if lines else ''})",
                      f"rc={rc} {err[-800:]}")

    for state_file in ("state-after-tools.txt", "state-final.txt"):
        state = p.text(state_file).strip()
        results.check(state != "" and not any(c in state for c in "psc"),
                      f"the domU still runs ({state_file}: xl list state {state!r})")

    # Anything of ours that died of a signal says so (the nested PV crashes are not hidden).
    crashed = []
    for name in sorted(os.listdir(p.dir)):
        if name.endswith(".rc"):
            rc = p.step(name[:-3])[0]
            if rc is not None and rc >= 128:
                crashed.append(f"{name[:-3]}: exit {rc} after {p.text(name[:-3] + '.seconds').strip() or '?'} s"
                               + (" (killed at the step's time limit: hung?)" if rc == 137 else ""))
    results.check(not crashed, "no tool killed by a signal", "\n".join(crashed))

    check_hvm_family(results, p, os.path.dirname(out_dir), "pvh", not options.no_pvh)
    check_hvm_family(results, p, os.path.dirname(out_dir), "hvm", not options.no_hvm)

    bench = p.step("bench")
    if bench[0] is not None:
        results.check(bench[0] == 0 and "MB/s" in bench[1], "bench-xen ran", bench[1] + bench[2][-800:])
        print(f"# bench-xen (in dom0; the tools as built): {bench[1].strip()}")
    print(f"# the tools' steps took {p.text('tools-seconds.txt').strip()} s in dom0")
    for line in p.text("xl-reruns.txt").splitlines():
        print(f"# dom0's xl died and was run again: {line}")
    for line in p.text("step-reruns.txt").splitlines():
        step_name = line.split(":", 1)[0]
        frames = [f.strip() for f in p.text(step_name + ".crash.err").splitlines()
                  if "ERROR: AddressSanitizer" in f or f.strip().startswith(("#0 ", "#1 ", "#2 ", "#3 ", "SUMMARY:"))]
        print(f"# a tool died of a signal in dom0 and its step ran again (README: dom0's processes die"
              f" here now and then): {line}")
        for frame in frames[:6]:
            print(f"#     {frame}")
    seconds = sorted(((int(p.text(n).strip()), n[:-8]) for n in os.listdir(p.dir)
                      if n.endswith(".seconds") and p.text(n).strip().isdigit()), reverse=True)
    print(f"# the slowest steps (s): {', '.join(f'{name} {t}' for t, name in seconds[:8])}")

    # On this host there is no Xen: the backend says so in one line.
    rc, out, err = tools.run("vmi-ps", "--backend", "xen", "some-domain")
    lines = err.strip().splitlines()
    results.check(rc == 2 and len(lines) == 1 and "no Xen here" in lines[0],
                  f"on a host without Xen: exit 2 and one line ({lines[0] if lines else ''})", err[-800:])


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bin", required=True, help="tools directory of a build tree (BUILD/tools)")
    parser.add_argument("--bench", help="also run this bench-xen binary on the PV and PVH domUs and print its "
                        "numbers (about 90 s more; a Release build's measures the tools, an ASan build's the "
                        "sanitizers)")
    parser.add_argument("--dir", help="cache root for xen-host.sh (default: its own)")
    parser.add_argument("--out", help="keep xen-host.sh's results here (default: a temporary directory)")
    parser.add_argument("--no-pvh", action="store_true", help="no PVH domU (saves ~2 minutes)")
    parser.add_argument("--no-hvm", action="store_true", help="no HVM domU (saves ~4 minutes)")
    parser.add_argument("--budget", type=int, default=2580,
                        help="seconds for the whole test, a second harness run included (default: 2580, "
                        "under ctest's 2700)")
    parser.add_argument("--payload-timeout", type=int,
                        default=int(os.environ.get("VMI_XEN_PAYLOAD_TIMEOUT", PAYLOAD_TIMEOUT)),
                        help=f"seconds for the payload in one run (default: $VMI_XEN_PAYLOAD_TIMEOUT or "
                        f"{PAYLOAD_TIMEOUT})")
    args = parser.parse_args()
    results = Results()
    tools = Tools(args.bin)
    with tempfile.TemporaryDirectory(prefix="vmixenbackend.") as scratch:
        payload_dir = os.path.join(scratch, "payload")
        os.makedirs(payload_dir)
        make_payload(args, payload_dir)
        out_dir = args.out or os.path.join(scratch, "out")
        rc = run_harness(args, payload_dir, out_dir)
        if rc is None:
            results.check(False, "the nested Xen host ran the payload (the harness failed: see above)")
            return results.finish()
        env = {}
        with open(os.path.join(out_dir, "xen.env")) as f:
            for line in f:
                if "=" in line:
                    key, value = line.strip().split("=", 1)
                    env[key] = value
        print(f"# seconds from QEMU start: dom0 {env.get('T_DOM0_READY')}, domU {env.get('T_DOMU_READY')}, "
              f"payload done {env.get('T_PAYLOAD_DONE')}, outbox {env.get('T_OUTBOX_READ')}; "
              f"domU sleeps replaced: {env.get('DOMU_SLEEPS_REPLACED')}")
        results.check(rc == 0, "the payload ran to its end" + (f" ({payload_stopped(out_dir)})" if rc == 4 else ""),
                      open(os.path.join(out_dir, "payload.out")).read()[-1500:])
        check_payload(results, out_dir, tools, args)
    return results.finish()


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""vmi-ps --check and vmi-lsmod --check against real guests.

Ordinary test guests (tests/guests/build-guests.sh): nothing is hidden, so the
check must find nothing (exit 0, no finding), with and without the guest's own
ps list (ps.txt), and --all must show every process the guest listed in its
/proc just before the dump (procs.txt) in every kernel view that holds
processes. The only pids the guest's ps lists and no kernel view holds are
those that ended before the dump: listed in ps.txt, gone from procs.txt.

Hiding guests (tests/hiding/boot-hiding-guest.py): guest.env says what the
module hid and how (GUEST_HIDE_MODE, GUEST_HIDDEN_PID, GUEST_HIDDEN_MODULE);
the check must exit 1 and name exactly that process or module, with the views
that mode leaves and takes (tests/hiding/README.md, "The modes"):
- procfs: every kernel view (the memory scan too) holds it; only the guest's own list (ps.txt) lacks it;
- pidtable: the PID table lacks it (and so does the guest's list);
- tasklist: the task list lacks it;
- modlist: the module list lacks vmihide, sysfs, the module tree and the scan hold it;
- modsysfs: the module list and sysfs lack it, the module tree and the scan hold it.
Expected values come from the guests' own files, never from the tools.
"""
import json
import os
import shutil
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import testlib  # noqa: E402
from testlib import guest_dir_root, linux_guest_config, read_guest_env, run_per_guest  # noqa: E402

ORDINARY = ["amd64-4level", "amd64-5level-kaslr", "amd64-busy-kpti", "amd64-2000procs", "amd64-6.12-kaslr",
            "amd64-7.2-kaslr", "i386-pae", "i386-2level"]
HIDING = ["amd64-hide-procfs", "amd64-hide-pidtable", "amd64-hide-tasklist", "amd64-hide-modlist",
          "amd64-hide-modsysfs", "amd64-hide-procfs-5level-kaslr"]
KERNEL_VIEWS = ["tasks", "pid_table", "children", "threads", "scan"]


def guest_pids(path):
    """Pids of a guest list: the first word of each line that is a number."""
    pids = set()
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            words = line.split()
            if words and words[0].isdigit():
                pids.add(int(words[0]))
    return pids


def run_json(tools, tool, args):
    start = time.monotonic()
    rc, out, err = tools.run(tool, *args, "--format", "json")
    elapsed = time.monotonic() - start
    try:
        rows = json.loads(out)
    except ValueError:
        rows = None
    return rc, rows, err, elapsed


def warned_pids(err):
    """Pids the check warns about as 'in the guest's list but in no kernel view'."""
    pids = set()
    for line in err.splitlines():
        if "in the guest's list but in no kernel view" in line:
            pids.add(int(line.split("pid ", 1)[1].split()[0]))
    return pids


def other_warnings(err):
    return [line for line in err.splitlines() if "in the guest's list but in no kernel view" not in line]


def check_ordinary(results, tools, name, guest_dir, common, env):
    ps = os.path.join(guest_dir, "ps.txt")
    procs = guest_pids(os.path.join(guest_dir, "procs.txt"))
    ended = guest_pids(ps) - procs
    for extra, what in (([], "vmi-ps --check"), (["--guest-ps", ps], "vmi-ps --check --guest-ps ps.txt")):
        rc, rows, err, elapsed = run_json(tools, "vmi-ps", [*common, "--check", *extra])
        results.check(rc == 0 and rows == [] and not other_warnings(err),
                      f"{name}: {what}: exit 0, no finding ({elapsed:.2f} s)", f"rc={rc} rows={rows} {err[-2000:]}")
        if extra:
            results.check(warned_pids(err) == ended,
                          f"{name}: {what}: warns exactly about the pids that ended between ps and the dump "
                          f"{sorted(ended)}", f"warned {sorted(warned_pids(err))}")

    rc, rows, err, _ = run_json(tools, "vmi-ps", [*common, "--check", "--all", "--guest-ps", ps])
    if not results.check(rc == 0 and isinstance(rows, list), f"{name}: vmi-ps --check --all runs",
                         f"rc={rc} {err[-2000:]}"):
        return
    leaders = {r["pid"]: r for r in rows if r["pid"] == r["tid"] and r["pid"] > 0}
    missing = sorted(procs - set(leaders))
    results.check(not missing, f"{name}: --all lists every process of the guest's procs.txt ({len(procs)})",
                  f"missing {missing}")
    not_everywhere = [(pid, [v for v in KERNEL_VIEWS if leaders[pid][v] is not True]) for pid in sorted(procs)
                      if pid in leaders and any(leaders[pid][v] is not True for v in KERNEL_VIEWS)]
    results.check(not not_everywhere, f"{name}: every process of procs.txt is in {', '.join(KERNEL_VIEWS)}",
                  str(not_everywhere[:10]))
    idle = [r for r in rows if r["pid"] == 0]
    results.check(len(idle) >= 1 and all(not r["hidden"] for r in idle) and idle[0]["name"] == "swapper/0",
                  f"{name}: the idle task swapper/0 is listed and not flagged", str(idle))
    # Every guest has the runqueue offsets: from its BTF (amd64) or its profile (i386).
    results.check(all(r["runqueue"] is True for r in idle), f"{name}: the idle task is on the runqueue view", str(idle))
    spinners = int(env.get("GUEST_SPINNERS") or 0)
    running = [r for r in rows if r["runqueue"] is True and r["pid"] > 0]
    results.check(len(running) >= spinners,
                  f"{name}: the runqueues hold at least the guest's {spinners} busy processes",
                  str([(r["pid"], r["name"]) for r in running]))
    threaded = env.get("GUEST_THREADED_PID")
    if threaded:
        threads = [r for r in rows if r["pid"] == int(threaded)]
        want = int(env.get("GUEST_THREADED_TASKS") or 0)
        results.check(len(threads) == want and all(r["threads"] and r["pid_table"] and not r["hidden"]
                                                   for r in threads),
                      f"{name}: the {want} threads of pid {threaded} are in the thread group and the PID table, "
                      f"unflagged", str(threads))

    rc, rows, err, elapsed = run_json(tools, "vmi-lsmod", [*common, "--check"])
    results.check(rc == 0 and rows == [] and not err, f"{name}: vmi-lsmod --check: exit 0, no finding "
                  f"({elapsed:.2f} s)", f"rc={rc} rows={rows} {err[-2000:]}")
    rc, rows, err, _ = run_json(tools, "vmi-lsmod", [*common, "--check", "--all"])
    want = sorted(line.split()[0] for line in open(os.path.join(guest_dir, "modules.txt")) if line.strip())
    got = sorted(r["name"] for r in rows) if isinstance(rows, list) else None
    views = ["modules", "sysfs", "mod_tree", "scan"]
    results.check(rc == 0 and got == want and all(r[v] is True for r in rows for v in views),
                  f"{name}: vmi-lsmod --check --all: the guest's /proc/modules ({', '.join(want)}), each in "
                  f"{', '.join(views)}", f"rc={rc} got {got} rows={rows} {err[-1000:]}")


def check_hiding(results, tools, name, guest_dir, common, env):
    mode = env["GUEST_HIDE_MODE"]
    ps = os.path.join(guest_dir, "ps.txt")
    hidden_pid = int(env["GUEST_HIDDEN_PID"]) if env.get("GUEST_HIDDEN_PID") else None
    module = env.get("GUEST_HIDDEN_MODULE") or None
    # What the check must report, per mode: the views that miss the victim.
    if hidden_pid is not None:
        for extra in ([], ["--guest-ps", ps]):
            with_guest = bool(extra)
            missed = {"procfs": ["guest"] if with_guest else [],
                      "pidtable": ["pid_table", "guest"] if with_guest else ["pid_table"],
                      "tasklist": ["tasks"]}[mode]
            what = f"{name}: vmi-ps --check{' --guest-ps ps.txt' if extra else ''}"
            rc, rows, err, elapsed = run_json(tools, "vmi-ps", [*common, "--check", *extra])
            if not missed:
                results.check(rc == 0 and rows == [],
                              f"{what}: exit 0 (a procfs hook changes no kernel view) ({elapsed:.2f} s)",
                              f"rc={rc} rows={rows} {err[-1500:]}")
                continue
            ok = (rc == 1 and isinstance(rows, list) and len(rows) == 1 and rows[0]["pid"] == hidden_pid
                  and rows[0]["tid"] == hidden_pid and rows[0]["missed_by"] == missed)
            seen = rows[0]["seen_by"] if ok else []
            want_seen = [v for v in KERNEL_VIEWS if v not in missed]
            results.check(ok and all(v in seen for v in want_seen),
                          f"{what}: exit 1, names pid {hidden_pid}, missed by {missed}, seen by {want_seen} "
                          f"({elapsed:.2f} s)", f"rc={rc} rows={rows} {err[-1500:]}")
        rc, rows, err, _ = run_json(tools, "vmi-lsmod", [*common, "--check"])
        results.check(rc == 0 and rows == [], f"{name}: vmi-lsmod --check: exit 0 (the module hides no module)",
                      f"rc={rc} rows={rows} {err[-1500:]}")
    if module is not None:
        missed = {"modlist": ["modules"], "modsysfs": ["modules", "sysfs"]}[mode]
        rc, rows, err, elapsed = run_json(tools, "vmi-lsmod", [*common, "--check"])
        ok = (rc == 1 and isinstance(rows, list) and len(rows) == 1 and rows[0]["name"] == module
              and rows[0]["missed_by"] == missed and "mod_tree" in rows[0]["seen_by"]
              and "scan" in rows[0]["seen_by"])
        results.check(ok, f"{name}: vmi-lsmod --check: exit 1, names {module}, missed by {missed}, seen by "
                      f"mod_tree and the module-area scan ({elapsed:.2f} s)", f"rc={rc} rows={rows} {err[-1500:]}")
        rc, rows, err, _ = run_json(tools, "vmi-ps", [*common, "--check", "--guest-ps", ps])
        results.check(rc == 0 and rows == [], f"{name}: vmi-ps --check --guest-ps: exit 0 (no process hidden)",
                      f"rc={rc} rows={rows} {err[-1500:]}")
    # Text and JSON lines say the same.
    tool = "vmi-ps" if hidden_pid is not None else "vmi-lsmod"
    args = [*common, "--check"] + (["--guest-ps", ps] if tool == "vmi-ps" else [])
    rc, out, _ = tools.run(tool, *args, "--format", "jsonl")
    lines = [json.loads(line) for line in out.splitlines() if line.strip()]
    rc_text, text, _ = tools.run(tool, *args)
    victim = str(hidden_pid) if hidden_pid is not None else module
    results.check(rc == 1 and rc_text == 1 and len(lines) == 1 and victim in text and "MEANING" in text,
                  f"{name}: {tool} --check in text and JSON lines reports {victim} too", f"{out}\n{text}")


def unlink_everywhere(results, tools, name, guest_dir, scratch, common, env):
    """A copy of the pidtable guest's dump (the victim already out of the PID table)
    in which the victim is also unlinked, by this test, from the task list, its
    parent's children list and its thread group, each list closed over the gap and
    the victim's own links pointed at themselves, as a rootkit would leave them.
    Only the memory scan can find it then: --check must name it as found by the scan
    alone; with --no-scan nothing sees it."""
    sys.path.insert(0, os.path.join(testlib.REPO, "share", "profiles"))
    import pahole_offsets
    parsed = pahole_offsets.parse(testlib._pahole_text(guest_dir, env, scratch, ["task_struct", "signal_struct"]))
    off = {path: pahole_offsets.resolve(parsed, path) for path in (
        "task_struct.tasks", "task_struct.pid", "task_struct.comm", "task_struct.sibling", "task_struct.thread_node",
        "task_struct.signal", "signal_struct.thread_head")}
    victim_pid = int(env["GUEST_HIDDEN_PID"])
    copy = os.path.join(scratch, f"{name}-unlinked.raw")
    shutil.copyfile(os.path.join(guest_dir, "memory.raw"), copy)
    try:
        tables = testlib.kernel_page_tables(guest_dir, env, "raw")
        facts = {"task_struct.tasks": off["task_struct.tasks"], "task_struct.pid": off["task_struct.pid"],
                 "task_struct.comm": off["task_struct.comm"]}
        init_task = testlib.guest_symbol(guest_dir, env, scratch, "init_task")
        victims = [t for t, pid, _ in testlib.walk_task_list(tables, facts, init_task) if pid == victim_pid]
        if not results.check(len(victims) == 1, f"{name}: the victim pid {victim_pid} is on the task list (testlib)"):
            return
        victim = victims[0]
        with open(copy, "r+b") as f:
            def put(va, value):
                f.seek(tables.memory.file_offset(tables.physical(va), 8))
                f.write(value.to_bytes(8, "little"))

            for field in ("task_struct.tasks", "task_struct.sibling", "task_struct.thread_node"):
                link = victim + off[field]
                nxt, prev = tables.pointer(link), tables.pointer(link + 8)
                put(nxt + 8, prev)  # next->prev = prev
                put(prev, nxt)      # prev->next = next
                put(link, link)
                put(link + 8, link)
        args = [a if a != os.path.join(guest_dir, "memory.raw") else copy for a in common]
        rc, rows, err, elapsed = run_json(tools, "vmi-ps", [*args, "--check"])
        ok = (rc == 1 and isinstance(rows, list) and len(rows) == 1 and rows[0]["pid"] == victim_pid
              and rows[0]["seen_by"] == ["scan"]
              and sorted(rows[0]["missed_by"]) == ["children", "pid_table", "tasks", "threads"]
              and "found only in a memory scan" in rows[0]["meaning"])
        results.check(ok, f"{name}, victim unlinked from every list: --check exit 1, pid {victim_pid} found by the "
                      f"memory scan alone ({elapsed:.2f} s)", f"rc={rc} rows={rows} {err[-1500:]}")
        rc, rows, err, _ = run_json(tools, "vmi-ps", [*args, "--check", "--no-scan"])
        results.check(rc == 0 and rows == [] and not err,
                      f"{name}, victim unlinked from every list: with --no-scan no view sees it (exit 0)",
                      f"rc={rc} rows={rows} {err[-1500:]}")
    finally:
        os.unlink(copy)


def torn_task_list(results, tools, name, guest_dir, scratch, common, env):
    """A copy of the dump whose task list is cut in the middle (one task's
    tasks.next set to LIST_POISON1, as list_del leaves it): the task list's walk
    stops early, so its gaps say nothing. The check must say so (exit 2, the
    problem on stderr) and report nobody as hidden. Then a copy in which that
    task is unlinked sloppily: a finding, and a warning."""
    off = testlib.struct_facts(guest_dir, env, scratch)
    tables = testlib.kernel_page_tables(guest_dir, env, "raw")
    walked = testlib.walk_task_list(tables, off, testlib.guest_symbol(guest_dir, env, scratch, "init_task"))
    victim = walked[len(walked) // 2][0]
    copy = os.path.join(scratch, f"{name}-torn.raw")
    shutil.copyfile(os.path.join(guest_dir, "memory.raw"), copy)
    try:
        with open(copy, "r+b") as f:
            f.seek(tables.memory.file_offset(tables.physical(victim + off["task_struct.tasks"]), 8))
            f.write((0xdead000000000100).to_bytes(8, "little"))
        args = [a if a != os.path.join(guest_dir, "memory.raw") else copy for a in common]
        rc, out, err = tools.run("vmi-ps", *args, "--check")
        results.check(rc == 2 and out == "" and "task list" in err and "not a kernel address" in err,
                      f"{name}, task list cut in the middle: --check exit 2, the problem named, nobody reported "
                      f"hidden", f"rc={rc} stdout={out[:1500]} {err[-1500:]}")
        rc, rows, err, _ = run_json(tools, "vmi-ps", [*args, "--check"])
        results.check(rc == 2 and isinstance(rows, dict) and set(rows) <= {"error", "errors"}
                      and "not a kernel address" in rows["error"],
                      f"{name}, task list cut in the middle, JSON: exit 2 and only the error object, naming the problem",
                      f"rc={rc} stdout={str(rows)[:1500]} {err[-1500:]}")
        # A sloppy unlink, as a rootkit might do it: only the previous task's next
        # skips the victim (the next task's prev still points at it). The walk goes
        # round; the victim is missing from it and the bad back link is named.
        shutil.copyfile(os.path.join(guest_dir, "memory.raw"), copy)
        link = victim + off["task_struct.tasks"]
        nxt, prev = tables.pointer(link), tables.pointer(link + 8)
        with open(copy, "r+b") as f:
            f.seek(tables.memory.file_offset(tables.physical(prev), 8))
            f.write(nxt.to_bytes(8, "little"))
        pid = walked[len(walked) // 2][1]
        rc, rows, err, _ = run_json(tools, "vmi-ps", [*args, "--check"])
        results.check(rc == 1 and isinstance(rows, list) and [r["pid"] for r in rows] == [pid]
                      and rows[0]["missed_by"] == ["tasks"] and "prev" in err,
                      f"{name}, pid {pid} unlinked from the task list by its predecessor's next only: --check exit 1, "
                      f"names it, and warns of the link that does not point back",
                      f"rc={rc} rows={str(rows)[:1500]} {err[-1500:]}")
    finally:
        os.unlink(copy)


def check_guest(results, tools, name, guest_dir, scratch):
    env = read_guest_env(guest_dir)
    config = linux_guest_config(name, guest_dir, env, scratch)
    common = ["-c", config, name, "--image", os.path.join(guest_dir, "memory.raw")]
    if env.get("GUEST_HIDE_MODE"):
        check_hiding(results, tools, name, guest_dir, common, env)
        if env["GUEST_HIDE_MODE"] == "pidtable":
            unlink_everywhere(results, tools, name, guest_dir, scratch, common, env)
    else:
        check_ordinary(results, tools, name, guest_dir, common, env)
        if name == "amd64-4level":
            torn_task_list(results, tools, name, guest_dir, scratch, common, env)


def built(name):
    return os.path.exists(os.path.join(guest_dir_root(), name, "done"))


def require_hiding_guests(results):
    """The hiding guests come from the hiding-guests fixture (tests/hiding): one
    missing is a failure, not a skip."""
    for name in HIDING:
        results.check(built(name), f"{name}: built", "run tests/hiding/boot-hiding-guest.py")
    return True


if __name__ == "__main__":
    sys.exit(run_per_guest(__doc__.splitlines()[0], ORDINARY + [n for n in HIDING if built(n)], check_guest,
                           setup=require_hiding_guests))

#!/usr/bin/env python3
"""vmi-ps --check on a live guest whose processes never stand still.

Boots amd64-4level (QEMU TCG, reached by its QMP socket) with one change to its
initramfs: a loop that keeps starting and ending short-lived processes (a
busybox `true`, a forked subshell, a `sleep 0`) from early in the guest's own
/init until the guest is stopped. The initramfs is the cached guest's with a
second cpio archive appended (the kernel unpacks both; the later /init wins):
the guest's /init with one line added that starts the loop.

Then `vmi-ps --check` runs 100 times in a row, each pausing the guest once for
all its views: every run must exit 0 with no finding and no warning, however
the pause catches a process (being forked, exiting, a zombie, reaped), and
whatever died or started between the RAM scan (done before the pause, with
the guest running) and the pause. A few
runs also compare with the guest's own list, asked for right before the check:
processes that ended or started in between must not be findings. And the guest
must run afterwards. Times are printed: each run's, and the paused window
that -v reports.
"""
import gzip
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
sys.path.insert(0, os.path.join(HERE, "..", "guests"))
sys.path.insert(0, HERE)
from live_guest import LiveGuest  # noqa: E402
import testlib  # noqa: E402
from testlib import read_guest_env, run_per_guest  # noqa: E402

RUNS = 100
GUEST_PS_RUNS = 5
# Inserted into the guest's /init right after busybox installs its applets.
CHURN = ("echo vmi-churn: started; "
         "/bin/busybox sh -c 'while :; do /bin/busybox true; ( : ); /bin/sleep 0; done' </dev/null >/dev/null 2>&1 &")
ANCHOR = "/bin/busybox --install -s\n"


def churning_initrd(guest_dir, workdir):
    """The guest's initrd.gz with the churn /init appended as a second archive."""
    tree = os.path.join(workdir, "tree")
    os.makedirs(tree)
    with gzip.open(os.path.join(guest_dir, "initrd.gz")) as f:
        subprocess.run(["cpio", "-i", "--quiet", "init"], input=f.read(), cwd=tree, check=True)
    with open(os.path.join(tree, "init")) as f:
        init = f.read()
    if ANCHOR not in init:
        raise SystemExit(f"{guest_dir}/initrd.gz: its /init has no line {ANCHOR.strip()!r} to start the loop after")
    with open(os.path.join(tree, "init"), "w") as f:
        f.write(init.replace(ANCHOR, ANCHOR + CHURN + "\n", 1))
    archive = subprocess.run(["cpio", "-o", "-H", "newc", "--quiet"], input=b"init\n", cwd=tree,
                             capture_output=True, check=True).stdout
    guest = os.path.join(workdir, "guest")
    os.makedirs(guest)
    for name in ("vmlinuz", "kallsyms", "guest.env"):
        os.symlink(os.path.join(guest_dir, name), os.path.join(guest, name))
    with open(os.path.join(guest_dir, "initrd.gz"), "rb") as src, open(os.path.join(guest, "initrd.gz"), "wb") as dst:
        dst.write(src.read())
        dst.write(gzip.compress(archive))
    return guest


def check_guest(results, tools, name, guest_dir, scratch):
    if shutil.which("cpio") is None:
        results.skip(f"{name}: live cross-view check", "cpio not installed")
        return
    env = read_guest_env(guest_dir)
    workdir = tempfile.mkdtemp(prefix="vmixv.", dir="/tmp")  # socket paths are short
    guest = None
    try:
        churn_dir = churning_initrd(guest_dir, workdir)
        guest = LiveGuest(churn_dir, env, workdir, memfd=False)
        base = ["--qmp", guest.sock, "--sysmap", os.path.join(guest_dir, "kallsyms"),
                "--btf", os.path.join(guest_dir, "vmlinuz")]
        # The PID allocator's next number (init_pid_ns.idr.idr_next, offset from pahole)
        # shows how many processes were started in between.
        sys.path.insert(0, os.path.join(testlib.REPO, "share", "profiles"))
        import pahole_offsets
        parsed = pahole_offsets.parse(testlib._pahole_text(guest_dir, env, scratch, ["pid_namespace", "idr"]))
        idr_next = pahole_offsets.resolve(parsed, "pid_namespace.idr") + pahole_offsets.resolve(parsed, "idr.idr_next")

        def next_pid():
            rc, out, err = tools.run("vmi-read", *base, "--ksym", f"init_pid_ns+{idr_next}", "--as", "u32")
            return int(out.split()[-1], 0) if rc == 0 and out.split() else None

        before = next_pid()
        time.sleep(2)
        after = next_pid()
        results.check(before is not None and after is not None and after > before,
                      f"{name} live: the guest starts new processes all the time (the next pid went from {before} "
                      f"to {after} in 2 s)")
        failures, times = [], []
        for i in range(RUNS):
            start = time.monotonic()
            rc, out, err = tools.run("vmi-ps", *base, "--check", "--format", "jsonl")
            times.append(time.monotonic() - start)
            if rc != 0 or out.strip() or err.strip():
                failures.append(f"run {i + 1}: rc={rc} {out.strip()[:800]} {err.strip()[:800]}")
        times.sort()
        results.check(not failures, f"{name} live: {RUNS} checks in a row, each exit 0 with no finding and no "
                      f"warning (run time median {times[len(times) // 2]:.2f} s, max {times[-1]:.2f} s)",
                      "\n".join(failures[:10]))
        failures = []
        for i in range(GUEST_PS_RUNS):
            listing = os.path.join(workdir, "guest-ps.txt")
            with open(listing, "w") as f:
                f.write("\n".join(f"{line.split()[0]} {line.split()[-1]}" for line in guest.own_procs()) + "\n")
            rc, out, err = tools.run("vmi-ps", *base, "--check", "--guest-ps", listing, "--format", "jsonl")
            others = [line for line in err.splitlines() if "in the guest's list but in no kernel view" not in line]
            if rc != 0 or out.strip() or others:
                failures.append(f"run {i + 1}: rc={rc} {out.strip()[:800]} {err.strip()[:800]}")
        results.check(not failures, f"{name} live: {GUEST_PS_RUNS} checks against the guest's own list taken just "
                      "before: exit 0, no finding (processes that ended or started in between are not hidden)",
                      "\n".join(failures[:10]))
        rc, out, err = tools.run("vmi-ps", *base, "--check", "-v")
        paused = [line for line in err.splitlines() if "guest resumed after" in line]
        scan = [line for line in err.splitlines() if "view scan:" in line]
        table = [line for line in err.splitlines() if "view pid_table:" in line]
        count = [int(line.split(":")[-1].split()[0]) for line in scan + table]
        results.check(rc == 0 and paused and len(count) == 2 and count[0] > 20 and abs(count[0] - count[1]) < 10,
                      f"{name} live: -v: {paused[0].split('vmi-ps: ')[-1] if paused else 'no pause reported'}; the "
                      f"RAM scan finds about as many tasks as the PID table ({count})", err[-1500:])
        lines = err.splitlines()
        ahead = [i for i, line in enumerate(lines) if "scan of guest RAM ahead of the pause" in line]
        pause_at = [i for i, line in enumerate(lines) if line.endswith("guest paused")]
        results.check(ahead and pause_at and ahead[0] < pause_at[0],
                      f"{name} live: the RAM scan runs before the pause, with the guest running; the pause reads "
                      "again only what it found", err[-1500:])
        results.check(guest.running(), f"{name} live: the guest runs after the checks")
    finally:
        if guest is not None:
            guest.stop()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(run_per_guest(__doc__.splitlines()[0], ["amd64-4level"], check_guest))

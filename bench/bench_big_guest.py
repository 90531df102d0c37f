#!/usr/bin/env python3
"""vmi-ps on live guests of growing RAM (issue: big guests). The cached
amd64-4level test guest (tests/guests/build-guests.sh) is booted again under
QEMU (TCG) with its RAM in a shared memfd of each size asked for; untouched
memfd pages cost the host nothing. For each size, whole-process numbers:

- first contact: `vmi-ps --qmp SOCK` with empty caches (symbols and types
  from guest memory alone): wall ms, peak RSS;
- warm: the same with the caches that run left: wall ms, peak RSS;
- check: `vmi-ps --qmp SOCK --check -v` (warm caches): wall ms, peak RSS, and
  the paused window the tool reports ("guest resumed after X ms paused");
- host: how much of the guest's memfd is allocated before and after the
  runs (its st_blocks): reading must not allocate the pages the guest never
  touched.

Medians of VMI_BENCH_RUNS (default 5) runs each, first runs included for
first contact (each gets a fresh cache). Numbers, never pass/fail.

Usage: bench/bench_big_guest.py TOOLS_DIR [RAM_MIB...]   (default 512 4608 16384)
  TOOLS_DIR  a build's tools/ directory (build a Release tree for numbers)
"""
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests"))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "live"))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "guests"))
from test_live_qmp import LiveGuest  # noqa: E402
from testlib import guest_dir_root, read_guest_env  # noqa: E402

RUNS = int(os.environ.get("VMI_BENCH_RUNS", "5"))


def memfd_allocated_mib(pid):
    """MiB allocated in the QEMU process's guest-RAM memfd."""
    for fd in os.listdir(f"/proc/{pid}/fd"):
        path = f"/proc/{pid}/fd/{fd}"
        try:
            if "memfd:" in os.readlink(path):
                return os.stat(path).st_blocks * 512 >> 20
        except OSError:
            continue
    return 0


def timed(command, home):
    """(wall ms, peak RSS MiB, stderr) of one run."""
    env = dict(os.environ, HOME=home, XDG_CACHE_HOME=os.path.join(home, ".cache"), VMI_CACHE_DIR="",
               XDG_CONFIG_HOME=home)
    env.pop("VMI_CONFIG", None)
    with tempfile.NamedTemporaryFile() as rss:
        start = time.monotonic()
        proc = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", rss.name, *command], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, timeout=900)
        wall = (time.monotonic() - start) * 1000
        peak = int(open(rss.name).read().split()[-1]) / 1024
    if proc.returncode not in (0, 1):
        print(f"# {' '.join(command[-3:])}: exit {proc.returncode}: {proc.stderr.strip().splitlines()[-1]}",
              flush=True)
    return wall, peak, proc.stderr, proc.returncode


def median_of(samples):
    return statistics.median(s[0] for s in samples), statistics.median(s[1] for s in samples)


def bench_size(tools, guest_dir, ram_mib, scratch):
    env = dict(read_guest_env(guest_dir))
    env["GUEST_RAM_BYTES"] = str(ram_mib << 20)
    workdir = tempfile.mkdtemp(prefix="vmibig.", dir="/tmp")
    guest = LiveGuest(guest_dir, env, workdir, memfd=True)
    try:
        shmem_before = memfd_allocated_mib(guest.process.pid)
        ps = [os.path.join(tools, "vmi-ps", "vmi-ps"), "--qmp", guest.sock]
        first = []
        for i in range(RUNS):
            first.append(timed(ps, tempfile.mkdtemp(dir=scratch)))
        warm_home = tempfile.mkdtemp(dir=scratch)
        timed(ps, warm_home)
        warm = [timed(ps, warm_home) for _ in range(RUNS)]
        check = [timed([*ps, "--check", "-v"], warm_home) for _ in range(RUNS)]
        paused = [float(m.group(1)) for s in check
                  for m in [re.search(r"guest resumed after ([0-9.]+) ms paused", s[2])] if m]
        shmem_after = memfd_allocated_mib(guest.process.pid)
    finally:
        guest.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    f, w, c = median_of(first), median_of(warm), median_of(check)
    failed = sum(1 for s in first + warm + check if s[3] not in (0, 1))
    print(f"{ram_mib:>6} MiB | first contact {f[0]:8.0f} ms {f[1]:7.1f} MiB | warm {w[0]:7.0f} ms {w[1]:7.1f} MiB | "
          f"--check {c[0]:7.0f} ms {c[1]:7.1f} MiB, paused {statistics.median(paused) if paused else float('nan'):7.1f} ms"
          f" | memfd allocated {shmem_before} -> {shmem_after} MiB"
          + (f" | {failed} runs failed" if failed else ""), flush=True)


def main():
    if len(sys.argv) < 2:
        raise SystemExit(__doc__)
    tools = os.path.abspath(sys.argv[1])
    sizes = [int(a) for a in sys.argv[2:]] or [512, 4608, 16384]
    guest_dir = os.path.join(guest_dir_root(), "amd64-4level")
    print(f"vmi-ps on amd64-4level booted with a memfd of each size; medians of {RUNS} runs", flush=True)
    with tempfile.TemporaryDirectory() as scratch:
        for size in sizes:
            bench_size(tools, guest_dir, size, scratch)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""--journal: the check modes' findings as structured journal entries.

journald is not running here, so the test stands in for it: in a private
mount namespace (unshare -m) a tmpfs goes over /run and a datagram socket at
/run/systemd/journal/socket receives what libsystemd's sd_journal_sendv sends,
decoded by the journal's native protocol (journal-native-protocol in
systemd's documentation), not by anything of ours. Checked:
- vmi-ps, vmi-lsmod, vmi-hooks --check --journal yes on the hiding dumps send
  exactly one entry per finding: PRIORITY 4, the kind's MESSAGE_ID, VMI_DOMAIN,
  VMI_CHECK and the finding's own fields (VMI_PID/VMI_COMM of the process the
  guest's builder hid, VMI_MODULE vmihide, the hook's kind, hooked function and
  hidden owner), SYSLOG_IDENTIFIER the tool;
- a clean dump sends nothing; an unreadable one one entry with PRIORITY 3;
- --journal auto sends only when $JOURNAL_STREAM names the tool's stdout or
  stderr, as under a systemd unit;
- with no journal to take them, --journal yes fails (exit 2, one line) after
  the check's own output; a bad --journal value is one line, exit 2;
- then systemd's own journald, started by hand in the same namespace, takes
  vmi-ps's and vmi-hooks' entries, and `journalctl -o json` shows each with
  its MESSAGE_ID, PRIORITY and VMI_ fields.
"""
import json
import os
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
from testlib import Results, Tools, guest_dir_root, read_guest_env  # noqa: E402

SOCKET = "/run/systemd/journal/socket"
HIDDEN_PROCESS = "3f607ace05fd4a8f8efb3b416fa9c17d"
HIDDEN_MODULE = "3824ec09054545428a2c1001e84e553b"
KERNEL_HOOK = "6e91e11e6e3a4dcfba522679a5f16b84"
CHECK_ERROR = "ff1dcb10eaba4e719046ff989ec45232"


def decode(datagram):
    """{field: value} of one native-protocol datagram: KEY=VALUE lines, or KEY
    then a little-endian 64-bit size and that many bytes (values with newlines)."""
    fields, at = {}, 0
    while at < len(datagram):
        end = datagram.index(b"\n", at)
        line = datagram[at:end]
        if b"=" in line:
            key, value = line.split(b"=", 1)
            at = end + 1
        else:
            key = line
            size = struct.unpack("<Q", datagram[end + 1:end + 9])[0]
            value = datagram[end + 9:end + 9 + size]
            at = end + 9 + size + 1
        fields[key.decode()] = value.decode("utf-8", "replace")
    return fields


class FakeJournal:
    def __init__(self):
        os.makedirs(os.path.dirname(SOCKET), exist_ok=True)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(SOCKET)
        self.sock.setblocking(False)

    def entries(self):
        got = []
        while True:
            try:
                got.append(decode(self.sock.recv(1 << 20)))
            except BlockingIOError:
                return got

    def close(self):
        self.sock.close()
        os.unlink(SOCKET)


def inner(args):
    """In the private mount namespace: /run is ours."""
    subprocess.run(["mount", "-t", "tmpfs", "tmpfs", "/run"], check=True)
    results, tools = Results(), Tools(args.bin)
    root = args.guests
    task_dir = os.path.join(root, "amd64-hide-tasklist")
    victim = read_guest_env(task_dir)["GUEST_HIDDEN_PID"]
    task = os.path.join(task_dir, "memory.elf")
    module = os.path.join(root, "amd64-hide-modsysfs", "memory.elf")
    hook = os.path.join(root, "amd64-hooks-hidden", "getdents", "memory.elf")
    clean = os.path.join(root, "amd64-4level", "memory.elf")
    journal = FakeJournal()

    def run(tool, image, *extra, env=None):
        rc, out, err = tools.run(tool, "--image", image, "--check", *extra, env=env)
        return rc, out, err, journal.entries()

    rc, _, err, got = run("vmi-ps", task, "--journal", "yes")
    want = {"PRIORITY": "4", "MESSAGE_ID": HIDDEN_PROCESS, "VMI_DOMAIN": task, "VMI_CHECK": "processes",
            "VMI_PID": victim, "VMI_COMM": "sleep", "SYSLOG_IDENTIFIER": "vmi-ps"}
    results.check(rc == 1 and len(got) == 1 and want.items() <= got[0].items() and victim in got[0]["MESSAGE"],
                  f"vmi-ps: one entry, the hidden process {victim} (sleep), PRIORITY 4, its MESSAGE_ID and fields",
                  f"rc={rc}\n{json.dumps(got, indent=1)}\n{err[-800:]}")
    rc, _, err, got = run("vmi-lsmod", module, "--journal", "yes")
    want = {"PRIORITY": "4", "MESSAGE_ID": HIDDEN_MODULE, "VMI_DOMAIN": module, "VMI_CHECK": "modules",
            "VMI_MODULE": "vmihide", "SYSLOG_IDENTIFIER": "vmi-lsmod"}
    results.check(rc == 1 and len(got) == 1 and want.items() <= got[0].items(),
                  "vmi-lsmod: one entry, the hidden module vmihide", f"rc={rc}\n{json.dumps(got, indent=1)}\n{err[-800:]}")
    rc, _, err, got = run("vmi-hooks", hook, "--journal", "yes")
    want = {"PRIORITY": "4", "MESSAGE_ID": KERNEL_HOOK, "VMI_CHECK": "hooks", "VMI_HOOK_KIND": "ftrace",
            "VMI_HOOKED": "__x64_sys_getdents64", "VMI_TARGET_SYMBOL": "getdents_hook", "VMI_MODULE": "vmihide",
            "VMI_OWNER_HIDDEN": "1", "SYSLOG_IDENTIFIER": "vmi-hooks"}
    results.check(rc == 1 and len(got) == 1 and want.items() <= got[0].items(),
                  "vmi-hooks: one entry, the ftrace hook on __x64_sys_getdents64 by the hidden vmihide",
                  f"rc={rc}\n{json.dumps(got, indent=1)}\n{err[-800:]}")
    for tool in ("vmi-ps", "vmi-lsmod", "vmi-hooks"):
        rc, _, err, got = run(tool, clean, "--journal", "yes")
        results.check(rc == 0 and got == [], f"{tool} on a clean dump: no entry", f"rc={rc} {got}\n{err[-800:]}")
    missing = os.path.join(args.scratch, "gone.elf")
    rc, _, err, got = run("vmi-hooks", missing, "--journal", "yes")
    results.check(rc == 2 and len(got) == 1 and got[0].get("PRIORITY") == "3" and
                  got[0].get("MESSAGE_ID") == CHECK_ERROR and got[0].get("VMI_DOMAIN") == missing,
                  "an unreadable guest: one entry with PRIORITY 3 and the error MESSAGE_ID",
                  f"rc={rc}\n{json.dumps(got, indent=1)}\n{err[-800:]}")

    # auto: only when $JOURNAL_STREAM is the tool's stdout (here a file we give it).
    out_path = os.path.join(args.scratch, "out.txt")
    for stream_is_stdout in (True, False):
        with open(out_path, "w") as out:
            st = os.fstat(out.fileno())
            stream = f"{st.st_dev}:{st.st_ino}" if stream_is_stdout else f"{st.st_dev}:{st.st_ino + 1}"
            env = dict(os.environ, JOURNAL_STREAM=stream)
            proc = subprocess.run([tools.path("vmi-lsmod"), "--image", module, "--check"], stdout=out,
                                  stderr=subprocess.PIPE, env=env)
        got = journal.entries()
        results.check(proc.returncode == 1 and len(got) == (1 if stream_is_stdout else 0),
                      "--journal auto sends " + ("when $JOURNAL_STREAM is its stdout" if stream_is_stdout
                                                 else "nothing when $JOURNAL_STREAM is another file"),
                      f"rc={proc.returncode} {got}\n{proc.stderr.decode()[-800:]}")
    rc, _, err, got = run("vmi-lsmod", module)
    results.check(rc == 1 and got == [], "--journal auto without $JOURNAL_STREAM sends nothing", f"{got}")

    journal.close()
    rc, out, err = tools.run("vmi-lsmod", "--image", module, "--check", "--journal", "yes")
    results.check(rc == 2 and "vmihide" in out and len(err.strip().splitlines()) == 1 and "--journal" in err,
                  "--journal yes with no journal: the result, then one line and exit 2", f"rc={rc}\n{out}\n{err}")
    rc, out, err = tools.run("vmi-lsmod", "--image", module, "--check", "--journal", "maybe")
    results.check(rc == 2 and out == "" and len(err.strip().splitlines()) == 1 and "maybe" in err,
                  "--journal maybe: one line naming the value, exit 2", f"rc={rc}\n{out}\n{err}")

    check_real_journald(results, tools, args, task, victim, hook)
    return results.finish()


def check_real_journald(results, tools, args, task, victim, hook):
    """systemd's own journald, started by hand in this namespace (PID 1 here is not
    systemd), takes the entries, and journalctl -o json shows their fields."""
    journald = "/lib/systemd/systemd-journald"
    if not os.path.exists(journald) or shutil.which("journalctl") is None:
        results.check(False, "systemd-journald and journalctl installed (package systemd, install-deps.sh --test)")
        return
    if os.path.isdir("/var/log/journal"):   # no persistent journal of the host's touched
        subprocess.run(["mount", "-t", "tmpfs", "tmpfs", "/var/log/journal"], check=True)
    log = open(os.path.join(args.scratch, "journald.log"), "w")
    daemon = subprocess.Popen([journald], stdout=log, stderr=log)
    try:
        for _ in range(100):
            if os.path.exists(SOCKET):
                break
            time.sleep(0.1)
        rc_ps, _, err_ps = tools.run("vmi-ps", "--image", task, "--check", "--journal", "yes")
        rc_hooks, _, err_hooks = tools.run("vmi-hooks", "--image", hook, "--check", "--journal", "yes")
        entries, deadline = [], time.time() + 10
        while time.time() < deadline:
            shown = subprocess.run(["journalctl", "-D", "/run/log/journal", "-o", "json", "--no-pager"],
                                   capture_output=True, text=True)
            entries = [e for e in (json.loads(line) for line in shown.stdout.splitlines() if line.startswith("{"))
                       if "VMI_CHECK" in e]
            if len(entries) >= 2:
                break
            time.sleep(0.2)
    finally:
        daemon.terminate()
        daemon.wait(timeout=30)
        log.close()
    by_check = {e["VMI_CHECK"]: e for e in entries}
    ps, hooks = by_check.get("processes", {}), by_check.get("hooks", {})
    results.check(rc_ps == 1 and rc_hooks == 1 and len(entries) == 2 and ps.get("MESSAGE_ID") == HIDDEN_PROCESS
                  and ps.get("PRIORITY") == "4" and ps.get("VMI_PID") == victim and ps.get("VMI_DOMAIN") == task
                  and ps.get("SYSLOG_IDENTIFIER") == "vmi-ps" and hooks.get("MESSAGE_ID") == KERNEL_HOOK
                  and hooks.get("VMI_MODULE") == "vmihide" and hooks.get("VMI_HOOKED") == "__x64_sys_getdents64",
                  "systemd-journald takes the entries and journalctl -o json shows them: the hidden process "
                  f"({victim}) and the ftrace hook, each with its MESSAGE_ID, PRIORITY and VMI_ fields",
                  f"{json.dumps(entries, indent=1)[:3000]}\n{err_ps[-500:]}\n{err_hooks[-500:]}")


def main():
    import argparse
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bin", required=True)
    parser.add_argument("--guests", default=guest_dir_root())
    parser.add_argument("--inner", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--scratch", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.inner:
        return inner(args)
    results = Results()
    needed = [os.path.join(args.guests, g, "done") for g in
              ("amd64-hide-tasklist", "amd64-hide-modsysfs", "amd64-hooks-hidden", "amd64-4level")]
    missing = [p for p in needed if not os.path.exists(p)]
    if missing:
        results.check(False, "the guests are built", " ".join(missing))
        return results.finish()
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        results.skip("the journal entries", "needs root and unshare(1) for a private mount namespace")
        return results.finish()
    with tempfile.TemporaryDirectory() as scratch:
        proc = subprocess.run(["unshare", "--mount", "--propagation", "private", sys.executable,
                               os.path.abspath(__file__), "--inner", "--bin", args.bin, "--guests", args.guests,
                               "--scratch", scratch])
    return proc.returncode


if __name__ == "__main__":
    sys.exit(main())

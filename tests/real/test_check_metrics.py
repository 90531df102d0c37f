#!/usr/bin/env python3
"""--prometheus: the check modes' node_exporter textfile, on the test guests' dumps.

vmi-ps, vmi-lsmod and vmi-hooks --check write into one file, each its own
series. Checked against sources that are not the tool:
- the file passes `promtool check metrics` (Prometheus's own linter), and
  the Python client's text parser (python3-prometheus-client) reads the same
  samples from it;
- what each check found is what the guest's builder hid: one process in
  amd64-hide-tasklist (GUEST_HIDDEN_PID), one module in amd64-hide-modsysfs
  (GUEST_HIDDEN_MODULE), one patched call in amd64-hooks' dispatch stage,
  nothing on the clean amd64-4level;
- a guest that cannot be read is an error of its check, and it gets no
  success time; a later run of the same check replaces its series only;
- checks run side by side into the same file lose nothing (the file lock);
- an unwritable file fails the tool (exit 2, one line) after its result.
"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from testlib import Results, Tools, guest_dir_root, read_guest_env  # noqa: E402

SAMPLE = re.compile(r'^(\w+)\{domain="((?:[^"\\]|\\.)*)"(?:,check="(\w+)")?\} (\S+)$')
CHECKS = {"processes": "vmi-ps", "modules": "vmi-lsmod", "hooks": "vmi-hooks"}


def series(path):
    """{(metric, domain, check or None): value} of the textfile."""
    found = {}
    with open(path) as f:
        for line in f:
            m = SAMPLE.match(line.rstrip("\n"))
            if m:
                found[(m.group(1), m.group(2), m.group(3))] = float(m.group(4))
    return found


# Debian's python3-prometheus-client (for Debian's own python3): its text parser's samples.
CLIENT_PARSE = """
import json, sys
from prometheus_client.parser import text_string_to_metric_families
samples = []
for family in text_string_to_metric_families(sys.stdin.read()):
    for s in family.samples:
        samples.append([s.name, s.labels.get("domain"), s.labels.get("check"), s.value, family.type])
print(json.dumps(samples))
"""


def promtool(results, path, what):
    """Prometheus's own linter accepts the file, and the Python client's text parser reads
    the same samples as this test's own reading of it, each family typed gauge."""
    proc = subprocess.run(["promtool", "check", "metrics"], stdin=open(path, "rb"), capture_output=True)
    results.check(proc.returncode == 0, f"promtool check metrics accepts the textfile {what}",
                  proc.stdout.decode() + proc.stderr.decode())
    proc = subprocess.run(["/usr/bin/python3", "-c", CLIENT_PARSE], stdin=open(path, "rb"), capture_output=True)
    parsed = json.loads(proc.stdout) if proc.returncode == 0 else []
    ours = series(path)
    theirs = {(name, domain, check): value for name, domain, check, value, _ in parsed}
    results.check(proc.returncode == 0 and theirs == ours and all(p[4] == "gauge" for p in parsed),
                  f"prometheus_client's text parser reads the textfile {what}: the same {len(ours)} samples, gauges",
                  proc.stderr.decode()[-1500:] + f"\nparser: {sorted(theirs.items())[:6]}\nours: {sorted(ours.items())[:6]}")


def main():
    import argparse
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--bin", required=True)
    parser.add_argument("--guests", default=guest_dir_root())
    args = parser.parse_args()
    results = Results()
    tools = Tools(args.bin)
    if shutil.which("promtool") is None:
        results.check(False, "promtool installed (package prometheus, scripts/install-deps.sh --test)")
        return results.finish()
    root = args.guests
    hidden_task = os.path.join(root, "amd64-hide-tasklist", "memory.elf")
    hidden_module = os.path.join(root, "amd64-hide-modsysfs", "memory.elf")
    hook = os.path.join(root, "amd64-hooks", "dispatch", "memory.elf")
    clean = os.path.join(root, "amd64-4level", "memory.elf")
    for path in (hidden_task, hidden_module, hook, clean):
        if not os.path.exists(path):
            results.check(False, f"{path} built")
            return results.finish()
    task_env = read_guest_env(os.path.join(root, "amd64-hide-tasklist"))
    module_env = read_guest_env(os.path.join(root, "amd64-hide-modsysfs"))
    results.check(task_env["GUEST_HIDDEN_PID"] and module_env["GUEST_HIDDEN_MODULE"] == "vmihide",
                  "the hiding guests hid one process and one module", f"{task_env} {module_env}")

    with tempfile.TemporaryDirectory() as scratch:
        prom = os.path.join(scratch, "textfile", "vmi.prom")
        expected = {(hidden_task, "processes"): 1, (hidden_module, "modules"): 1, (hook, "hooks"): 1}
        expected.update({(clean, check): 0 for check in CHECKS})
        for (image, check), findings in sorted(expected.items()):
            rc, _, err = tools.run(CHECKS[check], "--image", image, "--check", "--prometheus", prom)
            results.check(rc == findings, f"{CHECKS[check]} --check --prometheus on {os.path.basename(os.path.dirname(image))}: "
                          f"exit {findings}", f"rc={rc}\n{err[-800:]}")
        promtool(results, prom, "of six checks")
        got = series(prom)
        wrong = [f"{check} on {image}: {got.get(('vmi_check_findings', image, check))} findings, "
                 f"{got.get(('vmi_check_errors', image, check))} errors, expected {findings} and 0"
                 for (image, check), findings in expected.items()
                 if got.get(("vmi_check_findings", image, check)) != findings or
                 got.get(("vmi_check_errors", image, check)) != 0 or
                 not got.get(("vmi_check_duration_seconds", image, check), -1) > 0]
        stamps = {d: v for (metric, d, _), v in got.items() if metric == "vmi_check_last_success_timestamp_seconds"}
        results.check(not wrong and set(stamps) == {i for i, _ in expected},
                      "each check's findings are what the guest hid, no errors, a duration; a success time per guest",
                      "\n".join(wrong) + f"\n{stamps}")
        mode = os.stat(prom).st_mode & 0o777
        results.check(mode == 0o644, "the textfile is readable by node_exporter's user (0644)", oct(mode))

        # A guest that cannot be read: an error of that check, no success time.
        missing = os.path.join(scratch, "gone.elf")
        rc, _, err = tools.run("vmi-hooks", "--image", missing, "--check", "--prometheus", prom)
        got = series(prom)
        results.check(rc == 2 and got.get(("vmi_check_errors", missing, "hooks")) == 1 and
                      ("vmi_check_last_success_timestamp_seconds", missing, None) not in got and
                      len([k for k in got if k[0] == "vmi_check_findings"]) == len(expected) + 1,
                      "an unreadable guest is an error of its check, has no success time, and the other series stay",
                      f"rc={rc}\n{err[-400:]}\n{got}")
        promtool(results, prom, "with an error")

        # Side by side into a fresh file: every series arrives (the writers take a lock).
        side = os.path.join(scratch, "side.prom")
        runs = [(CHECKS[c], image) for image in (clean, hook, hidden_task, hidden_module) for c in CHECKS] * 2
        with ThreadPoolExecutor(max_workers=6) as pool:
            codes = list(pool.map(lambda r: tools.run(r[0], "--image", r[1], "--check", "--prometheus", side)[0], runs))
        got = series(side)
        findings = [k for k in got if k[0] == "vmi_check_findings"]
        results.check(all(c in (0, 1) for c in codes) and len(findings) == 12,
                      "twelve checks written side by side, each run twice, leave twelve series", f"{codes}\n{sorted(findings)}")
        promtool(results, side, "written side by side")

        # Nowhere to write: the result still printed, then exit 2 with one line.
        rc, out, err = tools.run("vmi-lsmod", "--image", hidden_module, "--check", "--prometheus", scratch)
        results.check(rc == 2 and "vmihide" in out and len(err.strip().splitlines()) == 1 and "--prometheus" in err,
                      "a textfile that cannot be written fails the check after printing its result",
                      f"rc={rc}\n{out}\n{err}")
        for tool in CHECKS.values():
            rc, out, err = tools.run(tool, "--image", clean, "--prometheus", prom)
            results.check(rc == 2 and out == "" and len(err.strip().splitlines()) == 1 and "--check" in err,
                          f"{tool} --prometheus without --check: one line, exit 2", f"rc={rc}\n{err}")
    return results.finish()


if __name__ == "__main__":
    sys.exit(main())

"""The tools' JSON contract, on a live guest: an error is an object on stdout
({"error": "..."}) with no partial result before it (json) or as the last
line (jsonl), and guest bytes that are not UTF-8 come out escaped so that
they can be had back (\\xNN, a backslash as two), as in text output."""
import json
import os

from live_checks import processes
from testlib import read_guest_env, struct_facts


def unescape(text):
    """The bytes a string of our JSON (or a text cell) stands for."""
    out, i = bytearray(), 0
    while i < len(text):
        if text[i] == "\\" and text[i + 1] == "\\":
            out += b"\\"
            i += 2
        elif text[i] == "\\" and text[i + 1] == "x":
            out.append(int(text[i + 2:i + 4], 16))
            i += 4
        else:
            out += text[i].encode()
            i += 1
    return bytes(out)


def only_error(out):
    """The error object if `out` is exactly one, else None."""
    lines = out.splitlines()
    if len(lines) != 1:
        return None
    value = json.loads(lines[0])
    return value if isinstance(value, dict) and set(value) <= {"error", "errors"} and "error" in value else None


def check(results, tools, guest, base, guest_dir, scratch, what):
    kallsyms = os.path.join(guest_dir, "kallsyms")
    missing = "no_such_symbol_here"
    rc, out, err = tools.run("vmi-ksym", "--sysmap", kallsyms, "--format", "json", "linux_banner", missing)
    error = only_error(out)
    results.check(rc == 2 and error and missing in error["error"] and len(err.splitlines()) == 1,
                  f"{what}: vmi-ksym --format json with a symbol missing: only the error object, no partial array",
                  f"exit {rc}\nstdout {out!r}\nstderr {err!r}")
    rc, out, err = tools.run("vmi-ksym", "--sysmap", kallsyms, "--format", "jsonl", "linux_banner", missing)
    lines = out.splitlines()
    results.check(rc == 2 and len(lines) == 2 and json.loads(lines[0]).get("address")
                  and only_error(lines[1]) and missing in lines[1],
                  f"{what}: vmi-ksym --format jsonl: the answers, then the error object last", out + err)
    rc, out, err = tools.run("vmi-ksym", "--sysmap", kallsyms, "linux_banner", missing)
    results.check(rc == 2 and out.startswith("0x") and len(out.splitlines()) == 1 and missing in err,
                  f"{what}: vmi-ksym in text: the answer on stdout, the error on stderr", out + err)

    rc, out, err = tools.run("vmi-ps", *base, "--pid", "1", "--pid", "999999", "--format", "json")
    error = only_error(out)
    results.check(rc == 2 and error and error["error"] == "no process with pid 999999" and guest.running(),
                  f"{what}: vmi-ps --format json with a pid that is not there: only the error object", out + err)
    rc, out, err = tools.run("vmi-ps", *base, "--pid", "1", "--pid", "999999", "--format", "jsonl")
    lines = out.splitlines()
    results.check(rc == 2 and len(lines) == 2 and json.loads(lines[0]).get("pid") == 1 and only_error(lines[1]),
                  f"{what}: vmi-ps --format jsonl: the row found, then the error object last", out + err)
    rc, out, err = tools.run("vmi-ps", "--qmp", "/nonexistent/qmp.sock", "--format", "json")
    error = only_error(out)
    results.check(rc == 2 and error and "cannot connect to QMP socket" in error["error"]
                  and len(err.splitlines()) == 1,
                  f"{what}: a guest that cannot be reached, in JSON: the error object, and the line on stderr",
                  out + err)

    # A process renamed to bytes that are not UTF-8, with a backslash.
    # task_struct.comm's offset from the kernel's BTF (pahole), not from the tools.
    comm = struct_facts(guest_dir, read_guest_env(guest_dir), scratch)["task_struct.comm"]
    rows = processes(tools, base)
    pid, name, task = next(row for row in rows if row[1] == "sleep")
    hostile = b"\xff\xfe\\x41"
    at = ["--va", f"{int(task, 16) + comm:#x}"]
    rc, _, err = tools.run("vmi-write", *base, "--live-write", *at, "--hex", (hostile + b"\0").hex())
    try:
        rc_json, out, err_json = tools.run("vmi-ps", *base, "--pid", pid, "-o", "pid,name", "--format", "json")
        shown = json.loads(out)[0]["name"] if rc_json == 0 else None
        rc_text, text, _ = tools.run("vmi-ps", *base, "--pid", pid, "-o", "name", "--no-headers")
    finally:
        tools.run("vmi-write", *base, "--live-write", *at, "--string", name, "--nul")
    results.check(rc == 0 and shown is not None and unescape(shown) == hostile and shown == text.strip()
                  and "\ufffd" not in out,
                  f"{what}: a name that is not UTF-8 comes out of JSON escaped, as in text, and decodes to its bytes "
                  f"({shown!r})", f"{err}{out}{err_json}{text}")
    # Only that process is compared: a kworker's name (its workqueue) may change meanwhile.
    after = {row[0]: row for row in processes(tools, base)}
    results.check(after.get(pid) == [pid, name, task] and guest.running(), f"{what}: the process has its name back",
                  f"before {[pid, name, task]}, after {after.get(pid)}")

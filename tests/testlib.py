"""Small shared helpers for the end-to-end tests: run a tool, record results.

Each test script prints one line per check and ends with 'N passed, N failed'.
"""
import os
import subprocess
import sys


class Results:
    def __init__(self):
        self.passed = 0
        self.failed = 0

    def check(self, ok, description, detail=""):
        if ok:
            self.passed += 1
            print(f"ok - {description}")
        else:
            self.failed += 1
            print(f"FAIL - {description}")
            if detail:
                for line in str(detail).rstrip().splitlines()[:20]:
                    print(f"    {line}")
        sys.stdout.flush()
        return ok

    def finish(self):
        print(f"{self.passed} passed, {self.failed} failed")
        return 0 if self.failed == 0 else 1


class Tools:
    def __init__(self, bin_dir):
        self.bin_dir = os.path.abspath(bin_dir)

    def path(self, tool):
        return os.path.join(self.bin_dir, tool, tool)

    def run(self, tool, *args, env=None, cwd=None, timeout=120):
        """Runs a tool; returns (exit code, stdout text, stderr text)."""
        full_env = dict(os.environ)
        full_env.pop("VMI_CONFIG", None)
        if env:
            full_env.update(env)
        proc = subprocess.run([self.path(tool), *map(str, args)], capture_output=True, env=full_env,
                              cwd=cwd, timeout=timeout)
        return (proc.returncode, proc.stdout.decode("utf-8", "replace"),
                proc.stderr.decode("utf-8", "replace"))


def guest_dir_root():
    return os.environ.get("VMI_GUEST_DIR") or os.path.expanduser("~/.cache/vmitools/guests")


def read_guest_env(guest_dir):
    env = {}
    with open(os.path.join(guest_dir, "guest.env")) as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith("#") and "=" in line:
                key, value = line.split("=", 1)
                env[key] = value
    return env


def read_kallsyms(path):
    """[(address, type, name, module)] from a kallsyms/System.map file."""
    symbols = []
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            parts = line.replace("\r", "").split()
            if len(parts) < 3:
                continue
            module = parts[3].strip("[]") if len(parts) > 3 else ""
            symbols.append((int(parts[0], 16), parts[1], parts[2], module))
    return symbols

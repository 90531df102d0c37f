"""Small shared helpers for the end-to-end tests: run a tool, record results.

Each test script prints one line per check and ends with 'N passed, N failed'.
"""
import lzma
import os
import re
import subprocess
import sys


REPO = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))


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


def guest_sysmap(guest_dir, env, scratch):
    """The guest's kallsyms where it has data symbols (amd64); else the real
    System.map from the kernel's profile (Debian's i386 kernels lack them)."""
    if env["GUEST_ARCH"] == "x86_64":
        return os.path.join(guest_dir, "kallsyms")
    profile = os.path.join(REPO, "share", "profiles", env["GUEST_RELEASE"], "System.map.xz")
    if not os.path.exists(profile):
        raise SystemExit(f"no profile for {env['GUEST_RELEASE']}: run share/profiles/generate-profile.sh "
                         f"{env['GUEST_RELEASE']}")
    out = os.path.join(scratch, f"System.map-{env['GUEST_RELEASE']}")
    if not os.path.exists(out):
        with lzma.open(profile) as src, open(out, "wb") as dst:
            dst.write(src.read())
    return out


def linux_guest_config(name, guest_dir, env, scratch):
    """A config entry for the guest: offsets from the guest's BTF (amd64) or
    from explicit keys of the kernel's profile (i386, no BTF)."""
    lines = [f"{name} {{", '    ostype = "Linux";', f'    sysmap = "{guest_sysmap(guest_dir, env, scratch)}";']
    if env["GUEST_ARCH"] == "x86_64":
        lines.append(f'    btf = "{guest_dir}/vmlinuz";')
    else:
        with open(os.path.join(REPO, "share", "profiles", env["GUEST_RELEASE"], "offsets.conf")) as f:
            lines += ["    " + line.strip() for line in f if line.strip() and not line.startswith("#")]
    lines.append("}")
    path = os.path.join(scratch, f"{name}.conf")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    return path


def run_per_guest(description, default_guests, check_guest, setup=None):
    """main() of a per-guest test script: check_guest(results, tools, name,
    guest_dir, scratch) for each guest named on the command line (default:
    default_guests); a guest that is not built is a failure. setup(results),
    if given, runs first: when it returns False no guest is checked."""
    import argparse
    import tempfile
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--bin", required=True, help="build/tools directory")
    parser.add_argument("--guests", default=guest_dir_root())
    parser.add_argument("names", nargs="*", default=default_guests)
    args = parser.parse_args()
    results = Results()
    tools = Tools(args.bin)
    if setup is not None and not setup(results):
        return results.finish()
    with tempfile.TemporaryDirectory() as scratch:
        for name in args.names:
            guest_dir = os.path.join(args.guests, name)
            if not os.path.exists(os.path.join(guest_dir, "done")):
                results.check(False, f"{name}: guest built", f"{guest_dir} missing: run tests/guests/build-guests.sh")
                continue
            check_guest(results, tools, name, guest_dir, scratch)
    return results.finish()


def same_name(guest_name, our_name):
    """Process names equal; a kworker's "-description" (the work item procfs
    appends, as vmi-ps does) may have changed between the two looks."""
    if guest_name == our_name:
        return True
    base = lambda name: re.split(r"[-+]", name, maxsplit=1)[0]  # noqa: E731
    return our_name.startswith("kworker/") and base(guest_name) == base(our_name)

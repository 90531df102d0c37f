#!/usr/bin/env python3
"""Where the tools look for their config file, and what they say when there is none.

The search order (man/vmi.conf.5, lib/config ConfigLocator): $VMI_CONFIG,
./libvmi.conf, ~/etc/libvmi.conf, /etc/libvmi.conf,
$XDG_CONFIG_HOME/vmitools/vmi.conf (else ~/.config/vmitools/vmi.conf),
/etc/vmitools/vmi.conf. Every run here gets a temporary HOME and working
directory, and VMI_CONFIG and XDG_CONFIG_HOME only where a check sets them, so
the user's own files never count. Each location is given an entry `demo`
whose image is a path that names the location; the tool's "cannot open image"
error then says which file it read.

The two files under /etc cannot be redirected. When one exists, the checks
that need it absent (the locations searched after it, and "no config file at
all") run in a private mount namespace that masks it (root only: /dev/null
bound over /etc/libvmi.conf, which the search skips like any file that is not
a regular one; an empty tmpfs over /etc/vmitools). When that is not possible
they are reported as skipped, saying why, and the script exits 77, which ctest
shows as Skipped.
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from testlib import Results, Tools  # noqa: E402

SYSTEM_LIBVMI = "/etc/libvmi.conf"
SYSTEM_VMITOOLS = "/etc/vmitools"


def system_config_mask():
    """(command prefix that runs a tool with the /etc config files masked, or None;
    why not). The prefix is [] when there is nothing to mask."""
    commands = []
    if os.path.isfile(SYSTEM_LIBVMI):
        commands.append(f"mount --bind /dev/null {SYSTEM_LIBVMI}")
    if os.path.isdir(SYSTEM_VMITOOLS) and os.path.lexists(os.path.join(SYSTEM_VMITOOLS, "vmi.conf")):
        commands.append(f"mount -t tmpfs -o mode=0755 vmi-test-empty {SYSTEM_VMITOOLS}")
    if not commands:
        return [], ""
    found = [p for p in (SYSTEM_LIBVMI, SYSTEM_VMITOOLS + "/vmi.conf") if os.path.lexists(p)]
    present = " and ".join(found) + (" exist" if len(found) > 1 else " exists")
    if os.geteuid() != 0:
        return None, f"{present} on this machine; only root can mask it for the test (private mount namespace)"
    prefix = ["unshare", "--mount", "--propagation", "private", "sh", "-c", " && ".join(commands) + ' && exec "$@"',
              "sh"]
    try:
        proc = subprocess.run([*prefix, "true"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as e:
        return None, f"{present} on this machine and cannot be masked: {e}"
    if proc.returncode != 0:
        return None, f"{present} on this machine and cannot be masked: {proc.stderr.strip()}"
    return prefix, ""


class Sandbox:
    """A temporary HOME and working directory, and the files placed in them."""

    def __init__(self, scratch, tools):
        self.tools = tools
        self.home = os.path.join(scratch, "home")
        self.cwd = os.path.join(scratch, "cwd")
        self.xdg = os.path.join(scratch, "xdg")
        for d in (self.home, self.cwd, self.xdg):
            os.makedirs(d, exist_ok=True)
        self.explicit = os.path.join(scratch, "explicit.conf")
        # name -> (path, environment it needs)
        self.locations = {
            "VMI_CONFIG": (self.explicit, {"VMI_CONFIG": self.explicit}),
            "./libvmi.conf": (os.path.join(self.cwd, "libvmi.conf"), {}),
            "~/etc/libvmi.conf": (os.path.join(self.home, "etc", "libvmi.conf"), {}),
            "$XDG_CONFIG_HOME/vmitools/vmi.conf": (os.path.join(self.xdg, "vmitools", "vmi.conf"),
                                                  {"XDG_CONFIG_HOME": self.xdg}),
            "~/.config/vmitools/vmi.conf": (os.path.join(self.home, ".config", "vmitools", "vmi.conf"), {}),
        }

    @staticmethod
    def image_of(location):
        return "/nonexistent/vmi-config-search/" + "".join(c if c.isalnum() else "_" for c in location) + ".raw"

    def place(self, location):
        path, _ = self.locations[location]
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(f'# {location}\ndemo {{\n    image = "{self.image_of(location)}";\n}}\n')

    def clear(self):
        for path, _ in self.locations.values():
            if os.path.exists(path):
                os.remove(path)

    def run(self, wrapper, *locations_env):
        env = {"HOME": self.home, "XDG_CONFIG_HOME": ""}
        for location in locations_env:
            env.update(self.locations[location][1])
        return self.tools.run("vmi-read", "demo", "--pa", "0", env=env, cwd=self.cwd, wrapper=wrapper)


def check_order(results, sandbox, wrapper, order):
    """All of `order` present: the first wins; remove it, the next wins; and so on."""
    sandbox.clear()
    for location in order:
        sandbox.place(location)
    for i, location in enumerate(order):
        rc, out, err = sandbox.run(wrapper, *order[i:])
        later = order[i + 1:]
        results.check(rc == 2 and f"cannot open image '{sandbox.image_of(location)}'" in err
                      and len(err.splitlines()) == 1,
                      f"{location} is read" + (f" before {', '.join(later)}" if later else ""),
                      f"rc={rc}\nstderr: {err}")
        os.remove(sandbox.locations[location][0])


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--bin", required=True, help="build/tools directory")
    args = parser.parse_args()
    results = Results()
    tools = Tools(args.bin)
    mask, why = system_config_mask()
    with tempfile.TemporaryDirectory() as scratch:
        sandbox = Sandbox(scratch, tools)
        # Searched before /etc/libvmi.conf: these run whatever /etc holds.
        check_order(results, sandbox, [], ["VMI_CONFIG", "./libvmi.conf", "~/etc/libvmi.conf"])

        after_etc = "the XDG locations, searched after /etc/libvmi.conf"
        nothing = "no config file anywhere: exit 2, one line naming the VM and every place searched"
        if mask is None:
            results.skip(after_etc, why)
            results.skip(nothing, why)
        else:
            if mask:
                print(f"# masking the system's config files for the next checks: {' '.join(mask[:6])} ...")
            check_order(results, sandbox, mask, ["~/etc/libvmi.conf", "$XDG_CONFIG_HOME/vmitools/vmi.conf"])
            check_order(results, sandbox, mask, ["~/.config/vmitools/vmi.conf"])
            sandbox.clear()
            rc, out, err = sandbox.run(mask)
            lines = err.splitlines()
            searched = ["./libvmi.conf", f"{sandbox.home}/etc/libvmi.conf", "/etc/libvmi.conf",
                        f"{sandbox.home}/.config/vmitools/vmi.conf", "/etc/vmitools/vmi.conf"]
            results.check(rc == 2 and out == "" and len(lines) == 1 and lines[0].startswith("vmi-read: ")
                          and "no config file found for VM 'demo'" in lines[0]
                          and all(path in lines[0] for path in searched),
                          nothing, f"rc={rc}\nstdout: {out!r}\nstderr: {err!r}")
        shutil.rmtree(sandbox.home, ignore_errors=True)
    return results.finish()


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""clang-tidy with the project's .clang-tidy over every source file of lib/ and tools/,
using a build's compile_commands.json. Fails on any finding, printing them.

A file that came out clean is remembered: its key is a hash of clang-tidy's version, the
.clang-tidy file, the file's compile command and the file preprocessed with that command
(by clang, comments kept, so a NOLINT counts; the checkout's and the build's paths replaced, so a
clone elsewhere has the same keys). A later run runs clang-tidy only on the files whose
key it has not seen clean: what clang-tidy reads is exactly what the key hashes, so the
answer cannot differ. Findings are never remembered. The keys live in
${XDG_CACHE_HOME:-~/.cache}/vmitools/tidy (one empty file each; a key unused for 30 days
is dropped); --no-cache runs clang-tidy on every file. clang-tidy runs niced, --jobs at a
time (default: one per core), beside the tests that boot guests.

Usage: tests/style/check_tidy.py BUILD_DIR [--clang-tidy BINARY] [--no-cache] [--jobs N]
"""
import argparse
import concurrent.futures
import hashlib
import json
import os
import shlex
import shutil
import subprocess
import sys
import time

ROOT = os.path.realpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
KEEP_DAYS = 30


def fail(message):
    print(f"check-tidy: {message}", file=sys.stderr)
    sys.exit(2)


def cache_dir():
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "vmitools", "tidy")


def preprocess_command(entry):
    """The entry's compile command turned into "preprocess to stdout, comments kept"."""
    args = entry["arguments"] if "arguments" in entry else shlex.split(entry["command"])
    out, skip = [], False
    for arg in args:
        if skip:
            skip = False
            continue
        if arg in ("-o", "-c"):
            skip = arg == "-o"
            continue
        out.append(arg)
    # clang's preprocessor, as clang-tidy's own: g++'s would drop what only clang reads.
    if shutil.which("clang++"):
        out[0] = "clang++"
    return out + ["-E", "-C", "-P", "-Wno-unknown-warning-option"]


class Keys:
    def __init__(self, build, tidy_binary):
        version = subprocess.run([tidy_binary, "--version"], capture_output=True, text=True, check=True).stdout
        with open(os.path.join(ROOT, ".clang-tidy"), "rb") as config:
            self.common = hashlib.sha256(version.encode() + b"\0" + config.read()).digest()
        self.paths = sorted({ROOT, os.path.realpath(build)}, key=len, reverse=True)

    def neutral(self, text):
        for path, name in zip(self.paths, ("@A@", "@B@")):
            text = text.replace(path, name)
        return text

    def key(self, entry):
        """The file's key, or None when it cannot be preprocessed (then clang-tidy runs)."""
        command = preprocess_command(entry)
        done = subprocess.run(command, cwd=entry["directory"], capture_output=True)
        if done.returncode != 0:
            return None
        digest = hashlib.sha256(self.common)
        digest.update(self.neutral(shlex.join(command)).encode())
        digest.update(b"\0")
        digest.update(self.neutral(done.stdout.decode("utf-8", "replace")).encode())
        return digest.hexdigest()


def run_tidy(tidy_binary, build, files):
    """clang-tidy on FILES; its findings (stdout) as text."""
    done = subprocess.run(["nice", "-n", "10", tidy_binary, "-p", build, "--quiet", *files], capture_output=True,
                          text=True)
    return done.stdout


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("build", help="a CMake build directory with compile_commands.json")
    parser.add_argument("--clang-tidy", default="clang-tidy", help="the clang-tidy binary")
    parser.add_argument("--no-cache", action="store_true", help="run clang-tidy on every file")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="clang-tidy processes at once")
    args = parser.parse_args()

    if shutil.which(args.clang_tidy) is None:
        fail(f"{args.clang_tidy} not found (apt-get install clang-tidy)")
    database = os.path.join(args.build, "compile_commands.json")
    if not os.path.isfile(database):
        fail(f"no {database} (configure with CMake first)")
    listed = subprocess.run(["git", "ls-files", "lib/*.cpp", "tools/*.cpp"], cwd=ROOT, capture_output=True,
                            text=True)
    files = [os.path.join(ROOT, f) for f in listed.stdout.split()]
    if listed.returncode != 0 or not files:
        fail("no source files found (not a git checkout?)")
    with open(database) as f:
        entries = {os.path.realpath(e["file"]): e for e in json.load(f)}
    missing = [f for f in files if os.path.realpath(f) not in entries]
    if missing:
        fail(f"{os.path.relpath(missing[0], ROOT)} is not in {database} (configure again)")

    started = time.monotonic()
    cache = None if args.no_cache else cache_dir()
    keys = {}
    if cache:
        os.makedirs(cache, exist_ok=True)
        hasher = Keys(args.build, args.clang_tidy)
        with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
            keys = dict(zip(files, pool.map(lambda f: hasher.key(entries[os.path.realpath(f)]), files)))
    clean_before = [f for f in files if keys.get(f) and os.path.exists(os.path.join(cache, keys[f]))]
    to_check = [f for f in files if f not in clean_before]

    findings = {}
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        for f, out in zip(to_check, pool.map(lambda f: run_tidy(args.clang_tidy, args.build, [f]), to_check)):
            found = sum(1 for line in out.splitlines() if "warning:" in line or "error:" in line)
            if found:
                findings[f] = (out, found)
            elif cache and keys.get(f):
                open(os.path.join(cache, keys[f]), "w").close()
    if cache:
        now = time.time()
        for f in clean_before:
            os.utime(os.path.join(cache, keys[f]))
        for name in os.listdir(cache):
            path = os.path.join(cache, name)
            if now - os.path.getmtime(path) > KEEP_DAYS * 86400:
                os.unlink(path)

    seconds = time.monotonic() - started
    if findings:
        for out, _ in findings.values():
            print(out, file=sys.stderr)
        count = sum(found for _, found in findings.values())
        print(f"check-tidy: {count} findings in {len(findings)} of {len(files)} files", file=sys.stderr)
        return 1
    print(f"check-tidy: {len(files)} files, no findings ({len(to_check)} checked by clang-tidy, "
          f"{len(clean_before)} known clean as they are; {seconds:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

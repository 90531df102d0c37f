#!/usr/bin/env python3
"""The man pages of vmi-ps and vmi-lsmod against the tools' own table of views.

Each cross-view check's columns come from the library's table of views (vmi/linux/CrossView.hpp)
and the tool prints them in --check's help ("columns: pid, tid, ..."). The man page lists
them by hand; this test reads both and fails when they differ: the columns of --check in
the man page's \\-\\-check paragraph, in the same order, and a description of every view:
for vmi-ps an entry of its own in CROSS-VIEW CHECK, for vmi-lsmod a mention in the
\\-\\-check paragraph before its column list. A view added to a table without its man page
fails here.
"""
import argparse
import os
import re
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from testlib import Results, Tools  # noqa: E402

MAN = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "man")


def help_columns(help_text):
    """--check's columns, from its help line (CLI11 wraps nothing: one line per option)."""
    for line in help_text.splitlines():
        if line.strip().startswith("--check "):
            found = re.search(r"\(columns: ([^)]*)\)", line)
            return [c.strip() for c in found.group(1).split(",")] if found else None
    return None


def check_paragraph(man_text):
    """The man page's .B \\-\\-check paragraph (to the next .TP)."""
    found = re.search(r"^\.B \\-\\-check\n(.*?)^\.TP", man_text, re.S | re.M)
    return found.group(1) if found else ""


def man_columns(paragraph):
    """The bold words after "Columns for \\fB\\-o\\fR:" up to "Default"."""
    start = paragraph.find("Columns for \\fB\\-o\\fR:")
    if start < 0:
        return None
    listed = paragraph[start:].split("Default", 1)[0].split(":", 1)[1]
    return re.findall(r"\\fB(\w+)\\fR", listed)


def view_ids(columns, first_view_after="hidden", last_view_before="seen_by"):
    """The views' columns: those between the task's or module's own and seen_by."""
    return columns[columns.index(first_view_after) + 1:columns.index(last_view_before)]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bin", required=True, help="the build's tools directory")
    args = parser.parse_args()
    tools = Tools(args.bin)
    results = Results()
    for tool in ("vmi-ps", "vmi-lsmod"):
        rc, out, err = tools.run(tool, "--help")
        columns = help_columns(out)
        if not results.check(rc == 0 and columns, f"{tool} --help lists --check's columns", err or out):
            continue
        with open(os.path.join(MAN, f"{tool}.1")) as f:
            man = f.read()
        paragraph = check_paragraph(man)
        listed = man_columns(paragraph)
        results.check(listed == columns, f"{tool}.1: --check's columns are the tool's, in its order",
                      f"man page: {listed}\ntool:     {columns}")
        views = view_ids(columns)
        if tool == "vmi-ps":
            section = man.split(".SH CROSS-VIEW CHECK", 1)[-1].split("\n.SH ", 1)[0]
            missing = [v for v in views if not re.search(rf"^\.B {v}$", section, re.M)]
            results.check(not missing, f"{tool}.1: CROSS-VIEW CHECK describes every view ({', '.join(views)})",
                          f"no entry for {missing}")
        else:
            described = paragraph.split("Columns for", 1)[0]
            missing = [v for v in views if f"\\fB{v}\\fR" not in described]
            results.check(not missing, f"{tool}.1: --check describes every view ({', '.join(views)})",
                          f"not described: {missing}")
    return results.finish()


if __name__ == "__main__":
    sys.exit(main())

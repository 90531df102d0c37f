#!/usr/bin/env python3
"""Compute LibVMI-style structure offsets from `pahole -C ...` output.

Usage: pahole_offsets.py STRUCTS.TXT [--comment TEXT]...

STRUCTS.TXT is the concatenated pahole output for the structs named in FIELDS below
(missing structs are tolerated; keys that cannot be resolved are left out and named on
stderr). Prints `key = 0x...;` lines, preceded by the --comment lines as `# ...`.

Offsets of nested members are absolute within the outermost struct: for
`module.core_layout.size` the offset of `core_layout` inside `struct module` is added to
the offset of `size` inside `struct module_layout`, whose definition must also be in
STRUCTS.TXT. Members of anonymous unions/structs are reachable by their own name, as in C;
pahole already prints their offsets relative to the outer struct.
"""

import re
import sys

# key -> candidate member paths (first that resolves wins). Keys named linux_* without a
# LibVMI counterpart are vmitools' own.
FIELDS = [
    ("linux_tasks", ["task_struct.tasks"]),
    ("linux_mm", ["task_struct.mm"]),
    ("linux_pid", ["task_struct.pid"]),
    ("linux_name", ["task_struct.comm"]),
    ("linux_pgd", ["mm_struct.pgd"]),
    ("linux_tgid", ["task_struct.tgid"]),
    ("linux_parent", ["task_struct.real_parent"]),
    ("linux_cred", ["task_struct.cred"]),
    # Effective ids, as ps shows them (cred.uid/gid are the real ids, which differ only
    # for set-id programs). The key names stay for compatibility with existing configs.
    ("linux_cred_uid", ["cred.euid"]),
    ("linux_cred_gid", ["cred.egid"]),
    ("linux_state", ["task_struct.__state", "task_struct.state"]),
    ("linux_exit_state", ["task_struct.exit_state"]),  # EXIT_ZOMBIE/EXIT_DEAD; __state says nothing then
    ("linux_flags", ["task_struct.flags"]),
    ("linux_thread_group", ["task_struct.thread_group"]),
    ("linux_mm_arg_start", ["mm_struct.arg_start"]),
    ("linux_mm_arg_end", ["mm_struct.arg_end"]),
    ("linux_module_list", ["module.list"]),
    ("linux_module_name", ["module.name"]),
    ("linux_module_state", ["module.state"]),
    ("linux_module_refcnt", ["module.refcnt"]),
    # Linux >= 6.4 replaced core_layout/init_layout by mem[MOD_*]; 6.1 still has them.
    ("linux_module_core_base", ["module.core_layout.base"]),
    ("linux_module_core_size", ["module.core_layout.size"]),
    ("linux_module_init_size", ["module.init_layout.size"]),
    # Module dependencies (lsmod's "Used by"): module.source_list heads a list of
    # module_use linked through module_use.source_list, each naming the user in .source.
    ("linux_module_source_list", ["module.source_list"]),
    ("linux_module_use_source_list", ["module_use.source_list"]),
    ("linux_module_use_source", ["module_use.source"]),
    # The names procfs shows for kernel threads: kthread.full_name (5.17+), and a
    # workqueue worker's description. task_struct.worker_private (6.0+) or, before,
    # set_child_tid points at the struct kthread.
    ("linux_kthread", ["task_struct.worker_private", "task_struct.set_child_tid"]),
    ("linux_kthread_full_name", ["kthread.full_name"]),
    ("linux_kthread_data", ["kthread.data"]),
    ("linux_worker_pool", ["worker.pool"]),
    ("linux_worker_current_work", ["worker.current_work"]),
    ("linux_worker_desc", ["worker.desc"]),
]
# The cross-view check's fields (vmi-ps --check, vmi-lsmod --check): each view is optional,
# so a key that does not resolve is left out without failing.
OPTIONAL_FIELDS = [
    ("linux_signal", ["task_struct.signal"]),
    ("linux_signal_thread_head", ["signal_struct.thread_head"]),
    ("linux_thread_node", ["task_struct.thread_node"]),
    ("linux_thread_pid", ["task_struct.thread_pid"]),
    ("linux_pid_links", ["task_struct.pid_links"]),
    ("linux_pid_tasks", ["pid.tasks"]),
    ("linux_pid_numbers", ["pid.numbers"]),
    ("linux_upid_nr", ["upid.nr"]),
    ("linux_pid_ns_idr_head", ["pid_namespace.idr.idr_rt.xa_head"]),
    ("linux_xa_node_shift", ["xa_node.shift"]),
    ("linux_xa_node_slots", ["xa_node.slots"]),
    ("linux_task_stack", ["task_struct.stack"]),
    ("linux_children", ["task_struct.children"]),
    ("linux_sibling", ["task_struct.sibling"]),
    ("linux_rq_curr", ["rq.curr"]),
    ("linux_rq_idle", ["rq.idle"]),
    ("linux_rq_cpu", ["rq.cpu"]),
    ("linux_rq_cfs_timeline", ["rq.cfs.tasks_timeline"]),
    ("linux_cfs_rq_timeline", ["cfs_rq.tasks_timeline"]),
    ("linux_task_se", ["task_struct.se"]),
    ("linux_se_run_node", ["sched_entity.run_node"]),
    ("linux_se_my_q", ["sched_entity.my_q"]),
    ("linux_rq_rt_queue", ["rq.rt.active.queue"]),
    ("linux_rt_rq_queue", ["rt_rq.active.queue"]),
    ("linux_task_rt", ["task_struct.rt"]),
    ("linux_rt_se_run_list", ["sched_rt_entity.run_list"]),
    ("linux_kset_list", ["kset.list"]),
    ("linux_module_mkobj", ["module.mkobj"]),
    ("linux_module_kobject_entry", ["module_kobject.kobj.entry"]),
    ("linux_module_kobject_mod", ["module_kobject.mod"]),
    ("linux_mod_tree_trees", ["mod_tree_root.root.tree"]),
    ("linux_mod_tree_node_node", ["mod_tree_node.node"]),
    ("linux_mod_tree_node_mod", ["mod_tree_node.mod"]),
]
CONSTANTS = [("linux_name_len", 16), ("linux_worker_desc_len", 24)]  # TASK_COMM_LEN, WORKER_DESC_LEN

STRUCT_START = re.compile(r"^(struct|union)\s+(\w+)\s*\{\s*$")
# A member line: declaration; /* offset[:bit] size */
MEMBER = re.compile(r"^\s*(?P<decl>[^/{}]*?)\s*;\s*/\*\s*(?P<off>\d+)(?::\s*\d+)?\s+(?P<size>-?\d+)\s*\*/")
# Closing line of an inline union/struct: } [attrs] [name]; /* offset size */
CLOSE = re.compile(r"^\s*\}(?P<rest>[^;]*);\s*(/\*\s*(?P<off>\d+)\s+(?P<size>\d+)\s*\*/)?")
ATTR = re.compile(r"__attribute__\s*\(\((?:[^()]|\([^()]*\))*\)\)\s*")


def split_decl(decl):
    """Return (type, name) of a C member declaration as pahole prints it."""
    decl = ATTR.sub("", decl).strip()
    decl = re.sub(r":\s*\d+$", "", decl)  # bitfield width
    fp = re.search(r"\(\s*\*\s*(\w+)\s*\)", decl)  # function pointer: ret (*name)(args)
    if fp:
        return "fnptr", fp.group(1)
    m = re.match(r"^(?P<type>.*?)(?P<name>\w+)\s*(\[[^\]]*\]\s*)*$", decl)
    if not m:
        return None, None
    return m.group("type").strip(), m.group("name")


def parse(text):
    """-> {struct name: {member name: (offset, type string)}}"""
    structs = {}
    current = None
    depth = 0
    for line in text.splitlines():
        if current is None:
            m = STRUCT_START.match(line)
            if m:
                current = structs.setdefault(m.group(2), {})
                depth = 1
            continue
        stripped = line.strip()
        if stripped.endswith("{"):
            depth += 1
            continue
        if stripped.startswith("}"):
            depth -= 1
            if depth == 0:
                current = None
            else:
                # A named inline aggregate (`struct { ... } x;`): record x itself.
                m = CLOSE.match(line)
                name = ATTR.sub("", m.group("rest")).strip() if m else ""
                if m and m.group("off") and re.fullmatch(r"\w+", name or ""):
                    current.setdefault(name, (int(m.group("off")), "inline"))
            continue
        m = MEMBER.match(line)
        if m:
            mtype, name = split_decl(m.group("decl"))
            if name:
                # First definition wins (anonymous-union aliases share the offset anyway).
                current.setdefault(name, (int(m.group("off")), mtype))
    return structs


def resolve(structs, path):
    """Absolute offset of 'struct.member[.member...]', or None."""
    parts = path.split(".")
    struct, offset = parts[0], 0
    for i, member in enumerate(parts[1:]):
        fields = structs.get(struct)
        if fields is None or member not in fields:
            return None
        off, mtype = fields[member]
        offset += off
        if i < len(parts) - 2:  # descend into the member's struct type
            m = re.fullmatch(r"(?:const\s+)?(?:struct|union)\s+(\w+)", mtype or "")
            if not m:
                return None
            struct = m.group(1)
    return offset


def main(argv):
    args = argv[1:]
    comments = []
    while "--comment" in args:
        i = args.index("--comment")
        comments.append(args[i + 1])
        del args[i:i + 2]
    if len(args) != 1:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    with open(args[0], encoding="utf-8", errors="replace") as f:
        structs = parse(f.read())
    out = ["# " + c for c in comments]
    missing = []
    for key, paths in FIELDS:
        for path in paths:
            off = resolve(structs, path)
            if off is not None:
                out.append("%s = %#x;" % (key, off))
                break
        else:
            missing.append(key)
    for key, paths in OPTIONAL_FIELDS:
        for path in paths:
            off = resolve(structs, path)
            if off is not None:
                out.append("%s = %#x;" % (key, off))
                break
    for key, value in CONSTANTS:
        out.append("%s = %d;" % (key, value))
    print("\n".join(out))
    if missing:
        print("pahole_offsets.py: could not resolve: %s" % " ".join(missing), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

#include "vmi/linux/LinuxLayout.hpp"

#include <fmt/ranges.h>

#include "layout/LinuxLayoutBtf.hpp"
#include "vmi/base/Error.hpp"
#include "vmi/base/Fnv1a.hpp"
#include "vmi/config/ConfigFile.hpp"

namespace vmi {

const std::vector<LayoutFieldSpec>& linux_layout_fields()
{
    static const std::vector<LayoutFieldSpec> fields{
        // LibVMI's keys.
        {"linux_tasks", "task_struct", {"tasks"}, "offset", true},
        {"linux_mm", "task_struct", {"mm"}, "offset", true},
        {"linux_pid", "task_struct", {"pid"}, "offset", true},
        {"linux_name", "task_struct", {"comm"}, "offset", true},
        {"linux_pgd", "mm_struct", {"pgd"}, "offset", true},
        // Ours.
        {"linux_tgid", "task_struct", {"tgid"}, "offset"},
        {"linux_parent", "task_struct", {"real_parent"}, "offset"},
        {"linux_cred", "task_struct", {"cred"}, "offset"},
        {"linux_cred_uid", "cred", {"euid"}, "offset"},
        {"linux_cred_gid", "cred", {"egid"}, "offset"},
        {"linux_state", "task_struct", {"__state", "state"}, "offset"},
        {"linux_exit_state", "task_struct", {"exit_state"}, "offset"},
        {"linux_flags", "task_struct", {"flags"}, "offset"},
        {"linux_thread_group", "task_struct", {"thread_group"}, "offset"},
        {"linux_signal", "task_struct", {"signal"}, "offset"},
        {"linux_signal_thread_head", "signal_struct", {"thread_head"}, "offset"},
        {"linux_thread_node", "task_struct", {"thread_node"}, "offset"},
        {"linux_mm_arg_start", "mm_struct", {"arg_start"}, "offset"},
        {"linux_mm_arg_end", "mm_struct", {"arg_end"}, "offset"},
        {"linux_name_len", "task_struct", {"comm"}, "length"},
        // The names procfs shows for kernel threads (fs/proc/array.c,
        // proc_task_name): a kthread's full name, a workqueue worker's
        // "-description". Optional: without them the name is comm.
        {"linux_kthread", "task_struct", {"worker_private", "set_child_tid"}, "offset"},
        {"linux_kthread_full_name", "kthread", {"full_name"}, "offset"},
        {"linux_kthread_data", "kthread", {"data"}, "offset"},
        {"linux_kthread_threadfn", "kthread", {"threadfn"}, "offset"},
        {"linux_worker_pool", "worker", {"pool"}, "offset"},
        {"linux_worker_current_work", "worker", {"current_work"}, "offset"},
        {"linux_worker_desc", "worker", {"desc"}, "offset"},
        {"linux_worker_desc_len", "worker", {"desc"}, "length"},
        // A workqueue rescuer (6.8 and later: comm "kworker/R-" and the first
        // letters of its workqueue's name) shows the whole name.
        {"linux_worker_rescue_wq", "worker", {"rescue_wq"}, "offset"},
        {"linux_workqueue_name", "workqueue_struct", {"name"}, "offset"},
        {"linux_workqueue_name_len", "workqueue_struct", {"name"}, "length"},
        {"linux_module_list", "module", {"list"}, "offset"},
        {"linux_module_name", "module", {"name"}, "offset"},
        {"linux_module_name_len", "module", {"name"}, "length"},
        {"linux_module_state", "module", {"state"}, "offset"},
        {"linux_module_refcnt", "module", {"refcnt"}, "offset"},
        // MOD_TEXT is mem[0] since 6.4; before, the core layout.
        {"linux_module_core_base", "module", {"mem[0].base", "core_layout.base"}, "offset"},
        {"linux_module_core_size", "module", {"core_layout.size"}, "offset"},
        {"linux_module_init_size", "module", {"init_layout.size"}, "offset"},
        {"linux_module_source_list", "module", {"source_list"}, "offset"},
        {"linux_module_use_source_list", "module_use", {"source_list"}, "offset"},
        {"linux_module_use_source", "module_use", {"source"}, "offset"},
        // The cross-view check (vmi-ps --check, vmi-lsmod --check). Each view
        // is optional: a kernel or config without its fields has that view
        // reported as unavailable.
        // The PID table: init_pid_ns.idr, an xarray of struct pid; pid.tasks[PIDTYPE_PID]
        // leads to the task through task_struct.pid_links[PIDTYPE_PID].
        {"linux_thread_pid", "task_struct", {"thread_pid"}, "offset"},
        {"linux_pid_links", "task_struct", {"pid_links"}, "offset"},
        {"linux_pid_tasks", "pid", {"tasks"}, "offset"},
        {"linux_pid_numbers", "pid", {"numbers"}, "offset"},
        {"linux_upid_nr", "upid", {"nr"}, "offset"},
        {"linux_pid_ns_idr_head", "pid_namespace", {"idr.idr_rt.xa_head"}, "offset"},
        {"linux_xa_node_shift", "xa_node", {"shift"}, "offset"},
        {"linux_xa_node_slots", "xa_node", {"slots"}, "offset"},
        {"linux_xa_node_slots_len", "xa_node", {"slots"}, "length"},
        // The memory scan's plausibility check: a task's kernel stack.
        {"linux_task_stack", "task_struct", {"stack"}, "offset"},
        // Parents and children.
        {"linux_children", "task_struct", {"children"}, "offset"},
        {"linux_sibling", "task_struct", {"sibling"}, "offset"},
        // The runqueues: rq.curr, rq.idle and the CFS tree of sched_entity.run_node.
        {"linux_rq_curr", "rq", {"curr"}, "offset"},
        {"linux_rq_idle", "rq", {"idle"}, "offset"},
        {"linux_rq_cpu", "rq", {"cpu"}, "offset"},
        {"linux_rq_cfs_timeline", "rq", {"cfs.tasks_timeline"}, "offset"},
        {"linux_cfs_rq_timeline", "cfs_rq", {"tasks_timeline"}, "offset"},
        {"linux_task_se", "task_struct", {"se"}, "offset"},
        {"linux_se_run_node", "sched_entity", {"run_node"}, "offset"},
        {"linux_se_my_q", "sched_entity", {"my_q"}, "offset"},
        {"linux_rq_rt_queue", "rq", {"rt.active.queue"}, "offset"},
        {"linux_rt_queue_len", "rt_prio_array", {"queue"}, "length"},
        {"linux_rt_rq_queue", "rt_rq", {"active.queue"}, "offset"},
        {"linux_task_rt", "task_struct", {"rt"}, "offset"},
        {"linux_rt_se_run_list", "sched_rt_entity", {"run_list"}, "offset"},
        {"linux_rt_se_my_q", "sched_rt_entity", {"my_q"}, "offset"},
        // Modules in sysfs (module_kset->list of module_kobject.kobj.entry) and
        // in the module tree (mod_tree: a latch tree of mod_tree_node).
        {"linux_kset_list", "kset", {"list"}, "offset"},
        {"linux_module_mkobj", "module", {"mkobj"}, "offset"},
        {"linux_module_kobject_entry", "module_kobject", {"kobj.entry"}, "offset"},
        {"linux_module_kobject_mod", "module_kobject", {"mod"}, "offset"},
        {"linux_mod_tree_trees", "mod_tree_root", {"root.tree"}, "offset"},
        {"linux_mod_tree_node_node", "mod_tree_node", {"node"}, "offset"},
        {"linux_mod_tree_node_mod", "mod_tree_node", {"mod"}, "offset"},
        // A module's own symbols (module.kallsyms: its symtab and strtab), to
        // name the code a hook reaches in it.
        {"linux_module_kallsyms", "module", {"kallsyms"}, "offset"},
        {"linux_mod_kallsyms_symtab", "mod_kallsyms", {"symtab"}, "offset"},
        {"linux_mod_kallsyms_num_symtab", "mod_kallsyms", {"num_symtab"}, "offset"},
        {"linux_mod_kallsyms_strtab", "mod_kallsyms", {"strtab"}, "offset"},
        // ftrace's registered callbacks (ftrace_ops_list, vmi-hooks): each
        // ftrace_ops, its flags and the functions its filter hash attaches it to.
        {"linux_ftrace_ops_func", "ftrace_ops", {"func"}, "offset"},
        {"linux_ftrace_ops_next", "ftrace_ops", {"next"}, "offset"},
        {"linux_ftrace_ops_flags", "ftrace_ops", {"flags"}, "offset"},
        {"linux_ftrace_ops_func_hash", "ftrace_ops", {"func_hash"}, "offset"},
        {"linux_ftrace_ops_hash_filter", "ftrace_ops_hash", {"filter_hash"}, "offset"},
        {"linux_ftrace_hash_size_bits", "ftrace_hash", {"size_bits"}, "offset"},
        {"linux_ftrace_hash_buckets", "ftrace_hash", {"buckets"}, "offset"},
        {"linux_ftrace_hash_count", "ftrace_hash", {"count"}, "offset"},
        {"linux_ftrace_entry_ip", "ftrace_func_entry", {"ip"}, "offset"},
        {"linux_ftrace_fl_enabled", "enum", {"FTRACE_OPS_FL_ENABLED"}, "enum"},
        {"linux_ftrace_fl_save_regs", "enum", {"FTRACE_OPS_FL_SAVE_REGS"}, "enum"},
        {"linux_ftrace_fl_ipmodify", "enum", {"FTRACE_OPS_FL_IPMODIFY"}, "enum"},
        {"linux_ftrace_fl_direct", "enum", {"FTRACE_OPS_FL_DIRECT"}, "enum"},
        // kprobes (kprobe_table; an aggregate's probes on its list; a
        // kretprobe's handlers around its kprobe) and tracepoints' probes.
        {"linux_kprobe_addr", "kprobe", {"addr"}, "offset"},
        {"linux_kprobe_list", "kprobe", {"list"}, "offset"},
        {"linux_kprobe_pre_handler", "kprobe", {"pre_handler"}, "offset"},
        {"linux_kprobe_post_handler", "kprobe", {"post_handler"}, "offset"},
        {"linux_kretprobe_kp", "kretprobe", {"kp"}, "offset"},
        {"linux_kretprobe_handler", "kretprobe", {"handler"}, "offset"},
        {"linux_kretprobe_entry_handler", "kretprobe", {"entry_handler"}, "offset"},
        {"linux_tracepoint_name", "tracepoint", {"name"}, "offset"},
        {"linux_tracepoint_funcs", "tracepoint", {"funcs"}, "offset"},
        {"linux_tracepoint_func_size", "tracepoint_func", {}, "size"},
    };
    return fields;
}

namespace {

// The set of fields a layout is resolved for (FNV-1a of their keys): a cached
// layout of another set is not taken.
std::uint64_t fields_fingerprint()
{
    static const std::uint64_t fingerprint = [] {
        Fnv1a hash;
        for (const LayoutFieldSpec& spec : linux_layout_fields()) {
            hash.add(spec.key);
            hash.add('\n');
        }
        return hash.value();
    }();
    return fingerprint;
}

const LayoutFieldSpec* spec_of(std::string_view key)
{
    for (const LayoutFieldSpec& spec : linux_layout_fields())
        if (spec.key == key) return &spec;
    return nullptr;
}

} // namespace

LinuxLayout LinuxLayout::resolve(const ConfigEntry* entry, const KernelBtf* btf, const ConfigEntry* profile,
                                 const std::string& profile_name)
{
    LinuxLayout layout;
    layout.have_btf_ = btf != nullptr;
    for (const LayoutFieldSpec& spec : linux_layout_fields()) {
        if (entry) {
            if (auto value = entry->number(spec.key)) {
                layout.values_.insert_or_assign(std::string(spec.key), Value{*value, "config"});
                continue;
            }
        }
        if (profile) {
            if (auto value = profile->number(spec.key)) {
                layout.values_.insert_or_assign(std::string(spec.key), Value{*value, profile_name});
                continue;
            }
        }
        if (btf) {
            if (auto found = btf_layout_value(*btf, spec))
                layout.values_.insert_or_assign(std::string(spec.key), Value{found->value, found->source});
        }
    }
    // TASK_COMM_LEN has been 16 forever; other lengths depend on the word size.
    if (!layout.values_.contains("linux_name_len")) layout.values_.emplace("linux_name_len", Value{16, "default"});

    auto sets_sizes = [](const ConfigEntry* e) {
        return e && (e->number("linux_module_core_size") || e->number("linux_module_init_size"));
    };
    bool sizes_from_config = sets_sizes(entry) || sets_sizes(profile);
    if (!sizes_from_config && btf) {
        if (auto mem_sizes = btf_module_mem_sizes(*btf)) layout.module_size_offsets_ = *mem_sizes;
    }
    if (layout.module_size_offsets_.empty()) {
        for (const char* key : {"linux_module_core_size", "linux_module_init_size"})
            if (auto value = layout.find(key)) layout.module_size_offsets_.push_back(*value);
    }
    return layout;
}

std::optional<std::uint64_t> LinuxLayout::find(std::string_view key) const
{
    auto it = values_.find(key);
    if (it == values_.end()) return std::nullopt;
    return it->second.value;
}

std::uint64_t LinuxLayout::get(std::string_view key) const
{
    if (auto value = find(key)) return *value;
    const LayoutFieldSpec* spec = spec_of(key);
    std::string field = !spec                     ? std::string("?")
                        : spec->btf_paths.empty() ? fmt::format("sizeof(struct {})", spec->btf_struct)
                                                  : fmt::format("{}.{}", spec->btf_struct, spec->btf_paths.front());
    if (have_btf_)
        fail("the kernel's BTF has no {} and the config sets no '{}': cannot read this kernel's {}", field, key,
             spec ? spec->btf_struct : "structures");
    fail("missing structure offset '{}' ({}): set it in the config entry or give --btf (a vmlinux, vmlinuz or "
         "/sys/kernel/btf/vmlinux copy)",
         key, field);
}

TaskOffsets LinuxLayout::task_offsets() const
{
    TaskOffsets t;
    t.tasks = get("linux_tasks");
    t.pid = get("linux_pid");
    t.comm = get("linux_name");
    t.comm_length = find("linux_name_len").value_or(16);
    t.tgid = find("linux_tgid");
    t.real_parent = find("linux_parent");
    t.cred = find("linux_cred");
    t.cred_uid = find("linux_cred_uid");
    t.cred_gid = find("linux_cred_gid");
    t.state = find("linux_state");
    t.exit_state = find("linux_exit_state");
    t.flags = find("linux_flags");
    t.mm = find("linux_mm");
    t.mm_pgd = find("linux_pgd");
    t.mm_arg_start = find("linux_mm_arg_start");
    t.mm_arg_end = find("linux_mm_arg_end");
    t.thread_group = find("linux_thread_group");
    t.signal = find("linux_signal");
    t.signal_thread_head = find("linux_signal_thread_head");
    t.thread_node = find("linux_thread_node");
    t.kthread = find("linux_kthread");
    t.kthread_full_name = find("linux_kthread_full_name");
    t.kthread_data = find("linux_kthread_data");
    t.kthread_threadfn = find("linux_kthread_threadfn");
    t.worker_pool = find("linux_worker_pool");
    t.worker_current_work = find("linux_worker_current_work");
    t.worker_desc = find("linux_worker_desc");
    t.worker_desc_length = find("linux_worker_desc_len");
    t.worker_rescue_wq = find("linux_worker_rescue_wq");
    t.workqueue_name = find("linux_workqueue_name");
    t.workqueue_name_length = find("linux_workqueue_name_len");
    return t;
}

ModuleOffsets LinuxLayout::module_offsets() const
{
    ModuleOffsets m;
    m.list = get("linux_module_list");
    m.name = get("linux_module_name");
    m.name_length = find("linux_module_name_len");
    m.state = find("linux_module_state");
    m.refcnt = find("linux_module_refcnt");
    m.core_base = find("linux_module_core_base");
    m.source_list = find("linux_module_source_list");
    m.use_source_list = find("linux_module_use_source_list");
    m.use_source = find("linux_module_use_source");
    m.size_fields = module_size_offsets_;
    m.kallsyms = find("linux_module_kallsyms");
    m.kallsyms_symtab = find("linux_mod_kallsyms_symtab");
    m.kallsyms_num_symtab = find("linux_mod_kallsyms_num_symtab");
    m.kallsyms_strtab = find("linux_mod_kallsyms_strtab");
    m.code_size = find("linux_module_core_size");
    // Without core_layout the sizes are module.mem[]'s, MOD_TEXT first.
    if (!m.code_size && !find("linux_module_init_size") && !module_size_offsets_.empty())
        m.code_size = module_size_offsets_.front();
    return m;
}

KprobeOffsets LinuxLayout::kprobe_offsets() const
{
    KprobeOffsets k;
    k.addr = get("linux_kprobe_addr");
    k.list = get("linux_kprobe_list");
    k.pre_handler = get("linux_kprobe_pre_handler");
    k.post_handler = get("linux_kprobe_post_handler");
    k.kretprobe_kp = find("linux_kretprobe_kp");
    k.kretprobe_handler = find("linux_kretprobe_handler");
    k.kretprobe_entry_handler = find("linux_kretprobe_entry_handler");
    return k;
}

std::string missing_keys_text(const std::vector<std::string_view>& missing)
{
    return fmt::format("the layout has no {}", fmt::join(missing, ", "));
}

LayoutPart<PidTableOffsets> LinuxLayout::pid_table_offsets() const
{
    LayoutPart<PidTableOffsets> part{std::nullopt, missing({"linux_pid_tasks", "linux_pid_numbers", "linux_pid_links",
                                                            "linux_pid_ns_idr_head", "linux_pid"})};
    if (part.missing.empty())
        part.offsets = PidTableOffsets{get("linux_pid_ns_idr_head"),
                                       get("linux_pid_tasks"),
                                       get("linux_pid_numbers"),
                                       get("linux_pid_links"),
                                       get("linux_pid"),
                                       find("linux_upid_nr"),
                                       find("linux_xa_node_shift"),
                                       find("linux_xa_node_slots"),
                                       find("linux_xa_node_slots_len")};
    return part;
}

LayoutPart<RunqueueOffsets> LinuxLayout::runqueue_offsets() const
{
    LayoutPart<RunqueueOffsets> part{std::nullopt, missing({"linux_rq_curr", "linux_rq_idle", "linux_rq_cfs_timeline",
                                                            "linux_se_run_node", "linux_task_se"})};
    if (part.missing.empty())
        part.offsets =
            RunqueueOffsets{get("linux_rq_curr"),       get("linux_rq_idle"),          get("linux_rq_cfs_timeline"),
                            get("linux_se_run_node"),   get("linux_task_se"),          find("linux_rq_cpu"),
                            find("linux_se_my_q"),      find("linux_cfs_rq_timeline"), find("linux_rq_rt_queue"),
                            find("linux_rt_queue_len"), find("linux_rt_se_run_list"),  find("linux_task_rt"),
                            find("linux_rt_se_my_q"),   find("linux_rt_rq_queue")};
    return part;
}

LayoutPart<TaskScanOffsets> LinuxLayout::task_scan_offsets() const
{
    LayoutPart<TaskScanOffsets> part{
        std::nullopt, missing({"linux_thread_pid", "linux_pid_links", "linux_pid_tasks", "linux_pid_numbers"})};
    if (part.missing.empty())
        part.offsets = TaskScanOffsets{get("linux_thread_pid"),  get("linux_pid_links"), get("linux_pid_tasks"),
                                       get("linux_pid_numbers"), find("linux_upid_nr"),  find("linux_task_stack")};
    return part;
}

LayoutPart<TaskTreeOffsets> LinuxLayout::task_tree_offsets() const
{
    LayoutPart<TaskTreeOffsets> part{std::nullopt, missing({"linux_children", "linux_sibling"})};
    if (part.missing.empty()) part.offsets = TaskTreeOffsets{get("linux_children"), get("linux_sibling")};
    return part;
}

LayoutPart<ModuleSysfsOffsets> LinuxLayout::module_sysfs_offsets() const
{
    LayoutPart<ModuleSysfsOffsets> part{std::nullopt, missing({"linux_kset_list", "linux_module_kobject_entry",
                                                               "linux_module_kobject_mod", "linux_module_mkobj"})};
    if (part.missing.empty())
        part.offsets = ModuleSysfsOffsets{get("linux_kset_list"), get("linux_module_kobject_entry"),
                                          get("linux_module_kobject_mod"), get("linux_module_mkobj")};
    return part;
}

LayoutPart<ModuleTreeOffsets> LinuxLayout::module_tree_offsets() const
{
    LayoutPart<ModuleTreeOffsets> part{
        std::nullopt, missing({"linux_mod_tree_trees", "linux_mod_tree_node_node", "linux_mod_tree_node_mod"})};
    if (part.missing.empty())
        part.offsets = ModuleTreeOffsets{get("linux_mod_tree_trees"), get("linux_mod_tree_node_node"),
                                         get("linux_mod_tree_node_mod")};
    return part;
}

LayoutPart<ModuleScanOffsets> LinuxLayout::module_scan_offsets() const
{
    LayoutPart<ModuleScanOffsets> part{std::nullopt,
                                       missing({"linux_module_list", "linux_module_name", "linux_module_state",
                                                "linux_module_mkobj", "linux_module_kobject_mod"})};
    if (part.missing.empty())
        part.offsets = ModuleScanOffsets{get("linux_module_list"),        get("linux_module_name"),
                                         get("linux_module_state"),       get("linux_module_mkobj"),
                                         get("linux_module_kobject_mod"), find("linux_module_name_len")};
    return part;
}

TracepointOffsets LinuxLayout::tracepoint_offsets() const
{
    TracepointOffsets t;
    t.name = get("linux_tracepoint_name");
    t.funcs = get("linux_tracepoint_funcs");
    t.func_size = get("linux_tracepoint_func_size");
    return t;
}

FtraceOffsets LinuxLayout::ftrace_offsets() const
{
    FtraceOffsets f;
    f.ops_func = get("linux_ftrace_ops_func");
    f.ops_next = get("linux_ftrace_ops_next");
    f.ops_flags = get("linux_ftrace_ops_flags");
    f.ops_func_hash = get("linux_ftrace_ops_func_hash");
    f.hash_filter = get("linux_ftrace_ops_hash_filter");
    f.hash_size_bits = get("linux_ftrace_hash_size_bits");
    f.hash_buckets = get("linux_ftrace_hash_buckets");
    f.hash_count = get("linux_ftrace_hash_count");
    f.entry_ip = get("linux_ftrace_entry_ip");
    f.flag_enabled = find("linux_ftrace_fl_enabled");
    f.flag_save_regs = find("linux_ftrace_fl_save_regs");
    f.flag_ipmodify = find("linux_ftrace_fl_ipmodify");
    f.flag_direct = find("linux_ftrace_fl_direct");
    return f;
}

std::vector<std::string_view> LinuxLayout::missing(std::initializer_list<std::string_view> keys) const
{
    return missing(std::span<const std::string_view>(keys.begin(), keys.size()));
}

std::vector<std::string_view> LinuxLayout::missing(std::span<const std::string_view> keys) const
{
    std::vector<std::string_view> out;
    for (std::string_view key : keys)
        if (!values_.contains(key)) out.push_back(key);
    return out;
}

std::string LinuxLayout::source(std::string_view key) const
{
    auto it = values_.find(key);
    return it == values_.end() ? "missing" : it->second.source;
}

std::string LinuxLayout::serialize() const
{
    std::string text;
    for (const auto& [key, value] : values_) text += fmt::format("value {} {:#x} {}\n", key, value.value, value.source);
    for (std::uint64_t offset : module_size_offsets_) text += fmt::format("module_size {:#x}\n", offset);
    text += fmt::format("have_btf {}\n", have_btf_ ? 1 : 0);
    text += fmt::format("fields {:#x}\n", fields_fingerprint());
    return text;
}

std::optional<LinuxLayout> LinuxLayout::deserialize(std::string_view text, const std::string& source_suffix)
{
    constexpr std::uint64_t MAX_OFFSET = 1 << 20; // far beyond any kernel structure
    LinuxLayout layout;
    bool fields_match = false;
    auto number = [](std::string_view word) -> std::optional<std::uint64_t> {
        if (!word.starts_with("0x") || word.size() < 3 || word.size() > 18) return std::nullopt;
        std::uint64_t value = 0;
        for (char c : word.substr(2)) {
            int digit = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
            if (digit < 0) return std::nullopt;
            value = value << 4 | static_cast<std::uint64_t>(digit);
        }
        return value;
    };
    while (!text.empty()) {
        std::size_t end = text.find('\n');
        if (end == std::string_view::npos) return std::nullopt; // every line ends: a cut file is not taken
        std::string_view line = text.substr(0, end);
        text.remove_prefix(end + 1);
        std::size_t space = line.find(' ');
        if (space == std::string_view::npos) return std::nullopt;
        std::string_view kind = line.substr(0, space), rest = line.substr(space + 1);
        if (kind == "value") {
            std::size_t a = rest.find(' ');
            std::size_t b = a == std::string_view::npos ? a : rest.find(' ', a + 1);
            if (b == std::string_view::npos) return std::nullopt;
            std::string_view key = rest.substr(0, a);
            std::optional<std::uint64_t> value = number(rest.substr(a + 1, b - a - 1));
            if (!spec_of(key) || !value || *value > MAX_OFFSET) return std::nullopt;
            layout.values_.insert_or_assign(std::string(key),
                                            Value{*value, std::string(rest.substr(b + 1)) + source_suffix});
        } else if (kind == "module_size") {
            std::optional<std::uint64_t> value = number(rest);
            if (!value || *value > MAX_OFFSET || layout.module_size_offsets_.size() >= 64) return std::nullopt;
            layout.module_size_offsets_.push_back(*value);
        } else if (kind == "have_btf") {
            layout.have_btf_ = rest == "1";
        } else if (kind == "fields") {
            fields_match = number(rest) == fields_fingerprint();
        } else {
            return std::nullopt;
        }
    }
    // A layout resolved when the fields were others lacks the new ones: resolved again.
    if (!fields_match || !layout.values_.contains("linux_tasks")) return std::nullopt;
    return layout;
}

} // namespace vmi

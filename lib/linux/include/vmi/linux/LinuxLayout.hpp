#pragma once
// Where the fields the tools read sit inside Linux kernel structures:
// byte offsets within task_struct, mm_struct, cred and module, plus a few
// sizes. Each comes from an explicit config key (LibVMI's names where LibVMI
// has them, e.g. linux_tasks; ours otherwise, e.g. linux_tgid) or from the
// kernel's BTF; a config key wins. Field names that moved between kernel
// versions (__state/state, core_layout/mem[]) are resolved by what BTF says.
#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace vmi {

class ConfigEntry;
class KernelBtf;

// One layout value: its config key and where BTF keeps it.
struct LayoutFieldSpec {
    std::string_view key;
    std::string_view btf_struct;
    std::vector<std::string_view> btf_paths; // alternatives, newest kernel first
    std::string_view kind;   // "offset", "length", "size" (of btf_struct), "enum" (btf_paths: enumerators)
    bool libvmi_key = false; // LibVMI reads this key too, with the same meaning
};

const std::vector<LayoutFieldSpec>& linux_layout_fields();

using Offset = std::optional<std::uint64_t>;

// The task_struct (and neighbouring) fields the task list reads, resolved
// once. `tasks`, `pid` and `comm` are what walking the list needs at all
// (LibVMI's linux_tasks, linux_pid, linux_name); every other field fills a
// column, and a column whose offsets are missing is shown as unavailable.
struct TaskOffsets {
    std::uint64_t tasks = 0;
    std::uint64_t pid = 0;
    std::uint64_t comm = 0;
    std::uint64_t comm_length = 16;
    Offset tgid, real_parent, cred, cred_uid, cred_gid, state, exit_state, flags, mm, mm_pgd, mm_arg_start, mm_arg_end;
    // Threads: task_struct.thread_group until 6.6, signal->thread_head and
    // thread_node since 6.7.
    Offset thread_group, signal, signal_thread_head, thread_node;
    // The names procfs shows for kernel threads (see LinuxTaskList::procfs_name).
    Offset kthread, kthread_full_name, kthread_data, kthread_threadfn, worker_pool, worker_current_work, worker_desc,
        worker_desc_length, worker_rescue_wq, workqueue_name, workqueue_name_length;
};

// The struct module fields the module list reads, resolved once.
struct ModuleOffsets {
    std::uint64_t list = 0;
    std::uint64_t name = 0;
    Offset name_length, state, refcnt, core_base, source_list, use_source_list, use_source;
    std::vector<std::uint64_t> size_fields; // added up as /proc/modules does
    // The size of the memory at core_base: its text (module.mem[MOD_TEXT],
    // 6.4+) or its whole core, text first (core_layout, before).
    Offset code_size;
    // module.kallsyms and its struct mod_kallsyms: the module's own symbols.
    Offset kallsyms, kallsyms_symtab, kallsyms_num_symtab, kallsyms_strtab;
};

// ftrace_ops and its filter hash (vmi-hooks), and the ftrace_ops flag bits
// this kernel gives (an enum: the bits moved between versions).
struct FtraceOffsets {
    std::uint64_t ops_func = 0, ops_next = 0, ops_flags = 0, ops_func_hash = 0;
    std::uint64_t hash_filter = 0; // ftrace_ops_hash.filter_hash
    std::uint64_t hash_size_bits = 0, hash_buckets = 0, hash_count = 0;
    std::uint64_t entry_ip = 0; // ftrace_func_entry.ip
    Offset flag_enabled, flag_save_regs, flag_ipmodify, flag_direct;
};

// struct kprobe, and struct kretprobe around one (its handlers).
struct KprobeOffsets {
    std::uint64_t addr = 0, list = 0, pre_handler = 0, post_handler = 0;
    Offset kretprobe_kp, kretprobe_handler, kretprobe_entry_handler;
};

// struct tracepoint's name and probes (funcs: an array of struct
// tracepoint_func, func first, up to a null func).
struct TracepointOffsets {
    std::uint64_t name = 0, funcs = 0, func_size = 0;
};

// The fields of the other views of tasks and modules (the cross-view
// checks), each resolved at once by LinuxLayout, or the keys it lacks.
template <typename Offsets>
struct LayoutPart {
    std::optional<Offsets> offsets;
    std::vector<std::string_view> missing; // the keys the part needs and the layout lacks, when !offsets
};
// "the layout has no KEY, KEY": why a part is missing.
std::string missing_keys_text(const std::vector<std::string_view>& missing);

// The PID allocator: init_pid_ns's IDR (an xarray), struct pid and its tasks.
struct PidTableOffsets {
    std::uint64_t idr_head = 0, pid_tasks = 0, pid_numbers = 0, pid_links = 0, task_pid = 0;
    Offset upid_nr, xa_node_shift, xa_node_slots, xa_node_slots_len;
};

// struct rq: curr, idle, its CFS tree and RT queues, and the task's entities in them.
struct RunqueueOffsets {
    std::uint64_t rq_curr = 0, rq_idle = 0, rq_cfs_timeline = 0, se_run_node = 0, task_se = 0;
    Offset rq_cpu, se_my_q, cfs_rq_timeline;
    Offset rq_rt_queue, rt_queue_len, rt_se_run_list, task_rt, rt_se_my_q, rt_rq_queue;
    bool with_rt() const { return rq_rt_queue && rt_se_run_list && task_rt; }
};

// What the scan of RAM checks a task_struct by, besides TaskOffsets: its
// struct pid and that pid's way back.
struct TaskScanOffsets {
    std::uint64_t thread_pid = 0, pid_links = 0, pid_tasks = 0, pid_numbers = 0;
    Offset upid_nr, task_stack;
};

// The children lists: task_struct.children and .sibling.
struct TaskTreeOffsets {
    std::uint64_t children = 0, sibling = 0;
};

// sysfs's module_kset: its list of kobjects and module_kobject's way to its module.
struct ModuleSysfsOffsets {
    std::uint64_t kset_list = 0, kobject_entry = 0, kobject_mod = 0, module_mkobj = 0;
};

// mod_tree: its latched trees and each node's module.
struct ModuleTreeOffsets {
    std::uint64_t trees = 0, node_node = 0, node_mod = 0;
};

// What the scan of the module area checks a struct module by.
struct ModuleScanOffsets {
    std::uint64_t list = 0, name = 0, state = 0, module_mkobj = 0, kobject_mod = 0;
    Offset name_length;
};

class LinuxLayout {
public:
    // A key of `entry` (the user's config) wins over one of `profile` (a
    // kernel profile's offsets, named `profile_name` in sources), which wins
    // over BTF.
    static LinuxLayout resolve(const ConfigEntry* entry, const KernelBtf* btf, const ConfigEntry* profile = nullptr,
                               const std::string& profile_name = {});

    // The value of `key`; throws vmi::Error naming the key and the BTF field
    // it would come from.
    std::uint64_t get(std::string_view key) const;
    std::optional<std::uint64_t> find(std::string_view key) const;
    // "config", "BTF task_struct.__state" or "default".
    std::string source(std::string_view key) const;

    // Offsets of the module size fields that /proc/modules adds up.
    const std::vector<std::uint64_t>& module_size_offsets() const { return module_size_offsets_; }

    // The typed views; throw vmi::Error (as get() does) when a field the
    // walk cannot do without is missing.
    TaskOffsets task_offsets() const;
    ModuleOffsets module_offsets() const;
    FtraceOffsets ftrace_offsets() const;
    KprobeOffsets kprobe_offsets() const;
    TracepointOffsets tracepoint_offsets() const;
    LayoutPart<PidTableOffsets> pid_table_offsets() const;
    LayoutPart<RunqueueOffsets> runqueue_offsets() const;
    LayoutPart<TaskScanOffsets> task_scan_offsets() const;
    LayoutPart<TaskTreeOffsets> task_tree_offsets() const;
    LayoutPart<ModuleSysfsOffsets> module_sysfs_offsets() const;
    LayoutPart<ModuleTreeOffsets> module_tree_offsets() const;
    LayoutPart<ModuleScanOffsets> module_scan_offsets() const;

    // The keys among `keys` that have no value, in order.
    std::vector<std::string_view> missing(std::initializer_list<std::string_view> keys) const;
    std::vector<std::string_view> missing(std::span<const std::string_view> keys) const;

    // The resolved layout as text lines ("value KEY 0xN SOURCE", "module_size
    // 0xN", "have_btf 0|1"), for a cache, and back: nullopt for text that is
    // not such lines or names a key the layout does not know.
    std::string serialize() const;
    static std::optional<LinuxLayout> deserialize(std::string_view text, const std::string& source_suffix);

private:
    struct Value {
        std::uint64_t value;
        std::string source;
    };
    std::map<std::string, Value, std::less<>> values_;
    std::vector<std::uint64_t> module_size_offsets_;
    bool have_btf_ = false;
};

} // namespace vmi

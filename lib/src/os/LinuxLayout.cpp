#include "vmi/LinuxLayout.hpp"

#include "os/LinuxLayoutBtf.hpp"
#include "vmi/Config.hpp"
#include "vmi/Error.hpp"

namespace vmi {

const std::vector<LayoutFieldSpec>& linux_layout_fields()
{
    static const std::vector<LayoutFieldSpec> fields{
        // LibVMI's keys.
        {"linux_tasks", "task_struct", {"tasks"}, "offset"},
        {"linux_mm", "task_struct", {"mm"}, "offset"},
        {"linux_pid", "task_struct", {"pid"}, "offset"},
        {"linux_name", "task_struct", {"comm"}, "offset"},
        {"linux_pgd", "mm_struct", {"pgd"}, "offset"},
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
        {"linux_active_mm", "task_struct", {"active_mm"}, "offset"},
        {"linux_mm_arg_start", "mm_struct", {"arg_start"}, "offset"},
        {"linux_mm_arg_end", "mm_struct", {"arg_end"}, "offset"},
        {"linux_name_len", "task_struct", {"comm"}, "length"},
        // The names procfs shows for kernel threads (fs/proc/array.c,
        // proc_task_name): a kthread's full name, a workqueue worker's
        // "-description". Optional: without them the name is comm.
        {"linux_kthread", "task_struct", {"worker_private", "set_child_tid"}, "offset"},
        {"linux_kthread_full_name", "kthread", {"full_name"}, "offset"},
        {"linux_kthread_data", "kthread", {"data"}, "offset"},
        {"linux_worker_pool", "worker", {"pool"}, "offset"},
        {"linux_worker_current_work", "worker", {"current_work"}, "offset"},
        {"linux_worker_desc", "worker", {"desc"}, "offset"},
        {"linux_worker_desc_len", "worker", {"desc"}, "length"},
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
    };
    return fields;
}

namespace {

const LayoutFieldSpec* spec_of(std::string_view key)
{
    for (const LayoutFieldSpec& spec : linux_layout_fields())
        if (spec.key == key) return &spec;
    return nullptr;
}

} // namespace

LinuxLayout LinuxLayout::resolve(const ConfigEntry* entry, const KernelBtf* btf)
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
        if (btf) {
            if (auto found = btf_layout_value(*btf, spec))
                layout.values_.insert_or_assign(std::string(spec.key), Value{found->value, found->source});
        }
    }
    // TASK_COMM_LEN has been 16 forever; other lengths depend on the word size.
    if (!layout.values_.count("linux_name_len")) layout.values_.emplace("linux_name_len", Value{16, "default"});

    bool sizes_from_config = entry && (entry->number("linux_module_core_size") || entry->number("linux_module_init_size"));
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
    std::string field = spec ? fmt::format("{}.{}", spec->btf_struct, spec->btf_paths.front()) : "?";
    if (have_btf_)
        fail("the kernel's BTF has no {} and the config sets no '{}': cannot read this kernel's {}", field, key,
             spec ? spec->btf_struct : "structures");
    fail("missing structure offset '{}' ({}): set it in the config entry or give --btf (a vmlinux, vmlinuz or "
         "/sys/kernel/btf/vmlinux copy)",
         key, field);
}

std::string LinuxLayout::source(std::string_view key) const
{
    auto it = values_.find(key);
    return it == values_.end() ? "missing" : it->second.source;
}

} // namespace vmi

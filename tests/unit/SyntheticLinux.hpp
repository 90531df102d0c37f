#pragma once
// A tiny Linux kernel's data laid out in FakeMemory for the Linux layer's unit
// tests: a direct map (virtual = DIRECT_MAP + physical, 2 MiB pages), an
// init_task heading the task list, tasks with threads, creds, mm_structs with
// their own page tables and command lines, and modules. Structure offsets
// come from a kernel layout preset (the shapes of 4.x, 5.14, 6.4 and 6.7
// kernels), given to the library as config keys exactly as a user would.
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "FakeMemory.hpp"
#include "PageTableBuilder.hpp"
#include "vmi/config/ConfigFile.hpp"
#include "vmi/linux/LinuxLayout.hpp"
#include "vmi/paging/AddressSpace.hpp"

namespace vmi_test {

using KeyValues = std::vector<std::pair<std::string, std::uint64_t>>;

// task_struct, cred, mm_struct and module offsets of a kernel shape. The
// values are made up (small, so tasks stay small) but keep what changed
// between versions: 4.x has a long `state` and thread_group; 5.14 the
// unsigned int `__state`; 6.4 module memory in mem[] (sizes then come from
// BTF, so the config gives only the text base); 6.7 threads on
// signal->thread_head.
struct KernelShape {
    std::string name;
    KeyValues keys;
    bool state_is_long = false;
    bool threads_on_signal = false;
};

inline KeyValues common_task_keys()
{
    return {{"linux_state", 0x10},
            {"linux_flags", 0x2c},
            {"linux_tasks", 0x100},
            {"linux_mm", 0x120},
            {"linux_exit_state", 0x130},
            {"linux_pid", 0x140},
            {"linux_tgid", 0x144},
            {"linux_parent", 0x148},
            {"linux_cred", 0x1c0},
            {"linux_name", 0x1d0},
            {"linux_name_len", 16},
            {"linux_cred_uid", 0x14},
            {"linux_cred_gid", 0x18},
            {"linux_pgd", 0x48},
            {"linux_mm_arg_start", 0x100},
            {"linux_mm_arg_end", 0x108},
            {"linux_module_list", 0x8},
            {"linux_module_name", 0x18},
            {"linux_module_state", 0x0},
            {"linux_module_refcnt", 0x300},
            {"linux_module_core_base", 0x200}};
}

inline std::vector<KernelShape> kernel_shapes()
{
    auto with = [](KeyValues extra) {
        KeyValues keys = common_task_keys();
        keys.insert(keys.end(), extra.begin(), extra.end());
        return keys;
    };
    return {
        {"4.x",
         with({{"linux_thread_group", 0x160}, {"linux_module_core_size", 0x208}, {"linux_module_init_size", 0x268}}),
         true, false},
        {"5.14",
         with({{"linux_thread_group", 0x160}, {"linux_module_core_size", 0x208}, {"linux_module_init_size", 0x268}}),
         false, false},
        {"6.4", with({{"linux_thread_group", 0x160}}), false, false},
        {"6.7", with({{"linux_signal", 0x1b0}, {"linux_signal_thread_head", 0x10}, {"linux_thread_node", 0x170}}),
         false, true},
    };
}

class SyntheticLinux {
public:
    static constexpr std::uint64_t DIRECT_MAP = 0xffff888000000000ULL;
    static constexpr std::uint64_t RAM = 32ULL << 20;
    static constexpr std::uint64_t KERNEL_DTB = 0x1000;

    explicit SyntheticLinux(KernelShape shape)
        : shape_(std::move(shape)),
          memory_({{0, RAM}}),
          tables_(memory_, vmi::PagingMode::IA32e, KERNEL_DTB, 0x2000),
          next_free_(4ULL << 20)
    {
        for (std::uint64_t pa = 0; pa < RAM; pa += 2ULL << 20) tables_.map(DIRECT_MAP + pa, pa, 2ULL << 20);
        for (const auto& [key, value] : shape_.keys) entry_.values[key] = vmi::ConfigValue{value};
        init_task_ = allocate(TASK_SIZE);
        link_self(init_task_ + key("linux_tasks"));
        put_name(init_task_, "swapper/0");
        if (shape_.threads_on_signal) {
            std::uint64_t signal = allocate(0x100);
            link_self(signal + key("linux_signal_thread_head"));
        }
        kernel_ = std::make_unique<vmi::AddressSpace>(memory_, vmi::PagingMode::IA32e, KERNEL_DTB);
    }

    FakeMemory& memory() { return memory_; }
    vmi::AddressSpace& kernel() { return *kernel_; }
    const vmi::ConfigEntry& entry() const { return entry_; }
    std::uint64_t init_task() const { return init_task_; }
    std::uint64_t key(const std::string& name) const
    {
        for (const auto& [k, v] : shape_.keys)
            if (k == name) return v;
        throw std::logic_error("no key " + name + " in shape " + shape_.name);
    }
    bool has_key(const std::string& name) const
    {
        for (const auto& kv : shape_.keys)
            if (kv.first == name) return true;
        return false;
    }

    // Writes through the direct map.
    void put64(std::uint64_t va, std::uint64_t value) { memory_.put64(va - DIRECT_MAP, value); }
    void put32(std::uint64_t va, std::uint32_t value) { memory_.put32(va - DIRECT_MAP, value); }
    void put_bytes(std::uint64_t va, std::string_view bytes) { memory_.put_bytes(va - DIRECT_MAP, bytes); }
    std::uint64_t get64(std::uint64_t va) { return memory_.get64(va - DIRECT_MAP); }

    struct Task {
        std::int32_t pid = 0;
        std::int32_t tgid = 0; // 0: same as pid
        std::string comm;
        std::uint64_t parent = 0; // 0: init_task
        std::uint32_t uid = 0;
        std::uint32_t gid = 0;
        std::uint32_t state = 1; // TASK_INTERRUPTIBLE
        std::uint32_t exit_state = 0;
        std::uint32_t flags = 0;
        std::string cmdline; // with a user mm (NUL-separated arguments) when not empty
    };

    // A thread-group leader, appended to the task list.
    std::uint64_t add_process(const Task& spec)
    {
        std::uint64_t task = make_task(spec);
        insert_before(init_task_ + key("linux_tasks"), task + key("linux_tasks"));
        if (shape_.threads_on_signal) {
            std::uint64_t signal = allocate(0x100);
            put64(task + key("linux_signal"), signal);
            link_self(signal + key("linux_signal_thread_head"));
            insert_before(signal + key("linux_signal_thread_head"), task + key("linux_thread_node"));
        } else if (has_key("linux_thread_group")) {
            link_self(task + key("linux_thread_group"));
        }
        return task;
    }

    // A thread of `leader` (not on the task list).
    std::uint64_t add_thread(std::uint64_t leader, const Task& spec)
    {
        std::uint64_t task = make_task(spec);
        link_self(task + key("linux_tasks"));
        if (shape_.threads_on_signal) {
            std::uint64_t signal = get64(leader + key("linux_signal"));
            put64(task + key("linux_signal"), signal);
            insert_before(signal + key("linux_signal_thread_head"), task + key("linux_thread_node"));
        } else {
            insert_before(leader + key("linux_thread_group"), task + key("linux_thread_group"));
        }
        return task;
    }

    // A module on the list headed by the `modules` list_head this returns.
    std::uint64_t modules_head()
    {
        if (!modules_) {
            modules_ = allocate(16);
            link_self(modules_);
        }
        return modules_;
    }
    std::uint64_t add_module(const std::string& name, std::uint32_t core_size, std::uint32_t init_size,
                             std::uint64_t base, std::int32_t refcnt = 1, std::uint32_t state = 0)
    {
        std::uint64_t module = allocate(0x400);
        put32(module + key("linux_module_state"), state);
        put_bytes(module + key("linux_module_name"), name + std::string(1, '\0'));
        put32(module + key("linux_module_refcnt"), static_cast<std::uint32_t>(refcnt));
        put64(module + key("linux_module_core_base"), base);
        if (has_key("linux_module_core_size")) {
            put32(module + key("linux_module_core_size"), core_size);
            put32(module + key("linux_module_init_size"), init_size);
        }
        insert_before(modules_head(), module + key("linux_module_list"));
        return module;
    }

    // list_head helpers: `node` and `head` are list_head addresses.
    void link_self(std::uint64_t node)
    {
        put64(node, node);
        put64(node + 8, node);
    }
    void insert_before(std::uint64_t head, std::uint64_t node)
    {
        std::uint64_t last = get64(head + 8);
        put64(node, head);
        put64(node + 8, last);
        put64(last, node);
        put64(head + 8, node);
    }

    std::uint64_t allocate(std::uint64_t size)
    {
        std::uint64_t pa = next_free_;
        next_free_ += (size + 0xfff) & ~0xfffULL;
        if (next_free_ > RAM) throw std::logic_error("synthetic kernel out of memory");
        return DIRECT_MAP + pa;
    }

    static constexpr std::uint64_t TASK_SIZE = 0x400;
    static constexpr std::uint64_t USER_ARGS = 0x7ffc0000ULL; // where a process's command line lies

private:
    void put_name(std::uint64_t task, const std::string& comm)
    {
        std::string field = comm.substr(0, 15);
        field.resize(16, '\0');
        put_bytes(task + key("linux_name"), field);
    }

    std::uint64_t make_task(const Task& spec)
    {
        std::uint64_t task = allocate(TASK_SIZE);
        if (shape_.state_is_long) put64(task + key("linux_state"), spec.state);
        else put32(task + key("linux_state"), spec.state);
        put32(task + key("linux_exit_state"), spec.exit_state);
        put32(task + key("linux_flags"), spec.flags);
        put32(task + key("linux_pid"), static_cast<std::uint32_t>(spec.pid));
        put32(task + key("linux_tgid"), static_cast<std::uint32_t>(spec.tgid ? spec.tgid : spec.pid));
        put64(task + key("linux_parent"), spec.parent ? spec.parent : init_task_);
        std::uint64_t cred = allocate(0x100);
        put32(cred + key("linux_cred_uid"), spec.uid);
        put32(cred + key("linux_cred_gid"), spec.gid);
        put64(task + key("linux_cred"), cred);
        put_name(task, spec.comm);
        if (!spec.cmdline.empty()) {
            // The process's own page tables map its arguments; its kernel half is not needed here.
            std::uint64_t mm = allocate(0x200);
            std::uint64_t pgd = allocate(0x1000);
            std::uint64_t args = allocate(spec.cmdline.size());
            PageTableBuilder user(memory_, vmi::PagingMode::IA32e, pgd - DIRECT_MAP, allocate(0x10000) - DIRECT_MAP);
            for (std::uint64_t off = 0; off < spec.cmdline.size() + 1; off += 0x1000)
                user.map(USER_ARGS + off, args - DIRECT_MAP + off, 0x1000, P | RW | US);
            put_bytes(args, spec.cmdline);
            put64(mm + key("linux_pgd"), pgd);
            put64(mm + key("linux_mm_arg_start"), USER_ARGS);
            put64(mm + key("linux_mm_arg_end"), USER_ARGS + spec.cmdline.size());
            put64(task + key("linux_mm"), mm);
        }
        return task;
    }

    KernelShape shape_;
    FakeMemory memory_;
    PageTableBuilder tables_;
    std::uint64_t next_free_;
    vmi::ConfigEntry entry_;
    std::uint64_t init_task_ = 0;
    std::uint64_t modules_ = 0;
    std::unique_ptr<vmi::AddressSpace> kernel_;
};

} // namespace vmi_test

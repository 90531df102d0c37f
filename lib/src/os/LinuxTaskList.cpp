#include "vmi/LinuxTaskList.hpp"

#include <algorithm>
#include <bit>
#include <cstring>

#include "vmi/Error.hpp"
#include "vmi/KernelListWalk.hpp"

namespace vmi {
namespace {

constexpr std::uint32_t PF_WQ_WORKER = 0x00000020;
constexpr std::uint32_t PF_KTHREAD = 0x00200000;
constexpr std::size_t PROC_NAME_MAX = 63; // proc_task_name's char tcomm[64]
constexpr std::uint32_t TASK_REPORT = 0x7f;
constexpr std::uint32_t TASK_IDLE = 0x402; // TASK_UNINTERRUPTIBLE | TASK_NOLOAD

std::string describe_task(AddressSpace& kernel, const LinuxLayout& layout, std::uint64_t task)
{
    try {
        return fmt::format("task {:#x} (pid {})", task, static_cast<std::int32_t>(kernel.read_u32(task + layout.get("linux_pid"))));
    } catch (const Error&) {
        return fmt::format("task {:#x}", task);
    }
}

} // namespace

char linux_task_state_letter(std::uint32_t state, std::uint32_t exit_state)
{
    static constexpr char letters[] = "RSDTtXZPI";
    if (state == TASK_IDLE) return 'I';
    unsigned index = std::bit_width((state | exit_state) & TASK_REPORT);
    return index < sizeof letters - 1 ? letters[index] : '?';
}

LinuxTask LinuxTaskList::read_task(std::uint64_t address)
{
    LinuxTask task;
    task.address = address;
    task.pid = static_cast<std::int32_t>(kernel_.read_u32(address + layout_.get("linux_pid")));
    task.tgid = static_cast<std::int32_t>(kernel_.read_u32(address + layout_.get("linux_tgid")));

    std::size_t name_length = layout_.get("linux_name_len");
    std::string name(std::min<std::size_t>(name_length, 256), '\0');
    kernel_.read(address + layout_.get("linux_name"), {reinterpret_cast<std::uint8_t*>(name.data()), name.size()});
    std::size_t end = name.find('\0');
    if (end == std::string::npos)
        fail("task {:#x} (pid {}) has an unterminated name (no NUL in its {} bytes)", address, task.pid, name.size());
    task.comm = name.substr(0, end);

    std::uint32_t flags = kernel_.read_u32(address + layout_.get("linux_flags"));
    task.kernel_thread = flags & PF_KTHREAD;
    task.name = procfs_name(address, flags, task.comm);
    std::uint32_t state = kernel_.read_u32(address + layout_.get("linux_state"));
    std::uint32_t exit_state = kernel_.read_u32(address + layout_.get("linux_exit_state"));
    task.state = linux_task_state_letter(state, exit_state);

    std::uint64_t parent = kernel_.read_pointer(address + layout_.get("linux_parent"));
    if (!is_kernel_address(kernel_, parent))
        fail("task {:#x} (pid {}) has parent pointer {:#x}, which is not a kernel address", address, task.pid, parent);
    task.ppid = parent == address ? 0 : static_cast<std::int32_t>(kernel_.read_u32(parent + layout_.get("linux_tgid")));

    std::uint64_t cred = kernel_.read_pointer(address + layout_.get("linux_cred"));
    if (!is_kernel_address(kernel_, cred))
        fail("task {:#x} (pid {}) has cred pointer {:#x}, which is not a kernel address", address, task.pid, cred);
    task.uid = kernel_.read_u32(cred + layout_.get("linux_cred_uid"));
    task.gid = kernel_.read_u32(cred + layout_.get("linux_cred_gid"));

    task.mm = kernel_.read_pointer(address + layout_.get("linux_mm"));
    if (task.mm && is_kernel_address(kernel_, task.mm)) {
        // A process's page tables may be unreadable (torn down at exit): no DTB then.
        try {
            std::uint64_t pgd = kernel_.read_pointer(task.mm + layout_.get("linux_pgd"));
            Translation t = kernel_.try_translate(pgd);
            if (t.ok) task.dtb = t.physical;
        } catch (const Error&) {
        }
    }
    return task;
}

std::string LinuxTaskList::procfs_name(std::uint64_t task, std::uint32_t flags, const std::string& comm)
{
    if (!(flags & (PF_WQ_WORKER | PF_KTHREAD))) return comm;
    auto kthread_offset = layout_.find("linux_kthread");
    if (!kthread_offset) return comm;
    try {
        std::uint64_t kthread = kernel_.read_pointer(task + *kthread_offset);
        if (!is_kernel_address(kernel_, kthread)) return comm;
        if (flags & PF_WQ_WORKER) {
            auto data = layout_.find("linux_kthread_data");
            auto pool = layout_.find("linux_worker_pool");
            auto current = layout_.find("linux_worker_current_work");
            auto desc = layout_.find("linux_worker_desc");
            if (!data || !pool || !current || !desc) return comm;
            std::uint64_t worker = kernel_.read_pointer(kthread + *data);
            if (!is_kernel_address(kernel_, worker) || !kernel_.read_pointer(worker + *pool)) return comm;
            std::size_t desc_length = layout_.find("linux_worker_desc_len").value_or(24);
            std::string description = kernel_.read_string(worker + *desc, std::min<std::size_t>(desc_length, 64));
            if (description.empty()) return comm;
            char mark = kernel_.read_pointer(worker + *current) ? '+' : '-';
            return fmt::format("{}{}{}", comm, mark, description).substr(0, PROC_NAME_MAX);
        }
        auto full_name_offset = layout_.find("linux_kthread_full_name");
        if (!full_name_offset) return comm;
        std::uint64_t full_name = kernel_.read_pointer(kthread + *full_name_offset);
        if (!full_name) return comm;
        if (!is_kernel_address(kernel_, full_name)) return comm;
        std::string name = kernel_.read_string(full_name, PROC_NAME_MAX);
        return name.empty() ? comm : name;
    } catch (const Error&) {
        return comm; // unreadable: procfs would show comm for a kthread without one too
    }
}

std::string LinuxTaskList::walk_threads(const LinuxTask& leader, TaskListing& listing, const TaskListOptions& options)
{
    auto describe = [this](std::uint64_t entry) { return describe_task(kernel_, layout_, entry); };
    auto add_thread = [&](std::uint64_t entry) -> std::string {
        if (entry == leader.address) return {};
        listing.tasks.push_back(read_task(entry));
        return {};
    };
    std::string what = fmt::format("thread list of pid {}", leader.tgid);
    ListWalkResult result;
    if (auto thread_group = layout_.find("linux_thread_group")) {
        result = walk_kernel_list(kernel_, leader.address + *thread_group, *thread_group, options.max_tasks, what,
                                  add_thread, describe);
    } else {
        // Since 6.7 threads hang off signal_struct.thread_head.
        std::uint64_t signal = kernel_.read_pointer(leader.address + layout_.get("linux_signal"));
        if (!is_kernel_address(kernel_, signal))
            return fmt::format("{}: signal pointer {:#x} is not a kernel address", what, signal);
        result = walk_kernel_list(kernel_, signal + layout_.get("linux_signal_thread_head"),
                                  layout_.get("linux_thread_node"), options.max_tasks, what, add_thread, describe);
    }
    return result.problem;
}

TaskListing LinuxTaskList::list(std::uint64_t init_task, const TaskListOptions& options)
{
    TaskListing listing;
    std::uint64_t tasks = layout_.get("linux_tasks");
    auto describe = [this](std::uint64_t entry) { return describe_task(kernel_, layout_, entry); };
    ListWalkResult result = walk_kernel_list(
        kernel_, init_task + tasks, tasks, options.max_tasks, "task list",
        [&](std::uint64_t entry) -> std::string {
            listing.tasks.push_back(read_task(entry));
            if (!options.threads) return {};
            LinuxTask leader = listing.tasks.back();
            return walk_threads(leader, listing, options);
        },
        describe);
    if (!result.complete()) listing.problems.push_back(result.problem);
    return listing;
}

std::string LinuxTaskList::command_line(const LinuxTask& task, std::size_t max_length)
{
    std::string bracketed = fmt::format("[{}]", task.name);
    if (task.kernel_thread || !task.dtb || !task.mm) return bracketed;
    try {
        std::uint64_t start = kernel_.read_pointer(task.mm + layout_.get("linux_mm_arg_start"));
        std::uint64_t end = kernel_.read_pointer(task.mm + layout_.get("linux_mm_arg_end"));
        if (end <= start) return bracketed;
        std::string args(std::min<std::uint64_t>(end - start, max_length), '\0');
        AddressSpace process(kernel_.memory(), kernel_.mode(), *task.dtb);
        process.read(start, {reinterpret_cast<std::uint8_t*>(args.data()), args.size()});
        std::replace(args.begin(), args.end(), '\0', ' ');
        while (!args.empty() && args.back() == ' ') args.pop_back();
        return args.empty() ? bracketed : args;
    } catch (const Error&) {
        return bracketed; // paged out or unmapped: ps shows the name too
    }
}

} // namespace vmi

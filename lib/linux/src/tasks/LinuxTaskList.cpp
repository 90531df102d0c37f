#include "vmi/linux/LinuxTaskList.hpp"

#include <algorithm>
#include <bit>
#include <cstring>

#include "vmi/base/Error.hpp"
#include "vmi/linux/KernelListWalk.hpp"

namespace vmi {
namespace {

constexpr std::uint32_t PF_EXITING = 0x00000004;
constexpr std::uint32_t PF_WQ_WORKER = 0x00000020;
constexpr std::uint32_t PF_KTHREAD = 0x00200000;
constexpr std::size_t PROC_NAME_MAX = 63; // proc_task_name's char tcomm[64]
// include/linux/sched.h (4.14 and later).
constexpr std::uint32_t TASK_UNINTERRUPTIBLE = 0x0002;
constexpr std::uint32_t TASK_REPORT = 0x007f;
constexpr std::uint32_t TASK_NOLOAD = 0x0400;
constexpr std::uint32_t TASK_IDLE = TASK_UNINTERRUPTIBLE | TASK_NOLOAD;
constexpr std::uint32_t TASK_RTLOCK_WAIT = 0x1000; // 5.15 and later
constexpr std::uint32_t TASK_NEW = 0x0800;         // 4.14 and later
constexpr std::uint32_t TASK_FROZEN = 0x8000;      // 6.1 and later
constexpr std::uint32_t TASK_REPORT_IDLE = TASK_REPORT + 1;
// More than any real task_struct (about 13 KiB with every debug option): a
// layout whose fields lie further apart is read field by field.
constexpr std::uint64_t MAX_TASK_SPAN = std::uint64_t{64} * 1024;
constexpr std::string_view RESCUER_PREFIX = "kworker/R-";

// Fields of one task_struct, read in one go where the layout allows.
class TaskBytes {
public:
    TaskBytes(AddressSpace& kernel, std::uint64_t task, std::uint64_t start, std::uint64_t end)
        : kernel_(kernel), task_(task), start_(start)
    {
        if (end <= start) return;
        bytes_.resize(end - start);
        try {
            kernel.read(task + start, bytes_);
        } catch (const Error&) {
            bytes_.clear(); // read field by field instead, to say which ones fail
        }
    }

    void read(std::uint64_t offset, std::span<std::uint8_t> out) const
    {
        if (offset >= start_ && offset - start_ + out.size() <= bytes_.size()) {
            std::memcpy(out.data(), bytes_.data() + (offset - start_), out.size());
            return;
        }
        kernel_.read(task_ + offset, out);
    }

    std::uint32_t u32(std::uint64_t offset) const
    {
        std::uint32_t value = 0;
        read(offset, {reinterpret_cast<std::uint8_t*>(&value), sizeof value});
        return value;
    }

    std::uint64_t pointer(std::uint64_t offset) const
    {
        if (pointer_size(kernel_.mode()) == 4) return u32(offset);
        std::uint64_t value = 0;
        read(offset, {reinterpret_cast<std::uint8_t*>(&value), sizeof value});
        return value;
    }

private:
    AddressSpace& kernel_;
    std::uint64_t task_;
    std::uint64_t start_;
    std::vector<std::uint8_t> bytes_;
};

std::string describe_task(std::uint64_t address, std::int64_t tid)
{
    return fmt::format("task {:#x} (pid {})", address, tid);
}

} // namespace

bool LinuxTask::bad(std::string_view field) const
{
    return std::any_of(bad_fields.begin(), bad_fields.end(), [&](const auto& bad) { return bad.first == field; });
}

char linux_task_state_letter(std::uint32_t state, std::uint32_t exit_state)
{
    static constexpr char letters[] = "RSDTtXZPI";
    std::uint32_t index_state = (state | exit_state) & TASK_REPORT;
    if ((state & TASK_IDLE) == TASK_IDLE) index_state = TASK_REPORT_IDLE;
    // The kernel lies here on purpose: an RT-lock waiter looks like any
    // sleeper on a lock, a frozen task like one in uninterruptible sleep.
    if ((state & TASK_RTLOCK_WAIT) || (state & TASK_FROZEN)) index_state = TASK_UNINTERRUPTIBLE;
    unsigned index = std::bit_width(index_state);
    return index < sizeof letters - 1 ? letters[index] : '?';
}

LinuxTaskList::LinuxTaskList(AddressSpace& kernel, const LinuxLayout& layout)
    : kernel_(kernel), layout_(layout), offsets_(layout.task_offsets())
{
    // The span of task_struct holding every field read directly from it.
    std::uint64_t pointer = pointer_size(kernel.mode());
    std::vector<std::pair<std::uint64_t, std::uint64_t>> fields{{offsets_.pid, 4},
                                                                {offsets_.comm, offsets_.comm_length}};
    for (const auto& [offset, size] : {std::pair{offsets_.tgid, 4ULL},
                                       {offsets_.real_parent, pointer},
                                       {offsets_.cred, pointer},
                                       {offsets_.state, 4ULL},
                                       {offsets_.exit_state, 4ULL},
                                       {offsets_.flags, 4ULL},
                                       {offsets_.mm, pointer},
                                       {offsets_.kthread, pointer},
                                       {offsets_.signal, pointer}})
        if (offset) fields.emplace_back(*offset, size);
    span_start_ = std::min_element(fields.begin(), fields.end())->first;
    span_end_ = 0;
    for (const auto& [offset, size] : fields) span_end_ = std::max(span_end_, offset + size);
    if (span_end_ - span_start_ > MAX_TASK_SPAN) span_end_ = span_start_; // implausible: field by field
}

std::string LinuxTaskList::describe(std::uint64_t task)
{
    try {
        return describe_task(task, static_cast<std::int32_t>(kernel_.read_u32(task + offsets_.pid)));
    } catch (const Error&) {
        return fmt::format("task {:#x}", task);
    }
}

LinuxTask LinuxTaskList::read_task(std::uint64_t address)
{
    LinuxTask task;
    task.address = address;
    TaskBytes bytes(kernel_, address, span_start_, span_end_);
    const TaskOffsets& o = offsets_;
    // Runs one field's read; a failure marks the field (and those that
    // depend on it) bad instead of ending the listing.
    auto field = [&](std::initializer_list<std::string_view> names, auto&& read) {
        try {
            read();
        } catch (const Error& e) {
            for (std::string_view name : names) task.bad_fields.emplace_back(name, e.what());
        }
    };

    field({"pid", "tid"}, [&] {
        task.tid = static_cast<std::int32_t>(bytes.u32(o.pid));
        // A thread-group leader's pid is its tgid: without linux_tgid the
        // leaders (what the task list holds) still get the right pid.
        task.pid = o.tgid ? static_cast<std::int32_t>(bytes.u32(*o.tgid)) : task.tid;
    });
    field({"name", "comm"}, [&] {
        std::string comm(std::min<std::size_t>(o.comm_length, 256), '\0');
        bytes.read(o.comm, {reinterpret_cast<std::uint8_t*>(comm.data()), comm.size()});
        std::size_t end = comm.find('\0');
        if (end == std::string::npos) {
            task.comm = comm; // what was there, for the record
            fail("unterminated name (no NUL in its {} bytes)", comm.size());
        }
        task.comm = comm.substr(0, end);
        task.name = task.comm;
    });
    std::uint32_t flags = 0;
    if (o.flags)
        field({"kernel_thread"}, [&] {
            flags = bytes.u32(*o.flags);
            task.kernel_thread = (flags & PF_KTHREAD) != 0;
            task.exiting = (flags & PF_EXITING) != 0;
        });
    if (!task.bad("name") && o.flags) task.name = procfs_name(address, flags, task.comm);
    if (o.state && o.exit_state)
        field({"state"}, [&] {
            std::uint32_t state = bytes.u32(*o.state);
            std::uint32_t exit_state = bytes.u32(*o.exit_state);
            task.state = linux_task_state_letter(state, exit_state);
            task.exiting = task.exiting || exit_state != 0;
            task.just_forked = (state & TASK_NEW) != 0;
        });

    if (o.real_parent)
        field({"ppid"}, [&] {
            std::uint64_t parent = bytes.pointer(*o.real_parent);
            if (!is_kernel_address(kernel_, parent)) fail("parent pointer {:#x} is not a kernel address", parent);
            std::uint64_t parent_pid = o.tgid ? *o.tgid : o.pid;
            task.ppid = parent == address ? 0 : static_cast<std::int32_t>(kernel_.read_u32(parent + parent_pid));
        });
    if (o.cred && (o.cred_uid || o.cred_gid))
        field({"uid", "gid"}, [&] {
            std::uint64_t cred = bytes.pointer(*o.cred);
            if (!is_kernel_address(kernel_, cred)) fail("cred pointer {:#x} is not a kernel address", cred);
            if (o.cred_uid) task.uid = kernel_.read_u32(cred + *o.cred_uid);
            if (o.cred_gid) task.gid = kernel_.read_u32(cred + *o.cred_gid);
        });
    if (o.mm)
        field({"dtb"}, [&] {
            task.mm = bytes.pointer(*o.mm);
            if (!task.mm || !o.mm_pgd) return;
            if (!is_kernel_address(kernel_, task.mm)) fail("mm pointer {:#x} is not a kernel address", task.mm);
            // A process's page tables may be unreadable (torn down at exit): no DTB then.
            Translation t = kernel_.try_translate(kernel_.read_pointer(task.mm + *o.mm_pgd));
            if (t.ok) task.dtb = t.physical;
        });
    return task;
}

std::string LinuxTaskList::procfs_name(std::uint64_t task, std::uint32_t flags, const std::string& comm)
{
    if (!(flags & (PF_WQ_WORKER | PF_KTHREAD)) || !offsets_.kthread) return comm;
    try {
        std::uint64_t kthread = kernel_.read_pointer(task + *offsets_.kthread);
        if (!is_kernel_address(kernel_, kthread)) return comm;
        if (flags & PF_WQ_WORKER) return worker_name(kthread, comm);
        if (!offsets_.kthread_full_name) return comm;
        std::uint64_t full_name = kernel_.read_pointer(kthread + *offsets_.kthread_full_name);
        if (!full_name || !is_kernel_address(kernel_, full_name)) return comm;
        std::string name = kernel_.read_string(full_name, PROC_NAME_MAX);
        return name.empty() ? comm : name;
    } catch (const Error&) {
        return comm; // unreadable: procfs would show comm for a kthread without one too
    }
}

std::uint64_t LinuxTaskList::thread_function(const LinuxTask& task)
{
    if (!offsets_.kthread || !offsets_.kthread_threadfn)
        fail("the layout has no {}: kernel threads' functions cannot be read",
             offsets_.kthread ? "kthread.threadfn" : "task_struct.worker_private (struct kthread)");
    std::uint64_t kthread = kernel_.read_pointer(task.address + *offsets_.kthread);
    if (kthread == 0) return 0;
    if (!is_kernel_address(kernel_, kthread))
        fail("task {:#x} (pid {}): struct kthread pointer {:#x} is not a kernel address", task.address, task.pid,
             kthread);
    return kernel_.read_pointer(kthread + *offsets_.kthread_threadfn);
}

// wq_worker_comm(): a worker's comm and, while it belongs to a pool, "+desc"
// (running a work item) or "-desc" (idle) for its latest work; a rescuer
// (6.8 and later) as "kworker/R-" and its workqueue's whole name.
std::string LinuxTaskList::worker_name(std::uint64_t kthread, const std::string& comm)
{
    const TaskOffsets& o = offsets_;
    if (!o.kthread_data) return comm;
    std::uint64_t worker = kernel_.read_pointer(kthread + *o.kthread_data);
    if (!is_kernel_address(kernel_, worker)) return comm;
    std::string name = comm;
    if (o.worker_rescue_wq && o.workqueue_name && comm.starts_with(RESCUER_PREFIX)) {
        std::uint64_t workqueue = kernel_.read_pointer(worker + *o.worker_rescue_wq);
        if (workqueue && is_kernel_address(kernel_, workqueue)) {
            std::size_t length = std::min<std::size_t>(o.workqueue_name_length.value_or(24), 64);
            std::string wq_name = kernel_.read_string(workqueue + *o.workqueue_name, length);
            if (!wq_name.empty()) name = std::string(RESCUER_PREFIX) + wq_name;
        }
    }
    if (!o.worker_pool || !o.worker_current_work || !o.worker_desc) return name.substr(0, PROC_NAME_MAX);
    if (!kernel_.read_pointer(worker + *o.worker_pool)) return name.substr(0, PROC_NAME_MAX);
    std::size_t desc_length = std::min<std::size_t>(o.worker_desc_length.value_or(24), 64);
    std::string description = kernel_.read_string(worker + *o.worker_desc, desc_length);
    if (description.empty()) return name.substr(0, PROC_NAME_MAX);
    char mark = kernel_.read_pointer(worker + *o.worker_current_work) ? '+' : '-';
    return fmt::format("{}{}{}", name, mark, description).substr(0, PROC_NAME_MAX);
}

void LinuxTaskList::walk_threads(const LinuxTask& leader, TaskListing& listing,
                                 std::unordered_set<std::uint64_t>& listed, std::size_t& budget)
{
    const TaskOffsets& o = offsets_;
    std::string what = fmt::format("thread list of pid {}", leader.pid);
    // Every task is listed once: a thread list that reaches a task already
    // listed (another process's, or the task list itself) is not followed,
    // so a hostile guest cannot make the walk quadratic or repeat rows.
    auto add_thread = [&](std::uint64_t entry) -> std::string {
        if (entry == leader.address) return {};
        if (listed.contains(entry))
            return fmt::format("reaches {}, which is already listed; not followed", describe(entry));
        if (budget == 0) return "more tasks than the cap; stopped";
        LinuxTask thread = read_task(entry);
        if (thread.pid != leader.pid)
            return fmt::format("reaches {}, a thread of pid {}; not followed", describe(entry), thread.pid);
        listed.insert(entry);
        --budget;
        listing.tasks.push_back(std::move(thread));
        return {};
    };
    auto describe_entry = [this](std::uint64_t entry) { return describe(entry); };
    ListWalkResult result;
    if (o.thread_group) {
        result = walk_kernel_list(kernel_, leader.address + *o.thread_group, *o.thread_group, budget + 1, what,
                                  add_thread, describe_entry);
    } else {
        // Since 6.7 threads hang off signal_struct.thread_head.
        std::uint64_t signal = kernel_.read_pointer(leader.address + *o.signal);
        if (!is_kernel_address(kernel_, signal)) {
            listing.problems.push_back({WalkProblem::Kind::bad_pointer, leader.address, "signal",
                                        fmt::format("{}: signal pointer {:#x} is not a kernel address", what, signal)});
            return;
        }
        result = walk_kernel_list(kernel_, signal + *o.signal_thread_head, *o.thread_node, budget + 1, what, add_thread,
                                  describe_entry);
    }
    add_walk_problems(result, listing.problems);
}

TaskListing LinuxTaskList::list(std::uint64_t init_task, const TaskListOptions& options)
{
    if (options.threads && !offsets_.thread_group &&
        (!offsets_.signal || !offsets_.signal_thread_head || !offsets_.thread_node))
        fail("listing threads needs linux_thread_group (until 6.6) or linux_signal, linux_signal_thread_head and "
             "linux_thread_node (6.7 and later): set them in the config entry or give --btf");
    if (options.threads && !offsets_.tgid)
        fail("listing threads needs linux_tgid (a thread's process id): set it in the config entry or give --btf");
    TaskListing listing;
    std::unordered_set<std::uint64_t> listed;
    std::size_t budget = options.max_tasks;
    ListWalkResult result = walk_kernel_list(
        kernel_, init_task + offsets_.tasks, offsets_.tasks, options.max_tasks, "task list",
        [&](std::uint64_t entry) -> std::string {
            if (budget == 0) return "more tasks than the cap; stopped";
            --budget;
            listed.insert(entry);
            listing.tasks.push_back(read_task(entry));
            const LinuxTask& task = listing.tasks.back();
            for (const auto& [field, why] : task.bad_fields)
                listing.problems.push_back(
                    {WalkProblem::Kind::field_unreadable, task.address, std::string(field),
                     fmt::format("{}: {} unreadable: {}", describe_task(task.address, task.tid), field, why)});
            if (options.threads && !task.bad("pid")) walk_threads(LinuxTask(task), listing, listed, budget);
            return {};
        },
        [this](std::uint64_t entry) { return describe(entry); });
    listing.complete = result.complete();
    add_walk_problems(result, listing.problems);
    return listing;
}

std::optional<std::string> LinuxTaskList::command_line(const LinuxTask& task, std::size_t max_length)
{
    const TaskOffsets& o = offsets_;
    if (!o.mm || !o.mm_pgd || !o.mm_arg_start || !o.mm_arg_end) return std::nullopt;
    std::string bracketed = fmt::format("[{}]", task.name);
    if (task.kernel_thread.value_or(false) || !task.dtb || !task.mm) return bracketed;
    try {
        std::uint64_t start = kernel_.read_pointer(task.mm + *o.mm_arg_start);
        std::uint64_t end = kernel_.read_pointer(task.mm + *o.mm_arg_end);
        if (end <= start) return bracketed;
        bool cut = end - start > max_length;
        std::string args(std::min<std::uint64_t>(end - start, max_length), '\0');
        AddressSpace process(kernel_.memory(), kernel_.mode(), *task.dtb);
        process.read(start, {reinterpret_cast<std::uint8_t*>(args.data()), args.size()});
        std::replace(args.begin(), args.end(), '\0', ' ');
        while (!args.empty() && args.back() == ' ') args.pop_back();
        if (args.empty()) return bracketed;
        return cut ? args + "..." : args;
    } catch (const Error&) {
        return bracketed; // paged out or unmapped: ps shows the name too
    }
}

} // namespace vmi

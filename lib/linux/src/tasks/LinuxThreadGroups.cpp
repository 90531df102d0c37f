#include <unordered_set>

#include "vmi/base/Error.hpp"
#include "vmi/linux/KernelListWalk.hpp"
#include "vmi/linux/LinuxTaskViews.hpp"

namespace vmi {

std::vector<std::uint64_t> thread_group_members(AddressSpace& kernel, const TaskOffsets& o, std::uint64_t task,
                                                std::size_t max_tasks, std::vector<WalkProblem>& problems,
                                                bool& complete)
{
    std::vector<std::uint64_t> members;
    auto add = [&](std::uint64_t entry) -> std::string {
        members.push_back(entry);
        return {};
    };
    auto describe = [](std::uint64_t entry) { return fmt::format("task {:#x}", entry); };
    ListWalkResult result;
    std::string what = fmt::format("thread group of task {:#x}", task);
    if (o.signal && o.signal_thread_head && o.thread_node) {
        std::uint64_t signal = 0;
        try {
            signal = kernel.read_pointer(task + *o.signal);
        } catch (const Error& e) {
            problems.push_back(walk_stopped(fmt::format("{}: cannot read its signal pointer: {}", what, e.what())));
            complete = false;
            return members;
        }
        if (!is_kernel_address(kernel, signal)) {
            problems.push_back(
                bad_pointer(fmt::format("{}: signal pointer {:#x} is not a kernel address", what, signal), task));
            complete = false;
            return members;
        }
        result =
            walk_kernel_list(kernel, signal + *o.signal_thread_head, *o.thread_node, max_tasks, what, add, describe);
    } else if (o.thread_group) {
        members.push_back(task); // a ring: its entries are the others
        result = walk_kernel_list(kernel, task + *o.thread_group, *o.thread_group, max_tasks, what, add, describe);
    } else {
        return {};
    }
    if (!result.complete()) {
        problems.push_back(walk_stopped(result.problem));
        complete = false;
    }
    for (std::string& broken : result.broken_links) problems.push_back(broken_link(std::move(broken)));
    return members;
}

ObjectView thread_group_view(AddressSpace& kernel, const LinuxLayout& layout,
                             const std::unordered_set<std::uint64_t>& seeds, std::size_t max_tasks)
{
    ObjectView view("threads");
    TaskOffsets o = layout.task_offsets();
    bool by_signal = o.signal && o.signal_thread_head && o.thread_node;
    if (!by_signal && !o.thread_group) {
        return unavailable_view(
            view.id, "no linux_signal, linux_signal_thread_head and linux_thread_node, nor linux_thread_group");
    }
    // Each group once: by its signal_struct, or (thread_group ring) by any
    // member already seen.
    std::unordered_set<std::uint64_t> groups_done;
    for (std::uint64_t seed : seeds) {
        if (view.objects.size() >= max_tasks) {
            view.problems.push_back(walk_stopped(fmt::format("thread groups: more than {} tasks; stopped", max_tasks)));
            view.complete = false;
            break;
        }
        if (by_signal) {
            std::uint64_t signal = 0;
            try {
                signal = kernel.read_pointer(seed + *o.signal);
            } catch (const Error& e) {
                view.problems.push_back(walk_stopped(fmt::format("thread group of task {:#x}: {}", seed, e.what())));
                view.complete = false;
                continue;
            }
            if (!groups_done.insert(signal).second) continue;
        } else if (view.objects.contains(seed)) {
            continue;
        }
        for (std::uint64_t member : thread_group_members(kernel, o, seed, max_tasks, view.problems, view.complete))
            view.objects.insert(member);
    }
    return view;
}

} // namespace vmi

// The parent/child view: every task is on its real parent's children list
// (through task_struct.sibling) from fork until it is reaped, so walking
// down from init_task reaches every process, kernel threads (children of
// kthreadd) included. Threads are not on such lists, but a process's child
// hangs off the thread that forked it: each thread's list is walked too.
#include <deque>

#include "vmi/base/Error.hpp"
#include "vmi/linux/KernelListWalk.hpp"
#include "vmi/linux/LinuxTaskViews.hpp"

namespace vmi {

ObjectView children_view(AddressSpace& kernel, const LinuxLayout& layout, std::uint64_t init_task,
                         std::size_t max_tasks)
{
    ObjectView view("children");
    TaskOffsets o = layout.task_offsets();
    LayoutPart<TaskTreeOffsets> part = layout.task_tree_offsets();
    if (!part.offsets) {
        return unavailable_view(view.id, "the layout has no linux_children and linux_sibling");
    }
    std::unordered_set<std::uint64_t> walked; // tasks whose children list was walked
    std::deque<std::uint64_t> pending{init_task};
    auto describe = [&](std::uint64_t task) {
        try {
            return fmt::format("task {:#x} (pid {})", task, static_cast<std::int32_t>(kernel.read_u32(task + o.pid)));
        } catch (const Error&) {
            return fmt::format("task {:#x}", task);
        }
    };
    while (!pending.empty()) {
        std::uint64_t process = pending.front();
        pending.pop_front();
        // A thread group that cannot be walked hides children of its threads
        // from this view, not from the others: the view is then incomplete.
        std::vector<std::uint64_t> threads =
            thread_group_members(kernel, o, process, max_tasks, view.problems, view.complete);
        if (std::find(threads.begin(), threads.end(), process) == threads.end())
            threads.insert(threads.begin(), process);
        for (std::uint64_t thread : threads) {
            if (!walked.insert(thread).second) continue;
            if (walked.size() > max_tasks) {
                view.problems.push_back(
                    walk_stopped(fmt::format("children lists: more than {} tasks; stopped", max_tasks)));
                view.complete = false;
                return view;
            }
            ListWalkResult result = walk_kernel_list(
                kernel, thread + part.offsets->children, part.offsets->sibling, max_tasks,
                fmt::format("children of {}", describe(thread)),
                [&](std::uint64_t child) -> std::string {
                    if (view.objects.insert(child).second) pending.push_back(child);
                    return {};
                },
                describe);
            if (!result.complete()) {
                view.problems.push_back(walk_stopped(result.problem));
                view.complete = false;
            }
            for (std::string& broken : result.broken_links) view.problems.push_back(broken_link(std::move(broken)));
        }
    }
    return view;
}

} // namespace vmi

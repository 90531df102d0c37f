// The scheduler's view: what each CPU runs (rq->curr), its idle task
// (rq->idle), the CFS red-black tree of runnable entities (a group entity,
// se->my_q set, has a tree of its own) and the RT priority queues. A task
// that runs is in no list (a running CFS entity leaves the tree), hence curr.
#include <fmt/ranges.h>

#include "vmi/base/Error.hpp"
#include "vmi/linux/KernelListWalk.hpp"
#include "vmi/linux/KernelRbTree.hpp"
#include "vmi/linux/LinuxTaskViews.hpp"

namespace vmi {
namespace {

constexpr std::uint64_t MAX_CPUS = 8192; // NR_CPUS at its largest
constexpr unsigned MAX_GROUP_DEPTH = 16; // task groups nest a few levels

class RunqueueWalk {
public:
    RunqueueWalk(AddressSpace& kernel, const RunqueueOffsets& offsets, ObjectView& view, std::size_t max_tasks)
        : kernel_(kernel), o_(offsets), view_(view), max_tasks_(max_tasks)
    {}

    void cfs_tree(std::uint64_t timeline, unsigned depth, int cpu)
    {
        std::uint64_t se_run_node = o_.se_run_node;
        std::optional<std::uint64_t> my_q = o_.se_my_q;
        std::uint64_t task_se = o_.task_se;
        std::uint64_t root = kernel_.read_pointer(timeline); // rb_root_cached starts with rb_root.rb_node
        std::vector<std::uint64_t> groups;
        TreeWalkResult result =
            walk_rb_tree(kernel_, root, max_tasks_, fmt::format("CFS tree of CPU {}", cpu), [&](std::uint64_t node) {
                std::uint64_t se = node - se_run_node;
                std::uint64_t queue = my_q ? kernel_.read_pointer(se + *my_q) : 0;
                if (queue) groups.push_back(queue);
                else add(se - task_se);
            });
        if (!result.complete()) view_.problems.push_back(walk_stopped(result.problem));
        std::optional<std::uint64_t> cfs_timeline = o_.cfs_rq_timeline;
        for (std::uint64_t queue : groups) {
            if (!cfs_timeline) break;
            if (depth >= MAX_GROUP_DEPTH || !is_kernel_address(kernel_, queue)) {
                view_.problems.push_back(bad_pointer(
                    fmt::format("CFS tree of CPU {}: group queue {:#x} at depth {}", cpu, queue, depth + 1)));
                continue;
            }
            cfs_tree(queue + *cfs_timeline, depth + 1, cpu);
        }
    }

    void rt_queues(std::uint64_t queues, unsigned depth, int cpu)
    {
        std::uint64_t count = std::min<std::uint64_t>(o_.rt_queue_len.value_or(100), 1024);
        std::uint64_t run_list = o_.rt_se_run_list.value_or(0);
        std::uint64_t task_rt = o_.task_rt.value_or(0);
        std::optional<std::uint64_t> my_q = o_.rt_se_my_q;
        std::optional<std::uint64_t> rt_rq_queue = o_.rt_rq_queue;
        std::uint64_t list_head = std::uint64_t{2} * pointer_size(kernel_.mode());
        for (std::uint64_t priority = 0; priority < count; ++priority) {
            std::vector<std::uint64_t> groups;
            ListWalkResult result = walk_kernel_list(
                kernel_, queues + priority * list_head, run_list, max_tasks_,
                fmt::format("RT queue {} of CPU {}", priority, cpu),
                [&](std::uint64_t rt_se) -> std::string {
                    std::uint64_t queue = my_q ? kernel_.read_pointer(rt_se + *my_q) : 0;
                    if (queue) groups.push_back(queue);
                    else add(rt_se - task_rt);
                    return {};
                },
                [](std::uint64_t rt_se) { return fmt::format("sched_rt_entity {:#x}", rt_se); });
            if (!result.complete()) view_.problems.push_back(walk_stopped(result.problem));
            for (std::uint64_t queue : groups) {
                if (!rt_rq_queue || depth >= MAX_GROUP_DEPTH || !is_kernel_address(kernel_, queue)) continue;
                rt_queues(queue + *rt_rq_queue, depth + 1, cpu);
            }
        }
    }

    void add(std::uint64_t task)
    {
        if (view_.objects.size() >= max_tasks_) return;
        if (is_kernel_address(kernel_, task)) view_.objects.insert(task);
    }

private:
    AddressSpace& kernel_;
    const RunqueueOffsets& o_;
    ObjectView& view_;
    std::size_t max_tasks_;
};

} // namespace

ObjectView runqueue_view(AddressSpace& kernel, const LinuxLayout& layout, const RunqueueSymbols& symbols,
                         std::size_t max_tasks, std::unordered_set<std::uint64_t>& idle_tasks)
{
    ObjectView view("runqueue");
    LayoutPart<RunqueueOffsets> part = layout.runqueue_offsets();
    if (!part.offsets || !symbols.runqueues || !symbols.per_cpu_offset) {
        return unavailable_view(view.id, part.offsets ? "no runqueues or __per_cpu_offset symbol"
                                                      : missing_keys_text(part.missing));
    }
    const RunqueueOffsets& o = *part.offsets;
    bool with_rt = o.with_rt();
    std::uint64_t word = pointer_size(kernel.mode());
    std::uint64_t cpus = 1;
    try {
        if (symbols.nr_cpu_ids) cpus = kernel.read_u32(symbols.nr_cpu_ids);
    } catch (const Error& e) {
        view.problems.push_back(walk_stopped(fmt::format("runqueues: cannot read nr_cpu_ids: {}", e.what())));
    }
    if (cpus == 0 || cpus > MAX_CPUS) {
        view.problems.push_back(walk_stopped(fmt::format("runqueues: nr_cpu_ids is {}; read CPU 0 only", cpus)));
        cpus = 1;
    }
    RunqueueWalk walk(kernel, o, view, max_tasks);
    std::optional<std::uint64_t> rq_cpu = o.rq_cpu;
    for (std::uint64_t cpu = 0; cpu < cpus; ++cpu) {
        try {
            std::uint64_t rq = symbols.runqueues + kernel.read_pointer(symbols.per_cpu_offset + cpu * word);
            if (word == 4) rq &= 0xffffffffULL;
            if (rq_cpu && kernel.read_u32(rq + *rq_cpu) != cpu) {
                view.problems.push_back(broken_link(fmt::format("runqueue of CPU {} at {:#x} says it is CPU {}", cpu,
                                                                rq, kernel.read_u32(rq + *rq_cpu))));
                continue;
            }
            std::uint64_t curr = kernel.read_pointer(rq + o.rq_curr);
            std::uint64_t idle = kernel.read_pointer(rq + o.rq_idle);
            walk.add(curr);
            walk.add(idle);
            if (is_kernel_address(kernel, idle)) idle_tasks.insert(idle);
            walk.cfs_tree(rq + o.rq_cfs_timeline, 0, static_cast<int>(cpu));
            if (with_rt) walk.rt_queues(rq + *o.rq_rt_queue, 0, static_cast<int>(cpu));
        } catch (const Error& e) {
            view.problems.push_back(walk_stopped(fmt::format("runqueue of CPU {}: {}", cpu, e.what())));
        }
    }
    return view;
}

} // namespace vmi

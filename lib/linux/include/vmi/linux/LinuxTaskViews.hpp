#pragma once
// The kernel's several records of its tasks, each walked on its own, for the
// cross-view check (TaskCrossView). A rootkit that edits one of them (unlinks
// a task from the task list, removes its pid from the PID table) leaves the
// others as they were; comparing them shows what was edited.
//
// Every view is a set of task_struct addresses. A view whose layout fields or
// symbols are missing is unavailable (with why), never an error: the check
// goes on with the others. Each walk is bounded and distrusts every pointer.
#include <cstdint>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "vmi/linux/CrossView.hpp"
#include "vmi/linux/LinuxLayout.hpp"
#include "vmi/paging/AddressSpace.hpp"

namespace vmi {

// The tasks `task`'s thread group lists: signal->thread_head (thread_node
// links, 2.6.38 until today; `task` is there only if its own link is intact),
// else the thread_group ring (until 6.6; `task` first). Empty when the layout
// has neither.
// `complete` is set to false when the walk stopped early.
std::vector<std::uint64_t> thread_group_members(AddressSpace& kernel, const TaskOffsets& offsets, std::uint64_t task,
                                                std::size_t max_tasks, std::vector<WalkProblem>& problems,
                                                bool& complete);

// The PID allocator: every struct pid in init_pid_ns's IDR (an xarray since
// 4.20), then its tasks[PIDTYPE_PID] to the task. Threads are included.
ObjectView pid_table_view(AddressSpace& kernel, const LinuxLayout& layout, std::uint64_t init_pid_ns,
                          std::size_t max_tasks);

// Parents and children: from init_task down through every task's children
// list (sibling links), the children of each thread too (a child hangs off
// the thread that forked it).
ObjectView children_view(AddressSpace& kernel, const LinuxLayout& layout, std::uint64_t init_task,
                         std::size_t max_tasks);

// The thread groups of the tasks in `seeds`, each group walked once from its
// signal_struct: a thread (or leader) no other view lists shows here.
ObjectView thread_group_view(AddressSpace& kernel, const LinuxLayout& layout,
                             const std::unordered_set<std::uint64_t>& seeds, std::size_t max_tasks);

// Where the per-CPU runqueues are: the `runqueues` per-CPU symbol, the
// __per_cpu_offset array and the number of possible CPUs (nr_cpu_ids).
struct RunqueueSymbols {
    std::uint64_t runqueues = 0;
    std::uint64_t per_cpu_offset = 0;
    std::uint64_t nr_cpu_ids = 0; // the symbol's address
};

// The scheduler: each CPU's rq->curr and rq->idle, its CFS tree
// (tasks_timeline, into group entities' own trees) and its RT queues. Sees
// only tasks that run or could: a sleeping task is on no runqueue.
// `idle_tasks` receives every rq->idle (the swapper/N tasks).
ObjectView runqueue_view(AddressSpace& kernel, const LinuxLayout& layout, const RunqueueSymbols& symbols,
                         std::size_t max_tasks, std::unordered_set<std::uint64_t>& idle_tasks);

// A scan of guest RAM for task_structs, through the kernel's direct map
// (virtual address `direct_map` + physical address): finds tasks unlinked
// from every list. Every 64-byte-aligned place (task_structs are cache-line
// aligned) whose list pointers are kernel addresses, whose pid is plausible
// and whose comm is printable is a candidate; a candidate counts only if a
// structure it points at points back at it: its struct pid's
// tasks[PIDTYPE_PID] (with the pid number agreeing), or its signal_struct's
// thread list. A freed task_struct fails both (the kernel drops each link as
// the task is released); a mere linked list_head at the place of `tasks` is
// not enough (other objects have those: a live guest showed one). A task
// removed from its struct pid and its thread group as well is not found.
//
// The scan reads all of RAM, so on a live guest it runs ahead of the pause,
// while the guest runs (task_scan_candidates): the pause then only reads
// each place found again (`scanned`), and does not grow with RAM. A place
// that is no task any more by then is dropped; a task that started in
// between is not in the view, which is no finding (what the scan misses
// never is).
struct TaskScanCandidates {
    bool available = true;
    std::string unavailable; // why not, when !available
    std::vector<std::uint64_t> tasks;
};
TaskScanCandidates task_scan_candidates(AddressSpace& kernel, const LinuxLayout& layout, std::uint64_t direct_map,
                                        std::size_t max_tasks);
ObjectView task_scan_view(AddressSpace& kernel, const LinuxLayout& layout, std::uint64_t direct_map,
                          std::size_t max_tasks, const TaskScanCandidates* scanned = nullptr);

} // namespace vmi

#pragma once
// The cross-view check of a Linux guest's processes (CrossView.hpp): every
// task any view (LinuxTaskViews.hpp, the task list, the guest's own list)
// sees, with the views that see it, those that should and do not, and what
// that means.
//
// A view that misses a task is a finding only where the kernel guarantees
// the task is there, so that nothing normal raises an alarm:
// - the task list and the children lists hold thread-group leaders only; the
//   guest's /proc listing shows leaders only;
// - the idle tasks (swapper/N, pid 0) are on no list but their runqueue;
// - a task that exits (exit_state, PF_EXITING) or was just forked (TASK_NEW)
//   joins and leaves the lists one by one;
// - the runqueues see only tasks that run or could;
// - the guest's list is taken at another moment: a process it lacks whose pid
//   is above every pid it lists started afterwards, and a pid only it lists
//   ended in between (a warning, not a finding);
// - a view whose walk had problems (a torn or corrupt list) may have missed
//   tasks for that reason: its gaps are no finding, its problems are reported.
#include <cstdint>
#include <optional>
#include <span>
#include <unordered_set>
#include <vector>

#include "vmi/linux/CrossView.hpp"
#include "vmi/linux/GuestProcessList.hpp"
#include "vmi/linux/LinuxTaskList.hpp"

namespace vmi {

// What decides which views must hold a task.
struct TaskFacts {
    bool idle = false;           // an idle task (swapper/N): on its CPU's runqueue only
    bool thread = false;         // not its thread group's leader
    bool late_for_guest = false; // a leader whose pid is above every pid the guest's list has
};

// The task views, in their columns' order: the task list, the PID table, the
// children lists, the thread groups, the runqueues, the scan of RAM and the
// guest's own list ("guest", from --guest-ps or --agent).
std::span<const ViewRow<TaskFacts>> task_view_rows();

using TaskCrossView = CrossView<LinuxTask>;
using CrossViewTask = CrossViewEntry<LinuxTask>;

// Reads every task the views name (through `reader`) and classifies it. The
// guest's list, when given, becomes the view "guest".
TaskCrossView cross_view_tasks(std::vector<ObjectView> views, LinuxTaskList& reader,
                               const std::unordered_set<std::uint64_t>& idle_tasks,
                               const std::optional<std::vector<GuestProcess>>& guest);

} // namespace vmi

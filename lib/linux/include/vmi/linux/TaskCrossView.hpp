#pragma once
// The cross-view check of a Linux guest's processes: every task any view
// (LinuxTaskViews.hpp, the task list, the guest's own list) sees, with the
// views that see it, those that should and do not, and what that means.
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
#include <string>
#include <unordered_set>
#include <vector>

#include "vmi/linux/GuestProcessList.hpp"
#include "vmi/linux/LinuxTaskList.hpp"
#include "vmi/linux/LinuxTaskViews.hpp"

namespace vmi {

struct CrossViewTask {
    LinuxTask task;
    bool idle = false;
    // One each per view, in TaskCrossView::views' order.
    std::vector<bool> seen;
    std::vector<bool> expected;         // the view should list it (and is available)
    std::vector<std::string> seen_by;   // view ids
    std::vector<std::string> missed_by; // the expected views that miss it
    bool hidden = false;                // an expected view misses it
    std::string meaning;                // a finding's explanation, or why a gap is normal
};

struct TaskCrossView {
    std::vector<TaskView> views;
    std::vector<CrossViewTask> tasks; // by pid, then tid
    std::vector<std::string> warnings;
    std::vector<std::string> problems; // walks that stopped early or found inconsistent entries
    bool found_hidden() const;
};

// Reads every task the views name (through `reader`) and classifies it. The
// guest's list, when given, becomes the view "guest".
TaskCrossView cross_view_tasks(std::vector<TaskView> views, LinuxTaskList& reader,
                               const std::unordered_set<std::uint64_t>& idle_tasks,
                               const std::optional<std::vector<GuestProcess>>& guest);

} // namespace vmi

#include "vmi/linux/TaskCrossView.hpp"

#include <algorithm>
#include <map>

#include <fmt/ranges.h>

#include "ViewNames.hpp"

namespace vmi {
namespace {

// What a view's missing a task means.
std::string gap_meaning(std::string_view view, bool pid_table_too)
{
    if (view == "tasks") return "unlinked from the task list";
    if (view == "pid_table") return "removed from the PID table (the guest's /proc and kill cannot find it)";
    if (view == "threads") return "unlinked from its thread group";
    if (view == "children") return "unlinked from its parent's children list";
    if (view == "guest") return pid_table_too ? "" : "hidden from the guest's own tools (its /proc listing)";
    return fmt::format("missing from {}", view);
}

} // namespace

bool TaskCrossView::found_hidden() const
{
    return std::any_of(tasks.begin(), tasks.end(), [](const CrossViewTask& t) { return t.hidden; });
}

TaskCrossView cross_view_tasks(std::vector<TaskView> views, LinuxTaskList& reader,
                               const std::unordered_set<std::uint64_t>& idle_tasks,
                               const std::optional<std::vector<GuestProcess>>& guest)
{
    TaskCrossView out;
    std::unordered_set<std::uint64_t> all;
    for (TaskView& view : views) {
        all.insert(view.tasks.begin(), view.tasks.end());
        for (std::string& problem : view.problems) out.problems.push_back(std::move(problem));
        view.problems.clear();
    }
    std::map<std::int64_t, std::string> guest_pids;
    std::int64_t guest_max_pid = 0;
    if (guest) {
        for (const GuestProcess& process : *guest) {
            guest_pids.emplace(process.pid, process.name);
            guest_max_pid = std::max(guest_max_pid, process.pid);
        }
        views.push_back({"guest", "the guest's own list", true, {}, {}, {}});
    }

    std::unordered_set<std::int64_t> host_pids;
    for (std::uint64_t address : all) {
        CrossViewTask entry;
        entry.task = reader.read_task(address);
        const LinuxTask& task = entry.task;
        if (task.bad("pid") || task.bad("comm")) {
            std::vector<std::string> from;
            for (const TaskView& view : views)
                if (view.tasks.contains(address)) from.push_back(view.id);
            out.problems.push_back(fmt::format("task {:#x} (from {}) cannot be read: {}", address,
                                               fmt::join(from, ", "), task.bad_fields.front().second));
            continue;
        }
        host_pids.insert(task.pid);
        entry.idle = task.tid == 0 || idle_tasks.contains(address);
        bool thread = task.tid != task.pid;
        bool leader_view_applies = !thread && !entry.idle;
        bool late_for_guest = false;
        for (const TaskView& view : views) {
            bool seen = view.id == "guest" ? !thread && guest_pids.contains(task.pid) : view.tasks.contains(address);
            bool expected = false;
            if (view.available && view.complete) {
                if (view.id == "tasks" || view.id == "children") expected = leader_view_applies;
                if (view.id == "pid_table") expected = !entry.idle;
                if (view.id == "threads") expected = true;
                if (view.id == "guest") {
                    late_for_guest = leader_view_applies && task.pid > guest_max_pid;
                    expected = leader_view_applies && !late_for_guest;
                }
            }
            entry.seen.push_back(seen);
            entry.expected.push_back(expected);
            if (seen) entry.seen_by.push_back(view.id);
            if (expected && !seen) entry.missed_by.push_back(view.id);
        }
        if (entry.idle) {
            entry.meaning = "idle task: on its CPU's runqueue only, as always";
        } else if (!entry.missed_by.empty() && task.exiting) {
            entry.meaning = "exiting: it leaves the kernel's lists one by one";
        } else if (!entry.missed_by.empty() && task.just_forked) {
            entry.meaning = "just forked: it joins the kernel's lists one by one";
        } else if (!entry.missed_by.empty()) {
            entry.hidden = true;
            bool pid_table_too =
                std::find(entry.missed_by.begin(), entry.missed_by.end(), "pid_table") != entry.missed_by.end();
            std::vector<std::string> why;
            for (const std::string& id : entry.missed_by)
                if (std::string text = gap_meaning(id, pid_table_too); !text.empty()) why.push_back(text);
            entry.meaning = fmt::format("in {}, not in {}: {}", join_view_names(entry.seen_by, views),
                                        join_view_names(entry.missed_by, views), fmt::join(why, "; "));
            bool on_a_list = std::any_of(entry.seen_by.begin(), entry.seen_by.end(), [](const std::string& id) {
                return id == "tasks" || id == "pid_table" || id == "children";
            });
            if (!on_a_list)
                entry.meaning = fmt::format("found only in {}: unlinked from every list ({})",
                                            join_view_names(entry.seen_by, views), fmt::join(why, "; "));
        } else if (late_for_guest) {
            entry.meaning = "started after the guest's list was taken";
        } else if (thread) {
            entry.meaning = "thread: on no list of thread-group leaders";
        }
        out.tasks.push_back(std::move(entry));
    }
    for (const auto& [pid, name] : guest_pids)
        if (!host_pids.contains(pid))
            out.warnings.push_back(fmt::format("pid {}{} is in the guest's list but in no kernel view: it ended "
                                               "after the list was taken",
                                               pid, name.empty() ? "" : fmt::format(" ({})", name)));
    std::sort(out.tasks.begin(), out.tasks.end(), [](const CrossViewTask& a, const CrossViewTask& b) {
        return std::tie(a.task.pid, a.task.tid, a.task.address) < std::tie(b.task.pid, b.task.tid, b.task.address);
    });
    for (TaskView& view : views) view.tasks.clear();
    out.views = std::move(views);
    return out;
}

} // namespace vmi

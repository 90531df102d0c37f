#include "vmi/linux/TaskCrossView.hpp"

#include <algorithm>
#include <map>
#include <tuple>

#include <fmt/ranges.h>

namespace vmi {
namespace {

bool leader_not_idle(const TaskFacts& f) { return !f.thread && !f.idle; }

constexpr ViewRow<TaskFacts> TASK_VIEWS[] = {
    {"tasks", "TASKS", "the task list", "in the task list (init_task.tasks)", "unlinked from the task list",
     leader_not_idle},
    {"pid_table", "PIDTABLE", "the PID table", "in the PID table (init_pid_ns.idr)",
     "removed from the PID table (the guest's /proc and kill cannot find it)",
     [](const TaskFacts& f) { return !f.idle; }},
    {"children", "CHILDREN", "its parent's children", "on its parent's children list",
     "unlinked from its parent's children list", leader_not_idle},
    {"threads", "THREADS", "its thread group", "in its thread group (signal->thread_head)",
     "unlinked from its thread group", [](const TaskFacts&) { return true; }},
    // Only tasks that run or could are on a runqueue; the scan finds what the lists lost.
    {"runqueue", "RUNQUEUE", "a runqueue", "on a runqueue (rq->curr, rq->idle, CFS tree, RT queues)", "", nullptr},
    {"scan", "SCAN", "a memory scan", "found by a scan of guest RAM for task_structs", "", nullptr},
    {"guest", "GUEST", "the guest's own list", "in the guest's own list (--guest-ps or --agent)",
     "hidden from the guest's own tools (its /proc listing)",
     [](const TaskFacts& f) { return leader_not_idle(f) && !f.late_for_guest; }},
};

// The views that are lists of the kernel's: a task on none of them was unlinked from every one.
bool on_a_list(const std::vector<std::string>& seen_by)
{
    return std::any_of(seen_by.begin(), seen_by.end(),
                       [](const std::string& id) { return id == "tasks" || id == "pid_table" || id == "children"; });
}

// What compare_views needs to know of tasks.
class TaskKind {
public:
    using Object = LinuxTask;
    using Facts = TaskFacts;

    TaskKind(LinuxTaskList& reader, const std::unordered_set<std::uint64_t>& idle_tasks,
             const std::optional<std::vector<GuestProcess>>& guest)
        : reader_(reader), idle_tasks_(idle_tasks), guest_(guest.has_value())
    {
        if (!guest) return;
        for (const GuestProcess& process : *guest) {
            guest_pids_.emplace(process.pid, process.name);
            guest_max_pid_ = std::max(guest_max_pid_, process.pid);
        }
    }

    std::span<const ViewRow<TaskFacts>> rows() const { return task_view_rows(); }
    LinuxTask read(std::uint64_t address) { return reader_.read_task(address); }

    std::optional<std::string> unreadable(const LinuxTask& task, const std::vector<ObjectView>& views) const
    {
        if (!task.bad("pid") && !task.bad("comm")) return std::nullopt;
        return fmt::format("task {:#x} (from {}) cannot be read: {}", task.address,
                           fmt::join(views_holding(views, task.address), ", "), task.bad_fields.front().second);
    }

    TaskFacts facts(const LinuxTask& task)
    {
        host_pids_.insert(task.pid);
        TaskFacts facts;
        facts.idle = task.tid == 0 || idle_tasks_.contains(task.address);
        facts.thread = task.tid != task.pid;
        facts.late_for_guest = guest_ && leader_not_idle(facts) && task.pid > guest_max_pid_;
        return facts;
    }

    // The guest lists processes by pid: it sees a leader whose pid it lists.
    bool seen(const ObjectView& view, const LinuxTask& task) const
    {
        if (view.id == "guest") return task.tid == task.pid && guest_pids_.contains(task.pid);
        return view.objects.contains(task.address);
    }

    void explain(CrossViewTask& entry, const TaskFacts& facts) const
    {
        const LinuxTask& task = entry.object;
        bool missed = !entry.missed_by.empty();
        if (facts.idle) {
            entry.meaning = "idle task: on its CPU's runqueue only, as always";
        } else if (missed && task.exiting) {
            entry.meaning = "exiting: it leaves the kernel's lists one by one";
        } else if (missed && task.just_forked) {
            entry.meaning = "just forked: it joins the kernel's lists one by one";
        } else if (missed) {
            entry.hidden = true;
            // Out of the PID table, it is out of the guest's /proc for that reason.
            bool pid_table_too =
                std::find(entry.missed_by.begin(), entry.missed_by.end(), "pid_table") != entry.missed_by.end();
            std::vector<std::string> why;
            for (const std::string& id : entry.missed_by) {
                if (id == "guest" && pid_table_too) continue;
                const ViewRow<TaskFacts>* row = find_view_row(rows(), id);
                why.push_back(row ? std::string(row->gap) : fmt::format("missing from {}", id));
            }
            entry.meaning = fmt::format("in {}, not in {}: {}", join_view_names(entry.seen_by, rows()),
                                        join_view_names(entry.missed_by, rows()), fmt::join(why, "; "));
            if (!on_a_list(entry.seen_by))
                entry.meaning = fmt::format("found only in {}: unlinked from every list ({})",
                                            join_view_names(entry.seen_by, rows()), fmt::join(why, "; "));
        } else if (facts.late_for_guest) {
            entry.meaning = "started after the guest's list was taken";
        } else if (facts.thread) {
            entry.meaning = "thread: on no list of thread-group leaders";
        }
    }

    // A pid only the guest lists ended after its list was taken.
    void finish(TaskCrossView& out) const
    {
        for (const auto& [pid, name] : guest_pids_)
            if (!host_pids_.contains(pid))
                out.warnings.push_back(fmt::format("pid {}{} is in the guest's list but in no kernel view: it ended "
                                                   "after the list was taken",
                                                   pid, name.empty() ? "" : fmt::format(" ({})", name)));
    }

    bool before(const LinuxTask& a, const LinuxTask& b) const
    {
        return std::tie(a.pid, a.tid, a.address) < std::tie(b.pid, b.tid, b.address);
    }

private:
    LinuxTaskList& reader_;
    const std::unordered_set<std::uint64_t>& idle_tasks_;
    bool guest_ = false;
    std::map<std::int64_t, std::string> guest_pids_;
    std::int64_t guest_max_pid_ = 0;
    std::unordered_set<std::int64_t> host_pids_;
};

} // namespace

std::span<const ViewRow<TaskFacts>> task_view_rows() { return TASK_VIEWS; }

TaskCrossView cross_view_tasks(std::vector<ObjectView> views, LinuxTaskList& reader,
                               const std::unordered_set<std::uint64_t>& idle_tasks,
                               const std::optional<std::vector<GuestProcess>>& guest)
{
    if (guest) views.emplace_back("guest");
    TaskKind kind(reader, idle_tasks, guest);
    return compare_views(kind, std::move(views));
}

} // namespace vmi

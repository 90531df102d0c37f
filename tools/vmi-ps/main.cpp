// vmi-ps: list a guest's processes from outside, as the guest kernel keeps
// them (the paper's Table 1 experiment).
#include <algorithm>
#include <set>

#include "ProcessCheck.hpp"
#include "common/CheckOutlets.hpp"
#include "common/ColumnTable.hpp"
#include "common/Guest.hpp"
#include "common/PauseOptions.hpp"
#include "common/PausedWalk.hpp"
#include "common/ToolMain.hpp"

namespace {

struct TaskRow {
    const vmi::LinuxTask& task;
    vmi::LinuxKernel& kernel;
};

using vmi::Align;

vmi::Cell number(std::int64_t value) { return value; }
vmi::Cell text(const std::string& value) { return value; }

const vmi::ColumnTable<TaskRow>& columns()
{
    using vmi::optional_cell;
    static const vmi::ColumnTable<TaskRow> table(
        {
            {"pid", "PID", Align::Right, "process id (the thread group's), as ps shows it",
             [](const TaskRow& r) { return optional_cell(std::optional(r.task.pid), r.task.bad("pid"), number); }},
            {"tid", "TID", Align::Right, "thread id",
             [](const TaskRow& r) { return optional_cell(std::optional(r.task.tid), r.task.bad("tid"), number); }},
            {"ppid",
             "PPID",
             Align::Right,
             "parent's process id",
             [](const TaskRow& r) { return optional_cell(r.task.ppid, r.task.bad("ppid"), number); },
             {"linux_parent"}},
            {"uid",
             "UID",
             Align::Right,
             "effective user id",
             [](const TaskRow& r) {
                 return optional_cell(r.task.uid, r.task.bad("uid"), [](std::uint32_t v) { return number(v); });
             },
             {"linux_cred", "linux_cred_uid"}},
            {"gid",
             "GID",
             Align::Right,
             "effective group id",
             [](const TaskRow& r) {
                 return optional_cell(r.task.gid, r.task.bad("gid"), [](std::uint32_t v) { return number(v); });
             },
             {"linux_cred", "linux_cred_gid"}},
            {"state",
             "STATE",
             Align::Left,
             "state letter, as ps shows it (R S D T t X Z P I)",
             [](const TaskRow& r) {
                 return optional_cell(r.task.state, r.task.bad("state"),
                                      [](char c) { return text(std::string(1, c)); });
             },
             {"linux_state", "linux_exit_state"}},
            {"name", "NAME", Align::Left, "name as procfs shows it (a kernel thread's full name, a worker's workqueue)",
             [](const TaskRow& r) { return optional_cell(std::optional(r.task.name), r.task.bad("name"), text); }},
            {"comm", "COMM", Align::Left, "task_struct.comm, at most 15 bytes",
             [](const TaskRow& r) { return optional_cell(std::optional(r.task.comm), r.task.bad("comm"), text); }},
            {"kernel_thread",
             "KTHREAD",
             Align::Left,
             "whether it is a kernel thread",
             [](const TaskRow& r) {
                 return optional_cell(r.task.kernel_thread, r.task.bad("kernel_thread"),
                                      [](bool b) { return vmi::Cell(b); });
             },
             {"linux_flags"}},
            {"task", "TASK", Align::Left, "address of its task_struct",
             [](const TaskRow& r) { return vmi::Cell(vmi::Address{r.task.address}); }},
            {"dtb",
             "DTB",
             Align::Left,
             "physical address of its page tables (none for kernel threads)",
             [](const TaskRow& r) {
                 if (r.task.bad("dtb")) return vmi::Cell(vmi::Unreadable{});
                 return r.task.dtb ? vmi::Cell(vmi::Address{*r.task.dtb}) : vmi::Cell(std::monostate{});
             },
             {"linux_mm", "linux_pgd"}},
            {"cmd",
             "CMD",
             Align::Left,
             "command line, read through the process's own page tables",
             [](const TaskRow& r) { return optional_cell(r.kernel.command_line(r.task), false, text); },
             {"linux_mm", "linux_pgd", "linux_mm_arg_start", "linux_mm_arg_end"}},
        },
        "pid,ppid,uid,state,name",
        // Every column but the costly cmd.
        "pid,tid,ppid,uid,gid,state,name,comm,kernel_thread,task,dtb");
    return table;
}

struct PsOptions {
    vmi::GuestOptions guest;
    vmi::TableOptions table;
    bool threads = false;
    std::vector<std::int64_t> pids;
    vmi::PauseOptions pause;
    bool check = false;
    vmi::ProcessCheckOptions check_options;
};

// Only the processes asked for; a pid that is not there is a problem.
void keep_pids(std::vector<vmi::LinuxTask>& tasks, const std::vector<std::int64_t>& pids,
               std::vector<std::string>& problems)
{
    if (pids.empty()) return;
    std::set<std::int64_t> wanted(pids.begin(), pids.end());
    std::erase_if(tasks, [&](const vmi::LinuxTask& t) { return !wanted.contains(t.pid); });
    for (std::int64_t pid : pids)
        if (std::none_of(tasks.begin(), tasks.end(), [&](const auto& t) { return t.pid == pid; }))
            problems.push_back(fmt::format("no process with pid {}", pid));
}

int run(PsOptions& options)
{
    if (options.pause.resume_abandoned) return vmi::run_resume_abandoned(options.guest, options.pause);
    if (options.check) {
        if (options.threads || !options.pids.empty())
            vmi::fail("--threads and --pid do not go with --check (it compares every task, threads included)");
        options.check_options.pause = options.pause;
        return vmi::run_process_check(options.guest, options.table, options.check_options);
    }
    if (options.check_options.all || options.check_options.no_scan || options.check_options.all_domains ||
        !options.check_options.guest_ps.empty() || options.check_options.agent || options.check_options.outlets.given())
        vmi::fail("--all, --no-scan, --all-domains, --guest-ps, --agent, --prometheus and --journal go with --check");
    vmi::OutputFormat format = options.guest.format();
    std::string_view list = options.table.columns;
    if (list.empty() && options.threads && format == vmi::OutputFormat::Text) list = "pid,tid,ppid,uid,state,name";
    auto chosen = columns().select(list, format);
    vmi::Guest guest(options.guest);
    vmi::LinuxKernel& kernel = guest.kernel();
    kernel.attach(); // the layout first, to say which columns it lacks
    vmi::warn_unavailable_columns(chosen, [&](const auto& column) { return kernel.layout().missing(column.needs); });
    std::vector<std::string> problems;
    // The lists are walked, and command lines read, while the guest is paused.
    std::vector<std::vector<vmi::Cell>> rows = vmi::with_paused_walk(guest, options.pause, [&] {
        vmi::TaskListing listing = kernel.tasks({.threads = options.threads});
        for (vmi::WalkProblem& problem : listing.problems) problems.push_back(std::move(problem.message));
        std::sort(listing.tasks.begin(), listing.tasks.end(),
                  [](const auto& a, const auto& b) { return std::tie(a.pid, a.tid) < std::tie(b.pid, b.tid); });
        keep_pids(listing.tasks, options.pids, problems);
        std::vector<std::vector<vmi::Cell>> cells;
        for (const vmi::LinuxTask& task : listing.tasks) cells.push_back(columns().cells(chosen, {task, kernel}));
        return cells;
    });
    // Printing happens after the guest runs again.
    vmi::print_output(
        vmi::render_table(columns().headings(chosen), rows, {format, !options.table.no_headers, options.table.raw}));
    for (const std::string& problem : problems) vmi::report_problem(problem);
    return vmi::EXIT_OK;
}

} // namespace

int main(int argc, char** argv)
{
    PsOptions options;
    return vmi::run_tool(
        "vmi-ps", "List a guest's processes from outside the guest.", argc, argv,
        [&](CLI::App& app) {
            vmi::add_guest_options(app, options.guest);
            vmi::add_table_options(app, options.table, columns());
            app.add_flag("--threads", options.threads, "List every thread, not only each process's leader");
            app.add_option("--pid", options.pids, "Only this process (repeatable)");
            vmi::add_pause_options(app, options.pause, /*offer_no_pause=*/true);
            vmi::add_resume_abandoned_option(app, options.pause);
            app.add_flag("--check", options.check,
                         fmt::format("Cross-view check: compare the task list, the PID table, the children lists, the "
                                     "thread groups, the runqueues and a scan of RAM (and --guest-ps or --agent); "
                                     "print the processes some view hides, exit 1 if there are any (columns: {})",
                                     vmi::process_check_column_ids()));
            app.add_flag("--all", options.check_options.all, "With --check: every task, one column per view");
            app.add_flag("--all-domains", options.check_options.all_domains,
                         "With --check: every running VM of the host (libvirt domains of --uri, KubeVirt, Proxmox and "
                         "Xen VMs, QEMUs no manager owns; --backend picks one kind), one JSON line "
                         "each ({domain, manager, "
                         "tasks, warnings, problems, exit} or {domain, error, exit}); exit 1 if any has a finding");
            vmi::add_check_outlet_options(app, options.check_options.outlets);
            app.add_flag("--no-scan", options.check_options.no_scan,
                         "With --check: skip the scan of guest RAM for task_structs (the longest part of a check; a "
                         "live guest runs during it, before the pause)");
            app.add_option("--guest-ps", options.check_options.guest_ps,
                           "With --check: the guest's own process list (ps -e -o pid=,comm= or the numeric "
                           "names in /proc), a file or - for stdin")
                ->type_name("FILE");
            app.add_flag("--agent", options.check_options.agent,
                         "With --check, on libvirt domains and Proxmox VMs: ask the guest's qemu-guest-agent for "
                         "its own process list (guest-exec of /bin/sh listing /proc, at most 15 s), as --guest-ps "
                         "would give it");
        },
        [&] { return run(options); });
}

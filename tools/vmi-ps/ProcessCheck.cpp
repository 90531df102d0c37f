#include "ProcessCheck.hpp"

#include "AgentProcessList.hpp"

#include <algorithm>
#include <fstream>
#include <iostream>

#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "common/AllDomains.hpp"
#include "common/CrossViewColumns.hpp"
#include "common/PausedWalk.hpp"
#include "common/ToolMain.hpp"
#include "vmi/base/Diagnostics.hpp"

namespace vmi {
namespace {

using CheckRow = CrossViewLine<LinuxTask>;

const ColumnTable<CheckRow>& check_columns()
{
    static const ColumnTable<CheckRow> table = [] {
        std::vector<Column<CheckRow>> columns{
            {"pid", "PID", Align::Right, "process id", [](const CheckRow& r) { return Cell(r.entry.object.pid); }},
            {"tid", "TID", Align::Right, "thread id", [](const CheckRow& r) { return Cell(r.entry.object.tid); }},
            {"name", "NAME", Align::Left, "name as procfs shows it",
             [](const CheckRow& r) { return Cell(r.entry.object.name); }},
            {"task", "TASK", Align::Left, "address of its task_struct",
             [](const CheckRow& r) { return Cell(Address{r.entry.object.address}); }},
            {"hidden", "HIDDEN", Align::Left, "whether a view that must list it does not",
             [](const CheckRow& r) { return Cell(r.entry.hidden); }},
        };
        for (Column<CheckRow>& view : view_columns<LinuxTask>(task_view_rows())) columns.push_back(std::move(view));
        for (Column<CheckRow>& verdict :
             verdict_columns<LinuxTask>("the views that list it", "the views that must list it and do not"))
            columns.push_back(std::move(verdict));
        return ColumnTable<CheckRow>(std::move(columns), "pid,tid,name,seen_by,missed_by,meaning");
    }();
    return table;
}

std::vector<GuestProcess> read_guest_list(const std::string& path)
{
    if (path == "-") return parse_guest_process_list(std::cin);
    std::ifstream in(path);
    if (!in) fail("--guest-ps: cannot open '{}'", path);
    return parse_guest_process_list(in);
}

} // namespace

namespace {

// Attaches, asks the guest agent for the guest's own list (--agent), then
// pauses the guest once and walks every view.
TaskCrossView check_one(const GuestOptions& guest_options, const ProcessCheckOptions& options,
                        std::optional<std::vector<GuestProcess>> guest_list)
{
    Guest guest(guest_options);
    LinuxKernel& kernel = guest.kernel();
    kernel.attach();
    // Right before the pause: what starts or ends in between is told apart by
    // the cross-view (started after the list, or in the list and ended).
    if (options.agent) guest_list = agent_process_list(guest.session());
    // The scan of all RAM runs first, with a live guest running, so that the
    // pause does not grow with RAM; paused, only what it found is read again.
    std::optional<TaskScanCandidates> scanned;
    if (!options.no_scan && guest.memory().live() && !options.pause.no_pause) scanned = kernel.scan_for_tasks();
    // One pause for every view, so that they describe the same moment (-v:
    // the memory source says how long it was paused).
    return with_paused_walk(guest, options.pause, [&] {
        return kernel.check_tasks(guest_list, !options.no_scan, 1 << 22, scanned ? &*scanned : nullptr);
    });
}

int exit_status(const TaskCrossView& check)
{
    if (check.found_hidden()) return EXIT_FOUND;
    return check.problems.empty() ? EXIT_OK : EXIT_ERROR;
}

// The outcome for --prometheus and the journal: each hidden task a finding,
// each problem an error.
CheckStatus check_status(const TaskCrossView& check)
{
    CheckStatus status{exit_status(check), 0, check.problems.size(), {}};
    for (const CrossViewTask& entry : check.entries) {
        if (!entry.hidden) continue;
        ++status.findings;
        const LinuxTask& task = entry.object;
        status.journal.push_back(
            {JOURNAL_PRIORITY_FINDING,
             JOURNAL_HIDDEN_PROCESS,
             fmt::format("hidden process {} ({}), tid {}: {}", task.pid, task.name, task.tid, entry.meaning),
             {{"VMI_PID", std::to_string(task.pid)},
              {"VMI_TID", std::to_string(task.tid)},
              {"VMI_COMM", task.name},
              {"VMI_MISSED_BY", fmt::format("{}", fmt::join(entry.missed_by, ","))}}});
    }
    for (const WalkProblem& problem : check.problems)
        status.journal.push_back({JOURNAL_PRIORITY_ERROR, JOURNAL_CHECK_ERROR, problem.message, {}});
    return status;
}

// --all-domains: per domain its hidden tasks (every task with --all).
int check_every_domain(const GuestOptions& guest_options, const TableOptions& table, const ProcessCheckOptions& options)
{
    auto chosen = check_columns().select(table.columns, OutputFormat::Json);
    CheckOutlets outlets(options.outlets, "processes");
    return check_all_domains(guest_options, outlets, [&](const GuestOptions& one) {
        TaskCrossView check = check_one(one, options, std::nullopt);
        std::vector<std::vector<Cell>> rows;
        for (const CrossViewTask& entry : check.entries)
            if (options.all || entry.hidden) rows.push_back(check_columns().cells(chosen, {entry, check}));
        nlohmann::json fields{{"tasks", table_json(check_columns().headings(chosen), rows)},
                              {"warnings", check.warnings},
                              {"problems", check.problem_messages()}};
        return DomainCheck{std::move(fields), check_status(check)};
    });
}

} // namespace

std::string process_check_column_ids() { return check_columns().ids(); }

int run_process_check(const GuestOptions& guest_options, const TableOptions& table, const ProcessCheckOptions& options)
{
    if (!options.guest_ps.empty() && options.agent)
        fail("--guest-ps and --agent both give the guest's own list: choose one");
    if (options.all_domains) {
        if (!options.guest_ps.empty()) fail("--guest-ps is one guest's list: it does not go with --all-domains");
        return check_every_domain(guest_options, table, options);
    }
    OutputFormat format = guest_options.format();
    std::string list = table.columns;
    bool guest_view = !options.guest_ps.empty() || options.agent;
    if (list.empty() && options.all && format == OutputFormat::Text)
        list = fmt::format("pid,tid,name,{},meaning", all_view_ids(task_view_rows(), guest_view ? "" : "guest"));
    auto chosen = check_columns().select(list, format);
    std::optional<std::vector<GuestProcess>> guest_list;
    if (!options.guest_ps.empty()) guest_list = read_guest_list(options.guest_ps);

    CheckOutlets outlets(options.outlets, "processes");
    TaskCrossView check;
    outlets.measure(domain_label(guest_options), [&] {
        check = check_one(guest_options, options, guest_list);
        return check_status(check);
    });
    std::vector<std::vector<Cell>> rows;
    for (const CrossViewTask& entry : check.entries)
        if (options.all || entry.hidden) rows.push_back(check_columns().cells(chosen, {entry, check}));
    if (!rows.empty() || format != OutputFormat::Text)
        print_output(render_table(check_columns().headings(chosen), rows, {format, !table.no_headers, table.raw}));
    for (const std::string& warning : check.warnings) diag::warn("{}", warning);
    // A view that could not be walked whole makes the check fail (exit 2, in JSON
    // the error object naming it) unless another view found something hidden.
    int status = exit_status(check);
    for (const WalkProblem& problem : check.problems) {
        if (status == EXIT_ERROR) report_problem(problem.message);
        else diag::warn("{}", problem.message);
    }
    return status;
}

} // namespace vmi

#include "ModuleCheck.hpp"

#include <fmt/ranges.h>

#include <nlohmann/json.hpp>

#include "common/AllDomains.hpp"
#include "common/CrossViewColumns.hpp"
#include "common/PausedWalk.hpp"
#include "common/ToolMain.hpp"
#include "vmi/base/Diagnostics.hpp"

namespace vmi {
namespace {

using CheckRow = CrossViewLine<LinuxModule>;

const ColumnTable<CheckRow>& check_columns()
{
    static const ColumnTable<CheckRow> table = [] {
        std::vector<Column<CheckRow>> columns{
            {"name", "NAME", Align::Left, "module name", [](const CheckRow& r) { return Cell(r.entry.object.name); }},
            {"module", "MODULE", Align::Left, "address of its struct module",
             [](const CheckRow& r) { return Cell(Address{r.entry.object.address}); }},
            {"state", "STATE", Align::Left, "Live, Loading or Unloading",
             [](const CheckRow& r) {
                 return optional_cell(r.entry.object.state, r.entry.object.bad("state"),
                                      [](const std::string& s) { return Cell(s); });
             }},
            {"hidden", "HIDDEN", Align::Left, "whether a view that must hold it does not",
             [](const CheckRow& r) { return Cell(r.entry.hidden); }},
        };
        for (Column<CheckRow>& view : view_columns<LinuxModule>(module_view_rows())) columns.push_back(std::move(view));
        for (Column<CheckRow>& verdict :
             verdict_columns<LinuxModule>("the views that hold it", "the views that must hold it and do not"))
            columns.push_back(std::move(verdict));
        return ColumnTable<CheckRow>(std::move(columns), "name,seen_by,missed_by,meaning");
    }();
    return table;
}

// As in vmi-ps --check: a view not walked whole fails the check unless
// another view found something hidden.
CheckStatus check_status(const ModuleCrossView& check)
{
    int exit = check.found_hidden() ? EXIT_FOUND : check.problems.empty() ? EXIT_OK : EXIT_ERROR;
    CheckStatus status{exit, 0, check.problems.size(), {}};
    for (const CrossViewModule& entry : check.entries) {
        if (!entry.hidden) continue;
        ++status.findings;
        status.journal.push_back({JOURNAL_PRIORITY_FINDING,
                                  JOURNAL_HIDDEN_MODULE,
                                  fmt::format("hidden module {}: {}", entry.object.name, entry.meaning),
                                  {{"VMI_MODULE", entry.object.name},
                                   {"VMI_MISSED_BY", fmt::format("{}", fmt::join(entry.missed_by, ","))}}});
    }
    for (const WalkProblem& problem : check.problems)
        status.journal.push_back({JOURNAL_PRIORITY_ERROR, JOURNAL_CHECK_ERROR, problem.message, {}});
    return status;
}

ModuleCrossView check_one(const GuestOptions& guest_options, const PauseOptions& pause_options)
{
    Guest guest(guest_options);
    return with_paused_walk(guest, pause_options, [&] { return guest.kernel().check_modules(); });
}

std::vector<std::vector<Cell>> rows_of(const ModuleCrossView& check, const std::vector<const Column<CheckRow>*>& chosen,
                                       bool all)
{
    std::vector<std::vector<Cell>> rows;
    for (const CrossViewModule& entry : check.entries)
        if (all || entry.hidden) rows.push_back(check_columns().cells(chosen, {entry, check}));
    return rows;
}

} // namespace

std::string module_check_column_ids() { return check_columns().ids(); }

int run_module_check(const GuestOptions& guest_options, const TableOptions& table, const ModuleCheckOptions& options)
{
    CheckOutlets outlets(options.outlets, "modules");
    if (options.all_domains) {
        auto chosen = check_columns().select(table.columns, OutputFormat::Json);
        return check_all_domains(guest_options, outlets, [&](const GuestOptions& one) {
            ModuleCrossView check = check_one(one, options.pause);
            nlohmann::json fields{
                {"modules", table_json(check_columns().headings(chosen), rows_of(check, chosen, options.all))},
                {"problems", check.problem_messages()}};
            return DomainCheck{std::move(fields), check_status(check)};
        });
    }
    OutputFormat format = guest_options.format();
    std::string list = table.columns;
    if (list.empty() && options.all && format == OutputFormat::Text)
        list = fmt::format("name,state,{},meaning", all_view_ids(module_view_rows()));
    auto chosen = check_columns().select(list, format);
    ModuleCrossView check;
    CheckStatus result = outlets.measure(domain_label(guest_options), [&] {
        check = check_one(guest_options, options.pause);
        return check_status(check);
    });
    std::vector<std::vector<Cell>> rows = rows_of(check, chosen, options.all);
    if (!rows.empty() || format != OutputFormat::Text)
        print_output(render_table(check_columns().headings(chosen), rows, {format, !table.no_headers, table.raw}));
    int status = result.exit;
    for (const WalkProblem& problem : check.problems) {
        if (status == EXIT_ERROR) report_problem(problem.message);
        else diag::warn("{}", problem.message);
    }
    return status;
}

} // namespace vmi

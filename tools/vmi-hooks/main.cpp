// vmi-hooks: list the guest kernel's hook points from outside (where each
// system-call table slot and each branch of the system-call dispatch sends
// the kernel, and who owns that code), and with --check print only what a
// rootkit changed.
#include <algorithm>
#include <set>

#include "common/AllDomains.hpp"
#include "common/ColumnTable.hpp"
#include "common/Guest.hpp"
#include "common/PauseOptions.hpp"
#include "common/PausedWalk.hpp"
#include "common/ToolMain.hpp"
#include "vmi/base/Diagnostics.hpp"

namespace {

using vmi::Align;
using vmi::Cell;
using vmi::KernelHook;

const vmi::ColumnTable<KernelHook>& columns()
{
    static const vmi::ColumnTable<KernelHook> table(
        {
            {"kind", "KIND", Align::Left, "syscall_table, syscall_dispatch, ftrace, kprobe, tracepoint or kthread",
             [](const KernelHook& h) { return Cell(std::string(vmi::hook_kind_name(h.kind))); }},
            {"hooked", "HOOKED", Align::Left,
             "the hook point: a table slot, a dispatch branch, the functions an ftrace_ops is attached to, the "
             "probed function or tracepoint, a kernel thread's name",
             [](const KernelHook& h) { return Cell(h.hooked); }},
            {"target", "TARGET", Align::Left, "where it sends the kernel",
             [](const KernelHook& h) { return h.target ? Cell(vmi::Address{h.target}) : Cell(std::monostate{}); }},
            {"target_symbol", "TARGET-SYMBOL", Align::Left, "the code there: SYMBOL, SYMBOL+0xOFF or MODULE+0xOFF",
             [](const KernelHook& h) {
                 return h.target_symbol.empty() ? Cell(std::monostate{}) : Cell(h.target_symbol);
             }},
            {"owner", "OWNER", Align::Left, "who owns that code: core (the kernel's text), a module, or none",
             [](const KernelHook& h) {
                 std::string owner = h.owner.name();
                 return owner.empty() ? Cell(std::monostate{}) : Cell(owner);
             }},
            {"owner_hidden", "HIDDEN", Align::Left, "whether the owning module is hidden from the module list",
             [](const KernelHook& h) { return Cell(h.owner.hidden); }},
            {"finding", "FINDING", Align::Left, "whether this is a finding (a hook a rootkit set)",
             [](const KernelHook& h) { return Cell(h.finding); }},
            {"object", "OBJECT", Align::Left,
             "the structure that holds the hook (ftrace_ops, kprobe, tracepoint, task_struct)",
             [](const KernelHook& h) { return h.object ? Cell(vmi::Address{h.object}) : Cell(std::monostate{}); }},
            {"pid", "PID", Align::Right, "kthread: the thread's pid",
             [](const KernelHook& h) { return h.pid ? Cell(*h.pid) : Cell(std::monostate{}); }},
            {"flags", "FLAGS", Align::Left,
             "ftrace: IPMODIFY (may redirect), SAVE_REGS, DIRECT, ENABLED; kprobe, tracepoint: the handler's role",
             [](const KernelHook& h) { return Cell(h.flags); }},
            {"attached", "ATTACHED", Align::Left, "ftrace: the functions it is attached to (none listed: every one)",
             [](const KernelHook& h) { return Cell(h.attached); }},
            {"meaning", "MEANING", Align::Left, "what it means", [](const KernelHook& h) { return Cell(h.meaning); }},
        },
        "kind,hooked,target_symbol,owner,finding");
    return table;
}

struct HooksOptions {
    vmi::GuestOptions guest;
    vmi::TableOptions table;
    vmi::PauseOptions pause;
    bool check = false;
    bool all = false;
    bool all_domains = false;
    std::vector<std::string> allow;
    vmi::CheckOutletOptions outlets;
};

// The walk, with --allow applied: a listed module the admin named keeps its
// rows, as findings no more. A hidden module's never leave the findings.
vmi::KernelHookReport walk(vmi::Guest& guest, const HooksOptions& options)
{
    // The whole symbol table names every target; it does not change while the
    // guest runs, so it is decoded and indexed by address before the pause.
    guest.kernel().attach();
    guest.kernel().symbols().index_addresses();
    vmi::KernelHookReport report = vmi::with_paused_walk(guest, options.pause, [&] { return guest.kernel().hooks(); });
    std::set<std::string, std::less<>> allowed(options.allow.begin(), options.allow.end());
    for (KernelHook& hook : report.hooks)
        if (hook.finding && hook.owner.kind == vmi::CodeOwner::Kind::module && !hook.owner.hidden &&
            allowed.contains(hook.owner.module)) {
            hook.finding = false;
            hook.meaning += " (allowed: --allow " + hook.owner.module + ")";
        }
    return report;
}

// Hook points this kernel should have that could not be checked (unknown
// symbols or offsets), as warning lines.
std::vector<std::string> unchecked_points(const vmi::KernelHookReport& report)
{
    std::vector<std::string> lines;
    for (const vmi::HookPoint& point : report.points)
        if (!point.available && !point.absent) lines.push_back(point.name + " not checked: " + point.unavailable);
    return lines;
}

// As the cross views: something found is exit 1; else a walk that broke off
// fails the check.
vmi::CheckStatus check_status(const vmi::KernelHookReport& report)
{
    int exit = report.found() ? vmi::EXIT_FOUND : report.problems.empty() ? vmi::EXIT_OK : vmi::EXIT_ERROR;
    vmi::CheckStatus status{exit, 0, report.problems.size(), {}};
    for (const KernelHook& hook : report.hooks) {
        if (!hook.finding) continue;
        ++status.findings;
        std::string target = hook.target_symbol.empty() ? fmt::format("{:#x}", hook.target) : hook.target_symbol;
        std::vector<std::pair<std::string, std::string>> fields{
            {"VMI_HOOK_KIND", std::string(vmi::hook_kind_name(hook.kind))},
            {"VMI_HOOKED", hook.hooked},
            {"VMI_TARGET", fmt::format("{:#x}", hook.target)},
            {"VMI_TARGET_SYMBOL", hook.target_symbol},
            {"VMI_OWNER", hook.owner.kind == vmi::CodeOwner::Kind::none ? "none" : hook.owner.name()},
            {"VMI_OWNER_HIDDEN", hook.owner.hidden ? "1" : "0"}};
        if (hook.owner.kind == vmi::CodeOwner::Kind::module) fields.emplace_back("VMI_MODULE", hook.owner.module);
        if (hook.pid) fields.emplace_back("VMI_PID", std::to_string(*hook.pid));
        status.journal.push_back({vmi::JOURNAL_PRIORITY_FINDING, vmi::JOURNAL_KERNEL_HOOK,
                                  fmt::format("kernel hook {} {} -> {}: {}", vmi::hook_kind_name(hook.kind),
                                              hook.hooked, target, hook.meaning),
                                  std::move(fields)});
    }
    for (const std::string& problem : report.problems)
        status.journal.push_back({vmi::JOURNAL_PRIORITY_ERROR, vmi::JOURNAL_CHECK_ERROR, problem, {}});
    return status;
}

std::vector<std::vector<Cell>> rows_of(const vmi::KernelHookReport& report,
                                       const std::vector<const vmi::Column<KernelHook>*>& chosen, bool findings_only)
{
    std::vector<std::vector<Cell>> rows;
    for (const KernelHook& hook : report.hooks)
        if (!findings_only || hook.finding) rows.push_back(columns().cells(chosen, hook));
    return rows;
}

int run(const HooksOptions& options)
{
    if (options.pause.resume_abandoned) return vmi::run_resume_abandoned(options.guest, options.pause);
    if ((options.all || options.all_domains || options.outlets.given()) && !options.check)
        vmi::fail("--all, --all-domains, --prometheus and --journal go with --check");
    bool findings_only = options.check && !options.all;
    vmi::CheckOutlets outlets(options.outlets, "hooks");
    if (options.all_domains) {
        auto chosen = columns().select(options.table.columns, vmi::OutputFormat::Json);
        return vmi::check_all_domains(options.guest, outlets, [&](const vmi::GuestOptions& one) {
            vmi::Guest guest(one);
            vmi::KernelHookReport report = walk(guest, options);
            nlohmann::json fields{
                {"hooks", vmi::table_json(columns().headings(chosen), rows_of(report, chosen, findings_only))},
                {"warnings", unchecked_points(report)},
                {"problems", report.problems}};
            return vmi::DomainCheck{std::move(fields), check_status(report)};
        });
    }
    vmi::OutputFormat format = options.guest.format();
    std::string list = options.table.columns;
    if (list.empty() && options.check && format == vmi::OutputFormat::Text)
        list = options.all ? "kind,hooked,target_symbol,owner,finding,meaning"
                           : "kind,hooked,target,target_symbol,"
                             "owner,meaning";
    auto chosen = columns().select(list, format);
    vmi::KernelHookReport report;
    auto walk_one = [&] {
        vmi::Guest guest(options.guest);
        report = walk(guest, options);
        return check_status(report);
    };
    int status = vmi::EXIT_OK;
    if (options.check) status = outlets.measure(vmi::domain_label(options.guest), walk_one).exit;
    else walk_one();
    std::vector<std::vector<Cell>> rows = rows_of(report, chosen, findings_only);
    if (!rows.empty() || format != vmi::OutputFormat::Text || !options.check)
        vmi::print_output(vmi::render_table(columns().headings(chosen), rows,
                                            {format, !options.table.no_headers, options.table.raw}));
    for (const std::string& line : unchecked_points(report)) vmi::diag::warn("{}", line);
    for (const std::string& problem : report.problems) {
        if (status == vmi::EXIT_ERROR) vmi::report_problem(problem);
        else vmi::diag::warn("{}", problem);
    }
    return status;
}

} // namespace

int main(int argc, char** argv)
{
    HooksOptions options;
    return vmi::run_tool(
        "vmi-hooks", "List a guest kernel's hook points from outside the guest, and find the ones a rootkit set.", argc,
        argv,
        [&](CLI::App& app) {
            vmi::add_guest_options(app, options.guest);
            vmi::add_table_options(app, options.table, columns());
            vmi::add_pause_options(app, options.pause, /*offer_no_pause=*/true);
            vmi::add_resume_abandoned_option(app, options.pause);
            app.add_flag("--check", options.check,
                         "Print only the findings (a system-call slot or dispatch branch that misses the kernel's "
                         "system-call functions; an ftrace callback, kprobe handler, tracepoint probe or kernel thread "
                         "of a hidden module or of no module; an IPMODIFY ftrace callback outside the kernel's text; "
                         "a fake kworker), exit 1 if there are any");
            app.add_flag("--all", options.all, "With --check: every hook point's rows, findings or not");
            app.add_flag("--all-domains", options.all_domains,
                         "With --check: check every running VM of the host (libvirt domains of --uri, KubeVirt, "
                         "Proxmox and Xen VMs, QEMUs no manager owns; --backend picks one kind), one JSON "
                         "object a line");
            app.add_option("--allow", options.allow,
                           "A listed module whose hooks the admin knows: its rows are no findings (repeatable; a "
                           "hidden module's always are)")
                ->allow_extra_args(false);
            vmi::add_check_outlet_options(app, options.outlets);
        },
        [&] { return run(options); });
}

// vmi-lsmod: list a guest's kernel modules from outside, as lsmod would
// inside (the paper's Table 2 experiment).
#include "ModuleCheck.hpp"
#include "common/CheckOutlets.hpp"
#include "common/ColumnTable.hpp"
#include "common/Guest.hpp"
#include "common/PauseOptions.hpp"
#include "common/PausedWalk.hpp"
#include "common/ToolMain.hpp"

namespace {

using vmi::Align;
using vmi::LinuxModule;

const vmi::ColumnTable<LinuxModule>& columns()
{
    using vmi::optional_cell;
    auto number = [](auto value) { return vmi::Cell(value); };
    static const vmi::ColumnTable<LinuxModule> table(
        {
            {"name", "NAME", Align::Left, "module name",
             [](const LinuxModule& m) { return m.bad("name") ? vmi::Cell(vmi::Unreadable{}) : vmi::Cell(m.name); }},
            {"size",
             "SIZE",
             Align::Right,
             "size in bytes, as /proc/modules adds it up",
             [=](const LinuxModule& m) { return optional_cell(m.size, m.bad("size"), number); },
             {"linux_module_core_size", "linux_module_init_size"}},
            {"refcount",
             "REFCOUNT",
             Align::Right,
             "reference count (lsmod's \"Used by\" number)",
             [=](const LinuxModule& m) { return optional_cell(m.refcount, m.bad("refcount"), number); },
             {"linux_module_refcnt"}},
            {"used_by",
             "USED_BY",
             Align::Left,
             "modules that use it",
             [=](const LinuxModule& m) { return optional_cell(m.used_by, m.bad("used_by"), number); },
             {"linux_module_source_list", "linux_module_use_source_list", "linux_module_use_source"}},
            {"state",
             "STATE",
             Align::Left,
             "Live, Loading or Unloading",
             [=](const LinuxModule& m) { return optional_cell(m.state, m.bad("state"), number); },
             {"linux_module_state"}},
            {"address",
             "ADDRESS",
             Align::Left,
             "where its code starts",
             [](const LinuxModule& m) {
                 return optional_cell(m.base, m.bad("address"),
                                      [](std::uint64_t a) { return vmi::Cell(vmi::Address{a}); });
             },
             {"linux_module_core_base"}},
            {"module", "MODULE", Align::Left, "address of its struct module",
             [](const LinuxModule& m) { return vmi::Cell(vmi::Address{m.address}); }},
        },
        "name,size,refcount,used_by,address");
    return table;
}

struct LsmodOptions {
    vmi::GuestOptions guest;
    vmi::TableOptions table;
    vmi::PauseOptions pause;
    bool check = false;
    vmi::ModuleCheckOptions check_options;
};

int run(LsmodOptions& options)
{
    if (options.pause.resume_abandoned) return vmi::run_resume_abandoned(options.guest, options.pause);
    if (options.check) {
        options.check_options.pause = options.pause;
        return vmi::run_module_check(options.guest, options.table, options.check_options);
    }
    if (options.check_options.all || options.check_options.all_domains || options.check_options.outlets.given())
        vmi::fail("--all, --all-domains, --prometheus and --journal go with --check");
    vmi::OutputFormat format = options.guest.format();
    auto chosen = columns().select(options.table.columns, format);
    vmi::Guest guest(options.guest);
    guest.kernel().attach(); // the layout first, to say which columns it lacks
    vmi::warn_unavailable_columns(chosen, [&](const auto& column) {
        const vmi::LinuxLayout& layout = guest.kernel().layout();
        // The sizes come from core_layout's keys or from BTF's module.mem[] (6.4+).
        if (column.id == "size")
            return layout.module_size_offsets().empty() ? column.needs : std::vector<std::string_view>{};
        return layout.missing(column.needs);
    });
    vmi::ModuleListing listing = vmi::with_paused_walk(guest, options.pause, [&] { return guest.kernel().modules(); });
    std::vector<std::vector<vmi::Cell>> rows;
    for (const LinuxModule& module : listing.modules) rows.push_back(columns().cells(chosen, module));
    vmi::print_output(
        vmi::render_table(columns().headings(chosen), rows, {format, !options.table.no_headers, options.table.raw}));
    for (const vmi::WalkProblem& problem : listing.problems) vmi::report_problem(problem.message);
    return vmi::EXIT_OK;
}

} // namespace

int main(int argc, char** argv)
{
    LsmodOptions options;
    return vmi::run_tool(
        "vmi-lsmod", "List a guest's kernel modules from outside the guest.", argc, argv,
        [&](CLI::App& app) {
            vmi::add_guest_options(app, options.guest);
            vmi::add_table_options(app, options.table, columns());
            vmi::add_pause_options(app, options.pause, /*offer_no_pause=*/true);
            vmi::add_resume_abandoned_option(app, options.pause);
            app.add_flag("--check", options.check,
                         fmt::format("Cross-view check: compare the module list, sysfs (module_kset), the module "
                                     "tree (mod_tree) and a scan of the module area; print the modules some view "
                                     "hides, exit 1 if there are any (columns: {})",
                                     vmi::module_check_column_ids()));
            app.add_flag("--all", options.check_options.all, "With --check: every module, one column per view");
            app.add_flag("--all-domains", options.check_options.all_domains,
                         "With --check: every running VM of the host (libvirt domains of --uri, KubeVirt, Proxmox and "
                         "Xen VMs, QEMUs no manager owns; --backend picks one kind), one JSON line "
                         "each ({domain, manager, "
                         "modules, problems, exit} or {domain, error, exit}); exit 1 if any has a finding");
            vmi::add_check_outlet_options(app, options.check_options.outlets);
        },
        [&] { return run(options); });
}

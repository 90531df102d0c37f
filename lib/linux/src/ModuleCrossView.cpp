#include "vmi/linux/ModuleCrossView.hpp"

#include <algorithm>

#include <fmt/ranges.h>

#include "ViewNames.hpp"

namespace vmi {
namespace {

std::string gap_meaning(std::string_view view)
{
    if (view == "modules") return "unlinked from the module list (hidden from lsmod and /proc/modules)";
    if (view == "sysfs") return "its kobject removed from sysfs (no /sys/module entry)";
    if (view == "mod_tree") return "removed from the module tree";
    return fmt::format("missing from {}", view);
}

} // namespace

bool ModuleCrossView::found_hidden() const
{
    return std::any_of(modules.begin(), modules.end(), [](const CrossViewModule& m) { return m.hidden; });
}

ModuleCrossView cross_view_modules(std::vector<ModuleView> views, LinuxModuleList& reader)
{
    ModuleCrossView out;
    std::unordered_set<std::uint64_t> all;
    for (ModuleView& view : views) {
        all.insert(view.modules.begin(), view.modules.end());
        for (std::string& problem : view.problems) out.problems.push_back(std::move(problem));
        view.problems.clear();
    }
    for (std::uint64_t address : all) {
        CrossViewModule entry;
        entry.module = reader.read(address);
        if (entry.module.bad("name")) {
            out.problems.push_back(fmt::format("module {:#x}: its name cannot be read", address));
            continue;
        }
        for (const ModuleView& view : views) {
            bool seen = view.modules.contains(address);
            entry.seen.push_back(seen);
            if (seen) entry.seen_by.push_back(view.id);
            // The scan finds what the lists lost; its missing a module says nothing.
            if (view.available && view.complete && !seen && view.id != "scan") entry.missed_by.push_back(view.id);
        }
        if (entry.missed_by.empty()) {
            // nothing to explain
        } else if (entry.module.state != "Live") {
            entry.meaning = "being loaded or unloaded: it joins and leaves the kernel's lists one by one";
        } else {
            entry.hidden = true;
            std::vector<std::string> why;
            for (const std::string& id : entry.missed_by) why.push_back(gap_meaning(id));
            entry.meaning = fmt::format("in {}, not in {}: {}", join_view_names(entry.seen_by, views),
                                        join_view_names(entry.missed_by, views), fmt::join(why, "; "));
            if (entry.seen_by == std::vector<std::string>{"scan"})
                entry.meaning = fmt::format("found only by a scan of the module area: {}", fmt::join(why, "; "));
        }
        out.modules.push_back(std::move(entry));
    }
    std::sort(out.modules.begin(), out.modules.end(), [](const CrossViewModule& a, const CrossViewModule& b) {
        return std::tie(a.module.name, a.module.address) < std::tie(b.module.name, b.module.address);
    });
    for (ModuleView& view : views) view.modules.clear();
    out.views = std::move(views);
    return out;
}

} // namespace vmi

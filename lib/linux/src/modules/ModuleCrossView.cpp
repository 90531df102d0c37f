#include "vmi/linux/ModuleCrossView.hpp"

#include <tuple>

#include <fmt/ranges.h>

namespace vmi {
namespace {

bool always(const ModuleFacts&) { return true; }

constexpr ViewRow<ModuleFacts> MODULE_VIEWS[] = {
    {"modules", "LIST", "the module list", "in the module list (modules)",
     "unlinked from the module list (hidden from lsmod and /proc/modules)", always},
    {"sysfs", "SYSFS", "sysfs (module_kset)", "in sysfs (module_kset)",
     "its kobject removed from sysfs (no /sys/module entry)", always},
    {"mod_tree", "MODTREE", "the module tree (mod_tree)", "in the module tree (mod_tree)",
     "removed from the module tree", always},
    // The scan finds what the lists lost; its missing a module says nothing.
    {"scan", "SCAN", "a scan of the module area", "found by a scan of the module area", "", nullptr},
};

// What compare_views needs to know of modules.
class ModuleKind {
public:
    using Object = LinuxModule;
    using Facts = ModuleFacts;

    explicit ModuleKind(LinuxModuleList& reader) : reader_(reader) {}

    std::span<const ViewRow<ModuleFacts>> rows() const { return module_view_rows(); }
    LinuxModule read(std::uint64_t address) { return reader_.read(address); }

    std::optional<std::string> unreadable(const LinuxModule& module, const std::vector<ObjectView>&) const
    {
        if (!module.bad("name")) return std::nullopt;
        return fmt::format("module {:#x}: its name cannot be read", module.address);
    }

    ModuleFacts facts(const LinuxModule&) const { return {}; }
    bool seen(const ObjectView& view, const LinuxModule& module) const { return view.objects.contains(module.address); }

    void explain(CrossViewModule& entry, const ModuleFacts&) const
    {
        if (entry.missed_by.empty()) return;
        if (entry.object.state != "Live") {
            entry.meaning = "being loaded or unloaded: it joins and leaves the kernel's lists one by one";
            return;
        }
        entry.hidden = true;
        std::vector<std::string> why;
        for (const std::string& id : entry.missed_by) why.emplace_back(find_view_row(rows(), id)->gap);
        entry.meaning = fmt::format("in {}, not in {}: {}", join_view_names(entry.seen_by, rows()),
                                    join_view_names(entry.missed_by, rows()), fmt::join(why, "; "));
        if (entry.seen_by == std::vector<std::string>{"scan"})
            entry.meaning = fmt::format("found only by a scan of the module area: {}", fmt::join(why, "; "));
    }

    void finish(ModuleCrossView&) const {}

    bool before(const LinuxModule& a, const LinuxModule& b) const
    {
        return std::tie(a.name, a.address) < std::tie(b.name, b.address);
    }

private:
    LinuxModuleList& reader_;
};

} // namespace

std::span<const ViewRow<ModuleFacts>> module_view_rows() { return MODULE_VIEWS; }

ModuleCrossView cross_view_modules(std::vector<ObjectView> views, LinuxModuleList& reader)
{
    ModuleKind kind(reader);
    return compare_views(kind, std::move(views));
}

} // namespace vmi

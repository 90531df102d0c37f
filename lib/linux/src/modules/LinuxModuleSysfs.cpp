// The sysfs view of modules: module_kset->list links the kobject of every
// /sys/module/NAME through kobject.entry. A loadable module's kobject is the
// one embedded in its struct module (module.mkobj.kobj), whose
// module_kobject.mod points back at the module; built-in modules with
// parameters have a kobject too, with mod NULL, and are skipped.
#include <fmt/ranges.h>

#include "vmi/base/Error.hpp"
#include "vmi/linux/KernelListWalk.hpp"
#include "vmi/linux/LinuxModuleViews.hpp"

namespace vmi {

ObjectView module_sysfs_view(AddressSpace& kernel, const LinuxLayout& layout, std::uint64_t module_kset,
                             std::size_t max_modules)
{
    ObjectView view("sysfs");
    LayoutPart<ModuleSysfsOffsets> part = layout.module_sysfs_offsets();
    if (!part.offsets || !module_kset) {
        return unavailable_view(view.id, part.offsets ? "no module_kset symbol" : missing_keys_text(part.missing));
    }
    const ModuleSysfsOffsets& o = *part.offsets;
    std::uint64_t entry_offset = o.kobject_entry;
    std::uint64_t mod_offset = o.kobject_mod;
    std::uint64_t mkobj_offset = o.module_mkobj;
    try {
        std::uint64_t kset = kernel.read_pointer(module_kset);
        if (!is_kernel_address(kernel, kset)) {
            view.problems.push_back(bad_pointer(fmt::format("sysfs: module_kset {:#x} is not a kernel address", kset)));
            view.complete = false;
            return view;
        }
        ListWalkResult result = walk_kernel_list(
            kernel, kset + o.kset_list, entry_offset, max_modules, "module_kset list",
            [&](std::uint64_t mkobj) -> std::string {
                std::uint64_t module = kernel.read_pointer(mkobj + mod_offset);
                if (!module) return {}; // a built-in module's parameters
                if (!is_kernel_address(kernel, module) || module + mkobj_offset != mkobj) {
                    view.problems.push_back(broken_link(fmt::format(
                        "sysfs: module_kobject {:#x} points to module {:#x}, which does not hold it", mkobj, module)));
                    return {};
                }
                view.objects.insert(module);
                return {};
            },
            [](std::uint64_t mkobj) { return fmt::format("module_kobject {:#x}", mkobj); });
        if (!result.complete()) {
            view.problems.push_back(walk_stopped(result.problem));
            view.complete = false;
        }
        for (std::string& broken : result.broken_links) view.problems.push_back(broken_link(std::move(broken)));
    } catch (const Error& e) {
        view.problems.push_back(walk_stopped(fmt::format("sysfs: {}", e.what())));
        view.complete = false;
    }
    return view;
}

} // namespace vmi

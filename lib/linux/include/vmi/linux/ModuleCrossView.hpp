#pragma once
// The cross-view check of a Linux guest's modules: every module the module
// list, sysfs or the module tree holds, with the views that hold it and
// those that do not. A live module is in all three from the end of its
// loading to the start of its unloading; a module being loaded or unloaded
// (state other than Live) may be in some only, which is normal.
#include <cstdint>
#include <string>
#include <vector>

#include "vmi/linux/LinuxModuleList.hpp"
#include "vmi/linux/LinuxModuleViews.hpp"

namespace vmi {

struct CrossViewModule {
    LinuxModule module;
    std::vector<bool> seen; // per view, in ModuleCrossView::views' order
    std::vector<std::string> seen_by;
    std::vector<std::string> missed_by;
    bool hidden = false;
    std::string meaning;
};

struct ModuleCrossView {
    std::vector<ModuleView> views;
    std::vector<CrossViewModule> modules; // by name
    std::vector<std::string> problems;
    bool found_hidden() const;
};

ModuleCrossView cross_view_modules(std::vector<ModuleView> views, LinuxModuleList& reader);

} // namespace vmi

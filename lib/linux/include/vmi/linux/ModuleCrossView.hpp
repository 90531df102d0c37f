#pragma once
// The cross-view check of a Linux guest's modules (CrossView.hpp): every
// module the module list, sysfs, the module tree or a scan of the module area
// holds, with the views that hold it and those that do not. A live module is
// in the three records from the end of its loading to the start of its
// unloading; a module being loaded or unloaded (state other than Live) may be
// in some only, which is normal. What the scan misses is never a finding.
#include <cstdint>
#include <span>
#include <vector>

#include "vmi/linux/CrossView.hpp"
#include "vmi/linux/LinuxModuleList.hpp"

namespace vmi {

// Every module view must hold every module (a module's state explains a gap).
struct ModuleFacts {};

// The module views, in their columns' order: the module list, sysfs, the
// module tree and the scan of the module area.
std::span<const ViewRow<ModuleFacts>> module_view_rows();

using ModuleCrossView = CrossView<LinuxModule>;
using CrossViewModule = CrossViewEntry<LinuxModule>;

ModuleCrossView cross_view_modules(std::vector<ObjectView> views, LinuxModuleList& reader);

} // namespace vmi

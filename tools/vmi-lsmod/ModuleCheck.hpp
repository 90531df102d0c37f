#pragma once
// vmi-lsmod --check: the cross-view check of the guest's modules
// (vmi/linux/ModuleCrossView.hpp).
#include "common/CheckOutlets.hpp"
#include "common/ColumnTable.hpp"
#include "common/Guest.hpp"
#include "common/PauseOptions.hpp"

namespace vmi {

struct ModuleCheckOptions {
    bool all = false;           // every module, not only the findings
    bool all_domains = false;   // every running libvirt domain of --uri, one JSON line each
    CheckOutletOptions outlets; // --prometheus, --journal
    PauseOptions pause;
};

// "name, module, ...": the columns of --check, its views' from their table.
std::string module_check_column_ids();

// Exit status: EXIT_FOUND when a view misses a live module, EXIT_ERROR when
// a view could not be walked whole, else EXIT_OK.
int run_module_check(const GuestOptions& guest_options, const TableOptions& table, const ModuleCheckOptions& options);

} // namespace vmi

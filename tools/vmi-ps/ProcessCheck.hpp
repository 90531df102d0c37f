#pragma once
// vmi-ps --check: the cross-view check of the guest's processes
// (vmi/linux/TaskCrossView.hpp), printed as a table of findings or, with
// --all, of every task and every view.
#include <string>

#include "common/CheckOutlets.hpp"
#include "common/ColumnTable.hpp"
#include "common/Guest.hpp"
#include "common/PauseOptions.hpp"

namespace vmi {

struct ProcessCheckOptions {
    bool all = false;           // every task, not only the findings
    std::string guest_ps;       // the guest's own list: a file, or "-" for stdin
    bool agent = false;         // the guest's own list from its qemu-guest-agent (libvirt domains)
    PauseOptions pause;         // --no-pause, --max-pause, --lock-wait
    bool no_scan = false;       // skip the scan of guest RAM (the longest part of the pause)
    bool all_domains = false;   // every running libvirt domain of --uri, one JSON line each
    CheckOutletOptions outlets; // --prometheus, --journal
};

// "pid, tid, ...": the columns of --check, its views' from their table.
std::string process_check_column_ids();

// Exit status: EXIT_FOUND when a view misses a process it must hold,
// EXIT_ERROR when a view could not be walked whole, else EXIT_OK.
int run_process_check(const GuestOptions& guest_options, const TableOptions& table, const ProcessCheckOptions& options);

} // namespace vmi

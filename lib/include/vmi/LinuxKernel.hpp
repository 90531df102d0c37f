#pragma once
// The Linux view of a session's guest (the brief's os layer): structure
// layout from config or BTF, and the kernel's lists of tasks and modules.
#include <cstdint>
#include <string>

#include "vmi/LinuxLayout.hpp"
#include "vmi/LinuxModuleList.hpp"
#include "vmi/LinuxTaskList.hpp"
#include "vmi/Session.hpp"

namespace vmi {

class LinuxKernel {
public:
    // Does the attach work: finds the kernel and its page tables, loads the
    // symbols and the structure layout. None of it changes while the guest
    // runs, so tools do it before pausing a live guest, and pause only for
    // the list walks.
    explicit LinuxKernel(Session& session);

    TaskListing tasks(const TaskListOptions& options);
    ModuleListing modules();
    std::string command_line(const LinuxTask& task);

    const LinuxLayout& layout() const { return layout_; }

private:
    // init_task: the config's linux_init_task (a System.map address), else the symbol.
    std::uint64_t init_task();

    Session& session_;
    AddressSpace& kernel_;
    LinuxLayout layout_;
    LinuxTaskList task_list_;
    LinuxModuleList module_list_;
};

} // namespace vmi

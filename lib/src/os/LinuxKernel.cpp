#include "vmi/LinuxKernel.hpp"

#include "vmi/Diagnostics.hpp"

namespace vmi {

LinuxKernel::LinuxKernel(Session& session)
    : session_(session),
      kernel_(session.kernel()),
      layout_(LinuxLayout::resolve(session.config_entry(), session.btf())),
      task_list_(kernel_, layout_),
      module_list_(kernel_, layout_)
{
    session_.symbols(); // with the kernel found above: the KASLR slide is settled too
}

std::uint64_t LinuxKernel::init_task()
{
    if (const ConfigEntry* entry = session_.config_entry()) {
        if (auto address = entry->number("linux_init_task")) {
            session_.symbols(); // settles the slide
            return *address + static_cast<std::uint64_t>(session_.kaslr_slide());
        }
    }
    return session_.symbols().require("init_task").address;
}

TaskListing LinuxKernel::tasks(const TaskListOptions& options)
{
    std::uint64_t head = init_task();
    diag::note("walking the task list from init_task at {:#x} (tasks at +{:#x}, comm at +{:#x}; offsets from {})", head,
               layout_.get("linux_tasks"), layout_.get("linux_name"), layout_.source("linux_tasks"));
    return task_list_.list(head, options);
}

ModuleListing LinuxKernel::modules()
{
    std::uint64_t head = session_.symbols().require("modules").address;
    diag::note("walking the module list from modules at {:#x} (module list at +{:#x}; offsets from {})", head,
               layout_.get("linux_module_list"), layout_.source("linux_module_list"));
    return module_list_.list(head);
}

std::string LinuxKernel::command_line(const LinuxTask& task) { return task_list_.command_line(task); }

} // namespace vmi

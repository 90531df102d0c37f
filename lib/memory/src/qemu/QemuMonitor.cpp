#include "qemu/QemuMonitor.hpp"

#include "vmi/base/Error.hpp"

namespace vmi {

std::string QemuMonitor::human(const std::string& command_line)
{
    nlohmann::json reply = command("human-monitor-command", {{"command-line", command_line}});
    if (!reply.is_string()) fail("{}: '{}' gave no text", describe(), command_line);
    return reply.get<std::string>();
}

void QemuMonitor::stop() { command("stop"); }

void QemuMonitor::cont() { command("cont"); }

bool QemuMonitor::running()
{
    nlohmann::json status = command("query-status");
    if (!status.is_object() || !status.contains("running") || !status["running"].is_boolean())
        fail("{}: query-status gave no running state", describe());
    return status["running"].get<bool>();
}

} // namespace vmi

#include "qemu/LibvirtAgentChannel.hpp"

#include "vmi/base/Error.hpp"

namespace vmi {

LibvirtAgentChannel::LibvirtAgentChannel(const std::string& uri, const std::string& domain, int timeout_ms)
    : domain_(uri, domain, timeout_ms)
{
    if (!domain_.running()) fail("{} is paused: its guest agent cannot answer until it runs again", domain_.describe());
}

nlohmann::json LibvirtAgentChannel::command(const std::string& name, const nlohmann::json& arguments)
{
    return domain_.agent_command(name, arguments);
}

} // namespace vmi

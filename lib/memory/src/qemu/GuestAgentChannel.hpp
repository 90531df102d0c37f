#pragma once
// A way to send commands to a guest's qemu-guest-agent: libvirt's agent
// channel of a domain, or the agent's own socket (Proxmox's VMID.qga).
#include <string>

#include <nlohmann/json.hpp>

namespace vmi {

class GuestAgentChannel {
public:
    virtual ~GuestAgentChannel() = default;
    // The command's "return" value. Throws vmi::Error naming the agent when it
    // cannot be reached, does not answer in time, or answers with an error.
    virtual nlohmann::json command(const std::string& name, const nlohmann::json& arguments) = 0;
};

} // namespace vmi

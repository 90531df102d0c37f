#pragma once
// A libvirt domain's guest agent, through libvirt's agent channel
// (virDomainQemuAgentCommand).
#include <string>

#include "qemu/GuestAgentChannel.hpp"
#include "qemu/LibvirtDomain.hpp"

namespace vmi {

class LibvirtAgentChannel : public GuestAgentChannel {
public:
    // Throws vmi::Error when libvirt or the domain cannot be reached, or the
    // domain is paused (its agent cannot answer until it runs again).
    LibvirtAgentChannel(const std::string& uri, const std::string& domain, int timeout_ms);

    nlohmann::json command(const std::string& name, const nlohmann::json& arguments) override;

private:
    LibvirtDomain domain_;
};

} // namespace vmi

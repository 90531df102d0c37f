#pragma once
// An OpenStack Nova instance as libvirt knows it: Nova names its domains
// instance-%08x and writes the instance's own name, its uuid (the domain's)
// and its project into the domain's metadata
// (<nova:instance xmlns:nova="http://openstack.org/xmlns/libvirt/nova/1.1">).
// A guest may then be named by the instance's name or uuid.
#include <optional>
#include <string>
#include <string_view>

#include "qemu/LibvirtApi.hpp"

namespace vmi {

inline constexpr const char* NOVA_NAMESPACE = "http://openstack.org/xmlns/libvirt/nova/1.1";

struct NovaInstance {
    std::string name;    // <nova:name>
    std::string project; // <nova:project>'s text
};

// The instance fields of a domain's Nova metadata element; nullopt when it
// has no <nova:name>.
std::optional<NovaInstance> parse_nova_metadata(std::string_view xml);

// The running domain of `connection` that is the Nova instance `name` (its
// name, or its uuid), or null. Throws vmi::Error when two have the name.
virDomainPtr find_nova_domain(const LibvirtApi& api, virConnectPtr connection, const std::string& name);

} // namespace vmi

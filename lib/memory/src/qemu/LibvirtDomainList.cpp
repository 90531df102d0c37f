// The running domains of a libvirt connection, for checks of every guest.
#include <algorithm>

#include "qemu/LibvirtApi.hpp"
#include "vmi/base/Error.hpp"
#include "vmi/memory/QemuGuest.hpp"

namespace vmi {
namespace {

void quiet(void*, virErrorPtr) {}

} // namespace

std::vector<LibvirtDomainId> running_libvirt_domains(const std::string& uri)
{
    const LibvirtApi& api = LibvirtApi::get();
    std::string target = uri.empty() ? DEFAULT_LIBVIRT_URI : uri;
    api.virSetErrorFunc(nullptr, quiet);
    virConnectPtr connection = api.virConnectOpen(target.c_str());
    if (!connection) {
        const char* message = api.virGetLastErrorMessage();
        fail("cannot reach libvirt at '{}': {} (is libvirtd running, and may this user use it?)", target,
             message ? message : "unknown libvirt error");
    }
    virDomainPtr* domains = nullptr;
    int count = api.virConnectListAllDomains(connection, &domains, VIR_CONNECT_LIST_DOMAINS_ACTIVE);
    std::vector<LibvirtDomainId> names;
    for (int i = 0; i < count; ++i) {
        if (const char* name = api.virDomainGetName(domains[i])) {
            char uuid[VIR_UUID_STRING_BUFLEN] = {};
            names.push_back({name, api.virDomainGetUUIDString(domains[i], uuid) == 0 ? uuid : ""});
        }
        api.virDomainFree(domains[i]);
    }
    std::free(domains); // NOLINT(cppcoreguidelines-no-malloc): libvirt allocates the array with malloc
    std::string error = count < 0 && api.virGetLastErrorMessage() ? api.virGetLastErrorMessage() : "";
    api.virConnectClose(connection);
    if (count < 0) fail("libvirt at '{}': cannot list its domains: {}", target, error);
    std::sort(names.begin(), names.end(),
              [](const LibvirtDomainId& a, const LibvirtDomainId& b) { return a.name < b.name; });
    return names;
}

} // namespace vmi

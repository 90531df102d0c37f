#include "qemu/LibvirtApi.hpp"

#include <dlfcn.h>

#include "vmi/base/Error.hpp"

namespace vmi {
namespace {

void* open_library(const char* name)
{
    void* handle = ::dlopen(name, RTLD_NOW | RTLD_GLOBAL);
    if (!handle) {
        const char* why = ::dlerror();
        fail("libvirt is not available: cannot load {} ({}); install libvirt0", name, why ? why : "unknown error");
    }
    return handle; // kept for the life of the process
}

template <typename Function>
void resolve(void* library, Function& function, const char* name)
{
    void* symbol = ::dlsym(library, name);
    if (!symbol) fail("libvirt is too old: it has no {}", name);
    function = reinterpret_cast<Function>(symbol);
}

LibvirtApi load()
{
    void* libvirt = open_library("libvirt.so.0");
    void* qemu = open_library("libvirt-qemu.so.0");
    LibvirtApi api{};
    resolve(libvirt, api.virSetErrorFunc, "virSetErrorFunc");
    resolve(libvirt, api.virGetLastErrorMessage, "virGetLastErrorMessage");
    resolve(libvirt, api.virConnectOpen, "virConnectOpen");
    resolve(libvirt, api.virConnectClose, "virConnectClose");
    resolve(libvirt, api.virDomainLookupByName, "virDomainLookupByName");
    resolve(libvirt, api.virDomainFree, "virDomainFree");
    resolve(libvirt, api.virDomainGetState, "virDomainGetState");
    resolve(libvirt, api.virDomainGetUUIDString, "virDomainGetUUIDString");
    resolve(libvirt, api.virDomainSuspend, "virDomainSuspend");
    resolve(libvirt, api.virDomainResume, "virDomainResume");
    resolve(qemu, api.virDomainQemuMonitorCommand, "virDomainQemuMonitorCommand");
    resolve(qemu, api.virDomainQemuAgentCommand, "virDomainQemuAgentCommand");
    resolve(libvirt, api.virConnectListAllDomains, "virConnectListAllDomains");
    resolve(libvirt, api.virDomainGetName, "virDomainGetName");
    resolve(libvirt, api.virDomainLookupByUUIDString, "virDomainLookupByUUIDString");
    resolve(libvirt, api.virDomainGetMetadata, "virDomainGetMetadata");
    return api;
}

} // namespace

const LibvirtApi& LibvirtApi::get()
{
    static const LibvirtApi api = load();
    return api;
}

} // namespace vmi

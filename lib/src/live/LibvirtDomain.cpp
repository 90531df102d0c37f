#include "vmi/LibvirtDomain.hpp"

#include <fstream>

#include "live/LibvirtApi.hpp"

#include "vmi/Error.hpp"

namespace vmi {
namespace {

const LibvirtApi& api() { return LibvirtApi::get(); }

// libvirt prints every error to stderr by default; we report them ourselves.
void quiet(void*, virErrorPtr) {}

std::string last_libvirt_error()
{
    const char* message = api().virGetLastErrorMessage();
    return message ? message : "unknown libvirt error";
}

const char* state_name(int state)
{
    switch (state) {
    case VIR_DOMAIN_RUNNING: return "running";
    case VIR_DOMAIN_BLOCKED: return "blocked";
    case VIR_DOMAIN_PAUSED: return "paused";
    case VIR_DOMAIN_SHUTDOWN: return "shutting down";
    case VIR_DOMAIN_SHUTOFF: return "shut off";
    case VIR_DOMAIN_CRASHED: return "crashed";
    case VIR_DOMAIN_PMSUSPENDED: return "suspended by guest power management";
    default: return "in an unknown state";
    }
}

// libvirt keeps the QEMU pid here; readable by root (and libvirt's user).
int read_qemu_pid(const std::string& name)
{
    for (const char* dir : {"/run/libvirt/qemu", "/var/run/libvirt/qemu"}) {
        std::ifstream in(std::string(dir) + "/" + name + ".pid");
        int pid = 0;
        if (in >> pid && pid > 0) return pid;
    }
    return 0;
}

} // namespace

struct LibvirtDomain::Handles {
    virConnectPtr connection = nullptr;
    virDomainPtr domain = nullptr;
    ~Handles()
    {
        if (domain) api().virDomainFree(domain);
        if (connection) api().virConnectClose(connection);
    }
};

LibvirtDomain::LibvirtDomain(const std::string& uri, const std::string& name)
    : handles_(std::make_unique<Handles>()), uri_(uri.empty() ? DEFAULT_URI : uri), name_(name)
{
    api().virSetErrorFunc(nullptr, quiet);
    handles_->connection = api().virConnectOpen(uri_.c_str());
    if (!handles_->connection)
        fail("cannot reach libvirt at '{}': {} (is libvirtd running, and may this user use it?)", uri_,
             last_libvirt_error());
    handles_->domain = api().virDomainLookupByName(handles_->connection, name_.c_str());
    if (!handles_->domain) fail("no libvirt domain '{}' at '{}'", name_, uri_);
    int state = 0, reason = 0;
    if (api().virDomainGetState(handles_->domain, &state, &reason, 0) != 0)
        fail("libvirt domain '{}': cannot get its state: {}", name_, last_libvirt_error());
    if (state != VIR_DOMAIN_RUNNING && state != VIR_DOMAIN_PAUSED && state != VIR_DOMAIN_BLOCKED)
        fail("libvirt domain '{}' is not running ({})", name_, state_name(state));
    pid_ = read_qemu_pid(name_);
}

LibvirtDomain::~LibvirtDomain() = default;

std::string LibvirtDomain::describe() const { return fmt::format("libvirt domain '{}' ({})", name_, uri_); }

nlohmann::json LibvirtDomain::command(const std::string& name, const nlohmann::json& arguments)
{
    nlohmann::json request{{"execute", name}};
    if (!arguments.empty()) request["arguments"] = arguments;
    char* result = nullptr;
    if (api().virDomainQemuMonitorCommand(handles_->domain, request.dump().c_str(), &result, 0) != 0)
        fail("{}: QEMU monitor command {} failed: {}", describe(), name, last_libvirt_error());
    nlohmann::json reply = nlohmann::json::parse(result, nullptr, false);
    free(result); // NOLINT: libvirt allocates with malloc
    if (reply.is_discarded() || !reply.is_object()) fail("{}: QEMU's answer to {} is not JSON", describe(), name);
    if (reply.contains("error")) {
        const nlohmann::json& error = reply["error"];
        fail("{}: {} failed: {}", describe(), name,
             error.is_object() && error.contains("desc") && error["desc"].is_string() ? error["desc"].get<std::string>()
                                                                                     : error.dump());
    }
    if (!reply.contains("return")) fail("{}: QEMU's answer to {} has no result", describe(), name);
    return reply["return"];
}

void LibvirtDomain::stop()
{
    if (api().virDomainSuspend(handles_->domain) != 0) fail("{}: cannot pause: {}", describe(), last_libvirt_error());
}

void LibvirtDomain::cont()
{
    if (api().virDomainResume(handles_->domain) != 0) fail("{}: cannot resume: {}", describe(), last_libvirt_error());
}

bool LibvirtDomain::running()
{
    int state = 0, reason = 0;
    if (api().virDomainGetState(handles_->domain, &state, &reason, 0) != 0)
        fail("{}: cannot get its state: {}", describe(), last_libvirt_error());
    return state == VIR_DOMAIN_RUNNING || state == VIR_DOMAIN_BLOCKED;
}

} // namespace vmi

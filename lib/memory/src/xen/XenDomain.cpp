#include "xen/XenDomain.hpp"

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "vmi/base/Error.hpp"
#include "xen/XenApi.hpp"

namespace vmi {
namespace {

const XenApi& api() { return XenApi::get(); }

const char* shutdown_reason(unsigned int reason)
{
    switch (reason) {
    case SHUTDOWN_poweroff: return "powered off";
    case SHUTDOWN_reboot: return "rebooting";
    case SHUTDOWN_suspend: return "suspended";
    case SHUTDOWN_crash: return "crashed";
    case SHUTDOWN_watchdog: return "stopped by its watchdog";
    case SHUTDOWN_soft_reset: return "soft-resetting";
    default: return "shut down";
    }
}

} // namespace

XenDomain::XenDomain(const std::string& name, std::optional<std::uint32_t> id)
{
    if (id) {
        id_ = *id;
        info(); // throws for a domain that does not exist
        name_ =
            name.empty() ? handles_.xenstore_read("/local/domain/" + std::to_string(id_) + "/name").value_or("") : name;
    } else {
        if (name.empty()) fail("a Xen domain needs a name or an id (--domid N)");
        id_ = find_by_name(name);
        name_ = name;
    }
    xc_dominfo_t state = info();
    if (state.dying) fail("{} is not running: it is being destroyed", describe());
    if (state.crashed || (state.shutdown && state.shutdown_reason == SHUTDOWN_crash))
        fail("{} is not running: it has crashed", describe());
    if (state.shutdown) fail("{} is not running: {}", describe(), shutdown_reason(state.shutdown_reason));
}

std::uint32_t XenDomain::find_by_name(const std::string& name) const
{
    if (!handles_.xenstore())
        fail("cannot look up Xen domain '{}': xenstore is not reachable ({}); is xenstored running? (--domid N "
             "needs no xenstore)",
             name, std::strerror(errno));
    unsigned int count = 0;
    char** ids = api().xs_directory(handles_.xenstore(), XBT_NULL, "/local/domain", &count);
    if (!ids) fail("cannot look up Xen domain '{}': xenstore lists no /local/domain ({})", name, std::strerror(errno));
    std::optional<std::uint32_t> found;
    for (unsigned int i = 0; i < count && !found; ++i) {
        std::optional<std::string> here = handles_.xenstore_read(std::string("/local/domain/") + ids[i] + "/name");
        char* end = nullptr;
        unsigned long id = std::strtoul(ids[i], &end, 10);
        if (here && *here == name && end && *end == '\0' && id <= UINT32_MAX) found = static_cast<std::uint32_t>(id);
    }
    std::free(static_cast<void*>(ids)); // NOLINT: one malloc'ed block
    if (!found) fail("no such Xen domain: '{}' (xenstore names no running domain so)", name);
    return *found;
}

std::string XenDomain::describe() const
{
    if (name_.empty()) return fmt::format("Xen domain {}", id_);
    return fmt::format("Xen domain '{}' (domid {})", name_, id_);
}

xc_dominfo_t XenDomain::info() const
{
    xc_dominfo_t info{};
    errno = 0;
    int found = api().xc_domain_getinfo(xc(), id_, 1, &info);
    // A domain id above every existing domain's: ESRCH rather than another domain.
    if (found < 0 && errno == ESRCH) found = 0;
    if (found < 0 && (errno == EPERM || errno == EACCES))
        fail("not privileged: Xen refuses domain information ({}); run as root in dom0", std::strerror(errno));
    if (found < 0) fail("cannot get Xen's information on domain {}: {}", id_, last_library_error());
    // getinfo answers with the first domain at or above the id asked for.
    if (found != 1 || info.domid != id_) {
        if (name_.empty()) fail("no such Xen domain: domid {}", id_);
        fail("{} no longer exists", describe());
    }
    return info;
}

void XenDomain::pause()
{
    if (api().xc_domain_pause(xc(), id_) != 0) fail("{}: cannot pause: {}", describe(), last_library_error());
}

void XenDomain::unpause()
{
    if (api().xc_domain_unpause(xc(), id_) != 0) fail("{}: cannot resume: {}", describe(), last_library_error());
}

} // namespace vmi

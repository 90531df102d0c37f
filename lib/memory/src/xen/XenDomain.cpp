#include "xen/XenDomain.hpp"

#include <sys/stat.h>

#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <vector>

#include "vmi/base/Error.hpp"
#include "xen/XenApi.hpp"

namespace vmi {
namespace {

const XenApi& api() { return XenApi::get(); }

// The libraries log their errors to stderr unless given a logger: ours keeps
// the last message for our own one-line error and prints nothing.
struct QuietLogger {
    xentoollog_logger logger{};
    std::string last;
};
QuietLogger quiet_logger;

void keep_message(xentoollog_logger* /*logger*/, xentoollog_level level, int errnoval, const char* context,
                  const char* format, va_list args)
{
    if (level < XTL_ERROR) return;
    std::vector<char> text(512);
    std::vsnprintf(text.data(), text.size(), format, args);
    quiet_logger.last = text.data();
    if (context) quiet_logger.last = std::string(context) + ": " + quiet_logger.last;
    if (errnoval > 0) quiet_logger.last += std::string(" (") + std::strerror(errnoval) + ")";
}

xentoollog_logger* logger()
{
    quiet_logger.logger.vmessage = keep_message;
    quiet_logger.logger.progress = nullptr;
    quiet_logger.logger.destroy = nullptr;
    return &quiet_logger.logger;
}

bool exists(const char* path)
{
    struct stat status {};
    return ::stat(path, &status) == 0; // not open(): a user who may not open it still sees it
}

// Why libxenctrl could not be opened, as one line.
[[noreturn]] void fail_open(int error)
{
    if (!exists("/dev/xen/privcmd") && !exists("/proc/xen/privcmd"))
        fail("no Xen here: no privcmd device (/dev/xen/privcmd): this is not a Xen host's dom0, or its xen-privcmd "
             "module is not loaded");
    std::ifstream capabilities("/proc/xen/capabilities");
    std::string text;
    if (capabilities && std::getline(capabilities, text) && text.find("control_d") == std::string::npos)
        fail("no Xen here: this is a Xen guest, not dom0 (/proc/xen/capabilities lacks control_d)");
    if (error == EACCES || error == EPERM)
        fail("not privileged: opening Xen's privcmd device needs root ({})", std::strerror(error));
    fail("no Xen here: cannot open libxenctrl: {}", std::strerror(error));
}

// A xenstore string, freed here; nullopt when the path is absent.
std::optional<std::string> xenstore_read(struct xs_handle* xs, const std::string& path)
{
    unsigned int length = 0;
    void* value = api().xs_read(xs, XBT_NULL, path.c_str(), &length);
    if (!value) return std::nullopt;
    std::string text(static_cast<const char*>(value), length);
    std::free(value); // NOLINT: xenstore allocates with malloc
    return text;
}

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
    try {
        open_and_check(name, id);
    } catch (...) {
        close_handles(); // no destructor runs for an object whose constructor threw
        throw;
    }
}

void XenDomain::open_and_check(const std::string& name, std::optional<std::uint32_t> id)
{
    open_handles();
    if (id) {
        id_ = *id;
        info(); // throws for a domain that does not exist
        name_ = name.empty() ? name_from_xenstore(id_) : name;
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

XenDomain::~XenDomain() { close_handles(); }

void XenDomain::close_handles() noexcept
{
    if (xs_) api().xs_close(xs_);
    if (fmem_) api().xenforeignmemory_close(fmem_);
    if (xc_) api().xc_interface_close(xc_);
    xs_ = nullptr;
    fmem_ = nullptr;
    xc_ = nullptr;
}

void XenDomain::open_handles()
{
    const XenApi& xen = api();
    errno = 0;
    xc_ = xen.xc_interface_open(logger(), logger(), 0);
    if (!xc_) fail_open(errno);
    fmem_ = xen.xenforeignmemory_open(logger(), 0);
    if (!fmem_) fail_open(errno);
    // xenstore only for names: a missing daemon matters only when a name is needed.
    xs_ = xen.xs_open(XS_OPEN_READONLY);
}

std::uint32_t XenDomain::find_by_name(const std::string& name) const
{
    if (!xs_)
        fail("cannot look up Xen domain '{}': xenstore is not reachable ({}); is xenstored running? (--domid N "
             "needs no xenstore)",
             name, std::strerror(errno));
    unsigned int count = 0;
    char** ids = api().xs_directory(xs_, XBT_NULL, "/local/domain", &count);
    if (!ids) fail("cannot look up Xen domain '{}': xenstore lists no /local/domain ({})", name, std::strerror(errno));
    std::optional<std::uint32_t> found;
    for (unsigned int i = 0; i < count && !found; ++i) {
        std::optional<std::string> here = xenstore_read(xs_, std::string("/local/domain/") + ids[i] + "/name");
        char* end = nullptr;
        unsigned long id = std::strtoul(ids[i], &end, 10);
        if (here && *here == name && end && *end == '\0' && id <= UINT32_MAX) found = static_cast<std::uint32_t>(id);
    }
    std::free(static_cast<void*>(ids)); // NOLINT: one malloc'ed block
    if (!found) fail("no such Xen domain: '{}' (xenstore names no running domain so)", name);
    return *found;
}

std::string XenDomain::name_from_xenstore(std::uint32_t id) const
{
    if (!xs_) return "";
    return xenstore_read(xs_, "/local/domain/" + std::to_string(id) + "/name").value_or("");
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
    int found = api().xc_domain_getinfo(xc_, id_, 1, &info);
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
    if (api().xc_domain_pause(xc_, id_) != 0) fail("{}: cannot pause: {}", describe(), last_library_error());
}

void XenDomain::unpause()
{
    if (api().xc_domain_unpause(xc_, id_) != 0) fail("{}: cannot resume: {}", describe(), last_library_error());
}

std::string XenDomain::last_library_error() const
{
    std::string message = std::move(quiet_logger.last);
    quiet_logger.last.clear(); // said once: the next error has its own
    if (!message.empty()) return message;
    return errno ? std::strerror(errno) : "unknown error";
}

} // namespace vmi

#include "xen/XenHandles.hpp"

#include <sys/stat.h>

#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
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

} // namespace

XenHandles::XenHandles(bool foreign_memory)
{
    const XenApi& xen = api();
    errno = 0;
    xc_ = xen.xc_interface_open(logger(), logger(), 0);
    if (!xc_) fail_open(errno);
    if (foreign_memory) {
        fmem_ = xen.xenforeignmemory_open(logger(), 0);
        if (!fmem_) {
            int error = errno;
            close(); // no destructor runs for an object whose constructor threw
            fail_open(error);
        }
    }
    // xenstore only for names: a missing daemon matters only when a name is needed.
    xs_ = xen.xs_open(XS_OPEN_READONLY);
}

XenHandles::~XenHandles() { close(); }

void XenHandles::close() noexcept
{
    if (xs_) api().xs_close(xs_);
    if (fmem_) api().xenforeignmemory_close(fmem_);
    if (xc_) api().xc_interface_close(xc_);
    xs_ = nullptr;
    fmem_ = nullptr;
    xc_ = nullptr;
}

std::optional<std::string> XenHandles::xenstore_read(const std::string& path) const
{
    if (!xs_) return std::nullopt;
    unsigned int length = 0;
    void* value = api().xs_read(xs_, XBT_NULL, path.c_str(), &length);
    if (!value) return std::nullopt;
    std::string text(static_cast<const char*>(value), length);
    std::free(value); // NOLINT: xenstore allocates with malloc
    return text;
}

std::string XenHandles::last_library_error()
{
    std::string message = std::move(quiet_logger.last);
    quiet_logger.last.clear(); // said once: the next error has its own
    if (!message.empty()) return message;
    return errno ? std::strerror(errno) : "unknown error";
}

} // namespace vmi

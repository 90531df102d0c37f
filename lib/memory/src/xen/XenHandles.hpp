#pragma once
// The handles every use of Xen from dom0 starts from: libxenctrl (domain
// information, vCPU state, pause), libxenforeignmemory (guest frames, when
// asked for) and xenstore (names, read-only; null when xenstored is not
// reachable). Opening fails with one line saying why: no Xen here (no
// privcmd device, a Xen guest rather than dom0), not privileged, or what
// libxenctrl said.
#include <optional>
#include <string>

#include "xen/XenHeaders.hpp"

namespace vmi {

class XenHandles {
public:
    explicit XenHandles(bool foreign_memory);
    ~XenHandles();
    XenHandles(const XenHandles&) = delete;
    XenHandles& operator=(const XenHandles&) = delete;

    xc_interface* xc() const { return xc_; }
    xenforeignmemory_handle* foreign_memory() const { return fmem_; }
    struct xs_handle* xenstore() const { return xs_; }

    // A xenstore string; nullopt when the path is absent or xenstore unreachable.
    std::optional<std::string> xenstore_read(const std::string& path) const;
    // The last error libxenctrl or libxenforeignmemory logged, once ("" never:
    // errno's text when they logged none), for an error line.
    static std::string last_library_error();

private:
    void close() noexcept;

    xc_interface* xc_ = nullptr;
    xenforeignmemory_handle* fmem_ = nullptr;
    struct xs_handle* xs_ = nullptr;
};

} // namespace vmi

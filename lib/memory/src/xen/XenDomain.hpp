#pragma once
// One Xen domain, reached from dom0 through libxenctrl (domain information,
// vCPU state, pause), libxenforeignmemory (its frames) and xenstore (its
// name). Opening checks, in this order, each with its own one-line error:
// the Xen libraries are there, this is a Xen dom0 with privcmd, we are
// privileged, the domain exists, it is running (not dying, shut down or
// crashed). Nothing here changes the domain's configuration.
#include <cstdint>
#include <optional>
#include <string>

#include "xen/XenHandles.hpp"
#include "xen/XenHeaders.hpp"

namespace vmi {

class XenDomain {
public:
    // By name (xenstore's /local/domain/<id>/name) or by id; one of them.
    XenDomain(const std::string& name, std::optional<std::uint32_t> id);
    XenDomain(const XenDomain&) = delete;
    XenDomain& operator=(const XenDomain&) = delete;

    std::uint32_t id() const { return id_; }
    const std::string& name() const { return name_; }
    // "Xen domain 'web01' (domid 3)"
    std::string describe() const;

    // Fresh information from the hypervisor; throws when the domain is gone.
    xc_dominfo_t info() const;
    bool paused() const { return info().paused != 0; }
    void pause();
    void unpause();

    xc_interface* xc() const { return handles_.xc(); }
    xenforeignmemory_handle* foreign_memory() const { return handles_.foreign_memory(); }
    // The last message libxenctrl or libxenforeignmemory logged, for an error line.
    std::string last_library_error() const { return XenHandles::last_library_error(); }

private:
    std::uint32_t find_by_name(const std::string& name) const;

    XenHandles handles_{true};
    std::uint32_t id_ = 0;
    std::string name_;
};

} // namespace vmi

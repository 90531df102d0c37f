#pragma once
// A running Xen domain as a memory source, read from dom0: by its name (as
// xenstore and `xl list` know it) or its domain id. PV, PVH and HVM guests;
// the Xen libraries are loaded only when a Xen domain is opened.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "vmi/memory/MemorySource.hpp"

namespace vmi {

// One of `name` and `domid` names the domain (with both, the id wins and
// the name is only for messages). `writable`: guest pages may be mapped for
// writing (vmi-write); readers never map a page writable. Throws vmi::Error
// with one line: no Xen here (libraries, dom0, privcmd), not privileged, no
// such domain, domain not running.
std::unique_ptr<MemorySource> open_xen_guest(const std::string& name, std::optional<std::uint32_t> domid,
                                             bool writable);

// Whether this host is a Xen dom0 as far as a look costs nothing: a privcmd
// device under the host root (VMI_HOST_ROOT). Loads no Xen library.
bool is_xen_dom0();

struct XenDomainId {
    std::uint32_t domid = 0;
    std::string name; // xenstore's; empty when it has none or is not reachable
    std::string uuid; // the domain handle, as 8-4-4-4-12 hex
};
// Every domain of this Xen host but dom0 that is not dying, shut down or
// crashed (paused ones too), by domid. Throws vmi::Error with one line as
// open_xen_guest does: no Xen here, not privileged.
std::vector<XenDomainId> running_xen_domains();

} // namespace vmi

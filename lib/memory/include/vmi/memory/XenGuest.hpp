#pragma once
// A running Xen domain as a memory source, read from dom0: by its name (as
// xenstore and `xl list` know it) or its domain id. PV, PVH and HVM guests;
// the Xen libraries are loaded only when a Xen domain is opened.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "vmi/memory/MemorySource.hpp"

namespace vmi {

// One of `name` and `domid` names the domain (with both, the id wins and
// the name is only for messages). `writable`: guest pages may be mapped for
// writing (vmi-write); readers never map a page writable. Throws vmi::Error
// with one line: no Xen here (libraries, dom0, privcmd), not privileged, no
// such domain, domain not running.
std::unique_ptr<MemorySource> open_xen_guest(const std::string& name, std::optional<std::uint32_t> domid,
                                             bool writable);

} // namespace vmi

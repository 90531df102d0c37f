#pragma once
// --all-domains of the check modes: the same check on every running VM of
// the host (HostVms: libvirt, KubeVirt, Proxmox, Xen, bare QEMU), one JSON
// object a line ({"domain", the check's fields, "exit"}); a domain that
// cannot be checked is a line with its error ("error", exit 2) and the
// others go on.
#include <functional>

#include <nlohmann/json.hpp>

#include "common/CheckOutlets.hpp"
#include "common/GuestOptions.hpp"

namespace vmi {

struct DomainCheck {
    nlohmann::json fields; // an object: what the check found
    CheckStatus status;    // its exit status for this domain, and what goes to `outlets`
};

// Exit status: 1 when a domain's check found something, else 2 when one
// failed, else 0. Fails (one line) when a VM, --image or --qmp was named.
// Each domain's outcome also goes to `outlets`.
int check_all_domains(const GuestOptions& guest_options, CheckOutlets& outlets,
                      const std::function<DomainCheck(const GuestOptions& one)>& check);

} // namespace vmi

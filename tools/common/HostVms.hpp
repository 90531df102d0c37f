#pragma once
// The VMs of this host that --all-domains checks: libvirt's domains, a
// KubeVirt node's pod VMs, a Proxmox node's VMs, a Xen host's domains and
// QEMUs no manager owns, each once.
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/GuestOptions.hpp"

namespace vmi {

// A VM of this host and how its check opens it.
struct HostVm {
    std::string name; // the line's "domain": the libvirt domain's, the VM's, the QEMU's
    GuestOptions options;
    nlohmann::json identity; // the line's other fields: "manager", and "vmid", "pod", "pid" or "domid", and "uuid"
};

// Every running VM of the host, each once: libvirt's domains at --uri, on a
// KubeVirt node its pods' VMs, on a Proxmox node its VMs, on a Xen dom0 its
// domains, and QEMUs that no manager owns (--backend kvm, kubevirt, proxmox,
// xen or qemu: one kind only; --uri: libvirt's). libvirt out of reach is an
// error only where nothing else is found.
std::vector<HostVm> host_vms(const GuestOptions& guest_options);

// Drops each VM whose "uuid" an earlier one has: one VM reached two ways (a
// KubeVirt pod's daemon and the host's libvirt) is checked once, as the
// first way found it. A -v note names each one dropped.
void drop_second_sightings(std::vector<HostVm>& vms);

} // namespace vmi

#pragma once
// The VMs of a Proxmox VE node, read under VMI_HOST_ROOT (HostRoot.hpp). Proxmox
// runs one QEMU process per VM, without libvirt:
//   /var/run/qemu-server/VMID.qmp   its QMP socket (one client at a time: Proxmox's
//                                   own pvedaemon and pvestatd use it all day)
//   /var/run/qemu-server/VMID.qga   its guest agent's socket
//   /var/run/qemu-server/VMID.pid   the QEMU process
//   /etc/pve/qemu-server/VMID.conf  the VM's configuration ("name: web01")
// A VM is opened through its QMP socket held only for a few quick exchanges (the
// RAM layout, the registers, the pause), its RAM read through the QEMU process.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "vmi/memory/MemorySource.hpp"
#include "vmi/memory/QemuGuest.hpp"

namespace vmi {

struct ProxmoxVm {
    std::uint32_t vmid = 0;
    std::string name; // from its .conf; the vmid when it has none
    std::string qmp_socket;
    std::string agent_socket;
    int pid = 0; // from its .pid file (0: none)
};

// Whether the host is a Proxmox node: /var/run/qemu-server exists under the root.
bool is_proxmox_node();
// The VMs with a QMP socket and (when it names one) a live QEMU process, by vmid.
std::vector<ProxmoxVm> running_proxmox_vms();
// The running VM with this vmid, or this name; nullopt when none. Throws
// vmi::Error when two running VMs have the name (give the vmid).
std::optional<ProxmoxVm> find_proxmox_vm(std::string_view name_or_vmid);

std::unique_ptr<MemorySource> open_proxmox_guest(const ProxmoxVm& vm, RamAccessPath path, bool writable);

} // namespace vmi

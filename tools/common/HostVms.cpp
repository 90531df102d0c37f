#include "common/HostVms.hpp"

#include <map>

#include "vmi/base/Diagnostics.hpp"
#include "vmi/base/Error.hpp"
#include "vmi/memory/KubevirtNode.hpp"
#include "vmi/memory/ProxmoxNode.hpp"
#include "vmi/memory/QemuGuest.hpp"
#include "vmi/memory/QemuProcesses.hpp"
#include "vmi/memory/XenGuest.hpp"

namespace vmi {
namespace {

void add_libvirt_domains(std::vector<HostVm>& vms, const GuestOptions& guest_options)
{
    for (const LibvirtDomainId& domain : running_libvirt_domains(guest_options.uri)) {
        GuestOptions one = guest_options;
        one.vm = domain.name;
        one.backend = "kvm";
        vms.push_back({domain.name, std::move(one), {{"manager", "libvirt"}, {"uuid", domain.uuid}}});
    }
}

void add_proxmox_vms(std::vector<HostVm>& vms, const GuestOptions& guest_options)
{
    for (const ProxmoxVm& vm : running_proxmox_vms()) {
        GuestOptions one = guest_options;
        one.vm = std::to_string(vm.vmid);
        one.backend = "proxmox";
        vms.push_back({vm.name, std::move(one), {{"manager", "proxmox"}, {"vmid", vm.vmid}}});
    }
}

// The VMs of a KubeVirt node, by their pods' libvirt daemons.
void add_kubevirt_vms(std::vector<HostVm>& vms, const GuestOptions& guest_options)
{
    for (const KubevirtVm& vm : running_kubevirt_vms()) {
        GuestOptions one = guest_options;
        one.vm = vm.name;
        one.backend = "kubevirt";
        vms.push_back({vm.name, std::move(one), {{"manager", "kubevirt"}, {"pod", vm.pod_uid}, {"uuid", vm.uuid}}});
    }
}

// QEMUs that no manager owns (a QEMU without a QMP socket gets its error line).
void add_bare_qemus(std::vector<HostVm>& vms, const GuestOptions& guest_options)
{
    for (const QemuProcess& qemu : unmanaged_qemu_processes()) {
        GuestOptions one = guest_options;
        one.backend = "qemu";
        one.qemu_pid = std::to_string(qemu.pid);
        vms.push_back({qemu.name, std::move(one), {{"manager", "qemu"}, {"pid", qemu.pid}}});
    }
}

// The domains of a Xen host (dom0 aside), by domid: a name may be missing or
// taken twice, an id is neither.
void add_xen_domains(std::vector<HostVm>& vms, const GuestOptions& guest_options)
{
    for (const XenDomainId& domain : running_xen_domains()) {
        GuestOptions one = guest_options;
        one.vm = domain.name;
        one.domid = std::to_string(domain.domid);
        one.backend = "xen";
        std::string name = domain.name.empty() ? fmt::format("xen-domid-{}", domain.domid) : domain.name;
        vms.push_back(
            {std::move(name), std::move(one), {{"manager", "xen"}, {"domid", domain.domid}, {"uuid", domain.uuid}}});
    }
}

} // namespace

std::vector<HostVm> host_vms(const GuestOptions& guest_options)
{
    std::vector<HostVm> vms;
    // A --uri names libvirt: its domains only.
    const std::string only = guest_options.uri.empty() ? guest_options.backend : "kvm";
    bool proxmox = (only.empty() || only == "proxmox") && is_proxmox_node();
    if (only == "proxmox" && !proxmox)
        fail("--backend proxmox: this host is no Proxmox node (no /var/run/qemu-server)");
    if (only.empty() || only == "qemu") add_bare_qemus(vms, guest_options);
    if (only == "kubevirt" && !is_kubevirt_node())
        fail("--backend kubevirt: this host runs no kubelet (no /var/lib/kubelet/pods)");
    if ((only.empty() || only == "kubevirt") && is_kubevirt_node()) add_kubevirt_vms(vms, guest_options);
    if (proxmox) add_proxmox_vms(vms, guest_options);
    if (only == "xen" && !is_xen_dom0()) fail("--backend xen: this host is no Xen dom0 (no /dev/xen/privcmd)");
    if ((only.empty() || only == "xen") && is_xen_dom0()) add_xen_domains(vms, guest_options);
    if (only.empty() || only == "kvm") {
        try {
            add_libvirt_domains(vms, guest_options);
        } catch (const Error& e) {
            if (only == "kvm" || vms.empty()) throw;
            diag::note("no libvirt domains: {}", e.what());
        }
    }
    drop_second_sightings(vms);
    return vms;
}

void drop_second_sightings(std::vector<HostVm>& vms)
{
    std::map<std::string, std::string> seen; // uuid -> how the first sighting was named
    std::vector<HostVm> kept;
    for (HostVm& vm : vms) {
        std::string how = fmt::format("{} ({})", vm.name, vm.identity.value("manager", "?"));
        const nlohmann::json* uuid = vm.identity.contains("uuid") ? &vm.identity["uuid"] : nullptr;
        if (uuid && uuid->is_string() && !uuid->get_ref<const std::string&>().empty()) {
            auto [at, first] = seen.try_emplace(uuid->get<std::string>(), how);
            if (!first) {
                diag::note("{} is {}: checked once, as that", how, at->second);
                continue;
            }
        }
        kept.push_back(std::move(vm));
    }
    vms = std::move(kept);
}

} // namespace vmi

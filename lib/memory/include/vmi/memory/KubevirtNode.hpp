#pragma once
// The VMs of a KubeVirt node, read under VMI_HOST_ROOT (HostRoot.hpp). KubeVirt
// runs one libvirt daemon per VM, inside the VM's virt-launcher pod; the node
// sees its socket in the pod's volumes:
//   /var/lib/kubelet/pods/UID/volumes/kubernetes.io~empty-dir/libvirt-runtime/
//     virtqemud-sock  (virtqemud, not root: qemu+unix:///session?socket=...)
//     libvirt-sock    (older KubeVirt's libvirtd, root: qemu+unix:///system?socket=...)
// and names the domain NAMESPACE_VM. A VM is named NAMESPACE/VM (or by its
// domain name) and read as any libvirt domain, through its pod's daemon.
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace vmi {

struct KubevirtVm {
    std::string pod_uid;
    std::string uri;    // the pod's libvirt daemon
    std::string domain; // NAMESPACE_VM
    std::string name;   // NAMESPACE/VM (the domain name when it has no '_')
    std::string uuid;   // the domain's (KubeVirt's VMI uid); empty when libvirt gives none
};

// Whether the host runs a kubelet: /var/lib/kubelet/pods exists under the root.
bool is_kubevirt_node();
// The running domains of every pod's libvirt socket (a pod whose daemon does
// not answer is left out, with a -v note).
std::vector<KubevirtVm> running_kubevirt_vms();
// The VM named NAMESPACE/VM or NAMESPACE_VM; nullopt when no pod runs it.
std::optional<KubevirtVm> find_kubevirt_vm(std::string_view name);

} // namespace vmi

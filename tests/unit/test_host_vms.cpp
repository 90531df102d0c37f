// --all-domains' host list: a VM reached two ways (a KubeVirt pod's libvirt
// daemon and the host's libvirt) is checked once, as the first way found it.
#include <doctest/doctest.h>

#include "common/HostVms.hpp"

namespace {

vmi::HostVm vm(const std::string& name, const std::string& manager, const std::string& uuid)
{
    nlohmann::json identity{{"manager", manager}};
    if (!uuid.empty()) identity["uuid"] = uuid;
    return {name, {}, identity};
}

} // namespace

TEST_CASE("drop_second_sightings keeps the first VM of each uuid, and every VM without one")
{
    std::vector<vmi::HostVm> vms{vm("qemu-42", "qemu", ""),
                                 vm("prod/web", "kubevirt", "1b4e28ba-2fa1-11d2-883f-0016d3cca427"),
                                 vm("prod/db", "kubevirt", "6fa459ea-ee8a-3ca4-894e-db77e160355e"),
                                 vm("web01", "proxmox", ""),
                                 vm("prod_db", "libvirt", "6fa459ea-ee8a-3ca4-894e-db77e160355e"),
                                 vm("prod_web", "libvirt", "1b4e28ba-2fa1-11d2-883f-0016d3cca427"),
                                 vm("other", "libvirt", "00000000-0000-4000-8000-000000000001"),
                                 vm("qemu-43", "qemu", "")};
    vmi::drop_second_sightings(vms);
    std::vector<std::string> names;
    for (const vmi::HostVm& kept : vms) names.push_back(kept.name);
    CHECK(names == std::vector<std::string>{"qemu-42", "prod/web", "prod/db", "web01", "other", "qemu-43"});
}

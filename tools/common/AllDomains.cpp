#include "common/AllDomains.hpp"

#include <cstdio>

#include <fmt/format.h>

#include "common/HostVms.hpp"
#include "common/OutputFormat.hpp"
#include "common/ToolMain.hpp"
#include "vmi/base/Diagnostics.hpp"
#include "vmi/base/Error.hpp"

namespace vmi {

int check_all_domains(const GuestOptions& guest_options, CheckOutlets& outlets,
                      const std::function<DomainCheck(const GuestOptions& one)>& check)
{
    if (!guest_options.vm.empty() || !guest_options.image.empty() || !guest_options.qmp.empty())
        fail("--all-domains checks every running VM of the host (libvirt's at --uri, KubeVirt's, Proxmox's, QEMUs no "
             "manager owns): name no VM, --image or --qmp");
    if ((!guest_options.backend.empty() && guest_options.backend != "kvm" && guest_options.backend != "proxmox" &&
         guest_options.backend != "qemu" && guest_options.backend != "kubevirt") ||
        !guest_options.domid.empty() || !guest_options.qemu_pid.empty())
        fail("--all-domains finds the VMs of the host: libvirt's, KubeVirt's, Proxmox's and QEMUs no manager owns "
             "(--backend kvm, kubevirt, proxmox or qemu for one kind only)");
    int status = EXIT_OK;
    for (const HostVm& vm : host_vms(guest_options)) {
        const std::string& domain = vm.name;
        const GuestOptions& one = vm.options;
        nlohmann::json line{{"domain", domain}};
        line.update(vm.identity);
        int exit = EXIT_ERROR;
        try {
            DomainCheck result;
            outlets.measure(domain, [&] {
                result = check(one);
                return result.status;
            });
            line.update(result.fields);
            exit = result.status.exit;
        } catch (const Error& e) {
            line["error"] = e.what();
        }
        line["exit"] = exit;
        // Guest bytes in the rows (and in problems) escaped as everywhere else.
        fmt::print("{}\n", to_json_text(line));
        std::fflush(stdout);
        if (exit == EXIT_FOUND || (exit == EXIT_ERROR && status == EXIT_OK)) status = exit;
    }
    outlets.finish_all_domains();
    return status;
}

} // namespace vmi

#include "common/AllDomains.hpp"

#include <cstdio>

#include <fmt/format.h>

#include "common/OutputFormat.hpp"
#include "common/ToolMain.hpp"
#include "vmi/base/Error.hpp"
#include "vmi/memory/QemuGuest.hpp"

namespace vmi {

int check_all_domains(const GuestOptions& guest_options,
                      const std::function<DomainCheck(const GuestOptions& one)>& check)
{
    if (!guest_options.vm.empty() || !guest_options.image.empty() || !guest_options.qmp.empty())
        fail("--all-domains checks every running libvirt domain of --uri: name no VM, --image or --qmp");
    int status = EXIT_OK;
    for (const std::string& domain : running_libvirt_domains(guest_options.uri)) {
        GuestOptions one = guest_options;
        one.vm = domain;
        if (one.backend.empty()) one.backend = "kvm";
        nlohmann::json line{{"domain", domain}};
        int exit = EXIT_ERROR;
        try {
            DomainCheck result = check(one);
            line.update(result.fields);
            exit = result.exit;
        } catch (const Error& e) {
            line["error"] = e.what();
        }
        line["exit"] = exit;
        // Guest bytes in the rows (and in problems) escaped as everywhere else.
        fmt::print("{}\n", to_json_text(line));
        std::fflush(stdout);
        if (exit == EXIT_FOUND || (exit == EXIT_ERROR && status == EXIT_OK)) status = exit;
    }
    return status;
}

} // namespace vmi

#include "AgentProcessList.hpp"

#include <algorithm>
#include <sstream>

#include "vmi/base/Diagnostics.hpp"
#include "vmi/base/Error.hpp"
#include "vmi/memory/QemuGuestAgent.hpp"

namespace vmi {

std::vector<GuestProcess> agent_process_list(const Session& session)
{
    const std::optional<GuestAgentEndpoint>& agent = session.guest_agent();
    if (!agent)
        fail("--agent asks the guest's qemu-guest-agent for its own list, through libvirt or Proxmox's agent "
             "socket, and this guest is neither a libvirt domain nor a Proxmox VM");
    auto started = std::chrono::steady_clock::now();
    GuestCommandResult listing =
        run_by_guest_agent(*agent, "/bin/sh", {"-c", PROC_LISTING_SCRIPT}, AGENT_LISTING_TIMEOUT);
    auto took = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started);
    std::string who = describe_guest_agent(*agent);
    if (listing.signal != 0) fail("{}: its listing of /proc (/bin/sh) was killed by signal {}", who, listing.signal);
    if (listing.exit_code != 0) {
        std::string why = listing.err.substr(0, listing.err.find('\n')).substr(0, 200);
        fail("{}: its listing of /proc (/bin/sh) failed with exit status {}{}{}", who, listing.exit_code,
             why.empty() ? "" : ": ", why);
    }
    if (listing.truncated) fail("{}: its listing of /proc was cut short by the agent", who);
    std::istringstream in(listing.out);
    std::vector<GuestProcess> processes = parse_guest_process_list(in);
    std::erase_if(processes, [&](const GuestProcess& p) { return p.pid == listing.pid; });
    if (processes.empty()) fail("{}: its listing of /proc holds no process", who);
    diag::note("guest view: {} processes from {} (the listing shell, pid {} in the guest, left out; {} ms)",
               processes.size(), who, listing.pid, took.count());
    return processes;
}

} // namespace vmi

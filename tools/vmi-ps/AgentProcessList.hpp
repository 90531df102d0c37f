#pragma once
// vmi-ps --check --agent: the guest's own process list, asked of its
// qemu-guest-agent (through libvirt, or a Proxmox VM's .qga socket; it runs
// PROC_LISTING_SCRIPT with /bin/sh).
#include <chrono>
#include <vector>

#include "vmi/linux/GuestProcessList.hpp"
#include "vmi/session/Session.hpp"

namespace vmi {

// How long the listing may take in the guest.
inline constexpr std::chrono::seconds AGENT_LISTING_TIMEOUT{15};

// The processes the guest lists in its /proc, without the listing shell
// itself. Throws vmi::Error when the session's guest has no agent endpoint
// (Session::guest_agent), its agent cannot run the listing, or the listing fails or comes back empty
// or cut.
std::vector<GuestProcess> agent_process_list(const Session& session);

} // namespace vmi

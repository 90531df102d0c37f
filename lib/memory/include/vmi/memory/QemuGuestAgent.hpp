#pragma once
// A program run inside a guest by the guest's qemu-guest-agent (guest-exec
// with its output captured, then guest-exec-status until it ends): how a tool
// asks a guest for its own view of itself. The agent is reached through
// libvirt's agent channel of a domain (org.qemu.guest_agent.0), or through
// the agent's own socket where no libvirt manages the VM (Proxmox's
// VMID.qga). The guest must run qemu-guest-agent and allow guest-exec. What
// comes back is the guest's word, hostile like its memory: sizes are capped
// and every field is checked.
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace vmi {

// Where a guest's agent is reached: a libvirt domain, or a socket.
struct GuestAgentEndpoint {
    std::string libvirt_uri;    // libvirt's URI (empty: the default), with
    std::string libvirt_domain; // the domain's name; or, when that is empty,
    std::string socket;         // the agent's socket,
    std::string vm;             // and the VM it belongs to, for messages ("Proxmox VM 101 ('web01')")
};

struct GuestCommandResult {
    std::int64_t pid = 0;   // the program's pid inside the guest
    int exit_code = 0;      // its exit status; -1 when a signal ended it
    int signal = 0;         // that signal, else 0
    std::string out;        // what it wrote to stdout
    std::string err;        // and to stderr
    bool truncated = false; // the agent cut the output (it keeps at most 16 MiB)
};

// "the guest agent of libvirt domain 'web'", "the guest agent of Proxmox VM
// 101 ('web01') (socket PATH)".
std::string describe_guest_agent(const GuestAgentEndpoint& agent);

// Runs `path` with `args` in the guest and waits at most `timeout` for it to
// end. Throws vmi::Error, naming the agent, when: the agent (or libvirt, or
// the domain) cannot be reached, the guest is not running (a paused guest's
// agent cannot answer), the agent does not answer or refuses, or the program
// does not end in time (it is then left running in the guest: the agent
// cannot stop it).
GuestCommandResult run_by_guest_agent(const GuestAgentEndpoint& agent, const std::string& path,
                                      const std::vector<std::string>& args, std::chrono::milliseconds timeout);

} // namespace vmi

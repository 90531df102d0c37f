#pragma once
// A program run inside a libvirt domain by the domain's qemu-guest-agent
// (guest-exec with its output captured, then guest-exec-status until it
// ends): how a tool asks a guest for its own view of itself. The guest must
// run qemu-guest-agent on libvirt's agent channel (org.qemu.guest_agent.0)
// and allow guest-exec. What comes back is the guest's word, hostile like
// its memory: sizes are capped and every field is checked.
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace vmi {

struct GuestCommandResult {
    std::int64_t pid = 0;   // the program's pid inside the guest
    int exit_code = 0;      // its exit status; -1 when a signal ended it
    int signal = 0;         // that signal, else 0
    std::string out;        // what it wrote to stdout
    std::string err;        // and to stderr
    bool truncated = false; // the agent cut the output (it keeps at most 16 MiB)
};

// Runs `path` with `args` in libvirt domain `domain` at `uri` (empty: the
// default) and waits at most `timeout` for it to end. Throws vmi::Error,
// naming the domain, when: libvirt or the domain cannot be reached, the
// domain is not running (a paused guest's agent cannot answer), it has no
// agent or the agent does not answer or refuses, or the program does not
// end in time (it is then left running in the guest: the agent cannot stop it).
GuestCommandResult run_by_guest_agent(const std::string& uri, const std::string& domain, const std::string& path,
                                      const std::vector<std::string>& args, std::chrono::milliseconds timeout);

} // namespace vmi

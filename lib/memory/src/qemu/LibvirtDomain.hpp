#pragma once
// A QEMU/KVM guest managed by libvirt, reached by domain name: its QEMU
// monitor through virDomainQemuMonitorCommand, pause and resume through
// virDomainSuspend/virDomainResume (so libvirt's view of the domain stays
// right), and the QEMU process's pid from libvirt's pid file. Domain types
// "kvm" and "qemu" are the same QEMU process to us.
//
// libvirt waits for QEMU's monitor without a time limit (a QEMU process that
// is stopped never answers), so every call after connecting runs on a thread
// of its own and is given up after `timeout_ms`: the tool reports it instead
// of hanging. After that the domain is not used again.
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "qemu/QemuMonitor.hpp"

namespace vmi {

class SignalSafeCommand;

class LibvirtDomain : public QemuMonitor {
public:
    // Throws vmi::Error for: libvirt not reachable, no such domain, domain
    // not running.
    LibvirtDomain(const std::string& uri, const std::string& name, int timeout_ms = 10000);
    ~LibvirtDomain() override;
    LibvirtDomain(const LibvirtDomain&) = delete;
    LibvirtDomain& operator=(const LibvirtDomain&) = delete;

    nlohmann::json command(const std::string& name,
                           const nlohmann::json& arguments = nlohmann::json::object()) override;
    // A command for the qemu-guest-agent in the guest (libvirt's agent
    // channel, virDomainQemuAgentCommand): its "return" value. Throws
    // vmi::Error when the domain has no agent, the agent does not answer
    // within the time limit, or it answers with an error.
    nlohmann::json agent_command(const std::string& name, const nlohmann::json& arguments = nlohmann::json::object());
    int qemu_pid() const override { return pid_; }
    std::string describe() const override;
    void stop() override;
    void cont() override;
    bool running() override;
    std::string guest_key() const override;
    std::string resume_command() const override;
    void cont_from_signal_handler() noexcept override;

private:
    struct Handles;
    struct Answer;
    // Runs `function` (libvirt calls on our virDomainPtr; it may set `text`,
    // and returns < 0 for failure) with the time limit; throws vmi::Error
    // "DOMAIN: cannot WHAT: ..." when it fails or does not return in time.
    Answer call(const std::string& what, std::function<int(void* domain, char** text)> function);
    int state();

    std::shared_ptr<Handles> handles_;
    std::string uri_;
    std::string name_;
    int timeout_ms_;
    int pid_ = 0;
    std::string uuid_;
    // `virsh -c URI resume NAME`, for a signal handler.
    std::unique_ptr<SignalSafeCommand> resume_by_virsh_;
};

} // namespace vmi

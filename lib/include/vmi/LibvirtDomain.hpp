#pragma once
// A QEMU/KVM guest managed by libvirt, reached by domain name: its QEMU
// monitor through virDomainQemuMonitorCommand, pause and resume through
// virDomainSuspend/virDomainResume (so libvirt's view of the domain stays
// right), and the QEMU process's pid from libvirt's pid file. Domain types
// "kvm" and "qemu" are the same QEMU process to us.
#include <memory>
#include <string>

#include "vmi/QemuMonitor.hpp"

namespace vmi {

class LibvirtDomain : public QemuMonitor {
public:
    // Throws vmi::Error for: libvirt not reachable, no such domain, domain
    // not running.
    LibvirtDomain(const std::string& uri, const std::string& name);
    ~LibvirtDomain() override;
    LibvirtDomain(const LibvirtDomain&) = delete;
    LibvirtDomain& operator=(const LibvirtDomain&) = delete;

    nlohmann::json command(const std::string& name, const nlohmann::json& arguments = nlohmann::json::object()) override;
    int qemu_pid() const override { return pid_; }
    std::string describe() const override;
    void stop() override;
    void cont() override;
    bool running() override;

    static constexpr const char* DEFAULT_URI = "qemu:///system";

private:
    struct Handles;
    std::unique_ptr<Handles> handles_;
    std::string uri_;
    std::string name_;
    int pid_ = 0;
};

} // namespace vmi
